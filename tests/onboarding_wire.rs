//! Self-service onboarding (#16): a function its team tagged
//! `lambda-rollout:alias` is rolled out by the policy in the SSM parameter
//! its `lambda-rollout:policy` tag names, with no target configured in the
//! orchestrator; a function without the tag is never read nor written, and
//! one whose tags say something impossible is reported and left alone.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::faults::FaultProxy;
use common::{emulator, sim_start, unique, Emulator};
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases, TaggedFunctions};
use lambda_rollout::config::Config;
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::model::UtcTime;
use lambda_rollout::onboarding::{ALIAS_TAG, GROUP_TAG, POLICY_TAG};
use lambda_rollout::ports::{Discover, DiscoveryError, NoAudit, NoChecks, ParameterText, Tagged};
use serde_json::{json, Value};

/// The team's policy: steps of 10, 50, 100 and auto_start, where the
/// orchestrator's own would start at 25 and wait for a command.
const TEAM_POLICY: &str = r#"{"steps":[10,50,100],"bake":"2m","min_invocations":20,"max_error_rate":2,"metric_lag":"1m","error_floor":5,"auto_start":true}"#;
const ORCHESTRATOR_POLICY: &str = r#"{"steps":[25,100],"bake":"10m"}"#;

async fn tag(em: &Emulator, function: &str, tags: &[(&str, &str)]) {
    let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{function}");
    let mut req = em.lambda.tag_resource().resource(arn);
    for (k, v) in tags {
        req = req.tags(*k, *v);
    }
    req.send().await.expect("tag_resource");
}

/// The tagging API's answer, of this test's functions only: other tests
/// tag functions in the same emulator, and this test's ticks (which write)
/// must not roll those out. What the API answers is not otherwise changed.
struct Only<D> {
    source: D,
    functions: Vec<String>,
}

impl<D: Discover> Discover for Only<D> {
    async fn tagged(&self, key: &str) -> Result<Vec<Tagged>, DiscoveryError> {
        let mut all = self.source.tagged(key).await?;
        all.retain(|t| {
            self.functions
                .iter()
                .any(|f| t.arn.ends_with(&format!(":function:{f}")))
        });
        Ok(all)
    }

    async fn parameters(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, ParameterText>, DiscoveryError> {
        self.source.parameters(names).await
    }
}

fn result_for<'a>(out: &'a Value, function: &str) -> Option<&'a Value> {
    out["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["function"] == function)
}

#[tokio::test]
async fn a_tagged_function_is_rolled_out_by_its_teams_policy_and_no_other_is_touched() {
    let em = emulator().await;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);

    let tagged = em.blue_green("onboarded").await;
    let parameter = format!("/lambda-rollout/{}", unique("team"));
    ssm.put_parameter()
        .name(&parameter)
        .value(TEAM_POLICY)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .expect("put_parameter");
    tag(
        &em,
        &tagged,
        &[(ALIAS_TAG, "live"), (POLICY_TAG, &parameter)],
    )
    .await;

    // Published versions and an alias, but no tag: never lambda-rollout's.
    let untagged = em.blue_green("not-onboarded").await;
    let untagged_before = em.alias_raw(&untagged, "live").await;
    // Tagged, with a policy parameter nobody created.
    let broken = em.blue_green("onboarded-broken").await;
    tag(
        &em,
        &broken,
        &[
            (ALIAS_TAG, "live"),
            (POLICY_TAG, "/lambda-rollout/nobody-made-this"),
        ],
    )
    .await;
    let broken_before = em.alias_raw(&broken, "live").await;

    // Lambda and CloudWatch through the proxy, which logs every request.
    let proxy = FaultProxy::to_emulator(7).await;
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .endpoint_url(proxy.url())
            .build(),
    );
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&sdk)
            .endpoint_url(proxy.url())
            .build(),
    );
    // No target configured: the orchestrator's configuration is its policy.
    let config = Config::from_values(None, Some(ORCHESTRATOR_POLICY));
    let handler = Handler::new(
        Executor::new(
            LambdaAliases::new(lambda),
            CloudWatchMetrics::new(cloudwatch),
        ),
        config,
    )
    .with_onboarding(
        Some(Only {
            source: TaggedFunctions::new(aws_sdk_resourcegroupstagging::Client::new(&sdk), ssm),
            functions: vec![tagged.clone(), untagged.clone(), broken.clone()],
        }),
        Duration::from_secs(300),
    );

    let t0 = sim_start();
    let mut decisions = Vec::new();
    for k in 0..30 {
        let m = UtcTime::from_unix(t0.unix() + 60 * k);
        let a = em.alias_raw(&tagged, "live").await;
        let w = a.weight_of("2");
        let green = (400.0 * w).round() as u64;
        em.put_version_minute(&tagged, "live", &a.function_version, m, 400 - green, 0)
            .await;
        if green > 0 {
            em.put_version_minute(&tagged, "live", "2", m, green, 0)
                .await;
        }
        let now = UtcTime::from_unix(m.unix() + 120);
        let out = handler
            .handle(&json!({"action": "tick"}), now)
            .await
            .expect("a tick over the onboarded functions");
        let out = serde_json::to_value(out).unwrap();
        assert!(result_for(&out, &untagged).is_none(), "{out}");
        let b = result_for(&out, &broken).expect("the broken one is reported");
        assert_eq!(b["decision"], "error", "{b}");
        let reason = b["reason"].as_str().unwrap();
        assert!(
            reason.contains("/lambda-rollout/nobody-made-this")
                && reason.contains("does not exist"),
            "{reason}"
        );
        let r = result_for(&out, &tagged)
            .expect("the tagged one is ticked")
            .clone();
        let d = r["decision"].as_str().unwrap().to_string();
        decisions.push((d.clone(), r["weight_after"].as_f64().unwrap()));
        if d == "promoted" {
            break;
        }
    }
    // Started by the team's auto_start at its first step, 10, not the
    // orchestrator's 25; then its 50; then promoted.
    assert_eq!(decisions[0], ("started".to_string(), 10.0), "{decisions:?}");
    let advanced: Vec<f64> = decisions
        .iter()
        .filter(|(d, _)| d == "advanced")
        .map(|(_, w)| *w)
        .collect();
    assert_eq!(advanced, vec![50.0], "{decisions:?}");
    assert_eq!(decisions.last().unwrap().0, "promoted", "{decisions:?}");
    let a = em.alias_raw(&tagged, "live").await;
    assert_eq!(a.function_version, "2");

    // Neither the untagged function nor the refused one was changed, to the
    // RevisionId; the untagged one was not so much as named in a request.
    assert_eq!(em.alias_raw(&untagged, "live").await, untagged_before);
    assert_eq!(em.alias_raw(&broken, "live").await, broken_before);
    let log = proxy.take_log().await;
    assert!(
        log.iter().any(|e| e.path.contains(tagged.as_str())),
        "the proxy saw the ticks"
    );
    for e in &log {
        for name in [&untagged, &broken] {
            let named = e.path.contains(name.as_str())
                || e.request.windows(name.len()).any(|w| w == name.as_bytes());
            assert!(
                !named,
                "{name} was named in a request: {:?} {}",
                e.op, e.path
            );
        }
    }
}

