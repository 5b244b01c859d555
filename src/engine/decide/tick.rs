//! One tick for one target, in the one way the engine is driven: `plan` looks
//! at the alias and either decides, or says what it needs (the function's
//! published versions, or metrics) as a continuation that is consumed to
//! decide. A continuation returns a `Decision`, never another request: the
//! engine cannot ask twice.

use std::time::Duration;

use super::check;
use super::estimate::{self, Estimate, Standing};
use super::reconcile::reconcile;
use super::start::{start, StartContext};
use super::watch::{self, Watch};
use super::{
    alias_after, back_to_blue, live_canary, waits_on, Decision, MetricsAnswer, Outcome,
    PublishedVersion, Refusal, Windows, MAX_WINDOW,
};
use crate::engine::health::{
    judge_for, AlarmState, Gate, MetricsRequest, Observation, Verdict, Wait,
};
use crate::engine::state::{AliasState, Canary, Check, Description, Phase, Record, Rollout};
use crate::engine::step::{next_step, position, Next};
use crate::engine::tally::{self, Tally, Whole};
use crate::model::{format_duration, Target, UtcTime, Weight};
use crate::policy::{OnFailure, OnTimeout, Policy};

/// What a tick's first look found.
#[derive(Debug)]
pub enum Plan<'a> {
    Decided(Decision),
    /// `auto_start` is on and nothing is rolling out: the function's
    /// published versions are needed to see whether there is one to start.
    NeedVersions(AwaitVersions<'a>),
    NeedMetrics(AwaitMetrics<'a>),
}

/// A tick waiting for the function's published versions.
#[derive(Debug)]
pub struct AwaitVersions<'a> {
    alias: AliasState,
    user_text: String,
    record: Record,
    policy: &'a Policy,
    now: UtcTime,
}

/// A tick waiting for its metrics: `request` is what to read.
#[derive(Debug)]
pub struct AwaitMetrics<'a> {
    pub request: MetricsRequest,
    /// Boxed: a tick holds one per waiting target while the metrics are read.
    judged: Box<Judged<'a>>,
}

/// What the metrics will judge: a step of the rollout, or a watched promotion.
/// Never held but boxed (`AwaitMetrics`), so the variants' sizes may differ.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum Judged<'a> {
    Step(Step<'a>),
    Watch(Watch<'a>),
}

impl<'a> AwaitMetrics<'a> {
    pub(super) fn new(request: MetricsRequest, judged: Judged<'a>) -> Self {
        AwaitMetrics {
            request,
            judged: Box::new(judged),
        }
    }
}

/// Everything a rolling step's judgment needs besides the metrics.
#[derive(Debug)]
pub(super) struct Step<'a> {
    target: Target,
    alias: AliasState,
    user_text: String,
    record: Record,
    r: Rollout,
    policy: &'a Policy,
    now: UtcTime,
    /// "version 2 at 10% (step 1 of 4)"
    at: String,
    /// "3m of 5m bake"
    bake_note: String,
    /// The hold reason while no complete minute is there yet.
    waiting: String,
    /// At least one complete minute is in the window.
    window_open: bool,
    /// What the record says was already read (rule T1), if it holds here.
    tally: Option<Tally>,
    /// Where the step's and the rollout's windows begin.
    whole: Whole,
}

/// A tick's first look at one target.
pub fn plan<'a>(
    target: &Target,
    alias: &AliasState,
    policy: &'a Policy,
    now: UtcTime,
) -> Result<Plan<'a>, Refusal> {
    let desc = Description::parse(&alias.description).map_err(|e| Refusal(e.to_string()))?;
    let Some(r) = desc.record.rollout else {
        return Ok(no_rollout(alias, desc, policy, now));
    };
    if let Some(d) = reconcile(alias, &desc.user_text, desc.record, r, now) {
        return Ok(Plan::Decided(d));
    }
    Ok(match r.phase {
        Phase::Watching => match watch::plan(target, alias, desc, r, policy, now) {
            Ok((request, w)) => Plan::NeedMetrics(AwaitMetrics::new(request, Judged::Watch(w))),
            Err(d) => Plan::Decided(*d),
        },
        Phase::Checking(c) => Plan::Decided(check::tick(alias, &desc, r, c, policy, now)),
        Phase::Rolling | Phase::Paused | Phase::AwaitingApproval => {
            rolling(target, alias, desc, r, policy, now)
        }
    })
}

