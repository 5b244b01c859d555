//! A promotion watched for `watch_after_promote`: the new stable (green)
//! judged over the minutes since its promotion against what the old stable
//! (blue) did during the rollout, and against the gate alarms. A failure
//! points the alias back at the old stable (`reverted`); a watch that ends
//! with no sign of a regression closes (`watch_passed`).

use std::time::Duration;

use super::{
    alias_after, back_to_blue, waits_on, Decision, MetricsAnswer, Outcome, Windows, MAX_WINDOW,
};
use crate::engine::health::{judge_for, AlarmState, MetricsRequest, Verdict};
use crate::engine::state::{AliasState, Description, Phase, Record, Rollout};
use crate::model::{format_duration, Target, UtcTime, Weight};
use crate::policy::Policy;

/// The record after green takes all traffic, and the note the promotion's
/// reason ends with: watching (if the policy says so) or closed.
pub(super) fn after_promotion(
    r: &Rollout,
    record: Record,
    policy: &Policy,
    now: UtcTime,
) -> (Record, String) {
    let rolled_back = record.rolled_back.filter(|rb| *rb != r.green);
    let Some(watch) = policy.watch_after_promote else {
        let after = Record {
            rollout: None,
            rolled_back,
            group: None,
        };
        return (after, String::new());
    };
    let after = Record {
        rollout: Some(Rollout {
            phase: Phase::Watching,
            weight: Weight::FULL,
            since: now,
            fails: 0,
            tally: None,
            ..*r
        }),
        rolled_back,
        group: record.group,
    };
    let note = format!(
        "; watching it for {} (until {}) against what version {} did during the rollout: a \
         failure reverts to {}",
        format_duration(watch),
        now.plus(watch),
        r.blue,
        r.blue
    );
    (after, note)
}

/// The watch closed with green kept as the stable version.
fn closed(
    alias: &AliasState,
    user: &str,
    record: Record,
    outcome: Outcome,
    reason: String,
) -> Decision {
    let after = Record {
        rollout: None,
        ..record
    };
    Decision::new(outcome, reason).writing(alias_after(alias.stable, alias.canary, user, after))
}

/// A watched promotion, waiting for its metrics.
#[derive(Debug)]
pub(super) struct Watch<'a> {
    alias: AliasState,
    user_text: String,
    record: Record,
    r: Rollout,
    policy: &'a Policy,
    /// When the watch ends.
    ends: UtcTime,
    /// The window reaches the end of the watch: this judgment is the last.
    last: bool,
    /// At least one complete minute is in the window.
    window_open: bool,
    /// "version 3, promoted at ..., watched 5m of 15m"
    at: String,
}

/// A tick's look at a watched promotion: what to read and what judges it,
/// or the decision when there is nothing to read.
pub(super) fn plan<'a>(
    target: &Target,
    alias: &AliasState,
    desc: Description,
    r: Rollout,
    policy: &'a Policy,
    now: UtcTime,
) -> Result<(MetricsRequest, Watch<'a>), Box<Decision>> {
    let Some(watch) = policy.watch_after_promote else {
        // A group's member is kept promoted-and-watched until every member
        // is promoted, whatever its policy says (group::rule_g7_carry).
        let reason = if desc.record.group.is_some() {
            format!(
                "version {} promoted with its group, no watch_after_promote: its part of the \
                 release is done",
                r.green
            )
        } else {
            format!(
                "the policy no longer sets watch_after_promote: the watch of version {} ends, it \
                 stays the stable version",
                r.green
            )
        };
        return Err(Box::new(closed(
            alias,
            &desc.user_text,
            desc.record,
            Outcome::WatchPassed,
            reason,
        )));
    };
    let ends = r.since.plus(watch);
    // Whole minutes: the one the watch ends in is read to its end.
    let ends_minute = if ends.floor_minute() == ends {
        ends
    } else {
        ends.floor_minute().plus(Duration::from_secs(60))
    };
    let start = r.since.floor_minute();
    let lagged = now.minus(policy.metric_lag).floor_minute();
    let end = lagged.min(ends_minute).max(start);
    let fresh_end = now.floor_minute().min(ends_minute).max(end);
    let blue_start = r
        .started
        .floor_minute()
        .max(start.minus(MAX_WINDOW))
        .min(start);
    let at = format!(
        "version {} (promoted at {}, watched {} of {})",
        r.green,
        r.since,
        format_duration(now.since(r.since).min(watch)),
        format_duration(watch)
    );
    if fresh_end <= start && policy.alarms.is_empty() {
        return Err(Box::new(Decision::new(
            Outcome::Held,
            format!(
                "watching {at}: waiting for the first complete minute of metrics (metric_lag {})",
                format_duration(policy.metric_lag)
            ),
        )));
    }
    let windows = Windows {
        start,
        end,
        rollout_start: start,
        fresh_end,
        blue_window: Some((blue_start, start)),
    };
    let request = windows.request(target, r.green, r.blue, policy);
    Ok((
        request,
        Watch {
            alias: alias.clone(),
            user_text: desc.user_text,
            record: desc.record,
            r,
            policy,
            ends,
            last: lagged >= ends_minute,
            window_open: end > start,
            at,
        },
    ))
}

