//! The span record: one owned, compact value per span, built by the caller's thread and handed
//! to the pipeline when the span ends.
//!
//! A record holds up to eight attributes inline, so a typical span is one allocation (the boxed
//! record) plus its string values. Keys are interned ([`crate::key`]). Size limits are applied as
//! attributes are set, so a record never grows past [`Limits`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use smallvec::SmallVec;

use crate::ids::{SpanId, TraceId};
use crate::key::Key;
use crate::scope::TraceScope;
use crate::semconv;
use crate::value::{KeyValue, Value};

/// OpenTelemetry span kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum SpanKind {
    /// In-process operation.
    #[default]
    Internal = 1,
    /// Handles a remote request.
    Server = 2,
    /// Makes a remote request.
    Client = 3,
    /// Sends a message.
    Producer = 4,
    /// Receives a message.
    Consumer = 5,
}

impl SpanKind {
    /// Parses `internal`, `server`, `client`, `producer`, `consumer` (any case).
    pub fn parse(s: &str) -> Option<SpanKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "internal" => SpanKind::Internal,
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => return None,
        })
    }
    /// From the OTLP / OpenTelemetry API number (`0`, unspecified, becomes internal).
    pub fn from_otlp(n: i64) -> SpanKind {
        match n {
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Internal,
        }
    }
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// Span status.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Status {
    /// Not set.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed, with a description.
    Error(Box<str>),
}

impl Status {
    /// OTLP status code number.
    pub fn code(&self) -> i32 {
        match self {
            Status::Unset => 0,
            Status::Ok => 1,
            Status::Error(_) => 2,
        }
    }
}

/// A timestamped event on a span.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Event name.
    pub name: Box<str>,
    /// Time in nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
}

/// A link to another span.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Linked trace.
    pub trace_id: TraceId,
    /// Linked span.
    pub span_id: SpanId,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
}

/// Where a span's parent is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Parent {
    /// Trace of the parent.
    pub trace_id: TraceId,
    /// The parent span.
    pub span_id: SpanId,
    /// Parent arrived from another process (W3C `traceparent`).
    pub remote: bool,
    /// W3C trace flags of the parent.
    pub flags: u8,
}

/// Bits of [`SpanRecord::flags`].
pub mod flags {
    /// Recorded from the host's own OpenTelemetry SDK: goes to the local store only, since the
    /// host's pipeline exports it already (never exported twice).
    pub const STORE_ONLY: u8 = 1;
    /// A model or tool call: dropped last when the queue is full.
    pub const PRIORITY: u8 = 2;
    /// W3C sampled flag of the trace.
    pub const SAMPLED: u8 = 4;
}

/// A finished (or in-progress) span.
#[derive(Clone, Debug)]
pub struct SpanRecord {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id, zero for a root.
    pub parent_span_id: SpanId,
    /// The parent came from another process.
    pub parent_remote: bool,
    /// W3C tracestate, passed through.
    pub trace_state: Option<Box<str>>,
    /// Span name.
    pub name: Box<str>,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, nanoseconds since the Unix epoch (zero while open).
    pub end_ns: u64,
    /// Attributes, in the order set; keys are unique.
    pub attributes: SmallVec<[KeyValue; 8]>,
    /// Events.
    pub events: Vec<Event>,
    /// Links.
    pub links: Vec<Link>,
    /// Status.
    pub status: Status,
    /// Trace-scoped attributes in force when the span started (stamped at export).
    pub scope: Option<Arc<TraceScope>>,
    /// Instrumentation scope name (`fivelens` for user spans, the integration's name otherwise).
    pub instrumentation: Option<Key>,
    /// [`flags`] bits.
    pub flags: u8,
    /// Attributes refused by the count limit.
    pub dropped_attributes: u32,
    /// Events refused by the count limit.
    pub dropped_events: u32,
    /// Links refused by the count limit.
    pub dropped_links: u32,
    /// Keys whose values were truncated.
    pub truncated: Vec<Key>,
}

/// Per-span size limits, set from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest attribute value in bytes; longer values are cut and listed in `fivelens.truncated`.
    pub max_attribute_bytes: usize,
    /// Most attributes on one span.
    pub max_attributes: usize,
    /// Most events on one span.
    pub max_events: usize,
    /// Most links on one span.
    pub max_links: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attribute_bytes: 128 * 1024,
            max_attributes: 128,
            max_events: 128,
            max_links: 128,
        }
    }
}

static MAX_ATTRIBUTE_BYTES: AtomicUsize = AtomicUsize::new(128 * 1024);
static MAX_ATTRIBUTES: AtomicUsize = AtomicUsize::new(128);
static MAX_EVENTS: AtomicUsize = AtomicUsize::new(128);
static MAX_LINKS: AtomicUsize = AtomicUsize::new(128);

