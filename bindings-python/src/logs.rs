//! Log records from Python: the `logging` and structlog handlers and `record_evaluation` hand
//! them over here, tied to the current span (resolved as for a new span, OpenTelemetry spans
//! included) and its session and hashed user. Redaction, limits and the budget are the core's,
//! on the processing thread.

use fivelens_core::logs::{self, LogRecord};
use fivelens_core::semconv as sc;
use fivelens_core::{global, Key, SpanId, TraceId, Value};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert;

/// The correlation of a record written now: trace, span, sampled, session, user hash.
type Correlation = (TraceId, SpanId, bool, Option<String>, Option<String>);

fn correlation(py: Python<'_>) -> PyResult<Correlation> {
    let (parent, scope) = crate::span::log_context(py)?;
    let text = |key: &str| match scope.as_ref().and_then(|s| s.get(key)) {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let (trace, span, sampled) = match parent {
        Some(p) if p.trace_id.is_valid() => (p.trace_id, p.span_id, p.flags & 1 == 1),
        _ => (TraceId(0), SpanId(0), false),
    };
    Ok((
        trace,
        span,
        sampled,
        text(sc::SESSION_ID),
        text(sc::USER_HASH),
    ))
}

/// _log_context()
/// --
///
/// `(trace_id, span_id, sampled, session_id, user_hash)` of the current span and context, hex
/// ids (empty strings outside a span, `None` for an unset session or user); `None` when there is
/// neither a span nor a context.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn _log_context(
    py: Python<'_>,
) -> PyResult<Option<(String, String, bool, Option<String>, Option<String>)>> {
    let (trace, span, sampled, session, user) = correlation(py)?;
    if !trace.is_valid() && session.is_none() && user.is_none() {
        return Ok(None);
    }
    let hex = |valid: bool, s: String| if valid { s } else { String::new() };
    Ok(Some((
        hex(trace.is_valid(), trace.to_hex()),
        hex(span.is_valid(), span.to_hex()),
        sampled,
        session,
        user,
    )))
}

/// _emit_log(severity, severity_text, body, attributes=None, *, scope=None, time_ns=None,
///           event_name=None, span=None)
/// --
///
/// Hands one record to the pipeline, tied to `span` (`(trace_id, span_id, sampled)` in hex) or
/// else to the current span. Never blocks; does nothing when fivelens is not recording.
#[pyfunction]
#[pyo3(signature = (severity, severity_text, body, attributes=None, *, scope=None, time_ns=None, event_name=None, span=None))]
#[allow(clippy::too_many_arguments)]
fn _emit_log(
    py: Python<'_>,
    severity: u8,
    severity_text: &str,
    body: &str,
    attributes: Option<&Bound<'_, PyDict>>,
    scope: Option<&str>,
    time_ns: Option<u64>,
    event_name: Option<&str>,
    span: Option<(String, String, bool)>,
) -> PyResult<()> {
    if !global::is_recording() {
        return Ok(());
    }
    let mut r = LogRecord::new(severity.min(24), body);
    r.severity_text = severity_text.into();
    if let Some(t) = time_ns.filter(|t| *t > 0) {
        r.time_ns = t;
    }
    r.event_name = event_name.map(Into::into);
    r.scope = scope.map(Key::new);
    convert::attributes(attributes, &mut r.attributes);
    let (trace, span_id, sampled, session, user) = match span {
        Some((t, s, sampled)) => (
            TraceId::from_hex(&t).unwrap_or(TraceId(0)),
            SpanId::from_hex(&s).unwrap_or(SpanId(0)),
            sampled,
            None,
            None,
        ),
        None => correlation(py)?,
    };
    r = r.in_span(trace, span_id, sampled);
    for (key, value) in [(sc::SESSION_ID, session), (sc::USER_HASH, user)] {
        if let (Some(v), None) = (value, r.attribute(key)) {
            r.attributes.push((Key::new(key), Value::from(v.as_str())));
        }
    }
    logs::submit(r);
    Ok(())
}

/// Adds the log functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_log_context, m)?)?;
    m.add_function(wrap_pyfunction!(_emit_log, m)?)?;
    Ok(())
}
