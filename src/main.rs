//! Entry point. In Lambda (`AWS_LAMBDA_RUNTIME_API` set) it runs the runtime
//! loop; elsewhere it is a CLI that runs the same handler once on a payload.

// The Lambda runtime's service stack over the handler's nested async blocks
// (a tick's bounded streams) is deeper than rustc's default layout limit.
#![recursion_limit = "256"]

use std::io::{Read, Write};
use std::process::ExitCode;

use lambda_rollout::aws;
use lambda_rollout::config::{self, Config};
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::{parse_payload, Handler, MAX_PAYLOAD_BYTES};
use lambda_rollout::logging;
use lambda_rollout::model::UtcTime;
use lambda_rollout::simulate;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;

/// A line on standard error that cannot panic: with stderr closed there is
/// nowhere to say it, and the exit code still tells.
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

const HELP: &str = "\
lambda-rollout: canary / blue-green rollouts of AWS Lambda aliases

In AWS Lambda it serves the runtime API. Outside Lambda it is a CLI:

  lambda-rollout invoke [FILE|-] [--now RFC3339]
      Run the handler once on the JSON payload in FILE (or standard input), print
      the response JSON on stdout, exit 0. On error: one line on stderr, exit 1
      (2 for a usage error). --now replaces the clock (replays, demos).

  lambda-rollout simulate FILE [--seed N] [--svg PATH]
      Replay a per-minute traffic series (format: README, simulate) through the
      real engine and executor, tick by tick, in memory; print every decision
      as one JSON line. --svg writes the timeline picture.

  lambda-rollout --help | --version

Payloads: {\"action\": \"tick\" | \"start\" | \"promote\" | \"rollback\" | \"pause\" |
\"resume\" | \"status\", ...}, or an EventBridge scheduled event; see README.md.
Environment: the standard AWS variables (AWS_REGION, credentials,
AWS_ENDPOINT_URL), LAMBDA_ROLLOUT_TARGETS, LAMBDA_ROLLOUT_POLICY, RUST_LOG.
";

fn main() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say!("lambda-rollout: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return rt.block_on(serve());
    }
    rt.block_on(cli(std::env::args().skip(1).collect()))
}

