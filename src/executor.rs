//! The one place that writes. It reads aliases, batches the metrics the engine
//! asks for, and applies each decision with a `RevisionId` compare-and-swap
//! (`write_once_more_on_conflict`, for ticks and commands alike): on a
//! conflict it re-reads and decides again once; a second conflict is
//! reported, never overwritten.

use std::future::Future;

use futures_util::stream::{self, StreamExt};
use thiserror::Error;

use crate::engine::decide::group::{self, GroupTick, Member, Seen};
use crate::engine::{
    self, AliasState, AwaitMetrics, Decision, Manual, MetricsAnswer, Observation, Plan, Refusal,
};
use crate::model::{GroupName, Target, UtcTime};
use crate::policy::Policy;
use crate::ports::{
    AliasRead, AliasSnapshot, AliasWrite, Checks, InvokeError, MetricsRead, NoChecks, StoreError,
};
use crate::report::{GroupResult, MemberOf, Reported, TargetResult};

/// Why a command for one target was not carried out. Nothing was written.
#[derive(Debug, Error)]
pub enum ExecError {
    #[error("{target}: refused: {source}")]
    Refused {
        target: Target,
        #[source]
        source: Refusal,
    },
    #[error("{target}: {source}")]
    Store {
        target: Target,
        #[source]
        source: StoreError,
    },
    #[error(
        "{target}: conflict: the alias changed twice while this command was applied (another \
         tick, command or console edit); nothing was written: run it again"
    )]
    Conflict { target: Target },
}

impl ExecError {
    /// The command's target as a result among others (a group's, an
    /// alarm's): `conflict` for a conflict, `error` otherwise.
    pub fn result(&self, dry_run: bool) -> TargetResult {
        let (target, decision) = match self {
            ExecError::Conflict { target } => (target, Reported::Conflict),
            ExecError::Refused { target, .. } | ExecError::Store { target, .. } => {
                (target, Reported::Error)
            }
        };
        TargetResult::failed(target, decision, None, self.to_string(), dry_run)
    }
}

pub struct Executor<S, M, C = NoChecks> {
    pub store: S,
    pub metrics: M,
    /// Where pre- and post-traffic checks run.
    pub checks: C,
    /// Targets read and written at once in a tick.
    pub concurrency: usize,
}

/// Why deciding a target failed: the engine refused, or the store did not
/// answer (listing the published versions).
#[derive(Debug)]
enum Undecided {
    Refused(Refusal),
    Store(StoreError),
}

/// Why `write_once_more_on_conflict` wrote nothing, with what each caller
/// reports: the alias as last read, and the decision it tried to apply.
#[derive(Debug)]
enum NotWritten {
    Reread(StoreError),
    Undecided(AliasState, Undecided),
    Failed(AliasState, Decision, StoreError),
    /// The alias changed again after the re-read.
    Conflict(AliasState, Decision),
}

/// A target after the tick's first phase: its alias read and the engine's
/// first look.
enum Pending<'a> {
    Done(TargetResult),
    /// The alias (or its function) does not exist.
    Gone(TargetResult),
    Ready(AliasSnapshot, Decision),
    Needs(AliasSnapshot, AwaitMetrics<'a>),
}

pub(crate) fn log(r: &TargetResult) {
    let stable = r.stable.map(|v| v.to_string());
    let canary = r.canary.map(|v| v.to_string());
    tracing::info!(
        function = %r.function,
        alias = %r.alias,
        decision = r.decision.label(),
        stable = stable.as_deref(),
        canary = canary.as_deref(),
        weight_before = r.weight_before.percent(),
        weight_after = r.weight_after.percent(),
        dry_run = r.dry_run,
        reason = %r.reason,
        "decision"
    );
}

impl<S, M> Executor<S, M, NoChecks> {
    pub fn new(store: S, metrics: M) -> Self {
        Self {
            store,
            metrics,
            checks: NoChecks,
            concurrency: crate::config::DEFAULT_CONCURRENCY,
        }
    }
}

impl<S, M, C> Executor<S, M, C> {
    pub fn with_concurrency(self, concurrency: usize) -> Self {
        Self {
            concurrency: concurrency.max(1),
            ..self
        }
    }

