//! Wire-level tests: the real handler, executor and SDK adapters against the
//! local AWS emulator over HTTP (started by `make test`).

mod common;

use common::{emulator, sim_start, unique, Emulator};
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases};
use lambda_rollout::config::Config;
use lambda_rollout::engine::AliasState;
use lambda_rollout::error::Error;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::model::{Target, UtcTime};
use lambda_rollout::ports::{AliasRead, AliasSnapshot, AliasWrite, StoreError};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

// error_floor 5: the evidence rule is the engine tests' business; here, the wire.
const POLICY: &str = r#"{"steps":[10,50,100],"bake":"2m","min_invocations":20,"max_error_rate":2,"metric_lag":"1m","error_floor":5}"#;

fn policy() -> Value {
    serde_json::from_str(POLICY).unwrap()
}

fn tick(f: &str) -> Value {
    json!({"action":"tick","targets":[{"function":f,"alias":"live","policy":policy()}]})
}

fn only(resp: &Value) -> &Value {
    let r = resp["results"].as_array().expect("results");
    assert_eq!(r.len(), 1, "{resp}");
    &r[0]
}

/// One simulated minute of traffic, split by the alias's current weight, then a
/// tick one minute (the policy's metric_lag) after that minute closes.
async fn minute(
    em: &Emulator,
    f: &str,
    m: UtcTime,
    per_minute: u64,
    green_error_pct: f64,
    blue: &str,
    green: &str,
) -> Value {
    minute_named(em, f, f, m, per_minute, green_error_pct, blue, green).await
}

/// As `minute`, the tick naming the function `named` (an ARN, say); the
/// metrics are Lambda's, under the plain name `f`.
#[allow(clippy::too_many_arguments)]
async fn minute_named(
    em: &Emulator,
    f: &str,
    named: &str,
    m: UtcTime,
    per_minute: u64,
    green_error_pct: f64,
    blue: &str,
    green: &str,
) -> Value {
    let a = em.alias_raw(f, "live").await;
    let w = a.weight_of(green);
    let g = (per_minute as f64 * w).round() as u64;
    let b = per_minute - g;
    let stable = a.function_version.clone();
    em.put_version_minute(
        f,
        "live",
        &stable,
        m,
        if stable == blue { b } else { b + g },
        0,
    )
    .await;
    if g > 0 && stable == blue {
        let errors = (g as f64 * green_error_pct / 100.0).round() as u64;
        em.put_version_minute(f, "live", green, m, g, errors).await;
    }
    let now = UtcTime::from_unix(m.unix() + 120);
    em.run(&Config::from_values(None, None), tick(named), now)
        .await
}

#[tokio::test]
async fn a_healthy_version_is_ticked_to_promotion() {
    let em = emulator().await;
    let f = em.blue_green("promote").await;
    let cfg = Config::from_values(None, None);
    let t0 = sim_start();

    let r = em
        .run(
            &cfg,
            json!({"action":"start","function":f,"alias":"live","version":"2","policy":policy()}),
            t0,
        )
        .await;
    assert_eq!(only(&r)["decision"], "started", "{r}");
    assert_eq!(only(&r)["weight_after"], 10.0);
    let a = em.alias_raw(&f, "live").await;
    assert_eq!(a.function_version, "1");
    assert_eq!(a.weights, vec![("2".to_string(), 0.1)]);
    assert!(
        a.description
            .contains("[lambda-rollout/1 rolling green=2 blue=1 w=10 "),
        "{}",
        a.description
    );

    let mut decisions = Vec::new();
    for k in 0..30 {
        let m = UtcTime::from_unix(t0.unix() + 60 * k);
        let r = minute(&em, &f, m, 400, 0.0, "1", "2").await;
        let res = only(&r).clone();
        let d = res["decision"].as_str().unwrap().to_string();
        if d == "advanced" || d == "promoted" {
            assert_eq!(res["health"]["verdict"], "pass", "{res}");
            assert!(
                res["health"]["green"]["invocations"].as_u64().unwrap() >= 20,
                "{res}"
            );
        }
        decisions.push((d.clone(), res["weight_after"].as_f64().unwrap()));
        if d == "promoted" {
            break;
        }
    }
    let advanced: Vec<f64> = decisions
        .iter()
        .filter(|(d, _)| d == "advanced")
        .map(|(_, w)| *w)
        .collect();
    assert_eq!(advanced, vec![50.0], "{decisions:?}");
    assert_eq!(decisions.last().unwrap().0, "promoted", "{decisions:?}");
    let a = em.alias_raw(&f, "live").await;
    assert_eq!(a.function_version, "2");
    assert!(a.weights.is_empty());
    assert!(!a.description.contains("rolling"), "{}", a.description);
}

