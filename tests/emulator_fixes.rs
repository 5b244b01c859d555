//! One test per start-up fix in emulator/plugin: each fails if its fix is
//! removed, so a LocalStack upgrade that makes a fix unnecessary (or breaks it)
//! shows up here.

mod common;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat};
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use common::{emulator, sim_start, unique, Emulator};

/// fix_update_alias_routing: UpdateAlias with a non-empty RoutingConfig
/// answered 500.
#[tokio::test]
async fn update_alias_with_routing() {
    let em = emulator().await;
    let f = em.blue_green("fix").await;
    em.set_routing(&f, "live", None, Some(("2", 0.25))).await;
    assert_eq!(
        em.alias_raw(&f, "live").await.weights,
        vec![("2".to_string(), 0.25)]
    );
    // And it still validates like AWS: routing to the primary version is refused.
    let e = em
        .lambda
        .update_alias()
        .function_name(&f)
        .name("live")
        .routing_config(
            AliasRoutingConfiguration::builder()
                .additional_version_weights("1", 0.5)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(e
        .into_service_error()
        .is_invalid_parameter_value_exception());
}

/// fix_alias_writes_atomic: an UpdateAlias without RevisionId (a human in the
/// console) racing a compare-and-swap stored the alias it had read before
/// that write, undoing a write answered 200. Two writers raise a counter in
/// the description, only by compare-and-swap, while a rival moves the routing
/// without a RevisionId; no read may find the counter below a value whose
/// write was answered before that read began. Without the fix, 3 to 9 writes
/// were lost in each of four runs (9 of 178 at 900 attempts a writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_without_revision_never_undoes_a_compare_and_swap() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    const ATTEMPTS: u32 = 900;
    let em = emulator().await;
    let f = em.blue_green("fixcas").await;
    let stop = Arc::new(AtomicBool::new(false));
    let rival = {
        let (lambda, f, stop) = (em.lambda.clone(), f.clone(), stop.clone());
        tokio::spawn(async move {
            let mut writes = 0u32;
            while !stop.load(Ordering::Relaxed) {
                lambda
                    .update_alias()
                    .function_name(&f)
                    .name("live")
                    .routing_config(AliasRoutingConfiguration::builder().build())
                    .send()
                    .await
                    .expect("a write without RevisionId");
                writes += 1;
            }
            writes
        })
    };
    // The highest counter a compare-and-swap was answered 200 for, and the
    // values no longer found once answered.
    let top = Arc::new(AtomicU32::new(0));
    let lost = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (lambda, f) = (em.lambda.clone(), f.clone());
            let (top, lost) = (top.clone(), lost.clone());
            tokio::spawn(async move {
                let mut applied = 0u32;
                for _ in 0..ATTEMPTS {
                    let floor = top.load(Ordering::SeqCst);
                    let a = lambda
                        .get_alias()
                        .function_name(&f)
                        .name("live")
                        .send()
                        .await
                        .expect("get_alias");
                    let seen: u32 = a.description().unwrap_or_default().parse().unwrap_or(0);
                    if seen < floor {
                        lost.lock().unwrap().insert(floor);
                    }
                    let cas = lambda
                        .update_alias()
                        .function_name(&f)
                        .name("live")
                        .description((seen + 1).to_string())
                        .revision_id(a.revision_id().unwrap_or_default())
                        .send()
                        .await;
                    match cas {
                        Ok(_) => {
                            applied += 1;
                            top.fetch_max(seen + 1, Ordering::SeqCst);
                        }
                        Err(e) => assert!(
                            e.into_service_error().is_precondition_failed_exception(),
                            "a stale RevisionId is refused with 412"
                        ),
                    }
                }
                applied
            })
        })
        .collect();
    let mut applied = 0;
    for w in writers {
        applied += w.await.expect("writer");
    }
    stop.store(true, Ordering::Relaxed);
    let rival_writes = rival.await.expect("rival");
    assert!(
        applied > 0 && rival_writes > 0,
        "both kinds of write applied ({applied} compare-and-swap, {rival_writes} without)"
    );
    let lost = lost.lock().unwrap();
    assert!(
        lost.is_empty(),
        "{} of {applied} compare-and-swap writes answered 200 were undone by a write \
         without RevisionId ({rival_writes} of those): counters {lost:?}",
        lost.len()
    );
}

fn dims(f: &str, version: &str) -> Vec<Dimension> {
    vec![
        Dimension::builder().name("FunctionName").value(f).build(),
        Dimension::builder()
            .name("Resource")
            .value(format!("{f}:live"))
            .build(),
        Dimension::builder()
            .name("ExecutedVersion")
            .value(version)
            .build(),
    ]
}

async fn query(em: &Emulator, f: &str, version: &str, metric: &str, stat: &str) -> Vec<f64> {
    let t = sim_start();
    let out = em
        .cloudwatch
        .get_metric_data()
        .start_time(DateTime::from_secs(t.unix()))
        .end_time(DateTime::from_secs(t.unix() + 120))
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("q")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("AWS/Lambda")
                                .metric_name(metric)
                                .set_dimensions(Some(dims(f, version)))
                                .build(),
                        )
                        .period(60)
                        .stat(stat)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{stat}: {e:?}"));
    out.metric_data_results()[0].values().to_vec()
}

/// fix_dimension_value_prefix_match: a query for ExecutedVersion=1 also
/// returned ExecutedVersion=12's points.
#[tokio::test]
async fn dimension_values_match_exactly() {
    let em = emulator().await;
    let f = unique("dims");
    let t = sim_start();
    em.put_version_minute(&f, "live", "1", t, 5, 0).await;
    em.put_version_minute(&f, "live", "12", t, 7, 0).await;
    assert_eq!(query(&em, &f, "1", "Invocations", "Sum").await, vec![5.0]);
    assert_eq!(query(&em, &f, "12", "Invocations", "Sum").await, vec![7.0]);
}

