//! `make demo-live`: the seed's scenario in real time on the local stack that
//! `make deploy-local` deployed. Requests go through the demo's REST API at a
//! steady rate, the alias splits them by its weight, the versions really run,
//! and the orchestrator (itself a Lambda in the emulator) is invoked with a
//! tick every minute, as the stack's schedule would (the emulator stores
//! schedules but never fires them). Act 1: version 2 ("Green") is started and
//! promoted. Act 2: version 3, which fails every request, is rolled back on
//! its own. A progress line per tick; the timeline picture at the end.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use lambda_rollout::timeline::{self, Point};
use serde_json::{json, Value};

const TICK: Duration = Duration::from_secs(60);
/// Requests a second through the API.
const RATE: u64 = 10;
/// Each act gives up after this many ticks.
const MAX_TICKS: usize = 8;

/// What the API answered since the last look.
#[derive(Default)]
struct Seen {
    blue: AtomicU64,
    green: AtomicU64,
    failed: AtomicU64,
}

impl Seen {
    fn take(&self) -> (u64, u64, u64) {
        (
            self.blue.swap(0, Ordering::SeqCst),
            self.green.swap(0, Ordering::SeqCst),
            self.failed.swap(0, Ordering::SeqCst),
        )
    }
}

/// Steady traffic through the API until `stop`.
fn traffic(port: u16, path: String, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let every = Duration::from_millis(1000 / RATE);
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        match common::http_get(port, &path) {
            Ok((200, b)) if b.contains("Green") => seen.green.fetch_add(1, Ordering::SeqCst),
            Ok((200, b)) if b.contains("Blue") => seen.blue.fetch_add(1, Ordering::SeqCst),
            other => {
                if seen.failed.fetch_add(1, Ordering::SeqCst) == 0 {
                    eprintln!("demo-live: the API answered {other:?}");
                }
                0
            }
        };
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}

struct Live {
    em: common::Emulator,
    orchestrator: String,
    function: String,
    seen: Arc<Seen>,
    started: Instant,
    points: Vec<Point>,
}

impl Live {
    async fn invoke(&self, payload: Value) -> Result<Value, String> {
        let out = self
            .em
            .lambda
            .invoke()
            .function_name(&self.orchestrator)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| format!("invoking the orchestrator: {e}"))?;
        let body: Value = out
            .payload()
            .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
            .unwrap_or(Value::Null);
        match out.function_error() {
            Some(_) => Err(format!("the orchestrator answered an error: {body}")),
            None => Ok(body),
        }
    }

    async fn publish(&self, message: &str, fails: bool) -> Result<String, String> {
        self.em
            .lambda
            .update_function_code()
            .function_name(&self.function)
            .zip_file(Blob::new(common::demo_app_zip(message, fails)))
            .send()
            .await
            .map_err(|e| format!("update_function_code: {e}"))?;
        self.em.wait_updated(&self.function).await;
        let v = self
            .em
            .lambda
            .publish_version()
            .function_name(&self.function)
            .send()
            .await
            .map_err(|e| format!("publish_version: {e}"))?;
        Ok(v.version().unwrap_or_default().to_string())
    }

    fn minute(&self) -> f64 {
        self.started.elapsed().as_secs_f64() / 60.0
    }

    /// Starts `version`, then ticks once a minute until the rollout ends:
    /// the decision it ended with.
    async fn act(&mut self, version: &str, until: &str) -> Result<String, String> {
        let start =
            json!({"action":"start","function":self.function,"alias":"live","version":version});
        let r = self.invoke(start).await?;
        let weight = r["results"][0]["weight_after"].as_f64().unwrap_or(0.0);
        println!(
            "[{:>5.1}m] start v{version}: {}",
            self.minute(),
            r["results"][0]["reason"].as_str().unwrap_or("")
        );
        self.points.push(Point {
            minute: self.minute(),
            weight,
            green: None,
            blue: None,
            mark: Some(format!("start v{version}")),
            failed: false,
        });
        self.seen.take();
        for _ in 0..MAX_TICKS {
            tokio::time::sleep(TICK).await;
            let (blue, green, failed) = self.seen.take();
            let r = self.invoke(json!({"action":"tick"})).await?;
            let t = &r["results"][0];
            let decision = t["decision"].as_str().unwrap_or("?").to_string();
            let after = if decision == "promoted" {
                100.0
            } else {
                t["weight_after"].as_f64().unwrap_or(0.0)
            };
            let reason = t["reason"].as_str().unwrap_or("");
            println!(
                "[{:>5.1}m] {:>5}% {} | API: Blue {blue:>3}, Green {green:>3}, failed {failed:>3} | {decision}: {}",
                self.minute(),
                after,
                bar(after),
                short(reason)
            );
            let rate = |v: &str| t["health"][v]["error_rate"].as_f64();
            self.points.push(Point {
                minute: self.minute(),
                weight: after,
                green: rate("green"),
                blue: rate("blue"),
                mark: match decision.as_str() {
                    "advanced" => Some(format!("{after}%")),
                    "promoted" => Some(format!("promoted v{version}")),
                    "rolled_back" => Some(format!("rolled back v{version}")),
                    _ => None,
                },
                failed: decision == "rolled_back",
            });
            if decision == "promoted" || decision == "rolled_back" {
                return if decision == until {
                    Ok(decision)
                } else {
                    Err(format!(
                        "v{version} was {decision}, expected {until}: {reason}"
                    ))
                };
            }
            if decision == "error" {
                return Err(format!("tick error: {reason}"));
            }
        }
        Err(format!(
            "v{version} was neither promoted nor rolled back in {MAX_TICKS} ticks"
        ))
    }
}

