//! Ports: what the executor needs from the outside world, named by capability.
//! The AWS adapters in `aws/` implement them; tests implement them in memory.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

use crate::engine::{AliasState, Invoked, MetricsRequest, Observation, PublishedVersion};
use crate::model::Target;
use crate::report::TargetResult;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An alias as read, with the `RevisionId` that guards the next write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasSnapshot {
    pub state: AliasState,
    pub revision: String,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{message}")]
    NotFound {
        message: String,
        #[source]
        source: BoxError,
    },
    /// The alias changed since it was read (`PreconditionFailedException`).
    #[error("the alias changed since it was read (RevisionId mismatch)")]
    Conflict {
        #[source]
        source: BoxError,
    },
    #[error("the Lambda API is throttling requests; the next tick retries")]
    Throttled {
        #[source]
        source: BoxError,
    },
    #[error("Lambda refused the change: {message}")]
    Rejected {
        message: String,
        #[source]
        source: BoxError,
    },
    /// The alias holds something lambda-rollout cannot manage.
    #[error("{0}")]
    Unmanageable(String),
    #[error("the Lambda API call failed: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: BoxError,
    },
}

/// A metrics read that failed. Clone: one failed call is the answer of every
/// request whose queries it carried, and each keeps the cause.
#[derive(Debug, Clone, Error)]
#[error("CloudWatch GetMetricData failed: {message}")]
pub struct MetricsError {
    pub message: String,
    #[source]
    pub source: std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>,
}

pub trait AliasRead: Send + Sync {
    fn read_alias(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<AliasSnapshot, StoreError>> + Send;

    /// Every published version of the target's function (not `$LATEST`).
    fn published_versions(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Vec<PublishedVersion>, StoreError>> + Send;
}

pub trait AliasWrite: Send + Sync {
    /// Writes the whole alias (stable version, routing, description) only if its
    /// `RevisionId` is still `revision`; returns the new `RevisionId`.
    fn write_alias(
        &self,
        target: &Target,
        alias: &AliasState,
        revision: &str,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
}

pub trait MetricsRead: Send + Sync {
    /// One answer per request, in order, read in as few calls as possible.
    /// A call that fails is the answer of the requests whose queries it
    /// carried, not of the others.
    fn observe(
        &self,
        requests: &[MetricsRequest],
    ) -> impl Future<Output = Vec<Result<Observation, MetricsError>>> + Send;
}

/// A function as the tagging API answered: its ARN and the tags it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub arn: String,
    pub tags: Vec<(String, String)>,
}

impl Tagged {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A parameter's text; None: it does not exist.
pub type ParameterText = Option<String>;

/// Finding the tagged functions, or their policies, failed.
#[derive(Debug, Clone, Error)]
#[error("{call} failed: {message}")]
pub struct DiscoveryError {
    pub call: &'static str,
    pub message: String,
    #[source]
    pub source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl DiscoveryError {
    pub fn new(call: &'static str, message: impl Into<String>) -> Self {
        Self {
            call,
            message: message.into(),
            source: None,
        }
    }
}

/// Where self-service onboarding looks (`onboarding.rs`): the functions that
/// carry a tag, and the teams' policy parameters.
pub trait Discover: Send + Sync {
    /// Every function of this account and region that carries the tag `key`,
    /// with all its tags.
    fn tagged(&self, key: &str)
        -> impl Future<Output = Result<Vec<Tagged>, DiscoveryError>> + Send;

    /// Each parameter's text by name; None for one that does not exist.
    fn parameters(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<HashMap<String, ParameterText>, DiscoveryError>> + Send;
}

/// No onboarding by tag: nothing is ever tagged.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDiscovery;

impl Discover for NoDiscovery {
    async fn tagged(&self, _: &str) -> Result<Vec<Tagged>, DiscoveryError> {
        Ok(Vec::new())
    }

    async fn parameters(
        &self,
        _: &[String],
    ) -> Result<HashMap<String, ParameterText>, DiscoveryError> {
        Ok(HashMap::new())
    }
}

#[derive(Debug, Error)]
#[error("audit events not emitted: {message}")]
pub struct AuditError {
    pub message: String,
    #[source]
    pub source: Option<BoxError>,
}

/// Where transitions are announced (an EventBridge bus), besides the log.
pub trait AuditSink: Send + Sync {
    /// One event per transition, in as few calls as possible.
    fn emit(
        &self,
        transitions: &[TargetResult],
    ) -> impl Future<Output = Result<(), AuditError>> + Send;
}

/// No audit events: the log line only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    async fn emit(&self, _: &[TargetResult]) -> Result<(), AuditError> {
        Ok(())
    }
}

#[derive(Debug, Error)]
pub enum InvokeError {
    /// No answer within the time given: the function may still be running.
    #[error("no answer within {0}")]
    TimedOut(String),
    #[error("the Lambda Invoke call failed: {message}")]
    Failed {
        message: String,
        #[source]
        source: BoxError,
    },
    /// This executor cannot run checks (simulate, the tests without them).
    #[error("pre- and post-traffic checks are not set up here")]
    NotSetUp,
}

/// Runs the pre- and post-traffic checks: elsewhere (`dispatch`, so that a
/// tick never waits for a hook), and there (`invoke`, the check's own
/// invocation calling the hook or green).
pub trait Checks: Send + Sync {
    /// Hands a `run_check` payload to an invocation of its own and returns
    /// once it is accepted.
    fn dispatch(&self, payload: &Value) -> impl Future<Output = Result<(), InvokeError>> + Send;

    /// Invokes `function` (at `qualifier`) synchronously, waiting at most
    /// `timeout` for its answer.
    fn invoke(
        &self,
        function: &str,
        qualifier: Option<&str>,
        payload: &Value,
        timeout: Duration,
    ) -> impl Future<Output = Result<Invoked, InvokeError>> + Send;
}

/// No checks: a policy that sets one is refused its dispatch, and the check
/// then times out (as in a tick that lost its runner).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoChecks;

impl Checks for NoChecks {
    async fn dispatch(&self, _: &Value) -> Result<(), InvokeError> {
        Err(InvokeError::NotSetUp)
    }

    async fn invoke(
        &self,
        _: &str,
        _: Option<&str>,
        _: &Value,
        _: Duration,
    ) -> Result<Invoked, InvokeError> {
        Err(InvokeError::NotSetUp)
    }
}
