//! The fivelens Node.js addon. Spans are built and buffered in JavaScript (a napi call per span
//! would cost more than a whole span) and handed over here in batches, as JSON, which this crate
//! turns into core records. Everything else is a thin call into the core.

use std::sync::Arc;
use std::time::Duration;

use fivelens_core::ids::{SpanId, TraceId};
use fivelens_core::propagation;
use fivelens_core::record::{flags, Parent, SpanKind, SpanRecord, Status};
use fivelens_core::scope::TraceScope;
use fivelens_core::value::ValueRef;
use fivelens_core::{global, HostInfo, Key, Value};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::Deserialize;

/// Bumped when the JS <-> native batch format changes; the JS loader checks it.
#[napi]
pub const API_VERSION: u32 = 1;

type Attrs = serde_json::Map<String, serde_json::Value>;

/// One span as the JS side encodes it (a JSON array, positional to keep batches small).
#[derive(Deserialize)]
struct JsSpan(
    String,                               // 0 trace id (hex)
    String,                               // 1 span id (hex)
    String,                               // 2 parent span id (hex, "" for a root)
    u8,                                   // 3 parent is remote (0/1)
    String,                               // 4 name
    u8,                                   // 5 kind (OTLP number, 1..=5)
    f64,                                  // 6 start, ms since the epoch
    f64,                                  // 7 end, ms since the epoch
    u8,                                   // 8 status code (0 unset, 1 ok, 2 error)
    Option<String>,                       // 9 status message
    Attrs,                                // 10 attributes
    Option<Vec<(String, f64, Attrs)>>,    // 11 events: [name, time ms, attributes]
    Option<Vec<(String, String, Attrs)>>, // 12 links: [trace id, span id, attributes]
    Option<u32>,                          // 13 scope id (key into `scopes`)
    Option<String>,                       // 14 instrumentation scope name
    u8,                                   // 15 flags: 1 store only, 2 sampled
    Option<String>,                       // 16 tracestate
    Option<Vec<String>>,                  // 17 keys truncated on the JS side
);

#[derive(Deserialize)]
struct JsBatch {
    #[serde(default)]
    scopes: std::collections::HashMap<u32, Attrs>,
    spans: Vec<JsSpan>,
}

fn ms_to_ns(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1e6) as u64
    } else {
        0
    }
}

fn attrs(map: &Attrs) -> Vec<(Key, Value)> {
    map.iter()
        .filter_map(|(k, v)| Value::from_json(v).map(|v| (Key::new(k), v)))
        .collect()
}

/// Sets a JSON attribute value on a record without an intermediate owned value for scalars.
fn set_json(
    r: &mut SpanRecord,
    key: &str,
    v: &serde_json::Value,
    limits: &fivelens_core::record::Limits,
) {
    use serde_json::Value as J;
    let key = Key::new(key);
    match v {
        J::String(s) => r.set_str(key, s, limits),
        J::Bool(b) => r.set_attribute_ref(key, ValueRef::Bool(*b), limits),
        J::Number(n) => match n.as_i64() {
            Some(i) => r.set_attribute_ref(key, ValueRef::I64(i), limits),
            None => r.set_attribute_ref(key, ValueRef::F64(n.as_f64().unwrap_or(f64::NAN)), limits),
        },
        J::Null => {}
        other => {
            if let Some(value) = Value::from_json(other) {
                r.set_attribute_ref(key, ValueRef::from(&value), limits);
            }
        }
    }
}

fn record(
    s: JsSpan,
    scopes: &std::collections::HashMap<u32, Arc<TraceScope>>,
) -> Option<SpanRecord> {
    let trace_id = TraceId::from_hex(&s.0)?;
    let span_id = SpanId::from_hex(&s.1)?;
    let parent = SpanId::from_hex(&s.2).map(|p| Parent {
        trace_id,
        span_id: p,
        remote: s.3 == 1,
        flags: u8::from(s.15 & 2 != 0),
    });
    let mut r = SpanRecord::template(&s.4, SpanKind::from_otlp(i64::from(s.5)));
    r.begin(parent, Some(ms_to_ns(s.6)));
    r.trace_id = trace_id;
    r.span_id = span_id;
    r.trace_state = s.16.map(String::into_boxed_str);
    let limits = fivelens_core::record::Limits::current();
    for (k, v) in &s.10 {
        set_json(&mut r, k, v, &limits);
    }
    for (name, t, a) in s.11.unwrap_or_default() {
        r.add_event(&name, Some(ms_to_ns(t)), attrs(&a));
    }
    for (t, sp, a) in s.12.unwrap_or_default() {
        if let (Some(t), Some(sp)) = (TraceId::from_hex(&t), SpanId::from_hex(&sp)) {
            r.add_link(t, sp, attrs(&a));
        }
    }
    match s.8 {
        1 => r.set_status(Status::Ok),
        2 => r.set_status(Status::Error(s.9.unwrap_or_default().into_boxed_str())),
        _ => {}
    }
    r.scope = s.13.and_then(|id| scopes.get(&id).cloned());
    r.instrumentation = s.14.as_deref().map(Key::new);
    if s.15 & 1 != 0 {
        r.flags |= flags::STORE_ONLY;
    }
    if s.15 & 2 == 0 {
        r.flags &= !flags::SAMPLED;
    }
    for k in s.17.unwrap_or_default() {
        r.truncated.push(Key::new(&k));
    }
    r.end_at(Some(ms_to_ns(s.7).max(r.start_ns)));
    Some(r)
}

