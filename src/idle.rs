//! Idle targets cost almost nothing (README, Idle targets): a target whose
//! last read found nothing to do (the tick decided `idle` and wrote nothing)
//! is read again only every `every` ticks, each at its own slot so that a
//! tick reads about 1/`every` of them; anything else (a rollout, a hold, a
//! watch, an error) is read at every tick. An event that says the function
//! changed (a version published, the alias updated) wakes its targets: they
//! are read at once.
//!
//! This is one orchestrator instance's memory, not state: a cold start reads
//! every target once, and forgetting is always safe (a read too many, never a
//! judgment missed on a rollout this instance saw).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::engine::Outcome;
use crate::model::Target;
use crate::report::{Reported, TargetResult};

/// Idle targets are read every this many ticks, by default: 500 idle targets
/// cost 100 reads a tick instead of 500, and a version published without an
/// event to say so is started within five ticks.
pub const DEFAULT_EVERY: u32 = 5;

/// Rule I1: whether a target is read at tick `tick`: always, unless its last
/// read (at tick `idle_since`) found it idle; then only at its slot, once
/// every `every` ticks.
pub fn read_now(tick: u64, idle_since: Option<u64>, slot: u64, every: u32) -> bool {
    let every = u64::from(every.max(1));
    match idle_since {
        None => true,
        Some(_) if every == 1 => true,
        Some(_) => tick % every == slot % every,
    }
}

/// Rule I2: what a read found, for the next tick: idle, nothing written and
/// nothing routed to another version. Everything else is read every tick.
pub fn found_idle(r: &TargetResult) -> bool {
    r.decision == Reported::Decided(Outcome::Idle) && !r.changed && r.canary.is_none() && !r.dry_run
}

#[derive(Debug, Default)]
struct Book {
    /// Ticks seen by this instance.
    ticks: u64,
    /// The tick at which each target was last read and found idle.
    idle_since: HashMap<Target, u64>,
}

/// The idle targets an instance has seen, and its tick count.
#[derive(Debug)]
pub struct IdleBook {
    every: u32,
    book: Mutex<Book>,
}

impl IdleBook {
    pub fn new(every: u32) -> Self {
        Self {
            every: every.max(1),
            book: Mutex::new(Book::default()),
        }
    }

    pub fn every(&self) -> u32 {
        self.every
    }

    /// Counts a tick and says, for each target, whether it reads it.
    pub fn due(&self, targets: &[Target]) -> Vec<bool> {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        book.ticks += 1;
        let tick = book.ticks;
        targets
            .iter()
            .map(|t| read_now(tick, book.idle_since.get(t).copied(), t.slot(), self.every))
            .collect()
    }

    /// What this tick's reads found.
    pub fn record(&self, results: &[TargetResult]) {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let tick = book.ticks;
        for r in results {
            let t = Target {
                function: r.function.clone(),
                alias: r.alias.clone(),
                home: None,
            };
            if found_idle(r) {
                book.idle_since.entry(t).or_insert(tick);
            } else {
                book.idle_since.remove(&t);
            }
        }
    }

    /// Something changed `function` (an event): its targets are read at the
    /// next chance. Returns how many were asleep.
    pub fn wake(&self, function: &str) -> usize {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let before = book.idle_since.len();
        book.idle_since.retain(|t, _| t.function != function);
        before - book.idle_since.len()
    }

    /// Forgets every target: each is read at the next tick.
    pub fn wake_all(&self) {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        book.idle_since.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Version;

    fn target(i: usize) -> Target {
        Target::new(&format!("f{i}"), "live").unwrap()
    }

    fn result(t: &Target, decision: Reported) -> TargetResult {
        TargetResult::failed(t, decision, None, String::new(), false)
    }

    #[test]
    fn a_target_is_read_always_until_found_idle_then_once_every_k_ticks() {
        let slot = 3;
        for tick in 1..=20 {
            assert!(read_now(tick, None, slot, 5));
            assert!(read_now(tick, Some(0), slot, 1), "K = 1 reads every tick");
        }
        let reads: Vec<u64> = (1..=20)
            .filter(|t| read_now(*t, Some(0), slot, 5))
            .collect();
        assert_eq!(reads, vec![3, 8, 13, 18]);
    }

    #[test]
    fn only_an_idle_decision_that_wrote_nothing_is_idle() {
        let t = target(0);
        assert!(found_idle(&result(&t, Reported::Decided(Outcome::Idle))));
        for d in [
            Reported::Decided(Outcome::Held),
            Reported::Decided(Outcome::Started),
            Reported::Error,
            Reported::Conflict,
        ] {
            assert!(!found_idle(&result(&t, d)), "{d:?}");
        }
        let mut wrote = result(&t, Reported::Decided(Outcome::Idle));
        wrote.changed = true;
        assert!(
            !found_idle(&wrote),
            "a clean-up write: read again next tick"
        );
        let mut routed = result(&t, Reported::Decided(Outcome::Idle));
        routed.canary = Some(Version::new(7).unwrap());
        assert!(
            !found_idle(&routed),
            "a hand-set canary: watched every tick"
        );
    }

    /// 500 targets, 2 of them rolling: after the first (cold) tick, each
    /// tick reads the 2 and about 500 / K of the rest, and every idle target
    /// is read once in every K ticks.
    #[test]
    fn a_fleet_of_idle_targets_is_read_about_one_kth_a_tick() {
        let targets: Vec<Target> = (0..500).map(target).collect();
        let book = IdleBook::new(5);
        let rolling = |t: &Target| t == &targets[7] || t == &targets[300];
        let tick = |book: &IdleBook| {
            let due = book.due(&targets);
            let read: Vec<&Target> = targets
                .iter()
                .zip(&due)
                .filter(|(_, d)| **d)
                .map(|(t, _)| t)
                .collect();
            let results: Vec<TargetResult> = read
                .iter()
                .map(|t| {
                    let d = if rolling(t) {
                        Outcome::Held
                    } else {
                        Outcome::Idle
                    };
                    result(t, Reported::Decided(d))
                })
                .collect();
            book.record(&results);
            read.into_iter().cloned().collect::<Vec<Target>>()
        };
        assert_eq!(tick(&book).len(), 500, "a cold start reads everything");
        let mut reads_of: HashMap<Target, usize> = HashMap::new();
        for _ in 0..10 {
            let read = tick(&book);
            assert!(read.contains(&targets[7]) && read.contains(&targets[300]));
            assert!((70..=135).contains(&read.len()), "{} read", read.len());
            for t in read {
                *reads_of.entry(t).or_default() += 1;
            }
        }
        for t in &targets {
            let want = if rolling(t) { 10 } else { 2 };
            assert_eq!(reads_of.get(t).copied().unwrap_or(0), want, "{t}");
        }
        // A version published: the event wakes the function, read at once.
        assert_eq!(book.wake("f11"), 1);
        assert!(tick(&book).contains(&targets[11]));
        book.wake_all();
        assert_eq!(tick(&book).len(), 500);
    }
}
