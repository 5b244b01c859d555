//! The judgment rules, one function each, numbered as README's "How green is
//! judged" numbers them. Each returns `Some(verdict)` when it decides and
//! `None` to hand over to the next; `judge_for` runs them in order.

use std::time::Duration;

use super::observation::{AlarmState, Observation, VersionFigures};
use super::verdict::{pct, Gate, Verdict, Wait};
use crate::engine::stats::{ln_above, ln_evidence, ln_worse_than, poisson_upper, Stratum};
use crate::model::Version;
use crate::policy::{OnInsufficientData, Policy};

/// What every rule reads: the observation, the two versions, the policy, and
/// the figures each reason quotes.
pub(super) struct Case<'a> {
    pub obs: &'a Observation,
    pub green: Version,
    pub blue: Version,
    pub policy: &'a Policy,
    pub needs_evidence: bool,
    /// The latency statistic, as reasons name it ("p99").
    pub stat: String,
    /// "green 2: 0 errors in 600 invocations ...; blue 1: ..."
    pub figures: String,
    /// Blue's error rate since the rollout began, once that is a bake long:
    /// its everyday rate rather than one bad minute.
    pub blue_usual: Option<f64>,
}

impl<'a> Case<'a> {
    pub fn new(
        obs: &'a Observation,
        green: Version,
        blue: Version,
        policy: &'a Policy,
        needs_evidence: bool,
    ) -> Self {
        let stat = policy.latency_stat.to_string();
        let figures = format!(
            "green {}; blue {}",
            obs.green.describe(green, &stat),
            obs.blue.describe(blue, &stat)
        );
        let blue_usual = obs
            .rollout
            .filter(|r| r.end.since(r.start) >= policy.bake.max(Duration::from_secs(300)))
            .and_then(|r| r.blue.error_rate());
        Case {
            obs,
            green,
            blue,
            policy,
            needs_evidence,
            stat,
            figures,
            blue_usual,
        }
    }
}

/// Rule 1: an alarm in ALARM fails at once, whatever the traffic; an unknown
/// one holds; one in INSUFFICIENT_DATA holds or fails as the policy says.
pub(super) fn rule_1_alarms(c: &Case) -> Option<Verdict> {
    let alarms = &c.obs.alarms;
    let figures = &c.figures;
    if let Some(a) = alarms.iter().find(|a| a.state == AlarmState::Alarm) {
        return Verdict::fail(
            Gate::Alarm,
            format!("alarm {:?} is in ALARM ({figures})", a.name),
        );
    }
    if let Some(a) = alarms.iter().find(|a| a.state == AlarmState::Missing) {
        return Verdict::hold(
            Wait::Alarm,
            format!(
                "alarm {:?} does not exist: fix policy.alarms; holding ({figures})",
                a.name
            ),
        );
    }
    let a = alarms
        .iter()
        .find(|a| a.state == AlarmState::InsufficientData)?;
    let reason = format!("alarm {:?} is in INSUFFICIENT_DATA ({figures})", a.name);
    match c.policy.alarm_insufficient_data {
        OnInsufficientData::Fail => Verdict::fail(Gate::Alarm, reason),
        OnInsufficientData::Hold => Verdict::hold(Wait::Alarm, reason),
    }
}

/// Rule 2: CloudWatch said some series is partial: hold.
pub(super) fn rule_2_partial_data(c: &Case) -> Option<Verdict> {
    (!c.obs.complete).then(|| Verdict::Inconclusive {
        wait: Wait::PartialData,
        reason: format!(
            "CloudWatch returned partial data for the window ({})",
            c.figures
        ),
    })
}

/// Rule 3: throttles above `max_throttles` fail; a custom metric past its
/// threshold fails, one with no data holds.
pub(super) fn rule_3_throttles_and_custom_metrics(c: &Case) -> Option<Verdict> {
    let figures = &c.figures;
    if let Some(max) = c.policy.max_throttles.filter(|m| c.obs.throttles > *m) {
        return Verdict::fail(
            Gate::Throttles,
            format!(
                "{} throttles on the alias > max_throttles {max} ({figures})",
                c.obs.throttles
            ),
        );
    }
    c.obs.custom.iter().find_map(|m| {
        let Some(v) = m.value else {
            return Verdict::hold(
                Wait::CustomMetric,
                format!("metric {:?} has no data in the window ({figures})", m.name),
            );
        };
        if let Some(max) = m.max.filter(|max| v > *max) {
            return Verdict::fail(
                Gate::CustomMetric,
                format!("{:?} is {v} > max {max} ({figures})", m.name),
            );
        }
        let min = m.min.filter(|min| v < *min)?;
        Verdict::fail(
            Gate::CustomMetric,
            format!("{:?} is {v} < min {min} ({figures})", m.name),
        )
    })
}

