//! The ports held in memory, for the executor without AWS: `simulate`, the
//! tests that need no emulator and the tick benchmark use these, and the
//! seeded generator they draw traffic with.
//!
//! - `MemoryAliases`: aliases and published versions by function, each alias
//!   with a RevisionId that changes on every write (a stale one is a
//!   conflict, as in Lambda); every call can take a fixed latency, any number
//!   at once, and the store counts the calls in flight and each kind of call.
//! - `MemoryMetrics`: what CloudWatch would hold, per function, version and
//!   minute; every alarm reads OK.
//! - `observation`: the one way an `Observation` is built from per-window
//!   figures.
//! - `Rng`: a small seeded generator; the same seed replays the same run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::engine::{
    AlarmReading, AlarmState, AliasState, MetricsRequest, Observation, PublishedVersion, Span,
    VersionFigures,
};
use crate::model::{Target, UtcTime, Version};
use crate::ports::{AliasRead, AliasSnapshot, AliasWrite, MetricsError, MetricsRead, StoreError};

/// A function's aliases: each with its revision, a counter.
type ByAlias = HashMap<String, (AliasState, u64)>;

#[derive(Default)]
pub struct MemoryAliases {
    latency: Duration,
    /// By function, then alias: looked up without allocating, since the tick
    /// benchmark times what is around it.
    state: Mutex<HashMap<String, ByAlias>>,
    versions: Mutex<HashMap<String, Vec<PublishedVersion>>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Calls by kind, as Lambda would count them against its quota:
    /// GetAlias, ListVersionsByFunction, UpdateAlias.
    pub reads: AtomicUsize,
    pub lists: AtomicUsize,
    pub writes: AtomicUsize,
}

