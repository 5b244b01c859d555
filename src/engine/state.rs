//! What the alias says: its routing (`AliasState`) and the rollout record kept in
//! its description (`Record`). The description is the only store, so the format
//! is human-readable, versioned, strict to parse, and fits in 256 characters:
//!
//! ```text
//! <any text of yours> [lambda-rollout/1 rolling green=7 blue=6 w=25 since=2026-11-27T13:05:00Z started=2026-11-27T13:00:00Z fails=0 rb=5]
//! ```
//!
//! - phase: `rolling`, `paused`, `approval` (waiting for an approve),
//!   `checking` (a pre- or post-traffic check in flight, `check=pre|post`),
//!   `watching` (promoted, judged for `watch_after_promote`) or `idle` (none;
//!   kept only to remember `rb`)
//! - `green` / `blue`: the version being rolled out and the stable one it
//!   replaces (while watching: the new stable and the old one to revert to)
//! - `w`: the weight (percent) lambda-rollout last gave green; 0 during the
//!   pre-traffic check, absent while watching
//! - `since`: when the current step (or check, or watch) began; the health
//!   window starts here
//! - `started`: when the rollout began
//! - `fails`: failed health checks at the current step
//! - `ok=1`: approved (`approve_before` no longer holds it)
//! - `rb`: the last version rolled back, which is not started again unless forced
//! - `grp=NAME/N`: this rollout is one member's part of group NAME's release
//!   of N members, the release known by its `started` (README, Release
//!   groups); kept in the idle record once the member's part is over, with
//!   `started` and `end=back` (rolled back) or `end=done` (promoted)
//! - `t`, `ro`, `st`, `lat`: the tally (`super::tally`), what complete minutes
//!   before `started` + `t` minutes said: `ro=` green's invocations/errors and
//!   blue's since the rollout began, `st=` the same and the alias's throttles
//!   since the step began, `lat=` green's/blue's latency in the step (ms, `-`
//!   for none). Written only where it fits beside your text: without it a tick
//!   reads the whole windows again
//!
//! Text before the bracket is yours and is kept (shortened if the record needs the
//! room).

use std::fmt;

use thiserror::Error;

use super::tally::{Counts, Tally, Tenths};
use crate::model::{GroupName, UtcTime, Version, Weight};

/// Lambda's limit for an alias description. Its documentation says 256 and
/// not in what: Smithy's length counts Unicode scalar values, a Java service
/// may count UTF-16 code units, and those are never fewer. So descriptions are
/// measured in UTF-16 code units (`units`), which fits either reading: an
/// emoji counts as two.
pub const MAX_DESCRIPTION: usize = 256;

/// The length of `s` as Lambda may count it: in UTF-16 code units.
pub fn units(s: &str) -> usize {
    s.encode_utf16().count()
}
const MARKER: &str = "[lambda-rollout/";
const FORMAT_VERSION: &str = "1";

/// The alias as read: stable version, the optional weighted green, description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasState {
    pub stable: Version,
    pub canary: Option<Canary>,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canary {
    pub version: Version,
    pub weight: Weight,
}

impl AliasState {
    pub fn canary_weight(&self) -> Weight {
        self.canary.map(|c| c.weight).unwrap_or(Weight::ZERO)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Rolling,
    Paused,
    /// The step passed, and the next one is at or past `approve_before`.
    AwaitingApproval,
    /// A pre- or post-traffic check runs; ticks hold (and time it out).
    Checking(Check),
    /// Promoted: green is the stable version, judged for
    /// `watch_after_promote` against what blue (the old stable) did.
    Watching,
}

/// Which check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Before green has any traffic.
    PreTraffic,
    /// After the last step passed, before the promotion.
    PostTraffic,
}

impl Check {
    pub fn word(self) -> &'static str {
        match self {
            Check::PreTraffic => "pre",
            Check::PostTraffic => "post",
        }
    }

    /// The policy field that configures it.
    pub fn field(self) -> &'static str {
        match self {
            Check::PreTraffic => "pre_traffic",
            Check::PostTraffic => "post_traffic",
        }
    }

    pub fn parse(s: &str) -> Option<Check> {
        match s {
            "pre" => Some(Check::PreTraffic),
            "post" => Some(Check::PostTraffic),
            _ => None,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::PreTraffic => "pre-traffic check",
            Check::PostTraffic => "post-traffic check",
        })
    }
}

