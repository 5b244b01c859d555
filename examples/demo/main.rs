//! `make demo`: the main job against the local emulator, no AWS account.
//!
//! Act 1: the seed's `hello` function, version 1 ("Blue") behind the alias
//! `live`, gets version 2 ("Green"); a rollout starts and, minute by simulated
//! minute, the demo writes the metrics Lambda itself would emit for each version
//! (`Invocations`, `Errors`, `Duration` with the `ExecutedVersion` dimensions),
//! split by the alias's current weight, and ticks the real handler, until
//! version 2 is promoted. Act 2: version 3 fails 6% of its requests and is
//! rolled back on its own. Then it writes a timeline picture.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;

use lambda_rollout::config::Config;
use lambda_rollout::model::UtcTime;
use lambda_rollout::timeline::{self, Point};
use serde_json::{json, Value};

const FUNCTION: &str = "hello";
const PER_MINUTE: u64 = 1200; // 20 requests per second through the alias

/// A small deterministic generator: the demo shows the same run every time.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// How many of `n` requests fail at `pct` percent.
    fn failures(&mut self, n: u64, pct: f64) -> u64 {
        (0..n).filter(|_| self.next() * 100.0 < pct).count() as u64
    }

    /// A factor around 1 (0.9 to 1.1): minute-to-minute latency wobble.
    fn jitter(&mut self) -> f64 {
        0.9 + 0.2 * self.next()
    }
}

fn bar(weight: f64) -> String {
    let filled = ((weight / 5.0).round() as usize).min(20);
    format!("{}{}", "█".repeat(filled), "·".repeat(20 - filled))
}

struct Demo {
    em: common::Emulator,
    handler: lambda_rollout::handler::Handler<
        lambda_rollout::aws::LambdaAliases,
        lambda_rollout::aws::CloudWatchMetrics,
    >,
    policy: Value,
    t0: UtcTime,
    minute: i64,
    noise: Noise,
    points: Vec<Point>,
}

impl Demo {
    async fn invoke(&self, payload: Value, now: UtcTime) -> Result<Value, String> {
        self.handler
            .handle(&payload, now)
            .await
            .map(|r| serde_json::to_value(r).expect("serializes"))
            .map_err(|e| e.to_string())
    }

    fn now(&self) -> UtcTime {
        UtcTime::from_unix(self.t0.unix() + 60 * self.minute)
    }

    /// Starts a rollout of `green`, then one simulated minute per tick until a
    /// final decision. Returns that decision.
    async fn act(
        &mut self,
        blue: &str,
        green: &str,
        green_error_pct: f64,
        green_ms: f64,
    ) -> Result<String, String> {
        let start = json!({"action":"start","function":FUNCTION,"alias":"live","version":green,"policy":self.policy});
        let r = self.invoke(start, self.now()).await?;
        let res = &r["results"][0];
        println!("  start     {}", res["reason"].as_str().unwrap_or_default());
        self.points.push(Point {
            minute: self.minute as f64,
            weight: res["weight_after"].as_f64().unwrap_or(0.0),
            green: None,
            blue: None,
            mark: Some(format!("start v{green}")),
            failed: false,
        });
        let tick = json!({"action":"tick","targets":[{"function":FUNCTION,"alias":"live","policy":self.policy}]});
        for _ in 0..60 {
            // One minute of traffic, split by the alias as it is now.
            let alias = self.em.alias_raw(FUNCTION, "live").await;
            let w = alias.weight_of(green);
            let g = (PER_MINUTE as f64 * w).round() as u64;
            let b = PER_MINUTE - g;
            let m = self.now();
            let (ge, be) = (
                self.noise.failures(g, green_error_pct),
                self.noise.failures(b, 0.3),
            );
            let (gms, bms) = (green_ms * self.noise.jitter(), 120.0 * self.noise.jitter());
            self.em
                .put_version_minute_ms(FUNCTION, "live", blue, m, b, be, bms)
                .await;
            if g > 0 {
                self.em
                    .put_version_minute_ms(FUNCTION, "live", green, m, g, ge, gms)
                    .await;
            }
            self.minute += 1;
            // The tick runs as the next minute closes: metric_lag is 1 minute.
            let now = UtcTime::from_unix(self.now().unix() + 60);
            let r = self.invoke(tick.clone(), now).await?;
            let res = &r["results"][0];
            let d = res["decision"].as_str().unwrap_or_default().to_string();
            let after = if d == "promoted" {
                100.0
            } else {
                res["weight_after"].as_f64().unwrap_or(0.0)
            };
            let h = &res["health"];
            let rate = |v: &Value| v["error_rate"].as_f64();
            let figures = if h.is_null() {
                "no complete minute in the window yet".to_string()
            } else {
                format!(
                    "green {:>4} req {:>3} err | blue {:>5} req {:>2} err",
                    h["green"]["invocations"],
                    h["green"]["errors"],
                    h["blue"]["invocations"],
                    h["blue"]["errors"]
                )
            };
            println!(
                "  {} {} {:>5.1}%  {:<44} {:<11} {}",
                &now.to_string()[11..16],
                bar(after),
                after,
                figures,
                d,
                short(res["reason"].as_str().unwrap_or_default())
            );
            let mark = match d.as_str() {
                "advanced" => Some(format!("{after}%")),
                "promoted" => Some(format!("promoted v{green}")),
                "rolled_back" => Some(format!("rolled back v{green}")),
                _ => None,
            };
            self.points.push(Point {
                minute: self.minute as f64,
                weight: after,
                green: rate(&h["green"]),
                blue: rate(&h["blue"]),
                failed: d == "rolled_back",
                mark,
            });
            match d.as_str() {
                "promoted" | "rolled_back" => {
                    println!("  {d}: {}", res["reason"].as_str().unwrap_or_default());
                    return Ok(d);
                }
                "error" | "conflict" => return Err(format!("unexpected {d}: {}", res["reason"])),
                _ => {}
            }
        }
        Err(format!(
            "version {green}: no final decision within an hour of simulated time"
        ))
    }
}

