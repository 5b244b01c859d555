//! The operator's commands, one function each. A new command is a variant of
//! `Manual`, its arm in `command`, and its function here (and its parsing in
//! `command.rs`).

use super::start::{start, StartContext};
use super::watch;
use super::{alias_after, back_to_blue, live_canary, Decision, Outcome, PublishedVersion, Refusal};
use crate::engine::state::{AliasState, Canary, Description, Phase, Record, Rollout};
use crate::model::{format_duration, UtcTime, Version, Weight};
use crate::policy::Policy;

/// Manual commands, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manual {
    Start {
        version: Option<Version>,
        force: bool,
    },
    Promote {
        reason: Option<String>,
    },
    Rollback {
        reason: Option<String>,
    },
    Pause {
        reason: Option<String>,
    },
    Resume,
    /// Lets the rollout past `approve_before`.
    Approve {
        reason: Option<String>,
    },
    /// Undoes a watched promotion: the old stable takes all traffic again.
    Revert {
        reason: Option<String>,
    },
    /// Green at this weight (above 0, below 100), the rollout paused there.
    SetWeight {
        weight: Weight,
        reason: Option<String>,
    },
}

impl Manual {
    /// Whether the command needs the policy. The others must work even when
    /// the configured one is broken: they are given it when it resolves (a
    /// promote then starts its watch), the defaults when it does not.
    pub fn needs_policy(&self) -> bool {
        matches!(self, Manual::Start { .. } | Manual::Resume)
    }

    /// Whether the command needs the function's published versions.
    pub fn needs_versions(&self) -> bool {
        matches!(self, Manual::Start { .. })
    }
}

/// What every command reads, once.
struct Command<'a> {
    alias: &'a AliasState,
    user: &'a str,
    record: Record,
    canary: Option<Canary>,
    /// The description did not parse (promote and rollback clear it).
    damaged: bool,
}

/// A manual command for one target.
pub fn command(
    manual: &Manual,
    alias: &AliasState,
    policy: &Policy,
    now: UtcTime,
    versions: &[PublishedVersion],
) -> Result<Decision, Refusal> {
    // Promote and rollback are the escape hatches: they work even when the
    // description holds an unreadable state, which they then clear.
    let parsed = Description::parse(&alias.description);
    let damaged = parsed.is_err();
    let desc = match (parsed, manual) {
        (Ok(d), _) => d,
        (Err(_), Manual::Promote { .. } | Manual::Rollback { .. }) => Description {
            user_text: alias
                .description
                .split("[lambda-rollout/")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
            record: Record::default(),
        },
        (Err(e), _) => return Err(Refusal(e.to_string())),
    };
    let c = Command {
        alias,
        user: &desc.user_text,
        record: desc.record,
        canary: live_canary(alias),
        damaged,
    };
    match manual {
        Manual::Start { version, force } => {
            let cx = StartContext {
                alias,
                user: c.user,
                record: c.record,
                policy,
                now,
                versions,
            };
            start(&cx, *version, *force)
        }
        Manual::Promote { reason } => Ok(promote(&c, reason, policy, now)),
        Manual::Rollback { reason } => Ok(rollback(&c, reason)),
        Manual::Pause { reason } => Ok(pause(&c, reason, now)),
        Manual::Resume => Ok(resume(&c, policy, now)),
        Manual::Approve { reason } => Ok(approve(&c, reason)),
        Manual::Revert { reason } => Ok(revert(&c, reason)),
        Manual::SetWeight { weight, reason } => set_weight(&c, *weight, reason, now),
    }
}

/// The watched promotion the record holds, if any.
fn watched(c: &Command) -> Option<Rollout> {
    c.record.rollout.filter(|r| r.phase == Phase::Watching)
}

fn nothing_watched(c: &Command, what: &str) -> String {
    match watched(c) {
        Some(r) => format!(
            "version {} was promoted at {} and is being watched: revert undoes the promotion, \
             promote ends the watch",
            r.green, r.since
        ),
        None => format!(
            "{what}: no rollout in progress, version {} takes all traffic",
            c.alias.stable
        ),
    }
}

fn by(reason: &Option<String>) -> String {
    match reason.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => format!(": {r}"),
        _ => String::new(),
    }
}

