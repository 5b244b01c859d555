//! Logging: what lambda_runtime's default subscriber does (JSON when
//! `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from `AWS_LAMBDA_LOG_LEVEL` or
//! `RUST_LOG`), less one thing: lambda_runtime logs every raw event at TRACE,
//! which would put whole payloads in the logs of anyone who turns TRACE on to
//! debug. Nothing of ours logs a payload or the environment; decisions are
//! logged as fields (function, alias, decision, weights, reason).

use lambda_runtime::tracing::subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::tracing::subscriber::prelude::*;
use tracing::{Level, Metadata, Subscriber};

/// Whether an event may be logged at all: never the runtime's TRACE events,
/// one of which is the raw payload.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    !(meta.target().starts_with("lambda_runtime") && *meta.level() == Level::TRACE)
}

/// The subscriber, writing to `writer` at `level` (and `RUST_LOG`'s directives).
pub fn subscriber<W>(writer: W, json: bool, level: LevelFilter) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(level.into())
                .from_env_lossy(),
        )
        .with_writer(writer);
    if json {
        Box::new(fmt.json().finish().with(filter_fn(allowed)))
    } else {
        Box::new(fmt.finish().with(filter_fn(allowed)))
    }
}

/// Installs the subscriber for the process, configured from the environment.
pub fn init<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    // A second call (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber(writer, json, level));
}
