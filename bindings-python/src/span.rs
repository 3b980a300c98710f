//! Spans for Python: `span(...)` (a context manager and decorator template), `Span` (a started
//! span), `context(...)` (trace-scoped attributes), and the current-span `ContextVar`.
//!
//! The current span lives in a `contextvars.ContextVar`, never in Rust thread-local state:
//! asyncio tasks interleave on one thread. The value is always a `Span`; a `context(...)` block
//! pushes a frame-only `Span` that carries the new scope and points at the real span it sits in.
//!
//! Performance notes. A span is one `Span` object plus a boxed core record; the GIL is held
//! throughout (releasing it for a microsecond call costs more than it saves, and adds tail
//! latency when another thread is busy). The abi3 build cannot use the C context-variable API
//! (`PyContextVar_*` are outside the limited API), so `get`/`set`/`reset` are called as bound
//! methods cached once. The OpenTelemetry bridge is lazy: entering a span only records the OTel
//! context object that was current; the OTel view of our span is built when something asks.

use std::sync::Arc;

use fivelens_core::propagation::{self, Incoming};
use fivelens_core::record::{Parent, Status};
use fivelens_core::scope::{self, TraceScope};
use fivelens_core::semconv as sc;
use fivelens_core::{global, Key, SpanId, SpanRecord, TraceId, Value};
use parking_lot::{Mutex, RwLock};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use smallvec::SmallVec;

use crate::convert;

/// The `ContextVar` and its cached bound methods.
struct CurrentVar {
    var: Py<PyAny>,
    get: Py<PyAny>,
    set: Py<PyAny>,
    reset: Py<PyAny>,
}

static CURRENT: PyOnceLock<CurrentVar> = PyOnceLock::new();

fn current_var(py: Python<'_>) -> PyResult<&CurrentVar> {
    CURRENT.get_or_try_init(py, || {
        let var = py.import("contextvars")?.getattr("ContextVar")?.call(
            ("fivelens_current_span",),
            Some(&[("default", py.None())].into_py_dict(py)?),
        )?;
        Ok(CurrentVar {
            get: var.getattr("get")?.unbind(),
            set: var.getattr("set")?.unbind(),
            reset: var.getattr("reset")?.unbind(),
            var: var.unbind(),
        })
    })
}

use pyo3::types::IntoPyDict;

/// The `ContextVar` itself (for `bind_context` and the thread integrations).
pub fn context_var(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(current_var(py)?.var.clone_ref(py))
}

/// The OpenTelemetry bridge, installed by `fivelens._otel` when `opentelemetry-api` is present.
pub struct OtelBridge {
    /// Bound `get` of OTel's runtime-context `ContextVar`.
    get: Py<PyAny>,
    /// The `ContextVar`'s default (empty) context object.
    empty: Py<PyAny>,
    /// `resolve(ctx) -> (trace_id, span_id, flags, remote, native_span | None) | None`.
    resolve: Py<PyAny>,
}

static OTEL: RwLock<Option<Arc<OtelBridge>>> = RwLock::new(None);

/// Installs (or removes, with `None`) the OpenTelemetry bridge.
#[pyfunction]
#[pyo3(signature = (get=None, empty=None, resolve=None))]
pub fn _set_otel_bridge(
    get: Option<Py<PyAny>>,
    empty: Option<Py<PyAny>>,
    resolve: Option<Py<PyAny>>,
) {
    *OTEL.write() = match (get, empty, resolve) {
        (Some(get), Some(empty), Some(resolve)) => Some(Arc::new(OtelBridge {
            get,
            empty,
            resolve,
        })),
        _ => None,
    };
}

/// A started span (or, for `context(...)`, a frame that carries a scope).
#[pyclass(frozen, module = "fivelens._native", name = "Span")]
pub struct PySpan {
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
    trace_state: Option<Box<str>>,
    record: Mutex<Option<SpanRecord>>,
    scope: Option<Arc<TraceScope>>,
    /// For a `context(...)` frame: the span it sits in (None at the root).
    owner: Option<Py<PySpan>>,
    /// For a frame-only entry: a remote parent, when the frame sits under one.
    remote: Option<Parent>,
    /// The OpenTelemetry context that was current when this frame became current.
    otel_ctx: Option<Py<PyAny>>,
    /// Cached OpenTelemetry view (a context holding a facade of this span).
    otel_view: Mutex<Option<Py<PyAny>>>,
}

impl PySpan {
    /// Adds an event with attributes already converted (integrations' native helpers).
    pub(crate) fn push_event(&self, name: &str, ts: Option<u64>, attributes: Vec<(Key, Value)>) {
        if let Some(o) = &self.owner {
            return o.get().push_event(name, ts, attributes);
        }
        if let Some(r) = self.record.lock().as_mut() {
            r.add_event(name, ts, attributes);
        }
    }

    /// Sets `attributes` and the strings in `extra`, and ends the span (at `end`, or now): what
    /// `_end_with` does, for integrations' native helpers too.
    pub(crate) fn end_with(
        &self,
        attributes: Option<&Bound<'_, PyDict>>,
        extra: &[(&str, &str)],
        end: Option<u64>,
    ) {
        if self.owner.is_some() {
            return;
        }
        let record = self.record.lock().take();
        if let Some(mut r) = record {
            let limits = fivelens_core::record::Limits::current();
            convert::set_attributes(&mut r, attributes, &limits);
            for (k, v) in extra {
                r.set_str(Key::new(k), v, &limits);
            }
            r.end_at(end);
            global::submit(r);
        }
    }

    /// Runs `f` on the span's record while it is open (a frame-only entry: its span's).
    pub(crate) fn with_record(&self, f: impl FnOnce(&mut SpanRecord)) {
        if let Some(o) = &self.owner {
            return o.get().with_record(f);
        }
        if let Some(r) = self.record.lock().as_mut() {
            f(r);
        }
    }

    /// The span's trace (zero for a frame outside any trace).
    pub(crate) fn trace(&self) -> TraceId {
        match self.as_parent() {
            Some(p) => p.trace_id,
            None => self.trace_id,
        }
    }

    fn frame_only(&self) -> bool {
        self.owner.is_some() || (self.record.lock().is_none() && !self.span_id.is_valid())
    }

    /// The parent a child of this frame gets.
    fn as_parent(&self) -> Option<Parent> {
        if self.span_id.is_valid() {
            return Some(Parent {
                trace_id: self.trace_id,
                span_id: self.span_id,
                remote: false,
                flags: u8::from(self.sampled),
            });
        }
        self.remote
    }
}

/// Where a new span's parent and scope come from.
struct Resolved {
    parent: Option<Parent>,
    trace_state: Option<Box<str>>,
    scope: Option<Arc<TraceScope>>,
    otel_ctx: Option<Py<PyAny>>,
}

