//! A loopback OTLP receiver for tests: HTTP (protobuf and JSON, gzip or not) and gRPC, decoding
//! with the same `opentelemetry-proto` types a collector uses, with faults on demand.
//!
//! Control endpoints (HTTP, same port):
//! - `GET /spans`: everything received so far, flattened (JSON array, see [`ReceivedSpan`])
//! - `DELETE /spans`: forget it
//! - `GET /metrics`: the metric points received (OTLP metrics, `POST /v1/metrics` or gRPC),
//!   flattened (JSON array, see [`ReceivedPoint`]); `DELETE /metrics` forgets them
//! - `GET /logs`: the log records received (OTLP logs, `POST /v1/logs` or gRPC), flattened (JSON
//!   array, see [`ReceivedLog`]); `DELETE /logs` forgets them. Faults apply to traces only.
//! - `POST /control`: `{"status": 503}` answer every export with that status;
//!   `{"fail_next": 3, "status": 503}` only the next three; `{"max_body": 2048}` answer 413 to
//!   bigger bodies; `{"delay_ms": 500}` answer late; `{}` back to normal
//! - `GET /stats`: request counts by status
//! - `GET /headers`: the headers of the last export request

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use parking_lot::Mutex;
use prost::Message;
use serde::Serialize;
use serde_json::{json, Value};

/// One received span, flattened with its resource and scope.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReceivedSpan {
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id, empty for roots.
    pub parent_span_id: String,
    /// Name.
    pub name: String,
    /// OTLP kind number.
    pub kind: i32,
    /// Start.
    pub start_time_unix_nano: u64,
    /// End.
    pub end_time_unix_nano: u64,
    /// Attributes as JSON.
    pub attributes: BTreeMap<String, Value>,
    /// Events: `{name, time_unix_nano, attributes}`.
    pub events: Vec<Value>,
    /// Links: `{trace_id, span_id, attributes}`.
    pub links: Vec<Value>,
    /// Status code number.
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// Resource attributes.
    pub resource: BTreeMap<String, Value>,
    /// Instrumentation scope name.
    pub scope: String,
    /// OTLP flags.
    pub flags: u32,
    /// `http/protobuf`, `http/json` or `grpc`.
    pub transport: String,
}

/// One received metric data point, flattened with its metric and resource.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReceivedPoint {
    /// Metric name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// `histogram`, `sum` or `gauge`.
    pub kind: String,
    /// OTLP aggregation temporality number (2: cumulative).
    pub temporality: i32,
    /// Whether a sum is monotonic.
    pub monotonic: bool,
    /// Point attributes.
    pub attributes: BTreeMap<String, Value>,
    /// Sum or gauge value (as f64).
    pub value: f64,
    /// Histogram count.
    pub count: u64,
    /// Histogram sum.
    pub sum: f64,
    /// Histogram bucket counts.
    pub bucket_counts: Vec<u64>,
    /// Histogram bounds.
    pub explicit_bounds: Vec<f64>,
    /// Point time.
    pub time_unix_nano: u64,
    /// Resource attributes.
    pub resource: BTreeMap<String, Value>,
    /// `http/protobuf`, `http/json` or `grpc`.
    pub transport: String,
}

/// One received log record, flattened with its resource and scope.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReceivedLog {
    /// Hex trace id, empty outside a trace.
    pub trace_id: String,
    /// Hex span id, empty outside a span.
    pub span_id: String,
    /// Time.
    pub time_unix_nano: u64,
    /// Observed time.
    pub observed_time_unix_nano: u64,
    /// Severity number.
    pub severity_number: i32,
    /// Severity text.
    pub severity_text: String,
    /// Body as JSON (a string for text bodies).
    pub body: Value,
    /// Event name.
    pub event_name: String,
    /// Attributes as JSON (structured values as objects and arrays).
    pub attributes: BTreeMap<String, Value>,
    /// OTLP flags.
    pub flags: u32,
    /// Resource attributes.
    pub resource: BTreeMap<String, Value>,
    /// Instrumentation scope name.
    pub scope: String,
    /// `http/protobuf`, `http/json` or `grpc`.
    pub transport: String,
}

#[derive(Default)]
struct Faults {
    status: Option<u16>,
    fail_next: Option<u32>,
    max_body: Option<usize>,
    delay: Option<Duration>,
}

