//! A fault-injecting HTTP proxy on loopback, between the real SDK clients and
//! the emulator: the executor and the adapters run unchanged, only the network
//! misbehaves. Seeded: the same seed injects the same faults into the same
//! sequence of requests.
//!
//! Faults: 5xx answers, throttling, timeouts (before the emulator sees the
//! request, and after it applied it, the answer lost), slow answers, dropped
//! connections (before and after forwarding), GetMetricData answers emptied,
//! marked partial or missing a series, and a rival writer that changes the
//! alias between our read and our write. Every exchange is logged for the
//! invariant checks. And Lambda's control-plane quota: with `set_quota(n)`,
//! a Lambda request beyond n in the last second is throttled, as Lambda does.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use lambda_rollout::memory::Rng;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    GetAlias,
    UpdateAlias,
    ListVersions,
    GetMetricData,
    DescribeAlarms,
    PutEvents,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    None,
    /// 500 or 503 without forwarding.
    ServerError,
    /// The service's throttling error without forwarding.
    Throttle,
    /// Held past the client's attempt timeout, never forwarded.
    Timeout,
    /// Forwarded and applied, then held past the timeout: the answer is lost.
    TimeoutAfterForward,
    /// Forwarded, answered late but within the timeout.
    Slow,
    /// The connection closed before forwarding.
    DropBefore,
    /// Forwarded and applied, then the connection closed.
    DropAfter,
    /// GetMetricData: every series answered with no points.
    EmptyMetrics,
    /// GetMetricData: one series marked PartialData.
    PartialMetrics,
    /// GetMetricData: one series left out of the answer.
    MissingSeries,
    /// UpdateAlias: a rival wrote the alias just before ours was forwarded.
    RivalWrite,
}

impl Fault {
    /// Whether the emulator saw (and applied) the request.
    pub fn forwarded(self) -> bool {
        !matches!(
            self,
            Fault::ServerError | Fault::Throttle | Fault::Timeout | Fault::DropBefore
        )
    }

    /// Whether the client received the emulator's answer.
    pub fn answered(self) -> bool {
        self.forwarded() && !matches!(self, Fault::TimeoutAfterForward | Fault::DropAfter)
    }

    /// A delivered GetMetricData answer that does not hold the emulator's data.
    pub fn tampers_metrics(self) -> bool {
        matches!(
            self,
            Fault::EmptyMetrics | Fault::PartialMetrics | Fault::MissingSeries
        )
    }
}

/// One request through the proxy, or one rival write.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub op: Op,
    pub fault: Fault,
    /// The function and alias of a Lambda alias request.
    pub alias: Option<(String, String)>,
    /// The request's path, as sent (Lambda's name the function there).
    pub path: String,
    pub request: Bytes,
    /// The emulator's status, when the request was forwarded.
    pub upstream_status: Option<u16>,
    pub response: Option<Bytes>,
    /// GetMetricData: the ids of the series the fault emptied, marked
    /// partial or left out (the answer is shared by every target asked
    /// about, and spoils only the targets whose series these are).
    pub spoiled: Vec<String>,
    /// When the request reached the proxy.
    pub arrived: std::time::Instant,
    /// When the request left for the emulator, and how long the emulator
    /// took to answer, when forwarded.
    pub sent_at: Option<std::time::Instant>,
    pub upstream_time: Option<Duration>,
}

/// Writes the alias as a rival would (a human in the console, another
/// tick): given function and alias, returns the JSON body of the
/// UpdateAlias it applied and the emulator's answer, or None if it did not.
pub type Rival = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Option<(Bytes, Bytes)>> + Send>>
        + Send
        + Sync,
>;

struct Inner {
    rng: Rng,
    /// Chance that a request meets a fault.
    rate: f64,
    log: Vec<Exchange>,
    /// Lambda requests a second before the quota throttles, and when the
    /// ones of the last second came.
    quota: Option<usize>,
    lambda_arrivals: std::collections::VecDeque<std::time::Instant>,
    /// Every GetMetricData request whose body holds these bytes fails (every
    /// attempt of that call: a call that cannot be answered).
    fail_metrics_with: Option<Vec<u8>>,
    /// Requests still on their way to being logged.
    pending: usize,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    rival: Rival,
    /// How long a timeout fault holds a request: past the client's timeout.
    hold: Duration,
}

/// A request counted from its arrival until its exchange is logged.
struct Pending(Arc<Mutex<Inner>>);

