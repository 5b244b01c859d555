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

/// What an inconclusive verdict waits for: each hold names it, and the
/// policy field that makes it wait where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// Rule 1: an alarm missing, or in INSUFFICIENT_DATA.
    Alarm,
    /// Rule 2: CloudWatch answered with partial data.
    PartialData,
    /// Rule 3: one of the policy's own metrics has no data.
    CustomMetric,
    /// Rule 5: both versions above the ceiling: an incident they share.
    SharedIncident,
    /// Rule 6: fewer green invocations than `min_invocations`.
    Invocations,
    /// Rule 7: the sequential test has not yet ruled a regression out; what
    /// binds is `error_floor` when blue is (nearly) clean, `detect_ratio`
    /// otherwise.
    Evidence { floor: bool },
    /// Rule 8: no Duration data, or too few samples for the percentile.
    Latency,
}

impl Wait {
    /// The policy field that sets how long this wait lasts, if any.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Wait::Alarm => Some("alarms"),
            Wait::PartialData => None,
            Wait::CustomMetric => Some("metrics"),
            Wait::SharedIncident => Some("max_error_rate"),
            Wait::Invocations => Some("min_invocations"),
            Wait::Evidence { floor: true } => Some("error_floor"),
            Wait::Evidence { floor: false } => Some("detect_ratio"),
            Wait::Latency => Some("latency_stat"),
        }
    }

    /// Missing or doubtful data: a hold no timeout may turn into a promotion.
    pub fn is_missing_data(self) -> bool {
        !matches!(self, Wait::Evidence { .. })
    }
}

/// Three outcomes, never two: too little data is `Inconclusive` (hold), not a
/// pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass { reason: String },
    Fail { metric: Gate, reason: String },
    Inconclusive { wait: Wait, reason: String },
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
            | Verdict::Inconclusive { reason, .. } => reason,
        }
    }

    pub(super) fn fail(metric: Gate, reason: String) -> Option<Verdict> {
        Some(Verdict::Fail { metric, reason })
    }

    pub(super) fn hold(wait: Wait, reason: String) -> Option<Verdict> {
        Some(Verdict::Inconclusive { wait, reason })
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
