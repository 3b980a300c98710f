//! `fivelens._native`: the Python binding. It converts Python values into core values, maps
//! errors to Python exceptions by meaning (a bad option is a `ValueError` naming the field), and
//! holds the span context manager, whose hot path must stay in Rust. Everything else lives in
//! the core; the public Python API is `fivelens/__init__.py`.

mod behaviour;
mod convert;
mod langchain;
mod logs;
mod payload;
mod replay;
mod span;
mod tools;

use std::time::Duration;

use fivelens_core::{global, HostInfo, Value};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// A core value as a Python object.
pub(crate) fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Str(s) => s.as_ref().into_pyobject(py)?.into_any(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::I64(i) => i.into_pyobject(py)?.into_any(),
        Value::F64(f) => f.into_pyobject(py)?.into_any(),
        Value::StrArray(a) => PyList::new(py, a.iter().map(|s| s.as_ref()))?.into_any(),
        Value::BoolArray(a) => PyList::new(py, a.iter())?.into_any(),
        Value::I64Array(a) => PyList::new(py, a.iter())?.into_any(),
        Value::F64Array(a) => PyList::new(py, a.iter())?.into_any(),
    })
}

pub(crate) fn json_to_py<'py>(
    py: Python<'py>,
    v: &serde_json::Value,
) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => py.None().into_bound(py),
        J::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        J::Number(n) => match n.as_i64() {
            Some(i) => i.into_pyobject(py)?.into_any(),
            None => match n.as_u64() {
                Some(u) => u.into_pyobject(py)?.into_any(),
                None => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
            },
        },
        J::String(s) => s.as_str().into_pyobject(py)?.into_any(),
        J::Array(a) => {
            let items: Vec<Bound<'py, PyAny>> = a
                .iter()
                .map(|x| json_to_py(py, x))
                .collect::<PyResult<_>>()?;
            PyList::new(py, items)?.into_any()
        }
        J::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// Starts (or restarts) the pipeline with `options` over the environment over the defaults.
/// Returns the resolved configuration. A bad option raises `ValueError` naming it.
#[pyfunction]
#[pyo3(signature = (options=None, runtime=None))]
fn configure<'py>(
    py: Python<'py>,
    options: Option<&Bound<'py, PyDict>>,
    runtime: Option<Vec<(String, String)>>,
) -> PyResult<Bound<'py, PyAny>> {
    let json = match options {
        Some(d) => convert::json(d.as_any(), 0),
        None => serde_json::Value::Null,
    };
    let host = HostInfo {
        language: "python".into(),
        attributes: runtime.unwrap_or_default(),
    };
    // Starting threads and opening the store are short; keep the GIL (see span.rs notes).
    let configured =
        global::configure(&json, host).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let resolved = serde_json::to_value(&*configured.config).unwrap_or_default();
    json_to_py(py, &resolved)
}

/// Waits until every ended span is stored and sent, at most `timeout` seconds. Returns whether
/// it completed. Releases the GIL while waiting.
#[pyfunction]
#[pyo3(signature = (timeout=5.0))]
fn flush(py: Python<'_>, timeout: f64) -> bool {
    let t = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
    py.detach(|| global::flush(t))
}

/// Stops recording and drains within `timeout` seconds. Releases the GIL while waiting.
#[pyfunction]
#[pyo3(signature = (timeout=5.0))]
fn shutdown(py: Python<'_>, timeout: f64) -> bool {
    let t = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
    py.detach(|| global::shutdown(t))
}

/// Whether spans are being recorded.
#[pyfunction]
fn is_recording() -> bool {
    global::is_recording()
}

/// Whether model-call content (messages, instructions, tool definitions) is captured: recording
/// and `capture_content` on. Integrations skip building content when it is off.
#[pyfunction]
fn _capture_content() -> bool {
    capture_content()
}

pub(crate) fn capture_content() -> bool {
    global::is_recording() && global::config().is_some_and(|c| c.capture_content)
}

/// Self-statistics: spans started, ended, exported, dropped by reason, queue depth, export
/// failures, what `instrument()` enabled and skipped, recent diagnostics.
#[pyfunction]
fn status(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    json_to_py(py, &global::status())
}

/// count_tokens(text, model=None, *, encoding=None)
/// --
///
/// Tokens in `text` as `model` would count them: exact for OpenAI models (`o200k_base` or
/// `cl100k_base`, chosen by model name, identical to `tiktoken`); for any other model or none,
/// an estimate with `o200k_base`. `encoding` names the vocabulary instead. Special-token
/// strings such as `<|endoftext|>` count as plain text. Releases the GIL for long texts.
#[pyfunction]
#[pyo3(signature = (text, model=None, *, encoding=None))]
fn count_tokens(
    py: Python<'_>,
    text: &Bound<'_, PyAny>,
    model: Option<&str>,
    encoding: Option<&str>,
) -> PyResult<usize> {
    use fivelens_core::tokens;
    let text = text.cast::<pyo3::types::PyString>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "text: expected a string, got {}",
            convert::type_label(text)
        ))
    })?;
    let text: std::borrow::Cow<'_, str> = match text.to_str() {
        Ok(t) => t.into(),
        Err(_) => convert::lossy(text).into(),
    };
    let encoding = match encoding {
        None => None,
        Some(name) => Some(tokens::Encoding::parse(name).ok_or_else(|| {
            PyValueError::new_err(format!(
                "encoding: unknown vocabulary {name:?} (known: o200k_base, cl100k_base)"
            ))
        })?),
    };
    let run = || match encoding {
        Some(e) => tokens::count_with(&text, e),
        None => tokens::count(&text, model).tokens,
    };
    Ok(if text.len() > 4096 {
        py.detach(run)
    } else {
        run()
    })
}

