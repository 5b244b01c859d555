//! Rollout policy: the raw `PolicySpec` as users write it (per target, from the
//! environment, presets) and the validated `Policy` the engine runs on.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{clipped, format_duration, number, parse_duration, shown, Weight};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("policy.{field}: {message}")]
pub struct PolicyError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field,
        // Some messages quote the caller's values (metric names, dimensions).
        message: clipped(message.into(), 400),
    }
}

/// A policy as written in a tick, a start command or `LAMBDA_ROLLOUT_POLICY`.
/// Every field is optional; unset fields come from the next layer down.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_invocations: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_throttles: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_lag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_start: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_stat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_tolerance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_floor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_from: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<CustomMetric>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_insufficient_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_before: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_after_promote: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_traffic: Option<CheckSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_traffic: Option<CheckSpec>,
}

/// A pre- or post-traffic check as written: a hook function, or green's own
/// version invoked directly.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// The validated policy. Steps are strictly increasing and end at 100%, which
/// means "promote".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub steps: Vec<Weight>,
    #[serde(serialize_with = "ser_duration")]
    pub bake: Duration,
    pub min_invocations: u64,
    pub max_error_rate: f64,
    pub max_throttles: Option<u64>,
    pub failure_threshold: u32,
    #[serde(serialize_with = "ser_duration")]
    pub metric_lag: Duration,
    /// A tick with no rollout in progress starts one for the newest published
    /// version newer than stable that was not rolled back.
    pub auto_start: bool,
    /// CloudWatch statistic of `Duration` compared between green and blue.
    pub latency_stat: LatencyStat,
    /// Green's latency statistic may be at most this multiple of blue's.
    pub max_latency_ratio: f64,
    /// And at most this many milliseconds, if set.
    pub max_latency_ms: Option<f64>,
    /// Confidence needed to call green's error rate worse than blue's.
    pub error_confidence: f64,
    /// Relative margin: green may be up to (1 + this) times blue's rate.
    pub error_tolerance: f64,
    /// Confidence needed to rule out a `detect_ratio` regression before a pass.
    pub pass_confidence: f64,
    /// The regression (green over blue's error rate) a pass must rule out.
    pub detect_ratio: f64,
    /// Percent: the error rate a pass must rule out when blue's is lower.
    pub error_floor: f64,
    /// An advance to this weight or more (and a promotion) needs evidence
    /// that rules out a `detect_ratio` regression; smaller steps need none.
    pub evidence_from: Weight,
    /// CloudWatch alarms that gate the rollout: any in ALARM fails.
    pub alarms: Vec<String>,
    /// Metrics of your own that gate the rollout, read for green.
    pub metrics: Vec<CustomMetric>,
    /// What an alarm in INSUFFICIENT_DATA does: holds (default) or fails.
    pub alarm_insufficient_data: OnInsufficientData,
    /// The rollout holds before this step (a weight of `steps`, 100% for
    /// the promotion) until an operator approves.
    pub approve_before: Option<Weight>,
    /// After a promotion, the new stable is judged this long against what
    /// the old stable did during the rollout, and reverted on a failure.
    #[serde(serialize_with = "ser_opt_duration")]
    pub watch_after_promote: Option<Duration>,
    /// What a failed check does once `failure_threshold` is reached.
    pub on_failure: OnFailure,
    /// How long a step may wait for a pass once its bake is over.
    #[serde(serialize_with = "ser_opt_duration")]
    pub max_wait: Option<Duration>,
    /// What a step does when `max_wait` has passed without a pass.
    pub on_timeout: OnTimeout,
    /// Before green has any traffic.
    pub pre_traffic: Option<CheckPolicy>,
    /// After the last step passed, before the promotion.
    pub post_traffic: Option<CheckPolicy>,
}

/// A check, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckPolicy {
    pub run: CheckRun,
    /// No answer by then is a failure.
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckRun {
    /// A function of yours, told the function, alias, green and blue.
    Hook { function: String },
    /// Green's version invoked directly (no user reaches it) `times` times.
    Invoke {
        payload: serde_json::Value,
        times: u32,
    },
}

pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(300);
/// A check runs within one invocation of lambda-rollout (15 minutes at most
/// in Lambda), which also reads and writes the alias.
pub const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(14 * 60);
pub const MAX_CHECK_TIMES: u32 = 100;
/// The invoke payload, as JSON text: a smoke test's request, not a load test.
pub const MAX_CHECK_PAYLOAD: usize = 32 * 1024;

impl CheckSpec {
    fn resolve(&self, field: &'static str) -> Result<CheckPolicy, PolicyError> {
        let example =
            r#"{"function": "smoke-test"} or {"invoke": {"path": "/health"}, "times": 3}"#;
        let run = match (&self.function, &self.invoke) {
            (Some(f), None) => {
                if self.times.is_some() {
                    return Err(err(
                        field,
                        "times counts the invokes of green: a hook function is called once",
                    ));
                }
                crate::model::invocable_function(f).map_err(|e| err(field, e.0))?;
                CheckRun::Hook {
                    function: f.clone(),
                }
            }
            (None, Some(payload)) => {
                let size = serde_json::to_string(payload).map_or(0, |t| t.len());
                if size > MAX_CHECK_PAYLOAD {
                    return Err(err(
                        field,
                        format!(
                            "the invoke payload is {size} bytes of JSON: keep it to {MAX_CHECK_PAYLOAD}"
                        ),
                    ));
                }
                let times = self.times.unwrap_or(1);
                if times == 0 || times > MAX_CHECK_TIMES {
                    return Err(err(
                        field,
                        format!("times {times} is not from 1 to {MAX_CHECK_TIMES}"),
                    ));
                }
                CheckRun::Invoke {
                    payload: payload.clone(),
                    times,
                }
            }
            _ => {
                return Err(err(
                    field,
                    format!("give either a hook function or an invoke payload: {example}"),
                ))
            }
        };
        let timeout = match &self.timeout {
            Some(t) => parse_duration(t).map_err(|e| err(field, format!("timeout: {}", e.0)))?,
            None => DEFAULT_CHECK_TIMEOUT,
        };
        if timeout < Duration::from_secs(1) || timeout > MAX_CHECK_TIMEOUT {
            return Err(err(
                field,
                format!(
                    "timeout {} is not from 1s to {} (a check runs within one invocation of \
                     lambda-rollout)",
                    format_duration(timeout),
                    format_duration(MAX_CHECK_TIMEOUT)
                ),
            ));
        }
        Ok(CheckPolicy { run, timeout })
    }
}

