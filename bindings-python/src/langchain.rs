//! The LangChain handler's run table and its chain runs (graphs, nodes, runnables), natively.
//!
//! A LangGraph invoke is mostly chain runs (14 of the 20 callbacks of a small agent graph), and
//! what the handler costs there is interpreter time: attribute lookups, a run object built field
//! by field, an attribute dict per span. The chain callbacks are these functions, set on the
//! handler class as they are (a builtin is not bound as a method, so LangChain calls them with no
//! Python frame in between); the run table is the integration's own `dict` (keyed by the run
//! id's integer), shared with the Python code that handles model, tool and retriever runs
//! through the same `_LcRun` objects. The logic mirrors what the module docstring of
//! `fivelens/integrations/langchain.py` describes; nothing here raises into LangChain (a failure
//! is reported in `fivelens.status()`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fivelens_core::record::Limits;
use fivelens_core::semconv as sc;
use fivelens_core::{global, guards, Key, SpanKind, SpanRecord, Status, Value};
use parking_lot::RwLock;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString};

use crate::convert;
use crate::span::{self, PySpan};

/// Runs tracked at once; a run that never ends (an abandoned stream) must not grow the table
/// forever: beyond this the oldest run's span ends and the run is forgotten.
const MAX_RUNS: usize = 50_000;
/// Interrupted graph runs remembered for their resumption (by thread id).
const MAX_INTERRUPTED: usize = 10_000;
const INSTRUMENTATION: &str = "fivelens.langchain";

static ENABLED: AtomicBool = AtomicBool::new(false);
static CAPTURE_CHAIN_IO: AtomicBool = AtomicBool::new(false);
static COLLAPSE_CHAINS: AtomicBool = AtomicBool::new(false);

/// The integration's shared objects.
struct Setup {
    /// run id (int) -> `_LcRun`, oldest first.
    runs: Py<PyDict>,
    /// thread id -> the root span of a graph run that stopped at an interrupt (an OrderedDict).
    interrupted: Py<PyAny>,
    /// `ToolAttempts` (a root run's tool calls, for retries).
    tool_attempts: Py<PyAny>,
    /// `to_json` (chain inputs and outputs, with `capture_chain_io`).
    to_json: Py<PyAny>,
    /// LangChain's `ls_provider` values -> `gen_ai.provider.name`.
    providers: Py<PyDict>,
    /// `_model_finish(run, response, error)`: the model runs the native path leaves to Python
    /// (covered by a provider SDK's span, text-completion models, errors).
    model_finish: Py<PyAny>,
}

static SETUP: RwLock<Option<Arc<Setup>>> = RwLock::new(None);

/// One LangChain run in progress.
#[pyclass(module = "fivelens._native", name = "_LcRun")]
pub struct LcRun {
    #[pyo3(get)]
    run_id: Py<PyAny>,
    #[pyo3(get)]
    kind: Py<PyString>,
    #[pyo3(get)]
    name: Py<PyString>,
    /// The fivelens frame current when the run started.
    #[pyo3(get)]
    frame: Py<PyAny>,
    /// The explicit parent of its span (None: the current frame).
    #[pyo3(get, set)]
    parent: Py<PyAny>,
    /// The top-level run it belongs to (None: itself).
    root: Option<Py<LcRun>>,
    /// The LangGraph node run it belongs to (`is_node`: itself).
    node: Option<Py<LcRun>>,
    is_node: bool,
    #[pyo3(get, set)]
    span: Py<PyAny>,
    /// The parent its children get.
    #[pyo3(get, set)]
    effective: Py<PyAny>,
    #[pyo3(get)]
    start_ns: u64,
    #[pyo3(get, set)]
    open: bool,
    #[pyo3(get, set)]
    covered: bool,
    #[pyo3(get, set)]
    first_token_ns: u64,
    #[pyo3(get, set)]
    messages: Py<PyAny>,
    #[pyo3(get, set)]
    metadata: Py<PyAny>,
    #[pyo3(get)]
    max_step: i64,
    #[pyo3(get)]
    interrupted: bool,
    /// On a root run: its tool calls (`ToolAttempts`).
    #[pyo3(get, set)]
    tools: Py<PyAny>,
    /// Tool runs: the breaker's answer.
    #[pyo3(get, set)]
    boundary: Py<PyAny>,
}

