//! Spans: `start_span` (a started span with an explicit parent), `Span` (attributes, events,
//! status, end, its context as `traceparent` and headers), and `extract` (a parent from another
//! process).
//!
//! The current span lives in the host language (a Kotlin `ThreadLocal` in `withSpan`, a Swift
//! `TaskLocal` if the app wants one), never here: Rust receives explicit parents, as from Python
//! and Node.

use std::collections::HashMap;
use std::sync::Arc;

use fivelens_core::propagation::{self, Incoming};
use fivelens_core::record::{Limits, Parent, Status};
use fivelens_core::scope::TraceScope;
use fivelens_core::{global, Key, SpanId, SpanRecord, TraceId, Value};
use parking_lot::Mutex;

/// An attribute value.
#[derive(Clone, Debug, PartialEq, uniffi::Enum)]
pub enum AttributeValue {
    /// A string.
    Str { value: String },
    /// A boolean.
    Bool { value: bool },
    /// A 64-bit integer.
    I64 { value: i64 },
    /// A double.
    F64 { value: f64 },
    /// A list of strings.
    StrList { value: Vec<String> },
    /// A list of booleans.
    BoolList { value: Vec<bool> },
    /// A list of integers.
    I64List { value: Vec<i64> },
    /// A list of doubles.
    F64List { value: Vec<f64> },
}

impl From<AttributeValue> for Value {
    fn from(v: AttributeValue) -> Value {
        match v {
            AttributeValue::Str { value } => Value::Str(value.into()),
            AttributeValue::Bool { value } => Value::Bool(value),
            AttributeValue::I64 { value } => Value::I64(value),
            AttributeValue::F64 { value } => Value::F64(value),
            AttributeValue::StrList { value } => {
                Value::StrArray(value.into_iter().map(String::into_boxed_str).collect())
            }
            AttributeValue::BoolList { value } => Value::BoolArray(value.into()),
            AttributeValue::I64List { value } => Value::I64Array(value.into()),
            AttributeValue::F64List { value } => Value::F64Array(value.into()),
        }
    }
}

pub(crate) fn key_values(attributes: HashMap<String, AttributeValue>) -> Vec<(Key, Value)> {
    attributes
        .into_iter()
        .map(|(k, v)| (Key::new(&k), Value::from(v)))
        .collect()
}

/// The span kind (OpenTelemetry's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SpanKind {
    /// An operation inside the app (the default).
    Internal,
    /// Handles a request from another process.
    Server,
    /// Calls another process (a model API, a tool server).
    Client,
    /// Hands work to a queue.
    Producer,
    /// Takes work from a queue.
    Consumer,
}

impl From<SpanKind> for fivelens_core::SpanKind {
    fn from(k: SpanKind) -> Self {
        use fivelens_core::SpanKind as K;
        match k {
            SpanKind::Internal => K::Internal,
            SpanKind::Server => K::Server,
            SpanKind::Client => K::Client,
            SpanKind::Producer => K::Producer,
            SpanKind::Consumer => K::Consumer,
        }
    }
}

/// A span's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SpanStatus {
    /// Not set (the default).
    Unset,
    /// Succeeded (final: later statuses are ignored).
    Ok,
    /// Failed.
    Error,
}

/// How a span starts: its parent (none: a new trace), kind, attributes and start time.
#[derive(uniffi::Record)]
pub struct SpanOptions {
    /// The parent span in this process.
    #[uniffi(default = None)]
    pub parent: Option<Arc<Span>>,
    /// A parent from another process (see `extract`); used when `parent` is not given.
    #[uniffi(default = None)]
    pub remote_parent: Option<Arc<RemoteContext>>,
    /// `Internal` when not given.
    #[uniffi(default = None)]
    pub kind: Option<SpanKind>,
    /// Attributes set at the start.
    #[uniffi(default)]
    pub attributes: HashMap<String, AttributeValue>,
    /// Start time, ns since the Unix epoch (now when not given).
    #[uniffi(default = None)]
    pub start_time_ns: Option<u64>,
}

/// A started span. Every method is safe to call after `end` (it does nothing then); ending twice
/// keeps the first end.
#[derive(uniffi::Object)]
pub struct Span {
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
    trace_state: Option<Box<str>>,
    scope: Option<Arc<TraceScope>>,
    /// `None` once ended, or when fivelens is not recording.
    record: Mutex<Option<SpanRecord>>,
}

impl Span {
    /// Starts `template` under `parent` (or a remote parent), as the Python binding's `start`.
    pub(crate) fn start(
        mut record: SpanRecord,
        parent: Option<&Span>,
        remote: Option<&RemoteContext>,
        start_ns: Option<u64>,
    ) -> Span {
        let (parent, trace_state, scope) = match (parent, remote) {
            (Some(p), _) => (Some(p.as_parent()), p.trace_state.clone(), p.scope.clone()),
            (None, Some(r)) => (
                r.incoming.parent,
                r.incoming.trace_state.as_deref().map(Box::from),
                r.incoming.scope.clone().map(Arc::new),
            ),
            (None, None) => (None, None, None),
        };
        record.begin(parent, start_ns);
        let (trace_id, span_id, sampled) =
            (record.trace_id, record.span_id, record.trace_flags() == 1);
        let record = global::is_recording().then(|| {
            global::note_started();
            record.trace_state = trace_state.clone();
            record.scope = scope.clone();
            record
        });
        Span {
            trace_id,
            span_id,
            sampled,
            trace_state,
            scope,
            record: Mutex::new(record),
        }
    }

