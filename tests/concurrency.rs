//! A tick over many targets reads and writes them a bounded number at a time,
//! keeps every target's result in order, and asks for all metrics in one call.
//! In-memory ports that take a few milliseconds per call, so overlap shows.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use lambda_rollout::engine::{AliasState, Canary, MetricsRequest, Observation, PublishedVersion};
use lambda_rollout::executor::Executor;
use lambda_rollout::model::{Target, UtcTime, Version, Weight};
use lambda_rollout::policy::Policy;
use lambda_rollout::ports::{
    AliasRead, AliasSnapshot, AliasWrite, MetricsError, MetricsRead, StoreError,
};

#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    async fn hold(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Aliases {
    gauge: Gauge,
    state: Mutex<HashMap<String, (AliasState, u32)>>,
    writes: AtomicUsize,
}

impl AliasRead for Aliases {
    async fn read_alias(&self, t: &Target) -> Result<AliasSnapshot, StoreError> {
        self.gauge.hold().await;
        let s = self.state.lock().unwrap();
        let (state, rev) = s[&t.function].clone();
        Ok(AliasSnapshot {
            state,
            revision: rev.to_string(),
        })
    }

    async fn published_versions(&self, _: &str) -> Result<Vec<PublishedVersion>, StoreError> {
        Ok(Vec::new())
    }
}

impl AliasWrite for Aliases {
    async fn write_alias(
        &self,
        t: &Target,
        alias: &AliasState,
        revision: &str,
    ) -> Result<String, StoreError> {
        self.gauge.hold().await;
        self.writes.fetch_add(1, Ordering::SeqCst);
        let mut s = self.state.lock().unwrap();
        let e = s.get_mut(&t.function).unwrap();
        assert_eq!(e.1.to_string(), revision);
        e.0 = alias.clone();
        e.1 += 1;
        Ok(e.1.to_string())
    }
}

#[derive(Default)]
struct Metrics {
    calls: AtomicUsize,
    /// Answer with no observations at all instead of an error.
    short: bool,
}

impl MetricsRead for Metrics {
    async fn observe(&self, requests: &[MetricsRequest]) -> Result<Vec<Observation>, MetricsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.short {
            return Ok(Vec::new());
        }
        Err(MetricsError {
            message: format!("{} requests, none answered here", requests.len()),
            source: "test".into(),
        })
    }
}

#[tokio::test]
async fn a_tick_over_many_targets_runs_a_bounded_number_at_once_in_order() {
    let now = UtcTime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
    let n = 40;
    let names: Vec<String> = (0..n).map(|i| format!("f{i:02}")).collect();
    // Half roll out (metrics needed), half have a human's routing to adopt
    // (a pause, written without metrics).
    let state = names
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut a = common::rolling_alias(UtcTime::from_unix(now.unix() - 3600));
            if i % 2 == 1 {
                a.canary = Some(Canary {
                    version: Version::new(2).unwrap(),
                    weight: Weight::from_percent(30.0).unwrap(),
                });
            }
            (f.clone(), (a, 1))
        })
        .collect();
    let executor = Executor::new(
        Aliases {
            gauge: Gauge::default(),
            state: Mutex::new(state),
            writes: AtomicUsize::new(0),
        },
        Metrics::default(),
    )
    .with_concurrency(6);
    let targets: Vec<(Target, Policy)> = names
        .iter()
        .map(|f| (Target::new(f, "live").unwrap(), Policy::defaults()))
        .collect();
    let results = executor.tick(&targets, now, false).await;

    let order: Vec<&str> = results.iter().map(|r| r.function.as_str()).collect();
    assert_eq!(order, names.iter().map(String::as_str).collect::<Vec<_>>());
    let max = executor.store.gauge.max.load(Ordering::SeqCst);
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
    let rolling = common::rolling_alias(UtcTime::from_unix(now.unix() - 3600));
    let executor = Executor::new(
        Aliases {
            gauge: Gauge::default(),
            state: Mutex::new(
                names
                    .iter()
                    .map(|f| (f.clone(), (rolling.clone(), 1)))
                    .collect(),
            ),
            writes: AtomicUsize::new(0),
        },
        Metrics {
            short: true,
            ..Metrics::default()
        },
    );
    let targets: Vec<(Target, Policy)> = names
        .iter()
        .map(|f| (Target::new(f, "live").unwrap(), Policy::defaults()))
        .collect();
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
