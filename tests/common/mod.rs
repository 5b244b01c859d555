//! Shared helpers for the emulator-backed tests and the demo: a real SDK client
//! against the local emulator, fixtures for functions, versions and aliases, and
//! a writer of the metrics Lambda itself emits per version.
#![allow(dead_code)]

pub mod faults;

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, FunctionCode, Runtime};
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases};
use lambda_rollout::config::Config;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::model::UtcTime;
use serde_json::Value;

pub const ROLE: &str = "arn:aws:iam::000000000000:role/hello-role";
pub const OTHER_ROLE: &str = "arn:aws:iam::000000000000:role/other-role";

pub struct Emulator {
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

/// Connects to the emulator named by AWS_ENDPOINT_URL. Fails (never skips) when
/// it is not set: these tests run under `make test`, which starts it.
pub async fn emulator() -> Emulator {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with `make test`, which starts the local \
         emulator, or `make emulator-up` and `source .tools/emulator-4566/env`"
    );
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Emulator {
        lambda: aws_sdk_lambda::Client::new(&config),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
    }
}

/// Runs the binary (`env!("CARGO_BIN_EXE_lambda-rollout")`, which only test
/// targets have) outside Lambda, as the CLI, with `stdin` as its input.
pub fn invoke_cli(bin: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The CLI stops reading at its payload limit: a broken pipe past it is
    // part of what an oversized payload test checks, not a failure.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

/// `bin` with `args`, as a pipeline runs it: no standard input, its output
/// captured, none of the orchestrator's environment but what `env` sets.
pub fn spawn_cli(bin: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    use std::process::Stdio;
    cli_command(bin, args, env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

/// `bin` with `args` run to its end, as a person runs it (not a terminal:
/// no colour): its exit code, stdout and stderr.
pub fn run_cli(bin: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = cli_command(bin, args, env).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cli_command(bin: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut c = std::process::Command::new(bin);
    c.args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("LAMBDA_ROLLOUT_TARGETS")
        .env_remove("LAMBDA_ROLLOUT_POLICY")
        .env_remove("LAMBDA_ROLLOUT_ORCHESTRATOR");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Waits for a spawned CLI to end (at most two minutes): its exit code, its
/// stdout lines, its stderr.
pub fn finish(mut child: std::process::Child) -> (i32, Vec<String>, String) {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the command did not end within two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let lines = out.lines().map(str::to_string).collect();
    (status.code().expect("exited, not killed"), lines, err)
}

/// Each result's decision in a handler's response.
pub fn decisions(out: &Value) -> Vec<String> {
    out["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["decision"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Lines of JSON, as `wait --json` writes them.
pub fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// A function name no other test (or earlier run against the same emulator) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The seed's demo function: a Python handler answering with its colour.
pub fn hello_code(message: &str) -> String {
    format!(
        "def lambda_handler(event, context):\n    return {{\"statusCode\": 200, \"body\": {message:?}}}\n"
    )
}

pub fn hello_zip(message: &str) -> Vec<u8> {
    one_file_zip("lambda_function.py", &hello_code(message))
}

/// A function's code: a zip of one file.
pub fn one_file_zip(name: &str, content: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file(name, opts).unwrap();
    w.write_all(content.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

impl Emulator {
    pub fn handler(&self, config: Config) -> Handler<LambdaAliases, CloudWatchMetrics> {
        Handler::new(
            Executor::new(
                LambdaAliases::new(self.lambda.clone()),
                CloudWatchMetrics::new(self.cloudwatch.clone()),
            ),
            config,
        )
    }

    pub async fn create_function(&self, name: &str, message: &str) {
        // Lambda's default timeout.
        self.create_python(name, &hello_code(message), 3).await;
    }

    /// Puts `code` (one Python file) in place and publishes it: the version.
    pub async fn publish_code(&self, name: &str, code: &str) -> String {
        self.lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(one_file_zip("lambda_function.py", code)))
            .send()
            .await
            .expect("update_function_code");
        self.wait_updated(name).await;
        let v = self
            .lambda
            .publish_version()
            .function_name(name)
            .send()
            .await
            .expect("publish_version");
        v.version().unwrap().to_string()
    }

    /// A Python function of one file, `lambda_function.lambda_handler`.
    pub async fn create_python(&self, name: &str, code: &str, timeout: i32) {
        self.lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Python312)
            .handler("lambda_function.lambda_handler")
            .role(ROLE)
            .timeout(timeout)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(one_file_zip("lambda_function.py", code)))
                    .build(),
            )
            .send()
            .await
            .expect("create_function");
        self.wait_updated(name).await;
    }

    pub async fn wait_updated(&self, name: &str) {
        for _ in 0..100 {
            let f = self
                .lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .expect("get_function_configuration");
            let active = f.state().map(|s| s.as_str()) == Some("Active");
            let updated = f
                .last_update_status()
                .map(|s| s.as_str() == "Successful")
                .unwrap_or(true);
            if active && updated {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("function {name} did not become Active");
    }

    /// Puts new code in place and publishes it: returns the version number.
    pub async fn publish(&self, name: &str, message: &str) -> String {
        self.publish_with_role(name, message, ROLE).await
    }

    pub async fn publish_with_role(&self, name: &str, message: &str, role: &str) -> String {
        self.lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(hello_zip(message)))
            .send()
            .await
            .expect("update_function_code");
        self.wait_updated(name).await;
        let current_role = self
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap()
            .role()
            .unwrap_or_default()
            .to_string();
        if current_role != role {
            self.lambda
                .update_function_configuration()
                .function_name(name)
                .role(role)
                .send()
                .await
                .expect("update_function_configuration");
            self.wait_updated(name).await;
        }
        let v = self
            .lambda
            .publish_version()
            .function_name(name)
            .description(message)
            .send()
            .await
            .expect("publish_version");
        v.version().unwrap().to_string()
    }

    /// The seed's setup under a fresh name: version 1 "Blue", version 2
    /// "Green", and the alias `live` on version 1. Returns the function name.
    pub async fn blue_green(&self, prefix: &str) -> String {
        let f = unique(prefix);
        self.create_function(&f, "Hello From Blue Deployment").await;
        assert_eq!(self.publish(&f, "Hello From Blue Deployment").await, "1");
        assert_eq!(self.publish(&f, "Hello From Green Deployment").await, "2");
        self.create_alias(&f, "live", "1").await;
        f
    }

    pub async fn create_alias(&self, name: &str, alias: &str, version: &str) {
        self.lambda
            .create_alias()
            .function_name(name)
            .name(alias)
            .function_version(version)
            .send()
            .await
            .expect("create_alias");
    }

    /// The alias exactly as the emulator holds it, for before/after comparisons.
    pub async fn alias_raw(&self, name: &str, alias: &str) -> AliasView {
        let a = self
            .lambda
            .get_alias()
            .function_name(name)
            .name(alias)
            .send()
            .await
            .expect("get_alias");
        let mut weights: Vec<(String, f64)> = a
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        weights.sort_by(|x, y| x.0.cmp(&y.0));
        AliasView {
            function_version: a.function_version().unwrap_or_default().to_string(),
            weights,
            description: a.description().unwrap_or_default().to_string(),
            revision_id: a.revision_id().unwrap_or_default().to_string(),
        }
    }

    /// What a human in the console does: set the routing directly.
    pub async fn set_routing(
        &self,
        name: &str,
        alias: &str,
        version: Option<&str>,
        green: Option<(&str, f64)>,
    ) {
        let weights = green
            .map(|(v, w)| [(v.to_string(), w)].into_iter().collect())
            .unwrap_or_default();
        let mut req = self
            .lambda
            .update_alias()
            .function_name(name)
            .name(alias)
            .routing_config(
                AliasRoutingConfiguration::builder()
                    .set_additional_version_weights(Some(weights))
                    .build(),
            );
        if let Some(v) = version {
            req = req.function_version(v);
        }
        req.send().await.expect("update_alias by hand");
    }

    /// Writes the per-minute metrics Lambda emits for one version invoked through
    /// the alias: `Invocations`, `Errors` and `Duration` (around 100 ms) with the
    /// `ExecutedVersion` dimensions.
    pub async fn put_version_minute(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        minute: UtcTime,
        invocations: u64,
        errors: u64,
    ) {
        self.put_version_minute_ms(function, alias, version, minute, invocations, errors, 100.0)
            .await
    }

    /// As `put_version_minute`, with durations around `typical_ms`: most
    /// requests take it, 1% take twice as long (so p99 lands on 2x).
    #[allow(clippy::too_many_arguments)]
    pub async fn put_version_minute_ms(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        minute: UtcTime,
        invocations: u64,
        errors: u64,
        typical_ms: f64,
    ) {
        // 1% of requests (rounded down) take twice as long.
        let slow = invocations / 100;
        let durations = |d: aws_sdk_cloudwatch::types::builders::MetricDatumBuilder| {
            d.set_values(Some(vec![typical_ms, typical_ms * 0.8, typical_ms * 2.0]))
                .set_counts(Some(vec![
                    (invocations - slow) as f64 / 2.0,
                    (invocations - slow) as f64 / 2.0,
                    slow as f64,
                ]))
        };
        self.put_minute(
            function,
            alias,
            version,
            minute,
            invocations,
            errors,
            durations,
        )
        .await
    }

    /// As `put_version_minute`, with `Duration` as a statistic set (count,
    /// sum, min, max around 100 ms) instead of a distribution: the emulator
    /// stores a distribution as one row per request, which a long run of
    /// thousands of requests a minute cannot afford. Only `Average` and the
    /// extremes can be read back: for policies with `"latency_stat":"Average"`.
    pub async fn put_version_minute_summary(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        minute: UtcTime,
        invocations: u64,
        errors: u64,
    ) {
        let durations = |d: aws_sdk_cloudwatch::types::builders::MetricDatumBuilder| {
            d.statistic_values(duration_summary(invocations as f64))
        };
        self.put_minute(
            function,
            alias,
            version,
            minute,
            invocations,
            errors,
            durations,
        )
        .await
    }

    /// One minute of one version's metrics, `Duration` shaped by `durations`.
    #[allow(clippy::too_many_arguments)]
    async fn put_minute(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        minute: UtcTime,
        invocations: u64,
        errors: u64,
        durations: impl Fn(
            aws_sdk_cloudwatch::types::builders::MetricDatumBuilder,
        ) -> aws_sdk_cloudwatch::types::builders::MetricDatumBuilder,
    ) {
        let dims = version_dimensions(function, alias, version);
        let datum = |name: &str| {
            MetricDatum::builder()
                .metric_name(name)
                .set_dimensions(Some(dims.clone()))
                .timestamp(DateTime::from_secs(minute.unix()))
        };
        let count = |name: &str, value: u64| {
            datum(name)
                .value(value as f64)
                .unit(StandardUnit::Count)
                .build()
        };
        let mut data = vec![count("Invocations", invocations)];
        if invocations > 0 {
            data.push(
                durations(datum("Duration"))
                    .unit(StandardUnit::Milliseconds)
                    .build(),
            );
        }
        // Lambda leaves Errors out in minutes without errors; so do we, which
        // exercises "missing Errors with invocations present means zero".
        if errors > 0 {
            data.push(count("Errors", errors));
        }
        self.cloudwatch
            .put_metric_data()
            .namespace("AWS/Lambda")
            .set_metric_data(Some(data))
            .send()
            .await
            .expect("put_metric_data");
    }

    /// Runs the handler on a payload; panics on a handler error.
    pub async fn run(&self, config: &Config, payload: Value, now: UtcTime) -> Value {
        let h = self.handler(config.clone());
        let resp = h
            .handle(&payload, now)
            .await
            .unwrap_or_else(|e| panic!("{payload}: {e}"));
        serde_json::to_value(resp).unwrap()
    }
}

/// `Duration` over `invocations` requests as a statistic set: 100 ms on
/// average, 80 at least, 200 at most.
pub fn duration_summary(invocations: f64) -> aws_sdk_cloudwatch::types::StatisticSet {
    aws_sdk_cloudwatch::types::StatisticSet::builder()
        .sample_count(invocations)
        .sum(100.0 * invocations)
        .minimum(80.0)
        .maximum(200.0)
        .build()
}

/// The dimension set Lambda gives a version's metrics when called through an alias.
pub fn version_dimensions(function: &str, alias: &str, version: &str) -> Vec<Dimension> {
    vec![
        Dimension::builder()
            .name("FunctionName")
            .value(function)
            .build(),
        Dimension::builder()
            .name("Resource")
            .value(format!("{function}:{alias}"))
            .build(),
        Dimension::builder()
            .name("ExecutedVersion")
            .value(version)
            .build(),
    ]
}

#[derive(Debug, Clone, PartialEq)]
pub struct AliasView {
    pub function_version: String,
    pub weights: Vec<(String, f64)>,
    pub description: String,
    pub revision_id: String,
}

impl AliasView {
    /// The routing weight (a fraction) of `version`, 0 if it gets none.
    pub fn weight_of(&self, version: &str) -> f64 {
        self.weights
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, w)| *w)
            .unwrap_or(0.0)
    }
}

/// A simulated clock starting in the recent past on a minute boundary, so
/// metrics written "at" simulated minutes are plausible to CloudWatch.
pub fn sim_start() -> UtcTime {
    UtcTime::from_unix(UtcTime::now().unix() - 3 * 3600).floor_minute()
}

impl Emulator {
    /// A simulated start whose next two hours hold no metrics of `function`'s
    /// alias `live` (versions 1 to 9):
    /// CloudWatch keeps metrics of a deleted and re-created function, and a
    /// rerun must not add its traffic to an earlier run's.
    pub async fn clean_sim_start(&self, function: &str) -> UtcTime {
        let mut t = sim_start();
        for _ in 0..160 {
            let end = UtcTime::from_unix(t.unix() + 2 * 3600);
            let out = self
                .cloudwatch
                .get_metric_data()
                .start_time(DateTime::from_secs(t.unix()))
                .end_time(DateTime::from_secs(end.unix()))
                .set_metric_data_queries(Some(
                    (1..=9)
                        .map(|v| {
                            aws_sdk_cloudwatch::types::MetricDataQuery::builder()
                                .id(format!("v{v}"))
                                .metric_stat(
                                    aws_sdk_cloudwatch::types::MetricStat::builder()
                                        .metric(
                                            aws_sdk_cloudwatch::types::Metric::builder()
                                                .namespace("AWS/Lambda")
                                                .metric_name("Invocations")
                                                .set_dimensions(Some(version_dimensions(
                                                    function,
                                                    "live",
                                                    &v.to_string(),
                                                )))
                                                .build(),
                                        )
                                        .period(7200)
                                        .stat("SampleCount")
                                        .build(),
                                )
                                .build()
                        })
                        .collect(),
                ))
                .send()
                .await;
            let used = match out {
                Ok(o) => o
                    .metric_data_results()
                    .iter()
                    .any(|r| !r.values().is_empty()),
                Err(_) => true,
            };
            if !used {
                return t;
            }
            t = UtcTime::from_unix(t.unix() - 2 * 3600);
        }
        panic!("no clean two hours in the last two weeks for {function}")
    }
}

/// Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in
/// the file at `path` with `section` (which carries the markers), or appends
/// it under `heading` the first time: how the benchmarks and the fault suite
/// write their tables into BENCHMARKS.md.
/// A benchmark's `--write PATH` argument: where its table goes.
pub fn write_arg() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
        .cloned()
}

pub fn write_section(path: &str, name: &str, heading: &str, section: &str) {
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(a), Some(b)) => format!(
            "{}{}{}",
            &old[..a],
            section.trim_end(),
            &old[b + end.len()..]
        ),
        _ => format!(
            "{}\n\n## {heading}\n\n{}\n",
            old.trim_end(),
            section.trim_end()
        ),
    };
    std::fs::write(path, new).unwrap_or_else(|e| panic!("write {path}: {e}"));
    eprintln!("{name}: table written to {path}");
}

/// Versions 1 to `n`, published.
pub fn published(n: u64) -> Vec<lambda_rollout::engine::PublishedVersion> {
    (1..=n)
        .map(|v| lambda_rollout::engine::PublishedVersion {
            version: lambda_rollout::model::Version::new(v).unwrap(),
            role: "arn:aws:iam::123456789012:role/app".into(),
            dead_letter_target: None,
        })
        .collect()
}

/// A fleet in memory, each function's alias `live`: the first `rolling`
/// mid-rollout (version 2 at 10% since a minute before `now`), the others
/// idle on version 1, the only one published.
pub fn fleet_store(
    names: &[String],
    rolling: usize,
    now: UtcTime,
) -> lambda_rollout::memory::MemoryAliases {
    use lambda_rollout::engine::AliasState;
    use lambda_rollout::model::{Target, Version};
    let store = lambda_rollout::memory::MemoryAliases::new(std::time::Duration::ZERO);
    for (i, f) in names.iter().enumerate() {
        let t = Target::new(f, "live").unwrap();
        if i < rolling {
            store.set(&t, rolling_alias(UtcTime::from_unix(now.unix() - 60)));
            store.publish(f, published(2));
        } else {
            let idle = AliasState {
                stable: Version::new(1).unwrap(),
                canary: None,
                description: String::new(),
            };
            store.set(&t, idle);
            store.publish(f, published(1));
        }
    }
    store
}

/// An alias mid-rollout as lambda-rollout leaves it: version 2 at 10% over
/// version 1 since `since`, the record in the description.
pub fn rolling_alias(since: UtcTime) -> lambda_rollout::engine::AliasState {
    use lambda_rollout::engine::{AliasState, Canary, Description, Phase, Record, Rollout};
    use lambda_rollout::model::{Version, Weight};
    let (green, blue) = (Version::new(2).unwrap(), Version::new(1).unwrap());
    let weight = Weight::from_percent(10.0).unwrap();
    let record = Record {
        rollout: Some(Rollout {
            phase: Phase::Rolling,
            green,
            blue,
            weight,
            since,
            started: since,
            fails: 0,
            approved: false,
            tally: None,
        }),
        rolled_back: None,
        group: None,
    };
    AliasState {
        stable: blue,
        canary: Some(Canary {
            version: green,
            weight,
        }),
        description: Description {
            user_text: String::new(),
            record,
        }
        .render(),
    }
}

/// http_get's error when the connection closed before any byte of an answer.
pub const CLOSED_BEFORE_ANSWER: &str = "the gateway closed before answering";

/// GET `path` on the emulator's gateway at `port`, one connection a request:
/// the status and the body. The gateway keeps connections open whatever the
/// request says, so the body is read by its Content-Length.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::Error::other(if head.is_empty() {
                CLOSED_BEFORE_ANSWER
            } else {
                "the gateway closed mid-answer"
            }));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    s.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).to_string()))
}