    /// Runs pre- and post-traffic checks with `checks`.
    pub fn with_checks<D: Checks>(self, checks: D) -> Executor<S, M, D> {
        Executor {
            store: self.store,
            metrics: self.metrics,
            checks,
            concurrency: self.concurrency,
        }
    }
}

impl<S, M, C> Executor<S, M, C>
where
    S: AliasRead + AliasWrite,
    M: MetricsRead,
    C: Checks,
{
    /// One tick over many targets, none in a group.
    pub async fn tick(
        &self,
        targets: &[(Target, Policy)],
        now: UtcTime,
        dry_run: bool,
    ) -> Vec<TargetResult> {
        self.tick_groups(targets, &[], now, dry_run).await.0
    }

    /// One tick over many targets, some of them members of release groups
    /// (`groups`: each group's name and its members' places in `targets`).
    /// Targets outside a group are independent: one that fails is reported
    /// as `error` (or `conflict`) and the others go on. A group's members are
    /// each decided alone, then together (`group::decide`), and a member's
    /// write that conflicts is not decided again alone: the next tick decides
    /// for the group. Alias reads and writes run `concurrency` at a time
    /// (Lambda's control plane is rate limited; the SDK's adaptive retry
    /// slows down on throttling), the metrics of every target in one batched
    /// call between them.
    pub async fn tick_groups(
        &self,
        targets: &[(Target, Policy)],
        groups: &[(GroupName, Vec<usize>)],
        now: UtcTime,
        dry_run: bool,
    ) -> (Vec<TargetResult>, Vec<GroupResult>) {
        let n = self.concurrency.max(1);
        let pending: Vec<Pending<'_>> = stream::iter(targets)
            .map(|(t, p)| self.read_and_plan(t, p, now, dry_run))
            .buffered(n)
            .collect()
            .await;
        let mut decided = self.judge_all(pending).await;
        let (member_of, reports) = group_pass(targets, groups, &mut decided, now);
        let results = stream::iter(targets.iter().zip(decided).zip(member_of))
            .map(|(((t, p), item), member)| async move {
                let grouped = member.is_some();
                let mut result = match item {
                    Pending::Done(r) | Pending::Gone(r) => r,
                    Pending::Ready(snap, d) if grouped => {
                        self.apply_member(t, p, snap, d, now, dry_run).await
                    }
                    Pending::Ready(snap, d) => self.apply_tick(t, p, snap, d, now, dry_run).await,
                    Pending::Needs(..) => unreachable!("judge_all decides every waiting target"),
                };
                result.group = member;
                log(&result);
                result
            })
            .buffered(n)
            .collect()
            .await;
        (results, reports)
    }

    /// A manual command: decide, write with compare-and-swap, retry once.
    pub async fn command(
        &self,
        target: &Target,
        manual: &Manual,
        policy: &Policy,
        now: UtcTime,
        dry_run: bool,
    ) -> Result<TargetResult, ExecError> {
        let decide = |snap: AliasSnapshot| async move {
            let d = self
                .decide_command(target, manual, policy, now, &snap.state)
                .await;
            (snap, d)
        };
        let (snap, first) = decide(self.read(target).await?).await;
        let first = first.map_err(|e| refused_or_store(target, e))?;
        let written = self
            .write_once_more_on_conflict(target, snap, first, dry_run, now, decide)
            .await;
        let (before, d) = written.map_err(|e| not_written(target, e))?;
        let mut r = TargetResult::decided(target, &before, &d, dry_run);
        self.start_check(target, policy, &d, dry_run, &mut r).await;
        if matches!(manual, Manual::Start { .. }) && d.outcome == engine::Outcome::Started {
            self.estimate_start(target, &before, &d, policy, now, &mut r)
                .await;
        }
        log(&r);
        Ok(r)
    }

    /// A command for every member of group `name`, each member's own
    /// command in turn, what it did to each reported. A start is decided on
    /// every member before any is written, and starts the members that have
    /// a version to roll out (the one `versions` names, else the newest
    /// newer than stable) as one release; a member that cannot start (a
    /// rollout in progress, a version it cannot route to) refuses it whole.
    pub async fn group_command(
        &self,
        name: GroupName,
        members: &[(Target, Policy)],
        manual: &Manual,
        versions: &[(String, crate::model::Version)],
        now: UtcTime,
        dry_run: bool,
    ) -> Result<Vec<TargetResult>, ExecError> {
        let Manual::Start { force, .. } = manual else {
            let mut out = Vec::with_capacity(members.len());
            for (t, p) in members {
                let mut r = match self.command(t, manual, p, now, dry_run).await {
                    Ok(r) => r,
                    Err(e) => e.result(dry_run),
                };
                r.group = Some(MemberOf {
                    name,
                    state: "command",
                });
                out.push(r);
            }
            return Ok(out);
        };
        let mut starts = Vec::with_capacity(members.len());
        let mut skipped = Vec::new();
        let mut already = Vec::new();
        // A start cut short left a release in flight on some members: run
        // again, it completes that release instead of beginning another.
        let mut release: Option<(UtcTime, u8)> = None;
        for (t, p) in members {
            let snap = self.read(t).await?;
            if let Some(r) = group::in_flight(name, &snap.state) {
                release = release.max(Some(r));
                already.push((t, snap));
                continue;
            }
            let published =
                self.store
                    .published_versions(t)
                    .await
                    .map_err(|source| ExecError::Store {
                        target: t.clone(),
                        source,
                    })?;
            let requested = versions
                .iter()
                .find(|(f, _)| *f == t.function)
                .map(|(_, v)| *v);
            let newer = published.iter().any(|v| v.version > snap.state.stable)
                || snap.state.canary.is_some_and(|c| !c.weight.is_zero());
            if requested.is_none() && !newer {
                skipped.push(t);
                continue;
            }
            let start = Manual::Start {
                version: requested,
                force: *force,
            };
            let d = engine::command(&start, &snap.state, p, now, &published).map_err(|source| {
                ExecError::Refused {
                    target: t.clone(),
                    source,
                }
            })?;
            if d.outcome != engine::Outcome::Started {
                return Err(ExecError::Refused {
                    target: t.clone(),
                    source: Refusal(format!("group {name} not started: {}", d.reason)),
                });
            }
            starts.push((t, p, snap, d));
        }
        let Some(first) = members.first() else {
            return Ok(Vec::new());
        };
        let (into, n) = match release {
            Some((started, n)) => (Some(started), n),
            None => (None, starts.len() as u8),
        };
        if starts.len() + already.len() > usize::from(n) {
            return Err(ExecError::Refused {
                target: first.0.clone(),
                source: Refusal(format!(
                    "group {name}: a release of {n} members started {} is in flight: promote or \
                     rollback it before starting another",
                    into.map(|s| s.to_string()).unwrap_or_default()
                )),
            });
        }
        if starts.is_empty() && !already.is_empty() {
            return Err(ExecError::Refused {
                target: first.0.clone(),
                source: Refusal(format!(
                    "group {name}: its release started {} is already in flight on every member \
                     it has: nothing to start",
                    into.map(|s| s.to_string()).unwrap_or_default()
                )),
            });
        }
        if starts.is_empty() {
            return Err(ExecError::Refused {
                target: first.0.clone(),
                source: Refusal(format!(
                    "group {name}: no member has a version newer than its stable one: publish \
                     the release's versions (aws lambda publish-version), or name them in \
                     \"versions\""
                )),
            });
        }
        let mut out = Vec::with_capacity(members.len());
        for (t, p, snap, d) in starts {
            let d = group::joined(d, name, n, into);
            let mut r = self.apply_member(t, p, snap, d, now, dry_run).await;
            if matches!(r.decision, Reported::Error | Reported::Conflict) {
                r.reason = format!(
                    "{}; the group's next tick rolls back what this start reached unless it is \
                     run again within {}",
                    r.reason,
                    crate::model::format_duration(group::GRACE)
                );
            }
            r.group = Some(MemberOf {
                name,
                state: "started",
            });
            log(&r);
            out.push(r);
        }
        for (t, snap) in already {
            let mut r = TargetResult::failed(
                t,
                Reported::Decided(engine::Outcome::Held),
                Some(&snap.state),
                format!("already in the release of group {name} in flight: left as it is"),
                dry_run,
            );
            r.group = Some(MemberOf {
                name,
                state: "started",
            });
            out.push(r);
        }
        for t in skipped {
            let mut r = TargetResult::failed(
                t,
                Reported::Decided(engine::Outcome::Idle),
                None,
                format!(
                    "not in this release of group {name}: no version newer than its stable one"
                ),
                dry_run,
            );
            r.group = Some(MemberOf {
                name,
                state: "started",
            });
            out.push(r);
        }
        Ok(out)
    }

    /// A started rollout's estimate, from the alias's traffic over the hour
    /// before. Without metrics there is none; the start stands either way.
    async fn estimate_start(
        &self,
        target: &Target,
        before: &AliasState,
        d: &Decision,
        policy: &Policy,
        now: UtcTime,
        r: &mut TargetResult,
    ) {
        let Some(green) = d
            .write
            .as_ref()
            .and_then(|a| recorded_green(a).or(a.canary.map(|c| c.version)))
        else {
            return;
        };
        let request = engine::start_traffic(target, before.stable, green, policy, now);
        match self.observe_one(&request).await {
            Ok(obs) => {
                let e = engine::at_start(policy, &obs, green, before.stable);
                r.reason = format!("{}; {}", r.reason, e.sentence());
                r.estimate = Some(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, "no estimate: the traffic could not be read");
            }
        }
    }

    /// A check the written decision began, handed to an invocation of its
    /// own. If it cannot be, the record says it runs and the ticks time it
    /// out as a failure: the reason says so now.
    async fn start_check(
        &self,
        target: &Target,
        policy: &Policy,
        d: &Decision,
        dry_run: bool,
        r: &mut TargetResult,
    ) {
        let Some(due) = d.run.filter(|_| !dry_run) else {
            return;
        };
        let payload = crate::command::run_check_payload(target, &due, policy);
        if let Err(e) = self.checks.dispatch(&payload).await {
            tracing::warn!(function = %target.function, alias = %target.alias, error = %e, "the check could not be started");
            r.reason = format!(
                "{}; but the {} could not be started ({e}): it fails when its timeout has passed",
                r.reason, due.check
            );
        }
    }

    /// A check's own invocation: runs the check the record still holds (the
    /// hook, or green invoked directly) within its timeout, then decides on
    /// the answer with a compare-and-swap on the alias as it is by then.
    pub async fn run_check(
        &self,
        target: &Target,
        due: &engine::CheckDue,
        policy: &Policy,
        now: UtcTime,
    ) -> Result<TargetResult, ExecError> {
        let clock = std::time::Instant::now();
        let later = || now.plus(std::time::Duration::from_secs(clock.elapsed().as_secs()));
        let snap = self.read(target).await?;
        let run = match engine::to_run(target, &snap.state, policy, due) {
            Ok(run) => run,
            Err(d) => {
                let r = TargetResult::decided(target, &snap.state, &d, false);
                log(&r);
                return Ok(r);
            }
        };
        let answer = self.invoke_check(&run, now, &clock).await;
        tracing::info!(function = %target.function, alias = %target.alias, check = due.check.word(), answer = ?answer, "check answered");
        let answer = &answer;
        let later = &later;
        let decide = |snap: AliasSnapshot| async move {
            let d = engine::answered(&snap.state, policy, due, answer, later());
            (snap, Ok(d))
        };
        let (snap, first) = decide(self.read(target).await?).await;
        let first = first.map_err(|e| refused_or_store(target, e))?;
        let written = self
            .write_once_more_on_conflict(target, snap, first, false, later(), decide)
            .await;
        let (before, d) = written.map_err(|e| not_written(target, e))?;
        let r = TargetResult::decided(target, &before, &d, false);
        log(&r);
        Ok(r)
    }

    /// The check's invocations, one after another, within its deadline.
    async fn invoke_check(
        &self,
        run: &engine::CheckToRun,
        now: UtcTime,
        clock: &std::time::Instant,
    ) -> engine::CheckAnswer {
        use engine::CheckAnswer;
        let mut first = None;
        for i in 0..run.times {
            let spent = clock.elapsed();
            let left = std::time::Duration::from_secs(
                run.deadline.unix().saturating_sub(now.unix()).max(0) as u64,
            )
            .saturating_sub(spent);
            if left.is_zero() {
                return CheckAnswer::Failed(format!(
                    "{}: no answer before its deadline {}",
                    run.what, run.deadline
                ));
            }
            let answer = self
                .checks
                .invoke(&run.function, run.qualifier.as_deref(), &run.payload, left)
                .await;
            let invoked = match answer {
                Ok(a) => a,
                Err(InvokeError::TimedOut(within)) => {
                    return CheckAnswer::Failed(format!(
                        "{}: no answer within {within} (its timeout)",
                        run.what
                    ))
                }
                Err(e) => return CheckAnswer::Failed(format!("{}: {e}", run.what)),
            };
            if let Err(why) = engine::judge_answer(run, &invoked) {
                let which = if run.times > 1 {
                    format!(" (invoke {} of {})", i + 1, run.times)
                } else {
                    String::new()
                };
                return CheckAnswer::Failed(format!("{}{which}: {why}", run.what));
            }
            first.get_or_insert(invoked.payload);
        }
        let answer = crate::model::clipped(first.unwrap_or_default().trim().to_string(), 200);
        CheckAnswer::Passed(format!("{} answered {answer}", run.what))
    }

    async fn decide_command(
        &self,
        target: &Target,
        manual: &Manual,
        policy: &Policy,
        now: UtcTime,
        state: &AliasState,
    ) -> Result<Decision, Undecided> {
        let versions = if manual.needs_versions() {
            self.store
                .published_versions(target)
                .await
                .map_err(Undecided::Store)?
        } else {
            Vec::new()
        };
        engine::command(manual, state, policy, now, &versions).map_err(Undecided::Refused)
    }

    /// A group member's decision, written once: a conflict means another
    /// writer (a duplicate tick, a command, a human) moved it, and what the
    /// group does about that is the next tick's decision, not this member's
    /// alone.
    async fn apply_member(
        &self,
        t: &Target,
        p: &Policy,
        snap: AliasSnapshot,
        d: Decision,
        now: UtcTime,
        dry_run: bool,
    ) -> TargetResult {
        let d = group::rule_g7_carry(&snap.state, d, now);
        match self.write(t, &snap, &d, dry_run).await {
            Ok(()) => {
                let mut r = TargetResult::decided(t, &snap.state, &d, dry_run);
                self.start_check(t, p, &d, dry_run, &mut r).await;
                r
            }
            Err(StoreError::Conflict { .. }) => TargetResult::failed(
                t,
                Reported::Conflict,
                Some(&snap.state),
                format!(
                    "the alias changed while this tick applied \"{}\"; nothing was written, the \
                     next tick decides again for the group",
                    d.outcome.label()
                ),
                dry_run,
            ),
            Err(e) => TargetResult::failed(
                t,
                Reported::Error,
                Some(&snap.state),
                write_failed(&d, &e),
                dry_run,
            ),
        }
    }

    async fn apply_tick(
        &self,
        t: &Target,
        p: &Policy,
        snap: AliasSnapshot,
        d: Decision,
        now: UtcTime,
        dry_run: bool,
    ) -> TargetResult {
        let written = self
            .write_once_more_on_conflict(t, snap, d, dry_run, now, |snap| async move {
                let d = self.decide_alone(t, p, &snap.state, now).await;
                (snap, d)
            })
            .await;
        let failed = |state: Option<&AliasState>, decision, reason| {
            TargetResult::failed(t, decision, state, reason, dry_run)
        };
        match written {
            Ok((before, d)) => {
                let mut r = TargetResult::decided(t, &before, &d, dry_run);
                self.start_check(t, p, &d, dry_run, &mut r).await;
                r
            }
            Err(NotWritten::Reread(e)) => failed(None, Reported::Error, e.to_string()),
            Err(NotWritten::Undecided(state, e)) => {
                let reason = match e {
                    Undecided::Refused(r) => r.0,
                    Undecided::Store(e) => e.to_string(),
                };
                failed(Some(&state), Reported::Error, reason)
            }
            Err(NotWritten::Failed(state, d, e)) => {
                failed(Some(&state), Reported::Error, write_failed(&d, &e))
            }
            Err(NotWritten::Conflict(state, d)) => failed(
                Some(&state),
                Reported::Conflict,
                format!(
                    "the alias changed twice while this tick applied \"{}\"; nothing was written, \
                     the next tick decides again",
                    d.outcome.label()
                ),
            ),
        }
    }

    /// The compare-and-swap, for ticks and commands alike: writes `d` over the
    /// alias as `snap` read it. If someone changed the alias in between, it
    /// re-reads, decides again with `again` on what is there now, and writes
    /// that, once; a second conflict writes nothing. Returns the alias the
    /// written decision was made on, and the decision.
    ///
    /// A write to a group member keeps it one (rule G7, `group::rule_g7_carry`).
    async fn write_once_more_on_conflict<F, Fut>(
        &self,
        t: &Target,
        snap: AliasSnapshot,
        d: Decision,
        dry_run: bool,
        now: UtcTime,
        again: F,
    ) -> Result<(AliasState, Decision), NotWritten>
    where
        F: FnOnce(AliasSnapshot) -> Fut,
        Fut: Future<Output = (AliasSnapshot, Result<Decision, Undecided>)>,
    {
        let d = group::rule_g7_carry(&snap.state, d, now);
        match self.write(t, &snap, &d, dry_run).await {
            Ok(()) => return Ok((snap.state, d)),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(NotWritten::Failed(snap.state, d, e)),
        }
        tracing::info!(function = %t.function, alias = %t.alias, "alias changed under us; re-reading once");
        let snap = self.store.read_alias(t).await.map_err(NotWritten::Reread)?;
        let (snap, d) = match again(snap).await {
            (snap, Ok(d)) => {
                let d = group::rule_g7_carry(&snap.state, d, now);
                (snap, d)
            }
            (snap, Err(e)) => return Err(NotWritten::Undecided(snap.state, e)),
        };
        match self.write(t, &snap, &d, dry_run).await {
            Ok(()) => Ok((snap.state, d)),
            Err(StoreError::Conflict { .. }) => Err(NotWritten::Conflict(snap.state, d)),
            Err(e) => Err(NotWritten::Failed(snap.state, d, e)),
        }
    }

    async fn write(
        &self,
        t: &Target,
        snap: &AliasSnapshot,
        d: &Decision,
        dry_run: bool,
    ) -> Result<(), StoreError> {
        match &d.write {
            Some(after) if !dry_run && *after != snap.state => self
                .store
                .write_alias(t, after, &snap.revision)
                .await
                .map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// What only reads: status, and the judgment `wait` shows. No write bound, so
/// nothing here can write.
impl<S, M, C> Executor<S, M, C>
where
    S: AliasRead,
    M: MetricsRead,
{
    /// What the next tick would do for one target; writes nothing.
    pub async fn status(
        &self,
        target: &Target,
        policy: &Policy,
        now: UtcTime,
    ) -> Result<TargetResult, ExecError> {
        let snap = self.read(target).await?;
        let r = self.judge(target, policy, &snap.state, now).await?;
        log(&r);
        Ok(r)
    }

    /// A target's alias read and the engine's first look at it, with the
    /// published versions fetched if it asks for them (`auto_start`).
    async fn read_and_plan<'a>(
        &self,
        t: &Target,
        p: &'a Policy,
        now: UtcTime,
        dry_run: bool,
    ) -> Pending<'a> {
        let read = self.store.read_alias(t).await;
        self.plan_read(t, p, read, now, dry_run).await
    }

    /// `read_and_plan` with the alias already read (or not).
    async fn plan_read<'a>(
        &self,
        t: &Target,
        p: &'a Policy,
        read: Result<AliasSnapshot, StoreError>,
        now: UtcTime,
        dry_run: bool,
    ) -> Pending<'a> {
        let snap = match read {
            Ok(s) => s,
            Err(e) => {
                let gone = matches!(e, StoreError::NotFound { .. });
                let r = TargetResult::failed(t, Reported::Error, None, e.to_string(), dry_run);
                return if gone {
                    Pending::Gone(r)
                } else {
                    Pending::Done(r)
                };
            }
        };
        let failed = |state: &AliasState, reason: String| {
            Pending::Done(TargetResult::failed(
                t,
                Reported::Error,
                Some(state),
                reason,
                dry_run,
            ))
        };
        match engine::plan(t, &snap.state, p, now) {
            Err(r) => failed(&snap.state, r.0),
            Ok(Plan::Decided(d)) => Pending::Ready(snap, d),
            Ok(Plan::NeedMetrics(a)) => Pending::Needs(snap, a),
            Ok(Plan::NeedVersions(a)) => match self.store.published_versions(t).await {
                Ok(vs) => Pending::Ready(snap, a.decide(&vs)),
                Err(e) => failed(
                    &snap.state,
                    format!("auto_start: cannot list versions: {e}"),
                ),
            },
        }
    }

    /// Every waiting target's metrics in one batched read, then its decision.
    async fn judge_all<'a>(&self, pending: Vec<Pending<'a>>) -> Vec<Pending<'a>> {
        let requests: Vec<_> = pending
            .iter()
            .filter_map(|p| match p {
                Pending::Needs(_, a) => Some(a.request.clone()),
                _ => None,
            })
            .collect();
        let observed = if requests.is_empty() {
            Vec::new()
        } else {
            self.observe(&requests).await
        };
        let failed: Vec<&String> = observed.iter().filter_map(|o| o.as_ref().err()).collect();
        if let Some(e) = failed.first() {
            tracing::warn!(error = %e, targets = failed.len(), of = requests.len(), "metrics unavailable; those targets hold");
        }
        // Each waiting target's answer, in the order they were asked for:
        // only the targets a failed call carried hold for it.
        let mut answers = observed.iter();
        pending
            .into_iter()
            .map(|item| match item {
                Pending::Needs(snap, a) => {
                    let answer = match answers.next() {
                        Some(Ok(o)) => MetricsAnswer::Fetched(o),
                        Some(Err(e)) => MetricsAnswer::Unavailable(e),
                        None => MetricsAnswer::Unavailable("no answer"),
                    };
                    Pending::Ready(snap, a.decide(answer))
                }
                other => other,
            })
            .collect()
    }

    /// What the next tick would decide for release group `name`, with its
    /// members' aliases as already read (`reads`, in the order of
    /// `members`): one batched metrics read for them all, no write.
    pub async fn judge_group(
        &self,
        name: GroupName,
        members: &[(Target, Policy)],
        reads: Vec<Result<AliasSnapshot, StoreError>>,
        now: UtcTime,
    ) -> (Vec<TargetResult>, GroupResult) {
        let pending: Vec<Pending<'_>> = stream::iter(members.iter().zip(reads))
            .map(|((t, p), read)| self.plan_read(t, p, read, now, true))
            .buffered(self.concurrency.max(1))
            .collect()
            .await;
        let mut decided = self.judge_all(pending).await;
        let everyone = [(name, (0..members.len()).collect())];
        let (member_of, mut reports) = group_pass(members, &everyone, &mut decided, now);
        let results = members
            .iter()
            .zip(decided)
            .zip(member_of)
            .map(|(((t, _), item), member)| {
                let mut r = match item {
                    Pending::Done(r) | Pending::Gone(r) => r,
                    Pending::Ready(snap, d) => {
                        let d = group::rule_g7_carry(&snap.state, d, now);
                        TargetResult::decided(t, &snap.state, &d, true)
                    }
                    Pending::Needs(..) => unreachable!("judge_all decides every waiting target"),
                };
                r.group = member;
                r
            })
            .collect();
        (results, reports.remove(0))
    }

    /// What the next tick would do with the alias as already read: at most
    /// one metrics read (and, idle under auto_start, one version listing).
    pub async fn judge(
        &self,
        target: &Target,
        policy: &Policy,
        state: &AliasState,
        now: UtcTime,
    ) -> Result<TargetResult, ExecError> {
        let d = self
            .decide_alone(target, policy, state, now)
            .await
            .map_err(|e| refused_or_store(target, e))?;
        Ok(TargetResult::decided(target, state, &d, true))
    }

    async fn read(&self, target: &Target) -> Result<AliasSnapshot, ExecError> {
        self.store
            .read_alias(target)
            .await
            .map_err(|source| ExecError::Store {
                target: target.clone(),
                source,
            })
    }

    /// Decides one target on its own, fetching what the engine asks for.
    async fn decide_alone(
        &self,
        target: &Target,
        policy: &Policy,
        state: &AliasState,
        now: UtcTime,
    ) -> Result<Decision, Undecided> {
        match engine::plan(target, state, policy, now).map_err(Undecided::Refused)? {
            Plan::Decided(d) => Ok(d),
            Plan::NeedVersions(a) => {
                let versions = self.store.published_versions(target).await.map_err(|e| {
                    Undecided::Refused(Refusal(format!("auto_start: cannot list versions: {e}")))
                })?;
                Ok(a.decide(&versions))
            }
            Plan::NeedMetrics(a) => match self.observe_one(&a.request).await {
                Ok(obs) => Ok(a.decide(MetricsAnswer::Fetched(&obs))),
                Err(e) => Ok(a.decide(MetricsAnswer::Unavailable(&e))),
            },
        }
    }

    /// One answer per request: its observation, or why there is none.
    async fn observe(
        &self,
        requests: &[engine::MetricsRequest],
    ) -> Vec<Result<Observation, String>> {
        let all = self.metrics.observe(requests).await;
        if all.len() != requests.len() {
            let e = format!("{} observations for {} targets", all.len(), requests.len());
            return requests.iter().map(|_| Err(e.clone())).collect();
        }
        all.into_iter()
            .map(|a| a.map_err(|e| e.to_string()))
            .collect()
    }

    async fn observe_one(&self, request: &engine::MetricsRequest) -> Result<Observation, String> {
        self.observe(std::slice::from_ref(request))
            .await
            .pop()
            .unwrap_or_else(|| Err("no answer".to_string()))
    }
}

