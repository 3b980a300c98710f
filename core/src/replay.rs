//! Replay of recorded model calls, and evaluation datasets from their snapshots.
//!
//! ```text
//!  store (fivelens.db) or a file of exported spans (OTLP JSON) ──> spans with fivelens.snapshot
//!      ──> replay: the recorded request body, re-sent through the provider's protocol
//!          (OpenAI chat / responses / completions / embeddings, Anthropic messages) to
//!          --base-url (or the provider's endpoint), --n times ──> output, usage, cost, latency
//!          beside the recorded ones, a line diff, the changes and the spread over the runs
//!      ──> dataset export: one JSONL line per matching call (input, expected output, metadata)
//!      ──> dataset run: each line's request against a candidate model, drift from the expected
//! ```
//!
//! The body sent is the recorded one (its model replaced with `--model`): a value the redactor
//! replaced is sent as its placeholder (`<EMAIL_1>`), and a snapshot cut to its size bound is
//! sent cut. Only the headers differ: the key from the environment (`OPENAI_API_KEY`,
//! `ANTHROPIC_API_KEY`) or the options, never one recorded. A streamed call is replayed streamed
//! and its events assembled into the response the provider would have sent whole.
//!
//! Nothing here runs on the processing thread or a host's request path: these are tools, called
//! from the command line or explicitly from an API (the bindings run them off the JavaScript
//! thread and without the GIL).

use std::io::{BufRead as _, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};

use crate::pricing::{PriceTable, Usage};
use crate::record::{Limits, SpanKind, SpanRecord};
use crate::semconv as sc;
use crate::value::{Value, ValueRef};

/// A model call with its snapshot, as read back.
#[derive(Clone, Debug)]
pub struct RecordedCall {
    /// Trace id (hex).
    pub trace_id: String,
    /// Span id (hex).
    pub span_id: String,
    /// Span name.
    pub name: String,
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// The decoded snapshot.
    pub snapshot: J,
}

/// Where recorded calls are read from.
#[derive(Clone, Debug)]
pub enum Source {
    /// The local store.
    Store(PathBuf),
    /// A file of exported spans: OTLP JSON (one request, or one per line).
    File(PathBuf),
}

impl Source {
    /// The file when given, else the store at `db` (or the default store).
    pub fn new(file: Option<&str>, db: Option<&str>) -> Source {
        match file {
            Some(f) => Source::File(PathBuf::from(f)),
            None => Source::Store(
                db.map(PathBuf::from)
                    .unwrap_or_else(crate::config::default_store_file),
            ),
        }
    }
}

fn snapshot_of(attributes: &J) -> Option<J> {
    attributes[sc::FIVELENS_SNAPSHOT]
        .as_str()
        .and_then(|v| crate::snapshot::decode(v).ok())
}

/// OTLP JSON ids are hex (the OTLP/JSON rule); base64 ones (plain protobuf JSON) are converted.
fn otlp_id(v: &J) -> String {
    let s = v.as_str().unwrap_or_default();
    if s.bytes().all(|b| b.is_ascii_hexdigit()) && (s.len() == 32 || s.len() == 16) {
        return s.to_ascii_lowercase();
    }
    let mut out = String::new();
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = table.iter().position(|t| *t == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push_str(&format!("{:02x}", (acc >> bits) & 0xff));
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn otlp_value(v: &J) -> J {
    for k in ["stringValue", "boolValue", "doubleValue"] {
        if !v[k].is_null() {
            return v[k].clone();
        }
    }
    if let Some(i) = v["intValue"].as_str().and_then(|s| s.parse::<i64>().ok()) {
        return json!(i);
    }
    if !v["intValue"].is_null() {
        return v["intValue"].clone();
    }
    J::Null
}

fn otlp_spans(doc: &J, out: &mut Vec<(J, J)>) {
    for rs in doc["resourceSpans"].as_array().into_iter().flatten() {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            for span in ss["spans"].as_array().into_iter().flatten() {
                let mut attributes = serde_json::Map::new();
                for a in span["attributes"].as_array().into_iter().flatten() {
                    if let Some(k) = a["key"].as_str() {
                        attributes.insert(k.to_string(), otlp_value(&a["value"]));
                    }
                }
                out.push((span.clone(), J::Object(attributes)));
            }
        }
    }
}

/// Every call with a snapshot in `source`, of `trace` (an id or a prefix of at least 4 hex
/// digits in the store) when given, oldest first.
pub fn load(source: &Source, trace: Option<&str>) -> Result<Vec<RecordedCall>, String> {
    let mut calls = Vec::new();
    match source {
        Source::Store(db) => {
            let reader = crate::store::Reader::open(db)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no store at {}", db.display()))?;
            let traces: Vec<String> = match trace {
                Some(t) => {
                    let found = reader.resolve_trace_id(t).map_err(|e| e.to_string())?;
                    match found.len() {
                        0 => return Err(format!("no trace {t} in {}", db.display())),
                        1 => found,
                        _ => return Err(format!("{t} is ambiguous: {}", found.join(", "))),
                    }
                }
                None => reader
                    .traces(1_000_000)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .rev()
                    .map(|t| t.trace_id)
                    .collect(),
            };
            for t in traces {
                for s in reader.spans(&t).map_err(|e| e.to_string())? {
                    if let Some(snapshot) = snapshot_of(&s.attributes) {
                        calls.push(RecordedCall {
                            trace_id: s.trace_id,
                            span_id: s.span_id,
                            name: s.name,
                            start_ns: s.start_ns,
                            snapshot,
                        });
                    }
                }
            }
        }
        Source::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let mut spans = Vec::new();
            match serde_json::from_str::<J>(&text) {
                Ok(doc) => otlp_spans(&doc, &mut spans),
                Err(_) => {
                    for line in text.lines().filter(|l| !l.trim().is_empty()) {
                        let doc: J = serde_json::from_str(line)
                            .map_err(|e| format!("{}: not OTLP JSON: {e}", path.display()))?;
                        otlp_spans(&doc, &mut spans);
                    }
                }
            }
            let trace = trace.map(|t| t.trim().to_ascii_lowercase());
            for (span, attributes) in spans {
                let trace_id = otlp_id(&span["traceId"]);
                if trace.as_deref().is_some_and(|t| !trace_id.starts_with(t)) {
                    continue;
                }
                if let Some(snapshot) = snapshot_of(&attributes) {
                    let start_ns = match &span["startTimeUnixNano"] {
                        J::String(s) => s.parse().unwrap_or(0),
                        v => v.as_i64().unwrap_or(0),
                    };
                    calls.push(RecordedCall {
                        trace_id,
                        span_id: otlp_id(&span["spanId"]),
                        name: span["name"].as_str().unwrap_or_default().to_string(),
                        start_ns,
                        snapshot,
                    });
                }
            }
            calls.sort_by_key(|c| c.start_ns);
        }
    }
    Ok(calls)
}

