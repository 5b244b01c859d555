//! A release group (README, Release groups): several aliases rolled out as
//! one release, all or nothing. Nothing but the members' records says what
//! the group is doing: each names the group, how many members its release
//! has, and (`started`) which release it is; the group's state is derived
//! from the records read in one tick.
//!
//! A tick first decides each member alone (`plan`), by the group's policy;
//! `decide` then turns those into the group's decisions, rules G1 to G6 in
//! order, the first that applies deciding. `carry` keeps every write to a
//! member a member's: the membership stays in the record, and a member whose
//! part ends says how (`end=back|done`), for the others to read.

use std::time::Duration;

use super::reconcile::reconcile;
use super::{alias_after, back_to_blue, Decision, Outcome};
use crate::engine::state::{
    AliasState, Canary, Description, End, Ended, Membership, Phase, Record, Rollout,
};
use crate::model::{clipped, format_duration, GroupName, Target, UtcTime, Weight};

/// How long a release that reached only some of its members is left as it
/// is for the writes still under way to land: a start or a manual command
/// writes its members one after another, and a tick cut short is followed
/// by the next one. Past it, what reached some members is undone.
pub const GRACE: Duration = Duration::from_secs(180);

/// One member as the tick found it. Short-lived (one a member, for one
/// tick), so the variants' sizes may differ.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Seen {
    /// Read, and decided alone.
    Decided {
        alias: AliasState,
        decision: Decision,
    },
    /// The function or its alias does not exist.
    Gone(String),
    /// Not read or not decided this tick (throttled, timed out, a record
    /// that does not parse): why.
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub struct Member {
    pub target: Target,
    pub seen: Seen,
}

/// Where a member of the release in flight stands: a step's weight, or
/// promoted (watched, or waiting for the others to be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Position {
    Step(Weight),
    Promoted,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Step(w) => write!(f, "{w}"),
            Position::Promoted => f.write_str("promoted"),
        }
    }
}

/// What the group is doing, as `status` and the tick's report say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No release in flight; the last one (if any) ended as `Ended`.
    Idle(Option<End>),
    /// Every member at one step (or every one promoted and watched).
    Together(Position),
    /// A tick or command was cut short between member writes: the members
    /// stand one write apart, `behind` and `ahead`.
    Split { behind: Position, ahead: Position },
    /// Some members have not been started (or not read) yet.
    Incomplete,
    /// A member was rolled back, failed, or is gone: every member goes back.
    RollingBack,
    /// A member is paused (or was changed by a human): every member is.
    Paused,
}

impl GroupState {
    pub fn label(self) -> &'static str {
        match self {
            GroupState::Idle(None) => "idle",
            GroupState::Idle(Some(End::Back)) => "rolled_back",
            GroupState::Idle(Some(End::Done)) => "done",
            GroupState::Together(Position::Promoted) => "promoted",
            GroupState::Together(_) => "rolling",
            GroupState::Split { .. } => "split",
            GroupState::Incomplete => "incomplete",
            GroupState::RollingBack => "rolling_back",
            GroupState::Paused => "paused",
        }
    }
}

/// The group's decisions for one tick.
#[derive(Debug, Clone)]
pub struct GroupTick {
    pub group: GroupName,
    pub state: GroupState,
    /// The release in flight (or last ended): when it started.
    pub started: Option<UtcTime>,
    /// What the group does this tick, and why: one line.
    pub reason: String,
    /// Per member, in order: what to apply (None: the member was not
    /// decided, and is reported as it was found).
    pub decisions: Vec<Option<Decision>>,
}

/// A member's place in the group's release, from its record.
#[derive(Debug, Clone, Copy)]
enum Part {
    InFlight {
        started: UtcTime,
        members: u8,
        at: Position,
        r: Rollout,
    },
    Ended {
        started: UtcTime,
        members: u8,
        end: End,
    },
    /// Nothing of this group's: no record, another group's, an older
    /// release of this one, or a rollout of its own.
    Outside,
}

fn part_of(group: GroupName, alias: &AliasState) -> (Part, Description) {
    let desc = Description::parse(&alias.description).unwrap_or(Description {
        user_text: String::new(),
        record: Record::default(),
    });
    let part = match (desc.record.group, desc.record.rollout) {
        (Some(m), Some(r)) if m.group == group => Part::InFlight {
            started: r.started,
            members: m.members,
            at: position(&r),
            r,
        },
        (Some(m), None) if m.group == group => match m.ended {
            Some(e) => Part::Ended {
                started: e.started,
                members: m.members,
                end: e.end,
            },
            None => Part::Outside,
        },
        _ => Part::Outside,
    };
    (part, desc)
}

fn position(r: &Rollout) -> Position {
    if r.phase == Phase::Watching {
        Position::Promoted
    } else {
        Position::Step(r.weight)
    }
}

/// Which way a member's own decision goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    /// Back to blue: a rollback or a revert, or a human's.
    Back,
    /// One step on, or promoted.
    Forward(Position),
    /// The watch passed: the member's part is done.
    Done,
    /// Paused, or adopted as a human left it.
    Pause,
    /// Held where it is; a write it carries (a failed check counted, a
    /// tally, an approval asked for) moves nothing.
    Stay,
    /// Anything else (a check begun): not taken in a group.
    Other,
}

