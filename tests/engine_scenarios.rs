//! Tick-by-tick rollout scenarios over the pure engine: no I/O, the clock and the
//! traffic are simulated. Each scenario reads GIVEN / WHEN / THEN.

mod world;

use std::time::Duration;

use lambda_rollout::engine::{
    command, plan, AlarmState, AliasState, AwaitMetrics, Canary, Decision, Description, Manual,
    Outcome, Phase, Plan, PublishedVersion, VersionFigures,
};
use lambda_rollout::model::{UtcTime, Weight};
use lambda_rollout::policy::{Policy, PRESETS};
use world::{policy, v, versions, w, weights_of, World};

#[test]
fn a_healthy_canary_goes_all_the_way_to_promotion() {
    // GIVEN the default policy and steady, healthy traffic
    let mut world = World::new(Policy::defaults());
    // WHEN version 2 is started and ticked every minute
    let d = world.command(Manual::Start {
        version: None,
        force: false,
    });
    assert_eq!(d.outcome, Outcome::Started);
    assert_eq!(
        world.alias.canary,
        Some(Canary {
            version: v(2),
            weight: w(10.0)
        })
    );
    let trace = world.run_until(200, |d| d.outcome == Outcome::Promoted);
    // THEN it advances through every step, each after its full bake, and promotes
    assert_eq!(
        weights_of(&trace),
        vec![
            (Outcome::Advanced, Some(w(25.0))),
            (Outcome::Advanced, Some(w(50.0))),
            (Outcome::Promoted, None),
        ]
    );
    let mut step_start = UtcTime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
    for (t, d) in &trace {
        if d.outcome != Outcome::Held {
            assert!(
                t.since(step_start) >= Duration::from_secs(300),
                "bake respected"
            );
            step_start = *t;
        }
    }
    assert_eq!(world.alias.stable, v(2));
    assert_eq!(world.alias.canary, None);
    assert_eq!(
        world.alias.description, "owned by team hello",
        "the user's text survives"
    );
}

#[test]
fn a_failing_canary_is_rolled_back_at_the_first_step_and_remembered() {
    // GIVEN green failing 5% of its requests
    let mut world = World::new(Policy::defaults());
    world.green_error_pct = 5.0;
    world.command(Manual::Start {
        version: Some(v(2)),
        force: false,
    });
    // WHEN the ticks come
    let trace = world.run_until(20, |d| d.outcome != Outcome::Held);
    // THEN it is rolled back from 10%, with the figures in the reason
    let (_, last) = trace.last().unwrap();
    assert_eq!(last.outcome, Outcome::RolledBack, "{trace:?}");
    assert!(
        last.reason.contains("errors check failed"),
        "{}",
        last.reason
    );
    assert!(last.reason.contains("green 2:") && last.reason.contains("blue 1:"));
    // AND two minutes after the start, long before the first complete
    // minute: the minutes still inside metric_lag already show it (200
    // requests, 10 errors; the first minute's 5 are not yet evidence enough
    // for the sequential test)
    assert_eq!(trace.len(), 2, "{trace:?}");
    assert!(
        last.reason.contains("still inside metric_lag"),
        "{}",
        last.reason
    );
    assert_eq!((world.alias.stable, world.alias.canary), (v(1), None));
    assert_eq!(world.record().rolled_back, Some(v(2)));
    // AND it is not started again, unless forced
    let e = command(
        &Manual::Start {
            version: None,
            force: false,
        },
        &world.alias,
        &world.policy,
        world.now,
        &versions(2),
    )
    .unwrap_err();
    assert!(e.0.contains("rolled back before"), "{e}");
    let d = world.command(Manual::Start {
        version: None,
        force: true,
    });
    assert_eq!(d.outcome, Outcome::Started);
    assert_eq!(world.record().rolled_back, None);
}

#[test]
fn no_traffic_holds_forever_and_never_promotes() {
    // GIVEN an alias nobody calls
    let mut world = World::new(Policy::defaults());
    world.rpm = 0;
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    // WHEN a day of ticks passes
    let trace = world.run_until(24 * 60, |_| false);
    // THEN every tick holds at 10% and says why
    assert!(trace.iter().all(|(_, d)| d.outcome == Outcome::Held));
    assert_eq!(world.alias.canary.unwrap().weight, w(10.0));
    let reason = &trace.last().unwrap().1.reason;
    assert!(
        reason.contains("too few invocations") && reason.contains("50 more needed"),
        "{reason}"
    );
}

