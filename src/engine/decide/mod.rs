//! The decisions: alias state + policy + health + `now` -> `Decision`. Pure:
//! no I/O, no clock, no logging. A decision carries the complete alias it
//! wants (`write`), which the executor applies with a compare-and-swap.
//!
//! - `tick`: one scheduled step for one target, driven as plan -> (versions or
//!   metrics) -> decision, each continuation taken once
//! - `reconcile`: an alias changed by a human mid-rollout
//! - `manual`: the operator's commands; `start` has a file of its own
//! - `watch`: a promoted version judged for `watch_after_promote`
//! - `check`: the pre- and post-traffic checks, run in an invocation of
//!   their own and answered later

mod check;
mod estimate;
pub mod group;
mod manual;
mod reconcile;
mod start;
mod tick;
mod watch;

pub use check::{
    answered, judge_answer, to_run, CheckAnswer, CheckDue, CheckToRun, Invoked, ANSWER_GRACE,
};
pub use estimate::{at_start, start_traffic, Estimate};
pub use manual::{command, Manual};
pub use tick::{plan, AwaitMetrics, AwaitVersions, Plan};

use std::time::Duration;

use thiserror::Error;

use super::health::{CustomQuery, MetricsRequest, Observation, Verdict};
use super::state::{AliasState, Canary, Description, Record, Rollout};
use crate::model::{Target, UtcTime, Version};
use crate::policy::Policy;

/// The longest health window read for one step.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Advanced,
    Promoted,
    RolledBack,
    Held,
    Paused,
    Resumed,
    Idle,
    /// The step passed; the next is at `approve_before` and waits for an
    /// approve.
    AwaitingApproval,
    Approved,
    /// An operator set green's weight; the rollout is paused there.
    WeightSet,
    /// A watched promotion failed (or an operator reverted it): the old
    /// stable takes all traffic again.
    Reverted,
    /// The watch after promotion ended with no sign of a regression.
    WatchPassed,
    /// The last step passed; the post-traffic check runs before the
    /// promotion.
    Checking,
    /// The pre-traffic check passed: green at the first step.
    CheckPassed,
    /// A group's advance (or promotion) that reached only some of its
    /// members, taken back on those it reached (README, Release groups).
    StepUndone,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Advanced => "advanced",
            Outcome::Promoted => "promoted",
            Outcome::RolledBack => "rolled_back",
            Outcome::Held => "held",
            Outcome::Paused => "paused",
            Outcome::Resumed => "resumed",
            Outcome::Idle => "idle",
            Outcome::AwaitingApproval => "awaiting_approval",
            Outcome::Approved => "approved",
            Outcome::WeightSet => "weight_set",
            Outcome::Reverted => "reverted",
            Outcome::WatchPassed => "watch_passed",
            Outcome::Checking => "checking",
            Outcome::CheckPassed => "check_passed",
            Outcome::StepUndone => "step_undone",
        }
    }

    /// A change of the rollout's course, announced as an audit event; holds
    /// and idles are not.
    pub fn is_transition(self) -> bool {
        !matches!(self, Outcome::Held | Outcome::Idle)
    }

    /// Decided again on every tick of a wait (awaiting_approval): announced
    /// only by the tick that wrote it, not by the ones that find it there.
    pub fn repeats(self) -> bool {
        matches!(self, Outcome::AwaitingApproval)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    pub reason: String,
    /// The alias as it must be afterwards; `None` writes nothing.
    pub write: Option<AliasState>,
    pub observation: Option<Box<Observation>>,
    pub verdict: Option<Verdict>,
    /// A check to run once the write is applied.
    pub run: Option<CheckDue>,
    /// How long the rollout will take at the traffic seen.
    pub estimate: Option<Estimate>,
}

impl Decision {
    fn new(outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            outcome,
            reason: reason.into(),
            write: None,
            observation: None,
            verdict: None,
            run: None,
            estimate: None,
        }
    }

    fn writing(mut self, alias: AliasState) -> Self {
        self.write = Some(alias);
        self
    }

    fn running(mut self, due: CheckDue) -> Self {
        self.run = Some(due);
        self
    }
}

/// A command the engine will not carry out; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// A published version as `ListVersionsByFunction` describes it: what `start`
/// needs to check that the alias may route to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedVersion {
    pub version: Version,
    pub role: String,
    pub dead_letter_target: Option<String>,
}

fn with_record(user_text: &str, record: Record) -> String {
    Description {
        user_text: user_text.to_string(),
        record,
    }
    .render()
}

fn alias_after(
    stable: Version,
    canary: Option<Canary>,
    user_text: &str,
    record: Record,
) -> AliasState {
    AliasState {
        stable,
        canary,
        description: with_record(user_text, record),
    }
}