impl MemoryAliases {
    /// Every call takes `latency` (zero: answers at once).
    pub fn new(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::default()
        }
    }

    /// Sets the alias as a human would (revision 1), outside any count.
    pub fn set(&self, t: &Target, alias: AliasState) {
        self.state
            .lock()
            .expect("not poisoned")
            .entry(t.function.clone())
            .or_default()
            .insert(t.alias.clone(), (alias, 1));
    }

    /// The function's published versions, as ListVersionsByFunction lists them.
    pub fn publish(&self, function: &str, versions: Vec<PublishedVersion>) {
        self.versions
            .lock()
            .expect("not poisoned")
            .insert(function.to_string(), versions);
    }

    /// The alias as it stands; panics if it was never set.
    pub fn get(&self, t: &Target) -> AliasState {
        self.state.lock().expect("not poisoned")[&t.function][&t.alias]
            .0
            .clone()
    }

    async fn round_trip(&self) {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(n, Ordering::SeqCst);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AliasRead for MemoryAliases {
    async fn read_alias(&self, t: &Target) -> Result<AliasSnapshot, StoreError> {
        self.round_trip().await;
        self.reads.fetch_add(1, Ordering::SeqCst);
        let found = self
            .state
            .lock()
            .expect("not poisoned")
            .get(&t.function)
            .and_then(|aliases| aliases.get(&t.alias))
            .cloned();
        let Some((state, rev)) = found else {
            let message = format!("alias {} of {} not found", t.alias, t.function);
            return Err(StoreError::NotFound {
                source: message.clone().into(),
                message,
            });
        };
        Ok(AliasSnapshot {
            state,
            revision: rev.to_string(),
        })
    }

    async fn published_versions(&self, t: &Target) -> Result<Vec<PublishedVersion>, StoreError> {
        self.round_trip().await;
        self.lists.fetch_add(1, Ordering::SeqCst);
        let versions = self.versions.lock().expect("not poisoned");
        Ok(versions.get(&t.function).cloned().unwrap_or_default())
    }
}

impl AliasWrite for MemoryAliases {
    async fn write_alias(
        &self,
        t: &Target,
        alias: &AliasState,
        revision: &str,
    ) -> Result<String, StoreError> {
        self.round_trip().await;
        self.writes.fetch_add(1, Ordering::SeqCst);
        let mut s = self.state.lock().expect("not poisoned");
        let e = s
            .get_mut(&t.function)
            .and_then(|aliases| aliases.get_mut(&t.alias))
            .expect("only aliases that were set are written");
        if e.1.to_string() != revision {
            return Err(StoreError::Conflict {
                source: "revision changed".into(),
            });
        }
        *e = (alias.clone(), e.1 + 1);
        Ok(e.1.to_string())
    }
}

/// Builds the observation a request asks for from `figures(version, start,
/// end)`, the sum over `[start, end)`: the step's window, since the rollout
/// began, and the fresh minutes. Every named alarm reads `alarm`; no custom
/// metrics, no throttles, complete data.
pub fn observation(
    r: &MetricsRequest,
    alarm: AlarmState,
    figures: impl Fn(Version, UtcTime, UtcTime) -> VersionFigures,
) -> Observation {
    // A watch compares green with what blue did in its own window.
    let blue = |start: UtcTime, end: UtcTime| {
        let (start, end) = r.blue_window.unwrap_or((start, end));
        figures(r.blue, start, end)
    };
    let span = |start: UtcTime, end: UtcTime| Span {
        start,
        end,
        green: figures(r.green, start, end),
        blue: blue(start, end),
    };
    Observation {
        window_start: r.start,
        window_end: r.end,
        green: figures(r.green, r.start, r.end),
        blue: blue(r.start, r.end),
        throttles: 0,
        complete: true,
        alarms: r
            .alarms
            .iter()
            .map(|name| AlarmReading {
                name: name.clone(),
                state: alarm,
            })
            .collect(),
        custom: Vec::new(),
        rollout: r
            .blue_window
            .is_none()
            .then(|| span(r.rollout_start, r.end)),
        fresh: Some(span(r.start, r.fresh_end)),
    }
}

/// One function's figures by (version, minute).
type ByMinute = HashMap<(Version, i64), VersionFigures>;

/// What CloudWatch would hold: per function, version and minute.
#[derive(Default)]
pub struct MemoryMetrics {
    minutes: Mutex<HashMap<String, ByMinute>>,
}

impl MemoryMetrics {
    /// One minute of one version's figures, as Lambda would publish them.
    pub fn put(&self, function: &str, version: Version, minute: UtcTime, f: VersionFigures) {
        self.minutes
            .lock()
            .expect("not poisoned")
            .entry(function.to_string())
            .or_default()
            .insert((version, minute.unix()), f);
    }
}

impl MetricsRead for MemoryMetrics {
    async fn observe(&self, requests: &[MetricsRequest]) -> Vec<Result<Observation, MetricsError>> {
        let all = self.minutes.lock().expect("not poisoned");
        let none = HashMap::new();
        requests
            .iter()
            .map(|r| {
                let m = all.get(&r.target.function).unwrap_or(&none);
                // The latency figure is the invocation-weighted mean of the
                // per-minute statistic, as the CloudWatch adapter's.
                let sum = |v: Version, start: UtcTime, end: UtcTime| {
                    let mut f = VersionFigures::default();
                    let (mut lat, mut weight) = (0.0, 0.0);
                    let mut t = start.unix();
                    while t < end.unix() {
                        if let Some(x) = m.get(&(v, t)) {
                            f.invocations += x.invocations;
                            f.errors += x.errors;
                            if let Some(l) = x.latency_ms.filter(|_| x.invocations > 0) {
                                lat += l * x.invocations as f64;
                                weight += x.invocations as f64;
                            }
                        }
                        t += 60;
                    }
                    f.latency_ms = (weight > 0.0).then(|| lat / weight);
                    f
                };
                Ok(observation(r, AlarmState::Ok, sum))
            })
            .collect()
    }
}

/// A small seeded generator (PCG-style LCG): the same seed replays the same run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
    }

    pub fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Failures among `n` requests failing at `pct` percent.
    pub fn binomial(&mut self, n: u64, pct: f64) -> u64 {
        let p = (pct / 100.0).clamp(0.0, 1.0);
        if p == 0.0 || n == 0 {
            return 0;
        }
        if n > 2000 {
            // Normal approximation: exact enough at this size, and fast.
            let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
            let (u1, u2) = (self.next_f64().max(1e-300), self.next_f64());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            return (mean + sd * z).round().clamp(0.0, n as f64) as u64;
        }
        (0..n).filter(|_| self.next_f64() < p).count() as u64
    }
}