// ---- one call -------------------------------------------------------------------------------

/// Options of a replay.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// Base URL (`http://127.0.0.1:8000/v1` for OpenAI-style servers, the SDKs' convention;
    /// `http://127.0.0.1:8000` for Anthropic); else `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL`, else
    /// the provider's public endpoint.
    pub base_url: Option<String>,
    /// Model to send instead of the recorded one.
    pub model: Option<String>,
    /// Runs per call (at least 1).
    pub n: usize,
    /// API key instead of `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`.
    pub api_key: Option<String>,
    /// Timeout of one request.
    pub timeout: Option<Duration>,
}

impl ReplayOptions {
    /// Reads `{base_url, model, n, api_key, timeout}` (the bindings' option object).
    pub fn from_json(o: &J) -> ReplayOptions {
        ReplayOptions {
            base_url: o["base_url"].as_str().map(str::to_string),
            model: o["model"].as_str().map(str::to_string),
            n: o["n"].as_u64().unwrap_or(1).max(1) as usize,
            api_key: o["api_key"].as_str().map(str::to_string),
            timeout: o["timeout"].as_f64().map(Duration::from_secs_f64),
        }
    }
}

/// What one exchange gave: the conventions' view of the response.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Outcome {
    /// `ok` or `error`.
    pub status: String,
    /// HTTP status (replays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Error description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The output as text (tool calls as `name(arguments)`).
    pub output: String,
    /// Finish reasons.
    pub finish_reasons: Vec<String>,
    /// Input tokens reported.
    pub input_tokens: Option<i64>,
    /// Output tokens reported.
    pub output_tokens: Option<i64>,
    /// Cost from the price table.
    pub cost_usd: Option<f64>,
    /// Latency.
    pub duration_ms: f64,
    /// Model the response names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_model: Option<String>,
}

fn output_text(messages: &J) -> String {
    let mut out = Vec::new();
    for m in messages.as_array().into_iter().flatten() {
        for p in m["parts"].as_array().into_iter().flatten() {
            match p["type"].as_str() {
                Some("text") | Some("reasoning") => {
                    if let Some(t) = p["content"].as_str() {
                        out.push(t.to_string());
                    }
                }
                Some("tool_call") => out.push(format!(
                    "{}({})",
                    p["name"].as_str().unwrap_or("tool"),
                    p["arguments"]
                )),
                _ => {}
            }
        }
    }
    out.join("\n")
}

