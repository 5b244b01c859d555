//! What to read for one target: the windows, the versions, the alarms and the
//! policy's own metrics, placeholders resolved. The engine asks with a
//! `MetricsRequest`; the metrics adapter answers with an `Observation`.

use crate::model::{Target, UtcTime, Version};
use crate::policy::LatencyStat;

/// The metrics the engine needs for one target: green's and blue's figures over
/// the step's complete window `[start, end)`, whole minutes; their counts since
/// the rollout began, `[rollout_start, end)`; and over `[start, fresh_end)`,
/// which takes in the minutes still inside metric_lag.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRequest {
    pub target: Target,
    pub green: Version,
    pub blue: Version,
    pub start: UtcTime,
    pub end: UtcTime,
    /// Never after `start`.
    pub rollout_start: UtcTime,
    /// Never before `end`: the last whole minute.
    pub fresh_end: UtcTime,
    /// Blue's figures over this window instead of the step's: during a watch
    /// after promotion, what the old stable did during the rollout.
    pub blue_window: Option<(UtcTime, UtcTime)>,
    /// The `Duration` statistic to read, e.g. p99.
    pub latency_stat: LatencyStat,
    /// CloudWatch alarms that gate this target.
    pub alarms: Vec<String>,
    /// The policy's own metrics, placeholders resolved for green.
    pub custom: Vec<CustomQuery>,
    /// The policy's own metrics are judged over `[custom_start, end)`: the
    /// step's window, read whole even where the rest is read from a tally
    /// (their running figures, a maximum or a mean, are not kept). Never
    /// after `start`.
    pub custom_start: UtcTime,
}

/// One CloudWatch metric and statistic, placeholders resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSource {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub stat: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CustomSource {
    Metric(MetricSource),
    /// Metric math over named inputs.
    Expression {
        expression: String,
        inputs: Vec<(String, MetricSource)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomQuery {
    pub name: String,
    pub source: CustomSource,
    /// How the per-minute values combine over the window.
    pub stat: String,
    pub max: Option<f64>,
    pub min: Option<f64>,
}

impl CustomQuery {
    /// Resolves `{function}`, `{alias}` and `{version}` in the dimension values.
    pub fn resolve(m: &crate::policy::CustomMetric, target: &Target, version: Version) -> Self {
        let fill = |v: &str| {
            v.replace("{function}", &target.function)
                .replace("{alias}", &target.alias)
                .replace("{version}", &version.to_string())
        };
        let source = |namespace: &str,
                      metric: &str,
                      dimensions: &std::collections::BTreeMap<String, String>,
                      stat: &str| MetricSource {
            namespace: namespace.to_string(),
            metric: metric.to_string(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| (k.clone(), fill(v)))
                .collect(),
            stat: stat.to_string(),
        };
        CustomQuery {
            name: m.name.clone(),
            source: match &m.expression {
                None => {
                    CustomSource::Metric(source(&m.namespace, &m.metric, &m.dimensions, m.stat()))
                }
                Some(e) => CustomSource::Expression {
                    expression: e.clone(),
                    inputs: m
                        .inputs
                        .iter()
                        .map(|(name, i)| {
                            (
                                name.clone(),
                                source(&i.namespace, &i.metric, &i.dimensions, &i.stat),
                            )
                        })
                        .collect(),
                },
            },
            stat: m.stat().to_string(),
            max: m.max,
            min: m.min,
        }
    }
}

impl MetricsRequest {
    /// False right after a step begins: only the alarms can be read yet.
    pub fn has_window(&self) -> bool {
        self.fresh_end > self.start
    }

    /// The minutes the policy's own metrics are read over.
    pub fn custom_span(&self) -> (UtcTime, UtcTime) {
        (self.custom_start.min(self.start), self.end)
    }

    /// The minutes the built-in series are read over: every window but the
    /// policy's own metrics'.
    pub fn span(&self) -> (UtcTime, UtcTime) {
        let (start, end) = (
            self.rollout_start.min(self.start),
            self.fresh_end.max(self.end),
        );
        match self.blue_window {
            Some((bs, be)) => (start.min(bs), end.max(be)),
            None => (start, end),
        }
    }
}
