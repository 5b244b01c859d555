//! The binary outside Lambda: `lambda-rollout invoke [FILE|-]` runs the handler
//! once; output on stdout, one error line on stderr with a non-zero exit.

mod common;

use std::process::Output;

use common::emulator;

fn invoke(args: &[&str], stdin: &str) -> Output {
    common::invoke_cli(env!("CARGO_BIN_EXE_lambda-rollout"), args, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn help_and_usage_errors() {
    let out = invoke(&["--help"], "");
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("lambda-rollout invoke [FILE|-]"));
    let out = invoke(&["deploy"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown command"));
    let out = invoke(&["invoke", "--now", "yesterday"], "");
    assert_eq!(out.status.code(), Some(2));
}

/// #12: every subcommand has its --help (exit 0, its usage on stdout); an
/// unknown flag anywhere is one line on stderr and exit 2.
#[test]
fn every_subcommand_has_help_and_a_bad_flag_is_one_line() {
    for (args, usage) in [
        (&["--help"][..], "lambda-rollout invoke [FILE|-]"),
        (&["-h"][..], "lambda-rollout simulate FILE"),
        (&["help"][..], "Commands:"),
        (&[][..], "Commands:"),
        (
            &["invoke", "--help"][..],
            "Usage: lambda-rollout invoke [FILE|-] [--now RFC3339]",
        ),
        (
            &["simulate", "--help"][..],
            "Usage: lambda-rollout simulate FILE [--seed N] [--svg PATH]",
        ),
        (&["help", "simulate"][..], "--seed <N>"),
        (
            &["wait", "--help"][..],
            "6  another version is rolled out instead",
        ),
        (
            &["status", "--help"][..],
            "Usage: lambda-rollout status (--function F --alias A | --group G)",
        ),
        (
            &["list", "--help"][..],
            "Usage: lambda-rollout list [--json]",
        ),
    ] {
        let out = invoke(args, "");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains(usage),
            "{args:?}: {}",
            text(&out.stdout)
        );
        assert!(out.stderr.is_empty(), "{args:?}");
    }
    let help = text(&invoke(&["--help"], "").stdout);
    for var in [
        "LAMBDA_ROLLOUT_CONCURRENCY",
        "LAMBDA_ROLLOUT_EVENT_BUS",
        "LAMBDA_ROLLOUT_TARGETS",
    ] {
        assert!(help.contains(var), "{var} in --help");
    }
    for (args, want) in [
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (&["invoke", "--bogus"][..], "unexpected argument '--bogus'"),
        (
            &["simulate", "x.json", "--seed", "many"][..],
            "invalid value 'many'",
        ),
        (&["simulate"][..], "missing <FILE|->"),
        (
            &["invoke", "a.json", "b.json"][..],
            "unexpected argument 'b.json'",
        ),
        (&["frobnicate"][..], "unknown command \"frobnicate\""),
        (&["wait", "--alias", "live"][..], "missing --function <F>"),
        (
            &["wait", "--group", "g", "--function", "f"][..],
            "'--group <G>' cannot be used with '--function <F>'",
        ),
        (
            &["status", "--group", "bad name!"][..],
            "is not a group name",
        ),
        (
            &[
                "wait",
                "--function",
                "f",
                "--alias",
                "live",
                "--timeout",
                "0s",
            ][..],
            "is not from 1s to 7d",
        ),
        (
            &[
                "wait",
                "--function",
                "f",
                "--alias",
                "live",
                "--version",
                "$LATEST",
            ][..],
            "invalid value '$LATEST'",
        ),
        (
            &["status", "--function", "f:7", "--alias", "live"][..],
            "function",
        ),
    ] {
        let out = invoke(args, "");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("lambda-rollout: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(
            err.trim_end().ends_with("see lambda-rollout --help"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn invoke_runs_the_handler_and_reports_errors_in_one_line() {
    let em = emulator().await;
    let f = em.blue_green("cli").await;

    let ok = invoke(
        &["invoke", "-"],
        &format!(r#"{{"action":"start","function":"{f}","alias":"live"}}"#),
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let resp: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(resp["results"][0]["decision"], "started");
    assert_eq!(resp["results"][0]["canary"], "2");

    let before = em.alias_raw(&f, "live").await;
    let bad = [
        ("{not json", "not valid JSON"),
        (r#"{"action":"launch"}"#, "unknown action"),
        (
            &format!(r#"{{"action":"start","function":"{f}","alias":"live","version":"$LATEST"}}"#),
            "$LATEST",
        ),
        (
            &format!(r#"{{"action":"promote","function":"{f}","alias":"missing"}}"#),
            "create-alias",
        ),
    ];
    for (payload, want) in bad {
        let out = invoke(&["invoke"], payload);
        assert_eq!(out.status.code(), Some(1), "{payload}");
        assert!(out.stdout.is_empty(), "{payload}");
        let err = text(&out.stderr);
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("lambda-rollout: ") && last.contains(want),
            "{payload}: {err}"
        );
        assert_eq!(
            em.alias_raw(&f, "live").await,
            before,
            "{payload} changed the alias"
        );
    }

    let file = std::env::temp_dir().join(format!("{f}.json"));
    std::fs::write(
        &file,
        format!(r#"{{"action":"status","function":"{f}","alias":"live"}}"#),
    )
    .unwrap();
    let later = lambda_rollout::model::UtcTime::from_unix(
        lambda_rollout::model::UtcTime::now().unix() + 600,
    );
    let out = invoke(
        &[
            "invoke",
            file.to_str().unwrap(),
            "--now",
            &later.to_string(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(resp["results"][0]["dry_run"], true);
    std::fs::remove_file(file).ok();
}

#[test]
fn simulate_replays_a_series_and_writes_the_timeline() {
    let svg = std::env::temp_dir().join(format!("simulate-{}.svg", std::process::id()));
    let out = invoke(
        &[
            "simulate",
            "examples/series/3x-errors-20rps.json",
            "--seed",
            "7",
            "--svg",
            svg.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["decision"], "started");
    let last = lines.last().unwrap();
    assert_eq!(last["decision"], "rolled_back", "{last}");
    assert!(last["reason"]
        .as_str()
        .unwrap()
        .contains("errors check failed"));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    std::fs::remove_file(svg).ok();

    let bad = invoke(&["simulate", "-"], r#"{"minutes":[{"requests":10}]}"#);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("is not a series"),
        "{}",
        text(&bad.stderr)
    );
}

/// #11: a closed pipe or a full disk on stdout was a panic (exit 101) after
/// the alias had been written. Now: one line on stderr, exit 1, and the line
/// says the command's effect stands.
#[tokio::test]
async fn a_closed_or_full_stdout_is_one_line_and_exit_1_never_a_panic() {
    use std::process::{Command, Stdio};
    let em = emulator().await;
    let f = em.blue_green("cli-stdout").await;
    let started = invoke(
        &["invoke", "-"],
        &format!(r#"{{"action":"start","function":"{f}","alias":"live","version":"2"}}"#),
    );
    assert!(started.status.success(), "{}", text(&started.stderr));

    let run = |payload: String, stdout: Stdio| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lambda-rollout"))
            .args(["invoke", "-"])
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(payload.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let closed = || {
        // The reading end is closed before the process starts: its first
        // write fails with EPIPE, deterministically.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Stdio::from(writer)
    };
    let full = || {
        Stdio::from(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
    };
    let status = format!(r#"{{"action":"status","function":"{f}","alias":"live"}}"#);
    let pause = format!(r#"{{"action":"pause","function":"{f}","alias":"live"}}"#);
    let resume = format!(r#"{{"action":"resume","function":"{f}","alias":"live"}}"#);
    for (name, payload, stdout, writes) in [
        ("status, closed pipe", status.clone(), closed(), false),
        ("status, /dev/full", status, full(), false),
        ("pause, closed pipe", pause, closed(), true),
        ("resume, /dev/full", resume, full(), true),
    ] {
        let before = em.alias_raw(&f, "live").await;
        let out = run(payload, stdout);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("lambda-rollout: "))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: {err}");
        assert!(
            lines[0].contains("the command was carried out, but its response could not be written to standard output")
                && lines[0].contains("run status"),
            "{name}: {err}"
        );
        let after = em.alias_raw(&f, "live").await;
        assert_eq!(
            after != before,
            writes,
            "{name}: the command's write stands"
        );
    }

    let help = Command::new(env!("CARGO_BIN_EXE_lambda-rollout"))
        .arg("--help")
        .stdout(full())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(1));
    assert!(text(&help.stderr).contains("cannot write to standard output"));
}

/// The release pipeline in examples/ calls `wait` with flags it has.
#[test]
fn the_pipeline_example_calls_wait_as_the_cli_takes_it() {
    let workflow = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/github-actions.yml"
    ))
    .unwrap();
    let call: String = workflow
        .split("target/release/lambda-rollout wait")
        .nth(1)
        .expect("the workflow runs the CLI it built: lambda-rollout wait")
        .split("code=$?")
        .next()
        .unwrap()
        .into();
    let help = text(&invoke(&["wait", "--help"], "").stdout);
    let flags: Vec<&str> = call
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .collect();
    assert!(flags.len() >= 5, "{call}");
    for flag in flags {
        assert!(
            help.contains(&format!("{flag} ")),
            "{flag} is not a flag of wait"
        );
    }
    for code in ["0)", "3)", "5)", "6)"] {
        assert!(workflow.contains(code), "the workflow names exit {code}");
    }
}
