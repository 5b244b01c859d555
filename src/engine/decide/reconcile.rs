//! A human changed the alias mid-rollout: lambda-rollout does not fight them.

use super::{alias_after, live_canary, Decision, Outcome};
use crate::engine::state::{AliasState, Check, Phase, Record, Rollout};
use crate::model::UtcTime;

/// A watched promotion whose alias a human changed: pointed back at the old
/// stable (a revert by hand, remembered as a rollback) or anywhere else; the
/// watch ends either way and the alias stands as found.
fn watch_changed(alias: &AliasState, user_text: &str, record: Record, r: Rollout) -> Decision {
    let (reason, rolled_back) = if alias.stable == r.blue && live_canary(alias).is_none() {
        (
            format!(
                "version {} was reverted outside lambda-rollout (version {} takes all traffic): \
                 watch closed and {} remembered as rolled back",
                r.green, r.blue, r.green
            ),
            Some(r.green),
        )
    } else {
        (
            format!(
                "the alias was changed outside lambda-rollout during the watch of version {}: \
                 watch closed, the alias stands as found",
                r.green
            ),
            record.rolled_back,
        )
    };
    let after = Record {
        rollout: None,
        rolled_back,
        group: None,
    };
    Decision::new(Outcome::Idle, reason).writing(alias_after(
        alias.stable,
        alias.canary,
        user_text,
        after,
    ))
}

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
    let found = (
        alias.stable,
        live_canary(alias).map(|c| (c.version, c.weight)),
    );
    match r.phase {
        Phase::Watching if found == (r.green, None) => return None,
        Phase::Watching => return Some(watch_changed(alias, user_text, record, r)),
        Phase::Checking(Check::PreTraffic) if found == (r.blue, None) => return None,
        _ => {}
    }
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
                group: None,
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
                    approved: r.approved,
                    tally: None,
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::engine::state::{Canary, Description};

    #[test]
    fn a_humans_edit_table() {
        let now = t0();
        let recorded = rolling_alias(10.0, Phase::Rolling, now, 0);
        let desc = Description::parse(&recorded.description).unwrap();
        let r = desc.record.rollout.unwrap();
        let with = |stable: u64, canary: Option<(u64, f64)>| AliasState {
            stable: v(stable),
            canary: canary.map(|(c, weight)| Canary {
                version: v(c),
                weight: w(weight),
            }),
            ..recorded.clone()
        };
        let cases = [
            ("untouched", with(1, Some((2, 10.0))), None),
            ("weight moved", with(1, Some((2, 30.0))), Some("paused")),
            ("another green", with(1, Some((3, 10.0))), Some("paused")),
            ("routing removed", with(1, None), Some("idle rb")),
            ("green made stable", with(2, None), Some("idle")),
        ];
        for (name, alias, want) in cases {
            let d = reconcile(&alias, "team notes", desc.record, r, now);
            match (d, want) {
                (None, None) => {}
                (Some(d), Some(want)) => {
                    let after = d.write.expect("the record follows the alias");
                    let label = d.outcome.label();
                    let remembered = after.description.contains("rb=2");
                    let got = if remembered {
                        format!("{label} rb")
                    } else {
                        label.to_string()
                    };
                    assert_eq!(got, want, "{name}: {}", d.reason);
                    assert_eq!(
                        (after.stable, after.canary),
                        (alias.stable, alias.canary),
                        "{name}: the routing stands as found"
                    );
                }
                (d, want) => panic!("{name}: {d:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn a_humans_edit_of_a_watched_promotion_or_a_pre_traffic_check() {
        let now = t0();
        let rolling = rolling_alias(10.0, Phase::Rolling, now, 0);
        let base = Description::parse(&rolling.description)
            .unwrap()
            .record
            .rollout
            .unwrap();
        let alias = |stable: u64, canary: Option<(u64, f64)>| AliasState {
            stable: v(stable),
            canary: canary.map(|(c, weight)| Canary {
                version: v(c),
                weight: w(weight),
            }),
            description: String::new(),
        };
        let watching = Rollout {
            phase: Phase::Watching,
            weight: crate::model::Weight::FULL,
            ..base
        };
        let pre = Rollout {
            phase: Phase::Checking(Check::PreTraffic),
            weight: crate::model::Weight::ZERO,
            ..base
        };
        let record = |r: Rollout| Record {
            group: None,
            rollout: Some(r),
            rolled_back: None,
        };
        let cases = [
            ("watched, untouched", watching, alias(2, None), None),
            (
                "watched, reverted by hand",
                watching,
                alias(1, None),
                Some("idle rb"),
            ),
            (
                "watched, canary added",
                watching,
                alias(2, Some((3, 5.0))),
                Some("idle"),
            ),
            ("pre-traffic check, untouched", pre, alias(1, None), None),
            (
                "pre-traffic check, canary by hand",
                pre,
                alias(1, Some((2, 5.0))),
                Some("paused"),
            ),
            (
                "pre-traffic check, promoted by hand",
                pre,
                alias(2, None),
                Some("idle"),
            ),
        ];
        for (name, r, alias, want) in cases {
            let d = reconcile(&alias, "", record(r), r, now);
            let got = d.map(|d| {
                let after = d.write.expect("the record follows the alias");
                assert_eq!(
                    (after.stable, after.canary),
                    (alias.stable, alias.canary),
                    "{name}"
                );
                if after.description.contains("rb=2") {
                    format!("{} rb", d.outcome.label())
                } else {
                    d.outcome.label().to_string()
                }
            });
            assert_eq!(got.as_deref(), want, "{name}");
        }
    }
}
