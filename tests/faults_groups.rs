//! Fault injection for release groups (#17): groups of three functions in
//! the emulator, behind the same fault-injecting proxy as tests/faults.rs
//! (5xx, throttles, timeouts before and after the write applied, dropped
//! connections, tampered metrics, a rival writer in the console), ticked and
//! commanded in seeded random scenarios that also delete a member mid-release
//! and run duplicate ticks at once. After every operation:
//!
//! 1. no member is ahead of the group's agreed step (the members' lowest)
//!    by more than one write: one step, or an operator's promotion;
//! 2. once a member of a release is rolled back, no member of it moves
//!    forward, and after the next tick that is not cut short every member
//!    of it is rolled back (the members whose part was already done aside);
//! 3. a tick advances or promotes a member only on its pass on complete
//!    data, and never a member whose version is bad;
//! 4. every write of ours is a compare-and-swap on the RevisionId current at
//!    that moment, each alias is at the last state written, and every
//!    description parses.
//!
//! `make test` runs FAULT_SCENARIOS (default 10); `make faults` runs 1,000
//! and writes the figures into BENCHMARKS.md.

mod common;

use std::time::Duration;

use aws_sdk_lambda::types::AliasRoutingConfiguration;
use common::faults::{
    conclude, exchanges, faulty_clients, json_of, knobs, replay, Exchange, Fault, FaultProxy,
    Report, Wire,
};
use common::{emulator, sim_start, Emulator};
use lambda_rollout::aws::{CloudWatchMetrics, LambdaAliases};
use lambda_rollout::config::Config;
use lambda_rollout::engine::{Description, End, Phase, Record};
use lambda_rollout::executor::Executor;
use lambda_rollout::handler::Handler;
use lambda_rollout::memory::Rng;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

const MEMBERS: usize = 3;
/// Groups of functions, each used by every other scenario.
const GROUPS: usize = 2;
/// Operations per scenario, a minute apart, then the settling ticks.
const OPERATIONS: usize = 8;
const SETTLE: usize = 2;
const RPM: u64 = 3000;

type Group = Handler<LambdaAliases, CloudWatchMetrics>;

