//! The handler's error: what a manual invoke or the CLI reports when a command
//! cannot be carried out. Each keeps its source; the message says what to do.

use lambda_runtime::Diagnostic;
use thiserror::Error;

use crate::command::InputError;
use crate::config::ConfigError;
use crate::engine::Refusal;
use crate::executor::ExecError;
use crate::json::JsonError;
use crate::model::Target;
use crate::policy::PolicyError;
use crate::ports::StoreError;

#[derive(Debug, Error)]
pub enum Error {
    #[error(
        "bad input: the payload is over {limit} bytes, the most lambda-rollout reads (what \
         EventBridge can deliver): nothing was read or written; send fewer targets per tick \
         (split them over several schedules) or a shorter payload"
    )]
    TooLarge { limit: usize },
    #[error(
        "bad input: the payload is not valid JSON ({0}): send one JSON object such as \
         {{\"action\":\"status\",\"function\":\"F\",\"alias\":\"A\"}}; nothing was written"
    )]
    NotJson(#[source] serde_json::Error),
    #[error(
        "bad input: {0}; which of the two counts is up to the JSON reader, so lambda-rollout \
         reads neither: nothing was written"
    )]
    DuplicateKey(#[source] JsonError),
    #[error("bad input: {0}")]
    Input(#[from] InputError),
    #[error("bad policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("bad configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{target}: refused: {source}")]
    Refused {
        target: Target,
        #[source]
        source: Refusal,
    },
    #[error("{target}: {source}")]
    Store {
        target: Target,
        #[source]
        source: StoreError,
    },
    #[error(
        "{target}: conflict: the alias changed twice while this command was applied (another \
         tick, command or console edit); nothing was written: run it again"
    )]
    Conflict { target: Target },
}

/// The executor's refusals, store failures and conflicts, reported as the
/// handler's own.
impl From<ExecError> for Error {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Refused { target, source } => Error::Refused { target, source },
            ExecError::Store { target, source } => Error::Store { target, source },
            ExecError::Conflict { target } => Error::Conflict { target },
        }
    }
}

impl Error {
    /// The Lambda error type: lets a caller tell "fix your input" from "retry".
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::TooLarge { .. }
            | Error::NotJson(_)
            | Error::DuplicateKey(_)
            | Error::Input(_)
            | Error::Policy(_) => "InvalidInput",
            Error::Config(_) => "InvalidConfiguration",
            Error::Refused { .. } => "Refused",
            Error::Conflict { .. } => "Conflict",
            Error::Store { source, .. } => match source {
                StoreError::NotFound { .. } => "NotFound",
                StoreError::Unmanageable(_) | StoreError::Rejected { .. } => "Refused",
                StoreError::Conflict { .. } => "Conflict",
                StoreError::Throttled { .. } | StoreError::Unavailable { .. } => "Retryable",
            },
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Self {
        Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}