#[pymethods]
impl LcRun {
    #[getter]
    fn root(slf: &Bound<'_, Self>) -> Py<LcRun> {
        match &slf.borrow().root {
            Some(r) => r.clone_ref(slf.py()),
            None => slf.clone().unbind(),
        }
    }

    #[getter]
    fn node(slf: &Bound<'_, Self>) -> Option<Py<LcRun>> {
        LcRun::node_of(slf)
    }
}

impl LcRun {
    /// The LangGraph node run `run` belongs to (itself for a node run).
    fn node_of(run: &Bound<'_, Self>) -> Option<Py<LcRun>> {
        let r = run.borrow();
        if r.is_node {
            return Some(run.clone().unbind());
        }
        r.node.as_ref().map(|n| n.clone_ref(run.py()))
    }
}

/// `_lc_setup(runs, interrupted, tool_attempts, to_json, providers, model_finish)`: the
/// integration's shared objects.
#[pyfunction]
pub fn _lc_setup(
    runs: Bound<'_, PyDict>,
    interrupted: Bound<'_, PyAny>,
    tool_attempts: Bound<'_, PyAny>,
    to_json: Bound<'_, PyAny>,
    providers: Bound<'_, PyDict>,
    model_finish: Bound<'_, PyAny>,
) {
    *SETUP.write() = Some(Arc::new(Setup {
        runs: runs.unbind(),
        interrupted: interrupted.unbind(),
        tool_attempts: tool_attempts.unbind(),
        to_json: to_json.unbind(),
        providers: providers.unbind(),
        model_finish: model_finish.unbind(),
    }));
}

/// `_lc_configure(enabled, capture_chain_io, collapse_chains)`.
#[pyfunction]
pub fn _lc_configure(enabled: bool, capture_chain_io: bool, collapse_chains: bool) {
    CAPTURE_CHAIN_IO.store(capture_chain_io, Ordering::Relaxed);
    COLLAPSE_CHAINS.store(collapse_chains, Ordering::Relaxed);
    ENABLED.store(enabled, Ordering::Release);
}

fn setup() -> PyResult<Arc<Setup>> {
    SETUP
        .read()
        .clone()
        .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("_lc_setup was not called"))
}

fn failed(method: &str, e: &PyErr) {
    global::report_internal_error("python", &format!("{method} failed: {e}"));
}

/// Runs an entry point's body with panics turned into a `RuntimeError` (a panic would reach
/// Python as `PanicException`, a `BaseException` that neither LangChain nor the integration's
/// `except Exception` stops: it would end up in the app).
fn no_panic<T>(method: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "{method}: internal error (a panic, caught)"
        )))
    })
}

/// A callback's body: its failure is reported in `fivelens.status()`, never raised.
fn callback(method: &str, f: impl FnOnce() -> PyResult<()>) {
    if let Err(e) = no_panic(method, f) {
        failed(method, &e);
    }
}

fn run_key<'py>(run_id: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    run_id.getattr(intern!(run_id.py(), "int"))
}

fn root_of<'py>(run: &Bound<'py, LcRun>) -> Bound<'py, LcRun> {
    let py = run.py();
    match &run.borrow().root {
        Some(r) => r.bind(py).clone(),
        None => run.clone(),
    }
}

fn kind_is(run: &Bound<'_, LcRun>, kind: &str) -> bool {
    run.borrow()
        .kind
        .bind(run.py())
        .to_str()
        .is_ok_and(|k| k == kind)
}

/// `_lc_start(run_id, parent_run_id, kind, name)`: a new run, not tracked yet. Its span's parent
/// is the parent run's span when the parent run is in its own frame; otherwise the current frame
/// (the app opened a span inside the parent run, or the parent is unknown).
#[pyfunction]
pub fn _lc_start(
    py: Python<'_>,
    run_id: &Bound<'_, PyAny>,
    parent_run_id: Option<&Bound<'_, PyAny>>,
    kind: Bound<'_, PyString>,
    name: Bound<'_, PyString>,
) -> PyResult<Py<LcRun>> {
    no_panic("_lc_start", || {
        let setup = setup()?;
        Py::new(
            py,
            start_run(py, &setup, run_id, parent_run_id, kind, name)?,
        )
    })
}

