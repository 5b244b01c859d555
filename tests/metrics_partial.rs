//! A metrics call that fails holds only the targets it carried (#16): a tick
//! over 80 rolling targets needs two GetMetricData calls (560 queries, 500 a
//! call); the proxy fails every attempt of the one carrying target 0's
//! queries, and the targets of the other call are judged all the same.

mod common;

use std::time::Duration;

use common::emulator;
use common::faults::{FaultProxy, Op};
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases};
use lambda_rollout::config::Config;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

const TARGETS: usize = 80;

#[tokio::test]
async fn a_failed_metrics_call_holds_only_the_targets_it_carried() {
    let em = emulator().await;
    let cfg = Config::from_values(None, None);
    let mut targets = Vec::new();
    for _ in 0..TARGETS {
        let f = em.blue_green("partial").await;
        let out = em
            .run(
                &cfg,
                json!({"action": "start", "function": f, "alias": "live"}),
                UtcTime::now(),
            )
            .await;
        assert_eq!(out["results"][0]["decision"], "started", "{out}");
        targets.push(json!({"function": f, "alias": "live"}));
    }
    let proxy = FaultProxy::to_emulator(1).await;
    // Target 0's queries are t0_...: only the first call carries them.
    proxy.fail_metrics_carrying(Some(b"t0_"));
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&sdk)
            .endpoint_url(proxy.url())
            .build(),
    );
    let handler = Handler::new(
        Executor::new(
            LambdaAliases::new(em.lambda.clone()),
            CloudWatchMetrics::new(cloudwatch),
        ),
        cfg,
    );
    // Past the first step's bake: every target is judged on its window.
    let later = UtcTime::now().plus(Duration::from_secs(600));
    let out = handler
        .handle(
            &json!({"action": "tick", "dry_run": true, "targets": targets}),
            later,
        )
        .await
        .unwrap();
    let out: Value = serde_json::to_value(out).unwrap();
    let log = proxy.take_log().await;
    let calls: Vec<_> = log.iter().filter(|e| e.op == Op::GetMetricData).collect();
    assert!(
        calls.iter().any(|e| e.upstream_status == Some(200)),
        "one call answered: {:?}",
        calls.iter().map(|e| e.upstream_status).collect::<Vec<_>>()
    );
    let unavailable: Vec<bool> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["reason"]
                .as_str()
                .unwrap()
                .contains("metrics unavailable")
        })
        .collect();
    // 7 queries a target, 500 a call: targets 0 to 71 are (at least partly)
    // in the first call, 72 to 79 wholly in the second.
    assert!(unavailable[..71].iter().all(|u| *u), "{out}");
    assert!(unavailable[72..].iter().all(|u| !*u), "{out}");
    for r in &out["results"].as_array().unwrap()[72..] {
        assert!(r["health"].is_object(), "judged on its figures: {r}");
    }
}
