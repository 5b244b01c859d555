//! lambda-rollout: progressive delivery (canary / blue-green) for AWS Lambda
//! aliases, run as a Lambda on a schedule.
//!
//! The layers, and which way they depend (each only on those below it):
//!
//! ```text
//! main.rs, cli.rs (the binary) ──> handler ──> command (payload -> Command), json (strict text)
//!                                     │        config (environment), policy
//!                                     ├──> onboarding (tagged functions, kept between ticks) ──> ports
//!                                     ├──> idle (which idle targets a tick reads)
//!                                     ├──> executor ──> engine (pure: state, step, health/, decide/)
//!                                     │        │
//!                                     │        └──> ports (traits) <── aws (SDK adapters)
//!                                     │                          <── memory (in memory)
//!                                     └──> report (JSON response), error
//! simulate ──> executor over memory; timeline (the SVG picture)
//! wait ──> executor's read-only half (status, judge): follows one rollout
//! show: what people see (wait's lines, the status table); emf: each decision as metrics
//! model (Version, Weight, Target, UtcTime) and logging: used by every layer
//! ```
//!
//! - `engine` decides and never does I/O: given the alias, the policy, the
//!   health figures and `now`, it returns a `Decision` carrying the alias to
//!   write. It is driven one way: `plan`, then the versions or the metrics it
//!   asks for, then `decide`.
//! - `executor` is the only writer: each write is an `UpdateAlias` guarded by the
//!   `RevisionId` read in the same invocation, re-read and decided again once
//!   on a conflict.
//! - `aws` owns every conversion to and from SDK types; `memory` holds the same
//!   ports in memory for `simulate`, the tests and the benchmarks.
//! - `error` is the handler's error, mapped to the Lambda error type.
//! - All rollout state lives in the alias (routing + description): see
//!   `engine::state` for the format.

pub mod aws;
pub mod command;
pub mod config;
pub mod emf;
pub mod engine;
pub mod error;
pub mod executor;
pub mod handler;
pub mod idle;
pub mod json;
pub mod logging;
pub mod memory;
pub mod model;
pub mod onboarding;
pub mod policy;
pub mod ports;
pub mod report;
pub mod show;
pub mod simulate;
pub mod timeline;
pub mod wait;
