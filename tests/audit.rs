//! Audit events against the emulator: every transition is one EventBridge
//! event on the configured bus, and an example rule like template.yaml's
//! (rollbacks only) forwards exactly the rollbacks. A bus that cannot take
//! them never stops a transition.

mod common;

use std::time::Duration;

use common::{emulator, sim_start, unique};
use lambda_rollout::aws::{CloudWatchMetrics, EventBridgeAudit, LambdaAliases};
use lambda_rollout::config::Config;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

/// A queue that receives what a rule on `bus` with `pattern` matches.
async fn queue_for(
    events: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    bus: &str,
    pattern: Value,
) -> String {
    let name = unique("audit-q");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let rule = unique("audit-rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    url
}

/// The details of every event in the queue, waiting a little for delivery.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str, want: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..20 {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in r.messages() {
            let event: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            assert_eq!(event["source"], "lambda-rollout", "{event}");
            assert_eq!(event["detail-type"], "Rollout Transition", "{event}");
            out.push(event["detail"].clone());
        }
        if out.len() >= want {
            // A moment more: anything extra would be a duplicate.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let r = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            for m in r.messages() {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
            }
            break;
        }
    }
    out
}

#[tokio::test]
async fn every_transition_is_one_event_and_the_example_rule_forwards_rollbacks() {
    let em = emulator().await;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let bus = unique("rollouts");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let all = queue_for(&events, &sqs, &bus, json!({"source": ["lambda-rollout"]})).await;
    // template.yaml's RollbackAlerts rule, on the same bus.
    let rollbacks = queue_for(
        &events,
        &sqs,
        &bus,
        json!({"source": ["lambda-rollout"], "detail-type": ["Rollout Transition"],
               "detail": {"decision": ["rolled_back"]}}),
    )
    .await;

    let f = em.blue_green("audit").await;
    let handler = |events: &aws_sdk_eventbridge::Client, bus: &str| {
        Handler::new(
            Executor::new(
                LambdaAliases::new(em.lambda.clone()),
                CloudWatchMetrics::new(em.cloudwatch.clone()),
            ),
            Config::from_values(None, None),
        )
        .with_audit(EventBridgeAudit::new(events.clone(), Some(bus.to_string())))
    };
    let h = handler(&events, &bus);
    let t0 = sim_start();
    let run = |payload: Value, now: UtcTime| {
        let h = &h;
        async move { h.handle(&payload, now).await.expect("handled") }
    };
    run(json!({"action":"start","function":f,"alias":"live"}), t0).await;
    // A status and a tick that holds are not transitions: no event.
    run(json!({"action":"status","function":f,"alias":"live"}), t0).await;
    run(
        json!({"action":"tick","targets":[{"function":f,"alias":"live"}]}),
        t0,
    )
    .await;
    run(
        json!({"action":"pause","function":f,"alias":"live","reason":"looking"}),
        t0,
    )
    .await;
    run(
        json!({"action":"rollback","function":f,"alias":"live","reason":"p99 doubled"}),
        t0,
    )
    .await;

    let seen = drain(&sqs, &all, 3).await;
    let decisions: Vec<&str> = seen
        .iter()
        .map(|d| d["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["started", "paused", "rolled_back"], "{seen:?}");
    let rb = &seen[2];
    assert_eq!(rb["function"], json!(f));
    assert_eq!(rb["alias"], "live");
    assert_eq!(rb["green"], "2", "the version rolled back: {rb}");
    assert_eq!(rb["stable"], "1");
    assert_eq!(rb["weight_before"], 10.0);
    assert_eq!(rb["weight_after"], 0.0);
    assert!(
        rb["reason"].as_str().unwrap().contains("p99 doubled"),
        "{rb}"
    );

    let forwarded = drain(&sqs, &rollbacks, 1).await;
    assert_eq!(forwarded.len(), 1, "only the rollback: {forwarded:?}");
    assert_eq!(forwarded[0]["decision"], "rolled_back");

    // EventBridge unreachable: the transition stands, the failure is logged.
    let unreachable = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let broken = handler(&unreachable, &bus);
    let r = broken
        .handle(
            &json!({"action":"start","function":f,"alias":"live","force":true}),
            t0,
        )
        .await
        .expect("the start stands");
    assert_eq!(r.results[0].decision, "started");
    assert_eq!(
        em.alias_raw(&f, "live").await.weights,
        vec![("2".to_string(), 0.1)]
    );
    // ... and the emit it survived did fail.
    use lambda_rollout::ports::AuditSink;
    let e = broken.audit.emit(&r.results).await.unwrap_err();
    assert!(e.to_string().contains("PutEvents"), "{e}");
}
