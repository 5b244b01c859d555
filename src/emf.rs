//! Every decision the orchestrator carries out, also as one line of
//! CloudWatch Embedded Metric Format on standard output: CloudWatch Logs
//! turns it into metrics (namespace `LambdaRollout`), so the dashboard costs
//! no API call and no permission beyond the log group the function already
//! writes. A custom runtime's standard output reaches the log group as it is
//! written, so the line is the JSON object alone.
//!
//! Per function and alias (dimensions `Function`, `Alias`): `Weight` (green's,
//! after the decision), `GreenErrorRate` / `BlueErrorRate` (percent),
//! `GreenLatency` / `BlueLatency` (ms, the policy's latency statistic: p99 by
//! default), `GreenInvocations` / `BlueInvocations`, over the window the
//! decision judged. And per decision (dimensions `Function`, `Alias`,
//! `Decision`): `Decisions`, 1. A figure there is none of (no window was
//! judged, no invocations) is left out rather than written as zero.
//!
//! Specification: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{json, Map, Value};

use crate::model::UtcTime;
use crate::report::TargetResult;

pub const NAMESPACE: &str = "LambdaRollout";

/// A CloudWatch unit, as the format names it.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Percent,
    Milliseconds,
    Count,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Percent => "Percent",
            Unit::Milliseconds => "Milliseconds",
            Unit::Count => "Count",
        }
    }
}

/// The figures of one decision, each with its unit; absent ones are `None`.
fn figures(r: &TargetResult) -> Vec<(&'static str, Unit, Option<f64>)> {
    let h = r.health.as_ref();
    vec![
        ("Weight", Unit::Percent, Some(r.weight_after.percent())),
        (
            "GreenErrorRate",
            Unit::Percent,
            h.and_then(|h| h.green.error_rate),
        ),
        (
            "BlueErrorRate",
            Unit::Percent,
            h.and_then(|h| h.blue.error_rate),
        ),
        (
            "GreenLatency",
            Unit::Milliseconds,
            h.and_then(|h| h.green.latency_ms),
        ),
        (
            "BlueLatency",
            Unit::Milliseconds,
            h.and_then(|h| h.blue.latency_ms),
        ),
        (
            "GreenInvocations",
            Unit::Count,
            h.map(|h| h.green.invocations as f64),
        ),
        (
            "BlueInvocations",
            Unit::Count,
            h.map(|h| h.blue.invocations as f64),
        ),
    ]
}

/// The EMF line for a decision that was carried out; none for a dry run
/// (status, `wait`, a dry-run tick), which decided nothing.
pub fn line(r: &TargetResult, at: UtcTime) -> Option<String> {
    if r.dry_run {
        return None;
    }
    let mut root = Map::new();
    let mut metrics = Vec::new();
    for (name, unit, value) in figures(r) {
        // JSON has no NaN or infinity; a figure that is not finite is none.
        let Some(v) = value.filter(|v| v.is_finite()) else {
            continue;
        };
        root.insert(name.to_string(), json!(v));
        metrics.push(json!({"Name": name, "Unit": unit.name()}));
    }
    root.insert("Decisions".to_string(), json!(1));
    root.insert("Function".to_string(), json!(r.function));
    root.insert("Alias".to_string(), json!(r.alias));
    root.insert("Decision".to_string(), json!(r.decision.label()));
    // Not metrics: what a reader of the log line (or Logs Insights) wants.
    root.insert("Reason".to_string(), json!(r.reason));
    if let Some(g) = r.green {
        root.insert("Green".to_string(), json!(g.to_string()));
    }
    if let Some(s) = r.stable {
        root.insert("Stable".to_string(), json!(s.to_string()));
    }
    root.insert(
        "_aws".to_string(),
        json!({
            "Timestamp": at.unix() * 1000,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function", "Alias"]],
                    "Metrics": metrics,
                },
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function", "Alias", "Decision"]],
                    "Metrics": [{"Name": "Decisions", "Unit": "Count"}],
                },
            ],
        }),
    );
    Some(Value::Object(root).to_string())
}