/// #11: a target named by ARN used to be started and then never judged (the
/// ARN went verbatim into the metric dimensions, where Lambda writes the plain
/// name). Every form Lambda accepts is one target: judged on Lambda's metrics,
/// reported by its name.
#[tokio::test]
async fn a_target_named_by_arn_is_judged_on_the_metrics_lambda_publishes() {
    let em = emulator().await;
    let f = em.blue_green("by-arn").await;
    let cfg = Config::from_values(None, None);
    let t0 = sim_start();
    let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{f}");
    let partial = format!("000000000000:function:{f}");
    let qualified = format!("{arn}:live");

    let r = em
        .run(
            &cfg,
            json!({"action":"start","function":arn,"alias":"live","version":"2","policy":policy()}),
            t0,
        )
        .await;
    assert_eq!(only(&r)["decision"], "started", "{r}");
    assert_eq!(
        only(&r)["function"],
        f.as_str(),
        "reported by its name: {r}"
    );

    // Healthy traffic, each tick naming the function another way.
    let forms = [
        arn.as_str(),
        partial.as_str(),
        qualified.as_str(),
        f.as_str(),
    ];
    let mut seen = Vec::new();
    for k in 0..30 {
        let m = UtcTime::from_unix(t0.unix() + 60 * k);
        let named = forms[k as usize % forms.len()];
        let r = minute_named(&em, &f, named, m, 400, 0.0, "1", "2").await;
        let res = only(&r).clone();
        assert_eq!(res["function"], f.as_str(), "{res}");
        let d = res["decision"].as_str().unwrap().to_string();
        if let Some(g) = res["health"]["green"]["invocations"].as_u64() {
            seen.push(g);
        }
        if d == "advanced" || d == "promoted" {
            assert_eq!(res["health"]["verdict"], "pass", "{res}");
        }
        assert!(
            !res["reason"].as_str().unwrap().contains("no invocations"),
            "{named}: green's invocations not seen: {res}"
        );
        if d == "promoted" {
            break;
        }
    }
    assert!(
        seen.iter().any(|g| *g >= 20),
        "green judged on its traffic: {seen:?}"
    );
    let a = em.alias_raw(&f, "live").await;
    assert_eq!(a.function_version, "2", "promoted: {a:?}");
    assert!(a.weights.is_empty());

    // A failing version named by ARN is rolled back on what Lambda recorded.
    em.publish(&f, "version 3").await;
    let t1 = UtcTime::from_unix(t0.unix() + 3600);
    let r = em
        .run(
            &cfg,
            json!({"action":"start","function":partial,"alias":"live","version":"3","policy":policy()}),
            t1,
        )
        .await;
    assert_eq!(only(&r)["decision"], "started", "{r}");
    let mut last = Value::Null;
    for k in 0..10 {
        let m = UtcTime::from_unix(t1.unix() + 60 * k);
        last = only(&minute_named(&em, &f, &arn, m, 400, 20.0, "2", "3").await).clone();
        if last["decision"] == "rolled_back" {
            break;
        }
    }
    assert_eq!(last["decision"], "rolled_back", "{last}");
    assert!(
        last["health"]["green"]["errors"].as_u64().unwrap() > 0,
        "{last}"
    );
    let a = em.alias_raw(&f, "live").await;
    assert_eq!((a.function_version.as_str(), a.weights.len()), ("2", 0));
}