fn move_of(r: &Rollout, d: &Decision) -> Move {
    let closes_back = d.write.as_ref().is_some_and(|w| {
        w.stable == r.blue
            && w.canary.is_none_or(|c| c.weight.is_zero())
            && Description::parse(&w.description).is_ok_and(|x| x.record.rollout.is_none())
    });
    match d.outcome {
        Outcome::RolledBack | Outcome::Reverted => Move::Back,
        _ if closes_back => Move::Back,
        Outcome::Advanced => Move::Forward(Position::Step(
            d.write.as_ref().map_or(r.weight, AliasState::canary_weight),
        )),
        Outcome::Promoted => Move::Forward(Position::Promoted),
        Outcome::WatchPassed => Move::Done,
        Outcome::Paused | Outcome::WeightSet => Move::Pause,
        Outcome::Idle if d.write.is_some() => Move::Pause,
        Outcome::Held | Outcome::AwaitingApproval | Outcome::Idle => Move::Stay,
        _ => Move::Other,
    }
}

/// A member of the release in flight, with its own decision.
struct Flying<'a> {
    i: usize,
    target: &'a Target,
    alias: &'a AliasState,
    desc: Description,
    r: Rollout,
    at: Position,
    own: &'a Decision,
    moves: Move,
    drifted: bool,
}

/// Whether a group's members can be rolled out by `policy` (rule G0): the
/// pre- and post-traffic checks run in an invocation of each member's own
/// and answer alone, and `auto_start` starts one member's version as it is
/// published; neither yet waits for the group, so a group's policy sets none.
pub fn rule_g0_policy_fits(group: GroupName, policy: &crate::policy::Policy) -> Result<(), String> {
    let (field, fix) = if policy.pre_traffic.is_some() {
        (
            "pre_traffic",
            "remove it from the group's policy and from LAMBDA_ROLLOUT_POLICY",
        )
    } else if policy.post_traffic.is_some() {
        (
            "post_traffic",
            "remove it from the group's policy and from LAMBDA_ROLLOUT_POLICY",
        )
    } else if policy.auto_start {
        (
            "auto_start",
            // The group's own layer wins over the environment's.
            "set \"auto_start\": false in the group's policy (it overrides LAMBDA_ROLLOUT_POLICY)",
        )
    } else {
        return Ok(());
    };
    Err(format!(
        "group {group}: its policy sets {field}, which a release group does not take yet \
         (README, Release groups): {fix}, and start the group with \
         {{\"action\": \"start\", \"group\": \"{group}\"}}"
    ))
}

/// The group's decisions from its members', each decided alone.
pub fn decide(group: GroupName, members: &[Member], now: UtcTime) -> GroupTick {
    let mut parts = Vec::with_capacity(members.len());
    for m in members {
        parts.push(match &m.seen {
            Seen::Decided { alias, .. } => Some(part_of(group, alias)),
            _ => None,
        });
    }
    let tick = |state, started, reason: String, decisions| GroupTick {
        group,
        state,
        started,
        reason: clipped(reason, 400),
        decisions,
    };
    let own: Vec<Option<Decision>> = members
        .iter()
        .map(|m| match &m.seen {
            Seen::Decided { decision, .. } => Some(decision.clone()),
            _ => None,
        })
        .collect();
    let Some(release) = rule_g1_release(&parts) else {
        return tick(
            GroupState::Idle(None),
            None,
            format!("group {group}: no release in flight"),
            own,
        );
    };
    let flying: Vec<Flying<'_>> = members
        .iter()
        .zip(&parts)
        .enumerate()
        .filter_map(|(i, (m, p))| {
            let (Seen::Decided { alias, decision }, Some((part, desc))) = (&m.seen, p) else {
                return None;
            };
            let Part::InFlight { started, at, r, .. } = *part else {
                return None;
            };
            (started == release.started).then(|| Flying {
                i,
                target: &m.target,
                alias,
                desc: desc.clone(),
                r,
                at,
                own: decision,
                moves: move_of(&r, decision),
                drifted: reconcile(alias, &desc.user_text, desc.record, r, now).is_some(),
            })
        })
        .collect();
    if flying.is_empty() {
        let end = release.ended_back.then_some(End::Back).or(Some(End::Done));
        return tick(
            GroupState::Idle(end),
            Some(release.started),
            format!(
                "group {group}: the release started {} has ended ({})",
                release.started,
                if release.ended_back {
                    "rolled back"
                } else {
                    "promoted"
                }
            ),
            own,
        );
    }
    let mut out = own;
    let started = Some(release.started);
    if let Some(why) = rule_g2_back_reaches_all(group, members, &release, &flying, now) {
        for f in &flying {
            out[f.i] = Some(back(f, &why));
        }
        return tick(GroupState::RollingBack, started, why, out);
    }
    if let Some(why) = rule_g3_incomplete_holds(group, members, &release, &flying) {
        for f in &flying {
            out[f.i] = Some(held(f, &why));
        }
        return tick(GroupState::Incomplete, started, why, out);
    }
    if let Some(why) = rule_g4_pause_reaches_all(group, &flying) {
        for f in &flying {
            out[f.i] = Some(paused(f, &why));
        }
        return tick(GroupState::Paused, started, why, out);
    }
    let behind = flying
        .iter()
        .map(|f| f.at)
        .min()
        .unwrap_or(Position::Promoted);
    let ahead = flying
        .iter()
        .map(|f| f.at)
        .max()
        .unwrap_or(Position::Promoted);
    if behind != ahead {
        let (why, decisions) = rule_g5_split(group, &flying, behind, ahead, now);
        for (i, d) in decisions {
            out[i] = Some(d);
        }
        return tick(GroupState::Split { behind, ahead }, started, why, out);
    }
    let (why, decisions) = rule_g6_together(group, &flying, ahead);
    for (i, d) in decisions {
        out[i] = Some(d);
    }
    tick(GroupState::Together(ahead), started, why, out)
}