/// Hands a batch of finished spans (JSON) to the pipeline. Malformed spans are counted as
/// internal errors, never thrown: the batch comes from our own JS layer.
#[napi]
pub fn submit_batch(batch: String) {
    let parsed: JsBatch = match serde_json::from_str(&batch) {
        Ok(b) => b,
        Err(e) => {
            global::report_internal_error("node.batch", &format!("unreadable span batch: {e}"));
            return;
        }
    };
    let scopes: std::collections::HashMap<u32, Arc<TraceScope>> = parsed
        .scopes
        .iter()
        .map(|(id, a)| {
            (
                *id,
                Arc::new(TraceScope {
                    attributes: attrs(a),
                }),
            )
        })
        .collect();
    for s in parsed.spans {
        global::note_started();
        match record(s, &scopes) {
            Some(r) => global::submit(r),
            None => {
                global::report_internal_error("node.batch", "a span with invalid ids was skipped")
            }
        }
    }
}

/// Starts (or restarts) the pipeline. `options` and `runtime` are JSON (an object of options
/// with snake_case names, and a list of `[key, value]` resource attributes). Returns the
/// resolved configuration as JSON; throws an `Error` naming the field on bad configuration.
#[napi]
pub fn configure(options: String, runtime: String) -> Result<String> {
    let options: serde_json::Value = serde_json::from_str(&options).map_err(|e| {
        Error::new(
            napi::Status::InvalidArg,
            format!("fivelens config: not JSON: {e}"),
        )
    })?;
    let runtime: Vec<(String, String)> = serde_json::from_str(&runtime).unwrap_or_default();
    let host = HostInfo {
        language: "nodejs".into(),
        attributes: runtime,
    };
    let configured = global::configure(&options, host)
        .map_err(|e| Error::new(napi::Status::InvalidArg, e.to_string()))?;
    Ok(serde_json::to_string(&*configured.config).unwrap_or_default())
}

/// Whether spans are being recorded.
#[napi]
pub fn is_recording() -> bool {
    global::is_recording()
}

/// Waits (off the JS thread) until every span handed over is stored and sent, at most
/// `timeout_ms`. Resolves to whether it completed.
pub struct FlushTask {
    timeout_ms: f64,
    shutdown: bool,
}

impl Task for FlushTask {
    type Output = bool;
    type JsValue = bool;
    fn compute(&mut self) -> Result<bool> {
        let t = Duration::from_secs_f64((self.timeout_ms / 1000.0).clamp(0.0, 3600.0));
        Ok(if self.shutdown {
            global::shutdown(t)
        } else {
            global::flush(t)
        })
    }
    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
}

/// `flush(timeoutMs)`: a promise of whether everything was delivered in time.
#[napi(ts_return_type = "Promise<boolean>")]
pub fn flush(timeout_ms: f64) -> AsyncTask<FlushTask> {
    AsyncTask::new(FlushTask {
        timeout_ms,
        shutdown: false,
    })
}

/// `shutdown(timeoutMs)`: drain and stop; a promise of whether it finished in time.
#[napi(ts_return_type = "Promise<boolean>")]
pub fn shutdown(timeout_ms: f64) -> AsyncTask<FlushTask> {
    AsyncTask::new(FlushTask {
        timeout_ms,
        shutdown: true,
    })
}

/// Blocking flush, bounded by `timeout_ms` (for the process `exit` event, where nothing async
/// runs any more).
#[napi]
pub fn flush_sync(timeout_ms: f64) -> bool {
    global::flush(Duration::from_secs_f64(
        (timeout_ms / 1000.0).clamp(0.0, 60.0),
    ))
}

/// Blocking shutdown, bounded by `timeout_ms`.
#[napi]
pub fn shutdown_sync(timeout_ms: f64) -> bool {
    global::shutdown(Duration::from_secs_f64(
        (timeout_ms / 1000.0).clamp(0.0, 60.0),
    ))
}