/// The metrics port's answer for one target.
#[derive(Debug, Clone, Copy)]
pub enum MetricsAnswer<'a> {
    Fetched(&'a Observation),
    Unavailable(&'a str),
}

/// The windows a judgment of green against blue reads, whole minutes (as
/// `MetricsRequest` names them).
#[derive(Clone, Copy)]
struct Windows {
    start: UtcTime,
    end: UtcTime,
    rollout_start: UtcTime,
    fresh_end: UtcTime,
    blue_window: Option<(UtcTime, UtcTime)>,
}

impl Windows {
    /// What to read over these windows: the versions, and the policy's
    /// latency statistic, gate alarms and own metrics (resolved for green).
    fn request(
        &self,
        target: &Target,
        green: Version,
        blue: Version,
        policy: &Policy,
    ) -> MetricsRequest {
        MetricsRequest {
            target: target.clone(),
            green,
            blue,
            start: self.start,
            end: self.end.max(self.start),
            rollout_start: self.rollout_start,
            fresh_end: self.fresh_end.max(self.start),
            blue_window: self.blue_window,
            latency_stat: policy.latency_stat.clone(),
            alarms: policy.alarms.clone(),
            custom: policy
                .metrics
                .iter()
                .map(|m| CustomQuery::resolve(m, target, green))
                .collect(),
            custom_start: self.start,
        }
    }
}

/// " (waiting on policy.min_invocations)": the field that makes a hold wait.
fn waits_on(wait: super::health::Wait) -> String {
    wait.field()
        .map(|f| format!(" (waiting on policy.{f})"))
        .unwrap_or_default()
}

/// All traffic back to blue, the rollout closed and green remembered as
/// rolled back: a rollback, or (`Outcome::Reverted`) the undoing of a
/// watched promotion.
fn back_to_blue(outcome: Outcome, user: &str, r: &Rollout, reason: String) -> Decision {
    let after = Record {
        rollout: None,
        rolled_back: Some(r.green),
        group: None,
    };
    Decision::new(outcome, reason).writing(alias_after(r.blue, None, user, after))
}

/// A canary with weight 0 sends no traffic: for every decision it is no canary.
fn live_canary(alias: &AliasState) -> Option<Canary> {
    alias.canary.filter(|c| !c.weight.is_zero())
}

/// Aliases and policies the decision tables below start from.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::engine::state::{Phase, Rollout};
    use crate::model::{UtcTime, Weight};
    use crate::policy::{Policy, PolicySpec};

    pub fn v(n: u64) -> Version {
        Version::new(n).unwrap()
    }

    pub fn w(p: f64) -> Weight {
        Weight::from_percent(p).unwrap()
    }

    pub fn t0() -> UtcTime {
        UtcTime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap()
    }

    pub fn policy(json: &str) -> Policy {
        PolicySpec::resolve(&[&serde_json::from_str(json).unwrap()]).unwrap()
    }

    /// Version 1 stable, nothing routed, no record.
    pub fn idle() -> AliasState {
        AliasState {
            stable: v(1),
            canary: None,
            description: "team notes".into(),
        }
    }

    /// Version 2 at `weight` over 1, recorded as `phase` since `since`.
    pub fn rolling_alias(weight: f64, phase: Phase, since: UtcTime, fails: u32) -> AliasState {
        let r = Rollout {
            phase,
            green: v(2),
            blue: v(1),
            weight: w(weight),
            since,
            started: since,
            fails,
            approved: false,
            tally: None,
        };
        let record = Record {
            group: None,
            rollout: Some(r),
            rolled_back: None,
        };
        alias_after(
            v(1),
            Some(Canary {
                version: v(2),
                weight: w(weight),
            }),
            "team notes",
            record,
        )
    }

    /// Green's and blue's (invocations, errors) over a complete window.
    pub fn obs(green: (u64, u64), blue: (u64, u64)) -> crate::engine::health::Observation {
        let f = |(invocations, errors)| crate::engine::health::VersionFigures {
            invocations,
            errors,
            latency_ms: Some(100.0),
        };
        crate::engine::health::Observation {
            window_start: t0(),
            window_end: t0(),
            green: f(green),
            blue: f(blue),
            throttles: 0,
            complete: true,
            alarms: Vec::new(),
            custom: Vec::new(),
            rollout: None,
            fresh: None,
        }
    }

    pub fn versions() -> Vec<PublishedVersion> {
        (1..=3)
            .map(|i| PublishedVersion {
                version: v(i),
                role: "arn:aws:iam::1:role/r".into(),
                dead_letter_target: None,
            })
            .collect()
    }
}