/// A framework's notion of "the run executing now" (LangChain's current-run variable), installed
/// by an integration: spans started inside a framework run (by the app, or through OpenTelemetry)
/// nest under that run's span although no callback ever entered it as current.
struct RunHook {
    /// Bound `get` of the framework's `ContextVar`; `None` outside any run.
    get: Py<PyAny>,
    /// `resolve(value, frame) -> Span | None`: the run's span when `frame` (the current fivelens
    /// frame) is the one the run started in, so the run is the innermost.
    resolve: Py<PyAny>,
}

static RUN_HOOK: RwLock<Option<Arc<RunHook>>> = RwLock::new(None);

/// Installs (or removes, with `None`) a framework's current-run resolver (see [`RunHook`]).
#[pyfunction]
#[pyo3(signature = (get=None, resolve=None))]
pub fn _set_run_resolver(get: Option<Py<PyAny>>, resolve: Option<Py<PyAny>>) {
    *RUN_HOOK.write() = match (get, resolve) {
        (Some(get), Some(resolve)) => Some(Arc::new(RunHook { get, resolve })),
        _ => None,
    };
}

/// The fivelens frame current in this context, without asking a framework for its current run.
fn own_frame<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, PySpan>>> {
    Ok(frame_object(py)?.cast_into::<PySpan>().ok())
}

/// The current-frame `ContextVar`'s value as it is (a `Span` or None), for identity checks.
pub(crate) fn frame_object(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    current_var(py)?.get.bind(py).call0()
}

/// Starts a span from a record built by an integration, under `parent` (a `Span`, or None: the
/// current frame); not made current.
pub(crate) fn start_record(
    py: Python<'_>,
    record: SpanRecord,
    parent: Option<&Bound<'_, PyAny>>,
    start_ns: Option<u64>,
) -> PyResult<PySpan> {
    let resolved = resolve(py, parent.filter(|p| !p.is_none()))?;
    Ok(start_owned(record, resolved, start_ns))
}

/// The current frame, asking the framework's current-run hook (what `_current_frame` returns).
pub(crate) fn current_frame<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, PySpan>>> {
    let frame = own_frame(py)?;
    let hook = RUN_HOOK.read().clone();
    let Some(hook) = hook else {
        return Ok(frame);
    };
    let run = hook.get.bind(py).call0()?;
    if run.is_none() {
        return Ok(frame);
    }
    let resolved = match &frame {
        Some(f) => hook.resolve.bind(py).call1((run, f)),
        None => hook.resolve.bind(py).call1((run, py.None())),
    };
    match resolved {
        Ok(found) => match found.cast_into::<PySpan>() {
            Ok(span) => Ok(Some(span)),
            Err(_) => Ok(frame),
        },
        Err(e) => {
            global::report_internal_error(
                "run.resolve",
                &format!("resolving the current run failed: {e}"),
            );
            Ok(frame)
        }
    }
}

/// The parent and scope a log record written now belongs to (the same resolution as a new
/// span's: the current fivelens frame, or an OpenTelemetry span made current after it).
pub(crate) fn log_context(py: Python<'_>) -> PyResult<(Option<Parent>, Option<Arc<TraceScope>>)> {
    let r = resolve_current(py)?;
    Ok((r.parent, r.scope))
}

/// Finds the parent of a span about to start: the innermost of the current fivelens frame and
/// whatever the host's OpenTelemetry made current after it.
fn resolve_current(py: Python<'_>) -> PyResult<Resolved> {
    let frame = current_frame(py)?;
    let scope = frame.as_ref().and_then(|f| f.get().scope.clone());
    let bridge = OTEL.read().clone();
    let Some(bridge) = bridge else {
        return Ok(Resolved {
            parent: frame.as_ref().and_then(|f| f.get().as_parent()),
            trace_state: frame.as_ref().and_then(|f| f.get().trace_state.clone()),
            scope,
            otel_ctx: None,
        });
    };
    let otel_now = bridge.get.bind(py).call0()?;
    let from_frame = |otel_ctx: Option<Py<PyAny>>| Resolved {
        parent: frame.as_ref().and_then(|f| f.get().as_parent()),
        trace_state: frame.as_ref().and_then(|f| f.get().trace_state.clone()),
        scope: scope.clone(),
        otel_ctx,
    };
    if let Some(f) = &frame {
        if f.get()
            .otel_ctx
            .as_ref()
            .is_some_and(|c| c.bind(py).is(&otel_now))
        {
            return Ok(from_frame(Some(otel_now.unbind())));
        }
    }
    if otel_now.is(bridge.empty.bind(py)) {
        return Ok(from_frame(Some(otel_now.unbind())));
    }
    // Something attached an OpenTelemetry context after our frame (or outside any): its span,
    // if valid, is the innermost.
    let found = bridge.resolve.bind(py).call1((&otel_now,))?;
    if found.is_none() {
        return Ok(from_frame(Some(otel_now.unbind())));
    }
    let (trace_id, span_id, flags, remote): (u128, u64, u8, bool) = found.extract()?;
    let parent = (trace_id != 0 && span_id != 0).then_some(Parent {
        trace_id: TraceId(trace_id),
        span_id: SpanId(span_id),
        remote,
        flags,
    });
    Ok(Resolved {
        parent: parent.or_else(|| frame.as_ref().and_then(|f| f.get().as_parent())),
        trace_state: None,
        scope,
        otel_ctx: Some(otel_now.unbind()),
    })
}

/// How a caller names a parent: nothing (the current span), a `Span`, a `RemoteContext`
/// (from `extract`), a `traceparent` string, or a mapping of headers.
fn explicit_parent(py: Python<'_>, parent: &Bound<'_, PyAny>) -> PyResult<Resolved> {
    if let Ok(s) = parent.cast::<PySpan>() {
        let s = s.get();
        return Ok(Resolved {
            parent: s.as_parent(),
            trace_state: s.trace_state.clone(),
            scope: s.scope.clone(),
            otel_ctx: None,
        });
    }
    if let Ok(r) = parent.cast::<RemoteContext>() {
        return Ok(from_incoming(&r.get().incoming));
    }
    if let Ok(s) = parent.cast::<PyString>() {
        return Ok(from_incoming(&propagation::parse_traceparent(
            &convert::text(s),
            None,
        )));
    }
    if let Ok(d) = parent.cast::<PyDict>() {
        return Ok(from_incoming(&extract_mapping(py, d)?));
    }
    Err(PyTypeError::new_err(format!(
        "parent: expected a fivelens Span, a RemoteContext, a traceparent string or a mapping of headers, got {}",
        convert::type_label(parent)
    )))
}

