//! `wait`, `status` and `list`: run anywhere with the caller's own AWS
//! credentials, reading what the orchestrator reads and writing nothing.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use lambda_rollout::config::{Config, ONBOARD_BY_TAG_VAR, POLICY_VAR, TARGETS_VAR};
use lambda_rollout::model::{GroupName, Target, UtcTime, Version};
use lambda_rollout::policy::Policy;
use lambda_rollout::report::Response;
use lambda_rollout::show::{self, Style};
use lambda_rollout::wait::{self, End, Follow, GroupFollow, GroupPoll, Poll, RealClock};
use serde_json::json;

use super::{fail, print_out};
use crate::AwsHandler;

pub const WAIT_ABOUT: &str = "\
Follow the rollout of one version (or a release group's) until it ends, with
your own AWS credentials (lambda:GetAlias, lambda:ListVersionsByFunction once,
cloudwatch:GetMetricData).
It never writes. Each poll is one GetAlias and, while the rollout goes, one
GetMetricData for what the next tick would decide.

The version: --version N, else the one rolling out, else the newest published
one (the one start and auto_start pick), pinned at the first poll. With
watch_after_promote the rollout ends when the watch does.

--group G follows every member of a release group as one release (each
member's version pinned so, --version refused): a poll is one GetAlias a
member and one GetMetricData for all; it ends once every member's part has,
with the worst of their endings (one member rolled back: 3).

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
    #[arg(
        long,
        value_name = "F",
        required_unless_present = "group",
        requires = "alias"
    )]
    function: Option<String>,
    /// The alias that routes its traffic.
    #[arg(
        long,
        value_name = "A",
        required_unless_present = "group",
        requires = "function"
    )]
    alias: Option<String>,
    /// A release group of the orchestrator's targets (README, Release
    /// groups): every member, as one release.
    #[arg(long, value_name = "G", conflicts_with_all = ["function", "alias"])]
    group: Option<String>,
}

/// What a command follows or reads: one alias, or a release group.
enum Which {
    One(Target),
    Group(GroupName),
}

#[derive(Args)]
pub struct FromArgs {
    /// Read the targets and policy from this orchestrator function's
    /// environment (the stack's OrchestratorName output), not from this one.
    #[arg(long, value_name = "NAME", env = "LAMBDA_ROLLOUT_ORCHESTRATOR")]
    orchestrator: Option<String>,
}