async fn serve() -> ExitCode {
    logging::init(std::io::stdout);
    let (aliases, metrics, audit) = aws::clients(config::event_bus_from_env()).await;
    let handler = Handler::new(
        Executor::new(aliases, metrics).with_concurrency(config::concurrency_from_env()),
        Config::from_env(),
    )
    .with_audit(audit);
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

/// Bounds a simulate series file (a week of minutes is about 1 MB).
const MAX_SERIES: u64 = 6 * 1024 * 1024;

async fn cli(args: Vec<String>) -> ExitCode {
    let usage = |msg: &str| {
        say!("lambda-rollout: {msg}; see lambda-rollout --help");
        ExitCode::from(2)
    };
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("--help" | "-h" | "help") | None => return print_out(HELP, false),
        Some("--version" | "-V") => {
            return print_out(
                &format!("lambda-rollout {}\n", env!("CARGO_PKG_VERSION")),
                false,
            )
        }
        Some("invoke") => {}
        Some("simulate") => return simulate(it.cloned().collect()).await,
        Some(other) => return usage(&format!("unknown command {other:?}")),
    }
    let mut file: Option<&str> = None;
    let mut now = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--now" => match it.next().map(|s| UtcTime::parse_rfc3339(s)) {
                Some(Ok(t)) => now = Some(t),
                Some(Err(e)) => return usage(&format!("--now: {e}")),
                None => return usage("--now needs a time"),
            },
            f if file.is_none() && (!f.starts_with('-') || f == "-") => file = Some(f),
            other => return usage(&format!("unexpected argument {other:?}")),
        }
    }
    // One byte over the limit is enough for the handler to refuse it.
    let payload = match read(file.unwrap_or("-"), MAX_PAYLOAD_BYTES as u64 + 1)
        .and_then(|bytes| parse_payload(&bytes).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            say!("lambda-rollout: {e}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(std::io::stderr);
    let (aliases, metrics, audit) = aws::clients(config::event_bus_from_env()).await;
    let handler = Handler::new(
        Executor::new(aliases, metrics).with_concurrency(config::concurrency_from_env()),
        Config::from_env(),
    )
    .with_audit(audit);
    match handler
        .handle(&payload, now.unwrap_or_else(UtcTime::now))
        .await
    {
        Ok(resp) => {
            let mut text = serde_json::to_string_pretty(&resp).expect("response serializes");
            text.push('\n');
            print_out(&text, true)
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// `text` on standard output. A closed pipe or a full disk is one line on
/// standard error and exit 1, never a panic; after a command, the line says
/// that what it did stands, since the alias was written before the answer.
fn print_out(text: &str, after_command: bool) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if after_command => fail(&format!(
            "the command was carried out, but its response could not be written to standard \
             output ({e}): run status to see the alias"
        )),
        Err(e) => fail(&format!("cannot write to standard output ({e})")),
    }
}

/// One line on standard error and exit 1. Standard error itself may be
/// closed: then there is nowhere left to say it, and the exit code tells.
fn fail(message: &str) -> ExitCode {
    say!("lambda-rollout: {message}");
    ExitCode::FAILURE
}

async fn simulate(args: Vec<String>) -> ExitCode {
    let usage = |msg: &str| {
        say!("lambda-rollout: simulate: {msg}; see lambda-rollout --help");
        ExitCode::from(2)
    };
    let (mut file, mut seed, mut svg) = (None, 1u64, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => match it.next().map(|s| s.parse::<u64>()) {
                Some(Ok(n)) => seed = n,
                _ => return usage("--seed needs a whole number"),
            },
            "--svg" => match it.next() {
                Some(p) => svg = Some(p.clone()),
                None => return usage("--svg needs a path"),
            },
            f if file.is_none() && (!f.starts_with('-') || f == "-") => file = Some(f.to_string()),
            other => return usage(&format!("unexpected argument {other:?}")),
        }
    }
    let Some(file) = file else {
        return usage("give the series file (or - for standard input)");
    };
    let series: simulate::Series = match read_payload(&file).and_then(|t| {
        lambda_rollout::json::parse(t.as_bytes())
            .and_then(|v| {
                serde_json::from_value(v).map_err(lambda_rollout::json::JsonError::Syntax)
            })
            .map_err(|e| format!("{file} is not a series ({e}); see README, simulate"))
    }) {
        Ok(s) => s,
        Err(e) => {
            say!("lambda-rollout: simulate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config::from_env();
    let env_policy = match config.policy() {
        Ok(p) => p.clone(),
        Err(e) => {
            say!("lambda-rollout: simulate: {e}");
            return ExitCode::FAILURE;
        }
    };
    match simulate::run(&series, &[&env_policy], seed).await {
        Ok(out) => {
            let mut lines = String::new();
            for t in &out.ticks {
                lines.push_str(&serde_json::to_string(t).expect("serializes"));
                lines.push('\n');
            }
            if print_out(&lines, false) != ExitCode::SUCCESS {
                return ExitCode::FAILURE;
            }
            if let Some(path) = svg {
                let title = format!(
                    "lambda-rollout simulate: {} (seed {seed})",
                    out.ticks
                        .last()
                        .map(|t| t.result.decision.label())
                        .unwrap_or("no ticks")
                );
                if let Err(e) =
                    std::fs::write(&path, lambda_rollout::timeline::svg(&title, &out.points))
                {
                    say!("lambda-rollout: simulate: cannot write {path}: {e}");
                    return ExitCode::FAILURE;
                }
                say!("lambda-rollout: simulate: timeline written to {path}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!("lambda-rollout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// At most `limit` bytes of FILE (or standard input for `-`).
fn read(file: &str, limit: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let read = if file == "-" {
        std::io::stdin().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("cannot read the payload from {file}: {e}"))?;
    Ok(bytes)
}

fn read_payload(file: &str) -> Result<String, String> {
    let bytes = read(file, MAX_SERIES + 1)?;
    if bytes.len() as u64 > MAX_SERIES {
        return Err(format!("{file} is over 6 MB: nothing was done"));
    }
    String::from_utf8(bytes).map_err(|e| format!("{file} is not UTF-8 text: {e}"))
}
