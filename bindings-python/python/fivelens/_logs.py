"""The logs lens in Python: records handed to the core tied to the current span, the correlation
fields, and evaluations as ``gen_ai.evaluation.result`` events.

Nothing here raises into the app or waits on anything: a record that cannot be handed over is
counted as an internal error and forgotten. A record fivelens itself causes while handing one
over (a warning from a converter, say) is not captured again: a per-thread flag stops the
recursion.
"""

from __future__ import annotations

import threading
from typing import Any

from . import _native
from . import semconv as sc

_guard = threading.local()

FIELDS = (sc.LOG_FIELD_TRACE_ID, sc.LOG_FIELD_SPAN_ID, sc.LOG_FIELD_SESSION_ID, sc.LOG_FIELD_USER_HASH)
"""The correlation fields added to the app's records."""


def severity_number(levelno: int) -> int:
    """OpenTelemetry's severity number of a ``logging`` level number: the first of the range the
    level falls in (TRACE below DEBUG, ..., FATAL from CRITICAL up)."""
    for floor, number in ((50, 21), (40, 17), (30, 13), (20, 9), (10, 5)):
        if levelno >= floor:
            return number
    return 1


_LEVEL_NUMBERS = {
    "trace": 5,
    "debug": 10,
    "info": 20,
    "warn": 30,
    "warning": 30,
    "error": 40,
    "fatal": 50,
    "critical": 50,
    "off": 1000,
}


def level_number(name: str) -> int:
    """The ``logging`` level number of a configured level name (``info``, ``warning``...)."""
    return _LEVEL_NUMBERS.get(str(name).strip().lower(), 20)


def log_context() -> dict[str, str]:
    """The correlation fields of the current span: ``trace_id`` and ``span_id`` (hex), the
    ``session_id`` of the current ``context(...)`` and the keyed ``user_hash``; empty strings
    where there is none. Add them to a log line the app formats itself."""
    try:
        ctx = _native._log_context()
    except Exception:
        ctx = None
    if ctx is None:
        return dict.fromkeys(FIELDS, "")
    trace_id, span_id, _sampled, session, user = ctx
    return {
        sc.LOG_FIELD_TRACE_ID: trace_id,
        sc.LOG_FIELD_SPAN_ID: span_id,
        sc.LOG_FIELD_SESSION_ID: session or "",
        sc.LOG_FIELD_USER_HASH: user or "",
    }


def plain(value: Any) -> Any:
    """An attribute value the core takes: strings, numbers, booleans and lists of them as they
    are, anything else as its ``str()``."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
        return list(value)
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def emit(
    severity: int,
    severity_text: str,
    body: str,
    attributes: dict[str, Any] | None = None,
    *,
    scope: str | None = None,
    time_ns: int | None = None,
    event_name: str | None = None,
    span: tuple[str, str, bool] | None = None,
) -> None:
    """Hands one record to the core (never raises; never re-enters itself)."""
    if getattr(_guard, "active", False):
        return
    _guard.active = True
    try:
        _native._emit_log(
            severity,
            severity_text,
            body,
            attributes,
            scope=scope,
            time_ns=time_ns,
            event_name=event_name,
            span=span,
        )
    except Exception as e:
        try:
            _native.report_internal_error("logs", f"a log record could not be handed over: {e!r}")
        except Exception:
            pass
    finally:
        _guard.active = False


def emit_failed(e: BaseException) -> None:
    """Counts a record an integration could not build (never raises)."""
    try:
        _native.report_internal_error("logs", f"a log record could not be built: {e!r}")
    except Exception:
        pass


def in_progress() -> bool:
    """Whether this thread is handing a record over (records it causes are not captured)."""
    return bool(getattr(_guard, "active", False))


def record_evaluation(
    name: str,
    *,
    score_value: float | None = None,
    score_label: str | None = None,
    explanation: str | None = None,
    response_id: str | None = None,
    error_type: str | None = None,
    span: Any = None,
    attributes: dict[str, Any] | None = None,
) -> None:
    """Records an evaluation of a GenAI operation (a judge model's verdict, a user rating, a
    check) as a ``gen_ai.evaluation.result`` log event tied to ``span`` (the current span when
    not given). ``explanation`` is content: it is redacted like the rest.

    ``fivelens.record_evaluation("relevance", score_value=0.92, score_label="relevant")``
    """
    attrs: dict[str, Any] = {sc.GEN_AI_EVALUATION_NAME: str(name)}
    if score_value is not None:
        attrs[sc.GEN_AI_EVALUATION_SCORE_VALUE] = float(score_value)
    if score_label is not None:
        attrs[sc.GEN_AI_EVALUATION_SCORE_LABEL] = str(score_label)
    if explanation is not None:
        attrs[sc.GEN_AI_EVALUATION_EXPLANATION] = str(explanation)
    if response_id is not None:
        attrs[sc.GEN_AI_RESPONSE_ID] = str(response_id)
    if error_type is not None:
        attrs[sc.ERROR_TYPE] = str(error_type)
    for k, v in (attributes or {}).items():
        attrs.setdefault(str(k), plain(v))
    target = None
    if span is not None:
        try:
            target = (span.trace_id, span.span_id, bool(span.sampled))
        except Exception:
            target = None
    emit(
        9 if error_type is None else 13,
        "INFO" if error_type is None else "WARN",
        "",
        attrs,
        scope="fivelens",
        event_name=sc.EVENT_EVALUATION_RESULT,
        span=target,
    )