/// Nothing recorded: idle, or (auto_start) a start once the versions are in.
fn no_rollout<'a>(
    alias: &AliasState,
    desc: Description,
    policy: &'a Policy,
    now: UtcTime,
) -> Plan<'a> {
    let canary = live_canary(alias);
    if policy.auto_start && canary.is_none() {
        return Plan::NeedVersions(AwaitVersions {
            alias: alias.clone(),
            user_text: desc.user_text,
            record: desc.record,
            policy,
            now,
        });
    }
    let reason = match canary {
        Some(c) => format!(
            "alias routes {} to version {} but no rollout is recorded, so lambda-rollout \
             leaves it alone: start version {} to adopt it, or rollback to clear it",
            c.weight, c.version, c.version
        ),
        None => {
            let rb = desc
                .record
                .rolled_back
                .map(|v| format!("; version {v} was rolled back earlier"))
                .unwrap_or_default();
            format!(
                "no rollout in progress: version {} takes all traffic{rb}",
                alias.stable
            )
        }
    };
    Plan::Decided(Decision::new(Outcome::Idle, reason))
}

impl AwaitVersions<'_> {
    /// auto_start: a rollout of the newest eligible version, or idle saying
    /// why there is none.
    pub fn decide(self, versions: &[PublishedVersion]) -> Decision {
        let cx = StartContext {
            alias: &self.alias,
            user: &self.user_text,
            record: self.record,
            policy: self.policy,
            now: self.now,
            versions,
        };
        match start(&cx, None, false) {
            Ok(mut d) => {
                d.reason = format!("auto_start: {}", d.reason);
                d
            }
            Err(Refusal(why)) => Decision::new(
                Outcome::Idle,
                format!("auto_start: nothing to start: {why}"),
            ),
        }
    }
}

/// A rollout in progress, as recorded: hold, or ask for the step's metrics.
fn rolling<'a>(
    target: &Target,
    alias: &AliasState,
    desc: Description,
    r: Rollout,
    policy: &'a Policy,
    now: UtcTime,
) -> Plan<'a> {
    let (pos, total) = position(&policy.steps, r.weight);
    let at = format!(
        "version {} at {} (step {pos} of {total})",
        r.green, r.weight
    );
    if r.phase == Phase::Paused {
        let why = if r.fails >= policy.failure_threshold {
            format!(
                "paused after {} failed check{} (on_failure pause)",
                r.fails,
                if r.fails == 1 { "" } else { "s" }
            )
        } else {
            "paused".to_string()
        };
        return Plan::Decided(Decision::new(
            Outcome::Held,
            format!("{why}: {at}; resume to judge it again, or promote / rollback"),
        ));
    }
    if r.since > now.plus(Duration::from_secs(300)) {
        return Plan::Decided(Decision::new(
            Outcome::Held,
            format!(
                "the recorded step start {} is in the future (clock skew or an edited \
                 description): holding {at}; pause and resume to restart the step",
                r.since
            ),
        ));
    }
    let tally = r.tally.filter(|t| tally_holds(t, &r, policy, now));
    let w = step_windows(&r, policy, now, tally.is_none());
    let whole = Whole {
        start: w.start,
        rollout_start: w.rollout_start,
    };
    let bake_note = format!(
        "{} of {} bake",
        format_duration(now.since(r.since)),
        format_duration(policy.bake)
    );
    let waiting = format!(
        "waiting for the first complete minute of metrics (window opens at {}, \
         metric_lag {}): {at}, {bake_note}",
        w.start,
        format_duration(policy.metric_lag)
    );
    // Right after a step begins there are no metrics yet, but alarms can
    // already say no; a minute later the fresh minutes can.
    if w.fresh_end <= w.start && policy.alarms.is_empty() {
        return Plan::Decided(Decision::new(Outcome::Held, waiting));
    }
    // With a tally, only the minutes after it are read.
    let read = match tally {
        Some(t) => Windows {
            start: w.start.max(t.upto),
            rollout_start: t.upto,
            ..w
        },
        None => w,
    };
    let request = MetricsRequest {
        custom_start: w.start,
        ..read.request(target, r.green, r.blue, policy)
    };
    Plan::NeedMetrics(AwaitMetrics::new(
        request,
        Judged::Step(Step {
            target: target.clone(),
            alias: alias.clone(),
            user_text: desc.user_text,
            record: desc.record,
            r,
            policy,
            now,
            at,
            bake_note,
            waiting,
            window_open: w.end > w.start,
            tally,
            whole,
        }),
    ))
}