/// The likelihood ratio a fail-side test must reach: 1 / (1 - error_confidence).
fn fail_threshold(policy: &Policy) -> f64 {
    1.0 / (1.0 - policy.error_confidence)
}

/// Rule 4: green worse than blue. A sequential test on how the window's
/// errors split between the versions (`ln_worse_than`): green fails once the
/// split is `error_confidence` evidence that its rate is above blue's times
/// (1 + error_tolerance), given its share of the traffic. Sequential, so that
/// a step judged every minute for hours keeps its false-rollback rate; a bad
/// minute shared by both versions raises both counts and does not move
/// green's share, so it does not fail green.
pub(super) fn rule_4_green_worse_than_blue(
    g: VersionFigures,
    b: VersionFigures,
    policy: &Policy,
    figures: &str,
    note: &str,
) -> Option<Verdict> {
    if b.invocations == 0 || g.errors == 0 {
        return None;
    }
    let r0 = 1.0 + policy.error_tolerance;
    let lr = ln_worse_than(g.errors, b.errors, g.invocations, b.invocations, r0).exp();
    if lr < fail_threshold(policy) {
        return None;
    }
    let ratio = match b.error_rate() {
        Some(br) if br > 0.0 => format!("{:.1}x blue's", g.error_rate().unwrap_or(0.0) / br),
        _ => "blue has none".to_string(),
    };
    Verdict::fail(
        Gate::Errors,
        format!(
            "error rate {} ({ratio}) is worse than blue's by more than error_tolerance {}% \
             (sequential test on the two rates: likelihood ratio {lr:.1e} >= {:.0}, \
             error_confidence {}) ({figures}){note}",
            pct(g.error_rate().unwrap_or(0.0)),
            policy.error_tolerance * 100.0,
            fail_threshold(policy),
            policy.error_confidence
        ),
    )
}

/// Rule 5: the absolute ceiling, as a sequential test too (`ln_above`): green
/// fails when its error rate is above max_error_rate with error_confidence (a
/// handful of errors in a handful of requests is chance; 5 in 20 at a 1%
/// ceiling is not). Unless
/// blue is above the ceiling in the same window: a shared incident, which
/// holds instead. And where blue has been above it all through the rollout,
/// the ceiling is this function's everyday rate, not a limit green can be
/// held to: green is judged against blue alone.
pub(super) fn rule_5_ceiling(
    g: VersionFigures,
    b: VersionFigures,
    policy: &Policy,
    (figures, note): (&str, &str),
    blue_usual: Option<f64>,
) -> Option<Verdict> {
    if blue_usual.is_some_and(|r| r > policy.max_error_rate) || g.errors == 0 {
        return None;
    }
    let ceiling = policy.max_error_rate / 100.0;
    let lr = ln_above(g.errors, g.invocations, ceiling).exp();
    if lr < fail_threshold(policy) {
        return None;
    }
    let rate = g.error_rate().unwrap_or(0.0);
    let blue_rate = b.error_rate().unwrap_or(0.0);
    if blue_rate > policy.max_error_rate {
        return Verdict::hold(
            Wait::SharedIncident,
            format!(
                "both versions are above max_error_rate {} (green {}, blue {}): a shared \
             incident, not green's doing; holding ({figures}){note}",
                pct(policy.max_error_rate),
                pct(rate),
                pct(blue_rate)
            ),
        );
    }
    Verdict::fail(
        Gate::Errors,
        format!(
            "error rate {} is above max_error_rate {} (sequential test: likelihood ratio \
             {lr:.1e} >= {:.0}, error_confidence {}) ({figures}){note}",
            pct(rate),
            pct(policy.max_error_rate),
            fail_threshold(policy),
            policy.error_confidence
        ),
    )
}