impl Limits {
    /// The limits currently in force.
    pub fn current() -> Limits {
        Limits {
            max_attribute_bytes: MAX_ATTRIBUTE_BYTES.load(Ordering::Relaxed),
            max_attributes: MAX_ATTRIBUTES.load(Ordering::Relaxed),
            max_events: MAX_EVENTS.load(Ordering::Relaxed),
            max_links: MAX_LINKS.load(Ordering::Relaxed),
        }
    }
    /// Makes these the limits in force.
    pub fn install(self) {
        MAX_ATTRIBUTE_BYTES.store(self.max_attribute_bytes, Ordering::Relaxed);
        MAX_ATTRIBUTES.store(self.max_attributes, Ordering::Relaxed);
        MAX_EVENTS.store(self.max_events, Ordering::Relaxed);
        MAX_LINKS.store(self.max_links, Ordering::Relaxed);
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl SpanRecord {
    /// Starts a span now: a new trace when `parent` is `None`, a child otherwise.
    pub fn start(name: &str, kind: SpanKind, parent: Option<Parent>) -> SpanRecord {
        let (trace_id, parent_span_id, parent_remote, sampled) = match parent {
            Some(p) if p.trace_id.is_valid() => (p.trace_id, p.span_id, p.remote, p.flags & 1 == 1),
            _ => (TraceId::random(), SpanId(0), false, true),
        };
        SpanRecord {
            trace_id,
            span_id: SpanId::random(),
            parent_span_id,
            parent_remote,
            trace_state: None,
            name: name.into(),
            kind,
            start_ns: now_ns(),
            end_ns: 0,
            attributes: SmallVec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
            scope: None,
            instrumentation: None,
            flags: if sampled { flags::SAMPLED } else { 0 },
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
            truncated: Vec::new(),
        }
    }

    /// Whether the span has ended.
    pub fn is_ended(&self) -> bool {
        self.end_ns != 0
    }

    /// W3C trace flags for propagation.
    pub fn trace_flags(&self) -> u8 {
        u8::from(self.flags & flags::SAMPLED != 0)
    }

    /// Sets (or replaces) an attribute under `limits`.
    pub fn set_attribute_with(&mut self, key: Key, mut value: Value, limits: &Limits) {
        if value.truncate_to(limits.max_attribute_bytes) && !self.truncated.contains(&key) {
            self.truncated.push(key.clone());
        }
        if let Some(slot) = self.attributes.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
            return;
        }
        if self.attributes.len() >= limits.max_attributes {
            self.dropped_attributes = self.dropped_attributes.saturating_add(1);
            return;
        }
        self.attributes.push((key, value));
    }

    /// Sets an attribute under the limits in force.
    pub fn set_attribute(&mut self, key: Key, value: Value) {
        self.set_attribute_with(key, value, &Limits::current());
    }

    /// The value of an attribute, if set.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// Adds an event (its attribute values are truncated like span attributes).
    pub fn add_event(&mut self, name: &str, time_ns: Option<u64>, attributes: Vec<KeyValue>) {
        let limits = Limits::current();
        if self.events.len() >= limits.max_events {
            self.dropped_events = self.dropped_events.saturating_add(1);
            return;
        }
        let attributes = cap_attributes(attributes, &limits);
        self.events.push(Event {
            name: name.into(),
            time_ns: time_ns.unwrap_or_else(now_ns),
            attributes,
        });
    }

    /// Adds a link.
    pub fn add_link(&mut self, trace_id: TraceId, span_id: SpanId, attributes: Vec<KeyValue>) {
        let limits = Limits::current();
        if self.links.len() >= limits.max_links || !trace_id.is_valid() || !span_id.is_valid() {
            self.dropped_links = self.dropped_links.saturating_add(1);
            return;
        }
        let attributes = cap_attributes(attributes, &limits);
        self.links.push(Link {
            trace_id,
            span_id,
            attributes,
        });
    }

    /// Records an exception as OpenTelemetry does: an `exception` event, status ERROR with the
    /// message, and `error.type` set to the exception type unless already set.
    pub fn record_exception(&mut self, type_name: &str, message: &str, stacktrace: Option<&str>) {
        let mut attrs: Vec<KeyValue> = vec![
            (Key::new(semconv::EXCEPTION_TYPE), Value::from(type_name)),
            (Key::new(semconv::EXCEPTION_MESSAGE), Value::from(message)),
        ];
        if let Some(st) = stacktrace {
            attrs.push((Key::new(semconv::EXCEPTION_STACKTRACE), Value::from(st)));
        }
        self.add_event(semconv::EXCEPTION_EVENT, None, attrs);
        if self.attribute(semconv::ERROR_TYPE).is_none() {
            self.set_attribute(Key::new(semconv::ERROR_TYPE), Value::from(type_name));
        }
        self.status = Status::Error(message.into());
    }

    /// Sets the status; an `Ok` is final, and `Unset` never overrides what is set (OTel rule).
    pub fn set_status(&mut self, status: Status) {
        match (&self.status, &status) {
            (Status::Ok, _) | (_, Status::Unset) => {}
            _ => self.status = status,
        }
    }

    /// Ends the span at `end_ns` (now when `None`); ending twice keeps the first end time.
    pub fn end_at(&mut self, end_ns: Option<u64>) {
        if self.is_ended() {
            return;
        }
        let end = end_ns.unwrap_or_else(now_ns);
        self.end_ns = end.max(self.start_ns);
        if self.is_priority() {
            self.flags |= flags::PRIORITY;
        }
    }

    /// Whether this span is a model or tool call (dropped last under pressure).
    pub fn is_priority(&self) -> bool {
        matches!(
            self.attribute(semconv::GEN_AI_OPERATION_NAME),
            Some(Value::Str(op)) if semconv::PRIORITY_OPERATIONS.contains(&&**op)
        )
    }

    /// Copies the trace-scoped attributes onto the record (span's own attributes win) and
    /// writes the truncation marker; done once, on the processing thread.
    pub fn finalize(&mut self) {
        if let Some(scope) = self.scope.take() {
            let limits = Limits::current();
            for (k, v) in scope.attributes.iter() {
                if !self.attributes.iter().any(|(mine, _)| mine == k) {
                    self.set_attribute_with(k.clone(), v.clone(), &limits);
                }
            }
        }
        if !self.truncated.is_empty() {
            let names: Vec<Box<str>> = self.truncated.iter().map(|k| k.as_str().into()).collect();
            let key = Key::new(semconv::FIVELENS_TRUNCATED);
            let value = Value::StrArray(names.into());
            match self.attributes.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => self.attributes.push((key, value)),
            }
        }
    }
}

