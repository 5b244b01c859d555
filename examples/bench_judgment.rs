//! `make bench-judgment`: how well does the default policy judge, against two
//! baselines, on scenarios generated from a seed? Writes the table into
//! BENCHMARKS.md between the judgment markers.
//!
//! Scenarios: traffic 0.2 to 200 requests per second; blue's error rate 0 to
//! 2%; green healthy (x1), x1.5, x2 or x5 blue's error rate (absolute 0.5%, 1%
//! and 5% where blue's is 0), or p99 +50%; quiet, or with noisy minutes (1% of
//! minutes, both versions fail 10x as often). Each runs for at most a simulated
//! day through `simulate::run`, the real executor and engine.
//!
//! Baselines, on the same scenarios and steps: "any green error in the last
//! minute rolls back" (the Lambda OSS tools) and "green's error rate above 1%
//! in the last minute rolls back" (a typical CodeDeploy alarm). Both advance on
//! the bake alone: they pass on no data.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lambda_rollout::engine::stats::{binomial_sf, ln_evidence, Stratum};
use lambda_rollout::memory::Rng;
use lambda_rollout::policy::{Policy, PolicySpec};
use lambda_rollout::simulate::{self, Minute, Series, VersionMinute};

const DAY: usize = 24 * 60;
const RPS: [f64; 6] = [0.2, 1.0, 5.0, 20.0, 50.0, 200.0];
const BLUE: [f64; 4] = [0.0, 0.1, 0.5, 2.0];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Class {
    Healthy,
    Errors1_5x,
    Errors2x,
    Errors5x,
    Latency50,
    /// 1.25x blue's errors: as much worse as error_tolerance allows, so
    /// healthy by the policy's own definition (the long holds only).
    AtTolerance,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Healthy => "healthy",
            Class::Errors1_5x => "errors x1.5 (abs 0.5%)",
            Class::Errors2x => "errors x2 (abs 1%)",
            Class::Errors5x => "errors x5 (abs 5%)",
            Class::Latency50 => "p99 +50%",
            Class::AtTolerance => "errors x1.25 (at error_tolerance)",
        }
    }

    /// Green's error rate (percent) for blue's.
    fn green_rate(self, blue: f64) -> f64 {
        match (self, blue == 0.0) {
            (Class::Healthy | Class::Latency50, _) => blue,
            (Class::AtTolerance, _) => blue * 1.25,
            (Class::Errors1_5x, false) => blue * 1.5,
            (Class::Errors2x, false) => blue * 2.0,
            (Class::Errors5x, false) => blue * 5.0,
            (Class::Errors1_5x, true) => 0.5,
            (Class::Errors2x, true) => 1.0,
            (Class::Errors5x, true) => 5.0,
        }
    }

    fn bad(self) -> bool {
        !matches!(self, Class::Healthy | Class::AtTolerance)
    }
}

struct Scenario {
    rps: f64,
    blue: f64,
    class: Class,
    series: Series,
}

fn scenario(rps: f64, blue: f64, class: Class, noisy: bool, rng: &mut Rng) -> Scenario {
    let green = class.green_rate(blue);
    let green_ms = if class == Class::Latency50 {
        180.0
    } else {
        120.0
    };
    let minutes = (0..DAY)
        .map(|_| {
            // Requests a minute: Poisson around rps * 60 (normal beyond 30).
            let mean = rps * 60.0;
            let requests = if mean < 30.0 {
                let (l, mut k, mut p) = ((-mean).exp(), 0u64, 1.0);
                loop {
                    p *= rng.next_f64();
                    if p <= l {
                        break k;
                    }
                    k += 1;
                }
            } else {
                let (u1, u2) = (rng.next_f64().max(1e-300), rng.next_f64());
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                (mean + mean.sqrt() * z).round().max(0.0) as u64
            };
            let burst = if noisy && rng.next_f64() < 0.01 {
                10.0
            } else {
                1.0
            };
            let jitter = |rng: &mut Rng| 0.9 + 0.2 * rng.next_f64();
            Minute {
                requests,
                blue: VersionMinute {
                    error_rate: (blue * burst).min(100.0),
                    latency_ms: Some(120.0 * jitter(rng)),
                },
                green: VersionMinute {
                    error_rate: (green * burst).min(100.0),
                    latency_ms: Some(green_ms * jitter(rng)),
                },
            }
        })
        .collect();
    Scenario {
        rps,
        blue,
        class,
        series: Series {
            start: Some("2026-11-20T00:00:00Z".into()),
            stable: None,
            green: None,
            policy: None,
            minutes,
        },
    }
}

