//! The command line, outside Lambda: `invoke` runs the handler once on a
//! payload, `simulate` replays a traffic series; `wait`, `status` and `list`
//! (in `people.rs`) are for pipelines and people following rollouts. Every
//! subcommand has `--help`; a usage error is one line on stderr and exit 2.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, Subcommand};
use lambda_rollout::command::ACTIONS;
use lambda_rollout::config::Config;
use lambda_rollout::handler::{parse_payload, MAX_PAYLOAD_BYTES};
use lambda_rollout::json::{self, JsonError};
use lambda_rollout::logging;
use lambda_rollout::model::{parse_duration, UtcTime, Version};
use lambda_rollout::simulate;

/// A line on standard error that cannot panic: with stderr closed there is
/// nowhere to say it, and the exit code still tells.
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod people;

const ABOUT: &str = "lambda-rollout: canary / blue-green rollouts of AWS Lambda aliases";

const LONG_ABOUT: &str = "\
lambda-rollout: canary / blue-green rollouts of AWS Lambda aliases

In AWS Lambda it serves the runtime API. Outside Lambda it is this CLI, which
runs the same handler once (invoke), replays a traffic series (simulate), or
follows rollouts with your own credentials (wait, status, list).";

/// The environment, for every subcommand's help.
const ENVIRONMENT: &str = "\
Environment:
  AWS_REGION, credentials, AWS_ENDPOINT_URL   the standard AWS SDK environment
  LAMBDA_ROLLOUT_TARGETS      JSON array of targets a scheduled tick manages
  LAMBDA_ROLLOUT_POLICY       JSON policy: the defaults under every target's
  LAMBDA_ROLLOUT_CONCURRENCY  aliases read and written at once in a tick (1-64, default 8)
  LAMBDA_ROLLOUT_CONTROL_PLANE_RATE  Lambda control-plane calls a second (1-100, default 10)
  LAMBDA_ROLLOUT_EVENT_BUS    EventBridge bus for the audit events (unset: log only)
  RUST_LOG, AWS_LAMBDA_LOG_FORMAT=JSON   logging
See README.md.";

