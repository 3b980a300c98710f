"""The bridge to the host's OpenTelemetry API (enabled when ``opentelemetry-api`` is importable).

The rules, and how each holds:

* **The OTel API sees the fivelens span as current.** ``opentelemetry.context``'s runtime context
  is wrapped: ``get_current()`` returns a context holding a recording facade of the current
  fivelens span (so ``get_current_span().set_attribute()`` reaches fivelens and OTel propagators
  inject its ``traceparent``). The view is built lazily, only when something asks: entering a
  fivelens span just remembers which OTel context was current (cheap), and the innermost of the
  two wins.
* **A span started through the OTel API inside a fivelens trace is recorded in it, as a child.**
  (a) With no SDK provider configured, fivelens installs its own provider, whose spans are
  fivelens spans; if the app configures its own later, its call succeeds and fivelens attaches
  to it instead. (b) With an SDK provider, fivelens adds a span processor that records the spans
  inside fivelens traces into the local store only: the app's own pipeline exports them, so they
  are never exported twice.
* **OTel spans outside any fivelens trace are not fivelens's business** (except those of the few
  scopes fivelens adopts, ``_ADOPTED_SCOPES``: recorded wherever they start).
* **An app's own active span (a web server's SERVER span) parents fivelens spans** started
  inside it: parent resolution looks at the OTel context as well.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context, _RuntimeContext
from opentelemetry.trace import (
    INVALID_SPAN,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation import _SPAN_KEY

from . import _api, _native

_lock = threading.Lock()
_installed = False
_original_runtime: _RuntimeContext | None = None
_original_set_provider: Any = None
_processor: FivelensSpanProcessor | None = None
_provider: FivelensTracerProvider | None = None
_attached_to: weakref.ReferenceType[Any] | None = None

_OTEL_KIND = {
    SpanKind.INTERNAL: "internal",
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}


class _FivelensSpan(trace.Span):
    """An OpenTelemetry ``Span`` that is a fivelens span underneath."""

    __slots__ = ("_context", "_native")

    def __init__(self, native: Any) -> None:
        self._native = native
        self._context = SpanContext(
            trace_id=native._trace_id_int,
            span_id=native._span_id_int,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED if native.sampled else TraceFlags.DEFAULT),
        )

    def get_span_context(self) -> SpanContext:
        return self._context

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self._native.set_attributes(dict(attributes))

    def set_attribute(self, key: str, value: Any) -> None:
        self._native.set_attribute(key, value)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None) -> None:
        self._native.add_event(name, dict(attributes) if attributes else None, timestamp)

    def add_link(self, context: SpanContext, attributes: Mapping[str, Any] | None = None) -> None:
        # Links are fixed at start in fivelens; a late link is recorded as an event.
        self._native.add_event(
            "link",
            {
                "link.trace_id": f"{context.trace_id:032x}",
                "link.span_id": f"{context.span_id:016x}",
                **dict(attributes or {}),
            },
        )

    def update_name(self, name: str) -> None:
        self._native.update_name(name)

    def is_recording(self) -> bool:
        return bool(self._native.is_recording())

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if isinstance(status, Status):
            description = status.description if description is None else description
            status = status.status_code
        self._native.set_status(status.name, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self._native.record_exception(exception)

    def end(self, end_time: int | None = None) -> None:
        self._native.end(end_time)

    def __repr__(self) -> str:
        return f"_FivelensSpan({self._native!r})"


def _resolve(ctx: Context) -> tuple[int, int, int, bool] | None:
    """The span a fivelens span started now should take as parent, from an OTel context."""
    span = ctx.get(_SPAN_KEY)
    if not isinstance(span, trace.Span):
        return None
    sc = span.get_span_context()
    if not sc.is_valid:
        return None
    return (sc.trace_id, sc.span_id, int(sc.trace_flags) & 1, bool(sc.is_remote))


class _MergedRuntimeContext(_RuntimeContext):
    """OTel's runtime context, with the current fivelens span visible to ``get_current()``."""

    def __init__(self, inner: _RuntimeContext) -> None:
        self._inner = inner

    def attach(self, context: Context) -> contextvars.Token[Context]:
        return self._inner.attach(context)

    def detach(self, token: contextvars.Token[Context]) -> None:
        self._inner.detach(token)

    def get_current(self) -> Context:
        ctx = self._inner.get_current()
        frame = _native._current_frame()
        if frame is None or frame._otel_ctx is not ctx:
            # No fivelens frame, or OTel attached something after it: OTel's is innermost.
            return ctx
        view = frame._get_otel_view
        if view is None:
            span = frame._span
            if span is not None:
                view = trace.set_span_in_context(_FivelensSpan(span), ctx)
            else:
                view = ctx
            frame._set_otel_view(view)
        return view  # type: ignore[no-any-return]


