//! What wraps the verdict, at the wire (#14): the real SDK against the
//! emulator, with functions that really run and Lambda's own per-version
//! metrics of their invocations. An approval gate holding a real rollout, a
//! failing version frozen by on_failure pause, set_weight moving real
//! traffic, a watched promotion reverted on its own when real traffic fails,
//! and one reverted by hand.

mod common;

use std::time::Duration;

use common::{blue_and, emulator, traffic, Emulator};
use lambda_rollout::config::Config;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

fn cmd(action: &str, f: &str, extra: Value) -> Value {
    let mut v = json!({"action": action, "function": f, "alias": "live"});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

/// A command for `f` now; panics on a handler error.
async fn act(em: &Emulator, cfg: &Config, action: &str, f: &str, extra: Value) -> Value {
    em.run(cfg, cmd(action, f, extra), UtcTime::now()).await
}

fn decision(out: &Value) -> &str {
    out["results"][0]["decision"].as_str().unwrap()
}

/// Ticks at `now` (a moment ahead of the clock, so the minutes of the traffic
/// just sent are complete) until the decision is not `skip`, while Lambda's
/// metrics come in.
async fn tick_until(em: &Emulator, f: &str, policy: &Value, skip: &str, ahead: u64) -> Value {
    let cfg = Config::from_values(None, None);
    let payload =
        json!({"action": "tick", "targets": [{"function": f, "alias": "live", "policy": policy}]});
    let mut out = Value::Null;
    for _ in 0..40 {
        let now = UtcTime::now().plus(Duration::from_secs(ahead));
        out = em.run(&cfg, payload.clone(), now).await;
        if decision(&out) != skip {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    out
}

/// A policy that judges what a test can send in seconds: no bake, no lag, a
/// 10% floor (a hundred clean requests are the evidence).
fn quick(extra: Value) -> Value {
    let mut p = json!({"steps": [50, 100], "bake": "0s", "metric_lag": "0s",
        "min_invocations": 10, "error_floor": 10, "latency_stat": "Average"});
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    p
}

#[tokio::test]
async fn approve_before_holds_a_real_rollout_until_an_operator_approves() {
    let em = emulator().await;
    let f = blue_and(&em, "wire-approve", "healthy").await;
    let policy = quick(json!({"approve_before": 100}));
    let cfg = Config::from_values(None, None);
    let began = UtcTime::now().minus(Duration::from_secs(60));
    let out = em
        .run(&cfg, cmd("start", &f, json!({"policy": policy})), began)
        .await;
    assert_eq!(decision(&out), "started", "{out}");
    let (executed, errors) = traffic(&em, &f, 200, "/").await;
    assert_eq!(errors, 0);
    assert!(executed.iter().any(|v| v == "2") && executed.iter().any(|v| v == "1"));

    // The step passes: the rollout waits for approval, written once.
    let out = tick_until(&em, &f, &policy, "held", 120).await;
    assert_eq!(decision(&out), "awaiting_approval", "{out}");
    let reason = out["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("awaiting approval before the promotion"),
        "{reason}"
    );
    let waiting = em.alias_raw(&f, "live").await;
    assert!(waiting.description.contains("approval"), "{waiting:?}");
    let again = tick_until(&em, &f, &policy, "held", 120).await;
    assert_eq!(decision(&again), "awaiting_approval", "{again}");
    assert_eq!(
        em.alias_raw(&f, "live").await,
        waiting,
        "a tick that finds it waiting writes nothing, RevisionId included"
    );
    let status = em
        .run(
            &cfg,
            cmd("status", &f, json!({"policy": policy})),
            UtcTime::now().plus(Duration::from_secs(120)),
        )
        .await;
    assert_eq!(decision(&status), "awaiting_approval", "{status}");

    // Approved: the next passing tick promotes.
    let out = act(&em, &cfg, "approve", &f, json!({"reason": "QA signed off"})).await;
    assert_eq!(decision(&out), "approved", "{out}");
    assert_eq!(em.alias_raw(&f, "live").await.weight_of("2"), 0.5);
    let out = tick_until(&em, &f, &policy, "held", 120).await;
    assert_eq!(decision(&out), "promoted", "{out}");
    let (executed, _) = traffic(&em, &f, 5, "/").await;
    assert!(executed.iter().all(|v| v == "2"), "{executed:?}");
}

#[tokio::test]
async fn on_failure_pause_freezes_a_failing_version_at_its_weight() {
    let em = emulator().await;
    let f = blue_and(&em, "wire-freeze", "broken").await;
    let policy = quick(json!({"on_failure": "pause"}));
    let cfg = Config::from_values(None, None);
    let began = UtcTime::now().minus(Duration::from_secs(60));
    em.run(&cfg, cmd("start", &f, json!({"policy": policy})), began)
        .await;
    let (executed, errors) = traffic(&em, &f, 40, "/").await;
    let green = executed.iter().filter(|v| *v == "2").count();
    assert_eq!(errors, green, "every request green served failed");

    let out = tick_until(&em, &f, &policy, "held", 120).await;
    assert_eq!(decision(&out), "paused", "{out}");
    let reason = out["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("errors check failed") && reason.contains("as on_failure says"),
        "{reason}"
    );
    let frozen = em.alias_raw(&f, "live").await;
    assert_eq!(
        (frozen.function_version.as_str(), frozen.weight_of("2")),
        ("1", 0.5)
    );
    // It stays frozen, tick after tick, whatever the metrics say.
    let out = tick_until(&em, &f, &policy, "", 120).await;
    assert_eq!(decision(&out), "held", "{out}");
    assert_eq!(em.alias_raw(&f, "live").await, frozen);
    // A human decides: rollback.
    let out = act(&em, &cfg, "rollback", &f, json!({})).await;
    assert_eq!(decision(&out), "rolled_back", "{out}");
    let (executed, _) = traffic(&em, &f, 5, "/").await;
    assert!(executed.iter().all(|v| v == "1"), "{executed:?}");
}

#[tokio::test]
async fn set_weight_moves_real_traffic_and_pauses_there() {
    let em = emulator().await;
    let f = blue_and(&em, "wire-weight", "healthy").await;
    let cfg = Config::from_values(None, None);
    let policy = quick(json!({"steps": [10, 100]}));
    act(&em, &cfg, "start", &f, json!({"policy": policy})).await;
    let reason = json!({"weight": 80, "reason": "load test"});
    let out = act(&em, &cfg, "set_weight", &f, reason).await;
    assert_eq!(decision(&out), "weight_set", "{out}");
    assert_eq!(em.alias_raw(&f, "live").await.weight_of("2"), 0.8);
    let n = 200;
    let (executed, _) = traffic(&em, &f, n, "/").await;
    let green = executed.iter().filter(|v| *v == "2").count() as f64;
    // Binomial(200, 0.8): mean 160, sd 5.7; five sd either way.
    assert!(
        (green - 160.0).abs() < 5.0 * 5.7,
        "green served {green} of {n}"
    );
    let out = tick_until(&em, &f, &policy, "", 120).await;
    assert_eq!(decision(&out), "held", "paused at the weight set: {out}");
    assert!(out["results"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("paused"));
    // Bad input changes nothing.
    let before = em.alias_raw(&f, "live").await;
    let h = em.handler(cfg.clone());
    let e = h
        .handle(
            &cmd("set_weight", &f, json!({"weight": 100})),
            UtcTime::now(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("promote gives it all"), "{e}");
    assert_eq!(em.alias_raw(&f, "live").await, before);
}

/// Sleeps into the next minute, so that the traffic sent before is in a
/// complete minute and what is sent after falls in a new one.
async fn next_minute() {
    let now = UtcTime::now();
    let wait = 60 - (now.unix() % 60) as u64 + 1;
    tokio::time::sleep(Duration::from_secs(wait)).await;
}

#[tokio::test]
async fn a_watched_promotion_is_reverted_on_its_own_when_real_traffic_fails() {
    let em = emulator().await;
    let f = blue_and(&em, "wire-watch", "checkout").await;
    let policy = quick(json!({"watch_after_promote": "10m"}));
    let cfg = Config::from_values(None, None);
    // Real time from here: the watch judges the minutes after its promotion.
    act(&em, &cfg, "start", &f, json!({"policy": policy})).await;
    let (_, errors) = traffic(&em, &f, 200, "/").await;
    assert_eq!(errors, 0, "the canary's traffic never meets /checkout");
    next_minute().await;
    let out = tick_until(&em, &f, &policy, "held", 0).await;
    assert_eq!(decision(&out), "promoted", "{out}");
    let reason = out["results"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("watching it for 10m"), "{reason}");
    assert_eq!(em.alias_raw(&f, "live").await.function_version, "2");

    // All traffic on 2 now, and /checkout fails.
    let (executed, errors) = traffic(&em, &f, 30, "/checkout").await;
    assert!(executed.iter().all(|v| v == "2"));
    assert_eq!(errors, 30);
    next_minute().await;
    let out = tick_until(&em, &f, &policy, "held", 0).await;
    assert_eq!(decision(&out), "reverted", "{out}");
    let reason = out["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("watch after promotion") && reason.contains("back to version 1"),
        "{reason}"
    );
    let alias = em.alias_raw(&f, "live").await;
    assert_eq!(
        (alias.function_version.as_str(), alias.weights.len()),
        ("1", 0)
    );
    assert!(alias.description.contains("rb=2"), "{alias:?}");
    let (executed, errors) = traffic(&em, &f, 5, "/checkout").await;
    assert!(executed.iter().all(|v| v == "1") && errors == 0);
}

#[tokio::test]
async fn revert_by_hand_within_the_watch_points_the_alias_back() {
    let em = emulator().await;
    let f = blue_and(&em, "wire-revert", "healthy").await;
    let policy = quick(json!({"watch_after_promote": "15m"}));
    // The operator's promote reads the environment's policy for its watch.
    let cfg = Config::from_values(None, Some(&policy.to_string()));
    act(&em, &cfg, "start", &f, json!({"policy": policy})).await;
    let out = act(&em, &cfg, "promote", &f, json!({})).await;
    assert_eq!(decision(&out), "promoted", "{out}");
    assert_eq!(em.alias_raw(&f, "live").await.function_version, "2");
    // Bad input first: refused with one line, the alias as it was.
    let before = em.alias_raw(&f, "live").await;
    let h = em.handler(cfg.clone());
    let e = h
        .handle(&cmd("revert", &f, json!({"version": 1})), UtcTime::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown field `version`") && !e.contains('\n'),
        "{e}"
    );
    assert_eq!(em.alias_raw(&f, "live").await, before);

    let out = act(
        &em,
        &cfg,
        "revert",
        &f,
        json!({"reason": "support tickets"}),
    )
    .await;
    assert_eq!(decision(&out), "reverted", "{out}");
    let (executed, _) = traffic(&em, &f, 5, "/").await;
    assert!(executed.iter().all(|v| v == "1"), "{executed:?}");
    // Nothing left to revert.
    let out = act(&em, &cfg, "revert", &f, json!({})).await;
    assert_eq!(decision(&out), "idle", "{out}");
}

#[tokio::test]
async fn an_alarm_event_pauses_under_on_failure_pause_and_reverts_a_watched_promotion() {
    let em = emulator().await;
    let frozen = blue_and(&em, "wire-alarm-pause", "healthy").await;
    let watched = blue_and(&em, "wire-alarm-watch", "healthy").await;
    let alarm = format!("{frozen}-5xx");
    let cfg = Config::from_values(
        Some(
            &json!([
                {"function": frozen, "alias": "live", "policy": {"alarms": [alarm], "on_failure": "pause"}},
                {"function": watched, "alias": "live", "policy": {"alarms": [alarm], "watch_after_promote": "15m"}}
            ])
            .to_string(),
        ),
        None,
    );
    let now = UtcTime::now();
    for f in [&frozen, &watched] {
        let out = em.run(&cfg, cmd("start", f, json!({})), now).await;
        assert_eq!(decision(&out), "started", "{out}");
    }
    let out = em.run(&cfg, cmd("promote", &watched, json!({})), now).await;
    assert!(out["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("watching it for 15m"));
    let mut event: Value = serde_json::from_str(include_str!("../events/alarm.json")).unwrap();
    event["detail"]["alarmName"] = json!(alarm);
    event["detail"]["state"]["value"] = json!("ALARM");
    let out = em.run(&cfg, event, now).await;
    let by_function = |f: &str| {
        out["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["function"] == json!(f))
            .map(|r| r["decision"].as_str().unwrap().to_string())
    };
    assert_eq!(by_function(&frozen).as_deref(), Some("paused"), "{out}");
    assert_eq!(by_function(&watched).as_deref(), Some("reverted"), "{out}");
    assert_eq!(em.alias_raw(&frozen, "live").await.weight_of("2"), 0.1);
    assert_eq!(em.alias_raw(&watched, "live").await.function_version, "1");
}

#[tokio::test]
async fn start_and_status_estimate_the_promotion_at_the_traffic_seen() {
    let em = emulator().await;
    let f = blue_and(&em, "wire-estimate", "healthy").await;
    // The hour before the start: real traffic, all on version 1.
    let (executed, _) = traffic(&em, &f, 120, "/").await;
    assert!(executed.iter().all(|v| v == "1"));
    let policy = quick(json!({"steps": [10, 50, 100], "bake": "5m"}));
    let cfg = Config::from_values(None, None);
    let soon = UtcTime::now().plus(Duration::from_secs(120));
    // Lambda's metrics of those requests come in a moment after them.
    let mut out = Value::Null;
    for _ in 0..40 {
        out = em
            .run(
                &cfg,
                cmd("start", &f, json!({"policy": policy, "dry_run": true})),
                soon,
            )
            .await;
        if out["results"][0]["estimate"]["requests_per_minute"].as_f64() > Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let e = &out["results"][0]["estimate"];
    assert_eq!(decision(&out), "started", "{out}");
    assert!(e["requests_per_minute"].as_f64() >= Some(1.0), "{out}");
    assert!(e["promotion_in_minutes"].as_u64() >= Some(10), "{out}");
    assert!(
        out["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("promotion in about"),
        "{out}"
    );
    // Started for real, the status of a step under way estimates too.
    let began = UtcTime::now().minus(Duration::from_secs(60));
    em.run(&cfg, cmd("start", &f, json!({"policy": policy})), began)
        .await;
    traffic(&em, &f, 60, "/").await;
    let later = UtcTime::now().plus(Duration::from_secs(120));
    let status = em
        .run(&cfg, cmd("status", &f, json!({"policy": policy})), later)
        .await;
    assert!(
        status["results"][0]["estimate"]["promotion_in_minutes"].is_u64(),
        "{status}"
    );
}

#[tokio::test]
async fn max_wait_rolls_back_or_promotes_a_step_short_of_evidence_as_on_timeout_says() {
    let em = emulator().await;
    let cfg = Config::from_values(None, None);
    for (on_timeout, want) in [("rollback", "rolled_back"), ("promote", "promoted")] {
        let f = blue_and(&em, &format!("wire-timeout-{on_timeout}"), "healthy").await;
        // A 0.1% floor: the few dozen clean requests sent are far short of
        // the evidence, so only max_wait ends the wait.
        let policy = quick(json!({"error_floor": 0.1, "max_wait": "1m", "on_timeout": on_timeout}));
        let began = UtcTime::now().minus(Duration::from_secs(120));
        em.run(&cfg, cmd("start", &f, json!({"policy": policy})), began)
            .await;
        let (_, errors) = traffic(&em, &f, 60, "/").await;
        assert_eq!(errors, 0);
        let out = tick_until(&em, &f, &policy, "held", 120).await;
        assert_eq!(decision(&out), want, "{out}");
        let reason = out["results"][0]["reason"].as_str().unwrap();
        assert!(reason.contains("max_wait 1m has passed"), "{reason}");
        assert!(reason.contains("as on_timeout says"), "{reason}");
        let alias = em.alias_raw(&f, "live").await;
        let stable = if want == "promoted" { "2" } else { "1" };
        assert_eq!(
            (alias.function_version.as_str(), alias.weights.len()),
            (stable, 0)
        );
    }
}
