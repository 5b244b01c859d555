//! Health: turns the figures read for a step's window into a verdict. Three
//! outcomes, never two: too little data is `Inconclusive` (hold), not a pass.

use serde::Serialize;

use crate::model::{Target, UtcTime, Version};
use crate::policy::Policy;

/// The metrics the engine needs for one target: green's and blue's figures over
/// `[start, end)`, whole minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsRequest {
    pub target: Target,
    pub green: Version,
    pub blue: Version,
    pub start: UtcTime,
    pub end: UtcTime,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VersionFigures {
    pub invocations: u64,
    pub errors: u64,
}

impl VersionFigures {
    pub fn error_rate(&self) -> Option<f64> {
        (self.invocations > 0).then(|| self.errors as f64 * 100.0 / self.invocations as f64)
    }

    fn describe(&self, version: Version) -> String {
        match self.error_rate() {
            Some(r) => format!(
                "{version}: {} errors in {} invocations ({})",
                self.errors,
                self.invocations,
                pct(r)
            ),
            None => format!("{version}: no invocations"),
        }
    }
}

/// What CloudWatch said about one target's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass {
        reason: String,
    },
    Fail {
        metric: &'static str,
        reason: String,
    },
    Inconclusive {
        reason: String,
    },
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
}

pub fn pct(p: f64) -> String {
    if p == 0.0 {
        "0%".into()
    } else if p >= 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// Judges green over the window. The error check counts against
/// `max(invocations, min_invocations)`: errors that would breach the limit even
/// if every remaining invocation up to the minimum succeeded fail at once, so a
/// broken version is caught before the minimum is reached, while a clean one
/// still waits for enough data to pass.
pub fn judge(obs: &Observation, green: Version, blue: Version, policy: &Policy) -> Verdict {
    let g = obs.green;
    let figures = format!(
        "green {}; blue {}",
        g.describe(green),
        obs.blue.describe(blue)
    );
    if !obs.complete {
        return Verdict::Inconclusive {
            reason: format!("CloudWatch returned partial data for the window ({figures})"),
        };
    }
    if let Some(max) = policy.max_throttles {
        if obs.throttles > max {
            return Verdict::Fail {
                metric: "throttles",
                reason: format!(
                    "{} throttles on the alias > max_throttles {max} ({figures})",
                    obs.throttles
                ),
            };
        }
    }
    let basis = g.invocations.max(policy.min_invocations);
    if g.errors as f64 * 100.0 > policy.max_error_rate * basis as f64 {
        let rate = g.errors as f64 * 100.0 / basis as f64;
        let shown = if g.invocations >= policy.min_invocations {
            format!("error rate {}", pct(rate))
        } else {
            format!(
                "{} errors already exceed what {} invocations allow ({} or more)",
                g.errors,
                policy.min_invocations,
                pct(rate)
            )
        };
        return Verdict::Fail {
            metric: "errors",
            reason: format!(
                "{shown} > max_error_rate {} ({figures})",
                pct(policy.max_error_rate)
            ),
        };
    }
    if g.invocations < policy.min_invocations {
        return Verdict::Inconclusive {
            reason: format!(
                "too few invocations to judge: {} more needed, min_invocations {} ({figures})",
                policy.min_invocations - g.invocations,
                policy.min_invocations
            ),
        };
    }
    Verdict::Pass {
        reason: format!(
            "error rate within {} ({figures})",
            pct(policy.max_error_rate)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(gi: u64, ge: u64, throttles: u64, complete: bool) -> Observation {
        Observation {
            window_start: UtcTime::from_unix(0),
            window_end: UtcTime::from_unix(600),
            green: VersionFigures {
                invocations: gi,
                errors: ge,
            },
            blue: VersionFigures {
                invocations: 900,
                errors: 1,
            },
            throttles,
            complete,
        }
    }

    #[test]
    fn verdict_table() {
        let mut p = Policy::defaults();
        p.min_invocations = 100;
        p.max_error_rate = 1.0;
        p.max_throttles = Some(5);
        let v = |n| Version::new(n).unwrap();
        let cases = [
            // (green invocations, errors, throttles, complete) -> verdict
            ((0, 0, 0, true), "inconclusive"),
            ((99, 0, 0, true), "inconclusive"),
            ((100, 0, 0, true), "pass"),
            ((100, 1, 0, true), "pass"),
            ((100, 2, 0, true), "fail"),
            ((1000, 10, 0, true), "pass"),
            ((1000, 11, 0, true), "fail"),
            ((10, 1, 0, true), "inconclusive"), // 1 error is within 1% of 100
            ((10, 2, 0, true), "fail"),         // 2 errors can never be within 1% of 100
            ((500, 0, 6, true), "fail"),
            ((500, 0, 5, true), "pass"),
            ((500, 50, 0, false), "inconclusive"), // partial data never judges
        ];
        for ((gi, ge, th, complete), want) in cases {
            let verdict = judge(&obs(gi, ge, th, complete), v(2), v(1), &p);
            assert_eq!(
                verdict.label(),
                want,
                "{gi} {ge} {th} {complete}: {verdict:?}"
            );
        }
    }

    #[test]
    fn reasons_name_the_metric_and_both_versions() {
        let p = Policy::defaults();
        let v = |n| Version::new(n).unwrap();
        let verdict = judge(&obs(200, 10, 0, true), v(2), v(1), &p);
        let Verdict::Fail { metric, reason } = verdict else {
            panic!("expected fail")
        };
        assert_eq!(metric, "errors");
        assert!(
            reason.contains("green 2: 10 errors in 200 invocations (5.00%)"),
            "{reason}"
        );
        assert!(
            reason.contains("blue 1: 1 errors in 900 invocations"),
            "{reason}"
        );
        let verdict = judge(&obs(3, 0, 0, true), v(2), v(1), &p);
        assert!(
            verdict.reason().contains("47 more needed"),
            "{}",
            verdict.reason()
        );
    }
}