/// What a failed check does once `failure_threshold` is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// All traffic back to blue.
    Rollback,
    /// Green keeps its weight, frozen for a human: promote, rollback or resume.
    Pause,
}

/// What a step does when `max_wait` has passed without a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// Go on holding, saying max_wait has passed.
    Hold,
    /// All traffic back to blue.
    Rollback,
    /// Promote green although the evidence is short: only when every check
    /// on complete data shows no sign of a regression, and reported so.
    Promote,
}

/// The word a choice field is written with.
trait Word {
    fn word(&self) -> &'static str;
}

impl Word for OnInsufficientData {
    fn word(&self) -> &'static str {
        match self {
            OnInsufficientData::Hold => "hold",
            OnInsufficientData::Fail => "fail",
        }
    }
}

impl Word for OnFailure {
    fn word(&self) -> &'static str {
        match self {
            OnFailure::Rollback => "rollback",
            OnFailure::Pause => "pause",
        }
    }
}

impl Word for OnTimeout {
    fn word(&self) -> &'static str {
        match self {
            OnTimeout::Hold => "hold",
            OnTimeout::Rollback => "rollback",
            OnTimeout::Promote => "promote",
        }
    }
}

/// What an alarm in INSUFFICIENT_DATA does to the check (README rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnInsufficientData {
    Hold,
    Fail,
}

/// The CloudWatch statistic of `Duration` compared between green and blue:
/// a percentile (`p99`, `p90.5`), `Average` or `Maximum`. Parsed once; the
/// text CloudWatch is sent is its `Display`.
#[derive(Debug, Clone, PartialEq)]
pub enum LatencyStat {
    /// pNN or pNN.N, kept as written (CloudWatch takes either).
    Percentile {
        text: String,
        p: f64,
    },
    Average,
    Maximum,
}

impl LatencyStat {
    pub fn parse(s: &str) -> Option<LatencyStat> {
        match s {
            "Average" => return Some(LatencyStat::Average),
            "Maximum" => return Some(LatencyStat::Maximum),
            _ => {}
        }
        let num = s.strip_prefix('p')?;
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let digits = |d: &str| d.chars().all(|c| c.is_ascii_digit());
        let shaped = !int.is_empty()
            && int.len() <= 2
            && digits(int)
            && digits(frac)
            && (num.contains('.') != frac.is_empty());
        let p = num.parse::<f64>().ok().filter(|p| *p > 0.0 && *p < 100.0)?;
        shaped.then(|| LatencyStat::Percentile {
            text: s.to_string(),
            p,
        })
    }

    /// Samples needed before the statistic means more than "the slowest
    /// request": 100 / (100 - p) for a percentile pNN, 1 for the others.
    pub fn samples_needed(&self) -> u64 {
        match self {
            LatencyStat::Percentile { p, .. } => (100.0 / (100.0 - p)).ceil() as u64,
            LatencyStat::Average | LatencyStat::Maximum => 1,
        }
    }
}

impl std::fmt::Display for LatencyStat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LatencyStat::Percentile { text, .. } => f.write_str(text),
            LatencyStat::Average => f.write_str("Average"),
            LatencyStat::Maximum => f.write_str("Maximum"),
        }
    }
}

impl Serialize for LatencyStat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_duration(*d)),
        None => s.serialize_none(),
    }
}

pub const DEFAULT_STEPS: [f64; 4] = [10.0, 25.0, 50.0, 100.0];
pub const DEFAULT_BAKE: Duration = Duration::from_secs(300);
pub const DEFAULT_MIN_INVOCATIONS: u64 = 50;
pub const DEFAULT_MAX_ERROR_RATE: f64 = 1.0;
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 1;
pub const DEFAULT_METRIC_LAG: Duration = Duration::from_secs(120);
pub const DEFAULT_LATENCY_STAT: &str = "p99";
pub const DEFAULT_ERROR_CONFIDENCE: f64 = 0.999;
pub const DEFAULT_ERROR_TOLERANCE: f64 = 0.25;
pub const DEFAULT_PASS_CONFIDENCE: f64 = 0.995;
pub const DEFAULT_EVIDENCE_FROM: f64 = 50.0;
pub const DEFAULT_DETECT_RATIO: f64 = 2.0;
pub const DEFAULT_ERROR_FLOOR: f64 = 0.1;
pub const DEFAULT_MAX_LATENCY_RATIO: f64 = 1.3;
/// The longest watch and max_wait: a day, the longest health window read.
const MAX_WINDOW_POLICY: Duration = Duration::from_secs(24 * 3600);

/// CodeDeploy's Lambda presets, mapped to the same steps and timing, so that a
/// CodeDeploy user can paste the name they use today.
pub const PRESETS: [&str; 9] = [
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
    "AllAtOnce",
];

