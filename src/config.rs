//! Environment configuration:
//!
//! - `LAMBDA_ROLLOUT_TARGETS`: JSON array of targets, `[{"function":"F","alias":"A","policy":{...}}]`,
//!   ticked when the payload is the scheduled-event envelope or a tick without targets.
//! - `LAMBDA_ROLLOUT_POLICY`: JSON policy, the defaults under every target's own policy.
//! - `LAMBDA_ROLLOUT_CONCURRENCY`: aliases read and written at once in a tick.
//! - `LAMBDA_ROLLOUT_CONTROL_PLANE_RATE`: Lambda control-plane calls a second
//!   (GetAlias, UpdateAlias, ListVersionsByFunction...), 10 by default.
//! - `LAMBDA_ROLLOUT_ONBOARD_BY_TAG`: `true` also manages every function
//!   tagged `lambda-rollout:alias` (README, Onboarding); unset, `false`.
//! - `LAMBDA_ROLLOUT_DISCOVERY_INTERVAL`: seconds a discovery of tagged
//!   functions stands (30 to 3600, 300 by default).
//! - `LAMBDA_ROLLOUT_IDLE_READ_EVERY`: a target found idle is read again
//!   every this many ticks (1 to 60, 5 by default), at once on an event.
//! - `LAMBDA_ROLLOUT_EVENT_BUS`: the EventBridge bus (name or ARN) that receives
//!   an audit event for every transition; unset or empty, the log line only.
//!
//! A bad value is reported when it is needed, not at start-up: promote and
//! rollback must keep working at 3 a.m. even if someone broke the targets list.

use serde_json::Value;
use thiserror::Error;

use crate::command::{field_error, parse_targets, policy_shape, TargetSpec};
use crate::json::JsonError;
use crate::model::clipped;
use crate::policy::PolicySpec;

pub const TARGETS_VAR: &str = "LAMBDA_ROLLOUT_TARGETS";
pub const POLICY_VAR: &str = "LAMBDA_ROLLOUT_POLICY";
pub const EVENT_BUS_VAR: &str = "LAMBDA_ROLLOUT_EVENT_BUS";

pub const CONCURRENCY_VAR: &str = "LAMBDA_ROLLOUT_CONCURRENCY";

/// Lambda's control plane allows about 15 requests a second per account and
/// region (GetAlias and UpdateAlias included): 8 in flight keeps a tick fast
/// without living on the throttling limit.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Targets read and written at once in a tick: `LAMBDA_ROLLOUT_CONCURRENCY`
/// (1 to 64), else the default.
pub fn concurrency_from_env() -> usize {
    number_from_env(CONCURRENCY_VAR, 1, 64, DEFAULT_CONCURRENCY as u32) as usize
}

pub const CONTROL_PLANE_RATE_VAR: &str = "LAMBDA_ROLLOUT_CONTROL_PLANE_RATE";

/// Lambda control-plane calls a second lambda-rollout allows itself by
/// default: two thirds of the account's quota (about 15), the rest for
/// everyone else's deploys.
pub const DEFAULT_CONTROL_PLANE_RATE: u32 = 10;

/// Lambda control-plane calls a second lambda-rollout allows itself:
/// `LAMBDA_ROLLOUT_CONTROL_PLANE_RATE` (1 to 100), else 10.
pub fn control_plane_rate_from_env() -> u32 {
    number_from_env(CONTROL_PLANE_RATE_VAR, 1, 100, DEFAULT_CONTROL_PLANE_RATE)
}

/// A whole number from `var`, from `min` to `max`, else `default`. A bad
/// value is logged and the default used: it must not stop a tick, let alone
/// a rollback.
fn number_from_env(var: &str, min: u32, max: u32, default: u32) -> u32 {
    match std::env::var(var) {
        Err(_) => default,
        Ok(v) => match v.trim().parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                tracing::warn!(
                    value = %clipped(v, 40),
                    default,
                    "{var} is not a number from {min} to {max}; using the default"
                );
                default
            }
        },
    }
}

pub const IDLE_READ_EVERY_VAR: &str = "LAMBDA_ROLLOUT_IDLE_READ_EVERY";

/// Idle targets are read every this many ticks: `LAMBDA_ROLLOUT_IDLE_READ_EVERY`
/// (1, every tick, to 60), else 5.
pub fn idle_read_every_from_env() -> u32 {
    number_from_env(IDLE_READ_EVERY_VAR, 1, 60, crate::idle::DEFAULT_EVERY)
}

pub const ONBOARD_BY_TAG_VAR: &str = "LAMBDA_ROLLOUT_ONBOARD_BY_TAG";
pub const DISCOVERY_INTERVAL_VAR: &str = "LAMBDA_ROLLOUT_DISCOVERY_INTERVAL";

/// Whether tagged functions are onboarded: `true`, else not. Off unless
/// asked for, so that the CLI on a laptop calls no tagging API it may not
/// be allowed; the template turns it on (parameter OnboardByTag).
pub fn onboard_by_tag_from_env() -> bool {
    match std::env::var(ONBOARD_BY_TAG_VAR) {
        Err(_) => false,
        Ok(v) => match v.trim() {
            "true" => true,
            "" | "false" => false,
            other => {
                tracing::warn!(value = %clipped(other.to_string(), 40), "{ONBOARD_BY_TAG_VAR} is neither true nor false; not onboarding by tag");
                false
            }
        },
    }
}

