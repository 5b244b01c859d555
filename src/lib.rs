//! lambda-rollout: progressive delivery (canary / blue-green) for AWS Lambda
//! aliases, run as a Lambda on a schedule.
//!
//! The layers, and which way they depend:
//!
//! ```text
//! main.rs ──> handler ──> command (payload -> Command), config (env), policy
//!                    └──> executor ──> engine (pure: state, step, health, decide)
//!                               └──> ports (traits) <── aws (SDK adapters)
//!                    └──> report (JSON response)
//! ```
//!
//! - `engine` decides and never does I/O: given the alias, the policy, the
//!   health figures and `now`, it returns a `Decision` carrying the alias to write.
//! - `executor` is the only writer: each write is an `UpdateAlias` guarded by the
//!   `RevisionId` read in the same invocation.
//! - `aws` owns every conversion to and from SDK types.
//! - All rollout state lives in the alias (routing + description): see
//!   `engine::state` for the format.

pub mod aws;
pub mod command;
pub mod config;
pub mod engine;
pub mod error;
pub mod executor;
pub mod handler;
pub mod json;
pub mod logging;
pub mod memory;
pub mod model;
pub mod policy;
pub mod ports;
pub mod report;
pub mod simulate;
pub mod timeline;
