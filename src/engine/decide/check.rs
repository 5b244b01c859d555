//! Pre- and post-traffic checks. `start` begins the pre-traffic check before
//! green has any weight; the last step's pass begins the post-traffic check
//! before the promotion. Either is recorded as `checking` and handed to the
//! executor as a `CheckDue`; it runs in an invocation of its own (the tick
//! stays bounded), whose answer `answered` turns into the decision. A tick
//! that finds a check older than its timeout fails it (`tick`): a lost answer
//! never blocks a rollout longer than the timeout the user gave.

use std::time::Duration;

use serde_json::{json, Value};

use super::watch;
use super::{alias_after, back_to_blue, Decision, Outcome};
use crate::engine::state::{AliasState, Canary, Check, Description, Phase, Record, Rollout};
use crate::engine::step::{first_step, Next};
use crate::model::{clipped, format_duration, Target, UtcTime, Version, Weight};
use crate::policy::{CheckPolicy, CheckRun, OnFailure, Policy, DEFAULT_CHECK_TIMEOUT};

/// How long after a check's timeout a tick waits for the check's own
/// invocation to record its answer before failing it.
pub const ANSWER_GRACE: Duration = Duration::from_secs(60);

/// A check the executor must have run, identified by what the record says:
/// the answer of a check that is no longer pending is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckDue {
    pub check: Check,
    pub green: Version,
    pub blue: Version,
    /// When it began: also its identity.
    pub since: UtcTime,
}

/// One invocation's answer, as the invoke port returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    /// Lambda's `FunctionError` ("Unhandled"), with the payload its message.
    pub function_error: Option<String>,
    pub payload: String,
}

/// What the check's invocations came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckAnswer {
    Passed(String),
    Failed(String),
}

/// What to invoke for a check: the hook with its event, or green's version
/// `times` times with the user's payload.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckToRun {
    pub function: String,
    pub qualifier: Option<String>,
    pub payload: Value,
    pub times: u32,
    pub deadline: UtcTime,
    /// A hook (it must answer a status), not green itself.
    pub hook: bool,
    /// "hook smoke-test" or "3 invokes of version 7", for reasons.
    pub what: String,
}

/// "hook smoke-test" or "3 invokes of version 7", for reasons.
pub(super) fn describe(run: &CheckRun, green: Version) -> String {
    match run {
        CheckRun::Hook { function } => format!("hook {function}"),
        CheckRun::Invoke { times, .. } => format!(
            "{times} invoke{} of version {green}",
            if *times == 1 { "" } else { "s" }
        ),
    }
}

fn policy_of(policy: &Policy, check: Check) -> Option<&CheckPolicy> {
    match check {
        Check::PreTraffic => policy.pre_traffic.as_ref(),
        Check::PostTraffic => policy.post_traffic.as_ref(),
    }
}

fn timeout_of(policy: &Policy, check: Check) -> Duration {
    policy_of(policy, check).map_or(DEFAULT_CHECK_TIMEOUT, |c| c.timeout)
}

/// The record of a check beginning now over rollout `r` (its green, blue,
/// start and weight), and what the executor must run.
pub(super) fn begin(r: Rollout, check: Check, now: UtcTime) -> (Rollout, CheckDue) {
    let weight = match check {
        Check::PreTraffic => Weight::ZERO,
        Check::PostTraffic => r.weight,
    };
    let checking = Rollout {
        phase: Phase::Checking(check),
        weight,
        since: now,
        fails: 0,
        tally: None,
        ..r
    };
    let due = CheckDue {
        check,
        green: r.green,
        blue: r.blue,
        since: now,
    };
    (checking, due)
}

/// The check the record holds, if it is still `due`.
fn pending(alias: &AliasState, due: &CheckDue) -> Option<(Description, Rollout)> {
    let desc = Description::parse(&alias.description).ok()?;
    let r = desc.record.rollout?;
    (r.phase == Phase::Checking(due.check)
        && r.green == due.green
        && r.blue == due.blue
        && r.since == due.since)
        .then_some((desc, r))
}

fn gone(due: &CheckDue) -> Decision {
    Decision::new(
        Outcome::Idle,
        format!(
            "the {} of version {} begun at {} is no longer pending (the rollout moved on): \
             nothing run, nothing written",
            due.check, due.green, due.since
        ),
    )
}

