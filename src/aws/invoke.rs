//! Checks on Lambda's `Invoke`: a hook (or green's version) called
//! synchronously within the check's timeout, and the check's own invocation
//! started asynchronously: lambda-rollout invoking itself (`InvocationType`
//! `Event`) in Lambda, or starting itself as a process elsewhere (the CLI),
//! so that a tick never waits for a hook.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use serde_json::Value;

use crate::engine::Invoked;
use crate::model::format_duration;
use crate::ports::{Checks, InvokeError};

/// Where a check's own invocation runs.
#[derive(Debug, Clone)]
pub enum DispatchTo {
    /// This function, invoked asynchronously (in Lambda:
    /// `AWS_LAMBDA_FUNCTION_NAME`).
    Function(String),
    /// This binary, started as a process of its own that outlives the
    /// caller: `lambda-rollout invoke -` with the payload on its stdin, its
    /// log in `log`.
    Process { binary: PathBuf, log: PathBuf },
}

#[derive(Debug, Clone)]
pub struct LambdaChecks {
    client: Client,
    dispatch: DispatchTo,
}

impl LambdaChecks {
    pub fn new(client: Client, dispatch: DispatchTo) -> Self {
        Self { client, dispatch }
    }
}

fn failed<E, R>(e: SdkError<E, R>) -> InvokeError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    InvokeError::Failed {
        message: DisplayErrorContext(&e).to_string(),
        source: Box::new(e),
    }
}

impl Checks for LambdaChecks {
    async fn dispatch(&self, payload: &Value) -> Result<(), InvokeError> {
        match &self.dispatch {
            DispatchTo::Function(name) => self
                .client
                .invoke()
                .function_name(name)
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(payload.to_string()))
                .send()
                .await
                .map(|_| ())
                .map_err(failed),
            DispatchTo::Process { binary, log } => spawn(binary, log, payload),
        }
    }

    async fn invoke(
        &self,
        function: &str,
        qualifier: Option<&str>,
        payload: &Value,
        timeout: Duration,
    ) -> Result<Invoked, InvokeError> {
        // The call waits as long as the check may, and is never retried:
        // a retry could run a hook twice.
        let timeouts = aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(timeout)
            .operation_timeout(timeout)
            .build();
        let out = self
            .client
            .invoke()
            .function_name(function)
            .set_qualifier(qualifier.map(str::to_string))
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload.to_string()))
            .customize()
            .config_override(
                aws_sdk_lambda::config::Builder::default()
                    .timeout_config(timeouts)
                    .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await;
        match out {
            Ok(out) => Ok(Invoked {
                function_error: out.function_error().map(str::to_string),
                payload: out
                    .payload()
                    .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                    .unwrap_or_default(),
            }),
            Err(SdkError::TimeoutError(_)) => Err(InvokeError::TimedOut(format_duration(timeout))),
            Err(e) => Err(failed(e)),
        }
    }
}

/// Starts the binary on the payload in a process group of its own (a
/// terminal's Ctrl-C or hang-up does not reach it), and does not wait.
fn spawn(binary: &PathBuf, log: &PathBuf, payload: &Value) -> Result<(), InvokeError> {
    use std::os::unix::process::CommandExt;
    let io = |what: &str, e: std::io::Error| InvokeError::Failed {
        message: format!("{what} {}: {e}", binary.display()),
        source: Box::new(e),
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| io("cannot open the log of", e))?;
    let mut child = Command::new(binary)
        .args(["invoke", "-"])
        .stdin(Stdio::piped())
        .stdout(log.try_clone().map_err(|e| io("cannot log", e))?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| io("cannot start", e))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(payload.to_string().as_bytes())
        .map_err(|e| io("cannot hand the check to", e))?;
    // Dropping stdin closes it: the child reads to its end and runs.
    drop(stdin);
    // Reaped by init once this process is gone; not waited for here.
    drop(child);
    Ok(())
}
