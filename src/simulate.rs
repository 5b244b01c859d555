//! `lambda-rollout simulate`: replays a per-minute traffic series through the
//! real executor and engine, tick by tick, with in-memory ports in place of
//! AWS, so that a policy can be tuned on last week's traffic before it is
//! trusted. The input format (JSON):
//!
//! ```json
//! {
//!   "start": "2026-11-20T10:00:00Z",
//!   "stable": "1", "green": "2",
//!   "policy": {"steps": [10, 50, 100], "bake": "5m"},
//!   "minutes": [
//!     {"requests": 1200,
//!      "blue":  {"error_rate": 0.2, "latency_ms": 120},
//!      "green": {"error_rate": 0.3, "latency_ms": 130}}
//!   ]
//! }
//! ```
//!
//! Each minute's `requests` reach the alias and are split by the weight the
//! simulated rollout has given green at that moment; each version fails at its
//! `error_rate` (percent; the failures are drawn with a seeded generator) and
//! answers in `latency_ms` (the policy's latency statistic). `start`, `stable`
//! (default "1"), `green` (default "2") and `policy` are optional. A tick runs at
//! the end of every minute; the rollout starts at the first.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::{AliasState, Canary, Manual, Outcome, PublishedVersion, VersionFigures};
use crate::executor::Executor;
use crate::memory::{MemoryAliases, MemoryMetrics, Rng};
use crate::model::{Target, UtcTime, Version, Weight};
use crate::policy::{Policy, PolicySpec};
use crate::report::{Reported, TargetResult};
use crate::timeline::Point;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VersionMinute {
    /// Percent of requests that fail.
    pub error_rate: f64,
    #[serde(default)]
    pub latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Minute {
    pub requests: u64,
    pub blue: VersionMinute,
    pub green: VersionMinute,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Series {
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub stable: Option<String>,
    #[serde(default)]
    pub green: Option<String>,
    #[serde(default)]
    pub policy: Option<PolicySpec>,
    pub minutes: Vec<Minute>,
}

/// One tick of a simulation: the decision as the handler reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub minute: usize,
    pub now: UtcTime,
    #[serde(flatten)]
    pub result: TargetResult,
}

#[derive(Debug, Clone)]
pub struct Replay {
    pub ticks: Vec<Tick>,
    pub points: Vec<Point>,
}

#[derive(Debug, thiserror::Error)]
#[error("simulate: {0}")]
pub struct SimulateError(pub String);

/// A series checked and resolved: what a replay runs on.
struct Setup {
    stable: Version,
    green: Version,
    policy: Policy,
    start: UtcTime,
}

fn setup(series: &Series, policy_layers: &[&PolicySpec]) -> Result<Setup, SimulateError> {
    let bad = |m: String| SimulateError(m);
    let stable = Version::parse(series.stable.as_deref().unwrap_or("1"))
        .map_err(|e| bad(format!("stable: {e}")))?;
    let green = Version::parse(series.green.as_deref().unwrap_or("2"))
        .map_err(|e| bad(format!("green: {e}")))?;
    if stable == green {
        return Err(bad("stable and green are the same version".into()));
    }
    let own = series.policy.clone().unwrap_or_default();
    let mut layers: Vec<&PolicySpec> = vec![&own];
    layers.extend_from_slice(policy_layers);
    let policy: Policy = PolicySpec::resolve(&layers).map_err(|e| bad(e.to_string()))?;
    if !policy.metrics.is_empty() {
        return Err(bad(
            "the policy has custom metrics (policy.metrics), which a replay cannot read: \
             remove them for the simulation"
                .into(),
        ));
    }
    if policy.pre_traffic.is_some() || policy.post_traffic.is_some() {
        return Err(bad(
            "the policy has a pre_traffic or post_traffic check, which a replay cannot run: \
             remove it for the simulation"
                .into(),
        ));
    }
    let start = match &series.start {
        Some(s) => UtcTime::parse_rfc3339(s).map_err(|e| bad(e.0))?,
        None => UtcTime::parse_rfc3339("2026-01-01T00:00:00Z").expect("valid"),
    }
    .floor_minute();
    for (i, m) in series.minutes.iter().enumerate() {
        for (name, v) in [("blue", &m.blue), ("green", &m.green)] {
            if !(0.0..=100.0).contains(&v.error_rate) {
                return Err(bad(format!(
                    "minutes[{i}].{name}.error_rate {} is not a percent",
                    v.error_rate
                )));
            }
        }
    }
    Ok(Setup {
        stable,
        green,
        policy,
        start,
    })
}

/// The executor over an alias on `stable` and the two published versions.
fn world(target: &Target, s: &Setup) -> Executor<MemoryAliases, MemoryMetrics> {
    let aliases = MemoryAliases::new(Duration::ZERO);
    let alias = AliasState {
        stable: s.stable,
        canary: None,
        description: String::new(),
    };
    aliases.set(target, alias);
    let role = "arn:aws:iam::000000000000:role/simulated".to_string();
    let versions = [s.stable, s.green]
        .iter()
        .map(|v| PublishedVersion {
            version: *v,
            role: role.clone(),
            dead_letter_target: None,
        })
        .collect();
    aliases.publish(&target.function, versions);
    Executor::new(aliases, MemoryMetrics::default())
}

/// One minute's requests split by the weight the alias gives green now, each
/// version failing at its rate: what Lambda would publish for that minute.
fn traffic(
    executor: &Executor<MemoryAliases, MemoryMetrics>,
    target: &Target,
    s: &Setup,
    (minute, m): (UtcTime, &Minute),
    rng: &mut Rng,
) {
    let alias = executor.store.get(target);
    let (w, green_live) = match alias.canary {
        Some(Canary { version, weight }) if version == s.green => (weight, true),
        _ => (Weight::ZERO, alias.stable == s.green),
    };
    let share = if green_live && alias.canary.is_none() {
        1.0
    } else {
        w.fraction()
    };
    let g = (m.requests as f64 * share).round() as u64;
    let b = m.requests - g;
    let figures = VersionFigures {
        invocations: g,
        errors: rng.binomial(g, m.green.error_rate),
        latency_ms: m.green.latency_ms,
    };
    executor
        .metrics
        .put(&target.function, s.green, minute, figures);
    let figures = VersionFigures {
        invocations: b,
        errors: rng.binomial(b, m.blue.error_rate),
        latency_ms: m.blue.latency_ms,
    };
    executor
        .metrics
        .put(&target.function, s.stable, minute, figures);
}

/// The timeline's point for one tick.
fn point(minute: usize, result: &TargetResult, green: Version) -> Point {
    let d = result.decision;
    let promoted = d == Reported::Decided(Outcome::Promoted);
    let rolled_back = d == Reported::Decided(Outcome::RolledBack);
    let after = if promoted {
        100.0
    } else {
        result.weight_after.percent()
    };
    let rate = |h: &crate::report::VersionHealth| h.error_rate;
    Point {
        minute: minute as f64,
        weight: after,
        green: result.health.as_ref().and_then(|h| rate(&h.green)),
        blue: result.health.as_ref().and_then(|h| rate(&h.blue)),
        mark: match d {
            Reported::Decided(Outcome::Advanced) => Some(format!("{after}%")),
            _ if promoted => Some(format!("promoted v{green}")),
            _ if rolled_back => Some(format!("rolled back v{green}")),
            _ => None,
        },
        failed: rolled_back,
    }
}

/// Runs a series through the executor; stops at promotion or rollback (or the
/// series' end).
pub async fn run(
    series: &Series,
    policy_layers: &[&PolicySpec],
    seed: u64,
) -> Result<Replay, SimulateError> {
    let s = setup(series, policy_layers)?;
    let target = Target::new("simulated", "live").expect("valid");
    let executor = world(&target, &s);
    let mut rng = Rng::new(seed);
    let start = Manual::Start {
        version: Some(s.green),
        force: true,
    };
    let started = executor
        .command(&target, &start, &s.policy, s.start, false)
        .await
        .map_err(|e| SimulateError(e.to_string()))?;
    let mut points = vec![Point {
        minute: 0.0,
        weight: started.weight_after.percent(),
        green: None,
        blue: None,
        mark: Some(format!("start v{}", s.green)),
        failed: false,
    }];
    let mut ticks = vec![Tick {
        minute: 0,
        now: s.start,
        result: started,
    }];
    let targets = [(target.clone(), s.policy.clone())];
    for (i, m) in series.minutes.iter().enumerate() {
        let minute = UtcTime::from_unix(s.start.unix() + 60 * i as i64);
        traffic(&executor, &target, &s, (minute, m), &mut rng);
        let now = UtcTime::from_unix(minute.unix() + 60);
        let result = executor.tick(&targets, now, false).await.remove(0);
        points.push(point(i + 1, &result, s.green));
        let over = matches!(
            result.decision,
            Reported::Decided(Outcome::Promoted | Outcome::RolledBack)
        );
        ticks.push(Tick {
            minute: i + 1,
            now,
            result,
        });
        if over {
            break;
        }
    }
    Ok(Replay { ticks, points })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(minutes: usize, green_error: f64) -> Series {
        Series {
            start: Some("2026-11-20T10:00:00Z".into()),
            stable: None,
            green: None,
            policy: Some(
                serde_json::from_str(r#"{"steps":[10,50,100],"bake":"2m","metric_lag":"1m"}"#)
                    .unwrap(),
            ),
            minutes: (0..minutes)
                .map(|_| Minute {
                    requests: 6000,
                    blue: VersionMinute {
                        error_rate: 0.5,
                        latency_ms: Some(100.0),
                    },
                    green: VersionMinute {
                        error_rate: green_error,
                        latency_ms: Some(100.0),
                    },
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn a_healthy_series_is_promoted_and_a_bad_one_rolled_back() {
        let ok = run(&series(60, 0.5), &[], 7).await.unwrap();
        assert_eq!(ok.ticks.last().unwrap().result.decision, "promoted");
        let bad = run(&series(60, 5.0), &[], 7).await.unwrap();
        let last = &bad.ticks.last().unwrap().result;
        assert_eq!(last.decision, "rolled_back", "{}", last.reason);
        assert!(
            bad.ticks.len() < 5,
            "a 10x regression is caught within a few ticks"
        );
    }

    #[tokio::test]
    async fn the_same_seed_replays_the_same_run() {
        let a = run(&series(60, 0.8), &[], 42).await.unwrap();
        let b = run(&series(60, 0.8), &[], 42).await.unwrap();
        let reasons = |o: &Replay| {
            o.ticks
                .iter()
                .map(|t| t.result.reason.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(reasons(&a), reasons(&b));
    }

    #[test]
    fn bad_series_are_refused() {
        let mut s = series(1, 0.5);
        s.minutes[0].green.error_rate = 120.0;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let e = rt.block_on(run(&s, &[], 1)).unwrap_err().to_string();
        assert!(e.contains("minutes[0].green.error_rate"), "{e}");
        assert!(serde_json::from_str::<Series>(r#"{"minutes":[],"colour":1}"#).is_err());
    }
}