/// The parent and scope of a new span: the explicit `parent` (keeping the current scope when it
/// brings none), or the current frame.
fn resolve(py: Python<'_>, parent: Option<&Bound<'_, PyAny>>) -> PyResult<Resolved> {
    match parent {
        Some(p) => {
            let mut r = explicit_parent(py, p)?;
            if r.scope.is_none() {
                // The scope current in the app (`context(...)`): the frame's own, without asking
                // a framework which run's span is current (the run hook calls into Python, and a
                // run's span carries the scope that was current when it started anyway).
                r.scope = own_frame(py)?.and_then(|f| f.get().scope.clone());
            }
            // The OpenTelemetry context current now: when this span is current (activated, or
            // found as a framework run's span), OTel spans started under it see it as their parent
            // until OTel attaches something newer.
            let bridge = OTEL.read().clone();
            if let Some(bridge) = bridge {
                r.otel_ctx = Some(bridge.get.bind(py).call0()?.unbind());
            }
            Ok(r)
        }
        None => resolve_current(py),
    }
}

fn from_incoming(i: &Incoming) -> Resolved {
    Resolved {
        parent: i.parent,
        trace_state: i.trace_state.as_deref().map(Box::from),
        scope: i.scope.clone().map(Arc::new),
        otel_ctx: None,
    }
}

fn extract_mapping(_py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<Incoming> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in d.iter() {
        if let (Ok(k), Ok(v)) = (k.cast::<PyString>(), v.cast::<PyString>()) {
            pairs.push((convert::text(k), convert::text(v)));
        } else if let (Ok(k), Ok(list)) = (k.cast::<PyString>(), v.cast::<PyList>()) {
            // Multi-value header mappings: take the first value.
            if let Some(first) = list
                .iter()
                .next()
                .and_then(|f| f.cast::<PyString>().ok().map(|s| convert::text(s)))
            {
                pairs.push((convert::text(k), first));
            }
        }
    }
    Ok(propagation::extract(&|key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    }))
}

/// A link as given: the linked span and the link's attributes.
type LinkSpec = (TraceId, SpanId, Vec<(Key, Value)>);
/// A span opened by a `SpanScope` and the token that restores the previous current span.
type OpenEntry = (Py<PySpan>, Py<PyAny>);

/// Starts a span from `template` (name, kind, attributes, links and instrumentation already set;
/// cloning it copies inline data only, no allocation for a typical span).
fn start(template: &SpanRecord, resolved: Resolved, start_ns: Option<u64>) -> PySpan {
    start_owned(template.clone(), resolved, start_ns)
}

/// `start`, from a record built for this span alone (no template kept).
fn start_owned(mut record: SpanRecord, resolved: Resolved, start_ns: Option<u64>) -> PySpan {
    record.begin(resolved.parent, start_ns);
    let record = if global::is_recording() {
        record.trace_state = resolved.trace_state.clone();
        record.scope = resolved.scope.clone();
        // Head sampling: a dropped trace's spans are not built (model and tool calls are, for
        // the metrics).
        if global::head_sample(&mut record) {
            global::note_started();
            Ok(record)
        } else {
            Err(record)
        }
    } else {
        Err(record)
    };
    let ids = match &record {
        Ok(r) | Err(r) => (r.trace_id, r.span_id, r.trace_flags() == 1),
    };
    let (trace_id, span_id, sampled) = ids;
    let record = record.ok();
    PySpan {
        trace_id,
        span_id,
        sampled,
        trace_state: resolved.trace_state,
        record: Mutex::new(record),
        scope: resolved.scope,
        owner: None,
        remote: None,
        otel_ctx: resolved.otel_ctx,
        otel_view: Mutex::new(None),
    }
}

fn links(py: Python<'_>, links: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<LinkSpec>> {
    let mut out = Vec::new();
    let Some(links) = links.filter(|l| !l.is_none()) else {
        return Ok(out);
    };
    for item in links.try_iter()? {
        let item = item?;
        let (target, attrs) = match item.cast::<PyTuple>() {
            Ok(t) if t.len() == 2 => (t.get_item(0)?, t.get_item(1).ok()),
            _ => (item.clone(), None),
        };
        let r = explicit_parent(py, &target)?;
        let mut kv = Vec::new();
        if let Some(a) = attrs {
            convert::attributes(a.cast::<PyDict>().ok(), &mut kv);
        }
        if let Some(p) = r.parent {
            out.push((p.trace_id, p.span_id, kv));
        }
    }
    Ok(out)
}

fn ns(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    match v.filter(|v| !v.is_none()) {
        None => Ok(None),
        Some(v) => v.extract::<u64>().map(Some).map_err(|_| {
            PyValueError::new_err("timestamps are integers: nanoseconds since the epoch")
        }),
    }
}

/// `span(name, *, kind=None, parent=None, links=None, attributes=None, **attributes)`: a
/// context manager (and decorator) that runs its block inside a new span.
#[pyclass(frozen, module = "fivelens._native", name = "SpanScope")]
pub struct SpanScope {
    template: SpanRecord,
    /// Attributes not converted yet: the scope was made inside a trace dropped at its start
    /// (head sampling), where they would be thrown away; converted into `completed` at the first
    /// recorded open.
    deferred: Option<DeferredAttributes>,
    completed: std::sync::OnceLock<SpanRecord>,
    parent: Option<Py<PyAny>>,
    open: Mutex<SmallVec<[OpenEntry; 1]>>,
}

/// `attributes=` and keyword attributes of a `span(...)` call, kept as given.
type DeferredAttributes = (Option<Py<PyDict>>, Option<Py<PyDict>>);

impl SpanScope {
    /// The template, with any deferred attributes converted into it (once).
    fn template(&self, py: Python<'_>) -> &SpanRecord {
        let Some((attributes, kwargs)) = &self.deferred else {
            return &self.template;
        };
        self.completed.get_or_init(|| {
            let mut t = self.template.clone();
            let limits = fivelens_core::record::Limits::current();
            convert::set_attributes(&mut t, attributes.as_ref().map(|a| a.bind(py)), &limits);
            convert::set_attributes(&mut t, kwargs.as_ref().map(|k| k.bind(py)), &limits);
            t
        })
    }

    /// Whether the span says it is a model or tool call (built even in a dropped trace).
    fn declares_priority(&self, py: Python<'_>) -> bool {
        if let Some((attributes, _)) = &self.deferred {
            return attributes
                .as_ref()
                .and_then(|a| {
                    a.bind(py)
                        .get_item(sc::GEN_AI_OPERATION_NAME)
                        .ok()
                        .flatten()
                })
                .and_then(|v| v.extract::<String>().ok())
                .is_some_and(|op| sc::PRIORITY_OPERATIONS.contains(&op.as_str()));
        }
        self.template.is_priority()
    }

