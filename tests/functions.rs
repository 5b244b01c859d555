//! Functions really run in the emulator (#13): its host executor
//! (emulator/plugin/.../host_executor.py) runs each execution environment as
//! a local process under the Lambda Runtime API. Each test invokes a function
//! through the real SDK and checks what AWS would do: environment variables,
//! warm reuse, a raising handler, a timeout, an init error, a runtime it
//! cannot run, a bootstrap that exits; and, through a weighted alias, traffic
//! split by the weight and Lambda's per-version metrics as lambda-rollout reads
//! them.

mod common;

use std::io::Write;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use common::{emulator, unique, Emulator, ROLE};
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

/// A zip of `files` (name, content, executable).
fn zip(files: &[(&str, &str, bool)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content, exec) in files {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .unix_permissions(if *exec { 0o755 } else { 0o644 });
        w.start_file(*name, opts).unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

struct Function<'a> {
    runtime: Runtime,
    handler: &'a str,
    files: &'a [(&'a str, &'a str, bool)],
    timeout: i32,
    env: &'a [(&'a str, &'a str)],
}

impl Default for Function<'_> {
    fn default() -> Self {
        Function {
            runtime: Runtime::Python312,
            handler: "app.handler",
            files: &[],
            timeout: 5,
            env: &[],
        }
    }
}

/// Creates the function and waits for its state: Active, or the reason it
/// failed.
async fn create(em: &Emulator, prefix: &str, f: Function<'_>) -> (String, Result<(), String>) {
    let name = unique(prefix);
    let mut env = Environment::builder();
    for (k, v) in f.env {
        env = env.variables(*k, *v);
    }
    em.lambda
        .create_function()
        .function_name(&name)
        .runtime(f.runtime)
        .handler(f.handler)
        .role(ROLE)
        .timeout(f.timeout)
        .environment(env.build())
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(zip(f.files)))
                .build(),
        )
        .send()
        .await
        .expect("create_function");
    for _ in 0..200 {
        let c = em
            .lambda
            .get_function_configuration()
            .function_name(&name)
            .send()
            .await
            .unwrap();
        match c.state().map(|s| s.as_str()) {
            Some("Active") => return (name, Ok(())),
            Some("Failed") => return (name, Err(c.state_reason().unwrap_or_default().to_string())),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("{name} did not settle");
}

/// An invocation's answer: the function error (if any), the payload, the
/// version that ran.
struct Answer {
    error: Option<String>,
    payload: Value,
    executed: String,
}

async fn invoke(em: &Emulator, name: &str, qualifier: Option<&str>, event: Value) -> Answer {
    let out = em
        .lambda
        .invoke()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_string))
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .expect("invoke");
    let bytes = out
        .payload()
        .map(|p| p.as_ref().to_vec())
        .unwrap_or_default();
    Answer {
        error: out.function_error().map(str::to_string),
        payload: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        executed: out.executed_version().unwrap_or_default().to_string(),
    }
}

const WARM: &str = r#"
import os
calls = 0

def handler(event, context):
    global calls
    calls += 1
    return {"calls": calls, "colour": os.environ.get("COLOUR"), "pid": os.getpid(),
            "version": context.function_version, "remaining": context.get_remaining_time_in_millis()}
"#;

#[tokio::test]
async fn a_python_function_runs_with_its_environment_and_is_reused_warm() {
    let em = emulator().await;
    let files = [("app.py", WARM, false)];
    let (name, state) = create(
        &em,
        "fn-warm",
        Function {
            files: &files,
            env: &[("COLOUR", "teal")],
            ..Function::default()
        },
    )
    .await;
    state.expect("Active");
    let first = invoke(&em, &name, None, json!({})).await;
    assert_eq!(first.error, None, "{}", first.payload);
    assert_eq!(first.payload["colour"], "teal");
    assert_eq!(first.payload["calls"], 1);
    assert_eq!(first.payload["version"], "$LATEST");
    let remaining = first.payload["remaining"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 5000, "{remaining}");
    let second = invoke(&em, &name, None, json!({})).await;
    assert_eq!(second.payload["calls"], 2, "the same process, warm");
    assert_eq!(second.payload["pid"], first.payload["pid"]);
}

