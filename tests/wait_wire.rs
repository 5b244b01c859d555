//! `lambda-rollout wait`, `status` and `list` at the wire (#15): the real
//! binary, run as a pipeline or a person runs it, following rollouts of real
//! functions in the emulator while this test moves them (real ticks on real
//! traffic, and commands). Each way a rollout ends is its own exit code.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{app, blue_and, emulator, finish, json_lines, run_cli, spawn_cli, traffic, Emulator};
use lambda_rollout::config::Config;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_lambda-rollout");

/// The orchestrator's configuration: `f`'s alias live under `policy`.
fn targets(f: &str, policy: &Value) -> String {
    json!([{"function": f, "alias": "live", "policy": policy}]).to_string()
}

/// `wait` on `f`'s alias live, polling every second, with `args`, configured
/// as the orchestrator is (the steps it shows are the policy's).
fn spawn_wait(f: &str, args: &[&str]) -> Child {
    let mut all = vec![
        "wait",
        "--function",
        f,
        "--alias",
        "live",
        "--interval",
        "1s",
    ];
    all.extend(args);
    spawn_cli(
        BIN,
        &all,
        &[("LAMBDA_ROLLOUT_TARGETS", &targets(f, &quick()))],
    )
}

/// A command for `f`, by an orchestrator that manages it under `policy`.
async fn act_under(em: &Emulator, policy: &Value, action: &str, f: &str, extra: Value) -> Value {
    let mut v = json!({"action": action, "function": f, "alias": "live"});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let cfg = Config::from_values(Some(&targets(f, policy)), None);
    let out = em.run(&cfg, v, UtcTime::now()).await;
    out["results"][0].clone()
}

async fn act(em: &Emulator, action: &str, f: &str, extra: Value) -> Value {
    act_under(em, &quick(), action, f, extra).await
}

/// No bake, no lag, a 10% floor: a hundred clean requests are the evidence.
fn quick() -> Value {
    json!({"steps": [50, 100], "bake": "0s", "metric_lag": "0s",
        "min_invocations": 10, "error_floor": 10, "latency_stat": "Average"})
}