/// The release the group's records speak of.
struct Release {
    started: UtcTime,
    /// How many members it began on, as the records say.
    members: u8,
    /// Members whose records are of it, in flight or ended.
    found: usize,
    /// One of them ended rolled back.
    ended_back: bool,
    /// Every member was read.
    all_read: bool,
}

/// Rule G1: the group's release is the newest one any member's record
/// names (its `started`); a record of an older release is that member's
/// past, not part of this one.
fn rule_g1_release(parts: &[Option<(Part, Description)>]) -> Option<Release> {
    let of = |p: &Part| match *p {
        Part::InFlight {
            started, members, ..
        }
        | Part::Ended {
            started, members, ..
        } => Some((started, members)),
        Part::Outside => None,
    };
    let started = parts.iter().flatten().filter_map(|(p, _)| of(p)).max()?.0;
    let mine: Vec<&Part> = parts
        .iter()
        .flatten()
        .map(|(p, _)| p)
        .filter(|p| of(p).is_some_and(|(s, _)| s == started))
        .collect();
    Some(Release {
        started,
        members: mine
            .iter()
            .filter_map(|p| of(p).map(|(_, n)| n))
            .max()
            .unwrap_or(1),
        found: mine.len(),
        ended_back: mine
            .iter()
            .any(|p| matches!(p, Part::Ended { end: End::Back, .. })),
        all_read: parts.iter().all(Option::is_some),
    })
}