impl Phase {
    fn word(self) -> &'static str {
        match self {
            Phase::Rolling => "rolling",
            Phase::Paused => "paused",
            Phase::AwaitingApproval => "approval",
            Phase::Checking(_) => "checking",
            Phase::Watching => "watching",
        }
    }
}

/// A rollout in progress, as remembered in the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollout {
    pub phase: Phase,
    pub green: Version,
    pub blue: Version,
    pub weight: Weight,
    pub since: UtcTime,
    pub started: UtcTime,
    pub fails: u32,
    /// An operator approved the rollout past `approve_before`.
    pub approved: bool,
    /// What this step and the rollout have already read; belongs to this
    /// `since` and `started`, so anything that moves them drops it.
    pub tally: Option<Tally>,
}

/// Everything lambda-rollout keeps in the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Record {
    pub rollout: Option<Rollout>,
    pub rolled_back: Option<Version>,
    /// The group release this alias's rollout is a part of, or (idle) was.
    pub group: Option<Membership>,
}

/// The most members a group's release has: a tick reads and judges them
/// together, and the count is kept in every member's record.
pub const MAX_MEMBERS: u8 = 50;

/// One member's part in a group's release. The release is the group's name
/// and the `started` its members share: no record elsewhere says which
/// aliases belong to it, so each says how many do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub group: GroupName,
    /// How many members the release began on.
    pub members: u8,
    /// Set once this member's part is over (the record is idle then).
    pub ended: Option<Ended>,
}

/// How a member's part of a release ended, and which release it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub started: UtcTime,
    pub end: End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Rolled back (or a promotion reverted): blue takes all traffic.
    Back,
    /// Promoted, and the release done.
    Done,
}

impl End {
    pub fn word(self) -> &'static str {
        match self {
            End::Back => "back",
            End::Done => "done",
        }
    }
}

impl Record {
    /// The record as it is but for its rollout's tally: what it says of the
    /// rollout, which a tally only saves reading again.
    pub fn untallied(mut self) -> Record {
        if let Some(r) = self.rollout.as_mut() {
            r.tally = None;
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "the alias description holds an unreadable lambda-rollout state ({problem}): \
     run the rollback action (it clears the state) or remove the [lambda-rollout/...] part \
     of the description"
)]
pub struct StateError {
    pub problem: String,
}

fn bad(problem: impl Into<String>) -> StateError {
    StateError {
        problem: problem.into(),
    }
}

/// A description split into the user's own text and our record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub user_text: String,
    pub record: Record,
}