#[tokio::test]
async fn a_raising_handler_is_a_function_error_and_the_environment_lives_on() {
    let em = emulator().await;
    let code = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('asked to fail')\n    return 'ok'\n";
    let files = [("app.py", code, false)];
    let (name, state) = create(
        &em,
        "fn-raise",
        Function {
            files: &files,
            ..Function::default()
        },
    )
    .await;
    state.expect("Active");
    let bad = invoke(&em, &name, None, json!({"fail": true})).await;
    assert_eq!(bad.error.as_deref(), Some("Unhandled"));
    assert_eq!(bad.payload["errorType"], "ValueError");
    assert_eq!(bad.payload["errorMessage"], "asked to fail");
    let good = invoke(&em, &name, None, json!({})).await;
    assert_eq!((good.error, good.payload), (None, json!("ok")));
}

#[tokio::test]
async fn a_handler_that_overruns_its_timeout_is_an_error_then_runs_again() {
    let em = emulator().await;
    let code = "import time\n\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'done'\n";
    let files = [("app.py", code, false)];
    let (name, state) = create(
        &em,
        "fn-timeout",
        Function {
            files: &files,
            timeout: 1,
            ..Function::default()
        },
    )
    .await;
    state.expect("Active");
    let started = std::time::Instant::now();
    let slow = invoke(&em, &name, None, json!({"sleep": 30})).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.error.as_deref(), Some("Unhandled"), "{}", slow.payload);
    assert_eq!(slow.payload["errorType"], "Sandbox.Timedout");
    assert!(
        slow.payload["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Task timed out after 1.00 seconds"),
        "{}",
        slow.payload
    );
    let quick = invoke(&em, &name, None, json!({})).await;
    assert_eq!((quick.error, quick.payload), (None, json!("done")));
}

#[tokio::test]
async fn code_that_does_not_import_is_an_init_error_named_on_invoke() {
    let em = emulator().await;
    let files = [("app.py", "import no_such_module_here\n", false)];
    let (name, state) = create(
        &em,
        "fn-import",
        Function {
            files: &files,
            ..Function::default()
        },
    )
    .await;
    state.expect("Active");
    let a = invoke(&em, &name, None, json!({})).await;
    assert_eq!(a.error.as_deref(), Some("Unhandled"), "{}", a.payload);
    assert_eq!(a.payload["errorType"], "Runtime.ImportModuleError");
    assert!(a.payload["errorMessage"]
        .as_str()
        .unwrap()
        .contains("Unable to import module 'app'"));
    let files = [(
        "app.py",
        "def other(event, context):\n    return 1\n",
        false,
    )];
    let (name, _) = create(
        &em,
        "fn-nohandler",
        Function {
            files: &files,
            ..Function::default()
        },
    )
    .await;
    let a = invoke(&em, &name, None, json!({})).await;
    assert_eq!(
        a.payload["errorType"], "Runtime.HandlerNotFound",
        "{}",
        a.payload
    );
}

#[tokio::test]
async fn a_runtime_the_executor_cannot_run_is_refused_by_name() {
    let em = emulator().await;
    let files = [("index.js", "exports.handler = async () => 1;\n", false)];
    let (_, state) = create(
        &em,
        "fn-node",
        Function {
            runtime: Runtime::Nodejs20x,
            handler: "index.handler",
            files: &files,
            ..Function::default()
        },
    )
    .await;
    let reason = state.expect_err("not Active");
    assert!(
        reason.contains("nodejs20.x") && reason.contains("python3.x and provided.al2023"),
        "{reason}"
    );
}

/// A provided.al2023 bootstrap speaking the Runtime API itself, as
/// lambda-rollout's own does (here a script, since it must run on this
/// machine).
const BOOTSTRAP: &str = r#"#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps({"echo": event, "handler": os.environ.get("_HANDLER")}).encode()
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=body, method="POST")).read()
"#;