/// The conventions' view of a provider response body, through the same mapping as the spans.
fn read_response(
    format: &str,
    provider: &str,
    model: &str,
    body: &J,
    prices: &PriceTable,
) -> Outcome {
    let mut r = SpanRecord::start("replay", SpanKind::Client, None);
    let limits = Limits {
        max_attributes: usize::MAX,
        max_attribute_bytes: usize::MAX,
        max_content_bytes: usize::MAX,
        ..Limits::current()
    };
    crate::providers::apply_response(&mut r, format, body, true, &limits);
    let text = |k: &str| match r.attribute(k) {
        Some(ValueRef::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let int = |k: &str| match r.attribute(k) {
        Some(ValueRef::I64(i)) => Some(i),
        _ => None,
    };
    let output = text(sc::GEN_AI_OUTPUT_MESSAGES)
        .and_then(|t| serde_json::from_str::<J>(&t).ok())
        .map(|m| output_text(&m))
        .unwrap_or_default();
    let finish_reasons = match r.attribute(sc::GEN_AI_RESPONSE_FINISH_REASONS) {
        Some(ValueRef::Array(Value::StrArray(a))) => a.iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    };
    let (input_tokens, output_tokens) = (
        int(sc::GEN_AI_USAGE_INPUT_TOKENS),
        int(sc::GEN_AI_USAGE_OUTPUT_TOKENS),
    );
    let response_model = text(sc::GEN_AI_RESPONSE_MODEL);
    let cost_usd = cost(
        prices,
        provider,
        response_model.as_deref().unwrap_or(model),
        input_tokens,
        output_tokens,
    );
    Outcome {
        status: "ok".into(),
        output,
        finish_reasons,
        input_tokens,
        output_tokens,
        cost_usd,
        response_model,
        ..Outcome::default()
    }
}

fn cost(
    prices: &PriceTable,
    provider: &str,
    model: &str,
    input: Option<i64>,
    output: Option<i64>,
) -> Option<f64> {
    if input.is_none() && output.is_none() {
        return None;
    }
    let rates = prices.lookup(provider, model)?;
    let usage = Usage {
        input: input.unwrap_or(0).max(0) as u64,
        output: output.unwrap_or(0).max(0) as u64,
        cache_read: 0,
        cache_write: 0,
        reasoning: 0,
    };
    Some(rates.cost(&usage) as f64 / 1e12)
}

/// The recorded outcome of a snapshot.
pub fn recorded_outcome(s: &J) -> Outcome {
    let mut output = output_text(&s["output"]);
    let prices = price_table();
    let provider = s["provider"].as_str().unwrap_or_default();
    let model = s["model"].as_str().unwrap_or_default();
    if output.is_empty() && !s["response"].is_null() {
        let format = s["format"].as_str().unwrap_or_default();
        output = read_response(format, provider, model, &s["response"], &prices).output;
    }
    Outcome {
        status: s["status"].as_str().unwrap_or("ok").to_string(),
        http_status: None,
        error: s["error"].as_str().map(str::to_string),
        output,
        finish_reasons: s["finish_reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        input_tokens: s["usage"]["input_tokens"].as_i64(),
        output_tokens: s["usage"]["output_tokens"].as_i64(),
        cost_usd: s["cost_usd"].as_f64(),
        duration_ms: s["duration_ms"].as_f64().unwrap_or(0.0),
        response_model: s["response_model"].as_str().map(str::to_string),
    }
}

fn price_table() -> PriceTable {
    crate::config::Config::from_options(&J::Null)
        .map(|c| c.prices_only())
        .unwrap_or_else(|_| PriceTable::embedded())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The URL and headers of a format's endpoint.
fn endpoint(
    format: &str,
    base: Option<&str>,
    key: Option<&str>,
) -> Result<(String, Vec<(String, String)>), String> {
    let anthropic = format.starts_with("anthropic.");
    let base = base
        .map(str::to_string)
        .or_else(|| {
            env(if anthropic {
                "ANTHROPIC_BASE_URL"
            } else {
                "OPENAI_BASE_URL"
            })
        })
        .unwrap_or_else(|| {
            if anthropic {
                "https://api.anthropic.com"
            } else {
                "https://api.openai.com/v1"
            }
            .to_string()
        });
    let base = base.trim_end_matches('/');
    let path = match format {
        "openai.chat" => "/chat/completions",
        "openai.responses" => "/responses",
        "openai.completions" => "/completions",
        "openai.embeddings" => "/embeddings",
        "anthropic.messages" => {
            if base.ends_with("/v1") {
                "/messages"
            } else {
                "/v1/messages"
            }
        }
        other => return Err(format!("cannot replay a {other} call")),
    };
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if anthropic {
        if let Some(k) = key.map(str::to_string).or_else(|| env("ANTHROPIC_API_KEY")) {
            headers.push(("x-api-key".into(), k));
        }
        headers.push(("anthropic-version".into(), "2023-06-01".into()));
    } else if let Some(k) = key.map(str::to_string).or_else(|| env("OPENAI_API_KEY")) {
        headers.push(("authorization".into(), format!("Bearer {k}")));
    }
    Ok((format!("{base}{path}"), headers))
}

/// One streamed body (server-sent events) assembled into the provider's whole response.
fn assemble_stream(format: &str, text: &str) -> J {
    let mut events: Vec<J> = Vec::new();
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            let data = data.trim();
            if data == "[DONE]" {
                continue;
            }
            if let Ok(v) = serde_json::from_str::<J>(data) {
                events.push(v);
            }
        }
    }
    match format {
        "anthropic.messages" => {
            let mut message = json!({});
            let mut blocks: Vec<J> = Vec::new();
            let mut partial: Vec<String> = Vec::new();
            for e in &events {
                match e["type"].as_str() {
                    Some("message_start") => message = e["message"].clone(),
                    Some("content_block_start") => {
                        blocks.push(e["content_block"].clone());
                        partial.push(String::new());
                    }
                    Some("content_block_delta") => {
                        let i = e["index"].as_u64().unwrap_or(0) as usize;
                        if let (Some(b), Some(p)) = (blocks.get_mut(i), partial.get_mut(i)) {
                            let d = &e["delta"];
                            if let Some(t) = d["text"].as_str() {
                                let old = b["text"].as_str().unwrap_or_default().to_string();
                                b["text"] = json!(old + t);
                            }
                            if let Some(t) = d["partial_json"].as_str() {
                                p.push_str(t);
                            }
                        }
                    }
                    Some("message_delta") => {
                        message["stop_reason"] = e["delta"]["stop_reason"].clone();
                        if let Some(n) = e["usage"]["output_tokens"].as_i64() {
                            message["usage"]["output_tokens"] = json!(n);
                        }
                    }
                    _ => {}
                }
            }
            for (b, p) in blocks.iter_mut().zip(partial) {
                if b["type"] == "tool_use" && !p.is_empty() {
                    b["input"] = serde_json::from_str(&p).unwrap_or(J::String(p));
                }
            }
            message["content"] = J::Array(blocks);
            message
        }
        "openai.responses" => events
            .iter()
            .rev()
            .find(|e| e["type"] == "response.completed" || e["type"] == "response.incomplete")
            .map(|e| e["response"].clone())
            .unwrap_or(J::Null),
        _ => {
            let mut content = String::new();
            let mut calls: Vec<J> = Vec::new();
            let mut finish = J::Null;
            let mut usage = J::Null;
            let (mut id, mut model) = (J::Null, J::Null);
            for e in &events {
                if id.is_null() {
                    id = e["id"].clone();
                    model = e["model"].clone();
                }
                if !e["usage"].is_null() {
                    usage = e["usage"].clone();
                }
                for c in e["choices"].as_array().into_iter().flatten() {
                    let d = &c["delta"];
                    if let Some(t) = d["content"].as_str() {
                        content.push_str(t);
                    }
                    if let Some(t) = c["text"].as_str() {
                        content.push_str(t);
                    }
                    for tc in d["tool_calls"].as_array().into_iter().flatten() {
                        let i = tc["index"].as_u64().unwrap_or(0) as usize;
                        while calls.len() <= i {
                            calls.push(json!({"type": "function", "function": {"name": "", "arguments": ""}}));
                        }
                        let call = &mut calls[i];
                        if let Some(v) = tc["id"].as_str() {
                            call["id"] = json!(v);
                        }
                        for k in ["name", "arguments"] {
                            if let Some(v) = tc["function"][k].as_str() {
                                let old =
                                    call["function"][k].as_str().unwrap_or_default().to_string();
                                call["function"][k] = json!(old + v);
                            }
                        }
                    }
                    if !c["finish_reason"].is_null() {
                        finish = c["finish_reason"].clone();
                    }
                }
            }
            let mut message = json!({"role": "assistant", "content": content});
            if !calls.is_empty() {
                message["tool_calls"] = J::Array(calls);
            }
            json!({"id": id, "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
        }
    }
}

/// The body a replay of `snapshot` sends: the recorded request, with `model` when given.
pub fn request_body(snapshot: &J, model: Option<&str>) -> J {
    let mut body = snapshot["request"].clone();
    if let (Some(m), J::Object(map)) = (model, &mut body) {
        map.insert("model".into(), json!(m));
    }
    body
}

/// Where and how a replay sends.
struct Target<'a> {
    url: &'a str,
    headers: &'a [(String, String)],
    format: &'a str,
    provider: &'a str,
    model: &'a str,
}

fn send_once(agent: &ureq::Agent, t: &Target, body: &J, prices: &PriceTable) -> Outcome {
    let (url, headers, format, provider, model) = (t.url, t.headers, t.format, t.provider, t.model);
    let started = Instant::now();
    let mut req = agent.post(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let sent = req.send(body.to_string().as_bytes());
    let mut out = match sent {
        Err(e) => Outcome {
            status: "error".into(),
            error: Some(e.to_string()),
            ..Outcome::default()
        },
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response
                .into_body()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_string()
                .unwrap_or_default();
            if !(200..300).contains(&status) {
                Outcome {
                    status: "error".into(),
                    http_status: Some(status),
                    error: Some(format!(
                        "HTTP {status}: {}",
                        &text[..crate::value::floor_char_boundary(&text, 2000)]
                    )),
                    ..Outcome::default()
                }
            } else {
                let parsed = if body["stream"] == J::Bool(true) {
                    assemble_stream(format, &text)
                } else {
                    serde_json::from_str(&text).unwrap_or(J::Null)
                };
                if parsed.is_null() {
                    Outcome {
                        status: "error".into(),
                        http_status: Some(status),
                        error: Some("the response is not JSON".into()),
                        ..Outcome::default()
                    }
                } else {
                    let mut o = read_response(format, provider, model, &parsed, prices);
                    o.http_status = Some(status);
                    o
                }
            }
        }
    };
    out.duration_ms = started.elapsed().as_secs_f64() * 1e3;
    out
}

/// The core's lexical similarity, exactly 1 for equal texts.
fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        1.0
    } else {
        crate::behaviour::lexical_similarity(a, b)
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn spread(v: &[f64]) -> J {
    if v.is_empty() {
        return J::Null;
    }
    let m = mean(v);
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
    json!({
        "mean": m,
        "min": v.iter().copied().fold(f64::INFINITY, f64::min),
        "max": v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "stdev": var.sqrt(),
    })
}

/// A line diff of two texts (`-` recorded, `+` replayed, two spaces for both), by the longest
/// common subsequence of their lines.
pub fn diff(old: &str, new: &str) -> Vec<String> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() * b.len() > 4_000_000 {
        return a
            .iter()
            .map(|l| format!("- {l}"))
            .chain(b.iter().map(|l| format!("+ {l}")))
            .collect();
    }
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| format!("- {l}")));
    out.extend(b[j..].iter().map(|l| format!("+ {l}")));
    out
}

