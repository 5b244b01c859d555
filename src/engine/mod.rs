//! The pure decision engine: no I/O, no clock reads, no AWS types, no logging.
//!
//! - `state`: what the alias says (routing) and the record kept in its description
//! - `step`: where green goes next
//! - `health`: metrics -> verdict, with `stats` (exact count statistics)
//! - `decide`: state + verdict + policy + now -> `Decision`

pub mod decide;
pub mod health;
pub mod state;
pub mod stats;
pub mod step;

pub use decide::{
    command, tick, Decision, Manual, Metrics, Outcome, PublishedVersion, Refusal, TickStep,
};
pub use health::{
    judge, judge_for, AlarmReading, AlarmState, CustomQuery, CustomReading, CustomSource,
    MetricSource, MetricsRequest, Observation, Span, Verdict, VersionFigures,
};
pub use state::{AliasState, Canary, Description, Phase, Record, Rollout, StateError};