#[tokio::test]
async fn a_provided_bootstrap_runs_and_one_that_exits_at_once_is_an_error() {
    let em = emulator().await;
    let files = [("bootstrap", BOOTSTRAP, true)];
    let (name, state) = create(
        &em,
        "fn-provided",
        Function {
            runtime: Runtime::Providedal2023,
            handler: "bootstrap",
            files: &files,
            ..Function::default()
        },
    )
    .await;
    state.expect("Active");
    let a = invoke(&em, &name, None, json!({"n": 7})).await;
    assert_eq!(a.error, None, "{}", a.payload);
    assert_eq!(a.payload, json!({"echo": {"n": 7}, "handler": "bootstrap"}));

    let files = [("bootstrap", "#!/bin/sh\necho starting; exit 3\n", true)];
    let (name, state) = create(
        &em,
        "fn-exits",
        Function {
            runtime: Runtime::Providedal2023,
            handler: "bootstrap",
            files: &files,
            ..Function::default()
        },
    )
    .await;
    state.expect("Active");
    let started = std::time::Instant::now();
    let a = invoke(&em, &name, None, json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(a.error.as_deref(), Some("Unhandled"), "{}", a.payload);
    assert_eq!(a.payload["errorType"], "Runtime.ExitError");
    assert!(a.payload["errorMessage"]
        .as_str()
        .unwrap()
        .contains("exit status 3"));
}

const COLOUR: &str = r#"
import os
calls = 0

def handler(event, context):
    global calls
    calls += 1
    if os.environ.get("FAIL_EVERY") and calls % int(os.environ["FAIL_EVERY"]) == 0:
        raise RuntimeError("every Nth request fails")
    return {"body": os.environ["COLOUR"]}
"#;

/// Publishes a version with `COLOUR` (and failing every `fail_every`th call).
async fn publish_colour(
    em: &Emulator,
    name: &str,
    colour: &str,
    fail_every: Option<u32>,
) -> String {
    let mut env = Environment::builder().variables("COLOUR", colour);
    if let Some(n) = fail_every {
        env = env.variables("FAIL_EVERY", n.to_string());
    }
    em.lambda
        .update_function_configuration()
        .function_name(name)
        .environment(env.build())
        .send()
        .await
        .unwrap();
    em.wait_updated(name).await;
    let v = em
        .lambda
        .publish_version()
        .function_name(name)
        .send()
        .await
        .unwrap();
    v.version().unwrap().to_string()
}

/// #13: through a weighted alias the emulator routes by the weight, and the
/// metrics Lambda publishes per executed version are the ones lambda-rollout
/// reads: its own CloudWatch adapter counts what the versions answered.
#[tokio::test]
async fn an_alias_splits_real_traffic_by_weight_and_its_metrics_count_it() {
    let em = emulator().await;
    let files = [("app.py", COLOUR, false)];
    let (name, state) = create(
        &em,
        "fn-weighted",
        Function {
            files: &files,
            ..Function::default()
        },
    )
    .await;
    state.expect("Active");
    assert_eq!(publish_colour(&em, &name, "blue", None).await, "1");
    assert_eq!(publish_colour(&em, &name, "green", Some(5)).await, "2");
    em.create_alias(&name, "live", "1").await;
    em.set_routing(&name, "live", None, Some(("2", 0.3))).await;

    let before = UtcTime::now();
    let n = 300u64;
    let (mut green, mut blue, mut green_errors) = (0u64, 0u64, 0u64);
    for _ in 0..n {
        let a = invoke(&em, &name, Some("live"), json!({})).await;
        match a.executed.as_str() {
            "2" => {
                green += 1;
                if a.error.is_some() {
                    green_errors += 1;
                } else {
                    assert_eq!(a.payload["body"], "green");
                }
            }
            "1" => {
                blue += 1;
                assert_eq!((a.error, &a.payload["body"]), (None, &json!("blue")));
            }
            other => panic!("executed version {other:?}"),
        }
    }
    // Binomial(300, 0.3): mean 90, sd 7.9; five sd either way.
    let sd = (n as f64 * 0.3 * 0.7).sqrt();
    let mean = n as f64 * 0.3;
    assert!(
        (green as f64 - mean).abs() < 5.0 * sd,
        "green answered {green} of {n}, expected about {mean}"
    );
    assert_eq!(green + blue, n);
    assert_eq!(green_errors, green / 5, "every fifth green request fails");

    // What lambda-rollout reads: the per-version series of AWS/Lambda.
    let want = (green, green_errors, blue, 0);
    let counts = |o: &lambda_rollout::engine::Observation| {
        (
            o.green.invocations,
            o.green.errors,
            o.blue.invocations,
            o.blue.errors,
        )
    };
    let (o, matched) = em
        .observe_until(&name, ("2", "1"), before, |o| counts(o) == want)
        .await;
    assert!(
        matched,
        "metrics {:?} never matched what the versions answered {want:?}",
        counts(&o)
    );
    assert!(
        o.green.latency_ms.is_some() && o.blue.latency_ms.is_some(),
        "{o:?}"
    );
}
