//! The decision function: alias state + policy + health + `now` -> `Decision`.
//! Pure: no I/O, no clock, no logging. A decision carries the complete alias it
//! wants (`write`), which the executor applies with a compare-and-swap.

use std::time::Duration;

use thiserror::Error;

use super::health::{judge_for, AlarmState, CustomQuery, MetricsRequest, Observation, Verdict};
use super::state::{AliasState, Canary, Description, Phase, Record, Rollout};
use super::step::{first_step, next_step, position, Next};
use crate::model::{format_duration, Target, UtcTime, Version};
use crate::policy::Policy;

/// The longest health window read for one step.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Advanced,
    Promoted,
    RolledBack,
    Held,
    Paused,
    Resumed,
    Idle,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Advanced => "advanced",
            Outcome::Promoted => "promoted",
            Outcome::RolledBack => "rolled_back",
            Outcome::Held => "held",
            Outcome::Paused => "paused",
            Outcome::Resumed => "resumed",
            Outcome::Idle => "idle",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    pub reason: String,
    /// The alias as it must be afterwards; `None` writes nothing.
    pub write: Option<AliasState>,
    pub observation: Option<Box<Observation>>,
    pub verdict: Option<Verdict>,
}

impl Decision {
    fn new(outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            outcome,
            reason: reason.into(),
            write: None,
            observation: None,
            verdict: None,
        }
    }

    fn writing(mut self, alias: AliasState) -> Self {
        self.write = Some(alias);
        self
    }
}

/// A command the engine will not carry out; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// A published version as `ListVersionsByFunction` describes it: what `start`
/// needs to check that the alias may route to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedVersion {
    pub version: Version,
    pub role: String,
    pub dead_letter_target: Option<String>,
}

/// What a tick needs from the outside world, handed in by the executor.
#[derive(Debug, Clone, Copy)]
pub enum Metrics<'a> {
    NotFetched,
    Fetched(&'a Observation),
    Unavailable(&'a str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TickStep {
    Decided(Decision),
    NeedMetrics(MetricsRequest),
    /// `auto_start` is on and nothing is rolling out: the function's published
    /// versions are needed to see whether there is one to start.
    NeedVersions,
}

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

fn with_record(user_text: &str, record: Record) -> String {
    Description {
        user_text: user_text.to_string(),
        record,
    }
    .render()
}

fn alias_after(
    stable: Version,
    canary: Option<Canary>,
    user_text: &str,
    record: Record,
) -> AliasState {
    AliasState {
        stable,
        canary,
        description: with_record(user_text, record),
    }
}

/// A canary with weight 0 sends no traffic: for every decision it is no canary.
fn live_canary(alias: &AliasState) -> Option<Canary> {
    alias.canary.filter(|c| !c.weight.is_zero())
}

fn by(reason: &Option<String>) -> String {
    match reason.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => format!(": {r}"),
        _ => String::new(),
    }
}

