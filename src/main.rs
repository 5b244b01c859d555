//! Entry point. In Lambda (`AWS_LAMBDA_RUNTIME_API` set) it runs the runtime
//! loop; elsewhere it is the CLI (`cli.rs`), which runs the same handler once.

// The Lambda runtime's service stack over the handler's nested async blocks
// (a tick's bounded streams) is deeper than rustc's default layout limit.
#![recursion_limit = "256"]

mod cli;

use std::io::Write;
use std::process::ExitCode;

use lambda_rollout::aws::{
    self, CloudWatchMetrics, DispatchTo, EventBridgeAudit, LambdaAliases, LambdaChecks,
    TaggedFunctions,
};
use lambda_rollout::config::{self, Config};
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::logging;
use lambda_rollout::model::UtcTime;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;

type AwsHandler =
    Handler<LambdaAliases, CloudWatchMetrics, EventBridgeAudit, LambdaChecks, TaggedFunctions>;

fn main() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "lambda-rollout: cannot start the async runtime: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return rt.block_on(serve());
    }
    rt.block_on(cli::run(std::env::args_os()))
}

/// The handler on the AWS SDK, configured from the environment: the one
/// place it is composed, for Lambda and the CLI alike.
async fn handler_from_env() -> AwsHandler {
    handler_with(config::onboard_by_tag_from_env()).await
}

/// As `handler_from_env`, onboarding tagged functions or not: the CLI
/// follows a named orchestrator's setting.
async fn handler_with(onboard_by_tag: bool) -> AwsHandler {
    let c = aws::clients(
        config::event_bus_from_env(),
        dispatch_to(),
        config::control_plane_rate_from_env(),
    )
    .await;
    let handler = Handler::new(
        Executor::new(c.aliases, c.metrics)
            .with_concurrency(config::concurrency_from_env())
            .with_checks(c.checks),
        Config::from_env(),
    )
    .with_audit(c.audit)
    .with_idle_reads(config::idle_read_every_from_env());
    handler.with_onboarding(
        onboard_by_tag.then_some(c.onboarding),
        config::discovery_interval_from_env(),
    )
}

/// Where a check's own invocation runs: this function again in Lambda, this
/// binary again elsewhere.
fn dispatch_to() -> DispatchTo {
    match std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
        Ok(name) if !name.is_empty() => DispatchTo::Function(name),
        _ => DispatchTo::Process {
            binary: std::env::current_exe().unwrap_or_else(|_| "lambda-rollout".into()),
            log: std::env::temp_dir().join("lambda-rollout-checks.log"),
        },
    }
}

async fn serve() -> ExitCode {
    logging::init(std::io::stdout);
    // The decisions' metrics, as lines CloudWatch Logs turns into metrics.
    let handler = handler_from_env().await.with_emf(Box::new(|line| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }));
    let handler = &handler;
    // The payload as text: the handler checks its size before parsing it.
    let run = lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            handler
                .handle_bytes(event.payload.get().as_bytes(), UtcTime::now())
                .await
        },
    ));
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime loop ended");
            ExitCode::FAILURE
        }
    }
}