#[tokio::test]
async fn a_failing_version_is_rolled_back_and_not_restarted() {
    let em = emulator().await;
    let f = em.blue_green("rollback").await;
    let cfg = Config::from_values(None, None);
    let t0 = sim_start();
    em.run(
        &cfg,
        json!({"action":"start","function":f,"alias":"live","policy":policy()}),
        t0,
    )
    .await;
    let mut last = Value::Null;
    for k in 0..10 {
        let m = UtcTime::from_unix(t0.unix() + 60 * k);
        last = minute(&em, &f, m, 400, 25.0, "1", "2").await;
        if only(&last)["decision"] != "held" {
            break;
        }
    }
    let res = only(&last);
    assert_eq!(res["decision"], "rolled_back", "{last}");
    assert_eq!(res["health"]["verdict"], "fail");
    let reason = res["reason"].as_str().unwrap();
    assert!(
        reason.contains("errors check failed")
            && reason.contains("green 2:")
            && reason.contains("blue 1:"),
        "{reason}"
    );
    let a = em.alias_raw(&f, "live").await;
    assert_eq!((a.function_version.as_str(), a.weights.len()), ("1", 0));
    assert!(
        a.description.ends_with("[lambda-rollout/1 idle rb=2]"),
        "{}",
        a.description
    );

    // Not restarted: neither by default nor by name, unless forced.
    let h = em.handler(cfg.clone());
    for p in [
        json!({"action":"start","function":f,"alias":"live"}),
        json!({"action":"start","function":f,"alias":"live","version":"2"}),
    ] {
        let e = h.handle(&p, t0).await.unwrap_err();
        assert!(e.to_string().contains("rolled back before"), "{e}");
    }
    let r = em
        .run(
            &cfg,
            json!({"action":"start","function":f,"alias":"live","version":2,"force":true}),
            t0,
        )
        .await;
    assert_eq!(only(&r)["decision"], "started");
}

#[tokio::test]
async fn every_manual_action_against_the_emulator() {
    let em = emulator().await;
    let f = em.blue_green("manual").await;
    let cfg = Config::from_values(None, None);
    let t0 = sim_start();
    let act = |a: &str| json!({"action":a,"function":f,"alias":"live"});

    // Nothing in progress: status, pause, resume, promote and rollback say so.
    for a in ["status", "pause", "resume", "promote", "rollback"] {
        let r = em.run(&cfg, act(a), t0).await;
        assert_eq!(only(&r)["decision"], "idle", "{a}: {r}");
    }
    let r = em
        .run(
            &cfg,
            json!({"action":"start","function":f,"alias":"live","dry_run":true}),
            t0,
        )
        .await;
    assert_eq!(only(&r)["decision"], "started");
    assert!(
        em.alias_raw(&f, "live").await.weights.is_empty(),
        "dry_run wrote nothing"
    );

    em.run(&cfg, act("start"), t0).await;
    let r = em.run(&cfg, act("status"), t0).await;
    assert_eq!(only(&r)["decision"], "held", "{r}");
    assert_eq!(only(&r)["dry_run"], true);

    let r = em.run(&cfg, act("pause"), t0).await;
    assert_eq!(only(&r)["decision"], "paused");
    assert!(em
        .alias_raw(&f, "live")
        .await
        .description
        .contains(" paused "));
    // A paused rollout holds at every tick, whatever the metrics say.
    let later = UtcTime::from_unix(t0.unix() + 3600);
    let r = em.run(&cfg, tick(&f), later).await;
    assert_eq!(only(&r)["decision"], "held");
    assert!(
        only(&r)["reason"].as_str().unwrap().starts_with("paused"),
        "{r}"
    );

    let r = em.run(&cfg, act("resume"), later).await;
    assert_eq!(only(&r)["decision"], "resumed");
    let r = em
        .run(
            &cfg,
            json!({"action":"promote","function":f,"alias":"live","reason":"on-call"}),
            later,
        )
        .await;
    assert_eq!(only(&r)["decision"], "promoted");
    assert_eq!(only(&r)["stable"], "2");
    let a = em.alias_raw(&f, "live").await;
    assert_eq!((a.function_version.as_str(), a.weights.len()), ("2", 0));

    // A third version, rolled back by hand.
    em.publish(&f, "Hello From Version 3").await;
    let r = em.run(&cfg, act("start"), later).await;
    assert_eq!(only(&r)["canary"], "3");
    let r = em
        .run(
            &cfg,
            json!({"action":"rollback","function":f,"alias":"live","reason":"p99 doubled"}),
            later,
        )
        .await;
    assert_eq!(only(&r)["decision"], "rolled_back");
    assert!(only(&r)["reason"].as_str().unwrap().contains("p99 doubled"));
    let a = em.alias_raw(&f, "live").await;
    assert_eq!((a.function_version.as_str(), a.weights.len()), ("2", 0));
    assert!(a.description.contains("rb=3"));
}

