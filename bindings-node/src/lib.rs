//! The fivelens Node.js addon. Spans are built and buffered in JavaScript (a napi call per span
//! would cost more than a whole span) and handed over here in batches, as JSON, which this crate
//! turns into core records. Everything else is a thin call into the core.

mod batch;
pub mod replay;
pub mod tools;

use std::time::Duration;

use fivelens_core::propagation;
use fivelens_core::record::{flags, SpanRecord, Status};
use fivelens_core::scope::TraceScope;
use fivelens_core::{global, HostInfo};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Bumped when the JS <-> native batch format changes; the JS loader checks it.
#[napi]
pub const API_VERSION: u32 = 1;

type Attrs = serde_json::Map<String, serde_json::Value>;

/// Hands a batch of `count` finished spans (JSON) to the pipeline. The JSON is decoded on the
/// processing thread, not here on the JavaScript thread. Malformed spans are counted as internal
/// errors, never thrown: the batch comes from our own JS layer.
#[napi]
pub fn submit_batch(batch: String, count: u32) {
    global::submit_deferred(count as usize, Box::new(move || decode_batch(&batch)));
}

fn decode_batch(batch: &str) -> Vec<SpanRecord> {
    batch::decode(batch).unwrap_or_else(|e| {
        global::report_internal_error("node.batch", &format!("unreadable span batch: {e}"));
        Vec::new()
    })
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

/// Whether model-call content (messages, instructions, tool definitions) is captured: recording,
/// and `capture_content` on (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`). Model-call
/// spans build no content JSON when it is off.
#[napi]
pub fn capture_content() -> bool {
    global::is_recording() && global::config().is_some_and(|c| c.capture_content)
}

/// Tokens in `text` as `model` would count them: exact for OpenAI models (`o200k_base` or
/// `cl100k_base`, chosen by the model name), an estimate with `o200k_base` for any other model
/// or none. `encoding` names the vocabulary instead; an unknown one throws an `Error` naming it.
#[napi]
pub fn count_tokens(text: String, model: Option<String>, encoding: Option<String>) -> Result<u32> {
    use fivelens_core::tokens;
    let n = match encoding {
        Some(name) => {
            let e = tokens::Encoding::parse(&name).ok_or_else(|| {
                Error::new(
                    napi::Status::InvalidArg,
                    format!(
                        "encoding: unknown vocabulary {name:?} (known: o200k_base, cl100k_base)"
                    ),
                )
            })?;
            tokens::count_with(&text, e)
        }
        None => tokens::count(&text, model.as_deref()).tokens,
    };
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Head sampling: whether a trace whose local root starts now (with this user hash and session)
/// is sampled; `null` when the pipeline does not sample at the start of traces.
#[napi]
pub fn head_sampled(
    trace_id: String,
    user_hash: Option<String>,
    session_id: Option<String>,
) -> Option<bool> {
    let trace = fivelens_core::ids::TraceId::from_hex(&trace_id)?;
    global::head_sampled(trace, user_hash.as_deref(), session_id.as_deref())
}

/// The synchronous context-window check: `sections_json` is a JSON object of section name to a
/// text, a list of texts or chat messages, or a token count; returns JSON `{model, sections,
/// tokens, limit, max_output_tokens, fill, remaining, threshold, over_threshold}` (the window
/// fields null for a model the limit table does not know). Counted on the calling thread.
#[napi]
pub fn context_window(
    model: String,
    sections_json: String,
    provider: Option<String>,
) -> Result<String> {
    let sections: serde_json::Value = serde_json::from_str(&sections_json)
        .map_err(|e| Error::new(napi::Status::InvalidArg, format!("sections: {e}")))?;
    fivelens_core::context_window::check(&model, provider.as_deref(), &sections)
        .map(|v| v.to_string())
        .map_err(|e| Error::new(napi::Status::InvalidArg, e))
}

/// One PII value found by `redact`.
#[napi(object)]
pub struct RedactedEntity {
    /// The type (`EMAIL`, `PHONE`, ..., a custom rule's name, `DENIED`).
    #[napi(js_name = "type")]
    pub kind: String,
    /// Offset of the first UTF-16 code unit in the original text.
    pub start: u32,
    /// Offset past the last UTF-16 code unit.
    pub end: u32,
}

/// What `redact` returns.
#[napi(object)]
pub struct Redaction {
    /// The text with its PII replaced.
    pub text: String,
    /// The values found, in order.
    pub entities: Vec<RedactedEntity>,
}

/// `text` with its PII replaced as the active configuration says (the defaults before
/// `instrument()`), and the entities found with offsets in UTF-16 code units of `text`.
#[napi]
pub fn redact(text: String) -> Redaction {
    let (out, entities) = fivelens_core::redact::redact_for_host(&text, true);
    let unit = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Redaction {
        text: out,
        entities: entities
            .into_iter()
            .map(|e| RedactedEntity {
                kind: e.kind,
                start: unit(e.start),
                end: unit(e.end),
            })
            .collect(),
    }
}

/// The vocabulary `countTokens` uses for `model` when its count is exact (`o200k_base`,
/// `cl100k_base`), or `null` when the model's tokenizer is not known (then counts are estimates).
#[napi]
pub fn token_encoding(model: String) -> Option<&'static str> {
    fivelens_core::tokens::encoding_for_model(&model).map(|e| e.name())
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
/// Registers a golden output for drift checks (memory at once, persisted off this thread).
#[napi]
pub fn register_golden(prompt_version: String, output: String, input: Option<String>) {
    fivelens_core::behaviour::register_golden(&prompt_version, input.as_deref(), &output);
}

/// The golden output of a prompt version (or of one of its test inputs); may read the goldens
/// file or the store the first time.
#[napi]
pub fn golden(prompt_version: String, input: Option<String>) -> Option<String> {
    fivelens_core::behaviour::golden(&prompt_version, input.as_deref())
}

/// Counts an evaluation the pool dropped (`fivelens.evaluation.dropped`).
#[napi]
pub fn evaluation_dropped(name: String) {
    fivelens_core::behaviour::evaluation_dropped(&name);
}

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
        attributes: batch::owned(map),
        llm_attributes: Vec::new(),
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

/// Hands log records to the pipeline: a JSON array of
/// `[time_ms, severity, severity_text, body, attributes, scope, event_name, trace_id, span_id,
/// sampled]` (see `lib/logs.js`). Never throws: an unreadable batch is counted as an internal
/// error (it comes from our own JS layer).
#[napi]
pub fn submit_logs(batch: String) {
    use fivelens_core::logs::{self, LogRecord};
    use fivelens_core::{Key, SpanId, TraceId};
    let items: Vec<serde_json::Value> = match serde_json::from_str(&batch) {
        Ok(v) => v,
        Err(e) => {
            global::report_internal_error("node.logs", &format!("unreadable log batch: {e}"));
            return;
        }
    };
    for item in items {
        let serde_json::Value::Array(f) = item else {
            continue;
        };
        let text = |i: usize| f.get(i).and_then(|v| v.as_str()).unwrap_or("");
        let severity = f.get(1).and_then(|v| v.as_u64()).unwrap_or(9).min(24) as u8;
        let mut r = LogRecord::new(severity, text(3));
        if let Some(ms) = f.first().and_then(|v| v.as_f64()).filter(|ms| *ms > 0.0) {
            r.time_ns = (ms * 1e6) as u64;
        }
        r.severity_text = text(2).into();
        if let Some(serde_json::Value::Object(attrs)) = f.get(4) {
            r.attributes = batch::owned(attrs.clone());
        }
        r.scope = Some(text(5)).filter(|s| !s.is_empty()).map(Key::new);
        r.event_name = Some(text(6)).filter(|s| !s.is_empty()).map(Into::into);
        let sampled = f.get(9).and_then(|v| v.as_bool()).unwrap_or(true);
        r = r.in_span(
            TraceId::from_hex(text(7)).unwrap_or(TraceId(0)),
            SpanId::from_hex(text(8)).unwrap_or(SpanId(0)),
            sampled,
        );
        logs::submit(r);
    }
}
