//! The span record: one owned, compact value per span, built on the caller's thread and moved
//! (by value, not boxed) through the queue to the processing thread when the span ends.
//!
//! Performance notes. A span's name and string attribute values live in one inline text buffer
//! inside the record ([`Payload`]), and up to eight attributes sit inline too, so a typical span
//! costs no heap allocation at all: the caller builds it in place and the queue slot receives it
//! by copy. The first design boxed the record and gave every string value its own allocation;
//! profiling the Python hot path showed a fifth of the time in glibc's arena lock, taken when the
//! processing thread freed what the caller's thread had allocated. Keys are interned
//! ([`crate::key`]); size limits are applied as attributes are set, so a record never grows past
//! [`Limits`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use smallvec::SmallVec;

use crate::ids::{SpanId, TraceId};
use crate::key::Key;
use crate::scope::TraceScope;
use crate::semconv;
use crate::value::{floor_char_boundary, KeyValue, Value, ValueRef};

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
    /// From the OTLP number (`0`, unspecified, becomes internal).
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
    /// Content attributes (messages, instructions) are cut to this on the processing thread,
    /// keeping their JSON valid; on the caller's thread they are only held to 4 times it.
    pub max_content_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attribute_bytes: 128 * 1024,
            max_attributes: 128,
            max_events: 128,
            max_links: 128,
            max_content_bytes: 64 * 1024,
        }
    }
}

static MAX_ATTRIBUTE_BYTES: AtomicUsize = AtomicUsize::new(128 * 1024);
static MAX_ATTRIBUTES: AtomicUsize = AtomicUsize::new(128);
static MAX_EVENTS: AtomicUsize = AtomicUsize::new(128);
static MAX_LINKS: AtomicUsize = AtomicUsize::new(128);
static MAX_CONTENT_BYTES: AtomicUsize = AtomicUsize::new(64 * 1024);

impl Limits {
    /// The limits currently in force.
    pub fn current() -> Limits {
        Limits {
            max_attribute_bytes: MAX_ATTRIBUTE_BYTES.load(Ordering::Relaxed),
            max_attributes: MAX_ATTRIBUTES.load(Ordering::Relaxed),
            max_events: MAX_EVENTS.load(Ordering::Relaxed),
            max_links: MAX_LINKS.load(Ordering::Relaxed),
            max_content_bytes: MAX_CONTENT_BYTES.load(Ordering::Relaxed),
        }
    }
    /// Makes these the limits in force.
    pub fn install(self) {
        MAX_ATTRIBUTE_BYTES.store(self.max_attribute_bytes, Ordering::Relaxed);
        MAX_ATTRIBUTES.store(self.max_attributes, Ordering::Relaxed);
        MAX_EVENTS.store(self.max_events, Ordering::Relaxed);
        MAX_LINKS.store(self.max_links, Ordering::Relaxed);
        MAX_CONTENT_BYTES.store(self.max_content_bytes, Ordering::Relaxed);
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Bytes of text kept inline in a record before its buffer moves to the heap.
const INLINE_TEXT: usize = 232;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Range {
    at: u32,
    len: u32,
}

#[derive(Clone, Debug)]
enum Slot {
    Str(Range),
    Bool(bool),
    I64(i64),
    F64(f64),
    Array(Box<Value>),
}

/// What happened to an attribute offered to [`Payload::set`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// Stored as given.
    Stored,
    /// Stored, cut to the size limit.
    Truncated,
    /// Refused: the span already has the most attributes allowed.
    Dropped,
}

/// A span's name and attributes, with all their text in one buffer that lives inline in the
/// record until it outgrows [`INLINE_TEXT`] bytes.
#[derive(Clone, Debug, Default)]
pub struct Payload {
    name: Range,
    entries: SmallVec<[(Key, Slot); 8]>,
    text: SmallVec<[u8; INLINE_TEXT]>,
    /// Bytes of `text` no longer referenced (replaced values, old names).
    garbage: u32,
}

impl Payload {
    fn push_text(&mut self, s: &str) -> Range {
        // Replacing the same key in a loop must not grow the buffer forever.
        if self.garbage as usize > 4096 && self.garbage as usize * 2 > self.text.len() {
            self.compact();
        }
        let at = self.text.len() as u32;
        self.text.extend_from_slice(s.as_bytes());
        Range {
            at,
            len: s.len() as u32,
        }
    }