/// context_window(model, sections, *, provider=None)
/// --
///
/// The synchronous context-window check: `sections` maps a section name to its text, a list of
/// texts or chat messages, or a token count; returns the tokens per section, their total, the
/// model's window and largest output (from the limit table of the active configuration), the
/// fill, the room left and whether the alert threshold is reached (`None` for the window fields
/// of a model the table does not know). Counted here, on the caller's thread; releases the GIL.
#[pyfunction]
#[pyo3(signature = (model, sections, *, provider=None))]
fn context_window<'py>(
    py: Python<'py>,
    model: &str,
    sections: &Bound<'py, PyAny>,
    provider: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let json = convert::json(sections, 0);
    let out = py
        .detach(|| fivelens_core::context_window::check(model, provider, &json))
        .map_err(pyo3::exceptions::PyTypeError::new_err)?;
    json_to_py(py, &out)
}

/// The redacted text and the `(type, start, end)` of each value found.
type Redacted = (String, Vec<(String, usize, usize)>);

/// redact(text)
/// --
///
/// `text` with its PII replaced as the active configuration says (`redact_*` options; the
/// defaults before `instrument()`), and the entities found as `(type, start, end)` with offsets in
/// code points of `text`. Releases the GIL for long texts.
#[pyfunction]
fn redact(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Redacted> {
    let text = text.cast::<pyo3::types::PyString>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "text: expected a string, got {}",
            convert::type_label(text)
        ))
    })?;
    // Lone surrogates (not text) become `?`: one code point each, so offsets still count
    // `text`'s code points.
    let text: std::borrow::Cow<'_, str> = match text.to_str() {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            let bytes = text.call_method1("encode", ("utf-8", "replace"))?;
            let bytes = bytes.cast::<pyo3::types::PyBytes>()?;
            std::borrow::Cow::Owned(String::from_utf8_lossy(bytes.as_bytes()).into_owned())
        }
    };
    let run = || fivelens_core::redact::redact_for_host(&text, false);
    let (out, entities) = if text.len() > 4096 {
        py.detach(run)
    } else {
        run()
    };
    Ok((
        out,
        entities
            .into_iter()
            .map(|e| (e.kind, e.start, e.end))
            .collect(),
    ))
}

/// The vocabulary fivelens counts `model` with (`o200k_base`, `cl100k_base`), or `None` when
/// its counts for that model are estimates.
#[pyfunction]
fn token_encoding(model: &str) -> Option<&'static str> {
    fivelens_core::tokens::encoding_for_model(model).map(|e| e.name())
}

/// Spans ended so far in this process (a cheap counter; `status()` has the full picture).
#[pyfunction]
fn _spans_ended() -> u64 {
    global::current()
        .map(|p| p.snapshot().spans_ended)
        .unwrap_or(0)
}

/// Stores the report of what `instrument()` did, for `status()`.
#[pyfunction]
fn set_instrument_report(report: &Bound<'_, PyAny>) {
    global::set_instrument_report(convert::json(report, 0));
}

/// Counts a failure inside instrumentation (reported once, never raised).
#[pyfunction]
fn report_internal_error(kind: &str, message: &str) {
    // Kinds group repeats; keep the set small and static.
    let kind: &'static str = match kind {
        "integration" => "integration",
        "bridge" => "bridge",
        "context" => "context",
        "exit" => "exit",
        _ => "python",
    };
    global::report_internal_error(kind, message);
}

/// The defaults of every option, as the core defines them.
#[pyfunction]
fn default_config(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    json_to_py(py, &fivelens_core::config::default_config_json())
}

/// HMAC of a user id under the configured key (what `context(user_id=...)` records).
#[pyfunction]
fn hash_user_id(py: Python<'_>, user_id: &str) -> String {
    let id = user_id.to_string();
    py.detach(move || fivelens_core::scope::hash_user_id(&id))
}

