//! How long a rollout will take at the traffic seen: the steps left, each
//! its bake or the time its green requests take to come in (min_invocations,
//! and the evidence a big step or the promotion needs), plus the minutes
//! metric_lag keeps out of every window. Reported by `start`, `status` and
//! every tick's hold; an estimate, never a promise: traffic changes, and
//! errors make the evidence slower or a failure end it.

use std::time::Duration;

use serde::Serialize;

use crate::engine::health::{evidence_needed, MetricsRequest, Observation, VersionFigures};
use crate::engine::step::{first_step, next_step, Next};
use crate::model::{format_duration, Target, UtcTime, Version, Weight};
use crate::policy::Policy;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Minutes until the promotion at the traffic seen; None when there was
    /// no traffic to go by.
    pub promotion_in_minutes: Option<u64>,
    /// Requests a minute through the alias (green and blue) in the minutes read.
    pub requests_per_minute: f64,
    /// Green requests the evidence still needs (0: it has enough).
    pub green_requests_needed: u64,
    /// What the figure leaves out: an approval, a check, the watch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plus: Vec<String>,
}

impl Estimate {
    /// "promotion in about 35m at 480 requests a minute (5,473 more green
    /// requests as evidence), plus an approval"
    pub fn sentence(&self) -> String {
        let plus = if self.plus.is_empty() {
            String::new()
        } else {
            format!(", plus {}", self.plus.join(", "))
        };
        let evidence = match self.green_requests_needed {
            0 => String::new(),
            n => format!(" ({n} more green requests as evidence)"),
        };
        match self.promotion_in_minutes {
            Some(m) => format!(
                "promotion in about {} at {:.0} requests a minute{evidence}{plus}",
                format_duration(Duration::from_secs(m * 60)),
                self.requests_per_minute
            ),
            None if self.requests_per_minute > 0.0 => format!(
                "no estimate of the promotion at {:.0} requests a minute: at the error rates \
                 seen so far the evidence it needs would not come (or green has had no \
                 request yet){plus}",
                self.requests_per_minute
            ),
            None => format!("no estimate of the promotion: no traffic seen{plus}"),
        }
    }
}

/// Where a rollout stands, for the estimate.
pub(super) struct Standing {
    pub weight: Weight,
    /// How long the current step has lasted.
    pub in_step: Duration,
    /// Green requests counted in the step so far.
    pub green_in_step: u64,
    pub approved: bool,
}

/// Requests a minute seen in `obs`: since the rollout began if it was read,
/// else the step's window.
pub(super) fn traffic(obs: &Observation) -> f64 {
    let (requests, start, end) = match obs.rollout {
        Some(r) => (r.green.invocations + r.blue.invocations, r.start, r.end),
        None => (
            obs.green.invocations + obs.blue.invocations,
            obs.window_start,
            obs.window_end,
        ),
    };
    let minutes = (end.unix() - start.unix()) as f64 / 60.0;
    if minutes < 1.0 {
        return 0.0;
    }
    requests as f64 / minutes
}

/// The estimate from a step's observation.
pub(super) fn from_observation(
    policy: &Policy,
    s: &Standing,
    obs: &Observation,
    green: Version,
    blue: Version,
) -> Estimate {
    let needed = evidence_needed(obs, green, blue, policy);
    remaining(policy, s, traffic(obs), needed)
}

/// The steps left from `s` at `rpm` requests a minute, with `needed` green
/// requests of evidence to gather (None: not at the rates seen so far).
pub(super) fn remaining(policy: &Policy, s: &Standing, rpm: f64, needed: Option<u64>) -> Estimate {
    let lag = policy.metric_lag.as_secs_f64() / 60.0 + 1.0;
    let bake = policy.bake.as_secs_f64() / 60.0;
    let mut evidence = needed.unwrap_or(0) as f64;
    let mut total = 0.0;
    let mut weight = s.weight;
    let mut first = true;
    let mut possible = rpm > 0.0 && needed.is_some();
    loop {
        let next = next_step(&policy.steps, weight);
        let needs_evidence = match next {
            Next::Promote => true,
            Next::Weight(w) => w >= policy.evidence_from,
        };
        let green_rpm = rpm * weight.fraction();
        if green_rpm <= 0.0 {
            possible = false;
            break;
        }
        let (bake_left, invocations_left) = if first {
            (
                (bake - s.in_step.as_secs_f64() / 60.0).max(0.0),
                policy.min_invocations.saturating_sub(s.green_in_step) as f64,
            )
        } else {
            (bake, policy.min_invocations as f64)
        };
        let mut t = bake_left.max(invocations_left / green_rpm);
        if needs_evidence && evidence > 0.0 {
            t = t.max(evidence / green_rpm);
        }
        evidence = (evidence - green_rpm * t).max(0.0);
        total += t + lag;
        first = false;
        match next {
            Next::Promote => break,
            Next::Weight(w) => weight = w,
        }
    }
    let mut plus = Vec::new();
    if policy.approve_before.is_some() && !s.approved {
        plus.push("an approval (approve_before)".to_string());
    }
    if let Some(c) = &policy.post_traffic {
        plus.push(format!(
            "the post-traffic check (at most {})",
            format_duration(c.timeout)
        ));
    }
    if let Some(w) = policy.watch_after_promote {
        plus.push(format!("then a watch of {}", format_duration(w)));
    }
    Estimate {
        promotion_in_minutes: possible.then(|| total.ceil() as u64),
        requests_per_minute: (rpm * 10.0).round() / 10.0,
        green_requests_needed: needed.unwrap_or(0),
        plus,
    }
}