    fn text(&self, r: Range) -> &str {
        let start = r.at as usize;
        let end = start + r.len as usize;
        // Only whole `&str`s (cut on char boundaries) are ever pushed, so this never fails.
        self.text
            .get(start..end)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    fn compact(&mut self) {
        let mut text: SmallVec<[u8; INLINE_TEXT]> = SmallVec::new();
        let mut move_range = |r: Range, old: &[u8]| {
            let at = text.len() as u32;
            text.extend_from_slice(&old[r.at as usize..(r.at + r.len) as usize]);
            Range { at, len: r.len }
        };
        let old = std::mem::take(&mut self.text);
        self.name = move_range(self.name, &old);
        for (_, slot) in self.entries.iter_mut() {
            if let Slot::Str(r) = slot {
                *r = move_range(*r, &old);
            }
        }
        self.text = text;
        self.garbage = 0;
    }

    /// The span name.
    pub fn name(&self) -> &str {
        self.text(self.name)
    }

    /// Renames the span.
    pub fn set_name(&mut self, name: &str) {
        self.garbage += self.name.len;
        self.name = self.push_text(name);
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn view<'a>(&'a self, slot: &'a Slot) -> ValueRef<'a> {
        match slot {
            Slot::Str(r) => ValueRef::Str(self.text(*r)),
            Slot::Bool(b) => ValueRef::Bool(*b),
            Slot::I64(i) => ValueRef::I64(*i),
            Slot::F64(f) => ValueRef::F64(*f),
            Slot::Array(v) => ValueRef::Array(v),
        }
    }

    /// The value of an attribute.
    pub fn get(&self, key: &str) -> Option<ValueRef<'_>> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, s)| self.view(s))
    }

    /// Whether the attribute is set.
    pub fn contains(&self, key: &Key) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// The attributes, in the order first set.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, ValueRef<'_>)> {
        self.entries.iter().map(move |(k, s)| (k, self.view(s)))
    }

    fn store(&mut self, key: Key, slot: Slot, limits: &Limits) -> bool {
        if let Some(pos) = self.entries.iter().position(|(k, _)| *k == key) {
            if let Slot::Str(old) = &self.entries[pos].1 {
                self.garbage += old.len;
            }
            self.entries[pos].1 = slot;
            return true;
        }
        if self.entries.len() >= limits.max_attributes {
            return false;
        }
        self.entries.push((key, slot));
        true
    }

    /// Removes every attribute whose key starts with `prefix` (or is in `keys`); returns how
    /// many were removed.
    pub fn remove_where(&mut self, mut doomed: impl FnMut(&str) -> bool) -> usize {
        let before = self.entries.len();
        let mut garbage = 0u32;
        self.entries.retain(|(k, slot)| {
            if doomed(k.as_str()) {
                if let Slot::Str(r) = slot {
                    garbage += r.len;
                }
                false
            } else {
                true
            }
        });
        self.garbage += garbage;
        before - self.entries.len()
    }

