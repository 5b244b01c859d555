//! Duplicate and racing deliveries against the emulator: EventBridge delivers
//! a scheduled event at least once, a slow tick can overlap the next one, and
//! an operator's rollback can land in the middle of a tick. None of them may
//! move green two steps, and a rollback always wins or says to retry.

mod common;

use common::{emulator, sim_start, Emulator};
use lambda_rollout::config::Config;
use lambda_rollout::error::Error;
use lambda_rollout::model::UtcTime;
use serde_json::{json, Value};

const POLICY: &str = r#"{"steps":[10,25,50,100],"bake":"1m","min_invocations":20,"metric_lag":"1m","error_floor":5}"#;

/// The schedule's event, exactly as EventBridge delivers it.
fn scheduled() -> Value {
    serde_json::from_str(include_str!("../events/scheduled.json")).unwrap()
}

/// Lambda's config for the scheduled tick: one managed target.
fn config(f: &str) -> Config {
    let targets = json!([{"function": f, "alias": "live", "policy": serde_json::from_str::<Value>(POLICY).unwrap()}]);
    Config::from_values(Some(&targets.to_string()), None)
}

/// A minute of healthy traffic at the alias's current split.
async fn traffic(em: &Emulator, f: &str, m: UtcTime) {
    let a = em.alias_raw(f, "live").await;
    let g = (1000.0 * a.weight_of("2")).round() as u64;
    em.put_version_minute(f, "live", "1", m, 1000 - g, 0).await;
    if g > 0 {
        em.put_version_minute(f, "live", "2", m, g, 0).await;
    }
}

fn decisions(results: &[Result<lambda_rollout::report::Response, Error>]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r {
            Ok(r) => r.results[0].decision.to_string(),
            Err(e) => format!("error: {e}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_event_delivered_twice_or_racing_moves_green_one_step() {
    let em = emulator().await;
    let f = em.blue_green("duplicate").await;
    let cfg = config(&f);
    let h = em.handler(cfg.clone());
    let t0 = sim_start();
    em.run(
        &cfg,
        json!({"action":"start","function":f,"alias":"live"}),
        t0,
    )
    .await;
    let steps = [0.25, 0.5];
    let mut now = t0;
    for (round, next) in steps.iter().enumerate() {
        traffic(&em, &f, now).await;
        traffic(&em, &f, UtcTime::from_unix(now.unix() + 60)).await;
        now = UtcTime::from_unix(now.unix() + 120);
        let event = scheduled();
        let results = if round == 0 {
            // The same event twice, one after the other.
            vec![h.handle(&event, now).await, h.handle(&event, now).await]
        } else {
            // Twice at the same moment, and a third tick a second later.
            let later = UtcTime::from_unix(now.unix() + 1);
            let (a, b, c) = tokio::join!(
                h.handle(&event, now),
                h.handle(&event, now),
                h.handle(&event, later)
            );
            vec![a, b, c]
        };
        let d = decisions(&results);
        assert_eq!(
            d.iter().filter(|d| *d == "advanced").count(),
            1,
            "exactly one advance: {d:?}"
        );
        assert!(
            d.iter()
                .all(|d| matches!(d.as_str(), "advanced" | "held" | "conflict")),
            "the others hold or report the conflict: {d:?}"
        );
        let a = em.alias_raw(&f, "live").await;
        assert_eq!(a.weights, vec![("2".to_string(), *next)], "{d:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_racing_ticks_always_ends_rolled_back_or_says_retry() {
    let em = emulator().await;
    let f = em.blue_green("rollbackrace").await;
    let cfg = config(&f);
    let h = em.handler(cfg.clone());
    let t0 = sim_start();
    let rollback = json!({"action":"rollback","function":f,"alias":"live","reason":"3 a.m. page"});
    for round in 0..8 {
        let now = UtcTime::from_unix(t0.unix() + round * 600);
        em.run(
            &cfg,
            json!({"action":"start","function":f,"alias":"live","version":"2","force":true}),
            now,
        )
        .await;
        traffic(&em, &f, now).await;
        traffic(&em, &f, UtcTime::from_unix(now.unix() + 60)).await;
        let at = UtcTime::from_unix(now.unix() + 120);
        let event = scheduled();
        // A tick that wants to advance, racing the operator's rollback.
        let (tick, back, tick2) = tokio::join!(
            h.handle(&event, at),
            h.handle(&rollback, at),
            h.handle(&event, at)
        );
        let rolled_back = match &back {
            Ok(r) => r.results[0].decision == "rolled_back",
            Err(e) => {
                // Lost twice in a row: reported as a conflict, to retry.
                assert!(matches!(e, Error::Conflict { .. }), "{e}");
                let r = h.handle(&rollback, at).await.expect("the retry lands");
                r.results[0].decision == "rolled_back"
            }
        };
        assert!(rolled_back, "round {round}: {back:?}");
        let a = em.alias_raw(&f, "live").await;
        assert!(
            a.weights.is_empty() && a.function_version == "1",
            "round {round}: the rollback stands, whatever the ticks did: {a:?}; ticks {:?}",
            decisions(&[tick, tick2])
        );
    }
}