/// Steps (percent) and bake of a preset name, or None if unknown.
pub fn preset(name: &str) -> Option<(Vec<f64>, Duration)> {
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let linear: Vec<f64> = (1..=10).map(|i| f64::from(i) * 10.0).collect();
    Some(match name {
        "Canary10Percent5Minutes" => (vec![10.0, 100.0], minutes(5)),
        "Canary10Percent10Minutes" => (vec![10.0, 100.0], minutes(10)),
        "Canary10Percent15Minutes" => (vec![10.0, 100.0], minutes(15)),
        "Canary10Percent30Minutes" => (vec![10.0, 100.0], minutes(30)),
        "Linear10PercentEvery1Minute" => (linear, minutes(1)),
        "Linear10PercentEvery2Minutes" => (linear, minutes(2)),
        "Linear10PercentEvery3Minutes" => (linear, minutes(3)),
        "Linear10PercentEvery10Minutes" => (linear, minutes(10)),
        "AllAtOnce" => (vec![100.0], Duration::ZERO),
        _ => return None,
    })
}

impl PolicySpec {
    /// Resolves layers, most specific first (target, then environment), over the
    /// built-in defaults, and validates the result.
    pub fn resolve(layers: &[&PolicySpec]) -> Result<Policy, PolicyError> {
        for l in layers {
            l.check_shape()?;
        }
        let (steps, bake) = shape(layers)?;
        // The most specific layer that sets a field wins.
        fn first<T>(layers: &[&PolicySpec], f: impl Fn(&PolicySpec) -> Option<T>) -> Option<T> {
            layers.iter().find_map(|l| f(l))
        }

        let policy = Policy {
            steps: validate_steps(&steps)?,
            bake,
            min_invocations: first(layers, |l| l.min_invocations)
                .unwrap_or(DEFAULT_MIN_INVOCATIONS),
            max_error_rate: first(layers, |l| l.max_error_rate).unwrap_or(DEFAULT_MAX_ERROR_RATE),
            max_throttles: first(layers, |l| l.max_throttles),
            failure_threshold: first(layers, |l| l.failure_threshold)
                .unwrap_or(DEFAULT_FAILURE_THRESHOLD),
            metric_lag: match first(layers, |l| l.metric_lag.clone()) {
                Some(s) => parse_duration(&s).map_err(|e| err("metric_lag", e.0))?,
                None => DEFAULT_METRIC_LAG,
            },
            auto_start: first(layers, |l| l.auto_start).unwrap_or(false),
            latency_stat: latency_stat(
                &first(layers, |l| l.latency_stat.clone())
                    .unwrap_or_else(|| DEFAULT_LATENCY_STAT.to_string()),
            )?,
            max_latency_ratio: first(layers, |l| l.max_latency_ratio)
                .unwrap_or(DEFAULT_MAX_LATENCY_RATIO),
            max_latency_ms: first(layers, |l| l.max_latency_ms),
            error_confidence: first(layers, |l| l.error_confidence)
                .unwrap_or(DEFAULT_ERROR_CONFIDENCE),
            error_tolerance: first(layers, |l| l.error_tolerance)
                .unwrap_or(DEFAULT_ERROR_TOLERANCE),
            pass_confidence: first(layers, |l| l.pass_confidence)
                .unwrap_or(DEFAULT_PASS_CONFIDENCE),
            detect_ratio: first(layers, |l| l.detect_ratio).unwrap_or(DEFAULT_DETECT_RATIO),
            error_floor: first(layers, |l| l.error_floor).unwrap_or(DEFAULT_ERROR_FLOOR),
            evidence_from: Weight::from_percent(
                first(layers, |l| l.evidence_from).unwrap_or(DEFAULT_EVIDENCE_FROM),
            )
            .map_err(|e| err("evidence_from", e.0))?,
            alarms: first(layers, |l| l.alarms.clone()).unwrap_or_default(),
            metrics: first(layers, |l| l.metrics.clone()).unwrap_or_default(),
            alarm_insufficient_data: on_insufficient_data(
                first(layers, |l| l.alarm_insufficient_data.clone()).as_deref(),
            )?,
            approve_before: first(layers, |l| l.approve_before)
                .map(|w| {
                    Weight::from_percent(w).map_err(|e| {
                        err(
                            "approve_before",
                            format!("{}: give one of the steps, e.g. 50", e.0),
                        )
                    })
                })
                .transpose()?,
            watch_after_promote: optional_duration(
                "watch_after_promote",
                first(layers, |l| l.watch_after_promote.clone()),
            )?,
            on_failure: choice(
                "on_failure",
                first(layers, |l| l.on_failure.clone()).as_deref(),
                &[
                    ("rollback", OnFailure::Rollback),
                    ("pause", OnFailure::Pause),
                ],
            )?,
            max_wait: optional_duration("max_wait", first(layers, |l| l.max_wait.clone()))?,
            pre_traffic: first(layers, |l| l.pre_traffic.clone())
                .map(|c| c.resolve("pre_traffic"))
                .transpose()?,
            post_traffic: first(layers, |l| l.post_traffic.clone())
                .map(|c| c.resolve("post_traffic"))
                .transpose()?,
            on_timeout: choice(
                "on_timeout",
                first(layers, |l| l.on_timeout.clone()).as_deref(),
                &[
                    ("hold", OnTimeout::Hold),
                    ("rollback", OnTimeout::Rollback),
                    ("promote", OnTimeout::Promote),
                ],
            )?,
        };
        if first(layers, |l| l.on_timeout.clone()).is_some() && policy.max_wait.is_none() {
            return Err(err(
                "on_timeout",
                "says what happens when max_wait has passed: give max_wait too, e.g. \"2h\"",
            ));
        }
        policy.validate()?;
        Ok(policy)
    }

    fn check_shape(&self) -> Result<(), PolicyError> {
        if self.preset.is_some() && self.steps.is_some() {
            return Err(err("preset", "give either steps or a preset, not both"));
        }
        if let Some(name) = &self.preset {
            preset(name).ok_or_else(|| unknown_preset(name))?;
        }
        Ok(())
    }
}