    /// Sets (or replaces) a string attribute, cut at a character boundary to the size limit.
    pub fn set_str(&mut self, key: Key, value: &str, limits: &Limits) -> SetOutcome {
        // A provider payload handed to the processing thread is JSON that a cut would spoil:
        // within its bound it is kept whole, beyond it not kept at all (the call then keeps its
        // other attributes; see `providers`).
        if matches!(
            key.as_str(),
            crate::semconv::PRIVATE_REQUEST | crate::semconv::PRIVATE_RESPONSE
        ) {
            let max = limits
                .max_content_bytes
                .saturating_mul(16)
                .max(limits.max_attribute_bytes);
            if value.len() > max {
                crate::diag::report_with(crate::diag::Level::Warn, "payload.too_large", || {
                    format!(
                        "a model call's {} body of {} bytes is over {max} bytes (16 x max_content_bytes): its content and request parameters are not recorded",
                        if key.as_str() == crate::semconv::PRIVATE_REQUEST { "request" } else { "response" },
                        value.len()
                    )
                });
                return SetOutcome::Dropped;
            }
            let exists = self.contains(&key);
            if !exists && self.entries.len() >= limits.max_attributes {
                return SetOutcome::Dropped;
            }
            let range = self.push_text(value);
            self.store(key, Slot::Str(range), limits);
            return SetOutcome::Stored;
        }
        // Content is cut later, keeping its JSON valid; here it is only held to a hard bound.
        let max = if crate::semconv::CONTENT_KEYS.contains(&key.as_str()) {
            limits
                .max_content_bytes
                .saturating_mul(4)
                .max(limits.max_attribute_bytes)
        } else {
            limits.max_attribute_bytes
        };
        let cut = floor_char_boundary(value, max);
        let exists = self.contains(&key);
        if !exists && self.entries.len() >= limits.max_attributes {
            return SetOutcome::Dropped;
        }
        let range = self.push_text(&value[..cut]);
        self.store(key, Slot::Str(range), limits);
        if cut < value.len() {
            SetOutcome::Truncated
        } else {
            SetOutcome::Stored
        }
    }

    /// Sets (or replaces) an attribute of any type.
    pub fn set(&mut self, key: Key, value: ValueRef<'_>, limits: &Limits) -> SetOutcome {
        let slot = match value {
            ValueRef::Str(s) => return self.set_str(key, s, limits),
            ValueRef::Bool(b) => Slot::Bool(b),
            ValueRef::I64(i) => Slot::I64(i),
            ValueRef::F64(f) => Slot::F64(f),
            ValueRef::Array(v) => {
                let mut v = v.clone();
                let cut = v.truncate_to(limits.max_attribute_bytes);
                if !self.store(key, Slot::Array(Box::new(v)), limits) {
                    return SetOutcome::Dropped;
                }
                return if cut {
                    SetOutcome::Truncated
                } else {
                    SetOutcome::Stored
                };
            }
        };
        if self.store(key, slot, limits) {
            SetOutcome::Stored
        } else {
            SetOutcome::Dropped
        }
    }
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
    /// Span kind.
    pub kind: SpanKind,
    /// [`flags`] bits.
    pub flags: u8,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, nanoseconds since the Unix epoch (zero while open).
    pub end_ns: u64,
    /// Name and attributes.
    pub payload: Payload,
    /// W3C tracestate, passed through.
    pub trace_state: Option<Box<str>>,
    /// Events.
    pub events: Vec<Event>,
    /// Links.
    pub links: Vec<Link>,
    /// Status.
    pub status: Status,
    /// Trace-scoped attributes in force when the span started (stamped when processed).
    pub scope: Option<Arc<TraceScope>>,
    /// Instrumentation scope name (`fivelens` for user spans, the integration's name otherwise).
    pub instrumentation: Option<Key>,
    /// Attributes refused by the count limit.
    pub dropped_attributes: u32,
    /// Events refused by the count limit.
    pub dropped_events: u32,
    /// Links refused by the count limit.
    pub dropped_links: u32,
    /// Keys whose values were truncated.
    pub truncated: Vec<Key>,
    /// Cost of a model call in pico-dollars (set on the processing thread from the price table;
    /// exact, unlike the `fivelens.cost.usd` double it is also written as).
    pub cost_pico: Option<u64>,
}

impl SpanRecord {
    /// Starts a span now: a new trace when `parent` is `None`, a child otherwise.
    pub fn start(name: &str, kind: SpanKind, parent: Option<Parent>) -> SpanRecord {
        let mut r = SpanRecord::template(name, kind);
        r.begin(parent, None);
        r
    }