    fn as_parent(&self) -> Parent {
        Parent {
            trace_id: self.trace_id,
            span_id: self.span_id,
            remote: false,
            flags: u8::from(self.sampled),
        }
    }

    pub(crate) fn with_record(&self, f: impl FnOnce(&mut SpanRecord)) {
        if let Some(r) = self.record.lock().as_mut() {
            f(r);
        }
    }
}

/// Starts a span named `name`. It is not made current anywhere: pass it as `parent` to its
/// children, and end it with `end()`.
#[uniffi::export(default(options))]
pub fn start_span(name: String, options: SpanOptions) -> Arc<Span> {
    let mut template =
        SpanRecord::template(&name, options.kind.unwrap_or(SpanKind::Internal).into());
    let limits = Limits::current();
    for (k, v) in key_values(options.attributes) {
        template.set_attribute_with(k, v, &limits);
    }
    Arc::new(Span::start(
        template,
        options.parent.as_deref(),
        options.remote_parent.as_deref(),
        options.start_time_ns,
    ))
}

#[uniffi::export]
impl Span {
    /// Trace id, 32 hex digits.
    pub fn trace_id(&self) -> String {
        self.trace_id.to_hex()
    }

    /// Span id, 16 hex digits.
    pub fn span_id(&self) -> String {
        self.span_id.to_hex()
    }

    /// Whether the trace is sampled.
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// The W3C `traceparent` of this span, for a request made inside it.
    pub fn traceparent(&self) -> String {
        propagation::traceparent(self.trace_id, self.span_id, self.sampled)
    }

    /// The headers that carry this span's context to another process: `traceparent`,
    /// `tracestate` (when set) and `fivelens-context` (trace-scoped attributes, when any).
    pub fn inject(&self) -> HashMap<String, String> {
        propagation::inject(
            self.trace_id,
            self.span_id,
            self.sampled,
            self.trace_state.as_deref(),
            self.scope.as_deref(),
        )
        .into_iter()
        .collect()
    }

    /// Whether attributes set now are recorded (false once ended, or when fivelens is off).
    pub fn is_recording(&self) -> bool {
        self.record.lock().is_some()
    }

    /// Sets one attribute.
    pub fn set_attribute(&self, key: String, value: AttributeValue) {
        self.with_record(|r| r.set_attribute(Key::new(&key), value.into()));
    }

    /// Sets several attributes.
    pub fn set_attributes(&self, attributes: HashMap<String, AttributeValue>) {
        let limits = Limits::current();
        self.with_record(|r| {
            for (k, v) in key_values(attributes) {
                r.set_attribute_with(k, v, &limits);
            }
        });
    }

    /// Adds an event, with attributes, at `timestamp_ns` (ns since the Unix epoch; now when not
    /// given).
    #[uniffi::method(default(timestamp_ns = None, attributes))]
    pub fn add_event(
        &self,
        name: String,
        attributes: HashMap<String, AttributeValue>,
        timestamp_ns: Option<u64>,
    ) {
        self.with_record(|r| r.add_event(&name, timestamp_ns, key_values(attributes)));
    }

    /// Sets the status (with a description for `Error`).
    #[uniffi::method(default(description = None))]
    pub fn set_status(&self, status: SpanStatus, description: Option<String>) {
        let status = match status {
            SpanStatus::Unset => Status::Unset,
            SpanStatus::Ok => Status::Ok,
            SpanStatus::Error => Status::Error(description.unwrap_or_default().into()),
        };
        self.with_record(|r| r.set_status(status));
    }

    /// Records an error as OpenTelemetry records an exception: an `exception` event, status
    /// `Error` with the message, and `error.type` (unless already set). The span goes on.
    #[uniffi::method(default(stacktrace = None))]
    pub fn record_error(&self, error_type: String, message: String, stacktrace: Option<String>) {
        self.with_record(|r| r.record_exception(&error_type, &message, stacktrace.as_deref()));
    }

    /// Renames the span.
    pub fn update_name(&self, name: String) {
        self.with_record(|r| r.set_name(&name));
    }

    /// Ends the span (at `end_time_ns`, ns since the Unix epoch, or now) and hands it to the
    /// pipeline; never blocks. Ending twice does nothing.
    #[uniffi::method(default(end_time_ns = None))]
    pub fn end(&self, end_time_ns: Option<u64>) {
        let record = self.record.lock().take();
        if let Some(mut r) = record {
            r.end_at(end_time_ns);
            global::submit(r);
        }
    }
}

/// A parent read from another process's headers by `extract`.
#[derive(uniffi::Object)]
pub struct RemoteContext {
    incoming: Incoming,
}

#[uniffi::export]
impl RemoteContext {
    /// Whether a valid `traceparent` was found (otherwise a span under it starts a new trace).
    pub fn is_valid(&self) -> bool {
        self.incoming.parent.is_some()
    }

    /// The trace id (empty when invalid).
    pub fn trace_id(&self) -> String {
        self.incoming
            .parent
            .map(|p| p.trace_id.to_hex())
            .unwrap_or_default()
    }

    /// The remote parent's span id (empty when invalid).
    pub fn span_id(&self) -> String {
        self.incoming
            .parent
            .map(|p| p.span_id.to_hex())
            .unwrap_or_default()
    }
}

/// Reads `traceparent`, `tracestate` and `fivelens-context` from headers (names matched without
/// regard to case); a missing or malformed `traceparent` gives a context that starts a new trace.
#[uniffi::export]
pub fn extract(headers: HashMap<String, String>) -> Arc<RemoteContext> {
    Arc::new(RemoteContext {
        incoming: propagation::extract(&propagation::header_lookup(&headers)),
    })
}
