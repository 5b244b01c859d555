//! The input: every payload lambda-rollout accepts, parsed and validated once into
//! a typed `Command`. Nothing past this module sees raw JSON.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::engine::{Check, CheckDue, Manual};
use crate::model::{clipped, number, shown, GroupName, Target, UtcTime, Version, Weight};
use crate::policy::{Policy, PolicySpec};

/// A payload that cannot be understood. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct InputError(pub String);

pub const ACTIONS: &str =
    "tick, start, promote, rollback, pause, resume, approve, revert, set_weight, status";
pub const MAX_TARGETS: usize = 1000;
const MAX_REASON: usize = 200;

/// A target and its policy as given in a tick (or `LAMBDA_ROLLOUT_TARGETS`).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSpec {
    pub target: Target,
    pub policy: PolicySpec,
    /// The release group it is a member of (README, Release groups); a
    /// member's policy is its group's.
    pub group: Option<GroupName>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Targets given in the payload, or `None` for the configured ones.
    Tick {
        targets: Option<Vec<TargetSpec>>,
        dry_run: bool,
    },
    Manual {
        target: Target,
        action: Manual,
        policy: PolicySpec,
        dry_run: bool,
    },
    Status {
        target: Target,
        policy: PolicySpec,
    },
    /// A command for every member of a release group (README, Release
    /// groups). A start names each member's version by function, or takes
    /// each one's newest.
    Group {
        group: GroupName,
        action: Manual,
        versions: Vec<(String, Version)>,
        dry_run: bool,
    },
    GroupStatus {
        group: GroupName,
    },
    /// A CloudWatch alarm changed state: every configured target whose policy
    /// names it in `alarms` is rolled back at once when it is `ALARM`.
    Alarm {
        name: String,
        state: String,
    },
    /// A Lambda API call that CloudTrail recorded and EventBridge delivered
    /// ("AWS API Call via CloudTrail"): the function's targets are read at
    /// once, idle or not (README, Idle targets).
    Changed {
        function: String,
        change: Change,
    },
    /// lambda-rollout to itself: run a pre- or post-traffic check under the
    /// policy it began with (`run_check_payload`).
    RunCheck {
        target: Target,
        due: CheckDue,
        policy: PolicySpec,
    },
}

