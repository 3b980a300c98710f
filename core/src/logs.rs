//! The logs lens: log records through the same pipeline as spans.
//!
//! ```text
//!  host logging (Python logging / structlog,     processing thread
//!  Node console / pino / winston), evaluations   ─────────────────────────────────────────────
//!  ──submit_log (never blocks)──> [ log queue ] ──> LogStage: redact body and string
//!                                                   attributes (the spans' redaction stage),
//!  kept spans ──derive──> inference details,        cut fields and records to size (marked),
//!                         journal entries ────────> per-trace budget (counted)
//!                                                   ──> store (logs table) ──> `fivelens logs`
//!                                                   ──> OTLP logs exporter
//! ```
//!
//! Records the app logs are kept independently of the tail sampler's decision on their trace,
//! under their own level filter and the per-trace budget: a warning or an error is the evidence
//! one wants most when the trace itself was sampled out, and holding every record until its
//! trace's root ends would delay logs by the length of an agent run and double the memory the
//! sampler holds. Records derived from spans (the `gen_ai.client.inference.operation.details`
//! event, the reasoning journal sent to logs) are built from kept spans only: they are the spans'
//! content, and follow their decision.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use rustc_hash::FxHashMap;

use crate::ids::{SpanId, TraceId};
use crate::key::Key;
use crate::record::SpanRecord;
use crate::semconv as sc;
use crate::stats::Stats;
use crate::value::{floor_char_boundary, KeyValue, Value, ValueRef};

/// OpenTelemetry severity numbers of the level names (the first of each range).
pub mod severity {
    /// TRACE.
    pub const TRACE: u8 = 1;
    /// DEBUG.
    pub const DEBUG: u8 = 5;
    /// INFO.
    pub const INFO: u8 = 9;
    /// WARN.
    pub const WARN: u8 = 13;
    /// ERROR.
    pub const ERROR: u8 = 17;
    /// FATAL.
    pub const FATAL: u8 = 21;
}

/// The severity number of a level name (`trace`, `debug`, `info`, `warn`/`warning`, `error`,
/// `fatal`/`critical`, any case), or of a number 1 to 24; `off` is 25 (above every record).
pub fn parse_level(level: &str) -> Option<u8> {
    let l = level.trim().to_ascii_lowercase();
    Some(match l.as_str() {
        "trace" | "verbose" | "silly" => severity::TRACE,
        "debug" => severity::DEBUG,
        "info" | "log" | "http" | "notice" => severity::INFO,
        "warn" | "warning" => severity::WARN,
        "error" | "err" | "exception" => severity::ERROR,
        "fatal" | "critical" | "crit" | "alert" | "emerg" => severity::FATAL,
        "off" | "none" => 25,
        _ => return l.parse::<u8>().ok().filter(|n| (1..=24).contains(n)),
    })
}

/// The usual text of a severity number.
pub fn severity_text(n: u8) -> &'static str {
    match n {
        0 => "",
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        _ => "FATAL",
    }
}

/// One log record, built by a binding (or derived from a span on the processing thread) and
/// moved through the log queue.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When it happened, ns since the Unix epoch.
    pub time_ns: u64,
    /// When fivelens saw it.
    pub observed_ns: u64,
    /// OpenTelemetry severity number (1 to 24; 0 unspecified).
    pub severity: u8,
    /// The host's level name (`WARNING`, `warn`, ...).
    pub severity_text: Box<str>,
    /// The message.
    pub body: Box<str>,
    /// The event name, for records that are events (`gen_ai.evaluation.result`, ...).
    pub event_name: Option<Box<str>>,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
    /// The trace it was logged in (zero outside any).
    pub trace_id: TraceId,
    /// The span it was logged in (zero outside any).
    pub span_id: SpanId,
    /// W3C trace flags of that span.
    pub flags: u8,
    /// Instrumentation scope: the logger's name, or the integration's.
    pub scope: Option<Key>,
}

impl LogRecord {
    /// A record now, outside any trace.
    pub fn new(severity: u8, body: &str) -> LogRecord {
        let now = crate::record::now_ns();
        LogRecord {
            time_ns: now,
            observed_ns: now,
            severity,
            severity_text: severity_text(severity).into(),
            body: body.into(),
            event_name: None,
            attributes: Vec::new(),
            trace_id: TraceId(0),
            span_id: SpanId(0),
            flags: 0,
            scope: None,
        }
    }

