//! Every file in events/ is parsed, and run through the real handler against the
//! emulator, in an order that gives each one something to act on.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{emulator, sim_start};
use lambda_rollout::command::Command;
use lambda_rollout::config::Config;
use serde_json::Value;

/// The order the fixtures run in; a new file in events/ must be added here.
const ORDER: [&str; 17] = [
    "status.json",
    "tick-dry-run.json",
    "start.json",
    "tick.json",
    "scheduled.json",
    "tick-configured.json",
    "pause.json",
    "resume.json",
    "set-weight.json",
    "approve.json",
    "promote.json",
    "revert.json",
    "start-newest.json",
    "rollback.json",
    "alarm.json",
    "start-checked.json",
    "run-check.json",
];

fn load(name: &str, function: &str) -> Value {
    let text = std::fs::read_to_string(Path::new("events").join(name)).unwrap();
    // Each test run gets its own function: the fixtures name "hello".
    let text = text.replace("\"hello\"", &format!("{function:?}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

#[test]
fn every_fixture_is_listed_and_parses() {
    let on_disk: BTreeSet<String> = std::fs::read_dir("events")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let listed: BTreeSet<String> = ORDER.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, listed, "events/ and ORDER differ");
    for name in ORDER {
        let v = load(name, "hello");
        Command::parse(&v).unwrap_or_else(|e| panic!("events/{name}: {e}"));
    }
}

#[tokio::test]
async fn every_fixture_runs_against_the_emulator() {
    let em = emulator().await;
    let f = em.blue_green("fixtures").await;
    let config = Config::from_values(
        Some(&format!(
            r#"[{{"function":"{f}","alias":"live","policy":{{"bake":"1m"}}}}]"#
        )),
        // The alarm gates the target (it does not exist: ticks hold for it).
        // Promotions are watched: revert.json has one to undo.
        Some(r#"{"min_invocations":10,"alarms":["hello-5xx"],"watch_after_promote":"15m"}"#),
    );
    let h = em.handler(config);
    let t0 = sim_start();
    let mut seen = Vec::new();
    for name in ORDER {
        if name == "start-newest.json" {
            em.publish(&f, "Hello From Version 3").await;
        }
        let r = h
            .handle(&load(name, &f), t0)
            .await
            .unwrap_or_else(|e| panic!("events/{name}: {e}"));
        let d = r.results[0].decision.label();
        assert!(
            d != "error" && d != "conflict",
            "events/{name}: {:?}",
            r.results[0]
        );
        seen.push((name, d));
    }
    let expect = [
        ("status.json", "idle"),
        ("tick-dry-run.json", "idle"),
        ("start.json", "started"),
        ("tick.json", "held"),
        ("scheduled.json", "held"),
        ("tick-configured.json", "held"),
        ("pause.json", "paused"),
        ("resume.json", "resumed"),
        ("set-weight.json", "weight_set"),
        ("approve.json", "approved"),
        ("promote.json", "promoted"),
        ("revert.json", "reverted"),
        ("start-newest.json", "started"),
        ("rollback.json", "rolled_back"),
        // Nothing left to roll back: tests/emulator.rs has one that does.
        ("alarm.json", "idle"),
        // The pre-traffic check is recorded; this handler runs no checks, so
        // it would time out. run-check.json names another check: nothing run.
        ("start-checked.json", "started"),
        ("run-check.json", "idle"),
    ];
    assert_eq!(seen, expect);
}
