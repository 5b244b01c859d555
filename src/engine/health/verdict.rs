//! The verdict on green, and which gate failed it.

use std::fmt;

use serde::Serialize;

/// The check that failed green: named in the rollback's reason ("errors check
/// failed (1 of 1)") exactly as before these were an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// Rule 1: an alarm in ALARM (or INSUFFICIENT_DATA, when that fails).
    Alarm,
    /// Rule 3: throttles on the alias above `max_throttles`.
    Throttles,
    /// Rule 3: one of the policy's own metrics past its threshold.
    CustomMetric,
    /// Rules 4 and 5: green's errors against blue's, or above the ceiling.
    Errors,
    /// Rule 8: green's latency statistic against blue's or the limit.
    Latency,
}

impl Gate {
    pub fn label(self) -> &'static str {
        match self {
            Gate::Alarm => "alarm",
            Gate::Throttles => "throttles",
            Gate::CustomMetric => "custom metric",
            Gate::Errors => "errors",
            Gate::Latency => "latency",
        }
    }
}

/// Compares with the label, as reasons and tests name the gate.
impl PartialEq<&str> for Gate {
    fn eq(&self, other: &&str) -> bool {
        self.label() == *other
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Three outcomes, never two: too little data is `Inconclusive` (hold), not a
/// pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass { reason: String },
    Fail { metric: Gate, reason: String },
    Inconclusive { reason: String },
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass { .. } => "pass",
            Verdict::Fail { .. } => "fail",
            Verdict::Inconclusive { .. } => "inconclusive",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Verdict::Pass { reason }
            | Verdict::Fail { reason, .. }
            | Verdict::Inconclusive { reason } => reason,
        }
    }

    pub(super) fn fail(metric: Gate, reason: String) -> Option<Verdict> {
        Some(Verdict::Fail { metric, reason })
    }

    pub(super) fn hold(reason: String) -> Option<Verdict> {
        Some(Verdict::Inconclusive { reason })
    }
}

/// A percent for a reason: "0%", "0.25%", "12.5%".
pub fn pct(p: f64) -> String {
    if p == 0.0 {
        "0%".into()
    } else if p >= 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}