/// Replays one recorded call `n` times; `progress(runs done)` after each run.
pub fn replay_call(
    call: &RecordedCall,
    o: &ReplayOptions,
    progress: &mut dyn FnMut(),
) -> Result<J, String> {
    let s = &call.snapshot;
    let format = s["format"].as_str().unwrap_or_default();
    let provider = s["provider"]
        .as_str()
        .unwrap_or(if format.starts_with("anthropic") {
            "anthropic"
        } else {
            "openai"
        });
    let (url, headers) = endpoint(format, o.base_url.as_deref(), o.api_key.as_deref())?;
    let body = request_body(s, o.model.as_deref());
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let prices = price_table();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(o.timeout.unwrap_or(Duration::from_secs(120))))
        .http_status_as_error(false)
        .user_agent(concat!("fivelens-replay/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let recorded = recorded_outcome(s);
    let mut runs = Vec::new();
    for _ in 0..o.n.max(1) {
        let target = Target {
            url: &url,
            headers: &headers,
            format,
            provider,
            model: &model,
        };
        runs.push(send_once(&agent, &target, &body, &prices));
        progress();
    }
    Ok(report(call, &url, &model, &body, recorded, runs))
}

fn report(
    call: &RecordedCall,
    url: &str,
    model: &str,
    body: &J,
    recorded: Outcome,
    runs: Vec<Outcome>,
) -> J {
    let first = runs.first().cloned().unwrap_or_default();
    let ok: Vec<&Outcome> = runs.iter().filter(|r| r.status == "ok").collect();
    let f = |get: &dyn Fn(&Outcome) -> Option<f64>| -> Vec<f64> {
        ok.iter().filter_map(|r| get(r)).collect()
    };
    let durations: Vec<f64> = runs.iter().map(|r| r.duration_ms).collect();
    let outputs = f(&|r| r.output_tokens.map(|n| n as f64));
    let inputs = f(&|r| r.input_tokens.map(|n| n as f64));
    let costs = f(&|r| r.cost_usd);
    let similarity: Vec<f64> = ok
        .iter()
        .map(|r| similarity(&recorded.output, &r.output))
        .collect();
    let mut distinct: Vec<&str> = ok.iter().map(|r| r.output.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let delta = |new: &[f64], old: Option<f64>| -> J {
        match old {
            Some(o) if !new.is_empty() => json!(mean(new) - o),
            _ => J::Null,
        }
    };
    json!({
        "trace_id": call.trace_id,
        "span_id": call.span_id,
        "name": call.name,
        "format": call.snapshot["format"],
        "url": url,
        "model": model,
        "recorded_model": call.snapshot["model"],
        "snapshot_reason": call.snapshot["reason"],
        "request": body,
        "recorded": recorded,
        "runs": runs,
        "diff": diff(&recorded.output, &first.output),
        "change": {
            "input_tokens": delta(&inputs, recorded.input_tokens.map(|n| n as f64)),
            "output_tokens": delta(&outputs, recorded.output_tokens.map(|n| n as f64)),
            "cost_usd": delta(&costs, recorded.cost_usd),
            "duration_ms": delta(&durations, Some(recorded.duration_ms)),
        },
        "variance": {
            "runs": runs.len(),
            "failed": runs.len() - ok.len(),
            "distinct_outputs": distinct.len(),
            "similarity_to_recorded": spread(&similarity),
            "output_tokens": spread(&outputs),
            "duration_ms": spread(&durations),
        },
    })
}

/// Replays the calls of a trace (one span when `span` is given; a prefix is enough).
pub fn replay(
    source: &Source,
    trace: &str,
    span: Option<&str>,
    o: &ReplayOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<J>, String> {
    let mut calls = load(source, Some(trace))?;
    if let Some(span) = span {
        let span = span.trim().to_ascii_lowercase();
        calls.retain(|c| c.span_id.starts_with(&span));
    }
    if calls.is_empty() {
        return Err(format!(
            "no snapshot in trace {trace}{}: snapshots are taken of kept model calls with content capture on (all failed calls, traces with a keep flag, the canary cohort, snapshot_rate of the rest)",
            span.map(|s| format!(" span {s}")).unwrap_or_default()
        ));
    }
    let total = calls.len() * o.n.max(1);
    let mut done = 0;
    let mut reports = Vec::new();
    for c in &calls {
        reports.push(replay_call(c, o, &mut || {
            done += 1;
            progress(done, total);
        })?);
    }
    Ok(reports)
}

// ---- datasets -------------------------------------------------------------------------------

/// Which calls a dataset takes.
#[derive(Clone, Debug, Default)]
pub struct DatasetFilter {
    /// `fivelens.prompt.hash` (a prefix is enough).
    pub prompt_hash: Option<String>,
    /// Request or response model.
    pub model: Option<String>,
    /// `fivelens.stage`.
    pub stage: Option<String>,
    /// One of the finish reasons.
    pub finish_reason: Option<String>,
    /// Lowest evaluation score of the call (`gen_ai.evaluation.result` records; store only).
    pub min_score: Option<f64>,
    /// Highest evaluation score of the call.
    pub max_score: Option<f64>,
    /// Started at or after, ns since the epoch.
    pub since_ns: Option<i64>,
    /// Started before, ns since the epoch.
    pub until_ns: Option<i64>,
    /// Snapshot reason (`error`, `keep`, `canary`, `share`).
    pub reason: Option<String>,
}

/// A time: RFC 3339-like `YYYY-MM-DD[THH:MM[:SS]]` (UTC), or an age like `30m`, `24h`, `7d`.
pub fn parse_time(v: &str, now_ns: i64) -> Option<i64> {
    let v = v.trim();
    if let Some(n) = v.strip_suffix('d').and_then(|n| n.parse::<i64>().ok()) {
        return Some(now_ns - n * 86_400 * 1_000_000_000);
    }
    if let Some(n) = v.strip_suffix('h').and_then(|n| n.parse::<i64>().ok()) {
        return Some(now_ns - n * 3_600 * 1_000_000_000);
    }
    if let Some(n) = v.strip_suffix('m').and_then(|n| n.parse::<i64>().ok()) {
        return Some(now_ns - n * 60 * 1_000_000_000);
    }
    let (date, time) = v.split_once(['T', ' ']).unwrap_or((v, "00:00:00"));
    let d: Vec<i64> = date.split('-').filter_map(|p| p.parse().ok()).collect();
    let t: Vec<i64> = time
        .trim_end_matches('Z')
        .split(':')
        .filter_map(|p| p.parse::<f64>().ok().map(|f| f as i64))
        .collect();
    if d.len() != 3 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m, day) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400
        + t.first().copied().unwrap_or(0) * 3600
        + t.get(1).copied().unwrap_or(0) * 60
        + t.get(2).copied().unwrap_or(0);
    Some(secs * 1_000_000_000)
}

fn evaluation_scores(source: &Source, call: &RecordedCall) -> Vec<f64> {
    let Source::Store(db) = source else {
        return Vec::new();
    };
    let Ok(Some(reader)) = crate::store::Reader::open(db) else {
        return Vec::new();
    };
    reader
        .logs(Some(&call.trace_id), 100_000)
        .unwrap_or_default()
        .into_iter()
        .filter(|l| {
            l.event_name.as_deref() == Some(sc::EVENT_EVALUATION_RESULT)
                && l.span_id.as_deref() == Some(call.span_id.as_str())
        })
        .filter_map(|l| l.attributes[sc::GEN_AI_EVALUATION_SCORE_VALUE].as_f64())
        .collect()
}

/// The input messages of a request, in the provider's shape (with the system prompt as the
/// first message for Anthropic, OpenAI's `instructions` likewise).
fn input_messages(format: &str, request: &J) -> J {
    match format {
        "anthropic.messages" => {
            let mut out = Vec::new();
            match &request["system"] {
                J::String(s) => out.push(json!({"role": "system", "content": s})),
                J::Array(parts) => out.push(json!({"role": "system", "content": parts})),
                _ => {}
            }
            out.extend(
                request["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            J::Array(out)
        }
        "openai.responses" => {
            let mut out = Vec::new();
            if let Some(s) = request["instructions"].as_str() {
                out.push(json!({"role": "system", "content": s}));
            }
            match &request["input"] {
                J::String(s) => out.push(json!({"role": "user", "content": s})),
                J::Array(items) => out.extend(items.iter().cloned()),
                _ => {}
            }
            J::Array(out)
        }
        "openai.completions" => json!([{"role": "user", "content": request["prompt"]}]),
        "openai.embeddings" => json!([{"role": "user", "content": request["input"]}]),
        _ => request["messages"].clone(),
    }
}

/// The dataset line of a call: what evaluation tools read (`input`, `expected_output`,
/// `metadata`) and the whole recorded `request` (for `dataset run`).
pub fn dataset_line(call: &RecordedCall, scores: &[f64]) -> J {
    let s = &call.snapshot;
    let format = s["format"].as_str().unwrap_or_default();
    let recorded = recorded_outcome(s);
    json!({
        "input": input_messages(format, &s["request"]),
        "expected_output": recorded.output,
        "tools": s["request"]["tools"],
        "metadata": {
            "trace_id": call.trace_id,
            "span_id": call.span_id,
            "start_ns": call.start_ns,
            "format": format,
            "provider": s["provider"],
            "model": s["model"],
            "response_model": s["response_model"],
            "prompt_hash": s["prompt_hash"],
            "stage": s["stage"],
            "finish_reasons": s["finish_reasons"],
            "usage": s["usage"],
            "cost_usd": s["cost_usd"],
            "duration_ms": s["duration_ms"],
            "status": s["status"],
            "error": s["error"],
            "snapshot_reason": s["reason"],
            "evaluation_scores": scores,
        },
        "request": s["request"],
    })
}

/// The dataset lines of the calls in `source` that match `f`, oldest first.
pub fn dataset(source: &Source, f: &DatasetFilter) -> Result<Vec<J>, String> {
    let mut out = Vec::new();
    for call in load(source, None)? {
        let s = &call.snapshot;
        let str_is = |k: &str, want: &Option<String>| match want {
            None => true,
            Some(w) => s[k].as_str().is_some_and(|v| v == w),
        };
        if let Some(h) = &f.prompt_hash {
            if !s["prompt_hash"]
                .as_str()
                .is_some_and(|v| v.starts_with(h.as_str()))
            {
                continue;
            }
        }
        if let Some(m) = &f.model {
            if !(str_is("model", &Some(m.clone())) || str_is("response_model", &Some(m.clone()))) {
                continue;
            }
        }
        if !str_is("stage", &f.stage) || !str_is("reason", &f.reason) {
            continue;
        }
        if let Some(r) = &f.finish_reason {
            if !s["finish_reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v == r.as_str())
            {
                continue;
            }
        }
        if f.since_ns.is_some_and(|t| call.start_ns < t)
            || f.until_ns.is_some_and(|t| call.start_ns >= t)
        {
            continue;
        }
        let scores = if f.min_score.is_some() || f.max_score.is_some() {
            let scores = evaluation_scores(source, &call);
            if scores.is_empty()
                || f.min_score.is_some_and(|m| scores.iter().any(|v| *v < m))
                || f.max_score.is_some_and(|m| scores.iter().any(|v| *v > m))
            {
                continue;
            }
            scores
        } else {
            evaluation_scores(source, &call)
        };
        out.push(dataset_line(&call, &scores));
    }
    Ok(out)
}

/// Runs every line of a dataset (JSONL, as exported) against `o` (a candidate model, a server),
/// and reports the drift from the expected outputs: 1 minus the lexical similarity.
pub fn run_dataset(lines: &[J], o: &ReplayOptions, progress: &mut dyn FnMut(usize, usize)) -> J {
    let total = lines.len() * o.n.max(1);
    let mut done = 0;
    let mut items = Vec::new();
    let mut drifts = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let m = &line["metadata"];
        let snapshot = json!({
            "format": m["format"], "provider": m["provider"], "model": m["model"],
            "request": line["request"], "output": J::Null, "response": J::Null,
            "status": m["status"], "usage": m["usage"], "cost_usd": m["cost_usd"],
            "duration_ms": m["duration_ms"], "finish_reasons": m["finish_reasons"],
        });
        let call = RecordedCall {
            trace_id: m["trace_id"].as_str().unwrap_or_default().to_string(),
            span_id: m["span_id"].as_str().unwrap_or_default().to_string(),
            name: format!("line {}", i + 1),
            start_ns: m["start_ns"].as_i64().unwrap_or(0),
            snapshot,
        };
        let expected = line["expected_output"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match replay_call(&call, o, &mut || {
            done += 1;
            progress(done, total);
        }) {
            Ok(mut r) => {
                let sims: Vec<f64> = r["runs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|x| x["status"] == "ok")
                    .map(|x| similarity(&expected, x["output"].as_str().unwrap_or_default()))
                    .collect();
                let drift = if sims.is_empty() {
                    J::Null
                } else {
                    json!(1.0 - mean(&sims))
                };
                if let Some(d) = drift.as_f64() {
                    drifts.push(d);
                }
                r["expected_output"] = json!(expected);
                r["drift"] = drift;
                r["diff"] = json!(diff(
                    &expected,
                    r["runs"][0]["output"].as_str().unwrap_or_default()
                ));
                items.push(r);
            }
            Err(e) => items.push(json!({"line": i + 1, "error": e})),
        }
    }
    let changed = drifts.iter().filter(|d| **d > 1e-9).count();
    json!({
        "items": items,
        "summary": {
            "lines": lines.len(),
            "replayed": drifts.len(),
            "changed": changed,
            "drift": spread(&drifts),
            "model": o.model,
        },
    })
}

/// Reads a dataset file (JSONL).
pub fn read_dataset(path: &Path) -> Result<Vec<J>, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

// ---- the command line -----------------------------------------------------------------------

/// `fivelens replay` and `fivelens dataset` (`argv` from the command word on).
pub fn cli(
    argv: &[String],
    db: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    let mut positional = Vec::new();
    let mut opts: std::collections::HashMap<String, String> = Default::default();
    let mut json_out = false;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == "--json" {
            json_out = true;
        } else if let Some(flag) = a.strip_prefix("--") {
            let (k, v) = match flag.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (
                    flag.to_string(),
                    it.next().ok_or(format!("--{flag} needs a value"))?.clone(),
                ),
            };
            opts.insert(k, v);
        } else {
            positional.push(a.clone());
        }
    }
    let known = [
        "span",
        "base-url",
        "model",
        "n",
        "from",
        "api-key",
        "timeout",
        "out",
        "prompt-hash",
        "stage",
        "finish-reason",
        "min-score",
        "max-score",
        "since",
        "until",
        "reason",
        "db",
    ];
    if let Some(k) = opts.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown option --{k}"));
    }
    let db = opts
        .get("db")
        .map(PathBuf::from)
        .or_else(|| db.map(Path::to_path_buf));
    let source = match opts.get("from") {
        Some(f) => Source::File(PathBuf::from(f)),
        None => Source::Store(db.unwrap_or_else(crate::config::default_store_file)),
    };
    let o = ReplayOptions {
        base_url: opts.get("base-url").cloned(),
        model: opts.get("model").cloned(),
        n: match opts.get("n") {
            Some(n) => n.parse().map_err(|_| format!("--n: not a number: {n}"))?,
            None => 1,
        },
        api_key: opts.get("api-key").cloned(),
        timeout: opts
            .get("timeout")
            .and_then(|t| t.parse::<f64>().ok())
            .map(Duration::from_secs_f64),
    };
    let mut bar = |done: usize, total: usize| {
        if total > 1 {
            let width = 30;
            let filled = done * width / total;
            let _ = write!(
                err,
                "\rreplaying [{}{}] {done}/{total}{}",
                "#".repeat(filled),
                "-".repeat(width - filled),
                if done == total { "\n" } else { "" }
            );
            let _ = err.flush();
        }
    };
    match positional.first().map(String::as_str) {
        Some("replay") => {
            let trace = positional.get(1).ok_or("replay needs a TRACE_ID")?;
            let reports = replay(
                &source,
                trace,
                opts.get("span").map(String::as_str),
                &o,
                &mut bar,
            )?;
            if json_out {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&reports).unwrap_or_default()
                );
            } else {
                for r in &reports {
                    for line in render_replay(r) {
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
            Ok(0)
        }
        Some("dataset") => match positional.get(1).map(String::as_str) {
            Some("export") => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as i64)
                    .unwrap_or(0);
                let time = |k: &str| -> Result<Option<i64>, String> {
                    opts.get(k)
                        .map(|v| parse_time(v, now).ok_or(format!("--{k}: not a time: {v}")))
                        .transpose()
                };
                let score = |k: &str| -> Result<Option<f64>, String> {
                    opts.get(k)
                        .map(|v| v.parse().map_err(|_| format!("--{k}: not a number: {v}")))
                        .transpose()
                };
                let f = DatasetFilter {
                    prompt_hash: opts.get("prompt-hash").cloned(),
                    model: opts.get("model").cloned(),
                    stage: opts.get("stage").cloned(),
                    finish_reason: opts.get("finish-reason").cloned(),
                    min_score: score("min-score")?,
                    max_score: score("max-score")?,
                    since_ns: time("since")?,
                    until_ns: time("until")?,
                    reason: opts.get("reason").cloned(),
                };
                let lines = dataset(&source, &f)?;
                let mut text = String::new();
                for l in &lines {
                    text.push_str(&l.to_string());
                    text.push('\n');
                }
                match opts.get("out") {
                    Some(path) if path != "-" => {
                        std::fs::write(path, text)
                            .map_err(|e| format!("cannot write {path}: {e}"))?;
                        let _ = writeln!(err, "{} calls written to {path}", lines.len());
                    }
                    _ => {
                        let _ = write!(out, "{text}");
                    }
                }
                Ok(0)
            }
            Some("run") => {
                let path = positional
                    .get(2)
                    .ok_or("dataset run needs a FILE (JSONL, from dataset export)")?;
                let lines = read_dataset(Path::new(path))?;
                let result = run_dataset(&lines, &o, &mut bar);
                if json_out {
                    let _ = writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&result).unwrap_or_default()
                    );
                } else {
                    for item in result["items"].as_array().into_iter().flatten() {
                        let drift = item["drift"]
                            .as_f64()
                            .map(|d| format!("{d:.3}"))
                            .unwrap_or("-".into());
                        let _ = writeln!(
                            out,
                            "{}  drift {drift}  {}",
                            item["span_id"].as_str().unwrap_or("?"),
                            item["runs"][0]["output"]
                                .as_str()
                                .unwrap_or_else(|| item["error"].as_str().unwrap_or_default())
                                .chars()
                                .take(80)
                                .collect::<String>()
                        );
                    }
                    let s = &result["summary"];
                    let _ = writeln!(
                        out,
                        "{} lines, {} replayed, {} changed, mean drift {}",
                        s["lines"],
                        s["replayed"],
                        s["changed"],
                        s["drift"]["mean"]
                            .as_f64()
                            .map(|d| format!("{d:.3}"))
                            .unwrap_or("-".into())
                    );
                }
                Ok(0)
            }
            _ => Err("dataset needs export or run".into()),
        },
        _ => Err("expected replay or dataset".into()),
    }
}