/// The steps and the bake. Steps and a preset describe one shape: the most
/// specific layer that gives either decides both, so a target's steps beat an
/// environment's preset. An explicit bake wins over a preset's bake in the
/// same or a lower layer.
fn shape(layers: &[&PolicySpec]) -> Result<(Vec<f64>, Duration), PolicyError> {
    let shape = layers
        .iter()
        .find(|l| l.preset.is_some() || l.steps.is_some());
    let (steps, preset_bake) = match shape {
        Some(l) => match (&l.preset, &l.steps) {
            (Some(name), None) => {
                let (s, b) = preset(name).ok_or_else(|| unknown_preset(name))?;
                (s, Some(b))
            }
            (None, Some(s)) => (s.clone(), None),
            _ => unreachable!("check_shape refuses both"),
        },
        None => (DEFAULT_STEPS.to_vec(), None),
    };
    for l in layers {
        if let Some(b) = &l.bake {
            return Ok((steps, parse_duration(b).map_err(|e| err("bake", e.0))?));
        }
        if l.preset.is_some() {
            return Ok((steps, preset_bake.unwrap_or(DEFAULT_BAKE)));
        }
    }
    Ok((steps, DEFAULT_BAKE))
}

fn on_insufficient_data(choice: Option<&str>) -> Result<OnInsufficientData, PolicyError> {
    match choice {
        None | Some("hold") => Ok(OnInsufficientData::Hold),
        Some("fail") => Ok(OnInsufficientData::Fail),
        Some(other) => Err(err(
            "alarm_insufficient_data",
            format!(
                "{} is not \"hold\" or \"fail\": use one of them",
                shown(other)
            ),
        )),
    }
}

/// A duration field that may be absent; "0s" is the same as absent.
fn optional_duration(
    field: &'static str,
    text: Option<String>,
) -> Result<Option<Duration>, PolicyError> {
    let Some(text) = text else { return Ok(None) };
    let d = parse_duration(&text).map_err(|e| err(field, e.0))?;
    Ok((!d.is_zero()).then_some(d))
}

/// One of a field's words, the first being the default.
fn choice<T: Copy>(
    field: &'static str,
    given: Option<&str>,
    words: &[(&str, T)],
) -> Result<T, PolicyError> {
    let Some(given) = given else {
        return Ok(words[0].1);
    };
    words
        .iter()
        .find(|(w, _)| *w == given)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let all: Vec<String> = words.iter().map(|(w, _)| format!("{w:?}")).collect();
            err(
                field,
                format!("{} is not one of {}", shown(given), all.join(", ")),
            )
        })
}

fn unknown_preset(name: &str) -> PolicyError {
    err(
        "preset",
        format!(
            "unknown preset {}: use one of {}",
            shown(name),
            PRESETS.join(", ")
        ),
    )
}

/// A CloudWatch metric of your own that gates the rollout, read for green over
/// the step's window with `{function}`, `{alias}` and `{version}` (green's)
/// replaced in the dimension values; it fails the check above `max` or below
/// `min`. Either one metric (`namespace`, `metric`, `dimensions`, `stat`) or a
/// metric-math `expression` over named `inputs`, each a metric.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomMetric {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// A metric's CloudWatch statistic per minute (Sum by default); for an
    /// expression, how its per-minute values combine over the window
    /// (Average by default, or Sum, Minimum, Maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    /// CloudWatch metric math over the names of `inputs`, e.g.
    /// `100 * errors / requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, MetricInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
}

/// One metric an expression reads.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricInput {
    pub namespace: String,
    pub metric: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    #[serde(default = "default_custom_stat")]
    pub stat: String,
}

fn default_custom_stat() -> String {
    "Sum".into()
}

pub const MAX_CUSTOM_METRICS: usize = 20;
/// Inputs of one expression: each is a query of the batched GetMetricData.
pub const MAX_EXPRESSION_INPUTS: usize = 10;
const MAX_EXPRESSION_LEN: usize = 1024;

impl CustomMetric {
    /// How the window's per-minute values combine (and, for a metric, the
    /// CloudWatch statistic itself).
    pub fn stat(&self) -> &str {
        match (&self.stat, &self.expression) {
            (Some(s), _) => s,
            (None, Some(_)) => "Average",
            (None, None) => "Sum",
        }
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let bad = |m: String| err("metrics", format!("{:?}: {m}", self.name));
        if self.name.trim().is_empty() || self.name.len() > 64 {
            return Err(err(
                "metrics",
                "each metric needs a name of 1 to 64 characters",
            ));
        }
        match &self.expression {
            None => {
                if !self.inputs.is_empty() {
                    return Err(bad("inputs are only read by an expression".into()));
                }
                validate_metric(&self.namespace, &self.metric, &self.dimensions, self.stat())
                    .map_err(bad)?;
            }
            Some(e) => {
                if !self.namespace.is_empty()
                    || !self.metric.is_empty()
                    || !self.dimensions.is_empty()
                {
                    return Err(bad(
                        "an expression reads its inputs: move namespace, metric and dimensions \
                         into \"inputs\""
                            .into(),
                    ));
                }
                if e.trim().is_empty() || e.len() > MAX_EXPRESSION_LEN {
                    return Err(bad(format!(
                        "the expression must have 1 to {MAX_EXPRESSION_LEN} characters"
                    )));
                }
                if self.inputs.is_empty() || self.inputs.len() > MAX_EXPRESSION_INPUTS {
                    return Err(bad(format!(
                        "an expression needs 1 to {MAX_EXPRESSION_INPUTS} inputs, e.g. \
                         \"inputs\": {{\"errors\": {{\"namespace\": ..., \"metric\": ...}}}}"
                    )));
                }
                for (name, input) in &self.inputs {
                    let mut chars = name.chars();
                    let lower_first = chars.next().is_some_and(|c| c.is_ascii_lowercase());
                    if !lower_first
                        || name.len() > 64
                        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(bad(format!(
                            "input name {name:?} must start with a lower-case letter and hold \
                             only letters, digits and _ (CloudWatch's rule for ids)"
                        )));
                    }
                    validate_metric(
                        &input.namespace,
                        &input.metric,
                        &input.dimensions,
                        &input.stat,
                    )
                    .map_err(|m| bad(format!("input {name:?}: {m}")))?;
                }
                if !matches!(self.stat(), "Sum" | "Average" | "Minimum" | "Maximum") {
                    return Err(bad(format!(
                        "stat {:?}: an expression's minutes combine by Average, Sum, Minimum or Maximum",
                        self.stat()
                    )));
                }
            }
        }
        match (self.max, self.min) {
            (None, None) => Err(bad(
                "give a threshold: max (fails above) or min (fails below)".into(),
            )),
            (Some(x), _) | (_, Some(x)) if !x.is_finite() => {
                Err(bad("thresholds must be numbers".into()))
            }
            _ => Ok(()),
        }
    }
}

