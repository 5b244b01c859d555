//! Health: turns the figures read for a step's window into a verdict. Three
//! outcomes, never two: too little data is `Inconclusive` (hold), not a pass.

use std::time::Duration;

use serde::Serialize;

use super::stats::{binomial_sf, ln_evidence, poisson_cdf, poisson_upper, Stratum};
use crate::model::{Target, UtcTime, Version};
use crate::policy::Policy;

/// The metrics the engine needs for one target: green's and blue's figures over
/// the step's complete window `[start, end)`, whole minutes; their counts since
/// the rollout began, `[rollout_start, end)`; and over `[start, fresh_end)`,
/// which takes in the minutes still inside metric_lag.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRequest {
    pub target: Target,
    pub green: Version,
    pub blue: Version,
    pub start: UtcTime,
    pub end: UtcTime,
    /// Never after `start`.
    pub rollout_start: UtcTime,
    /// Never before `end`: the last whole minute.
    pub fresh_end: UtcTime,
    /// The `Duration` statistic to read, e.g. "p99".
    pub latency_stat: String,
    /// CloudWatch alarms that gate this target.
    pub alarms: Vec<String>,
    /// The policy's own metrics, placeholders resolved for green.
    pub custom: Vec<CustomQuery>,
}

/// One CloudWatch metric and statistic, placeholders resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSource {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub stat: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CustomSource {
    Metric(MetricSource),
    /// Metric math over named inputs.
    Expression {
        expression: String,
        inputs: Vec<(String, MetricSource)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomQuery {
    pub name: String,
    pub source: CustomSource,
    /// How the per-minute values combine over the window.
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
        let source = |namespace: &str,
                      metric: &str,
                      dimensions: &std::collections::BTreeMap<String, String>,
                      stat: &str| MetricSource {
            namespace: namespace.to_string(),
            metric: metric.to_string(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| (k.clone(), fill(v)))
                .collect(),
            stat: stat.to_string(),
        };
        CustomQuery {
            name: m.name.clone(),
            source: match &m.expression {
                None => {
                    CustomSource::Metric(source(&m.namespace, &m.metric, &m.dimensions, m.stat()))
                }
                Some(e) => CustomSource::Expression {
                    expression: e.clone(),
                    inputs: m
                        .inputs
                        .iter()
                        .map(|(name, i)| {
                            (
                                name.clone(),
                                source(&i.namespace, &i.metric, &i.dimensions, &i.stat),
                            )
                        })
                        .collect(),
                },
            },
            stat: m.stat().to_string(),
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
        self.fresh_end > self.start
    }

    /// The minutes any of the request's windows covers.
    pub fn span(&self) -> (UtcTime, UtcTime) {
        (
            self.rollout_start.min(self.start),
            self.fresh_end.max(self.end),
        )
    }
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

/// Roughly how many more green requests the evidence needs if traffic goes on
/// at the shares and error rates seen so far: the strata scaled up until the
/// sequential test would pass. For the reason text only.
fn more_needed(strata: &[Stratum], policy: &Policy) -> String {
    let target = (1.0 / (1.0 - policy.pass_confidence)).ln();
    let floor = policy.error_floor / 100.0;
    let scaled = |f: f64| -> Vec<Stratum> {
        let x = |v: u64| (v as f64 * f).round() as u64;
        strata
            .iter()
            .map(|s| Stratum {
                green_requests: x(s.green_requests),
                green_errors: x(s.green_errors),
                blue_requests: x(s.blue_requests),
                blue_errors: x(s.blue_errors),
            })
            .collect()
    };
    let passes = |f: f64| {
        ln_evidence(
            &scaled(f),
            1.0 + policy.error_tolerance,
            policy.detect_ratio,
            floor,
        ) >= target
    };
    let now: u64 = strata.iter().map(|s| s.green_requests).sum();
    if now == 0 {
        return "no green invocations yet".into();
    }
    let (mut lo, mut hi) = (1.0, 2.0);
    while !passes(hi) {
        if hi > 1e4 {
            return "it cannot get there at the rates seen so far: green looks worse; holding"
                .into();
        }
        (lo, hi) = (hi, hi * 2.0);
    }
    for _ in 0..20 {
        let mid = (lo + hi) / 2.0;
        if passes(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let more = (now as f64 * (hi - 1.0)).ceil() as u64;
    if more == 0 {
        "a few more green invocations needed".into()
    } else {
        format!("about {more} more green invocations needed")
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

/// The error tests, which can fail green or hold on a shared incident: green
/// against blue, then the absolute ceiling. None: no sign of trouble.
fn error_check(
    g: VersionFigures,
    b: VersionFigures,
    policy: &Policy,
    figures: &str,
    note: &str,
    blue_usual: Option<f64>,
) -> Option<Verdict> {
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
            return Some(Verdict::Fail {
                metric: "errors",
                reason: format!(
                    "error rate {} ({ratio}) is worse than blue's by more than error_tolerance {}% \
                     (one-sided test on the two rates, p = {p:.1e} < {:.1e}) ({figures}){note}",
                    pct(g.error_rate().unwrap_or(0.0)),
                    policy.error_tolerance * 100.0,
                    1.0 - policy.error_confidence
                ),
            });
        }
    }
    // The absolute ceiling, as a test too: green fails when its error rate is
    // above max_error_rate with error_confidence (a handful of errors in a
    // handful of requests is chance; 5 in 20 at a 1% ceiling is not). Unless
    // blue is above the ceiling in the same window: a shared incident, which
    // holds instead. And where blue has been above it all through the
    // rollout, the ceiling is this function's everyday rate, not a limit
    // green can be held to: green is judged against blue alone.
    if blue_usual.is_some_and(|r| r > policy.max_error_rate) {
        return None;
    }
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
            return Some(Verdict::Inconclusive {
                reason: format!(
                    "both versions are above max_error_rate {} (green {}, blue {}): a shared \
                     incident, not green's doing; holding ({figures}){note}",
                    pct(policy.max_error_rate),
                    pct(rate),
                    pct(blue_rate)
                ),
            });
        }
        return Some(Verdict::Fail {
            metric: "errors",
            reason: format!(
                "error rate {} is above max_error_rate {} (one-sided test, p = {p_ceiling:.1e} < \
                 {:.1e}) ({figures}){note}",
                pct(rate),
                pct(policy.max_error_rate),
                1.0 - policy.error_confidence
            ),
        });
    }
    None
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
    // Blue's rate since the rollout began, once that is a bake long: its
    // everyday rate rather than one bad minute.
    let blue_usual = obs
        .rollout
        .filter(|r| r.end.since(r.start) >= policy.bake.max(Duration::from_secs(300)))
        .and_then(|r| r.blue.error_rate());
    if let Some(v) = error_check(g, b, policy, &figures, "", blue_usual) {
        return v;
    }
    // The minutes inside metric_lag may still be filling in: what they hold
    // already can fail green (a broken version is rolled back a minute or two
    // sooner), what they lack can never make it pass.
    if let Some(f) = obs.fresh.filter(|f| f.end > obs.window_end) {
        let minutes = (f.end.unix() - obs.window_end.unix()) / 60;
        let fresh_figures = format!(
            "green {}; blue {}",
            f.green.describe(green, stat),
            f.blue.describe(blue, stat)
        );
        let note = format!(
            ", counting the last {minutes} minute{} still inside metric_lag",
            if minutes == 1 { "" } else { "s" },
        );
        if let Some(v @ Verdict::Fail { .. }) =
            error_check(f.green, f.blue, policy, &fresh_figures, &note, blue_usual)
        {
            return v;
        }
    }
    let (rollout_g, rollout_b, since) = match obs.rollout {
        Some(r) if r.start < obs.window_start => (
            r.green,
            r.blue,
            format!(
                " since the rollout began ({}: green {}; blue {})",
                r.start,
                r.green.describe(green, stat),
                r.blue.describe(blue, stat)
            ),
        ),
        _ => (g, b, String::new()),
    };
    let stratum = |g: VersionFigures, b: VersionFigures| Stratum {
        green_requests: g.invocations,
        green_errors: g.errors,
        blue_requests: b.invocations,
        blue_errors: b.errors,
    };
    let minus = |a: VersionFigures, b: VersionFigures| VersionFigures {
        invocations: a.invocations.saturating_sub(b.invocations),
        errors: a.errors.saturating_sub(b.errors),
        latency_ms: None,
    };
    // Green's share changes from step to step: earlier steps and this one
    // are separate strata.
    let strata = [
        stratum(minus(rollout_g, g), minus(rollout_b, b)),
        stratum(g, b),
    ];
    if g.invocations < policy.min_invocations {
        return Verdict::Inconclusive {
            reason: format!(
                "too few invocations to judge: {} more needed, min_invocations {} ({figures})",
                policy.min_invocations - g.invocations,
                policy.min_invocations
            ),
        };
    }
    // Enough evidence to pass, where the next weight needs it: that green is
    // not detect_ratio times worse than blue (or, for a clean blue, not above
    // error_floor), counting every minute since the rollout began: the step's
    // own minutes are checked for trouble above, but at low traffic they are
    // too few to rule a regression out. The test is sequential (see
    // `ln_evidence`): looking every minute does not raise the chance of
    // passing a bad version.
    let alpha = 1.0 - policy.pass_confidence;
    let evidence = ln_evidence(
        &strata,
        1.0 + policy.error_tolerance,
        policy.detect_ratio,
        policy.error_floor / 100.0,
    );
    let upper =
        poisson_upper(rollout_g.errors, alpha) * 100.0 / rollout_g.invocations.max(1) as f64;
    if needs_evidence && evidence < (1.0 / alpha).ln() {
        let more = more_needed(&strata, policy);
        return Verdict::Inconclusive {
            reason: format!(
                "cannot yet rule out a {}x regression at {}% confidence{since}: green's error \
                 rate is at most {}, blue's {}; {more} ({figures})",
                policy.detect_ratio,
                policy.pass_confidence * 100.0,
                pct(upper),
                pct(rollout_b.error_rate().unwrap_or(0.0)),
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
    } else {
        format!(
            "a {}x regression (or an error rate above error_floor {}) ruled out at {}% confidence \
             by a sequential test{since}; green's error rate at most {}",
            policy.detect_ratio,
            pct(policy.error_floor),
            policy.pass_confidence * 100.0,
            pct(upper)
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
            rollout: None,
            fresh: None,
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
            ((100, 2, 0, true), "pass"), // 2% of 100 could be chance at a 1% ceiling
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
            let verdict = judge_for(&obs(gi, ge, th, complete), v(2), v(1), &p, false);
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
        // Blue at 1%: green clean over 1,000 requests would have had about 20
        // errors at 2x: pass. Over 300 (about 6 at 2x) the sequential test
        // still holds.
        let pass = judge(&counts(1000, 0, 9000, 90), v(2), v(1), &p);
        assert_eq!(pass.label(), "pass", "{}", pass.reason());
        assert!(
            pass.reason()
                .contains("a 2x regression (or an error rate above error_floor 0.10%) ruled out at 99.5% confidence"),
            "{}",
            pass.reason()
        );
        assert_eq!(
            judge(&counts(300, 0, 9000, 90), v(2), v(1), &p).label(),
            "inconclusive"
        );
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
        let floor = judge(&counts(7000, 0, 9000, 0), v(2), v(1), &p);
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

    fn span(start: i64, end: i64, g: (u64, u64), b: (u64, u64)) -> Span {
        let f = |(invocations, errors)| VersionFigures {
            invocations,
            errors,
            latency_ms: None,
        };
        Span {
            start: UtcTime::from_unix(start),
            end: UtcTime::from_unix(end),
            green: f(g),
            blue: f(b),
        }
    }

    #[test]
    fn minutes_inside_metric_lag_can_fail_green_but_never_pass_it() {
        let p = Policy::defaults();
        let v = |n| Version::new(n).unwrap();
        // The complete window is clean; the minute still filling in already
        // holds 40 errors in 200: a broken version, rolled back now.
        let mut o = counts(200, 0, 1800, 2);
        o.fresh = Some(span(0, 660, (400, 40), (3600, 4)));
        let f = judge(&o, v(2), v(1), &p);
        assert_eq!(f.label(), "fail", "{f:?}");
        assert!(
            f.reason().contains("40 errors in 400 invocations")
                && f.reason()
                    .contains("counting the last 1 minute still inside metric_lag"),
            "{}",
            f.reason()
        );
        // Fresh minutes with enough clean traffic to pass do not make a pass:
        // the complete window has too few invocations.
        let mut o = counts(10, 0, 90, 0);
        o.fresh = Some(span(0, 720, (10_000, 0), (90_000, 0)));
        assert_eq!(judge(&o, v(2), v(1), &p).label(), "inconclusive");
        // A shared incident in the fresh minutes neither fails nor holds here.
        let mut o = counts(7000, 0, 63_000, 0);
        o.fresh = Some(span(0, 660, (7100, 50), (64_000, 500)));
        assert_eq!(judge(&o, v(2), v(1), &p).label(), "pass");
    }

    #[test]
    fn evidence_counts_every_minute_since_the_rollout_began() {
        let p = Policy::defaults();
        let v = |n| Version::new(n).unwrap();
        // The step alone (300 clean green requests, blue clean) cannot show
        // green under error_floor; with the 7,000 earlier ones it can.
        let mut o = counts(300, 0, 2700, 0);
        assert_eq!(judge(&o, v(2), v(1), &p).label(), "inconclusive");
        o.rollout = Some(span(-3600, 600, (7300, 0), (65_700, 0)));
        let pass = judge(&o, v(2), v(1), &p);
        assert_eq!(pass.label(), "pass", "{}", pass.reason());
        assert!(
            pass.reason().contains("since the rollout began"),
            "{}",
            pass.reason()
        );
        // Earlier minutes never hide trouble in the step: its errors fail.
        let mut bad = counts(300, 12, 2700, 0);
        bad.rollout = Some(span(-3600, 600, (6300, 12), (56_700, 0)));
        assert_eq!(judge(&bad, v(2), v(1), &p).label(), "fail");
    }

    #[test]
    fn a_blue_above_the_ceiling_all_along_leaves_green_to_the_comparison() {
        let p = Policy::defaults();
        let v = |n| Version::new(n).unwrap();
        // Both at 2%, above max_error_rate 1%, in this window only: a shared
        // incident, which holds.
        let o = counts(3000, 60, 27_000, 540);
        let held = judge(&o, v(2), v(1), &p);
        assert_eq!(held.label(), "inconclusive");
        assert!(
            held.reason().contains("shared incident"),
            "{}",
            held.reason()
        );
        // Blue at 2% since the rollout began, 20 minutes ago: its everyday
        // rate. Green at blue's rate passes; at twice it fails.
        let mut o = counts(3000, 60, 27_000, 540);
        o.rollout = Some(span(-600, 600, (4000, 80), (36_000, 720)));
        let pass = judge(&o, v(2), v(1), &p);
        assert_eq!(pass.label(), "pass", "{}", pass.reason());
        let mut bad = counts(3000, 120, 27_000, 540);
        bad.rollout = Some(span(-600, 600, (4000, 160), (36_000, 720)));
        assert_eq!(judge(&bad, v(2), v(1), &p).label(), "fail");
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
