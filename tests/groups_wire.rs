//! Release groups at the wire (#17): three functions that really run in the
//! emulator, configured as one group, started with one command, judged on
//! Lambda's own per-version metrics of real invocations, and promoted
//! together; and, when one member's version fails, all three rolled back.

mod common;

use std::time::Duration;

use common::{
    blue_and, decisions, emulator, finish, json_lines, run_cli, spawn_cli, traffic, Emulator,
};
use lambda_rollout::config::Config;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

/// A policy that judges what a test can send in seconds.
fn quick() -> Value {
    json!({"steps": [50, 100], "bake": "0s", "metric_lag": "0s",
        "min_invocations": 10, "error_floor": 10, "latency_stat": "Average"})
}

const BIN: &str = env!("CARGO_BIN_EXE_lambda-rollout");

/// `lambda-rollout wait --group` as a pipeline runs it, polling every
/// second, configured as the orchestrator is.
fn spawn_wait(targets: &str, group: &str, args: &[&str]) -> std::process::Child {
    let mut all = vec!["wait", "--group", group, "--interval", "1s"];
    all.extend(args);
    spawn_cli(BIN, &all, &[("LAMBDA_ROLLOUT_TARGETS", targets)])
}

/// Three functions, blue version 1 and green version 2 in the modes given,
/// configured as group `name` (the configuration, and its JSON).
async fn group_of_three(
    em: &Emulator,
    name: &str,
    modes: [&str; 3],
) -> (Vec<String>, Config, String) {
    let mut functions = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        functions.push(blue_and(em, &format!("grp-{name}-{i}"), mode).await);
    }
    let members: Vec<Value> = functions
        .iter()
        .map(|f| json!({"function": f, "alias": "live"}))
        .collect();
    let targets = json!([{"group": name, "targets": members, "policy": quick()}]);
    let cfg = Config::from_values(Some(&targets.to_string()), None);
    (functions, cfg, targets.to_string())
}