impl TargetArgs {
    fn which(&self) -> Result<Which, ExitCode> {
        let usage = |e: String| {
            say!("lambda-rollout: {e}; see lambda-rollout --help");
            ExitCode::from(2)
        };
        match (&self.group, &self.function, &self.alias) {
            (Some(g), _, _) => GroupName::new(g).map(Which::Group).map_err(|e| usage(e.0)),
            (None, Some(f), Some(a)) => Target::new(f, a).map(Which::One).map_err(|e| usage(e.0)),
            // clap requires one or the other.
            _ => Err(usage("name --function and --alias, or --group".into())),
        }
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

impl Mode {
    fn chosen(json: bool) -> Mode {
        match (json, std::io::stdout().is_terminal()) {
            (true, _) => Mode::Json,
            (false, true) => Mode::Terminal {
                style: style_for(true),
                width: terminal_width(),
            },
            (false, false) => Mode::Lines,
        }
    }

    /// Writes one poll: as JSON or a line if it is a change (`change(short)`:
    /// short above a terminal's live line), and on a terminal the live line
    /// redrawn. A closed stdout must not stop the wait: its exit code still
    /// tells.
    fn poll(
        &self,
        out: &mut impl Write,
        changed: bool,
        p: &impl serde::Serialize,
        change: impl FnOnce(bool) -> String,
        live: impl FnOnce(Style, usize) -> String,
    ) {
        let _ = match self {
            Mode::Json if changed => writeln!(out, "{}", serde_json::to_string(p).unwrap()),
            Mode::Lines if changed => writeln!(out, "{}", change(false)),
            Mode::Terminal { style, width } => {
                let mut s = String::from("\r\x1b[2K");
                if changed {
                    s.push_str(&change(true));
                    s.push('\n');
                }
                s.push_str(&live(*style, *width));
                write!(out, "{s}")
            }
            _ => Ok(()),
        };
        let _ = out.flush();
    }

    /// Writes how the wait ended (`line`; as JSON, `what` was followed
    /// beside it) and gives its exit code.
    fn finish(
        &self,
        out: &mut impl Write,
        end: &End,
        line: String,
        what: serde_json::Value,
    ) -> ExitCode {
        let text = match self {
            Mode::Json => {
                let mut v = what;
                v["at"] = json!(UtcTime::now());
                v["end"] = json!(end.label());
                v["exit_code"] = json!(end.exit_code());
                v["message"] = json!(line);
                v.to_string()
            }
            Mode::Lines => line,
            Mode::Terminal { .. } => format!("\r\x1b[2K{line}"),
        };
        let _ = writeln!(out, "{text}");
        if let End::Failed(e) = end {
            say!("lambda-rollout: wait: {e}");
        }
        ExitCode::from(end.exit_code())
    }

    fn style(&self) -> Style {
        match self {
            Mode::Terminal { style, .. } => *style,
            _ => Style { colour: false },
        }
    }
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
    let which = match target.which() {
        Ok(w) => w,
        Err(code) => return code,
    };
    let handler = match handler(from).await {
        Ok(h) => h,
        Err(e) => return fail(&format!("wait: {e}")),
    };
    let target = match which {
        Which::One(t) => t,
        Which::Group(g) => return wait_group(&handler, g, timeout, interval, json).await,
    };
    // What is shown follows the policy; a broken one must not stop a wait.
    let policy = handler
        .policy_of(&target, UtcTime::now())
        .await
        .unwrap_or_else(|_| Policy::defaults());
    let mode = Mode::chosen(json);
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
        mode.poll(
            &mut out,
            changed,
            p,
            |short| {
                if short {
                    show::change_line_short(p, &policy)
                } else {
                    show::change_line(p, &policy)
                }
            },
            |style, width| show::live_line(p, &policy, style, width),
        );
        last = Some(p.clone());
    })
    .await;
    let line = show::end_line(&end, last.as_ref(), mode.style());
    mode.finish(
        &mut out,
        &end,
        line,
        json!({
            "function": opts.target.function,
            "alias": opts.target.alias,
            "version": pinned,
        }),
    )
}

/// `wait --group`: every member followed as one release (wait::follow_group).
async fn wait_group(
    handler: &AwsHandler,
    group: GroupName,
    timeout: Duration,
    interval: Duration,
    json: bool,
) -> ExitCode {
    let members = match handler.group_members(group, false, UtcTime::now()).await {
        Ok(m) => m,
        Err(e) => return fail(&format!("wait: {e}")),
    };
    // Members share the group's policy: it shapes what is shown.
    let policy = members[0].1.clone();
    let mode = Mode::chosen(json);
    let opts = GroupFollow {
        group,
        members,
        timeout,
        interval,
    };
    let mut last: Option<GroupPoll> = None;
    let mut out = std::io::stdout();
    let (pinned, end) = wait::follow_group(&handler.executor, &opts, &RealClock, |p| {
        let changed = last.as_ref().is_none_or(|l| p.differs(l));
        mode.poll(
            &mut out,
            changed,
            p,
            |_| show::group_change_lines(p, last.as_ref(), &policy),
            |style, width| show::group_live_line(p, style, width),
        );
        last = Some(p.clone());
    })
    .await;
    let line = show::group_end_line(&end, last.as_ref(), mode.style());
    let members: Vec<_> = opts
        .members
        .iter()
        .zip(&pinned)
        .map(|((t, _), v)| json!({"function": t.function, "alias": t.alias, "version": v}))
        .collect();
    mode.finish(
        &mut out,
        &end,
        line,
        json!({"group": group, "members": members}),
    )
}

pub async fn status(target: &TargetArgs, json: bool, from: &FromArgs) -> ExitCode {
    let payload = match target.which() {
        Ok(Which::One(t)) => json!({"action": "status", "function": t.function, "alias": t.alias}),
        Ok(Which::Group(g)) => json!({"action": "status", "group": g.to_string()}),
        Err(code) => return code,
    };
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
    let mut text = show::groups(&resp.groups, style);
    text.push_str(&show::table(&resp.results, style));
    print_out(&text, false)
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
