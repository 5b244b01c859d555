//! `wait`: follows one version's rollout until it ends, for a pipeline or a
//! person. It only reads (the executor's read-only half: no write is in
//! reach of this module), and a poll costs at most one GetAlias and one
//! GetMetricData: the alias says where the rollout is, CloudWatch only what
//! the next tick would make of it. The version is pinned once, at the start.
//! A release group is followed whole (`follow_group`): each member's version
//! pinned as one target's is, a poll one GetAlias a member and one batched
//! GetMetricData, the wait over once every member's part is (its end the
//! worst of theirs, `group_ending`).
//!
//! Where version N is (`where_is`), from the alias alone:
//!
//! | the alias                                  | N is                       |
//! |--------------------------------------------|----------------------------|
//! | a rollout of N                             | going (its phase)          |
//! | a rollout of an older version              | queued behind it           |
//! | a rollout of a newer version, not from N   | superseded                 |
//! | a rollout from N (N is its blue)           | promoted                   |
//! | no rollout, N stable                       | promoted                   |
//! | no rollout, N the last rolled back         | rolled back (or reverted)  |
//! | no rollout, a newer version stable         | superseded                 |
//! | no rollout, an older version stable        | not started yet            |

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use futures_util::stream::{self, StreamExt};

use crate::engine::{AliasState, Check, Description, Phase, Record};
use crate::executor::Executor;
use crate::model::{GroupName, Target, UtcTime, Version};
use crate::policy::Policy;
use crate::ports::{AliasRead, AliasSnapshot, MetricsRead, StoreError};
use crate::report::TargetResult;

/// Where a rollout still going stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not started; `behind` is the older version rolling out first.
    NotStarted {
        behind: Option<Version>,
    },
    Checking(Check),
    Rolling,
    Paused,
    AwaitingApproval,
    /// Promoted, judged for `watch_after_promote`: may still be reverted.
    Watching,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::NotStarted { .. } => "not_started",
            Stage::Checking(_) => "checking",
            Stage::Rolling => "rolling",
            Stage::Paused => "paused",
            Stage::AwaitingApproval => "awaiting_approval",
            Stage::Watching => "watching",
        }
    }

    /// Waiting on a person: at the timeout this is its own exit code.
    pub fn is_held(self) -> bool {
        matches!(self, Stage::Paused | Stage::AwaitingApproval)
    }
}

/// How the followed version's rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Promoted,
    RolledBack,
    /// Rolled back after its promotion, by the watch or by hand.
    Reverted,
    /// A newer version is rolled out instead: N never will be.
    Superseded {
        by: Version,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Going(Stage),
    Ended(Ending),
}

/// Where version `n`'s rollout is, from the alias alone (the table above).
pub fn where_is(n: Version, alias: &AliasState, record: &Record) -> Seen {
    if let Some(r) = record.rollout {
        return if r.green == n {
            Seen::Going(match r.phase {
                Phase::Rolling => Stage::Rolling,
                Phase::Paused => Stage::Paused,
                Phase::AwaitingApproval => Stage::AwaitingApproval,
                Phase::Checking(c) => Stage::Checking(c),
                Phase::Watching => Stage::Watching,
            })
        } else if r.blue == n {
            Seen::Ended(Ending::Promoted)
        } else if r.green > n {
            Seen::Ended(Ending::Superseded { by: r.green })
        } else {
            Seen::Going(Stage::NotStarted {
                behind: Some(r.green),
            })
        };
    }
    if alias.stable == n {
        Seen::Ended(Ending::Promoted)
    } else if record.rolled_back == Some(n) {
        Seen::Ended(Ending::RolledBack)
    } else if alias.stable > n {
        Seen::Ended(Ending::Superseded { by: alias.stable })
    } else {
        Seen::Going(Stage::NotStarted { behind: None })
    }
}

/// The version `wait` follows when none is named: the rollout in progress,
/// else a canary set by hand (a start adopts it), else the newest published
/// version (the one `start` and auto_start pick).
pub fn pick(alias: &AliasState, record: &Record, published: &[Version]) -> Option<Version> {
    record
        .rollout
        .map(|r| r.green)
        .or_else(|| {
            alias
                .canary
                .filter(|c| !c.weight.is_zero())
                .map(|c| c.version)
        })
        .or_else(|| published.iter().copied().max())
}

/// How `wait` ends: each its own exit code (README, wait).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Finished(Ending),
    /// The timeout ended with the rollout still at `Stage`.
    TimedOut(Stage),
    /// The alias cannot be read (or its record is unreadable), or the
    /// version asked for is not published.
    Failed(String),
}