/// How long a discovery of tagged functions stands.
pub fn discovery_interval_from_env() -> std::time::Duration {
    let default = crate::onboarding::DEFAULT_INTERVAL.as_secs() as u32;
    std::time::Duration::from_secs(
        number_from_env(DISCOVERY_INTERVAL_VAR, 30, 3600, default).into(),
    )
}

/// The audit bus, if one is configured.
pub fn event_bus_from_env() -> Option<String> {
    std::env::var(EVENT_BUS_VAR)
        .ok()
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    targets: Result<Vec<TargetSpec>, ConfigError>,
    policy: Result<PolicySpec, ConfigError>,
}

/// A policy's JSON text (`LAMBDA_ROLLOUT_POLICY`, a team's policy
/// parameter): an object, each field of its type, valid over the built-in
/// defaults.
pub fn policy_text(s: &str) -> Result<PolicySpec, String> {
    let value: Value =
        crate::json::parse(s.as_bytes()).map_err(|e| format!("not a policy object ({e})"))?;
    policy_shape(Some(&value), "policy").map_err(|e| format!("not a policy object ({e})"))?;
    let spec: PolicySpec = serde_path_to_error::deserialize(&value).map_err(|e| {
        format!(
            "not a policy object ({})",
            field_error(&e.path().to_string(), &e.inner().to_string())
        )
    })?;
    PolicySpec::resolve(&[&spec]).map_err(|e| e.to_string())?;
    Ok(spec)
}

impl Config {
    pub fn from_env() -> Self {
        Self::from_values(
            std::env::var(TARGETS_VAR).ok().as_deref(),
            std::env::var(POLICY_VAR).ok().as_deref(),
        )
    }

    /// Each value is checked on its own, as far as it can be: the policy, and
    /// each target's policy, must be valid over the built-in defaults, so a
    /// broken value is reported against the variable that holds it rather than
    /// against the first target a tick resolves.
    pub fn from_values(targets: Option<&str>, policy: Option<&str>) -> Self {
        let fix = |var: &'static str, message: String| ConfigError {
            var,
            message: format!(
                "{}; fix the function's {var} environment variable (README, Configuration)",
                clipped(message, 600)
            ),
        };
        let targets = match targets.map(str::trim) {
            None | Some("") => Ok(Vec::new()),
            Some(s) => crate::json::parse(s.as_bytes())
                .and_then(|v| serde_json::from_value::<Vec<Value>>(v).map_err(JsonError::Syntax))
                .map_err(|e| fix(TARGETS_VAR, format!("not a JSON array of targets ({e})")))
                .and_then(|v| parse_targets(v).map_err(|e| fix(TARGETS_VAR, e.0)))
                .and_then(|ts| {
                    for (i, t) in ts.iter().enumerate() {
                        PolicySpec::resolve(&[&t.policy]).map_err(|e| {
                            fix(TARGETS_VAR, format!("targets[{i}] ({}): {e}", t.target))
                        })?;
                    }
                    Ok(ts)
                }),
        };
        let policy = match policy.map(str::trim) {
            None | Some("") => Ok(PolicySpec::default()),
            Some(s) => policy_text(s).map_err(|m| fix(POLICY_VAR, m)),
        };
        Self { targets, policy }
    }

    /// The configured targets, none when none are set; an error only for a
    /// value that does not parse.
    pub fn configured(&self) -> Result<&[TargetSpec], ConfigError> {
        self.targets.as_deref().map_err(Clone::clone)
    }

    pub fn targets(&self) -> Result<&[TargetSpec], ConfigError> {
        match &self.targets {
            Ok(t) if t.is_empty() => Err(ConfigError {
                var: TARGETS_VAR,
                message: "no targets configured: set it to a JSON array of \
                          {\"function\",\"alias\",\"policy\"}, or send a tick with \"targets\""
                    .into(),
            }),
            Ok(t) => Ok(t),
            Err(e) => Err(e.clone()),
        }
    }

    pub fn policy(&self) -> Result<&PolicySpec, ConfigError> {
        self.policy.as_ref().map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_targets_and_policy() {
        let c = Config::from_values(
            Some(r#"[{"function":"hello","alias":"live","policy":{"bake":"1m"}}]"#),
            Some(r#"{"preset":"Canary10Percent5Minutes"}"#),
        );
        assert_eq!(c.targets().unwrap()[0].target.function, "hello");
        assert_eq!(
            c.policy().unwrap().preset.as_deref(),
            Some("Canary10Percent5Minutes")
        );
    }

    #[test]
    fn errors_surface_only_when_used() {
        let c = Config::from_values(Some("[{"), Some(r#"{"bake":"1m","oops":1}"#));
        assert!(c
            .targets()
            .unwrap_err()
            .to_string()
            .starts_with(TARGETS_VAR));
        assert!(c.policy().unwrap_err().to_string().contains("oops"));
        // Valid JSON, invalid policy: reported against the variable.
        let c = Config::from_values(
            Some(r#"[{"function":"f","alias":"a","policy":{"steps":[50,10]}}]"#),
            Some(r#"{"bake":"soon"}"#),
        );
        let e = c.policy().unwrap_err().to_string();
        assert!(
            e.starts_with(POLICY_VAR) && e.contains("policy.bake"),
            "{e}"
        );
        let e = c.targets().unwrap_err().to_string();
        assert!(e.contains("targets[0]") && e.contains("strictly"), "{e}");
        let empty = Config::from_values(None, None);
        assert!(empty.targets().unwrap_err().message.contains("no targets"));
        assert_eq!(empty.policy().unwrap(), &PolicySpec::default());
    }
}