    fn open_span(&self, py: Python<'_>) -> PyResult<(Py<PySpan>, Py<PyAny>)> {
        // Below the root of a trace dropped when it started (head sampling), a span records
        // nothing: the dropped parent stays current and stands for it (no token to reset).
        if self.parent.is_none() && global::head_sampling_active() && !self.declares_priority(py) {
            if let Some(frame) = dropped_frame(py)? {
                return Ok((frame, py.None()));
            }
        }
        let resolved = resolve(py, self.parent.as_ref().map(|p| p.bind(py)))?;
        let span = Py::new(py, start(self.template(py), resolved, None))?;
        let token = current_var(py)?.set.bind(py).call1((&span,))?.unbind();
        Ok((span, token))
    }
}

#[pymethods]
impl SpanScope {
    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<PySpan>> {
        let (span, token) = self.open_span(py)?;
        self.open.lock().push((span.clone_ref(py), token));
        Ok(span)
    }

    #[pyo3(signature = (exc_type=None, exc_value=None, traceback=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let entry = {
            let mut open = self.open.lock();
            if open.len() <= 1 {
                open.pop()
            } else {
                // The same scope object entered in several tasks at once: the entry to close is
                // the one current in this context.
                let current = current_var(py)?.get.bind(py).call0()?;
                let pos = open
                    .iter()
                    .position(|(s, _)| s.bind(py).is(&current))
                    .unwrap_or(open.len() - 1);
                Some(open.remove(pos))
            }
        };
        let Some((span, token)) = entry else {
            return Ok(false);
        };
        close(
            py,
            span.bind(py),
            Some(token.bind(py)),
            exc_type,
            exc_value,
            traceback,
        )?;
        Ok(false)
    }

    /// Starts a span and makes it current; returns `(span, token)` for [`_close`]. Used by the
    /// decorator so that each call gets its own span.
    fn _open(&self, py: Python<'_>) -> PyResult<(Py<PySpan>, Py<PyAny>)> {
        self.open_span(py)
    }

    /// Starts a span without making it current (generator decorators activate it per resume).
    fn _start(&self, py: Python<'_>) -> PyResult<Py<PySpan>> {
        let resolved = resolve(py, self.parent.as_ref().map(|p| p.bind(py)))?;
        Py::new(py, start(self.template(py), resolved, None))
    }

    /// `@span(...)` on a function, coroutine function, generator or async generator.
    fn __call__(slf: &Bound<'_, Self>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let decorate = py.import("fivelens._api")?.getattr("_decorate")?;
        Ok(decorate.call1((slf, func))?.unbind())
    }

    /// The span name.
    #[getter]
    fn name(&self) -> &str {
        self.template.name()
    }
}

/// Ends a span opened by `SpanScope._open` (or `__enter__`): resets the current span, records
/// the exception (if any), ends and submits.
#[pyfunction]
#[pyo3(signature = (span, token=None, exc_type=None, exc_value=None, traceback=None))]
pub fn _close(
    py: Python<'_>,
    span: &Bound<'_, PySpan>,
    token: Option<&Bound<'_, PyAny>>,
    exc_type: Option<&Bound<'_, PyAny>>,
    exc_value: Option<&Bound<'_, PyAny>>,
    traceback: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    close(py, span, token, exc_type, exc_value, traceback)
}

fn close(
    py: Python<'_>,
    span: &Bound<'_, PySpan>,
    token: Option<&Bound<'_, PyAny>>,
    exc_type: Option<&Bound<'_, PyAny>>,
    exc_value: Option<&Bound<'_, PyAny>>,
    traceback: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    if let Some(token) = token.filter(|t| !t.is_none()) {
        let reset = current_var(py)?.reset.bind(py).call1((token,));
        if let Err(e) = reset {
            // A token from another context (the block was resumed elsewhere): not the user's
            // problem; the span still ends.
            global::report_internal_error(
                "context.reset",
                &format!("could not reset the current span: {e}"),
            );
        }
    }
    let s = span.get();
    if let Some(exc) = exc_value.filter(|e| !e.is_none()) {
        if !is_control_flow(exc) {
            record_exception_into(py, s, exc, exc_type, traceback);
        }
    }
    end_span(s, None);
    Ok(())
}

/// `GeneratorExit` (a generator closed by its consumer), `StopIteration` and
/// `StopAsyncIteration` are control flow, not errors.
pub(crate) fn is_control_flow(exc: &Bound<'_, PyAny>) -> bool {
    use pyo3::exceptions::{PyGeneratorExit, PyStopAsyncIteration, PyStopIteration};
    exc.is_instance_of::<PyGeneratorExit>()
        || exc.is_instance_of::<PyStopIteration>()
        || exc.is_instance_of::<PyStopAsyncIteration>()
}

pub(crate) fn record_exception_into(
    py: Python<'_>,
    s: &PySpan,
    exc: &Bound<'_, PyAny>,
    exc_type: Option<&Bound<'_, PyAny>>,
    traceback: Option<&Bound<'_, PyAny>>,
) {
    let ty = exc_type
        .filter(|t| !t.is_none())
        .cloned()
        .unwrap_or_else(|| exc.get_type().into_any());
    let type_name = ty
        .getattr("__qualname__")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "Exception".into());
    // str() of an exception is the message the user wrote; bounded all the same.
    let message = exc
        .str()
        .map(|m| convert::text(&m))
        .unwrap_or_else(|_| String::new());
    let message: String = message.chars().take(4096).collect();
    let stack = traceback.filter(|t| !t.is_none()).and_then(|tb| {
        let tbm = py.import("traceback").ok()?;
        let lines = tbm.call_method1("format_exception", (&ty, exc, tb)).ok()?;
        let joined: String = lines.extract::<Vec<String>>().ok()?.concat();
        let start = joined.len().saturating_sub(16 * 1024);
        let start = (start..joined.len())
            .find(|i| joined.is_char_boundary(*i))
            .unwrap_or(joined.len());
        Some(joined[start..].to_string())
    });
    if let Some(r) = s.record.lock().as_mut() {
        r.record_exception(&type_name, &message, stack.as_deref());
    }
}

/// Ends a span (at `end_ns`, or now). Ending twice, or a frame-only entry (it has no record),
/// does nothing.
pub(crate) fn end_span(s: &PySpan, end_ns: Option<u64>) {
    let record = s.record.lock().take();
    if let Some(mut r) = record {
        r.end_at(end_ns);
        global::submit(r);
    }
}

#[pymethods]
impl PySpan {
    /// Trace id, 32 hex digits.
    #[getter]
    fn trace_id(&self) -> String {
        self.trace_id.to_hex()
    }

    /// Span id, 16 hex digits (empty for a frame outside any span).
    #[getter]
    fn span_id(&self) -> String {
        if self.span_id.is_valid() {
            self.span_id.to_hex()
        } else {
            String::new()
        }
    }

    /// Trace id as an integer (for the OpenTelemetry bridge).
    #[getter]
    fn _trace_id_int(&self) -> u128 {
        self.trace_id.0
    }