class FivelensTracer(trace.Tracer):
    """The tracer of fivelens's own provider: OTel spans inside a fivelens trace become fivelens
    spans; others are non-recording (they still propagate their parent)."""

    def __init__(self, name: str) -> None:
        self._scope = name or "opentelemetry"
        self._adopted = self._scope.startswith(_ADOPTED_SCOPES)

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent = trace.get_current_span(context)
        native_parent: Any
        if isinstance(parent, _FivelensSpan):
            native_parent = parent._native
        elif self._adopted:
            # Recorded wherever it starts: under the span named by an explicit context, else
            # under the innermost current fivelens or OTel span, else as a root.
            sc = parent.get_span_context()
            native_parent = _remote_parent(sc) if context is not None and sc.is_valid else None
        else:
            sc = parent.get_span_context()
            return NonRecordingSpan(sc) if sc.is_valid else INVALID_SPAN
        native = _native.start_span(
            name,
            kind=_OTEL_KIND.get(kind, "internal"),
            parent=native_parent,
            attributes=dict(attributes) if attributes else None,
            links=[
                (_remote_parent(link.context), dict(link.attributes or {}))
                for link in (links or ())
                if link.context.is_valid
            ]
            or None,
            start_time=start_time,
            _instrumentation=self._scope,
        )
        return _FivelensSpan(native)

    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        return trace.use_span(  # type: ignore[return-value]
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        )


def _remote_parent(sc: SpanContext) -> str:
    return f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags) & 1:02x}"


class FivelensTracerProvider(trace.TracerProvider):
    """Installed when the app has no SDK provider: see the module docs."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> trace.Tracer:
        return FivelensTracer(instrumenting_module_name)


# Instrumentation scopes whose spans fivelens records wherever they start: model-call spans that
# fivelens adopts instead of making its own (the Anthropic SDK's built-in tracing, when its owner
# turns it on for a client; see fivelens.integrations.anthropic), and AutoGen's agent and tool
# spans (``create_agent``, ``invoke_agent``, ``execute_tool``; see fivelens.integrations.autogen).
_ADOPTED_SCOPES = ("com.anthropic.sdk", "autogen-core")


class FivelensSpanProcessor:
    """Added to the app's SDK ``TracerProvider``: records the spans it makes inside a fivelens
    trace (and the model-call spans fivelens adopts) into fivelens's local store and metrics
    (the app exports them itself, so never twice).

    In Node the SDK takes processors only at construction; in Python fivelens adds it for you.
    """

    _MAX_TRACKED = 100_000

    def __init__(self) -> None:
        # span id -> the fivelens frame current when it started (for trace-scoped attributes);
        # bounded, since a span that never ends must not grow this forever.
        self._adopted: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        try:
            parent = trace.get_current_span(parent_context)
            if isinstance(parent, _FivelensSpan):
                inside = True
            else:
                psc = parent.get_span_context()
                with self._lock:
                    inside = psc.is_valid and psc.span_id in self._adopted
            if not inside:
                scope = getattr(span, "instrumentation_scope", None)
                inside = scope is not None and str(scope.name).startswith(_ADOPTED_SCOPES)
            if not inside:
                return
            frame = _native._current_frame()
            with self._lock:
                self._adopted[span.get_span_context().span_id] = frame
                while len(self._adopted) > self._MAX_TRACKED:
                    self._adopted.popitem(last=False)
        except Exception as e:
            _native.report_internal_error("bridge", f"span processor on_start failed: {e!r}")

    def _on_ending(self, span: Any) -> None:
        pass

    def on_end(self, span: Any) -> None:
        try:
            sc = span.get_span_context()
            with self._lock:
                if sc.span_id not in self._adopted:
                    return
                frame = self._adopted.pop(sc.span_id)
            parent = span.parent
            status = span.status.status_code
            _native._record_foreign(
                span.name,
                sc.trace_id,
                sc.span_id,
                parent.span_id if parent is not None else 0,
                kind=_OTEL_KIND.get(span.kind, "internal"),
                start_time=span.start_time or 0,
                end_time=span.end_time or 0,
                attributes=dict(span.attributes or {}),
                events=[(e.name, dict(e.attributes or {}), e.timestamp) for e in span.events],
                status="error" if status is StatusCode.ERROR else "ok" if status is StatusCode.OK else None,
                status_message=span.status.description,
                scope=span.instrumentation_scope.name if span.instrumentation_scope else "opentelemetry",
                frame=frame,
            )
        except Exception as e:
            _native.report_internal_error("bridge", f"span processor on_end failed: {e!r}")

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(_native.flush(timeout_millis / 1000.0))


def _attach_to(provider: Any) -> bool:
    """Adds fivelens's processor to an SDK provider (once)."""
    global _attached_to
    if _attached_to is not None and _attached_to() is provider:
        return True
    add = getattr(provider, "add_span_processor", None)
    if add is None or _processor is None:
        return False
    add(_processor)
    _attached_to = weakref.ref(provider)
    return True