/// What `start` reads to estimate: the alias's traffic over the hour before
/// (through the stable version; green has none yet).
pub fn start_traffic(
    target: &Target,
    stable: Version,
    green: Version,
    policy: &Policy,
    now: UtcTime,
) -> MetricsRequest {
    let end = now.minus(policy.metric_lag).floor_minute();
    let start = end.minus(Duration::from_secs(3600));
    MetricsRequest {
        target: target.clone(),
        green,
        blue: stable,
        start,
        end,
        rollout_start: start,
        fresh_end: end,
        blue_window: None,
        latency_stat: policy.latency_stat.clone(),
        alarms: Vec::new(),
        custom: Vec::new(),
        custom_start: start,
    }
}

/// The estimate of a rollout just started, from the hour before: its
/// traffic, and the evidence a healthy green (at blue's error rate) would
/// need from nothing.
pub fn at_start(policy: &Policy, obs: &Observation, green: Version, blue: Version) -> Estimate {
    let weight = first_step(&policy.steps).weight();
    let rpm = traffic(obs);
    let blue_rate = obs.blue.error_rate().unwrap_or(0.0) / 100.0;
    // An hour of the first step, as a healthy green would have it.
    let hour = |share: f64| (rpm * 60.0 * share).round() as u64;
    let (g, b) = (hour(weight.fraction()), hour(1.0 - weight.fraction()));
    let sample = Observation {
        green: VersionFigures {
            invocations: g,
            errors: (g as f64 * blue_rate).round() as u64,
            latency_ms: None,
        },
        blue: VersionFigures {
            invocations: b,
            errors: (b as f64 * blue_rate).round() as u64,
            latency_ms: None,
        },
        rollout: None,
        fresh: None,
        ..obs.clone()
    };
    let needed = evidence_needed(&sample, green, blue, policy).map(|more| g + more);
    let standing = Standing {
        weight,
        in_step: Duration::ZERO,
        green_in_step: 0,
        approved: false,
    };
    let mut e = remaining(policy, &standing, rpm, needed);
    if let Some(c) = &policy.pre_traffic {
        e.plus.insert(
            0,
            format!(
                "the pre-traffic check first (at most {})",
                format_duration(c.timeout)
            ),
        );
    }
    e
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn standing(weight: f64, minutes: u64, green: u64) -> Standing {
        Standing {
            weight: w(weight),
            in_step: Duration::from_secs(60 * minutes),
            green_in_step: green,
            approved: false,
        }
    }

    #[test]
    fn the_steps_left_at_the_traffic_seen() {
        // Steps 10, 50, 100; bake 5m, lag 1m (+1 for the minute to complete):
        // 1,000 requests a minute clear min_invocations within each bake.
        let p = policy(r#"{"steps":[10,50,100],"bake":"5m","metric_lag":"1m"}"#);
        let e = remaining(&p, &standing(10.0, 0, 0), 1000.0, Some(0));
        assert_eq!(e.promotion_in_minutes, Some(2 * (5 + 2)));
        // Halfway through the first bake.
        let e = remaining(&p, &standing(10.0, 3, 300), 1000.0, Some(0));
        assert_eq!(e.promotion_in_minutes, Some(2 + 2 + 5 + 2));
        // 6,000 green requests of evidence at 100 a minute (10%) hold the
        // first step an hour.
        let e = remaining(&p, &standing(10.0, 5, 500), 1000.0, Some(6000));
        assert_eq!(e.promotion_in_minutes, Some(60 + 2 + 5 + 2));
        assert!(
            e.sentence().contains("6000 more green requests"),
            "{}",
            e.sentence()
        );
        // No traffic, or evidence the rates seen cannot give: no figure.
        assert_eq!(
            remaining(&p, &standing(10.0, 0, 0), 0.0, Some(0)).promotion_in_minutes,
            None
        );
        let unreachable = remaining(&p, &standing(10.0, 0, 0), 1000.0, None);
        assert_eq!(unreachable.promotion_in_minutes, None);
        // Each says which it is: traffic is there, the evidence is not.
        assert!(
            unreachable.sentence().starts_with(
                "no estimate of the promotion at 1000 requests a minute: at the error rates"
            ),
            "{}",
            unreachable.sentence()
        );
        assert!(remaining(&p, &standing(10.0, 0, 0), 0.0, Some(0))
            .sentence()
            .contains("no traffic seen"));
        // What it leaves out is named.
        let gated = policy(r#"{"approve_before":50,"watch_after_promote":"15m"}"#);
        let s = remaining(&gated, &standing(10.0, 0, 0), 1000.0, Some(0)).sentence();
        assert!(
            s.contains("plus an approval (approve_before), then a watch of 15m"),
            "{s}"
        );
    }
}
