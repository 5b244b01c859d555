//! Health figures from CloudWatch's `AWS/Lambda` namespace, every target of a
//! tick in one batched `GetMetricData` (500 queries per call, paginated).
//!
//! Per target: green's and blue's `Invocations` and `Errors` with the dimension
//! set `FunctionName, Resource=F:A, ExecutedVersion=V`, and the alias's
//! `Throttles` with `FunctionName, Resource=F:A` (a throttled request never ran
//! a version). Targets have different windows; one call covers their union in
//! 1-minute points and each target sums only the minutes of its own window.

use std::collections::HashMap;

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StatusCode,
};
use aws_sdk_cloudwatch::Client;

use crate::engine::{MetricsRequest, Observation, VersionFigures};
use crate::model::Version;
use crate::ports::{MetricsError, MetricsRead};

/// GetMetricData's limit of queries per call.
pub const MAX_QUERIES_PER_CALL: usize = 500;
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

#[derive(Clone, Copy)]
enum Series {
    GreenInvocations,
    GreenErrors,
    BlueInvocations,
    BlueErrors,
    Throttles,
}

const SERIES: [Series; 5] = [
    Series::GreenInvocations,
    Series::GreenErrors,
    Series::BlueInvocations,
    Series::BlueErrors,
    Series::Throttles,
];

impl Series {
    fn code(self) -> &'static str {
        match self {
            Series::GreenInvocations => "gi",
            Series::GreenErrors => "ge",
            Series::BlueInvocations => "bi",
            Series::BlueErrors => "be",
            Series::Throttles => "th",
        }
    }
}

fn dim(name: &str, value: impl Into<String>) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn query(index: usize, series: Series, req: &MetricsRequest) -> MetricDataQuery {
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
        Series::GreenInvocations => version_metric("Invocations", req.green),
        Series::GreenErrors => version_metric("Errors", req.green),
        Series::BlueInvocations => version_metric("Invocations", req.blue),
        Series::BlueErrors => version_metric("Errors", req.blue),
        Series::Throttles => Metric::builder()
            .namespace(NAMESPACE)
            .metric_name("Throttles")
            .dimensions(dim("FunctionName", &t.function))
            .dimensions(dim("Resource", &resource))
            .build(),
    };
    MetricDataQuery::builder()
        .id(format!("t{index}_{}", series.code()))
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(PERIOD)
                .stat("Sum")
                .build(),
        )
        .return_data(true)
        .build()
}

/// Sums of one query's points inside a window, and whether CloudWatch said the
/// data was complete.
#[derive(Default)]
struct Points {
    by_time: Vec<(i64, f64)>,
    complete: bool,
    seen: bool,
}

impl MetricsRead for CloudWatchMetrics {
    async fn observe(&self, requests: &[MetricsRequest]) -> Result<Vec<Observation>, MetricsError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let start = requests.iter().map(|r| r.start).min().expect("non-empty");
        let end = requests.iter().map(|r| r.end).max().expect("non-empty");
        let queries: Vec<MetricDataQuery> = requests
            .iter()
            .enumerate()
            .flat_map(|(i, r)| SERIES.iter().map(move |s| query(i, *s, r)))
            .collect();

        let mut points: HashMap<String, Points> = HashMap::new();
        for chunk in queries.chunks(MAX_QUERIES_PER_CALL) {
            let mut pages = self
                .client
                .get_metric_data()
                .start_time(DateTime::from_secs(start.unix()))
                .end_time(DateTime::from_secs(end.unix()))
                .scan_by(ScanBy::TimestampAscending)
                .set_metric_data_queries(Some(chunk.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| MetricsError {
                    message: DisplayErrorContext(&e).to_string(),
                    source: Box::new(e),
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
        }

        Ok(requests
            .iter()
            .enumerate()
            .map(|(i, req)| {
                let mut complete = true;
                let mut sum = |s: Series| -> u64 {
                    match points.get(&format!("t{i}_{}", s.code())) {
                        Some(p) => {
                            complete &= p.complete;
                            let total: f64 = p
                                .by_time
                                .iter()
                                .filter(|(t, _)| *t >= req.start.unix() && *t < req.end.unix())
                                .map(|(_, v)| v)
                                .sum();
                            total.max(0.0).round() as u64
                        }
                        None => {
                            complete = false;
                            0
                        }
                    }
                };
                let green = VersionFigures {
                    invocations: sum(Series::GreenInvocations),
                    errors: sum(Series::GreenErrors),
                };
                let blue = VersionFigures {
                    invocations: sum(Series::BlueInvocations),
                    errors: sum(Series::BlueErrors),
                };
                let throttles = sum(Series::Throttles);
                Observation {
                    window_start: req.start,
                    window_end: req.end,
                    green,
                    blue,
                    throttles,
                    complete,
                }
            })
            .collect())
    }
}
