//! The handler: one payload in, one response out. The Lambda runtime and the
//! local CLI both call exactly this.

use serde_json::Value;

use crate::command::{Command, InputError};
use crate::config::Config;
use crate::engine::Manual;
use crate::error::Error;
use crate::executor::Executor;
use crate::model::{Target, UtcTime};
use crate::policy::{Policy, PolicySpec};
use crate::ports::{AliasRead, AliasWrite, MetricsRead};
use crate::report::Response;

pub struct Handler<S, M> {
    pub executor: Executor<S, M>,
    pub config: Config,
}

impl<S, M> Handler<S, M>
where
    S: AliasRead + AliasWrite,
    M: MetricsRead,
{
    pub fn new(executor: Executor<S, M>, config: Config) -> Self {
        Self { executor, config }
    }

    pub async fn handle(&self, payload: &Value, now: UtcTime) -> Result<Response, Error> {
        match Command::parse(payload)? {
            Command::Tick { targets, dry_run } => {
                let env_policy = self.config.policy()?;
                let specs = match targets {
                    Some(t) => t,
                    None => self.config.targets()?.to_vec(),
                };
                // Every policy is validated before anything is read or written.
                let mut resolved = Vec::with_capacity(specs.len());
                for (i, s) in specs.iter().enumerate() {
                    let p = PolicySpec::resolve(&[&s.policy, env_policy])
                        .map_err(|e| InputError(format!("targets[{i}] ({}): {e}", s.target)))?;
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
                // Promote, rollback and pause need no policy: they must work even
                // when the configured one is broken.
                let policy = match action {
                    Manual::Start { .. } | Manual::Resume => self.policy_for(&target, &policy)?,
                    _ => Policy::defaults(),
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
        }
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
