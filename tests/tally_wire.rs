//! A long hold's tally on a real alias (#16), against the emulator: a step
//! that holds for min_invocations writes its tally into the alias
//! description once its unread minutes reach the interval, the emulator's
//! Lambda takes that description and gives it back; the next tick asks
//! CloudWatch only for the minutes after the tally, and judges on the same
//! figures a whole read gives.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::emulator;
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases};
use lambda_rollout::config::Config;
use lambda_rollout::engine::{Description, MetricsRequest, Observation};
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::model::UtcTime;
use lambda_rollout::ports::{MetricsError, MetricsRead};
use serde_json::{json, Value};

/// The CloudWatch adapter, each request the engine made kept.
struct Recorded {
    inner: CloudWatchMetrics,
    asked: Mutex<Vec<MetricsRequest>>,
}

impl MetricsRead for Recorded {
    async fn observe(&self, requests: &[MetricsRequest]) -> Vec<Result<Observation, MetricsError>> {
        self.asked.lock().unwrap().extend_from_slice(requests);
        self.inner.observe(requests).await
    }
}

#[tokio::test]
async fn a_long_hold_keeps_its_tally_in_the_alias_and_reads_only_after_it() {
    let em = emulator().await;
    // More evidence than the traffic gives: the first step holds.
    let policy = r#"{"steps":[10,100],"bake":"5m","metric_lag":"2m","min_invocations":100000}"#;
    let cfg = Config::from_values(None, Some(policy));
    let f = em.blue_green("tally").await;
    // The rollout began 50 minutes ago; its minutes have traffic since.
    let t0 = UtcTime::now()
        .minus(Duration::from_secs(50 * 60))
        .floor_minute();
    let out = em
        .run(
            &cfg,
            json!({"action": "start", "function": f, "alias": "live"}),
            t0,
        )
        .await;
    assert_eq!(out["results"][0]["decision"], "started", "{out}");
    for m in 0..48 {
        let minute = t0.plus(Duration::from_secs(60 * m));
        em.put_version_minute(&f, "live", "2", minute, 2, u64::from(m == 7))
            .await;
        em.put_version_minute(&f, "live", "1", minute, 18, 0).await;
    }
    let cloudwatch = Recorded {
        inner: CloudWatchMetrics::new(em.cloudwatch.clone()),
        asked: Mutex::new(Vec::new()),
    };
    let handler = Handler::new(
        Executor::new(LambdaAliases::new(em.lambda.clone()), cloudwatch),
        cfg,
    );
    let tick = |at: UtcTime| {
        let h = &handler;
        let f = f.clone();
        async move {
            let payload = json!({"action": "tick", "targets": [{"function": f, "alias": "live"}]});
            let out = h.handle(&payload, at).await.unwrap();
            serde_json::to_value(out).unwrap()
        }
    };

    // 40 minutes in: 38 complete minutes unread, past any target's interval
    // (at most 30): the hold writes its tally.
    let first = t0.plus(Duration::from_secs(40 * 60));
    let out = tick(first).await;
    let r = &out["results"][0];
    assert_eq!(r["decision"], "held", "{out}");
    let alias = em.alias_raw(&f, "live").await;
    let record = Description::parse(&alias.description).unwrap().record;
    let tally = record.rollout.unwrap().tally.expect("a tally in the alias");
    let upto = first.minus(Duration::from_secs(120));
    assert_eq!(tally.upto, upto, "{}", alias.description);
    // Minutes 0 to 37, green 2 a minute with one error, blue 18.
    assert_eq!(
        (
            tally.step.green_invocations,
            tally.step.green_errors,
            tally.step.blue_invocations
        ),
        (76, 1, 684),
        "{}",
        alias.description
    );
    assert!(alias.description.chars().count() <= 256);

    // Five minutes later the engine asks only for what the tally lacks, and
    // judges on every minute since the step began.
    handler.executor.metrics.asked.lock().unwrap().clear();
    let second = first.plus(Duration::from_secs(5 * 60));
    let out = tick(second).await;
    let r: &Value = &out["results"][0];
    assert_eq!(r["decision"], "held", "{out}");
    let asked = handler.executor.metrics.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].rollout_start, upto, "read from the tally on");
    assert_eq!(asked[0].start, upto);
    let health = &r["health"];
    assert_eq!(health["green"]["invocations"], 2 * 43, "{r}");
    assert_eq!(health["green"]["errors"], 1, "{r}");
    assert_eq!(health["blue"]["invocations"], 18 * 43, "{r}");
    // The description still ends with the same record, RevisionId unmoved:
    // a tally is not written again before its interval.
    let after = em.alias_raw(&f, "live").await;
    assert_eq!(after.revision_id, alias.revision_id);
}
