//! Onboarded functions everywhere the configured ones go (#16), through the
//! handler on in-memory ports: an alarm that a team's policy names rolls
//! its function back at once, and a manual command uses the team's policy.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use lambda_rollout::config::Config;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::memory::{MemoryAliases, MemoryMetrics};
use lambda_rollout::model::{Target, UtcTime, Version};
use lambda_rollout::onboarding::{ALIAS_TAG, POLICY_TAG};
use lambda_rollout::ports::{Discover, DiscoveryError, ParameterText, Tagged};
use serde_json::{json, Value};

/// Two tagged functions, each team with its own policy parameter.
struct Teams;

impl Discover for Teams {
    async fn tagged(&self, _: &str) -> Result<Vec<Tagged>, DiscoveryError> {
        let tagged = |f: &str| Tagged {
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{f}"),
            tags: vec![
                (ALIAS_TAG.to_string(), "live".to_string()),
                (POLICY_TAG.to_string(), format!("/lambda-rollout/{f}")),
            ],
        };
        Ok(vec![tagged("checkout"), tagged("search")])
    }

    async fn parameters(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, ParameterText>, DiscoveryError> {
        let policy = |n: &str| match n {
            "/lambda-rollout/checkout" => r#"{"alarms":["checkout-5xx"],"steps":[5,100]}"#,
            _ => r#"{"alarms":["search-latency"],"on_failure":"pause"}"#,
        };
        Ok(names
            .iter()
            .map(|n| (n.clone(), Some(policy(n).to_string())))
            .collect())
    }
}

fn alarm(name: &str) -> Value {
    json!({
        "version": "0", "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a93",
        "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
        "account": "123456789012", "time": "2026-12-01T13:04:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {"alarmName": name, "state": {"value": "ALARM"}}
    })
}

#[tokio::test]
async fn an_alarm_a_teams_policy_names_rolls_its_function_back_and_no_other() {
    let now = UtcTime::parse_rfc3339("2026-12-01T13:05:00Z").unwrap();
    let names = vec!["checkout".to_string(), "search".to_string()];
    let store: MemoryAliases = common::fleet_store(&names, 2, now);
    let handler = Handler::new(
        Executor::new(store, MemoryMetrics::default()),
        Config::from_values(None, None),
    )
    .with_onboarding(Some(Teams), Duration::from_secs(300));
    let out = handler.handle(&alarm("checkout-5xx"), now).await.unwrap();
    let out = serde_json::to_value(out).unwrap();
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{out}");
    assert_eq!(
        (
            results[0]["function"].as_str(),
            results[0]["decision"].as_str()
        ),
        (Some("checkout"), Some("rolled_back")),
        "{out}"
    );
    let store = &handler.executor.store;
    let checkout = store.get(&Target::new("checkout", "live").unwrap());
    assert_eq!(
        (checkout.stable, checkout.canary),
        (Version::new(1).unwrap(), None)
    );
    let search = store.get(&Target::new("search", "live").unwrap());
    assert!(search.canary.is_some(), "the other team's rollout goes on");

    // The other team asked for a pause on failure: its alarm pauses.
    let out = handler.handle(&alarm("search-latency"), now).await.unwrap();
    let out = serde_json::to_value(out).unwrap();
    assert_eq!(out["results"][0]["decision"], "paused", "{out}");

    // A command for an onboarded function takes its team's policy: a start
    // of checkout goes to its first step, 5, where the defaults say 10.
    let start = json!({"action": "start", "function": "checkout", "alias": "live", "version": "2", "force": true});
    let out = handler.handle(&start, now).await.unwrap();
    let out = serde_json::to_value(out).unwrap();
    assert_eq!(
        (
            out["results"][0]["decision"].as_str(),
            out["results"][0]["weight_after"].as_f64()
        ),
        (Some("started"), Some(5.0)),
        "{out}"
    );
}