    /// Span id as an integer (for the OpenTelemetry bridge).
    #[getter]
    fn _span_id_int(&self) -> u64 {
        self.span_id.0
    }

    /// Whether the trace is sampled.
    #[getter]
    fn sampled(&self) -> bool {
        self.sampled
    }

    /// `traceparent` for this span.
    #[getter]
    fn traceparent(&self) -> String {
        propagation::traceparent(self.trace_id, self.span_id, self.sampled)
    }

    /// Whether attributes set now are recorded (false once ended, or when fivelens is off).
    fn is_recording(&self) -> bool {
        match &self.owner {
            Some(o) => o.get().is_recording(),
            None => self.record.lock().is_some(),
        }
    }

    /// Sets one attribute (any value; unknown types become their type name).
    fn set_attribute(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) {
        if let Some(o) = &self.owner {
            return o.get().set_attribute(key, value);
        }
        let Ok(k) = key.cast::<PyString>() else {
            return;
        };
        let Some(v) = convert::value(value) else {
            return;
        };
        if let Some(r) = self.record.lock().as_mut() {
            r.set_attribute(Key::new(&convert::text(k)), v);
        }
    }

    /// Sets several attributes.
    fn set_attributes(&self, attributes: &Bound<'_, PyAny>) {
        if let Some(o) = &self.owner {
            return o.get().set_attributes(attributes);
        }
        if let Some(r) = self.record.lock().as_mut() {
            let limits = fivelens_core::record::Limits::current();
            convert::set_attributes(r, attributes.cast::<PyDict>().ok(), &limits);
        }
    }

    /// Adds an event, with optional attributes and timestamp (ns since the epoch).
    #[pyo3(signature = (name, attributes=None, timestamp=None))]
    fn add_event(
        &self,
        name: &Bound<'_, PyAny>,
        attributes: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if let Some(o) = &self.owner {
            return o.get().add_event(name, attributes, timestamp);
        }
        let name = match name.cast::<PyString>() {
            Ok(s) => convert::text(s),
            Err(_) => convert::type_label(name),
        };
        let mut kv = Vec::new();
        convert::attributes(attributes.and_then(|a| a.cast::<PyDict>().ok()), &mut kv);
        let ts = ns(timestamp)?;
        if let Some(r) = self.record.lock().as_mut() {
            r.add_event(&name, ts, kv);
        }
        Ok(())
    }

    /// Sets the status: `"ok"`, `"error"` (with a description) or `"unset"`; also accepts
    /// OpenTelemetry `StatusCode` values.
    #[pyo3(signature = (status, description=None))]
    fn set_status(&self, status: &Bound<'_, PyAny>, description: Option<&str>) -> PyResult<()> {
        if let Some(o) = &self.owner {
            return o.get().set_status(status, description);
        }
        let code = if let Ok(s) = status.cast::<PyString>() {
            convert::text(s).to_ascii_lowercase()
        } else if let Ok(n) = status.getattr("name").and_then(|n| n.extract::<String>()) {
            n.to_ascii_lowercase()
        } else {
            return Err(PyValueError::new_err(
                "status: expected 'ok', 'error' or 'unset'",
            ));
        };
        let st = match code.as_str() {
            "ok" => Status::Ok,
            "error" => Status::Error(description.unwrap_or("").into()),
            "unset" => Status::Unset,
            other => {
                return Err(PyValueError::new_err(format!(
                    "status: expected 'ok', 'error' or 'unset', got {other:?}"
                )))
            }
        };
        if let Some(r) = self.record.lock().as_mut() {
            r.set_status(st);
        }
        Ok(())
    }

    /// Records an exception (event, status ERROR, `error.type`) without ending the span.
    fn record_exception(&self, py: Python<'_>, exception: &Bound<'_, PyAny>) {
        if let Some(o) = &self.owner {
            return o.get().record_exception(py, exception);
        }
        let tb = exception.getattr("__traceback__").ok();
        record_exception_into(py, self, exception, None, tb.as_ref());
    }

    /// Renames the span.
    fn update_name(&self, name: &str) {
        if let Some(r) = self.record.lock().as_mut() {
            r.set_name(name);
        }
    }

    /// Ends the span (at `end_time`, ns since the epoch, or now). Ending twice does nothing.
    #[pyo3(signature = (end_time=None))]
    fn end(&self, end_time: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        end_span(self, ns(end_time)?);
        Ok(())
    }

    /// Sets `attributes` and ends the span, in one call (model-call integrations gather their
    /// attributes during the call and hand them over at the end).
    #[pyo3(signature = (attributes, end_time=None))]
    fn _end_with(
        &self,
        attributes: &Bound<'_, PyDict>,
        end_time: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.end_with(Some(attributes), &[], ns(end_time)?);
        Ok(())
    }

    /// Makes this span current; returns a token for `_deactivate`.
    fn _activate(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        Ok(current_var(py)?.set.bind(py).call1((slf,))?.unbind())
    }