/// The demo app (demo/hello/app.py) with its MESSAGE replaced and, with
/// `fails`, a handler that raises: a version to publish.
pub fn demo_app_zip(message: &str, fails: bool) -> Vec<u8> {
    let mut app =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/demo/hello/app.py"))
            .expect("demo/hello/app.py")
            .replace("\"Hello From Blue Deployment\"", &format!("{message:?}"));
    if fails {
        app.push_str(
            "\n\ndef lambda_handler(event, context):\n    raise RuntimeError(\"this version is broken\")\n",
        );
    }
    one_file_zip("app.py", &app)
}

impl Emulator {
    /// lambda-rollout's reading of `function`'s alias `live` since `since`
    /// (green and blue per `ExecutedVersion`), polled until `done` holds for
    /// it (Lambda's metrics are published a moment after each invocation):
    /// the last reading, and whether `done` held.
    pub async fn observe_until(
        &self,
        function: &str,
        (green, blue): (&str, &str),
        since: UtcTime,
        done: impl Fn(&lambda_rollout::engine::Observation) -> bool,
    ) -> (lambda_rollout::engine::Observation, bool) {
        use lambda_rollout::ports::MetricsRead;
        let metrics = CloudWatchMetrics::new(self.cloudwatch.clone());
        let start = since.floor_minute();
        let end = UtcTime::from_unix(UtcTime::now().floor_minute().unix() + 120);
        let request = lambda_rollout::engine::MetricsRequest {
            target: lambda_rollout::model::Target::new(function, "live").unwrap(),
            green: lambda_rollout::model::Version::parse(green).unwrap(),
            blue: lambda_rollout::model::Version::parse(blue).unwrap(),
            start,
            end,
            rollout_start: start,
            fresh_end: end,
            blue_window: None,
            latency_stat: lambda_rollout::policy::LatencyStat::parse("p99").unwrap(),
            alarms: Vec::new(),
            custom: Vec::new(),
            custom_start: start,
        };
        let mut last = None;
        for _ in 0..100 {
            let o = metrics
                .observe(std::slice::from_ref(&request))
                .await
                .remove(0)
                .unwrap();
            if done(&o) {
                return (o, true);
            }
            last = Some(o);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        (last.expect("observed"), false)
    }
}

/// A version's code: it answers its colour; "broken" raises on every
/// request, "checkout" only on requests for /checkout (a path the canary's
/// small share never met).
pub fn app(colour: &str, mode: &str) -> String {
    format!(
        "def lambda_handler(event, context):\n    \
         if {mode:?} == 'broken' or ({mode:?} == 'checkout' and event.get('path') == '/checkout'):\n        \
         raise RuntimeError('this version is broken')\n    \
         return {{'statusCode': 200, 'body': {colour:?}}}\n"
    )
}

/// Version 1 "blue" (healthy) and version 2 "green" in `mode`, the alias
/// `live` on version 1.
pub async fn blue_and(em: &Emulator, prefix: &str, mode: &str) -> String {
    let f = unique(prefix);
    em.create_function(&f, "blue").await;
    for (colour, mode) in [("blue", "healthy"), ("green", mode)] {
        em.publish_code(&f, &app(colour, mode)).await;
    }
    em.create_alias(&f, "live", "1").await;
    f
}

/// Calls the alias `n` times with `path`, as users would: the versions that
/// answered, and how many raised.
pub async fn traffic(em: &Emulator, f: &str, n: usize, path: &str) -> (Vec<String>, usize) {
    let (mut executed, mut errors) = (Vec::new(), 0);
    for _ in 0..n {
        let out = em
            .lambda
            .invoke()
            .function_name(f)
            .qualifier("live")
            .payload(Blob::new(serde_json::json!({ "path": path }).to_string()))
            .send()
            .await
            .unwrap();
        executed.push(out.executed_version().unwrap_or_default().to_string());
        errors += usize::from(out.function_error().is_some());
    }
    (executed, errors)
}
