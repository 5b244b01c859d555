//! Properties over generated policies and tick sequences, on the pure engine
//! (#11): a step that rounded to 0% once skipped the canary and promoted with
//! no verdict at all. Whatever policy is accepted and whatever the metrics
//! say, a `start` or a tick gives green more traffic (an advance, a promotion)
//! only on a pass verdict over complete data, unless the policy is all at once.

use std::time::Duration;

use lambda_rollout::engine::{
    command, plan, AlarmState, AliasState, Decision, Manual, MetricsAnswer, MetricsRequest,
    Observation, Outcome, Plan, PublishedVersion, VersionFigures,
};
use lambda_rollout::memory;
use lambda_rollout::model::{Target, UtcTime, Version, Weight};
use lambda_rollout::policy::{Policy, PolicySpec, PRESETS};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

fn v(n: u64) -> Version {
    Version::new(n).unwrap()
}

/// A step as a hostile or careless user writes one: whole percents, tiny
/// fractions, values that round, out of range, and plain floats.
fn step() -> impl Strategy<Value = f64> {
    prop_oneof![
        (1u32..=100).prop_map(f64::from),
        (0u32..300).prop_map(|k| f64::from(k) * 0.001),
        (0u32..10_000).prop_map(|h| f64::from(h) / 100.0),
        -5.0f64..110.0,
        Just(1e-300),
        Just(99.995),
        Just(0.005),
        Just(100.0),
    ]
}

fn spec() -> impl Strategy<Value = PolicySpec> {
    let shape = prop_oneof![
        prop::collection::vec(step(), 0..6).prop_map(|s| (None, Some(s))),
        prop::sample::select(PRESETS.to_vec()).prop_map(|p| (Some(p.to_string()), None)),
        Just((None, None)),
    ];
    (
        shape,
        prop::option::of(0u64..600),
        prop::option::of(0u64..300),
        prop::option::of(prop_oneof![Just(0.01), 1.0f64..100.0]),
        prop::option::of(1u32..4),
        prop::option::of(0u64..200),
        any::<bool>(),
    )
        .prop_map(
            |((preset, steps), bake, min_inv, evidence_from, threshold, lag, auto_start)| {
                PolicySpec {
                    preset,
                    steps,
                    bake: bake.map(|s| format!("{s}s")),
                    min_invocations: min_inv,
                    evidence_from,
                    failure_threshold: threshold,
                    metric_lag: lag.map(|s| format!("{s}s")),
                    auto_start: Some(auto_start),
                    // A ceiling loose enough that passes happen and the property
                    // is exercised on both sides of the verdict.
                    max_error_rate: Some(50.0),
                    error_floor: Some(5.0),
                    ..PolicySpec::default()
                }
            },
        )
}

/// What CloudWatch says at one tick, before it is shaped to the request.
#[derive(Debug, Clone)]
struct Weather {
    /// Minutes that pass before the tick.
    minutes: u64,
    unavailable: bool,
    complete: bool,
    green: (u64, u64),
    blue: (u64, u64),
    green_ms: Option<f64>,
    alarm: AlarmState,
    throttles: u64,
}

fn weather() -> impl Strategy<Value = Weather> {
    (
        0u64..15,
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.85),
        (0u64..20_000, 0u64..100),
        (0u64..20_000, 0u64..100),
        prop::option::weighted(0.9, 50.0f64..400.0),
        prop::sample::select(vec![
            AlarmState::Ok,
            AlarmState::Ok,
            AlarmState::Ok,
            AlarmState::Alarm,
            AlarmState::InsufficientData,
            AlarmState::Missing,
        ]),
        prop_oneof![Just(0u64), 0u64..5],
    )
        .prop_map(
            |(minutes, unavailable, complete, g, b, green_ms, alarm, throttles)| Weather {
                minutes,
                unavailable,
                complete,
                // Errors as a share (per mille, up to 10%) of the invocations.
                green: (g.0, g.0 * g.1 / 1000),
                blue: (b.0, b.0 * b.1 / 1000),
                green_ms,
                alarm,
                throttles,
            },
        )
}

fn observe(w: &Weather, req: &MetricsRequest) -> Observation {
    let figures = |(invocations, errors): (u64, u64), ms: Option<f64>| VersionFigures {
        invocations,
        errors,
        latency_ms: if invocations > 0 { ms } else { None },
    };
    let green = figures(w.green, w.green_ms);
    let blue = figures(w.blue, Some(120.0));
    let mut o = memory::observation(
        req,
        w.alarm,
        |v, _, _| {
            if v == req.green {
                green
            } else {
                blue
            }
        },
    );
    o.throttles = w.throttles;
    o.complete = w.complete;
    o
}