    /// Restores what was current before `_activate`.
    fn _deactivate(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<()> {
        current_var(py)?.reset.bind(py).call1((token,))?;
        Ok(())
    }

    /// The OpenTelemetry context object current when this frame was entered.
    #[getter]
    fn _otel_ctx(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.otel_ctx.as_ref().map(|c| c.clone_ref(py))
    }

    /// Cached OpenTelemetry view of this frame.
    #[getter]
    fn _get_otel_view(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.otel_view.lock().as_ref().map(|c| c.clone_ref(py))
    }

    fn _set_otel_view(&self, view: Py<PyAny>) {
        *self.otel_view.lock() = Some(view);
    }

    /// The span a `context(...)` frame sits in (itself for a real span).
    #[getter]
    fn _span(slf: &Bound<'_, Self>) -> Option<Py<PySpan>> {
        let s = slf.get();
        if let Some(o) = &s.owner {
            return Some(o.clone_ref(slf.py()));
        }
        if s.span_id.is_valid() {
            return Some(slf.clone().unbind());
        }
        None
    }

    /// The trace-scoped attributes in force, as a dict.
    #[getter]
    fn context_attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        if let Some(scope) = &self.scope {
            for (k, v) in &scope.attributes {
                d.set_item(k.as_str(), crate::value_to_py(py, v)?)?;
            }
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        if self.frame_only() && !self.span_id.is_valid() {
            return "<fivelens context frame>".into();
        }
        let name = self
            .record
            .lock()
            .as_ref()
            .map(|r| r.name().to_string())
            .unwrap_or_default();
        format!(
            "<fivelens.Span {name:?} trace_id={} span_id={}>",
            self.trace_id, self.span_id
        )
    }
}

/// span(name, *, kind=None, parent=None, links=None, attributes=None, **attributes)
/// --
///
/// A context manager, and a decorator for functions, coroutines, generators and async
/// generators, that runs its block inside a new span, child of the current one. An exception
/// leaving it sets status ERROR, `error.type` and an `exception` event, and propagates unchanged.
///
/// `parent` may be a `Span`, a `RemoteContext` (from `extract`), a `traceparent` string or a
/// mapping of headers; a malformed `traceparent` starts a new trace. Attribute values of any
/// type are accepted: str, bool, int, float and lists of them are kept as such, dicts become
/// JSON, other objects their type name.
#[pyfunction]
#[pyo3(signature = (name, *, kind=None, parent=None, links=None, attributes=None, _instrumentation=None, **kwargs))]
#[allow(clippy::too_many_arguments)]
pub fn span(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    kind: Option<&Bound<'_, PyAny>>,
    parent: Option<Py<PyAny>>,
    links: Option<&Bound<'_, PyAny>>,
    attributes: Option<&Bound<'_, PyDict>>,
    _instrumentation: Option<&str>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<SpanScope> {
    let parent = parent.filter(|p| !p.is_none(py));
    // Inside a trace dropped at its start, the attributes would be thrown away: keep them as
    // given and convert them only if this scope is ever opened in a recorded trace.
    let defer = parent.is_none()
        && (attributes.is_some() || kwargs.is_some())
        && global::head_sampling_active()
        && dropped_frame(py)?.is_some();
    let (template, deferred) = if defer && links.is_none_or(|l| l.is_none()) {
        let name = name.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "name: expected a string, got {}",
                convert::type_label(name)
            ))
        })?;
        let mut bare = SpanRecord::template(&convert::text(name), convert::span_kind(kind)?);
        bare.instrumentation = _instrumentation.map(Key::new);
        let keep = |d: Option<&Bound<'_, PyDict>>| d.map(|d| d.clone().unbind());
        (bare, Some((keep(attributes), keep(kwargs))))
    } else {
        let full = template(py, name, kind, links, attributes, _instrumentation, kwargs)?;
        (full, None)
    };
    Ok(SpanScope {
        template,
        deferred,
        completed: std::sync::OnceLock::new(),
        parent,
        open: Mutex::new(SmallVec::new()),
    })
}

/// The current frame when it is a span of a trace that head sampling dropped.
fn dropped_frame(py: Python<'_>) -> PyResult<Option<Py<PySpan>>> {
    let v = current_var(py)?.get.bind(py).call0()?;
    Ok(v.cast_into::<PySpan>()
        .ok()
        .filter(|f| {
            let f = f.get();
            f.span_id.is_valid() && !f.sampled && f.record.lock().is_none() && f.owner.is_none()
        })
        .map(Bound::unbind))
}

/// Builds the template record of a span: name, kind, attributes (converted straight into the
/// record's buffer), links and instrumentation scope.
#[allow(clippy::too_many_arguments)]
fn template(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    kind: Option<&Bound<'_, PyAny>>,
    links_arg: Option<&Bound<'_, PyAny>>,
    attributes: Option<&Bound<'_, PyDict>>,
    instrumentation: Option<&str>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<SpanRecord> {
    let name = name.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "name: expected a string, got {}",
            convert::type_label(name)
        ))
    })?;
    let mut record = match name.to_str() {
        Ok(n) => SpanRecord::template(n, convert::span_kind(kind)?),
        Err(_) => SpanRecord::template(&convert::lossy(name), convert::span_kind(kind)?),
    };
    // Attributes go into the template even when not recording yet: decorators are often
    // applied at import time, before `instrument()` runs.
    let limits = fivelens_core::record::Limits::current();
    convert::set_attributes(&mut record, attributes, &limits);
    convert::set_attributes(&mut record, kwargs, &limits);
    for (t, s, attrs) in links(py, links_arg)? {
        record.add_link(t, s, attrs);
    }
    record.instrumentation = instrumentation.map(Key::new);
    Ok(record)
}

/// Starts a span that is not made current (integrations that build a tree from their own run
/// ids pass `parent` explicitly). End it with `Span.end()`.
#[pyfunction]
#[pyo3(signature = (name, *, kind=None, parent=None, links=None, attributes=None, start_time=None, _instrumentation=None, **kwargs))]
#[allow(clippy::too_many_arguments)]
pub fn start_span(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    kind: Option<&Bound<'_, PyAny>>,
    parent: Option<&Bound<'_, PyAny>>,
    links: Option<&Bound<'_, PyAny>>,
    attributes: Option<&Bound<'_, PyDict>>,
    start_time: Option<&Bound<'_, PyAny>>,
    _instrumentation: Option<&str>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<PySpan> {
    let template = template(py, name, kind, links, attributes, _instrumentation, kwargs)?;
    start_record(py, template, parent, ns(start_time)?)
}

/// `start_span(name, kind="internal", parent=parent, attributes=attributes,
/// _instrumentation=instrumentation)` with positional arguments: what a framework integration
/// calls for each run, where keyword parsing is a measurable part of the cost.
#[pyfunction]
pub fn _start_internal(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    parent: Option<&Bound<'_, PyAny>>,
    attributes: &Bound<'_, PyDict>,
    instrumentation: &str,
) -> PyResult<PySpan> {
    let template = template(
        py,
        name,
        None,
        None,
        Some(attributes),
        Some(instrumentation),
        None,
    )?;
    start_record(py, template, parent, None)
}

/// The current span, or `None`.
#[pyfunction]
pub fn current_span(py: Python<'_>) -> PyResult<Option<Py<PySpan>>> {
    Ok(current_frame(py)?.and_then(|f| PySpan::_span(&f)))
}

/// The current frame (span or `context(...)` frame), for the OpenTelemetry bridge.
#[pyfunction]
pub fn _current_frame(py: Python<'_>) -> PyResult<Option<Py<PySpan>>> {
    Ok(current_frame(py)?.map(|f| f.unbind()))
}

/// `context(session_id=None, user_id=None, tenant=None, tags=None, **attributes)`.
#[pyclass(frozen, module = "fivelens._native", name = "ContextScope")]
pub struct ContextScope {
    attributes: Vec<(Key, Value)>,
    /// Stamped on model-call spans only (`stage`, `prompt`).
    llm_attributes: Vec<(Key, Value)>,
    open: Mutex<SmallVec<[Py<PyAny>; 1]>>,
}

/// context(*, session_id=None, user_id=None, tenant=None, tags=None, **attributes)
/// --
///
/// Trace-scoped attributes: stamped on every span started inside the block (in this task and in
/// the threads and tasks it starts), and carried to downstream fivelens services by `inject`.
/// `user_id` is recorded only as a keyed hash (`user.hash`).
#[pyfunction]
#[pyo3(signature = (*, session_id=None, user_id=None, tenant=None, tags=None, **kwargs))]
pub fn context(
    session_id: Option<&Bound<'_, PyAny>>,
    user_id: Option<&Bound<'_, PyAny>>,
    tenant: Option<&Bound<'_, PyAny>>,
    tags: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<ContextScope> {
    let as_text = |v: Option<&Bound<'_, PyAny>>, field: &str| -> PyResult<Option<String>> {
        match v.filter(|v| !v.is_none()) {
            None => Ok(None),
            Some(v) => match convert::value(v) {
                Some(Value::Str(s)) => Ok(Some(s.into())),
                Some(Value::I64(i)) => Ok(Some(i.to_string())),
                _ => Err(PyTypeError::new_err(format!(
                    "{field}: expected a string, got {}",
                    convert::type_label(v)
                ))),
            },
        }
    };
    let session = as_text(session_id, "session_id")?;
    let user = as_text(user_id, "user_id")?;
    let tenant = as_text(tenant, "tenant")?;
    let tags = match tags.filter(|t| !t.is_none()) {
        None => None,
        Some(t) => match convert::value(t) {
            Some(Value::StrArray(a)) => Some(a.into_vec()),
            Some(Value::Str(s)) => Some(vec![s]),
            _ => return Err(PyTypeError::new_err("tags: expected a list of strings")),
        },
    };
    let mut more = Vec::new();
    convert::attributes(kwargs, &mut more);
    Ok(ContextScope {
        attributes: scope::context_attributes(
            session.as_deref(),
            user.as_deref(),
            tenant.as_deref(),
            tags,
            more,
        ),
        llm_attributes: Vec::new(),
        open: Mutex::new(SmallVec::new()),
    })
}

fn required_text(v: &Bound<'_, PyAny>, field: &str) -> PyResult<String> {
    match v.cast::<PyString>() {
        Ok(s) if !convert::text(s).trim().is_empty() => Ok(convert::text(s)),
        Ok(_) => Err(PyValueError::new_err(format!("{field}: must not be empty"))),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{field}: expected a string, got {}",
            convert::type_label(v)
        ))),
    }
}