fn promote(c: &Command, reason: &Option<String>, policy: &Policy, now: UtcTime) -> Decision {
    if let Some(r) = watched(c) {
        let after = Record {
            rollout: None,
            ..c.record
        };
        return Decision::new(
            Outcome::Promoted,
            format!(
                "promoted by operator{}: the watch of version {} ends, it stays the stable version",
                by(reason),
                r.green
            ),
        )
        .writing(alias_after(c.alias.stable, c.alias.canary, c.user, after));
    }
    // During the pre-traffic check green has no weight yet: it is the record's.
    let green = c.canary.map(|x| (x.version, x.weight)).or_else(|| {
        c.record
            .rollout
            .filter(|r| r.green != c.alias.stable)
            .map(|r| (r.green, r.weight))
    });
    let Some((version, weight)) = green else {
        return Decision::new(
            Outcome::Idle,
            format!(
                "nothing to promote: no rollout in progress, version {} takes all traffic",
                c.alias.stable
            ),
        );
    };
    let r = c
        .record
        .rollout
        .filter(|r| r.green == version && r.blue == c.alias.stable)
        .unwrap_or(Rollout {
            phase: Phase::Rolling,
            green: version,
            blue: c.alias.stable,
            weight,
            since: now,
            started: now,
            fails: 0,
            approved: false,
            tally: None,
        });
    let (after, note) = watch::after_promotion(&r, c.record, policy, now);
    Decision::new(
        Outcome::Promoted,
        format!(
            "promoted by operator{}: version {version} (was at {weight}) takes all traffic, \
             replacing {}{note}",
            by(reason),
            c.alias.stable
        ),
    )
    .writing(alias_after(version, None, c.user, after))
}

fn rollback(c: &Command, reason: &Option<String>) -> Decision {
    if let Some(r) = watched(c) {
        return back_to_blue(
            Outcome::Reverted,
            c.user,
            &r,
            format!(
                "rolled back by operator{} during the watch: version {} (promoted at {}) removed, \
                 version {} takes all traffic again",
                by(reason),
                r.green,
                r.since,
                r.blue
            ),
        );
    }
    let stable = c.alias.stable;
    let green = c
        .canary
        .map(|x| x.version)
        .or(c.record.rollout.map(|r| r.green));
    if let Some(g) = green.filter(|g| *g != stable) {
        let after = Record {
            rollout: None,
            rolled_back: Some(g),
            group: None,
        };
        let from = c
            .canary
            .map(|x| format!(" (was at {})", x.weight))
            .unwrap_or_default();
        return Decision::new(
            Outcome::RolledBack,
            format!(
                "rolled back by operator{}: version {g}{from} removed, version {stable} takes all traffic",
                by(reason),
            ),
        )
        .writing(alias_after(stable, None, c.user, after));
    }
    let rb = c
        .record
        .rolled_back
        .map(|v| format!(" (version {v} was rolled back earlier)"))
        .unwrap_or_default();
    let d = Decision::new(
        Outcome::Idle,
        format!("nothing to roll back: version {stable} already takes all traffic{rb}"),
    );
    // An unreadable state is cleared even when there is nothing to undo.
    if c.damaged {
        return d.writing(alias_after(stable, c.alias.canary, c.user, c.record));
    }
    d
}

fn pause(c: &Command, reason: &Option<String>, now: UtcTime) -> Decision {
    let alias = c.alias;
    let current = match (c.record.rollout, c.canary) {
        (Some(r), _) if r.phase == Phase::Paused => {
            return Decision::new(
                Outcome::Held,
                format!("already paused: {} at {}", r.green, r.weight),
            )
        }
        (Some(r), _) if r.phase == Phase::Watching => {
            return Decision::new(Outcome::Idle, nothing_watched(c, "nothing to pause"))
        }
        (Some(r), _) if matches!(r.phase, Phase::Checking(_)) => {
            return Decision::new(
                Outcome::Held,
                format!(
                    "not paused: a check of version {} runs; wait for its answer, or promote / \
                     rollback",
                    r.green
                ),
            )
        }
        (Some(r), Some(x)) => Rollout {
            green: x.version,
            blue: alias.stable,
            weight: x.weight,
            tally: None,
            ..r
        },
        (None, Some(x)) => Rollout {
            phase: Phase::Paused,
            green: x.version,
            blue: alias.stable,
            weight: x.weight,
            since: now,
            started: now,
            fails: 0,
            approved: false,
            tally: None,
        },
        (_, None) => {
            return Decision::new(
                Outcome::Idle,
                format!(
                    "nothing to pause: no rollout in progress, version {} takes all traffic",
                    alias.stable
                ),
            )
        }
    };
    let after = Record {
        rollout: Some(Rollout {
            phase: Phase::Paused,
            ..current
        }),
        ..c.record
    };
    Decision::new(
        Outcome::Paused,
        format!(
            "paused by operator{}: {} stays at {} until resumed",
            by(reason),
            current.green,
            current.weight
        ),
    )
    .writing(alias_after(alias.stable, alias.canary, c.user, after))
}

