//! Health figures from CloudWatch's `AWS/Lambda` namespace, every target of a
//! tick in one batched `GetMetricData` (500 queries per call, paginated).
//!
//! Per target: green's and blue's `Invocations` and `Errors` with the dimension
//! set `FunctionName, Resource=F:A, ExecutedVersion=V`, and the alias's
//! `Throttles` with `FunctionName, Resource=F:A` (a throttled request never ran
//! a version). Targets have different windows: the queries go out in the
//! order of their windows' starts, so that each call of up to 500 covers the
//! union of few windows alike, in 1-minute points, and each target sums only
//! the minutes of its own window.
//! The alarms the policies name are read with DescribeAlarms, 100 a call.

use std::collections::HashMap;

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StateValue, StatusCode,
};
use aws_sdk_cloudwatch::Client;
use futures_util::future::join;
use futures_util::stream::{self, StreamExt};

use crate::engine::{
    AlarmReading, AlarmState, CustomQuery, CustomReading, CustomSource, MetricSource,
    MetricsRequest, Observation, Span, VersionFigures,
};
use crate::model::{UtcTime, Version};
use crate::ports::{MetricsError, MetricsRead};

/// GetMetricData's limit of queries per call.
pub const MAX_QUERIES_PER_CALL: usize = 500;
/// DescribeAlarms' limit of alarm names per call.
pub const MAX_ALARMS_PER_CALL: usize = 100;
/// GetMetricData calls of one tick in flight at once: 500 targets need 7.
const METRIC_CALLS_AT_ONCE: usize = 8;
const PERIOD: i32 = 60;
const NAMESPACE: &str = "AWS/Lambda";

#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// The series Lambda itself publishes, read for every target.
#[derive(Clone, Copy)]
enum Builtin {
    GreenInvocations,
    GreenErrors,
    GreenLatency,
    BlueInvocations,
    BlueErrors,
    BlueLatency,
    Throttles,
}

const BUILTIN: [Builtin; 7] = [
    Builtin::GreenInvocations,
    Builtin::GreenErrors,
    Builtin::GreenLatency,
    Builtin::BlueInvocations,
    Builtin::BlueErrors,
    Builtin::BlueLatency,
    Builtin::Throttles,
];

impl Builtin {
    fn code(self) -> &'static str {
        match self {
            Builtin::GreenInvocations => "gi",
            Builtin::GreenErrors => "ge",
            Builtin::BlueInvocations => "bi",
            Builtin::BlueErrors => "be",
            Builtin::GreenLatency => "gl",
            Builtin::BlueLatency => "bl",
            Builtin::Throttles => "th",
        }
    }
}

/// A query's id: `t{request}_{series}`. Many targets share a call, so the
/// id says whose query it is (`request_of`), and CloudWatch wants ids that
/// start with a lower-case letter.
fn query_id(request: usize, series: &str) -> String {
    format!("t{request}_{series}")
}

/// The request a query id belongs to.
fn request_of(id: &str) -> Option<usize> {
    id.strip_prefix('t')?.split('_').next()?.parse().ok()
}

/// The id of the `j`th metric of the policy's own.
fn custom_id(request: usize, j: usize) -> String {
    query_id(request, &format!("c{j}"))
}

fn dim(name: &str, value: impl Into<String>) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn query(index: usize, series: Builtin, req: &MetricsRequest) -> MetricDataQuery {
    let t = &req.target;
    let resource = format!("{}:{}", t.function, t.alias);
    let version_metric = |name: &str, v: Version| {
        Metric::builder()
            .namespace(NAMESPACE)
            .metric_name(name)
            .dimensions(dim("FunctionName", &t.function))
            .dimensions(dim("Resource", &resource))
            .dimensions(dim("ExecutedVersion", v.to_string()))
            .build()
    };
    let metric = match series {
        Builtin::GreenInvocations => version_metric("Invocations", req.green),
        Builtin::GreenErrors => version_metric("Errors", req.green),
        Builtin::BlueInvocations => version_metric("Invocations", req.blue),
        Builtin::BlueErrors => version_metric("Errors", req.blue),
        Builtin::GreenLatency => version_metric("Duration", req.green),
        Builtin::BlueLatency => version_metric("Duration", req.blue),
        Builtin::Throttles => Metric::builder()
            .namespace(NAMESPACE)
            .metric_name("Throttles")
            .dimensions(dim("FunctionName", &t.function))
            .dimensions(dim("Resource", &resource))
            .build(),
    };
    MetricDataQuery::builder()
        .id(query_id(index, series.code()))
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(PERIOD)
                .stat(match series {
                    Builtin::GreenLatency | Builtin::BlueLatency => req.latency_stat.to_string(),
                    _ => "Sum".to_string(),
                })
                .build(),
        )
        .return_data(true)
        .build()
}

