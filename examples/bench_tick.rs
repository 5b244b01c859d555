//! `make bench` (part): one tick over N targets against the emulator on
//! loopback, N = 1, 10, 100, 500: wall time (median of 5 runs, min, max), the
//! API calls it made by operation (counted by a pass-through proxy), and the
//! ratio to the one-target tick. Every target is a rollout whose bake is over
//! with healthy data, so each tick reads, judges and advances all of them.
//! Writes the table into BENCHMARKS.md between the tick markers.
//!
//! Then the same tick against in-memory ports that answer after a fixed
//! latency, any number at once (what AWS does, up to its rate limits): how the
//! tick scales with the concurrency when the service is not the bottleneck,
//! and lambda-rollout's own time with no latency at all (the tick-ports
//! markers). `--ports-only` runs just that part, without the emulator.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{MetricDatum, StandardUnit};
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use common::faults::{FaultProxy, Op, Rival};
use lambda_rollout::aws::cloudwatch::MAX_QUERIES_PER_CALL;
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases};
use lambda_rollout::config::DEFAULT_CONCURRENCY;
use lambda_rollout::executor::Executor;
use lambda_rollout::model::{Target, UtcTime};
use lambda_rollout::policy::{Policy, PolicySpec};

const SIZES: [usize; 4] = [1, 10, 100, 500];
const RUNS: usize = 5;
/// Queries per target in the batched GetMetricData.
const QUERIES_PER_TARGET: usize = 7;

struct Row {
    n: usize,
    median: f64,
    min: f64,
    max: f64,
    in_metrics: f64,
    idle: f64,
    get_alias: usize,
    get_metric_data: usize,
    update_alias: usize,
    other: usize,
}