fn num(v: &J, digits: usize) -> String {
    v.as_f64()
        .map(|f| format!("{f:+.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The text view of a replay report.
pub fn render_replay(r: &J) -> Vec<String> {
    let mut out = vec![format!(
        "replay of {} span {} ({}) -> {} model {}",
        r["trace_id"].as_str().unwrap_or_default(),
        r["span_id"].as_str().unwrap_or_default(),
        r["name"].as_str().unwrap_or_default(),
        r["url"].as_str().unwrap_or_default(),
        r["model"].as_str().unwrap_or_default(),
    )];
    let side = |label: &str, o: &J| {
        format!(
            "{label}: {} {} tokens in {} out {} cost {} {:.0} ms{}",
            o["status"].as_str().unwrap_or_default(),
            o["finish_reasons"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(","))
                .unwrap_or_default(),
            o["input_tokens"]
                .as_i64()
                .map(|n| n.to_string())
                .unwrap_or("-".into()),
            o["output_tokens"]
                .as_i64()
                .map(|n| n.to_string())
                .unwrap_or("-".into()),
            o["cost_usd"]
                .as_f64()
                .map(|c| format!("${c:.6}"))
                .unwrap_or("-".into()),
            o["duration_ms"].as_f64().unwrap_or(0.0),
            o["error"]
                .as_str()
                .map(|e| format!(" error: {e}"))
                .unwrap_or_default(),
        )
    };
    out.push(side("  recorded", &r["recorded"]));
    for (i, run) in r["runs"].as_array().into_iter().flatten().enumerate() {
        out.push(side(&format!("  run {}", i + 1), run));
    }
    out.push("  diff (- recorded, + replayed):".into());
    for l in r["diff"].as_array().into_iter().flatten() {
        out.push(format!("    {}", l.as_str().unwrap_or_default()));
    }
    let c = &r["change"];
    out.push(format!(
        "  change: input tokens {}, output tokens {}, cost {}, latency {} ms",
        num(&c["input_tokens"], 1),
        num(&c["output_tokens"], 1),
        num(&c["cost_usd"], 6),
        num(&c["duration_ms"], 0)
    ));
    let v = &r["variance"];
    if v["runs"].as_u64().unwrap_or(0) > 1 {
        out.push(format!(
            "  variance over {} runs: {} distinct outputs, {} failed, similarity to recorded mean {:.3} (min {:.3}), latency stdev {:.0} ms",
            v["runs"],
            v["distinct_outputs"],
            v["failed"],
            v["similarity_to_recorded"]["mean"].as_f64().unwrap_or(0.0),
            v["similarity_to_recorded"]["min"].as_f64().unwrap_or(0.0),
            v["duration_ms"]["stdev"].as_f64().unwrap_or(0.0),
        ));
    }
    out
}

/// The bindings' entry point: `{trace_id, span_id?, from?, db?, base_url?, model?, n?, api_key?,
/// timeout?}` to the reports.
pub fn replay_json(o: &J) -> Result<J, String> {
    let trace = o["trace_id"].as_str().ok_or("trace_id is required")?;
    let source = Source::new(o["from"].as_str(), o["db"].as_str());
    let reports = replay(
        &source,
        trace,
        o["span_id"].as_str(),
        &ReplayOptions::from_json(o),
        &mut |_, _| {},
    )?;
    Ok(J::Array(reports))
}

/// The bindings' entry point for `dataset export`: `{from?, db?, prompt_hash?, model?, stage?,
/// finish_reason?, min_score?, max_score?, since?, until?, reason?, out?}` to the lines (also
/// written to `out`, JSONL, when given).
pub fn dataset_json(o: &J) -> Result<J, String> {
    let source = Source::new(o["from"].as_str(), o["db"].as_str());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let time = |k: &str| -> Result<Option<i64>, String> {
        match &o[k] {
            J::Null => Ok(None),
            J::Number(n) => Ok(n.as_f64().map(|s| (s * 1e9) as i64)),
            J::String(s) => parse_time(s, now)
                .map(Some)
                .ok_or(format!("{k}: not a time: {s}")),
            _ => Err(format!("{k}: not a time")),
        }
    };
    let string = |k: &str| o[k].as_str().map(str::to_string);
    let f = DatasetFilter {
        prompt_hash: string("prompt_hash"),
        model: string("model"),
        stage: string("stage"),
        finish_reason: string("finish_reason"),
        min_score: o["min_score"].as_f64(),
        max_score: o["max_score"].as_f64(),
        since_ns: time("since")?,
        until_ns: time("until")?,
        reason: string("reason"),
    };
    let lines = dataset(&source, &f)?;
    if let Some(path) = o["out"].as_str() {
        let mut text = String::new();
        for l in &lines {
            text.push_str(&l.to_string());
            text.push('\n');
        }
        std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    Ok(J::Array(lines))
}

/// The bindings' entry point for `dataset run`: `{path | lines, base_url?, model?, n?, api_key?,
/// timeout?}` to the drift report.
pub fn run_dataset_json(o: &J) -> Result<J, String> {
    let lines = match (&o["lines"], o["path"].as_str()) {
        (J::Array(lines), _) => lines.clone(),
        (_, Some(p)) => read_dataset(Path::new(p))?,
        _ => return Err("path or lines is required".into()),
    };
    Ok(run_dataset(
        &lines,
        &ReplayOptions::from_json(o),
        &mut |_, _| {},
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_marks_both_sides() {
        assert_eq!(diff("a\nb\nc", "a\nx\nc"), vec!["  a", "- b", "+ x", "  c"]);
        assert_eq!(diff("", "new"), vec!["+ new"]);
    }

    #[test]
    fn streams_are_assembled() {
        let sse = "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"he\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"llo\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n";
        let body = assemble_stream("openai.chat", sse);
        assert_eq!(body["choices"][0]["message"]["content"], "hello");
        let o = read_response("openai.chat", "openai", "m", &body, &PriceTable::default());
        assert_eq!(o.output, "hello");
        assert_eq!(o.output_tokens, Some(2));
        let sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"x\",\"model\":\"c\",\"content\":[],\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\n\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n";
        let body = assemble_stream("anthropic.messages", sse);
        let o = read_response(
            "anthropic.messages",
            "anthropic",
            "c",
            &body,
            &PriceTable::default(),
        );
        assert_eq!(o.output, "hi");
        assert_eq!(o.output_tokens, Some(5));
        assert_eq!(o.finish_reasons, vec!["end_turn".to_string()]);
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1970-01-02", 0), Some(86_400 * 1_000_000_000));
        assert_eq!(
            parse_time("2026-01-01T00:00:00Z", 0),
            Some(1_767_225_600 * 1_000_000_000)
        );
        assert_eq!(
            parse_time("2h", 10 * 3_600_000_000_000),
            Some(8 * 3_600_000_000_000)
        );
    }
}
