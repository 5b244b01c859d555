//! Pre- and post-traffic checks at the wire (#14): the real SDK against the
//! emulator, hooks and green versions that really run. Each check runs in an
//! invocation of lambda-rollout of its own, here the CLI binary started as a
//! process (as a Lambda it would invoke itself asynchronously), which calls
//! the hook and records the answer in the alias; the in-process handler only
//! starts rollouts and ticks. A passing hook, a failing one, one that times
//! out, a check whose answer never comes, a green that fails its smoke
//! invokes and never gets traffic, and a post-traffic check before the
//! promotion.

mod common;

use std::time::Duration;

use common::{emulator, unique, Emulator};
use lambda_rollout::aws::{CloudWatchMetrics, DispatchTo, LambdaAliases, LambdaChecks};
use lambda_rollout::config::Config;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

type Checked =
    Handler<LambdaAliases, CloudWatchMetrics, lambda_rollout::ports::NoAudit, LambdaChecks>;

/// The handler with checks dispatched to `binary` (the CLI, or one that
/// never runs them).
/// Where the checks' own invocations write their results.
fn log_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("lambda-rollout-checks-{}.log", std::process::id()))
}

fn handler(em: &Emulator, binary: &str) -> Checked {
    let log = log_path();
    Handler::new(
        Executor::new(
            LambdaAliases::new(em.lambda.clone()),
            CloudWatchMetrics::new(em.cloudwatch.clone()),
        )
        .with_checks(LambdaChecks::new(
            em.lambda.clone(),
            DispatchTo::Process {
                binary: binary.into(),
                log,
            },
        )),
        Config::from_values(None, None),
    )
}

const CLI: &str = env!("CARGO_BIN_EXE_lambda-rollout");

/// A hook: answers `answer` after `sleep` seconds, quoting the event's green
/// and blue in a `seen` field so a test can see what it was told.
fn hook_code(answer: &str, sleep: u32) -> String {
    format!(
        "import json, time\n\
         def lambda_handler(event, context):\n    \
         time.sleep({sleep})\n    \
         answer = json.loads({answer:?})\n    \
         answer['seen'] = {{k: event.get(k) for k in ('check', 'green', 'blue', 'green_function')}}\n    \
         return answer\n"
    )
}

async fn hook(em: &Emulator, prefix: &str, answer: Value, sleep: u32) -> String {
    let name = unique(prefix);
    em.create_python(&name, &hook_code(&answer.to_string(), sleep), 30)
        .await;
    name
}

/// Version 1 healthy, version 2 `broken` or not (raising on every call), the
/// alias `live` on 1.
async fn function(em: &Emulator, prefix: &str, broken: bool) -> String {
    let f = unique(prefix);
    em.create_function(&f, "blue").await;
    for raise in [false, broken] {
        let body = if raise {
            "    raise RuntimeError('version 2 is broken')\n"
        } else {
            "    return {'statusCode': 200, 'body': 'ok'}\n"
        };
        em.publish_code(&f, &format!("def lambda_handler(event, context):\n{body}"))
            .await;
    }
    em.create_alias(&f, "live", "1").await;
    f
}

async fn run(h: &Checked, payload: Value, now: UtcTime) -> Value {
    let r = h
        .handle(&payload, now)
        .await
        .unwrap_or_else(|e| panic!("{payload}: {e}"));
    serde_json::to_value(r).unwrap()
}

fn start(f: &str, policy: Value) -> Value {
    json!({"action": "start", "function": f, "alias": "live", "version": 2, "policy": policy})
}

fn first(out: &Value) -> (&str, &str) {
    let r = &out["results"][0];
    (
        r["decision"].as_str().unwrap(),
        r["reason"].as_str().unwrap(),
    )
}

