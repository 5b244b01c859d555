//! The handler: one payload in, one response out. The Lambda runtime and the
//! local CLI both call exactly this.

use serde_json::Value;

use crate::command::{Change, Command, InputError, TargetSpec};
use crate::config::{Config, ConfigError, POLICY_VAR, TARGETS_VAR};
use crate::engine::Manual;
use crate::error::Error;
use crate::executor::{ExecError, Executor};
use crate::idle::IdleBook;
use crate::json::JsonError;
use crate::model::{Target, UtcTime};
use crate::onboarding::{self, Catalog};
use crate::policy::{OnFailure, Policy, PolicySpec};
use crate::ports::{
    AliasRead, AliasWrite, AuditSink, Checks, Discover, MetricsRead, NoAudit, NoChecks, NoDiscovery,
};
use crate::report::{Reported, Response, TargetResult};

/// The largest payload read, in bytes of JSON text: 256 KiB, the most an
/// EventBridge event (our schedule's tick) can carry. A tick for a thousand
/// targets with policies fits, a manual command is a few hundred bytes. Lambda
/// would take up to 6 MB synchronously; reading that much only gives a caller a
/// way to make us parse and hold it.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Counts serialized bytes and stops at the limit, so sizing a huge `Value`
/// costs no more than sizing one at the limit.
struct Bounded(usize);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        if self.0 > MAX_PAYLOAD_BYTES {
            return Err(std::io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A payload's text, its size checked before it is parsed.
pub fn parse_payload(payload: &[u8]) -> Result<Value, Error> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(Error::TooLarge {
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    crate::json::parse(payload).map_err(|e| match e {
        JsonError::Syntax(e) => Error::NotJson(e),
        duplicate => Error::DuplicateKey(duplicate),
    })
}

/// Where the Embedded Metric Format line of each decision goes.
pub type LineSink = Box<dyn Fn(&str) + Send + Sync>;

pub struct Handler<S, M, A = NoAudit, C = NoChecks, D = NoDiscovery> {
    pub executor: Executor<S, M, C>,
    pub config: Config,
    pub audit: A,
    /// Each decision carried out, as an EMF line (`emf.rs`); none: no lines.
    pub emf: Option<LineSink>,
    /// The functions onboarded by tag (`onboarding.rs`); none: configured
    /// targets only.
    pub catalog: Option<Catalog<D>>,
    /// Which idle targets a tick reads (`idle.rs`); none: every target,
    /// every tick.
    pub idle: Option<IdleBook>,
}

impl<S, M, C> Handler<S, M, NoAudit, C> {
    pub fn new(executor: Executor<S, M, C>, config: Config) -> Self {
        Self {
            executor,
            config,
            audit: NoAudit,
            emf: None,
            catalog: None,
            idle: None,
        }
    }
}

impl<S, M, A, C, D> Handler<S, M, A, C, D> {
    /// Announces every transition to `audit` as well as in the log.
    pub fn with_audit<B: AuditSink>(self, audit: B) -> Handler<S, M, B, C, D> {
        Handler {
            executor: self.executor,
            config: self.config,
            audit,
            emf: self.emf,
            catalog: self.catalog,
            idle: self.idle,
        }
    }

    /// Also manages every function that `source` finds tagged
    /// `lambda-rollout:alias`, found again at most every `interval`; none:
    /// the configured targets only.
    pub fn with_onboarding<E: Discover>(
        self,
        source: Option<E>,
        interval: std::time::Duration,
    ) -> Handler<S, M, A, C, E> {
        Handler {
            executor: self.executor,
            config: self.config,
            audit: self.audit,
            emf: self.emf,
            catalog: source.map(|s| Catalog::new(s, interval, crate::config::policy_text)),
            idle: self.idle,
        }
    }

    /// A target found idle is read again every `every` ticks (1: every
    /// tick), at once when an event says its function changed.
    pub fn with_idle_reads(self, every: u32) -> Self {
        Self {
            idle: Some(IdleBook::new(every)),
            ..self
        }
    }

    /// Writes every decision carried out (not a dry run) to `sink` as one
    /// Embedded Metric Format line: the Lambda's standard output.
    pub fn with_emf(self, sink: LineSink) -> Self {
        Self {
            emf: Some(sink),
            ..self
        }
    }
}

impl<S, M, A, C, D> Handler<S, M, A, C, D>
where
    S: AliasRead + AliasWrite,
    M: MetricsRead,
    A: AuditSink,
    C: Checks,
    D: Discover,
{
    /// The payload as text (the Lambda runtime and the CLI).
    pub async fn handle_bytes(&self, payload: &[u8], now: UtcTime) -> Result<Response, Error> {
        self.handle(&parse_payload(payload)?, now).await
    }

    /// The payload already parsed; the same size limit applies to its JSON.
    /// Every transition is then announced to the audit sink; failing to
    /// announce is logged and changes nothing: the alias is already written.
    pub async fn handle(&self, payload: &Value, now: UtcTime) -> Result<Response, Error> {
        let out = self.decide(payload, now).await;
        let transitions: Vec<TargetResult> = match &out {
            Ok(r) => r
                .results
                .iter()
                .filter(|t| t.is_transition())
                .cloned()
                .collect(),
            // A manual command that lost the race twice: a conflict to announce.
            Err(e @ Error::Conflict { target }) => vec![TargetResult::failed(
                target,
                Reported::Conflict,
                None,
                e.to_string(),
                false,
            )],
            Err(_) => Vec::new(),
        };
        if !transitions.is_empty() {
            if let Err(e) = self.audit.emit(&transitions).await {
                tracing::warn!(error = %e, events = transitions.len(), "audit events not emitted; the transitions stand");
            }
        }
        // Last, so that the metrics line ends the invocation's log.
        if let (Some(sink), Ok(r)) = (&self.emf, &out) {
            for line in r.results.iter().filter_map(|t| crate::emf::line(t, now)) {
                sink(&line);
            }
        }
        out
    }

    async fn decide(&self, payload: &Value, now: UtcTime) -> Result<Response, Error> {
        if serde_json::to_writer(Bounded(0), payload).is_err() {
            return Err(Error::TooLarge {
                limit: MAX_PAYLOAD_BYTES,
            });
        }
        match Command::parse(payload)? {
            Command::Tick { targets, dry_run } => self.tick(targets, None, dry_run, now).await,
            Command::Changed { function, change } => {
                // Read at once, whatever this instance remembered of it.
                let woken = self.idle.as_ref().map_or(0, |i| i.wake(&function));
                if let (Change::Tags, Some(catalog)) = (change, &self.catalog) {
                    catalog.expire().await;
                }
                tracing::info!(function = %function, ?change, woken, "a Lambda API call changed a function");
                match self.tick(None, Some(&function), false, now).await {
                    // No target at all: not this orchestrator's function.
                    Err(Error::Config(e))
                        if e.var == TARGETS_VAR
                            && self.config.configured().is_ok_and(|c| c.is_empty()) =>
                    {
                        Ok(Response::of(Vec::new()))
                    }
                    other => other,
                }
            }
            Command::Manual {
                target,
                action,
                policy,
                dry_run,
            } => {
                // Only start and resume need the policy: the others must work
                // even when the configured one is broken (then with defaults).
                let policy = match self.policy_for(&target, &policy, now).await {
                    Ok(p) => p,
                    Err(e) if action.needs_policy() => return Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "the policy does not resolve; the command goes on with the defaults");
                        Policy::defaults()
                    }
                };
                let r = self
                    .executor
                    .command(&target, &action, &policy, now, dry_run)
                    .await?;
                Ok(Response::of(vec![r]))
            }
            Command::Status { target, policy } => {
                let policy = self.policy_for(&target, &policy, now).await?;
                let r = self.executor.status(&target, &policy, now).await?;
                Ok(Response::of(vec![r]))
            }
            Command::Alarm { name, state } => self.alarm(&name, &state, now).await,
            Command::RunCheck {
                target,
                due,
                policy,
            } => {
                // The policy the check began under, as the dispatcher wrote it.
                let policy = PolicySpec::resolve(&[&policy])?;
                let r = self.executor.run_check(&target, &due, &policy, now).await?;
                Ok(Response::of(vec![r]))
            }
        }
    }

    /// An alarm changed state. The targets it gates are the configured ones
    /// whose policy (their own, else the environment's) names it in `alarms`:
    /// the same list a tick reads, so an alarm rolls back (or, on_failure
    /// pause, pauses) at once exactly what the next tick would have; a
    /// watched promotion is reverted. Anything but `ALARM` changes nothing; the
    /// ticks judge the rest.
    async fn alarm(&self, name: &str, state: &str, now: UtcTime) -> Result<Response, Error> {
        let env = self.config.policy()?;
        let (managed, _, _) = self.managed(now).await?;
        let gated: Vec<&TargetSpec> = managed
            .iter()
            .filter(|s| {
                s.policy
                    .alarms
                    .as_ref()
                    .or(env.alarms.as_ref())
                    .is_some_and(|alarms| alarms.iter().any(|a| a == name))
            })
            .collect();
        tracing::info!(
            alarm = name,
            state,
            targets = gated.len(),
            "alarm state change"
        );
        if state != "ALARM" {
            return Ok(Response::of(Vec::new()));
        }
        let reason = format!("alarm {name:?} went to ALARM");
        let mut results = Vec::with_capacity(gated.len());
        for spec in gated {
            let target = &spec.target;
            // A rollback needs no policy: a broken one must not stop it. One
            // that resolves may say on_failure pause: freeze, for a human.
            // (The managed list is at hand: one lookup a target, not a merge.)
            let policy =
                PolicySpec::resolve(&[&spec.policy, env]).unwrap_or_else(|_| Policy::defaults());
            let reason = Some(reason.clone());
            let action = match policy.on_failure {
                OnFailure::Pause => Manual::Pause { reason },
                OnFailure::Rollback => Manual::Rollback { reason },
            };
            let r = match self
                .executor
                .command(target, &action, &policy, now, false)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    let decision = if matches!(e, ExecError::Conflict { .. }) {
                        Reported::Conflict
                    } else {
                        Reported::Error
                    };
                    TargetResult::failed(target, decision, None, e.to_string(), false)
                }
            };
            results.push(r);
        }
        Ok(Response::of(results))
    }

    /// A tick over `given` targets, else over the managed ones (of
    /// `function` alone, for an event). Of the managed, a target found idle
    /// is read only when due (`idle.rs`); given targets and dry runs are
    /// always read: someone is looking.
    async fn tick(
        &self,
        given: Option<Vec<TargetSpec>>,
        function: Option<&str>,
        dry_run: bool,
        now: UtcTime,
    ) -> Result<Response, Error> {
        let env_policy = self.config.policy()?;
        let from_payload = given.is_some();
        let (specs, onboarded, refused) = match given {
            Some(t) => (t, 0, Vec::new()),
            None => self.managed(now).await?,
        };
        let wanted = |f: &str| function.is_none_or(|only| only == f);
        // Every policy is validated before anything is read or written,
        // and a bad one is reported against where it came from: a team's
        // own (onboarded) only for its function.
        let configured = specs.len() - onboarded;
        let mut refused: Vec<TargetResult> = refused
            .into_iter()
            .filter(|r| wanted(&r.function))
            .collect();
        let mut resolved = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            if !wanted(&s.target.function) {
                continue;
            }
            match PolicySpec::resolve(&[&s.policy, env_policy]) {
                Ok(p) => resolved.push((s.target.clone(), p)),
                Err(e) if i >= configured => refused.push(TargetResult::failed(
                    &s.target,
                    Reported::Error,
                    None,
                    format!("its policy parameter over {POLICY_VAR}: {e}"),
                    dry_run,
                )),
                Err(e) => {
                    let message = format!("targets[{i}] ({}): {e}", s.target);
                    return Err(if from_payload {
                        Error::Input(InputError(message))
                    } else {
                        Error::Config(ConfigError {
                            var: TARGETS_VAR,
                            message,
                        })
                    });
                }
            }
        }
        // What the reads find is remembered for the managed targets; an
        // event's own reads are not a tick, so they do not count as one.
        let idle = self.idle.as_ref().filter(|_| !from_payload && !dry_run);
        let mut not_read = 0;
        if let Some(idle) = idle.filter(|_| function.is_none()) {
            let targets: Vec<Target> = resolved.iter().map(|(t, _)| t.clone()).collect();
            let due = idle.due(&targets);
            let before = resolved.len();
            let mut due = due.into_iter();
            resolved.retain(|_| due.next().unwrap_or(true));
            not_read = before - resolved.len();
        }
        let mut results = self.executor.tick(&resolved, now, dry_run).await;
        if let Some(idle) = idle {
            idle.record(&results);
            if not_read > 0 {
                tracing::info!(
                    not_read,
                    every = idle.every(),
                    "idle targets not read this tick"
                );
            }
        }
        for r in &mut refused {
            r.dry_run = dry_run;
            crate::executor::log(r);
        }
        results.extend(refused);
        Ok(Response { results, not_read })
    }

    /// The policy a tick would judge `target` by: its configured (or its
    /// team's) one over the environment's.
    pub async fn policy_of(&self, target: &Target, now: UtcTime) -> Result<Policy, Error> {
        self.policy_for(target, &PolicySpec::default(), now).await
    }

    /// The payload's policy over the managed target's over the environment's.
    async fn policy_for(
        &self,
        target: &Target,
        own: &PolicySpec,
        now: UtcTime,
    ) -> Result<Policy, Error> {
        let env = self.config.policy()?;
        let managed = match self.managed(now).await {
            Ok((m, _, _)) => m,
            Err(_) => Vec::new(),
        };
        let theirs = managed
            .into_iter()
            .find(|t| t.target == *target)
            .map(|t| t.policy)
            .unwrap_or_default();
        Ok(PolicySpec::resolve(&[own, &theirs, env])?)
    }

    /// The targets a tick manages without being told: the configured ones,
    /// then those onboarded by tag (how many), and the tagged functions
    /// refused (README, Onboarding). None at all is an error that says how to
    /// have some.
    async fn managed(
        &self,
        now: UtcTime,
    ) -> Result<(Vec<TargetSpec>, usize, Vec<TargetResult>), Error> {
        let configured = self.config.configured()?;
        let Some(catalog) = &self.catalog else {
            return Ok((self.config.targets()?.to_vec(), 0, Vec::new()));
        };
        let found = catalog.current(now).await;
        let (targets, refused) = onboarding::merge(configured, &found);
        if targets.is_empty() && refused.is_empty() {
            return Err(Error::Config(ConfigError {
                var: TARGETS_VAR,
                message: format!(
                    "no targets: none configured and no function tagged {}; tag one \
                     (README, Onboarding) or set {TARGETS_VAR}",
                    onboarding::ALIAS_TAG
                ),
            }));
        }
        let onboarded = targets.len() - configured.len();
        Ok((targets, onboarded, refused))
    }
}