/// The `run_check` payload a check's own invocation is handed: the check as
/// the record holds it, and the policy it began under, written out whole.
pub fn run_check_payload(target: &Target, due: &CheckDue, policy: &Policy) -> Value {
    serde_json::json!({
        "action": "run_check",
        "function": target.function,
        "alias": target.alias,
        "check": due.check.word(),
        "green": due.green.to_string(),
        "blue": due.blue.to_string(),
        "since": due.since.to_string(),
        "policy": policy.as_spec(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunCheck {
    #[allow(dead_code)]
    action: String,
    function: String,
    alias: String,
    check: String,
    green: String,
    blue: String,
    since: String,
    policy: PolicySpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    function: String,
    alias: String,
    #[serde(default)]
    policy: Option<PolicySpec>,
}

/// A release group in a targets list: its members share its policy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    group: String,
    targets: Vec<Value>,
    #[serde(default)]
    policy: Option<PolicySpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTick {
    #[allow(dead_code)]
    action: String,
    #[serde(default)]
    targets: Option<Vec<Value>>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStart {
    #[allow(dead_code)]
    action: String,
    function: String,
    alias: String,
    /// A number or a string of one; checked by `version` for a message that
    /// says what to give instead.
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    policy: Option<PolicySpec>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetWeight {
    #[allow(dead_code)]
    action: String,
    function: String,
    alias: String,
    weight: Value,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// A command for a group: start, promote, rollback, pause, resume, approve,
/// revert, status.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroupCommand {
    #[allow(dead_code)]
    action: String,
    group: String,
    /// start: function name -> version, for the members named.
    #[serde(default)]
    versions: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// promote, rollback, pause, resume, approve, revert.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimple {
    #[allow(dead_code)]
    action: String,
    function: String,
    alias: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    #[allow(dead_code)]
    action: String,
    function: String,
    alias: String,
    #[serde(default)]
    policy: Option<PolicySpec>,
}

/// Deserializes `v`, naming the field of an error: "policy.bake: invalid type:
/// integer `5`, expected a string". The message is bounded: serde quotes the
/// offending value, which may be huge.
fn typed<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v)
        .map_err(|e| field_error(&e.path().to_string(), &e.inner().to_string()))
}

/// "policy.bake: invalid type: ...", bounded: the path and serde's message
/// both quote the caller's keys, which may be of any length, and a long key
/// must not push out the list of fields serde says it expected.
pub fn field_error(path: &str, inner: &str) -> String {
    const KEY: usize = 40;
    let short = |s: &str| {
        if s.chars().count() <= KEY {
            s.to_string()
        } else {
            format!("{}…", s.chars().take(KEY).collect::<String>())
        }
    };
    // Every `quoted` word of serde's message: the unknown key, the expected ones.
    let inner: String = inner
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                short(part)
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("`");
    let inner = clipped(inner, 400);
    if path == "." {
        return inner;
    }
    let path: Vec<String> = path.split('.').map(short).collect();
    format!("{}: {inner}", clipped(path.join("."), 160))
}

fn fields<T: DeserializeOwned>(action: &str, v: &Value) -> Result<T, InputError> {
    typed(v).map_err(|e| {
        let example = if action == "tick" {
            r#"{"action":"tick","targets":[{"function":"F","alias":"A"}]}"#.to_string()
        } else {
            format!(r#"{{"action":"{action}","function":"F","alias":"A"}}"#)
        };
        InputError(format!(
            "{action}: {e}; write it like {example} (README, Inputs, lists every field)"
        ))
    })
}

/// serde also reads a struct from an array of its fields in order, so
/// `"policy": ["AllAtOnce"]` would be a preset and `"policy": []` no policy at
/// all: only objects are taken where a policy, a target or a metric is expected.
pub fn policy_shape(policy: Option<&Value>, at: &str) -> Result<(), InputError> {
    let object = |v: &Value, at: &str, like: &str| match v {
        Value::Object(_) | Value::Null => Ok(()),
        other => Err(InputError(format!(
            "{at} must be an object such as {like}, got {}",
            kind(other)
        ))),
    };
    let Some(p) = policy else { return Ok(()) };
    object(p, at, r#"{"steps":[10,50,100]}"#)?;
    for check in ["pre_traffic", "post_traffic"] {
        if let Some(c) = p.get(check) {
            object(c, &format!("{at}.{check}"), r#"{"function":"smoke-test"}"#)?;
        }
    }
    if let Some(Value::Array(metrics)) = p.get("metrics") {
        for (i, m) in metrics.iter().enumerate() {
            let at = format!("{at}.metrics[{i}]");
            object(
                m,
                &at,
                r#"{"name":"N","namespace":"NS","metric":"M","max":1}"#,
            )?;
            if let Some(Value::Object(inputs)) = m.get("inputs") {
                for (k, input) in inputs {
                    object(
                        input,
                        &format!("{at}.inputs.{}", clipped(k.clone(), 60)),
                        r#"{"namespace":"NS","metric":"M"}"#,
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn version(v: &Value) -> Result<Version, InputError> {
    match v {
        Value::String(s) => Version::parse(s).map_err(|e| InputError(e.0)),
        Value::Number(n) => match n.as_u64() {
            Some(n) => Version::new(n).map_err(|e| InputError(e.0)),
            None => Err(InputError(format!(
                "version {} is not a published version number: give a whole number from 1, \
                 such as 7 (aws lambda list-versions-by-function lists them)",
                shown(&n.to_string())
            ))),
        },
        other => Err(InputError(format!(
            "version must be a number such as 7 (or the string \"7\"), got {}",
            kind(other)
        ))),
    }
}

/// set_weight's weight: a percent above 0 and below 100, in hundredths.
fn weight(v: &Value) -> Result<Weight, InputError> {
    let Some(p) = v.as_f64() else {
        return Err(InputError(format!(
            "weight must be a number of percent such as 25, got {}",
            kind(v)
        )));
    };
    if !(p > 0.0 && p < 100.0) {
        return Err(InputError(format!(
            "weight {} is not above 0 and below 100: rollback takes green's traffic away, \
             promote gives it all",
            number(p)
        )));
    }
    if !Weight::is_exact_percent(p) {
        return Err(InputError(format!(
            "weight {} is finer than a hundredth of a percent, the finest weight lambda-rollout \
             keeps: give one such as 0.5 or 25",
            number(p)
        )));
    }
    Weight::from_percent(p).map_err(|e| InputError(e.0))
}

fn target(function: &str, alias: &str) -> Result<Target, InputError> {
    Target::new(function, alias).map_err(|e| InputError(e.0))
}

fn reason(r: Option<String>) -> Result<Option<String>, InputError> {
    match r {
        Some(r) if r.chars().count() > MAX_REASON => Err(InputError(format!(
            "reason is {} characters long: keep it to {MAX_REASON}",
            r.chars().count()
        ))),
        r => Ok(r),
    }
}

pub fn parse_targets(raw: Vec<Value>) -> Result<Vec<TargetSpec>, InputError> {
    if raw.len() > MAX_TARGETS {
        return Err(InputError(format!(
            "{} targets in one tick: at most {MAX_TARGETS}; split them over several schedules",
            raw.len()
        )));
    }
    let mut out: Vec<TargetSpec> = Vec::with_capacity(raw.len());
    for (i, v) in raw.iter().enumerate() {
        if !v.is_object() {
            return Err(InputError(format!(
                "targets[{i}] must be an object such as {{\"function\": \"F\", \"alias\": \"A\"}}, got {}",
                kind(v)
            )));
        }
        policy_shape(v.get("policy"), &format!("targets[{i}].policy"))?;
        if v.get("group").is_some() {
            group_members(i, v, &mut out)?;
        } else {
            let spec = one_target(&format!("targets[{i}]"), v, None, None)?;
            push_target(&format!("targets[{i}]"), spec, &mut out)?;
        }
        if out.len() > MAX_TARGETS {
            return Err(InputError(format!(
                "more than {MAX_TARGETS} targets in one tick; split them over several schedules"
            )));
        }
    }
    Ok(out)
}

fn push_target(at: &str, spec: TargetSpec, out: &mut Vec<TargetSpec>) -> Result<(), InputError> {
    if out.iter().any(|o| o.target == spec.target) {
        return Err(InputError(format!(
            "{at}: {} appears twice: give each alias once (a group's members included)",
            spec.target
        )));
    }
    out.push(spec);
    Ok(())
}

/// `{"function": "F", "alias": "A", "policy": {...}}` at `at`; a group's
/// member takes the group's policy and has none of its own.
fn one_target(
    at: &str,
    v: &Value,
    group: Option<GroupName>,
    group_policy: Option<&PolicySpec>,
) -> Result<TargetSpec, InputError> {
    if !v.is_object() {
        return Err(InputError(format!(
            "{at} must be an object such as {{\"function\": \"F\", \"alias\": \"A\"}}, got {}",
            kind(v)
        )));
    }
    if let (Some(g), Some(_)) = (group, v.get("policy")) {
        return Err(InputError(format!(
            "{at}: a member of group {g} has no policy of its own: its members are judged \
             alike, by the group's \"policy\""
        )));
    }
    policy_shape(v.get("policy"), &format!("{at}.policy"))?;
    let t: RawTarget = typed(v).map_err(|e| {
        InputError(format!(
            "{at}: {e}; a target is {{\"function\": \"F\", \"alias\": \"A\", \"policy\": {{...}}}}"
        ))
    })?;
    let target = target(&t.function, &t.alias).map_err(|e| InputError(format!("{at}: {e}")))?;
    Ok(TargetSpec {
        target,
        policy: group_policy.cloned().or(t.policy).unwrap_or_default(),
        group,
    })
}

/// `{"group": "checkout", "targets": [...], "policy": {...}}`: its members,
/// each with the group's policy.
fn group_members(i: usize, v: &Value, out: &mut Vec<TargetSpec>) -> Result<(), InputError> {
    let at = format!("targets[{i}]");
    let g: RawGroup = typed(v).map_err(|e| {
        InputError(format!(
            "{at}: {e}; a group is {{\"group\": \"NAME\", \"targets\": [{{\"function\": \"F\", \
             \"alias\": \"A\"}}, ...], \"policy\": {{...}}}}"
        ))
    })?;
    let name = GroupName::new(&g.group).map_err(|e| InputError(format!("{at}: {e}")))?;
    if out.iter().any(|o| o.group == Some(name)) {
        return Err(InputError(format!(
            "{at}: group {name} appears twice: list each group once, with all its members"
        )));
    }
    let max = usize::from(crate::engine::state::MAX_MEMBERS);
    if g.targets.is_empty() || g.targets.len() > max {
        return Err(InputError(format!(
            "{at}: group {name} has {} members: a group has 1 to {max}",
            g.targets.len()
        )));
    }
    let policy = g.policy.unwrap_or_default();
    for (j, m) in g.targets.iter().enumerate() {
        let at = format!("{at}.targets[{j}]");
        let spec = one_target(&at, m, Some(name), Some(&policy))?;
        push_target(&at, spec, out)?;
    }
    Ok(())
}

impl Command {
    pub fn parse(payload: &Value) -> Result<Command, InputError> {
        let Some(obj) = payload.as_object() else {
            return Err(InputError(format!(
                "the payload must be a JSON object with an \"action\" ({ACTIONS}), got {}",
                kind(payload)
            )));
        };
        if obj.contains_key("detail-type") && obj.contains_key("source") {
            return parse_envelope(payload);
        }
        policy_shape(obj.get("policy"), "policy")?;
        let action = match obj.get("action") {
            Some(Value::String(a)) => a.as_str(),
            Some(other) => {
                return Err(InputError(format!(
                    "\"action\" must be a string, one of {ACTIONS}; got {}",
                    kind(other)
                )))
            }
            None => {
                return Err(InputError(format!(
                    "the payload has no \"action\": add one of {ACTIONS}"
                )))
            }
        };
        if obj.contains_key("group") && action != "tick" {
            return group_command(action, payload);
        }
        match action {
            "tick" => {
                let raw: RawTick = fields(action, payload)?;
                let targets = raw.targets.map(parse_targets).transpose()?;
                Ok(Command::Tick {
                    targets,
                    dry_run: raw.dry_run,
                })
            }
            "start" => {
                let raw: RawStart = fields(action, payload)?;
                let version = raw.version.as_ref().map(version).transpose()?;
                Ok(Command::Manual {
                    target: target(&raw.function, &raw.alias)?,
                    action: Manual::Start {
                        version,
                        force: raw.force,
                    },
                    policy: raw.policy.unwrap_or_default(),
                    dry_run: raw.dry_run,
                })
            }
            "set_weight" => {
                let raw: RawSetWeight = fields(action, payload)?;
                Ok(Command::Manual {
                    target: target(&raw.function, &raw.alias)?,
                    action: Manual::SetWeight {
                        weight: weight(&raw.weight)?,
                        reason: reason(raw.reason)?,
                    },
                    policy: PolicySpec::default(),
                    dry_run: raw.dry_run,
                })
            }
            "promote" | "rollback" | "pause" | "resume" | "approve" | "revert" => {
                let raw: RawSimple = fields(action, payload)?;
                let r = reason(raw.reason)?;
                let manual = match action {
                    "promote" => Manual::Promote { reason: r },
                    "rollback" => Manual::Rollback { reason: r },
                    "pause" => Manual::Pause { reason: r },
                    "approve" => Manual::Approve { reason: r },
                    "revert" => Manual::Revert { reason: r },
                    _ => Manual::Resume,
                };
                Ok(Command::Manual {
                    target: target(&raw.function, &raw.alias)?,
                    action: manual,
                    policy: PolicySpec::default(),
                    dry_run: raw.dry_run,
                })
            }
            "run_check" => {
                let raw: RawRunCheck = fields(action, payload)?;
                let version = |v: &str| Version::parse(v).map_err(|e| InputError(e.0));
                let check = Check::parse(&raw.check).ok_or_else(|| {
                    InputError(format!("check {} is not pre or post", shown(&raw.check)))
                })?;
                let since = UtcTime::parse_rfc3339(&raw.since).map_err(|e| InputError(e.0))?;
                Ok(Command::RunCheck {
                    target: target(&raw.function, &raw.alias)?,
                    due: CheckDue {
                        check,
                        green: version(&raw.green)?,
                        blue: version(&raw.blue)?,
                        since,
                    },
                    policy: raw.policy,
                })
            }
            "status" => {
                let raw: RawStatus = fields(action, payload)?;
                Ok(Command::Status {
                    target: target(&raw.function, &raw.alias)?,
                    policy: raw.policy.unwrap_or_default(),
                })
            }
            other => Err(InputError(format!(
                "unknown action {}: use one of {ACTIONS}",
                shown(other)
            ))),
        }
    }
}

/// `{"action": "...", "group": "NAME"}`: a command for every member.
fn group_command(action: &str, payload: &Value) -> Result<Command, InputError> {
    let like = format!(r#"{{"action":"{action}","group":"checkout"}}"#);
    let raw: RawGroupCommand = typed(payload).map_err(|e| {
        InputError(format!(
            "{action} for a group: {e}; write it like {like} (README, Release groups)"
        ))
    })?;
    let group = GroupName::new(&raw.group).map_err(|e| InputError(e.0))?;
    let r = reason(raw.reason)?;
    let only_start = |what: &str| {
        InputError(format!(
            "{action} for a group takes no \"{what}\": only start does (README, Release groups)"
        ))
    };
    if action != "start" {
        if raw.versions.is_some() {
            return Err(only_start("versions"));
        }
        if raw.force {
            return Err(only_start("force"));
        }
    }
    let action = match action {
        "status" => return Ok(Command::GroupStatus { group }),
        "start" => Manual::Start {
            version: None,
            force: raw.force,
        },
        "promote" => Manual::Promote { reason: r },
        "rollback" => Manual::Rollback { reason: r },
        "pause" => Manual::Pause { reason: r },
        "resume" => Manual::Resume,
        "approve" => Manual::Approve { reason: r },
        "revert" => Manual::Revert { reason: r },
        other => {
            return Err(InputError(format!(
                "{} does not take a group: a group takes start, promote, rollback, pause, \
                 resume, approve, revert or status",
                shown(other)
            )))
        }
    };
    let mut versions = Vec::new();
    for (function, v) in raw.versions.unwrap_or_default() {
        let name = crate::model::function_name(&function).map_err(|e| InputError(e.0))?;
        let v = version(&v).map_err(|e| InputError(format!("versions.{name}: {e}")))?;
        versions.push((name, v));
    }
    Ok(Command::Group {
        group,
        action,
        versions,
        dry_run: raw.dry_run,
    })
}

/// What a Lambda API call changed, by its CloudTrail event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// PublishVersion: a version an `auto_start` policy may start.
    Published,
    /// CreateAlias, UpdateAlias, DeleteAlias: someone else wrote the alias.
    Alias,
    /// TagResource, UntagResource: the onboarding tags may have changed.
    Tags,
}

impl Change {
    /// CloudTrail's names carry the API version ("PublishVersion20150331",
    /// "UpdateAlias20150331"), and may gain suffixes ("...v2"): by prefix.
    fn of(event_name: &str) -> Option<(Self, &'static str)> {
        [
            ("PublishVersion", Change::Published, "functionName"),
            ("CreateAlias", Change::Alias, "functionName"),
            ("UpdateAlias", Change::Alias, "functionName"),
            ("DeleteAlias", Change::Alias, "functionName"),
            ("TagResource", Change::Tags, "resource"),
            ("UntagResource", Change::Tags, "resource"),
        ]
        .into_iter()
        .find(|(prefix, _, _)| event_name.starts_with(prefix))
        .map(|(_, c, field)| (c, field))
    }
}

/// The part of a CloudTrail-recorded Lambda call we read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiCallDetail {
    event_name: String,
    #[serde(default)]
    request_parameters: Option<serde_json::Map<String, Value>>,
}

fn lambda_api_call(detail: Value) -> Result<Command, InputError> {
    let d: ApiCallDetail = serde_json::from_value(detail).map_err(|e| {
        InputError(format!(
            "an AWS API Call via CloudTrail event without a readable detail.eventName ({}): \
             route EventBridge's own CloudTrail events unchanged",
            clipped(e.to_string(), 200)
        ))
    })?;
    let Some((change, field)) = Change::of(&d.event_name) else {
        return Err(InputError(format!(
            "Lambda API call {} is not one lambda-rollout reads: route PublishVersion, \
             CreateAlias, UpdateAlias, DeleteAlias, TagResource and UntagResource only",
            shown(&d.event_name)
        )));
    };
    let given = d
        .request_parameters
        .as_ref()
        .and_then(|p| p.get(field))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            InputError(format!(
                "a {} event without detail.requestParameters.{field}: route EventBridge's own \
                 CloudTrail events unchanged",
                shown(&d.event_name)
            ))
        })?;
    let function = crate::model::function_name(given).map_err(|e| InputError(e.0))?;
    Ok(Command::Changed { function, change })
}

/// The part of a "CloudWatch Alarm State Change" event's detail we read; the
/// rest (configuration, previous state, reason) is left alone.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmDetail {
    alarm_name: String,
    state: AlarmStateDetail,
}

#[derive(Deserialize)]
struct AlarmStateDetail {
    value: String,
}

fn parse_envelope(payload: &Value) -> Result<Command, InputError> {
    let ev: EventBridgeEvent<Value> = typed(payload).map_err(|e| {
        InputError(format!(
            "an EventBridge event that cannot be read ({e}): route only EventBridge's own \
             scheduled events (or a constant Input with an \"action\") to lambda-rollout"
        ))
    })?;
    if ev.detail_type == "Scheduled Event" && ev.source == "aws.events" {
        return Ok(Command::Tick {
            targets: None,
            dry_run: false,
        });
    }
    if ev.detail_type == "CloudWatch Alarm State Change" && ev.source == "aws.cloudwatch" {
        let detail: AlarmDetail = serde_json::from_value(ev.detail).map_err(|e| {
            InputError(format!(
                "a CloudWatch Alarm State Change event without a readable detail.alarmName and \
                 detail.state.value ({}): route EventBridge's own alarm events unchanged",
                clipped(e.to_string(), 200)
            ))
        })?;
        if detail.alarm_name.trim().is_empty() || detail.alarm_name.chars().count() > 255 {
            return Err(InputError(
                "detail.alarmName must be 1 to 255 characters, as CloudWatch names are".into(),
            ));
        }
        return Ok(Command::Alarm {
            name: detail.alarm_name,
            state: detail.state.value,
        });
    }
    if ev.detail_type == "AWS API Call via CloudTrail" && ev.source == "aws.lambda" {
        return lambda_api_call(ev.detail);
    }
    Err(InputError(format!(
        "EventBridge event {} from {} is not handled: route only scheduled events, \
         CloudWatch Alarm State Change events, Lambda's CloudTrail API calls (or a constant \
         Input with an \"action\") to lambda-rollout",
        shown(&ev.detail_type),
        shown(&ev.source)
    )))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_action_parses() {
        let ok = [
            json!({"action":"tick","targets":[{"function":"f","alias":"live","policy":{"steps":[10,100]}}],"dry_run":true}),
            json!({"action":"tick"}),
            json!({"action":"start","function":"f","alias":"live","version":"7"}),
            json!({"action":"start","function":"f","alias":"live","version":7,"force":true}),
            json!({"action":"start","function":"f","alias":"live"}),
            json!({"action":"promote","function":"f","alias":"live"}),
            json!({"action":"rollback","function":"f","alias":"live","reason":"p99 up"}),
            json!({"action":"pause","function":"f","alias":"live"}),
            json!({"action":"resume","function":"f","alias":"live"}),
            json!({"action":"status","function":"f","alias":"live"}),
            json!({"action":"approve","function":"f","alias":"live","reason":"QA signed off"}),
            json!({"action":"revert","function":"f","alias":"live"}),
            json!({"action":"set_weight","function":"f","alias":"live","weight":25}),
            json!({"action":"set_weight","function":"f","alias":"live","weight":0.5,"dry_run":true}),
            json!({"action":"run_check","function":"f","alias":"live","check":"pre","green":"2","blue":"1","since":"2026-11-27T13:00:00Z","policy":{"pre_traffic":{"function":"smoke"}}}),
            json!({"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-11-27T13:00:00Z","region":"us-east-1","resources":[],"detail":{}}),
        ];
        for p in ok {
            Command::parse(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn a_long_key_never_makes_a_long_line() {
        let k = "k".repeat(200_000);
        for p in [
            json!({"action":"status","function":"f","alias":"a",k.clone():1}),
            json!({"action":"start","function":"f","alias":"a","policy":{k.clone():1}}),
            json!({"action":"tick","targets":[{"function":"f","alias":"a","policy":{"metrics":[{"name":"m","expression":"a","max":1,"inputs":{k.clone():{"namespace":"N","metric":"M","stat":5}}}]}}]}),
        ] {
            let e = Command::parse(&p).unwrap_err().0;
            assert!(
                e.chars().count() < 800,
                "{} characters: {e}",
                e.chars().count()
            );
            assert!(e.contains("expected") || e.contains("invalid type"), "{e}");
        }
    }

    #[test]
    fn groups_parse_into_members_that_share_the_groups_policy() {
        let tick = json!({"action": "tick", "targets": [
            {"group": "checkout", "policy": {"bake": "9m"}, "targets": [
                {"function": "api", "alias": "live"},
                {"function": "arn:aws:lambda:us-east-1:123456789012:function:worker", "alias": "live"}]},
            {"function": "search", "alias": "live"}]});
        let Command::Tick {
            targets: Some(t), ..
        } = Command::parse(&tick).unwrap()
        else {
            panic!("a tick")
        };
        let g = GroupName::new("checkout").unwrap();
        let groups: Vec<(String, Option<GroupName>)> = t
            .iter()
            .map(|s| (s.target.function.clone(), s.group))
            .collect();
        assert_eq!(
            groups,
            [
                ("api".into(), Some(g)),
                ("worker".into(), Some(g)),
                ("search".into(), None)
            ]
        );
        assert_eq!(t[0].policy, t[1].policy);
        assert_ne!(t[0].policy, t[2].policy);
        let cmd = json!({"action": "start", "group": "checkout", "versions": {"api": 7}});
        let Command::Group {
            group, versions, ..
        } = Command::parse(&cmd).unwrap()
        else {
            panic!("a group command")
        };
        assert_eq!(group, g);
        assert_eq!(versions, [("api".to_string(), Version::new(7).unwrap())]);
        assert!(matches!(
            Command::parse(&json!({"action": "status", "group": "checkout"})),
            Ok(Command::GroupStatus { .. })
        ));
    }

    #[test]
    fn bad_groups_name_the_problem() {
        let member = json!({"function": "api", "alias": "live"});
        let tick = |t: Value| json!({"action": "tick", "targets": t});
        let cases = [
            (
                tick(json!([{"group": "a b", "targets": [member]}])),
                "not a group name",
            ),
            (tick(json!([{"group": "g", "targets": []}])), "1 to 50"),
            (
                tick(
                    json!([{"group": "g", "targets": [{"function": "api", "alias": "live", "policy": {}}]}]),
                ),
                "no policy of its own",
            ),
            (
                tick(
                    json!([{"group": "g", "targets": [member]}, {"group": "g", "targets": [{"function": "b", "alias": "live"}]}]),
                ),
                "appears twice",
            ),
            (
                tick(json!([{"group": "g", "targets": [member]}, member])),
                "api:live appears twice",
            ),
            (
                tick(json!([{"group": "g", "targets": [member], "colour": 1}])),
                "unknown field `colour`",
            ),
            (
                tick(json!([{"group": "g", "targets": [3]}])),
                "targets[0].targets[0] must be an object",
            ),
            (
                json!({"action": "set_weight", "group": "g"}),
                "does not take a group",
            ),
            (
                json!({"action": "rollback", "group": "g", "versions": {}}),
                "only start does",
            ),
            (
                json!({"action": "start", "group": "g", "versions": {"api": "$LATEST"}}),
                "versions.api",
            ),
            (
                json!({"action": "start", "group": "g", "function": "api"}),
                "unknown field `function`",
            ),
        ];
        for (payload, want) in cases {
            let e = Command::parse(&payload).unwrap_err().0;
            assert!(e.contains(want), "{payload}: {e}");
            assert!(e.chars().count() < 500, "{e}");
        }
    }

    #[test]
    fn bad_payloads_name_the_problem() {
        let cases = [
            (json!([1, 2]), "JSON object"),
            (json!({}), "no \"action\""),
            (json!({"action": 3}), "must be a string"),
            (json!({"action":"deploy"}), "unknown action \"deploy\""),
            (
                json!({"action":"start","function":"f","alias":"live","version":"$LATEST"}),
                "publish-version",
            ),
            (
                json!({"action":"start","function":"f","alias":"live","version":0}),
                "start at 1",
            ),
            (
                json!({"action":"start","function":"f","alias":"live","verison":"7"}),
                "unknown field `verison`",
            ),
            (
                json!({"action":"start","function":"f"}),
                "missing field `alias`",
            ),
            (
                json!({"action":"promote","function":"f","alias":"$LATEST"}),
                "not a Lambda alias",
            ),
            (
                json!({"action":"rollback","function":"","alias":"live"}),
                "not a Lambda function name",
            ),
            (
                json!({"action":"rollback","function":"f","alias":"live","reason":"x".repeat(500)}),
                "keep it to",
            ),
            (
                json!({"action":"tick","targets":[{"function":"f"}]}),
                "targets[0]",
            ),
            (
                json!({"action":"tick","targets":[{"function":"f","alias":"a"},{"function":"f","alias":"a"}]}),
                "appears twice",
            ),
            (
                json!({"action":"tick","targets":[{"function":"f","alias":"a","policy":{"stepz":[1]}}]}),
                "unknown field `stepz`",
            ),
            (json!({"action":"tick","dry_run":"yes"}), "tick:"),
            (
                json!({"action":"set_weight","function":"f","alias":"a"}),
                "missing field `weight`",
            ),
            (
                json!({"action":"set_weight","function":"f","alias":"a","weight":"25"}),
                "must be a number",
            ),
            (
                json!({"action":"set_weight","function":"f","alias":"a","weight":100}),
                "promote gives it all",
            ),
            (
                json!({"action":"set_weight","function":"f","alias":"a","weight":0}),
                "not above 0",
            ),
            (
                json!({"action":"set_weight","function":"f","alias":"a","weight":12.345}),
                "finer than a hundredth",
            ),
            (
                json!({"action":"approve","function":"f","alias":"a","weight":5}),
                "unknown field `weight`",
            ),
            (
                json!({"action":"run_check","function":"f","alias":"a","check":"mid","green":"2","blue":"1","since":"2026-11-27T13:00:00Z","policy":{}}),
                "check \"mid\" is not pre or post",
            ),
            (
                json!({"action":"start","function":"f","alias":"a","policy":{"pre_traffic":["smoke"]}}),
                "policy.pre_traffic must be an object",
            ),
            (
                json!({"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}),
                "not handled",
            ),
        ];
        for (p, want) in cases {
            let e = Command::parse(&p).unwrap_err().0;
            assert!(e.contains(want), "{p}: {e}");
        }
    }
}