/// How long, between `from` and `to`, at least one forwarded request was
/// inside the emulator (the union of their intervals).
fn busy_time(log: &[common::faults::Exchange], from: Instant, to: Instant) -> Duration {
    let mut spans: Vec<(Instant, Instant)> = log
        .iter()
        .filter_map(|x| Some((x.sent_at?, x.sent_at? + x.upstream_time?)))
        .map(|(a, b)| (a.max(from), b.min(to)))
        .filter(|(a, b)| a < b)
        .collect();
    spans.sort();
    let mut busy = Duration::ZERO;
    let mut open: Option<(Instant, Instant)> = None;
    for (a, b) in spans {
        open = match open {
            Some((s, e)) if a <= e => Some((s, e.max(b))),
            Some((s, e)) => {
                busy += e - s;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((s, e)) = open {
        busy += e - s;
    }
    busy
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

// The Lambda binary runs one thread (tokio's current_thread runtime): so do we.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let write = common::write_arg();
    if !args.iter().any(|a| a == "--ports-only") {
        against_the_emulator(write.as_deref()).await;
    }
    let t = in_memory::table().await;
    print!("{t}");
    if let Some(path) = write {
        common::write_section(
            &path,
            "tick-ports",
            "One tick when the service answers at once",
            &t,
        );
    }
}

async fn against_the_emulator(write: Option<&str>) {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("run through make bench");
    let upstream = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("http://host:port");
    let nobody: Rival = Arc::new(|_, _| Box::pin(async { None }));
    let proxy = FaultProxy::start(upstream, 1, nobody, Duration::from_secs(1)).await;
    let counted = |sdk: &aws_config::SdkConfig| {
        (
            aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(sdk)
                    .endpoint_url(proxy.url())
                    .build(),
            ),
            aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(sdk)
                    .endpoint_url(proxy.url())
                    .build(),
            ),
        )
    };
    let (l, c) = counted(&sdk);
    let executor = Executor::new(LambdaAliases::new(l), CloudWatchMetrics::new(c));

    // One function, versions 1 and 2 (same role), and an alias per target.
    let em = common::emulator().await;
    let f = em.blue_green("bench-tick").await;
    let max = *SIZES.iter().max().unwrap();
    let now = UtcTime::from_unix(UtcTime::now().unix() - 3600).floor_minute();
    let aliases: Vec<String> = (0..max).map(|i| format!("t{i:03}")).collect();
    for a in &aliases {
        em.create_alias(&f, a, "1").await;
        // Ten healthy minutes at the 10% split, before `now`: one call per
        // version (a call a minute would be ten thousand calls for 500 targets).
        for (version, n) in [("1", 900.0), ("2", 100.0)] {
            let dims = common::version_dimensions(&f, a, version);
            let data: Vec<MetricDatum> = (1..=10)
                .flat_map(|m| {
                    let datum = |name: &str| {
                        MetricDatum::builder()
                            .metric_name(name)
                            .set_dimensions(Some(dims.clone()))
                            .timestamp(DateTime::from_secs(now.unix() - 60 * m))
                    };
                    [
                        datum("Invocations")
                            .value(n)
                            .unit(StandardUnit::Count)
                            .build(),
                        datum("Duration")
                            .statistic_values(common::duration_summary(n))
                            .unit(StandardUnit::Milliseconds)
                            .build(),
                    ]
                })
                .collect();
            em.cloudwatch
                .put_metric_data()
                .namespace("AWS/Lambda")
                .set_metric_data(Some(data))
                .send()
                .await
                .expect("put_metric_data");
        }
    }
    let policy: Policy = PolicySpec::resolve(&[&serde_json::from_str(
        r#"{"steps":[10,25,50,100],"bake":"5m","metric_lag":"1m","min_invocations":20,"error_floor":5,"latency_stat":"Average"}"#,
    )
    .unwrap()])
    .unwrap();
    // The bake (5m) just over: a step's window of five minutes.
    let state = common::rolling_alias(UtcTime::from_unix(now.unix() - 300));

    let mut rows: Vec<Row> = Vec::new();
    for &n in &SIZES {
        let targets: Vec<(Target, Policy)> = aliases[..n]
            .iter()
            .map(|a| (Target::new(&f, a).unwrap(), policy.clone()))
            .collect();
        let mut times = Vec::new();
        let mut metrics_times = Vec::new();
        let mut idle_times = Vec::new();
        let mut calls = BTreeMap::new();
        for _ in 0..RUNS {
            // Back to 10%, outside the measurement.
            back_to_ten_percent(&em, &f, &aliases[..n], &state).await;
            proxy.take_log().await;
            let t = Instant::now();
            let results = executor.tick(&targets, now, false).await;
            let wall = t.elapsed();
            times.push(wall.as_secs_f64() * 1000.0);
            let advanced = results.iter().filter(|r| r.decision == "advanced").count();
            assert_eq!(advanced, n, "every target advances: {:?}", results[0]);
            calls = BTreeMap::new();
            let log = proxy.take_log().await;
            for x in &log {
                *calls.entry(x.op).or_insert(0usize) += 1;
            }
            let metrics_log: Vec<_> = log
                .iter()
                .filter(|x| x.op == Op::GetMetricData)
                .cloned()
                .collect();
            metrics_times.push(busy_time(&metrics_log, t, t + wall).as_secs_f64() * 1000.0);
            let busy = busy_time(&log, t, t + wall);
            idle_times.push((wall.saturating_sub(busy)).as_secs_f64() * 1000.0);
        }
        let get = |op| calls.get(&op).copied().unwrap_or(0);
        let expected_gmd = (n * QUERIES_PER_TARGET).div_ceil(MAX_QUERIES_PER_CALL);
        assert_eq!(get(Op::GetAlias), n, "{calls:?}");
        assert_eq!(get(Op::GetMetricData), expected_gmd, "{calls:?}");
        assert_eq!(get(Op::UpdateAlias), n, "{calls:?}");
        let min = times.iter().cloned().fold(f64::MAX, f64::min);
        let max = times.iter().cloned().fold(0.0, f64::max);
        let row = Row {
            n,
            median: median(&mut times),
            min,
            max,
            in_metrics: median(&mut metrics_times),
            idle: median(&mut idle_times),
            get_alias: get(Op::GetAlias),
            get_metric_data: get(Op::GetMetricData),
            update_alias: get(Op::UpdateAlias),
            other: calls.values().sum::<usize>()
                - get(Op::GetAlias)
                - get(Op::GetMetricData)
                - get(Op::UpdateAlias),
        };
        eprintln!(
            "N={n}: median {:.0} ms (min {min:.0}, max {max:.0}; GetMetricData {:.0}, no call at the emulator {:.0}), {calls:?}",
            row.median, row.in_metrics, row.idle
        );
        rows.push(row);
    }
    let base = rows[0].median;
    let mut t = String::new();
    let _ = writeln!(t, "<!-- tick:begin -->");
    let _ = writeln!(
        t,
        "Command: `make bench` (`cargo run --release --example bench_tick -- --write BENCHMARKS.md`, \
         against LocalStack on loopback). Each target a rollout at 10% whose bake is over with healthy \
         data, so every tick reads, judges and advances all of them; concurrency {DEFAULT_CONCURRENCY}; \
         {RUNS} runs per size, calls counted by a pass-through proxy. The floor is the one-target tick: \
         GetAlias, GetMetricData, UpdateAlias. \"no call at the emulator\" is the part of the tick \
         during which no request of ours was inside LocalStack: lambda-rollout's own work, the SDK's \
         and the proxy's.\n"
    );
    let _ = writeln!(t, "| targets | median ms | min | max | x one target | of it with a GetMetricData in the emulator, ms | no call at the emulator, ms | GetAlias | GetMetricData (queries / 500) | UpdateAlias | other calls |");
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            t,
            "| {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {:.1} | {} | {} ({} / 500) | {} | {} |",
            r.n,
            r.median,
            r.min,
            r.max,
            r.median / base,
            r.in_metrics,
            r.idle,
            r.get_alias,
            r.get_metric_data,
            r.n * QUERIES_PER_TARGET,
            r.update_alias,
            r.other
        );
    }
    let _ = writeln!(t, "<!-- tick:end -->");
    print!("{t}");
    if let Some(path) = write {
        common::write_section(path, "tick", "One tick over many targets", &t);
    }
    one_call_fails(
        &em, &executor, &proxy, &f, &aliases, &policy, &state, now, write,
    )
    .await;
}