impl Watch<'_> {
    pub(super) fn decide(self, answer: MetricsAnswer<'_>) -> Decision {
        let (r, policy) = (self.r, self.policy);
        let obs = match answer {
            MetricsAnswer::Unavailable(why) => {
                return Decision::new(
                    Outcome::Held,
                    format!(
                        "metrics unavailable, holding the watch of {}: {why}",
                        self.at
                    ),
                )
            }
            MetricsAnswer::Fetched(obs) => obs,
        };
        let verdict = judge_for(obs, r.green, r.blue, policy, false);
        let mut d = match &verdict {
            Verdict::Fail { metric, reason } => {
                let fails = r.fails.saturating_add(1);
                let failed = format!(
                    "watch after promotion: {metric} check failed ({fails} of {}) for {}: {reason}",
                    policy.failure_threshold, self.at
                );
                if fails >= policy.failure_threshold {
                    back_to_blue(
                        Outcome::Reverted,
                        &self.user_text,
                        &r,
                        format!("{failed}; reverted: all traffic back to version {}", r.blue),
                    )
                } else {
                    let after = Record {
                        rollout: Some(Rollout { fails, ..r }),
                        ..self.record
                    };
                    Decision::new(Outcome::Held, format!("{failed}; holding")).writing(alias_after(
                        self.alias.stable,
                        self.alias.canary,
                        &self.user_text,
                        after,
                    ))
                }
            }
            Verdict::Inconclusive { reason, .. }
                if obs.alarms.iter().any(|a| a.state != AlarmState::Ok) =>
            {
                Decision::new(
                    Outcome::Held,
                    format!("holding the watch of {}: {reason}", self.at),
                )
            }
            _ if !self.window_open => Decision::new(
                Outcome::Held,
                format!(
                    "watching {}: waiting for the first complete minute of metrics",
                    self.at
                ),
            ),
            Verdict::Pass { reason } if self.last => closed(
                &self.alias,
                &self.user_text,
                self.record,
                Outcome::WatchPassed,
                format!(
                    "watch over: version {} stays the stable version after {} with no sign of a \
                     regression against version {}: {reason}",
                    r.green,
                    format_duration(self.ends.since(r.since)),
                    r.blue
                ),
            ),
            Verdict::Inconclusive { wait, reason } if self.last => Decision::new(
                Outcome::Held,
                format!(
                    "the watch of {} is over but cannot judge yet, holding it open: {reason}{}; \
                     promote ends it, revert undoes the promotion",
                    self.at,
                    waits_on(*wait)
                ),
            ),
            v => Decision::new(
                Outcome::Held,
                format!(
                    "watching {} until {}: health so far: {}",
                    self.at,
                    self.ends,
                    v.reason()
                ),
            ),
        };
        d.observation = Some(Box::new(obs.clone()));
        d.verdict = Some(verdict);
        d
    }
}