fn policy() -> Value {
    json!({"steps":[10, 50, 100], "bake":"1m", "metric_lag":"1m", "min_invocations":20,
           "error_floor":5, "latency_stat":"Average"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_under_injected_faults_keeps_its_invariants() {
    // Lanes of scenarios at once, each with its own proxy and groups: a
    // scenario mostly waits (timeouts, backoff), so lanes share the machine
    // well and a thousand fit in a fraction of the time.
    let (scenarios, seed, lanes) = knobs(10);
    let em = emulator().await;
    let started = std::time::Instant::now();
    let report = Report::of_lanes(lanes, |lane| run_lane(&em, seed, lane, lanes, scenarios)).await;
    let text = render(&report, scenarios, seed, lanes, started.elapsed());
    conclude(
        &text,
        ("group-faults", "Fault injection: groups"),
        &report.violations,
        (report.operations, scenarios * (OPERATIONS + SETTLE)),
    );
}

/// Scenarios `lane`, `lane + lanes`, ... of `scenarios`, one after another
/// on this lane's proxy and groups. Scenario `i` is the same whatever the
/// lanes: its time, its random choices and its seed come from `i`.
async fn run_lane(em: &Emulator, seed: u64, lane: usize, lanes: usize, scenarios: usize) -> Report {
    let (proxy, lambda, cloudwatch) = faulty_clients(em, seed ^ 0x6709 ^ (lane as u64) << 40).await;
    let mut pools = Vec::new();
    for g in 0..GROUPS {
        let mut functions = Vec::new();
        for _ in 0..MEMBERS {
            let f = em.blue_green("gfaults").await;
            em.publish(&f, "blue again").await; // version 3
            functions.push(f);
        }
        let members: Vec<Value> = functions
            .iter()
            .map(|f| json!({"function": f, "alias": "live"}))
            .collect();
        let name = format!("g{}", lane * GROUPS + g);
        let targets = json!([{"group": name, "targets": members, "policy": policy()}]);
        let handler = Handler::new(
            Executor::new(
                LambdaAliases::new(lambda.clone()),
                CloudWatchMetrics::new(cloudwatch.clone()),
            ),
            Config::from_values(Some(&targets.to_string()), None),
        );
        pools.push((name, functions, handler));
    }
    let base = UtcTime::from_unix(sim_start().unix() - 20 * 24 * 3600);
    let mut report = Report::default();
    for (n, i) in (lane..scenarios).step_by(lanes).enumerate() {
        let (name, functions, handler) = &pools[n % GROUPS];
        let t0 = UtcTime::from_unix(base.unix() + i as i64 * 15 * 60);
        let mut s = Scenario {
            em,
            proxy: &proxy,
            handler,
            name,
            functions,
            rng: Rng::new(seed ^ (i as u64) << 16),
            bad: None,
            deleted: None,
            promoted_by_hand: false,
        };
        s.run(t0, &mut report).await;
        report.scenarios += 1;
    }
    report
}

struct Scenario<'a> {
    em: &'a Emulator,
    proxy: &'a FaultProxy,
    handler: &'a Group,
    name: &'a str,
    functions: &'a [String],
    rng: Rng,
    /// The member whose green fails.
    bad: Option<usize>,
    /// The member whose alias was deleted.
    deleted: Option<usize>,
    /// An operator promoted the group: a promotion is one write from any step.
    promoted_by_hand: bool,
}

/// A member as the wire shows it (None: its alias is gone), and its
/// RevisionId.
type Seen = Option<(Wire, String)>;

impl Scenario<'_> {
    async fn run(&mut self, t0: UtcTime, report: &mut Report) {
        self.reset().await;
        self.bad = (self.rng.next_f64() < 0.4)
            .then(|| ((self.rng.next_f64() * MEMBERS as f64) as usize).min(MEMBERS - 1));
        let rate = 0.1 + 0.3 * self.rng.next_f64();
        let mut now = t0;
        let mut started = false;
        for op in 0..OPERATIONS + SETTLE {
            let settling = op >= OPERATIONS;
            let payloads = if !started {
                vec![json!({"action": "start", "group": self.name, "versions": self.versions()})]
            } else {
                self.traffic(now).await;
                if settling {
                    vec![json!({"action": "tick"})]
                } else {
                    self.pick().await
                }
            };
            let before = self.read().await;
            self.proxy.take_log().await;
            self.proxy.set_rate(if settling { 0.0 } else { rate });
            let results = futures_util::future::join_all(
                payloads.iter().map(|p| self.handler.handle(p, now)),
            )
            .await;
            self.proxy.set_rate(0.0);
            let log = self.proxy.take_log().await;
            let after = self.read().await;
            report.operations += 1;
            let action = if payloads.len() > 1 {
                "tick twice".to_string()
            } else {
                payloads[0]["action"].as_str().unwrap_or("tick").to_string()
            };
            started |= after
                .iter()
                .flatten()
                .any(|(w, _)| w.description.contains("grp="));
            for (p, r) in payloads.iter().zip(&results) {
                let what = p["action"].as_str().unwrap_or_default();
                let outcome = match r {
                    Ok(r) => format!("{what}: {}", r.groups.first().map_or("-", |g| g.state)),
                    Err(_) => format!("{what}: error"),
                };
                *report.outcomes.entry(outcome).or_default() += 1;
            }
            report.count_faults(&log);
            let context = format!(
                "{} at {now} ({action}, op {op}, bad {:?})",
                self.name, self.bad
            );
            if std::env::var_os("FAULT_VERBOSE").is_some() {
                println!(
                    "{context}: {:?}",
                    after
                        .iter()
                        .map(|s| s.as_ref().map(|(w, _)| &w.description))
                        .collect::<Vec<_>>()
                );
            }
            // A human promoting one member in the console is a promotion by
            // hand as much as an operator's: the group completes it as a split
            // (README, Release groups), one member a human's write ahead.
            self.promoted_by_hand |= log.iter().any(|x| {
                x.fault == Fault::RivalWrite && json_of(&x.request)["FunctionVersion"] == "2"
            });
            let found = report.violations.len();
            let mut fail = |m: String| report.violations.push(format!("{context}: {m}"));
            self.check(
                &action,
                settling && op == OPERATIONS + SETTLE - 1,
                &before,
                &after,
                &log,
                &results,
                &mut fail,
            );
            for v in &mut report.violations[found..] {
                v.push_str(&exchanges(&log));
            }
            now = UtcTime::from_unix(now.unix() + 60);
        }
    }

    /// Each member back to version 1, no routing, no record; a deleted
    /// alias made again. Without faults.
    async fn reset(&mut self) {
        self.proxy.set_rate(0.0);
        self.deleted = None;
        self.promoted_by_hand = false;
        for f in self.functions {
            let update = self
                .em
                .lambda
                .update_alias()
                .function_name(f)
                .name("live")
                .function_version("1")
                .description("")
                .routing_config(AliasRoutingConfiguration::builder().build())
                .send()
                .await;
            if update.is_err() {
                self.em.create_alias(f, "live", "1").await;
            }
        }
    }

    /// Version 2 for every member.
    fn versions(&self) -> Value {
        self.functions
            .iter()
            .map(|f| (f.clone(), json!("2")))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// A minute of traffic to each member, split as its alias really is.
    async fn traffic(&self, now: UtcTime) {
        self.proxy.set_rate(0.0);
        let minute = UtcTime::from_unix(now.unix() - 60);
        let seen = self.read().await;
        for (i, (f, s)) in self.functions.iter().zip(&seen).enumerate() {
            let Some((w, _)) = s else { continue };
            let green = (RPM as f64 * w.green_share("2")).round() as u64;
            let errors = |n: u64, pct: f64| ((n as f64) * pct / 100.0).round() as u64;
            let green_rate = if self.bad == Some(i) { 15.0 } else { 0.5 };
            if green > 0 {
                self.em
                    .put_version_minute_summary(
                        f,
                        "live",
                        "2",
                        minute,
                        green,
                        errors(green, green_rate),
                    )
                    .await;
            }
            if green < RPM {
                let blue = if w.version == "2" { "1" } else { &w.version };
                self.em
                    .put_version_minute_summary(
                        f,
                        "live",
                        blue,
                        minute,
                        RPM - green,
                        errors(RPM - green, 0.5),
                    )
                    .await;
            }
        }
    }

    /// The operation: ticks mostly, sometimes two at once, the group's
    /// commands, one member's rollback, or a member's alias deleted.
    async fn pick(&mut self) -> Vec<Value> {
        let r = self.rng.next_f64();
        let g = self.name;
        let member = ((self.rng.next_f64() * MEMBERS as f64) as usize).min(MEMBERS - 1);
        let tick = json!({"action": "tick"});
        if r < 0.05 {
            vec![json!({"action": "rollback", "group": g, "reason": "fault suite"})]
        } else if r < 0.08 {
            self.promoted_by_hand = true;
            vec![json!({"action": "promote", "group": g})]
        } else if r < 0.12 {
            vec![json!({"action": "pause", "group": g})]
        } else if r < 0.16 {
            vec![json!({"action": "resume", "group": g})]
        } else if r < 0.20 {
            vec![json!({"action": "rollback", "function": self.functions[member], "alias": "live"})]
        } else if r < 0.23 && self.deleted.is_none() {
            // Deleted mid-release, without faults; the tick that follows
            // finds it gone.
            self.proxy.set_rate(0.0);
            let f = &self.functions[member];
            self.em
                .lambda
                .delete_alias()
                .function_name(f)
                .name("live")
                .send()
                .await
                .expect("delete the alias");
            self.deleted = Some(member);
            vec![tick]
        } else if r < 0.35 {
            vec![tick.clone(), tick]
        } else {
            vec![tick]
        }
    }

    async fn read(&self) -> Vec<Seen> {
        let mut out = Vec::with_capacity(MEMBERS);
        for f in self.functions {
            let a = self
                .em
                .lambda
                .get_alias()
                .function_name(f)
                .name("live")
                .send()
                .await;
            out.push(a.ok().map(|a| {
                let weights = a
                    .routing_config()
                    .and_then(|r| r.additional_version_weights())
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
                    .unwrap_or_default();
                (
                    Wire {
                        version: a.function_version().unwrap_or_default().to_string(),
                        weights,
                        description: a.description().unwrap_or_default().to_string(),
                    },
                    a.revision_id().unwrap_or_default().to_string(),
                )
            }));
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        action: &str,
        last: bool,
        before: &[Seen],
        after: &[Seen],
        log: &[Exchange],
        results: &[Result<lambda_rollout::report::Response, lambda_rollout::error::Error>],
        fail: &mut dyn FnMut(String),
    ) {
        let ticked = action.starts_with("tick");
        // Whose green share a write of ours raised (2 checks it below).
        let mut raised = vec![false; self.functions.len()];
        // 4, and 3 at the wire: each member's exchanges replayed.
        for (i, f) in self.functions.iter().enumerate() {
            let (Some((b, rev)), Some((a, _))) = (&before[i], &after[i]) else {
                continue;
            };
            // Its alias's exchanges, and the metrics reads every member shares.
            let mine = log
                .iter()
                .filter(|x| x.alias.as_ref().is_none_or(|(xf, _)| xf == f));
            let bad = self.bad == Some(i);
            let current = replay(
                f,
                action == "tick twice",
                b,
                rev,
                mine,
                fail,
                |current, next, clean, fail| {
                    let grew = next.green_share("2") > current.green_share("2") + 1e-9;
                    raised[i] |= grew;
                    if ticked && grew && bad {
                        fail(format!(
                            "{f}: a bad green advanced: {current:?} -> {next:?}"
                        ));
                    }
                    // Two ticks at once interleave their metrics reads: each
                    // tick's own pass on complete data is checked from its report.
                    if action == "tick" && grew && clean != Some(true) {
                        fail(format!(
                            "{f}: advanced without a complete metrics answer ({clean:?})"
                        ));
                    }
                },
            );
            if current != *a {
                fail(format!(
                    "{f}: the alias is {a:?}, not the last state written {current:?}"
                ));
            }
            if let Err(e) = Description::parse(&a.description) {
                fail(format!("{f}: the description does not parse: {e}"));
            }
        }
        // 3, as the ticks reported it.
        for r in results.iter().flatten() {
            for t in &r.results {
                let moved = matches!(t.decision.label(), "advanced" | "promoted");
                let ok = t
                    .health
                    .as_ref()
                    .is_some_and(|h| h.verdict == "pass" && h.complete);
                if ticked && moved && !ok {
                    fail(format!(
                        "{}: {} without a pass on complete data",
                        t.function, t.decision
                    ));
                }
            }
        }
        let was = members(before);
        let now = members(after);
        let Some(release) = now.iter().chain(&was).flatten().map(|m| m.started).max() else {
            return;
        };
        let of = |ms: &[Option<Member>]| -> Vec<Option<Member>> {
            ms.iter()
                .map(|m| m.filter(|m| m.started == release))
                .collect()
        };
        let (was, now) = (of(&was), of(&now));
        // 1: one write apart at most.
        let ranks: Vec<u8> = now.iter().flatten().filter_map(|m| m.rank).collect();
        if let (Some(lo), Some(hi)) = (ranks.iter().min(), ranks.iter().max()) {
            let promoted = self.promoted_by_hand && *hi == 3;
            if hi - lo > 1 && !promoted {
                fail(format!("members {ranks:?} more than one write apart"));
            }
        }
        // 2: nothing moves forward once a member is back: by a write of
        // ours. A human (the rival) may move a weight by hand; a pause then
        // records it where it stands, which is not lambda-rollout moving it.
        let back_before = was.iter().flatten().any(|m| m.end == Some(End::Back));
        if back_before && !action.contains("promote") {
            for (i, w) in was.iter().enumerate() {
                if w.is_some() && raised[i] {
                    fail(format!(
                        "{}: moved forward by a write of ours after a rollback",
                        self.functions[i]
                    ));
                }
            }
        }
        // ... and after the last tick, not cut short, every member is back.
        let back_now = now.iter().flatten().any(|m| m.end == Some(End::Back));
        if last && back_now {
            for (i, m) in now.iter().enumerate() {
                if let Some(m) = m.filter(|m| m.rank.is_some()) {
                    fail(format!(
                        "{}: still in flight ({m:?}) after a member was rolled back",
                        self.functions[i]
                    ));
                }
            }
        }
    }
}

/// A member's part in a release, from its record.
#[derive(Debug, Clone, Copy)]
struct Member {
    started: UtcTime,
    /// 1 and 2 the steps, 3 promoted; None once its part is over.
    rank: Option<u8>,
    end: Option<End>,
}

fn members(seen: &[Seen]) -> Vec<Option<Member>> {
    seen.iter()
        .map(|s| {
            let (w, _) = s.as_ref()?;
            let record: Record = Description::parse(&w.description).ok()?.record;
            let m = record.group?;
            match (record.rollout, m.ended) {
                (Some(r), _) => Some(Member {
                    started: r.started,
                    rank: Some(match r.phase {
                        Phase::Watching => 3,
                        _ if r.weight.percent() <= 10.0 => 1,
                        _ => 2,
                    }),
                    end: None,
                }),
                (None, Some(e)) => Some(Member {
                    started: e.started,
                    rank: None,
                    end: Some(e.end),
                }),
                (None, None) => None,
            }
        })
        .collect()
}

fn render(r: &Report, scenarios: usize, seed: u64, lanes: usize, elapsed: Duration) -> String {
    let mut t = String::new();
    t.push_str("<!-- group-faults:begin -->\n");
    t.push_str(&format!(
        "Command: `make faults` (`FAULT_SCENARIOS={scenarios} FAULT_SEED={seed} \
         FAULT_LANES={lanes}`, tests/faults_groups.rs). {} scenarios of a group of {MEMBERS}, {} operations (a group \
         start, ticks, two ticks at once, the group's rollback, promote, pause and resume, one \
         member's rollback, a member's alias deleted, then {SETTLE} ticks without faults; the \
         emulator behind a fault-injecting proxy per lane of scenarios run at once), in {:.0} s. Invariant violations: **{}**.\n\n",
        r.scenarios,
        r.operations,
        elapsed.as_secs_f64(),
        r.violations.len()
    ));
    t.push_str(&r.tables("operation: group state found"));
    t.push_str("<!-- group-faults:end -->");
    t
}
