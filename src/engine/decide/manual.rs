//! The operator's commands, one function each. A new command is a variant of
//! `Manual`, its arm in `command`, and its function here (and its parsing in
//! `command.rs`).

use super::start::{start, StartContext};
use super::{alias_after, live_canary, Decision, Outcome, PublishedVersion, Refusal};
use crate::engine::state::{AliasState, Canary, Description, Phase, Record, Rollout};
use crate::model::{format_duration, UtcTime, Version};
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
}

impl Manual {
    /// Whether the command reads the policy. Promote, rollback and pause do
    /// not: they must work even when the configured one is broken.
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
        Manual::Promote { reason } => Ok(promote(&c, reason)),
        Manual::Rollback { reason } => Ok(rollback(&c, reason)),
        Manual::Pause { reason } => Ok(pause(&c, reason, now)),
        Manual::Resume => Ok(resume(&c, policy, now)),
    }
}

fn by(reason: &Option<String>) -> String {
    match reason.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => format!(": {r}"),
        _ => String::new(),
    }
}

fn promote(c: &Command, reason: &Option<String>) -> Decision {
    let Some(canary) = c.canary else {
        return Decision::new(
            Outcome::Idle,
            format!(
                "nothing to promote: no rollout in progress, version {} takes all traffic",
                c.alias.stable
            ),
        );
    };
    let after = Record {
        rollout: None,
        rolled_back: c.record.rolled_back.filter(|rb| *rb != canary.version),
    };
    Decision::new(
        Outcome::Promoted,
        format!(
            "promoted by operator{}: version {} (was at {}) takes all traffic, replacing {}",
            by(reason),
            canary.version,
            canary.weight,
            c.alias.stable
        ),
    )
    .writing(alias_after(canary.version, None, c.user, after))
}

fn rollback(c: &Command, reason: &Option<String>) -> Decision {
    let stable = c.alias.stable;
    let green = c
        .canary
        .map(|x| x.version)
        .or(c.record.rollout.map(|r| r.green));
    if let Some(g) = green.filter(|g| *g != stable) {
        let after = Record {
            rollout: None,
            rolled_back: Some(g),
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
        (Some(r), Some(x)) => Rollout {
            green: x.version,
            blue: alias.stable,
            weight: x.weight,
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_command_on_every_state_table() {
        let p = policy(r#"{"bake":"5m"}"#);
        let ago = t0().minus(Duration::from_secs(600));
        let mut damaged = rolling_alias(10.0, Phase::Rolling, ago, 0);
        damaged.description = "notes [lambda-rollout/1 rolling green=x]".into();
        let states = [
            ("idle", idle()),
            ("rolling", rolling_alias(10.0, Phase::Rolling, ago, 0)),
            ("paused", rolling_alias(25.0, Phase::Paused, ago, 0)),
            ("damaged", damaged),
        ];
        let promote = Manual::Promote { reason: None };
        let rollback = Manual::Rollback {
            reason: Some("p99".into()),
        };
        let pause = Manual::Pause { reason: None };
        let resume = Manual::Resume;
        // (command, [idle, rolling, paused, damaged]); "refused" is an Err.
        let table: [(&Manual, [&str; 4]); 4] = [
            (&promote, ["idle", "promoted", "promoted", "promoted"]),
            (
                &rollback,
                ["idle", "rolled_back", "rolled_back", "rolled_back"],
            ),
            (&pause, ["idle", "paused", "held", "refused"]),
            (&resume, ["idle", "held", "resumed", "refused"]),
        ];
        for (m, wants) in table {
            for ((name, alias), want) in states.iter().zip(wants) {
                let got = match command(m, alias, &p, t0(), &versions()) {
                    Ok(d) => d.outcome.label().to_string(),
                    Err(_) => "refused".into(),
                };
                assert_eq!(got, want, "{m:?} on {name}");
            }
        }
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