/// The handler onboarding by tag the functions named (and no other).
fn onboarding_handler(
    em: &Emulator,
    sdk: &aws_config::SdkConfig,
    functions: &[String],
) -> Handler<LambdaAliases, CloudWatchMetrics, NoAudit, NoChecks, Only<TaggedFunctions>> {
    Handler::new(
        Executor::new(
            LambdaAliases::new(em.lambda.clone()),
            CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(sdk)),
        ),
        Config::from_values(None, Some(ORCHESTRATOR_POLICY)),
    )
    .with_onboarding(
        Some(Only {
            source: TaggedFunctions::new(
                aws_sdk_resourcegroupstagging::Client::new(sdk),
                aws_sdk_ssm::Client::new(sdk),
            ),
            functions: functions.to_vec(),
        }),
        Duration::from_secs(300),
    )
}

#[tokio::test]
async fn functions_tagged_with_one_group_are_one_release_or_refused_whole() {
    let em = emulator().await;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let parameter = format!("/lambda-rollout/{}", unique("group-team"));
    ssm.put_parameter()
        .name(&parameter)
        .value(r#"{"steps":[50,100],"bake":"1m"}"#)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .expect("put_parameter");
    // Group "ok": two functions naming one policy. Group "mixed": one names
    // it, the other names none.
    let (ok, mixed) = (unique("ok"), unique("mixed"));
    let (ok_group, mixed_group) = (ok.as_str(), mixed.as_str());
    let mut members = Vec::new();
    for (i, (group, policy)) in [
        (ok_group, Some(parameter.as_str())),
        (ok_group, Some(parameter.as_str())),
        (mixed_group, Some(parameter.as_str())),
        (mixed_group, None),
    ]
    .into_iter()
    .enumerate()
    {
        let f = em.blue_green(&format!("tag-group-{i}")).await;
        let mut tags = vec![(ALIAS_TAG, "live"), (GROUP_TAG, group)];
        if let Some(p) = policy {
            tags.push((POLICY_TAG, p));
        }
        tag(&em, &f, &tags).await;
        members.push(f);
    }
    let mixed_before = [
        em.alias_raw(&members[2], "live").await,
        em.alias_raw(&members[3], "live").await,
    ];
    let handler = onboarding_handler(&em, &sdk, &members);
    let now = UtcTime::now();
    let run = |payload: Value| {
        let handler = &handler;
        async move {
            serde_json::to_value(handler.handle(&payload, now).await.expect("handled")).unwrap()
        }
    };

    let out = run(json!({"action": "start", "group": ok_group})).await;
    assert_eq!(common::decisions(&out), ["started"; 2], "{out}");
    for f in &members[..2] {
        let a = em.alias_raw(f, "live").await;
        assert_eq!(a.weight_of("2"), 0.5, "the team's first step: {f}");
        assert!(
            a.description.contains(&format!("grp={ok_group}/2")),
            "{}",
            a.description
        );
    }

    let out = run(json!({"action": "tick", "dry_run": true})).await;
    let groups = out["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{out}");
    assert_eq!(groups[0]["group"], ok_group);
    assert_eq!(groups[0]["members"].as_array().unwrap().len(), 2, "{out}");
    for f in &members[2..] {
        let r = result_for(&out, f).expect("the refused group's members are reported");
        assert_eq!(r["decision"], "error", "{r}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!(
                "group {mixed_group}: its members name different policies"
            )),
            "{reason}"
        );
    }
    let refused = handler
        .handle(&json!({"action": "start", "group": mixed_group}), now)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!("no group {mixed_group}")),
        "{refused}"
    );
    for (f, was) in members[2..].iter().zip(&mixed_before) {
        assert_eq!(&em.alias_raw(f, "live").await, was, "{f} untouched");
    }

    let out = run(json!({"action": "rollback", "group": ok_group, "reason": "test"})).await;
    for r in out["results"].as_array().unwrap() {
        assert_eq!(r["decision"], "rolled_back", "{r}");
    }
}
