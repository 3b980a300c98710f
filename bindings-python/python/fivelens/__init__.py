"""fivelens: observability for LLM and agent applications.

Call ``fivelens.instrument()`` once at start-up. Every supported framework that is importable is
instrumented, spans go to the local store (``fivelens traces``) or to the OTLP endpoint named by
``OTEL_EXPORTER_OTLP_ENDPOINT``, and nothing in here ever raises into your code except a bad
option given to ``instrument()``.

    import fivelens

    fivelens.instrument(service_name="support-bot")

    with fivelens.context(session_id="s-42", user_id="alice"):
        with fivelens.span("answer", question=q) as span:
            span.set_attribute("answer.length", len(a))
"""

from __future__ import annotations

from typing import Any

from . import _native
from ._api import bind_context
from ._instrument import InstrumentReport, instrument, shutdown
from ._native import ContextScope, RemoteContext, Span, SpanScope
from ._options import Options

__version__: str = _native.__version__

__all__ = [
    "ContextScope",
    "InstrumentReport",
    "Options",
    "RemoteContext",
    "Span",
    "SpanScope",
    "bind_context",
    "context",
    "current_span",
    "extract",
    "flush",
    "inject",
    "instrument",
    "shutdown",
    "span",
    "start_span",
    "status",
]

span = _native.span


start_span = _native.start_span
current_span = _native.current_span
context = _native.context


inject = _native.inject
extract = _native.extract


def flush(timeout: float = 5.0) -> bool:
    """Wait until every span ended so far is stored and sent, at most ``timeout`` seconds.
    Returns whether it completed (``False`` when, for example, the collector is down)."""
    return bool(_native.flush(timeout))


def status() -> dict[str, Any]:
    """fivelens's own statistics: spans started, ended, exported, dropped (by reason), export
    failures, queue depth, what ``instrument()`` enabled and skipped, recent diagnostics."""
    result: dict[str, Any] = _native.status()
    return result
