//! `make bench` (part): the CloudWatch data points one tick reads for 500
//! targets all held at a step for 10 hours (low traffic, waiting for
//! evidence), counted from the GetMetricData requests the CloudWatch adapter
//! would send for what the engine asks (`cloudwatch::data_points`), against
//! CloudWatch's throughput quota of 180,000 data points a second for recent
//! data (90,000 for data older than three hours). Also a fresh fleet (every
//! target one step in) for comparison.
//!
//! Before: every window read whole (a record with no tally: what every tick
//! did before the tally, and still does for a policy with metrics of its
//! own). After: the fleet ticked every minute for the whole hold, each
//! target writing its tally as the engine decides, and the last hour's ticks
//! counted. Writes the table between the metric-reads markers of
//! BENCHMARKS.md with `--write PATH`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use lambda_rollout::aws::cloudwatch::{data_points, metric_calls, MAX_QUERIES_PER_CALL};
use lambda_rollout::engine::{MetricsRequest, Observation};
use lambda_rollout::executor::Executor;
use lambda_rollout::memory::{MemoryAliases, MemoryMetrics};
use lambda_rollout::model::{Target, UtcTime};
use lambda_rollout::policy::{Policy, PolicySpec};
use lambda_rollout::ports::{MetricsError, MetricsRead};

const TARGETS: usize = 500;

/// Keeps what the engine asked for; answers nothing (every target holds).
#[derive(Default)]
struct Capture(Mutex<Vec<MetricsRequest>>);

impl MetricsRead for Capture {
    async fn observe(&self, requests: &[MetricsRequest]) -> Vec<Result<Observation, MetricsError>> {
        self.0.lock().unwrap().extend_from_slice(requests);
        let cause: Box<dyn std::error::Error + Send + Sync> = "captured".into();
        let e = MetricsError {
            message: "not read: counted".into(),
            source: cause.into(),
        };
        requests.iter().map(|_| Err(e.clone())).collect()
    }
}

/// Keeps what the engine asked for, and answers as CloudWatch would for
/// functions with no traffic: complete data, no invocations (every target
/// holds for min_invocations, and writes its tally when it is due).
#[derive(Default)]
struct Answer {
    asked: Mutex<Vec<MetricsRequest>>,
    store: MemoryMetrics,
}

impl MetricsRead for Answer {
    async fn observe(&self, requests: &[MetricsRequest]) -> Vec<Result<Observation, MetricsError>> {
        self.asked.lock().unwrap().extend_from_slice(requests);
        self.store.observe(requests).await
    }
}

const NOW: &str = "2026-12-01T22:00:00Z";
const HOLDS: &str = r#"{"preset":"Canary10Percent5Minutes","min_invocations":100000}"#;
/// The same, gated on one metric of the policy's own as well.
const HOLDS_WITH_ONE_METRIC: &str = r#"{"preset":"Canary10Percent5Minutes","min_invocations":100000,
    "metrics":[{"name":"checkouts","namespace":"Shop","metric":"Checkouts","min":1}]}"#;

/// The fleet, every rollout begun `age` before `now`, and its targets under
/// the stack's default preset with more evidence than the traffic gives:
/// the step holds, and its window grows with the hold.
fn fleet(now: UtcTime, age: Duration, policy: &str) -> (MemoryAliases, Vec<(Target, Policy)>) {
    let names: Vec<String> = (0..TARGETS).map(|i| format!("held-{i:03}")).collect();
    let since = UtcTime::from_unix(now.unix() - age.as_secs() as i64);
    // fleet_store starts the rolling ones a minute before the time given.
    let store = common::fleet_store(&names, TARGETS, since.plus(Duration::from_secs(60)));
    let spec: PolicySpec = serde_json::from_str(policy).unwrap();
    let policy = PolicySpec::resolve(&[&spec]).unwrap();
    let targets = names
        .iter()
        .map(|f| (Target::new(f, "live").unwrap(), policy.clone()))
        .collect();
    (store, targets)
}

/// The requests of one tick over the fleet, every window read whole.
async fn requests(age: Duration, policy: &str) -> Vec<MetricsRequest> {
    let now = UtcTime::parse_rfc3339(NOW).unwrap();
    let (store, targets) = fleet(now, age, policy);
    let executor = Executor::new(store, Capture::default());
    executor.tick(&targets, now, true).await;
    let captured = executor.metrics.0.lock().unwrap().clone();
    captured
}

/// One tick's reads, counted.
struct Reads {
    queries: usize,
    calls: usize,
    points: u64,
    /// The oldest minute any call reads.
    oldest: Duration,
}

fn counted(reqs: &[MetricsRequest], now: UtcTime) -> Reads {
    Reads {
        queries: reqs
            .iter()
            .filter(|r| r.has_window())
            .map(|r| 7 + r.custom.len())
            .sum(),
        calls: metric_calls(reqs),
        points: data_points(reqs),
        oldest: reqs
            .iter()
            .filter(|r| r.has_window())
            .map(|r| now.since(r.span().0))
            .max()
            .unwrap_or_default(),
    }
}