/// stage(name)
/// --
///
/// Marks every model call inside the block (in this task and the threads and tasks it starts)
/// with its pipeline stage, `fivelens.stage`: classifier, orchestrator, reasoning, synthesis...
/// Cost and tokens can then be aggregated by stage (`fivelens stats`). Also a decorator.
#[pyfunction]
pub fn stage(name: &Bound<'_, PyAny>) -> PyResult<ContextScope> {
    let name = required_text(name, "name")?;
    Ok(ContextScope {
        attributes: Vec::new(),
        llm_attributes: vec![(Key::new(sc::FIVELENS_STAGE), Value::from(name.as_str()))],
        open: Mutex::new(SmallVec::new()),
    })
}

/// context_tiers(tiers)
/// --
///
/// Declares what each context tier contributed (a mapping of tier name to its text, a list of
/// texts, or a token count): every model call inside the block gets
/// `fivelens.context.tier_tokens.<tier>`, counted on the processing thread. Also a decorator.
#[pyfunction]
pub fn context_tiers(tiers: &Bound<'_, PyAny>) -> PyResult<ContextScope> {
    let Ok(dict) = tiers.cast::<pyo3::types::PyDict>() else {
        return Err(PyTypeError::new_err(format!(
            "tiers: expected a mapping of tier name to text, texts or a token count, got {}",
            convert::type_label(tiers)
        )));
    };
    let json = convert::json(dict.as_any(), 0);
    Ok(ContextScope {
        attributes: Vec::new(),
        llm_attributes: vec![(
            Key::new(sc::PRIVATE_CONTEXT_TIERS),
            Value::from(json.to_string().as_str()),
        )],
        open: Mutex::new(SmallVec::new()),
    })
}

/// prompt(name, version=None)
/// --
///
/// Declares the prompt template in use: every model call inside the block gets
/// `gen_ai.prompt.name` and `gen_ai.prompt.version`. Also a decorator.
#[pyfunction]
#[pyo3(signature = (name, version=None))]
pub fn prompt(
    name: &Bound<'_, PyAny>,
    version: Option<&Bound<'_, PyAny>>,
) -> PyResult<ContextScope> {
    let name = required_text(name, "name")?;
    let mut llm_attributes = vec![(Key::new(sc::GEN_AI_PROMPT_NAME), Value::from(name.as_str()))];
    if let Some(v) = version.filter(|v| !v.is_none()) {
        let version = match convert::value(v) {
            Some(Value::Str(s)) => s.to_string(),
            Some(Value::I64(i)) => i.to_string(),
            Some(Value::F64(f)) => f.to_string(),
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "version: expected a string or a number, got {}",
                    convert::type_label(v)
                )))
            }
        };
        llm_attributes.push((
            Key::new(sc::GEN_AI_PROMPT_VERSION),
            Value::from(version.as_str()),
        ));
    }
    Ok(ContextScope {
        attributes: Vec::new(),
        llm_attributes,
        open: Mutex::new(SmallVec::new()),
    })
}

#[pymethods]
impl ContextScope {
    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<PySpan>> {
        let (frame, token) = self._open(py)?;
        self.open.lock().push(token);
        Ok(frame)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        let token = self.open.lock().pop();
        if let Some(t) = token {
            if let Err(e) = current_var(py)?.reset.bind(py).call1((t,)) {
                global::report_internal_error(
                    "context.reset",
                    &format!("could not reset the context: {e}"),
                );
            }
        }
        Ok(false)
    }

    /// Pushes the frame; returns `(frame, token)`.
    fn _open(&self, py: Python<'_>) -> PyResult<(Py<PySpan>, Py<PyAny>)> {
        let frame = self._start(py)?;
        let token = current_var(py)?.set.bind(py).call1((&frame,))?.unbind();
        Ok((frame, token))
    }

    /// Builds the frame without making it current (generator decorators activate it per resume).
    fn _start(&self, py: Python<'_>) -> PyResult<Py<PySpan>> {
        let resolved = resolve_current(py)?;
        let outer = current_frame(py)?;
        let owner: Option<Py<PySpan>> = outer.as_ref().and_then(PySpan::_span);
        let parent = resolved.parent;
        let mut scope = TraceScope::child_of(resolved.scope.as_deref(), self.attributes.clone());
        if !self.llm_attributes.is_empty() {
            scope = TraceScope::child_for_model_calls(Some(&scope), self.llm_attributes.clone());
        }
        // The frame's ids are those of its parent, so children of the frame are children of it.
        let (trace_id, span_id, sampled) = match parent {
            Some(p) => (p.trace_id, p.span_id, p.flags & 1 == 1),
            None => (TraceId(0), SpanId(0), true),
        };
        let owner_matches = owner.as_ref().is_some_and(|o| o.get().span_id == span_id);
        let frame = PySpan {
            trace_id,
            span_id: if owner_matches { span_id } else { SpanId(0) },
            sampled,
            trace_state: resolved.trace_state,
            record: Mutex::new(None),
            scope: Some(Arc::new(scope)),
            owner: if owner_matches { owner } else { None },
            remote: if owner_matches { None } else { parent },
            otel_ctx: resolved.otel_ctx,
            otel_view: Mutex::new(None),
        };
        Py::new(py, frame)
    }

