//! Aliases held in memory, for the executor without the emulator (tests and
//! the tick benchmark): every call takes `latency`, any number of them at
//! once; the store keeps the most calls it saw in flight and the writes it
//! took, and checks each write's RevisionId as Lambda would.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use lambda_rollout::engine::{AliasState, PublishedVersion};
use lambda_rollout::model::Target;
use lambda_rollout::ports::{AliasRead, AliasSnapshot, AliasWrite, StoreError};

/// A function's aliases: each with its revision, a counter.
type ByAlias = HashMap<String, (AliasState, u64)>;

pub struct MemoryAliases {
    latency: Duration,
    /// By function, then alias: looked up without allocating, since the
    /// benchmark times what is around it.
    state: Mutex<HashMap<String, ByAlias>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub writes: AtomicUsize,
}

impl MemoryAliases {
    pub fn new(latency: Duration) -> Self {
        Self {
            latency,
            state: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
        }
    }

    /// Sets the alias as a human would (revision 1), outside any count.
    pub fn set(&self, t: &Target, alias: AliasState) {
        self.state
            .lock()
            .unwrap()
            .entry(t.function.clone())
            .or_default()
            .insert(t.alias.clone(), (alias, 1));
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
        let (state, rev) = self.state.lock().unwrap()[&t.function][&t.alias].clone();
        Ok(AliasSnapshot {
            state,
            revision: rev.to_string(),
        })
    }

    async fn published_versions(&self, _: &str) -> Result<Vec<PublishedVersion>, StoreError> {
        Ok(Vec::new())
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
        let mut s = self.state.lock().unwrap();
        let e = s
            .get_mut(&t.function)
            .and_then(|aliases| aliases.get_mut(&t.alias))
            .expect("only aliases that were set are written");
        assert_eq!(e.1.to_string(), revision, "a write on the RevisionId read");
        *e = (alias.clone(), e.1 + 1);
        Ok(e.1.to_string())
    }
}
