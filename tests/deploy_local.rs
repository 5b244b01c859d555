//! template.yaml deployed into the emulator's CloudFormation (#13): `make
//! deploy-local`'s script creates the stack with this machine's build of the
//! orchestrator; the stack reaches CREATE_COMPLETE and its outputs work: the
//! StatusCommand invokes the orchestrator, which runs as a Lambda and reads
//! the demo's alias, and the demo's REST API answers through the alias, Blue
//! or Green in proportion to the weight, with the per-version metrics counting
//! what each version answered.

mod common;

use aws_sdk_cloudformation::types::{Stack, StackStatus};
use aws_sdk_lambda::primitives::Blob;
use common::{emulator, unique};
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

/// GET `path` on the emulator's gateway: the body of a 200, and how many
/// times the gateway closed the connection before the first byte of an
/// answer and the GET was sent again (as an HTTP client retries an
/// idempotent request no answer began for). Seen under load about once in a
/// thousand requests; any other failure fails the test.
fn get(port: u16, path: &str) -> (String, u64) {
    let mut retries = 0;
    loop {
        match common::http_get(port, path) {
            Ok((200, body)) => return (body, retries),
            Err(e) if e.to_string() == common::CLOSED_BEFORE_ANSWER && retries < 2 => {
                retries += 1;
            }
            other => panic!("GET {path}: {other:?}"),
        }
    }
}

/// scripts/deploy-local.sh against the test emulator on `port`, stack
/// `stack`, with `env` besides: its log, the run asserted successful. It
/// deploys the orchestrator cargo built for these tests: a release build of
/// its own would compile every crate once more (minutes of a cold CI run).
fn deploy_local(port: u16, stack: &str, env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/deploy-local.sh"
    ))
    .env("EMULATOR_PORT", port.to_string())
    .env("STACK_NAME", stack)
    .env("ORCHESTRATOR_BIN", env!("CARGO_BIN_EXE_lambda-rollout"))
    .envs(env.iter().copied())
    .output()
    .expect("deploy-local.sh");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "deploy-local {env:?} failed:\n{log}");
    log
}

/// The stack as CloudFormation describes it, its status checked.
async fn described(stack: &str, status: StackStatus, log: &str) -> Stack {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let out = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .unwrap();
    let s = out.stacks()[0].clone();
    assert_eq!(s.stack_status(), Some(&status), "{log}");
    s
}

/// A stack output's value.
fn output(s: &Stack, key: &str) -> String {
    s.outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
        .unwrap_or_else(|| panic!("output {key}"))
        .to_string()
}