/// Rule G2: a rollback that reached one member reaches all. Every member
/// still in flight goes back to blue when one has (its record says
/// `end=back`), when one's own judgment sends it back, when a member is
/// gone, or when the release is missing a member past the grace (it cannot
/// be all or nothing then).
fn rule_g2_back_reaches_all(
    group: GroupName,
    members: &[Member],
    release: &Release,
    flying: &[Flying<'_>],
    now: UtcTime,
) -> Option<String> {
    let lead = format!("group {group}: every member back to its stable version");
    if let Some(f) = flying.iter().find(|f| f.moves == Move::Back) {
        return Some(format!(
            "{lead}: {} went back ({})",
            f.target,
            clipped(f.own.reason.clone(), 160)
        ));
    }
    if release.ended_back {
        return Some(format!(
            "{lead}: a member of the release started {} was rolled back",
            release.started
        ));
    }
    if let Some((m, why)) = members.iter().find_map(|m| match &m.seen {
        Seen::Gone(why) => Some((m, why)),
        _ => None,
    }) {
        return Some(format!(
            "{lead}: {} is gone mid-release ({})",
            m.target,
            clipped(why.clone(), 120)
        ));
    }
    let missing = usize::from(release.members).saturating_sub(release.found);
    if missing > 0 && release.all_read && now.since(release.started) >= GRACE {
        return Some(format!(
            "{lead}: the release reached {} of its {} members ({} after it started, {} of grace); \
             start the group again",
            release.found,
            release.members,
            format_duration(now.since(release.started)),
            format_duration(GRACE)
        ));
    }
    None
}

/// Rule G3: with a member not read, or a release still being started on
/// its members (within the grace), nothing moves forward.
fn rule_g3_incomplete_holds(
    group: GroupName,
    members: &[Member],
    release: &Release,
    flying: &[Flying<'_>],
) -> Option<String> {
    if let Some((m, why)) = members.iter().find_map(|m| match &m.seen {
        Seen::Unreadable(why) => Some((m, why)),
        _ => None,
    }) {
        return Some(format!(
            "group {group} holds: {} could not be read or judged ({})",
            m.target,
            clipped(why.clone(), 160)
        ));
    }
    let missing = usize::from(release.members).saturating_sub(release.found);
    (missing > 0 && !flying.is_empty()).then(|| {
        format!(
            "group {group} holds: the release started {} has reached {} of its {} members so \
             far; past {} of grace it is rolled back",
            release.started,
            release.found,
            release.members,
            format_duration(GRACE)
        )
    })
}

/// Rule G4: a member paused (by on_failure pause, an operator, or a human
/// who changed its alias) pauses the group: nothing moves until the group
/// is resumed, promoted or rolled back.
fn rule_g4_pause_reaches_all(group: GroupName, flying: &[Flying<'_>]) -> Option<String> {
    let f = flying
        .iter()
        .find(|f| f.drifted || f.moves == Move::Pause || f.r.phase == Phase::Paused)?;
    let why = if f.drifted {
        "was changed outside lambda-rollout".to_string()
    } else {
        format!("is paused ({})", clipped(f.own.reason.clone(), 160))
    };
    Some(format!(
        "group {group} paused: {} {why}; resume, promote or rollback the group",
        f.target
    ))
}

/// Rule G5: members one write apart (an advance or a promotion that reached
/// some of them). The advance completes where the members behind pass on
/// their own (each moving to where the others are); where they do not, it
/// is undone once the grace has passed since it was made; meanwhile
/// nothing else moves.
fn rule_g5_split(
    group: GroupName,
    flying: &[Flying<'_>],
    behind: Position,
    ahead: Position,
    now: UtcTime,
) -> (String, Vec<(usize, Decision)>) {
    let (laggards, leaders): (Vec<&Flying<'_>>, Vec<&Flying<'_>>) =
        flying.iter().partition(|f| f.at != ahead);
    let n = |v: &[&Flying<'_>]| v.len();
    let caught_up = laggards.iter().all(|f| f.moves == Move::Forward(ahead));
    if caught_up {
        let why = format!(
            "group {group}: completing the move to {ahead}: {} of {} members were there, the \
             rest pass and follow",
            n(&leaders),
            flying.len()
        );
        let mut out: Vec<(usize, Decision)> =
            leaders.iter().map(|f| (f.i, held(f, &why))).collect();
        out.extend(
            laggards
                .iter()
                .map(|f| (f.i, with_group(f.own.clone(), &why))),
        );
        return (why, out);
    }
    let stuck = laggards
        .iter()
        .find(|f| f.moves != Move::Forward(ahead))
        .map(|f| {
            format!(
                "{} does not pass yet ({})",
                f.target,
                clipped(f.own.reason.clone(), 140)
            )
        })
        .unwrap_or_default();
    // Uniform step back: every member behind stands at one place.
    let uniform = laggards.iter().all(|f| f.at == behind);
    let settled = leaders.iter().all(|f| now.since(f.r.since) >= GRACE);
    let to = laggards.iter().find(|f| f.at == behind).map(|f| f.r);
    match to.filter(|_| uniform && settled) {
        Some(to) if matches!(behind, Position::Step(_)) => {
            let why = format!(
                "group {group}: the move to {ahead} reached {} of {} members and {stuck}: \
                 undone, every member back at {behind}",
                n(&leaders),
                flying.len()
            );
            let mut out: Vec<(usize, Decision)> = leaders
                .iter()
                .map(|f| (f.i, undone(f, &to, &why)))
                .collect();
            out.extend(laggards.iter().map(|f| (f.i, held(f, &why))));
            (why, out)
        }
        _ => {
            let why = format!(
                "group {group} holds split, {} of {} members at {ahead} and the rest at {behind}: \
                 {stuck}; undone after {} of grace if they do not pass",
                n(&leaders),
                flying.len(),
                format_duration(GRACE)
            );
            (
                why.clone(),
                flying.iter().map(|f| (f.i, held(f, &why))).collect(),
            )
        }
    }
}

/// Rule G6: members together move together: a step is taken (or the
/// promotion made, or the watch passed) only when every member's own
/// judgment takes it; otherwise every member holds where it is.
fn rule_g6_together(
    group: GroupName,
    flying: &[Flying<'_>],
    at: Position,
) -> (String, Vec<(usize, Decision)>) {
    let first = flying[0].moves;
    let all_same = flying.iter().all(|f| f.moves == first);
    if all_same && matches!(first, Move::Forward(_) | Move::Done) {
        let why = match first {
            Move::Forward(to) => format!(
                "group {group}: every member passed at {at}: all {} to {to}",
                flying.len()
            ),
            _ => format!(
                "group {group}: every member's watch passed: the release is done on all {}",
                flying.len()
            ),
        };
        let out = flying
            .iter()
            .map(|f| (f.i, with_group(f.own.clone(), &why)))
            .collect();
        return (why, out);
    }
    let first_waiting = flying
        .iter()
        .find(|f| !matches!(f.moves, Move::Forward(_) | Move::Done));
    let waiting = first_waiting
        .map(|f| {
            format!(
                "{} is {} ({})",
                f.target,
                f.own.outcome.label().replace('_', " "),
                clipped(f.own.reason.clone(), 160)
            )
        })
        .unwrap_or_else(|| "its members do not agree on the next move".to_string());
    let why = format!("group {group} holds at {at}: {waiting}");
    // The member the others wait for has its own reason already: the
    // group's, which quotes it, would say it twice.
    let for_it = format!("group {group} holds at {at}: the other members wait for this one");
    (
        why.clone(),
        flying
            .iter()
            .map(|f| {
                let cited = first_waiting.is_some_and(|w| w.i == f.i);
                (f.i, held(f, if cited { &for_it } else { &why }))
            })
            .collect(),
    )
}

/// The member's own decision, its reason saying what the group did.
fn with_group(mut d: Decision, why: &str) -> Decision {
    d.reason = clipped(format!("{}; {why}", d.reason), 600);
    d
}

/// Held for the group: its own decision where that moves nothing (a failed
/// check counted, a tally, an approval asked for are still written), else a
/// hold that writes nothing.
fn held(f: &Flying<'_>, why: &str) -> Decision {
    if f.moves == Move::Stay {
        return with_group(f.own.clone(), why);
    }
    let mut d = Decision::new(
        Outcome::Held,
        clipped(format!("{}, held for the group: {why}", f.own.reason), 600),
    );
    d.observation = f.own.observation.clone();
    d.verdict = f.own.verdict.clone();
    d
}

/// Back to blue for the group: its own decision if it goes back, else a
/// rollback (a revert while promoted).
fn back(f: &Flying<'_>, why: &str) -> Decision {
    if f.moves == Move::Back {
        return with_group(f.own.clone(), why);
    }
    let outcome = match f.at {
        Position::Promoted => Outcome::Reverted,
        Position::Step(_) => Outcome::RolledBack,
    };
    let mut d = back_to_blue(
        outcome,
        &f.desc.user_text,
        &f.r,
        clipped(
            format!(
                "version {} at {} back to {}: {why}",
                f.r.green, f.at, f.r.blue
            ),
            600,
        ),
    );
    d.observation = f.own.observation.clone();
    d.verdict = f.own.verdict.clone();
    d
}

/// Paused for the group where it stands: its own decision if it pauses (or
/// already is paused, or watches: a promotion is not paused), else paused.
fn paused(f: &Flying<'_>, why: &str) -> Decision {
    let stays_paused = f.r.phase == Phase::Paused && f.moves == Move::Stay;
    if f.moves == Move::Pause || stays_paused || f.at == Position::Promoted {
        return with_group(f.own.clone(), why);
    }
    let after = Record {
        rollout: Some(Rollout {
            phase: Phase::Paused,
            tally: None,
            ..f.r
        }),
        ..f.desc.record
    };
    Decision::new(
        Outcome::Paused,
        format!("version {} paused at {}: {why}", f.r.green, f.r.weight),
    )
    .writing(alias_after(
        f.alias.stable,
        f.alias.canary,
        &f.desc.user_text,
        after,
    ))
}

/// A leader taken back to where the members behind stand (`to`): the step
/// they are at, begun when theirs began, as if the move had not been made.
fn undone(f: &Flying<'_>, to: &Rollout, why: &str) -> Decision {
    let after = Record {
        rollout: Some(Rollout {
            phase: Phase::Rolling,
            weight: to.weight,
            since: to.since,
            fails: 0,
            tally: None,
            ..f.r
        }),
        ..f.desc.record
    };
    let canary = Canary {
        version: f.r.green,
        weight: to.weight,
    };
    Decision::new(
        Outcome::StepUndone,
        format!(
            "version {} back from {} to {}: {why}",
            f.r.green, f.at, to.weight
        ),
    )
    .writing(alias_after(
        f.r.blue,
        Some(canary),
        &f.desc.user_text,
        after,
    ))
}

/// A start's write made a member's part of the group's release of
/// `members`: a new one (every member's start is decided at one `now`,
/// which is the release's `started`), or (`into`) the one in flight that a
/// start cut short began, which it completes.
pub fn joined(mut d: Decision, group: GroupName, members: u8, into: Option<UtcTime>) -> Decision {
    let Some(after) = d.write.as_mut() else {
        return d;
    };
    let Ok(mut desc) = Description::parse(&after.description) else {
        return d;
    };
    if let Some(r) = desc.record.rollout.as_mut() {
        if let Some(started) = into {
            r.started = started.min(r.since);
        }
        desc.record.group = Some(Membership {
            group,
            members,
            ended: None,
        });
        after.description = desc.render();
    }
    d
}

/// The release of `group` in flight on this alias, if its record is one
/// of its members': when it started, and how many members it has.
pub fn in_flight(group: GroupName, alias: &AliasState) -> Option<(UtcTime, u8)> {
    match part_of(group, alias).0 {
        Part::InFlight {
            started, members, ..
        } => Some((started, members)),
        _ => None,
    }
}

/// Keeps a write to a group member's alias a member's (rule G7): the
/// membership stays in its record; a member whose part ends says how
/// (`end=back` when blue takes all traffic, `end=done` when green does);
/// and a promotion is recorded as a watch, so that it can still be undone
/// while the other members are not promoted yet. `before` is the alias the
/// decision was made on; a write to anything but a member in flight is
/// left as it is.
pub fn rule_g7_carry(before: &AliasState, mut d: Decision, now: UtcTime) -> Decision {
    let Ok(was) = Description::parse(&before.description) else {
        return d;
    };
    let (Some(m), Some(r)) = (was.record.group, was.record.rollout) else {
        return d;
    };
    let Some(after) = d.write.as_mut() else {
        return d;
    };
    let Ok(mut desc) = Description::parse(&after.description) else {
        return d;
    };
    let member = Membership { ended: None, ..m };
    desc.record.group = Some(match desc.record.rollout {
        Some(_) => member,
        None if after.stable == r.green && d.outcome == Outcome::Promoted => {
            desc.record.rollout = Some(Rollout {
                phase: Phase::Watching,
                weight: Weight::FULL,
                since: now,
                fails: 0,
                tally: None,
                ..r
            });
            member
        }
        None => Membership {
            ended: Some(Ended {
                started: r.started,
                end: if after.stable == r.green {
                    End::Done
                } else {
                    End::Back
                },
            }),
            ..m
        },
    });
    after.description = desc.render();
    d
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, policy, t0, v, w};
    use super::super::{plan, MetricsAnswer, Plan};
    use super::*;
    use crate::engine::health::Observation;
    use crate::policy::Policy;

    fn group() -> GroupName {
        GroupName::new("checkout").unwrap()
    }

    fn targets() -> Vec<Target> {
        ["api", "worker", "web"]
            .iter()
            .map(|f| Target::new(f, "live").unwrap())
            .collect()
    }

    fn p() -> Policy {
        policy(
            r#"{"steps":[10,50,100],"bake":"5m","metric_lag":"1m","error_floor":5,"failure_threshold":2}"#,
        )
    }

    fn obs(green: (u64, u64)) -> Observation {
        fixtures::obs(green, (9000, 9))
    }

    #[test]
    fn rule_g0_refuses_what_does_not_wait_for_a_group_and_says_how_to_fix_it() {
        let layered = |group: &str, env: &str| {
            let parse = |t: &str| serde_json::from_str::<crate::policy::PolicySpec>(t).unwrap();
            crate::policy::PolicySpec::resolve(&[&parse(group), &parse(env)]).unwrap()
        };
        let cases = [
            ("{}", "{}", None),
            (
                r#"{"pre_traffic":{"function":"smoke"}}"#,
                "{}",
                Some("sets pre_traffic"),
            ),
            (
                "{}",
                r#"{"post_traffic":{"function":"smoke"}}"#,
                Some("sets post_traffic"),
            ),
            (
                r#"{"auto_start":true}"#,
                "{}",
                Some("set \"auto_start\": false in the group's policy"),
            ),
            ("{}", r#"{"auto_start":true}"#, Some("sets auto_start")),
            // The group's own layer turns the environment's auto_start off.
            (r#"{"auto_start":false}"#, r#"{"auto_start":true}"#, None),
        ];
        for (group_policy, env, refused) in cases {
            let got = rule_g0_policy_fits(group(), &layered(group_policy, env));
            match (refused, got) {
                (None, Ok(())) => {}
                (Some(says), Err(why)) => {
                    assert!(why.contains(says), "{group_policy} over {env}: {why}");
                    assert!(why.contains(r#"{"action": "start", "group": "checkout"}"#));
                    assert!(why.len() < 400, "{why}");
                }
                (want, got) => panic!("{group_policy} over {env}: {got:?}, not {want:?}"),
            }
        }
    }

    fn healthy() -> Observation {
        obs((1000, 0))
    }

    fn failing() -> Observation {
        obs((1000, 100))
    }

    fn member_of(n: u8) -> Membership {
        Membership {
            group: group(),
            members: n,
            ended: None,
        }
    }

    /// Green 2 over blue 1 at `weight` (100: promoted, watched), a member of
    /// the release started at `started`, its step begun at `since`.
    fn member_alias(weight: f64, started: UtcTime, since: UtcTime, fails: u32) -> AliasState {
        let promoted = weight >= 100.0;
        let r = Rollout {
            phase: if promoted {
                Phase::Watching
            } else {
                Phase::Rolling
            },
            green: v(2),
            blue: v(1),
            weight: w(weight),
            since,
            started,
            fails,
            approved: false,
            tally: None,
        };
        let record = Record {
            rollout: Some(r),
            rolled_back: None,
            group: Some(member_of(3)),
        };
        let (stable, canary) = if promoted {
            (v(2), None)
        } else {
            (
                v(1),
                Some(Canary {
                    version: v(2),
                    weight: w(weight),
                }),
            )
        };
        alias_after(stable, canary, "team notes", record)
    }

    fn ended_alias(started: UtcTime, end: End) -> AliasState {
        let record = Record {
            rollout: None,
            rolled_back: (end == End::Back).then(|| v(2)),
            group: Some(Membership {
                ended: Some(Ended { started, end }),
                ..member_of(3)
            }),
        };
        let stable = if end == End::Back { v(1) } else { v(2) };
        alias_after(stable, None, "team notes", record)
    }

    fn minutes(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    /// The member decided alone, on `o` (None: metrics unavailable).
    fn alone(
        t: &Target,
        alias: &AliasState,
        p: &Policy,
        now: UtcTime,
        o: Option<&Observation>,
    ) -> Seen {
        let decision = match plan(t, alias, p, now) {
            Err(e) => return Seen::Unreadable(e.0),
            Ok(Plan::Decided(d)) => d,
            Ok(Plan::NeedVersions(_)) => panic!("no auto_start here"),
            Ok(Plan::NeedMetrics(a)) => a.decide(match o {
                Some(o) => MetricsAnswer::Fetched(o),
                None => MetricsAnswer::Unavailable("timeout"),
            }),
        };
        Seen::Decided {
            alias: alias.clone(),
            decision,
        }
    }

    fn members(seen: Vec<Seen>) -> Vec<Member> {
        targets()
            .into_iter()
            .zip(seen)
            .map(|(target, seen)| Member { target, seen })
            .collect()
    }

    /// Each member's decision as `outcome` or `outcome@weight` written.
    fn summary(t: &GroupTick, before: &[AliasState]) -> Vec<String> {
        t.decisions
            .iter()
            .zip(before)
            .map(|(d, b)| match d {
                None => "-".into(),
                Some(d) => {
                    let d = rule_g7_carry(b, d.clone(), t0());
                    match &d.write {
                        Some(a) if !tally_only(b, a) => {
                            format!("{}@{}", d.outcome.label(), written(a))
                        }
                        _ => d.outcome.label().to_string(),
                    }
                }
            })
            .collect()
    }

    /// A write that only checkpoints the tally (rule T2) moves nothing.
    fn tally_only(before: &AliasState, after: &AliasState) -> bool {
        let record = |a: &AliasState| Description::parse(&a.description).unwrap().record;
        before.stable == after.stable
            && before.canary == after.canary
            && record(before).untallied() == record(after).untallied()
    }

    /// Where an alias stands: `10`, `watch`, `back`, `done`, or `idle`.
    fn written(a: &AliasState) -> String {
        let d = Description::parse(&a.description).unwrap();
        match (d.record.rollout, d.record.group.and_then(|m| m.ended)) {
            (Some(r), _) if r.phase == Phase::Watching => "watch".into(),
            (Some(r), _) if r.phase == Phase::Paused => format!("paused{}", r.weight.percent()),
            (Some(r), _) => format!("{}", r.weight.percent()),
            (None, Some(e)) => e.end.word().into(),
            (None, None) => "idle".into(),
        }
    }

    #[test]
    fn the_group_decides_from_what_each_member_would_do_alone() {
        let p = p();
        let now = t0();
        let started = now.minus(minutes(30));
        let step = now.minus(minutes(10));
        let fresh = now.minus(minutes(1));
        let at = |wt: f64, since: UtcTime, fails: u32| member_alias(wt, started, since, fails);
        let gone = || Seen::Gone("Function not found".into());
        type Case = (
            &'static str,
            Vec<(AliasState, Option<Observation>)>,
            &'static str,
            Vec<&'static str>,
        );
        let h = || Some(healthy());
        let cases: Vec<Case> = vec![
            (
                "every member passes: all advance",
                vec![
                    (at(10.0, step, 0), h()),
                    (at(10.0, step, 0), h()),
                    (at(10.0, step, 0), h()),
                ],
                "rolling",
                vec!["advanced@50", "advanced@50", "advanced@50"],
            ),
            (
                "one still bakes: all hold, its tally aside nothing written",
                vec![
                    (at(10.0, step, 0), h()),
                    (at(10.0, fresh, 0), h()),
                    (at(10.0, step, 0), h()),
                ],
                "rolling",
                vec!["held", "held", "held"],
            ),
            (
                "one's metrics are unavailable: all hold",
                vec![
                    (at(10.0, step, 0), h()),
                    (at(10.0, step, 0), None),
                    (at(10.0, step, 0), h()),
                ],
                "rolling",
                vec!["held", "held", "held"],
            ),
            (
                "a first failure holds the group and is counted",
                vec![
                    (at(10.0, step, 0), h()),
                    (at(10.0, step, 0), Some(failing())),
                    (at(10.0, step, 0), h()),
                ],
                "rolling",
                vec!["held", "held@10", "held"],
            ),
            (
                "a failure at the threshold rolls every member back",
                vec![
                    (at(10.0, step, 0), h()),
                    (at(10.0, step, 1), Some(failing())),
                    (at(10.0, step, 0), h()),
                ],
                "rolling_back",
                vec!["rolled_back@back", "rolled_back@back", "rolled_back@back"],
            ),
            (
                "a member already rolled back takes the others with it",
                vec![
                    (at(10.0, step, 0), h()),
                    (ended_alias(started, End::Back), None),
                    (at(10.0, step, 0), h()),
                ],
                "rolling_back",
                vec!["rolled_back@back", "idle", "rolled_back@back"],
            ),
            (
                "a promoted member is reverted with them",
                vec![
                    (at(100.0, fresh, 0), h()),
                    (at(50.0, step, 1), Some(failing())),
                    (at(100.0, fresh, 0), h()),
                ],
                "rolling_back",
                vec!["reverted@back", "rolled_back@back", "reverted@back"],
            ),
            (
                "an advance cut short completes where the rest pass",
                vec![
                    (at(50.0, fresh, 0), h()),
                    (at(10.0, step, 0), h()),
                    (at(10.0, step, 0), h()),
                ],
                "split",
                vec!["held", "advanced@50", "advanced@50"],
            ),
            (
                "a promotion cut short completes, recorded as a watch",
                vec![
                    (at(100.0, fresh, 0), h()),
                    (at(50.0, step, 0), h()),
                    (at(100.0, fresh, 0), h()),
                ],
                "split",
                vec!["held", "promoted@watch", "held"],
            ),
            (
                "cut short, the rest cannot be judged: held within the grace",
                vec![
                    (at(50.0, fresh, 0), h()),
                    (at(10.0, step, 0), None),
                    (at(10.0, step, 0), h()),
                ],
                "split",
                vec!["held", "held", "held"],
            ),
            (
                "cut short, the rest cannot be judged: undone past the grace",
                vec![
                    (at(50.0, now.minus(minutes(4)), 0), h()),
                    (at(10.0, step, 0), None),
                    (at(10.0, step, 0), h()),
                ],
                "split",
                vec!["step_undone@10", "held", "held"],
            ),
            (
                "a promotion cut short and not passing is undone past the grace",
                vec![
                    (at(100.0, now.minus(minutes(4)), 0), h()),
                    (at(50.0, step, 0), Some(failing())),
                    (at(50.0, step, 0), h()),
                ],
                "split",
                vec!["step_undone@50", "held@50", "held"],
            ),
            (
                "a member gone mid-release rolls the others back",
                vec![
                    (at(10.0, step, 0), h()),
                    (at(10.0, step, 0), h()),
                    (at(10.0, step, 0), h()),
                ],
                "rolling_back",
                vec!["rolled_back@back", "rolled_back@back", "-"],
            ),
            (
                "a paused member pauses the others",
                vec![
                    (at(10.0, step, 0), h()),
                    (member_paused(started, step), h()),
                    (at(10.0, step, 0), h()),
                ],
                "paused",
                vec!["paused@paused10", "held", "paused@paused10"],
            ),
            (
                "every member promoted and watched: done together",
                vec![
                    (at(100.0, fresh, 0), h()),
                    (at(100.0, fresh, 0), h()),
                    (at(100.0, fresh, 0), h()),
                ],
                "promoted",
                vec![
                    "watch_passed@done",
                    "watch_passed@done",
                    "watch_passed@done",
                ],
            ),
        ];
        for (name, states, want_state, want) in cases {
            let before: Vec<AliasState> = states.iter().map(|(a, _)| a.clone()).collect();
            let mut seen: Vec<Seen> = targets()
                .iter()
                .zip(&states)
                .map(|(t, (a, o))| alone(t, a, &p, now, o.as_ref()))
                .collect();
            if name.contains("gone") {
                seen[2] = gone();
            }
            let tick = decide(group(), &members(seen), now);
            assert_eq!(tick.state.label(), want_state, "{name}: {}", tick.reason);
            assert_eq!(summary(&tick, &before), want, "{name}: {}", tick.reason);
            assert!(
                tick.reason.contains("group checkout"),
                "{name}: {}",
                tick.reason
            );
        }
    }

    #[test]
    fn a_hold_says_once_which_member_the_group_waits_for() {
        let p = p();
        let now = t0();
        let started = now.minus(minutes(30));
        let step = now.minus(minutes(10));
        let at = || member_alias(10.0, started, step, 0);
        let obs = [Some(healthy()), None, Some(healthy())];
        let seen: Vec<Seen> = targets()
            .iter()
            .zip(&obs)
            .map(|(t, o)| alone(t, &at(), &p, now, o.as_ref()))
            .collect();
        let tick = decide(group(), &members(seen), now);
        let reason = |i: usize| tick.decisions[i].as_ref().unwrap().reason.clone();
        assert!(
            tick.reason
                .starts_with("group checkout holds at 10%: worker:live is held"),
            "{}",
            tick.reason
        );
        for i in [0, 2] {
            assert!(reason(i).contains("worker:live is held ("), "{}", reason(i));
        }
        let own = reason(1);
        assert!(own.contains("the other members wait for this one"), "{own}");
        assert!(!own.contains("worker:live is held"), "said once: {own}");
        assert_eq!(own.matches("metrics unavailable").count(), 1, "{own}");
    }

    /// Where a member stands in the release, as a number: 1 and 2 the
    /// steps, 3 promoted; None once its part is over (or never began).
    fn rank(a: &AliasState) -> Option<u8> {
        let r = Description::parse(&a.description).unwrap().record.rollout?;
        Some(match position(&r) {
            Position::Step(x) if x <= w(10.0) => 1,
            Position::Step(_) => 2,
            Position::Promoted => 3,
        })
    }

    fn end_of(a: &AliasState) -> Option<End> {
        let d = Description::parse(&a.description).unwrap();
        d.record.group.and_then(|m| m.ended).map(|e| e.end)
    }

    /// A group of three ticked every minute for `ticks` minutes, each
    /// tick's writes cut short after a number of them that `cut` picks; the
    /// invariants are checked after every write. `health(member, minute)`
    /// is what the member's metrics say.
    fn run(
        ticks: u64,
        cut: impl Fn(u64) -> usize,
        health: impl Fn(usize, u64) -> Option<Observation>,
    ) -> Vec<AliasState> {
        let p = p();
        let start = t0();
        let mut world: Vec<AliasState> = (0..3)
            .map(|_| member_alias(10.0, start, start, 0))
            .collect();
        let mut any_back = false;
        for minute in 1..=ticks {
            let now = start.plus(minutes(minute));
            let seen: Vec<Seen> = targets()
                .iter()
                .zip(&world)
                .enumerate()
                .map(|(i, (t, a))| alone(t, a, &p, now, health(i, minute).as_ref()))
                .collect();
            let tick = decide(group(), &members(seen), now);
            let mut written = 0;
            for (i, d) in tick.decisions.iter().enumerate() {
                let Some(d) = d else { continue };
                let d = rule_g7_carry(&world[i], d.clone(), now);
                let Some(after) = d.write else { continue };
                if after == world[i] {
                    continue;
                }
                if written == cut(minute) {
                    break;
                }
                written += 1;
                let was = rank(&world[i]);
                world[i] = after;
                // Invariant 1: never more than one write apart.
                let ranks: Vec<u8> = world.iter().filter_map(rank).collect();
                if let (Some(lo), Some(hi)) = (ranks.iter().min(), ranks.iter().max()) {
                    assert!(
                        hi - lo <= 1,
                        "minute {minute}: ranks {ranks:?} ({})",
                        tick.reason
                    );
                }
                // Invariant 2: once a member is back, nothing moves forward.
                if any_back {
                    assert!(
                        rank(&world[i]) <= was || rank(&world[i]).is_none(),
                        "minute {minute}: {} moved on after a rollback ({})",
                        targets()[i],
                        tick.reason
                    );
                }
                any_back |= end_of(&world[i]) == Some(End::Back);
            }
        }
        world
    }

    #[test]
    fn a_group_cut_short_tick_after_tick_still_promotes_all_together() {
        // Each tick writes 0, 1, 2 or all of what it decided.
        let world = run(60, |m| (m % 4) as usize, |_, _| Some(healthy()));
        for a in &world {
            assert_eq!(end_of(a), Some(End::Done), "{}", a.description);
            assert_eq!((a.stable, a.canary), (v(2), None));
        }
    }

    #[test]
    fn a_group_cut_short_tick_after_tick_rolls_back_all_when_one_fails() {
        for fail_from in [3, 5, 6, 8, 9] {
            let world = run(
                60,
                |m| ((m * 7) % 4) as usize,
                |i, m| {
                    Some(if i == 1 && m >= fail_from {
                        failing()
                    } else {
                        healthy()
                    })
                },
            );
            for a in &world {
                assert_eq!(
                    end_of(a),
                    Some(End::Back),
                    "from {fail_from}: {}",
                    a.description
                );
                assert_eq!((a.stable, a.canary), (v(1), None), "from {fail_from}");
            }
        }
    }

    #[test]
    fn a_group_whose_member_cannot_be_judged_after_a_cut_short_advance_is_undone() {
        // Minute 5: the advance reaches api only; worker's metrics are then
        // unavailable for ten minutes.
        let world = run(
            9,
            |m| if m == 5 { 1 } else { 3 },
            |i, m| (i != 1 || !(6..16).contains(&m)).then(healthy),
        );
        let ranks: Vec<Option<u8>> = world.iter().map(rank).collect();
        assert_eq!(
            ranks,
            [Some(1), Some(1), Some(1)],
            "undone to the first step"
        );
    }

    fn member_paused(started: UtcTime, since: UtcTime) -> AliasState {
        let a = member_alias(10.0, started, since, 0);
        let mut d = Description::parse(&a.description).unwrap();
        d.record.rollout = d.record.rollout.map(|r| Rollout {
            phase: Phase::Paused,
            ..r
        });
        AliasState {
            description: d.render(),
            ..a
        }
    }
}