/// Shared state of a receiver.
#[derive(Default)]
pub struct State {
    spans: Mutex<Vec<ReceivedSpan>>,
    points: Mutex<Vec<ReceivedPoint>>,
    logs: Mutex<Vec<ReceivedLog>>,
    faults: Mutex<Faults>,
    counts: Mutex<BTreeMap<String, u64>>,
    headers: Mutex<BTreeMap<String, String>>,
}

impl State {
    /// Spans received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().clone()
    }
    /// Forgets received spans.
    pub fn clear(&self) {
        self.spans.lock().clear();
    }
    /// Metric points received so far.
    pub fn points(&self) -> Vec<ReceivedPoint> {
        self.points.lock().clone()
    }
    /// Log records received so far.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.logs.lock().clone()
    }

    fn accept_logs(&self, req: &ExportLogsServiceRequest, transport: &str) {
        let mut out = self.logs.lock();
        for rl in &req.resource_logs {
            let resource = rl
                .resource
                .as_ref()
                .map(|r| attrs(&r.attributes))
                .unwrap_or_default();
            for sl in &rl.scope_logs {
                let scope = sl
                    .scope
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                for l in &sl.log_records {
                    out.push(ReceivedLog {
                        trace_id: hex(&l.trace_id),
                        span_id: hex(&l.span_id),
                        time_unix_nano: l.time_unix_nano,
                        observed_time_unix_nano: l.observed_time_unix_nano,
                        severity_number: l.severity_number,
                        severity_text: l.severity_text.clone(),
                        body: any(l.body.as_ref()),
                        event_name: l.event_name.clone(),
                        attributes: attrs(&l.attributes),
                        flags: l.flags,
                        resource: resource.clone(),
                        scope: scope.clone(),
                        transport: transport.to_string(),
                    });
                }
            }
        }
    }

    fn accept_metrics(&self, req: &ExportMetricsServiceRequest, transport: &str) {
        let mut out = self.points.lock();
        for rm in &req.resource_metrics {
            let resource = rm
                .resource
                .as_ref()
                .map(|r| attrs(&r.attributes))
                .unwrap_or_default();
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    let base = ReceivedPoint {
                        name: m.name.clone(),
                        unit: m.unit.clone(),
                        kind: String::new(),
                        temporality: 0,
                        monotonic: false,
                        attributes: BTreeMap::new(),
                        value: 0.0,
                        count: 0,
                        sum: 0.0,
                        bucket_counts: Vec::new(),
                        explicit_bounds: Vec::new(),
                        time_unix_nano: 0,
                        resource: resource.clone(),
                        transport: transport.to_string(),
                    };
                    let number = |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| {
                        match p.value {
                            Some(number_data_point::Value::AsDouble(d)) => d,
                            Some(number_data_point::Value::AsInt(i)) => i as f64,
                            None => 0.0,
                        }
                    };
                    match &m.data {
                        Some(metric::Data::Histogram(h)) => {
                            for p in &h.data_points {
                                out.push(ReceivedPoint {
                                    kind: "histogram".into(),
                                    temporality: h.aggregation_temporality,
                                    attributes: attrs(&p.attributes),
                                    count: p.count,
                                    sum: p.sum.unwrap_or(0.0),
                                    bucket_counts: p.bucket_counts.clone(),
                                    explicit_bounds: p.explicit_bounds.clone(),
                                    time_unix_nano: p.time_unix_nano,
                                    ..base.clone()
                                });
                            }
                        }
                        Some(metric::Data::Sum(sm)) => {
                            for p in &sm.data_points {
                                out.push(ReceivedPoint {
                                    kind: "sum".into(),
                                    temporality: sm.aggregation_temporality,
                                    monotonic: sm.is_monotonic,
                                    attributes: attrs(&p.attributes),
                                    value: number(p),
                                    time_unix_nano: p.time_unix_nano,
                                    ..base.clone()
                                });
                            }
                        }
                        Some(metric::Data::Gauge(g)) => {
                            for p in &g.data_points {
                                out.push(ReceivedPoint {
                                    kind: "gauge".into(),
                                    attributes: attrs(&p.attributes),
                                    value: number(p),
                                    time_unix_nano: p.time_unix_nano,
                                    ..base.clone()
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    /// Answers every export with `status` (`None`: back to normal).
    pub fn set_status(&self, status: Option<u16>) {
        self.faults.lock().status = status;
    }
    /// Fails the next `n` exports with `status`.
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut f = self.faults.lock();
        f.fail_next = Some(n);
        f.status = Some(status);
    }
    /// Answers 413 to bodies larger than `bytes`.
    pub fn set_max_body(&self, bytes: Option<usize>) {
        self.faults.lock().max_body = bytes;
    }
    /// Answers after `delay`.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.faults.lock().delay = delay;
    }
    /// Request counts by outcome (`200`, `413`, `503`, `grpc`...).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().clone()
    }
    /// Headers of the last export request (lowercase names).
    pub fn last_headers(&self) -> BTreeMap<String, String> {
        self.headers.lock().clone()
    }
    fn count(&self, what: &str) {
        *self.counts.lock().entry(what.to_string()).or_default() += 1;
    }

    fn control(&self, body: &Value) {
        let mut f = self.faults.lock();
        *f = Faults::default();
        f.status = body.get("status").and_then(Value::as_u64).map(|v| v as u16);
        f.fail_next = body
            .get("fail_next")
            .and_then(Value::as_u64)
            .map(|v| v as u32);
        f.max_body = body
            .get("max_body")
            .and_then(Value::as_u64)
            .map(|v| v as usize);
        f.delay = body
            .get("delay_ms")
            .and_then(Value::as_u64)
            .map(Duration::from_millis);
    }

    /// Decides the fault for one export of `len` bytes, if any.
    fn fault(&self, len: usize) -> Option<u16> {
        let (delay, answer) = {
            let mut f = self.faults.lock();
            let delay = f.delay;
            let answer = if f.max_body.is_some_and(|m| len > m) {
                Some(413)
            } else {
                match (f.status, f.fail_next) {
                    (Some(s), None) => Some(s),
                    (Some(s), Some(n)) if n > 0 => {
                        f.fail_next = Some(n - 1);
                        Some(s)
                    }
                    (Some(_), Some(_)) => {
                        f.status = None;
                        f.fail_next = None;
                        None
                    }
                    _ => None,
                }
            };
            (delay, answer)
        };
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        answer
    }

    fn accept(&self, req: &ExportTraceServiceRequest, transport: &str) {
        let mut out = self.spans.lock();
        for rs in &req.resource_spans {
            let resource = rs
                .resource
                .as_ref()
                .map(|r| attrs(&r.attributes))
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                let scope = ss
                    .scope
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                for s in &ss.spans {
                    out.push(ReceivedSpan {
                        trace_id: hex(&s.trace_id),
                        span_id: hex(&s.span_id),
                        parent_span_id: hex(&s.parent_span_id),
                        name: s.name.clone(),
                        kind: s.kind,
                        start_time_unix_nano: s.start_time_unix_nano,
                        end_time_unix_nano: s.end_time_unix_nano,
                        attributes: attrs(&s.attributes),
                        events: s
                            .events
                            .iter()
                            .map(|e| json!({"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": attrs(&e.attributes)}))
                            .collect(),
                        links: s
                            .links
                            .iter()
                            .map(|l| json!({"trace_id": hex(&l.trace_id), "span_id": hex(&l.span_id), "attributes": attrs(&l.attributes)}))
                            .collect(),
                        status_code: s.status.as_ref().map(|st| st.code).unwrap_or(0),
                        status_message: s.status.as_ref().map(|st| st.message.clone()).unwrap_or_default(),
                        resource: resource.clone(),
                        scope: scope.clone(),
                        flags: s.flags,
                        transport: transport.to_string(),
                    });
                }
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any(kv.value.as_ref())))
        .collect()
}

fn any(v: Option<&AnyValue>) -> Value {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        None => Value::Null,
        Some(V::StringValue(s)) => json!(s),
        Some(V::BoolValue(b)) => json!(b),
        Some(V::IntValue(i)) => json!(i),
        Some(V::DoubleValue(d)) => json!(d),
        Some(V::ArrayValue(a)) => Value::Array(a.values.iter().map(|x| any(Some(x))).collect()),
        Some(V::KvlistValue(kv)) => Value::Object(attrs(&kv.values).into_iter().collect()),
        Some(V::BytesValue(b)) => json!(hex(b)),
        Some(_) => Value::Null,
    }
}

/// A running HTTP receiver (and, optionally, a gRPC one).
pub struct Receiver {
    /// Shared state.
    pub state: Arc<State>,
    /// HTTP address.
    pub addr: SocketAddr,
    /// gRPC address, when started.
    pub grpc_addr: Option<SocketAddr>,
    server: Arc<tiny_http::Server>,
    grpc_shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Starts an HTTP receiver on `127.0.0.1:port` (0 for any free port).
    pub fn start(port: u16) -> std::io::Result<Receiver> {
        Receiver::start_with(port, None)
    }

    /// Starts HTTP on `port` and, when `grpc_port` is given, gRPC on it (0 for any).
    pub fn start_with(port: u16, grpc_port: Option<u16>) -> std::io::Result<Receiver> {
        let server = tiny_http::Server::http(("127.0.0.1", port))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("no ip address"))?;
        let server = Arc::new(server);
        let state = Arc::new(State::default());
        let mut threads = Vec::new();
        for _ in 0..4 {
            let server = server.clone();
            let state = state.clone();
            threads.push(std::thread::spawn(move || serve_http(&server, &state)));
        }
        let (grpc_addr, grpc_shutdown) = match grpc_port {
            Some(p) => {
                let (a, tx) = start_grpc(p, state.clone())?;
                (Some(a), Some(tx))
            }
            None => (None, None),
        };
        Ok(Receiver {
            state,
            addr,
            grpc_addr,
            server,
            grpc_shutdown,
            threads,
        })
    }

    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening (the port refuses connections afterwards).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.server.unblock();
        for _ in 0..self.threads.len() {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(tx) = self.grpc_shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits until at least `n` log records arrived, up to `timeout`; returns what arrived.
    pub fn wait_for_logs(&self, n: usize, timeout: Duration) -> Vec<ReceivedLog> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let logs = self.state.logs();
            if logs.len() >= n || std::time::Instant::now() >= deadline {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until at least `n` spans arrived, up to `timeout`; returns what arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let spans = self.state.spans();
            if spans.len() >= n || std::time::Instant::now() >= deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The request body, gunzipped when it says so (`None`: a broken gzip stream).
fn plain_body(gzip: bool, body: Vec<u8>) -> Option<Vec<u8>> {
    if !gzip {
        return Some(body);
    }
    let mut out = Vec::new();
    GzDecoder::new(&body[..]).read_to_end(&mut out).ok()?;
    Some(out)
}

/// An OTLP export request in either HTTP encoding.
fn decode_request<T: Message + Default + serde::de::DeserializeOwned>(
    raw: &[u8],
    json: bool,
) -> Result<T, String> {
    if json {
        serde_json::from_slice::<T>(raw).map_err(|e| e.to_string())
    } else {
        T::decode(raw).map_err(|e| e.to_string())
    }
}

fn protocol_name(json: bool) -> &'static str {
    if json {
        "http/json"
    } else {
        "http/protobuf"
    }
}

/// The success response of an OTLP export in the request's encoding.
fn ok_response<R: Message + Default>(json: bool) -> (u16, Vec<u8>, &'static str) {
    if json {
        (200, b"{}".to_vec(), "application/json")
    } else {
        (200, R::default().encode_to_vec(), "application/x-protobuf")
    }
}

fn serve_http(server: &tiny_http::Server, state: &State) {
    while let Ok(mut req) = server.recv() {
        let url = req.url().to_string();
        let method = req.method().clone();
        let mut body = Vec::new();
        if req.as_reader().read_to_end(&mut body).is_err() {
            let _ = req.respond(tiny_http::Response::empty(400));
            continue;
        }
        let header = |name: &str| {
            req.headers()
                .iter()
                .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str().to_string())
        };
        let gzip = header("content-encoding").is_some_and(|v| v.contains("gzip"));
        if url == "/v1/traces" {
            *state.headers.lock() = req
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect();
        }
        let json_body = header("content-type").is_some_and(|v| v.contains("json"));
        let (status, payload, ctype) = match (method, url.as_str()) {
            (tiny_http::Method::Get, "/spans") => (
                200,
                serde_json::to_vec(&state.spans()).unwrap_or_default(),
                "application/json",
            ),
            (tiny_http::Method::Delete, "/spans") => {
                state.clear();
                (200, b"{}".to_vec(), "application/json")
            }
            (tiny_http::Method::Get, "/logs") => (
                200,
                serde_json::to_vec(&state.logs()).unwrap_or_default(),
                "application/json",
            ),
            (tiny_http::Method::Delete, "/logs") => {
                state.logs.lock().clear();
                (200, b"{}".to_vec(), "application/json")
            }
            (tiny_http::Method::Post, "/v1/logs") => {
                let Some(raw) = plain_body(gzip, body) else {
                    let _ = req.respond(tiny_http::Response::empty(400));
                    continue;
                };
                match decode_request::<ExportLogsServiceRequest>(&raw, json_body) {
                    Ok(r) => {
                        state.accept_logs(&r, protocol_name(json_body));
                        // (Benchmarks of peers that export logs count these.)
                        state.count("logs-200");
                        ok_response::<ExportLogsServiceResponse>(json_body)
                    }
                    Err(e) => {
                        state.count("logs-400");
                        (400, e.into_bytes(), "text/plain")
                    }
                }
            }
            (tiny_http::Method::Get, "/metrics") => (
                200,
                serde_json::to_vec(&state.points()).unwrap_or_default(),
                "application/json",
            ),
            (tiny_http::Method::Delete, "/metrics") => {
                state.points.lock().clear();
                (200, b"{}".to_vec(), "application/json")
            }
            (tiny_http::Method::Post, "/v1/metrics") => {
                let Some(raw) = plain_body(gzip, body) else {
                    let _ = req.respond(tiny_http::Response::empty(400));
                    continue;
                };
                match decode_request::<ExportMetricsServiceRequest>(&raw, json_body) {
                    Ok(r) => {
                        state.accept_metrics(&r, protocol_name(json_body));
                        state.count("metrics-200");
                        ok_response::<ExportMetricsServiceResponse>(json_body)
                    }
                    Err(e) => {
                        state.count("metrics-400");
                        (400, e.into_bytes(), "text/plain")
                    }
                }
            }
            (tiny_http::Method::Get, "/headers") => (
                200,
                serde_json::to_vec(&state.last_headers()).unwrap_or_default(),
                "application/json",
            ),
            (tiny_http::Method::Get, "/stats") => (
                200,
                serde_json::to_vec(&state.counts()).unwrap_or_default(),
                "application/json",
            ),
            (tiny_http::Method::Post, "/control") => {
                let v: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
                state.control(&v);
                (200, b"{}".to_vec(), "application/json")
            }
            (tiny_http::Method::Post, "/v1/traces") => {
                let Some(raw) = plain_body(gzip, body) else {
                    let _ = req.respond(tiny_http::Response::empty(400));
                    continue;
                };
                if let Some(code) = state.fault(raw.len()) {
                    state.count(&code.to_string());
                    (code, Vec::new(), "text/plain")
                } else {
                    match decode_request::<ExportTraceServiceRequest>(&raw, json_body) {
                        Ok(r) => {
                            state.accept(&r, protocol_name(json_body));
                            state.count("200");
                            ok_response::<ExportTraceServiceResponse>(json_body)
                        }
                        Err(e) => {
                            state.count("400");
                            (400, e.into_bytes(), "text/plain")
                        }
                    }
                }
            }
            _ => (404, Vec::new(), "text/plain"),
        };
        let mut resp = tiny_http::Response::from_data(payload).with_status_code(status);
        if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes()) {
            resp = resp.with_header(h);
        }
        let _ = req.respond(resp);
    }
}

struct GrpcService(Arc<State>);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for GrpcService
{
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let req = request.into_inner();
        if let Some(code) = self.0.fault(req.encoded_len()) {
            self.0.count(&format!("grpc-{code}"));
            return Err(match code {
                413 => tonic::Status::resource_exhausted("message too large"),
                429 | 503 => tonic::Status::unavailable("receiver unavailable"),
                _ => tonic::Status::invalid_argument("rejected"),
            });
        }
        self.0.accept(&req, "grpc");
        self.0.count("grpc");
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

struct GrpcMetrics(Arc<State>);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService
    for GrpcMetrics
{
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.accept_metrics(&request.into_inner(), "grpc");
        self.0.count("grpc-metrics");
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

struct GrpcLogs(Arc<State>);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsService
    for GrpcLogs
{
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.0.accept_logs(&request.into_inner(), "grpc");
        self.0.count("grpc-logs");
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

fn start_grpc(
    port: u16,
    state: Arc<State>,
) -> std::io::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsServiceServer;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
    let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                return;
            };
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let metrics = MetricsServiceServer::new(GrpcMetrics(state.clone()))
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
            let logs = LogsServiceServer::new(GrpcLogs(state.clone()))
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                .max_decoding_message_size(4 * 1024 * 1024);
            let service = TraceServiceServer::new(GrpcService(state))
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                .max_decoding_message_size(4 * 1024 * 1024);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .add_service(metrics)
                .add_service(logs)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = rx.await;
                })
                .await;
        });
    });
    Ok((addr, tx))
}
