//! The handler: one payload in, one response out. The Lambda runtime and the
//! local CLI both call exactly this.

use serde_json::Value;

use crate::command::{Command, InputError};
use crate::config::{Config, ConfigError, TARGETS_VAR};
use crate::engine::Manual;
use crate::error::Error;
use crate::executor::{ExecError, Executor};
use crate::json::JsonError;
use crate::model::{Target, UtcTime};
use crate::policy::{OnFailure, Policy, PolicySpec};
use crate::ports::{AliasRead, AliasWrite, AuditSink, Checks, MetricsRead, NoAudit, NoChecks};
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

pub struct Handler<S, M, A = NoAudit, C = NoChecks> {
    pub executor: Executor<S, M, C>,
    pub config: Config,
    pub audit: A,
    /// Each decision carried out, as an EMF line (`emf.rs`); none: no lines.
    pub emf: Option<LineSink>,
}

impl<S, M, C> Handler<S, M, NoAudit, C> {
    pub fn new(executor: Executor<S, M, C>, config: Config) -> Self {
        Self {
            executor,
            config,
            audit: NoAudit,
            emf: None,
        }
    }
}

impl<S, M, A, C> Handler<S, M, A, C> {
    /// Announces every transition to `audit` as well as in the log.
    pub fn with_audit<B: AuditSink>(self, audit: B) -> Handler<S, M, B, C> {
        Handler {
            executor: self.executor,
            config: self.config,
            audit,
            emf: self.emf,
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

impl<S, M, A, C> Handler<S, M, A, C>
where
    S: AliasRead + AliasWrite,
    M: MetricsRead,
    A: AuditSink,
    C: Checks,
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
            Command::Tick { targets, dry_run } => {
                let env_policy = self.config.policy()?;
                let configured = targets.is_none();
                let specs = match targets {
                    Some(t) => t,
                    None => self.config.targets()?.to_vec(),
                };
                // Every policy is validated before anything is read or written,
                // and a bad one is reported against where it came from.
                let mut resolved = Vec::with_capacity(specs.len());
                for (i, s) in specs.iter().enumerate() {
                    let p = PolicySpec::resolve(&[&s.policy, env_policy]).map_err(|e| {
                        let message = format!("targets[{i}] ({}): {e}", s.target);
                        if configured {
                            Error::Config(ConfigError {
                                var: TARGETS_VAR,
                                message,
                            })
                        } else {
                            Error::Input(InputError(message))
                        }
                    })?;
                    resolved.push((s.target.clone(), p));
                }
                let results = self.executor.tick(&resolved, now, dry_run).await;
                Ok(Response { results })
            }
            Command::Manual {
                target,
                action,
                policy,
                dry_run,
            } => {
                // Only start and resume need the policy: the others must work
                // even when the configured one is broken (then with defaults).
                let policy = match self.policy_for(&target, &policy) {
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
                Ok(Response { results: vec![r] })
            }
            Command::Status { target, policy } => {
                let policy = self.policy_for(&target, &policy)?;
                let r = self.executor.status(&target, &policy, now).await?;
                Ok(Response { results: vec![r] })
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
                Ok(Response { results: vec![r] })
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
        let gated: Vec<Target> = self
            .config
            .targets()?
            .iter()
            .filter(|s| {
                s.policy
                    .alarms
                    .as_ref()
                    .or(env.alarms.as_ref())
                    .is_some_and(|alarms| alarms.iter().any(|a| a == name))
            })
            .map(|s| s.target.clone())
            .collect();
        tracing::info!(
            alarm = name,
            state,
            targets = gated.len(),
            "alarm state change"
        );
        if state != "ALARM" {
            return Ok(Response { results: vec![] });
        }
        let reason = format!("alarm {name:?} went to ALARM");
        let mut results = Vec::with_capacity(gated.len());
        for target in gated {
            // A rollback needs no policy: a broken one must not stop it. One
            // that resolves may say on_failure pause: freeze, for a human.
            let policy = self
                .policy_for(&target, &PolicySpec::default())
                .unwrap_or_else(|_| Policy::defaults());
            let reason = Some(reason.clone());
            let action = match policy.on_failure {
                OnFailure::Pause => Manual::Pause { reason },
                OnFailure::Rollback => Manual::Rollback { reason },
            };
            let r = match self
                .executor
                .command(&target, &action, &policy, now, false)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    let decision = if matches!(e, ExecError::Conflict { .. }) {
                        Reported::Conflict
                    } else {
                        Reported::Error
                    };
                    TargetResult::failed(&target, decision, None, e.to_string(), false)
                }
            };
            results.push(r);
        }
        Ok(Response { results })
    }

    /// The policy a tick would judge `target` by: its configured one over
    /// the environment's.
    pub fn policy_of(&self, target: &Target) -> Result<Policy, Error> {
        self.policy_for(target, &PolicySpec::default())
    }

    /// The payload's policy over the configured target's over the environment's.
    fn policy_for(&self, target: &Target, own: &PolicySpec) -> Result<Policy, Error> {
        let env = self.config.policy()?;
        let configured = self
            .config
            .targets()
            .ok()
            .and_then(|ts| ts.iter().find(|t| t.target == *target))
            .map(|t| t.policy.clone())
            .unwrap_or_default();
        Ok(PolicySpec::resolve(&[own, &configured, env])?)
    }
}