fn cap_attributes(mut attributes: Vec<KeyValue>, limits: &Limits) -> Vec<KeyValue> {
    attributes.truncate(limits.max_attributes);
    for (_, v) in attributes.iter_mut() {
        v.truncate_to(limits.max_attribute_bytes);
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_child() {
        let root = SpanRecord::start("root", SpanKind::Internal, None);
        assert!(root.trace_id.is_valid());
        assert_eq!(root.parent_span_id, SpanId(0));
        let child = SpanRecord::start(
            "child",
            SpanKind::Client,
            Some(Parent {
                trace_id: root.trace_id,
                span_id: root.span_id,
                remote: false,
                flags: 1,
            }),
        );
        assert_eq!(child.trace_id, root.trace_id);
        assert_eq!(child.parent_span_id, root.span_id);
    }

    #[test]
    fn limits_apply() {
        let limits = Limits {
            max_attribute_bytes: 4,
            max_attributes: 2,
            max_events: 1,
            max_links: 1,
        };
        let mut r = SpanRecord::start("x", SpanKind::Internal, None);
        r.set_attribute_with(Key::new("a"), Value::from("123456"), &limits);
        r.set_attribute_with(Key::new("b"), Value::from(1i64), &limits);
        r.set_attribute_with(Key::new("c"), Value::from(2i64), &limits);
        r.set_attribute_with(Key::new("a"), Value::from("xy"), &limits);
        assert_eq!(r.attributes.len(), 2);
        assert_eq!(r.dropped_attributes, 1);
        assert_eq!(r.attribute("a"), Some(&Value::from("xy")));
        r.finalize();
        assert_eq!(
            r.attribute(semconv::FIVELENS_TRUNCATED),
            Some(&Value::StrArray(vec!["a".into()].into()))
        );
    }

    #[test]
    fn end_twice_keeps_first() {
        let mut r = SpanRecord::start("x", SpanKind::Internal, None);
        r.end_at(Some(r.start_ns + 10));
        let first = r.end_ns;
        r.end_at(Some(r.start_ns + 99));
        assert_eq!(r.end_ns, first);
    }

    #[test]
    fn exception_sets_error() {
        let mut r = SpanRecord::start("x", SpanKind::Internal, None);
        r.record_exception("ValueError", "bad", None);
        assert_eq!(r.status, Status::Error("bad".into()));
        assert_eq!(
            r.attribute(semconv::ERROR_TYPE),
            Some(&Value::from("ValueError"))
        );
        assert_eq!(r.events[0].name.as_ref(), "exception");
    }

    #[test]
    fn ok_status_is_final() {
        let mut r = SpanRecord::start("x", SpanKind::Internal, None);
        r.set_status(Status::Ok);
        r.set_status(Status::Error("late".into()));
        assert_eq!(r.status, Status::Ok);
    }

    #[test]
    fn priority_spans() {
        let mut r = SpanRecord::start("chat gpt", SpanKind::Client, None);
        r.set_attribute(
            Key::new(semconv::GEN_AI_OPERATION_NAME),
            Value::from("chat"),
        );
        r.end_at(None);
        assert!(r.flags & flags::PRIORITY != 0);
    }
}