/// A command's write that did not happen, as the command reports it.
fn not_written(target: &Target, e: NotWritten) -> ExecError {
    match e {
        NotWritten::Reread(source) | NotWritten::Failed(_, _, source) => ExecError::Store {
            target: target.clone(),
            source,
        },
        NotWritten::Undecided(_, e) => refused_or_store(target, e),
        NotWritten::Conflict(..) => ExecError::Conflict {
            target: target.clone(),
        },
    }
}

/// The green a written alias's record names.
fn recorded_green(a: &AliasState) -> Option<crate::model::Version> {
    engine::Description::parse(&a.description)
        .ok()?
        .record
        .rollout
        .map(|r| r.green)
}

fn refused_or_store(target: &Target, e: Undecided) -> ExecError {
    match e {
        Undecided::Refused(source) => ExecError::Refused {
            target: target.clone(),
            source,
        },
        Undecided::Store(source) => ExecError::Store {
            target: target.clone(),
            source,
        },
    }
}

/// A write that failed for a reason other than a conflict. With compare-and-swap
/// the alias is either as read or as decided; the next tick reads which.
fn write_failed(d: &Decision, e: &StoreError) -> String {
    format!(
        "{}: write not applied: {e}; the next tick re-reads the alias",
        d.outcome.label()
    )
}