#[tokio::test]
async fn the_template_deploys_locally_and_its_outputs_answer() {
    let em = emulator().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let stack = unique("stack");
    let demo = unique("hello");

    // make deploy-local, against the test emulator; then again, an update
    // (a second run must work: upstream answered 500 describing it).
    let deploy = |extra: &str| {
        let parameters = format!("DemoFunctionName={demo} ManagedFunctionNames={demo} {extra}");
        deploy_local(port, &stack, &[("PARAMETERS", &parameters)])
    };
    deploy("");
    let log = deploy("LogLevel=DEBUG");
    let s = described(&stack, StackStatus::UpdateComplete, &log).await;
    let output = |key: &str| output(&s, key);
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);

    // StatusCommand: the orchestrator, a provided.al2023 Lambda running this
    // machine's build, reads the demo alias and answers.
    let status = output("StatusCommand");
    let function = status
        .split("--function-name ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(function, output("OrchestratorName"));
    let payload = status
        .split("--payload '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap();
    let answer = em
        .lambda
        .invoke()
        .function_name(&function)
        .payload(Blob::new(payload.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.function_error(), None);
    let body: Value = serde_json::from_slice(answer.payload().unwrap().as_ref()).unwrap();
    let r = &body["results"][0];
    assert_eq!(
        (r["function"].as_str(), r["decision"].as_str()),
        (Some(demo.as_str()), Some("idle")),
        "{body}"
    );

    // #16: self-service onboarding in the deployed stack. The demo function
    // is not in TargetsJson; its team tags it, and CloudTrail's TagResource
    // event (the LambdaChanged rule's, as EventBridge delivers it) has the
    // orchestrator discover it and read it at once: nothing newer to start.
    let demo_arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{demo}");
    em.lambda
        .tag_resource()
        .resource(&demo_arn)
        .tags("lambda-rollout:alias", "live")
        .send()
        .await
        .unwrap();
    let tagged = json!({
        "version": "0", "id": "0d7c4a52-0000-4000-8000-00000000c7a1",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.lambda",
        "account": "000000000000", "time": "2026-12-01T12:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventSource": "lambda.amazonaws.com",
            "eventName": "TagResource20170331v2",
            "requestParameters": {"resource": demo_arn, "tags": {"lambda-rollout:alias": "live"}}
        }
    });
    let answer = em
        .lambda
        .invoke()
        .function_name(&function)
        .payload(Blob::new(tagged.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.function_error(), None);
    let body: Value = serde_json::from_slice(answer.payload().unwrap().as_ref()).unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{body}");
    assert_eq!(results[0]["function"], demo.as_str(), "{body}");
    assert!(
        results[0]["reason"]
            .as_str()
            .unwrap()
            .contains("auto_start"),
        "{body}"
    );
    let config = em
        .lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .unwrap();
    let env = config.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(
        env.get("LAMBDA_ROLLOUT_ONBOARD_BY_TAG").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        env.get("LAMBDA_ROLLOUT_IDLE_READ_EVERY")
            .map(String::as_str),
        Some("5")
    );

    // The API, through the alias: Blue only, then Green at 30%.
    let api = cfn
        .describe_stack_resource()
        .stack_name(&stack)
        .logical_resource_id("HelloApi")
        .send()
        .await
        .unwrap();
    let id = api
        .stack_resource_detail()
        .unwrap()
        .physical_resource_id()
        .unwrap()
        .to_string();
    assert!(output("ApiUrl").contains(&id));

    // DashboardUrl: the dashboard the stack made, its body as !Sub filled it in.
    let url = output("DashboardUrl");
    let name = url.rsplit("dashboards:name=").next().unwrap();
    assert_eq!(name, format!("{stack}-rollouts"), "{url}");
    let d = em
        .cloudwatch
        .get_dashboard()
        .dashboard_name(name)
        .send()
        .await
        .unwrap();
    let text = d.dashboard_body().unwrap();
    let dashboard: Value = serde_json::from_str(text).unwrap();
    assert!(
        dashboard["widgets"].as_array().unwrap().len() >= 5,
        "{text}"
    );
    assert!(
        text.contains(&format!("SOURCE '/aws/lambda/{function}'")),
        "{text}"
    );
    let path = format!("/restapis/{id}/prod/_user_request_/");
    // Every request through the alias from here on is counted, this one too.
    let before = UtcTime::now();
    let (first, mut retried) = get(port, &path);
    assert!(first.contains("Hello From Blue Deployment"));
    let (mut blue_seen, mut green_seen) = (1u64, 0u64);

    em.lambda
        .update_function_code()
        .function_name(&demo)
        .zip_file(Blob::new(common::demo_app_zip(
            "Hello From Green Deployment",
            false,
        )))
        .send()
        .await
        .unwrap();
    em.wait_updated(&demo).await;
    let green = em
        .lambda
        .publish_version()
        .function_name(&demo)
        .send()
        .await
        .unwrap();
    let green = green.version().unwrap().to_string();
    em.set_routing(&demo, "live", None, Some((&green, 0.3)))
        .await;

    let n = 200u64;
    for _ in 0..n {
        let (b, r) = get(port, &path);
        retried += r;
        if b.contains("Hello From Green Deployment") {
            green_seen += 1;
        } else if b.contains("Hello From Blue Deployment") {
            blue_seen += 1;
        } else {
            panic!("the API answered {b:?}");
        }
    }
    // Binomial(200, 0.3): mean 60, sd 6.5; five sd either way.
    let (mean, sd) = (n as f64 * 0.3, (n as f64 * 0.3 * 0.7).sqrt());
    assert_eq!(green_seen + blue_seen, n + 1);
    assert!(
        (green_seen as f64 - mean).abs() < 5.0 * sd,
        "Green answered {green_seen} of {n}, expected about {mean}"
    );

    // Lambda's per-version metrics count what each version answered (and,
    // for a request sent again, the invocation whose answer was lost, if the
    // gateway had invoked the function before it closed).
    let (o, matched) = em
        .observe_until(&demo, (&green, "1"), before, |o| {
            let (g, b) = (o.green.invocations, o.blue.invocations);
            g >= green_seen && b >= blue_seen && g + b <= green_seen + blue_seen + retried
        })
        .await;
    assert!(
        matched,
        "metrics {:?}, the API answered green {green_seen}, blue {blue_seen} ({retried} sent again)",
        (o.green.invocations, o.blue.invocations)
    );

    // #14: the deployed orchestrator runs a pre-traffic check in an
    // invocation of its own (it invokes itself asynchronously), which calls
    // green's version directly and then gives green its first step.
    em.set_routing(&demo, "live", None, None).await;
    let start = json!({"action": "start", "function": demo, "alias": "live", "version": green,
        "policy": {"steps": [10, 100], "pre_traffic": {"invoke": {"httpMethod": "GET", "path": "/"}, "times": 2, "timeout": "1m"}}});
    let answer = em
        .lambda
        .invoke()
        .function_name(&function)
        .payload(Blob::new(start.to_string()))
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(answer.payload().unwrap().as_ref()).unwrap();
    let r = &body["results"][0];
    assert_eq!(r["decision"], "started", "{body}");
    // #15: the decision is also one Embedded Metric Format line in the
    // function's log, what CloudWatch Logs turns into the dashboard's metrics.
    let tail = aws_smithy_types::base64::decode(answer.log_result().expect("a log tail")).unwrap();
    let tail = String::from_utf8_lossy(&tail);
    let emf: Vec<Value> = tail
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(emf.len(), 1, "{tail}");
    assert_eq!(
        (emf[0]["Function"].as_str(), emf[0]["Decision"].as_str()),
        (Some(demo.as_str()), Some("started")),
        "{tail}"
    );
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("the pre-traffic check runs first"),
        "{body}"
    );
    let mut alias = em.alias_raw(&demo, "live").await;
    for _ in 0..240 {
        if !alias.description.contains(" checking ") {
            break;
        }
        assert!(
            alias.weights.is_empty(),
            "green had weight while checked: {alias:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        alias = em.alias_raw(&demo, "live").await;
    }
    assert_eq!(alias.weight_of(&green), 0.1, "{alias:?}");
    assert!(alias.description.contains(" rolling "), "{alias:?}");
}

/// #16: what `make stackset-template` writes (the template expanded for
/// StackSets, which run no transform) deploys as each StackSet instance
/// would: into the emulator's CloudFormation as plain CloudFormation, the
/// orchestrator's code from the bucket of the region's own, no function
/// named. The orchestrator runs, and manages a function its team tagged.
#[tokio::test]
async fn the_stackset_template_deploys_without_the_transform() {
    let em = emulator().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let stack = unique("stackset");
    let log = deploy_local(port, &stack, &[("STACKSET", "1")]);

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/stackset/template.json"
    ))
    .unwrap();
    let template: Value = serde_json::from_str(&text).unwrap();
    assert!(
        template.get("Transform").is_none(),
        "no macro for StackSets"
    );
    assert!(text.len() <= 51_200, "{} bytes inline", text.len());
    let resources = template["Resources"].as_object().unwrap();
    assert!(
        resources
            .values()
            .all(|r| r["Type"] != "AWS::Serverless::Function"),
        "expanded"
    );
    assert!(!resources.contains_key("HelloFunction"), "no demo app");

    let s = described(&stack, StackStatus::CreateComplete, &log).await;
    let orchestrator = output(&s, "OrchestratorName");

    // A team's function, tagged: a dry-run tick (which writes nothing, so
    // that this stack never touches another test's tagged functions) finds
    // it with no target configured.
    let team = em.blue_green("stackset-team").await;
    em.lambda
        .tag_resource()
        .resource(format!(
            "arn:aws:lambda:us-east-1:000000000000:function:{team}"
        ))
        .tags("lambda-rollout:alias", "live")
        .send()
        .await
        .unwrap();
    let answer = em
        .lambda
        .invoke()
        .function_name(&orchestrator)
        .payload(Blob::new(r#"{"action":"tick","dry_run":true}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.function_error(), None, "{answer:?}");
    let body: Value = serde_json::from_slice(answer.payload().unwrap().as_ref()).unwrap();
    let mine: Vec<&Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["function"] == team.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{body}");
    assert_eq!(
        mine[0]["decision"], "started",
        "auto_start, a dry run: {body}"
    );
    assert_eq!(mine[0]["dry_run"], true, "{body}");
    assert_eq!(em.alias_raw(&team, "live").await.function_version, "1");
}