    /// `@context(...)`, `@stage(...)`, `@prompt(...)` on a function, coroutine function,
    /// generator or async generator.
    fn __call__(slf: &Bound<'_, Self>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let decorate = py.import("fivelens._api")?.getattr("_decorate")?;
        Ok(decorate.call1((slf, func))?.unbind())
    }

    /// The attributes this scope sets (on every span).
    #[getter]
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.attributes {
            d.set_item(k.as_str(), crate::value_to_py(py, v)?)?;
        }
        Ok(d)
    }

    /// The attributes this scope sets on model-call spans only (stage, prompt).
    #[getter]
    fn llm_attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.llm_attributes {
            d.set_item(k.as_str(), crate::value_to_py(py, v)?)?;
        }
        Ok(d)
    }
}

/// A parent read from a carrier by `extract`.
#[pyclass(frozen, module = "fivelens._native", name = "RemoteContext")]
pub struct RemoteContext {
    incoming: Incoming,
}

#[pymethods]
impl RemoteContext {
    /// Whether a valid `traceparent` was found.
    fn is_valid(&self) -> bool {
        self.incoming.parent.is_some()
    }
    /// Trace id (empty when invalid).
    #[getter]
    fn trace_id(&self) -> String {
        self.incoming
            .parent
            .map(|p| p.trace_id.to_hex())
            .unwrap_or_default()
    }
    /// Parent span id (empty when invalid).
    #[getter]
    fn span_id(&self) -> String {
        self.incoming
            .parent
            .map(|p| p.span_id.to_hex())
            .unwrap_or_default()
    }
    fn __repr__(&self) -> String {
        match self.incoming.parent {
            Some(p) => format!(
                "<fivelens.RemoteContext trace_id={} span_id={}>",
                p.trace_id, p.span_id
            ),
            None => "<fivelens.RemoteContext (no valid traceparent)>".into(),
        }
    }
}

/// Reads `traceparent`, `tracestate` and `fivelens-context` from a mapping (HTTP headers, MCP
/// `_meta`); a missing or malformed `traceparent` gives a context that starts a new trace.
#[pyfunction]
pub fn extract(py: Python<'_>, carrier: &Bound<'_, PyAny>) -> PyResult<RemoteContext> {
    let d = carrier
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("carrier: expected a dict of headers"))?;
    Ok(RemoteContext {
        incoming: extract_mapping(py, d)?,
    })
}

/// Writes `traceparent`, `tracestate` and `fivelens-context` for the current span (or `span`)
/// into `carrier` (a new dict when omitted), and returns it.
#[pyfunction]
#[pyo3(signature = (carrier=None, span=None))]
pub fn inject<'py>(
    py: Python<'py>,
    carrier: Option<Bound<'py, PyDict>>,
    span: Option<&Bound<'py, PySpan>>,
) -> PyResult<Bound<'py, PyDict>> {
    let carrier = carrier.unwrap_or_else(|| PyDict::new(py));
    let frame = match span {
        Some(s) => Some(s.clone()),
        None => current_frame(py)?,
    };
    let resolved = match &frame {
        Some(f) if span.is_some() => Resolved {
            parent: f.get().as_parent(),
            trace_state: f.get().trace_state.clone(),
            scope: f.get().scope.clone(),
            otel_ctx: None,
        },
        _ => resolve_current(py)?,
    };
    if let Some(p) = resolved.parent {
        for (k, v) in propagation::inject(
            p.trace_id,
            p.span_id,
            p.flags & 1 == 1,
            resolved.trace_state.as_deref(),
            resolved.scope.as_deref(),
        ) {
            carrier.set_item(k, v)?;
        }
    } else if let Some(scope) = &resolved.scope {
        let wire = scope.to_wire();
        if !wire.is_empty() {
            carrier.set_item(fivelens_core::semconv::FIVELENS_CONTEXT_HEADER, wire)?;
        }
    }
    Ok(carrier)
}

/// Records a span made by the host's own OpenTelemetry SDK inside a fivelens trace (the bridge's
/// span processor): its ids are kept, it carries the scope of the fivelens frame it started in,
/// and it goes to the local store only, since the host's pipeline exports it.
#[pyfunction]
#[pyo3(signature = (name, trace_id, span_id, parent_span_id, *, kind=None, start_time, end_time, attributes=None, events=None, status=None, status_message=None, scope=None, frame=None))]
#[allow(clippy::too_many_arguments)]
pub fn _record_foreign(
    name: &str,
    trace_id: u128,
    span_id: u64,
    parent_span_id: u64,
    kind: Option<&Bound<'_, PyAny>>,
    start_time: u64,
    end_time: u64,
    attributes: Option<&Bound<'_, PyDict>>,
    events: Option<&Bound<'_, PyAny>>,
    status: Option<&str>,
    status_message: Option<&str>,
    scope: Option<&str>,
    frame: Option<&Bound<'_, PySpan>>,
) -> PyResult<()> {
    if !global::is_recording() || trace_id == 0 || span_id == 0 {
        return Ok(());
    }
    let parent = (parent_span_id != 0).then_some(Parent {
        trace_id: TraceId(trace_id),
        span_id: SpanId(parent_span_id),
        remote: false,
        flags: 1,
    });
    let mut r = SpanRecord::start(name, convert::span_kind(kind)?, parent);
    r.trace_id = TraceId(trace_id);
    r.span_id = SpanId(span_id);
    r.start_ns = start_time;
    r.flags |= fivelens_core::record::flags::STORE_ONLY;
    convert::set_attributes(
        &mut r,
        attributes,
        &fivelens_core::record::Limits::current(),
    );
    r.set_attribute(
        Key::new(fivelens_core::semconv::FIVELENS_OTEL_FOREIGN),
        Value::Bool(true),
    );
    if let Some(events) = events.filter(|e| !e.is_none()) {
        for item in events.try_iter()? {
            let item = item?;
            let (ename, eattrs, ets): (String, Option<Bound<'_, PyDict>>, Option<u64>) =
                item.extract()?;
            let mut ekv = Vec::new();
            convert::attributes(eattrs.as_ref(), &mut ekv);
            r.add_event(&ename, ets, ekv);
        }
    }
    match status {
        Some("error") => r.set_status(Status::Error(status_message.unwrap_or("").into())),
        Some("ok") => r.set_status(Status::Ok),
        _ => {}
    }
    r.scope = frame.and_then(|f| f.get().scope.clone());
    r.instrumentation = scope.map(Key::new);
    global::note_started();
    r.end_at(Some(end_time));
    global::submit(r);
    Ok(())
}