fn metric_stat(m: &MetricSource) -> MetricStat {
    let mut metric = Metric::builder()
        .namespace(&m.namespace)
        .metric_name(&m.metric);
    for (k, v) in &m.dimensions {
        metric = metric.dimensions(dim(k, v));
    }
    MetricStat::builder()
        .metric(metric.build())
        .period(PERIOD)
        .stat(&m.stat)
        .build()
}

/// A custom metric's queries: one for a metric; for an expression, its inputs
/// (not returned) under ids of this target and metric, and the expression with
/// the names rewritten to those ids.
fn custom_queries(index: usize, j: usize, c: &CustomQuery) -> Vec<MetricDataQuery> {
    let id = custom_id(index, j);
    match &c.source {
        CustomSource::Metric(m) => vec![MetricDataQuery::builder()
            .id(id)
            .metric_stat(metric_stat(m))
            .return_data(true)
            .build()],
        CustomSource::Expression { expression, inputs } => {
            let input_id = |name: &str| format!("{id}_{name}");
            let mut queries: Vec<MetricDataQuery> = inputs
                .iter()
                .map(|(name, m)| {
                    MetricDataQuery::builder()
                        .id(input_id(name))
                        .metric_stat(metric_stat(m))
                        .return_data(false)
                        .build()
                })
                .collect();
            let rewritten = rename_ids(expression, |name| {
                inputs
                    .iter()
                    .any(|(n, _)| n == name)
                    .then(|| input_id(name))
            });
            queries.push(
                MetricDataQuery::builder()
                    .id(id)
                    .expression(rewritten)
                    .label(&c.name)
                    .return_data(true)
                    .build(),
            );
            queries
        }
    }
}