/// Whether a recorded tally can stand for the minutes before it: it ends at
/// a whole minute no later than this tick's window, and counts nothing for
/// the step before the step began. Otherwise the windows are read whole.
fn tally_holds(t: &Tally, r: &Rollout, policy: &Policy, now: UtcTime) -> bool {
    let end = now.minus(policy.metric_lag).floor_minute();
    let step_counted = t.step != tally::Counts::default() || t.throttles > 0;
    t.upto.floor_minute() == t.upto
        && t.upto <= end
        && t.upto >= r.started.floor_minute()
        && (t.upto > r.since.floor_minute() || !step_counted)
}

/// The step's windows, whole minutes. `capped`: a step that has lasted
/// longer than a day is judged on its last day when it is read whole, so
/// that the query stays bounded (1,440 points a series); with a tally (rule
/// T1) the windows are the whole step and rollout, since nothing old is read.
fn step_windows(r: &Rollout, policy: &Policy, now: UtcTime, capped: bool) -> Windows {
    let end = now.minus(policy.metric_lag).floor_minute();
    let cap = |t: UtcTime| {
        if capped {
            t.max(end.minus(MAX_WINDOW))
        } else {
            t
        }
    };
    let start = cap(r.since.floor_minute());
    let rollout_start = cap(r.started.floor_minute()).min(start);
    // Minutes inside metric_lag may still be filling in: read to fail early.
    let fresh_end = now.floor_minute().max(end);
    Windows {
        start,
        end,
        rollout_start,
        fresh_end,
        blue_window: None,
    }
}

impl AwaitMetrics<'_> {
    /// The step (or the watch) judged on its metrics: advance, promote,
    /// hold, roll back or revert.
    pub fn decide(self, answer: MetricsAnswer<'_>) -> Decision {
        match *self.judged {
            Judged::Step(s) => s.decide(answer),
            Judged::Watch(w) => w.decide(answer),
        }
    }
}