fn start_run(
    py: Python<'_>,
    setup: &Setup,
    run_id: &Bound<'_, PyAny>,
    parent_run_id: Option<&Bound<'_, PyAny>>,
    kind: Bound<'_, PyString>,
    name: Bound<'_, PyString>,
) -> PyResult<LcRun> {
    let parent_run = match parent_run_id.filter(|p| !p.is_none()) {
        Some(p) => setup
            .runs
            .bind(py)
            .get_item(run_key(p)?)?
            .and_then(|r| r.cast_into::<LcRun>().ok()),
        None => None,
    };
    let frame = span::frame_object(py)?;
    let parent: Py<PyAny> = match &parent_run {
        Some(pr) if pr.borrow().frame.bind(py).is(&frame) => pr.borrow().effective.clone_ref(py),
        _ => match span::current_frame(py)? {
            Some(s) => s.into_any().unbind(),
            None => py.None(),
        },
    };
    let (root, node) = match &parent_run {
        Some(pr) => {
            let b = pr.borrow();
            let node = if b.is_node {
                Some(pr.clone().unbind())
            } else {
                b.node.as_ref().map(|n| n.clone_ref(py))
            };
            (Some(root_of(pr).unbind()), node)
        }
        None => (None, None),
    };
    Ok(LcRun {
        run_id: run_id.clone().unbind(),
        kind: kind.unbind(),
        name: name.unbind(),
        frame: frame.unbind(),
        effective: parent.clone_ref(py),
        parent,
        root,
        node,
        is_node: false,
        span: py.None(),
        start_ns: fivelens_core::record::now_ns(),
        open: true,
        covered: false,
        first_token_ns: 0,
        messages: py.None(),
        metadata: py.None(),
        max_step: 0,
        interrupted: false,
        tools: py.None(),
        boundary: py.None(),
    })
}

/// `_lc_track(run)`: the run is tracked (its children find it) until it ends.
#[pyfunction]
pub fn _lc_track(run: &Bound<'_, LcRun>) -> PyResult<()> {
    no_panic("_lc_track", || track(&*setup()?, run))
}

fn track(setup: &Setup, run: &Bound<'_, LcRun>) -> PyResult<()> {
    let py = run.py();
    let runs = setup.runs.bind(py);
    runs.set_item(run_key(run.borrow().run_id.bind(py))?, run)?;
    if runs.len() > MAX_RUNS {
        // The oldest run never ended (an abandoned stream): its span ends.
        let oldest = runs.iter().next();
        if let Some((key, stale)) = oldest {
            runs.del_item(key)?;
            if let Ok(stale) = stale.cast::<LcRun>() {
                if let Ok(s) = stale.borrow().span.bind(py).cast::<PySpan>() {
                    span::end_span(s.get(), None);
                }
            }
        }
    }
    Ok(())
}

/// `_lc_close(run_id)`: the run that ended, no longer tracked (None when it was never seen).
#[pyfunction]
pub fn _lc_close<'py>(run_id: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, LcRun>>> {
    no_panic("_lc_close", || close(&*setup()?, run_id))
}

fn close<'py>(setup: &Setup, run_id: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, LcRun>>> {
    let py = run_id.py();
    let runs = setup.runs.bind(py);
    let key = run_key(run_id)?;
    let Some(run) = runs.get_item(&key)? else {
        return Ok(None);
    };
    runs.del_item(&key)?;
    let Ok(run) = run.cast_into::<LcRun>() else {
        return Ok(None);
    };
    run.borrow_mut().open = false;
    Ok(Some(run))
}

fn get<'py>(
    d: Option<&Bound<'py, PyDict>>,
    key: &Bound<'py, PyString>,
) -> Option<Bound<'py, PyAny>> {
    d.and_then(|d| d.get_item(key).ok().flatten())
}

fn str_eq(v: Option<&Bound<'_, PyAny>>, s: &str) -> bool {
    v.and_then(|v| {
        v.cast::<PyString>()
            .ok()
            .map(|v| v.to_str().is_ok_and(|v| v == s))
    })
    .unwrap_or(false)
}

/// `str(obj)`, or its type's name when that raises.
fn display(obj: &Bound<'_, PyAny>) -> String {
    match obj.str() {
        Ok(s) => convert::text(&s),
        Err(_) => convert::type_label(obj),
    }
}

/// The chain-start callback (`on_chain_start`).
#[pyfunction]
#[pyo3(signature = (serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs))]
#[allow(clippy::too_many_arguments)]
pub fn _lc_chain_start(
    py: Python<'_>,
    serialized: &Bound<'_, PyAny>,
    inputs: &Bound<'_, PyAny>,
    run_id: &Bound<'_, PyAny>,
    parent_run_id: Option<&Bound<'_, PyAny>>,
    tags: Option<&Bound<'_, PyAny>>,
    metadata: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) {
    if !ENABLED.load(Ordering::Acquire) {
        return;
    }
    callback("on_chain_start", || {
        chain_start(
            py,
            serialized,
            inputs,
            run_id,
            parent_run_id,
            tags,
            metadata,
            kwargs,
        )
    });
}

