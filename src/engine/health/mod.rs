//! Health: turns the figures read for a step's window into a verdict. Three
//! outcomes, never two: too little data is `Inconclusive` (hold), not a pass.
//!
//! - `query`: what the engine asks the metrics port to read
//! - `observation`: what the metrics port answers
//! - `rules`: README's judgment rules 1 to 9, one function each
//! - `verdict`: the verdict and the gate that failed

mod observation;
mod query;
mod rules;
mod verdict;

pub use observation::{AlarmReading, AlarmState, CustomReading, Observation, Span, VersionFigures};
pub use query::{CustomQuery, CustomSource, MetricSource, MetricsRequest};
pub use verdict::{pct, Gate, Verdict, Wait};

use crate::model::Version;
use crate::policy::Policy;
use rules::{Case, Evidence};

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
/// promotion) or only needs no sign of one (a small step). The rules run in
/// README's order; the first that decides is the verdict.
pub fn judge_for(
    obs: &Observation,
    green: Version,
    blue: Version,
    policy: &Policy,
    needs_evidence: bool,
) -> Verdict {
    let c = Case::new(obs, green, blue, policy, needs_evidence);
    let evidence = Evidence::of(&c);
    rules::rule_1_alarms(&c)
        .or_else(|| rules::rule_2_partial_data(&c))
        .or_else(|| rules::rule_3_throttles_and_custom_metrics(&c))
        .or_else(|| rules::rules_4_and_5_errors(&c))
        .or_else(|| rules::rule_6_too_little_data(&c))
        .or_else(|| rules::rule_7_evidence(&c, &evidence))
        .or_else(|| rules::rule_8_latency(&c))
        .unwrap_or_else(|| rules::rule_9_pass(&c, &evidence))
}

/// How many more green requests the evidence for a big step or the
/// promotion needs, at the rates seen (0: it has enough; None: not at these
/// rates, or no green traffic yet). For estimates: the verdict is `judge_for`'s.
pub fn evidence_needed(
    obs: &Observation,
    green: Version,
    blue: Version,
    policy: &Policy,
) -> Option<u64> {
    let c = Case::new(obs, green, blue, policy, true);
    rules::green_requests_needed(Evidence::of(&c).strata(), policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UtcTime;
    use crate::policy::OnInsufficientData;

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
                    metric: Gate::CustomMetric,
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
                    metric: Gate::Alarm,
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
        p.alarm_insufficient_data = OnInsufficientData::Fail;
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
            // 20% against blue's 0.1%, but two errors: a sequential test at
            // 99.9% needs a third (no split of two errors reaches 1,000).
            ((10, 2, 0, true), "inconclusive"),
            ((10, 3, 0, true), "fail"),
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
                    metric: Gate::Latency,
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
                    metric: Gate::Errors,
                    ..
                }
            ),
            "{f:?}"
        );
        assert!(
            f.reason().contains("5.0x blue's") && f.reason().contains("sequential test"),
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
        // A clean blue: a few green errors are already significant (five
        // here; the sequential test asks one or two more than a fixed one).
        assert_eq!(j(counts(500, 5, 4500, 0), &p).label(), "fail");
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
        // Over a clean blue the floor binds, and the hold says why it is
        // stricter than the ceiling.
        assert!(
            i.reason()
                .contains("cannot yet rule out an error rate above error_floor 0.10%")
                && i.reason()
                    .contains("stricter than max_error_rate 1.00% on purpose"),
            "{}",
            i.reason()
        );
        assert!(matches!(
            i,
            Verdict::Inconclusive {
                wait: Wait::Evidence { floor: true },
                ..
            }
        ));
        let ratio = judge(&counts(300, 0, 9000, 90), v(2), v(1), &p);
        assert!(
            ratio
                .reason()
                .contains("cannot yet rule out a 2x regression (detect_ratio)"),
            "{}",
            ratio.reason()
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