/// Rules 4 and 5 over the step's complete minutes, then over the minutes still
/// inside metric_lag: what those already hold can fail green (a broken version
/// is rolled back a minute or two sooner), what they lack can never make it
/// pass.
pub(super) fn rules_4_and_5_errors(c: &Case) -> Option<Verdict> {
    let (g, b, policy) = (c.obs.green, c.obs.blue, c.policy);
    let window = rule_4_green_worse_than_blue(g, b, policy, &c.figures, "")
        .or_else(|| rule_5_ceiling(g, b, policy, (&c.figures, ""), c.blue_usual));
    if window.is_some() {
        return window;
    }
    let f = c.obs.fresh.filter(|f| f.end > c.obs.window_end)?;
    let minutes = (f.end.unix() - c.obs.window_end.unix()) / 60;
    let figures = format!(
        "green {}; blue {}",
        f.green.describe(c.green, &c.stat),
        f.blue.describe(c.blue, &c.stat)
    );
    let note = format!(
        ", counting the last {minutes} minute{} still inside metric_lag",
        if minutes == 1 { "" } else { "s" },
    );
    rule_4_green_worse_than_blue(f.green, f.blue, policy, &figures, &note)
        .or_else(|| rule_5_ceiling(f.green, f.blue, policy, (&figures, &note), c.blue_usual))
        .filter(|v| matches!(v, Verdict::Fail { .. }))
}

/// Rule 6: fewer than `min_invocations` green requests: hold.
pub(super) fn rule_6_too_little_data(c: &Case) -> Option<Verdict> {
    let (have, need) = (c.obs.green.invocations, c.policy.min_invocations);
    (have < need).then(|| Verdict::Inconclusive {
        wait: Wait::Invocations,
        reason: format!(
            "too few invocations to judge: {} more needed, min_invocations {need} ({})",
            need - have,
            c.figures
        ),
    })
}

/// What rule 7 weighs: every minute since the rollout began, earlier steps
/// and this one as separate strata (green's share changes from step to step).
pub(super) struct Evidence {
    strata: [Stratum; 2],
    /// ln of the sequential test's likelihood ratio.
    ln_ratio: f64,
    /// Green's error rate at most this (percent), at pass_confidence.
    upper: f64,
    blue_rate: f64,
    /// " since the rollout began (...)", or empty when the step is all.
    since: String,
}