/// Each group decided from its members' own decisions (`decided`, which
/// takes the group's in their place): whose member each target is, and the
/// groups as found.
fn group_pass(
    targets: &[(Target, Policy)],
    groups: &[(GroupName, Vec<usize>)],
    decided: &mut [Pending<'_>],
    now: UtcTime,
) -> (Vec<Option<MemberOf>>, Vec<GroupResult>) {
    let mut member_of: Vec<Option<MemberOf>> = vec![None; targets.len()];
    let mut reports = Vec::with_capacity(groups.len());
    for (name, members) in groups {
        let tick = decide_group(*name, targets, members, decided, now);
        for (&i, d) in members.iter().zip(&tick.decisions) {
            member_of[i] = Some(MemberOf {
                name: *name,
                state: tick.state.label(),
            });
            if let (Some(d), Pending::Ready(_, own)) = (d, &mut decided[i]) {
                *own = d.clone();
            }
        }
        tracing::info!(group = %name, state = tick.state.label(), reason = %tick.reason, "group");
        reports.push(GroupResult {
            group: *name,
            state: tick.state.label(),
            started: tick.started,
            reason: tick.reason,
            members: members.iter().map(|&i| targets[i].0.to_string()).collect(),
        });
    }
    (member_of, reports)
}

/// A group's decisions from its members' own, as the tick found them.
fn decide_group(
    name: GroupName,
    targets: &[(Target, Policy)],
    members: &[usize],
    decided: &[Pending<'_>],
    now: UtcTime,
) -> GroupTick {
    let seen: Vec<Member> = members
        .iter()
        .map(|&i| Member {
            target: targets[i].0.clone(),
            seen: match &decided[i] {
                Pending::Ready(snap, d) => Seen::Decided {
                    alias: snap.state.clone(),
                    decision: d.clone(),
                },
                Pending::Gone(r) => Seen::Gone(r.reason.clone()),
                Pending::Done(r) => Seen::Unreadable(r.reason.clone()),
                Pending::Needs(..) => Seen::Unreadable("not judged".into()),
            },
        })
        .collect();
    group::decide(name, &seen, now)
}