/// The reason, cut to fit one terminal line; the full text is in the JSON.
fn short(reason: &str) -> String {
    let mut cut = reason.split(" (green").next().unwrap_or(reason).to_string();
    // Holding: what matters is why, not where (the bar shows where).
    for marker in ["health so far: ", "cannot judge yet, holding "] {
        if let Some(i) = cut.find(marker) {
            let rest = &cut[i + marker.len()..];
            let rest = rest.split_once("): ").map(|(_, r)| r).unwrap_or(rest);
            cut = rest.to_string();
        }
    }
    let cut = cut
        .replace("cannot yet rule out a 2x regression: ", "")
        .replace(" at 90% confidence, and must be at most ", ", must be <= ");
    if cut.chars().count() > 100 {
        format!("{}…", cut.chars().take(99).collect::<String>())
    } else {
        cut
    }
}

async fn run() -> Result<(), String> {
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
    let v1 = em.publish(FUNCTION, "Hello From Blue Deployment").await;
    em.create_alias(FUNCTION, "live", &v1).await;
    let handler = em.handler(Config::from_values(None, None));
    let em_t0 = em.clean_sim_start(FUNCTION).await;
    let policy = json!({"steps":[10,25,50,100],"bake":"3m","min_invocations":50,"max_error_rate":2,"metric_lag":"1m"});
    println!("lambda-rollout demo: function {FUNCTION}, alias live -> version {v1} \"Hello From Blue Deployment\"");
    println!("policy {policy}; {PER_MINUTE} requests a minute; one tick per simulated minute\n");
    let mut demo = Demo {
        em,
        handler,
        policy,
        t0: em_t0,
        minute: 0,
        noise: Noise(2026),
        points: Vec::new(),
    };

    let v2 = demo
        .em
        .publish(FUNCTION, "Hello From Green Deployment")
        .await;
    println!("Act 1: version {v2} \"Hello From Green Deployment\", as healthy as blue");
    let first = demo.act(&v1, &v2, 0.3, 118.0).await?;

    demo.minute += 2;
    let v3 = demo.em.publish(FUNCTION, "Hello From Version 3").await;
    println!("\nAct 2: version {v3}, which fails 6% of its requests");
    let second = demo.act(&v2, &v3, 6.0, 180.0).await?;

    let alias = demo.em.alias_raw(FUNCTION, "live").await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/demo");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("timeline.svg");
    let picture = timeline::svg(
        &format!("lambda-rollout demo: version {v2} promoted, version {v3} rolled back"),
        &demo.points,
    );
    std::fs::write(&path, picture).map_err(|e| e.to_string())?;
    println!(
        "\nalias live -> version {}, routing {:?}; description: {}",
        alias.function_version, alias.weights, alias.description
    );
    println!("timeline picture: {}", path.display());
    if first == "promoted"
        && second == "rolled_back"
        && alias.function_version == v2
        && alias.weights.is_empty()
    {
        println!("version {v2} promoted, version {v3} rolled back.");
        Ok(())
    } else {
        Err(format!(
            "expected {v2} promoted and {v3} rolled back, got {first} and {second}"
        ))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}