fn versions() -> Vec<PublishedVersion> {
    (1..=2)
        .map(|i| PublishedVersion {
            version: v(i),
            role: "arn:aws:iam::1:role/r".into(),
            dead_letter_target: None,
        })
        .collect()
}

/// One tick, through the engine's protocol, as the executor drives it.
fn one_tick(t: &Target, alias: &AliasState, p: &Policy, now: UtcTime, w: &Weather) -> Decision {
    match plan(t, alias, p, now).expect("a readable record") {
        Plan::Decided(d) => d,
        Plan::NeedVersions(a) => a.decide(&versions()),
        Plan::NeedMetrics(a) => {
            let obs = observe(w, &a.request);
            a.decide(if w.unavailable {
                MetricsAnswer::Unavailable("generated outage")
            } else {
                MetricsAnswer::Fetched(&obs)
            })
        }
    }
}

/// The property itself, for one decision: more traffic for green, or
/// promotion, only on a pass over complete data.
fn check(d: &Decision, before: &AliasState, green: Version) -> Result<(), TestCaseError> {
    let Some(after) = &d.write else {
        return Ok(());
    };
    let weight = |a: &AliasState| {
        a.canary
            .filter(|c| c.version == green)
            .map_or(Weight::ZERO, |c| c.weight)
    };
    let promoted = after.stable == green && before.stable != green;
    let more = weight(after) > weight(before);
    if promoted || more {
        prop_assert!(
            matches!(d.outcome, Outcome::Advanced | Outcome::Promoted),
            "{d:?}"
        );
        prop_assert_eq!(
            d.verdict.as_ref().map(|v| v.label()),
            Some("pass"),
            "{:?}",
            d
        );
        prop_assert!(d.observation.as_ref().is_some_and(|o| o.complete), "{d:?}");
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 768,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Every accepted policy's steps are weights above 0%, strictly
    /// increasing, ending at 100%, each exactly what was written.
    #[test]
    fn every_accepted_step_is_a_weight_above_zero(s in spec()) {
        let Ok(p) = PolicySpec::resolve(&[&s]) else { return Ok(()) };
        prop_assert!(!p.steps.is_empty());
        prop_assert_eq!(*p.steps.last().unwrap(), Weight::FULL);
        for pair in p.steps.windows(2) {
            prop_assert!(pair[0] < pair[1], "{:?}", p.steps);
        }
        prop_assert!(p.steps[0] > Weight::ZERO, "{:?}", p.steps);
        if let Some(written) = &s.steps {
            for x in written {
                let kept = Weight::from_percent(*x).unwrap();
                prop_assert!((kept.percent() - x).abs() < 1e-9, "{x} kept as {kept}");
                prop_assert!(p.steps.contains(&kept));
            }
        }
    }

    /// `start`, then ticks under generated weather: green never gains traffic
    /// or the alias without a pass, unless the policy is all at once.
    #[test]
    fn no_start_or_tick_promotes_without_a_pass(
        s in spec(),
        weathers in prop::collection::vec(weather(), 1..40),
    ) {
        let Ok(p) = PolicySpec::resolve(&[&s]) else { return Ok(()) };
        let t = Target::new("hello", "live").unwrap();
        let mut now = UtcTime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
        let mut alias = AliasState { stable: v(1), canary: None, description: "team".into() };

        let start = Manual::Start { version: Some(v(2)), force: false };
        let d = command(&start, &alias, &p, now, &versions()).expect("start is accepted");
        let after = d.write.clone().expect("start writes");
        if p.is_all_at_once() {
            prop_assert_eq!(d.outcome, Outcome::Promoted);
            prop_assert_eq!(after.stable, v(2));
            return Ok(());
        }
        prop_assert_eq!(d.outcome, Outcome::Started, "{:?}", d);
        let first = after.canary.expect("a canary").weight;
        prop_assert_eq!(first, p.steps[0]);
        prop_assert!(first > Weight::ZERO && first < Weight::FULL);
        alias = after;

        for w in &weathers {
            now = now.plus(Duration::from_secs(60 * w.minutes));
            let d = one_tick(&t, &alias, &p, now, w);
            check(&d, &alias, v(2))?;
            if let Some(a) = &d.write {
                alias = a.clone();
            }
            if matches!(d.outcome, Outcome::Promoted | Outcome::RolledBack) {
                break;
            }
        }
    }
}
