//! The control-plane budget at the wire (#16): a tick over many targets, the
//! real SDK through a proxy that throttles Lambda requests beyond 15 a second
//! as the account's quota does. Without the budget the tick runs into the
//! quota; with it (10 a second) no request is throttled and no second holds
//! more than ten.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::emulator;
use common::faults::{Exchange, Fault, FaultProxy, Rival};
use lambda_rollout::aws::{Budget, CloudWatchMetrics, LambdaAliases};
use lambda_rollout::config::Config;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

const TARGETS: usize = 40;
const QUOTA: usize = 15;

/// The most Lambda requests that reached the proxy within any one second.
fn busiest_second(log: &[Exchange]) -> usize {
    let mut at: Vec<_> = log
        .iter()
        .filter(|e| e.alias.is_some())
        .map(|e| e.arrived)
        .collect();
    at.sort();
    (0..at.len())
        .map(|i| {
            at[i..]
                .iter()
                .take_while(|t| t.duration_since(at[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn the_budget_keeps_a_tick_under_the_accounts_quota() {
    let em = emulator().await;
    let mut targets = Vec::new();
    for _ in 0..TARGETS {
        let f = em.blue_green("budget").await;
        targets.push(json!({"function": f, "alias": "live"}));
    }
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let upstream = endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("the emulator's address");
    let rival: Rival = Arc::new(|_, _| Box::pin(async { None }));
    let proxy = FaultProxy::start(upstream, 1, rival, Duration::from_secs(1)).await;
    proxy.set_quota(Some(QUOTA));
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .endpoint_url(proxy.url())
            .build(),
    );
    let tick = |budget: Option<u32>| {
        let mut store = LambdaAliases::new(lambda.clone());
        if let Some(rate) = budget {
            store = store.with_budget(Arc::new(Budget::per_second(rate)));
        }
        let handler = Handler::new(
            Executor::new(store, CloudWatchMetrics::new(em.cloudwatch.clone()))
                .with_concurrency(16),
            Config::from_values(None, None),
        );
        let payload = json!({"action": "tick", "dry_run": true, "targets": targets});
        async move {
            let r = handler.handle(&payload, UtcTime::now()).await.unwrap();
            serde_json::to_value(r).unwrap()
        }
    };
    let throttled = |log: &[Exchange]| log.iter().filter(|e| e.fault == Fault::Throttle).count();

    // Without a budget, sixteen reads at a time run into the quota.
    tick(None).await;
    let log = proxy.take_log().await;
    assert!(
        throttled(&log) > 0,
        "the simulated quota never throttled: {}",
        log.len()
    );

    // Spaced out, the quota never throttles and every target is read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let out: Value = tick(Some(10)).await;
    let log = proxy.take_log().await;
    assert_eq!(throttled(&log), 0, "{} requests", log.len());
    assert_eq!(log.iter().filter(|e| e.alias.is_some()).count(), TARGETS);
    let busiest = busiest_second(&log);
    assert!(busiest <= 10, "{busiest} Lambda requests within one second");
    let decided = common::decisions(&out);
    assert!(decided.iter().all(|d| d == "idle"), "{decided:?}");
}