/// Waits for the check's own invocation to record its answer: the alias
/// once its record no longer says `checking`, and every state seen before.
async fn settled(em: &Emulator, f: &str) -> (common::AliasView, Vec<common::AliasView>) {
    let mut seen = Vec::new();
    for _ in 0..240 {
        let a = em.alias_raw(f, "live").await;
        if !a.description.contains(" checking ") {
            return (a, seen);
        }
        seen.push(a);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the check of {f} never answered: {:?}", seen.last());
}

#[tokio::test]
async fn a_passing_hook_is_told_the_versions_and_lets_green_have_its_first_step() {
    let em = emulator().await;
    let f = function(&em, "pre-pass", false).await;
    // The hook takes a second, so that the alias is normally read while
    // checked; the start's own write is what proves green got no traffic
    // (a read right after it raced a fast check's answer under load).
    let smoke = hook(&em, "hook-pass", json!({"status": "Succeeded"}), 1).await;
    let h = handler(&em, CLI);
    let policy = json!({"steps": [10, 100], "pre_traffic": {"function": smoke}});
    let out = run(&h, start(&f, policy), UtcTime::now()).await;
    let (decision, reason) = first(&out);
    assert_eq!(decision, "started", "{out}");
    assert!(
        reason.contains("the pre-traffic check runs first"),
        "{reason}"
    );
    assert_eq!(
        out["results"][0]["weight_after"], 0.0,
        "no traffic yet: {out}"
    );

    let (after, before) = settled(&em, &f).await;
    assert!(
        before.iter().all(|a| a.weights.is_empty()),
        "green had no weight while checked: {before:?}"
    );
    assert_eq!(after.weight_of("2"), 0.1, "{after:?}");
    assert!(
        after.description.contains("rolling green=2 blue=1 w=10"),
        "{after:?}"
    );
    // The hook was told which version is under test: its answer, which
    // echoes what it was told, is quoted in the check's own result.
    let log = std::fs::read_to_string(log_path()).unwrap();
    let result = log
        .lines()
        .find(|l| l.contains(&f) && l.contains("check_passed"))
        .unwrap_or_else(|| panic!("no result for {f} in {log}"));
    for told in [
        r#""green": "2""#,
        r#""blue": "1""#,
        r#""check": "pre_traffic""#,
    ] {
        assert!(result.contains(told), "{told} in {result}");
    }
    assert!(result.contains(&format!("{f}:2")), "{result}");
    let status = run(
        &h,
        json!({"action": "status", "function": f, "alias": "live"}),
        UtcTime::now(),
    )
    .await;
    assert_eq!(status["results"][0]["canary"], "2", "{status}");
}

#[tokio::test]
async fn a_failing_hook_rolls_back_before_green_ever_has_traffic_quoting_the_answer() {
    let em = emulator().await;
    let f = function(&em, "pre-fail", false).await;
    let smoke = hook(
        &em,
        "hook-fail",
        json!({"status": "Failed", "reason": "smoke test: /health answered 500"}),
        0,
    )
    .await;
    let h = handler(&em, CLI);
    run(
        &h,
        start(&f, json!({"pre_traffic": {"function": smoke}})),
        UtcTime::now(),
    )
    .await;
    let (after, before) = settled(&em, &f).await;
    assert!(before.iter().all(|a| a.weights.is_empty()), "{before:?}");
    assert_eq!(
        (after.function_version.as_str(), after.weights.len()),
        ("1", 0)
    );
    assert!(after.description.contains("idle rb=2"), "{after:?}");
    // The runner's result is in its log; the next tick reports the state.
    let out = run(
        &h,
        json!({"action": "status", "function": f, "alias": "live"}),
        UtcTime::now(),
    )
    .await;
    assert!(
        first(&out).1.contains("version 2 was rolled back earlier"),
        "{out}"
    );
}

#[tokio::test]
async fn a_hook_that_outlives_its_timeout_fails_the_check() {
    let em = emulator().await;
    let f = function(&em, "pre-slow", false).await;
    let slow = hook(&em, "hook-slow", json!({"status": "Succeeded"}), 10).await;
    let h = handler(&em, CLI);
    let began = std::time::Instant::now();
    run(
        &h,
        start(
            &f,
            json!({"pre_traffic": {"function": slow, "timeout": "3s"}}),
        ),
        UtcTime::now(),
    )
    .await;
    let (after, _) = settled(&em, &f).await;
    assert!(
        began.elapsed() < Duration::from_secs(9),
        "answered at the timeout, not when the hook returned"
    );
    assert_eq!(after.weights.len(), 0);
    assert!(after.description.contains("idle rb=2"), "{after:?}");
}

#[tokio::test]
async fn a_check_whose_answer_never_comes_is_failed_by_a_tick_after_its_timeout() {
    let em = emulator().await;
    let f = function(&em, "pre-lost", false).await;
    let smoke = hook(&em, "hook-lost", json!({"status": "Succeeded"}), 0).await;
    // The check is handed to a process that never runs it.
    let h = handler(&em, "/bin/true");
    let policy = json!({"pre_traffic": {"function": smoke, "timeout": "2m"}});
    let t0 = UtcTime::now();
    run(&h, start(&f, policy.clone()), t0).await;
    let tick =
        json!({"action": "tick", "targets": [{"function": f, "alias": "live", "policy": policy}]});
    let out = run(&h, tick.clone(), t0.plus(Duration::from_secs(150))).await;
    let (decision, reason) = first(&out);
    assert_eq!(decision, "held", "{out}");
    assert!(reason.contains("holding until it answers"), "{reason}");
    let out = run(&h, tick, t0.plus(Duration::from_secs(181))).await;
    let (decision, reason) = first(&out);
    assert_eq!(decision, "rolled_back", "{out}");
    assert!(
        reason.contains("no answer within its timeout of 2m"),
        "{reason}"
    );
    assert_eq!(em.alias_raw(&f, "live").await.weights.len(), 0);
}

#[tokio::test]
async fn a_green_that_fails_its_smoke_invokes_never_gets_traffic() {
    let em = emulator().await;
    let broken = function(&em, "smoke-broken", true).await;
    let healthy = function(&em, "smoke-healthy", false).await;
    let h = handler(&em, CLI);
    let policy =
        json!({"steps": [25, 100], "pre_traffic": {"invoke": {"path": "/health"}, "times": 3}});
    for f in [&broken, &healthy] {
        run(&h, start(f, policy.clone()), UtcTime::now()).await;
    }
    let (after, before) = settled(&em, &broken).await;
    assert!(before.iter().all(|a| a.weights.is_empty()));
    assert_eq!(after.weights.len(), 0);
    assert!(after.description.contains("idle rb=2"), "{after:?}");
    let (after, _) = settled(&em, &healthy).await;
    assert_eq!(after.weight_of("2"), 0.25, "{after:?}");
    // Green's smoke invokes went to version 2 directly, never through the alias.
    let (o, _) = em
        .observe_until(
            &healthy,
            ("2", "1"),
            UtcTime::now().minus(Duration::from_secs(300)),
            |o| o.green.invocations == 0,
        )
        .await;
    assert_eq!(o.green.invocations, 0, "{o:?}");
}

#[tokio::test]
async fn a_post_traffic_check_runs_after_the_last_step_and_before_the_promotion() {
    let em = emulator().await;
    let f = function(&em, "post", false).await;
    // A second's hook, as in the pre-traffic test: the tick's own result
    // proves the check held green at its last step.
    let smoke = hook(&em, "hook-post", json!({"status": "Succeeded"}), 1).await;
    let h = handler(&em, CLI);
    let policy = json!({"steps": [50, 100], "bake": "0s", "metric_lag": "0s",
        "min_invocations": 10, "error_floor": 10, "latency_stat": "Average",
        "post_traffic": {"function": smoke}});
    let began = UtcTime::now().minus(Duration::from_secs(60));
    run(&h, start(&f, policy.clone()), began).await;
    for _ in 0..200 {
        em.lambda
            .invoke()
            .function_name(&f)
            .qualifier("live")
            .send()
            .await
            .unwrap();
    }
    let tick =
        json!({"action": "tick", "targets": [{"function": f, "alias": "live", "policy": policy}]});
    let mut out = Value::Null;
    for _ in 0..40 {
        out = run(
            &h,
            tick.clone(),
            UtcTime::now().plus(Duration::from_secs(120)),
        )
        .await;
        if first(&out).0 != "held" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (decision, reason) = first(&out);
    assert_eq!(decision, "checking", "{out}");
    assert!(
        reason.contains("the post-traffic check runs before the promotion"),
        "{reason}"
    );
    assert_eq!(
        out["results"][0]["weight_after"], 50.0,
        "still at the last step: {out}"
    );
    let (after, _) = settled(&em, &f).await;
    assert_eq!(
        (after.function_version.as_str(), after.weights.len()),
        ("2", 0),
        "{after:?}"
    );
}