/// One CloudWatch metric and statistic, placeholders checked.
fn validate_metric(
    namespace: &str,
    metric: &str,
    dimensions: &BTreeMap<String, String>,
    stat: &str,
) -> Result<(), String> {
    if namespace.trim().is_empty() || metric.trim().is_empty() {
        return Err("namespace and metric are required".into());
    }
    if dimensions.len() > 30 {
        return Err("at most 30 dimensions".into());
    }
    for v in dimensions.values() {
        let mut rest = v.as_str();
        while let Some(i) = rest.find('{') {
            let end = rest[i..]
                .find('}')
                .map(|e| i + e)
                .ok_or_else(|| format!("unclosed {{ in {v:?}"))?;
            let key = &rest[i + 1..end];
            if !matches!(key, "function" | "alias" | "version") {
                return Err(format!(
                    "unknown placeholder {{{key}}} in {v:?}: use {{function}}, {{alias}} or {{version}}"
                ));
            }
            rest = &rest[end + 1..];
        }
    }
    if !(matches!(stat, "Sum" | "SampleCount" | "Minimum") || is_latency_stat(stat)) {
        return Err(format!(
            "stat {stat:?} is not Sum, SampleCount, Average, Minimum, Maximum or a percentile such as p99"
        ));
    }
    Ok(())
}

/// pNN or pNN.N (0 < NN < 100), Average or Maximum.
fn is_latency_stat(s: &str) -> bool {
    LatencyStat::parse(s).is_some()
}

fn latency_stat(s: &str) -> Result<LatencyStat, PolicyError> {
    LatencyStat::parse(s).ok_or_else(|| {
        err(
            "latency_stat",
            format!(
                "{} is not a CloudWatch statistic for Duration: use a percentile such as \"p99\" or \"p90.5\", or \"Average\" or \"Maximum\"",
                shown(s)
            ),
        )
    })
}

fn validate_steps(steps: &[f64]) -> Result<Vec<Weight>, PolicyError> {
    if steps.is_empty() {
        return Err(err("steps", "give at least one step, e.g. [10, 50, 100]"));
    }
    if steps.len() > 100 {
        return Err(err("steps", "at most 100 steps"));
    }
    let mut out: Vec<Weight> = Vec::with_capacity(steps.len() + 1);
    for &s in steps {
        if !s.is_finite() || s <= 0.0 || s > 100.0 {
            return Err(err(
                "steps",
                format!(
                    "step {} is out of range: each step is a percent above 0 and at most 100",
                    number(s)
                ),
            ));
        }
        // Weights are kept in hundredths of a percent: a finer step would be
        // stored rounded, and one that rounds to 0% would skip the canary.
        let hundredths = s * 100.0;
        if hundredths.round() < 1.0 || !Weight::is_exact_percent(s) {
            return Err(err(
                "steps",
                format!(
                    "step {} is finer than a hundredth of a percent, the finest weight \
                     lambda-rollout keeps (it would be stored as {}%): give steps such as \
                     0.01, 0.5 or 10",
                    number(s),
                    hundredths.round() / 100.0
                ),
            ));
        }
        let w = Weight::from_percent(s).map_err(|e| err("steps", e.0))?;
        if let Some(prev) = out.last() {
            if w <= *prev {
                return Err(err(
                    "steps",
                    format!("steps must be strictly increasing: {} follows {}", w, prev),
                ));
            }
        }
        out.push(w);
    }
    // Reaching 100% is a promotion; a policy that stops short still ends in one.
    if *out.last().expect("non-empty") != Weight::FULL {
        out.push(Weight::FULL);
    }
    Ok(out)
}

impl Policy {
    /// Green takes all traffic at `start`, with no canary and no verdict: the
    /// `AllAtOnce` preset, or steps of just `[100]`. The only policy under which
    /// anything is promoted without a pass.
    pub fn is_all_at_once(&self) -> bool {
        self.steps == [Weight::FULL]
    }

