//! `wait`, `status` and `list`: run anywhere with the caller's own AWS
//! credentials, reading what the orchestrator reads and writing nothing.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use lambda_rollout::config::{Config, ONBOARD_BY_TAG_VAR, POLICY_VAR, TARGETS_VAR};
use lambda_rollout::model::{Target, UtcTime, Version};
use lambda_rollout::policy::Policy;
use lambda_rollout::report::Response;
use lambda_rollout::show::{self, Style};
use lambda_rollout::wait::{self, End, Follow, Poll, RealClock};
use serde_json::json;

use super::{fail, print_out};
use crate::AwsHandler;

pub const WAIT_ABOUT: &str = "\
Follow the rollout of one version until it ends, with your own AWS credentials
(lambda:GetAlias, lambda:ListVersionsByFunction once, cloudwatch:GetMetricData).
It never writes. Each poll is one GetAlias and, while the rollout goes, one
GetMetricData for what the next tick would decide.

The version: --version N, else the one rolling out, else the newest published
one (the one start and auto_start pick), pinned at the first poll. With
watch_after_promote the rollout ends when the watch does.

On a terminal: a live line (weight bar, step, the next decision and its reason,
the time left) under one line per change. Elsewhere one line per change; with
--json one JSON object per change and one for the end.

Exit codes:
  0  promoted
  1  error: the alias cannot be read, or the version is not published
  2  usage error
  3  rolled back, or reverted after its promotion
  4  timed out with the rollout going (or not started)
  5  timed out with the rollout paused or awaiting approval
  6  another version is rolled out instead (a newer one superseded it)";

#[derive(Args)]
pub struct TargetArgs {
    /// The function: name, ARN or partial ARN.
    #[arg(long, value_name = "F")]
    function: String,
    /// The alias that routes its traffic.
    #[arg(long, value_name = "A")]
    alias: String,
}

#[derive(Args)]
pub struct FromArgs {
    /// Read the targets and policy from this orchestrator function's
    /// environment (the stack's OrchestratorName output), not from this one.
    #[arg(long, value_name = "NAME", env = "LAMBDA_ROLLOUT_ORCHESTRATOR")]
    orchestrator: Option<String>,
}

impl TargetArgs {
    fn target(&self) -> Result<Target, ExitCode> {
        Target::new(&self.function, &self.alias).map_err(|e| {
            say!("lambda-rollout: {}; see lambda-rollout --help", e.0);
            ExitCode::from(2)
        })
    }
}

/// The handler on the caller's credentials, configured as the orchestrator
/// is when one is named.
async fn handler(from: &FromArgs) -> Result<AwsHandler, String> {
    let mut handler = crate::handler_from_env().await;
    if let Some(name) = &from.orchestrator {
        let env = handler
            .executor
            .store
            .environment_of(name)
            .await
            .map_err(|e| e.to_string())?;
        // It onboards by tag: so do we, to see what it sees.
        if handler.catalog.is_none()
            && env.get(ONBOARD_BY_TAG_VAR).map(|v| v.trim()) == Some("true")
        {
            handler = crate::handler_with(true).await;
        }
        handler.config = Config::from_values(
            env.get(TARGETS_VAR).map(String::as_str),
            env.get(POLICY_VAR).map(String::as_str),
        );
    }
    Ok(handler)
}

/// How `wait` writes what it sees.
enum Mode {
    /// A live line redrawn in place, under the changes.
    Terminal {
        style: Style,
        width: usize,
    },
    Lines,
    Json,
}

fn style_for(is_terminal: bool) -> Style {
    Style::for_terminal(
        is_terminal,
        std::env::var("NO_COLOR").ok().as_deref(),
        std::env::var("TERM").ok().as_deref(),
    )
}