#[derive(Parser)]
#[command(
    name = "lambda-rollout",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    override_usage = "lambda-rollout invoke [FILE|-] [--now RFC3339]\n       \
                      lambda-rollout simulate FILE [--seed N] [--svg PATH]\n       \
                      lambda-rollout wait (--function F --alias A [--version N] | --group G) [--timeout 2h] [--json]\n       \
                      lambda-rollout status (--function F --alias A | --group G) [--json]\n       \
                      lambda-rollout list [--json]",
    after_help = ENVIRONMENT,
    arg_required_else_help = true,
    disable_help_subcommand = false
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the handler once on a JSON payload; print the response JSON.
    #[command(
        override_usage = "lambda-rollout invoke [FILE|-] [--now RFC3339]",
        long_about = invoke_about(),
        after_help = ENVIRONMENT
    )]
    Invoke {
        /// The payload: a file, or - for standard input.
        #[arg(value_name = "FILE|-", default_value = "-")]
        file: String,
        /// Replaces the clock (replays, demos), e.g. 2026-11-27T13:00:00Z.
        #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
        now: Option<UtcTime>,
    },
    /// Replay a per-minute traffic series through the real engine, in memory.
    #[command(
        override_usage = "lambda-rollout simulate FILE [--seed N] [--svg PATH]",
        long_about = "Replay a per-minute traffic series (format: README, simulate) through\n\
                      the real engine and executor, tick by tick, in memory; print every\n\
                      decision as one JSON line.",
        after_help = ENVIRONMENT
    )]
    Simulate {
        /// The series file, or - for standard input.
        #[arg(value_name = "FILE|-")]
        file: String,
        /// The generator's seed: the same seed replays the same run.
        #[arg(long, value_name = "N", default_value_t = 1)]
        seed: u64,
        /// Write the timeline picture (SVG) here.
        #[arg(long, value_name = "PATH")]
        svg: Option<PathBuf>,
    },
    /// Follow a rollout until it ends; the exit code says how it ended.
    #[command(
        override_usage = "lambda-rollout wait (--function F --alias A [--version N] | --group G) \
                          [--timeout 2h] [--interval 20s] [--json] [--orchestrator NAME]",
        long_about = people::WAIT_ABOUT,
        after_help = ENVIRONMENT
    )]
    Wait {
        #[command(flatten)]
        target: people::TargetArgs,
        /// The version to follow (default: the one rolling out, else the newest published).
        #[arg(long, value_name = "N", value_parser = parse_version, conflicts_with = "group")]
        version: Option<Version>,
        /// How long to wait for the end: 90s, 30m, 2h.
        #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_timeout)]
        timeout: Duration,
        /// Time between polls (each one GetAlias and at most one GetMetricData).
        #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_interval)]
        interval: Duration,
        /// One JSON object per change, then one for the end.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        from: people::FromArgs,
    },
    /// One target's state and what the next tick would do, as a table.
    #[command(
        override_usage = "lambda-rollout status (--function F --alias A | --group G) [--json] \
                          [--orchestrator NAME]",
        long_about = "Read one alias (and its metrics), or every member's of a release group, and\n\
                      print its state and what the next tick would decide, as a table on a\n\
                      terminal (colour unless NO_COLOR), or the status command's JSON with\n\
                      --json. Writes nothing.",
        after_help = ENVIRONMENT
    )]
    Status {
        #[command(flatten)]
        target: people::TargetArgs,
        /// The status command's JSON instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        from: people::FromArgs,
    },
    /// Every configured target and its state, as a table.
    #[command(
        override_usage = "lambda-rollout list [--json] [--orchestrator NAME]",
        long_about = "Every target the orchestrator manages (LAMBDA_ROLLOUT_TARGETS, here or read\n\
                      from the orchestrator with --orchestrator) with its state and what the next\n\
                      tick would decide: a dry-run tick, which writes nothing.",
        after_help = ENVIRONMENT
    )]
    List {
        /// The dry-run tick's JSON instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        from: people::FromArgs,
    },
}

fn invoke_about() -> String {
    format!(
        "Run the handler once on the JSON payload in FILE (or standard input), print the\n\
         response JSON on stdout, exit 0. On error: one line on stderr, exit 1 (also when\n\
         stdout cannot take the response: the command was carried out). 2 for a usage\n\
         error.\n\nPayloads: {{\"action\": {}, ...}},\n\
         or an EventBridge scheduled event; see README.md, Inputs.",
        ACTIONS
            .split(", ")
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(" | ")
    )
}

fn parse_time(s: &str) -> Result<UtcTime, String> {
    UtcTime::parse_rfc3339(s).map_err(|e| e.0)
}

fn parse_version(s: &str) -> Result<Version, String> {
    Version::parse(s).map_err(|e| e.0)
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s).map_err(|e| e.0)?;
    if d.is_zero() || d > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("{s:?} is not from 1s to 7d"));
    }
    Ok(d)
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s).map_err(|e| e.0)?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
        return Err(format!("{s:?} is not from 1s to 1h"));
    }
    Ok(d)
}

/// The CLI: parse the arguments, run the subcommand.
pub async fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match cli.command {
        Command::Invoke { file, now } => invoke(&file, now).await,
        Command::Simulate { file, seed, svg } => simulate(&file, seed, svg).await,
        Command::Wait {
            target,
            version,
            timeout,
            interval,
            json,
            from,
        } => people::wait(&target, version, timeout, interval, json, &from).await,
        Command::Status { target, json, from } => people::status(&target, json, &from).await,
        Command::List { json, from } => people::list(json, &from).await,
    }
}