impl Step<'_> {
    /// The step judged on its metrics: advance, promote, hold or roll back.
    fn decide(self, answer: MetricsAnswer<'_>) -> Decision {
        let s = self;
        let tail = match answer {
            MetricsAnswer::Unavailable(why) => {
                return Decision::new(
                    Outcome::Held,
                    format!("metrics unavailable, holding {}: {why}", s.at),
                )
            }
            MetricsAnswer::Fetched(obs) => obs,
        };
        let whole = s
            .tally
            .map(|t| tally::rule_t1_tally_plus_tail(&t, tail, s.whole));
        let obs = whole.as_ref().unwrap_or(tail);
        let next = next_step(&s.policy.steps, s.r.weight);
        // Small steps need only no sign of trouble; an advance to
        // evidence_from or more, and a promotion, must rule a regression out.
        let needs_evidence = match next {
            Next::Promote => true,
            Next::Weight(w) => w >= s.policy.evidence_from,
        };
        let verdict = judge_for(obs, s.r.green, s.r.blue, s.policy, needs_evidence);
        let baked = s.now.since(s.r.since) >= s.policy.bake;
        // Only a step still waiting for its evidence times out: one that
        // waited for a human's approval (or waits now) is not late.
        let to = next.weight();
        let gated_here = s
            .policy
            .approve_before
            .is_some_and(|g| to >= g && s.r.weight < g)
            && s.r.approved;
        let deadline = s
            .policy
            .max_wait
            .filter(|_| s.r.phase == Phase::Rolling && !gated_here)
            .map(|m| s.r.since.plus(s.policy.bake + m));
        let timed_out = deadline.is_some_and(|d| s.now >= d);
        let mut d = match &verdict {
            Verdict::Fail { metric, reason } => s.failed(*metric, reason),
            Verdict::Inconclusive { reason, .. }
                if obs.alarms.iter().any(|a| a.state != AlarmState::Ok) =>
            {
                Decision::new(Outcome::Held, format!("holding {}: {reason}", s.at))
            }
            // Waiting for a human: every tick says so, with the health now.
            v if s.r.phase == Phase::AwaitingApproval && s.gate(to).is_some() => s
                .awaiting_approval(
                    s.gate(to).unwrap_or(to),
                    to,
                    &format!("health now: {}", v.reason()),
                ),
            _ if !s.window_open => Decision::new(Outcome::Held, s.waiting.clone()),
            _ if !baked => Decision::new(
                Outcome::Held,
                format!(
                    "baking {}, {}; health so far: {}",
                    s.at,
                    s.bake_note,
                    verdict.reason()
                ),
            ),
            Verdict::Inconclusive { wait, reason } if timed_out => s.timed_out(*wait, reason),
            Verdict::Inconclusive { wait, reason } => Decision::new(
                Outcome::Held,
                format!(
                    "bake done but cannot judge yet, holding {}: {reason}{}{}",
                    s.at,
                    waits_on(*wait),
                    deadline
                        .map(|d| format!("; max_wait ends the wait at {d}"))
                        .unwrap_or_default()
                ),
            ),
            Verdict::Pass { reason } => s.passed(next, reason, obs),
        };
        // A wait for an approval keeps its tally too: a tally is not
        // announced as the wait again (TargetResult::news).
        if matches!(d.outcome, Outcome::Held | Outcome::AwaitingApproval)
            && d.write.is_none()
            && tally::rule_t2_tally_due(&s.target, s.read_from(), obs)
        {
            d.write = Some(s.tallied(obs));
        }
        d.estimate = s.estimate(&d, &verdict, obs);
        if let (Outcome::Held, Some(e)) = (d.outcome, &d.estimate) {
            d.reason = format!("{}; {}", d.reason, e.sentence());
        }
        d.observation = Some(Box::new(obs.clone()));
        d.verdict = Some(verdict);
        d
    }

    /// How long the rollout will take from where the decision leaves it, at
    /// the traffic seen; none once it has ended, failed a check, or paused.
    fn estimate(&self, d: &Decision, verdict: &Verdict, obs: &Observation) -> Option<Estimate> {
        let (r, policy) = (self.r, self.policy);
        let standing = match d.outcome {
            Outcome::Held | Outcome::AwaitingApproval
                if !matches!(verdict, Verdict::Fail { .. }) =>
            {
                Standing {
                    weight: r.weight,
                    in_step: self.now.since(r.since),
                    green_in_step: obs.green.invocations,
                    approved: r.approved,
                }
            }
            Outcome::Advanced => Standing {
                weight: d.write.as_ref()?.canary_weight(),
                in_step: Duration::ZERO,
                green_in_step: 0,
                approved: r.approved,
            },
            _ => return None,
        };
        Some(estimate::from_observation(
            policy, &standing, obs, r.green, r.blue,
        ))
    }
}