fn bar(weight: f64) -> String {
    let filled = ((weight / 5.0).round() as usize).min(20);
    format!("{}{}", "█".repeat(filled), "·".repeat(20 - filled))
}

/// A reason cut to one screen line.
fn short(reason: &str) -> String {
    let r: String = reason.chars().take(110).collect();
    if r.len() < reason.len() {
        format!("{r}…")
    } else {
        r
    }
}

async fn run() -> Result<(), String> {
    let port = std::env::var("EMULATOR_PORT").unwrap_or_else(|_| "4566".into());
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/target/deploy-local"))
        .join(port);
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("{f}: {e}: run make deploy-local first"))
    };
    let orchestrator = read("orchestrator")?;
    let url = read("api-url")?;
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .ok_or("api-url is not local")?;
    let (port, path) = rest.split_once('/').ok_or("api-url has no path")?;
    let port: u16 = port.parse().map_err(|_| "api-url has no port")?;
    let path = format!("/{path}");
    let function = std::env::var("DEMO_FUNCTION").unwrap_or_else(|_| "hello-blue-green".into());

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (seen, stop, path) = (seen.clone(), stop.clone(), path.clone());
        std::thread::spawn(move || traffic(port, path, seen, stop))
    };
    let mut live = Live {
        em: common::emulator().await,
        orchestrator,
        function,
        seen,
        started: Instant::now(),
        points: Vec::new(),
    };
    println!(
        "demo-live: {RATE} requests a second through {url}; the orchestrator {} ticks every minute",
        live.orchestrator
    );
    let outcome = async {
        let v2 = live.publish("Hello From Green Deployment", false).await?;
        live.act(&v2, "promoted").await?;
        let v3 = live.publish("Hello From Version 3", true).await?;
        live.act(&v3, "rolled_back").await
    }
    .await;
    stop.store(true, Ordering::SeqCst);
    let _ = load.join();
    let out = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/target/demo-live"));
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let svg = out.join("timeline.svg");
    let title =
        "lambda-rollout demo-live: real requests through API Gateway, the orchestrator as a Lambda";
    std::fs::write(&svg, timeline::svg(title, &live.points)).map_err(|e| e.to_string())?;
    println!("timeline picture: {}", svg.display());
    outcome.map(|_| ())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => {
            println!("demo-live: version 2 promoted, version 3 rolled back, in real time.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo-live: {e}");
            ExitCode::FAILURE
        }
    }
}
