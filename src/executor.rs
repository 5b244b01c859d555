//! The one place that writes. It reads aliases, batches the metrics the engine
//! asks for, and applies each decision with a `RevisionId` compare-and-swap. On a
//! conflict it re-reads and decides again once; a second conflict is reported,
//! never overwritten.

use futures_util::stream::{self, StreamExt};

use crate::engine::{
    self, AliasState, Decision, Manual, Metrics, MetricsRequest, Refusal, TickStep,
};
use crate::error::Error;
use crate::model::{Target, UtcTime};
use crate::policy::Policy;
use crate::ports::{AliasRead, AliasSnapshot, AliasWrite, MetricsRead, StoreError};
use crate::report::TargetResult;

pub struct Executor<S, M> {
    pub store: S,
    pub metrics: M,
    /// Targets read and written at once in a tick.
    pub concurrency: usize,
}

/// Lambda's control plane allows about 15 requests a second per account and
/// region (GetAlias and UpdateAlias included): 8 in flight keeps a tick fast
/// without living on the throttling limit.
pub const DEFAULT_CONCURRENCY: usize = 8;

enum Pending {
    Done(TargetResult),
    Ready(AliasSnapshot, Decision),
    Needs(AliasSnapshot, MetricsRequest),
}

/// A target's second phase: its metrics, if it waited for them, are at hand.
enum Next<'a> {
    Done(TargetResult),
    Apply(AliasSnapshot, Decision),
    Judge(AliasSnapshot, Metrics<'a>),
}

fn log(r: &TargetResult) {
    let stable = r.stable.map(|v| v.to_string());
    let canary = r.canary.map(|v| v.to_string());
    tracing::info!(
        function = %r.function,
        alias = %r.alias,
        decision = r.decision,
        stable = stable.as_deref(),
        canary = canary.as_deref(),
        weight_before = r.weight_before.percent(),
        weight_after = r.weight_after.percent(),
        dry_run = r.dry_run,
        reason = %r.reason,
        "decision"
    );
}

