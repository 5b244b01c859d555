//! What CloudWatch said about one target: green's and blue's figures over the
//! step's window, since the rollout began and up to the last whole minute, the
//! alarms' states and the policy's own metrics.

use serde::Serialize;

use super::verdict::pct;
use crate::model::{UtcTime, Version};

/// A custom metric's figure over the window: `Sum` and `SampleCount` add the
/// minutes up, `Maximum` and `Minimum` take the extreme, others (Average,
/// percentiles) average the per-minute values. None: no data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomReading {
    pub name: String,
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
}

/// Green's and blue's counts over a window other than the step's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Span {
    pub start: UtcTime,
    pub end: UtcTime,
    pub green: VersionFigures,
    pub blue: VersionFigures,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
    /// No alarm by that name: a configuration error, which holds.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmReading {
    pub name: String,
    pub state: AlarmState,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct VersionFigures {
    pub invocations: u64,
    pub errors: u64,
    /// The policy's latency statistic of `Duration` over the window, in ms;
    /// None when CloudWatch had no `Duration` data.
    pub latency_ms: Option<f64>,
}

impl VersionFigures {
    pub fn error_rate(&self) -> Option<f64> {
        (self.invocations > 0).then(|| self.errors as f64 * 100.0 / self.invocations as f64)
    }

    pub(super) fn describe(&self, version: Version, stat: &str) -> String {
        let latency = self
            .latency_ms
            .map(|l| format!(", {stat} {l:.0} ms"))
            .unwrap_or_default();
        match self.error_rate() {
            Some(r) => format!(
                "{version}: {} errors in {} invocations ({}){latency}",
                self.errors,
                self.invocations,
                pct(r)
            ),
            None => format!("{version}: no invocations"),
        }
    }
}

/// What CloudWatch said about one target's window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub window_start: UtcTime,
    pub window_end: UtcTime,
    pub green: VersionFigures,
    pub blue: VersionFigures,
    /// Alias-level throttles: a throttled request never ran a version, so
    /// CloudWatch cannot attribute it to green or blue.
    pub throttles: u64,
    /// False when CloudWatch answered with partial data for any query.
    pub complete: bool,
    /// The state of each alarm named in the policy.
    pub alarms: Vec<AlarmReading>,
    /// The policy's own metrics.
    pub custom: Vec<CustomReading>,
    /// Since the rollout began, up to `window_end`: the evidence a big step
    /// or a promotion needs (green's error rate rarely depends on its weight,
    /// and a step's own minutes are too few at low traffic). None: the step's
    /// window is all there is.
    pub rollout: Option<Span>,
    /// The step's window taken on past metric_lag to the last whole minute,
    /// whose data may still be filling in: read only to fail early, never to
    /// pass. None: not read.
    pub fresh: Option<Span>,
}