fn resume(c: &Command, policy: &Policy, now: UtcTime) -> Decision {
    let alias = c.alias;
    match (c.record.rollout, c.canary) {
        (Some(r), Some(x)) if r.phase == Phase::Paused => {
            let after = Record {
                rollout: Some(Rollout {
                    phase: Phase::Rolling,
                    green: x.version,
                    blue: alias.stable,
                    weight: x.weight,
                    since: now,
                    fails: 0,
                    tally: None,
                    ..r
                }),
                ..c.record
            };
            Decision::new(
                Outcome::Resumed,
                format!(
                    "resumed: {} at {}; the step's bake ({}) starts again now",
                    x.version,
                    x.weight,
                    format_duration(policy.bake)
                ),
            )
            .writing(alias_after(alias.stable, alias.canary, c.user, after))
        }
        (Some(r), Some(_)) => Decision::new(
            Outcome::Held,
            format!("not paused: {} is rolling out at {}", r.green, r.weight),
        ),
        _ => Decision::new(
            Outcome::Idle,
            format!(
                "nothing to resume: no rollout in progress, version {} takes all traffic",
                alias.stable
            ),
        ),
    }
}

fn approve(c: &Command, reason: &Option<String>) -> Decision {
    let r = match c.record.rollout {
        Some(r) if r.phase != Phase::Watching => r,
        _ => return Decision::new(Outcome::Idle, nothing_watched(c, "nothing to approve")),
    };
    if r.approved {
        return Decision::new(
            Outcome::Held,
            format!("already approved: version {} at {}", r.green, r.weight),
        );
    }
    let (phase, what) = if r.phase == Phase::AwaitingApproval {
        (
            Phase::Rolling,
            format!(
                "version {} goes on from {} at the next tick whose check passes",
                r.green, r.weight
            ),
        )
    } else {
        (
            r.phase,
            format!(
                "version {} will not wait for approval at approve_before",
                r.green
            ),
        )
    };
    let after = Record {
        rollout: Some(Rollout {
            phase,
            approved: true,
            ..r
        }),
        ..c.record
    };
    Decision::new(
        Outcome::Approved,
        format!("approved by operator{}: {what}", by(reason)),
    )
    .writing(alias_after(c.alias.stable, c.alias.canary, c.user, after))
}

fn revert(c: &Command, reason: &Option<String>) -> Decision {
    let Some(r) = watched(c) else {
        return Decision::new(
            Outcome::Idle,
            format!(
                "nothing to revert: no promotion is being watched (revert undoes a promotion \
                 during watch_after_promote; rollback undoes a rollout in progress), version {} \
                 takes all traffic",
                c.alias.stable
            ),
        );
    };
    back_to_blue(
        Outcome::Reverted,
        c.user,
        &r,
        format!(
            "reverted by operator{}: version {} takes all traffic again, version {} (promoted at \
             {}) is remembered as rolled back",
            by(reason),
            r.blue,
            r.green,
            r.since
        ),
    )
}