    /// Ties the record to a span.
    pub fn in_span(mut self, trace_id: TraceId, span_id: SpanId, sampled: bool) -> LogRecord {
        self.trace_id = trace_id;
        self.span_id = span_id;
        self.flags = u8::from(sampled);
        self
    }

    /// The value of an attribute.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// Sets (or replaces) an attribute.
    pub fn set_attribute(&mut self, key: Key, value: Value) {
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key, value)),
        }
    }

    /// Approximate size in bytes (body, names and values): what the limits and budgets count.
    pub fn size(&self) -> usize {
        self.body.len()
            + self.event_name.as_deref().map_or(0, str::len)
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.as_str().len() + v.byte_len())
                .sum::<usize>()
    }
}

/// Hands a record to the running pipeline (never blocks; nothing happens when fivelens is not
/// configured or is disabled).
pub fn submit(record: LogRecord) {
    if !crate::global::is_recording() {
        return;
    }
    if let Some(p) = crate::global::current() {
        p.submit_log(record);
    }
}

/// What the processing thread does to log records, from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct LogSettings {
    /// Largest body or attribute value, bytes; longer ones are cut and marked.
    pub max_field_bytes: usize,
    /// Largest record (body plus attributes), bytes.
    pub max_record_bytes: usize,
    /// Bytes of log records one trace may produce (0: unbounded); records past it are dropped
    /// and counted, and one marker record says so.
    pub trace_budget_bytes: usize,
    /// Tool call arguments and results (on spans and records) are cut to this, bytes.
    pub max_tool_io_bytes: usize,
    /// Emit the `gen_ai.client.inference.operation.details` event for model calls.
    pub inference_events: bool,
    /// Send the agent's reasoning journal to logs instead of span events.
    pub journal_to_logs: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            max_field_bytes: 16 * 1024,
            max_record_bytes: 64 * 1024,
            trace_budget_bytes: 1024 * 1024,
            max_tool_io_bytes: 16 * 1024,
            inference_events: false,
            journal_to_logs: false,
        }
    }
}

/// Traces whose budget is tracked at once (the oldest are forgotten first).
const BUDGET_TRACES: usize = 8192;

/// The text that replaces the end of a cut value.
fn marker(dropped: usize) -> String {
    format!("…[truncated {dropped} bytes]")
}

/// Cuts `text` to at most `max` bytes, the marker included; JSON content keeps its structure.
fn cut_text(key: Option<&str>, text: &str, max: usize) -> Option<String> {
    if text.len() <= max {
        return None;
    }
    if key.is_some_and(|k| sc::CONTENT_KEYS.contains(&k)) {
        return crate::llm::truncate_content(text, max);
    }
    let keep = floor_char_boundary(text, max.saturating_sub(32));
    Some(format!("{}{}", &text[..keep], marker(text.len() - keep)))
}

/// Attributes that are identifiers, not content: never redacted.
const NOT_CONTENT: &[&str] = &[sc::USER_HASH, sc::FIVELENS_LOG_SOURCE];

/// The processing thread's log step: redaction, size limits, the per-trace budget.
#[derive(Default)]
pub struct LogStage {
    settings: LogSettings,
    used: FxHashMap<TraceId, (usize, bool)>,
    order: VecDeque<TraceId>,
}

