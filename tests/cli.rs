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