#[test]
fn missing_or_partial_metrics_hold() {
    for (down, partial) in [(true, false), (false, true)] {
        let mut world = World::new(policy(r#"{"bake":"1m"}"#));
        world.metrics_down = down;
        world.partial = partial;
        world.command(Manual::Start {
            version: None,
            force: false,
        });
        let trace = world.run_until(30, |_| false);
        assert!(
            trace.iter().all(|(_, d)| d.outcome == Outcome::Held),
            "{down} {partial}"
        );
        assert_eq!(world.alias.canary.unwrap().weight, w(10.0));
    }
}

#[test]
fn failure_threshold_counts_failed_checks_before_rolling_back() {
    let mut world = World::new(policy(r#"{"failure_threshold":3}"#));
    world.green_error_pct = 10.0;
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    let trace = world.run_until(20, |d| d.outcome == Outcome::RolledBack);
    let fails: Vec<&Decision> = trace
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d.verdict.as_ref().is_some_and(|v| v.label() == "fail"))
        .collect();
    assert_eq!(fails.len(), 3);
    assert!(fails[0].reason.contains("(1 of 3)") && fails[0].outcome == Outcome::Held);
    assert!(fails[1].reason.contains("(2 of 3)") && fails[1].outcome == Outcome::Held);
    assert_eq!(fails[2].outcome, Outcome::RolledBack);
}

#[test]
fn an_edited_fail_count_at_its_maximum_still_rolls_back() {
    // GIVEN a rollout whose record was edited to fails=4294967295 (u32::MAX)
    let mut world = World::new(policy(r#"{"failure_threshold":3}"#));
    world.green_error_pct = 10.0;
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    world.alias.description = world
        .alias
        .description
        .replace("fails=0", &format!("fails={}", u32::MAX));
    // WHEN green fails a check
    let trace = world.run_until(20, |d| {
        d.verdict.as_ref().is_some_and(|v| v.label() == "fail")
    });
    // THEN it is rolled back: the count never wraps to 0 and holds instead
    assert_eq!(
        trace.last().unwrap().1.outcome,
        Outcome::RolledBack,
        "{trace:?}"
    );
}

#[test]
fn pause_holds_every_tick_and_resume_restarts_the_bake() {
    let mut world = World::new(Policy::defaults());
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    world.run_until(3, |_| false);
    let d = world.command(Manual::Pause {
        reason: Some("latency alert".into()),
    });
    assert_eq!(d.outcome, Outcome::Paused);
    let paused = world.run_until(60, |_| false);
    assert!(paused
        .iter()
        .all(|(_, d)| d.outcome == Outcome::Held && d.reason.starts_with("paused")));
    assert_eq!(world.alias.canary.unwrap().weight, w(10.0));
    let resumed_at = world.now;
    assert_eq!(world.command(Manual::Resume).outcome, Outcome::Resumed);
    let trace = world.run_until(30, |d| d.outcome == Outcome::Advanced);
    let (t, d) = trace.last().unwrap();
    assert_eq!(d.outcome, Outcome::Advanced);
    assert!(
        t.since(resumed_at) >= Duration::from_secs(300),
        "a full bake after resume"
    );
}

#[test]
fn a_human_moving_the_weight_pauses_as_found() {
    let mut world = World::new(Policy::defaults());
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    world.run_until(2, |_| false);
    // A human drags green to 40% in the console.
    world.alias.canary = Some(Canary {
        version: v(2),
        weight: w(40.0),
    });
    let d = world.tick();
    assert_eq!(d.outcome, Outcome::Paused);
    assert!(
        d.reason
            .contains("recorded 2 at 10% over 1, found 2 at 40% over 1"),
        "{}",
        d.reason
    );
    assert_eq!(
        world.alias.canary.unwrap().weight,
        w(40.0),
        "the human's weight stands"
    );
    let r = world.record().rollout.unwrap();
    assert_eq!((r.phase, r.weight), (Phase::Paused, w(40.0)));
    // Resume continues from there: the next step above 40% is 50%.
    world.command(Manual::Resume);
    let trace = world.run_until(30, |d| d.outcome == Outcome::Advanced);
    assert_eq!(
        trace
            .last()
            .unwrap()
            .1
            .write
            .as_ref()
            .unwrap()
            .canary
            .unwrap()
            .weight,
        w(50.0)
    );
}

#[test]
fn a_human_promoting_or_rolling_back_closes_the_rollout() {
    let mut world = World::new(Policy::defaults());
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    world.alias.canary = None; // routing cleared by hand
    let d = world.tick();
    assert_eq!(d.outcome, Outcome::Idle);
    assert_eq!(world.record().rolled_back, Some(v(2)));
    assert_eq!(world.record().rollout, None);

    let mut world = World::new(Policy::defaults());
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    world.alias.canary = None;
    world.alias.stable = v(2); // promoted by hand
    let d = world.tick();
    assert_eq!(d.outcome, Outcome::Idle);
    assert!(d.reason.contains("promoted outside"), "{}", d.reason);
    assert_eq!(world.record().rolled_back, None);
}

#[test]
fn every_preset_runs_its_codedeploy_step_sequence() {
    for name in PRESETS {
        let p = policy(&format!(
            r#"{{"preset":"{name}","min_invocations":10,"metric_lag":"1m"}}"#
        ));
        let mut world = World::new(p.clone());
        // Enough traffic that evidence comes within the bake: timing is tested here.
        world.rpm = 20_000;
        let d = world.command(Manual::Start {
            version: None,
            force: false,
        });
        if name == "AllAtOnce" {
            assert_eq!(d.outcome, Outcome::Promoted, "AllAtOnce promotes at start");
            assert_eq!(world.alias.stable, v(2));
            continue;
        }
        let start = world.now;
        let trace = world.run_until(1000, |d| d.outcome == Outcome::Promoted);
        let got: Vec<Weight> = std::iter::once(w(10.0))
            .chain(weights_of(&trace).iter().filter_map(|(_, w)| *w))
            .chain(std::iter::once(Weight::FULL))
            .collect();
        assert_eq!(got, p.steps, "{name}");
        // With 1-minute ticks each step takes its bake, plus a minute when the
        // bake is shorter than the metric lag.
        let steps = p.steps.len() as u64 - 1;
        let took = world.now.since(start);
        assert!(took >= p.bake * steps as u32, "{name}: {took:?}");
        assert!(
            took <= (p.bake + Duration::from_secs(60)) * steps as u32,
            "{name}: {took:?}"
        );
    }
}

#[test]
fn commands_refuse_with_a_reason_and_write_nothing() {
    let world = World::new(Policy::defaults());
    let refuse = |m: Manual, alias: &AliasState, vs: &[PublishedVersion]| {
        command(&m, alias, &world.policy, world.now, vs)
            .unwrap_err()
            .0
    };
    assert!(refuse(
        Manual::Start {
            version: Some(v(1)),
            force: false
        },
        &world.alias,
        &versions(3)
    )
    .contains("already the stable"));
    assert!(refuse(
        Manual::Start {
            version: Some(v(9)),
            force: false
        },
        &world.alias,
        &versions(3)
    )
    .contains("does not exist"));
    assert!(refuse(
        Manual::Start {
            version: None,
            force: false
        },
        &world.alias,
        &versions(1)
    )
    .contains("no published version is newer"));
    let mut other_role = versions(2);
    other_role[1].role = "arn:aws:iam::1:role/other".into();
    assert!(refuse(
        Manual::Start {
            version: None,
            force: false
        },
        &world.alias,
        &other_role
    )
    .contains("different execution roles"));
    let mut dlq = versions(2);
    dlq[1].dead_letter_target = Some("arn:aws:sqs:us-east-1:1:dlq".into());
    assert!(refuse(
        Manual::Start {
            version: None,
            force: false
        },
        &world.alias,
        &dlq
    )
    .contains("dead-letter"));

    // A rollout in progress: another version is refused, the same one is a no-op.
    let mut world = World::new(Policy::defaults());
    world.command(Manual::Start {
        version: Some(v(2)),
        force: false,
    });
    assert!(refuse(
        Manual::Start {
            version: Some(v(3)),
            force: false
        },
        &world.alias,
        &versions(3)
    )
    .contains("in progress"));
    let d = command(
        &Manual::Start {
            version: Some(v(2)),
            force: false,
        },
        &world.alias,
        &world.policy,
        world.now,
        &versions(3),
    )
    .unwrap();
    assert_eq!((d.outcome, d.write), (Outcome::Held, None));

    // A tampered record: ticks and pause refuse, rollback clears it.
    let mut alias = world.alias.clone();
    alias.description = alias.description.replace("w=10", "w=ten");
    let e = plan(&world.target, &alias, &world.policy, world.now).unwrap_err();
    assert!(e.0.contains("w=ten") && e.0.contains("rollback"), "{e}");
    assert!(refuse(Manual::Pause { reason: None }, &alias, &[]).contains("unreadable"));
    let d = command(
        &Manual::Rollback { reason: None },
        &alias,
        &world.policy,
        world.now,
        &[],
    )
    .unwrap();
    assert_eq!(d.outcome, Outcome::RolledBack);
    let after = d.write.unwrap();
    assert_eq!(after.canary, None);
    assert!(
        after
            .description
            .starts_with("owned by team hello [lambda-rollout/1 idle rb=2]"),
        "{}",
        after.description
    );
}

#[test]
fn a_step_that_lasts_for_days_reads_only_its_last_day() {
    let mut world = World::new(Policy::defaults());
    world.rpm = 0;
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    world.now = world.now.plus(Duration::from_secs(3 * 24 * 3600));
    let step = plan(&world.target, &world.alias, &world.policy, world.now).unwrap();
    let Plan::NeedMetrics(AwaitMetrics { request: req, .. }) = step else {
        panic!("expected a metrics request")
    };
    assert_eq!(req.end.since(req.start), Duration::from_secs(24 * 3600));
    assert_eq!(
        req.end,
        world.now.minus(world.policy.metric_lag).floor_minute()
    );
}

#[test]
fn auto_start_rolls_out_each_new_version_once() {
    // GIVEN auto_start and version 2 published
    let mut world = World::new(policy(r#"{"auto_start":true,"bake":"2m"}"#));
    // WHEN ticks come, with nothing started by hand
    let d = world.tick();
    // THEN the tick starts version 2, and it is promoted in time
    assert_eq!(d.outcome, Outcome::Started, "{}", d.reason);
    assert!(
        d.reason.starts_with("auto_start: rollout of version 2"),
        "{}",
        d.reason
    );
    world.run_until(100, |d| d.outcome == Outcome::Promoted);
    assert_eq!(world.alias.stable, v(2));
    let d = world.tick();
    assert_eq!(d.outcome, Outcome::Idle);
    assert!(
        d.reason.contains("no published version is newer"),
        "{}",
        d.reason
    );

    // A broken version 3 is rolled back and never auto-started again ...
    world.published = 3;
    world.green_error_pct = 20.0;
    assert_eq!(world.tick().outcome, Outcome::Started);
    world.run_until(20, |d| d.outcome == Outcome::RolledBack);
    assert_eq!(world.alias.stable, v(2));
    for _ in 0..10 {
        let d = world.tick();
        assert_eq!(d.outcome, Outcome::Idle);
        assert!(d.reason.contains("rolled back before"), "{}", d.reason);
    }
    // ... until a fixed version 4 is published.
    world.published = 4;
    world.green_error_pct = 0.0;
    let d = world.tick();
    assert_eq!(d.outcome, Outcome::Started);
    assert_eq!(world.alias.canary.unwrap().version, v(4));
}

#[test]
fn a_slower_canary_is_rolled_back_on_latency() {
    // GIVEN green twice as slow as blue at p99, with no more errors
    let mut world = World::new(Policy::defaults());
    world.green_ms = 240.0;
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    // WHEN the ticks come
    let trace = world.run_until(20, |d| d.outcome != Outcome::Held);
    // THEN it is rolled back on latency, with both versions' figures
    let (_, d) = trace.last().unwrap();
    assert_eq!(d.outcome, Outcome::RolledBack, "{trace:?}");
    assert!(d.reason.contains("latency check failed"), "{}", d.reason);
    assert!(d.reason.contains("p99 2.00x blue's"), "{}", d.reason);
    assert!(
        d.reason.contains("p99 240 ms") && d.reason.contains("p99 120 ms"),
        "{}",
        d.reason
    );
}

#[test]
fn an_alarm_in_alarm_rolls_back_even_before_the_first_minute() {
    // GIVEN a policy gated on an alarm, which fires right after the start
    let mut world = World::new(policy(r#"{"alarms":["hello-5xx"]}"#));
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    world.alarm = AlarmState::Alarm;
    // WHEN the first tick comes, before any complete minute of metrics
    let d = world.tick();
    // THEN it rolls back on the alarm
    assert_eq!(d.outcome, Outcome::RolledBack, "{}", d.reason);
    assert!(
        d.reason.contains("alarm check failed") && d.reason.contains("\"hello-5xx\" is in ALARM"),
        "{}",
        d.reason
    );
}

#[test]
fn an_alarm_without_data_holds_and_never_passes() {
    let mut world = World::new(policy(r#"{"alarms":["hello-5xx"],"bake":"1m"}"#));
    world.alarm = AlarmState::InsufficientData;
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    let trace = world.run_until(30, |_| false);
    assert!(trace.iter().all(|(_, d)| d.outcome == Outcome::Held));
    assert!(trace.last().unwrap().1.reason.contains("INSUFFICIENT_DATA"));
    // The alarm settles: the rollout goes on.
    world.alarm = AlarmState::Ok;
    let trace = world.run_until(30, |d| d.outcome == Outcome::Advanced);
    assert_eq!(trace.last().unwrap().1.outcome, Outcome::Advanced);
}

/// One minute of traffic as CloudWatch would keep it: green's and blue's
/// invocations, errors and latency.
#[derive(Clone, Copy)]
struct Minute {
    at: i64,
    green: (u64, u64, f64),
    blue: (u64, u64, f64),
}

/// A version's figures over `[start, end)` of the kept minutes, latency
/// weighted by invocations as the CloudWatch adapter weighs it.
fn summed(history: &[Minute], green: bool, start: UtcTime, end: UtcTime) -> VersionFigures {
    let mut f = VersionFigures::default();
    let (mut lat, mut weight) = (0.0, 0.0);
    for m in history
        .iter()
        .filter(|m| m.at >= start.unix() && m.at < end.unix())
    {
        let (n, e, l) = if green { m.green } else { m.blue };
        f.invocations += n;
        f.errors += e;
        if n > 0 {
            lat += l * n as f64;
            weight += n as f64;
        }
    }
    f.latency_ms = (weight > 0.0).then(|| lat / weight);
    f
}

/// Ticks `alias` once at `now` against `history`: the decision, and the
/// minutes its request read (from the first minute any window reads to the
/// last).
fn tick_on(
    alias: &AliasState,
    p: &Policy,
    now: UtcTime,
    history: &[Minute],
) -> (Decision, Option<Duration>) {
    let target = lambda_rollout::model::Target::new("hello", "live").unwrap();
    match plan(&target, alias, p, now).unwrap() {
        Plan::Decided(d) => (d, None),
        Plan::NeedVersions(a) => (a.decide(&versions(3)), None),
        Plan::NeedMetrics(a) => {
            let req = a.request.clone();
            let obs = lambda_rollout::memory::observation(&req, AlarmState::Ok, |v, s, e| {
                summed(history, v == req.green, s, e)
            });
            let (from, to) = req.span();
            let d = a.decide(lambda_rollout::engine::MetricsAnswer::Fetched(&obs));
            (d, Some(to.since(from)))
        }
    }
}

#[test]
fn a_long_hold_reads_only_what_its_tally_has_not_and_judges_as_if_it_read_it_all() {
    // GIVEN a rollout whose steps wait hours for min_invocations (green sees
    // 6 requests a minute at 10%, 12 at 20%), and
    // its twin whose tally is struck from the record before every tick, so
    // that it reads every window whole
    let p = policy(r#"{"steps":[10,20,100],"bake":"5m","min_invocations":1200,"error_floor":1}"#);
    let mut world = World::new(p.clone());
    world.command(Manual::Start {
        version: None,
        force: false,
    });
    let (mut tallied, mut whole) = (world.alias.clone(), world.alias.clone());
    let strike = |a: &AliasState| {
        let mut d = Description::parse(&a.description).unwrap();
        d.record = d.record.untallied();
        AliasState {
            description: d.render(),
            ..a.clone()
        }
    };
    // The rollout's counts (its latency is not judged).
    let counted = |s: lambda_rollout::engine::Span| {
        let f = |v: VersionFigures| (v.invocations, v.errors);
        (s.start, f(s.green), f(s.blue))
    };
    let mut history: Vec<Minute> = Vec::new();
    let (mut held, mut writes) = (0, 0);
    let (mut longest_read, mut outcomes) = (Duration::ZERO, Vec::new());
    // WHEN both are ticked every minute for ten hours
    for minute in 0..600i64 {
        // The minute that just passed, at the weight the alias gave green.
        let share = tallied.canary.map(|c| c.weight.fraction()).unwrap_or(0.0);
        let green = (60.0 * share).round() as u64;
        history.push(Minute {
            at: world.now.unix(),
            green: (
                green,
                u64::from(minute % 97 == 0),
                100.0 + (minute % 5) as f64,
            ),
            blue: (
                60 - green,
                u64::from(minute % 13 == 0),
                98.0 + (minute % 3) as f64,
            ),
        });
        world.now = world.now.plus(Duration::from_secs(60));
        let (a, read) = tick_on(&tallied, &p, world.now, &history);
        let (b, _) = tick_on(&strike(&whole), &p, world.now, &history);
        // THEN every tick decides as the one that read everything, on the
        // same figures
        assert_eq!(
            a.outcome, b.outcome,
            "minute {minute}: {} / {}",
            a.reason, b.reason
        );
        let (oa, ob) = (a.observation.as_deref(), b.observation.as_deref());
        if let (Some(oa), Some(ob)) = (oa, ob) {
            assert_eq!(
                (
                    oa.green.invocations,
                    oa.green.errors,
                    oa.blue.invocations,
                    oa.blue.errors
                ),
                (
                    ob.green.invocations,
                    ob.green.errors,
                    ob.blue.invocations,
                    ob.blue.errors
                ),
                "minute {minute}"
            );
            assert_eq!(
                oa.rollout.map(counted),
                ob.rollout.map(counted),
                "minute {minute}"
            );
            assert_eq!(
                oa.fresh.map(|f| (f.green.invocations, f.blue.invocations)),
                ob.fresh.map(|f| (f.green.invocations, f.blue.invocations)),
                "minute {minute}"
            );
            let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() < 0.06,
                (x, y) => x == y,
            };
            assert!(
                close(oa.green.latency_ms, ob.green.latency_ms),
                "minute {minute}: {oa:?} {ob:?}"
            );
            assert!(
                close(oa.blue.latency_ms, ob.blue.latency_ms),
                "minute {minute}"
            );
        }
        if a.outcome == Outcome::Held {
            held += 1;
            writes += usize::from(a.write.is_some());
        }
        if minute >= 60 {
            longest_read = longest_read.max(read.unwrap_or_default());
        }
        outcomes.push(a.outcome);
        if let Some(w) = &a.write {
            tallied = w.clone();
        }
        if let Some(w) = &b.write {
            whole = w.clone();
        }
        assert_eq!(tallied.canary, whole.canary, "minute {minute}");
    }
    // AND after the first hour no tick read more than the tally's interval
    // and metric_lag, while the steps held for hours
    let lag = p.metric_lag;
    let bound = lambda_rollout::engine::tally::TALLY_EVERY + lag + Duration::from_secs(60);
    assert!(longest_read <= bound, "{longest_read:?} > {bound:?}");
    // AND the second step took over the first's counts and passed on them
    let course: Vec<Outcome> = outcomes
        .iter()
        .copied()
        .filter(|o| *o != Outcome::Held && *o != Outcome::Idle)
        .collect();
    assert_eq!(course, [Outcome::Advanced, Outcome::Promoted]);
    // AND a hold wrote a tally about once every half hour of it
    assert!(held > 300, "{held}");
    let target = lambda_rollout::model::Target::new("hello", "live").unwrap();
    let every = lambda_rollout::engine::tally::interval(&target).as_secs() as usize / 60;
    assert!(
        (held / (every + 3)..=held / every).contains(&writes),
        "{writes} tally writes in {held} minutes held, one due every {every} minutes"
    );
}