/// One tick for one target. Call with `Metrics::NotFetched` and no versions
/// first; if the engine needs figures (`NeedMetrics`) or the published versions
/// (`NeedVersions`), the executor calls again with them.
pub fn tick(
    target: &Target,
    alias: &AliasState,
    policy: &Policy,
    now: UtcTime,
    metrics: Metrics<'_>,
    versions: Option<&[PublishedVersion]>,
) -> Result<TickStep, Refusal> {
    let desc = Description::parse(&alias.description).map_err(|e| Refusal(e.to_string()))?;
    let record = desc.record;
    let Some(r) = record.rollout else {
        if policy.auto_start && live_canary(alias).is_none() {
            let Some(versions) = versions else {
                return Ok(TickStep::NeedVersions);
            };
            let d = match start(
                alias,
                &desc.user_text,
                record,
                policy,
                now,
                versions,
                None,
                false,
            ) {
                Ok(mut d) => {
                    d.reason = format!("auto_start: {}", d.reason);
                    d
                }
                Err(Refusal(why)) => Decision::new(
                    Outcome::Idle,
                    format!("auto_start: nothing to start: {why}"),
                ),
            };
            return Ok(TickStep::Decided(d));
        }
        let reason = match live_canary(alias) {
            Some(c) => format!(
                "alias routes {} to version {} but no rollout is recorded, so lambda-rollout \
                 leaves it alone: start version {} to adopt it, or rollback to clear it",
                c.weight, c.version, c.version
            ),
            None => {
                let rb = record
                    .rolled_back
                    .map(|v| format!("; version {v} was rolled back earlier"))
                    .unwrap_or_default();
                format!(
                    "no rollout in progress: version {} takes all traffic{rb}",
                    alias.stable
                )
            }
        };
        return Ok(TickStep::Decided(Decision::new(Outcome::Idle, reason)));
    };

    if let Some(d) = reconcile(alias, &desc.user_text, record, r, now) {
        return Ok(TickStep::Decided(d));
    }

    let (pos, total) = position(&policy.steps, r.weight);
    let at = format!(
        "version {} at {} (step {pos} of {total})",
        r.green, r.weight
    );
    if r.phase == Phase::Paused {
        return Ok(TickStep::Decided(Decision::new(
            Outcome::Held,
            format!("paused: {at}; resume to continue, or promote / rollback"),
        )));
    }
    if r.since > now.plus(Duration::from_secs(300)) {
        return Ok(TickStep::Decided(Decision::new(
            Outcome::Held,
            format!(
                "the recorded step start {} is in the future (clock skew or an edited \
                 description): holding {at}; pause and resume to restart the step",
                r.since
            ),
        )));
    }

    let end = now.minus(policy.metric_lag).floor_minute();
    // A step that has lasted longer than a day is judged on its last day: the
    // query stays bounded (1,440 points a series) and recent data counts.
    let start = r.since.floor_minute().max(end.minus(MAX_WINDOW));
    let rollout_start = r
        .started
        .floor_minute()
        .max(end.minus(MAX_WINDOW))
        .min(start);
    // Minutes inside metric_lag may still be filling in: read to fail early.
    let fresh_end = now.floor_minute().max(end);
    let baked = now.since(r.since);
    let bake_note = format!(
        "{} of {} bake",
        format_duration(baked),
        format_duration(policy.bake)
    );
    let waiting = format!(
        "waiting for the first complete minute of metrics (window opens at {start}, \
         metric_lag {}): {at}, {bake_note}",
        format_duration(policy.metric_lag)
    );
    // Right after a step begins there are no metrics yet, but alarms can
    // already say no; a minute later the fresh minutes can.
    let window_open = end > start;
    if fresh_end <= start && policy.alarms.is_empty() {
        return Ok(TickStep::Decided(Decision::new(Outcome::Held, waiting)));
    }
    let obs = match metrics {
        Metrics::NotFetched => {
            return Ok(TickStep::NeedMetrics(MetricsRequest {
                target: target.clone(),
                green: r.green,
                blue: r.blue,
                start,
                end: end.max(start),
                rollout_start,
                fresh_end: fresh_end.max(start),
                latency_stat: policy.latency_stat.clone(),
                alarms: policy.alarms.clone(),
                custom: policy
                    .metrics
                    .iter()
                    .map(|m| CustomQuery::resolve(m, target, r.green))
                    .collect(),
            }))
        }
        Metrics::Unavailable(why) => {
            return Ok(TickStep::Decided(Decision::new(
                Outcome::Held,
                format!("metrics unavailable, holding {at}: {why}"),
            )))
        }
        Metrics::Fetched(obs) => obs,
    };

    // Small steps need only no sign of trouble; an advance to evidence_from or
    // more, and a promotion, must rule a regression out.
    let needs_evidence = match next_step(&policy.steps, r.weight) {
        Next::Promote => true,
        Next::Weight(w) => w >= policy.evidence_from,
    };
    let verdict = judge_for(obs, r.green, r.blue, policy, needs_evidence);
    let mut d = match &verdict {
        Verdict::Fail { metric, reason } => {
            // An edited record may carry any count: never wrap back to 0 (which
            // would hold a failing version instead of rolling it back).
            let fails = r.fails.saturating_add(1);
            if fails >= policy.failure_threshold {
                let after = Record {
                    rollout: None,
                    rolled_back: Some(r.green),
                };
                Decision::new(
                    Outcome::RolledBack,
                    format!(
                        "{metric} check failed ({fails} of {}) at {}: {reason}; all traffic back to {}",
                        policy.failure_threshold, r.weight, r.blue
                    ),
                )
                .writing(alias_after(r.blue, None, &desc.user_text, after))
            } else {
                let after = Record {
                    rollout: Some(Rollout { fails, ..r }),
                    ..record
                };
                Decision::new(
                    Outcome::Held,
                    format!(
                        "{metric} check failed ({fails} of {}), holding {at}: {reason}",
                        policy.failure_threshold
                    ),
                )
                .writing(alias_after(
                    alias.stable,
                    alias.canary,
                    &desc.user_text,
                    after,
                ))
            }
        }
        Verdict::Inconclusive { reason }
            if obs.alarms.iter().any(|a| a.state != AlarmState::Ok) =>
        {
            Decision::new(Outcome::Held, format!("holding {at}: {reason}"))
        }
        _ if !window_open => Decision::new(Outcome::Held, waiting),
        _ if baked < policy.bake => Decision::new(
            Outcome::Held,
            format!(
                "baking {at}, {bake_note}; health so far: {}",
                verdict.reason()
            ),
        ),
        Verdict::Inconclusive { reason } => Decision::new(
            Outcome::Held,
            format!("bake done but cannot judge yet, holding {at}: {reason}"),
        ),
        Verdict::Pass { reason } => match next_step(&policy.steps, r.weight) {
            Next::Weight(w) => {
                let after = Record {
                    rollout: Some(Rollout {
                        weight: w,
                        since: now,
                        fails: 0,
                        ..r
                    }),
                    ..record
                };
                Decision::new(
                    Outcome::Advanced,
                    format!(
                        "version {} {} -> {} after {bake_note}: {reason}",
                        r.green, r.weight, w
                    ),
                )
                .writing(alias_after(
                    r.blue,
                    Some(Canary {
                        version: r.green,
                        weight: w,
                    }),
                    &desc.user_text,
                    after,
                ))
            }
            Next::Promote => {
                let after = Record {
                    rollout: None,
                    ..record
                };
                Decision::new(
                    Outcome::Promoted,
                    format!(
                        "version {} takes all traffic after {bake_note} at {}: {reason}",
                        r.green, r.weight
                    ),
                )
                .writing(alias_after(r.green, None, &desc.user_text, after))
            }
        },
    };
    d.observation = Some(Box::new(obs.clone()));
    d.verdict = Some(verdict);
    Ok(TickStep::Decided(d))
}