/// Each alias back at version 2 at 10% over 1, its bake over (`state`).
async fn back_to_ten_percent(
    em: &common::Emulator,
    f: &str,
    aliases: &[String],
    state: &lambda_rollout::engine::AliasState,
) {
    for a in aliases {
        em.lambda
            .update_alias()
            .function_name(f)
            .name(a)
            .function_version("1")
            .description(&state.description)
            .routing_config(
                AliasRoutingConfiguration::builder()
                    .additional_version_weights("2", 0.1)
                    .build(),
            )
            .send()
            .await
            .expect("reset");
    }
}

/// #16: the same 500-target tick with one GetMetricData call failing every
/// attempt (the proxy answers 503 to the call carrying target 0's queries):
/// only the targets whose queries that call carried hold, "metrics
/// unavailable"; every target the other calls carried is judged (advances).
#[allow(clippy::too_many_arguments)]
async fn one_call_fails(
    em: &common::Emulator,
    executor: &Executor<LambdaAliases, CloudWatchMetrics>,
    proxy: &FaultProxy,
    f: &str,
    aliases: &[String],
    policy: &Policy,
    state: &lambda_rollout::engine::AliasState,
    now: UtcTime,
    write: Option<&str>,
) {
    back_to_ten_percent(em, f, aliases, state).await;
    let targets: Vec<(Target, Policy)> = aliases
        .iter()
        .map(|a| (Target::new(f, a).unwrap(), policy.clone()))
        .collect();
    proxy.take_log().await;
    proxy.fail_metrics_carrying(Some(b"t0_"));
    let results = executor.tick(&targets, now, false).await;
    proxy.fail_metrics_carrying(None);
    let log = proxy.take_log().await;
    let calls: Vec<_> = log.iter().filter(|x| x.op == Op::GetMetricData).collect();
    let failed = calls.iter().filter(|x| x.upstream_status.is_none()).count();
    let answered = calls
        .iter()
        .filter(|x| x.upstream_status == Some(200))
        .count();
    let held = results
        .iter()
        .filter(|r| r.decision == "held" && r.reason.contains("metrics unavailable"))
        .count();
    let advanced = results.iter().filter(|r| r.decision == "advanced").count();
    // 7 queries a target, 500 a call: the first call carries targets 0 to 71.
    let carried = MAX_QUERIES_PER_CALL.div_ceil(QUERIES_PER_TARGET);
    assert_eq!(
        (held, advanced),
        (carried, targets.len() - carried),
        "{:?}",
        results[0]
    );
    let mut t = String::new();
    let _ = writeln!(t, "<!-- metrics-fail:begin -->");
    let _ = writeln!(
        t,
        "Command: `make bench` (the same `bench_tick`). The 500-target tick above, once, with the \
         pass-through proxy answering 503 to every attempt of the GetMetricData call that carries \
         target 0's queries (the SDK's three attempts included). A failed call holds only the \
         targets it carried a query of; every target of the other calls is judged.\n"
    );
    let _ = writeln!(t, "| targets | GetMetricData calls answered | attempts failed | held, metrics unavailable | judged (advanced) |");
    let _ = writeln!(t, "|---|---|---|---|---|");
    let _ = writeln!(
        t,
        "| {} | {answered} | {failed} | {held} | {advanced} |",
        targets.len()
    );
    let _ = writeln!(t, "<!-- metrics-fail:end -->");
    print!("{t}");
    if let Some(path) = write {
        common::write_section(
            path,
            "metrics-fail",
            "A tick where one metrics call fails",
            &t,
        );
    }
}

