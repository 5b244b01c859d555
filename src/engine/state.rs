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
//!
//! Text before the bracket is yours and is kept (shortened if the record needs the
//! room).

use std::fmt;

use thiserror::Error;

use crate::model::{UtcTime, Version, Weight};

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
}

/// Everything lambda-rollout keeps in the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Record {
    pub rollout: Option<Rollout>,
    pub rolled_back: Option<Version>,
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
        let rollout = match phase {
            None => {
                if fields.any_rollout_field() {
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
            },
        })
    }

    /// Renders the description to write: the user's text (shortened if needed),
    /// then the record. The record alone always fits.
    pub fn render(&self) -> String {
        let record = self.record.to_string();
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
            _ => Err(bad(format!("unknown field {k:?}"))),
        }
    }

    fn any_rollout_field(&self) -> bool {
        self.green.is_some()
            || self.blue.is_some()
            || self.w.is_some()
            || self.since.is_some()
            || self.started.is_some()
            || self.fails.is_some()
            || self.ok.is_some()
            || self.check.is_some()
    }
}

impl fmt::Display for Record {
    /// Empty when there is nothing to remember.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rollout, self.rolled_back) {
            (None, None) => Ok(()),
            (None, Some(rb)) => write!(f, "{MARKER}{FORMAT_VERSION} idle rb={rb}]"),
            (Some(r), rb) => {
                write!(f, "{MARKER}{FORMAT_VERSION} {}", r.phase.word())?;
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
                rollout: None,
                rolled_back: Some(v(7)),
            },
        };
        assert_eq!(idle.render(), "[lambda-rollout/1 idle rb=7]");
        assert_eq!(Description::parse(&idle.render()).unwrap(), idle);
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
        ];
        for (text, want) in cases {
            let e = Description::parse(&text).unwrap_err();
            assert!(e.problem.contains(want), "{text}: {}", e.problem);
            assert!(e.to_string().contains("rollback"), "the fix is named");
        }
    }
}
