//! The tool boundary and the guards, for the Python integrations and `fivelens.tool`: the
//! circuit breakers and the budgets live in the core (one implementation for Python and Node);
//! these functions only convert.

use fivelens_core::semconv as sc;
use fivelens_core::tools::{self, Failure, Transition};
use fivelens_core::{guards, TraceId, Value};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::span::PySpan;

fn transitions<'py>(
    py: Python<'py>,
    list: &[Transition],
    mode: tools::Mode,
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for t in list {
        let attrs = PyDict::new(py);
        for (k, v) in tools::transition_attributes(t, mode) {
            attrs.set_item(k.as_str(), crate::value_to_py(py, &v)?)?;
        }
        out.append((attrs, t.time_ns))?;
    }
    Ok(out)
}

/// _tool_admit(tool, server=None)
/// --
///
/// Whether a call of `tool` (of MCP server `server`) may go ahead: a dict with `allowed`,
/// `would_reject`, `state`, `probe`, `rejected_by`, `message` (the degraded-mode tool error),
/// `mode`, `ticket` (for `_tool_record`) and `transitions` (`(event attributes, time_ns)`).
#[pyfunction]
#[pyo3(signature = (tool, server=None))]
fn _tool_admit<'py>(
    py: Python<'py>,
    tool: &str,
    server: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let a = tools::admit(tool, server);
    let d = PyDict::new(py);
    d.set_item("allowed", a.allowed)?;
    d.set_item("would_reject", a.would_reject)?;
    d.set_item("state", a.state.as_str())?;
    d.set_item("probe", a.probe)?;
    d.set_item("rejected_by", a.rejected_by.map(|s| s.as_str()))?;
    d.set_item("message", a.message)?;
    d.set_item("mode", a.mode.as_str())?;
    d.set_item("ticket", a.ticket)?;
    d.set_item("transitions", transitions(py, &a.transitions, a.mode)?)?;
    Ok(d)
}

/// _tool_record(tool, server, ticket, error)
/// --
///
/// How an admitted call ended (`error`: whether it failed); returns the transitions it caused.
#[pyfunction]
fn _tool_record<'py>(
    py: Python<'py>,
    tool: &str,
    server: Option<&str>,
    ticket: u8,
    error: bool,
) -> PyResult<Bound<'py, PyList>> {
    let t = tools::record(tool, server, ticket, error);
    transitions(py, &t, tools::mode())
}

/// _tool_category(error_type=None, message=None, status_code=None, payload=False)
/// --
///
/// The category of a failed tool call (`timeout`, `rate_limited`, `validation`, `not_found`,
/// `unavailable`, `server_error`, `tool_error`, `other`).
#[pyfunction]
#[pyo3(signature = (error_type=None, message=None, status_code=None, payload=false))]
fn _tool_category(
    error_type: Option<&str>,
    message: Option<&str>,
    status_code: Option<i64>,
    payload: bool,
) -> &'static str {
    tools::classify(&Failure {
        error_type,
        message,
        status_code,
        payload,
    })
    .as_str()
}

/// The breaker mode in force: `observe`, `enforce` or `off`.
#[pyfunction]
fn _tool_breaker_mode() -> &'static str {
    tools::mode().as_str()
}

fn current_trace_and_session(py: Python<'_>) -> PyResult<(Option<TraceId>, Option<String>)> {
    let (parent, scope) = crate::span::log_context(py)?;
    let session = match scope.as_ref().and_then(|s| s.get(sc::SESSION_ID)) {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    Ok((parent.map(|p| p.trace_id), session))
}

/// Whether any loop or budget guard is set.
#[pyfunction]
fn _guards_active() -> bool {
    guards::active()
}

/// _guard_check()
/// --
///
/// Whether a model call may start now in the current trace and session: `None`, or the limit
/// reached as `(kind, scope, limit, used, message, event_attributes)`.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn _guard_check<'py>(
    py: Python<'py>,
) -> PyResult<
    Option<(
        &'static str,
        &'static str,
        f64,
        f64,
        String,
        Bound<'py, PyDict>,
    )>,
> {
    if !guards::active() {
        return Ok(None);
    }
    let (trace, session) = current_trace_and_session(py)?;
    match guards::check(trace, session.as_deref()) {
        Ok(()) => Ok(None),
        Err(e) => {
            let attrs = PyDict::new(py);
            for (k, v) in guards::event_attributes(&e) {
                attrs.set_item(k.as_str(), crate::value_to_py(py, &v)?)?;
            }
            Ok(Some((e.kind, e.scope, e.limit, e.used, e.message, attrs)))
        }
    }
}

/// _guard_iteration(span, n)
/// --
///
/// An agent iteration `n` started in `span`'s trace (for `max_agent_iterations`).
#[pyfunction]
fn _guard_iteration(span: &Bound<'_, PySpan>, n: u64) {
    if guards::active() {
        guards::note_iteration(span.get().trace(), n);
    }
}

/// What the current trace and session have spent (a dict; `None` without guards).
#[pyfunction]
fn _guard_spend(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let (trace, session) = current_trace_and_session(py)?;
    crate::json_to_py(py, &guards::spend(trace, session.as_deref()))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_tool_admit, m)?)?;
    m.add_function(wrap_pyfunction!(_tool_record, m)?)?;
    m.add_function(wrap_pyfunction!(_tool_category, m)?)?;
    m.add_function(wrap_pyfunction!(_tool_breaker_mode, m)?)?;
    m.add_function(wrap_pyfunction!(_guards_active, m)?)?;
    m.add_function(wrap_pyfunction!(_guard_check, m)?)?;
    m.add_function(wrap_pyfunction!(_guard_iteration, m)?)?;
    m.add_function(wrap_pyfunction!(_guard_spend, m)?)?;
    Ok(())
}