/// The tick against in-memory ports: every call answers after a fixed latency,
/// any number at once, so what is left above the latency is lambda-rollout's.
mod in_memory {
    use std::fmt::Write as _;
    use std::time::{Duration, Instant};

    use lambda_rollout::config::DEFAULT_CONCURRENCY;
    use lambda_rollout::engine::{AlarmState, MetricsRequest, Observation, VersionFigures};
    use lambda_rollout::executor::Executor;
    use lambda_rollout::memory::{self, MemoryAliases};
    use lambda_rollout::model::{Target, UtcTime};
    use lambda_rollout::policy::{Policy, PolicySpec};
    use lambda_rollout::ports::{MetricsError, MetricsRead};

    use super::common;
    use super::{median, RUNS, SIZES};

    /// One round trip, assumed alike for a control-plane call and a
    /// GetMetricData call: the table counts in round trips.
    const LATENCY: Duration = Duration::from_millis(20);

    /// Healthy figures, as the emulator table writes them: 900 invocations a
    /// minute on blue, 100 on green, no errors.
    struct Metrics {
        latency: Duration,
    }

    fn figures(per_minute: u64, from: UtcTime, to: UtcTime) -> VersionFigures {
        VersionFigures {
            invocations: per_minute * ((to.unix() - from.unix()) / 60) as u64,
            errors: 0,
            latency_ms: Some(100.0),
        }
    }

    impl MetricsRead for Metrics {
        async fn observe(
            &self,
            requests: &[MetricsRequest],
        ) -> Vec<Result<Observation, MetricsError>> {
            // However many calls of up to 500 queries, the adapter sends them
            // at once: one round trip.
            if !self.latency.is_zero() {
                tokio::time::sleep(self.latency).await;
            }
            requests
                .iter()
                .map(|r| {
                    Ok(memory::observation(r, AlarmState::Ok, |v, from, to| {
                        figures(if v == r.green { 100 } else { 900 }, from, to)
                    }))
                })
                .collect()
        }
    }

    struct Cell {
        latency: Duration,
        concurrency: usize,
        n: usize,
        median: f64,
        min: f64,
        max: f64,
    }