    /// A record with a name and kind but no identity or start time yet: a template that
    /// [`SpanRecord::begin`] turns into a started span (bindings build attributes into it first).
    pub fn template(name: &str, kind: SpanKind) -> SpanRecord {
        let mut payload = Payload::default();
        payload.name = payload.push_text(name);
        SpanRecord {
            trace_id: TraceId(0),
            span_id: SpanId(0),
            parent_span_id: SpanId(0),
            parent_remote: false,
            kind,
            flags: 0,
            start_ns: 0,
            end_ns: 0,
            payload,
            trace_state: None,
            events: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
            scope: None,
            instrumentation: None,
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
            truncated: Vec::new(),
            cost_pico: None,
        }
    }

    /// Gives a template its identity (under `parent`, or as a new trace) and starts it at
    /// `start_ns` (now when `None`).
    pub fn begin(&mut self, parent: Option<Parent>, start_ns: Option<u64>) {
        let (trace_id, parent_span_id, parent_remote, sampled) = match parent {
            Some(p) if p.trace_id.is_valid() => (p.trace_id, p.span_id, p.remote, p.flags & 1 == 1),
            _ => (TraceId::random(), SpanId(0), false, true),
        };
        self.trace_id = trace_id;
        self.span_id = SpanId::random();
        self.parent_span_id = parent_span_id;
        self.parent_remote = parent_remote;
        self.flags = (self.flags & !flags::SAMPLED) | if sampled { flags::SAMPLED } else { 0 };
        self.start_ns = start_ns.unwrap_or_else(now_ns);
    }

    /// The span name.
    pub fn name(&self) -> &str {
        self.payload.name()
    }

    /// Renames the span.
    pub fn set_name(&mut self, name: &str) {
        self.payload.set_name(name);
    }

    /// Whether the span has ended.
    pub fn is_ended(&self) -> bool {
        self.end_ns != 0
    }

    /// W3C trace flags for propagation.
    pub fn trace_flags(&self) -> u8 {
        u8::from(self.flags & flags::SAMPLED != 0)
    }

    fn note(&mut self, key: &Key, outcome: SetOutcome) {
        match outcome {
            SetOutcome::Stored => {}
            SetOutcome::Truncated => {
                if !self.truncated.contains(key) {
                    self.truncated.push(key.clone());
                }
            }
            SetOutcome::Dropped => {
                self.dropped_attributes = self.dropped_attributes.saturating_add(1)
            }
        }
    }

    /// Sets (or replaces) an attribute under `limits`.
    pub fn set_attribute_ref(&mut self, key: Key, value: ValueRef<'_>, limits: &Limits) {
        let outcome = self.payload.set(key.clone(), value, limits);
        self.note(&key, outcome);
    }

    /// Sets (or replaces) a string attribute under `limits`.
    pub fn set_str(&mut self, key: Key, value: &str, limits: &Limits) {
        let outcome = self.payload.set_str(key.clone(), value, limits);
        self.note(&key, outcome);
    }

    /// Sets (or replaces) an attribute under `limits`.
    pub fn set_attribute_with(&mut self, key: Key, value: Value, limits: &Limits) {
        self.set_attribute_ref(key, ValueRef::from(&value), limits);
    }

    /// Sets an attribute under the limits in force.
    pub fn set_attribute(&mut self, key: Key, value: Value) {
        self.set_attribute_with(key, value, &Limits::current());
    }

    /// The value of an attribute, if set.
    pub fn attribute(&self, key: &str) -> Option<ValueRef<'_>> {
        self.payload.get(key)
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
            self.set_str(Key::new(semconv::ERROR_TYPE), type_name, &Limits::current());
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
        self.end_ns = end.max(self.start_ns).max(1);
        if self.is_priority() {
            self.flags |= flags::PRIORITY;
        }
    }

    /// Whether this span is a model or tool call (dropped last under pressure).
    pub fn is_priority(&self) -> bool {
        matches!(
            self.attribute(semconv::GEN_AI_OPERATION_NAME),
            Some(ValueRef::Str(op)) if semconv::PRIORITY_OPERATIONS.contains(&op)
        )
    }