/// What the check's own invocation must run, or why nothing (the record no
/// longer holds it, or the policy no longer sets it).
pub fn to_run(
    target: &Target,
    alias: &AliasState,
    policy: &Policy,
    due: &CheckDue,
) -> Result<CheckToRun, Box<Decision>> {
    if pending(alias, due).is_none() {
        return Err(Box::new(gone(due)));
    }
    let Some(c) = policy_of(policy, due.check) else {
        return Err(Box::new(Decision::new(
            Outcome::Held,
            format!(
                "the policy no longer sets {}: nothing run; the {} of version {} times out at {}",
                due.check.field(),
                due.check,
                due.green,
                due.since.plus(DEFAULT_CHECK_TIMEOUT)
            ),
        )));
    };
    let deadline = due.since.plus(c.timeout);
    Ok(match &c.run {
        CheckRun::Hook { function } => {
            let (name, qualifier) = match function.split_once(':') {
                Some((n, q)) => (n.to_string(), Some(q.to_string())),
                None => (function.clone(), None),
            };
            CheckToRun {
                what: describe(&c.run, due.green),
                function: name,
                qualifier,
                payload: json!({
                    "check": due.check.field(),
                    "function": target.function,
                    "alias": target.alias,
                    "green": due.green.to_string(),
                    "blue": due.blue.to_string(),
                    "green_function": format!("{}:{}", target.function, due.green),
                    "deadline": deadline.to_string(),
                }),
                times: 1,
                deadline,
                hook: true,
            }
        }
        CheckRun::Invoke { payload, times } => CheckToRun {
            what: describe(&c.run, due.green),
            function: target.function.clone(),
            qualifier: Some(due.green.to_string()),
            payload: payload.clone(),
            times: *times,
            deadline,
            hook: false,
        },
    })
}

/// One invocation's answer judged: a function error, `{"status": "Failed"}`,
/// and (green invoked directly) a `statusCode` of 500 or more fail; a hook
/// must answer `{"status": "Succeeded"}` to pass.
pub fn judge_answer(run: &CheckToRun, answer: &Invoked) -> Result<(), String> {
    let quoted = clipped(answer.payload.trim().to_string(), 200);
    if let Some(kind) = &answer.function_error {
        return Err(format!("a function error ({kind}): {quoted}"));
    }
    let v: Value = serde_json::from_str(&answer.payload).unwrap_or(Value::Null);
    let status = v.get("status").and_then(Value::as_str);
    if status == Some("Failed") {
        return Err(format!("the answer {quoted}"));
    }
    if run.hook {
        return match status {
            Some("Succeeded") => Ok(()),
            _ => Err(format!(
                "the answer {quoted}, which is not {{\"status\": \"Succeeded\"}} or {{\"status\": \"Failed\"}}"
            )),
        };
    }
    match v.get("statusCode").and_then(Value::as_u64) {
        Some(code) if code >= 500 => Err(format!("status code {code}: {quoted}")),
        _ => Ok(()),
    }
}

/// The decision on a check's answer, made on the alias as it is now.
pub fn answered(
    alias: &AliasState,
    policy: &Policy,
    due: &CheckDue,
    answer: &CheckAnswer,
    now: UtcTime,
) -> Decision {
    let Some((desc, r)) = pending(alias, due) else {
        return gone(due);
    };
    match answer {
        CheckAnswer::Passed(why) => passed(&desc, r, due.check, policy, now, why),
        CheckAnswer::Failed(why) => failed(alias, &desc, r, due.check, policy, why),
    }
}

/// A tick's look at a check in flight: hold, or fail it once its timeout (and
/// the grace its own invocation has to record an answer) has passed.
pub(super) fn tick(
    alias: &AliasState,
    desc: &Description,
    r: Rollout,
    check: Check,
    policy: &Policy,
    now: UtcTime,
) -> Decision {
    let timeout = timeout_of(policy, check);
    let deadline = r.since.plus(timeout);
    if now >= deadline.plus(ANSWER_GRACE) {
        let why = format!(
            "no answer within its timeout of {} (begun at {}): the check's own invocation did \
             not record one",
            format_duration(timeout),
            r.since
        );
        return failed(alias, desc, r, check, policy, &why);
    }
    Decision::new(
        Outcome::Held,
        format!(
            "the {check} of version {} runs since {} (times out at {deadline}): holding until it \
             answers",
            r.green, r.since
        ),
    )
}