fn set_weight(
    c: &Command,
    weight: Weight,
    reason: &Option<String>,
    now: UtcTime,
) -> Result<Decision, Refusal> {
    let r = match c.record.rollout {
        Some(r) if r.phase == Phase::Watching => {
            return Ok(Decision::new(
                Outcome::Idle,
                nothing_watched(c, "nothing to set"),
            ))
        }
        Some(r) if matches!(r.phase, Phase::Checking(_)) => {
            return Err(Refusal(format!(
                "a check of version {} runs before green may have that weight: wait for its \
                 answer, or promote / rollback",
                r.green
            )))
        }
        Some(r) => r,
        None => {
            return Ok(Decision::new(
                Outcome::Idle,
                format!(
                    "nothing to set: no rollout in progress, version {} takes all traffic; start \
                     one first",
                    c.alias.stable
                ),
            ))
        }
    };
    let was = c.canary.map_or(Weight::ZERO, |x| x.weight);
    let after = Record {
        rollout: Some(Rollout {
            phase: Phase::Paused,
            blue: c.alias.stable,
            weight,
            since: now,
            fails: 0,
            tally: None,
            ..r
        }),
        ..c.record
    };
    let canary = Canary {
        version: r.green,
        weight,
    };
    Ok(Decision::new(
        Outcome::WeightSet,
        format!(
            "weight set by operator{}: version {} at {weight} (was {was}), paused there: resume \
             to go on from {weight}, or promote / rollback",
            by(reason),
            r.green
        ),
    )
    .writing(alias_after(c.alias.stable, Some(canary), c.user, after)))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use std::time::Duration;

    /// Version 2 promoted over 1 and watched since `since`.
    fn watching(since: UtcTime) -> AliasState {
        let mut a = rolling_alias(10.0, Phase::Rolling, since, 0);
        let mut d = Description::parse(&a.description).unwrap();
        d.record.rollout = d.record.rollout.map(|r| Rollout {
            phase: Phase::Watching,
            weight: Weight::FULL,
            ..r
        });
        a.stable = v(2);
        a.canary = None;
        a.description = d.render();
        a
    }

    #[test]
    fn every_command_on_every_state_table() {
        let p = policy(r#"{"bake":"5m","watch_after_promote":"10m"}"#);
        let ago = t0().minus(Duration::from_secs(600));
        let mut damaged = rolling_alias(10.0, Phase::Rolling, ago, 0);
        damaged.description = "notes [lambda-rollout/1 rolling green=x]".into();
        let states = [
            ("idle", idle()),
            ("rolling", rolling_alias(10.0, Phase::Rolling, ago, 0)),
            ("paused", rolling_alias(25.0, Phase::Paused, ago, 0)),
            (
                "awaiting approval",
                rolling_alias(25.0, Phase::AwaitingApproval, ago, 0),
            ),
            ("watching", watching(ago)),
            ("damaged", damaged),
        ];
        let set = Manual::SetWeight {
            weight: w(40.0),
            reason: None,
        };
        // (command, [idle, rolling, paused, approval, watching, damaged]);
        // "refused" is an Err.
        let table: [(Manual, [&str; 6]); 7] = [
            (
                Manual::Promote { reason: None },
                [
                    "idle", "promoted", "promoted", "promoted", "promoted", "promoted",
                ],
            ),
            (
                Manual::Rollback {
                    reason: Some("p99".into()),
                },
                [
                    "idle",
                    "rolled_back",
                    "rolled_back",
                    "rolled_back",
                    "reverted",
                    "rolled_back",
                ],
            ),
            (
                Manual::Pause { reason: None },
                ["idle", "paused", "held", "paused", "idle", "refused"],
            ),
            (
                Manual::Resume,
                ["idle", "held", "resumed", "held", "idle", "refused"],
            ),
            (
                Manual::Approve { reason: None },
                [
                    "idle", "approved", "approved", "approved", "idle", "refused",
                ],
            ),
            (
                Manual::Revert { reason: None },
                ["idle", "idle", "idle", "idle", "reverted", "refused"],
            ),
            (
                set,
                [
                    "idle",
                    "weight_set",
                    "weight_set",
                    "weight_set",
                    "idle",
                    "refused",
                ],
            ),
        ];
        for (m, wants) in &table {
            for ((name, alias), want) in states.iter().zip(wants) {
                let got = match command(m, alias, &p, t0(), &versions()) {
                    Ok(d) => {
                        // Whatever is written is a record that reads back.
                        if let Some(a) = &d.write {
                            Description::parse(&a.description).unwrap();
                        }
                        d.outcome.label().to_string()
                    }
                    Err(_) => "refused".into(),
                };
                assert_eq!(got, *want, "{m:?} on {name}");
            }
        }
    }

    #[test]
    fn a_promote_starts_the_watch_and_a_revert_undoes_it() {
        let p = policy(r#"{"watch_after_promote":"10m"}"#);
        let rolling = rolling_alias(10.0, Phase::Rolling, t0(), 0);
        let d = command(&Manual::Promote { reason: None }, &rolling, &p, t0(), &[]).unwrap();
        let promoted = d.write.unwrap();
        let r = Description::parse(&promoted.description)
            .unwrap()
            .record
            .rollout
            .unwrap();
        assert_eq!(
            (promoted.stable, r.phase, r.green, r.blue),
            (v(2), Phase::Watching, v(2), v(1))
        );
        let d = command(&Manual::Revert { reason: None }, &promoted, &p, t0(), &[]).unwrap();
        let reverted = d.write.unwrap();
        assert_eq!((reverted.stable, reverted.canary), (v(1), None));
        assert_eq!(
            Description::parse(&reverted.description).unwrap().record,
            Record {
                group: None,
                rollout: None,
                rolled_back: Some(v(2))
            }
        );
    }

    #[test]
    fn escape_hatches_clear_a_damaged_record_and_keep_the_users_text() {
        let mut damaged = idle();
        damaged.description = "notes [lambda-rollout/1 rolling green=x]".into();
        let d = command(
            &Manual::Rollback { reason: None },
            &damaged,
            &policy("{}"),
            t0(),
            &[],
        )
        .unwrap();
        assert_eq!(d.outcome, Outcome::Idle);
        assert_eq!(d.write.unwrap().description, "notes");
        let rolling = rolling_alias(10.0, Phase::Rolling, t0(), 0);
        let d = command(
            &Manual::Promote { reason: None },
            &rolling,
            &policy("{}"),
            t0(),
            &[],
        )
        .unwrap();
        let after = d.write.unwrap();
        assert_eq!((after.stable, after.canary), (v(2), None));
        assert_eq!(after.description, "team notes");
        assert!(Manual::Resume.needs_policy() && !Manual::Resume.needs_versions());
        assert!(!Manual::Promote { reason: None }.needs_policy());
    }
}
