//! `make bench` (part): the CloudWatch data points one tick reads for 500
//! targets all held at a step for 10 hours (low traffic, waiting for
//! evidence), counted from the GetMetricData requests the CloudWatch adapter
//! would send for what the engine asks (`cloudwatch::data_points`), against
//! CloudWatch's throughput quota of 180,000 data points a second for recent
//! data (90,000 for data older than three hours). Also a fresh fleet (every
//! target one step in) for comparison. Writes the table between the
//! metric-reads markers of BENCHMARKS.md with `--write PATH`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use lambda_rollout::aws::cloudwatch::{data_points, MAX_QUERIES_PER_CALL};
use lambda_rollout::engine::{MetricsRequest, Observation};
use lambda_rollout::executor::Executor;
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

/// The requests of one tick over the fleet, every rollout begun `age` ago.
async fn requests(age: Duration) -> Vec<MetricsRequest> {
    let now = UtcTime::parse_rfc3339("2026-12-01T22:00:00Z").unwrap();
    let names: Vec<String> = (0..TARGETS).map(|i| format!("held-{i:03}")).collect();
    let since = UtcTime::from_unix(now.unix() - age.as_secs() as i64);
    // fleet_store starts the rolling ones a minute before the time given.
    let store = common::fleet_store(&names, TARGETS, since.plus(Duration::from_secs(60)));
    // The stack's default preset, with more evidence than the traffic gives:
    // the step holds, and its window grows with the hold.
    let spec: PolicySpec =
        serde_json::from_str(r#"{"preset":"Canary10Percent5Minutes","min_invocations":100000}"#)
            .unwrap();
    let policy = PolicySpec::resolve(&[&spec]).unwrap();
    let targets: Vec<(Target, Policy)> = names
        .iter()
        .map(|f| (Target::new(f, "live").unwrap(), policy.clone()))
        .collect();
    let executor = Executor::new(store, Capture::default());
    executor.tick(&targets, now, true).await;
    let captured = executor.metrics.0.lock().unwrap().clone();
    captured
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
    for (label, age) in [
        ("10 minutes ago", Duration::from_secs(600)),
        ("10 hours ago", Duration::from_secs(10 * 3600)),
    ] {
        let reqs = requests(age).await;
        let points = data_points(&reqs);
        let queries = reqs.iter().filter(|r| r.has_window()).count() * 7;
        let calls = queries.div_ceil(MAX_QUERIES_PER_CALL);
        let quota = if age > Duration::from_secs(3 * 3600) {
            90_000.0
        } else {
            180_000.0
        };
        let _ = writeln!(
            t,
            "| every window whole (today) | {label} | {queries} | {calls} | {points} | {:.1} |",
            points as f64 / quota
        );
    }
    let _ = writeln!(t, "<!-- metric-reads:end -->");
    print!("{t}");
    if let Some(path) = write {
        common::write_section(&path, "metric-reads", "Metric reads of a long hold", &t);
    }
}