def _set_tracer_provider_hook(tracer_provider: Any, log: bool) -> None:
    """Replaces ``opentelemetry.trace._set_tracer_provider``: when fivelens's provider is the
    global one, the app's own may replace it (instead of being refused), and fivelens attaches to
    the app's provider."""
    if isinstance(getattr(trace, "_TRACER_PROVIDER", None), FivelensTracerProvider) and not isinstance(
        tracer_provider, FivelensTracerProvider
    ):
        once = getattr(trace, "_TRACER_PROVIDER_SET_ONCE", None)
        if once is not None:
            once._done = False
    _original_set_provider(tracer_provider, log)
    if trace._TRACER_PROVIDER is tracer_provider and not isinstance(tracer_provider, FivelensTracerProvider):
        try:
            _attach_to(tracer_provider)
        except Exception as e:
            _native.report_internal_error("bridge", f"attaching to the app's tracer provider failed: {e!r}")


def instrument() -> str | None:
    global _installed, _original_runtime, _original_set_provider, _processor, _provider
    with _lock:
        if _installed:
            return None
        inner = otel_context._RUNTIME_CONTEXT
        if isinstance(inner, _MergedRuntimeContext):
            inner = inner._inner
        var = getattr(inner, "_current_context", None)
        if isinstance(var, contextvars.ContextVar):
            empty = contextvars.Context().run(var.get)
            _native._set_otel_bridge(var.get, empty, _resolve)
            _api._set_otel_var(var)
        else:
            # A custom runtime context (OTEL_PYTHON_CONTEXT): no cheap identity check, so
            # compare through its public API.
            _native._set_otel_bridge(inner.get_current, object(), _resolve)
        _original_runtime = inner
        otel_context._RUNTIME_CONTEXT = _MergedRuntimeContext(inner)

        _processor = FivelensSpanProcessor()
        _provider = FivelensTracerProvider()
        _original_set_provider = trace._set_tracer_provider
        trace._set_tracer_provider = _set_tracer_provider_hook
        current = getattr(trace, "_TRACER_PROVIDER", None)
        if current is None:
            trace.set_tracer_provider(_provider)
        elif isinstance(current, FivelensTracerProvider):
            pass  # installed by an earlier instrument(); still ours
        elif not _attach_to(current):
            _native.report_internal_error(
                "bridge",
                f"the app's tracer provider ({type(current).__name__}) takes no span processors; "
                "its spans are not recorded by fivelens",
            )
        _installed = True
        return None


def uninstrument() -> None:
    global _installed
    with _lock:
        if not _installed:
            return
        _native._set_otel_bridge(None, None, None)
        _api._set_otel_var(None)
        if _original_runtime is not None:
            otel_context._RUNTIME_CONTEXT = _original_runtime
        if _original_set_provider is not None:
            trace._set_tracer_provider = _original_set_provider
        _installed = False