/// Finished spans kept when configured with `testing=True`, as dicts.
#[pyfunction]
fn finished_spans(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let spans = global::finished_spans();
    let out = PyList::empty(py);
    for r in spans {
        let d = PyDict::new(py);
        d.set_item("name", r.name())?;
        d.set_item("trace_id", r.trace_id.to_hex())?;
        d.set_item("span_id", r.span_id.to_hex())?;
        d.set_item(
            "parent_span_id",
            if r.parent_span_id.is_valid() {
                r.parent_span_id.to_hex()
            } else {
                String::new()
            },
        )?;
        d.set_item("kind", r.kind.as_str())?;
        d.set_item("start_time", r.start_ns)?;
        d.set_item("end_time", r.end_ns)?;
        d.set_item(
            "status",
            match &r.status {
                fivelens_core::Status::Unset => "unset",
                fivelens_core::Status::Ok => "ok",
                fivelens_core::Status::Error(_) => "error",
            },
        )?;
        if let fivelens_core::Status::Error(m) = &r.status {
            d.set_item("status_message", m.as_ref())?;
        }
        let attrs = PyDict::new(py);
        for (k, v) in r.payload.iter() {
            attrs.set_item(k.as_str(), value_to_py(py, &v.to_owned())?)?;
        }
        d.set_item("attributes", attrs)?;
        let events = PyList::empty(py);
        for e in &r.events {
            let ed = PyDict::new(py);
            ed.set_item("name", e.name.as_ref())?;
            ed.set_item("time", e.time_ns)?;
            let ea = PyDict::new(py);
            for (k, v) in &e.attributes {
                ea.set_item(k.as_str(), value_to_py(py, v)?)?;
            }
            ed.set_item("attributes", ea)?;
            events.append(ed)?;
        }
        d.set_item("events", events)?;
        let links = PyList::empty(py);
        for l in &r.links {
            let ld = PyDict::new(py);
            ld.set_item("trace_id", l.trace_id.to_hex())?;
            ld.set_item("span_id", l.span_id.to_hex())?;
            links.append(ld)?;
        }
        d.set_item("links", links)?;
        d.set_item(
            "scope",
            r.instrumentation
                .as_ref()
                .map(|k| k.as_str())
                .unwrap_or("fivelens"),
        )?;
        d.set_item(
            "store_only",
            r.flags & fivelens_core::record::flags::STORE_ONLY != 0,
        )?;
        out.append(d)?;
    }
    Ok(out)
}

/// Empties the testing-mode span list.
#[pyfunction]
fn clear_finished_spans() {
    global::clear_finished_spans();
}

/// Runs the `fivelens` command with `argv`; returns the exit code.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| {
        let mut out = std::io::stdout();
        let mut err = std::io::stderr();
        fivelens_core::cli::run(&argv, &mut out, &mut err)
    })
}

/// The `ContextVar` that holds the current span.
#[pyfunction]
fn _context_var(py: Python<'_>) -> PyResult<Py<PyAny>> {
    span::context_var(py)
}

#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<span::PySpan>()?;
    m.add_class::<span::SpanScope>()?;
    m.add_class::<span::ContextScope>()?;
    m.add_class::<span::RemoteContext>()?;
    m.add_function(wrap_pyfunction!(configure, m)?)?;
    m.add_function(wrap_pyfunction!(flush, m)?)?;
    m.add_function(wrap_pyfunction!(shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(is_recording, m)?)?;
    m.add_function(wrap_pyfunction!(_capture_content, m)?)?;
    m.add_function(wrap_pyfunction!(status, m)?)?;
    m.add_function(wrap_pyfunction!(_spans_ended, m)?)?;
    m.add_function(wrap_pyfunction!(set_instrument_report, m)?)?;
    m.add_function(wrap_pyfunction!(report_internal_error, m)?)?;
    m.add_function(wrap_pyfunction!(default_config, m)?)?;
    m.add_function(wrap_pyfunction!(hash_user_id, m)?)?;
    m.add_function(wrap_pyfunction!(redact, m)?)?;
    m.add_function(wrap_pyfunction!(finished_spans, m)?)?;
    m.add_function(wrap_pyfunction!(clear_finished_spans, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(_context_var, m)?)?;
    m.add_function(wrap_pyfunction!(span::span, m)?)?;
    m.add_function(wrap_pyfunction!(span::start_span, m)?)?;
    m.add_function(wrap_pyfunction!(span::_start_internal, m)?)?;
    m.add_function(wrap_pyfunction!(span::current_span, m)?)?;
    m.add_function(wrap_pyfunction!(span::_current_frame, m)?)?;
    m.add_function(wrap_pyfunction!(span::_close, m)?)?;
    m.add_function(wrap_pyfunction!(span::context, m)?)?;
    m.add_function(wrap_pyfunction!(span::stage, m)?)?;
    m.add_function(wrap_pyfunction!(span::prompt, m)?)?;
    m.add_function(wrap_pyfunction!(count_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(context_window, m)?)?;
    m.add_function(wrap_pyfunction!(span::context_tiers, m)?)?;
    m.add_function(wrap_pyfunction!(token_encoding, m)?)?;
    m.add_function(wrap_pyfunction!(span::extract, m)?)?;
    m.add_function(wrap_pyfunction!(span::inject, m)?)?;
    m.add_function(wrap_pyfunction!(span::_set_otel_bridge, m)?)?;
    m.add_function(wrap_pyfunction!(span::_set_run_resolver, m)?)?;
    m.add_function(wrap_pyfunction!(span::_record_foreign, m)?)?;
    logs::register(m)?;
    behaviour::register(m)?;
    replay::register(m)?;
    tools::register(m)?;
    payload::register(m)?;
    langchain::register(m)?;
    Ok(())
}