impl LogStage {
    /// A stage with `settings`.
    pub fn new(settings: LogSettings) -> LogStage {
        LogStage {
            settings,
            used: FxHashMap::default(),
            order: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &LogSettings {
        &self.settings
    }

    /// Redacts, cuts and budgets `records` in place; records over their trace's budget are
    /// removed (and counted), and a trace's first such drop adds one marker record.
    pub fn process(
        &mut self,
        records: &mut Vec<LogRecord>,
        mut redact: Option<&mut crate::redact::Stage>,
        stats: &Stats,
    ) {
        let mut markers = Vec::new();
        records.retain_mut(|r| {
            if let Some(stage) = redact.as_deref_mut() {
                redact_record(stage, r, stats);
            }
            self.limit(r, stats);
            self.budget(r, stats, &mut markers)
        });
        records.extend(markers);
    }

    fn limit(&self, r: &mut LogRecord, stats: &Stats) {
        let mut cut: Vec<Box<str>> = Vec::new();
        let field = self.settings.max_field_bytes.max(64);
        if let Some(short) = cut_text(None, &r.body, field) {
            r.body = short.into();
            cut.push("body".into());
        }
        for (k, v) in r.attributes.iter_mut() {
            let max = if k.as_str() == sc::GEN_AI_TOOL_CALL_ARGUMENTS
                || k.as_str() == sc::GEN_AI_TOOL_CALL_RESULT
            {
                field.min(self.settings.max_tool_io_bytes.max(64))
            } else {
                field
            };
            if let Value::Str(s) = v {
                if let Some(short) = cut_text(Some(k.as_str()), s, max) {
                    *v = Value::Str(short.into());
                    cut.push(k.as_str().into());
                }
            } else if v.truncate_to(max) {
                cut.push(k.as_str().into());
            }
        }
        // The whole record: the longest fields give way first.
        let limit = self.settings.max_record_bytes.max(256);
        for _ in 0..16 {
            let size = r.size();
            if size <= limit {
                break;
            }
            let over = size - limit;
            let body_len = r.body.len();
            let longest = r
                .attributes
                .iter()
                .enumerate()
                .filter_map(|(i, (_, v))| match v {
                    Value::Str(s) => Some((i, s.len())),
                    _ => None,
                })
                .max_by_key(|(_, n)| *n);
            match longest {
                Some((i, n)) if n > body_len => {
                    let (k, v) = &mut r.attributes[i];
                    let target = n.saturating_sub(over + 64).max(64);
                    if let Value::Str(s) = v {
                        if let Some(short) = cut_text(Some(k.as_str()), s, target) {
                            if short.len() >= s.len() {
                                break;
                            }
                            *v = Value::Str(short.into());
                            let name: Box<str> = k.as_str().into();
                            if !cut.contains(&name) {
                                cut.push(name);
                            }
                        }
                    }
                }
                _ if body_len > 64 => {
                    let target = body_len.saturating_sub(over + 64).max(64);
                    match cut_text(None, &r.body, target) {
                        Some(short) if short.len() < body_len => {
                            r.body = short.into();
                            if !cut.iter().any(|c| &**c == "body") {
                                cut.push("body".into());
                            }
                        }
                        _ => break,
                    }
                }
                _ => break,
            }
        }
        if !cut.is_empty() {
            stats.logs_truncated.fetch_add(1, Ordering::Relaxed);
            r.set_attribute(
                Key::new(sc::FIVELENS_TRUNCATED),
                Value::StrArray(cut.into()),
            );
        }
    }

    fn budget(&mut self, r: &LogRecord, stats: &Stats, markers: &mut Vec<LogRecord>) -> bool {
        let budget = self.settings.trace_budget_bytes;
        if budget == 0 || !r.trace_id.is_valid() {
            return true;
        }
        if !self.used.contains_key(&r.trace_id) {
            if self.order.len() >= BUDGET_TRACES {
                if let Some(old) = self.order.pop_front() {
                    self.used.remove(&old);
                }
            }
            self.order.push_back(r.trace_id);
        }
        let entry = self.used.entry(r.trace_id).or_insert((0, false));
        let size = r.size();
        // Once a trace has overrun its budget, everything later is dropped (no holes).
        if !entry.1 && entry.0 + size <= budget {
            entry.0 += size;
            return true;
        }
        stats.logs_dropped_budget.fetch_add(1, Ordering::Relaxed);
        if !entry.1 {
            entry.1 = true;
            let mut m = LogRecord::new(
                severity::WARN,
                &format!(
                    "fivelens: this trace has logged its budget of {budget} bytes; its later records are dropped"
                ),
            )
            .in_span(r.trace_id, r.span_id, r.flags & 1 == 1);
            m.time_ns = r.time_ns;
            m.event_name = Some(sc::FIVELENS_EVENT_LOGS_BUDGET_EXHAUSTED.into());
            m.scope = Some(Key::new(crate::export::encode::DEFAULT_SCOPE));
            m.attributes.push((
                Key::new(sc::FIVELENS_LOGS_BUDGET_BYTES),
                Value::I64(budget as i64),
            ));
            markers.push(m);
        }
        false
    }
}

/// Redacts the body and every string attribute (logs are content) with the spans' stage, so an
/// indexed placeholder means the same value in a trace's spans and its records.
fn redact_record(stage: &mut crate::redact::Stage, r: &mut LogRecord, stats: &Stats) {
    let trace = r.trace_id;
    let mut counts = crate::redact::Counts::new();
    if let Some(out) = stage.redact_text(trace, &r.body, &mut counts, stats) {
        r.body = out.into();
    }
    for (k, v) in r.attributes.iter_mut() {
        if NOT_CONTENT.contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::Str(s) => {
                if let Some(out) = stage.redact_text(trace, s, &mut counts, stats) {
                    *v = Value::Str(out.into());
                }
            }
            Value::StrArray(items) => {
                let mut changed = false;
                let new: Vec<Box<str>> = items
                    .iter()
                    .map(|s| match stage.redact_text(trace, s, &mut counts, stats) {
                        Some(out) => {
                            changed = true;
                            out.into()
                        }
                        None => s.clone(),
                    })
                    .collect();
                if changed {
                    *v = Value::StrArray(new.into());
                }
            }
            _ => {}
        }
    }
    for (kind, n) in counts {
        let key = format!(
            "{}{}",
            sc::FIVELENS_REDACTION_PREFIX,
            kind.to_ascii_lowercase()
        );
        r.set_attribute(Key::new(&key), Value::I64(i64::from(n)));
    }
}

/// Cuts tool call arguments and results on a span to `max` bytes, marked, and lists them in
/// `fivelens.truncated` (on the processing thread, after the content stage).
pub fn cut_tool_io(r: &mut SpanRecord, max: usize) {
    let limits = crate::record::Limits {
        max_attributes: usize::MAX,
        max_attribute_bytes: usize::MAX,
        ..crate::record::Limits::current()
    };
    let mut cut = false;
    for key in [sc::GEN_AI_TOOL_CALL_ARGUMENTS, sc::GEN_AI_TOOL_CALL_RESULT] {
        let short = match r.attribute(key) {
            Some(ValueRef::Str(v)) => cut_text(None, v, max.max(64)),
            _ => None,
        };
        if let Some(short) = short {
            let k = Key::new(key);
            r.set_str(k.clone(), &short, &limits);
            if !r.truncated.contains(&k) {
                r.truncated.push(k);
            }
            cut = true;
        }
    }
    if cut {
        let names: Vec<Box<str>> = r.truncated.iter().map(|k| k.as_str().into()).collect();
        r.set_attribute_ref(
            Key::new(sc::FIVELENS_TRUNCATED),
            ValueRef::Array(&Value::StrArray(names.into())),
            &limits,
        );
    }
}

/// Attributes of a model-call span that the inference details event carries (the conventions:
/// the span's request, response and usage attributes, and the content ones).
fn is_details_attribute(key: &str) -> bool {
    (key.starts_with("gen_ai.") && !key.starts_with("gen_ai.client."))
        || key.starts_with("openai.")
        || key == sc::SERVER_ADDRESS
        || key == sc::SERVER_PORT
        || key == sc::ERROR_TYPE
}

/// Log records derived from a kept span: the inference details event of a model call (when
/// `inference_events`), and its reasoning journal entries (when `journal_to_logs`, taking them
/// off the span).
pub fn derive(r: &mut SpanRecord, settings: &LogSettings, out: &mut Vec<LogRecord>) {
    let sampled = r.trace_flags() == 1;
    if settings.journal_to_logs
        && r.events
            .iter()
            .any(|e| &*e.name == sc::FIVELENS_EVENT_AGENT_STEP)
    {
        let mut kept = Vec::with_capacity(r.events.len());
        for e in std::mem::take(&mut r.events) {
            if &*e.name != sc::FIVELENS_EVENT_AGENT_STEP {
                kept.push(e);
                continue;
            }
            let body = e
                .attributes
                .iter()
                .find(|(k, _)| k.as_str() == sc::FIVELENS_STEP_CONTENT)
                .and_then(|(_, v)| match v {
                    Value::Str(s) => Some(s.to_string()),
                    _ => None,
                })
                .unwrap_or_default();
            let mut l =
                LogRecord::new(severity::INFO, &body).in_span(r.trace_id, r.span_id, sampled);
            l.time_ns = e.time_ns;
            l.event_name = Some(e.name.clone());
            l.scope = r.instrumentation.clone();
            l.attributes = e
                .attributes
                .into_iter()
                .filter(|(k, _)| k.as_str() != sc::FIVELENS_STEP_CONTENT)
                .collect();
            copy_correlation(r, &mut l);
            out.push(l);
        }
        r.events = kept;
    }
    if settings.inference_events && crate::llm::is_model_call(r) {
        let mut l = LogRecord::new(
            if matches!(r.status, crate::record::Status::Error(_)) {
                severity::WARN
            } else {
                severity::INFO
            },
            "",
        )
        .in_span(r.trace_id, r.span_id, sampled);
        l.time_ns = r.end_ns;
        l.event_name = Some(sc::EVENT_INFERENCE_DETAILS.into());
        l.scope = r.instrumentation.clone();
        l.attributes = r
            .payload
            .iter()
            .filter(|(k, _)| is_details_attribute(k.as_str()))
            .map(|(k, v)| (k.clone(), v.to_owned()))
            .collect();
        copy_correlation(r, &mut l);
        out.push(l);
    }
}

/// The session and hashed user of the span, on a record derived from it.
fn copy_correlation(r: &SpanRecord, l: &mut LogRecord) {
    for key in [sc::SESSION_ID, sc::USER_HASH] {
        if let Some(v) = r.attribute(key) {
            if l.attribute(key).is_none() {
                l.attributes.push((Key::new(key), v.to_owned()));
            }
        }
    }
}

/// A structured value for a content attribute that holds JSON (the conventions want messages
/// structured on events), else `None`.
pub fn structured(key: &str, value: &Value) -> Option<serde_json::Value> {
    if !sc::CONTENT_KEYS.contains(&key) {
        return None;
    }
    let Value::Str(s) = value else { return None };
    let t = s.trim_start();
    if !(t.starts_with('[') || t.starts_with('{')) {
        return None;
    }
    serde_json::from_str(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(body: &str, trace: u128) -> LogRecord {
        LogRecord::new(severity::INFO, body).in_span(TraceId(trace), SpanId(7), true)
    }

    #[test]
    fn levels_parse() {
        assert_eq!(parse_level("WARNING"), Some(severity::WARN));
        assert_eq!(parse_level("critical"), Some(severity::FATAL));
        assert_eq!(parse_level("17"), Some(17));
        assert_eq!(parse_level("loud"), None);
        assert_eq!(parse_level("off"), Some(25));
    }

    #[test]
    fn fields_and_records_are_cut_and_marked() {
        let stats = Stats::default();
        let mut stage = LogStage::new(LogSettings {
            max_field_bytes: 1000,
            max_record_bytes: 1500,
            ..LogSettings::default()
        });
        let mut r = rec(&"b".repeat(5000), 1);
        r.attributes
            .push((Key::new("a"), Value::from("x".repeat(900))));
        r.attributes.push((Key::new("small"), Value::from("keep")));
        let mut v = vec![r];
        stage.process(&mut v, None, &stats);
        let r = &v[0];
        assert!(r.body.len() <= 1000, "{}", r.body.len());
        assert!(
            r.body.contains("…[truncated "),
            "{}",
            &r.body[r.body.len() - 40..]
        );
        assert!(r.size() <= 1500 + 64, "{}", r.size());
        assert_eq!(r.attribute("small"), Some(&Value::from("keep")));
        let Some(Value::StrArray(cut)) = r.attribute(sc::FIVELENS_TRUNCATED) else {
            panic!("no marker attribute: {r:?}")
        };
        assert!(cut.iter().any(|c| &**c == "body"));
        assert_eq!(stats.logs_truncated.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_budget_stops_a_flood_and_says_so_once() {
        let stats = Stats::default();
        let mut stage = LogStage::new(LogSettings {
            trace_budget_bytes: 1000,
            ..LogSettings::default()
        });
        let mut v: Vec<LogRecord> = (0..100).map(|i| rec(&format!("{i:0>99}"), 5)).collect();
        v.push(rec("another trace", 6));
        stage.process(&mut v, None, &stats);
        let in_flood: Vec<&LogRecord> = v.iter().filter(|r| r.trace_id == TraceId(5)).collect();
        // 10 records of 100 bytes fit, then one marker.
        assert_eq!(in_flood.len(), 11, "{}", in_flood.len());
        let markers: Vec<_> = in_flood
            .iter()
            .filter(|r| r.event_name.as_deref() == Some(sc::FIVELENS_EVENT_LOGS_BUDGET_EXHAUSTED))
            .collect();
        assert_eq!(markers.len(), 1);
        assert_eq!(stats.logs_dropped_budget.load(Ordering::Relaxed), 90);
        assert!(v.iter().any(|r| r.trace_id == TraceId(6)));
        // Later batches of the same trace stay dropped, with no second marker.
        let mut more = vec![rec("late", 5)];
        stage.process(&mut more, None, &stats);
        assert!(more.is_empty());
    }

    #[test]
    fn redaction_covers_body_and_string_attributes() {
        let stats = Stats::default();
        let mut redact = crate::redact::Stage::new(crate::redact::Redactor::default_shared());
        let mut stage = LogStage::new(LogSettings::default());
        let mut r = rec("mail a.b@example.com now", 1);
        r.attributes
            .push((Key::new("card"), Value::from("4111 1111 1111 1111")));
        r.attributes
            .push((Key::new(sc::USER_HASH), Value::from("abc")));
        let mut v = vec![r];
        stage.process(&mut v, Some(&mut redact), &stats);
        assert_eq!(&*v[0].body, "mail <EMAIL> now");
        assert_eq!(v[0].attribute("card"), Some(&Value::from("<CREDIT_CARD>")));
        assert_eq!(
            v[0].attribute("fivelens.redaction.email"),
            Some(&Value::I64(1))
        );
    }

    #[test]
    fn journal_and_details_derive_from_a_span() {
        let mut s = SpanRecord::start("chat gpt-4o", crate::SpanKind::Client, None);
        s.set_attribute(Key::new(sc::GEN_AI_OPERATION_NAME), Value::from("chat"));
        s.set_attribute(Key::new(sc::GEN_AI_REQUEST_MODEL), Value::from("gpt-4o"));
        s.set_attribute(
            Key::new(sc::GEN_AI_INPUT_MESSAGES),
            Value::from(r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#),
        );
        s.set_attribute(Key::new("app.other"), Value::from("x"));
        s.add_event(
            sc::FIVELENS_EVENT_AGENT_STEP,
            None,
            vec![
                (Key::new(sc::FIVELENS_STEP_KIND), Value::from("thought")),
                (
                    Key::new(sc::FIVELENS_STEP_CONTENT),
                    Value::from("look it up"),
                ),
            ],
        );
        s.add_event("other", None, Vec::new());
        s.end_at(None);
        let mut out = Vec::new();
        derive(
            &mut s,
            &LogSettings {
                inference_events: true,
                journal_to_logs: true,
                ..LogSettings::default()
            },
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(&*out[0].body, "look it up");
        assert_eq!(out[0].span_id, s.span_id);
        assert_eq!(s.events.len(), 1, "the journal left the span");
        let details = &out[1];
        assert_eq!(
            details.event_name.as_deref(),
            Some(sc::EVENT_INFERENCE_DETAILS)
        );
        assert!(details.attribute(sc::GEN_AI_INPUT_MESSAGES).is_some());
        assert!(details.attribute("app.other").is_none());
        assert!(structured(
            sc::GEN_AI_INPUT_MESSAGES,
            details.attribute(sc::GEN_AI_INPUT_MESSAGES).unwrap()
        )
        .is_some());
    }

    #[test]
    fn tool_io_is_cut_on_spans() {
        let mut s = SpanRecord::start("execute_tool t", crate::SpanKind::Internal, None);
        s.set_attribute(
            Key::new(sc::GEN_AI_TOOL_CALL_RESULT),
            Value::from("r".repeat(5000)),
        );
        cut_tool_io(&mut s, 1000);
        let Some(ValueRef::Str(v)) = s.attribute(sc::GEN_AI_TOOL_CALL_RESULT) else {
            panic!()
        };
        assert!(v.len() <= 1000 && v.ends_with("bytes]"), "{}", v.len());
        assert!(s.attribute(sc::FIVELENS_TRUNCATED).is_some());
    }
}
