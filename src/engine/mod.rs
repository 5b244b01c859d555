//! The pure decision engine: no I/O, no clock reads, no AWS types, no logging.
//!
//! - `state`: what the alias says (routing) and the record kept in its description
//! - `step`: where green goes next
//! - `tally`: what a rollout has already read, kept in its record
//! - `health/`: metrics -> verdict, one function per README rule, with `stats`
//!   (exact count statistics)
//! - `decide/`: state + verdict + policy + now -> `Decision`: the tick, the
//!   reconciliation with a human's edit, each manual command

pub mod decide;
pub mod health;
pub mod state;
pub mod stats;
pub mod step;
pub mod tally;

pub use decide::{
    answered, at_start, command, judge_answer, plan, start_traffic, to_run, AwaitMetrics,
    AwaitVersions, CheckAnswer, CheckDue, CheckToRun, Decision, Estimate, Invoked, Manual,
    MetricsAnswer, Outcome, Plan, PublishedVersion, Refusal, ANSWER_GRACE,
};
pub use health::{
    judge, judge_for, AlarmReading, AlarmState, CustomQuery, CustomReading, CustomSource, Gate,
    MetricSource, MetricsRequest, Observation, Span, Verdict, VersionFigures, Wait,
};
pub use state::{
    AliasState, Canary, Check, Description, End, Ended, Membership, Phase, Record, Rollout,
    StateError,
};
