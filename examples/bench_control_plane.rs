//! `make bench` (part): Lambda control-plane calls for a fleet of 500
//! targets, 2 of them rolling, the rest idle under `auto_start` (the stack's
//! default policy), through the handler on in-memory ports whose every call
//! takes 40 ms and waits for the control-plane budget (10 a second), on
//! tokio's paused clock: before (every target read every tick) and after
//! (idle targets every 5 ticks). Counted per tick over ticks 2 to 11 (the
//! first is a cold start, which reads everything), and per minute at the
//! stack's one tick a minute; how long a tick takes at 10 calls a second; the
//! most calls that reached "Lambda" in any one-second window, against the
//! account's 15 (and without the budget, for comparison). Writes the table
//! between the control-plane markers of BENCHMARKS.md with `--write PATH`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_rollout::aws::Budget;
use lambda_rollout::config::Config;
use lambda_rollout::engine::{AliasState, PublishedVersion};
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::memory::{MemoryAliases, MemoryMetrics};
use lambda_rollout::model::{Target, UtcTime};
use lambda_rollout::ports::{AliasRead, AliasSnapshot, AliasWrite, StoreError};
use serde_json::{json, Value};
use tokio::time::Instant;

const TARGETS: usize = 500;
const ROLLING: usize = 2;
const TICKS: usize = 10;
const LATENCY: Duration = Duration::from_millis(40);
const QUOTA: usize = 15;

/// The memory store behind the budget (or not), every call's arrival kept:
/// what Lambda would count.
struct Metered {
    inner: MemoryAliases,
    budget: Option<Budget>,
    arrivals: Mutex<Vec<Instant>>,
}

impl Metered {
    async fn call<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        let _permit = match &self.budget {
            Some(b) => Some(b.admit().await),
            None => None,
        };
        // Lambda counts a request when it arrives: half way, here.
        tokio::time::sleep(LATENCY / 2).await;
        self.arrivals.lock().unwrap().push(Instant::now());
        let out = f.await;
        tokio::time::sleep(LATENCY / 2).await;
        out
    }
}

impl AliasRead for Metered {
    async fn read_alias(&self, t: &Target) -> Result<AliasSnapshot, StoreError> {
        self.call(self.inner.read_alias(t)).await
    }
    async fn published_versions(&self, t: &Target) -> Result<Vec<PublishedVersion>, StoreError> {
        self.call(self.inner.published_versions(t)).await
    }
}

impl AliasWrite for Metered {
    async fn write_alias(
        &self,
        t: &Target,
        alias: &AliasState,
        revision: &str,
    ) -> Result<String, StoreError> {
        self.call(self.inner.write_alias(t, alias, revision)).await
    }
}

struct Run {
    every: u32,
    budget: bool,
    cold_calls: usize,
    get_alias: f64,
    list_versions: f64,
    update_alias: f64,
    tick_seconds: f64,
    busiest_second: usize,
    over_quota: usize,
}

/// The most arrivals in any window [a, a + 1 s), and how many arrivals
/// found the window before them already holding `QUOTA` (throttled).
fn busiest(arrivals: &mut [Instant]) -> (usize, usize) {
    arrivals.sort();
    let (mut most, mut over, mut start) = (0, 0, 0);
    for end in 0..arrivals.len() {
        while arrivals[end] - arrivals[start] >= Duration::from_secs(1) {
            start += 1;
        }
        let n = end - start + 1;
        most = most.max(n);
        if n > QUOTA {
            over += 1;
        }
    }
    (most, over)
}