/// fix_percentile_statistics: GetMetricData with p99 answered 500.
#[tokio::test]
async fn percentile_statistics() {
    let em = emulator().await;
    let f = unique("pct");
    let t = sim_start();
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    em.cloudwatch
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Duration")
                .set_dimensions(Some(dims(&f, "1")))
                .timestamp(DateTime::from_secs(t.unix()))
                .set_values(Some(values))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(query(&em, &f, "1", "Duration", "p99").await, vec![99.0]);
    assert_eq!(query(&em, &f, "1", "Duration", "p50").await, vec![50.0]);
    assert_eq!(query(&em, &f, "1", "Duration", "p99.9").await, vec![100.0]);
    assert_eq!(
        query(&em, &f, "1", "Duration", "Maximum").await,
        vec![100.0]
    );
}

/// The dashboard provider (dashboard.py): CloudFormation had none for
/// AWS::CloudWatch::Dashboard and marked it CREATE_COMPLETE "as a fallback"
/// with the physical id "unknown". Ours puts the dashboard, and refuses a body
/// that is not JSON, as AWS's PutDashboard does and the emulator's does not.
#[tokio::test]
async fn a_stacks_dashboard_is_created_and_a_broken_body_refused() {
    use aws_sdk_cloudformation::types::StackStatus;

    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let stack_with = |body: &str| {
        serde_json::json!({
            "Resources": {"Board": {"Type": "AWS::CloudWatch::Dashboard",
                "Properties": {"DashboardName": unique("board"), "DashboardBody": body}}}
        })
        .to_string()
    };
    // The stack's status once CloudFormation has finished with it.
    let settle = |name: String| {
        let cfn = cfn.clone();
        async move {
            for _ in 0..120 {
                let s = cfn
                    .describe_stacks()
                    .stack_name(&name)
                    .send()
                    .await
                    .unwrap();
                let status = s.stacks()[0].stack_status().cloned().unwrap();
                if !status.as_str().ends_with("_IN_PROGRESS") {
                    return status;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            panic!("stack {name} never settled");
        }
    };
    let body = r#"{"widgets":[{"type":"text","x":0,"y":0,"width":6,"height":2,"properties":{"markdown":"hi"}}]}"#;
    let good = unique("dashboard-ok");
    cfn.create_stack()
        .stack_name(&good)
        .template_body(stack_with(body))
        .send()
        .await
        .unwrap();
    assert_eq!(settle(good.clone()).await, StackStatus::CreateComplete);
    let r = cfn
        .describe_stack_resource()
        .stack_name(&good)
        .logical_resource_id("Board")
        .send()
        .await
        .unwrap();
    let name = r
        .stack_resource_detail()
        .unwrap()
        .physical_resource_id()
        .unwrap()
        .to_string();
    assert_ne!(name, "unknown");
    let d = cw
        .get_dashboard()
        .dashboard_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(d.dashboard_body(), Some(body));

    let bad = unique("dashboard-bad");
    cfn.create_stack()
        .stack_name(&bad)
        .template_body(stack_with("{\"widgets\": [ not json"))
        .send()
        .await
        .unwrap();
    let status = settle(bad).await;
    assert!(
        matches!(
            status,
            StackStatus::CreateFailed | StackStatus::RollbackComplete | StackStatus::RollbackFailed
        ),
        "{status:?}"
    );
}

/// fix_tagging_api_sees_lambda_functions: GetResources finds a Lambda
/// function by its tags, with AWS's filter rules (filters ANDed, a filter's
/// values ORed, a key alone matching any value), and never an untagged one.
#[tokio::test]
async fn the_tagging_api_finds_tagged_lambda_functions() {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let em = emulator().await;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let tagging = aws_sdk_resourcegroupstagging::Client::new(&sdk);
    let team = unique("team");
    let (a, b, c) = (unique("tagged-a"), unique("tagged-b"), unique("untagged"));
    for f in [&a, &b, &c] {
        em.create_function(f, "hello").await;
    }
    for (f, stage) in [(&a, "live"), (&b, "beta")] {
        em.lambda
            .tag_resource()
            .resource(format!(
                "arn:aws:lambda:us-east-1:000000000000:function:{f}"
            ))
            .tags("fix-test-team", &team)
            .tags("stage", stage)
            .send()
            .await
            .expect("tag_resource");
    }
    let found = |filters: Vec<TagFilter>| {
        let tagging = tagging.clone();
        async move {
            let out = tagging
                .get_resources()
                .resource_type_filters("lambda:function")
                .set_tag_filters(Some(filters))
                .send()
                .await
                .expect("get_resources");
            let mut names: Vec<String> = out
                .resource_tag_mapping_list()
                .iter()
                .filter_map(|r| r.resource_arn())
                .map(|arn| arn.rsplit(':').next().unwrap().to_string())
                .collect();
            names.sort();
            names
        }
    };
    let by_team = TagFilter::builder()
        .key("fix-test-team")
        .values(&team)
        .build();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(found(vec![by_team.clone()]).await, both);
    let live = TagFilter::builder().key("stage").values("live").build();
    assert_eq!(found(vec![by_team.clone(), live]).await, vec![a.clone()]);
    let any_stage = TagFilter::builder()
        .key("stage")
        .values("live")
        .values("beta")
        .build();
    assert_eq!(found(vec![by_team.clone(), any_stage]).await, both);
    let key_alone = TagFilter::builder().key("stage").build();
    let names = found(vec![key_alone]).await;
    assert!(
        names.contains(&a) && names.contains(&b) && !names.contains(&c),
        "{names:?}"
    );
}