#[tokio::test]
async fn a_human_moving_the_weight_pauses_the_rollout() {
    let em = emulator().await;
    let f = em.blue_green("human").await;
    let cfg = Config::from_values(None, None);
    let t0 = sim_start();
    em.run(
        &cfg,
        json!({"action":"start","function":f,"alias":"live","policy":policy()}),
        t0,
    )
    .await;
    em.set_routing(&f, "live", None, Some(("2", 0.4))).await;
    let r = em
        .run(&cfg, tick(&f), UtcTime::from_unix(t0.unix() + 600))
        .await;
    assert_eq!(only(&r)["decision"], "paused", "{r}");
    let a = em.alias_raw(&f, "live").await;
    assert_eq!(
        a.weights,
        vec![("2".to_string(), 0.4)],
        "the human's weight stands"
    );
    assert!(
        a.description.contains("paused green=2 blue=1 w=40 "),
        "{}",
        a.description
    );

    // The human clears the routing: the rollout is closed, 2 remembered.
    em.set_routing(&f, "live", None, None).await;
    let r = em
        .run(&cfg, tick(&f), UtcTime::from_unix(t0.unix() + 660))
        .await;
    assert_eq!(only(&r)["decision"], "idle", "{r}");
    assert!(em
        .alias_raw(&f, "live")
        .await
        .description
        .contains("idle rb=2"));
}

/// Wraps the real adapter and changes the alias, through the real API, right
/// before each of our writes: the first `interfere` writes lose the race.
struct Racing {
    inner: LambdaAliases,
    em: Arc<Emulator>,
    function: String,
    interfere: u32,
    writes: AtomicU32,
}

impl AliasRead for Racing {
    async fn read_alias(&self, t: &Target) -> Result<AliasSnapshot, StoreError> {
        self.inner.read_alias(t).await
    }
    async fn published_versions(
        &self,
        t: &Target,
    ) -> Result<Vec<lambda_rollout::engine::PublishedVersion>, StoreError> {
        self.inner.published_versions(t).await
    }
}

impl AliasWrite for Racing {
    async fn write_alias(
        &self,
        t: &Target,
        a: &AliasState,
        rev: &str,
    ) -> Result<String, StoreError> {
        if self.writes.fetch_add(1, Ordering::SeqCst) < self.interfere {
            // A console "save" that changes nothing but the RevisionId.
            let current = self.em.alias_raw(&self.function, "live").await;
            self.em
                .lambda
                .update_alias()
                .function_name(&self.function)
                .name("live")
                .description(current.description)
                .send()
                .await
                .unwrap();
        }
        self.inner.write_alias(t, a, rev).await
    }
}