impl End {
    /// 0 promoted, 1 error, 2 usage (the CLI's), 3 rolled back or reverted,
    /// 4 timed out, 5 paused or awaiting approval at the timeout, 6 another
    /// version rolled out instead.
    pub fn exit_code(&self) -> u8 {
        match self {
            End::Finished(Ending::Promoted) => 0,
            End::Failed(_) => 1,
            End::Finished(Ending::RolledBack | Ending::Reverted) => 3,
            End::TimedOut(s) if s.is_held() => 5,
            End::TimedOut(_) => 4,
            End::Finished(Ending::Superseded { .. }) => 6,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            End::Finished(Ending::Promoted) => "promoted",
            End::Finished(Ending::RolledBack) => "rolled_back",
            End::Finished(Ending::Reverted) => "reverted",
            End::Finished(Ending::Superseded { .. }) => "superseded",
            End::TimedOut(s) if s.is_held() => "timed_out_held",
            End::TimedOut(_) => "timed_out",
            End::Failed(_) => "error",
        }
    }
}

/// What one poll saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Poll {
    pub at: UtcTime,
    pub function: String,
    pub alias: String,
    pub version: Version,
    /// not_started, checking, rolling, paused, awaiting_approval, watching,
    /// or how it ended.
    pub state: &'static str,
    /// What the next tick would decide, with the figures and the estimate,
    /// while the rollout is going.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TargetResult>,
    /// Said instead of the status: what the stage waits for, or a read that
    /// failed (polled again).
    pub note: String,
    #[serde(skip)]
    pub seen: Option<Seen>,
}

impl Poll {
    /// What a person or a pipeline would call a change: the stage, the
    /// weight, the decision, or what the reason says (its figures aside, so
    /// a countdown or a count of requests is not a change).
    pub fn differs(&self, other: &Poll) -> bool {
        let key = |p: &Poll| {
            let said = p.status.as_ref().map_or(&p.note, |s| &s.reason);
            (
                p.seen,
                p.status
                    .as_ref()
                    .map(|s| (s.weight_before, s.decision.label())),
                without_figures(said),
            )
        };
        key(self) != key(other)
    }
}

/// `s` with every figure as one `#`: a run of digits with the points and
/// commas inside it, and a duration's units between and after them ("1m3s").
fn without_figures(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_figure = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let next_is_digit = chars.peek().is_some_and(char::is_ascii_digit);
        let unit_follows =
            matches!(c, 'h' | 'm' | 's') && !chars.peek().is_some_and(|n| n.is_ascii_alphabetic());
        let part = c.is_ascii_digit()
            || (in_figure && matches!(c, '.' | ',') && next_is_digit)
            || (in_figure && unit_follows);
        if part && !in_figure {
            out.push('#');
        } else if !part {
            out.push(c);
        }
        in_figure = part;
    }
    out
}

/// The clock `wait` runs on: the real one, or a test's.
pub trait Clock {
    fn now(&self) -> UtcTime;
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> UtcTime {
        UtcTime::now()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

#[derive(Debug, Clone)]
pub struct Follow {
    pub target: Target,
    pub version: Option<Version>,
    pub timeout: Duration,
    pub interval: Duration,
}

/// Store errors a later poll cannot cure.
fn is_fatal(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::NotFound { .. } | StoreError::Unmanageable(_) | StoreError::Rejected { .. }
    )
}

/// One followed alias's memory between polls.
struct Tracker<'t> {
    target: &'t Target,
    /// Asked for, then pinned at the first good read.
    pinned: Option<Version>,
    checked: bool,
    last_stage: Option<Stage>,
    last_error: Option<String>,
}

/// What one read of a followed alias says.
enum Look {
    /// Polling again cannot cure it: the alias is gone, its record does not
    /// parse, the version is not published.
    Fatal(String),
    /// The read failed; polled again (a poll saying so once pinned).
    Unread(Option<Poll>),
    /// Where the version is; a rollout going still wants its status.
    Read(Poll, AliasState),
}

impl<'t> Tracker<'t> {
    fn new(target: &'t Target, asked: Option<Version>) -> Self {
        Tracker {
            target,
            pinned: asked,
            checked: false,
            last_stage: None,
            last_error: None,
        }
    }

    async fn look<S: AliasRead, M, C>(
        &mut self,
        exec: &Executor<S, M, C>,
        read: &Result<AliasSnapshot, StoreError>,
        now: UtcTime,
    ) -> Look {
        let t = self.target;
        let snap = match read {
            Err(e) if is_fatal(e) => return Look::Fatal(format!("{t}: {e}")),
            Err(e) => {
                let note = format!("cannot read the alias ({e}); polling again");
                let poll = self
                    .pinned
                    .map(|v| Poll::note(t, now, v, "unknown", note.clone()));
                self.last_error = Some(note);
                return Look::Unread(poll);
            }
            Ok(snap) => snap,
        };
        self.last_error = None;
        let record = match Description::parse(&snap.state.description) {
            Ok(d) => d.record,
            Err(e) => return Look::Fatal(format!("{t}: {e}")),
        };
        if !self.checked {
            self.checked = true;
            match pin(exec, t, &snap.state, &record, self.pinned).await {
                Ok(v) => self.pinned = Some(v),
                Err(e) => return Look::Fatal(e),
            }
        }
        let n = self.pinned.expect("pinned on the first read");
        let mut poll = Poll::note(t, now, n, "", String::new());
        match where_is(n, &snap.state, &record) {
            Seen::Ended(ending) => {
                let ending = match ending {
                    Ending::RolledBack if self.last_stage == Some(Stage::Watching) => {
                        Ending::Reverted
                    }
                    e => e,
                };
                poll.state = End::Finished(ending).label();
                poll.seen = Some(Seen::Ended(ending));
                poll.note = ended(n, ending, &snap.state);
            }
            Seen::Going(stage) => {
                poll.state = stage.label();
                poll.seen = Some(Seen::Going(stage));
                self.last_stage = Some(stage);
                if matches!(stage, Stage::NotStarted { .. }) {
                    poll.note = not_started(n, stage, &snap.state);
                }
            }
        }
        Look::Read(poll, snap.state.clone())
    }