fn passed(
    desc: &Description,
    r: Rollout,
    check: Check,
    policy: &Policy,
    now: UtcTime,
    why: &str,
) -> Decision {
    let passed = format!("the {check} of version {} passed ({why})", r.green);
    let user = &desc.user_text;
    match (check, first_step(&policy.steps)) {
        (Check::PreTraffic, Next::Weight(w)) => {
            let after = Record {
                rollout: Some(Rollout {
                    phase: Phase::Rolling,
                    weight: w,
                    since: now,
                    fails: 0,
                    tally: None,
                    ..r
                }),
                ..desc.record
            };
            let canary = Canary {
                version: r.green,
                weight: w,
            };
            Decision::new(
                Outcome::CheckPassed,
                format!(
                    "{passed}: first step {w} over {}, bake {}",
                    r.blue,
                    format_duration(policy.bake)
                ),
            )
            .writing(alias_after(r.blue, Some(canary), user, after))
        }
        // An all-at-once policy checked before: green takes all at once.
        (Check::PreTraffic, Next::Promote) | (Check::PostTraffic, _) => {
            let (record, note) = watch::after_promotion(&r, desc.record, policy, now);
            Decision::new(
                Outcome::Promoted,
                format!(
                    "{passed}: version {} takes all traffic, replacing {}{note}",
                    r.green, r.blue
                ),
            )
            .writing(alias_after(r.green, None, user, record))
        }
    }
}