/// Handles an alias changed outside lambda-rollout mid-rollout, the way a careful
/// operator would: a canary that is gone closes the rollout (promoted if green is
/// now stable, otherwise remembered as rolled back); a canary that differs (other
/// weight, version or stable) is adopted as it stands and the rollout paused, so
/// nothing moves again until a human says resume, promote or rollback.
fn reconcile(
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
    let desc = match (&parsed, manual) {
        (Ok(d), _) => d.clone(),
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
    let record = desc.record;
    let user = desc.user_text.as_str();
    let canary = live_canary(alias);

    match manual {
        Manual::Start { version, force } => {
            start(alias, user, record, policy, now, versions, *version, *force)
        }
        Manual::Promote { reason } => match canary {
            Some(c) => {
                let after = Record {
                    rollout: None,
                    rolled_back: record.rolled_back.filter(|rb| *rb != c.version),
                };
                Ok(Decision::new(
                    Outcome::Promoted,
                    format!(
                        "promoted by operator{}: version {} (was at {}) takes all traffic, replacing {}",
                        by(reason),
                        c.version,
                        c.weight,
                        alias.stable
                    ),
                )
                .writing(alias_after(c.version, None, user, after)))
            }
            None => Ok(Decision::new(
                Outcome::Idle,
                format!(
                    "nothing to promote: no rollout in progress, version {} takes all traffic",
                    alias.stable
                ),
            )),
        },
        Manual::Rollback { reason } => {
            let green = canary
                .map(|c| c.version)
                .or(record.rollout.map(|r| r.green));
            match green {
                Some(g) if g != alias.stable => {
                    let after = Record {
                        rollout: None,
                        rolled_back: Some(g),
                    };
                    let from = canary
                        .map(|c| format!(" (was at {})", c.weight))
                        .unwrap_or_default();
                    Ok(Decision::new(
                        Outcome::RolledBack,
                        format!(
                            "rolled back by operator{}: version {g}{from} removed, version {} takes all traffic",
                            by(reason),
                            alias.stable
                        ),
                    )
                    .writing(alias_after(alias.stable, None, user, after)))
                }
                _ => {
                    let rb = record
                        .rolled_back
                        .map(|v| format!(" (version {v} was rolled back earlier)"))
                        .unwrap_or_default();
                    let mut d = Decision::new(
                        Outcome::Idle,
                        format!(
                            "nothing to roll back: version {} already takes all traffic{rb}",
                            alias.stable
                        ),
                    );
                    // An unreadable state is cleared even when there is nothing to undo.
                    if parsed.is_err() {
                        d = d.writing(alias_after(alias.stable, alias.canary, user, record));
                    }
                    Ok(d)
                }
            }
        }
        Manual::Pause { reason } => {
            let current = match (record.rollout, canary) {
                (Some(r), _) if r.phase == Phase::Paused => {
                    return Ok(Decision::new(
                        Outcome::Held,
                        format!("already paused: {} at {}", r.green, r.weight),
                    ))
                }
                (Some(r), Some(c)) => Rollout {
                    green: c.version,
                    blue: alias.stable,
                    weight: c.weight,
                    ..r
                },
                (None, Some(c)) => Rollout {
                    phase: Phase::Paused,
                    green: c.version,
                    blue: alias.stable,
                    weight: c.weight,
                    since: now,
                    started: now,
                    fails: 0,
                },
                (_, None) => {
                    return Ok(Decision::new(
                        Outcome::Idle,
                        format!(
                        "nothing to pause: no rollout in progress, version {} takes all traffic",
                        alias.stable
                    ),
                    ))
                }
            };
            let after = Record {
                rollout: Some(Rollout {
                    phase: Phase::Paused,
                    ..current
                }),
                ..record
            };
            Ok(Decision::new(
                Outcome::Paused,
                format!(
                    "paused by operator{}: {} stays at {} until resumed",
                    by(reason),
                    current.green,
                    current.weight
                ),
            )
            .writing(alias_after(alias.stable, alias.canary, user, after)))
        }
        Manual::Resume => match (record.rollout, canary) {
            (Some(r), Some(c)) if r.phase == Phase::Paused => {
                let after = Record {
                    rollout: Some(Rollout {
                        phase: Phase::Rolling,
                        green: c.version,
                        blue: alias.stable,
                        weight: c.weight,
                        since: now,
                        fails: 0,
                        ..r
                    }),
                    ..record
                };
                Ok(Decision::new(
                    Outcome::Resumed,
                    format!(
                        "resumed: {} at {}; the step's bake ({}) starts again now",
                        c.version,
                        c.weight,
                        format_duration(policy.bake)
                    ),
                )
                .writing(alias_after(alias.stable, alias.canary, user, after)))
            }
            (Some(r), Some(_)) => Ok(Decision::new(
                Outcome::Held,
                format!("not paused: {} is rolling out at {}", r.green, r.weight),
            )),
            _ => Ok(Decision::new(
                Outcome::Idle,
                format!(
                    "nothing to resume: no rollout in progress, version {} takes all traffic",
                    alias.stable
                ),
            )),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn start(
    alias: &AliasState,
    user: &str,
    record: Record,
    policy: &Policy,
    now: UtcTime,
    versions: &[PublishedVersion],
    requested: Option<Version>,
    force: bool,
) -> Result<Decision, Refusal> {
    if let Some(r) = record.rollout {
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
    let version = match (requested, canary) {
        (Some(v), _) => v,
        (None, Some(c)) => c.version,
        (None, None) => versions
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
            })?,
    };
    if version == alias.stable {
        return Err(Refusal(format!(
            "version {version} is already the stable version of this alias: nothing to roll out"
        )));
    }
    let Some(green) = versions.iter().find(|p| p.version == version) else {
        let newest = versions.iter().map(|p| p.version).max();
        return Err(Refusal(format!(
            "version {version} does not exist for this function{}: publish it with aws lambda \
             publish-version, or name an existing version",
            newest
                .map(|n| format!(" (newest published: {n})"))
                .unwrap_or_default()
        )));
    };
    if record.rolled_back == Some(version) && !force {
        return Err(Refusal(format!(
            "version {version} was rolled back before: publish a fixed version, or add \
             \"force\": true to roll it out again"
        )));
    }
    if let Some(blue) = versions.iter().find(|p| p.version == alias.stable) {
        if blue.role != green.role {
            return Err(Refusal(format!(
                "versions {} and {version} have different execution roles ({} and {}): an alias \
                 can only split traffic between versions with the same role; publish {version} \
                 with role {}",
                alias.stable, blue.role, green.role, blue.role
            )));
        }
        if blue.dead_letter_target != green.dead_letter_target {
            return Err(Refusal(format!(
                "versions {} and {version} have different dead-letter queues ({} and {}): an \
                 alias can only split traffic between versions with the same dead-letter config; \
                 publish {version} with the dead-letter config of {}",
                alias.stable,
                blue.dead_letter_target.as_deref().unwrap_or("none"),
                green.dead_letter_target.as_deref().unwrap_or("none"),
                alias.stable
            )));
        }
    }
    let rolled_back = record.rolled_back.filter(|rb| *rb != version);
    let adopted = canary.is_some_and(|c| c.version == version);
    let first = match (adopted, first_step(&policy.steps)) {
        (true, _) => Next::Weight(canary.expect("adopted").weight),
        (false, n) => n,
    };
    match first {
        Next::Weight(w) => {
            let after = Record {
                rollout: Some(Rollout {
                    phase: Phase::Rolling,
                    green: version,
                    blue: alias.stable,
                    weight: w,
                    since: now,
                    started: now,
                    fails: 0,
                }),
                rolled_back,
            };
            let how = if adopted {
                format!("adopted the canary set outside lambda-rollout at {w}")
            } else {
                format!("first step {w}")
            };
            Ok(Decision::new(
                Outcome::Started,
                format!(
                    "rollout of version {version} over {} started: {how}, bake {}",
                    alias.stable,
                    format_duration(policy.bake)
                ),
            )
            .writing(alias_after(
                alias.stable,
                Some(Canary { version, weight: w }),
                user,
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
        Next::Promote => Ok(Decision::new(
            Outcome::Promoted,
            format!(
                "the policy's only step is 100% (all at once): version {version} takes all \
                 traffic at once, with no canary, replacing {}",
                alias.stable
            ),
        )
        .writing(alias_after(
            version,
            None,
            user,
            Record {
                rollout: None,
                rolled_back,
            },
        ))),
    }
}