/// Renames the identifiers of a metric-math expression that `rename` knows,
/// leaving quoted strings (SEARCH terms, labels), numbers and everything else
/// as written: ids of many targets share one GetMetricData call, so each
/// target's inputs need ids of their own.
fn rename_ids(expression: &str, rename: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(expression.len() + 16);
    let mut chars = expression.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' || c == '"' {
            out.push(c);
            for (_, q) in chars.by_ref() {
                out.push(q);
                if q == c {
                    break;
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some((k, n)) = chars.peek().copied() {
                if n.is_ascii_alphanumeric() || n == '_' {
                    end = k + n.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = &expression[i..end];
            match rename(word) {
                Some(id) => out.push_str(&id),
                None => out.push_str(word),
            }
        } else if c.is_ascii_digit() {
            // A number's exponent or suffix is not an identifier.
            out.push(c);
            while let Some((_, n)) = chars.peek().copied() {
                if n.is_ascii_alphanumeric() || n == '.' || n == '_' {
                    out.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A custom metric's figure over the window from its per-minute points.
fn aggregate(stat: &str, points: &[(i64, f64)]) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let values = points.iter().map(|(_, v)| *v);
    Some(match stat {
        "Sum" | "SampleCount" => values.sum(),
        "Maximum" => values.fold(f64::MIN, f64::max),
        "Minimum" => values.fold(f64::MAX, f64::min),
        _ => values.sum::<f64>() / points.len() as f64,
    })
}

/// A window's latency from per-minute statistics: their mean weighted by each
/// minute's invocations (a percentile of a window cannot be rebuilt exactly
/// from per-minute percentiles; green and blue get the same treatment over the
/// same minutes, which is what the comparison needs).
fn weighted(latency: &[(i64, f64)], invocations: &[(i64, f64)]) -> Option<f64> {
    // A day's window is 1,440 minutes a series: look minutes up, do not scan.
    let per_minute: HashMap<i64, f64> = invocations.iter().copied().collect();
    let (mut num, mut den) = (0.0, 0.0);
    for (t, l) in latency {
        let w = per_minute.get(t).copied().unwrap_or(1.0).max(1.0);
        num += l * w;
        den += w;
    }
    (den > 0.0).then(|| num / den)
}

/// Whether a point's minute `t` is in `[start, end)`.
fn in_window(t: i64, start: UtcTime, end: UtcTime) -> bool {
    t >= start.unix() && t < end.unix()
}

/// The points in `[start, end)`.
fn within(points: &[(i64, f64)], start: UtcTime, end: UtcTime) -> Vec<(i64, f64)> {
    points
        .iter()
        .copied()
        .filter(|(t, _)| in_window(*t, start, end))
        .collect()
}

/// A count over `[start, end)`.
fn sum(points: &[(i64, f64)], start: UtcTime, end: UtcTime) -> u64 {
    points
        .iter()
        .filter(|(t, _)| in_window(*t, start, end))
        .map(|(_, x)| x)
        .sum::<f64>()
        .max(0.0)
        .round() as u64
}

/// Sums of one query's points inside a window, and whether CloudWatch said the
/// data was complete.
#[derive(Default)]
struct Points {
    by_time: Vec<(i64, f64)>,
    complete: bool,
    seen: bool,
}

impl CloudWatchMetrics {
    /// One GetMetricData call of up to 500 queries, every page of it.
    async fn metric_points(
        &self,
        chunk: Vec<MetricDataQuery>,
        start: UtcTime,
        end: UtcTime,
    ) -> Result<HashMap<String, Points>, MetricsError> {
        let mut points: HashMap<String, Points> = HashMap::new();
        let mut pages = self
            .client
            .get_metric_data()
            .start_time(DateTime::from_secs(start.unix()))
            .end_time(DateTime::from_secs(end.unix()))
            .scan_by(ScanBy::TimestampAscending)
            .set_metric_data_queries(Some(chunk))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| MetricsError {
                message: DisplayErrorContext(&e).to_string(),
                source: std::sync::Arc::new(e),
            })?;
            for r in page.metric_data_results() {
                let p = points
                    .entry(r.id().unwrap_or_default().to_string())
                    .or_default();
                // A query split over pages is complete only if every page says so.
                let complete = r.status_code() == Some(&StatusCode::Complete);
                p.complete = if p.seen {
                    p.complete && complete
                } else {
                    complete
                };
                p.seen = true;
                p.by_time.extend(
                    r.timestamps()
                        .iter()
                        .map(|t| t.secs())
                        .zip(r.values().iter().copied()),
                );
            }
        }
        Ok(points)
    }

    /// The state of every alarm the requests name, in as few DescribeAlarms
    /// calls as possible (100 names a call). Names CloudWatch does not know are
    /// left out: the caller reports them as missing.
    async fn alarm_states(
        &self,
        requests: &[MetricsRequest],
    ) -> Result<HashMap<String, AlarmState>, MetricsError> {
        let mut names: Vec<String> = requests
            .iter()
            .flat_map(|r| r.alarms.iter().cloned())
            .collect();
        names.sort();
        names.dedup();
        let mut states = HashMap::new();
        for chunk in names.chunks(MAX_ALARMS_PER_CALL) {
            let mut pages = self
                .client
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| MetricsError {
                    message: format!("DescribeAlarms: {}", DisplayErrorContext(&e)),
                    source: std::sync::Arc::new(e),
                })?;
                let metric = page
                    .metric_alarms()
                    .iter()
                    .map(|a| (a.alarm_name(), a.state_value()));
                let composite = page
                    .composite_alarms()
                    .iter()
                    .map(|a| (a.alarm_name(), a.state_value()));
                for (name, state) in metric.chain(composite) {
                    let state = match state {
                        Some(StateValue::Alarm) => AlarmState::Alarm,
                        Some(StateValue::Ok) => AlarmState::Ok,
                        // INSUFFICIENT_DATA, and any state this SDK does not know, are no pass.
                        _ => AlarmState::InsufficientData,
                    };
                    states.insert(name.unwrap_or_default().to_string(), state);
                }
            }
        }
        Ok(states)
    }
}

impl MetricsRead for CloudWatchMetrics {
    async fn observe(&self, requests: &[MetricsRequest]) -> Vec<Result<Observation, MetricsError>> {
        if requests.is_empty() {
            return Vec::new();
        }
        // The alarms and every call of up to 500 queries go out together: a
        // tick over hundreds of targets waits for one round trip, not one per
        // call (GetMetricData allows 50 calls a second per account and region).
        let calls = stream::iter(calls(requests))
            .map(|call| async move {
                let carried = carried(&call.queries);
                let points = self.metric_points(call.queries, call.start, call.end);
                (carried, points.await)
            })
            .buffer_unordered(METRIC_CALLS_AT_ONCE)
            .collect::<Vec<_>>();
        let (alarms, calls) = join(self.alarm_states(requests), calls).await;
        // Each query is in one call only: its id is never met twice. A failed
        // call (an error, or its attempt timeout) fails only the requests it
        // carried a query of; the others are judged.
        let mut points = HashMap::new();
        let mut failed: HashMap<usize, MetricsError> = HashMap::new();
        for (carried, answer) in calls {
            match answer {
                Ok(p) => points.extend(p),
                Err(e) => {
                    for i in carried {
                        failed.entry(i).or_insert_with(|| e.clone());
                    }
                }
            }
        }
        let no_alarms = HashMap::new();
        requests
            .iter()
            .enumerate()
            .map(|(i, req)| match (failed.get(&i), &alarms) {
                (Some(e), _) => Err(e.clone()),
                (None, Err(e)) if !req.alarms.is_empty() => Err(e.clone()),
                (None, Ok(alarms)) => Ok(observation(i, req, &points, alarms)),
                (None, Err(_)) => Ok(observation(i, req, &points, &no_alarms)),
            })
            .collect()
    }
}

/// The requests a call carries queries of: ids are `t{request}_...`.
fn carried(chunk: &[MetricDataQuery]) -> Vec<usize> {
    let mut out: Vec<usize> = chunk.iter().filter_map(|q| request_of(q.id()?)).collect();
    out.dedup();
    out
}

/// One GetMetricData call: up to 500 queries, and the minutes it reads.
struct Call {
    queries: Vec<MetricDataQuery>,
    start: UtcTime,
    end: UtcTime,
}

/// A tick's GetMetricData calls. The queries go in the order of their
/// spans' starts (a request's built-in series share one span, its own
/// metrics another), 500 a call, and each call reads the union of the spans
/// of the queries it carries: one old window widens only its own call, not
/// every call of the tick. Requests without a window (a step just began)
/// only need their alarms.
fn calls(requests: &[MetricsRequest]) -> Vec<Call> {
    type Spanned = ((UtcTime, UtcTime), usize, MetricDataQuery);
    let mut queries: Vec<Spanned> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.has_window())
        .flat_map(|(i, r)| {
            let builtin = BUILTIN.iter().map(move |s| (r.span(), i, query(i, *s, r)));
            let custom = r.custom.iter().enumerate().flat_map(move |(j, c)| {
                custom_queries(i, j, c)
                    .into_iter()
                    .map(move |q| (r.custom_span(), i, q))
            });
            builtin.chain(custom)
        })
        .collect();
    // Stable: a request's queries stay together and in order.
    queries.sort_by_key(|(span, i, _)| (span.0, *i));
    queries
        .chunks(MAX_QUERIES_PER_CALL)
        .map(|chunk| {
            let start = chunk.iter().map(|(s, _, _)| s.0).min();
            let end = chunk.iter().map(|(s, _, _)| s.1).max();
            Call {
                queries: chunk.iter().map(|(_, _, q)| q.clone()).collect(),
                start: start.unwrap_or(requests[0].start),
                end: end.unwrap_or(requests[0].start),
            }
        })
        .collect()
}

/// What a tick's GetMetricData calls ask CloudWatch for, in data points:
/// every metric query (a metric-math expression's inputs included: they are
/// read; the expression itself reads nothing more) for each minute its call
/// reads. A series with gaps returns fewer; one with data every minute,
/// exactly this. CloudWatch's throughput quota (180,000 data points a second
/// for recent data) counts these.
pub fn data_points(requests: &[MetricsRequest]) -> u64 {
    calls(requests)
        .iter()
        .map(|c| {
            let minutes = (c.end.unix() - c.start.unix()).max(0) as u64 / PERIOD as u64;
            c.queries
                .iter()
                .filter(|q| q.metric_stat().is_some())
                .count() as u64
                * minutes
        })
        .sum()
}

/// How many GetMetricData calls a tick makes (before any paging).
pub fn metric_calls(requests: &[MetricsRequest]) -> usize {
    calls(requests).len()
}

/// The custom metrics of a request, none read yet.
fn no_data(req: &MetricsRequest) -> Vec<CustomReading> {
    req.custom
        .iter()
        .map(|c| CustomReading {
            name: c.name.clone(),
            value: None,
            max: c.max,
            min: c.min,
        })
        .collect()
}

/// One query's points in this target's minutes; a query with no answer at
/// all makes the observation incomplete.
struct Reader<'a> {
    points: &'a HashMap<String, Points>,
    span: (UtcTime, UtcTime),
    complete: bool,
}