impl Step<'_> {
    /// A failed check: rolled back at `failure_threshold`, held and counted
    /// below it.
    fn failed(&self, metric: Gate, reason: &str) -> Decision {
        let (r, policy) = (self.r, self.policy);
        // An edited record may carry any count: never wrap back to 0 (which
        // would hold a failing version instead of rolling it back).
        let fails = r.fails.saturating_add(1);
        let failed = format!(
            "{metric} check failed ({fails} of {}) at {}: {reason}",
            policy.failure_threshold, r.weight
        );
        if fails >= policy.failure_threshold {
            if policy.on_failure == OnFailure::Pause {
                return self.paused(
                    fails,
                    format!(
                        "{failed}; paused at {} as on_failure says: promote, rollback, or resume \
                         to judge it again",
                        r.weight
                    ),
                );
            }
            return self.rolled_back(format!("{failed}; all traffic back to {}", r.blue));
        }
        let after = Record {
            rollout: Some(Rollout { fails, ..r }),
            ..self.record
        };
        Decision::new(
            Outcome::Held,
            format!(
                "{metric} check failed ({fails} of {}), holding {}: {reason}",
                policy.failure_threshold, self.at
            ),
        )
        .writing(alias_after(
            self.alias.stable,
            self.alias.canary,
            &self.user_text,
            after,
        ))
    }

    fn rolled_back(&self, reason: String) -> Decision {
        back_to_blue(Outcome::RolledBack, &self.user_text, &self.r, reason)
    }

    /// Frozen where it is for a human (on_failure pause).
    fn paused(&self, fails: u32, reason: String) -> Decision {
        let after = Record {
            rollout: Some(Rollout {
                phase: Phase::Paused,
                fails,
                ..self.r
            }),
            ..self.record
        };
        Decision::new(Outcome::Paused, reason).writing(alias_after(
            self.alias.stable,
            self.alias.canary,
            &self.user_text,
            after,
        ))
    }

    /// max_wait has passed since the bake ended, without a pass.
    fn timed_out(&self, wait: Wait, reason: &str) -> Decision {
        let r = self.r;
        let over = format!(
            "max_wait {} has passed since the bake of {} ended, without a pass",
            format_duration(self.policy.max_wait.unwrap_or_default()),
            self.at
        );
        match self.policy.on_timeout {
            OnTimeout::Hold => Decision::new(
                Outcome::Held,
                format!(
                    "{over}; holding as on_timeout says: {reason}{}",
                    waits_on(wait)
                ),
            ),
            OnTimeout::Rollback => self.rolled_back(format!(
                "{over}: rolled back as on_timeout says, all traffic back to {}: {reason}",
                r.blue
            )),
            OnTimeout::Promote if wait.is_missing_data() => Decision::new(
                Outcome::Held,
                format!(
                    "{over}, but on_timeout promote never promotes on missing or doubtful \
                     data: holding: {reason}{}",
                    waits_on(wait)
                ),
            ),
            OnTimeout::Promote => match self.gate(Weight::FULL) {
                Some(gate) => {
                    self.awaiting_approval(gate, Weight::FULL, &format!("{over}: {reason}"))
                }
                None => self.promotion(
                    format!(
                        "promoted as on_timeout says ({over}; no check failed on complete data, \
                         only the evidence was short): version {} takes all traffic: {reason}",
                        r.green
                    ),
                    format!(
                        "on_timeout promote ({over}; no check failed on complete data): the \
                         post-traffic check of version {} runs before the promotion: {reason}",
                        r.green
                    ),
                ),
            },
        }
    }

    /// The approval gate that holds an advance to `to`, if not yet approved.
    fn gate(&self, to: Weight) -> Option<Weight> {
        self.policy
            .approve_before
            .filter(|g| !self.r.approved && to >= *g)
    }

    /// The step passed but the next one needs an approve: said once in the
    /// record (and so in one audit event), then on every tick until approved.
    fn awaiting_approval(&self, gate: Weight, to: Weight, reason: &str) -> Decision {
        let next = if to == Weight::FULL {
            "the promotion".to_string()
        } else {
            format!("the step to {to}")
        };
        let t = &self.target;
        let d = Decision::new(
            Outcome::AwaitingApproval,
            format!(
                "awaiting approval before {next} (approve_before {gate}): {} passed its check; {reason}; \
                 approve with {{\"action\": \"approve\", \"function\": \"{}\", \"alias\": \"{}\"}}, \
                 or rollback",
                self.at, t.function, t.alias
            ),
        );
        if self.r.phase == Phase::AwaitingApproval {
            return d;
        }
        let after = Record {
            rollout: Some(Rollout {
                phase: Phase::AwaitingApproval,
                ..self.r
            }),
            ..self.record
        };
        d.writing(alias_after(
            self.alias.stable,
            self.alias.canary,
            &self.user_text,
            after,
        ))
    }

    /// Green takes all traffic, after the post-traffic check if the policy
    /// sets one, and watched if it says so.
    fn promotion(&self, reason: String, checked_first: String) -> Decision {
        let r = self.r;
        if self.policy.post_traffic.is_some() {
            let (checking, due) = check::begin(r, Check::PostTraffic, self.now);
            let after = Record {
                rollout: Some(checking),
                ..self.record
            };
            return Decision::new(Outcome::Checking, checked_first)
                .writing(alias_after(
                    self.alias.stable,
                    self.alias.canary,
                    &self.user_text,
                    after,
                ))
                .running(due);
        }
        let (record, note) = watch::after_promotion(&r, self.record, self.policy, self.now);
        Decision::new(Outcome::Promoted, format!("{reason}{note}")).writing(alias_after(
            r.green,
            None,
            &self.user_text,
            record,
        ))
    }

    /// The first minute this tick read: the tally's end, or the rollout's
    /// start when it read the windows whole.
    fn read_from(&self) -> UtcTime {
        self.tally.map_or(self.whole.rollout_start, |t| t.upto)
    }

    /// The alias as it is, its record holding a tally of `judged` (rule T2).
    fn tallied(&self, judged: &Observation) -> AliasState {
        let after = Record {
            rollout: Some(Rollout {
                tally: Some(tally::taken(judged)),
                ..self.r
            }),
            ..self.record
        };
        alias_after(self.alias.stable, self.alias.canary, &self.user_text, after)
    }

    /// A pass with the bake over: the next step, or the promotion.
    fn passed(&self, next: Next, reason: &str, judged: &Observation) -> Decision {
        let r = self.r;
        let to = next.weight();
        if let Some(gate) = self.gate(to) {
            return self.awaiting_approval(gate, to, &format!("health: {reason}"));
        }
        match next {
            Next::Weight(w) => {
                let after = Record {
                    rollout: Some(Rollout {
                        phase: Phase::Rolling,
                        weight: w,
                        since: self.now,
                        fails: 0,
                        tally: Some(tally::rule_t3_next_step(judged)),
                        ..r
                    }),
                    ..self.record
                };
                let canary = Canary {
                    version: r.green,
                    weight: w,
                };
                Decision::new(
                    Outcome::Advanced,
                    format!(
                        "version {} {} -> {} after {}: {reason}",
                        r.green, r.weight, w, self.bake_note
                    ),
                )
                .writing(alias_after(r.blue, Some(canary), &self.user_text, after))
            }
            Next::Promote => self.promotion(
                format!(
                    "version {} takes all traffic after {} at {}: {reason}",
                    r.green, self.bake_note, r.weight
                ),
                format!(
                    "version {} passed its last step ({} at {}): the post-traffic check runs \
                     before the promotion: {reason}",
                    r.green, self.bake_note, r.weight
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn target() -> Target {
        Target::new("hello", "live").unwrap()
    }

    /// What `plan` says, as a word.
    fn planned(alias: &AliasState, p: &Policy, now: UtcTime) -> String {
        match plan(&target(), alias, p, now) {
            Err(_) => "refused".into(),
            Ok(Plan::Decided(d)) => d.outcome.label().into(),
            Ok(Plan::NeedVersions(_)) => "versions".into(),
            Ok(Plan::NeedMetrics(_)) => "metrics".into(),
        }
    }

    #[test]
    fn a_tally_is_read_from_and_the_policys_own_metrics_over_the_whole_step() {
        let p = policy(
            r#"{"bake":"5m","metric_lag":"2m",
                "metrics":[{"name":"x","namespace":"N","metric":"M","max":1}]}"#,
        );
        let since = t0().minus(Duration::from_secs(3600));
        let alias = rolling_alias(10.0, Phase::Rolling, since, 0);
        let mut d = Description::parse(&alias.description).unwrap();
        let upto = t0().minus(Duration::from_secs(600));
        let mut r = d.record.rollout.unwrap();
        r.tally = Some(tally::rule_t3_next_step(&Observation {
            window_end: upto,
            ..obs((600, 0), (5400, 2))
        }));
        // rule_t3 keeps the rollout's counts only; these are the step's too.
        if let Some(t) = r.tally.as_mut() {
            t.step = t.rollout;
        }
        d.record.rollout = Some(r);
        let tallied = AliasState {
            description: d.render(),
            ..alias
        };
        let Ok(Plan::NeedMetrics(a)) = plan(&target(), &tallied, &p, t0()) else {
            panic!("expected a metrics request")
        };
        assert_eq!((a.request.rollout_start, a.request.start), (upto, upto));
        assert_eq!(a.request.custom_start, since);
        assert_eq!(a.request.end, t0().minus(Duration::from_secs(120)));
        // The step's figures are the tally's and the tail's.
        let end = a.request.end;
        let d = a.decide(MetricsAnswer::Fetched(&Observation {
            window_start: upto,
            window_end: end,
            ..obs((80, 0), (720, 0))
        }));
        let o = d.observation.unwrap();
        assert_eq!((o.green.invocations, o.blue.invocations), (680, 6120));
        assert_eq!(o.window_start, since);
    }

    #[test]
    fn a_wait_for_an_approval_keeps_a_tally_in_its_record() {
        let p = policy(r#"{"steps":[10,50,100],"approve_before":50,"bake":"5m","error_floor":5}"#);
        let since = t0().minus(Duration::from_secs(40 * 60));
        let alias = rolling_alias(10.0, Phase::AwaitingApproval, since, 0);
        let Ok(Plan::NeedMetrics(a)) = plan(&target(), &alias, &p, t0()) else {
            panic!("expected a metrics request")
        };
        let d = a.decide(MetricsAnswer::Fetched(&obs((1000, 0), (9000, 9))));
        assert_eq!(d.outcome, Outcome::AwaitingApproval, "{}", d.reason);
        let written = d.write.expect("a tally").description;
        let r = Description::parse(&written)
            .unwrap()
            .record
            .rollout
            .unwrap();
        assert_eq!(r.phase, Phase::AwaitingApproval);
        assert_eq!(r.tally.map(|t| t.step.green_invocations), Some(1000));
    }

    #[test]
    fn plan_table() {
        let p = policy(r#"{"bake":"5m","metric_lag":"1m"}"#);
        let auto = policy(r#"{"auto_start":true}"#);
        let alarms = policy(r#"{"alarms":["a"]}"#);
        let now = t0();
        let mut garbled = rolling_alias(10.0, Phase::Rolling, now, 0);
        garbled.description = "[lambda-rollout/1 rolling green=x]".into();
        let mut by_hand = idle();
        by_hand.canary = Some(Canary {
            version: v(2),
            weight: w(5.0),
        });
        let cases = [
            ("idle", idle(), &p, "idle"),
            ("idle, auto_start", idle(), &auto, "versions"),
            ("a canary set by hand", by_hand, &auto, "idle"),
            ("an unreadable record", garbled, &p, "refused"),
            (
                "paused",
                rolling_alias(10.0, Phase::Paused, now.minus(Duration::from_secs(600)), 0),
                &p,
                "held",
            ),
            (
                "a step starting in the future",
                rolling_alias(10.0, Phase::Rolling, now.plus(Duration::from_secs(900)), 0),
                &p,
                "held",
            ),
            (
                "a step just begun",
                rolling_alias(10.0, Phase::Rolling, now, 0),
                &p,
                "held",
            ),
            (
                "a step just begun, with alarms",
                rolling_alias(10.0, Phase::Rolling, now, 0),
                &alarms,
                "metrics",
            ),
            (
                "a step with minutes to read",
                rolling_alias(10.0, Phase::Rolling, now.minus(Duration::from_secs(600)), 0),
                &p,
                "metrics",
            ),
        ];
        for (name, alias, p, want) in cases {
            assert_eq!(planned(&alias, p, now), want, "{name}");
        }
    }

    /// A step at `weight` begun `minutes` ago, judged on `answer`.
    fn judged(
        weight: f64,
        minutes: u64,
        fails: u32,
        p: &Policy,
        o: Option<Observation>,
    ) -> Decision {
        let since = t0().minus(Duration::from_secs(60 * minutes));
        let alias = rolling_alias(weight, Phase::Rolling, since, fails);
        let Ok(Plan::NeedMetrics(a)) = plan(&target(), &alias, p, t0()) else {
            panic!("expected a metrics request")
        };
        match &o {
            Some(o) => a.decide(MetricsAnswer::Fetched(o)),
            None => a.decide(MetricsAnswer::Unavailable("timeout")),
        }
    }

    #[test]
    fn a_step_judged_on_its_metrics_table() {
        let p = policy(
            r#"{"steps":[10,50,100],"bake":"5m","metric_lag":"1m","error_floor":5,"failure_threshold":2}"#,
        );
        let healthy = obs((1000, 0), (9000, 9));
        let failing = obs((1000, 100), (9000, 9));
        let cases = [
            ("metrics unavailable", 10.0, 10, 0, None, "held", None),
            (
                "baking, healthy",
                10.0,
                3,
                0,
                Some(healthy.clone()),
                "held",
                None,
            ),
            (
                "baked, healthy: next step",
                10.0,
                10,
                0,
                Some(healthy.clone()),
                "advanced",
                Some(50.0),
            ),
            (
                "the last step, healthy: promoted",
                50.0,
                10,
                0,
                Some(healthy.clone()),
                "promoted",
                None,
            ),
            (
                "a first failure holds",
                10.0,
                10,
                0,
                Some(failing.clone()),
                "held",
                Some(10.0),
            ),
            (
                "the threshold's failure rolls back",
                10.0,
                10,
                1,
                Some(failing),
                "rolled_back",
                None,
            ),
            (
                "too little data holds",
                10.0,
                10,
                0,
                Some(obs((10, 0), (90, 0))),
                "held",
                None,
            ),
        ];
        for (name, weight, minutes, fails, o, want, weight_after) in cases {
            let d = judged(weight, minutes, fails, &p, o);
            assert_eq!(d.outcome.label(), want, "{name}: {}", d.reason);
            let after = d
                .write
                .as_ref()
                .and_then(|a| a.canary)
                .map(|c| c.weight.percent());
            if let Some(wa) = weight_after {
                assert_eq!(after, Some(wa), "{name}");
            }
            if matches!(d.outcome, Outcome::Advanced | Outcome::Promoted) {
                assert_eq!(
                    d.verdict.as_ref().map(|v| v.label()),
                    Some("pass"),
                    "{name}"
                );
            }
        }
        // A failure below the threshold is counted in the record.
        let d = judged(10.0, 10, 0, &p, Some(obs((1000, 100), (9000, 9))));
        assert!(d.write.unwrap().description.contains("fails=1"));
    }
}