#[allow(clippy::too_many_arguments)]
fn chain_start(
    py: Python<'_>,
    serialized: &Bound<'_, PyAny>,
    inputs: &Bound<'_, PyAny>,
    run_id: &Bound<'_, PyAny>,
    parent_run_id: Option<&Bound<'_, PyAny>>,
    tags: Option<&Bound<'_, PyAny>>,
    metadata: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    let setup = setup()?;
    let key_name = intern!(py, "name");
    let name_obj = get(kwargs, key_name)
        .filter(|n| n.is_truthy().unwrap_or(false))
        .or_else(|| get(serialized.cast::<PyDict>().ok(), key_name))
        .filter(|n| n.is_truthy().unwrap_or(false));
    let name: Bound<'_, PyString> = match name_obj {
        Some(n) => match n.cast_into::<PyString>() {
            Ok(s) => s,
            Err(e) => PyString::new(py, &display(&e.into_inner())),
        },
        None => intern!(py, "chain").clone(),
    };
    let md = metadata.and_then(|m| m.cast::<PyDict>().ok());
    let run = Bound::new(
        py,
        start_run(
            py,
            &setup,
            run_id,
            parent_run_id,
            intern!(py, "chain").clone(),
            name.clone(),
        )?,
    )?;
    let name_str = convert::text(&name);
    let is_root = run.borrow().root.is_none();
    let step = get(md, intern!(py, "langgraph_step"))
        .filter(|s| s.is_instance_of::<PyInt>())
        .and_then(|s| s.extract::<i64>().ok())
        .unwrap_or(0);
    let is_node = !is_root
        && step > 0
        && str_eq(get(md, intern!(py, "langgraph_node")).as_ref(), &name_str)
        && tags
            .filter(|t| !t.is_none())
            .is_some_and(|t| t.contains(format!("graph:step:{step}")).unwrap_or(false));
    let mut attrs: Vec<(&'static str, Value)> = Vec::with_capacity(8);
    let span_name: String;
    if is_root {
        let integration = get(md, intern!(py, "ls_integration"));
        if str_eq(integration.as_ref(), "langchain_create_agent") {
            run.borrow_mut().kind = intern!(py, "agent").clone().unbind();
            span_name = format!("invoke_agent {name_str}");
        } else if str_eq(integration.as_ref(), "langgraph") {
            // Until its runs show it is an agent; the name and the operation are settled when
            // it ends.
            run.borrow_mut().kind = intern!(py, "workflow").clone().unbind();
            span_name = format!("invoke_workflow {name_str}");
        } else {
            span_name = name_str.clone();
        }
        let tools = setup.tool_attempts.bind(py).call0()?.unbind();
        let mut r = run.borrow_mut();
        r.tools = tools;
        r.metadata = md.map_or_else(|| py.None(), |m| m.clone().into_any().unbind());
        if !r.kind.bind(py).to_str().is_ok_and(|k| k == "chain") && r.parent.is_none(py) {
            if let Some(tid) = thread_id(md) {
                // Resuming a run that stopped at an interrupt: continue its trace.
                let resumed = setup
                    .interrupted
                    .bind(py)
                    .call_method1(intern!(py, "pop"), (tid, py.None()))?;
                if !resumed.is_none() {
                    r.parent = resumed.clone().unbind();
                    r.effective = resumed.unbind();
                }
            }
        }
    } else if is_node {
        {
            let mut r = run.borrow_mut();
            r.kind = intern!(py, "node").clone().unbind();
            r.is_node = true;
        }
        span_name = name_str.clone();
        attrs.push((sc::FIVELENS_LANGGRAPH_STEP, Value::I64(step)));
        attrs.push((sc::FIVELENS_AGENT_ITERATION, Value::I64(step)));
        attrs.push((sc::FIVELENS_LANGGRAPH_NODE, Value::from(name_str.as_str())));
        if let Some(triggers) =
            get(md, intern!(py, "langgraph_triggers")).filter(|t| t.is_truthy().unwrap_or(false))
        {
            let list: Box<[Box<str>]> = triggers
                .try_iter()?
                .filter_map(Result::ok)
                .map(|t| display(&t).into_boxed_str())
                .collect();
            attrs.push((sc::FIVELENS_LANGGRAPH_TRIGGERS, Value::StrArray(list)));
        }
        let root = root_of(&run);
        let mut root = root.borrow_mut();
        if step > root.max_step {
            root.max_step = step;
        }
    } else {
        if (name_str == "call_model" || name_str == "acall_model")
            && run.borrow().node.as_ref().is_some_and(|n| {
                n.borrow(py)
                    .name
                    .bind(py)
                    .to_str()
                    .is_ok_and(|n| n == "agent")
            })
        {
            // The model step of langgraph.prebuilt.create_react_agent: the graph is an agent.
            root_of(&run).borrow_mut().kind = intern!(py, "agent").clone().unbind();
        }
        if COLLAPSE_CHAINS.load(Ordering::Relaxed) {
            return track(&setup, &run);
        }
        span_name = name_str.clone();
    }
    let mut record = SpanRecord::template(&span_name, SpanKind::Internal);
    let limits = Limits::current();
    if let Some(v) = convert::value(run_id) {
        record.set_attribute_with(Key::new(sc::FIVELENS_RUN_ID), v, &limits);
    }
    record.set_str(Key::new(sc::FIVELENS_RUN_TYPE), "chain", &limits);
    for (k, v) in attrs {
        record.set_attribute_with(Key::new(k), v, &limits);
    }
    record.set_str(Key::new(sc::FIVELENS_FRAMEWORK), framework(&run), &limits);
    if CAPTURE_CHAIN_IO.load(Ordering::Relaxed) && !inputs.is_none() && crate::capture_content() {
        let json = setup.to_json.bind(py).call1((inputs,))?;
        if let Ok(s) = json.cast::<PyString>() {
            record.set_str(
                Key::new(sc::FIVELENS_CHAIN_INPUT),
                &convert::text(s),
                &limits,
            );
        }
    }
    record.instrumentation = Some(Key::new(INSTRUMENTATION));
    let parent = run.borrow().parent.clone_ref(py);
    let started = Py::new(
        py,
        span::start_record(py, record, Some(parent.bind(py)), None)?,
    )?;
    if is_node && guards::active() {
        guards::note_iteration(started.get().trace(), step as u64);
    }
    {
        let mut r = run.borrow_mut();
        r.effective = started.clone_ref(py).into_any();
        r.span = started.into_any();
    }
    track(&setup, &run)
}

