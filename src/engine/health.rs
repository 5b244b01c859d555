//! Health: turns the figures read for a step's window into a verdict. Three
//! outcomes, never two: too little data is `Inconclusive` (hold), not a pass.

use serde::Serialize;

use super::stats::{binomial_cdf, binomial_sf, normal_quantile, poisson_cdf, poisson_upper};
use crate::model::{Target, UtcTime, Version};
use crate::policy::Policy;

/// The metrics the engine needs for one target: green's and blue's figures over
/// `[start, end)`, whole minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRequest {
    pub target: Target,
    pub green: Version,
    pub blue: Version,
    pub start: UtcTime,
    pub end: UtcTime,
    /// The `Duration` statistic to read, e.g. "p99".
    pub latency_stat: String,
    /// CloudWatch alarms that gate this target.
    pub alarms: Vec<String>,
    /// The policy's own metrics, placeholders resolved for green.
    pub custom: Vec<CustomQuery>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomQuery {
    pub name: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub stat: String,
    pub max: Option<f64>,
    pub min: Option<f64>,
}

impl CustomQuery {
    /// Resolves `{function}`, `{alias}` and `{version}` in the dimension values.
    pub fn resolve(m: &crate::policy::CustomMetric, target: &Target, version: Version) -> Self {
        let fill = |v: &str| {
            v.replace("{function}", &target.function)
                .replace("{alias}", &target.alias)
                .replace("{version}", &version.to_string())
        };
        CustomQuery {
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            metric: m.metric.clone(),
            dimensions: m
                .dimensions
                .iter()
                .map(|(k, v)| (k.clone(), fill(v)))
                .collect(),
            stat: m.stat.clone(),
            max: m.max,
            min: m.min,
        }
    }
}

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

impl MetricsRequest {
    /// False right after a step begins: only the alarms can be read yet.
    pub fn has_window(&self) -> bool {
        self.end > self.start
    }
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