impl Reader<'_> {
    fn read(&mut self, id: &str) -> Vec<(i64, f64)> {
        self.read_over(id, self.span)
    }

    fn read_over(&mut self, id: &str, (start, end): (UtcTime, UtcTime)) -> Vec<(i64, f64)> {
        let Some(p) = self.points.get(id) else {
            self.complete = false;
            return Vec::new();
        };
        self.complete &= p.complete;
        within(&p.by_time, start, end)
    }
}

/// Target `i`'s observation from the points every query of the tick brought
/// back, and the alarms' states. Pure: the whole mapping from CloudWatch's
/// answer to the engine's figures.
fn observation(
    i: usize,
    req: &MetricsRequest,
    points: &HashMap<String, Points>,
    states: &HashMap<String, AlarmState>,
) -> Observation {
    let alarms = req
        .alarms
        .iter()
        .map(|name| AlarmReading {
            name: name.clone(),
            state: states.get(name).copied().unwrap_or(AlarmState::Missing),
        })
        .collect();
    let mut obs = Observation {
        window_start: req.start,
        window_end: req.end,
        green: VersionFigures::default(),
        blue: VersionFigures::default(),
        throttles: 0,
        complete: true,
        alarms,
        custom: no_data(req),
        rollout: None,
        fresh: None,
    };
    if !req.has_window() {
        return obs;
    }
    let mut reader = Reader {
        points,
        span: req.span(),
        complete: true,
    };
    let mut series = |s: Builtin| reader.read(&query_id(i, s.code()));
    let [gi, ge, gl, bi, be, bl, th] = BUILTIN.map(&mut series);
    for (j, c) in obs.custom.iter_mut().enumerate() {
        let points = reader.read_over(&custom_id(i, j), req.custom_span());
        c.value = aggregate(&req.custom[j].stat, &points);
    }
    let figures = |inv: &[(i64, f64)], err: &[(i64, f64)], start, end| VersionFigures {
        invocations: sum(inv, start, end),
        errors: sum(err, start, end),
        latency_ms: None,
    };
    // A watch after promotion compares green with what blue did in its own
    // window, the rollout; otherwise both are read over the same minutes.
    let blue_in = |start: UtcTime, end: UtcTime| req.blue_window.unwrap_or((start, end));
    let span = |start: UtcTime, end: UtcTime| {
        let (b0, b1) = blue_in(start, end);
        Span {
            start,
            end,
            green: figures(&gi, &ge, start, end),
            blue: figures(&bi, &be, b0, b1),
        }
    };
    let (start, end) = (req.start, req.end);
    let (b0, b1) = blue_in(start, end);
    obs.green = VersionFigures {
        latency_ms: weighted(&within(&gl, start, end), &within(&gi, start, end)),
        ..figures(&gi, &ge, start, end)
    };
    obs.blue = VersionFigures {
        latency_ms: weighted(&within(&bl, b0, b1), &within(&bi, b0, b1)),
        ..figures(&bi, &be, b0, b1)
    };
    obs.throttles = sum(&th, start, end);
    obs.complete = reader.complete;
    obs.rollout = req
        .blue_window
        .is_none()
        .then(|| span(req.rollout_start, end));
    obs.fresh = Some(span(start, req.fresh_end));
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expression_names_become_the_targets_own_ids() {
        let known = |n: &str| matches!(n, "errors" | "requests").then(|| format!("t3_c1_{n}"));
        assert_eq!(
            rename_ids("100 * errors / requests", known),
            "100 * t3_c1_errors / t3_c1_requests"
        );
        // Functions, numbers with exponents, quoted text and unknown words
        // stay as written.
        assert_eq!(
            rename_ids(
                "IF(requests > 1e3, errors, FILL(errors, 0)) + 'errors'",
                known
            ),
            "IF(t3_c1_requests > 1e3, t3_c1_errors, FILL(t3_c1_errors, 0)) + 'errors'"
        );
        assert_eq!(
            rename_ids("errors_total + errors2", known),
            "errors_total + errors2"
        );
    }

    fn request(start: i64, end: i64) -> MetricsRequest {
        MetricsRequest {
            target: crate::model::Target::new("f", "live").unwrap(),
            green: Version::new(2).unwrap(),
            blue: Version::new(1).unwrap(),
            start: UtcTime::from_unix(start),
            end: UtcTime::from_unix(end),
            rollout_start: UtcTime::from_unix(start - 120),
            fresh_end: UtcTime::from_unix(end + 60),
            blue_window: None,
            latency_stat: crate::policy::LatencyStat::parse("p99").unwrap(),
            alarms: vec!["gate".into(), "gone".into()],
            custom: Vec::new(),
            custom_start: UtcTime::from_unix(start),
        }
    }

    #[test]
    fn data_points_are_every_metric_query_over_the_minutes_of_its_call() {
        // Spans [start - 120, end + 60): 600..1260 and 3000..3660; one call
        // for both reads 600..3660, 51 minutes, 7 queries each.
        let reqs = [request(720, 1200), request(3120, 3600)];
        assert_eq!(data_points(&reqs), 2 * 7 * 51);
        // 80 requests are 560 queries, two calls. The one old window goes
        // first (requests go by their spans' starts): its call's 500 queries
        // read its 51 minutes; the second call's 60 only their own 11.
        let mut many: Vec<MetricsRequest> = (0..79).map(|_| request(3120, 3600)).collect();
        many.push(request(720, 1200));
        assert_eq!(metric_calls(&many), 2);
        assert_eq!(data_points(&many), 500 * 51 + 60 * 11);
        // A request without a window reads no metric; none at all, nothing.
        let mut fresh = request(720, 1200);
        fresh.fresh_end = fresh.start;
        assert_eq!(data_points(&[fresh]), 0);
    }

    fn points(per_minute: &[(&str, &[(i64, f64)])]) -> HashMap<String, Points> {
        per_minute
            .iter()
            .map(|(id, p)| {
                let p = Points {
                    by_time: p.to_vec(),
                    complete: true,
                    seen: true,
                };
                (id.to_string(), p)
            })
            .collect()
    }

    /// `request(start, end)` with one metric of the policy's own, judged
    /// since `custom_start`.
    fn with_custom(start: i64, end: i64, custom_start: i64) -> MetricsRequest {
        let source = MetricSource {
            namespace: "Shop".into(),
            metric: "Checkouts".into(),
            dimensions: Vec::new(),
            stat: "Sum".into(),
        };
        MetricsRequest {
            custom: vec![CustomQuery {
                name: "checkouts".into(),
                source: CustomSource::Metric(source),
                stat: "Sum".into(),
                max: None,
                min: Some(1.0),
            }],
            custom_start: UtcTime::from_unix(custom_start),
            ..request(start, end)
        }
    }

    #[test]
    fn a_policys_own_metrics_are_read_over_the_whole_step_in_calls_of_their_own() {
        // Read from a tally at 3120, the step began at 600: the metric of the
        // policy's own is summed from 600, the built-in series from 3000.
        let req = with_custom(3120, 3600, 600);
        let minute = |m: i64, v: f64| (m * 60, v);
        let all = points(&[
            ("t0_c0", &[minute(12, 5.0), minute(52, 2.0)]),
            ("t0_gi", &[minute(11, 7.0), minute(52, 3.0)]),
        ]);
        let o = observation(0, &req, &all, &HashMap::new());
        assert_eq!(o.custom[0].value, Some(7.0));
        assert_eq!(o.green.invocations, 3, "built-in series: their own window");
        // 500 targets: their 500 own-metric queries (the oldest spans) make
        // one call, which alone reads the step's 50 minutes (600..3600); the
        // 3,500 built-in queries, seven calls of the tail's 11 (3000..3660).
        let fleet: Vec<MetricsRequest> = (0..500).map(|_| with_custom(3120, 3600, 600)).collect();
        assert_eq!(metric_calls(&fleet), 8);
        assert_eq!(data_points(&fleet), 500 * 50 + 3500 * 11);
    }

    #[test]
    fn an_observation_sums_each_window_of_its_own_minutes() {
        // Minutes 0..=4 of 60 s: the step is [120, 240), the rollout began at
        // 0, the fresh minutes run to 300.
        let minutes = |v: f64| -> Vec<(i64, f64)> { (0..5).map(|m| (m * 60, v)).collect() };
        let (gi, ge, gl) = (minutes(10.0), minutes(1.0), minutes(200.0));
        let (bi, be, bl) = (minutes(90.0), minutes(0.0), minutes(100.0));
        let th = minutes(2.0);
        let all = points(&[
            ("t0_gi", &gi),
            ("t0_ge", &ge),
            ("t0_gl", &gl),
            ("t0_bi", &bi),
            ("t0_be", &be),
            ("t0_bl", &bl),
            ("t0_th", &th),
        ]);
        let states: HashMap<String, AlarmState> = [("gate".to_string(), AlarmState::Ok)].into();
        let o = observation(0, &request(120, 240), &all, &states);
        assert_eq!((o.green.invocations, o.green.errors), (20, 2));
        assert_eq!((o.blue.invocations, o.blue.errors), (180, 0));
        assert_eq!(
            (o.green.latency_ms, o.blue.latency_ms),
            (Some(200.0), Some(100.0))
        );
        assert_eq!(o.throttles, 4);
        assert!(o.complete);
        let rollout = o.rollout.unwrap();
        assert_eq!(
            (rollout.green.invocations, rollout.blue.invocations),
            (40, 360)
        );
        assert_eq!(o.fresh.unwrap().green.invocations, 30);
        let states: Vec<AlarmState> = o.alarms.iter().map(|a| a.state).collect();
        assert_eq!(states, vec![AlarmState::Ok, AlarmState::Missing]);

        // A query with no answer at all: incomplete, never a pass.
        let mut partial = all;
        partial.remove("t0_be");
        assert!(!observation(0, &request(120, 240), &partial, &HashMap::new()).complete);
        // Another target's ids are not this one's.
        assert_eq!(
            observation(1, &request(120, 240), &partial, &HashMap::new())
                .green
                .invocations,
            0
        );
    }
}
