//! Idle targets cost almost nothing (#16): through the handler on in-memory
//! ports, a fleet whose targets have nothing rolling is read about 1/K a
//! tick, the rolling ones every tick; an event for a function (CloudTrail's
//! PublishVersion, as EventBridge delivers it) reads it at once; given
//! targets and dry runs are always read.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use lambda_rollout::config::Config;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::memory::{MemoryAliases, MemoryMetrics};
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

const N: usize = 50;
const EVERY: u32 = 5;

fn name(i: usize) -> String {
    format!("idle-{i:02}")
}

fn fleet(now: UtcTime) -> Handler<MemoryAliases, MemoryMetrics> {
    let names: Vec<String> = (0..N).map(name).collect();
    let store = common::fleet_store(&names, 1, now);
    let targets: Vec<Value> = (0..N)
        .map(|i| json!({"function": name(i), "alias": "live"}))
        .collect();
    let config = Config::from_values(
        Some(&Value::Array(targets).to_string()),
        Some(r#"{"auto_start":true,"steps":[10,100],"bake":"5m"}"#),
    );
    Handler::new(Executor::new(store, MemoryMetrics::default()), config).with_idle_reads(EVERY)
}

async fn run(h: &Handler<MemoryAliases, MemoryMetrics>, payload: Value, now: UtcTime) -> Value {
    serde_json::to_value(h.handle(&payload, now).await.expect("handled")).unwrap()
}

fn functions(out: &Value) -> Vec<String> {
    out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["function"].as_str().unwrap().to_string())
        .collect()
}

fn reads(h: &Handler<MemoryAliases, MemoryMetrics>) -> usize {
    h.executor.store.reads.swap(0, Ordering::SeqCst)
}

#[tokio::test]
async fn idle_targets_are_read_once_every_k_ticks_and_rolling_ones_every_tick() {
    let t0 = UtcTime::parse_rfc3339("2026-12-01T12:00:00Z").unwrap();
    let h = fleet(t0);
    let tick = json!({"action": "tick"});
    let out = run(&h, tick.clone(), t0).await;
    assert_eq!(functions(&out).len(), N, "a cold start reads everything");
    assert!(out.get("not_read").is_none(), "{out}");
    assert_eq!(reads(&h), N);

    let mut times_read = vec![0; N];
    for k in 1..=EVERY as i64 {
        let out = run(
            &h,
            tick.clone(),
            t0.plus(Duration::from_secs(60 * k as u64)),
        )
        .await;
        let read = functions(&out);
        assert!(
            read.contains(&name(0)),
            "the rolling one, every tick: {read:?}"
        );
        assert_eq!(out["not_read"].as_u64().unwrap() as usize, N - read.len());
        assert_eq!(reads(&h), read.len(), "one GetAlias a target read");
        for f in read {
            times_read[f[5..].parse::<usize>().unwrap()] += 1;
        }
    }
    assert_eq!(times_read[0], EVERY as usize);
    assert!(
        times_read[1..].iter().all(|n| *n == 1),
        "every idle target once in {EVERY} ticks: {times_read:?}"
    );

    // Version 2 of an idle function is published, and CloudTrail's event
    // says so: it is read (and, auto_start, started) at once.
    h.executor.store.publish(&name(7), common::published(2));
    let event = json!({
        "version": "0", "id": "7f8e4b6a-0000-4000-8000-000000000001",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.lambda",
        "account": "123456789012", "time": "2026-12-01T12:06:10Z", "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventSource": "lambda.amazonaws.com",
            "eventName": "PublishVersion20150331",
            "requestParameters": {"functionName": format!("arn:aws:lambda:us-east-1:123456789012:function:{}", name(7))}
        }
    });
    let now = t0.plus(Duration::from_secs(370));
    let out = run(&h, event, now).await;
    assert_eq!(functions(&out), vec![name(7)], "{out}");
    assert_eq!(out["results"][0]["decision"], "started", "{out}");
    assert_eq!(reads(&h), 1);
    // Rolling now: read at every tick from here on.
    for k in 7..=9u64 {
        let out = run(&h, tick.clone(), t0.plus(Duration::from_secs(60 * k))).await;
        assert!(functions(&out).contains(&name(7)), "{out}");
    }

    // An event for a function this orchestrator does not manage reads nothing.
    let other = json!({
        "version": "0", "id": "7f8e4b6a-0000-4000-8000-000000000002",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.lambda",
        "account": "123456789012", "time": "2026-12-01T12:10:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {"eventName": "UpdateAlias20150331", "requestParameters": {"functionName": "someone-else", "name": "live"}}
    });
    reads(&h);
    let out = run(&h, other, t0.plus(Duration::from_secs(600))).await;
    assert_eq!(functions(&out), Vec::<String>::new());
    assert_eq!(reads(&h), 0);

    // Someone looking: a dry run, or a tick naming its targets, reads them all.
    let out = run(
        &h,
        json!({"action": "tick", "dry_run": true}),
        t0.plus(Duration::from_secs(610)),
    )
    .await;
    assert_eq!(functions(&out).len(), N);
    let named: Vec<Value> = (0..N)
        .map(|i| json!({"function": name(i), "alias": "live"}))
        .collect();
    let out = run(
        &h,
        json!({"action": "tick", "targets": named}),
        t0.plus(Duration::from_secs(620)),
    )
    .await;
    assert_eq!(functions(&out).len(), N);
}

#[tokio::test]
async fn a_lambda_api_call_event_it_cannot_read_is_one_clear_line() {
    let t0 = UtcTime::parse_rfc3339("2026-12-01T12:00:00Z").unwrap();
    let h = fleet(t0);
    let event = |detail: Value| {
        json!({
            "version": "0", "id": "7f8e4b6a-0000-4000-8000-000000000003",
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.lambda",
            "account": "123456789012", "time": "2026-12-01T12:00:00Z", "region": "us-east-1",
            "resources": [], "detail": detail
        })
    };
    for (detail, says) in [
        (
            json!({"eventName": "Invoke", "requestParameters": {"functionName": "f"}}),
            "is not one lambda-rollout reads",
        ),
        (
            json!({"eventName": "PublishVersion20150331"}),
            "without detail.requestParameters.functionName",
        ),
        (
            json!({"eventName": "TagResource20170331v2", "requestParameters": {"functionName": "f"}}),
            "requestParameters.resource",
        ),
        (
            json!({"eventName": "UpdateAlias20150331", "requestParameters": {"functionName": "not a name"}}),
            "not a Lambda function name",
        ),
        (
            json!({"requestParameters": {}}),
            "without a readable detail.eventName",
        ),
    ] {
        let e = h
            .handle(&event(detail.clone()), t0)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{detail}: {e}");
        assert!(!e.contains('\n') && e.len() < 400, "{e}");
    }
    assert_eq!(reads(&h), 0, "nothing read for a refused event");
}