impl Description {
    pub fn parse(description: &str) -> Result<Description, StateError> {
        let Some(start) = description.find(MARKER) else {
            return Ok(Description {
                user_text: description.trim().to_string(),
                record: Record::default(),
            });
        };
        let user_text = description[..start].trim().to_string();
        let rest = description[start + MARKER.len()..].trim_end();
        let body = rest
            .strip_suffix(']')
            .ok_or_else(|| bad("no closing ] at the end of the description"))?;
        if body.contains(MARKER) || body.contains('[') || body.contains(']') {
            return Err(bad("more than one record"));
        }
        let mut words = body.split_whitespace();
        let version = words.next().unwrap_or_default();
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {version:?}; this lambda-rollout reads version {FORMAT_VERSION}"
            )));
        }
        // `checking` takes its kind from check=, read with the fields.
        let phase = match words.next() {
            Some("rolling") => Some(Phase::Rolling),
            Some("paused") => Some(Phase::Paused),
            Some("approval") => Some(Phase::AwaitingApproval),
            Some("checking") => Some(Phase::Checking(Check::PreTraffic)),
            Some("watching") => Some(Phase::Watching),
            Some("idle") => None,
            other => {
                return Err(bad(format!(
                    "phase {:?} is not rolling, paused, approval, checking, watching or idle",
                    other.unwrap_or("")
                )))
            }
        };
        let mut fields = Fields::default();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| bad(format!("{w:?} is not key=value")))?;
            fields.set(k, v)?;
        }
        let rolled_back = fields.rb;
        let group = fields.membership(phase.is_none())?;
        let rollout = match phase {
            None => {
                let started = if group.is_some() {
                    None
                } else {
                    fields.started
                };
                if fields.any_rollout_field() || started.is_some() {
                    return Err(bad("an idle record carries rollout fields"));
                }
                None
            }
            Some(phase) => {
                let need = |name: &str| bad(format!("{name}= is missing"));
                let phase = match (phase, fields.check) {
                    (Phase::Checking(_), Some(c)) => Phase::Checking(c),
                    (Phase::Checking(_), None) => return Err(need("check")),
                    (_, Some(_)) => return Err(bad("check= belongs to a checking record")),
                    (p, None) => p,
                };
                let weight = match (phase, fields.w) {
                    (Phase::Watching, None) => Weight::FULL,
                    (Phase::Watching, Some(_)) => {
                        return Err(bad("a watching record has no w= (green takes all traffic)"))
                    }
                    (_, w) => w.ok_or_else(|| need("w"))?,
                };
                let r = Rollout {
                    phase,
                    green: fields.green.ok_or_else(|| need("green"))?,
                    blue: fields.blue.ok_or_else(|| need("blue"))?,
                    weight,
                    since: fields.since.ok_or_else(|| need("since"))?,
                    started: fields.started.ok_or_else(|| need("started"))?,
                    fails: fields.fails.ok_or_else(|| need("fails"))?,
                    approved: fields.ok.unwrap_or(false),
                    tally: None,
                };
                let r = Rollout {
                    tally: fields.tally(r.started)?,
                    ..r
                };
                if r.green == r.blue {
                    return Err(bad("green and blue are the same version"));
                }
                let pre = phase == Phase::Checking(Check::PreTraffic);
                if pre && !r.weight.is_zero() {
                    return Err(bad(format!(
                        "w={}: green has no traffic during the pre-traffic check (w=0)",
                        r.weight.percent()
                    )));
                }
                if !pre
                    && phase != Phase::Watching
                    && (r.weight.is_zero() || r.weight >= Weight::FULL)
                {
                    return Err(bad(format!(
                        "w={} is not between 0 and 100",
                        r.weight.percent()
                    )));
                }
                if r.since < r.started {
                    return Err(bad("since= is before started="));
                }
                Some(r)
            }
        };
        Ok(Description {
            user_text,
            record: Record {
                rollout,
                rolled_back,
                group,
            },
        })
    }

    /// Renders the description to write: the user's text (shortened if needed),
    /// then the record. The record alone always fits. A tally is written only
    /// where it fits beside the user's text: it saves reads, and is not worth
    /// that text.
    pub fn render(&self) -> String {
        let record = self.record.to_string();
        let beside = if self.user_text.is_empty() {
            0
        } else {
            units(&self.user_text) + 1
        };
        let tallied = self.record.rollout.is_some_and(|r| r.tally.is_some());
        if tallied && beside + units(&record) > MAX_DESCRIPTION {
            let bare = Description {
                user_text: self.user_text.clone(),
                record: self.record.untallied(),
            };
            return bare.render();
        }
        if record.is_empty() {
            return truncate(&self.user_text, MAX_DESCRIPTION);
        }
        if self.user_text.is_empty() {
            return record;
        }
        let room = MAX_DESCRIPTION.saturating_sub(units(&record) + 1);
        let user = truncate(&self.user_text, room);
        if user.is_empty() {
            record
        } else {
            format!("{user} {record}")
        }
    }
}

