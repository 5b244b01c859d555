//! Fault injection: the real handler, executor and adapters against the
//! emulator, through a proxy that injects faults (tests/common/faults.rs), in
//! seeded random scenarios. After every operation the invariants are checked:
//!
//! 1. no weight increase or promotion by a tick without a pass verdict on
//!    complete data (the last GetMetricData answer before the write was the
//!    emulator's own), and never for a bad green;
//! 2. the alias only ever points at existing published versions;
//! 3. the alias is as it was, or at a state written by the engine or the rival:
//!    nothing else, and its description always parses;
//! 4. every write of ours is a compare-and-swap on the RevisionId current at
//!    that moment: a rival's write is never overwritten.
//!
//! `make test` runs FAULT_SCENARIOS (default 30); `make faults` runs 1,000 and
//! writes the figures into BENCHMARKS.md.

mod common;

use std::time::Duration;

use aws_sdk_lambda::types::AliasRoutingConfiguration;
use common::faults::{
    conclude, exchanges, faulty_clients, knobs, replay, Exchange, FaultProxy, Report, Wire,
};
use common::{emulator, sim_start, Emulator};
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases};
use lambda_rollout::config::Config;
use lambda_rollout::engine::Description;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::memory::Rng;
use lambda_rollout::model::UtcTime;
use serde_json::json;

