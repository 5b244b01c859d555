//! The JSON response: one entry per target.

use serde::Serialize;

use crate::engine::{AliasState, Decision, Observation, Outcome, Verdict};
use crate::model::{GroupName, Target, UtcTime, Version, Weight};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Response {
    pub results: Vec<TargetResult>,
    /// Each release group ticked, as a whole (README, Release groups).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupResult>,
    /// Idle targets this tick did not read (README, Idle targets): none
    /// is left out of the JSON.
    #[serde(skip_serializing_if = "is_zero")]
    pub not_read: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Response {
    pub fn of(results: Vec<TargetResult>) -> Self {
        Self {
            results,
            groups: Vec::new(),
            not_read: 0,
        }
    }
}

/// A release group as a tick (or `status`) found it and what it did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupResult {
    pub group: GroupName,
    /// idle, rolling, split, incomplete, rolling_back, paused, promoted,
    /// done or rolled_back.
    pub state: &'static str,
    /// The release in flight (or last ended): when it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<UtcTime>,
    pub reason: String,
    /// `function:alias` of each member.
    pub members: Vec<String>,
}

/// The group a target's result belongs to, in the result and its audit
/// event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MemberOf {
    pub name: GroupName,
    pub state: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetResult {
    pub function: String,
    pub alias: String,
    /// started, advanced, promoted, rolled_back, held, paused, resumed, idle,
    /// awaiting_approval, approved, weight_set, reverted, watch_passed,
    /// conflict or error.
    pub decision: Reported,
    pub reason: String,
    /// The version being rolled out: before the decision, or the one started.
    pub green: Option<Version>,
    pub stable: Option<Version>,
    pub canary: Option<Version>,
    pub weight_before: Weight,
    pub weight_after: Weight,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// How long the rollout will take at the traffic seen (start, status and
    /// the ticks of a rollout in progress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::engine::Estimate>,
    /// True when nothing was written: `status`, or `dry_run`.
    pub dry_run: bool,
    /// The release group this target is a member of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<MemberOf>,
    /// The decision changed the alias (routing or record).
    #[serde(skip)]
    pub changed: bool,
    /// It changed the routing or the record, a tally aside: what a wait
    /// decided again at every tick announces (a tally is no news).
    #[serde(skip)]
    pub news: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VersionHealth {
    pub version: Version,
    pub invocations: u64,
    pub errors: u64,
    /// Percent, absent when there were no invocations.
    pub error_rate: Option<f64>,
    /// The policy's latency statistic of Duration, ms.
    pub latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Health {
    pub window_start: UtcTime,
    pub window_end: UtcTime,
    pub green: VersionHealth,
    pub blue: VersionHealth,
    pub throttles: u64,
    pub complete: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<crate::engine::AlarmReading>,
    pub verdict: &'static str,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Health {
    fn new(obs: &Observation, verdict: &Verdict, green: Version, blue: Version) -> Self {
        let vh = |version, f: crate::engine::VersionFigures| VersionHealth {
            version,
            invocations: f.invocations,
            errors: f.errors,
            error_rate: f.error_rate().map(round2),
            latency_ms: f.latency_ms.map(round2),
        };
        Health {
            window_start: obs.window_start,
            window_end: obs.window_end,
            green: vh(green, obs.green),
            blue: vh(blue, obs.blue),
            throttles: obs.throttles,
            complete: obs.complete,
            alarms: obs.alarms.clone(),
            verdict: verdict.label(),
        }
    }
}

/// The decision reported for a target: the engine's outcome, or what the
/// executor met instead. Serialized as its label ("rolled_back").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Decided(Outcome),
    /// The alias changed twice between our read and our write.
    Conflict,
    /// The target could not be read, decided or written.
    Error,
}

impl Reported {
    pub fn label(self) -> &'static str {
        match self {
            Reported::Decided(o) => o.label(),
            Reported::Conflict => "conflict",
            Reported::Error => "error",
        }
    }

    /// A change, or a conflict that stopped one: each is announced as one
    /// audit event.
    pub fn is_transition(self) -> bool {
        match self {
            Reported::Decided(o) => o.is_transition(),
            Reported::Conflict => true,
            Reported::Error => false,
        }
    }
}

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for Reported {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

/// Compares with the label, as the JSON response says it.
impl PartialEq<&str> for Reported {
    fn eq(&self, other: &&str) -> bool {
        self.label() == *other
    }
}

impl TargetResult {
    /// A transition to announce: a change written (not a dry run), or a
    /// conflict that stopped one.
    pub fn is_transition(&self) -> bool {
        let announced = match self.decision {
            Reported::Decided(o) if o.repeats() => self.news,
            d => d.is_transition(),
        };
        announced && !self.dry_run
    }

    pub fn decided(target: &Target, before: &AliasState, d: &Decision, dry_run: bool) -> Self {
        let after = d.write.as_ref().unwrap_or(before);
        let health = match (&d.observation, &d.verdict) {
            (Some(o), Some(v)) => {
                // The versions judged are the ones before the decision.
                let green = before.canary.map(|c| c.version);
                green.map(|g| Health::new(o, v, g, before.stable))
            }
            _ => None,
        };
        TargetResult {
            function: target.function.clone(),
            alias: target.alias.clone(),
            decision: Reported::Decided(d.outcome),
            reason: d.reason.clone(),
            green: before.canary.or(after.canary).map(|c| c.version),
            stable: Some(after.stable),
            canary: after.canary.map(|c| c.version),
            weight_before: before.canary_weight(),
            weight_after: after.canary_weight(),
            health,
            estimate: d.estimate.clone(),
            dry_run,
            group: None,
            changed: after != before,
            news: after.stable != before.stable
                || after.canary != before.canary
                || untallied(after) != untallied(before),
        }
    }

    /// A target that could not be decided (`error`) or written (`conflict`).
    pub fn failed(
        target: &Target,
        decision: Reported,
        before: Option<&AliasState>,
        reason: String,
        dry_run: bool,
    ) -> Self {
        let w = before.map(|b| b.canary_weight()).unwrap_or_default();
        TargetResult {
            function: target.function.clone(),
            alias: target.alias.clone(),
            decision,
            reason,
            green: before.and_then(|b| b.canary.map(|c| c.version)),
            stable: before.map(|b| b.stable),
            canary: before.and_then(|b| b.canary.map(|c| c.version)),
            weight_before: w,
            weight_after: w,
            health: None,
            estimate: None,
            dry_run,
            group: None,
            changed: false,
            news: false,
        }
    }
}

/// The record an alias holds, without its tally; its text if unreadable.
fn untallied(a: &AliasState) -> Result<crate::engine::Record, &str> {
    crate::engine::Description::parse(&a.description)
        .map(|d| d.record.untallied())
        .map_err(|_| a.description.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Canary;
    use crate::model::Version;

    #[test]
    fn a_wait_decided_on_every_tick_is_announced_once() {
        let t = Target::new("f", "live").unwrap();
        let before = AliasState {
            stable: Version::new(1).unwrap(),
            canary: Some(Canary {
                version: Version::new(2).unwrap(),
                weight: Weight::from_percent(10.0).unwrap(),
            }),
            description: String::new(),
        };
        let waiting = Decision {
            outcome: Outcome::AwaitingApproval,
            reason: "awaiting approval".into(),
            write: None,
            observation: None,
            verdict: None,
            run: None,
            estimate: None,
        };
        let entered = Decision {
            write: Some(AliasState {
                description: "[lambda-rollout/1 approval ...]".into(),
                ..before.clone()
            }),
            ..waiting.clone()
        };
        assert!(TargetResult::decided(&t, &before, &entered, false).is_transition());
        assert!(!TargetResult::decided(&t, &before, &waiting, false).is_transition());
        assert!(!TargetResult::decided(&t, &before, &entered, true).is_transition());
        let promoted = Decision {
            outcome: Outcome::Promoted,
            ..waiting
        };
        assert!(TargetResult::decided(&t, &before, &promoted, false).is_transition());

        // A wait that writes only a tally is no news.
        let record = "[lambda-rollout/1 approval green=2 blue=1 w=10 \
                      since=2026-11-27T13:05:00Z started=2026-11-27T13:00:00Z fails=0]";
        let waiting_there = AliasState {
            description: record.into(),
            ..before.clone()
        };
        let tallied = Decision {
            write: Some(AliasState {
                description: record.replace(
                    "fails=0]",
                    "fails=0 t=30 ro=300/0/2700/1 st=250/0/2250/1/0 lat=100/98]",
                ),
                ..before.clone()
            }),
            outcome: Outcome::AwaitingApproval,
            ..promoted
        };
        let r = TargetResult::decided(&t, &waiting_there, &tallied, false);
        assert!(r.changed && !r.is_transition());
    }
}