/// `--help` and `--version` on stdout, exit 0; anything else one line on
/// stderr, exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return print_out(&e.render().to_string(), false)
        }
        _ => {}
    }
    let line = match (e.kind(), e.get(ContextKind::InvalidSubcommand)) {
        (ErrorKind::InvalidSubcommand, Some(ContextValue::String(name))) => {
            format!("unknown command {name:?}")
        }
        (ErrorKind::MissingRequiredArgument, _) => match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::Strings(args)) => format!("missing {}", args.join(", ")),
            _ => "a required argument is missing".to_string(),
        },
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("usage error");
            first.trim_start_matches("error: ").to_string()
        }
    };
    say!("lambda-rollout: {line}; see lambda-rollout --help");
    ExitCode::from(2)
}

async fn invoke(file: &str, now: Option<UtcTime>) -> ExitCode {
    // One byte over the limit is enough for the handler to refuse it.
    let payload = match read(file, MAX_PAYLOAD_BYTES as u64 + 1)
        .and_then(|bytes| parse_payload(&bytes).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    logging::init(std::io::stderr);
    let handler = crate::handler_from_env().await;
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

/// Bounds a simulate series file (a week of minutes is about 1 MB).
const MAX_SERIES: u64 = 6 * 1024 * 1024;

async fn simulate(file: &str, seed: u64, svg: Option<PathBuf>) -> ExitCode {
    let fail = |e: &str| fail(&format!("simulate: {e}"));
    let series: simulate::Series = match read_series(file) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let env_policy = match Config::from_env().policy() {
        Ok(p) => p.clone(),
        Err(e) => return fail(&e.to_string()),
    };
    let out = match simulate::run(&series, &[&env_policy], seed).await {
        Ok(out) => out,
        Err(e) => return self::fail(&e.to_string()),
    };
    let mut lines = String::new();
    for t in &out.ticks {
        lines.push_str(&serde_json::to_string(t).expect("serializes"));
        lines.push('\n');
    }
    if print_out(&lines, false) != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    let Some(path) = svg else {
        return ExitCode::SUCCESS;
    };
    let last = out.ticks.last().map(|t| t.result.decision.label());
    let title = format!(
        "lambda-rollout simulate: {} (seed {seed})",
        last.unwrap_or("no ticks")
    );
    let picture = lambda_rollout::timeline::svg(&title, &out.points);
    if let Err(e) = std::fs::write(&path, picture) {
        return fail(&format!("cannot write {}: {e}", path.display()));
    }
    say!(
        "lambda-rollout: simulate: timeline written to {}",
        path.display()
    );
    ExitCode::SUCCESS
}

fn read_series(file: &str) -> Result<simulate::Series, String> {
    let bytes = read(file, MAX_SERIES + 1)?;
    if bytes.len() as u64 > MAX_SERIES {
        return Err(format!("{file} is over 6 MB: nothing was done"));
    }
    json::parse(&bytes)
        .and_then(|v| serde_json::from_value(v).map_err(JsonError::Syntax))
        .map_err(|e| format!("{file} is not a series ({e}); see README, simulate"))
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

/// `text` on standard output. A closed pipe or a full disk is one line on
/// standard error and exit 1, never a panic; after a command, the line says
/// that what it did stands, since the alias was written before the answer.
pub(crate) fn print_out(text: &str, after_command: bool) -> ExitCode {
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

/// One line on standard error and exit 1.
pub(crate) fn fail(message: &str) -> ExitCode {
    say!("lambda-rollout: {message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_rollout::config;

    #[test]
    fn the_help_names_every_variable_and_action() {
        for var in [
            config::TARGETS_VAR,
            config::POLICY_VAR,
            config::CONCURRENCY_VAR,
            config::CONTROL_PLANE_RATE_VAR,
            config::EVENT_BUS_VAR,
        ] {
            assert!(ENVIRONMENT.contains(var), "{var}");
        }
        for action in ACTIONS.split(", ") {
            assert!(
                invoke_about().contains(&format!("\"{action}\"")),
                "{action}"
            );
        }
    }
}
