//! `start`: a rollout of a published version begins at the first step, or
//! adopts a canary set by hand. Shared by the manual command and auto_start.

use super::check;
use super::{alias_after, live_canary, Decision, Outcome, PublishedVersion, Refusal};
use crate::engine::state::{AliasState, Canary, Check, Phase, Record, Rollout};
use crate::engine::step::{first_step, Next};
use crate::model::{format_duration, UtcTime, Version, Weight};
use crate::policy::Policy;

/// What a start reads: the alias as found, its description's parts, the
/// policy, the clock and the function's published versions.
pub(super) struct StartContext<'a> {
    pub alias: &'a AliasState,
    pub user: &'a str,
    pub record: Record,
    pub policy: &'a Policy,
    pub now: UtcTime,
    pub versions: &'a [PublishedVersion],
}

pub(super) fn start(
    cx: &StartContext,
    requested: Option<Version>,
    force: bool,
) -> Result<Decision, Refusal> {
    if let Some(r) = cx.record.rollout {
        return match requested {
            Some(v) if v != r.green => Err(Refusal(format!(
                "a rollout of version {} is in progress at {}: promote or rollback it before \
                 starting version {v}",
                r.green, r.weight
            ))),
            _ => Ok(Decision::new(
                Outcome::Held,
                format!(
                    "a rollout of version {} is already in progress at {} (since {}): nothing to start",
                    r.green, r.weight, r.started
                ),
            )),
        };
    }
    let version = which_version(cx, requested)?;
    let green = eligible(cx, version, force)?;
    begin(cx, green)
}

/// The version asked for; else the canary set by hand; else the newest
/// published version newer than stable.
fn which_version(cx: &StartContext, requested: Option<Version>) -> Result<Version, Refusal> {
    let alias = cx.alias;
    let canary = live_canary(alias);
    if let Some(c) = canary {
        if requested.is_some_and(|v| v != c.version) {
            return Err(Refusal(format!(
                "the alias already routes {} to version {} (set outside lambda-rollout): rollback \
                 it first, or start version {} to adopt it",
                c.weight, c.version, c.version
            )));
        }
    }
    match (requested, canary) {
        (Some(v), _) => Ok(v),
        (None, Some(c)) => Ok(c.version),
        (None, None) => cx
            .versions
            .iter()
            .map(|p| p.version)
            .filter(|v| *v > alias.stable)
            .max()
            .ok_or_else(|| {
                Refusal(format!(
                    "no published version is newer than the stable version {}: publish one \
                     (aws lambda publish-version) or name a version",
                    alias.stable
                ))
            }),
    }
}

/// Refuses what an alias cannot route to, or should not: the stable version,
/// a version that does not exist, one rolled back before (unless forced), one
/// with another role or dead-letter queue than stable.
fn eligible(cx: &StartContext, version: Version, force: bool) -> Result<Version, Refusal> {
    let stable = cx.alias.stable;
    if version == stable {
        return Err(Refusal(format!(
            "version {version} is already the stable version of this alias: nothing to roll out"
        )));
    }
    let Some(green) = cx.versions.iter().find(|p| p.version == version) else {
        let newest = cx.versions.iter().map(|p| p.version).max();
        return Err(Refusal(format!(
            "version {version} does not exist for this function{}: publish it with aws lambda \
             publish-version, or name an existing version",
            newest
                .map(|n| format!(" (newest published: {n})"))
                .unwrap_or_default()
        )));
    };
    if cx.record.rolled_back == Some(version) && !force {
        return Err(Refusal(format!(
            "version {version} was rolled back before: publish a fixed version, or add \
             \"force\": true to roll it out again"
        )));
    }
    let Some(blue) = cx.versions.iter().find(|p| p.version == stable) else {
        return Ok(version);
    };
    if blue.role != green.role {
        return Err(Refusal(format!(
            "versions {stable} and {version} have different execution roles ({} and {}): an alias \
             can only split traffic between versions with the same role; publish {version} \
             with role {}",
            blue.role, green.role, blue.role
        )));
    }
    if blue.dead_letter_target != green.dead_letter_target {
        return Err(Refusal(format!(
            "versions {stable} and {version} have different dead-letter queues ({} and {}): an \
             alias can only split traffic between versions with the same dead-letter config; \
             publish {version} with the dead-letter config of {stable}",
            blue.dead_letter_target.as_deref().unwrap_or("none"),
            green.dead_letter_target.as_deref().unwrap_or("none"),
        )));
    }
    Ok(version)
}