    async fn measure(latency: Duration, concurrency: usize, n: usize) -> Cell {
        let now = UtcTime::from_unix(UtcTime::now().unix()).floor_minute();
        let policy: Policy = PolicySpec::resolve(&[&serde_json::from_str(
            r#"{"steps":[10,25,50,100],"bake":"5m","metric_lag":"1m","min_invocations":20,"error_floor":5,"latency_stat":"Average"}"#,
        )
        .unwrap()])
        .unwrap();
        let targets: Vec<(Target, Policy)> = (0..n)
            .map(|i| {
                (
                    Target::new("bench", &format!("t{i:03}")).unwrap(),
                    policy.clone(),
                )
            })
            .collect();
        let executor = Executor::new(MemoryAliases::new(latency), Metrics { latency })
            .with_concurrency(concurrency);
        let mut times = Vec::new();
        for _ in 0..RUNS {
            // At 10% since the bake's length ago, outside the measurement.
            let state = common::rolling_alias(UtcTime::from_unix(now.unix() - 300));
            for (t, _) in &targets {
                executor.store.set(t, state.clone());
            }
            let t = Instant::now();
            let results = executor.tick(&targets, now, false).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            let advanced = results.iter().filter(|r| r.decision == "advanced").count();
            assert_eq!(advanced, n, "every target advances: {:?}", results[0]);
        }
        let min = times.iter().cloned().fold(f64::MAX, f64::min);
        let max = times.iter().cloned().fold(0.0, f64::max);
        Cell {
            latency,
            concurrency,
            n,
            median: median(&mut times),
            min,
            max,
        }
    }

    pub async fn table() -> String {
        let mut cells = Vec::new();
        for (latency, concurrency) in [
            (LATENCY, DEFAULT_CONCURRENCY),
            (LATENCY, 64),
            (Duration::ZERO, DEFAULT_CONCURRENCY),
        ] {
            for &n in &SIZES {
                let c = measure(latency, concurrency, n).await;
                eprintln!(
                    "in memory, {} ms a call, concurrency {concurrency}, N={n}: median {:.1} ms",
                    latency.as_millis(),
                    c.median
                );
                cells.push(c);
            }
        }
        let mut t = String::new();
        let _ = writeln!(t, "<!-- tick-ports:begin -->");
        let _ = writeln!(
            t,
            "Command: `make bench` (the same `bench_tick`; `-- --ports-only` runs this part alone). \
             The tick of the table above, through the same executor and engine, against in-memory \
             ports in place of the AWS adapters: each call answers after a fixed {} ms, any number \
             at once, and the metrics of up to 500 queries per call come back in one round trip \
             (the adapter sends its calls at once). A tick cannot take less than its round trips: \
             reads in waves of the concurrency, one for the metrics, writes in waves, \
             2 x ceil(N / concurrency) + 1; tokio's timer rounds each wait up to the next \
             millisecond, a part of what is above it. With no latency, the tick is lambda-rollout's own work \
             (the engine, the executor, the records it writes), without the SDK's; {RUNS} runs, \
             one thread as in the Lambda.\n",
            LATENCY.as_millis()
        );
        let _ = writeln!(
            t,
            "| latency per call | concurrency | targets | median ms | min | max | x one target | least possible (round trips) | above it, ms |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|");
        let mut base = f64::NAN;
        for c in &cells {
            if c.n == 1 {
                base = c.median;
            }
            let trips = 2 * c.n.div_ceil(c.concurrency) + 1;
            let least = trips as f64 * c.latency.as_secs_f64() * 1000.0;
            // With no latency there is no floor to compare with: the cost per target.
            let (ratio, above) = if c.latency.is_zero() {
                (
                    "-".to_string(),
                    format!(
                        "{:.1} ({:.0} us a target)",
                        c.median,
                        c.median * 1000.0 / c.n as f64
                    ),
                )
            } else {
                (
                    format!("{:.1}", c.median / base),
                    format!("{:.1}", c.median - least),
                )
            };
            let _ = writeln!(
                t,
                "| {} ms | {} | {} | {:.1} | {:.1} | {:.1} | {ratio} | {least:.0} ms ({trips}) | {above} |",
                c.latency.as_millis(),
                c.concurrency,
                c.n,
                c.median,
                c.min,
                c.max,
            );
        }
        let _ = writeln!(t, "<!-- tick-ports:end -->");
        t
    }
}