#[tokio::test]
async fn a_revision_conflict_is_decided_again_once_then_reported() {
    let em = Arc::new(emulator().await);
    let f = em.blue_green("race").await;
    let t0 = sim_start();
    let racing = |interfere| {
        Handler::new(
            Executor::new(
                Racing {
                    inner: LambdaAliases::new(em.lambda.clone()),
                    em: em.clone(),
                    function: f.clone(),
                    interfere,
                    writes: AtomicU32::new(0),
                },
                CloudWatchMetrics::new(em.cloudwatch.clone()),
            ),
            Config::from_values(None, None),
        )
    };
    let start = json!({"action":"start","function":f,"alias":"live","version":"2"});

    // Two interfering edits: both attempts lose, nothing of ours is written.
    let e = racing(2).handle(&start, t0).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    assert!(e.to_string().contains("run it again"));
    let a = em.alias_raw(&f, "live").await;
    assert!(a.weights.is_empty(), "nothing of ours was written");
    assert_eq!(a.description, "");

    // One interfering edit: re-read, decide again, apply; the human's text stays.
    let r = racing(1).handle(&start, t0).await.unwrap();
    assert_eq!(r.results[0].decision, "started");
    let a = em.alias_raw(&f, "live").await;
    assert_eq!(a.weights, vec![("2".to_string(), 0.1)]);
    assert!(
        a.description
            .starts_with("[lambda-rollout/1 rolling green=2"),
        "{}",
        a.description
    );

    // A tick that keeps losing reports `conflict` for that target and writes
    // nothing: here it wants to pause after a human moved the weight.
    em.set_routing(&f, "live", None, Some(("2", 0.3))).await;
    let before = em.alias_raw(&f, "live").await;
    let r = racing(2)
        .handle(&tick(&f), UtcTime::from_unix(t0.unix() + 600))
        .await
        .unwrap();
    assert_eq!(r.results[0].decision, "conflict", "{:?}", r.results[0]);
    assert!(r.results[0].reason.contains("changed twice"));
    let a = em.alias_raw(&f, "live").await;
    assert_eq!(a.weights, before.weights);
    assert_eq!(
        a.description, before.description,
        "only the interfering saves landed"
    );
    let rollback = json!({"action":"rollback","function":f,"alias":"live"});
    let r = racing(1).handle(&rollback, t0).await.unwrap();
    assert_eq!(
        r.results[0].decision, "rolled_back",
        "a rollback racing an edit still lands"
    );
}

#[tokio::test]
async fn auto_start_begins_a_rollout_of_a_newly_published_version() {
    let em = emulator().await;
    let f = unique("autostart");
    em.create_function(&f, "Hello From Blue Deployment").await;
    em.publish(&f, "Hello From Blue Deployment").await;
    em.create_alias(&f, "live", "1").await;
    let cfg = Config::from_values(
        Some(&format!(
            r#"[{{"function":"{f}","alias":"live","policy":{{"auto_start":true}}}}]"#
        )),
        None,
    );
    let t0 = sim_start();
    let scheduled = json!({"detail-type":"Scheduled Event","source":"aws.events","detail":{}});
    let r = em.run(&cfg, scheduled.clone(), t0).await;
    assert_eq!(only(&r)["decision"], "idle", "{r}");
    // The release flow: new code is published (sam deploy with a release alias
    // does this); the next scheduled tick starts it.
    em.publish(&f, "Hello From Green Deployment").await;
    let r = em.run(&cfg, scheduled, t0).await;
    assert_eq!(only(&r)["decision"], "started", "{r}");
    assert_eq!(
        em.alias_raw(&f, "live").await.weights,
        vec![("2".to_string(), 0.1)]
    );
}