fn framework(run: &Bound<'_, LcRun>) -> &'static str {
    let root = root_of(run);
    if kind_is(&root, "workflow") || kind_is(&root, "agent") {
        "langgraph"
    } else {
        "langchain"
    }
}

fn thread_id(md: Option<&Bound<'_, PyDict>>) -> Option<String> {
    let md = md?;
    get(Some(md), intern!(md.py(), "thread_id"))
        .filter(|t| !t.is_none())
        .map(|t| display(&t))
}

/// The chain-end callback (`on_chain_end`).
#[pyfunction]
#[pyo3(signature = (outputs, *, run_id, **_kwargs))]
pub fn _lc_chain_end(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    run_id: &Bound<'_, PyAny>,
    _kwargs: Option<&Bound<'_, PyDict>>,
) {
    callback("on_chain_end", || {
        chain_end(py, run_id, Some(outputs), None)
    });
}

/// The chain-error callback (`on_chain_error`).
#[pyfunction]
#[pyo3(signature = (error, *, run_id, **_kwargs))]
pub fn _lc_chain_error(
    py: Python<'_>,
    error: &Bound<'_, PyAny>,
    run_id: &Bound<'_, PyAny>,
    _kwargs: Option<&Bound<'_, PyDict>>,
) {
    callback("on_chain_error", || {
        chain_end(py, run_id, None, Some(error))
    });
}

fn is_interrupt(error: &Bound<'_, PyAny>) -> bool {
    let py = error.py();
    let Ok(mro) = error.get_type().getattr(intern!(py, "__mro__")) else {
        return false;
    };
    let Ok(it) = mro.try_iter() else {
        return false;
    };
    it.filter_map(Result::ok).any(|c| {
        c.getattr(intern!(py, "__name__")).ok().is_some_and(|n| {
            str_eq(Some(&n), "GraphInterrupt") || str_eq(Some(&n), "NodeInterrupt")
        })
    })
}

fn chain_end(
    py: Python<'_>,
    run_id: &Bound<'_, PyAny>,
    outputs: Option<&Bound<'_, PyAny>>,
    error: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let setup = setup()?;
    let Some(run) = close(&setup, run_id)? else {
        return Ok(());
    };
    let span_obj = run.borrow().span.clone_ref(py);
    let Ok(span) = span_obj.bind(py).cast::<PySpan>() else {
        return Ok(());
    };
    let span = span.get();
    let limits = Limits::current();
    let root = root_of(&run);
    let is_root = root.is(&run);
    match error {
        // The app broke out of the run's stream (the generator was closed): not a failure.
        Some(error) if span::is_control_flow(error) => {
            span.with_record(|r| {
                r.set_attribute_with(
                    Key::new(sc::FIVELENS_RUN_CANCELLED),
                    Value::Bool(true),
                    &limits,
                )
            });
        }
        Some(error) if is_interrupt(error) => {
            run.borrow_mut().interrupted = true;
            if !is_root {
                root.borrow_mut().interrupted = true;
            }
            span.with_record(|r| {
                r.set_attribute_with(
                    Key::new(sc::FIVELENS_LANGGRAPH_INTERRUPTED),
                    Value::Bool(true),
                    &limits,
                )
            });
        }
        Some(error) => {
            let kind = error
                .get_type()
                .qualname()
                .map(|q| convert::text(&q))
                .unwrap_or_else(|_| "Exception".to_string());
            let message: String = display(error).chars().take(1024).collect();
            span.with_record(|r| {
                r.set_str(Key::new(sc::ERROR_TYPE), &kind, &limits);
                r.set_status(Status::Error(message.into()));
            });
        }
        None => {
            if let Some(out) = outputs.filter(|o| !o.is_none()) {
                if CAPTURE_CHAIN_IO.load(Ordering::Relaxed) && crate::capture_content() {
                    let json = setup.to_json.bind(py).call1((out,))?;
                    if let Ok(s) = json.cast::<PyString>() {
                        let text = convert::text(s);
                        span.with_record(|r| {
                            r.set_str(Key::new(sc::FIVELENS_CHAIN_OUTPUT), &text, &limits)
                        });
                    }
                }
            }
        }
    }
    if is_root {
        let r = run.borrow();
        let name = convert::text(r.name.bind(py));
        let kind = r.kind.bind(py).to_str().unwrap_or("chain").to_string();
        let max_step = r.max_step;
        drop(r);
        let interrupted_output = outputs
            .and_then(|o| o.cast::<PyDict>().ok())
            .and_then(|d| d.get_item(intern!(py, "__interrupt__")).ok().flatten())
            .is_some_and(|v| v.is_truthy().unwrap_or(false));
        if interrupted_output {
            run.borrow_mut().interrupted = true;
        }
        let interrupted = run.borrow().interrupted;
        span.with_record(|rec| {
            if kind == "agent" {
                rec.set_name(&format!("invoke_agent {name}"));
                rec.set_str(Key::new(sc::GEN_AI_OPERATION_NAME), "invoke_agent", &limits);
                rec.set_str(Key::new(sc::GEN_AI_AGENT_NAME), &name, &limits);
            } else if kind == "workflow" {
                rec.set_str(
                    Key::new(sc::GEN_AI_OPERATION_NAME),
                    "invoke_workflow",
                    &limits,
                );
                rec.set_str(Key::new(sc::GEN_AI_WORKFLOW_NAME), &name, &limits);
            }
            if max_step != 0 {
                rec.set_attribute_with(
                    Key::new(sc::FIVELENS_AGENT_ITERATIONS),
                    Value::I64(max_step),
                    &limits,
                );
            }
            if interrupted {
                rec.set_attribute_with(
                    Key::new(sc::FIVELENS_LANGGRAPH_INTERRUPTED),
                    Value::Bool(true),
                    &limits,
                );
            }
        });
        if interrupted {
            let md = run.borrow().metadata.clone_ref(py);
            if let Some(tid) = thread_id(md.bind(py).cast::<PyDict>().ok()) {
                let table = setup.interrupted.bind(py);
                table.set_item(tid, span_obj.bind(py))?;
                while table.len()? > MAX_INTERRUPTED {
                    table.call_method1(intern!(py, "popitem"), (false,))?;
                }
            }
        }
    }
    span::end_span(span, None);
    Ok(())
}

// ---- model runs ---------------------------------------------------------------------------

/// The model-end callback (`on_llm_end`): a chat-model run that no provider SDK span covers ends
/// here as its `chat {model}` span; the other model runs go to the Python side.
#[pyfunction]
#[pyo3(signature = (response, *, run_id, **_kwargs))]
pub fn _lc_llm_end(
    py: Python<'_>,
    response: &Bound<'_, PyAny>,
    run_id: &Bound<'_, PyAny>,
    _kwargs: Option<&Bound<'_, PyDict>>,
) {
    callback("on_llm_end", || llm_end(py, response, run_id));
}

fn llm_end(py: Python<'_>, response: &Bound<'_, PyAny>, run_id: &Bound<'_, PyAny>) -> PyResult<()> {
    let setup = setup()?;
    let Some(run) = close(&setup, run_id)? else {
        return Ok(());
    };
    if run.borrow().covered || !kind_is(&run, "chat") {
        setup
            .model_finish
            .bind(py)
            .call1((run, response, py.None()))?;
        return Ok(());
    }
    let message = output_message(response);
    chat_span(py, &setup, &run, message.as_ref(), None)
}

/// `response.generations[0][0].message`, or None.
fn output_message<'py>(response: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    let py = response.py();
    let generation = response
        .getattr(intern!(py, "generations"))
        .and_then(|g| g.get_item(0))
        .and_then(|g| g.get_item(0))
        .ok()?;
    generation
        .getattr(intern!(py, "message"))
        .ok()
        .filter(|m| !m.is_none())
}