impl Pending {
    fn new(inner: &Arc<Mutex<Inner>>) -> Self {
        inner.lock().unwrap().pending += 1;
        Self(inner.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.lock().unwrap().pending -= 1;
    }
}

/// What the service answers instead of a response: the connection closes.
type BoxError = std::io::Error;

fn closed(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl FaultProxy {
    /// A proxy to the emulator (AWS_ENDPOINT_URL) that injects nothing and
    /// has no rival: it logs what passes, until a test asks for faults.
    pub async fn to_emulator(seed: u64) -> Self {
        let upstream = std::env::var("AWS_ENDPOINT_URL")
            .expect("AWS_ENDPOINT_URL: run under make test")
            .trim_start_matches("http://")
            .parse()
            .expect("the emulator's endpoint is HOST:PORT");
        let rival: Rival = Arc::new(|_, _| Box::pin(async { None }));
        Self::start(upstream, seed, rival, Duration::from_secs(1)).await
    }

    /// Listens on an ephemeral loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr, seed: u64, rival: Rival, hold: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxy = FaultProxy {
            addr: listener.local_addr().expect("addr"),
            upstream,
            inner: Arc::new(Mutex::new(Inner {
                rng: Rng::new(seed),
                rate: 0.0,
                log: Vec::new(),
                quota: None,
                lambda_arrivals: Default::default(),
                fail_metrics_with: None,
                pending: 0,
            })),
            rival,
            hold,
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let p = p.clone();
                tokio::spawn(async move {
                    // Served in a task of its own: a client that gives up drops
                    // the connection, and hyper then drops the service future,
                    // which must not cut a forwarded write off before its log.
                    let service = hyper::service::service_fn(move |req| {
                        let p = p.clone();
                        async move {
                            tokio::spawn(async move { p.serve(req).await })
                                .await
                                .unwrap_or_else(|e| Err(closed(e)))
                        }
                    });
                    // A service error closes the connection: that is how a
                    // dropped connection is injected.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Throttles every Lambda control-plane request beyond `n` in the last
    /// second (TooManyRequestsException), as the account's quota does.
    pub fn set_quota(&self, n: Option<usize>) {
        self.inner.lock().unwrap().quota = n;
    }

    /// Whether a Lambda request arriving now is over the quota (and, if not,
    /// counts it).
    fn over_quota(&self) -> bool {
        let mut inner = self.inner.lock().unwrap();
        let Some(quota) = inner.quota else {
            return false;
        };
        let now = std::time::Instant::now();
        while inner
            .lambda_arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            inner.lambda_arrivals.pop_front();
        }
        if inner.lambda_arrivals.len() >= quota {
            return true;
        }
        inner.lambda_arrivals.push_back(now);
        false
    }

    /// Fails every GetMetricData call whose request holds `bytes` (a query
    /// id, say) with a server error; the others are answered.
    pub fn fail_metrics_carrying(&self, bytes: Option<&[u8]>) {
        self.inner.lock().unwrap().fail_metrics_with = bytes.map(<[u8]>::to_vec);
    }

    fn fails_this_call(&self, op: Op, body: &[u8]) -> bool {
        let inner = self.inner.lock().unwrap();
        match (&inner.fail_metrics_with, op) {
            (Some(needle), Op::GetMetricData) => body.windows(needle.len()).any(|w| w == needle),
            _ => false,
        }
    }

    /// Sets the chance of a fault per request (0 turns injection off).
    pub fn set_rate(&self, rate: f64) {
        self.inner.lock().unwrap().rate = rate;
    }

    /// The exchanges logged since the last call, once every request that
    /// has arrived is logged (a client's timeout does not wait for that).
    pub async fn take_log(&self) -> Vec<Exchange> {
        while self.inner.lock().unwrap().pending > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        std::mem::take(&mut self.inner.lock().unwrap().log)
    }

    fn choose(&self, op: Op) -> Fault {
        let mut inner = self.inner.lock().unwrap();
        if inner.rng.next_f64() >= inner.rate {
            return Fault::None;
        }
        let mut kinds = vec![
            Fault::ServerError,
            Fault::Throttle,
            Fault::Timeout,
            Fault::TimeoutAfterForward,
            Fault::Slow,
            Fault::DropBefore,
            Fault::DropAfter,
        ];
        match op {
            Op::GetMetricData => kinds.extend([
                Fault::EmptyMetrics,
                Fault::PartialMetrics,
                Fault::MissingSeries,
                Fault::EmptyMetrics,
                Fault::PartialMetrics,
                Fault::MissingSeries,
            ]),
            // Racing writers are the fault that matters most for writes.
            Op::UpdateAlias => kinds.extend([Fault::RivalWrite; 7]),
            _ => {}
        }
        let i = (inner.rng.next_f64() * kinds.len() as f64) as usize;
        kinds[i.min(kinds.len() - 1)]
    }

    fn next_index(&self, n: usize) -> usize {
        let mut inner = self.inner.lock().unwrap();
        ((inner.rng.next_f64() * n as f64) as usize).min(n.saturating_sub(1))
    }

    fn log(&self, e: Exchange) {
        self.inner.lock().unwrap().log.push(e);
    }

    async fn serve(&self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, BoxError> {
        let pending = Pending::new(&self.inner);
        let (parts, body) = req.into_parts();
        let body = body.collect().await.map_err(closed)?.to_bytes();
        let (op, alias) = classify(&parts);
        let arrived = std::time::Instant::now();
        let lambda = parts.uri.path().starts_with("/2015-03-31/");
        let fault = if lambda && self.over_quota() {
            Fault::Throttle
        } else if self.fails_this_call(op, &body) {
            Fault::ServerError
        } else {
            self.choose(op)
        };
        let mut exchange = Exchange {
            op,
            fault,
            alias: alias.clone(),
            path: parts.uri.path().to_string(),
            request: body.clone(),
            upstream_status: None,
            response: None,
            spoiled: Vec::new(),
            arrived,
            sent_at: None,
            upstream_time: None,
        };
        match fault {
            Fault::ServerError => {
                self.log(exchange);
                return Ok(error_response(op, 503, "ServiceUnavailableException"));
            }
            Fault::Throttle => {
                self.log(exchange);
                return Ok(match op {
                    Op::GetMetricData | Op::DescribeAlarms => {
                        error_response(op, 400, "ThrottlingException")
                    }
                    _ => error_response(op, 429, "TooManyRequestsException"),
                });
            }
            Fault::Timeout => {
                self.log(exchange);
                drop(pending);
                tokio::time::sleep(self.hold).await;
                return Err(closed("injected timeout"));
            }
            Fault::DropBefore => {
                self.log(exchange);
                return Err(closed("injected dropped connection"));
            }
            Fault::RivalWrite => {
                if let Some((f, a)) = alias {
                    if let Some((rival_req, rival_resp)) = (self.rival)(f.clone(), a.clone()).await
                    {
                        self.log(Exchange {
                            op: Op::UpdateAlias,
                            fault: Fault::RivalWrite,
                            path: String::new(),
                            alias: Some((f, a)),
                            request: rival_req,
                            upstream_status: Some(200),
                            response: Some(rival_resp),
                            spoiled: Vec::new(),
                            arrived,
                            sent_at: None,
                            upstream_time: None,
                        });
                    }
                }
                // Ours is then forwarded as it is, and meets a newer RevisionId.
                exchange.fault = Fault::None;
            }
            _ => {}
        }
        let upstream = Request::from_parts(parts, Full::new(body));
        let sent = std::time::Instant::now();
        let answer = self.forward(upstream).await;
        exchange.sent_at = Some(sent);
        exchange.upstream_time = Some(sent.elapsed());
        let (mut head, upstream_body) = match answer {
            Ok(a) => a,
            Err(e) => {
                self.log(exchange);
                return Err(e);
            }
        };
        let mut out_body = upstream_body.clone();
        if op == Op::GetMetricData && head.status == 200 && fault.tampers_metrics() {
            (out_body, exchange.spoiled) = self.tamper(&upstream_body, fault);
        }
        exchange.upstream_status = Some(head.status.as_u16());
        exchange.response = Some(upstream_body);
        self.log(exchange);
        drop(pending);
        match fault {
            Fault::TimeoutAfterForward => {
                tokio::time::sleep(self.hold).await;
                return Err(closed("injected timeout after forwarding"));
            }
            Fault::DropAfter => return Err(closed("injected dropped connection after forwarding")),
            Fault::Slow => {
                let ms = 50 + self.next_index(250) as u64;
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            _ => {}
        }
        head.headers.remove(hyper::header::CONTENT_LENGTH);
        head.headers.remove(hyper::header::TRANSFER_ENCODING);
        Ok(Response::from_parts(head, Full::new(out_body)))
    }

    async fn forward(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<(hyper::http::response::Parts, Bytes), BoxError> {
        let stream = TcpStream::connect(self.upstream).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(closed)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender.send_request(req).await.map_err(closed)?;
        let (head, body) = resp.into_parts();
        Ok((head, body.collect().await.map_err(closed)?.to_bytes()))
    }

    /// Rewrites a CBOR GetMetricData answer; with the ids of the series
    /// it spoiled.
    fn tamper(&self, body: &Bytes, fault: Fault) -> (Bytes, Vec<String>) {
        use ciborium::Value;
        let Ok(mut v) = ciborium::from_reader::<Value, _>(&body[..]) else {
            return (body.clone(), Vec::new());
        };
        let mut spoiled = Vec::new();
        if let Value::Map(fields) = &mut v {
            for (k, results) in fields.iter_mut() {
                if k.as_text() != Some("MetricDataResults") {
                    continue;
                }
                let Value::Array(items) = results else {
                    continue;
                };
                match fault {
                    Fault::EmptyMetrics => {
                        spoiled.extend(items.iter().filter_map(result_id));
                        for item in items.iter_mut() {
                            if let Value::Map(m) = item {
                                for (k, v) in m.iter_mut() {
                                    if matches!(k.as_text(), Some("Timestamps" | "Values")) {
                                        *v = Value::Array(Vec::new());
                                    }
                                }
                            }
                        }
                    }
                    Fault::PartialMetrics if !items.is_empty() => {
                        let i = self.next_index(items.len());
                        spoiled.extend(result_id(&items[i]));
                        if let Value::Map(m) = &mut items[i] {
                            m.retain(|(k, _)| k.as_text() != Some("StatusCode"));
                            m.push((
                                Value::Text("StatusCode".into()),
                                Value::Text("PartialData".into()),
                            ));
                        }
                    }
                    Fault::MissingSeries if !items.is_empty() => {
                        let i = self.next_index(items.len());
                        spoiled.extend(result_id(&items[i]));
                        items.remove(i);
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        ciborium::into_writer(&v, &mut out).expect("CBOR encodes");
        (Bytes::from(out), spoiled)
    }
}

fn cbor_field<'a>(v: &'a ciborium::Value, name: &str) -> Option<&'a ciborium::Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(name))
        .map(|(_, v)| v)
}

fn result_id(item: &ciborium::Value) -> Option<String> {
    Some(cbor_field(item, "Id")?.as_text()?.to_string())
}

/// The query ids of a GetMetricData request, each with the function its
/// target is: a query id is `t{request}_{series}`, and some metric of every
/// request names the function in its FunctionName dimension.
fn queries_by_function(request: &Bytes) -> Vec<(String, String)> {
    let Ok(v) = ciborium::from_reader::<ciborium::Value, _>(&request[..]) else {
        return Vec::new();
    };
    let Some(queries) = cbor_field(&v, "MetricDataQueries").and_then(|q| q.as_array()) else {
        return Vec::new();
    };
    let prefix = |id: &str| id.split('_').next().unwrap_or_default().to_string();
    let mut function_of = BTreeMap::new();
    for q in queries {
        let (Some(id), Some(dims)) = (
            result_id(q),
            cbor_field(q, "MetricStat")
                .and_then(|m| cbor_field(m, "Metric"))
                .and_then(|m| cbor_field(m, "Dimensions"))
                .and_then(|d| d.as_array()),
        ) else {
            continue;
        };
        for d in dims {
            if cbor_field(d, "Name").and_then(|n| n.as_text()) == Some("FunctionName") {
                if let Some(f) = cbor_field(d, "Value").and_then(|v| v.as_text()) {
                    function_of.insert(prefix(&id), f.to_string());
                }
            }
        }
    }
    queries
        .iter()
        .filter_map(result_id)
        .filter_map(|id| Some((function_of.get(&prefix(&id))?.clone(), id)))
        .collect()
}

impl Exchange {
    /// A delivered GetMetricData answer, as `function` would take it: None
    /// when it asked nothing of the function, else whether the function's
    /// series came as the emulator gave them.
    pub fn metrics_clean_for(&self, function: &str) -> Option<bool> {
        if self.op != Op::GetMetricData || !self.fault.answered() {
            return None;
        }
        let mine: Vec<String> = queries_by_function(&self.request)
            .into_iter()
            .filter(|(f, _)| f == function)
            .map(|(_, id)| id)
            .collect();
        if mine.is_empty() {
            return None;
        }
        Some(!mine.iter().any(|id| self.spoiled.contains(id)))
    }
}

/// Which API call a request is, from its path (Lambda's REST paths,
/// CloudWatch's rpc-v2-cbor operation paths) or its target header.
fn classify(parts: &hyper::http::request::Parts) -> (Op, Option<(String, String)>) {
    let path = parts.uri.path();
    if let Some(rest) = path.strip_prefix("/2015-03-31/functions/") {
        let segments: Vec<&str> = rest.split('/').collect();
        return match (parts.method.as_str(), segments.as_slice()) {
            ("GET", [f, "aliases", a]) => (Op::GetAlias, Some((decode(f), decode(a)))),
            ("PUT", [f, "aliases", a]) => (Op::UpdateAlias, Some((decode(f), decode(a)))),
            ("GET", [_, "versions"]) => (Op::ListVersions, None),
            _ => (Op::Other, None),
        };
    }
    if path.ends_with("/operation/GetMetricData") {
        return (Op::GetMetricData, None);
    }
    if path.ends_with("/operation/DescribeAlarms") {
        return (Op::DescribeAlarms, None);
    }
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target.ends_with(".PutEvents") {
        return (Op::PutEvents, None);
    }
    (Op::Other, None)
}

fn decode(s: &str) -> String {
    s.replace("%3A", ":").replace("%24", "$")
}

/// An error answer in the operation's protocol: JSON with the error type in a
/// header for Lambda, CBOR with `__type` for CloudWatch.
fn error_response(op: Op, status: u16, code: &str) -> Response<Full<Bytes>> {
    let builder = Response::builder().status(status);
    match op {
        Op::GetMetricData | Op::DescribeAlarms => {
            let v = ciborium::Value::Map(vec![
                (
                    ciborium::Value::Text("__type".into()),
                    ciborium::Value::Text(code.into()),
                ),
                (
                    ciborium::Value::Text("message".into()),
                    ciborium::Value::Text("injected fault".into()),
                ),
            ]);
            let mut body = Vec::new();
            ciborium::into_writer(&v, &mut body).expect("CBOR encodes");
            builder
                .header("content-type", "application/cbor")
                .header("smithy-protocol", "rpc-v2-cbor")
                .body(Full::new(Bytes::from(body)))
                .expect("response")
        }
        _ => builder
            .header("content-type", "application/json")
            .header("x-amzn-errortype", code)
            .body(Full::new(Bytes::from(format!(
                "{{\"message\":\"injected fault\",\"Type\":\"Service\",\"__type\":\"{code}\"}}"
            ))))
            .expect("response"),
    }
}

/// The alias as the wire shows it: version, routing, description.
#[derive(Debug, Clone)]
pub struct Wire {
    pub version: String,
    pub weights: BTreeMap<String, f64>,
    pub description: String,
}

/// Weights equal to the last bits a JSON round trip through the emulator
/// (Python floats) may change.
impl PartialEq for Wire {
    fn eq(&self, other: &Wire) -> bool {
        self.version == other.version
            && self.description == other.description
            && self.weights.len() == other.weights.len()
            && self
                .weights
                .iter()
                .zip(&other.weights)
                .all(|((a, x), (b, y))| a == b && (x - y).abs() < 1e-9)
    }
}

impl Wire {
    pub fn from_json(v: &Value) -> Wire {
        Wire {
            version: v["FunctionVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            weights: v["RoutingConfig"]["AdditionalVersionWeights"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, w)| (k.clone(), w.as_f64().unwrap_or(0.0)))
                        .collect()
                })
                .unwrap_or_default(),
            description: v["Description"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// An UpdateAlias body sets only what it names.
    pub fn updated(&self, body: &Value) -> Wire {
        let mut w = self.clone();
        if let Some(v) = body["FunctionVersion"].as_str() {
            w.version = v.to_string();
        }
        if body.get("RoutingConfig").is_some() {
            w.weights = Wire::from_json(body).weights;
        }
        if let Some(d) = body["Description"].as_str() {
            w.description = d.to_string();
        }
        w
    }

    /// Green's weight: 1 once it is the stable version.
    pub fn green_share(&self, green: &str) -> f64 {
        if self.version == green {
            1.0
        } else {
            self.weights.get(green).copied().unwrap_or(0.0)
        }
    }
}

pub fn json_of(b: &Bytes) -> Value {
    serde_json::from_slice(b).unwrap_or(Value::Null)
}

/// A fault suite's figures, one per lane of scenarios, merged at the end.
#[derive(Default)]
pub struct Report {
    pub scenarios: usize,
    pub operations: usize,
    pub faults: BTreeMap<String, usize>,
    pub outcomes: BTreeMap<String, usize>,
    pub violations: Vec<String>,
}

impl Report {
    /// The lanes' reports of `lane(0) .. lane(lanes - 1)`, run at once, merged.
    pub async fn of_lanes<F, Fut>(lanes: usize, lane: F) -> Report
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Report>,
    {
        let mut report = Report::default();
        for other in futures_util::future::join_all((0..lanes).map(lane)).await {
            report.scenarios += other.scenarios;
            report.operations += other.operations;
            for (k, n) in other.faults {
                *report.faults.entry(k).or_default() += n;
            }
            for (k, n) in other.outcomes {
                *report.outcomes.entry(k).or_default() += n;
            }
            report.violations.extend(other.violations);
        }
        report
    }

    pub fn count_faults(&mut self, log: &[Exchange]) {
        for x in log.iter().filter(|x| x.fault != Fault::None) {
            *self.faults.entry(format!("{:?}", x.fault)).or_default() += 1;
        }
    }

    /// The faults table, then the outcomes' under `outcome_heading`.
    pub fn tables(&self, outcome_heading: &str) -> String {
        let mut t = String::from("| fault injected | requests |\n|---|---|\n");
        for (k, n) in &self.faults {
            t.push_str(&format!("| {k} | {n} |\n"));
        }
        t.push_str(&format!("\n| {outcome_heading} | count |\n|---|---|\n"));
        for (k, n) in &self.outcomes {
            t.push_str(&format!("| {k} | {n} |\n"));
        }
        t
    }
}

/// A fault suite's knobs: FAULT_SCENARIOS (`default_scenarios` unless set),
/// FAULT_SEED and FAULT_LANES, the lanes at least one and at most one per
/// scenario.
pub fn knobs(default_scenarios: u64) -> (usize, u64, usize) {
    let scenarios = env_number("FAULT_SCENARIOS", default_scenarios) as usize;
    let seed = env_number("FAULT_SEED", 2026);
    let lanes = (env_number("FAULT_LANES", 1) as usize).clamp(1, scenarios.max(1));
    (scenarios, seed, lanes)
}

/// A fault suite's knob from the environment (FAULT_SCENARIOS, ...).
fn env_number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The end of a fault suite: its figures printed (and written into
/// FAULT_REPORT's section `section`), then its verdict.
pub fn conclude(
    text: &str,
    (section, title): (&str, &str),
    violations: &[String],
    (operations, expected): (usize, usize),
) {
    println!("{text}");
    if let Ok(path) = std::env::var("FAULT_REPORT") {
        super::write_section(&path, section, title, text);
    }
    assert!(
        violations.is_empty(),
        "{} invariant violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
    assert_eq!(operations, expected, "every scenario ran");
}

/// A concurrent op's writes that applied, in the order the emulator
/// applied them: neither the log's order nor the send times are that order
/// when two ticks (and a rival riding on one) write at once. Each write of
/// ours that applied did so on the revision current then (the emulator
/// refuses any other with 412), so the revisions chain them; a rival's
/// write carries none and comes where the chain needs it (before the write
/// of ours made on its revision), else in send order. Only writes matter
/// to a concurrent op's checks: its metrics reads interleave, and each
/// tick's pass is checked from its own report.
fn applied_order<'a>(log: Vec<&'a Exchange>, before_revision: &str) -> Vec<&'a Exchange> {
    let revision_of = |b: &Bytes| json_of(b)["RevisionId"].as_str().map(str::to_string);
    // Each write with the revision it was made on (a rival's: none) and the
    // one it made.
    let mut writes: Vec<(&Exchange, Option<String>, Option<String>)> = log
        .into_iter()
        .filter(|x| x.op == Op::UpdateAlias && x.upstream_status == Some(200))
        .map(|x| {
            let on = (x.fault != Fault::RivalWrite)
                .then(|| revision_of(&x.request))
                .flatten();
            (x, on, x.response.as_ref().and_then(revision_of))
        })
        .collect();
    writes.sort_by_key(|(x, ..)| x.sent_at.unwrap_or(x.arrived));
    let mut current = Some(before_revision.to_string());
    let mut ordered = Vec::with_capacity(writes.len());
    while !writes.is_empty() {
        let i = writes
            .iter()
            .position(|(_, on, _)| on.is_some() && *on == current)
            .or_else(|| {
                writes.iter().position(|(x, _, made)| {
                    x.fault == Fault::RivalWrite
                        && writes.iter().any(|(_, o, _)| o.is_some() && o == made)
                })
            })
            .unwrap_or(0);
        let (w, _, made) = writes.remove(i);
        current = made;
        ordered.push(w);
    }
    ordered
}

/// An operation's exchanges, a line each, to read a violation by: when each
/// arrived and was answered (ms from the first), the fault, the emulator's
/// status, a write's RevisionId and what it set, a metrics answer's spoiled
/// series. Appended to the violations the operation found.
pub fn exchanges(log: &[Exchange]) -> String {
    let Some(t0) = log.iter().map(|x| x.arrived).min() else {
        return String::new();
    };
    let ms = |t: std::time::Instant| t.duration_since(t0).as_millis();
    log.iter()
        .map(|x| {
            let answered = match (x.sent_at, x.upstream_time) {
                (Some(s), Some(d)) => format!("-{}", ms(s + d)),
                _ => String::new(),
            };
            let what = match x.op {
                Op::UpdateAlias => {
                    let b = json_of(&x.request);
                    let made = x.response.as_ref().map(json_of).unwrap_or_default();
                    format!(
                        " on {} made {} {}",
                        b["RevisionId"].as_str().unwrap_or("-"),
                        made["RevisionId"].as_str().unwrap_or("-"),
                        serde_json::json!({
                            "v": b["FunctionVersion"],
                            "w": b["RoutingConfig"],
                            "d": b["Description"],
                        })
                    )
                }
                Op::GetMetricData => format!(
                    " body#{:x} spoiled {:?}",
                    x.request
                        .iter()
                        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(*b as u32)),
                    x.spoiled
                ),
                _ => String::new(),
            };
            format!(
                "\n    +{}{answered}ms {:?} {:?} {} {:?}{what}",
                ms(x.arrived),
                x.op,
                x.fault,
                x.alias.as_ref().map_or("-", |(f, _)| f.as_str()),
                x.upstream_status,
            )
        })
        .collect()
}

/// Whether `x` is a GetMetricData attempt its client gave up on: the SDK
/// sends the same request again only once an attempt failed or timed out,
/// so an attempt followed by one with the same body, with no write of ours
/// between them, never reached the decision, whatever the proxy answered it
/// (a slow emulator can answer it after the retry, logging it last). A
/// conflict's second decision sends the same body again too, but after the
/// write that conflicted.
fn abandoned(x: &Exchange, log: &[&Exchange]) -> bool {
    x.op == Op::GetMetricData
        && log.iter().any(|y| {
            y.op == Op::GetMetricData
                && y.arrived > x.arrived
                && y.request == x.request
                && !log.iter().any(|w| {
                    w.op == Op::UpdateAlias
                        && w.fault != Fault::RivalWrite
                        && w.arrived > x.arrived
                        && w.arrived < y.arrived
                })
        })
}

/// The exchanges of one alias replayed from `before`: the alias as the
/// emulator holds it afterwards. Every write of ours must be a
/// compare-and-swap on the revision current at that moment (else `fail`).
/// With `concurrent` (two ticks at once) the log's order is not the
/// emulator's (an answer is logged when it comes back, and one tick's read
/// can be logged after the other's write), so a write's revision is left to
/// the emulator's own compare-and-swap (a stale one is refused with 412 and
/// never applied), only its having a RevisionId is checked here, and only
/// the writes are replayed, in the order they applied (`applied_order`).
/// `ours(current, next, clean, fail)` sees each of our writes applied, with
/// whether the last metrics answer delivered before it that asked about
/// `function` held the emulator's own series of it (an attempt the client
/// abandoned is not delivered: `abandoned`).
pub fn replay<'a>(
    function: &str,
    concurrent: bool,
    before: &Wire,
    before_revision: &str,
    log: impl IntoIterator<Item = &'a Exchange>,
    fail: &mut dyn FnMut(String),
    mut ours: impl FnMut(&Wire, &Wire, Option<bool>, &mut dyn FnMut(String)),
) -> Wire {
    let mut current = before.clone();
    let mut current_revision = before_revision.to_string();
    let mut last_metrics_clean: Option<bool> = None;
    let all: Vec<&Exchange> = log.into_iter().collect();
    let mut log: Vec<&Exchange> = all
        .iter()
        .copied()
        .filter(|x| !abandoned(x, &all))
        .collect();
    if concurrent {
        log = applied_order(log, before_revision);
    }
    for x in log {
        match x.op {
            Op::GetMetricData => {
                if let Some(clean) = x.metrics_clean_for(function) {
                    last_metrics_clean = Some(clean);
                }
            }
            Op::GetAlias if x.fault.answered() && x.upstream_status == Some(200) => {
                if let Some(r) = x.response.as_ref().map(json_of) {
                    current_revision = r["RevisionId"].as_str().unwrap_or_default().to_string();
                }
            }
            Op::UpdateAlias if x.upstream_status == Some(200) => {
                let body = json_of(&x.request);
                let mine = x.fault != Fault::RivalWrite;
                if mine {
                    // A compare-and-swap on the revision current right now.
                    match body["RevisionId"].as_str() {
                        None => fail("an UpdateAlias without RevisionId".into()),
                        Some(r) if r != current_revision && !concurrent => fail(format!(
                            "a write on revision {r} applied over revision {current_revision}"
                        )),
                        _ => {}
                    }
                }
                let next = current.updated(&body);
                if mine {
                    ours(&current, &next, last_metrics_clean, fail);
                }
                current = next;
                if let Some(r) = x.response.as_ref().map(json_of) {
                    current_revision = r["RevisionId"].as_str().unwrap_or_default().to_string();
                }
            }
            _ => {}
        }
    }
    current
}

/// The emulator behind a fault proxy whose rival is a human in the console
/// (rolls back, moves the weight finer than lambda-rollout keeps, promotes,
/// adds a note), and the real SDK clients through it, with short timeouts
/// and backoff so that a thousand scenarios fit in minutes.
pub async fn faulty_clients(
    em: &super::Emulator,
    seed: u64,
) -> (
    FaultProxy,
    aws_sdk_lambda::Client,
    aws_sdk_cloudwatch::Client,
) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("make test sets it");
    let upstream = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("AWS_ENDPOINT_URL is http://host:port on loopback");

    // The rival: a human (or another tick) moving the alias in the console.
    let rival_seed = Arc::new(std::sync::Mutex::new(Rng::new(seed ^ 0x5eed)));
    let rival_client = em.lambda.clone();
    let rival: Rival = Arc::new(move |function: String, alias: String| {
        let client = rival_client.clone();
        let pick = rival_seed.lock().unwrap().next_f64();
        Box::pin(async move {
            let mut req = client.update_alias().function_name(&function).name(&alias);
            let body = if pick < 0.3 {
                // Rolled back by hand: routing gone.
                req = req.routing_config(AliasRoutingConfiguration::builder().build());
                json!({"RoutingConfig": {"AdditionalVersionWeights": {}}})
            } else if pick < 0.6 {
                // Weight moved by hand, finer than the hundredths of a
                // percent lambda-rollout keeps.
                let w = ((0.05 + (pick - 0.3)) * 1e5).round() / 1e5;
                req = req.routing_config(
                    AliasRoutingConfiguration::builder()
                        .additional_version_weights("2", w)
                        .build(),
                );
                json!({"RoutingConfig": {"AdditionalVersionWeights": {"2": w}}})
            } else if pick < 0.8 {
                // Promoted by hand.
                req = req
                    .function_version("2")
                    .routing_config(AliasRoutingConfiguration::builder().build());
                json!({"FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {}}})
            } else {
                // A note added to the description, the record kept.
                let current = client
                    .get_alias()
                    .function_name(&function)
                    .name(&alias)
                    .send()
                    .await
                    .ok()?;
                let d = format!("on call: {}", current.description().unwrap_or_default());
                req = req.description(&d);
                json!({"Description": d})
            };
            let out = req.send().await.ok()?;
            let answer = json!({"RevisionId": out.revision_id()});
            Some((
                Bytes::from(body.to_string()),
                Bytes::from(answer.to_string()),
            ))
        })
    });
    let hold = Duration::from_millis(1300);
    let proxy = FaultProxy::start(upstream, seed, rival, hold).await;

    // The clients under test: the real SDK through the proxy, with short
    // timeouts and backoff so that a thousand scenarios fit in minutes.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_millis(1000))
        .operation_timeout(Duration::from_secs(8))
        .build();
    let retry = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(20));
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .endpoint_url(proxy.url())
            .timeout_config(timeouts.clone())
            .retry_config(retry.clone())
            .build(),
    );
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&sdk)
            .endpoint_url(proxy.url())
            .timeout_config(timeouts)
            .retry_config(retry)
            .build(),
    );
    (proxy, lambda, cloudwatch)
}