/// Ticks (two minutes ahead, so the minutes of the traffic sent are
/// complete) until the decision is not `held`.
async fn tick_until_decided(em: &Emulator, f: &str) -> Value {
    let payload = json!({"action": "tick",
        "targets": [{"function": f, "alias": "live", "policy": quick()}]});
    let cfg = Config::from_values(None, None);
    let mut out = Value::Null;
    for _ in 0..40 {
        let now = UtcTime::now().plus(Duration::from_secs(120));
        out = em.run(&cfg, payload.clone(), now).await["results"][0].clone();
        if out["decision"] != "held" {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    out
}

/// Lets `wait` poll the rollout as it is before the test moves it.
async fn seen() {
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

#[tokio::test]
async fn a_rollout_promoted_on_real_traffic_exits_0() {
    let em = emulator().await;
    let f = blue_and(&em, "wait-promoted", "healthy").await;
    let began = UtcTime::now().minus(Duration::from_secs(60));
    let started = em
        .run(
            &Config::from_values(None, None),
            json!({"action": "start", "function": f, "alias": "live", "policy": quick()}),
            began,
        )
        .await;
    assert_eq!(started["results"][0]["decision"], "started", "{started}");
    // No --version: the rollout in progress is the one followed.
    let child = spawn_wait(&f, &["--json", "--timeout", "100s"]);
    seen().await;
    assert_eq!(traffic(&em, &f, 200, "/").await.1, 0);
    let out = tick_until_decided(&em, &f).await;
    assert_eq!(out["decision"], "promoted", "{out}");

    let (code, lines, err) = finish(child);
    assert_eq!(code, 0, "{lines:?} {err}");
    let lines = json_lines(&lines);
    let first = &lines[0];
    assert_eq!(
        (first["version"].as_str(), first["state"].as_str()),
        (Some("2"), Some("rolling")),
        "{first}"
    );
    assert_eq!(first["status"]["weight_before"], 50.0, "{first}");
    let end = lines.last().unwrap();
    assert_eq!(
        (
            end["end"].as_str(),
            end["exit_code"].as_u64(),
            end["version"].as_str()
        ),
        (Some("promoted"), Some(0), Some("2")),
        "{end}"
    );
    // One object per change, not per poll: the rollout sat at 50% for many
    // polls, and a poll that only moved the clock is not a change.
    assert!(lines.len() <= 6, "{lines:#?}");
}

#[tokio::test]
async fn a_rollback_exits_3_and_says_which_version_took_the_traffic() {
    let em = emulator().await;
    let f = blue_and(&em, "wait-rolledback", "broken").await;
    act(&em, "start", &f, json!({})).await;
    // Lines, not JSON: what a pipeline's log shows.
    let child = spawn_wait(&f, &["--version", "2", "--timeout", "100s"]);
    seen().await;
    let out = act(&em, "rollback", &f, json!({"reason": "on-call"})).await;
    assert_eq!(out["decision"], "rolled_back", "{out}");

    let (code, lines, err) = finish(child);
    assert_eq!(code, 3, "{lines:?} {err}");
    assert!(
        lines[0].contains(&format!("{f}:live v2 rolling at 50% (step 1/2)")),
        "{lines:?}"
    );
    let end = lines.last().unwrap();
    assert!(
        end.starts_with(
            "rolled_back (exit 3): version 2 was rolled back: the alias routes all \
                         traffic to version 1"
        ),
        "{end}"
    );
    assert!(!end.contains('\x1b'), "no colour off a terminal: {end:?}");
}

#[tokio::test]
async fn a_reverted_promotion_exits_3_after_the_watch_it_waited_through() {
    let em = emulator().await;
    let f = blue_and(&em, "wait-reverted", "healthy").await;
    let mut policy = quick();
    policy["watch_after_promote"] = json!("10m");
    act_under(&em, &policy, "start", &f, json!({})).await;
    let child = spawn_wait(&f, &["--json", "--timeout", "100s"]);
    seen().await;
    let out = act_under(&em, &policy, "promote", &f, json!({})).await;
    assert_eq!(out["decision"], "promoted", "{out}");
    // Promoted but watched: not the end yet.
    seen().await;
    let out = act_under(
        &em,
        &policy,
        "revert",
        &f,
        json!({"reason": "checkout broke"}),
    )
    .await;
    assert_eq!(out["decision"], "reverted", "{out}");

    let (code, lines, err) = finish(child);
    assert_eq!(code, 3, "{lines:?} {err}");
    let lines = json_lines(&lines);
    let states: Vec<&str> = lines.iter().filter_map(|l| l["state"].as_str()).collect();
    assert!(states.contains(&"watching"), "{states:?}");
    assert_eq!(lines.last().unwrap()["end"], "reverted", "{lines:#?}");
}

#[tokio::test]
async fn the_timeout_exits_4_while_the_rollout_goes_on() {
    let em = emulator().await;
    let f = blue_and(&em, "wait-timeout", "healthy").await;
    act(&em, "start", &f, json!({})).await;
    let before = em.alias_raw(&f, "live").await;
    let (code, lines, err) = finish(spawn_wait(&f, &["--timeout", "3s"]));
    assert_eq!(code, 4, "{lines:?} {err}");
    let end = lines.last().unwrap();
    assert!(
        end.starts_with("timed_out (exit 4): the timeout ended with the rollout rolling at 50%"),
        "{end}"
    );
    assert_eq!(
        em.alias_raw(&f, "live").await,
        before,
        "wait writes nothing, RevisionId included"
    );
}

#[tokio::test]
async fn a_paused_rollout_at_the_timeout_exits_5() {
    let em = emulator().await;
    let f = blue_and(&em, "wait-paused", "healthy").await;
    act(&em, "start", &f, json!({})).await;
    let out = act(&em, "pause", &f, json!({"reason": "change freeze"})).await;
    assert_eq!(out["decision"], "paused", "{out}");
    let (code, lines, err) = finish(spawn_wait(&f, &["--json", "--timeout", "3s"]));
    assert_eq!(code, 5, "{lines:?} {err}");
    let lines = json_lines(&lines);
    assert_eq!(lines[0]["state"], "paused", "{lines:#?}");
    let end = lines.last().unwrap();
    assert_eq!(
        (end["end"].as_str(), end["exit_code"].as_u64()),
        (Some("timed_out_held"), Some(5)),
        "{end}"
    );
}

#[tokio::test]
async fn a_rollout_of_another_version_exits_6_at_once() {
    let em = emulator().await;
    let f = blue_and(&em, "wait-other", "healthy").await;
    // Version 3 is published and rolled out; the pipeline asks about 2.
    em.publish_code(&f, &app("newer", "healthy")).await;
    let out = act(&em, "start", &f, json!({"version": 3})).await;
    assert_eq!(out["decision"], "started", "{out}");
    let (code, lines, err) = finish(spawn_wait(&f, &["--version", "2", "--json"]));
    assert_eq!(code, 6, "{lines:?} {err}");
    let end = json_lines(&lines).pop().unwrap();
    assert_eq!(end["end"], "superseded", "{end}");
    let message = end["message"].as_str().unwrap();
    assert!(
        message.contains("version 3 is rolled out instead of 2"),
        "{message}"
    );

    // A version that was never published is an error, said in one line.
    let (code, _, err) = finish(spawn_wait(&f, &["--version", "9"]));
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("version 9 of") && err.contains("is not published"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_alias_is_an_error_at_once() {
    let em = emulator().await;
    let f = blue_and(&em, "wait-missing", "healthy").await;
    let (code, _, err) = finish(
        Command::new(BIN)
            .args([
                "wait",
                "--function",
                &f,
                "--alias",
                "nope",
                "--timeout",
                "1m",
            ])
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("alias nope of function"), "{err}");
}

fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    run_cli(BIN, args, env)
}

#[tokio::test]
async fn status_and_list_are_tables_of_the_same_figures_as_the_json() {
    let em = emulator().await;
    let rolling = blue_and(&em, "people-rolling", "healthy").await;
    let idle = blue_and(&em, "people-idle", "healthy").await;
    act(&em, "start", &rolling, json!({})).await;
    let before = em.alias_raw(&rolling, "live").await;

    let (code, table, err) = cli(&["status", "--function", &rolling, "--alias", "live"], &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("FUNCTION") && lines[0].contains("WEIGHT"),
        "{table}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        &row[..6],
        [rolling.as_str(), "live", "held", "1", "2", "50%"],
        "{table}"
    );
    assert!(
        lines[2].starts_with("  ") && lines[2].contains("version 2 at 50%"),
        "the reason under the row: {table}"
    );
    assert!(
        !table.contains('\x1b'),
        "no colour off a terminal: {table:?}"
    );
    let (code, json_out, _) = cli(
        &[
            "status",
            "--function",
            &rolling,
            "--alias",
            "live",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(
        (
            r["results"][0]["decision"].as_str(),
            r["results"][0]["weight_before"].as_f64()
        ),
        (Some("held"), Some(50.0)),
        "{r}"
    );

    // list: every configured target, here from an orchestrator's own
    // configuration, read with --orchestrator.
    let orchestrator = common::unique("people-orchestrator");
    em.create_function(&orchestrator, "orchestrator").await;
    let configured = json!([{"function": rolling, "alias": "live", "policy": quick()},
        {"function": idle, "alias": "live"}])
    .to_string();
    em.lambda
        .update_function_configuration()
        .function_name(&orchestrator)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("LAMBDA_ROLLOUT_TARGETS", &configured)
                .build(),
        )
        .send()
        .await
        .unwrap();
    em.wait_updated(&orchestrator).await;
    let (code, table, err) = cli(&["list", "--orchestrator", &orchestrator], &[]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("FUNCTION"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert_eq!(&rows[0][..3], [rolling.as_str(), "live", "held"], "{table}");
    assert_eq!(
        &rows[1][..4],
        [idle.as_str(), "live", "idle", "1"],
        "{table}"
    );
    // The same through the environment variable the pipeline would set.
    let (code, by_env, _) = cli(&["list"], &[("LAMBDA_ROLLOUT_ORCHESTRATOR", &orchestrator)]);
    assert_eq!((code, by_env.lines().count()), (0, table.lines().count()));
    assert_eq!(
        em.alias_raw(&rolling, "live").await,
        before,
        "status and list write nothing, RevisionId included"
    );

    // #16: an orchestrator that onboards by tag, with no target configured:
    // list shows what it would manage, the functions tagged.
    let by_tag = common::unique("people-by-tag");
    em.create_function(&by_tag, "orchestrator").await;
    em.lambda
        .update_function_configuration()
        .function_name(&by_tag)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("LAMBDA_ROLLOUT_ONBOARD_BY_TAG", "true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    em.wait_updated(&by_tag).await;
    em.lambda
        .tag_resource()
        .resource(format!(
            "arn:aws:lambda:us-east-1:000000000000:function:{idle}"
        ))
        .tags("lambda-rollout:alias", "live")
        .send()
        .await
        .unwrap();
    let (code, out, err) = cli(&["list", "--orchestrator", &by_tag, "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let mine: Vec<&Value> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["function"] == idle.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{listed}");
    assert_eq!(mine[0]["decision"], "idle", "{listed}");

    // Nothing to list: one line that says how to fix it.
    let (code, out, err) = cli(&["list"], &[]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--orchestrator"), "{err}");
}
