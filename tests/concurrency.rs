//! A tick over many targets reads and writes them a bounded number at a time,
//! keeps every target's result in order, and asks for all metrics in one call.
//! In-memory ports that take a few milliseconds per call, so overlap shows.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lambda_rollout::engine::{Canary, MetricsRequest, Observation};
use lambda_rollout::executor::Executor;
use lambda_rollout::memory::MemoryAliases;
use lambda_rollout::model::{Target, UtcTime, Version, Weight};
use lambda_rollout::policy::Policy;
use lambda_rollout::ports::{MetricsError, MetricsRead};

#[derive(Default)]
struct Metrics {
    calls: AtomicUsize,
    /// Answer with no observations at all instead of an error.
    short: bool,
}

impl MetricsRead for Metrics {
    async fn observe(&self, requests: &[MetricsRequest]) -> Vec<Result<Observation, MetricsError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.short {
            return Vec::new();
        }
        let cause: Box<dyn std::error::Error + Send + Sync> = "test".into();
        let e = MetricsError {
            message: format!("{} requests, none answered here", requests.len()),
            source: cause.into(),
        };
        requests.iter().map(|_| Err(e.clone())).collect()
    }
}

#[tokio::test]
async fn a_tick_over_many_targets_runs_a_bounded_number_at_once_in_order() {
    let now = UtcTime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
    let n = 40;
    let names: Vec<String> = (0..n).map(|i| format!("f{i:02}")).collect();
    // Half roll out (metrics needed), half have a human's routing to adopt
    // (a pause, written without metrics).
    let targets: Vec<(Target, Policy)> = names
        .iter()
        .map(|f| (Target::new(f, "live").unwrap(), Policy::defaults()))
        .collect();
    let store = MemoryAliases::new(Duration::from_millis(5));
    for (i, (t, _)) in targets.iter().enumerate() {
        let mut a = common::rolling_alias(UtcTime::from_unix(now.unix() - 3600));
        if i % 2 == 1 {
            a.canary = Some(Canary {
                version: Version::new(2).unwrap(),
                weight: Weight::from_percent(30.0).unwrap(),
            });
        }
        store.set(t, a);
    }
    let executor = Executor::new(store, Metrics::default()).with_concurrency(6);
    let results = executor.tick(&targets, now, false).await;

    let order: Vec<&str> = results.iter().map(|r| r.function.as_str()).collect();
    assert_eq!(order, names.iter().map(String::as_str).collect::<Vec<_>>());
    let max = executor.store.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=6).contains(&max),
        "reads and writes overlap, at most 6 at once: {max}"
    );
    assert_eq!(
        executor.metrics.calls.load(Ordering::SeqCst),
        1,
        "one metrics call for every target"
    );
    for (i, r) in results.iter().enumerate() {
        let want = if i % 2 == 1 { "paused" } else { "held" };
        assert_eq!(r.decision, want, "{r:?}");
    }
    assert_eq!(
        executor.store.writes.load(Ordering::SeqCst),
        n / 2,
        "writes only for the targets that change"
    );
}

#[tokio::test]
async fn an_answer_short_of_observations_holds_every_target_and_writes_nothing() {
    let now = UtcTime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
    let names: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
    let targets: Vec<(Target, Policy)> = names
        .iter()
        .map(|f| (Target::new(f, "live").unwrap(), Policy::defaults()))
        .collect();
    let store = MemoryAliases::new(Duration::from_millis(5));
    for (t, _) in &targets {
        store.set(
            t,
            common::rolling_alias(UtcTime::from_unix(now.unix() - 3600)),
        );
    }
    let executor = Executor::new(
        store,
        Metrics {
            short: true,
            ..Metrics::default()
        },
    );
    let results = executor.tick(&targets, now, false).await;
    for r in &results {
        assert_eq!(r.decision, "held", "{r:?}");
        assert!(
            r.reason.contains("0 observations for 5 targets"),
            "the reason says what was missing: {}",
            r.reason
        );
    }
    assert_eq!(executor.store.writes.load(Ordering::SeqCst), 0);
}