/// Ticks the configured group at a moment ahead of the clock (the minutes of
/// the traffic just sent complete) until the first member's decision is not
/// `skip`. The group's `state` is what the tick found, before it decided.
async fn tick_until(em: &Emulator, cfg: &Config, skip: &str) -> Value {
    let mut out = Value::Null;
    for _ in 0..40 {
        let now = UtcTime::now().plus(Duration::from_secs(120));
        out = em.run(cfg, json!({"action": "tick"}), now).await;
        if decisions(&out)[0] != skip {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    out
}

#[tokio::test]
async fn a_group_of_three_is_started_as_one_release_and_promoted_together() {
    let em = emulator().await;
    let (functions, cfg, targets) = group_of_three(&em, "prom", ["healthy"; 3]).await;
    let began = UtcTime::now().minus(Duration::from_secs(60));
    let out = em
        .run(&cfg, json!({"action": "start", "group": "prom"}), began)
        .await;
    assert_eq!(decisions(&out), ["started"; 3], "{out}");
    // A pipeline waits for the group's verdict from here on.
    let waiting = spawn_wait(&targets, "prom", &["--json"]);
    for f in &functions {
        let a = em.alias_raw(f, "live").await;
        assert_eq!(a.weight_of("2"), 0.5, "{f}");
        assert!(a.description.contains("grp=prom/3"), "{}", a.description);
    }
    // A single member is not started alone.
    let alone = em
        .handler(cfg.clone())
        .handle(
            &json!({"action": "start", "function": functions[0], "alias": "live"}),
            UtcTime::now(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(alone.contains("member of group prom"), "{alone}");

    // Real traffic through each alias, every version healthy.
    for f in &functions {
        let (executed, errors) = traffic(&em, f, 240, "/").await;
        assert_eq!(errors, 0);
        assert!(executed.iter().any(|v| v == "2"), "{f}: {executed:?}");
    }
    let out = tick_until(&em, &cfg, "held").await;
    assert_eq!(out["groups"][0]["state"], "rolling", "{out}");
    assert_eq!(decisions(&out), ["promoted"; 3], "{out}");
    for f in &functions {
        let (executed, _) = traffic(&em, f, 5, "/").await;
        assert!(executed.iter().all(|v| v == "2"), "{f}: {executed:?}");
    }
    // Every member promoted: the release is done on all three at once.
    let out = tick_until(&em, &cfg, "held").await;
    assert_eq!(out["groups"][0]["state"], "promoted", "{out}");
    assert_eq!(decisions(&out), ["watch_passed"; 3], "{out}");
    for f in &functions {
        let a = em.alias_raw(f, "live").await;
        assert_eq!(a.function_version, "2");
        assert!(a.description.contains("end=done"), "{}", a.description);
    }
    let status = em
        .run(
            &cfg,
            json!({"action": "status", "group": "prom"}),
            UtcTime::now(),
        )
        .await;
    assert_eq!(status["groups"][0]["state"], "done", "{status}");

    let (code, lines, err) = finish(waiting);
    assert_eq!(code, 0, "{lines:?} {err}");
    let polls = json_lines(&lines);
    let first = &polls[0];
    assert_eq!(
        (first["group"].as_str(), first["state"].as_str()),
        (Some("prom"), Some("rolling")),
        "{first}"
    );
    assert_eq!(first["members"].as_array().unwrap().len(), 3, "{first}");
    let end = polls.last().unwrap();
    assert_eq!(
        (end["end"].as_str(), end["exit_code"].as_u64()),
        (Some("promoted"), Some(0))
    );
    let versions: Vec<&Value> = end["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["version"])
        .collect();
    assert_eq!(versions, [&json!("2"); 3], "{end}");

    // status --group: the group's line above its members' table.
    let (code, table, err) = run_cli(
        BIN,
        &["status", "--group", "prom"],
        &[("LAMBDA_ROLLOUT_TARGETS", &targets)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(table.starts_with("group prom done"), "{table}");
    let header = table
        .lines()
        .find(|l| l.starts_with("GROUP"))
        .unwrap_or_default();
    assert!(header.contains("FUNCTION"), "{table}");
    for f in &functions {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("prom") && l.contains(f.as_str())),
            "a row for {f}: {table}"
        );
    }
}

#[tokio::test]
async fn one_failing_member_rolls_back_every_member_of_the_group() {
    let em = emulator().await;
    let (functions, cfg, targets) =
        group_of_three(&em, "fail", ["healthy", "broken", "healthy"]).await;
    let began = UtcTime::now().minus(Duration::from_secs(60));
    let out = em
        .run(&cfg, json!({"action": "start", "group": "fail"}), began)
        .await;
    assert_eq!(decisions(&out), ["started"; 3], "{out}");
    let waiting = spawn_wait(&targets, "fail", &[]);
    let before: Vec<_> = {
        let mut v = Vec::new();
        for f in &functions {
            v.push(em.alias_raw(f, "live").await);
        }
        v
    };
    for f in &functions {
        traffic(&em, f, 120, "/").await;
    }
    let out = tick_until(&em, &cfg, "held").await;
    assert_eq!(out["groups"][0]["state"], "rolling_back", "{out}");
    assert_eq!(decisions(&out), ["rolled_back"; 3], "{out}");
    let reason = out["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("{}:live went back", functions[1])),
        "the healthy member says which member took it back: {reason}"
    );
    for (f, was) in functions.iter().zip(&before) {
        let a = em.alias_raw(f, "live").await;
        assert_eq!((a.function_version.as_str(), a.weight_of("2")), ("1", 0.0));
        assert!(a.description.contains("end=back"), "{}", a.description);
        assert_ne!(a.revision_id, was.revision_id, "{f} was written");
        let (executed, _) = traffic(&em, f, 5, "/").await;
        assert!(executed.iter().all(|v| v == "1"), "{f}: {executed:?}");
    }
    // Nothing more to do: a tick writes nothing, and says how it ended.
    let after: Vec<_> = {
        let mut v = Vec::new();
        for f in &functions {
            v.push(em.alias_raw(f, "live").await);
        }
        v
    };
    let out = tick_until(&em, &cfg, "").await;
    assert_eq!(out["groups"][0]["state"], "rolled_back", "{out}");
    assert_eq!(decisions(&out), ["idle"; 3], "{out}");
    for (f, was) in functions.iter().zip(&after) {
        assert_eq!(&em.alias_raw(f, "live").await, was, "{f} untouched");
    }
    let (code, lines, err) = finish(waiting);
    assert_eq!(code, 3, "{lines:?} {err}");
    assert!(lines[0].contains(" group fail rolling"), "{lines:?}");
    let last = lines.last().unwrap();
    assert!(last.starts_with("rolled_back (exit 3): "), "{last}");
    for f in &functions {
        assert!(last.contains(&format!("{f}:live rolled_back")), "{last}");
    }
}

#[tokio::test]
async fn an_operator_rolls_a_group_back_with_one_command() {
    let em = emulator().await;
    let (functions, cfg, targets) = group_of_three(&em, "ops", ["healthy"; 3]).await;
    let out = em
        .run(
            &cfg,
            json!({"action": "start", "group": "ops"}),
            UtcTime::now(),
        )
        .await;
    assert_eq!(decisions(&out), ["started"; 3], "{out}");
    let out = em
        .run(
            &cfg,
            json!({"action": "rollback", "group": "ops", "reason": "pager"}),
            UtcTime::now(),
        )
        .await;
    assert_eq!(decisions(&out), ["rolled_back"; 3], "{out}");
    for r in out["results"].as_array().unwrap() {
        assert_eq!(r["group"]["name"], "ops", "{r}");
    }
    for f in &functions {
        let a = em.alias_raw(f, "live").await;
        assert_eq!((a.function_version.as_str(), a.weight_of("2")), ("1", 0.0));
    }
    let bad = em
        .handler(cfg.clone())
        .handle(
            &json!({"action": "rollback", "group": "nope"}),
            UtcTime::now(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("no group nope"), "{bad}");
    let (code, _, err) = finish(spawn_wait(&targets, "nope", &[]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no group nope"), "{err}");
    let (code, _, err) = finish(spawn_wait(&targets, "ops", &["--version", "2"]));
    assert_eq!(code, 2, "a version names no group's member: {err}");
}