    /// How the wait ends at the timeout, as this alias last stood.
    fn timed_out(&self) -> End {
        let t = self.target;
        match (&self.last_error, self.last_stage) {
            (Some(e), _) => End::Failed(format!("{t}: {e}")),
            (None, Some(stage)) => End::TimedOut(stage),
            (None, None) => End::Failed(format!("{t}: the alias was never read")),
        }
    }
}

impl Poll {
    /// A rollout going past its start: what the next tick would make of it
    /// is worth a metrics read.
    fn wants_status(&self) -> bool {
        matches!(self.seen, Some(Seen::Going(s)) if !matches!(s, Stage::NotStarted { .. }))
    }

    fn note(t: &Target, at: UtcTime, version: Version, state: &'static str, note: String) -> Self {
        Poll {
            at,
            function: t.function.clone(),
            alias: t.alias.clone(),
            version,
            state,
            status: None,
            note,
            seen: None,
        }
    }

    fn ending(&self) -> Option<Ending> {
        match self.seen {
            Some(Seen::Ended(e)) => Some(e),
            _ => None,
        }
    }
}

/// The policy as `wait` judges with it: its alarms are not read, so that a
/// poll stays within its calls.
fn without_alarms(policy: &Policy) -> Policy {
    Policy {
        alarms: Vec::new(),
        ..policy.clone()
    }
}

/// Sleeps until the next poll, or returns false at the deadline.
async fn next_poll(clock: &impl Clock, deadline: UtcTime, interval: Duration) -> bool {
    let now = clock.now();
    if now >= deadline {
        return false;
    }
    clock
        .sleep(interval.min(deadline.since(now).max(Duration::from_secs(1))))
        .await;
    true
}

/// Follows the rollout until it ends or the timeout does, calling `seen`
/// with every poll. The policy only shapes what is shown (the step, the
/// estimate); its alarms are not read, so that a poll stays two calls.
pub async fn follow<S, M, C>(
    exec: &Executor<S, M, C>,
    policy: &Policy,
    opts: &Follow,
    clock: &impl Clock,
    mut seen: impl FnMut(&Poll),
) -> (Option<Version>, End)
where
    S: AliasRead,
    M: MetricsRead,
{
    let policy = without_alarms(policy);
    let t = &opts.target;
    let deadline = clock.now().plus(opts.timeout);
    let mut tracker = Tracker::new(t, opts.version);
    loop {
        let now = clock.now();
        let read = exec.store.read_alias(t).await;
        match tracker.look(exec, &read, now).await {
            Look::Fatal(e) => return (tracker.pinned, End::Failed(e)),
            Look::Unread(poll) => {
                if let Some(p) = poll {
                    seen(&p);
                }
            }
            Look::Read(mut poll, alias) => {
                if let Some(ending) = poll.ending() {
                    seen(&poll);
                    return (tracker.pinned, End::Finished(ending));
                }
                if poll.wants_status() {
                    match exec.judge(t, &policy, &alias, now).await {
                        Ok(r) => poll.status = Some(r),
                        Err(e) => poll.note = e.to_string(),
                    }
                }
                seen(&poll);
            }
        }
        if !next_poll(clock, deadline, opts.interval).await {
            return (tracker.pinned, tracker.timed_out());
        }
    }
}

#[derive(Debug, Clone)]
pub struct GroupFollow {
    pub group: GroupName,
    /// Each member and the group's policy, as the orchestrator resolves it.
    pub members: Vec<(Target, Policy)>,
    pub timeout: Duration,
    pub interval: Duration,
}

/// What one poll of a release group saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupPoll {
    pub at: UtcTime,
    pub group: GroupName,
    /// The group's state as the next tick would find it (README, Release
    /// groups), or how the wait ended.
    pub state: &'static str,
    pub reason: String,
    pub members: Vec<Poll>,
}