    fn describe(&self, version: Version, stat: &str) -> String {
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

/// Roughly how many more green requests the evidence needs, at the rates seen
/// so far: the smaller of what green's own bound needs to fall under
/// error_floor and what the two-rate comparison needs (normal approximation of
/// the log rate ratio). For the reason text only; the decision uses the exact
/// tests.
fn more_needed(g: VersionFigures, b: VersionFigures, policy: &Policy) -> String {
    let alpha = 1.0 - policy.pass_confidence;
    let z = normal_quantile(1.0 - alpha);
    let rg = g.errors as f64 / g.invocations.max(1) as f64;
    // For the ratio, no error yet counts as one: a rate of 0 has no log.
    let rg1 = g.errors.max(1) as f64 / g.invocations.max(1) as f64;
    // Green's bound under the floor, if errors keep coming at green's rate.
    let floor = policy.error_floor / 100.0;
    // (floor - rg) n - z sqrt(rg n) - z^2 >= 0, a quadratic in sqrt(n).
    let by_floor = (rg < floor).then(|| {
        let (a, b, c) = (floor - rg, z * rg.sqrt(), z * z);
        let x = (b + (b * b + 4.0 * a * c).sqrt()) / (2.0 * a);
        x * x
    });
    // The ratio: z * sqrt(1/eg + 1/eb) <= ln(R) - ln(observed ratio).
    let by_ratio = match b.error_rate() {
        Some(br) if br > 0.0 => {
            let observed = rg1 * 100.0 / br;
            let margin = policy.detect_ratio.ln() - observed.ln();
            let inv_eb = 1.0 / b.errors.max(1) as f64;
            let budget = (margin / z).powi(2) - inv_eb;
            (margin > 0.0 && budget > 0.0).then(|| 1.0 / (budget * rg1))
        }
        _ => None,
    };
    match [by_floor, by_ratio].into_iter().flatten().reduce(f64::min) {
        Some(n) if n > g.invocations as f64 => format!(
            "about {} more green invocations needed",
            (n - g.invocations as f64).ceil() as u64
        ),
        Some(_) => "a few more green invocations needed".into(),
        None => "it cannot get there at the rates seen so far: green looks worse; holding".into(),
    }
}

/// Samples needed before a latency statistic means more than "the slowest
/// request": 100 / (100 - p) for a percentile pNN.
fn latency_samples(stat: &str) -> u64 {
    stat.strip_prefix('p')
        .and_then(|p| p.parse::<f64>().ok())
        .filter(|p| *p > 0.0 && *p < 100.0)
        .map(|p| (100.0 / (100.0 - p)).ceil() as u64)
        .unwrap_or(1)
}

/// Judges green over the window. The error check counts against
/// `max(invocations, min_invocations)`: errors that would breach the limit even
/// if every remaining invocation up to the minimum succeeded fail at once, so a
/// broken version is caught before the minimum is reached, while a clean one
/// still waits for enough data to pass.
pub fn judge(obs: &Observation, green: Version, blue: Version, policy: &Policy) -> Verdict {
    judge_for(obs, green, blue, policy, true)
}

/// As [`judge`]; `needs_evidence` says whether a pass must also rule out a
/// `detect_ratio` regression (an advance to `evidence_from` or more, or a
/// promotion) or only needs no sign of one (a small step).
pub fn judge_for(
    obs: &Observation,
    green: Version,
    blue: Version,
    policy: &Policy,
    needs_evidence: bool,
) -> Verdict {
    let g = obs.green;
    let stat = policy.latency_stat.as_str();
    let figures = format!(
        "green {}; blue {}",
        g.describe(green, stat),
        obs.blue.describe(blue, stat)
    );
    // Alarms first: one in ALARM fails at once, whatever the traffic.
    if let Some(a) = obs.alarms.iter().find(|a| a.state == AlarmState::Alarm) {
        return Verdict::Fail {
            metric: "alarm",
            reason: format!("alarm {:?} is in ALARM ({figures})", a.name),
        };
    }
    if let Some(a) = obs.alarms.iter().find(|a| a.state == AlarmState::Missing) {
        return Verdict::Inconclusive {
            reason: format!(
                "alarm {:?} does not exist: fix policy.alarms; holding ({figures})",
                a.name
            ),
        };
    }
    if let Some(a) = obs
        .alarms
        .iter()
        .find(|a| a.state == AlarmState::InsufficientData)
    {
        let reason = format!("alarm {:?} is in INSUFFICIENT_DATA ({figures})", a.name);
        return if policy.alarm_insufficient_data_fails {
            Verdict::Fail {
                metric: "alarm",
                reason,
            }
        } else {
            Verdict::Inconclusive { reason }
        };
    }
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
    for c in &obs.custom {
        let Some(v) = c.value else {
            return Verdict::Inconclusive {
                reason: format!("metric {:?} has no data in the window ({figures})", c.name),
            };
        };
        if let Some(max) = c.max.filter(|m| v > *m) {
            return Verdict::Fail {
                metric: "custom metric",
                reason: format!("{:?} is {v} > max {max} ({figures})", c.name),
            };
        }
        if let Some(min) = c.min.filter(|m| v < *m) {
            return Verdict::Fail {
                metric: "custom metric",
                reason: format!("{:?} is {v} < min {min} ({figures})", c.name),
            };
        }
    }
    let b = obs.blue;
    // Green worse than blue? The exact conditional test for two Poisson
    // rates: of all errors seen in the window, how many would green have if
    // its rate were blue's times (1 + error_tolerance), given its share of
    // the traffic? A bad minute shared by both versions raises both counts
    // and does not move green's share, so it does not fail green.
    if b.invocations > 0 && g.errors > 0 {
        let r0 = 1.0 + policy.error_tolerance;
        let share = g.invocations as f64 * r0 / (g.invocations as f64 * r0 + b.invocations as f64);
        let p = binomial_sf(g.errors, g.errors + b.errors, share);
        if p < 1.0 - policy.error_confidence {
            let ratio = match b.error_rate() {
                Some(br) if br > 0.0 => {
                    format!("{:.1}x blue's", g.error_rate().unwrap_or(0.0) / br)
                }
                _ => "blue has none".to_string(),
            };
            return Verdict::Fail {
                metric: "errors",
                reason: format!(
                    "error rate {} ({ratio}) is worse than blue's by more than error_tolerance {}% \
                     (one-sided test on the two rates, p = {p:.1e} < {:.1e}) ({figures})",
                    pct(g.error_rate().unwrap_or(0.0)),
                    policy.error_tolerance * 100.0,
                    1.0 - policy.error_confidence
                ),
            };
        }
    }
    // The absolute ceiling, as a test too: green fails when its error rate is
    // above max_error_rate with error_confidence (a handful of errors in a
    // handful of requests is chance; 5 in 20 at a 1% ceiling is not). Unless
    // blue is above the ceiling in the same window: a shared incident, which
    // holds instead.
    let ceiling = policy.max_error_rate / 100.0;
    let p_ceiling = if g.errors > 0 {
        1.0 - poisson_cdf(g.errors - 1, g.invocations as f64 * ceiling)
    } else {
        1.0
    };
    if g.errors > 0 && (ceiling == 0.0 || p_ceiling < 1.0 - policy.error_confidence) {
        let rate = g.error_rate().unwrap_or(0.0);
        let blue_rate = b.error_rate().unwrap_or(0.0);
        if blue_rate > policy.max_error_rate {
            return Verdict::Inconclusive {
                reason: format!(
                    "both versions are above max_error_rate {} (green {}, blue {}): a shared \
                     incident, not green's doing; holding ({figures})",
                    pct(policy.max_error_rate),
                    pct(rate),
                    pct(blue_rate)
                ),
            };
        }
        return Verdict::Fail {
            metric: "errors",
            reason: format!(
                "error rate {} is above max_error_rate {} (one-sided test, p = {p_ceiling:.1e} < \
                 {:.1e}) ({figures})",
                pct(rate),
                pct(policy.max_error_rate),
                1.0 - policy.error_confidence
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
    // Enough evidence to pass, where the next weight needs it: at
    // pass_confidence, green is not detect_ratio times worse than blue. Two
    // ways to show it: the same conditional test on the two counts, now with
    // the ratio at detect_ratio and asking whether green had so FEW errors that
    // such a regression is unlikely; or, for a clean or nearly clean blue, the
    // exact Poisson upper bound of green's rate alone below error_floor.
    let alpha = 1.0 - policy.pass_confidence;
    let upper_count = poisson_upper(g.errors, alpha);
    let upper = upper_count * 100.0 / g.invocations as f64;
    let ruled_out = |ng: u64, eg: u64| {
        let e = eg + b.errors;
        if e == 0 || b.invocations == 0 {
            return false;
        }
        let r = policy.detect_ratio;
        let share = ng as f64 * r / (ng as f64 * r + b.invocations as f64);
        binomial_cdf(eg, e, share) < alpha
    };
    let by_ratio = ruled_out(g.invocations, g.errors);
    let by_floor = upper <= policy.error_floor;
    if needs_evidence && !by_ratio && !by_floor {
        let more = more_needed(g, b, policy);
        return Verdict::Inconclusive {
            reason: format!(
                "cannot yet rule out a {}x regression at {}% confidence: green's error rate is \
                 at most {}, blue's {}; {more} ({figures})",
                policy.detect_ratio,
                policy.pass_confidence * 100.0,
                pct(upper),
                pct(b.error_rate().unwrap_or(0.0)),
            ),
        };
    }
    // Latency: missing Duration data with invocations present is missing
    // data, which holds; it is never a pass.
    let Some(gl) = g.latency_ms else {
        return Verdict::Inconclusive {
            reason: format!("no Duration data for green in the window ({figures})"),
        };
    };
    if let Some(max) = policy.max_latency_ms {
        if gl > max {
            return Verdict::Fail {
                metric: "latency",
                reason: format!("{stat} {gl:.0} ms > max_latency_ms {max:.0} ({figures})"),
            };
        }
    }
    // A percentile of fewer samples than it takes to see past the maximum
    // (100 for p99) is only the slowest request: green, with less traffic than
    // blue, would be judged on noise. Too few: hold.
    let needed = latency_samples(stat);
    if g.invocations < needed {
        return Verdict::Inconclusive {
            reason: format!(
                "too few invocations to judge {stat}: {} more needed ({figures})",
                needed - g.invocations
            ),
        };
    }
    if let Some(bl) = obs.blue.latency_ms.filter(|b| *b > 0.0) {
        let ratio = gl / bl;
        if ratio > policy.max_latency_ratio {
            return Verdict::Fail {
                metric: "latency",
                reason: format!(
                    "{stat} {ratio:.2}x blue's > max_latency_ratio {} ({figures})",
                    policy.max_latency_ratio
                ),
            };
        }
    }
    let evidence = if !needs_evidence {
        "no sign of a regression".to_string()
    } else if by_ratio {
        format!(
            "a {}x regression ruled out at {}% confidence",
            policy.detect_ratio,
            policy.pass_confidence * 100.0
        )
    } else {
        format!(
            "green's error rate at most {} at {}% confidence (error_floor {})",
            pct(upper),
            policy.pass_confidence * 100.0,
            pct(policy.error_floor)
        )
    };
    Verdict::Pass {
        reason: format!(
            "{evidence}, {stat} within {}x blue's ({figures})",
            policy.max_latency_ratio
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
                latency_ms: Some(100.0),
            },
            blue: VersionFigures {
                invocations: 900,
                errors: 1,
                latency_ms: Some(100.0),
            },
            throttles,
            complete,
            alarms: Vec::new(),
            custom: Vec::new(),
        }
    }

    #[test]
    fn custom_metrics_gate_with_their_thresholds() {
        let mut p = Policy::defaults();
        p.error_floor = 5.0;
        let v = |n| Version::new(n).unwrap();
        let with = |value: Option<f64>| {
            let mut o = obs(200, 0, 0, true);
            o.custom = vec![CustomReading {
                name: "checkout-5xx".into(),
                value,
                max: Some(5.0),
                min: None,
            }];
            judge(&o, v(2), v(1), &p)
        };
        assert_eq!(with(Some(3.0)).label(), "pass");
        let f = with(Some(9.0));
        assert!(
            matches!(
                f,
                Verdict::Fail {
                    metric: "custom metric",
                    ..
                }
            ),
            "{f:?}"
        );
        assert!(
            f.reason().contains("\"checkout-5xx\" is 9 > max 5"),
            "{}",
            f.reason()
        );
        assert_eq!(with(None).label(), "inconclusive", "no data is no pass");
    }

    #[test]
    fn alarms_gate_before_anything_else() {
        let mut p = Policy::defaults();
        let v = |n| Version::new(n).unwrap();
        let with = |states: &[AlarmState], p: &Policy| {
            let mut o = obs(10, 0, 0, true);
            o.alarms = states
                .iter()
                .enumerate()
                .map(|(i, s)| AlarmReading {
                    name: format!("a{i}"),
                    state: *s,
                })
                .collect();
            judge(&o, v(2), v(1), p)
        };
        use AlarmState::*;
        let f = with(&[Ok, Alarm], &p);
        assert!(
            matches!(
                f,
                Verdict::Fail {
                    metric: "alarm",
                    ..
                }
            ),
            "{f:?}"
        );
        assert!(f.reason().contains("\"a1\" is in ALARM"), "{}", f.reason());
        assert_eq!(with(&[InsufficientData], &p).label(), "inconclusive");
        assert_eq!(with(&[Missing, Ok], &p).label(), "inconclusive");
        assert!(with(&[Missing], &p).reason().contains("does not exist"));
        assert_eq!(
            with(&[Ok, Ok], &p).label(),
            "inconclusive",
            "10 invocations: still too few"
        );
        p.alarm_insufficient_data_fails = true;
        assert_eq!(with(&[InsufficientData], &p).label(), "fail");
    }

    #[test]
    fn verdict_table() {
        let mut p = Policy::defaults();
        p.min_invocations = 100;
        p.max_error_rate = 1.0;
        p.max_throttles = Some(5);
        // The ceiling and the gates, not the evidence rule (tested below).
        p.error_floor = 5.0;
        p.pass_confidence = 0.9;
        let v = |n| Version::new(n).unwrap();
        let cases = [
            // (green invocations, errors, throttles, complete) -> verdict
            ((0, 0, 0, true), "inconclusive"),
            ((99, 0, 0, true), "inconclusive"),
            ((100, 0, 0, true), "pass"),
            ((100, 1, 0, true), "pass"),
            ((100, 2, 0, true), "inconclusive"), // 2% of 100 could be chance at a 1% ceiling
            ((1000, 10, 0, true), "pass"),
            ((1000, 11, 0, true), "pass"), // 1.1%: not significantly above 1%
            ((1000, 30, 0, true), "fail"), // 3%: significantly above the ceiling
            ((10, 1, 0, true), "inconclusive"), // 1 in 10: chance, and too few
            ((10, 2, 0, true), "fail"),    // 20% against blue's 0.1%: significant
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
    fn latency_is_judged_against_blue_and_an_absolute_limit() {
        let mut p = Policy::defaults();
        p.error_floor = 5.0;
        p.max_latency_ms = Some(500.0);
        let v = |n| Version::new(n).unwrap();
        let with = |g: Option<f64>, b: Option<f64>| {
            let mut o = obs(200, 0, 0, true);
            o.green.latency_ms = g;
            o.blue.latency_ms = b;
            judge(&o, v(2), v(1), &p)
        };
        assert_eq!(with(Some(125.0), Some(100.0)).label(), "pass");
        let f = with(Some(160.0), Some(100.0));
        assert!(
            matches!(
                f,
                Verdict::Fail {
                    metric: "latency",
                    ..
                }
            ),
            "{f:?}"
        );
        assert!(f.reason().contains("p99 1.60x blue's"), "{}", f.reason());
        assert_eq!(with(Some(600.0), Some(590.0)).label(), "fail");
        assert_eq!(
            with(Some(140.0), None).label(),
            "pass",
            "no blue: only the absolute limit"
        );
        assert_eq!(
            with(None, Some(100.0)).label(),
            "inconclusive",
            "no data is no pass"
        );
    }

    fn counts(gi: u64, ge: u64, bi: u64, be: u64) -> Observation {
        let mut o = obs(gi, ge, 0, true);
        o.blue = VersionFigures {
            invocations: bi,
            errors: be,
            latency_ms: Some(100.0),
        };
        o
    }

    #[test]
    fn green_is_judged_against_blue_with_a_test_on_counts() {
        let mut p = Policy::defaults();
        p.max_error_rate = 10.0;
        let v = |n| Version::new(n).unwrap();
        let j = |o: Observation, p: &Policy| judge(&o, v(2), v(1), p);
        // 5x blue's rate: fails, and the reason says by how much and the test.
        let f = j(counts(1000, 50, 9000, 90), &p);
        assert!(
            matches!(
                f,
                Verdict::Fail {
                    metric: "errors",
                    ..
                }
            ),
            "{f:?}"
        );
        assert!(
            f.reason().contains("5.0x blue's") && f.reason().contains("one-sided test"),
            "{}",
            f.reason()
        );
        // A bad minute hitting both versions alike does not fail green ...
        assert_ne!(j(counts(1000, 50, 9000, 450), &p).label(), "fail");
        // ... even above the ceiling: that holds as a shared incident.
        p.max_error_rate = 1.0;
        let shared = j(counts(1000, 50, 9000, 450), &p);
        assert_eq!(shared.label(), "inconclusive");
        assert!(
            shared.reason().contains("shared incident"),
            "{}",
            shared.reason()
        );
        p.max_error_rate = 10.0;
        // Within the tolerance (1.1x): no fail.
        assert_ne!(j(counts(1000, 11, 9000, 90), &p).label(), "fail");
        // A clean blue: a few green errors are already significant.
        assert_eq!(j(counts(500, 4, 4500, 0), &p).label(), "fail");
        assert_ne!(j(counts(500, 1, 4500, 0), &p).label(), "fail");
    }

    #[test]
    fn a_pass_needs_evidence_that_rules_out_the_detect_ratio() {
        let p = Policy::defaults();
        let v = |n| Version::new(n).unwrap();
        // Blue at 1%: green clean over 300 requests would have had about 6
        // errors at 2x; none is unlikely enough (0.3% < 0.5%): pass.
        let pass = judge(&counts(300, 0, 9000, 90), v(2), v(1), &p);
        assert_eq!(pass.label(), "pass", "{}", pass.reason());
        assert!(pass
            .reason()
            .contains("a 2x regression ruled out at 99.5% confidence"));
        // Blue clean: green's own bound must fall under error_floor (0.1%).
        let i = judge(&counts(300, 0, 9000, 0), v(2), v(1), &p);
        assert_eq!(i.label(), "inconclusive");
        assert!(
            i.reason().contains("cannot yet rule out a 2x regression"),
            "{}",
            i.reason()
        );
        assert!(
            i.reason().contains("more green invocations needed"),
            "{}",
            i.reason()
        );
        let floor = judge(&counts(5400, 0, 9000, 0), v(2), v(1), &p);
        assert_eq!(floor.label(), "pass", "{}", floor.reason());
        assert!(floor.reason().contains("error_floor"), "{}", floor.reason());
        // A small step needs no evidence, only no sign of trouble.
        let small = judge_for(&counts(300, 0, 9000, 0), v(2), v(1), &p, false);
        assert_eq!(small.label(), "pass");
        assert!(
            small.reason().starts_with("no sign of a regression"),
            "{}",
            small.reason()
        );
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