/// Green at the first step (or at the weight of the canary adopted); all at
/// once only when the policy says so.
fn begin(cx: &StartContext, version: Version) -> Result<Decision, Refusal> {
    let (alias, policy) = (cx.alias, cx.policy);
    let canary = live_canary(alias);
    let rolled_back = cx.record.rolled_back.filter(|rb| *rb != version);
    let adopted = canary.filter(|c| c.version == version);
    // A canary set by hand already has traffic: there is no "before" left
    // to check.
    if let (Some(pre), None) = (&policy.pre_traffic, adopted) {
        let r = Rollout {
            phase: Phase::Rolling,
            green: version,
            blue: alias.stable,
            weight: Weight::ZERO,
            since: cx.now,
            started: cx.now,
            fails: 0,
            approved: false,
            tally: None,
        };
        let (checking, due) = check::begin(r, Check::PreTraffic, cx.now);
        let after = Record {
            rollout: Some(checking),
            rolled_back,
            group: None,
        };
        let what = check::describe(&pre.run, version);
        return Ok(Decision::new(
            Outcome::Started,
            format!(
                "rollout of version {version} over {} started: the pre-traffic check runs first \
                 ({what}, timeout {}); version {version} has no traffic until it passes",
                alias.stable,
                format_duration(pre.timeout)
            ),
        )
        .writing(alias_after(alias.stable, None, cx.user, after))
        .running(due));
    }
    let first = match adopted {
        Some(c) => Next::Weight(c.weight),
        None => first_step(&policy.steps),
    };
    match first {
        Next::Weight(w) => {
            let after = Record {
                rollout: Some(Rollout {
                    phase: Phase::Rolling,
                    green: version,
                    blue: alias.stable,
                    weight: w,
                    since: cx.now,
                    started: cx.now,
                    fails: 0,
                    approved: false,
                    tally: None,
                }),
                rolled_back,
                group: None,
            };
            let how = if adopted.is_some() {
                format!("adopted the canary set outside lambda-rollout at {w}")
            } else {
                format!("first step {w}")
            };
            let reason = format!(
                "rollout of version {version} over {} started: {how}, bake {}",
                alias.stable,
                format_duration(policy.bake)
            );
            let canary = Some(Canary { version, weight: w });
            Ok(Decision::new(Outcome::Started, reason).writing(alias_after(
                alias.stable,
                canary,
                cx.user,
                after,
            )))
        }
        // Validation keeps every step above 0%, so only an all-at-once policy
        // gets here; the check stays so no policy can reach a promotion
        // without a verdict by another road.
        Next::Promote if !policy.is_all_at_once() => Err(Refusal(format!(
            "the policy's first step is not a canary (steps {:?}): give a first step above 0% \
             and below 100%, or the AllAtOnce preset to skip the canary on purpose",
            policy.steps.iter().map(|w| w.percent()).collect::<Vec<_>>()
        ))),
        Next::Promote => {
            let after = Record {
                rollout: None,
                rolled_back,
                group: None,
            };
            Ok(Decision::new(
                Outcome::Promoted,
                format!(
                    "the policy's only step is 100% (all at once): version {version} takes all \
                     traffic at once, with no canary, replacing {}",
                    alias.stable
                ),
            )
            .writing(alias_after(version, None, cx.user, after)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn started(alias: &AliasState, p: &Policy, requested: Option<u64>, force: bool) -> String {
        let vs = versions();
        let cx = StartContext {
            alias,
            user: "",
            record: crate::engine::state::Description::parse(&alias.description)
                .unwrap()
                .record,
            policy: p,
            now: t0(),
            versions: &vs,
        };
        match start(&cx, requested.map(v), force) {
            Ok(d) => format!(
                "{} {}",
                d.outcome.label(),
                d.write.map_or(0.0, |a| a.canary_weight().percent())
            ),
            Err(Refusal(why)) => why,
        }
    }

    #[test]
    fn start_table() {
        let p = policy(r#"{"steps":[5,50,100]}"#);
        let mut rolled_back = idle();
        rolled_back.description = "[lambda-rollout/1 idle rb=3]".into();
        let mut by_hand = idle();
        by_hand.canary = Some(Canary {
            version: v(2),
            weight: w(7.0),
        });
        let rolling = rolling_alias(10.0, Phase::Rolling, t0(), 0);
        let cases = [
            ("the newest", idle(), None, false, "started 5"),
            ("a version named", idle(), Some(2), false, "started 5"),
            (
                "the stable one",
                idle(),
                Some(1),
                false,
                "already the stable version",
            ),
            (
                "one not published",
                idle(),
                Some(9),
                false,
                "does not exist for this function (newest published: 3)",
            ),
            (
                "one rolled back",
                rolled_back.clone(),
                Some(3),
                false,
                "was rolled back before",
            ),
            (
                "one rolled back, forced",
                rolled_back,
                Some(3),
                true,
                "started 5",
            ),
            (
                "adopting a canary set by hand",
                by_hand.clone(),
                None,
                false,
                "started 7",
            ),
            (
                "another than the canary set by hand",
                by_hand,
                Some(3),
                false,
                "rollback it first",
            ),
            (
                "the one rolling out",
                rolling.clone(),
                Some(2),
                false,
                "held 0",
            ),
            (
                "another while one rolls out",
                rolling,
                Some(3),
                false,
                "promote or rollback it",
            ),
        ];
        for (name, alias, requested, force, want) in cases {
            let got = started(&alias, &p, requested, force);
            assert!(got.contains(want), "{name}: {got}");
        }
        let all = policy(r#"{"preset":"AllAtOnce"}"#);
        assert_eq!(started(&idle(), &all, Some(2), false), "promoted 0");
    }
}