/// `_lc_chat_span(run, message=None, error=None)`: ends a chat-model run (already closed) as its
/// `chat {model}` span (what `on_llm_end` does natively; the Python side's error path).
#[pyfunction]
#[pyo3(signature = (run, message=None, error=None))]
pub fn _lc_chat_span(
    py: Python<'_>,
    run: &Bound<'_, LcRun>,
    message: Option<&Bound<'_, PyAny>>,
    error: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    no_panic("_lc_chat_span", || {
        let setup = setup()?;
        chat_span(
            py,
            &setup,
            run,
            message.filter(|m| !m.is_none()),
            error.filter(|e| !e.is_none()),
        )
    })
}

/// A truthy value of `d[key]`, the first of `keys` that has one.
fn first_truthy<'py>(
    d: Option<&Bound<'py, PyDict>>,
    keys: &[&Bound<'py, PyString>],
) -> Option<Bound<'py, PyAny>> {
    keys.iter()
        .filter_map(|k| get(d, k))
        .find(|v| v.is_truthy().unwrap_or(false))
}

/// The span of a chat-model run: model, provider and request settings from the run's metadata;
/// its messages, output message and usage go to the core as one `langchain.chat` payload, mapped
/// on the core's thread (content, system prompt, usage, estimates).
fn chat_span(
    py: Python<'_>,
    setup: &Setup,
    run: &Bound<'_, LcRun>,
    message: Option<&Bound<'_, PyAny>>,
    error: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let r = run.borrow();
    let md_obj = r.metadata.bind(py).clone();
    let md = md_obj.cast::<PyDict>().ok();
    let response_md_obj = message.and_then(|m| m.getattr(intern!(py, "response_metadata")).ok());
    let response_md = response_md_obj
        .as_ref()
        .and_then(|d| d.cast::<PyDict>().ok());
    let response_model = first_truthy(
        response_md,
        &[intern!(py, "model_name"), intern!(py, "model")],
    );
    let model = first_truthy(md, &[intern!(py, "ls_model_name")])
        .or_else(|| response_model.clone())
        .map(|m| display(&m));
    let provider_obj = first_truthy(md, &[intern!(py, "ls_provider")]);
    let provider_raw = match &provider_obj {
        Some(p) => PyString::new(py, &display(p)),
        None => intern!(py, "langchain").clone(),
    };
    let provider = match setup.providers.bind(py).get_item(&provider_raw)? {
        Some(p) => display(&p),
        None => convert::text(&provider_raw),
    };
    let limits = Limits::current();
    let name = match &model {
        Some(m) => format!("chat {m}"),
        None => "chat".to_string(),
    };
    let mut record = SpanRecord::template(&name, SpanKind::Client);
    record.set_str(Key::new(sc::FIVELENS_FRAMEWORK), framework(run), &limits);
    if let Some(v) = convert::value(r.run_id.bind(py)) {
        record.set_attribute_with(Key::new(sc::FIVELENS_RUN_ID), v, &limits);
    }
    if let Some(t) = get(md, intern!(py, "ls_temperature")) {
        if t.is_exact_instance_of::<PyInt>() || t.is_exact_instance_of::<pyo3::types::PyFloat>() {
            if let Some(v) = convert::value(&t) {
                record.set_attribute_with(Key::new(sc::GEN_AI_REQUEST_TEMPERATURE), v, &limits);
            }
        }
    }
    if let Some(t) = get(md, intern!(py, "ls_max_tokens")) {
        if t.is_exact_instance_of::<PyInt>() {
            if let Ok(v) = t.extract::<i64>() {
                record.set_attribute_with(
                    Key::new(sc::GEN_AI_REQUEST_MAX_TOKENS),
                    Value::I64(v),
                    &limits,
                );
            }
        }
    }
    record.set_str(Key::new(sc::GEN_AI_OPERATION_NAME), "chat", &limits);
    record.set_str(Key::new(sc::GEN_AI_PROVIDER_NAME), &provider, &limits);
    if let Some(m) = &model {
        record.set_str(Key::new(sc::GEN_AI_REQUEST_MODEL), m, &limits);
    }
    record.instrumentation = Some(Key::new(INSTRUMENTATION));
    let started = span::start_record(py, record, Some(r.parent.bind(py)), Some(r.start_ns))?;
    let mut reason: Option<String> = None;
    if r.first_token_ns != 0 {
        let ttfc = r.first_token_ns.saturating_sub(r.start_ns) as f64 / 1e9;
        started.with_record(|rec| {
            rec.set_attribute_with(
                Key::new(sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
                Value::F64(ttfc),
                &limits,
            )
        });
    }
    match (message, error) {
        (Some(m), None) => {
            reason = first_truthy(
                response_md,
                &[intern!(py, "finish_reason"), intern!(py, "stop_reason")],
            )
            .map(|v| display(&v));
            let id = m
                .getattr(intern!(py, "id"))
                .ok()
                .and_then(|i| i.cast_into::<PyString>().ok())
                .map(|i| convert::text(&i))
                .filter(|i| i.starts_with("chatcmpl") || i.starts_with("msg_"));
            let response_model = response_model.map(|m| display(&m));
            started.with_record(|rec| {
                if let Some(id) = &id {
                    rec.set_str(Key::new(sc::GEN_AI_RESPONSE_ID), id, &limits);
                }
                if let Some(m) = &response_model {
                    rec.set_str(Key::new(sc::GEN_AI_RESPONSE_MODEL), m, &limits);
                }
                if let Some(reason) = &reason {
                    rec.set_attribute_with(
                        Key::new(sc::GEN_AI_RESPONSE_FINISH_REASONS),
                        Value::StrArray(Box::new([reason.clone().into_boxed_str()])),
                        &limits,
                    );
                }
            });
        }
        (_, Some(e)) if span::is_control_flow(e) => started.with_record(|rec| {
            rec.set_attribute_with(
                Key::new(sc::FIVELENS_RUN_CANCELLED),
                Value::Bool(true),
                &limits,
            )
        }),
        (_, Some(e)) => {
            let tb = e.getattr(intern!(py, "__traceback__")).ok();
            span::record_exception_into(py, &started, e, None, tb.as_ref());
        }
        (None, None) => {}
    }
    // The reasoning journal of the output goes to the iteration span in the same call.
    let node = LcRun::node_of(run);
    let journal_span = match (&node, message, error) {
        (Some(node), Some(_), None) if crate::capture_content() => node
            .borrow(py)
            .span
            .bind(py)
            .cast::<PySpan>()
            .ok()
            .map(|s| s.clone().unbind()),
        _ => None,
    };
    let messages = r.messages.bind(py);
    let first = if messages.is_truthy().unwrap_or(false) {
        messages.get_item(0)?
    } else {
        pyo3::types::PyTuple::empty(py).into_any()
    };
    drop(r);
    crate::payload::end_chat(
        &started,
        &first,
        if error.is_none() { message } else { None },
        reason.as_deref(),
        journal_span.as_ref().map(|s| s.get()),
        fivelens_core::record::now_ns(),
    );
    Ok(())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LcRun>()?;
    m.add_function(wrap_pyfunction!(_lc_setup, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_configure, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_start, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_track, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_close, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_chain_start, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_chain_end, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_chain_error, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_llm_end, m)?)?;
    m.add_function(wrap_pyfunction!(_lc_chat_span, m)?)?;
    Ok(())
}