/// The fleet begun `age` ago, ticked every minute up to now with its
/// tallies written: each of the last hour's ticks counted, and the tally
/// writes of that hour.
async fn tallied(age: Duration, policy: &str) -> (Vec<Reads>, usize) {
    let now = UtcTime::parse_rfc3339(NOW).unwrap();
    let (store, targets) = fleet(now, age, policy);
    let executor = Executor::new(store, Answer::default());
    let minutes = age.as_secs() / 60;
    let mut last_hour = Vec::new();
    let mut writes_before = 0;
    for m in 1..=minutes {
        let at = UtcTime::from_unix(now.unix() - ((minutes - m) * 60) as i64);
        if minutes - m == 59 {
            writes_before = executor
                .store
                .writes
                .load(std::sync::atomic::Ordering::SeqCst);
        }
        executor.tick(&targets, at, false).await;
        let asked = std::mem::take(&mut *executor.metrics.asked.lock().unwrap());
        if minutes - m < 60 {
            last_hour.push(counted(&asked, at));
        }
    }
    (
        last_hour,
        executor
            .store
            .writes
            .load(std::sync::atomic::Ordering::SeqCst)
            - writes_before,
    )
}

/// The data-point quota a second for a read that reaches `oldest` back.
fn quota(oldest: Duration) -> f64 {
    if oldest > Duration::from_secs(3 * 3600) {
        90_000.0
    } else {
        180_000.0
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let write = common::write_arg();
    let mut t = String::new();
    let _ = writeln!(t, "<!-- metric-reads:begin -->");
    let _ = writeln!(
        t,
        "Command: `make bench` (`cargo run --release --example bench_metric_reads -- --write \
         BENCHMARKS.md`). {TARGETS} targets at a step of the default preset that holds (the \
         evidence it asks for does not come), one tick's GetMetricData requests as the CloudWatch \
         adapter builds them from what the engine asks, counted in data points (each metric \
         query times the minutes of the span its call covers: a series with data every minute \
         returns exactly that). Seconds of quota: at CloudWatch's 180,000 data points a second \
         for recent data (90,000 once the start is more than three hours back).\n"
    );
    let _ = writeln!(t, "| reads | rollouts begun | metric queries | GetMetricData calls | data points a tick | seconds of the data-point quota |");
    let _ = writeln!(t, "|---|---|---|---|---|---|");
    let now = UtcTime::parse_rfc3339(NOW).unwrap();
    for (label, age, policy) in [
        ("", Duration::from_secs(600), HOLDS),
        ("", Duration::from_secs(10 * 3600), HOLDS),
        (
            ", a policy with one metric of its own",
            Duration::from_secs(10 * 3600),
            HOLDS_WITH_ONE_METRIC,
        ),
    ] {
        let r = counted(&requests(age, policy).await, now);
        debug_assert_eq!(r.calls, r.queries.div_ceil(MAX_QUERIES_PER_CALL));
        let _ = writeln!(
            t,
            "| every window whole (before){label} | {} ago | {} | {} | {} | {:.1} |",
            lambda_rollout::model::format_duration(age),
            r.queries,
            r.calls,
            r.points,
            r.points as f64 / quota(r.oldest)
        );
    }
    let mut tallies = Vec::new();
    for (label, policy) in [
        ("after the tally", HOLDS),
        (
            "after, a policy with one metric of its own",
            HOLDS_WITH_ONE_METRIC,
        ),
    ] {
        let (hour, writes) = tallied(Duration::from_secs(10 * 3600), policy).await;
        let worst = hour
            .iter()
            .max_by_key(|r| r.points)
            .expect("an hour of ticks");
        let mean = hour.iter().map(|r| r.points).sum::<u64>() as f64 / hour.len() as f64;
        let _ = writeln!(
            t,
            "| {label} (each minute of the 10th hour: the most; the mean) | 10h ago | {} | {} | {}; {:.0} | {:.2}; {:.2} |",
            worst.queries,
            worst.calls,
            worst.points,
            mean,
            worst.points as f64 / quota(worst.oldest),
            mean / quota(worst.oldest)
        );
        tallies.push((worst.oldest, writes));
    }
    let (oldest, writes) = tallies[0];
    let _ = writeln!(
        t,
        "\nAfter: the oldest minute any tick of the 10th hour read was {} back (at most \
         TALLY_EVERY, 30 minutes, plus metric_lag and the minute in progress). The tallies cost \
         {writes} UpdateAlias in that hour for {TARGETS} targets ({:.1} a target), one each \
         time a target's unread minutes reached its interval (21 to 30 minutes, spread by \
         its name so that a fleet begun together does not write in one tick); the reads are the same whatever the hold's \
         age, where before they grew by {} data points a tick every hour. A metric of the \
         policy's own is judged over its step and its running figures are not kept: it is read \
         over the whole step, in calls of its own (the 500 such queries make one call of the \
         step's minutes), while the built-in series read from the tally.",
        lambda_rollout::model::format_duration(oldest),
        writes as f64 / TARGETS as f64,
        TARGETS * 7 * 60
    );
    let _ = writeln!(t, "<!-- metric-reads:end -->");
    print!("{t}");
    if let Some(path) = write {
        common::write_section(&path, "metric-reads", "Metric reads of a long hold", &t);
    }
}