    fn validate(&self) -> Result<(), PolicyError> {
        if self.min_invocations == 0 {
            return Err(err(
                "min_invocations",
                "must be at least 1: with 0 a version with no traffic would pass",
            ));
        }
        if !self.max_error_rate.is_finite() || !(0.0..=100.0).contains(&self.max_error_rate) {
            return Err(err(
                "max_error_rate",
                format!("{} is not a percent from 0 to 100", self.max_error_rate),
            ));
        }
        if self.failure_threshold == 0 || self.failure_threshold > 100 {
            return Err(err("failure_threshold", "must be from 1 to 100"));
        }
        if self.bake > Duration::from_secs(7 * 24 * 3600) {
            return Err(err(
                "bake",
                "at most 7 days (CloudWatch keeps 1-minute data 15 days)",
            ));
        }
        if self.metric_lag > Duration::from_secs(3600) {
            return Err(err("metric_lag", "at most 1h"));
        }
        if !self.max_latency_ratio.is_finite() || self.max_latency_ratio < 1.0 {
            return Err(err(
                "max_latency_ratio",
                format!(
                    "{} must be 1 or more (green's latency over blue's)",
                    self.max_latency_ratio
                ),
            ));
        }
        for (field, v) in [
            ("error_confidence", self.error_confidence),
            ("pass_confidence", self.pass_confidence),
        ] {
            if !(0.5..1.0).contains(&v) {
                return Err(err(
                    field,
                    format!("{v} is not a confidence between 0.5 and 1 (e.g. 0.99)"),
                ));
            }
        }
        if !self.error_tolerance.is_finite() || !(0.0..=10.0).contains(&self.error_tolerance) {
            return Err(err(
                "error_tolerance",
                format!(
                    "{} is not a relative margin from 0 to 10 (0.25 = 25% worse than blue)",
                    self.error_tolerance
                ),
            ));
        }
        if !self.detect_ratio.is_finite() || self.detect_ratio <= 1.0 {
            return Err(err(
                "detect_ratio",
                format!(
                    "{} must be above 1 (2 = twice blue's error rate)",
                    self.detect_ratio
                ),
            ));
        }
        if !self.error_floor.is_finite() || self.error_floor <= 0.0 || self.error_floor > 100.0 {
            return Err(err(
                "error_floor",
                format!(
                    "{} is not a percent above 0 and at most 100 (with a clean blue, a pass must rule out at least this rate)",
                    self.error_floor
                ),
            ));
        }

        if self.metrics.len() > MAX_CUSTOM_METRICS {
            return Err(err(
                "metrics",
                format!("at most {MAX_CUSTOM_METRICS} metrics per target (GetMetricData reads 500 a call)"),
            ));
        }
        for m in &self.metrics {
            m.validate()?;
        }
        if self.alarms.len() > 100 {
            return Err(err("alarms", "at most 100 alarms per target"));
        }
        if let Some(a) = self
            .alarms
            .iter()
            .find(|a| a.trim().is_empty() || a.chars().count() > 255)
        {
            return Err(err(
                "alarms",
                format!(
                    "{} is not an alarm name: give 1 to 255 characters",
                    shown(a)
                ),
            ));
        }
        if let Some(w) = self.approve_before {
            let percents: Vec<String> = self.steps.iter().map(|s| number(s.percent())).collect();
            if !self.steps.contains(&w) || self.steps.first() == Some(&w) {
                return Err(err(
                    "approve_before",
                    format!(
                        "{} is not a step after the first of [{}]: give the step to hold \
                         before, e.g. {} (100 holds the promotion)",
                        number(w.percent()),
                        percents.join(", "),
                        percents.get(1).map_or("100", String::as_str)
                    ),
                ));
            }
        }
        for (field, d) in [
            ("watch_after_promote", self.watch_after_promote),
            ("max_wait", self.max_wait),
        ] {
            if d.is_some_and(|d| d > MAX_WINDOW_POLICY) {
                return Err(err(
                    field,
                    format!(
                        "{} is longer than {}, the longest window read",
                        format_duration(d.unwrap_or_default()),
                        format_duration(MAX_WINDOW_POLICY)
                    ),
                ));
            }
        }
        if let Some(ms) = self.max_latency_ms {
            if !ms.is_finite() || ms <= 0.0 {
                return Err(err(
                    "max_latency_ms",
                    format!("{ms} must be a positive number of milliseconds"),
                ));
            }
        }
        Ok(())
    }

    pub fn defaults() -> Policy {
        PolicySpec::resolve(&[]).expect("built-in defaults are valid")
    }