impl<S, M> Executor<S, M>
where
    S: AliasRead + AliasWrite,
    M: MetricsRead,
{
    pub fn new(store: S, metrics: M) -> Self {
        Self {
            store,
            metrics,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    pub fn with_concurrency(self, concurrency: usize) -> Self {
        Self {
            concurrency: concurrency.max(1),
            ..self
        }
    }

    /// One tick over many targets. Targets are independent: one that fails is
    /// reported as `error` (or `conflict`) and the others go on. Alias reads
    /// and writes run `concurrency` at a time (Lambda's control plane is rate
    /// limited; the SDK's adaptive retry slows down on throttling), the
    /// metrics of every target in one batched call between them.
    pub async fn tick(
        &self,
        targets: &[(Target, Policy)],
        now: UtcTime,
        dry_run: bool,
    ) -> Vec<TargetResult> {
        let n = self.concurrency.max(1);
        let pending: Vec<Pending> = stream::iter(targets)
            .map(|(t, p)| self.read_and_look(t, p, now, dry_run))
            .buffered(n)
            .collect()
            .await;

        let requests: Vec<MetricsRequest> = pending
            .iter()
            .filter_map(|p| match p {
                Pending::Needs(_, r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        let observed = if requests.is_empty() {
            Ok(Vec::new())
        } else {
            match self.metrics.observe(&requests).await {
                Ok(all) if all.len() != requests.len() => Err(format!(
                    "{} observations for {} targets",
                    all.len(),
                    requests.len()
                )),
                answer => answer.map_err(|e| e.to_string()),
            }
        };
        if let Err(e) = &observed {
            tracing::warn!(error = %e, targets = requests.len(), "metrics unavailable; those targets hold");
        }
        // Each waiting target's observation, in the order they were asked for.
        let (mut observations, unavailable) = match &observed {
            Ok(all) => (all.iter(), ""),
            Err(e) => ([].iter(), e.as_str()),
        };
        let work: Vec<(&(Target, Policy), Next<'_>)> = targets
            .iter()
            .zip(pending)
            .map(|(tp, item)| {
                let next = match item {
                    Pending::Done(r) => Next::Done(r),
                    Pending::Ready(snap, d) => Next::Apply(snap, d),
                    Pending::Needs(snap, _) => Next::Judge(
                        snap,
                        observations
                            .next()
                            .map_or(Metrics::Unavailable(unavailable), Metrics::Fetched),
                    ),
                };
                (tp, next)
            })
            .collect();

        stream::iter(work)
            .map(|((t, p), next)| async move {
                let result = match next {
                    Next::Done(r) => r,
                    Next::Apply(snap, d) => self.apply_tick(t, p, snap, d, now, dry_run).await,
                    Next::Judge(snap, m) => match decided(t, &snap.state, p, now, m) {
                        Ok(d) => self.apply_tick(t, p, snap, d, now, dry_run).await,
                        Err(r) => TargetResult::failed(t, "error", Some(&snap.state), r.0, dry_run),
                    },
                };
                log(&result);
                result
            })
            .buffered(n)
            .collect()
            .await
    }

    /// A target's alias read and the engine's first look at it.
    async fn read_and_look(&self, t: &Target, p: &Policy, now: UtcTime, dry_run: bool) -> Pending {
        match self.store.read_alias(t).await {
            Err(e) => Pending::Done(TargetResult::failed(
                t,
                "error",
                None,
                e.to_string(),
                dry_run,
            )),
            Ok(snap) => match self.first_pass(t, &snap.state, p, now).await {
                Err(reason) => Pending::Done(TargetResult::failed(
                    t,
                    "error",
                    Some(&snap.state),
                    reason,
                    dry_run,
                )),
                Ok(TickStep::Decided(d)) => Pending::Ready(snap, d),
                Ok(TickStep::NeedMetrics(req)) => Pending::Needs(snap, req),
                Ok(TickStep::NeedVersions) => Pending::Done(TargetResult::failed(
                    t,
                    "error",
                    Some(&snap.state),
                    "internal: versions were supplied but asked for again".into(),
                    dry_run,
                )),
            },
        }
    }

    /// What the next tick would do for one target; writes nothing.
    pub async fn status(
        &self,
        target: &Target,
        policy: &Policy,
        now: UtcTime,
    ) -> Result<TargetResult, Error> {
        let snap = self.read(target).await?;
        let d = self
            .decide_alone(target, policy, &snap.state, now)
            .await
            .map_err(|source| Error::Refused {
                target: target.clone(),
                source,
            })?;
        let r = TargetResult::decided(target, &snap.state, &d, true);
        log(&r);
        Ok(r)
    }

    /// A manual command: decide, write with compare-and-swap, retry once.
    pub async fn command(
        &self,
        target: &Target,
        manual: &Manual,
        policy: &Policy,
        now: UtcTime,
        dry_run: bool,
    ) -> Result<TargetResult, Error> {
        for attempt in 0..2 {
            let snap = self.read(target).await?;
            let versions = match manual {
                Manual::Start { .. } => self
                    .store
                    .published_versions(&target.function)
                    .await
                    .map_err(|source| Error::Store {
                        target: target.clone(),
                        source,
                    })?,
                _ => Vec::new(),
            };
            let d =
                engine::command(manual, &snap.state, policy, now, &versions).map_err(|source| {
                    Error::Refused {
                        target: target.clone(),
                        source,
                    }
                })?;
            match self.write(target, &snap, &d, dry_run).await {
                Ok(()) => {
                    let r = TargetResult::decided(target, &snap.state, &d, dry_run);
                    log(&r);
                    return Ok(r);
                }
                Err(StoreError::Conflict { .. }) if attempt == 0 => {
                    tracing::info!(function = %target.function, alias = %target.alias, "alias changed under us; re-reading once");
                }
                Err(StoreError::Conflict { .. }) => {
                    return Err(Error::Conflict {
                        target: target.clone(),
                    })
                }
                Err(source) => {
                    return Err(Error::Store {
                        target: target.clone(),
                        source,
                    })
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    async fn read(&self, target: &Target) -> Result<AliasSnapshot, Error> {
        self.store
            .read_alias(target)
            .await
            .map_err(|source| Error::Store {
                target: target.clone(),
                source,
            })
    }

    /// The engine's first look at a target, with the published versions fetched
    /// if it asks for them (`auto_start`): what is left is a decision or a
    /// metrics request.
    async fn first_pass(
        &self,
        target: &Target,
        state: &AliasState,
        policy: &Policy,
        now: UtcTime,
    ) -> Result<TickStep, String> {
        match engine::tick(target, state, policy, now, Metrics::NotFetched, None) {
            Ok(TickStep::NeedVersions) => {
                let versions = self
                    .store
                    .published_versions(&target.function)
                    .await
                    .map_err(|e| format!("auto_start: cannot list versions: {e}"))?;
                engine::tick(
                    target,
                    state,
                    policy,
                    now,
                    Metrics::NotFetched,
                    Some(&versions),
                )
                .map_err(|r| r.0)
            }
            other => other.map_err(|r| r.0),
        }
    }

    /// Decides one target on its own, fetching what the engine asks for.
    async fn decide_alone(
        &self,
        target: &Target,
        policy: &Policy,
        state: &AliasState,
        now: UtcTime,
    ) -> Result<Decision, Refusal> {
        match self
            .first_pass(target, state, policy, now)
            .await
            .map_err(Refusal)?
        {
            TickStep::Decided(d) => Ok(d),
            TickStep::NeedMetrics(req) => {
                match self.metrics.observe(std::slice::from_ref(&req)).await {
                    Ok(obs) => decided(target, state, policy, now, Metrics::Fetched(&obs[0])),
                    Err(e) => decided(
                        target,
                        state,
                        policy,
                        now,
                        Metrics::Unavailable(&e.to_string()),
                    ),
                }
            }
            TickStep::NeedVersions => Err(Refusal("internal: versions asked for twice".into())),
        }
    }

    async fn apply_tick(
        &self,
        t: &Target,
        p: &Policy,
        snap: AliasSnapshot,
        d: Decision,
        now: UtcTime,
        dry_run: bool,
    ) -> TargetResult {
        let e = match self.write(t, &snap, &d, dry_run).await {
            Ok(()) => return TargetResult::decided(t, &snap.state, &d, dry_run),
            Err(e) => e,
        };
        if !matches!(e, StoreError::Conflict { .. }) {
            return write_failed(t, &snap.state, &d, &e, dry_run);
        }
        // Someone changed the alias between our read and our write: decide again
        // on what is there now, once.
        tracing::info!(function = %t.function, alias = %t.alias, "alias changed under us; re-reading once");
        let snap = match self.store.read_alias(t).await {
            Ok(s) => s,
            Err(e) => return TargetResult::failed(t, "error", None, e.to_string(), dry_run),
        };
        let d = match self.decide_alone(t, p, &snap.state, now).await {
            Ok(d) => d,
            Err(r) => return TargetResult::failed(t, "error", Some(&snap.state), r.0, dry_run),
        };
        match self.write(t, &snap, &d, dry_run).await {
            Ok(()) => TargetResult::decided(t, &snap.state, &d, dry_run),
            Err(StoreError::Conflict { .. }) => TargetResult::failed(
                t,
                "conflict",
                Some(&snap.state),
                format!(
                    "the alias changed twice while this tick applied \"{}\"; nothing was written, \
                     the next tick decides again",
                    d.outcome.label()
                ),
                dry_run,
            ),
            Err(e) => write_failed(t, &snap.state, &d, &e, dry_run),
        }
    }

    async fn write(
        &self,
        t: &Target,
        snap: &AliasSnapshot,
        d: &Decision,
        dry_run: bool,
    ) -> Result<(), StoreError> {
        match &d.write {
            Some(after) if !dry_run && *after != snap.state => self
                .store
                .write_alias(t, after, &snap.revision)
                .await
                .map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// A write that failed for a reason other than a conflict. With compare-and-swap
/// the alias is either as read or as decided; the next tick reads which.
fn write_failed(
    t: &Target,
    state: &AliasState,
    d: &Decision,
    e: &StoreError,
    dry_run: bool,
) -> TargetResult {
    TargetResult::failed(
        t,
        "error",
        Some(state),
        format!(
            "{}: write not applied: {e}; the next tick re-reads the alias",
            d.outcome.label()
        ),
        dry_run,
    )
}

fn decided(
    t: &Target,
    state: &AliasState,
    p: &Policy,
    now: UtcTime,
    m: Metrics<'_>,
) -> Result<Decision, Refusal> {
    match engine::tick(t, state, p, now, m, None)? {
        TickStep::Decided(d) => Ok(d),
        TickStep::NeedMetrics(_) | TickStep::NeedVersions => Err(Refusal(
            "internal: metrics were supplied but more was asked for".into(),
        )),
    }
}