/// How one run ended.
#[derive(Clone, Copy, Debug)]
struct Run {
    promoted: bool,
    rolled_back: bool,
    /// Green's weight when it was rolled back (percent).
    weight_at_rollback: f64,
    ticks: usize,
    /// Highest weight green reached (100 once promoted).
    max_weight: f64,
}

async fn ours(s: &Scenario, seed: u64) -> Run {
    let out = simulate::run(&s.series, &[], seed)
        .await
        .expect("valid scenario");
    let last = &out.ticks.last().expect("ticks").result;
    let max_weight = out
        .ticks
        .iter()
        .map(|t| {
            if t.result.decision == "promoted" {
                100.0
            } else {
                t.result.weight_after.percent()
            }
        })
        .fold(0.0, f64::max);
    Run {
        promoted: last.decision == "promoted",
        rolled_back: last.decision == "rolled_back",
        weight_at_rollback: last.weight_before.percent(),
        ticks: out.ticks.len() - 1,
        max_weight,
    }
}

/// A baseline: advance after each bake whatever the data; roll back when
/// `fails(green requests, green errors)` says so for the last minute.
fn baseline(s: &Scenario, policy: &Policy, seed: u64, fails: impl Fn(u64, u64) -> bool) -> Run {
    let mut rng = Rng::new(seed);
    let bake = (policy.bake.as_secs() / 60).max(1) as usize;
    let steps: Vec<f64> = policy.steps.iter().map(|w| w.percent()).collect();
    let (mut step, mut at_step) = (0usize, 0usize);
    let mut max_weight: f64 = steps[0];
    for (i, m) in s.series.minutes.iter().enumerate() {
        let w = steps[step] / 100.0;
        let g = (m.requests as f64 * w).round() as u64;
        let ge = rng.binomial(g, m.green.error_rate);
        if fails(g, ge) {
            return Run {
                promoted: false,
                rolled_back: true,
                weight_at_rollback: steps[step],
                ticks: i + 1,
                max_weight,
            };
        }
        at_step += 1;
        if at_step >= bake {
            step += 1;
            at_step = 0;
            if step + 1 >= steps.len() {
                return Run {
                    promoted: true,
                    rolled_back: false,
                    weight_at_rollback: 0.0,
                    ticks: i + 1,
                    max_weight: 100.0,
                };
            }
            max_weight = max_weight.max(steps[step]);
        }
    }
    Run {
        promoted: false,
        rolled_back: false,
        weight_at_rollback: 0.0,
        ticks: DAY,
        max_weight,
    }
}

/// Expected excess green errors while green is below 50% for one bake at each
/// step: the evidence a judge can have before it must decide.
fn excess_errors(s: &Scenario, policy: &Policy) -> f64 {
    let bake_min = policy.bake.as_secs_f64() / 60.0;
    let below: f64 = policy
        .steps
        .iter()
        .map(|w| w.percent())
        .filter(|p| *p < 50.0)
        .sum::<f64>()
        / 100.0;
    let green = s.class.green_rate(s.blue);
    (green - s.blue).max(0.0) / 100.0 * s.rps * 60.0 * below * bake_min
}

