//! `make bench` (part): the Lambda binary's cold start and memory, against a
//! tiny Lambda runtime API of our own on loopback: the time from spawning the
//! process to its first `GET /runtime/invocation/next`, the time to answer one
//! tick over 100 targets (read from the emulator), and the process's peak RSS
//! (VmHWM) after it. Five runs; median, min and max. Writes the table into
//! BENCHMARKS.md between the coldstart markers.
//!
//! With `--variants DIR` it measures every binary that scripts/bench_profiles.sh
//! built there instead, one row per release-profile or SDK-feature variant.
//!
//! Usage: bench_coldstart (--bin target/release/lambda-rollout | --variants DIR) [--write FILE]

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const RUNS: usize = 21;
const TARGETS: usize = 100;

#[derive(Default)]
struct Seen {
    first_poll: Option<Instant>,
    answered: Option<Instant>,
    served: bool,
}

/// Serves one invocation of `event`, then keeps the next poll waiting.
async fn runtime_api(event: String, seen: Arc<Mutex<Seen>>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let event = event.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: Request<hyper::body::Incoming>| {
                        let event = event.clone();
                        let seen = seen.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let _ = req.into_body().collect().await;
                            if path.ends_with("/invocation/next") {
                                let first = {
                                    let mut s = seen.lock().unwrap();
                                    s.first_poll.get_or_insert_with(Instant::now);
                                    let first = !s.served;
                                    s.served = true;
                                    first
                                };
                                if !first {
                                    // One invocation per process: hold the next poll.
                                    tokio::time::sleep(Duration::from_secs(3600)).await;
                                }
                                let deadline = std::time::SystemTime::now()
                                    .duration_since(std::time::UNIX_EPOCH)
                                    .unwrap()
                                    .as_millis()
                                    + 60_000;
                                return Ok::<_, std::io::Error>(
                                Response::builder()
                                    .header("Lambda-Runtime-Aws-Request-Id", "bench-1")
                                    .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
                                    .header(
                                        "Lambda-Runtime-Invoked-Function-Arn",
                                        "arn:aws:lambda:us-east-1:000000000000:function:lambda-rollout",
                                    )
                                    .header("Lambda-Runtime-Trace-Id", "Root=1-0-0")
                                    .body(Full::new(Bytes::from(event)))
                                    .unwrap(),
                            );
                            }
                            // The response (or an error report): the invocation is done.
                            seen.lock()
                                .unwrap()
                                .answered
                                .get_or_insert_with(Instant::now);
                            Ok(Response::builder()
                                .status(202)
                                .body(Full::new(Bytes::new()))
                                .unwrap())
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Median, min and max of one measure over the runs.
type Spread = (f64, f64, f64);

struct Measured {
    start_ms: Spread,
    tick_ms: Spread,
    rss_mb: Spread,
}

/// Runs `bin` RUNS times, one invocation of `event` per process.
async fn measure(bin: &str, event: &str) -> Measured {
    let (mut start, mut invoke, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let api = runtime_api(event.to_string(), seen.clone()).await;
        let spawned = Instant::now();
        let mut child = std::process::Command::new(bin)
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "lambda-rollout")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        let pid = child.id();
        let mut answered = None;
        for _ in 0..600 {
            if let Some(t) = seen.lock().unwrap().answered {
                answered = Some(t);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let answered = answered.expect("the invocation was answered within 6 s");
        // The process is parked on the next poll: its peak is final.
        rss.push(peak_rss_kib(pid).expect("/proc status") as f64 / 1024.0);
        let first = seen.lock().unwrap().first_poll.expect("polled");
        start.push((first - spawned).as_secs_f64() * 1000.0);
        invoke.push((answered - first).as_secs_f64() * 1000.0);
        child.kill().ok();
        child.wait().ok();
    }
    Measured {
        start_ms: stats(&mut start),
        tick_ms: stats(&mut invoke),
        rss_mb: stats(&mut rss),
    }
}

fn file_len(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).map(|m| m.len()).ok()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let write = arg("--write");

    // A tick over 100 aliases of one function, read from the emulator.
    let em = common::emulator().await;
    let f = em.blue_green("coldstart").await;
    let mut targets = Vec::new();
    for i in 0..TARGETS {
        let a = format!("c{i:03}");
        em.create_alias(&f, &a, "1").await;
        targets.push(serde_json::json!({"function": f, "alias": a}));
    }
    let event = serde_json::json!({"action": "tick", "targets": targets}).to_string();

    let (name, heading, t) = match arg("--variants") {
        Some(dir) => (
            "profiles",
            "Release profile and SDK features",
            variants_table(&dir, &event).await,
        ),
        None => {
            let bin = arg("--bin").expect("--bin target/release/lambda-rollout or --variants DIR");
            (
                "coldstart",
                "Cold start and memory",
                coldstart_table(&bin, &event).await,
            )
        }
    };
    print!("{t}");
    if let Some(path) = write {
        common::write_section(&path, name, heading, &t);
    }
}

async fn coldstart_table(bin: &str, event: &str) -> String {
    let m = measure(bin, event).await;
    let zip = file_len("target/lambda-arm64/lambda-rollout/bootstrap.zip".as_ref());
    let (s, i, r) = (m.start_ms, m.tick_ms, m.rss_mb);
    let mut t = String::new();
    let _ = writeln!(t, "<!-- coldstart:begin -->");
    let _ = writeln!(
        t,
        "Command: `make bench` (`cargo build --release` then `cargo run --release --example \
         bench_coldstart -- --bin target/release/lambda-rollout --write BENCHMARKS.md`): the release \
         binary of this machine (x86_64; the arm64 one cannot run here) under a tiny Lambda runtime \
         API on loopback, one invocation per process, a tick over {TARGETS} targets read from \
         LocalStack; {RUNS} runs.\n"
    );
    let _ = writeln!(t, "| measure | median | min | max | target |");
    let _ = writeln!(t, "|---|---|---|---|---|");
    let _ = writeln!(
        t,
        "| process start to first poll of the runtime API | {:.1} ms | {:.1} | {:.1} | at most 20 ms |",
        s.0, s.1, s.2
    );
    let _ = writeln!(
        t,
        "| first poll to the answer of a {TARGETS}-target tick | {:.0} ms | {:.0} | {:.0} | - |",
        i.0, i.1, i.2
    );
    let _ = writeln!(
        t,
        "| peak RSS (VmHWM) after the tick | {:.1} MB | {:.1} | {:.1} | at most 32 MB |",
        r.0, r.1, r.2
    );
    if let Some(z) = zip {
        let _ = writeln!(
            t,
            "| arm64 zip (`make build`, target/lambda-arm64/lambda-rollout/bootstrap.zip) | {:.2} MB ({z} bytes) | | | at most 4 MB |",
            z as f64 / 1e6
        );
    }
    let _ = writeln!(t, "<!-- coldstart:end -->");
    t
}

/// One row per variant built by scripts/bench_profiles.sh: its directory holds
/// variant.json, the native binary and the arm64 zip.
async fn variants_table(dir: &str, event: &str) -> String {
    let mut dirs: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e} (run scripts/bench_profiles.sh build first)"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("variant.json").exists())
        .collect();
    dirs.sort();
    let infos: Vec<serde_json::Value> = dirs
        .iter()
        .map(|d| {
            serde_json::from_str(&std::fs::read_to_string(d.join("variant.json")).unwrap())
                .expect("variant.json")
        })
        .collect();
    let mut commits: Vec<&str> = infos.iter().filter_map(|i| i["commit"].as_str()).collect();
    commits.dedup();
    let commit = commits.join(", ");
    let mut t = String::new();
    let _ = writeln!(t, "<!-- profiles:begin -->");
    let _ = writeln!(
        t,
        "Command: `make bench-profiles` (scripts/bench_profiles.sh: per variant `cargo build --release` \
         and `cargo lambda build --release --arm64 --output-format zip` with the overrides shown, then \
         `cargo run --release --example bench_coldstart -- --variants target/profiles/out --write \
         BENCHMARKS.md`). Start-up and peak RSS of the x86_64 binary under the tiny runtime API, after a tick \
         over {TARGETS} targets read from LocalStack (the tick's time is the emulator's, and \
         drifts up with every run against the same emulator: it cannot rank variants), median \
         of {RUNS} runs with min and max. \
         Every variant builds the same commit: {commit}.\n"
    );
    let _ = writeln!(
        t,
        "| variant | overrides | arm64 zip | x86_64 binary | start to first poll, ms | peak RSS, MB |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|");
    for (d, info) in dirs.iter().zip(&infos) {
        let bin = d.join("lambda-rollout");
        eprintln!("profiles: measuring {}", info["name"]);
        let m = measure(bin.to_str().unwrap(), event).await;
        let zip = file_len(&d.join("lambda/lambda-rollout/bootstrap.zip"))
            .map(|z| format!("{:.2} MB ({z})", z as f64 / 1e6))
            .unwrap_or_else(|| "not built".into());
        let native = file_len(&bin).unwrap_or(0) as f64 / 1e6;
        let overrides = match info["overrides"].as_str().unwrap_or("") {
            "" => "-".to_string(),
            o => format!("`{o}`"),
        };
        let _ = writeln!(
            t,
            "| {} ({}) | {overrides} | {zip} | {native:.2} MB | {:.1} ({:.1}-{:.1}) | {:.1} ({:.1}-{:.1}) |",
            info["name"].as_str().unwrap_or("?"),
            info["what"].as_str().unwrap_or("?"),
            m.start_ms.0,
            m.start_ms.1,
            m.start_ms.2,
            m.rss_mb.0,
            m.rss_mb.1,
            m.rss_mb.2,
        );
    }
    let _ = writeln!(t, "<!-- profiles:end -->");
    t
}
