//! What a rollout has already read, kept in its record (`Tally`) so that a
//! tick reads only the minutes after it: a step held for ten hours costs a
//! tick the same reads as one held for ten minutes (README, "Reads that do
//! not grow", rules T1 to T3).
//!
//! Every figure the judgment reads is a sum over whole minutes, or a mean
//! weighted by them, so a window's figures are its tally plus the minutes
//! read since; the sequential tests of rules 4, 5 and 7 take counts, never
//! per-minute values. The tally holds only what complete data said.

use std::time::Duration;

use super::health::{Observation, Span, VersionFigures};
use crate::model::{Target, UtcTime};

/// How much unread tail a hold lets grow before it writes a tally: a tick
/// reads at most this plus metric_lag, and a long hold costs one UpdateAlias
/// each time.
pub const TALLY_EVERY: Duration = Duration::from_secs(30 * 60);

/// Each target's own interval, 21 to 30 minutes: a fleet whose rollouts
/// began together (one release) does not write all its tallies in one tick.
pub fn interval(target: &Target) -> Duration {
    TALLY_EVERY - Duration::from_secs(60 * (target.slot() % 10))
}

/// Green's and blue's counts over some minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub green_invocations: u64,
    pub green_errors: u64,
    pub blue_invocations: u64,
    pub blue_errors: u64,
}

impl Counts {
    fn of(green: VersionFigures, blue: VersionFigures) -> Counts {
        Counts {
            green_invocations: green.invocations,
            green_errors: green.errors,
            blue_invocations: blue.invocations,
            blue_errors: blue.errors,
        }
    }

    /// Every count at most `o`'s: these minutes are a part of `o`'s.
    pub fn within(self, o: Counts) -> bool {
        self.green_invocations <= o.green_invocations
            && self.green_errors <= o.green_errors
            && self.blue_invocations <= o.blue_invocations
            && self.blue_errors <= o.blue_errors
    }
}

/// A latency in tenths of a millisecond: what the record keeps (exact to
/// compare, short to write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenths(pub u64);

impl Tenths {
    fn of(ms: f64) -> Tenths {
        Tenths((ms.max(0.0) * 10.0).round() as u64)
    }

    pub fn ms(self) -> f64 {
        self.0 as f64 / 10.0
    }
}

/// The figures of every complete minute before `upto`: since the rollout
/// began (`rollout`), and since the current step began (`step`, zero when
/// `upto` is not after the step's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// A whole minute, never after the last window's end.
    pub upto: UtcTime,
    pub rollout: Counts,
    pub step: Counts,
    /// Alias throttles in the step.
    pub throttles: u64,
    /// The step's latency statistic, the mean of the minutes weighted by
    /// their invocations, as the metrics adapter computes it.
    pub green_latency: Option<Tenths>,
    pub blue_latency: Option<Tenths>,
}

/// The mean of two weighted means.
fn mean(a: Option<f64>, wa: u64, b: Option<f64>, wb: u64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (wa, wb) = (wa.max(1) as f64, wb.max(1) as f64);
            Some((a * wa + b * wb) / (wa + wb))
        }
        (a, b) => a.or(b),
    }
}

/// `tail`'s figures with `invocations` and `errors` before them, of latency
/// `latency`.
fn after(
    invocations: u64,
    errors: u64,
    latency: Option<f64>,
    tail: VersionFigures,
) -> VersionFigures {
    VersionFigures {
        invocations: invocations + tail.invocations,
        errors: errors + tail.errors,
        latency_ms: mean(latency, invocations, tail.latency_ms, tail.invocations),
    }
}

/// Windows of a rollout's step, whole minutes: what the observation the
/// judgment reads is about, whatever part of it a tick read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole {
    pub start: UtcTime,
    pub rollout_start: UtcTime,
}

/// Rule T1: a step's figures are its tally plus the minutes read since. The
/// step's window, the rollout's and the fresh minutes all end where the
/// tick read them to; they begin where the step and the rollout began.
pub fn rule_t1_tally_plus_tail(tally: &Tally, tail: &Observation, whole: Whole) -> Observation {
    let s = tally.step;
    let green = after(
        s.green_invocations,
        s.green_errors,
        tally.green_latency.map(Tenths::ms),
        tail.green,
    );
    let blue = after(
        s.blue_invocations,
        s.blue_errors,
        tally.blue_latency.map(Tenths::ms),
        tail.blue,
    );
    // The spans are counts: the judgment reads no latency of theirs.
    let count = |invocations, errors, tail: VersionFigures| VersionFigures {
        latency_ms: None,
        ..after(invocations, errors, None, tail)
    };
    let counted = |c: Counts, span: &Span, start: UtcTime| Span {
        start,
        end: span.end,
        green: count(c.green_invocations, c.green_errors, span.green),
        blue: count(c.blue_invocations, c.blue_errors, span.blue),
    };
    let rollout_tail = tail.rollout.unwrap_or(Span {
        start: tail.window_start,
        end: tail.window_end,
        green: tail.green,
        blue: tail.blue,
    });
    Observation {
        window_start: whole.start,
        green,
        blue,
        throttles: tally.throttles + tail.throttles,
        rollout: Some(counted(tally.rollout, &rollout_tail, whole.rollout_start)),
        fresh: tail.fresh.map(|f| counted(s, &f, whole.start)),
        ..tail.clone()
    }
}

