//! `make demo`: the main job against the local emulator, no AWS account.
//!
//! Creates the seed's `hello` function with version 1 ("Blue") and version 2
//! ("Green") behind the alias `live`, starts a rollout of version 2, and then,
//! minute by simulated minute, writes the metrics Lambda would emit for each
//! version (split by the alias's current weight) and ticks the real handler,
//! printing each decision, until version 2 is promoted.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;

use lambda_rollout::config::Config;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

const FUNCTION: &str = "hello";
const PER_MINUTE: u64 = 600; // 10 requests per second through the alias

fn bar(weight: f64) -> String {
    let filled = (weight / 5.0).round() as usize;
    format!("{}{}", "█".repeat(filled), "·".repeat(20 - filled.min(20)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let em = common::emulator().await;
    // A rerun against the same emulator starts from scratch.
    let _ = em
        .lambda
        .delete_function()
        .function_name(FUNCTION)
        .send()
        .await;
    em.create_function(FUNCTION, "Hello From Blue Deployment")
        .await;
    let blue = em.publish(FUNCTION, "Hello From Blue Deployment").await;
    let green = em.publish(FUNCTION, "Hello From Green Deployment").await;
    em.create_alias(FUNCTION, "live", &blue).await;
    println!("function {FUNCTION}: version {blue} \"Hello From Blue Deployment\", version {green} \"Hello From Green Deployment\"; alias live -> {blue}");

    let policy = json!({"steps":[10,25,50,100],"bake":"3m","min_invocations":50,"max_error_rate":1,"metric_lag":"1m"});
    let config = Config::from_values(None, None);
    let handler = em.handler(config);
    let t0 = common::sim_start();
    let start = json!({"action":"start","function":FUNCTION,"alias":"live","version":green,"policy":policy});
    let r = match handler.handle(&start, t0).await {
        Ok(r) => serde_json::to_value(r).unwrap(),
        Err(e) => {
            eprintln!("demo: start failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "start   -> {}: {}",
        r["results"][0]["decision"],
        r["results"][0]["reason"].as_str().unwrap_or_default()
    );
    println!("simulated time, one tick per minute (metric_lag 1m, bake 3m per step):");

    let tick =
        json!({"action":"tick","targets":[{"function":FUNCTION,"alias":"live","policy":policy}]});
    for k in 0..60 {
        let minute = UtcTime::from_unix(t0.unix() + 60 * k);
        let alias = em.alias_raw(FUNCTION, "live").await;
        let w = alias
            .weights
            .iter()
            .find(|(v, _)| *v == green)
            .map(|(_, w)| *w)
            .unwrap_or(0.0);
        let g = (PER_MINUTE as f64 * w).round() as u64;
        let errors_blue = 1; // a healthy service still fails now and then
        em.put_version_minute(
            FUNCTION,
            "live",
            &alias.function_version,
            minute,
            PER_MINUTE - g,
            errors_blue,
        )
        .await;
        if g > 0 {
            em.put_version_minute(FUNCTION, "live", &green, minute, g, 0)
                .await;
        }
        let now = UtcTime::from_unix(minute.unix() + 120);
        let r: Value = match handler.handle(&tick, now).await {
            Ok(r) => serde_json::to_value(r).unwrap(),
            Err(e) => {
                eprintln!("demo: tick failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        let res = &r["results"][0];
        let d = res["decision"].as_str().unwrap_or_default();
        let after = res["weight_after"].as_f64().unwrap_or(0.0);
        let shown = if d == "promoted" { 100.0 } else { after };
        let h = &res["health"];
        let figures = if h.is_null() {
            "window not open yet".to_string()
        } else {
            format!(
                "green {}/{} err, blue {}/{} err",
                h["green"]["errors"],
                h["green"]["invocations"],
                h["blue"]["errors"],
                h["blue"]["invocations"]
            )
        };
        println!(
            "{} {} {:>5.1}% | {:<34} | {:<8} {}",
            &now.to_string()[11..16],
            bar(shown),
            shown,
            figures,
            d,
            res["reason"].as_str().unwrap_or_default()
        );
        if d == "promoted" {
            let a = em.alias_raw(FUNCTION, "live").await;
            println!(
                "\nalias live -> version {} with no routing: version {green} promoted.",
                a.function_version
            );
            return if a.function_version == green && a.weights.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        if d == "rolled_back" || d == "error" || d == "conflict" {
            eprintln!("demo: unexpected {d}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!("demo: version {green} was not promoted within an hour of simulated time");
    ExitCode::FAILURE
}
