//! `make bench` (part): one tick over N targets against the emulator on
//! loopback, N = 1, 10, 100, 500: wall time (median of 5 runs, min, max), the
//! API calls it made by operation (counted by a pass-through proxy), and the
//! ratio to the one-target tick. Every target is a rollout whose bake is over
//! with healthy data, so each tick reads, judges and advances all of them.
//! Writes the table into BENCHMARKS.md between the tick markers.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use common::faults::{FaultProxy, Op, Rival};
use lambda_rollout::aws::cloudwatch::MAX_QUERIES_PER_CALL;
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases};
use lambda_rollout::executor::{Executor, DEFAULT_CONCURRENCY};
use lambda_rollout::model::{Target, UtcTime};
use lambda_rollout::policy::{Policy, PolicySpec};

const SIZES: [usize; 4] = [1, 10, 100, 500];
const RUNS: usize = 5;
/// Queries per target in the batched GetMetricData.
const QUERIES_PER_TARGET: usize = 7;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let write = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
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
    let f = common::unique("bench-tick");
    em.create_function(&f, "blue").await;
    em.publish(&f, "blue").await;
    em.publish(&f, "green").await;
    let max = *SIZES.iter().max().unwrap();
    let now = UtcTime::from_unix(UtcTime::now().unix() - 3600).floor_minute();
    let aliases: Vec<String> = (0..max).map(|i| format!("t{i:03}")).collect();
    for a in &aliases {
        lambda
            .create_alias()
            .function_name(&f)
            .name(a)
            .function_version("1")
            .send()
            .await
            .expect("create_alias");
        // Ten healthy minutes at the 10% split, before `now`.
        for (version, n) in [("1", 900.0), ("2", 100.0)] {
            let data: Vec<MetricDatum> = (1..=10)
                .flat_map(|m| {
                    let t = DateTime::from_secs(now.unix() - 60 * m);
                    let dims = vec![
                        Dimension::builder().name("FunctionName").value(&f).build(),
                        Dimension::builder()
                            .name("Resource")
                            .value(format!("{f}:{a}"))
                            .build(),
                        Dimension::builder()
                            .name("ExecutedVersion")
                            .value(version)
                            .build(),
                    ];
                    [
                        MetricDatum::builder()
                            .metric_name("Invocations")
                            .set_dimensions(Some(dims.clone()))
                            .timestamp(t)
                            .value(n)
                            .unit(StandardUnit::Count)
                            .build(),
                        MetricDatum::builder()
                            .metric_name("Duration")
                            .set_dimensions(Some(dims))
                            .timestamp(t)
                            .statistic_values(
                                StatisticSet::builder()
                                    .sample_count(n)
                                    .sum(100.0 * n)
                                    .minimum(80.0)
                                    .maximum(200.0)
                                    .build(),
                            )
                            .unit(StandardUnit::Milliseconds)
                            .build(),
                    ]
                })
                .collect();
            cloudwatch
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

    let mut rows = Vec::new();
    for &n in &SIZES {
        let targets: Vec<(Target, Policy)> = aliases[..n]
            .iter()
            .map(|a| (Target::new(&f, a).unwrap(), policy.clone()))
            .collect();
        let mut times = Vec::new();
        let mut metrics_times = Vec::new();
        let mut calls = BTreeMap::new();
        for _ in 0..RUNS {
            // Back to 10%, outside the measurement.
            for a in &aliases[..n] {
                lambda
                    .update_alias()
                    .function_name(&f)
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
            proxy.take_log();
            let t = Instant::now();
            let results = executor.tick(&targets, now, false).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            let advanced = results.iter().filter(|r| r.decision == "advanced").count();
            assert_eq!(advanced, n, "every target advances: {:?}", results[0]);
            calls = BTreeMap::new();
            let mut in_metrics = 0.0;
            for x in proxy.take_log() {
                *calls.entry(x.op).or_insert(0usize) += 1;
                if x.op == Op::GetMetricData {
                    in_metrics += x.upstream_time.unwrap_or_default().as_secs_f64() * 1000.0;
                }
            }
            metrics_times.push(in_metrics);
        }
        let get = |op| calls.get(&op).copied().unwrap_or(0);
        let expected_gmd = (n * QUERIES_PER_TARGET).div_ceil(MAX_QUERIES_PER_CALL);
        assert_eq!(get(Op::GetAlias), n, "{calls:?}");
        assert_eq!(get(Op::GetMetricData), expected_gmd, "{calls:?}");
        assert_eq!(get(Op::UpdateAlias), n, "{calls:?}");
        let min = times.iter().cloned().fold(f64::MAX, f64::min);
        let max = times.iter().cloned().fold(0.0, f64::max);
        let med = median(&mut times);
        let med_metrics = median(&mut metrics_times);
        eprintln!(
            "N={n}: median {med:.0} ms (min {min:.0}, max {max:.0}; GetMetricData {med_metrics:.0}), {calls:?}"
        );
        rows.push((
            n,
            med,
            min,
            max,
            med_metrics,
            get(Op::GetAlias),
            get(Op::GetMetricData),
            get(Op::UpdateAlias),
            calls.len(),
        ));
    }
    let base = rows[0].1;
    let mut t = String::new();
    let _ = writeln!(t, "<!-- tick:begin -->");
    let _ = writeln!(
        t,
        "Command: `make bench` (`cargo run --release --example bench_tick -- --write BENCHMARKS.md`, \
         against LocalStack on loopback). Each target a rollout at 10% whose bake is over with healthy \
         data, so every tick reads, judges and advances all of them; concurrency {DEFAULT_CONCURRENCY}; \
         {RUNS} runs per size, calls counted by a pass-through proxy. The floor is the one-target tick: \
         GetAlias, GetMetricData, UpdateAlias.\n"
    );
    let _ = writeln!(t, "| targets | median ms | min | max | x one target | of it in GetMetricData (the emulator) | the rest, x one target | GetAlias | GetMetricData (queries / 500) | UpdateAlias | other calls |");
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|---|");
    let base_rest = rows[0].1 - rows[0].4;
    for (n, med, min, max, med_metrics, ga, gmd, ua, kinds) in rows {
        let other = kinds - [ga, gmd, ua].iter().filter(|c| **c > 0).count();
        let _ = writeln!(
            t,
            "| {n} | {med:.0} | {min:.0} | {max:.0} | {:.1} | {med_metrics:.0} ms | {:.1} | {ga} | {gmd} ({} / 500) | {ua} | {other} |",
            med / base,
            (med - med_metrics) / base_rest,
            n * QUERIES_PER_TARGET
        );
    }
    let _ = writeln!(t, "<!-- tick:end -->");
    print!("{t}");
    if let Some(path) = write {
        common::write_section(&path, "tick", "One tick over many targets", &t);
    }
}