    /// Copies the trace-scoped attributes onto the record (the span's own attributes win) and
    /// writes the truncation marker; done once, on the processing thread.
    pub fn finalize(&mut self) {
        if let Some(scope) = self.scope.take() {
            let limits = Limits::current();
            for (k, v) in scope.attributes.iter() {
                if !self.payload.contains(k) {
                    self.set_attribute_ref(k.clone(), ValueRef::from(v), &limits);
                }
            }
            if !scope.llm_attributes.is_empty() && crate::llm::is_model_call(self) {
                for (k, v) in scope.llm_attributes.iter() {
                    if !self.payload.contains(k) {
                        self.set_attribute_ref(k.clone(), ValueRef::from(v), &limits);
                    }
                }
            }
        }
        if !self.truncated.is_empty() {
            let names: Vec<Box<str>> = self.truncated.iter().map(|k| k.as_str().into()).collect();
            let value = Value::StrArray(names.into());
            let limits = Limits {
                max_attributes: usize::MAX,
                ..Limits::current()
            };
            self.payload.set(
                Key::new(semconv::FIVELENS_TRUNCATED),
                ValueRef::from(&value),
                &limits,
            );
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
        assert_eq!(root.name(), "root");
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
            max_content_bytes: 256,
        };
        let mut r = SpanRecord::start("x", SpanKind::Internal, None);
        r.set_attribute_with(Key::new("a"), Value::from("123456"), &limits);
        r.set_attribute_with(Key::new("b"), Value::from(1i64), &limits);
        r.set_attribute_with(Key::new("c"), Value::from(2i64), &limits);
        assert_eq!(r.attribute("a"), Some(ValueRef::Str("1234")));
        r.set_attribute_with(Key::new("a"), Value::from("xy"), &limits);
        assert_eq!(r.payload.len(), 2);
        assert_eq!(r.dropped_attributes, 1);
        assert_eq!(r.attribute("a"), Some(ValueRef::Str("xy")));
        r.finalize();
        assert_eq!(
            r.attribute(semconv::FIVELENS_TRUNCATED)
                .map(|v| v.to_owned()),
            Some(Value::StrArray(vec!["a".into()].into()))
        );
    }

    #[test]
    fn text_stays_inline_and_compacts() {
        let mut r = SpanRecord::start("name", SpanKind::Internal, None);
        for (k, v) in [("a", "x"), ("b", "y"), ("g", "z"), ("h", "w")] {
            r.set_str(Key::new(k), v, &Limits::default());
        }
        assert!(!r.payload.text.spilled(), "small spans need no heap buffer");
        // Replacing one key many times keeps the buffer bounded.
        let big = "v".repeat(1000);
        for _ in 0..1000 {
            r.set_str(Key::new("loop"), &big, &Limits::default());
        }
        assert!(r.payload.text.len() < 20_000, "{}", r.payload.text.len());
        assert_eq!(r.attribute("a"), Some(ValueRef::Str("x")));
        assert_eq!(r.attribute("loop"), Some(ValueRef::Str(big.as_str())));
        assert_eq!(r.name(), "name");
        r.set_name("renamed");
        assert_eq!(r.name(), "renamed");
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
            Some(ValueRef::Str("ValueError"))
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

    #[test]
    fn scope_attributes_do_not_override_the_span() {
        let scope = TraceScope::child_of(
            None,
            vec![
                (Key::new("session.id"), Value::from("s")),
                (Key::new("mine"), Value::from("scope")),
            ],
        );
        let mut r = SpanRecord::start("x", SpanKind::Internal, None);
        r.set_str(Key::new("mine"), "span", &Limits::default());
        r.scope = Some(Arc::new(scope));
        r.finalize();
        assert_eq!(r.attribute("mine"), Some(ValueRef::Str("span")));
        assert_eq!(r.attribute("session.id"), Some(ValueRef::Str("s")));
    }
}