async fn run(every: u32, budget: bool) -> Run {
    let t0 = UtcTime::parse_rfc3339("2026-12-01T12:00:00Z").unwrap();
    let names: Vec<String> = (0..TARGETS).map(|i| format!("fleet-{i:03}")).collect();
    let inner = common::fleet_store(&names, ROLLING, t0);
    let targets: Vec<Value> = names
        .iter()
        .map(|f| json!({"function": f, "alias": "live"}))
        .collect();
    let store = Metered {
        inner,
        budget: budget.then(|| Budget::per_second(10)),
        arrivals: Mutex::new(Vec::new()),
    };
    let config = Config::from_values(
        Some(&Value::Array(targets).to_string()),
        Some(r#"{"preset":"Canary10Percent5Minutes","auto_start":true,"min_invocations":50}"#),
    );
    let handler = Arc::new(
        Handler::new(Executor::new(store, MemoryMetrics::default()), config).with_idle_reads(every),
    );
    let counts = |h: &Handler<Metered, MemoryMetrics>| {
        let s = &h.executor.store.inner;
        (
            s.reads.swap(0, Ordering::SeqCst),
            s.lists.swap(0, Ordering::SeqCst),
            s.writes.swap(0, Ordering::SeqCst),
        )
    };
    let tick = json!({"action": "tick"});
    handler.handle(&tick, t0).await.expect("cold tick");
    let (r, l, w) = counts(&handler);
    let cold_calls = r + l + w;
    handler.executor.store.arrivals.lock().unwrap().clear();
    let (mut reads, mut lists, mut writes, mut took) = (0, 0, 0, Duration::ZERO);
    for k in 1..=TICKS {
        let began = Instant::now();
        let now = t0.plus(Duration::from_secs(60 * k as u64));
        handler.handle(&tick, now).await.expect("tick");
        took += began.elapsed();
        let (r, l, w) = counts(&handler);
        reads += r;
        lists += l;
        writes += w;
    }
    let mut arrivals = handler.executor.store.arrivals.lock().unwrap().clone();
    let (busiest_second, over_quota) = busiest(&mut arrivals);
    let per = |n: usize| n as f64 / TICKS as f64;
    Run {
        every,
        budget,
        cold_calls,
        get_alias: per(reads),
        list_versions: per(lists),
        update_alias: per(writes),
        tick_seconds: took.as_secs_f64() / TICKS as f64,
        busiest_second,
        over_quota,
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let write = common::write_arg();
    let runs = [run(1, true).await, run(5, true).await, run(5, false).await];
    let mut t = String::new();
    let _ = writeln!(t, "<!-- control-plane:begin -->");
    let _ = writeln!(
        t,
        "Command: `make bench` (`cargo run --release --example bench_control_plane -- --write \
         BENCHMARKS.md`). {TARGETS} targets, {ROLLING} rolling, the rest idle under the stack's \
         default policy (`auto_start`: an idle target read also lists its versions), through the \
         handler on in-memory ports: every call takes {} ms and, with the budget, waits for it \
         (10 a second); tokio's paused clock, so the seconds are simulated (and every figure \
         the same in any build profile). Per tick: the mean \
         over ticks 2 to {} (the first, a cold start, reads everything); per minute: at the \
         stack's one tick a minute. \"Most in a second\": the most calls that reached Lambda in \
         any one-second window, against the account's quota of {QUOTA}; \"over\": calls that \
         arrived with {QUOTA} already in their window (Lambda would throttle them).\n",
        LATENCY.as_millis(),
        TICKS + 1
    );
    let _ = writeln!(t, "| idle targets read | budget | cold tick, calls | GetAlias / tick | ListVersionsByFunction / tick | UpdateAlias / tick | calls / minute | tick takes, s | most in a second | over {QUOTA} |");
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let calls = r.get_alias + r.list_versions + r.update_alias;
        let _ = writeln!(
            t,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {} | {} |",
            if r.every == 1 {
                "every tick (before)".to_string()
            } else {
                format!("every {} ticks (after)", r.every)
            },
            if r.budget { "10 a second" } else { "none" },
            r.cold_calls,
            r.get_alias,
            r.list_versions,
            r.update_alias,
            calls,
            r.tick_seconds,
            r.busiest_second,
            r.over_quota
        );
    }
    let _ = writeln!(t, "<!-- control-plane:end -->");
    print!("{t}");
    if let Some(path) = write {
        common::write_section(&path, "control-plane", "Control-plane calls", &t);
    }
}