#[tokio::test]
async fn alarm_gates_are_read_from_cloudwatch() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
    let em = emulator().await;
    let f = em.blue_green("alarm").await;
    let alarm = format!("{f}-errors");
    em.cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .dimensions(Dimension::builder().name("FunctionName").value(&f).build())
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .unwrap();
    let set = |state: StateValue| {
        em.cloudwatch
            .set_alarm_state()
            .alarm_name(&alarm)
            .state_value(state)
            .state_reason("set by the test")
            .send()
    };
    let cfg = Config::from_values(None, None);
    let t0 = sim_start();
    let gated = |alarms: Vec<String>| json!({"action":"tick","targets":[{"function":f,"alias":"live","policy":{"alarms":alarms,"bake":"1m","metric_lag":"1m","min_invocations":20}}]});
    em.run(
        &cfg,
        json!({"action":"start","function":f,"alias":"live"}),
        t0,
    )
    .await;
    let soon = UtcTime::from_unix(t0.unix() + 30);

    set(StateValue::InsufficientData).await.unwrap();
    let r = em.run(&cfg, gated(vec![alarm.clone()]), soon).await;
    assert_eq!(only(&r)["decision"], "held", "{r}");
    assert!(
        only(&r)["reason"]
            .as_str()
            .unwrap()
            .contains("INSUFFICIENT_DATA"),
        "{r}"
    );

    let r = em
        .run(&cfg, gated(vec![format!("{alarm}-typo")]), soon)
        .await;
    assert_eq!(only(&r)["decision"], "held", "{r}");
    assert!(
        only(&r)["reason"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{r}"
    );

    set(StateValue::Ok).await.unwrap();
    let r = em.run(&cfg, gated(vec![alarm.clone()]), soon).await;
    assert_eq!(only(&r)["decision"], "held", "{r}");
    assert!(
        only(&r)["reason"].as_str().unwrap().starts_with("waiting"),
        "{r}"
    );

    // The alarm fires seconds into the step: rolled back before any metrics.
    set(StateValue::Alarm).await.unwrap();
    let r = em.run(&cfg, gated(vec![alarm.clone()]), soon).await;
    assert_eq!(only(&r)["decision"], "rolled_back", "{r}");
    assert!(
        only(&r)["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("{alarm:?} is in ALARM")),
        "{r}"
    );
    assert_eq!(only(&r)["health"]["alarms"][0]["state"], "ALARM", "{r}");
    let a = em.alias_raw(&f, "live").await;
    assert!(a.weights.is_empty());
}

#[tokio::test]
async fn custom_metrics_and_metric_math_are_read_for_green_and_gate_the_rollout() {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let em = emulator().await;
    let cfg = Config::from_values(None, None);
    let metric = |name: &str| {
        json!({"namespace":"HelloShop","metric":name,
               "dimensions":{"Function":"{function}","Version":"{version}"}})
    };
    let mut plain = metric("CheckoutFailures");
    plain["name"] = json!("checkout failures");
    plain["max"] = json!(5);
    let math = json!({"name":"checkout failure rate","expression":"100 * failures / checkouts",
        "inputs":{"failures":metric("CheckoutFailures"),"checkouts":metric("Checkouts")},"max":5});
    // The same shop data gates both: green fails 2 of 100 checkouts, then 20.
    for (name, gate, failed) in [
        ("custom", plain, "\"checkout failures\" is 20 > max 5"),
        ("math", math, "\"checkout failure rate\" is 20 > max 5"),
    ] {
        let f = em.blue_green(name).await;
        let t0 = sim_start();
        let policy = json!({"bake":"1m","metric_lag":"1m","min_invocations":20,"error_floor":5,"metrics":[gate]});
        let tick =
            json!({"action":"tick","targets":[{"function":f,"alias":"live","policy":policy}]});
        em.run(
            &cfg,
            json!({"action":"start","function":f,"alias":"live"}),
            t0,
        )
        .await;
        let put = |version: &str, minute: UtcTime, failures: f64| {
            let datum = |name: &str, value: f64| {
                MetricDatum::builder()
                    .metric_name(name)
                    .dimensions(Dimension::builder().name("Function").value(&f).build())
                    .dimensions(Dimension::builder().name("Version").value(version).build())
                    .timestamp(DateTime::from_secs(minute.unix()))
                    .value(value)
                    .build()
            };
            em.cloudwatch
                .put_metric_data()
                .namespace("HelloShop")
                .metric_data(datum("CheckoutFailures", failures))
                .metric_data(datum("Checkouts", 100.0))
                .send()
        };
        em.put_version_minute(&f, "live", "1", t0, 900, 0).await;
        em.put_version_minute(&f, "live", "2", t0, 100, 0).await;
        // No data for the gate yet: hold, never pass.
        let at = UtcTime::from_unix(t0.unix() + 120);
        let r = em.run(&cfg, tick.clone(), at).await;
        assert_eq!(only(&r)["decision"], "held", "{name}: {r}");
        assert!(
            only(&r)["reason"].as_str().unwrap().contains("has no data"),
            "{name}: {r}"
        );
        // Blue's own failures do not count: the queries are for green's version.
        put("1", t0, 50.0).await.unwrap();
        put("2", t0, 2.0).await.unwrap();
        let r = em.run(&cfg, tick.clone(), at).await;
        assert_eq!(only(&r)["decision"], "advanced", "{name}: {r}");
        // Green's failures above max roll it back.
        let m1 = UtcTime::from_unix(t0.unix() + 120);
        em.put_version_minute(&f, "live", "1", m1, 750, 0).await;
        em.put_version_minute(&f, "live", "2", m1, 250, 0).await;
        put("2", m1, 20.0).await.unwrap();
        let r = em
            .run(&cfg, tick, UtcTime::from_unix(m1.unix() + 120))
            .await;
        assert_eq!(only(&r)["decision"], "rolled_back", "{name}: {r}");
        assert!(
            only(&r)["reason"].as_str().unwrap().contains(failed),
            "{name}: {r}"
        );
        assert!(em.alias_raw(&f, "live").await.weights.is_empty());
    }
}

#[tokio::test]
async fn an_alarm_state_change_event_rolls_back_the_targets_it_gates_at_once() {
    let em = emulator().await;
    let gated = em.blue_green("alarmevent").await;
    let other = em.blue_green("alarmother").await;
    let alarm = format!("{gated}-5xx");
    let cfg = Config::from_values(
        Some(
            &json!([
                {"function": gated, "alias": "live", "policy": {"alarms": [alarm]}},
                {"function": other, "alias": "live", "policy": {"alarms": ["someone-elses"]}}
            ])
            .to_string(),
        ),
        None,
    );
    let t0 = sim_start();
    for f in [&gated, &other] {
        em.run(
            &cfg,
            json!({"action":"start","function":f,"alias":"live"}),
            t0,
        )
        .await;
    }
    let event = |name: &str, state: &str| {
        let mut e: Value = serde_json::from_str(include_str!("../events/alarm.json")).unwrap();
        e["detail"]["alarmName"] = json!(name);
        e["detail"]["state"]["value"] = json!(state);
        e
    };
    let other_before = em.alias_raw(&other, "live").await;
    let gated_before = em.alias_raw(&gated, "live").await;
    let soon = UtcTime::from_unix(t0.unix() + 20);

    // Back to OK, or an alarm that gates nothing: nothing is written.
    for e in [event(&alarm, "OK"), event("not-ours", "ALARM")] {
        let r = em.run(&cfg, e, soon).await;
        assert_eq!(r["results"], json!([]), "{r}");
    }
    assert_eq!(em.alias_raw(&gated, "live").await, gated_before);

    // ALARM: the target it gates is rolled back in this invocation, twenty
    // seconds into the step, long before a tick could have read a metric.
    let r = em.run(&cfg, event(&alarm, "ALARM"), soon).await;
    assert_eq!(only(&r)["function"], json!(gated), "{r}");
    assert_eq!(only(&r)["decision"], "rolled_back", "{r}");
    assert!(
        only(&r)["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("alarm {alarm:?} went to ALARM")),
        "{r}"
    );
    let a = em.alias_raw(&gated, "live").await;
    assert!(a.weights.is_empty() && a.function_version == "1", "{a:?}");
    assert!(a.description.contains("rb=2"), "remembered: {a:?}");
    assert_eq!(
        em.alias_raw(&other, "live").await,
        other_before,
        "a target the alarm does not gate is not touched"
    );
    // Delivered again (EventBridge delivers at least once): nothing more.
    let r = em.run(&cfg, event(&alarm, "ALARM"), soon).await;
    assert_eq!(only(&r)["decision"], "idle", "{r}");
}