pub async fn wait(
    target: &TargetArgs,
    version: Option<Version>,
    timeout: Duration,
    interval: Duration,
    json: bool,
    from: &FromArgs,
) -> ExitCode {
    let target = match target.target() {
        Ok(t) => t,
        Err(code) => return code,
    };
    let handler = match handler(from).await {
        Ok(h) => h,
        Err(e) => return fail(&format!("wait: {e}")),
    };
    // What is shown follows the policy; a broken one must not stop a wait.
    let policy = handler
        .policy_of(&target, UtcTime::now())
        .await
        .unwrap_or_else(|_| Policy::defaults());
    let tty = std::io::stdout().is_terminal();
    let mode = match (json, tty) {
        (true, _) => Mode::Json,
        (false, true) => Mode::Terminal {
            style: style_for(true),
            width: terminal_width(),
        },
        (false, false) => Mode::Lines,
    };
    let opts = Follow {
        target,
        version,
        timeout,
        interval,
    };
    let mut last: Option<Poll> = None;
    let mut out = std::io::stdout();
    let (pinned, end) = wait::follow(&handler.executor, &policy, &opts, &RealClock, |p| {
        let changed = last.as_ref().is_none_or(|l| p.differs(l));
        // A closed stdout must not stop the wait: its exit code still tells.
        let _ = match &mode {
            Mode::Json if changed => writeln!(out, "{}", serde_json::to_string(p).unwrap()),
            Mode::Lines if changed => writeln!(out, "{}", show::change_line(p, &policy)),
            Mode::Terminal { style, width } => {
                let mut s = String::from("\r\x1b[2K");
                if changed {
                    s.push_str(&show::change_line_short(p, &policy));
                    s.push('\n');
                }
                s.push_str(&show::live_line(p, &policy, *style, *width));
                write!(out, "{s}")
            }
            _ => Ok(()),
        };
        let _ = out.flush();
        last = Some(p.clone());
    })
    .await;
    let text = match &mode {
        Mode::Json => {
            let message = show::end_line(&end, last.as_ref(), Style { colour: false });
            serde_json::to_string(&json!({
                "at": UtcTime::now(),
                "function": opts.target.function,
                "alias": opts.target.alias,
                "version": pinned,
                "end": end.label(),
                "exit_code": end.exit_code(),
                "message": message,
            }))
            .unwrap()
        }
        Mode::Lines => show::end_line(&end, last.as_ref(), Style { colour: false }),
        Mode::Terminal { style, .. } => {
            format!("\r\x1b[2K{}", show::end_line(&end, last.as_ref(), *style))
        }
    };
    let _ = writeln!(out, "{text}");
    if let End::Failed(e) = &end {
        say!("lambda-rollout: wait: {e}");
    }
    ExitCode::from(end.exit_code())
}

pub async fn status(target: &TargetArgs, json: bool, from: &FromArgs) -> ExitCode {
    let target = match target.target() {
        Ok(t) => t,
        Err(code) => return code,
    };
    let payload = json!({
        "action": "status",
        "function": target.function,
        "alias": target.alias,
    });
    answer(&payload, json, from, "status").await
}

pub async fn list(json: bool, from: &FromArgs) -> ExitCode {
    let handler = match handler(from).await {
        Ok(h) => h,
        Err(e) => return fail(&format!("list: {e}")),
    };
    match handler.config.configured() {
        // Tagged functions, if any, are the dry-run tick's to find.
        Ok([]) if handler.catalog.is_none() => {
            return fail(&format!(
                "list: no targets: set {TARGETS_VAR}, or name the orchestrator with \
                 --orchestrator (the stack's OrchestratorName output)"
            ))
        }
        Ok(_) => {}
        Err(e) => return fail(&format!("list: {e}")),
    }
    run_and_show(
        &handler,
        &json!({"action": "tick", "dry_run": true}),
        json,
        "list",
    )
    .await
}

async fn answer(payload: &serde_json::Value, json: bool, from: &FromArgs, what: &str) -> ExitCode {
    match handler(from).await {
        Ok(h) => run_and_show(&h, payload, json, what).await,
        Err(e) => fail(&format!("{what}: {e}")),
    }
}

async fn run_and_show(
    handler: &AwsHandler,
    payload: &serde_json::Value,
    json: bool,
    what: &str,
) -> ExitCode {
    let resp: Response = match handler.handle(payload, UtcTime::now()).await {
        Ok(r) => r,
        Err(e) => return fail(&format!("{what}: {e}")),
    };
    if json {
        let mut text = serde_json::to_string_pretty(&resp).expect("response serializes");
        text.push('\n');
        return print_out(&text, false);
    }
    let style = style_for(std::io::stdout().is_terminal());
    print_out(&show::table(&resp.results, style), false)
}

/// Columns of the terminal on standard output (COLUMNS, else the terminal's
/// own answer), else 100.
fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
    {
        return n.max(20);
    }
    asked_width().unwrap_or(100)
}

#[cfg(not(unix))]
fn asked_width() -> Option<usize> {
    None
}

#[cfg(unix)]
fn asked_width() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct it is given, and
    // fails (leaving it zero) on anything but a terminal.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col >= 20).then_some(size.ws_col as usize)
}