/// Whether a healthy version's counts, as expected over one bake at each step
/// below 50%, are enough for the sequential test to rule out a detect_ratio
/// regression: can any run be expected to step to 50% on time?
fn decidable(s: &Scenario, policy: &Policy) -> bool {
    let bake_min = policy.bake.as_secs_f64() / 60.0;
    let rate = s.blue / 100.0;
    let strata: Vec<Stratum> = policy
        .steps
        .iter()
        .map(|w| w.fraction())
        .filter(|w| *w < 0.5)
        .map(|w| {
            let requests = s.rps * 60.0 * bake_min;
            let (g, b) = (requests * w, requests * (1.0 - w));
            Stratum {
                green_requests: g.round() as u64,
                green_errors: (g * rate).round() as u64,
                blue_requests: b.round() as u64,
                blue_errors: (b * rate).round() as u64,
            }
        })
        .collect();
    ln_evidence(
        &strata,
        1.0 + policy.error_tolerance,
        policy.detect_ratio,
        policy.error_floor / 100.0,
    ) >= (1.0 / (1.0 - policy.pass_confidence)).ln()
}

/// The long-hold scenarios: a version judged every minute for hours at one
/// step (waiting for an approval that never comes), healthy or exactly as
/// much worse as error_tolerance allows; and a healthy one whose traffic
/// stops for half an hour after the start and then returns.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Hold {
    HoursAtOneStep(Class),
    TrafficGap,
}

/// How long a hold at one step lasts, in minutes.
const HOLD_MINUTES: usize = 6 * 60;
const HOLD_RPS: [f64; 3] = [5.0, 20.0, 50.0];
const HOLD_BLUE: [f64; 2] = [0.5, 2.0];

impl Hold {
    fn name(self) -> String {
        match self {
            Hold::HoursAtOneStep(c) => format!(
                "{}, {} hours at 10% (awaiting approval)",
                c.name(),
                HOLD_MINUTES / 60
            ),
            Hold::TrafficGap => "healthy, no traffic for 30 min after the start".into(),
        }
    }
}

/// What the engine did before its rule 4 was sequential: the exact binomial
/// test on the step's growing window, checked every minute, failing at
/// p < 1 - error_confidence. Only the rollback side is replayed (green at
/// 10% all day): whether, and after how many minutes, it fires.
fn fixed_sample_rollback(s: &Scenario, policy: &Policy, seed: u64) -> Option<usize> {
    let mut rng = Rng::new(seed);
    let r0 = 1.0 + policy.error_tolerance;
    let (mut gn, mut ge, mut bn, mut be) = (0u64, 0u64, 0u64, 0u64);
    for (i, m) in s.series.minutes.iter().enumerate() {
        let g = (m.requests as f64 * 0.1).round() as u64;
        gn += g;
        bn += m.requests - g;
        ge += rng.binomial(g, m.green.error_rate);
        be += rng.binomial(m.requests - g, m.blue.error_rate);
        if bn == 0 || ge == 0 {
            continue;
        }
        let share = gn as f64 * r0 / (gn as f64 * r0 + bn as f64);
        if binomial_sf(ge, ge + be, share) < 1.0 - policy.error_confidence {
            return Some(i + 1);
        }
    }
    None
}

#[derive(Default)]
struct Tally {
    n: usize,
    promoted: usize,
    rolled_back: usize,
    rolled_back_below_50: usize,
    held: usize,
    rollback_weights: Vec<f64>,
    rollback_ticks: Vec<usize>,
    promote_ticks: Vec<usize>,
    held_below_50: usize,
}

impl Tally {
    fn add(&mut self, r: Run) {
        self.n += 1;
        if r.promoted {
            self.promoted += 1;
            self.promote_ticks.push(r.ticks);
        } else if r.rolled_back {
            self.rolled_back += 1;
            if r.weight_at_rollback < 50.0 {
                self.rolled_back_below_50 += 1;
            }
            self.rollback_weights.push(r.weight_at_rollback);
            self.rollback_ticks.push(r.ticks);
        } else {
            self.held += 1;
            if r.max_weight < 50.0 {
                self.held_below_50 += 1;
            }
        }
    }
}

fn median<T: Copy + PartialOrd>(v: &[T]) -> Option<T> {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v.get(v.len() / 2).copied()
}

