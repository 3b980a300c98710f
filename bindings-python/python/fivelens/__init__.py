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

OpenAI and Anthropic SDK calls become model-call spans by themselves; ``fivelens.stage(...)``
and ``fivelens.prompt(...)`` label the calls inside a block, and ``fivelens.llm_call(...)``
records a call made through any other SDK. HTTP requests (httpx, requests, aiohttp) carry the
trace to the services they call, and Starlette, FastAPI and Flask apps continue it
(``fivelens.asgi_middleware`` / ``fivelens.wsgi_middleware`` for other ASGI and WSGI apps).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import _hooks, _native
from . import semconv as _sc
from ._api import bind_context
from ._behaviour import (
    EvaluationResult,
    EvaluationSample,
    GuardrailCheck,
    check_drift,
    evaluate,
    feedback,
    guardrail,
    record_confidence,
    record_intent,
    record_outcome,
    record_rerank,
    register_evaluator,
    register_golden,
    set_embedder,
    unregister_evaluator,
    wait_for_evaluations,
)
from ._context import (
    Attempt,
    ContextWindow,
    Retrieval,
    Verification,
    context_tiers,
    context_window,
    retrieval,
    verification,
)
from ._http import asgi_middleware, wsgi_middleware
from ._instrument import InstrumentReport, instrument, shutdown
from ._llm import LlmCall, llm_call
from ._logs import log_context, record_evaluation
from ._native import ContextScope, RemoteContext, Span, SpanScope
from ._options import Options
from ._replay import export_dataset, replay, run_dataset
from ._tools import (
    BudgetExceeded,
    GuardExceeded,
    IterationLimitExceeded,
    ToolCall,
    ToolUnavailable,
    tool,
)

__version__: str = _native.__version__

__all__ = [
    "Attempt",
    "BudgetExceeded",
    "ContextScope",
    "ContextWindow",
    "EvaluationResult",
    "EvaluationSample",
    "GuardExceeded",
    "GuardrailCheck",
    "InstrumentReport",
    "IterationLimitExceeded",
    "LlmCall",
    "Options",
    "RedactedEntity",
    "Redaction",
    "RemoteContext",
    "Retrieval",
    "Span",
    "SpanScope",
    "ToolCall",
    "ToolUnavailable",
    "Verification",
    "asgi_middleware",
    "bind_context",
    "check_drift",
    "context",
    "context_tiers",
    "context_window",
    "count_tokens",
    "current_span",
    "evaluate",
    "export_dataset",
    "extract",
    "feedback",
    "flush",
    "guardrail",
    "inject",
    "instrument",
    "keep_trace",
    "llm_call",
    "log_context",
    "prompt",
    "record_confidence",
    "record_evaluation",
    "record_intent",
    "record_outcome",
    "record_rerank",
    "redact",
    "register_evaluator",
    "register_golden",
    "replay",
    "retrieval",
    "run_dataset",
    "set_embedder",
    "shutdown",
    "span",
    "stage",
    "start_span",
    "status",
    "token_encoding",
    "tool",
    "unregister_evaluator",
    "verification",
    "wait_for_evaluations",
    "wsgi_middleware",
]

span = _native.span


start_span = _native.start_span
current_span = _native.current_span
context = _native.context
stage = _native.stage
prompt = _native.prompt
count_tokens = _native.count_tokens
token_encoding = _native.token_encoding


inject = _native.inject
extract = _native.extract


_new_tuple = tuple.__new__


class RedactedEntity(NamedTuple):
    """A PII value ``redact`` found: its type and its offsets in code points of the text."""

    type: str
    start: int
    end: int


class Redaction(NamedTuple):
    """What ``redact`` returns."""

    text: str
    entities: list[RedactedEntity]


def keep_trace(reason: str = "app") -> bool:
    """Asks the tail sampler to keep the current trace whatever the baseline rate, recording
    ``reason`` on the current span as ``fivelens.sampling.keep``. Returns whether a span was
    current. Without effect on a trace already dropped at its start (``sampling_mode="head"``)."""
    span = _native.current_span()
    if span is None:
        return False
    span.set_attribute(_sc.FIVELENS_SAMPLING_KEEP, str(reason))
    return True


def redact(text: str) -> Redaction:
    """``text`` with its PII replaced as the active configuration says (the ``redact_*`` options
    of ``instrument()``; the defaults before it), and the values found, with offsets in code
    points of ``text`` (Python string indices). Placeholders never contain any part of a value.
    The first call compiles the detectors (tens of milliseconds)."""
    out, entities = _native.redact(text)
    # tuple.__new__ skips the named tuple's Python-level constructor (a third of the call's cost).
    return Redaction(out, [_new_tuple(RedactedEntity, e) for e in entities])


def flush(timeout: float = 5.0) -> bool:
    """Wait until every span ended so far is stored and sent, at most ``timeout`` seconds.
    Returns whether it completed (``False`` when, for example, the collector is down). Spans that
    an integration still ends off the app's thread (CrewAI's event handlers) are waited for too."""
    return bool(_native.flush(_hooks.drain(timeout)))


def status() -> dict[str, Any]:
    """fivelens's own statistics: spans started, ended, exported, dropped (by reason), export
    failures, queue depth, what ``instrument()`` enabled and skipped, recent diagnostics."""
    result: dict[str, Any] = _native.status()
    return result
