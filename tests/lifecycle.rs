//! Tick-by-tick scenarios of what wraps the verdict: the approval gate, the
//! watch after promotion and its revert, set_weight, on_failure pause and
//! max_wait. Pure engine: the clock and the traffic are simulated. Each
//! scenario reads GIVEN / WHEN / THEN.

mod world;

use std::time::Duration;

use lambda_rollout::engine::{Manual, Outcome, Phase};
use lambda_rollout::model::UtcTime;
use world::{policy, v, w, weights_of, World};

fn start(world: &mut World) {
    let d = world.command(Manual::Start {
        version: Some(v(2)),
        force: false,
    });
    assert_eq!(d.outcome, Outcome::Started, "{}", d.reason);
}

fn phase(world: &World) -> Option<Phase> {
    world.record().rollout.map(|r| r.phase)
}

#[test]
fn approve_before_holds_the_step_until_an_operator_approves() {
    // GIVEN a gate before 50%
    let mut world = World::new(policy(
        r#"{"steps":[10,50,100],"bake":"5m","error_floor":5,"approve_before":50}"#,
    ));
    start(&mut world);
    // WHEN 10% passes
    let trace = world.run_until(60, |_| false);
    // THEN it waits at 10%, saying so on every tick but writing it once
    let waiting: Vec<_> = trace
        .iter()
        .filter(|(_, d)| d.outcome == Outcome::AwaitingApproval)
        .collect();
    assert!(waiting.len() > 40, "{trace:?}");
    // The record enters the wait once; the wait's later writes only keep a
    // tally (which is not announced: TargetResult::news).
    let untallied = |d: &lambda_rollout::engine::Decision| {
        let a = d.write.as_ref()?;
        let r = lambda_rollout::engine::Description::parse(&a.description)
            .unwrap()
            .record;
        Some((a.stable, a.canary, r.untallied()))
    };
    let writes: Vec<_> = waiting.iter().filter_map(|(_, d)| untallied(d)).collect();
    assert!(!writes.is_empty());
    assert!(
        writes.iter().all(|w| *w == writes[0]),
        "written once: {writes:?}"
    );
    assert!(waiting[1..].iter().all(|(_, d)| d
        .write
        .as_ref()
        .is_none_or(|a| a.description.contains(" t="))));
    let reason = &waiting[0].1.reason;
    assert!(
        reason.contains("awaiting approval before the step to 50%")
            && reason.contains(r#""action": "approve", "function": "hello", "alias": "live""#),
        "{reason}"
    );
    assert_eq!(world.alias.canary.unwrap().weight, w(10.0));
    assert_eq!(phase(&world), Some(Phase::AwaitingApproval));
    // WHEN it is approved
    let d = world.command(Manual::Approve {
        reason: Some("QA signed off".into()),
    });
    assert_eq!(d.outcome, Outcome::Approved, "{}", d.reason);
    assert!(d.reason.contains("QA signed off"));
    assert_eq!(world.alias.canary.unwrap().weight, w(10.0), "no weight yet");
    // THEN the next passing tick advances, and the promotion needs no second approve
    let trace = world.run_until(60, |d| d.outcome == Outcome::Promoted);
    assert_eq!(
        weights_of(&trace),
        vec![
            (Outcome::Advanced, Some(w(50.0))),
            (Outcome::Promoted, None)
        ]
    );
    assert_eq!(
        trace[0].1.outcome,
        Outcome::Advanced,
        "at once after approval"
    );
}

#[test]
fn a_failure_while_awaiting_approval_still_rolls_back_and_commands_still_work() {
    let gated = policy(r#"{"steps":[10,100],"bake":"5m","error_floor":5,"approve_before":100}"#);
    // GIVEN a rollout waiting for approval before its promotion
    let mut world = World::new(gated.clone());
    start(&mut world);
    world.run_until(30, |d| d.outcome == Outcome::AwaitingApproval);
    assert_eq!(phase(&world), Some(Phase::AwaitingApproval));
    // WHEN green starts failing
    world.green_error_pct = 10.0;
    let trace = world.run_until(10, |d| d.outcome != Outcome::AwaitingApproval);
    // THEN it is rolled back all the same
    assert_eq!(trace.last().unwrap().1.outcome, Outcome::RolledBack);
    assert_eq!((world.alias.stable, world.alias.canary), (v(1), None));

    // AND promote and rollback work while it waits
    for (m, outcome, stable) in [
        (Manual::Promote { reason: None }, Outcome::Promoted, v(2)),
        (Manual::Rollback { reason: None }, Outcome::RolledBack, v(1)),
    ] {
        let mut world = World::new(gated.clone());
        start(&mut world);
        world.run_until(30, |d| d.outcome == Outcome::AwaitingApproval);
        assert_eq!(world.command(m).outcome, outcome);
        assert_eq!(world.alias.stable, stable);
    }

    // AND an approve given before the gate lets it through without a stop
    let mut world = World::new(gated);
    start(&mut world);
    assert_eq!(
        world.command(Manual::Approve { reason: None }).outcome,
        Outcome::Approved
    );
    let trace = world.run_until(30, |d| d.outcome == Outcome::Promoted);
    assert!(trace
        .iter()
        .all(|(_, d)| d.outcome != Outcome::AwaitingApproval));
    assert_eq!(trace.last().unwrap().1.outcome, Outcome::Promoted);
}

#[test]
fn a_watched_promotion_that_fails_is_reverted_on_its_own() {
    // GIVEN a policy that watches 15 minutes after promoting
    let mut world = World::new(policy(
        r#"{"steps":[10,100],"bake":"5m","evidence_from":100,"error_floor":5,"watch_after_promote":"15m"}"#,
    ));
    start(&mut world);
    let trace = world.run_until(30, |d| d.outcome == Outcome::Promoted);
    let promoted = &trace.last().unwrap().1;
    assert_eq!(promoted.outcome, Outcome::Promoted, "{trace:?}");
    assert!(
        promoted.reason.contains("watching it for 15m"),
        "{}",
        promoted.reason
    );
    assert_eq!(
        (world.alias.stable, phase(&world)),
        (v(2), Some(Phase::Watching))
    );
    // WHEN the new stable starts failing (what the rollout's small share hid)
    world.run_until(3, |_| false);
    world.green_error_pct = 5.0;
    let trace = world.run_until(20, |d| d.outcome != Outcome::Held);
    // THEN the alias points back at the old stable, and 2 is remembered
    let d = &trace.last().unwrap().1;
    assert_eq!(d.outcome, Outcome::Reverted, "{trace:?}");
    assert!(d.reason.contains("errors check failed"), "{}", d.reason);
    assert_eq!((world.alias.stable, world.alias.canary), (v(1), None));
    assert_eq!(world.record().rolled_back, Some(v(2)));
    assert_eq!(world.record().rollout, None);
}

#[test]
fn a_healthy_watch_ends_and_revert_works_only_within_it() {
    let p = policy(
        r#"{"steps":[10,100],"bake":"5m","evidence_from":100,"error_floor":5,"watch_after_promote":"15m","metric_lag":"2m"}"#,
    );
    // GIVEN a healthy version promoted under a 15-minute watch
    let mut world = World::new(p.clone());
    start(&mut world);
    world.run_until(30, |d| d.outcome == Outcome::Promoted);
    let promoted_at = world.now;
    // WHEN the watch runs its course
    let trace = world.run_until(40, |d| d.outcome != Outcome::Held);
    // THEN it closes once the metrics of all 15 minutes are in
    let (t, d) = trace.last().unwrap();
    assert_eq!(d.outcome, Outcome::WatchPassed, "{trace:?}");
    assert!(t.since(promoted_at) >= Duration::from_secs(17 * 60));
    assert!(trace[..trace.len() - 1]
        .iter()
        .all(|(_, d)| d.reason.starts_with("watching version 2")));
    assert_eq!((world.alias.stable, world.record().rollout), (v(2), None));
    // AND revert has nothing to undo after the watch
    let d = world.command(Manual::Revert { reason: None });
    assert_eq!((d.outcome, d.write), (Outcome::Idle, None));
    assert!(d.reason.contains("no promotion is being watched"));

    // GIVEN another promotion under watch, WHEN reverted by hand within it
    let mut world = World::new(p);
    start(&mut world);
    world.run_until(30, |d| d.outcome == Outcome::Promoted);
    world.run_until(4, |_| false);
    let d = world.command(Manual::Revert {
        reason: Some("support tickets".into()),
    });
    // THEN the old stable takes all traffic and 2 is not started again unforced
    assert_eq!(d.outcome, Outcome::Reverted, "{}", d.reason);
    assert_eq!((world.alias.stable, world.alias.canary), (v(1), None));
    assert_eq!(world.record().rolled_back, Some(v(2)));
    let again = lambda_rollout::engine::command(
        &Manual::Start {
            version: Some(v(2)),
            force: false,
        },
        &world.alias,
        &world.policy,
        world.now,
        &world::versions(2),
    );
    assert!(again.unwrap_err().0.contains("rolled back before"));
}

#[test]
fn an_operators_promote_is_watched_too_and_a_rollback_during_the_watch_reverts() {
    let mut world = World::new(policy(r#"{"watch_after_promote":"10m"}"#));
    start(&mut world);
    world.run_until(2, |_| false);
    let d = world.command(Manual::Promote { reason: None });
    assert_eq!(d.outcome, Outcome::Promoted);
    assert!(d.reason.contains("watching it for 10m"), "{}", d.reason);
    // Pause and set_weight have nothing to act on; rollback undoes the promotion.
    assert_eq!(
        world.command(Manual::Pause { reason: None }).outcome,
        Outcome::Idle
    );
    let d = world.command(Manual::Rollback {
        reason: Some("alarm".into()),
    });
    assert_eq!(d.outcome, Outcome::Reverted, "{}", d.reason);
    assert_eq!(world.alias.stable, v(1));
}

#[test]
fn on_failure_pause_freezes_a_failing_canary_for_a_human() {
    // GIVEN on_failure pause and a green failing 5%
    let mut world = World::new(policy(r#"{"on_failure":"pause"}"#));
    world.green_error_pct = 5.0;
    start(&mut world);
    // WHEN it fails
    let trace = world.run_until(10, |d| d.outcome != Outcome::Held);
    let d = &trace.last().unwrap().1;
    // THEN it is paused at its weight, not rolled back
    assert_eq!(d.outcome, Outcome::Paused, "{trace:?}");
    assert!(d.reason.contains("as on_failure says"), "{}", d.reason);
    assert_eq!(world.alias.canary.unwrap().weight, w(10.0));
    assert_eq!(phase(&world), Some(Phase::Paused));
    // AND it stays there, saying why, whatever the ticks see
    let held = world.run_until(30, |_| false);
    assert!(held.iter().all(|(_, d)| d.outcome == Outcome::Held
        && d.write.is_none()
        && d.reason
            .starts_with("paused after 1 failed check (on_failure pause)")));
    // AND resume judges it again (and pauses again), rollback removes it
    world.command(Manual::Resume);
    let trace = world.run_until(10, |d| d.outcome != Outcome::Held);
    assert_eq!(trace.last().unwrap().1.outcome, Outcome::Paused);
    world.command(Manual::Rollback { reason: None });
    assert_eq!((world.alias.stable, world.alias.canary), (v(1), None));
}

#[test]
fn set_weight_pauses_at_the_weight_and_resume_goes_on_from_there() {
    let mut world = World::new(policy(r#"{"steps":[10,50,100],"bake":"5m"}"#));
    start(&mut world);
    world.run_until(2, |_| false);
    // WHEN an operator holds it at 30%
    let d = world.command(Manual::SetWeight {
        weight: w(30.0),
        reason: Some("hold for the load test".into()),
    });
    // THEN green gets 30%, and the rollout stays there
    assert_eq!(d.outcome, Outcome::WeightSet, "{}", d.reason);
    assert_eq!(world.alias.canary.unwrap().weight, w(30.0));
    let held = world.run_until(20, |_| false);
    assert!(held.iter().all(|(_, d)| d.outcome == Outcome::Held));
    assert_eq!(world.alias.canary.unwrap().weight, w(30.0));
    // AND resume goes on from 30% to the next step above it, after a full bake
    assert_eq!(world.command(Manual::Resume).outcome, Outcome::Resumed);
    let resumed = world.now;
    let trace = world.run_until(30, |d| d.outcome == Outcome::Advanced);
    let (t, d) = trace.last().unwrap();
    assert_eq!(d.write.as_ref().unwrap().canary.unwrap().weight, w(50.0));
    assert!(t.since(resumed) >= Duration::from_secs(300));
    // AND with no rollout there is nothing to set
    let mut idle = World::new(policy("{}"));
    let d = idle.command(Manual::SetWeight {
        weight: w(30.0),
        reason: None,
    });
    assert_eq!((d.outcome, d.write), (Outcome::Idle, None));
}

/// A quiet function: too little traffic for the evidence a promotion needs.
fn quiet(on_timeout: &str) -> World {
    let mut world = World::new(policy(&format!(
        r#"{{"steps":[10,100],"bake":"5m","min_invocations":10,"max_wait":"30m","on_timeout":"{on_timeout}"}}"#
    )));
    world.rpm = 40;
    start(&mut world);
    world
}

#[test]
fn max_wait_holds_rolls_back_or_promotes_as_on_timeout_says() {
    let began = UtcTime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
    let deadline = Duration::from_secs(35 * 60);
    // hold: still waiting, and saying max_wait has passed
    let mut world = quiet("hold");
    let trace = world.run_until(50, |_| false);
    let (t, d) = trace.last().unwrap();
    assert!(t.since(began) > deadline);
    assert_eq!(d.outcome, Outcome::Held);
    assert!(d.reason.contains("max_wait 30m has passed"), "{}", d.reason);
    assert!(
        d.reason.contains("(waiting on policy.detect_ratio)"),
        "{}",
        d.reason
    );
    let before: Vec<_> = trace
        .iter()
        .filter(|(t, _)| t.since(began) < deadline && t.since(began) > Duration::from_secs(360))
        .collect();
    assert!(before.iter().all(|(_, d)| d
        .reason
        .contains("max_wait ends the wait at 2026-11-27T12:35:00Z")));

    // rollback: rolled back at the deadline
    let mut world = quiet("rollback");
    let trace = world.run_until(50, |d| d.outcome != Outcome::Held);
    let (t, d) = trace.last().unwrap();
    assert_eq!(d.outcome, Outcome::RolledBack, "{}", d.reason);
    assert_eq!(t.since(began), deadline);
    assert!(d.reason.contains("as on_timeout says"));

    // promote: promoted at the deadline, and reported as such
    let mut world = quiet("promote");
    let trace = world.run_until(50, |d| d.outcome != Outcome::Held);
    let (t, d) = trace.last().unwrap();
    assert_eq!(d.outcome, Outcome::Promoted, "{}", d.reason);
    assert_eq!(t.since(began), deadline);
    assert!(
        d.reason.starts_with("promoted as on_timeout says"),
        "{}",
        d.reason
    );
    assert_eq!(world.alias.stable, v(2));

    // promote never on missing data: metrics down past the deadline hold
    let mut world = quiet("promote");
    world.metrics_down = true;
    let trace = world.run_until(60, |d| d.outcome != Outcome::Held);
    assert!(trace.iter().all(|(_, d)| d.outcome == Outcome::Held));
    // nor on partial data
    world.metrics_down = false;
    world.partial = true;
    let trace = world.run_until(10, |d| d.outcome != Outcome::Held);
    assert!(trace.iter().all(|(_, d)| d.outcome == Outcome::Held));
    assert!(trace
        .last()
        .unwrap()
        .1
        .reason
        .contains("never promotes on missing or doubtful data"));
}

#[test]
fn a_hold_names_what_it_waits_for_and_estimates_the_promotion() {
    // GIVEN the issue's new user: a 5% ceiling, a clean blue, a quiet function
    let mut world = World::new(policy(
        r#"{"steps":[20,50,100],"bake":"0s","min_invocations":10,"max_error_rate":5,"metric_lag":"0s"}"#,
    ));
    world.rpm = 50;
    world.blue_error_pct = 0.0;
    start(&mut world);
    // WHEN the first step has its invocations but not the evidence
    let trace = world.run_until(5, |_| false);
    let (_, d) = trace.last().unwrap();
    // THEN the hold names error_floor, says why it is stricter than the
    // ceiling the user wrote, and how long it will take at this traffic
    assert_eq!(d.outcome, Outcome::Held);
    for words in [
        "cannot yet rule out an error rate above error_floor 0.10%",
        "stricter than max_error_rate 5.00% on purpose",
        "(waiting on policy.error_floor)",
        "promotion in about",
        "at 50 requests a minute",
    ] {
        assert!(d.reason.contains(words), "{words:?} in {}", d.reason);
    }
    let e = d.estimate.as_ref().expect("an estimate");
    assert!(e.green_requests_needed > 5000, "{e:?}");
    // At 10 green requests a minute, 5,000 and more take over 8 hours.
    assert!(e.promotion_in_minutes.unwrap() > 8 * 60, "{e:?}");
    // AND a user who raises error_floor to the ceiling passes far sooner
    let mut world = World::new(policy(
        r#"{"steps":[20,50,100],"bake":"0s","min_invocations":10,"max_error_rate":5,"error_floor":5,"metric_lag":"0s"}"#,
    ));
    world.rpm = 50;
    world.blue_error_pct = 0.0;
    start(&mut world);
    let trace = world.run_until(120, |d| d.outcome == Outcome::Promoted);
    assert_eq!(
        trace.last().unwrap().1.outcome,
        Outcome::Promoted,
        "{trace:?}"
    );
}
