//! What CloudWatch is given to show a rollout (#15): the Embedded Metric
//! Format line of every decision, checked against the format's
//! specification and read back, and the dashboard in template.yaml, whose
//! body must be JSON CloudWatch takes and must ask for exactly the metrics
//! those lines write.
//!
//! Specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

use lambda_rollout::emf;
use lambda_rollout::engine::Outcome;
use lambda_rollout::model::{UtcTime, Version, Weight};
use lambda_rollout::report::{Health, Reported, TargetResult, VersionHealth};
use serde_json::{Map, Value};

/// The units the specification allows (CloudWatch's StandardUnit).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A declared metric's name and its dimension sets.
type Declared = Vec<(String, Vec<Vec<String>>)>;

/// Every MUST of the specification that a document can break, as an error
/// naming the rule. Returns the metrics it declares, with their dimension
/// sets, for the test to read back.
fn check_emf(line: &str) -> Result<Declared, String> {
    if line.contains('\n') {
        return Err("a log event is one line".into());
    }
    if line.len() > 1024 * 1024 {
        return Err("over the 1 MB log event limit".into());
    }
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let root = root.as_object().ok_or("the root node is not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws metadata object")?;
    only(aws, &["Timestamp", "CloudWatchMetrics"], "_aws")?;
    let ts = aws.get("Timestamp").ok_or("_aws.Timestamp is required")?;
    if !ts.is_u64() {
        return Err(format!(
            "_aws.Timestamp must be ms since the epoch as an integer: {ts}"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics must be an array")?;
    let mut declared = Vec::new();
    for (i, d) in directives.iter().enumerate() {
        let d = d
            .as_object()
            .ok_or(format!("MetricDirective {i} is not an object"))?;
        only(
            d,
            &["Namespace", "Dimensions", "Metrics"],
            "MetricDirective",
        )?;
        let ns = d
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("Namespace is required, a string")?;
        if ns.is_empty() || ns.len() > 1024 || ns.trim().is_empty() || ns.starts_with("AWS/") {
            return Err(format!("Namespace {ns:?}: 1 to 1024 characters, not AWS/"));
        }
        let sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("Dimensions is required, an array of DimensionSets")?;
        let mut dimension_sets = Vec::new();
        for set in sets {
            let set = set.as_array().ok_or("a DimensionSet is an array")?;
            if set.len() > 30 {
                return Err("a DimensionSet holds at most 30 dimensions".into());
            }
            let mut names = Vec::new();
            for key in set {
                let key = key.as_str().ok_or("a dimension key is a string")?;
                let value = root
                    .get(key)
                    .ok_or(format!("dimension {key} is not a member of the root node"))?;
                let value = value
                    .as_str()
                    .ok_or(format!("dimension {key}'s value must be a string"))?;
                if value.is_empty() || value.len() > 1024 || value.trim().is_empty() {
                    return Err(format!("dimension {key}: 1 to 1024 non-blank characters"));
                }
                if key.is_empty() || key.len() > 250 || key.starts_with(':') {
                    return Err(format!("dimension name {key:?}"));
                }
                names.push(key.to_string());
            }
            dimension_sets.push(names);
        }
        let metrics = d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("Metrics is required, an array")?;
        if metrics.len() > 100 {
            return Err("at most 100 metrics a directive".into());
        }
        for m in metrics {
            let m = m.as_object().ok_or("a MetricDefinition is an object")?;
            only(
                m,
                &["Name", "Unit", "StorageResolution"],
                "MetricDefinition",
            )?;
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("MetricDefinition.Name is required")?;
            if name.is_empty() || name.len() > 1024 {
                return Err(format!("metric name {name:?}"));
            }
            if let Some(unit) = m.get("Unit") {
                let unit = unit.as_str().ok_or("Unit is a string")?;
                if !UNITS.contains(&unit) {
                    return Err(format!("unit {unit:?} is not a CloudWatch unit"));
                }
            }
            if let Some(r) = m.get("StorageResolution") {
                if r.as_u64() != Some(1) && r.as_u64() != Some(60) {
                    return Err("StorageResolution is 1 or 60".into());
                }
            }
            let value = root
                .get(name)
                .ok_or(format!("metric {name} is not a member of the root node"))?;
            let numbers = match value {
                Value::Array(v) if v.len() <= 100 => v.iter().all(Value::is_number),
                Value::Array(_) => return Err(format!("{name}: at most 100 values")),
                v => v.is_number(),
            };
            if !numbers {
                return Err(format!("metric {name}'s value must be a number: {value}"));
            }
            declared.push((name.to_string(), dimension_sets.clone()));
        }
    }
    Ok(declared)
}

/// An object of the specification holds only its own members.
fn only(o: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{what} must not hold {k:?}")),
        None => Ok(()),
    }
}

fn v(n: u64) -> Version {
    Version::new(n).unwrap()
}

fn judged(outcome: Outcome, dry_run: bool) -> TargetResult {
    let at = UtcTime::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
    TargetResult {
        function: "checkout".into(),
        alias: "live".into(),
        decision: Reported::Decided(outcome),
        reason: "step passed: version 7 to 50% (step 3 of 4)".into(),
        green: Some(v(7)),
        stable: Some(v(6)),
        canary: Some(v(7)),
        weight_before: Weight::from_percent(25.0).unwrap(),
        weight_after: Weight::from_percent(50.0).unwrap(),
        group: None,
        health: Some(Health {
            window_start: at,
            window_end: at.plus(std::time::Duration::from_secs(300)),
            green: VersionHealth {
                version: v(7),
                invocations: 1200,
                errors: 3,
                error_rate: Some(0.25),
                latency_ms: Some(182.5),
            },
            blue: VersionHealth {
                version: v(6),
                invocations: 3600,
                errors: 7,
                error_rate: Some(0.19),
                latency_ms: Some(170.0),
            },
            throttles: 0,
            complete: true,
            alarms: vec![],
            verdict: "pass",
        }),
        estimate: None,
        dry_run,
        changed: true,
        news: true,
    }
}

#[test]
fn a_decision_is_one_emf_line_that_keeps_to_the_specification() {
    let at = UtcTime::parse_rfc3339("2026-12-01T10:05:00Z").unwrap();
    let line = emf::line(&judged(Outcome::Advanced, false), at).expect("a decision has a line");
    let declared = check_emf(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let doc: Value = serde_json::from_str(&line).unwrap();

    // Read back: each figure under its name, per function and alias.
    assert_eq!(doc["_aws"]["Timestamp"], at.unix() * 1000);
    for (name, want) in [
        ("Weight", 50.0),
        ("GreenErrorRate", 0.25),
        ("BlueErrorRate", 0.19),
        ("GreenLatency", 182.5),
        ("BlueLatency", 170.0),
        ("GreenInvocations", 1200.0),
        ("BlueInvocations", 3600.0),
    ] {
        assert_eq!(doc[name].as_f64(), Some(want), "{name}: {line}");
        let dims = &declared.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(
            dims,
            &vec![vec!["Function".to_string(), "Alias".to_string()]]
        );
    }
    assert_eq!(
        (&doc["Function"], &doc["Alias"]),
        (&Value::from("checkout"), &Value::from("live"))
    );
    // The decision counted per kind, so a graph can show the rollbacks.
    let decisions = &declared.iter().find(|(n, _)| n == "Decisions").unwrap().1;
    assert_eq!(
        decisions,
        &vec![vec![
            "Function".to_string(),
            "Alias".to_string(),
            "Decision".to_string()
        ]]
    );
    assert_eq!(
        (doc["Decisions"].as_f64(), doc["Decision"].as_str()),
        (Some(1.0), Some("advanced"))
    );
    assert_eq!(doc["Reason"], "step passed: version 7 to 50% (step 3 of 4)");
    assert!(doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["Namespace"] == emf::NAMESPACE));
}

#[test]
fn a_figure_there_is_none_of_is_left_out_not_written_as_zero() {
    let mut idle = judged(Outcome::Idle, false);
    idle.health = None;
    idle.weight_after = Weight::ZERO;
    let line = emf::line(&idle, UtcTime::from_unix(1_780_000_000)).unwrap();
    let declared = check_emf(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Weight", "Decisions"], "{line}");

    let mut no_traffic = judged(Outcome::Held, false);
    if let Some(h) = no_traffic.health.as_mut() {
        h.green.error_rate = None;
        h.green.latency_ms = None;
    }
    let line = emf::line(&no_traffic, UtcTime::from_unix(1_780_000_000)).unwrap();
    check_emf(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let doc: Value = serde_json::from_str(&line).unwrap();
    assert!(doc.get("GreenErrorRate").is_none() && doc.get("GreenLatency").is_none());
    assert_eq!(doc["BlueErrorRate"].as_f64(), Some(0.19));
}

#[test]
fn a_dry_run_decided_nothing_and_writes_no_line() {
    assert!(emf::line(&judged(Outcome::Advanced, true), UtcTime::from_unix(0)).is_none());
}

#[test]
fn the_checker_refuses_what_the_specification_forbids() {
    let good = emf::line(
        &judged(Outcome::Advanced, false),
        UtcTime::from_unix(1_780_000_000),
    )
    .unwrap();
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut doc: Value = serde_json::from_str(&good).unwrap();
        edit(&mut doc);
        check_emf(&doc.to_string())
    };
    assert!(
        broken(&|d| d["Weight"] = Value::from("50")).is_err(),
        "a metric as a string"
    );
    assert!(
        broken(&|d| d["Function"] = Value::from(7)).is_err(),
        "a dimension as a number"
    );
    assert!(broken(&|d| d["_aws"]["Timestamp"] = Value::from("now")).is_err());
    assert!(broken(
        &|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = Value::from("percent")
    )
    .is_err());
    assert!(broken(&|d| {
        d.as_object_mut().unwrap().remove("Alias");
    })
    .is_err());
    assert!(check_emf(&good).is_ok());
}

/// The DashboardBody of template.yaml with its `!Sub` variables given
/// values, as CloudFormation would.
fn dashboard_body() -> Value {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    let mut lines = template.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "DashboardBody: !Sub |")
        .expect("template.yaml has a DashboardBody: !Sub | block");
    let body: Vec<&str> = lines
        .take_while(|l| l.is_empty() || l.starts_with("        "))
        .collect();
    let text = body.join("\n");
    let text = text.replace("${AWS::Region}", "eu-west-1").replace(
        "${RolloutLogGroup}",
        "/aws/lambda/lambda-rollout-Rollout-abc",
    );
    assert!(
        !text.contains("${"),
        "a !Sub variable the test does not know: {text}"
    );
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}\n{text}"))
}

#[test]
fn the_dashboard_shows_per_target_what_the_emf_lines_write() {
    let body = dashboard_body();
    let widgets = body["widgets"].as_array().expect("a widgets array");
    assert!(!widgets.is_empty() && widgets.len() <= 500);
    let mut searched = Vec::new();
    for w in widgets {
        let kind = w["type"].as_str().unwrap();
        assert!(["metric", "text", "log"].contains(&kind), "{w}");
        for k in ["x", "y", "width", "height"] {
            assert!(w[k].is_u64(), "{k} of {w}");
        }
        assert!(
            w["x"].as_u64().unwrap() + w["width"].as_u64().unwrap() <= 24,
            "{w}"
        );
        let p = &w["properties"];
        match kind {
            "metric" => {
                assert_eq!(p["region"], "eu-west-1", "{w}");
                for m in p["metrics"].as_array().unwrap() {
                    let e = m[0]["expression"].as_str().expect("a SEARCH per line");
                    searched.push(e.to_string());
                }
            }
            "log" => {
                let q = p["query"].as_str().unwrap();
                assert!(
                    q.starts_with("SOURCE '/aws/lambda/lambda-rollout-Rollout-abc' |"),
                    "{q}"
                );
                assert!(q.contains("Decision") && q.contains("Reason"), "{q}");
            }
            _ => assert!(p["markdown"].is_string()),
        }
    }
    // The weight beside green's and blue's error rate and latency, each a
    // line per function and alias (the SEARCH's dimensions), from exactly
    // the namespace and names the EMF line writes.
    let line = emf::line(
        &judged(Outcome::Advanced, false),
        UtcTime::from_unix(1_780_000_000),
    )
    .unwrap();
    let written: Vec<String> = check_emf(&line)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in [
        "Weight",
        "GreenErrorRate",
        "BlueErrorRate",
        "GreenLatency",
        "BlueLatency",
    ] {
        let wanted = format!(
            "{{{},Function,Alias}} MetricName=\"{name}\"",
            emf::NAMESPACE
        );
        assert!(
            searched.iter().any(|e| e.contains(&wanted)),
            "no line for {name}: {searched:?}"
        );
        assert!(written.iter().any(|w| w == name));
    }
    let per_decision = format!(
        "{{{},Function,Alias,Decision}} MetricName=\"Decisions\"",
        emf::NAMESPACE
    );
    assert!(
        searched.iter().any(|e| e.contains(&per_decision)),
        "{searched:?}"
    );
}

#[tokio::test]
async fn the_handler_writes_one_line_per_decision_carried_out_and_none_for_a_dry_run() {
    use std::sync::{Arc, Mutex};

    use lambda_rollout::config::Config;
    use lambda_rollout::engine::AliasState;
    use lambda_rollout::executor::Executor;
    use lambda_rollout::handler::Handler;
    use lambda_rollout::memory::{MemoryAliases, MemoryMetrics};
    use lambda_rollout::model::Target;
    use serde_json::json;

    let store = MemoryAliases::default();
    for f in ["orders", "payments"] {
        let alias = AliasState {
            stable: v(3),
            canary: None,
            description: String::new(),
        };
        store.set(&Target::new(f, "live").unwrap(), alias);
    }
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let handler = Handler::new(
        Executor::new(store, MemoryMetrics::default()),
        Config::from_values(None, None),
    )
    .with_emf(Box::new(move |l| sink.lock().unwrap().push(l.to_string())));
    let now = UtcTime::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
    let targets =
        json!([{"function": "orders", "alias": "live"}, {"function": "payments", "alias": "live"}]);
    let taken = |lines: &Arc<Mutex<Vec<String>>>| std::mem::take(&mut *lines.lock().unwrap());

    handler
        .handle(
            &json!({"action": "tick", "targets": targets, "dry_run": true}),
            now,
        )
        .await
        .unwrap();
    handler
        .handle(
            &json!({"action": "status", "function": "orders", "alias": "live"}),
            now,
        )
        .await
        .unwrap();
    assert!(
        taken(&lines).is_empty(),
        "a dry run and a status decide nothing"
    );

    handler
        .handle(&json!({"action": "tick", "targets": targets}), now)
        .await
        .unwrap();
    let written = taken(&lines);
    assert_eq!(written.len(), 2, "{written:?}");
    for (line, f) in written.iter().zip(["orders", "payments"]) {
        check_emf(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let doc: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (doc["Function"].as_str(), doc["Decision"].as_str()),
            (Some(f), Some("idle"))
        );
        assert_eq!(doc["Weight"].as_f64(), Some(0.0));
    }
}