/// Rule T2: a hold writes a tally once the minutes no tally holds reach the
/// target's `interval`, and only of complete data.
pub fn rule_t2_tally_due(target: &Target, read_from: UtcTime, judged: &Observation) -> bool {
    judged.complete && judged.window_end.since(read_from) >= interval(target)
}

/// The tally of everything `judged` (the whole observation, rule T1's
/// answer) says, up to its window's end.
pub fn taken(judged: &Observation) -> Tally {
    let rollout = judged.rollout.map(|r| Counts::of(r.green, r.blue));
    Tally {
        upto: judged.window_end,
        rollout: rollout.unwrap_or_else(|| Counts::of(judged.green, judged.blue)),
        step: Counts::of(judged.green, judged.blue),
        throttles: judged.throttles,
        green_latency: judged.green.latency_ms.map(Tenths::of),
        blue_latency: judged.blue.latency_ms.map(Tenths::of),
    }
}

/// Rule T3: a step that passes hands its rollout's counts to the next step,
/// which begins with none of its own (the minutes between the window's end
/// and the advance are read by the next tick, as the rollout's).
pub fn rule_t3_next_step(judged: &Observation) -> Tally {
    let t = taken(judged);
    Tally {
        step: Counts::default(),
        throttles: 0,
        green_latency: None,
        blue_latency: None,
        ..t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(invocations: u64, errors: u64, latency_ms: Option<f64>) -> VersionFigures {
        VersionFigures {
            invocations,
            errors,
            latency_ms,
        }
    }

    fn at(minute: i64) -> UtcTime {
        UtcTime::from_unix(minute * 60)
    }

    /// What a tick over minutes [from, to) of a step begun at `start`, in a
    /// rollout begun at 0, reads: green 10 a minute with 1 error every
    /// other, blue 90 with none; latencies 200 and 100.
    fn read(from: i64, start: i64, to: i64, fresh_to: i64) -> Observation {
        let step_from = from.max(start);
        let n = |a: i64, b: i64| (b - a).max(0) as u64;
        let errors = |a: i64, b: i64| (a.max(0)..b).filter(|m| m % 2 == 0).count() as u64;
        let span = |a: i64, b: i64| Span {
            start: at(a),
            end: at(b),
            green: f(10 * n(a, b), errors(a, b), None),
            blue: f(90 * n(a, b), 0, None),
        };
        Observation {
            window_start: at(step_from),
            window_end: at(to),
            green: f(10 * n(step_from, to), errors(step_from, to), Some(200.0)),
            blue: f(90 * n(step_from, to), 0, Some(100.0)),
            throttles: n(step_from, to),
            complete: true,
            alarms: Vec::new(),
            custom: Vec::new(),
            rollout: Some(span(from, to)),
            fresh: Some(span(step_from, fresh_to)),
        }
    }

    #[test]
    fn a_tally_and_its_tail_are_the_whole_window() {
        // Rollout from minute 0, this step from 30; judged at 100 (fresh to
        // 102) in one read, or with a tally taken at 70 and a read after it.
        let whole = Whole {
            start: at(30),
            rollout_start: at(0),
        };
        let once = read(0, 30, 100, 102);
        let tally = taken(&read(0, 30, 70, 72));
        let twice = rule_t1_tally_plus_tail(&tally, &read(70, 30, 100, 102), whole);
        assert_eq!(twice, once);

        // A tally taken as the step before passed: its minutes count for the
        // rollout only, and those between its end and this step's start are
        // read with the rollout's.
        let next = rule_t3_next_step(&read(0, 0, 28, 30));
        assert_eq!(next.step, Counts::default());
        let twice = rule_t1_tally_plus_tail(&next, &read(28, 30, 100, 102), whole);
        assert_eq!(twice, once);
    }

    #[test]
    fn latencies_combine_weighted_by_invocations() {
        let a = mean(Some(100.0), 100, Some(400.0), 300);
        assert_eq!(a, Some(325.0));
        assert_eq!(mean(None, 0, Some(7.0), 5), Some(7.0));
        assert_eq!(mean(Some(7.0), 5, None, 0), Some(7.0));
        assert_eq!(Tenths::of(123.44).ms(), 123.4);
    }

    #[test]
    fn a_tally_is_due_after_its_interval_of_complete_data() {
        let t = Target::new("f", "live").unwrap();
        let every = interval(&t).as_secs() as i64 / 60;
        let o = read(0, 0, 30, 32);
        assert!(rule_t2_tally_due(&t, at(30 - every), &o));
        assert!(!rule_t2_tally_due(&t, at(31 - every), &o));
        let partial = Observation {
            complete: false,
            ..o
        };
        assert!(!rule_t2_tally_due(&t, at(0), &partial));
        // A fleet's intervals spread over ten minutes.
        let minutes: std::collections::BTreeSet<u64> = (0..200)
            .map(|i| interval(&Target::new(&format!("f{i}"), "live").unwrap()).as_secs() / 60)
            .collect();
        assert_eq!(minutes, (21..=30).collect());
    }
}