fn pct(a: usize, n: usize) -> String {
    if n == 0 {
        "–".into()
    } else {
        format!("{:.1}%", a as f64 * 100.0 / n as f64)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(2026);
    let reps: usize = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let write = common::write_arg();
    let policy = PolicySpec::resolve(&[]).expect("defaults");
    let mut rng = Rng::new(seed);
    // Runs only the scenarios of one class (its name in the table), to
    // investigate; the scenarios and seeds stay those of the full run.
    let only = std::env::var("BENCH_CLASS").ok();

    // (judge, class, detectable?) -> tally; and healthy promotion time by rps.
    let mut tallies: BTreeMap<(&str, Class, &str), Tally> = BTreeMap::new();
    // Healthy versions by (traffic index, decidable in time): runs, held to
    // the end, and promotion time over the steps' time for those promoted.
    let mut healthy_time: BTreeMap<(usize, bool), (usize, usize, Vec<f64>)> = BTreeMap::new();
    let step_minutes = (policy.steps.len() - 1) as f64 * policy.bake.as_secs_f64() / 60.0;
    let started = std::time::Instant::now();
    let mut runs = 0;
    for &rps in &RPS {
        for &blue in &BLUE {
            for class in [
                Class::Healthy,
                Class::Errors1_5x,
                Class::Errors2x,
                Class::Errors5x,
                Class::Latency50,
            ] {
                for noisy in [false, true] {
                    for _ in 0..reps {
                        let s = scenario(rps, blue, class, noisy, &mut rng);
                        let run_seed = (rng.next_f64() * 1e12) as u64;
                        if only.as_deref().is_some_and(|c| c != class.name()) {
                            continue;
                        }
                        let detect = if !class.bad() || class == Class::Latency50 {
                            "all"
                        } else if excess_errors(&s, &policy) >= 10.0 {
                            "detectable"
                        } else {
                            "not detectable"
                        };
                        let results = [
                            ("lambda-rollout", ours(&s, run_seed).await),
                            ("any error", baseline(&s, &policy, run_seed, |_, e| e > 0)),
                            (
                                "error rate > 1%",
                                baseline(&s, &policy, run_seed, |n, e| {
                                    n > 0 && e as f64 * 100.0 > n as f64
                                }),
                            ),
                        ];
                        // A 2x-or-worse version promoted is what the judge must never do:
                        // name the scenario so that it can be replayed.
                        let (_, ours_run) = results[0];
                        if ours_run.promoted
                            && class >= Class::Errors2x
                            && class != Class::Latency50
                        {
                            eprintln!(
                                "UNSAFE: {} promoted at {rps} rps, blue {blue}%, noisy {noisy}, \
                                 run seed {run_seed}, after {} ticks",
                                class.name(),
                                ours_run.ticks
                            );
                        }
                        for (judge, r) in results {
                            tallies.entry((judge, class, detect)).or_default().add(r);
                            if class == Class::Healthy && judge == "lambda-rollout" {
                                let rps_index = RPS.iter().position(|r| *r == rps).unwrap_or(0);
                                let e = healthy_time
                                    .entry((rps_index, decidable(&s, &policy)))
                                    .or_default();
                                e.0 += 1;
                                if r.promoted {
                                    e.2.push(r.ticks as f64 / step_minutes);
                                } else if !r.rolled_back {
                                    e.1 += 1;
                                }
                            }
                        }
                        runs += 1;
                    }
                }
            }
        }
    }
    // Long holds, versions healthy by the policy: ours against the
    // fixed-sample test it replaced, on the same scenarios.
    let mut holds: BTreeMap<(Hold, &str), Tally> = BTreeMap::new();
    let gated: PolicySpec =
        serde_json::from_str(r#"{"approve_before": 25}"#).expect("a valid policy");
    let mut hold_runs = 0;
    let mut long = Vec::new();
    for class in [Class::Healthy, Class::AtTolerance] {
        for &rps in &HOLD_RPS {
            for &blue in &HOLD_BLUE {
                for noisy in [false, true] {
                    for _ in 0..reps * 2 {
                        long.push((Hold::HoursAtOneStep(class), rps, blue, noisy));
                    }
                }
            }
        }
    }
    for &rps in &RPS {
        for &blue in &BLUE {
            for noisy in [false, true] {
                for _ in 0..reps {
                    long.push((Hold::TrafficGap, rps, blue, noisy));
                }
            }
        }
    }
    for (hold, rps, blue, noisy) in long {
        let class = match hold {
            Hold::HoursAtOneStep(c) => c,
            Hold::TrafficGap => Class::Healthy,
        };
        let mut s = scenario(rps, blue, class, noisy, &mut rng);
        let run_seed = (rng.next_f64() * 1e12) as u64;
        if only.is_some() {
            continue;
        }
        match hold {
            Hold::HoursAtOneStep(_) => {
                s.series.policy = Some(gated.clone());
                s.series.minutes.truncate(HOLD_MINUTES);
            }
            Hold::TrafficGap => {
                for m in &mut s.series.minutes[2..32] {
                    m.requests = 0;
                }
            }
        }
        let r = ours(&s, run_seed).await;
        holds.entry((hold, "lambda-rollout")).or_default().add(r);
        if matches!(hold, Hold::HoursAtOneStep(_)) {
            let fired = fixed_sample_rollback(&s, &policy, run_seed);
            holds
                .entry((hold, "fixed-sample test (before)"))
                .or_default()
                .add(Run {
                    promoted: false,
                    rolled_back: fired.is_some(),
                    weight_at_rollback: 10.0,
                    ticks: fired.unwrap_or(HOLD_MINUTES),
                    max_weight: 10.0,
                });
        }
        hold_runs += 1;
    }
    let elapsed = started.elapsed();

    let mut t = String::new();
    let _ = writeln!(t, "<!-- judgment:begin -->");
    let _ = writeln!(
        t,
        "Command: `make bench-judgment` (`cargo run --release --example bench_judgment -- --seed {seed} --reps {reps} --write BENCHMARKS.md`). \
         {runs} scenarios x 3 judges, each at most a simulated day, and the long holds below, in {:.0} s. Default policy: steps {:?}, bake {}s, \
         error_confidence {}, error_tolerance {}, detect_ratio {}, pass_confidence {}, error_floor {}%, max_latency_ratio {}.\n",
        elapsed.as_secs_f64(),
        policy.steps.iter().map(|w| w.percent()).collect::<Vec<_>>(),
        policy.bake.as_secs(),
        policy.error_confidence,
        policy.error_tolerance,
        policy.detect_ratio,
        policy.pass_confidence,
        policy.error_floor,
        policy.max_latency_ratio,
    );
    let _ = writeln!(
        t,
        "Detectable: green's expected excess errors (green's rate minus blue's, times its requests at the steps \
         below 50% for one bake each) are at least 10. Traffic {RPS:?} rps; blue's error rate {BLUE:?}%; \
         quiet and noisy (1% of minutes, both versions fail 10x).\n"
    );
    let _ = writeln!(t, "| judge | green | detectable | runs | rolled back | before 50% | median weight / ticks (a minute each) at rollback | promoted | held to the end (below 50%) |");
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|");
    for ((judge, class, detect), v) in &tallies {
        let _ = writeln!(
            t,
            "| {judge} | {} | {detect} | {} | {} | {} | {} | {} | {} ({}) |",
            class.name(),
            v.n,
            pct(v.rolled_back, v.n),
            pct(v.rolled_back_below_50, v.n),
            match (median(&v.rollback_weights), median(&v.rollback_ticks)) {
                (Some(w), Some(k)) => format!("{w}% / {k}"),
                _ => "–".into(),
            },
            pct(v.promoted, v.n),
            pct(v.held, v.n),
            pct(v.held_below_50, v.n),
        );
    }
    // The targets' bad versions (2x or worse errors, p99 +50%) against the
    // healthy ones, per judge: catch rate and false rollbacks side by side.
    let _ = writeln!(
        t,
        "\nSummary: bad versions are those with 2x or worse errors (absolute 1% or 5% over a clean blue) \
         or p99 +50%.\n\n| judge | bad rolled back | bad promoted | healthy rolled back | healthy promoted |\n|---|---|---|---|---|"
    );
    for judge in ["lambda-rollout", "any error", "error rate > 1%"] {
        let (mut bad, mut bad_rb, mut bad_pr) = (0, 0, 0);
        let (mut ok, mut ok_rb, mut ok_pr) = (0, 0, 0);
        for ((j, class, _), v) in &tallies {
            if *j != judge {
                continue;
            }
            match class {
                Class::Healthy => {
                    ok += v.n;
                    ok_rb += v.rolled_back;
                    ok_pr += v.promoted;
                }
                Class::Errors2x | Class::Errors5x | Class::Latency50 => {
                    bad += v.n;
                    bad_rb += v.rolled_back;
                    bad_pr += v.promoted;
                }
                Class::Errors1_5x | Class::AtTolerance => {}
            }
        }
        let _ = writeln!(
            t,
            "| {judge} | {} | {} | {} | {} |",
            pct(bad_rb, bad),
            pct(bad_pr, bad),
            pct(ok_rb, ok),
            pct(ok_pr, ok)
        );
    }
    let _ = writeln!(
        t,
        "\nHealthy versions, lambda-rollout: time to promotion over the time its steps take \
         ({step_minutes} min). Decidable in time: at blue's error rate and the scenario's traffic, \
         the counts expected over one bake at each step below 50% would let the sequential test \
         rule out a {}x regression (or a rate above error_floor) at {}% confidence, so the step \
         to 50% need not wait for more data. Where they would not, the data cannot tell a healthy \
         version from a {}x one at that confidence by then: it holds until it can, and the table \
         says how long.\n",
        policy.detect_ratio,
        policy.pass_confidence * 100.0,
        policy.detect_ratio
    );
    let _ = writeln!(
        t,
        "| traffic | decidable in time | runs | promoted | median ratio | worst ratio | median hours to promotion | held to the end |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|");
    for ((i, decidable), (n, held, ratios)) in &healthy_time {
        let hours = |r: f64| r * step_minutes / 60.0;
        let _ = writeln!(
            t,
            "| {} rps | {} | {n} | {} | {} | {} | {} | {} |",
            RPS[*i],
            if *decidable { "yes" } else { "no" },
            pct(ratios.len(), *n),
            median(ratios).map_or("–".into(), |m| format!("{m:.2}")),
            ratios
                .iter()
                .cloned()
                .reduce(f64::max)
                .map_or("–".into(), |m| format!("{m:.2}")),
            median(ratios).map_or("–".into(), |m| format!("{:.1}", hours(m))),
            pct(*held, *n),
        );
    }
    let _ = writeln!(
        t,
        "\nLong holds ({hold_runs} more scenarios): versions healthy by the policy, green at blue's \
         error rate or at 1.25x it (as much worse as error_tolerance allows), judged every minute \
         for {} hours at 10% (the policy's approve_before 25 is never approved), traffic \
         {HOLD_RPS:?} rps, blue {HOLD_BLUE:?}%, quiet and noisy, {} runs each; and healthy \
         versions with no traffic at all from minute 2 to 32, every traffic and blue rate above, \
         {reps} runs each. Rules 4 and 5 are sequential tests (likelihood-ratio martingales), so \
         looking every minute for hours does not raise their false-rollback rate past \
         1 - error_confidence; the fixed-sample binomial test rule 4 was before, on the same \
         minutes, is shown for the holds at one step.\n\n| scenario | judge | runs | rolled back | median minutes to rollback | promoted |\n|---|---|---|---|---|---|",
        HOLD_MINUTES / 60,
        reps * 2
    );
    for ((hold, judge), v) in &holds {
        let _ = writeln!(
            t,
            "| {} | {judge} | {} | {} | {} | {} |",
            hold.name(),
            v.n,
            pct(v.rolled_back, v.n),
            median(&v.rollback_ticks).map_or("–".into(), |k| k.to_string()),
            pct(v.promoted, v.n),
        );
    }
    let _ = writeln!(t, "<!-- judgment:end -->");
    print!("{t}");

    if let Some(path) = write {
        common::write_section(&path, "judgment", "Judgment", &t);
    }
}