impl Evidence {
    pub fn of(c: &Case) -> Evidence {
        let (obs, policy) = (c.obs, c.policy);
        let (g, b) = (obs.green, obs.blue);
        let (rollout_g, rollout_b, since) = match obs.rollout {
            Some(r) if r.start < obs.window_start => (
                r.green,
                r.blue,
                format!(
                    " since the rollout began ({}: green {}; blue {})",
                    r.start,
                    r.green.describe(c.green, &c.stat),
                    r.blue.describe(c.blue, &c.stat)
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
        let strata = [
            stratum(minus(rollout_g, g), minus(rollout_b, b)),
            stratum(g, b),
        ];
        let alpha = 1.0 - policy.pass_confidence;
        let ln_ratio = ln_evidence(
            &strata,
            1.0 + policy.error_tolerance,
            policy.detect_ratio,
            policy.error_floor / 100.0,
        );
        let upper =
            poisson_upper(rollout_g.errors, alpha) * 100.0 / rollout_g.invocations.max(1) as f64;
        Evidence {
            strata,
            ln_ratio,
            upper,
            blue_rate: rollout_b.error_rate().unwrap_or(0.0),
            since,
        }
    }
}

/// Rule 7: where the next weight needs evidence, green passes only once a
/// `detect_ratio` regression (or, for a clean blue, an error rate above
/// `error_floor`) is ruled out at `pass_confidence` by the sequential test
/// (see `ln_evidence`): looking every minute does not raise the chance of
/// passing a bad version.
pub(super) fn rule_7_evidence(c: &Case, e: &Evidence) -> Option<Verdict> {
    let policy = c.policy;
    let alpha = 1.0 - policy.pass_confidence;
    if !c.needs_evidence || e.ln_ratio >= (1.0 / alpha).ln() {
        return None;
    }
    // The evidence is the mean of two tests: against blue's rate times
    // detect_ratio, and against error_floor. Over a (nearly) clean blue a
    // detect_ratio regression is below the floor, so the floor is what binds.
    let floor = e.blue_rate * policy.detect_ratio < policy.error_floor;
    let what = if floor {
        let why = if policy.error_floor < policy.max_error_rate {
            format!(
                " (with blue at {}, a {}x regression is below it; error_floor is stricter than \
                 max_error_rate {} on purpose: a regression under the ceiling is still one; \
                 raise error_floor, up to max_error_rate, to pass a quiet function sooner)",
                pct(e.blue_rate),
                policy.detect_ratio,
                pct(policy.max_error_rate)
            )
        } else {
            String::new()
        };
        format!(
            "an error rate above error_floor {}{why}",
            pct(policy.error_floor)
        )
    } else {
        format!("a {}x regression (detect_ratio)", policy.detect_ratio)
    };
    Verdict::hold(
        Wait::Evidence { floor },
        format!(
            "cannot yet rule out {what} at {}% confidence (pass_confidence){}: green's error rate \
             is at most {}, blue's {}; {} ({})",
            policy.pass_confidence * 100.0,
            e.since,
            pct(e.upper),
            pct(e.blue_rate),
            more_needed(&e.strata, policy),
            c.figures,
        ),
    )
}

/// Rule 8: latency. Missing Duration data with invocations present is missing
/// data, which holds; a percentile of fewer samples than it takes to see past
/// the maximum (100 for p99) is only the slowest request, which holds too.
pub(super) fn rule_8_latency(c: &Case) -> Option<Verdict> {
    let (stat, figures, policy) = (&c.stat, &c.figures, c.policy);
    let Some(gl) = c.obs.green.latency_ms else {
        return Verdict::hold(
            Wait::Latency,
            format!("no Duration data for green in the window ({figures})"),
        );
    };
    if let Some(max) = policy.max_latency_ms.filter(|m| gl > *m) {
        return Verdict::fail(
            Gate::Latency,
            format!("{stat} {gl:.0} ms > max_latency_ms {max:.0} ({figures})"),
        );
    }
    let needed = policy.latency_stat.samples_needed();
    if c.obs.green.invocations < needed {
        return Verdict::hold(
            Wait::Latency,
            format!(
                "too few invocations to judge {stat}: {} more needed ({figures})",
                needed - c.obs.green.invocations
            ),
        );
    }
    let bl = c.obs.blue.latency_ms.filter(|b| *b > 0.0)?;
    let ratio = gl / bl;
    (ratio > policy.max_latency_ratio).then(|| Verdict::Fail {
        metric: Gate::Latency,
        reason: format!(
            "{stat} {ratio:.2}x blue's > max_latency_ratio {} ({figures})",
            policy.max_latency_ratio
        ),
    })
}

/// Rule 9: nothing else applied: pass, saying what was ruled out.
pub(super) fn rule_9_pass(c: &Case, e: &Evidence) -> Verdict {
    let policy = c.policy;
    let evidence = if !c.needs_evidence {
        "no sign of a regression".to_string()
    } else {
        format!(
            "a {}x regression (or an error rate above error_floor {}) ruled out at {}% confidence \
             by a sequential test{}; green's error rate at most {}",
            policy.detect_ratio,
            pct(policy.error_floor),
            policy.pass_confidence * 100.0,
            e.since,
            pct(e.upper)
        )
    };
    Verdict::Pass {
        reason: format!(
            "{evidence}, {} within {}x blue's ({})",
            c.stat, policy.max_latency_ratio, c.figures
        ),
    }
}

/// Roughly how many more green requests the evidence needs if traffic goes on
/// at the shares and error rates seen so far: the strata scaled up until the
/// sequential test would pass. None: it cannot get there at those rates
/// (green looks worse than the evidence allows), or there is no green
/// traffic to scale.
pub(super) fn green_requests_needed(strata: &[Stratum], policy: &Policy) -> Option<u64> {
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
        return None;
    }
    if passes(1.0) {
        return Some(0);
    }
    let (mut lo, mut hi) = (1.0, 2.0);
    while !passes(hi) {
        if hi > 1e4 {
            return None;
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
    Some((now as f64 * (hi - 1.0)).ceil() as u64)
}

/// The hold's words for `green_requests_needed`.
fn more_needed(strata: &[Stratum], policy: &Policy) -> String {
    if strata.iter().all(|s| s.green_requests == 0) {
        return "no green invocations yet".into();
    }
    match green_requests_needed(strata, policy) {
        Some(more) => format!("about {more} more green invocations needed"),
        None => "it cannot get there at the rates seen so far: green looks worse; holding".into(),
    }
}

/// The evidence's strata, for the estimate.
impl Evidence {
    pub fn strata(&self) -> &[Stratum] {
        &self.strata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::health::{AlarmReading, CustomReading, Span};
    use crate::model::UtcTime;

    fn v(n: u64) -> Version {
        Version::new(n).unwrap()
    }

    fn figures(invocations: u64, errors: u64) -> VersionFigures {
        VersionFigures {
            invocations,
            errors,
            latency_ms: Some(100.0),
        }
    }

    fn obs(green: (u64, u64), blue: (u64, u64)) -> Observation {
        Observation {
            window_start: UtcTime::from_unix(0),
            window_end: UtcTime::from_unix(600),
            green: figures(green.0, green.1),
            blue: figures(blue.0, blue.1),
            throttles: 0,
            complete: true,
            alarms: Vec::new(),
            custom: Vec::new(),
            rollout: None,
            fresh: None,
        }
    }

    fn policy() -> Policy {
        let mut p = Policy::defaults();
        p.error_floor = 5.0;
        p
    }

    /// The label of what a rule said, or "next" when it handed over.
    fn said(v: Option<Verdict>) -> String {
        match v {
            None => "next".into(),
            Some(Verdict::Fail { metric, .. }) => format!("fail {metric}"),
            Some(v) => v.label().into(),
        }
    }

    fn with(o: &Observation, p: &Policy, rule: fn(&Case) -> Option<Verdict>) -> String {
        said(rule(&Case::new(o, v(2), v(1), p, true)))
    }

    #[test]
    fn rule_1_alarms_table() {
        use AlarmState::*;
        let mut fails = policy();
        fails.alarm_insufficient_data = OnInsufficientData::Fail;
        let cases = [
            (vec![], "next", "next"),
            (vec![Ok], "next", "next"),
            (vec![Ok, Alarm], "fail alarm", "fail alarm"),
            (vec![Missing], "inconclusive", "inconclusive"),
            (vec![InsufficientData], "inconclusive", "fail alarm"),
            (vec![InsufficientData, Alarm], "fail alarm", "fail alarm"),
        ];
        for (states, holds, when_fails) in cases {
            let mut o = obs((500, 0), (5000, 5));
            o.alarms = states
                .iter()
                .enumerate()
                .map(|(i, s)| AlarmReading {
                    name: format!("a{i}"),
                    state: *s,
                })
                .collect();
            assert_eq!(with(&o, &policy(), rule_1_alarms), holds, "{states:?}");
            assert_eq!(with(&o, &fails, rule_1_alarms), when_fails, "{states:?}");
        }
    }

    #[test]
    fn rule_2_partial_data_table() {
        for (complete, want) in [(true, "next"), (false, "inconclusive")] {
            let mut o = obs((500, 0), (5000, 5));
            o.complete = complete;
            assert_eq!(with(&o, &policy(), rule_2_partial_data), want);
        }
    }

    #[test]
    fn rule_3_throttles_and_custom_metrics_table() {
        let reading = |value, max, min| CustomReading {
            name: "m".into(),
            value,
            max,
            min,
        };
        let cases = [
            (3, None, vec![], "next"),
            (3, Some(5), vec![], "next"),
            (6, Some(5), vec![], "fail throttles"),
            (0, None, vec![reading(Some(3.0), Some(5.0), None)], "next"),
            (
                0,
                None,
                vec![reading(Some(9.0), Some(5.0), None)],
                "fail custom metric",
            ),
            (
                0,
                None,
                vec![reading(Some(1.0), None, Some(2.0))],
                "fail custom metric",
            ),
            (
                0,
                None,
                vec![reading(None, Some(5.0), None)],
                "inconclusive",
            ),
        ];
        for (throttles, max, custom, want) in cases {
            let mut o = obs((500, 0), (5000, 5));
            o.throttles = throttles;
            o.custom = custom;
            let mut p = policy();
            p.max_throttles = max;
            assert_eq!(
                with(&o, &p, rule_3_throttles_and_custom_metrics),
                want,
                "{throttles} {max:?}"
            );
        }
    }

    #[test]
    fn rule_4_green_worse_than_blue_table() {
        let p = policy();
        let cases = [
            ((1000, 50), (9000, 90), "fail errors"), // 5x blue
            ((1000, 12), (9000, 90), "next"),        // 1.2x: within tolerance
            ((1000, 0), (9000, 90), "next"),         // no errors
            ((1000, 30), (0, 0), "next"),            // no blue to compare with
            ((100, 10), (900, 90), "next"),          // a shared incident
        ];
        for (g, b, want) in cases {
            let got =
                rule_4_green_worse_than_blue(figures(g.0, g.1), figures(b.0, b.1), &p, "", "");
            assert_eq!(said(got), want, "{g:?} {b:?}");
        }
    }

    #[test]
    fn rule_5_ceiling_table() {
        let p = policy(); // max_error_rate 1%
        let cases = [
            ((240, 3), (9000, 9), None, "next"),          // chance at 1%
            ((20, 5), (9000, 9), None, "fail errors"),    // 25%: not chance
            ((20, 5), (9000, 900), None, "inconclusive"), // blue above too: shared
            ((20, 5), (9000, 9), Some(3.0), "next"),      // blue's everyday rate is 3%
            ((20, 0), (9000, 9), None, "next"),
        ];
        for (g, b, usual, want) in cases {
            let got = rule_5_ceiling(figures(g.0, g.1), figures(b.0, b.1), &p, ("", ""), usual);
            assert_eq!(said(got), want, "{g:?} {b:?} {usual:?}");
        }
        let mut zero = policy();
        zero.max_error_rate = 0.0;
        let got = rule_5_ceiling(figures(1000, 1), figures(9000, 0), &zero, ("", ""), None);
        assert_eq!(said(got), "fail errors", "a 0% ceiling fails on one error");
    }

    #[test]
    fn rules_4_and_5_read_the_fresh_minutes_to_fail_only() {
        let span = |g: (u64, u64), b: (u64, u64)| Span {
            start: UtcTime::from_unix(0),
            end: UtcTime::from_unix(720),
            green: figures(g.0, g.1),
            blue: figures(b.0, b.1),
        };
        let cases = [
            (span((1200, 60), (10800, 100)), "fail errors"),
            (span((1200, 0), (10800, 100)), "next"),
            // A shared incident in the fresh minutes holds nothing up.
            (span((24, 6), (216, 60)), "next"),
        ];
        for (fresh, want) in cases {
            let mut o = obs((1000, 0), (9000, 90));
            o.fresh = Some(fresh);
            assert_eq!(with(&o, &policy(), rules_4_and_5_errors), want);
        }
    }

    #[test]
    fn rule_6_too_little_data_table() {
        for (g, want) in [(49, "inconclusive"), (50, "next"), (0, "inconclusive")] {
            let o = obs((g, 0), (5000, 5));
            assert_eq!(with(&o, &policy(), rule_6_too_little_data), want, "{g}");
        }
    }

    #[test]
    fn rule_7_evidence_table() {
        let cases = [
            ((1000, 0), (9000, 90), true, "next"),        // 2x ruled out
            ((300, 0), (9000, 90), true, "inconclusive"), // too few yet
            ((300, 0), (9000, 90), false, "next"),        // a small step needs none
        ];
        for (g, b, needs, want) in cases {
            let o = obs(g, b);
            let p = Policy::defaults();
            let c = Case::new(&o, v(2), v(1), &p, needs);
            let e = Evidence::of(&c);
            assert_eq!(said(rule_7_evidence(&c, &e)), want, "{g:?} {b:?} {needs}");
        }
    }

    #[test]
    fn rule_8_latency_table() {
        let cases = [
            (Some(100.0), Some(100.0), 500, None, "next"),
            (Some(140.0), Some(100.0), 500, None, "fail latency"), // 1.4x > 1.3x
            (Some(120.0), Some(100.0), 500, Some(110.0), "fail latency"),
            (None, Some(100.0), 500, None, "inconclusive"),
            (Some(100.0), Some(100.0), 99, None, "inconclusive"), // p99 needs 100
            (Some(500.0), None, 500, None, "next"),               // nothing to compare
        ];
        for (gl, bl, gi, max_ms, want) in cases {
            let mut o = obs((gi, 0), (5000, 5));
            o.green.latency_ms = gl;
            o.blue.latency_ms = bl;
            let mut p = policy();
            p.max_latency_ms = max_ms;
            assert_eq!(with(&o, &p, rule_8_latency), want, "{gl:?} {bl:?} {gi}");
        }
    }

    #[test]
    fn rule_9_pass_names_what_was_ruled_out() {
        let o = obs((1000, 0), (9000, 90));
        let p = Policy::defaults();
        for (needs, want) in [
            (true, "ruled out at 99.5% confidence"),
            (false, "no sign of a regression"),
        ] {
            let c = Case::new(&o, v(2), v(1), &p, needs);
            let r = rule_9_pass(&c, &Evidence::of(&c));
            assert_eq!(r.label(), "pass");
            assert!(r.reason().contains(want), "{}", r.reason());
        }
    }
}
