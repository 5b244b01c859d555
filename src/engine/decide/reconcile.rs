//! A human changed the alias mid-rollout: lambda-rollout does not fight them.

use super::{alias_after, live_canary, Decision, Outcome};
use crate::engine::state::{AliasState, Phase, Record, Rollout};
use crate::model::UtcTime;

/// Handles an alias changed outside lambda-rollout mid-rollout, the way a careful
/// operator would: a canary that is gone closes the rollout (promoted if green is
/// now stable, otherwise remembered as rolled back); a canary that differs (other
/// weight, version or stable) is adopted as it stands and the rollout paused, so
/// nothing moves again until a human says resume, promote or rollback.
pub(super) fn reconcile(
    alias: &AliasState,
    user_text: &str,
    record: Record,
    r: Rollout,
    now: UtcTime,
) -> Option<Decision> {
    let recorded = format!("{} at {} over {}", r.green, r.weight, r.blue);
    match live_canary(alias) {
        None => {
            let (reason, rolled_back) = if alias.stable == r.green {
                (
                    format!(
                        "version {} was promoted outside lambda-rollout (it takes all traffic): \
                         rollout closed",
                        r.green
                    ),
                    record.rolled_back,
                )
            } else {
                (
                    format!(
                        "the routing to version {} was removed outside lambda-rollout (version {} \
                         takes all traffic): rollout closed and {} remembered as rolled back; \
                         start it with \"force\": true to try again",
                        r.green, alias.stable, r.green
                    ),
                    Some(r.green),
                )
            };
            let after = Record {
                rollout: None,
                rolled_back,
            };
            Some(Decision::new(Outcome::Idle, reason).writing(alias_after(
                alias.stable,
                alias.canary,
                user_text,
                after,
            )))
        }
        Some(c) if c.version == r.green && c.weight == r.weight && alias.stable == r.blue => None,
        Some(c) => {
            let found = format!("{} at {} over {}", c.version, c.weight, alias.stable);
            let started = if c.version == r.green { r.started } else { now };
            let after = Record {
                rollout: Some(Rollout {
                    phase: Phase::Paused,
                    green: c.version,
                    blue: alias.stable,
                    weight: c.weight,
                    since: now,
                    started,
                    fails: 0,
                }),
                ..record
            };
            Some(
                Decision::new(
                    Outcome::Paused,
                    format!(
                        "the alias was changed outside lambda-rollout (recorded {recorded}, found \
                         {found}): paused as found; resume to continue from {}, or promote / \
                         rollback",
                        c.weight
                    ),
                )
                .writing(alias_after(alias.stable, alias.canary, user_text, after)),
            )
        }
    }
}