    /// The policy written out with every field set: it resolves to itself.
    /// A check's own invocation is handed the policy its check began under
    /// this way, whatever layers it came from.
    pub fn as_spec(&self) -> PolicySpec {
        let duration = |d: Duration| Some(format_duration(d));
        let check = |c: &CheckPolicy| {
            let (function, invoke, times) = match &c.run {
                CheckRun::Hook { function } => (Some(function.clone()), None, None),
                CheckRun::Invoke { payload, times } => (None, Some(payload.clone()), Some(*times)),
            };
            CheckSpec {
                function,
                invoke,
                times,
                timeout: duration(c.timeout),
            }
        };
        let word = |v: &dyn Word| Some(v.word().to_string());
        PolicySpec {
            preset: None,
            steps: Some(self.steps.iter().map(|w| w.percent()).collect()),
            bake: duration(self.bake),
            min_invocations: Some(self.min_invocations),
            max_error_rate: Some(self.max_error_rate),
            max_throttles: self.max_throttles,
            failure_threshold: Some(self.failure_threshold),
            metric_lag: duration(self.metric_lag),
            auto_start: Some(self.auto_start),
            latency_stat: Some(self.latency_stat.to_string()),
            max_latency_ratio: Some(self.max_latency_ratio),
            max_latency_ms: self.max_latency_ms,
            error_confidence: Some(self.error_confidence),
            error_tolerance: Some(self.error_tolerance),
            pass_confidence: Some(self.pass_confidence),
            detect_ratio: Some(self.detect_ratio),
            error_floor: Some(self.error_floor),
            evidence_from: Some(self.evidence_from.percent()),
            alarms: Some(self.alarms.clone()),
            metrics: Some(self.metrics.clone()),
            alarm_insufficient_data: word(&self.alarm_insufficient_data),
            approve_before: self.approve_before.map(|w| w.percent()),
            watch_after_promote: self.watch_after_promote.and_then(duration),
            on_failure: word(&self.on_failure),
            max_wait: self.max_wait.and_then(duration),
            on_timeout: self.max_wait.and(word(&self.on_timeout)),
            pre_traffic: self.pre_traffic.as_ref().map(check),
            post_traffic: self.post_traffic.as_ref().map(check),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> PolicySpec {
        serde_json::from_str(json).unwrap()
    }

    fn percents(p: &Policy) -> Vec<f64> {
        p.steps.iter().map(|w| w.percent()).collect()
    }

    #[test]
    fn defaults_are_sane() {
        let p = Policy::defaults();
        assert_eq!(percents(&p), vec![10.0, 25.0, 50.0, 100.0]);
        assert_eq!(p.bake, Duration::from_secs(300));
        assert_eq!(p.failure_threshold, 1);
        assert!(p.min_invocations >= 1);
    }

    #[test]
    fn a_policy_written_out_resolves_to_itself() {
        for json in [
            "{}",
            r#"{"preset":"Linear10PercentEvery3Minutes","alarms":["a"],"max_latency_ms":250}"#,
            r#"{"steps":[0.5,20,60],"bake":"1h30m","approve_before":60,"on_failure":"pause",
                "watch_after_promote":"15m","max_wait":"2h","on_timeout":"promote",
                "alarm_insufficient_data":"fail","max_throttles":3,"latency_stat":"p99.9",
                "pre_traffic":{"function":"smoke:live","timeout":"90s"},
                "post_traffic":{"invoke":{"path":"/health"},"times":3},
                "metrics":[{"name":"x","namespace":"N","metric":"M","max":1}]}"#,
        ] {
            let p = PolicySpec::resolve(&[&spec(json)]).unwrap();
            let again = PolicySpec::resolve(&[&p.as_spec()]).unwrap();
            assert_eq!(again, p, "{json}");
            // And through JSON, as a check's own invocation reads it.
            let text = serde_json::to_string(&p.as_spec()).unwrap();
            let read: PolicySpec = serde_json::from_str(&text).unwrap();
            assert_eq!(PolicySpec::resolve(&[&read]).unwrap(), p, "{text}");
        }
    }

    #[test]
    fn every_preset_maps_to_codedeploy_timing() {
        let expect: [(&str, Vec<f64>, u64); 9] = [
            ("Canary10Percent5Minutes", vec![10.0, 100.0], 300),
            ("Canary10Percent10Minutes", vec![10.0, 100.0], 600),
            ("Canary10Percent15Minutes", vec![10.0, 100.0], 900),
            ("Canary10Percent30Minutes", vec![10.0, 100.0], 1800),
            (
                "Linear10PercentEvery1Minute",
                (1..=10).map(|i| i as f64 * 10.0).collect(),
                60,
            ),
            (
                "Linear10PercentEvery2Minutes",
                (1..=10).map(|i| i as f64 * 10.0).collect(),
                120,
            ),
            (
                "Linear10PercentEvery3Minutes",
                (1..=10).map(|i| i as f64 * 10.0).collect(),
                180,
            ),
            (
                "Linear10PercentEvery10Minutes",
                (1..=10).map(|i| i as f64 * 10.0).collect(),
                600,
            ),
            ("AllAtOnce", vec![100.0], 0),
        ];
        assert_eq!(expect.len(), PRESETS.len());
        for (name, steps, bake) in expect {
            let p = PolicySpec::resolve(&[&spec(&format!(r#"{{"preset":"{name}"}}"#))]).unwrap();
            assert_eq!(percents(&p), steps, "{name}");
            assert_eq!(p.bake, Duration::from_secs(bake), "{name}");
        }
    }

    #[test]
    fn layers_resolve_most_specific_first() {
        let env = spec(r#"{"preset":"Canary10Percent30Minutes","max_error_rate":2}"#);
        let target = spec(r#"{"steps":[5,20],"min_invocations":10}"#);
        let p = PolicySpec::resolve(&[&target, &env]).unwrap();
        assert_eq!(percents(&p), vec![5.0, 20.0, 100.0]);
        assert_eq!(
            p.bake, DEFAULT_BAKE,
            "the env preset's bake goes with its steps"
        );
        assert_eq!(p.max_error_rate, 2.0);
        assert_eq!(p.min_invocations, 10);

        let target = spec(r#"{"preset":"Canary10Percent5Minutes"}"#);
        let env = spec(r#"{"bake":"20m"}"#);
        let p = PolicySpec::resolve(&[&target, &env]).unwrap();
        assert_eq!(
            p.bake,
            Duration::from_secs(300),
            "a target preset beats an env bake"
        );

        let target = spec(r#"{"preset":"Canary10Percent5Minutes","bake":"1m"}"#);
        assert_eq!(
            PolicySpec::resolve(&[&target]).unwrap().bake,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn bad_policies_are_refused_with_the_field_named() {
        let cases = [
            (r#"{"steps":[]}"#, "policy.steps"),
            (r#"{"steps":[10,10]}"#, "strictly increasing"),
            (r#"{"steps":[50,25]}"#, "strictly increasing"),
            (r#"{"steps":[0,50]}"#, "out of range"),
            (r#"{"steps":[10,150]}"#, "out of range"),
            (r#"{"steps":[-5]}"#, "out of range"),
            (r#"{"steps":[0.001]}"#, "finer than a hundredth"),
            (r#"{"steps":[0.004,100]}"#, "stored as 0%"),
            (r#"{"steps":[1e-300]}"#, "finer than a hundredth"),
            (r#"{"steps":[0.001,50]}"#, "finer than a hundredth"),
            (r#"{"steps":[99.995]}"#, "finer than a hundredth"),
            (r#"{"steps":[10.005,50]}"#, "finer than a hundredth"),
            (r#"{"bake":"soon"}"#, "policy.bake"),
            (r#"{"metric_lag":"2 fortnights"}"#, "policy.metric_lag"),
            (r#"{"min_invocations":0}"#, "min_invocations"),
            (r#"{"max_error_rate":101}"#, "max_error_rate"),
            (r#"{"failure_threshold":0}"#, "failure_threshold"),
            (r#"{"preset":"Canary50Percent"}"#, "unknown preset"),
            (r#"{"preset":"AllAtOnce","steps":[10]}"#, "not both"),
            (r#"{"latency_stat":"p100"}"#, "latency_stat"),
            (r#"{"latency_stat":"median"}"#, "latency_stat"),
            (r#"{"latency_stat":"p9."}"#, "latency_stat"),
            (r#"{"max_latency_ratio":0.5}"#, "max_latency_ratio"),
            (r#"{"max_latency_ms":0}"#, "max_latency_ms"),
            (r#"{"alarms":[""]}"#, "policy.alarms"),
            (
                r#"{"metrics":[{"name":"x","namespace":"N","metric":"M"}]}"#,
                "give a threshold",
            ),
            (
                r#"{"metrics":[{"name":"x","namespace":"N","metric":"M","max":1,"dimensions":{"V":"{colour}"}}]}"#,
                "unknown placeholder",
            ),
            (
                r#"{"metrics":[{"name":"x","namespace":"N","metric":"M","max":1,"stat":"Median"}]}"#,
                "stat",
            ),
            (
                r#"{"metrics":[{"name":"x","namespace":"","metric":"M","max":1}]}"#,
                "required",
            ),
            (
                r#"{"metrics":[{"name":"x","expression":"a","max":1}]}"#,
                "needs 1 to 10 inputs",
            ),
            (
                r#"{"metrics":[{"name":"x","expression":"A","max":1,"inputs":{"A":{"namespace":"N","metric":"M"}}}]}"#,
                "must start with a lower-case letter",
            ),
            (
                r#"{"metrics":[{"name":"x","expression":"a","max":1,"namespace":"N","inputs":{"a":{"namespace":"N","metric":"M"}}}]}"#,
                "move namespace",
            ),
            (
                r#"{"metrics":[{"name":"x","expression":"a","max":1,"inputs":{"a":{"namespace":"N","metric":"M","stat":"Median"}}}]}"#,
                "input \"a\": stat",
            ),
            (
                r#"{"metrics":[{"name":"x","namespace":"N","metric":"M","max":1,"inputs":{"a":{"namespace":"N","metric":"M"}}}]}"#,
                "only read by an expression",
            ),
            (r#"{"error_confidence":1.0}"#, "error_confidence"),
            (r#"{"pass_confidence":0.2}"#, "pass_confidence"),
            (r#"{"error_tolerance":-1}"#, "error_tolerance"),
            (r#"{"detect_ratio":1}"#, "detect_ratio"),
            (r#"{"error_floor":120}"#, "error_floor"),
            (
                r#"{"alarm_insufficient_data":"ignore"}"#,
                "alarm_insufficient_data",
            ),
            (
                r#"{"steps":[10,50,100],"approve_before":30}"#,
                "not a step after the first of [10, 50, 100]",
            ),
            (r#"{"steps":[10,50,100],"approve_before":10}"#, "e.g. 50"),
            (r#"{"approve_before":-1}"#, "policy.approve_before"),
            (r#"{"watch_after_promote":"soon"}"#, "watch_after_promote"),
            (r#"{"watch_after_promote":"48h"}"#, "longer than 24h"),
            (
                r#"{"on_failure":"freeze"}"#,
                "not one of \"rollback\", \"pause\"",
            ),
            (r#"{"max_wait":"25h"}"#, "max_wait"),
            (r#"{"on_timeout":"promote"}"#, "give max_wait too"),
            (r#"{"max_wait":"1h","on_timeout":"wait"}"#, "on_timeout"),
            (r#"{"pre_traffic":{}}"#, "policy.pre_traffic: give either"),
            (
                r#"{"pre_traffic":{"function":"a","invoke":{}}}"#,
                "give either",
            ),
            (
                r#"{"pre_traffic":{"function":"arn:aws:lambda:us-east-1:1:function:x"}}"#,
                "not a Lambda function name",
            ),
            (
                r#"{"post_traffic":{"function":"smoke","times":2}}"#,
                "policy.post_traffic: times counts",
            ),
            (r#"{"pre_traffic":{"invoke":{},"times":0}}"#, "times 0"),
            (r#"{"pre_traffic":{"invoke":{},"times":101}}"#, "times 101"),
            (
                r#"{"pre_traffic":{"function":"smoke","timeout":"20m"}}"#,
                "timeout 20m is not from 1s to 14m",
            ),
            (
                r#"{"pre_traffic":{"function":"smoke","timeout":"soon"}}"#,
                "pre_traffic: timeout",
            ),
        ];
        for (json, want) in cases {
            let e = PolicySpec::resolve(&[&spec(json)]).unwrap_err().to_string();
            assert!(e.contains(want), "{json}: {e}");
        }
        assert!(serde_json::from_str::<PolicySpec>(r#"{"stepz":[10]}"#).is_err());
        assert!(serde_json::from_str::<PolicySpec>(
            r#"{"pre_traffic":{"function":"s","retries":2}}"#
        )
        .is_err());
        let math = PolicySpec::resolve(&[&spec(
            r#"{"metrics":[{"name":"x","expression":"100 * e / n","max":1,
                "inputs":{"e":{"namespace":"N","metric":"E"},"n":{"namespace":"N","metric":"C"}}}]}"#,
        )])
        .expect("a valid expression");
        assert_eq!(math.metrics[0].stat(), "Average");
        for ok in ["p99", "p50", "p99.9", "Average", "Maximum"] {
            assert!(is_latency_stat(ok), "{ok}");
        }
    }
}
