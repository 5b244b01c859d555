//! The simulated world the tick-by-tick scenarios run in: one alias, steady
//! traffic, the clock and CloudWatch in memory.

#![allow(dead_code)]

use std::time::Duration;

use lambda_rollout::engine::{
    command, plan, AlarmState, AliasState, Decision, Description, Manual, MetricsAnswer,
    MetricsRequest, Observation, Outcome, Plan, PublishedVersion, Verdict, VersionFigures,
};
use lambda_rollout::memory;
use lambda_rollout::model::{Target, UtcTime, Version, Weight};
use lambda_rollout::policy::{OnTimeout, Policy, PolicySpec};

pub fn v(n: u64) -> Version {
    Version::new(n).unwrap()
}

pub fn w(p: f64) -> Weight {
    Weight::from_percent(p).unwrap()
}

pub fn versions(n: u64) -> Vec<PublishedVersion> {
    (1..=n)
        .map(|i| PublishedVersion {
            version: v(i),
            role: "arn:aws:iam::1:role/r".into(),
            dead_letter_target: None,
        })
        .collect()
}

/// A simulated alias with steady traffic: `rpm` requests a minute split by the
/// weight, green and blue failing at their own rates.
pub struct World {
    pub target: Target,
    pub alias: AliasState,
    pub policy: Policy,
    pub now: UtcTime,
    pub rpm: u64,
    pub green_error_pct: f64,
    pub blue_error_pct: f64,
    pub metrics_down: bool,
    pub partial: bool,
    /// Versions 1..=published exist.
    pub published: u64,
    /// Green's latency statistic, ms (blue's is 120).
    pub green_ms: f64,
    /// The state of every alarm the policy names.
    pub alarm: AlarmState,
}

impl World {
    pub fn new(policy: Policy) -> Self {
        World {
            target: Target::new("hello", "live").unwrap(),
            alias: AliasState {
                stable: v(1),
                canary: None,
                description: "owned by team hello".into(),
            },
            policy,
            now: UtcTime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap(),
            rpm: 1000,
            green_error_pct: 0.0,
            blue_error_pct: 0.1,
            metrics_down: false,
            partial: false,
            published: 2,
            green_ms: 125.0,
            alarm: AlarmState::Ok,
        }
    }

    /// Green's and blue's figures over `[start, end)` at the current weight
    /// (a fixed rate every minute).
    pub fn figures(&self, start: UtcTime, end: UtcTime) -> (VersionFigures, VersionFigures) {
        let minutes = ((end.unix() - start.unix()).max(0) / 60) as u64;
        let share = self
            .alias
            .canary
            .map(|c| c.weight.fraction())
            .unwrap_or(0.0);
        let g = (self.rpm as f64 * share).round() as u64 * minutes;
        let b = self.rpm * minutes - g;
        (
            VersionFigures {
                invocations: g,
                errors: (g as f64 * self.green_error_pct / 100.0).round() as u64,
                latency_ms: (g > 0).then_some(self.green_ms),
            },
            VersionFigures {
                invocations: b,
                errors: (b as f64 * self.blue_error_pct / 100.0).round() as u64,
                latency_ms: (b > 0).then_some(120.0),
            },
        )
    }

    pub fn observe(&self, req: &MetricsRequest) -> Observation {
        let mut o = memory::observation(req, self.alarm, |v, start, end| {
            if req.blue_window.is_some() {
                // A watch after promotion: green, now stable, takes all the
                // traffic; blue's figures are those of the rollout before.
                let n = self.rpm * ((end.unix() - start.unix()).max(0) / 60) as u64;
                let pct = if v == req.green {
                    self.green_error_pct
                } else {
                    self.blue_error_pct
                };
                let ms = if v == req.green { self.green_ms } else { 120.0 };
                return VersionFigures {
                    invocations: n,
                    errors: (n as f64 * pct / 100.0).round() as u64,
                    latency_ms: (n > 0).then_some(ms),
                };
            }
            let (green, blue) = self.figures(start, end);
            if v == req.green {
                green
            } else {
                blue
            }
        });
        o.complete = !self.partial;
        // The world keeps no history: since the rollout began counts the
        // step's minutes only, the strictest reading.
        o.rollout = None;
        o
    }

    pub fn apply(&mut self, d: &Decision) {
        if let Some(a) = &d.write {
            self.alias = a.clone();
        }
    }

    pub fn command(&mut self, m: Manual) -> Decision {
        let d = command(
            &m,
            &self.alias,
            &self.policy,
            self.now,
            &versions(self.published),
        )
        .unwrap();
        self.apply(&d);
        d
    }

    /// One minute passes, then the engine ticks once.
    pub fn tick(&mut self) -> Decision {
        self.now = self.now.plus(Duration::from_secs(60));
        let d = match plan(&self.target, &self.alias, &self.policy, self.now).unwrap() {
            Plan::Decided(d) => d,
            Plan::NeedVersions(a) => a.decide(&versions(self.published)),
            Plan::NeedMetrics(a) => {
                let obs = self.observe(&a.request);
                a.decide(if self.metrics_down {
                    MetricsAnswer::Unavailable("timeout")
                } else {
                    MetricsAnswer::Fetched(&obs)
                })
            }
        };
        // Never unsafe: more traffic for green only on a pass verdict, or
        // (on_timeout promote, chosen) on complete data short of evidence.
        if matches!(d.outcome, Outcome::Advanced | Outcome::Promoted) {
            let verdict = d.verdict.as_ref().expect("judged");
            let chosen = self.policy.on_timeout == OnTimeout::Promote
                && d.reason.starts_with("promoted as on_timeout says")
                && matches!(verdict, Verdict::Inconclusive { wait, .. } if !wait.is_missing_data());
            assert!(verdict.label() == "pass" || chosen, "{d:?}");
            assert!(d.observation.as_ref().unwrap().complete);
        }
        self.apply(&d);
        d
    }

    pub fn run_until(
        &mut self,
        max_ticks: usize,
        stop: impl Fn(&Decision) -> bool,
    ) -> Vec<(UtcTime, Decision)> {
        let mut out = Vec::new();
        for _ in 0..max_ticks {
            let d = self.tick();
            let done = stop(&d);
            out.push((self.now, d));
            if done {
                break;
            }
        }
        out
    }

    pub fn record(&self) -> lambda_rollout::engine::Record {
        Description::parse(&self.alias.description).unwrap().record
    }
}

pub fn policy(json: &str) -> Policy {
    PolicySpec::resolve(&[&serde_json::from_str(json).unwrap()]).unwrap()
}

pub fn weights_of(trace: &[(UtcTime, Decision)]) -> Vec<(Outcome, Option<Weight>)> {
    trace
        .iter()
        .filter(|(_, d)| d.outcome != Outcome::Held)
        .map(|(_, d)| {
            (
                d.outcome,
                d.write.as_ref().and_then(|a| a.canary.map(|c| c.weight)),
            )
        })
        .collect()
}