/// Self-statistics as JSON.
#[napi]
pub fn status() -> String {
    global::status().to_string()
}

/// Stores the report of what `instrument()` did (JSON), for `status()`.
#[napi]
pub fn set_instrument_report(report: String) {
    if let Ok(v) = serde_json::from_str(&report) {
        global::set_instrument_report(v);
    }
}

/// Counts a failure inside instrumentation (reported once, never thrown).
#[napi]
pub fn report_internal_error(kind: String, message: String) {
    let kind: &'static str = match kind.as_str() {
        "integration" => "integration",
        "bridge" => "bridge",
        "context" => "context",
        "exit" => "exit",
        _ => "node",
    };
    global::report_internal_error(kind, &message);
}

/// The core's option defaults, as JSON.
#[napi]
pub fn default_config() -> String {
    fivelens_core::config::default_config_json().to_string()
}

/// The HMAC of a user id under the configured key.
#[napi]
pub fn hash_user_id(user_id: String) -> String {
    fivelens_core::scope::hash_user_id(&user_id)
}

/// Reads `traceparent` / `tracestate` / `fivelens-context` from a JSON object of headers.
/// Returns JSON: `{"traceId", "spanId", "sampled", "traceState", "scope"}` (ids empty when the
/// `traceparent` is missing or malformed).
#[napi]
pub fn parse_carrier(carrier: String) -> String {
    let map: std::collections::HashMap<String, serde_json::Value> =
        serde_json::from_str(&carrier).unwrap_or_default();
    let get = |key: &str| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Array(a) => {
                    a.first().and_then(|f| f.as_str().map(str::to_string))
                }
                _ => None,
            })
    };
    let incoming = propagation::extract(&get);
    let scope = incoming.scope.as_ref().map(|s| {
        serde_json::Value::Object(
            s.attributes
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_json()))
                .collect(),
        )
    });
    serde_json::json!({
        "traceId": incoming.parent.map(|p| p.trace_id.to_hex()).unwrap_or_default(),
        "spanId": incoming.parent.map(|p| p.span_id.to_hex()).unwrap_or_default(),
        "sampled": incoming.parent.map(|p| p.flags & 1 == 1).unwrap_or(true),
        "traceState": incoming.trace_state,
        "scope": scope,
    })
    .to_string()
}

/// Encodes trace-scoped attributes (a JSON object) as a `fivelens-context` header value.
#[napi]
pub fn encode_scope(attributes: String) -> String {
    let map: Attrs = serde_json::from_str(&attributes).unwrap_or_default();
    TraceScope {
        attributes: attrs(&map),
    }
    .to_wire()
}

/// Spans kept in testing mode, as JSON.
#[napi]
pub fn finished_spans() -> String {
    let spans: Vec<serde_json::Value> = global::finished_spans()
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name(),
                "traceId": r.trace_id.to_hex(),
                "spanId": r.span_id.to_hex(),
                "parentSpanId": if r.parent_span_id.is_valid() { r.parent_span_id.to_hex() } else { String::new() },
                "kind": r.kind.as_str(),
                "startTime": r.start_ns,
                "endTime": r.end_ns,
                "status": match &r.status { Status::Unset => "unset", Status::Ok => "ok", Status::Error(_) => "error" },
                "statusMessage": match &r.status { Status::Error(m) => Some(m.to_string()), _ => None },
                "attributes": serde_json::Value::Object(r.payload.iter().map(|(k, v)| (k.as_str().to_string(), v.to_json())).collect()),
                "events": r.events.iter().map(|e| serde_json::json!({
                    "name": e.name.as_ref(),
                    "time": e.time_ns,
                    "attributes": serde_json::Value::Object(e.attributes.iter().map(|(k, v)| (k.as_str().to_string(), v.to_json())).collect()),
                })).collect::<Vec<_>>(),
                "links": r.links.iter().map(|l| serde_json::json!({"traceId": l.trace_id.to_hex(), "spanId": l.span_id.to_hex()})).collect::<Vec<_>>(),
                "scope": r.instrumentation.as_ref().map(|k| k.as_str()).unwrap_or("fivelens"),
                "storeOnly": r.flags & flags::STORE_ONLY != 0,
            })
        })
        .collect();
    serde_json::Value::Array(spans).to_string()
}

/// Empties the testing-mode span list.
#[napi]
pub fn clear_finished_spans() {
    global::clear_finished_spans();
}

/// Runs the `fivelens` command; returns the exit code.
#[napi]
pub fn cli_main(argv: Vec<String>) -> i32 {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    fivelens_core::cli::run(&argv, &mut out, &mut err)
}