const FUNCTIONS: usize = 6;
/// Operations per scenario, a minute apart: a start, then ticks and manual
/// commands. Each scenario has a quarter hour of simulated time of its own.
const OPERATIONS: usize = 8;
const _: () = assert!(OPERATIONS < 15);
/// Requests a minute to the alias.
const RPM: u64 = 3000;
const PUBLISHED: [&str; 3] = ["1", "2", "3"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_never_break_the_invariants() {
    // Lanes as in the group suite: a scenario mostly waits on timeouts and
    // backoff, so lanes of scenarios at once, each with its own proxy and
    // functions, share the machine well.
    let (scenarios, seed, lanes) = knobs(30);
    let em = emulator().await;
    let started = std::time::Instant::now();
    let report = Report::of_lanes(lanes, |lane| run_lane(&em, seed, lane, lanes, scenarios)).await;
    let text = render(&report, scenarios, seed, lanes, started.elapsed());
    conclude(
        &text,
        ("faults", "Fault injection"),
        &report.violations,
        (report.operations, scenarios * OPERATIONS),
    );
}

/// Scenarios `lane`, `lane + lanes`, ... of `scenarios` on this lane's proxy
/// and functions. Scenario `i` keeps its time and seed whatever the lanes;
/// lane 0's proxy has the suite's seed, so one lane runs as before lanes.
async fn run_lane(em: &Emulator, seed: u64, lane: usize, lanes: usize, scenarios: usize) -> Report {
    let (proxy, lambda, cloudwatch) = faulty_clients(em, seed ^ (lane as u64) << 40).await;
    let handler = Handler::new(
        Executor::new(
            LambdaAliases::new(lambda),
            CloudWatchMetrics::new(cloudwatch),
        ),
        Config::from_values(None, None),
    );
    let mut pool = Vec::new();
    for _ in 0..FUNCTIONS {
        let f = em.blue_green("faults").await;
        em.publish(&f, "blue again").await; // version 3
        pool.push(f);
    }
    let base = UtcTime::from_unix(sim_start().unix() - 12 * 24 * 3600);
    let mut report = Report::default();
    for i in (lane..scenarios).step_by(lanes) {
        let f = &pool[i % FUNCTIONS];
        // Each scenario has its own stretch of simulated time, so the metrics
        // of earlier scenarios on the same function never leak in.
        let t0 = UtcTime::from_unix(base.unix() + i as i64 * 15 * 60);
        scenario(
            em,
            &handler,
            &proxy,
            f,
            t0,
            seed ^ (i as u64) << 16,
            &mut report,
        )
        .await;
        report.scenarios += 1;
    }
    report
}

async fn scenario(
    em: &Emulator,
    handler: &Handler<LambdaAliases, CloudWatchMetrics>,
    proxy: &FaultProxy,
    f: &str,
    t0: UtcTime,
    seed: u64,
    report: &mut Report,
) {
    let mut rng = Rng::new(seed);
    // Reset by hand, without faults: version 1, no routing, no record.
    proxy.set_rate(0.0);
    em.lambda
        .update_alias()
        .function_name(f)
        .name("live")
        .function_version("1")
        .description("")
        .routing_config(AliasRoutingConfiguration::builder().build())
        .send()
        .await
        .expect("reset");
    let green_bad = rng.next_f64() < 0.4;
    let rate = 0.1 + 0.4 * rng.next_f64();
    proxy.set_rate(rate);
    let policy = json!({"steps":[10, 50, 100], "bake":"1m", "metric_lag":"1m",
                        "min_invocations":20, "error_floor":5, "latency_stat":"Average"});
    let mut now = t0;
    let mut started = false;
    for _ in 0..OPERATIONS {
        let payload = if !started {
            json!({"action":"start","function":f,"alias":"live","version":"2","policy":policy})
        } else {
            // A minute of traffic, split as the alias really is.
            proxy.set_rate(0.0);
            let (live, _) = wire(em, f).await;
            let share = live.green_share("2");
            let green = (RPM as f64 * share).round() as u64;
            let minute = UtcTime::from_unix(now.unix() - 60);
            let rate_of = |bad: bool| if bad { 15.0 } else { 0.5 };
            let errors = |n: u64, pct: f64| ((n as f64) * pct / 100.0).round() as u64;
            if green > 0 {
                let e = errors(green, rate_of(green_bad));
                em.put_version_minute_summary(f, "live", "2", minute, green, e)
                    .await;
            }
            if green < RPM {
                let blue_version = if live.version == "2" {
                    "1"
                } else {
                    &live.version
                };
                let e = errors(RPM - green, 0.5);
                em.put_version_minute_summary(f, "live", blue_version, minute, RPM - green, e)
                    .await;
            }
            proxy.set_rate(rate);
            let r = rng.next_f64();
            if r < 0.08 {
                json!({"action":"rollback","function":f,"alias":"live","reason":"fault suite"})
            } else if r < 0.12 {
                json!({"action":"promote","function":f,"alias":"live"})
            } else if r < 0.17 {
                json!({"action":"pause","function":f,"alias":"live"})
            } else if r < 0.22 {
                json!({"action":"resume","function":f,"alias":"live"})
            } else {
                json!({"action":"tick","targets":[{"function":f,"alias":"live","policy":policy}]})
            }
        };
        proxy.set_rate(0.0);
        let (before, before_revision) = wire(em, f).await;
        proxy.take_log().await;
        proxy.set_rate(rate);
        let op_started = std::time::Instant::now();
        let result = handler.handle(&payload, now).await;
        let op_time = op_started.elapsed();
        proxy.set_rate(0.0);
        let log = proxy.take_log().await;
        let (after, _) = wire(em, f).await;
        report.operations += 1;
        let action = payload["action"].as_str().unwrap_or_default();
        // A start lost to a fault is tried again, as an operator would.
        started |= action != "start" || after.weights.contains_key("2") || after.version == "2";
        let outcome = match &result {
            Ok(r) => format!("{action}: {}", r.results[0].decision),
            Err(e) => {
                if e.to_string().contains('\n') {
                    report
                        .violations
                        .push(format!("{f} {now}: a multi-line error: {e}"));
                }
                format!("{action}: error")
            }
        };
        if std::env::var_os("FAULT_VERBOSE").is_some() {
            let reason = match &result {
                Ok(r) => r.results[0].reason.clone(),
                Err(e) => e.to_string(),
            };
            println!("{f} {now} {outcome} ({} ms): {reason}", op_time.as_millis());
        }
        *report.outcomes.entry(outcome).or_default() += 1;
        report.count_faults(&log);
        let context = format!(
            "{f} at {now} ({action}, green {})",
            if green_bad { "bad" } else { "healthy" }
        );
        let found = report.violations.len();
        check(
            &context,
            f,
            action,
            green_bad,
            &before,
            &before_revision,
            &log,
            &after,
            &result,
            &mut report.violations,
        );
        for v in &mut report.violations[found..] {
            v.push_str(&exchanges(&log));
        }
        now = UtcTime::from_unix(now.unix() + 60);
    }
}

/// The alias as the wire shows it, and its RevisionId, from one read.
async fn wire(em: &Emulator, f: &str) -> (Wire, String) {
    let a = em.alias_raw(f, "live").await;
    (
        Wire {
            version: a.function_version,
            weights: a.weights.into_iter().collect(),
            description: a.description,
        },
        a.revision_id,
    )
}

#[allow(clippy::too_many_arguments)]
fn check(
    context: &str,
    function: &str,
    action: &str,
    green_bad: bool,
    before: &Wire,
    before_revision: &str,
    log: &[Exchange],
    after: &Wire,
    result: &Result<lambda_rollout::report::Response, lambda_rollout::error::Error>,
    violations: &mut Vec<String>,
) {
    let mut fail = |m: String| violations.push(format!("{context}: {m}"));
    let current = replay(
        function,
        false,
        before,
        before_revision,
        log,
        &mut fail,
        |current, next, clean, fail| {
            if action != "tick" {
                return;
            }
            // 1: more traffic for green only on a pass on complete data.
            let grew = next.green_share("2") > current.green_share("2") + 1e-9;
            if grew && green_bad {
                fail(format!("a bad green advanced: {current:?} -> {next:?}"));
            }
            if grew && clean != Some(true) {
                fail(format!(
                    "green advanced without a complete metrics answer ({clean:?}): {current:?} -> \
                 {next:?}"
                ));
            }
        },
    );
    // 3: nothing but the writes seen happened, and the record parses.
    if *after != current {
        fail(format!(
            "the alias is {after:?}, not the last state written {current:?}"
        ));
    }
    if let Err(e) = Description::parse(&after.description) {
        fail(format!("the description does not parse: {e}"));
    }
    // 2: only published versions, green never routed to itself.
    if !PUBLISHED.contains(&after.version.as_str()) {
        fail(format!("the alias points at {:?}", after.version));
    }
    for (v, w) in &after.weights {
        if !PUBLISHED.contains(&v.as_str()) || *v == after.version || !(0.0..1.0).contains(w) {
            fail(format!(
                "the routing is {:?} over {}",
                after.weights, after.version
            ));
        }
    }
    // 1, as the tick reported it: an advance or promotion carries a pass on
    // complete data.
    if let Ok(r) = result {
        for t in &r.results {
            if matches!(t.decision.label(), "advanced" | "promoted") && action == "tick" {
                let ok = t
                    .health
                    .as_ref()
                    .is_some_and(|h| h.verdict == "pass" && h.complete);
                if !ok {
                    fail(format!("{} without a pass on complete data", t.decision));
                }
            }
        }
    }
}

fn render(r: &Report, scenarios: usize, seed: u64, lanes: usize, elapsed: Duration) -> String {
    let mut t = String::new();
    t.push_str("<!-- faults:begin -->\n");
    t.push_str(&format!(
        "Command: `make faults` (`FAULT_SCENARIOS={scenarios} FAULT_SEED={seed} \
         FAULT_LANES={lanes}`, tests/faults.rs). {} scenarios, {} operations (start, tick, rollback, \
         promote, pause, resume through the real handler, executor and adapters; the emulator behind \
         a fault-injecting proxy on loopback, one per lane of scenarios run at once), in {:.0} s. Invariant violations: **{}**.\n\n",
        r.scenarios,
        r.operations,
        elapsed.as_secs_f64(),
        r.violations.len()
    ));
    t.push_str(&r.tables("operation: outcome"));
    t.push_str("<!-- faults:end -->");
    t
}