fn failed(
    alias: &AliasState,
    desc: &Description,
    r: Rollout,
    check: Check,
    policy: &Policy,
    why: &str,
) -> Decision {
    let failed = format!("the {check} of version {} failed: {why}", r.green);
    let user = &desc.user_text;
    if check == Check::PostTraffic && policy.on_failure == OnFailure::Pause {
        let after = Record {
            rollout: Some(Rollout {
                phase: Phase::Paused,
                fails: policy.failure_threshold,
                ..r
            }),
            ..desc.record
        };
        return Decision::new(
            Outcome::Paused,
            format!(
                "{failed}; paused at {} as on_failure says: promote, rollback, or resume to \
                 judge it again",
                r.weight
            ),
        )
        .writing(alias_after(alias.stable, alias.canary, user, after));
    }
    let tail = match check {
        Check::PreTraffic => format!("rolled back: version {} never had traffic", r.green),
        Check::PostTraffic => format!(
            "rolled back from {}: all traffic back to {}",
            r.weight, r.blue
        ),
    };
    back_to_blue(Outcome::RolledBack, user, &r, format!("{failed}; {tail}"))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::engine::decide::manual::{command, Manual};

    fn target() -> Target {
        Target::new("hello", "live").unwrap()
    }

    /// Version 2 started under `p` at t0: the alias, and the check due.
    fn started(p: &Policy) -> (AliasState, CheckDue) {
        let d = command(
            &Manual::Start {
                version: Some(v(2)),
                force: false,
            },
            &idle(),
            p,
            t0(),
            &versions(),
        )
        .unwrap();
        (d.write.unwrap(), d.run.expect("a check is due"))
    }

    fn answered_as(p: &Policy, answer: CheckAnswer) -> Decision {
        let (alias, due) = started(p);
        answered(&alias, p, &due, &answer, t0().plus(Duration::from_secs(30)))
    }

    #[test]
    fn a_started_rollout_with_a_pre_traffic_check_gives_green_nothing_until_it_passes() {
        let p = policy(r#"{"steps":[10,100],"pre_traffic":{"function":"smoke"}}"#);
        let (alias, due) = started(&p);
        assert_eq!((alias.stable, alias.canary), (v(1), None));
        assert_eq!(due.check, Check::PreTraffic);
        let run = to_run(&target(), &alias, &p, &due).unwrap();
        assert_eq!(
            (run.function.as_str(), run.qualifier.as_deref()),
            ("smoke", None)
        );
        assert_eq!(run.payload["green"], "2");
        assert_eq!(run.payload["blue"], "1");
        assert_eq!(run.payload["green_function"], "hello:2");
        assert_eq!(run.deadline, t0().plus(DEFAULT_CHECK_TIMEOUT));

        let d = answered_as(&p, CheckAnswer::Passed("ok".into()));
        assert_eq!(d.outcome, Outcome::CheckPassed, "{}", d.reason);
        assert_eq!(d.write.unwrap().canary.unwrap().weight, w(10.0));

        let d = answered_as(
            &p,
            CheckAnswer::Failed("hook smoke: the answer {\"status\": \"Failed\"}".into()),
        );
        assert_eq!(d.outcome, Outcome::RolledBack);
        assert!(d.reason.contains("never had traffic"), "{}", d.reason);
        let after = d.write.unwrap();
        assert_eq!((after.stable, after.canary), (v(1), None));
        assert!(after.description.contains("rb=2"));
    }

    #[test]
    fn green_invoked_directly_is_called_by_its_version() {
        let p = policy(r#"{"pre_traffic":{"invoke":{"path":"/health"},"times":3,"timeout":"1m"}}"#);
        let (alias, due) = started(&p);
        let run = to_run(&target(), &alias, &p, &due).unwrap();
        assert_eq!(
            (run.function.as_str(), run.qualifier.as_deref(), run.times),
            ("hello", Some("2"), 3)
        );
        assert_eq!(run.payload, serde_json::json!({"path": "/health"}));
    }

    #[test]
    fn answers_judged_table() {
        let hook = CheckToRun {
            function: "smoke".into(),
            qualifier: None,
            payload: Value::Null,
            times: 1,
            deadline: t0(),
            hook: true,
            what: "hook smoke".into(),
        };
        let green = CheckToRun {
            hook: false,
            ..hook.clone()
        };
        let ok = |payload: &str| Invoked {
            function_error: None,
            payload: payload.into(),
        };
        let cases = [
            (&hook, ok(r#"{"status":"Succeeded"}"#), None),
            (
                &hook,
                ok(r#"{"status":"Failed","reason":"db down"}"#),
                Some("db down"),
            ),
            (&hook, ok("null"), Some("not {\"status\": \"Succeeded\"}")),
            (
                &hook,
                ok(r#"{"status":"succeeded"}"#),
                Some("not {\"status\""),
            ),
            (
                &hook,
                Invoked {
                    function_error: Some("Unhandled".into()),
                    payload: r#"{"errorMessage":"boom"}"#.into(),
                },
                Some("a function error (Unhandled): {\"errorMessage\":\"boom\"}"),
            ),
            (&green, ok(r#"{"statusCode":200,"body":"hi"}"#), None),
            (&green, ok("\"anything\""), None),
            (&green, ok(r#"{"statusCode":503}"#), Some("status code 503")),
            (&green, ok(r#"{"status":"Failed"}"#), Some("the answer")),
        ];
        for (run, answer, want) in cases {
            let got = judge_answer(run, &answer);
            match (got, want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{answer:?}: {e}"),
                (got, want) => panic!("{answer:?}: {got:?}, wanted {want:?}"),
            }
        }
        let long = ok(&format!(
            r#"{{"status":"Failed","reason":"{}"}}"#,
            "x".repeat(5000)
        ));
        assert!(judge_answer(&hook, &long).unwrap_err().chars().count() < 300);
    }

    #[test]
    fn a_post_traffic_check_comes_between_the_last_step_and_the_promotion() {
        let p = policy(
            r#"{"steps":[50,100],"post_traffic":{"function":"smoke"},"on_failure":"pause","watch_after_promote":"10m"}"#,
        );
        let rolling = rolling_alias(50.0, Phase::Rolling, t0(), 0);
        let r = Description::parse(&rolling.description)
            .unwrap()
            .record
            .rollout
            .unwrap();
        let (checking, due) = begin(r, Check::PostTraffic, t0());
        let record = Record {
            group: None,
            rollout: Some(checking),
            rolled_back: None,
        };
        let alias = alias_after(v(1), rolling.canary, "team notes", record);
        let later = t0().plus(Duration::from_secs(20));
        let d = answered(&alias, &p, &due, &CheckAnswer::Passed("ok".into()), later);
        assert_eq!(d.outcome, Outcome::Promoted, "{}", d.reason);
        assert!(d.reason.contains("watching it for 10m"), "{}", d.reason);
        assert_eq!(d.write.unwrap().stable, v(2));
        // Failed under on_failure pause: frozen at the last step's weight.
        let d = answered(&alias, &p, &due, &CheckAnswer::Failed("no".into()), later);
        assert_eq!(d.outcome, Outcome::Paused, "{}", d.reason);
        assert_eq!(d.write.unwrap().canary.unwrap().weight, w(50.0));
        // An answer for a check that is no longer the record's is dropped.
        let stale = CheckDue {
            since: t0().minus(Duration::from_secs(60)),
            ..due
        };
        let d = answered(&alias, &p, &stale, &CheckAnswer::Passed("ok".into()), later);
        assert_eq!((d.outcome, d.write), (Outcome::Idle, None));
    }

    #[test]
    fn a_tick_fails_a_check_whose_answer_never_came() {
        let p = policy(r#"{"pre_traffic":{"function":"smoke","timeout":"2m"}}"#);
        let (alias, _) = started(&p);
        let desc = Description::parse(&alias.description).unwrap();
        let r = desc.record.rollout.unwrap();
        let at = |secs: u64| {
            tick(
                &alias,
                &desc,
                r,
                Check::PreTraffic,
                &p,
                t0().plus(Duration::from_secs(secs)),
            )
        };
        let d = at(170);
        assert_eq!(
            (d.outcome, d.write.is_some()),
            (Outcome::Held, false),
            "{}",
            d.reason
        );
        assert!(
            d.reason.contains("times out at 2026-11-27T12:02:00Z"),
            "{}",
            d.reason
        );
        let d = at(180);
        assert_eq!(d.outcome, Outcome::RolledBack, "{}", d.reason);
        assert!(
            d.reason.contains("no answer within its timeout of 2m"),
            "{}",
            d.reason
        );
    }
}