impl GroupPoll {
    /// A change of the group's state or reason (its figures aside), or of a
    /// member's.
    pub fn differs(&self, other: &GroupPoll) -> bool {
        self.state != other.state
            || without_figures(&self.reason) != without_figures(&other.reason)
            || self.members.len() != other.members.len()
            || self
                .members
                .iter()
                .zip(&other.members)
                .any(|(a, b)| a.differs(b))
    }
}

/// How a group's wait ends once every member's part has: the worst of them
/// (a member rolled back is the group's verdict, whatever the others did).
pub fn group_ending(endings: &[Ending]) -> Option<Ending> {
    let rank = |e: &Ending| match e {
        Ending::Reverted => 0,
        Ending::RolledBack => 1,
        Ending::Superseded { .. } => 2,
        Ending::Promoted => 3,
    };
    endings.iter().copied().min_by_key(rank)
}

/// How a group's wait ends at the timeout: a member that cannot be read
/// fails it; else a member held by a person holds the group; else the
/// stage of the first member still going.
fn group_timed_out(trackers: &[Tracker<'_>], polls: &[Option<Poll>]) -> End {
    let ends: Vec<End> = trackers
        .iter()
        .zip(polls)
        .filter(|(_, p)| p.as_ref().is_none_or(|p| p.ending().is_none()))
        .map(|(t, _)| t.timed_out())
        .collect();
    ends.iter()
        .find(|e| matches!(e, End::Failed(_)))
        .or_else(|| {
            ends.iter()
                .find(|e| matches!(e, End::TimedOut(s) if s.is_held()))
        })
        .or_else(|| ends.first())
        .cloned()
        .unwrap_or_else(|| End::Failed("the group has no member".into()))
}

/// Follows every member of a release group until each member's part has
/// ended, or the timeout. A poll reads each member's alias and, while the
/// release goes, judges the group as the next tick would (one batched
/// GetMetricData for all members).
pub async fn follow_group<S, M, C>(
    exec: &Executor<S, M, C>,
    opts: &GroupFollow,
    clock: &impl Clock,
    mut seen: impl FnMut(&GroupPoll),
) -> (Vec<Option<Version>>, End)
where
    S: AliasRead,
    M: MetricsRead,
{
    let members: Vec<(Target, Policy)> = opts
        .members
        .iter()
        .map(|(t, p)| (t.clone(), without_alarms(p)))
        .collect();
    let deadline = clock.now().plus(opts.timeout);
    let mut trackers: Vec<Tracker<'_>> =
        members.iter().map(|(t, _)| Tracker::new(t, None)).collect();
    let pinned = |trackers: &[Tracker<'_>]| trackers.iter().map(|t| t.pinned).collect();
    loop {
        let now = clock.now();
        let reads: Vec<Result<AliasSnapshot, StoreError>> = stream::iter(&members)
            .map(|(t, _)| exec.store.read_alias(t))
            .buffered(members.len().max(1))
            .collect()
            .await;
        let mut polls: Vec<Option<Poll>> = Vec::with_capacity(members.len());
        for (tracker, read) in trackers.iter_mut().zip(&reads) {
            match tracker.look(exec, read, now).await {
                Look::Fatal(e) => return (pinned(&trackers), End::Failed(e)),
                Look::Unread(poll) => polls.push(poll),
                Look::Read(poll, _) => polls.push(Some(poll)),
            }
        }
        let endings: Option<Vec<Ending>> = polls
            .iter()
            .map(|p| p.as_ref().and_then(Poll::ending))
            .collect();
        if let Some(ending) = endings.as_deref().and_then(group_ending) {
            let end = End::Finished(ending);
            seen(&GroupPoll {
                at: now,
                group: opts.group,
                state: end.label(),
                reason: format!(
                    "every member's part has ended: {}",
                    member_endings(&members, &polls)
                ),
                members: polls.into_iter().flatten().collect(),
            });
            return (pinned(&trackers), end);
        }
        let (results, group) = exec.judge_group(opts.group, &members, reads, now).await;
        for (poll, r) in polls.iter_mut().zip(results) {
            if let Some(p) = poll.as_mut().filter(|p| p.wants_status()) {
                p.status = Some(r);
            }
        }
        seen(&GroupPoll {
            at: now,
            group: opts.group,
            state: group.state,
            reason: group.reason,
            members: polls.iter().flatten().cloned().collect(),
        });
        if !next_poll(clock, deadline, opts.interval).await {
            return (pinned(&trackers), group_timed_out(&trackers, &polls));
        }
    }
}

/// "f:live promoted, g:live rolled_back".
fn member_endings(members: &[(Target, Policy)], polls: &[Option<Poll>]) -> String {
    members
        .iter()
        .zip(polls)
        .map(|((t, _), p)| format!("{t} {}", p.as_ref().map_or("unknown", |p| p.state)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The version to follow: the one asked for, which must be published, or
/// `pick`'s. One version listing, once.
async fn pin<S: AliasRead, M, C>(
    exec: &Executor<S, M, C>,
    t: &Target,
    alias: &AliasState,
    record: &Record,
    asked: Option<Version>,
) -> Result<Version, String> {
    let rolling = record.rollout.map(|r| r.green);
    if asked.is_none() {
        if let Some(v) = rolling {
            return Ok(v);
        }
    }
    let published: Vec<Version> = exec
        .store
        .published_versions(t)
        .await
        .map_err(|e| format!("{t}: cannot list the published versions: {e}"))?
        .into_iter()
        .map(|p| p.version)
        .collect();
    match asked {
        Some(v) if published.contains(&v) || rolling == Some(v) || alias.stable == v => Ok(v),
        Some(v) => Err(format!(
            "{t}: version {v} of {} is not published (newest: {}); name a published version",
            t.function,
            published
                .iter()
                .max()
                .map_or("none".to_string(), |v| v.to_string())
        )),
        None => pick(alias, record, &published).ok_or_else(|| {
            format!(
                "{t}: {} has no published version to follow: publish one",
                t.function
            )
        }),
    }
}

fn ended(n: Version, ending: Ending, alias: &AliasState) -> String {
    match ending {
        Ending::Promoted => format!("version {n} is promoted: the alias routes all traffic to it"),
        Ending::RolledBack => format!(
            "version {n} was rolled back: the alias routes all traffic to version {}",
            alias.stable
        ),
        Ending::Reverted => format!(
            "version {n} was reverted after its promotion: the alias routes all traffic to \
             version {}",
            alias.stable
        ),
        Ending::Superseded { by } => format!(
            "version {by} is rolled out instead of {n}: {n} will not be; wait for {by} with \
             --version {by}"
        ),
    }
}

fn not_started(n: Version, stage: Stage, alias: &AliasState) -> String {
    match stage {
        Stage::NotStarted { behind: Some(v) } => format!(
            "version {n} waits for the rollout of version {v} to end (auto_start starts {n} \
             next)"
        ),
        _ => format!(
            "version {n} has not started (stable: {}): a start command or auto_start's next \
             tick begins it",
            alias.stable
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Canary, Rollout};
    use crate::model::Weight;

    fn v(n: u64) -> Version {
        Version::new(n).unwrap()
    }

    fn alias(stable: u64) -> AliasState {
        AliasState {
            stable: v(stable),
            canary: None,
            description: String::new(),
        }
    }

    fn rollout(phase: Phase, green: u64, blue: u64) -> Record {
        let t = UtcTime::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
        Record {
            group: None,
            rollout: Some(Rollout {
                phase,
                green: v(green),
                blue: v(blue),
                weight: Weight::from_percent(10.0).unwrap(),
                since: t,
                started: t,
                fails: 0,
                approved: false,
                tally: None,
            }),
            rolled_back: None,
        }
    }

    fn idle(rb: Option<u64>) -> Record {
        Record {
            group: None,
            rollout: None,
            rolled_back: rb.map(v),
        }
    }

    #[test]
    fn where_a_version_is_table() {
        use Ending::*;
        use Seen::*;
        let cases = [
            (
                "its rollout",
                alias(6),
                rollout(Phase::Rolling, 7, 6),
                7,
                Going(Stage::Rolling),
            ),
            (
                "paused",
                alias(6),
                rollout(Phase::Paused, 7, 6),
                7,
                Going(Stage::Paused),
            ),
            (
                "approval",
                alias(6),
                rollout(Phase::AwaitingApproval, 7, 6),
                7,
                Going(Stage::AwaitingApproval),
            ),
            (
                "pre check",
                alias(6),
                rollout(Phase::Checking(Check::PreTraffic), 7, 6),
                7,
                Going(Stage::Checking(Check::PreTraffic)),
            ),
            (
                "watching",
                alias(7),
                rollout(Phase::Watching, 7, 6),
                7,
                Going(Stage::Watching),
            ),
            (
                "queued behind an older one",
                alias(5),
                rollout(Phase::Rolling, 6, 5),
                7,
                Going(Stage::NotStarted { behind: Some(v(6)) }),
            ),
            (
                "a newer one rolls",
                alias(5),
                rollout(Phase::Rolling, 8, 5),
                7,
                Ended(Superseded { by: v(8) }),
            ),
            (
                "a rollout from it",
                alias(7),
                rollout(Phase::Rolling, 8, 7),
                7,
                Ended(Promoted),
            ),
            ("stable", alias(7), idle(None), 7, Ended(Promoted)),
            ("rolled back", alias(6), idle(Some(7)), 7, Ended(RolledBack)),
            (
                "rolled back, older stable",
                alias(5),
                idle(Some(7)),
                7,
                Ended(RolledBack),
            ),
            (
                "newer stable",
                alias(8),
                idle(Some(6)),
                7,
                Ended(Superseded { by: v(8) }),
            ),
            (
                "not started",
                alias(6),
                idle(Some(5)),
                7,
                Going(Stage::NotStarted { behind: None }),
            ),
        ];
        for (name, a, record, n, want) in cases {
            assert_eq!(where_is(v(n), &a, &record), want, "{name}");
        }
    }

    #[test]
    fn the_version_followed_by_default() {
        let published = [v(5), v(7), v(6)];
        assert_eq!(
            pick(&alias(5), &rollout(Phase::Rolling, 6, 5), &published),
            Some(v(6)),
            "the rollout in progress, not the newest"
        );
        let mut by_hand = alias(5);
        by_hand.canary = Some(Canary {
            version: v(6),
            weight: Weight::from_percent(5.0).unwrap(),
        });
        assert_eq!(pick(&by_hand, &idle(None), &published), Some(v(6)));
        assert_eq!(pick(&alias(5), &idle(None), &published), Some(v(7)));
        assert_eq!(pick(&alias(5), &idle(None), &[]), None);
    }

    #[test]
    fn figures_alone_are_no_change() {
        assert_eq!(
            without_figures("bake: 3m 20s left, 1,204 requests at 0.5%."),
            "bake: # # left, # requests at #%."
        );
        assert_eq!(
            without_figures("41s of 1m bake, p99 5 ms"),
            without_figures("1m3s of 1m bake, p99 7 ms")
        );
        assert_eq!(
            without_figures("version 2 at 25%, 5 more"),
            "version # at #%, # more"
        );
    }

    #[test]
    fn every_end_has_its_own_code() {
        let ends = [
            End::Finished(Ending::Promoted),
            End::Failed(String::new()),
            End::Finished(Ending::RolledBack),
            End::TimedOut(Stage::Rolling),
            End::TimedOut(Stage::Paused),
            End::Finished(Ending::Superseded { by: v(2) }),
        ];
        let codes: Vec<u8> = ends.iter().map(End::exit_code).collect();
        assert_eq!(codes, [0, 1, 3, 4, 5, 6]);
        assert_eq!(End::Finished(Ending::Reverted).exit_code(), 3);
        assert_eq!(End::TimedOut(Stage::AwaitingApproval).exit_code(), 5);
        assert_eq!(End::TimedOut(Stage::Watching).exit_code(), 4);
        assert_eq!(
            End::TimedOut(Stage::NotStarted { behind: None }).exit_code(),
            4
        );
    }

    mod cost {
        //! What a poll costs, counted on the ports in memory.
        use super::*;
        use crate::engine::{MetricsRequest, Observation, PublishedVersion};
        use crate::memory::{MemoryAliases, MemoryMetrics};
        use crate::policy::PolicySpec;
        use crate::ports::{AliasSnapshot, MetricsError};
        use std::cell::{Cell, RefCell};
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

        #[derive(Default)]
        struct Counted {
            aliases: MemoryAliases,
            metrics: MemoryMetrics,
            reads: AtomicUsize,
            lists: AtomicUsize,
            observes: AtomicUsize,
            alarms_asked: AtomicUsize,
        }

        struct Store<'a>(&'a Counted);
        struct Metrics<'a>(&'a Counted);

        impl AliasRead for Store<'_> {
            async fn read_alias(&self, t: &Target) -> Result<AliasSnapshot, StoreError> {
                self.0.reads.fetch_add(1, Relaxed);
                self.0.aliases.read_alias(t).await
            }
            async fn published_versions(
                &self,
                t: &Target,
            ) -> Result<Vec<PublishedVersion>, StoreError> {
                self.0.lists.fetch_add(1, Relaxed);
                self.0.aliases.published_versions(t).await
            }
        }

        impl MetricsRead for Metrics<'_> {
            async fn observe(
                &self,
                requests: &[MetricsRequest],
            ) -> Vec<Result<Observation, MetricsError>> {
                self.0.observes.fetch_add(1, Relaxed);
                let alarms = requests.iter().filter(|r| !r.alarms.is_empty()).count();
                self.0.alarms_asked.fetch_add(alarms, Relaxed);
                self.0.metrics.observe(requests).await
            }
        }

        /// A clock that moves only when slept on, and changes the alias as
        /// the scenario says after the given number of sleeps.
        struct Script<'a> {
            now: Cell<UtcTime>,
            sleeps: Cell<usize>,
            store: &'a MemoryAliases,
            changes: RefCell<Vec<(usize, Target, AliasState)>>,
        }

        impl<'a> Script<'a> {
            fn new(counted: &'a Counted, changes: Vec<(usize, Target, AliasState)>) -> Self {
                Script {
                    now: Cell::new(UtcTime::parse_rfc3339("2026-12-01T10:05:00Z").unwrap()),
                    sleeps: Cell::new(0),
                    store: &counted.aliases,
                    changes: RefCell::new(changes),
                }
            }
        }

        impl Clock for Script<'_> {
            fn now(&self) -> UtcTime {
                self.now.get()
            }
            async fn sleep(&self, d: Duration) {
                self.now.set(self.now.get().plus(d));
                self.sleeps.set(self.sleeps.get() + 1);
                let n = self.sleeps.get();
                for (at, t, a) in self.changes.borrow().iter() {
                    if *at == n {
                        self.store.set(t, a.clone());
                    }
                }
            }
        }

        fn with(a: AliasState, record: Record) -> AliasState {
            AliasState {
                description: record.to_string(),
                ..a
            }
        }

        fn run(
            counted: &Counted,
            start: AliasState,
            changes: Vec<(usize, AliasState)>,
            version: Option<Version>,
            timeout: Duration,
        ) -> (Option<Version>, End, usize) {
            let t = Target::new("f", "live").unwrap();
            counted.aliases.set(&t, start);
            let published = (1..=3)
                .map(|n| PublishedVersion {
                    version: v(n),
                    role: "r".into(),
                    dead_letter_target: None,
                })
                .collect();
            counted.aliases.publish("f", published);
            let exec = Executor::new(Store(counted), Metrics(counted));
            // Alarms in the policy: a poll still reads none of them.
            let policy = PolicySpec::resolve(&[&serde_json::from_value(
                serde_json::json!({"alarms": ["checkout-5xx"]}),
            )
            .unwrap()])
            .unwrap();
            let clock = Script::new(
                counted,
                changes
                    .into_iter()
                    .map(|(at, a)| (at, t.clone(), a))
                    .collect(),
            );
            let opts = Follow {
                target: t,
                version,
                timeout,
                interval: Duration::from_secs(20),
            };
            let mut polls = 0;
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let (pinned, end) = rt.block_on(follow(&exec, &policy, &opts, &clock, |_| polls += 1));
            (pinned, end, polls)
        }

        #[test]
        fn a_poll_is_one_alias_read_and_at_most_one_metrics_read() {
            let c = Counted::default();
            let mut routed = alias(1);
            routed.canary = Some(Canary {
                version: v(2),
                weight: Weight::from_percent(10.0).unwrap(),
            });
            let rolling = with(routed, rollout(Phase::Rolling, 2, 1));
            let (pinned, end, polls) = run(
                &c,
                rolling,
                vec![(3, alias(2))],
                None,
                Duration::from_secs(3600),
            );
            assert_eq!((pinned, end), (Some(v(2)), End::Finished(Ending::Promoted)));
            assert_eq!(polls, 4);
            assert_eq!(c.reads.load(Relaxed), 4, "one GetAlias a poll");
            assert_eq!(
                c.observes.load(Relaxed),
                3,
                "one GetMetricData a poll that judges"
            );
            assert_eq!(
                c.lists.load(Relaxed),
                0,
                "the rollout in progress needs no listing"
            );
            assert_eq!(c.alarms_asked.load(Relaxed), 0, "no DescribeAlarms");
        }

        #[test]
        fn waiting_for_a_start_reads_the_alias_only_and_lists_once() {
            let c = Counted::default();
            let (pinned, end, polls) = run(&c, alias(1), vec![], None, Duration::from_secs(60));
            assert_eq!(pinned, Some(v(3)), "the newest published");
            assert_eq!(end, End::TimedOut(Stage::NotStarted { behind: None }));
            assert_eq!(polls, 4, "at 0s, 20s, 40s and 60s");
            assert_eq!(c.reads.load(Relaxed), 4);
            assert_eq!(c.lists.load(Relaxed), 1);
            assert_eq!(c.observes.load(Relaxed), 0);
        }

        #[test]
        fn a_watch_that_ends_in_a_rollback_is_a_revert() {
            let c = Counted::default();
            let watching = with(alias(2), rollout(Phase::Watching, 2, 1));
            let back = with(alias(1), idle(Some(2)));
            let (_, end, _) = run(
                &c,
                watching,
                vec![(2, back)],
                Some(v(2)),
                Duration::from_secs(600),
            );
            assert_eq!(end, End::Finished(Ending::Reverted));
        }
        fn member(i: usize) -> Target {
            Target::new(&format!("m{i}"), "live").unwrap()
        }

        /// Member `i`'s record in release group g of `n`, rolling version 2
        /// from 1 at 10%.
        fn in_group(phase: Phase, n: u8) -> Record {
            let mut r = rollout(phase, 2, 1);
            r.group = Some(crate::engine::state::Membership {
                group: GroupName::new("g").unwrap(),
                members: n,
                ended: None,
            });
            r
        }

        fn routed(record: Record) -> AliasState {
            let mut a = alias(1);
            a.canary = Some(Canary {
                version: v(2),
                weight: Weight::from_percent(10.0).unwrap(),
            });
            with(a, record)
        }

        type Change = (usize, usize, AliasState);

        /// Follows a group of `start.len()` members; `changes` are (after
        /// how many sleeps, which member, its alias then).
        fn run_group(
            counted: &Counted,
            n: usize,
            start: Vec<AliasState>,
            changes: Vec<Change>,
            timeout: Duration,
        ) -> (Vec<Option<Version>>, End, Vec<GroupPoll>) {
            let members: Vec<(Target, Policy)> =
                (0..n).map(|i| (member(i), Policy::defaults())).collect();
            for ((t, _), a) in members.iter().zip(start) {
                counted.aliases.set(t, a);
            }
            let exec = Executor::new(Store(counted), Metrics(counted));
            let clock = Script::new(
                counted,
                changes
                    .into_iter()
                    .map(|(at, i, a)| (at, member(i), a))
                    .collect(),
            );
            let opts = GroupFollow {
                group: GroupName::new("g").unwrap(),
                members,
                timeout,
                interval: Duration::from_secs(20),
            };
            let mut polls = Vec::new();
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let (pinned, end) = rt.block_on(follow_group(&exec, &opts, &clock, |p| {
                polls.push(p.clone())
            }));
            (pinned, end, polls)
        }

        #[test]
        fn a_group_poll_reads_each_alias_and_the_metrics_once() {
            let c = Counted::default();
            let going = vec![routed(in_group(Phase::Rolling, 3)); 3];
            // Promoted one after the other: the wait ends with the last.
            let changes = vec![(1, 0, alias(2)), (2, 1, alias(2)), (3, 2, alias(2))];
            let (pinned, end, polls) = run_group(&c, 3, going, changes, Duration::from_secs(3600));
            assert_eq!(end, End::Finished(Ending::Promoted));
            assert_eq!(pinned, vec![Some(v(2)); 3]);
            assert_eq!(polls.len(), 4);
            assert_eq!(c.reads.load(Relaxed), 12, "one GetAlias a member a poll");
            assert_eq!(
                c.observes.load(Relaxed),
                3,
                "one batched GetMetricData a poll while the release goes"
            );
            assert_eq!(c.lists.load(Relaxed), 0);
            assert_eq!(polls[0].state, "rolling");
            assert_eq!(polls[0].members.len(), 3);
            assert!(
                polls[0].members.iter().all(|m| m.status.is_some()),
                "each member with what the next tick would decide"
            );
            assert!(
                polls[1].members[0].status.is_none(),
                "a member whose part ended needs no judging"
            );
            assert_eq!(polls[3].state, "promoted");
            assert!(
                polls[3].reason.contains("m2:live promoted"),
                "{}",
                polls[3].reason
            );
        }

        #[test]
        fn one_member_back_is_the_group_rolled_back_once_all_have_ended() {
            let c = Counted::default();
            let going = vec![routed(in_group(Phase::Rolling, 2)); 2];
            let back = with(alias(1), idle(Some(2)));
            // m1 is back first; m0 still goes until the next tick reaches it.
            let changes = vec![(1, 1, back.clone()), (3, 0, back)];
            let (_, end, polls) = run_group(&c, 2, going, changes, Duration::from_secs(3600));
            assert_eq!(end, End::Finished(Ending::RolledBack));
            assert_eq!(end.exit_code(), 3);
            assert_eq!(polls.len(), 4, "followed until every member was back");
            assert_eq!(polls[1].members[1].state, "rolled_back");
            assert_eq!(polls[1].members[0].state, "rolling");
        }

        #[test]
        fn a_group_held_by_a_person_times_out_as_held() {
            let c = Counted::default();
            let start = vec![
                routed(in_group(Phase::Rolling, 2)),
                routed(in_group(Phase::Paused, 2)),
            ];
            let (_, end, _) = run_group(&c, 2, start, vec![], Duration::from_secs(60));
            assert_eq!(end, End::TimedOut(Stage::Paused));
            assert_eq!(end.exit_code(), 5);
        }

        #[test]
        fn a_member_gone_fails_the_wait() {
            let c = Counted::default();
            // Three members named, two aliases: m2's does not exist.
            let two = vec![routed(in_group(Phase::Rolling, 3)); 2];
            let (_, end, polls) = run_group(&c, 3, two, vec![], Duration::from_secs(600));
            let End::Failed(why) = &end else {
                panic!("{end:?}")
            };
            assert!(why.starts_with("m2:live: "), "{why}");
            assert_eq!(end.exit_code(), 1);
            assert!(polls.is_empty(), "failed at the first poll");
        }
    }

    #[test]
    fn the_group_ends_as_its_worst_member() {
        use Ending::*;
        let cases = [
            (vec![Promoted, Promoted], Some(Promoted)),
            (vec![Promoted, RolledBack, Promoted], Some(RolledBack)),
            (vec![RolledBack, Reverted], Some(Reverted)),
            (
                vec![Promoted, Superseded { by: v(4) }],
                Some(Superseded { by: v(4) }),
            ),
            (vec![Superseded { by: v(4) }, RolledBack], Some(RolledBack)),
            (vec![], None),
        ];
        for (endings, want) in cases {
            assert_eq!(group_ending(&endings), want, "{endings:?}");
        }
    }
}