/// `s` in at most `max` UTF-16 code units, `…` (one unit) marking a cut.
fn truncate(s: &str, max: usize) -> String {
    if units(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + c.len_utf16() > max - 1 {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

#[derive(Default)]
struct Fields {
    green: Option<Version>,
    blue: Option<Version>,
    w: Option<Weight>,
    since: Option<UtcTime>,
    started: Option<UtcTime>,
    fails: Option<u32>,
    rb: Option<Version>,
    ok: Option<bool>,
    check: Option<Check>,
    t: Option<u64>,
    ro: Option<[u64; 4]>,
    st: Option<[u64; 5]>,
    lat: Option<[Option<Tenths>; 2]>,
    grp: Option<(GroupName, u8)>,
    end: Option<End>,
}

/// `N` counts separated by `/`.
fn counts<const N: usize>(k: &str, v: &str) -> Result<[u64; N], StateError> {
    let wrong = || bad(format!("{k}={v} is not {N} counts separated by /"));
    let parts: Vec<u64> = v
        .split('/')
        .map(|x| x.parse().map_err(|_| wrong()))
        .collect::<Result<_, _>>()?;
    parts.try_into().map_err(|_| wrong())
}

/// A latency in ms with at most one decimal, or `-`.
fn latency(k: &str, v: &str) -> Result<Option<Tenths>, StateError> {
    if v == "-" {
        return Ok(None);
    }
    let (whole, tenth) = v.split_once('.').unwrap_or((v, "0"));
    match (whole.parse::<u64>(), tenth.parse::<u64>()) {
        (Ok(w), Ok(d)) if tenth.len() == 1 && w < u64::MAX / 20 => Ok(Some(Tenths(w * 10 + d))),
        _ => Err(bad(format!(
            "{k}: {v:?} is not a latency in ms (one decimal at most) or -"
        ))),
    }
}

fn write_latency(f: &mut fmt::Formatter<'_>, l: Option<Tenths>) -> fmt::Result {
    match l {
        Some(Tenths(t)) if t % 10 == 0 => write!(f, "{}", t / 10),
        Some(Tenths(t)) => write!(f, "{}.{}", t / 10, t % 10),
        None => write!(f, "-"),
    }
}

impl Fields {
    fn set(&mut self, k: &str, v: &str) -> Result<(), StateError> {
        fn once<T>(slot: &mut Option<T>, k: &str, v: T) -> Result<(), StateError> {
            if slot.is_some() {
                return Err(bad(format!("{k}= appears twice")));
            }
            *slot = Some(v);
            Ok(())
        }
        let version = |v: &str| Version::parse(v).map_err(|e| bad(format!("{k}={v}: {e}")));
        let time = |v: &str| UtcTime::parse_rfc3339(v).map_err(|e| bad(format!("{k}: {e}")));
        match k {
            "green" => once(&mut self.green, k, version(v)?),
            "blue" => once(&mut self.blue, k, version(v)?),
            "rb" => once(&mut self.rb, k, version(v)?),
            "since" => once(&mut self.since, k, time(v)?),
            "started" => once(&mut self.started, k, time(v)?),
            "w" => {
                let p: f64 = v
                    .parse()
                    .map_err(|_| bad(format!("w={v} is not a number")))?;
                let w = Weight::from_percent(p).map_err(|e| bad(e.0))?;
                once(&mut self.w, k, w)
            }
            "ok" if v == "1" => once(&mut self.ok, k, true),
            "ok" => Err(bad(format!("ok={v}: an approval is written ok=1"))),
            "check" => {
                let c =
                    Check::parse(v).ok_or_else(|| bad(format!("check={v} is not pre or post")))?;
                once(&mut self.check, k, c)
            }
            "fails" => {
                let n: u32 = v
                    .parse()
                    .map_err(|_| bad(format!("fails={v} is not a count")))?;
                once(&mut self.fails, k, n)
            }
            "t" => {
                let n: u64 = v
                    .parse()
                    .map_err(|_| bad(format!("t={v} is not a count of minutes")))?;
                once(&mut self.t, k, n)
            }
            "ro" => once(&mut self.ro, k, counts(k, v)?),
            "st" => once(&mut self.st, k, counts(k, v)?),
            "lat" => {
                let (g, b) = v
                    .split_once('/')
                    .ok_or_else(|| bad(format!("lat={v} is not green/blue")))?;
                once(&mut self.lat, k, [latency(k, g)?, latency(k, b)?])
            }
            "grp" => {
                let wrong = || bad(format!("grp={v} is not a group and its size (checkout/3)"));
                let (name, n) = v.split_once('/').ok_or_else(wrong)?;
                let name = GroupName::new(name).map_err(|_| wrong())?;
                let n: u8 = n.parse().map_err(|_| wrong())?;
                if n == 0 || n > MAX_MEMBERS {
                    return Err(bad(format!(
                        "grp={v}: a release has 1 to {MAX_MEMBERS} members"
                    )));
                }
                once(&mut self.grp, k, (name, n))
            }
            "end" => {
                let end = match v {
                    "back" => End::Back,
                    "done" => End::Done,
                    _ => return Err(bad(format!("end={v} is not back or done"))),
                };
                once(&mut self.end, k, end)
            }
            _ => Err(bad(format!("unknown field {k:?}"))),
        }
    }

    fn any_rollout_field(&self) -> bool {
        self.green.is_some()
            || self.blue.is_some()
            || self.w.is_some()
            || self.since.is_some()
            || self.fails.is_some()
            || self.ok.is_some()
            || self.check.is_some()
            || self.t.is_some()
            || self.ro.is_some()
            || self.st.is_some()
            || self.lat.is_some()
    }

    /// The group membership: `grp=` in a rollout's record; in an idle one
    /// with the release's `started=` and how it ended, `end=`.
    fn membership(&self, idle: bool) -> Result<Option<Membership>, StateError> {
        let Some((group, members)) = self.grp else {
            return match self.end {
                Some(_) => Err(bad("end= belongs to a group member's record (grp=)")),
                None => Ok(None),
            };
        };
        let ended = match (idle, self.end, self.started) {
            (false, None, _) => None,
            (false, Some(_), _) => return Err(bad("end= belongs to an idle record")),
            (true, Some(end), Some(started)) => Some(Ended { started, end }),
            (true, _, _) => {
                return Err(bad(
                    "an idle group member's record needs started= and end=back or end=done",
                ))
            }
        };
        Ok(Some(Membership {
            group,
            members,
            ended,
        }))
    }

    /// The tally: all four of its fields, or none; the step's counts a part
    /// of the rollout's.
    fn tally(&self, started: UtcTime) -> Result<Option<Tally>, StateError> {
        let (t, ro, st, lat) = match (self.t, self.ro, self.st, self.lat) {
            (None, None, None, None) => return Ok(None),
            (Some(t), Some(ro), Some(st), Some(lat)) => (t, ro, st, lat),
            _ => return Err(bad("a tally needs all of t=, ro=, st= and lat=")),
        };
        let minutes = i64::try_from(t)
            .ok()
            .filter(|m| *m <= 366 * 24 * 60)
            .ok_or_else(|| bad(format!("t={t}: a tally is at most a year of minutes")))?;
        let c = |x: [u64; 4]| Counts {
            green_invocations: x[0],
            green_errors: x[1],
            blue_invocations: x[2],
            blue_errors: x[3],
        };
        let rollout = c(ro);
        let step = c([st[0], st[1], st[2], st[3]]);
        if !step.within(rollout) {
            return Err(bad(
                "the step's tally (st=) counts more than the rollout's (ro=)",
            ));
        }
        Ok(Some(Tally {
            upto: UtcTime::from_unix(started.floor_minute().unix() + minutes * 60),
            rollout,
            step,
            throttles: st[4],
            green_latency: lat[0],
            blue_latency: lat[1],
        }))
    }
}

impl fmt::Display for Record {
    /// Empty when there is nothing to remember.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let grp = |f: &mut fmt::Formatter<'_>| match self.group {
            Some(m) => write!(f, " grp={}/{}", m.group, m.members),
            None => Ok(()),
        };
        // An idle record names its group only with how its part ended: a
        // membership without it belongs to a rollout, and is not written
        // once the rollout is closed.
        let ended = self.group.and_then(|m| m.ended);
        match (&self.rollout, self.rolled_back) {
            (None, None) if ended.is_none() => Ok(()),
            (None, rb) => {
                write!(f, "{MARKER}{FORMAT_VERSION} idle")?;
                if let Some(e) = ended {
                    grp(f)?;
                    write!(f, " started={} end={}", e.started, e.end.word())?;
                }
                if let Some(rb) = rb {
                    write!(f, " rb={rb}")?;
                }
                write!(f, "]")
            }
            (Some(r), rb) => {
                write!(f, "{MARKER}{FORMAT_VERSION} {}", r.phase.word())?;
                grp(f)?;
                if let Phase::Checking(c) = r.phase {
                    write!(f, " check={}", c.word())?;
                }
                write!(f, " green={} blue={}", r.green, r.blue)?;
                if r.phase != Phase::Watching {
                    write!(f, " w={}", r.weight.percent())?;
                }
                write!(
                    f,
                    " since={} started={} fails={}",
                    r.since, r.started, r.fails
                )?;
                if r.approved {
                    write!(f, " ok=1")?;
                }
                if let Some(t) = &r.tally {
                    let minutes = (t.upto.unix() - r.started.floor_minute().unix()).max(0) / 60;
                    let (ro, st) = (t.rollout, t.step);
                    write!(
                        f,
                        " t={minutes} ro={}/{}/{}/{} st={}/{}/{}/{}/{} lat=",
                        ro.green_invocations,
                        ro.green_errors,
                        ro.blue_invocations,
                        ro.blue_errors,
                        st.green_invocations,
                        st.green_errors,
                        st.blue_invocations,
                        st.blue_errors,
                        t.throttles
                    )?;
                    write_latency(f, t.green_latency)?;
                    write!(f, "/")?;
                    write_latency(f, t.blue_latency)?;
                }
                if let Some(rb) = rb {
                    write!(f, " rb={rb}")?;
                }
                write!(f, "]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u64) -> Version {
        Version::new(n).unwrap()
    }

    fn rollout() -> Rollout {
        Rollout {
            phase: Phase::Rolling,
            green: v(7),
            blue: v(6),
            weight: Weight::from_percent(12.5).unwrap(),
            since: UtcTime::parse_rfc3339("2026-11-27T13:05:00Z").unwrap(),
            started: UtcTime::parse_rfc3339("2026-11-27T13:00:00Z").unwrap(),
            fails: 1,
            approved: false,
            tally: None,
        }
    }

    #[test]
    fn every_phase_round_trips() {
        let base = rollout();
        let phases = [
            (Phase::Rolling, base.weight, false),
            (Phase::Paused, base.weight, true),
            (Phase::AwaitingApproval, base.weight, false),
            (Phase::Checking(Check::PreTraffic), Weight::ZERO, false),
            (Phase::Checking(Check::PostTraffic), base.weight, true),
            (Phase::Watching, Weight::FULL, true),
        ];
        for (phase, weight, approved) in phases {
            let record = Record {
                group: None,
                rollout: Some(Rollout {
                    phase,
                    weight,
                    approved,
                    ..base
                }),
                rolled_back: Some(v(123456)),
            };
            let d = Description {
                user_text: "x".repeat(300),
                record,
            };
            let s = d.render();
            assert_eq!(Description::parse(&s).unwrap().record, record, "{s}");
            assert!(units(&s) <= MAX_DESCRIPTION);
            assert!(units(&record.to_string()) < 200, "{record}");
        }
    }

    #[test]
    fn record_round_trips_and_keeps_user_text() {
        let d = Description {
            user_text: "production traffic".into(),
            record: Record {
                group: None,
                rollout: Some(rollout()),
                rolled_back: Some(v(5)),
            },
        };
        let s = d.render();
        assert_eq!(
            s,
            "production traffic [lambda-rollout/1 rolling green=7 blue=6 w=12.5 \
             since=2026-11-27T13:05:00Z started=2026-11-27T13:00:00Z fails=1 rb=5]"
        );
        assert_eq!(Description::parse(&s).unwrap(), d);

        let idle = Description {
            user_text: String::new(),
            record: Record {
                group: None,
                rollout: None,
                rolled_back: Some(v(7)),
            },
        };
        assert_eq!(idle.render(), "[lambda-rollout/1 idle rb=7]");
        assert_eq!(Description::parse(&idle.render()).unwrap(), idle);
    }

    fn tallied() -> Rollout {
        let r = rollout();
        Rollout {
            tally: Some(Tally {
                upto: r.started.plus(std::time::Duration::from_secs(65 * 60)),
                rollout: Counts {
                    green_invocations: 5230,
                    green_errors: 12,
                    blue_invocations: 47000,
                    blue_errors: 98,
                },
                step: Counts {
                    green_invocations: 1200,
                    green_errors: 1,
                    blue_invocations: 10800,
                    blue_errors: 9,
                },
                throttles: 3,
                green_latency: Some(Tenths(1234)),
                blue_latency: None,
            }),
            ..r
        }
    }

    #[test]
    fn a_tally_round_trips_and_gives_way_to_the_users_text() {
        let d = Description {
            user_text: "production traffic".into(),
            record: Record {
                group: None,
                rollout: Some(tallied()),
                rolled_back: Some(v(5)),
            },
        };
        let s = d.render();
        assert!(
            s.ends_with("fails=1 t=65 ro=5230/12/47000/98 st=1200/1/10800/9/3 lat=123.4/- rb=5]"),
            "{s}"
        );
        assert_eq!(Description::parse(&s).unwrap(), d);
        // Whole milliseconds are written without a decimal.
        let mut whole = tallied();
        whole.tally.as_mut().unwrap().blue_latency = Some(Tenths(980));
        let record = Record {
            group: None,
            rollout: Some(whole),
            rolled_back: None,
        };
        assert!(record.to_string().contains("lat=123.4/98]"), "{record}");
        assert_eq!(
            Description::parse(&record.to_string()).unwrap().record,
            record
        );

        // Text that leaves the tally no room keeps all its characters; the
        // record goes without the tally (the next tick reads whole windows).
        let long = Description {
            user_text: "x".repeat(130),
            ..d.clone()
        };
        let s = long.render();
        assert!(s.starts_with(&"x".repeat(130)) && !s.contains('…'), "{s}");
        let back = Description::parse(&s).unwrap();
        assert_eq!(back.record.rollout.unwrap().tally, None);
        assert_eq!(
            back.record.rollout.map(|r| Rollout { tally: None, ..r }),
            Some(Rollout {
                tally: None,
                ..tallied()
            })
        );
    }

    #[test]
    fn plain_descriptions_are_no_record() {
        let d = Description::parse("my alias, hands off").unwrap();
        assert_eq!(d.user_text, "my alias, hands off");
        assert_eq!(d.record, Record::default());
        assert_eq!(d.render(), "my alias, hands off");
        assert_eq!(Description::parse("").unwrap().render(), "");
    }

    #[test]
    fn long_user_text_is_shortened_never_the_record() {
        let d = Description {
            user_text: "x".repeat(300),
            record: Record {
                group: None,
                rollout: Some(rollout()),
                rolled_back: Some(v(123456)),
            },
        };
        let s = d.render();
        assert_eq!(s.chars().count(), MAX_DESCRIPTION);
        assert!(s.contains('…'));
        assert_eq!(Description::parse(&s).unwrap().record, d.record);
    }

    #[test]
    fn the_limit_is_kept_however_lambda_counts() {
        // Emoji are two UTF-16 units each: 300 of them are 600 units.
        for text in [
            "🚀".repeat(300),
            "é".repeat(300),
            format!("{}🚀", "x".repeat(200)),
        ] {
            let d = Description {
                user_text: text.clone(),
                record: Record {
                    group: None,
                    rollout: Some(rollout()),
                    rolled_back: Some(v(123456)),
                },
            };
            let s = d.render();
            assert!(units(&s) <= MAX_DESCRIPTION, "{} units: {s}", units(&s));
            assert!(s.chars().count() <= MAX_DESCRIPTION);
            assert_eq!(Description::parse(&s).unwrap().record, d.record, "{s}");
            let alone = Description {
                user_text: text,
                record: Record::default(),
            }
            .render();
            assert!(units(&alone) <= MAX_DESCRIPTION, "{}", units(&alone));
        }
    }

    #[test]
    fn a_group_members_record_round_trips_and_fits_beside_a_long_name() {
        let group = GroupName::new(&"g".repeat(GroupName::MAX)).unwrap();
        let member = |ended| Membership {
            group,
            members: MAX_MEMBERS,
            ended,
        };
        let rolling = Record {
            rollout: Some(tallied()),
            rolled_back: Some(v(123456)),
            group: Some(member(None)),
        };
        let ended = Ended {
            started: rollout().started,
            end: End::Back,
        };
        let idle = Record {
            rollout: None,
            rolled_back: Some(v(7)),
            group: Some(member(Some(ended))),
        };
        let done = Record {
            rolled_back: None,
            group: Some(member(Some(Ended {
                end: End::Done,
                ..ended
            }))),
            ..idle
        };
        for record in [rolling, idle, done] {
            for user_text in [String::new(), "x".repeat(300)] {
                let s = Description { user_text, record }.render();
                assert!(units(&s) <= MAX_DESCRIPTION, "{s}");
                let back = Description::parse(&s).unwrap().record;
                // Beside 300 characters of the user's, the tally gives way;
                // the membership never does.
                assert_eq!(back.group, record.group, "{s}");
                assert_eq!(back.untallied(), record.untallied(), "{s}");
            }
        }
        assert_eq!(
            Record {
                group: Some(Membership {
                    group: GroupName::new("checkout").unwrap(),
                    members: 3,
                    ended: Some(ended),
                }),
                ..idle
            }
            .to_string(),
            "[lambda-rollout/1 idle grp=checkout/3 started=2026-11-27T13:00:00Z end=back rb=7]"
        );
        let s = Record {
            rollout: Some(rollout()),
            rolled_back: None,
            group: Some(Membership {
                group: GroupName::new("checkout").unwrap(),
                members: 3,
                ended: None,
            }),
        }
        .to_string();
        assert!(
            s.starts_with("[lambda-rollout/1 rolling grp=checkout/3 green=7"),
            "{s}"
        );
    }

    #[test]
    fn tampered_records_are_refused_with_the_problem() {
        let ok = "[lambda-rollout/1 rolling green=7 blue=6 w=10 since=2026-11-27T13:05:00Z started=2026-11-27T13:00:00Z fails=0]";
        assert!(Description::parse(ok).is_ok());
        let cases = [
            (ok.replace("/1 ", "/2 "), "format version"),
            (ok.replace("rolling", "running"), "phase"),
            (ok.replace("green=7", "green=$LATEST"), "green"),
            (ok.replace("green=7", "green=6"), "same version"),
            (ok.replace("w=10", "w=100"), "w="),
            (ok.replace("w=10", "w=abc"), "w=abc"),
            (ok.replace("w=10", "w=-3"), "out of range"),
            (ok.replace(" fails=0", ""), "fails= is missing"),
            (ok.replace("fails=0", "fails=0 fails=1"), "twice"),
            (ok.replace("fails=0", "colour=red"), "unknown field"),
            (
                ok.replace("since=2026-11-27T13:05:00Z", "since=2026-11-27T12:00:00Z"),
                "before started",
            ),
            (
                ok.replace("since=2026-11-27T13:05:00Z", "since=tomorrow"),
                "since",
            ),
            (ok.trim_end_matches(']').to_string(), "closing"),
            (format!("{ok} {ok}"), "more than one"),
            ("[lambda-rollout/1 idle green=7]".to_string(), "idle record"),
            ("[lambda-rollout/1 rolling green]".to_string(), "key=value"),
            (ok.replace("rolling", "checking"), "check= is missing"),
            (
                ok.replace("rolling", "rolling check=pre"),
                "belongs to a checking",
            ),
            (
                ok.replace("rolling", "checking check=pre"),
                "no traffic during",
            ),
            (
                ok.replace("rolling", "checking check=mid"),
                "not pre or post",
            ),
            (ok.replace("rolling", "watching"), "no w="),
            (ok.replace("fails=0", "fails=0 ok=yes"), "ok=1"),
            (ok.replace("fails=0", "fails=0 t=5"), "needs all of"),
            (
                ok.replace("fails=0", "fails=0 t=5 ro=1/0/9/0 st=2/0/9/0/0 lat=-/-"),
                "counts more than the rollout's",
            ),
            (
                ok.replace("fails=0", "fails=0 t=5 ro=1/0/9 st=1/0/9/0/0 lat=-/-"),
                "4 counts",
            ),
            (
                ok.replace("fails=0", "fails=0 t=5 ro=1/0/9/0 st=1/0/9/0/0 lat=1.25/-"),
                "not a latency",
            ),
            (
                ok.replace("fails=0", "fails=0 t=-5 ro=1/0/9/0 st=1/0/9/0/0 lat=-/-"),
                "minutes",
            ),
            (
                "[lambda-rollout/1 idle rb=7 t=5 ro=1/0/9/0 st=1/0/9/0/0 lat=-/-]".to_string(),
                "idle record",
            ),
            (ok.replace("fails=0", "fails=0 grp=checkout"), "its size"),
            (ok.replace("fails=0", "fails=0 grp=check.out/3"), "its size"),
            (ok.replace("fails=0", "fails=0 grp=checkout/0"), "1 to 50"),
            (ok.replace("fails=0", "fails=0 grp=checkout/51"), "1 to 50"),
            (ok.replace("fails=0", "fails=0 end=back"), "grp="),
            (
                ok.replace("fails=0", "fails=0 grp=checkout/3 end=back"),
                "belongs to an idle record",
            ),
            (
                "[lambda-rollout/1 idle grp=checkout/3 rb=7]".to_string(),
                "needs started= and end=",
            ),
            (
                "[lambda-rollout/1 idle grp=checkout/3 end=back rb=7]".to_string(),
                "needs started= and end=",
            ),
            (
                "[lambda-rollout/1 idle started=2026-11-27T13:00:00Z rb=7]".to_string(),
                "idle record",
            ),
            (
                "[lambda-rollout/1 idle grp=a/2 started=2026-11-27T13:00:00Z end=sideways]"
                    .to_string(),
                "not back or done",
            ),
        ];
        for (text, want) in cases {
            let e = Description::parse(&text).unwrap_err();
            assert!(e.problem.contains(want), "{text}: {}", e.problem);
            assert!(e.to_string().contains("rollback"), "the fix is named");
        }
    }
}
