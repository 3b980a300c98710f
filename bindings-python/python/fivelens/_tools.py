"""Tools as dependencies: ``fivelens.tool(...)`` for plain functions, the circuit breaker at the
tool boundary every integration uses, and the loop and budget guards.

The breakers and the budgets live in the core (``core/src/tools.rs``, ``core/src/guards.rs``), one
implementation shared with Node; this module turns their answers into span attributes, span
events and exceptions.

A tool call at the boundary (``Boundary``):

1. ``Boundary.admit(name, server)``: the core says whether the call may go ahead. In ``enforce``
   mode an open breaker rejects it: the integration hands the model the degraded-mode tool error
   (``boundary.message``) the way its framework returns tool errors, and the call is not made.
2. ``boundary.start(span)``: the tool's span gets its kind, the breaker's state (a probe, or what
   ``enforce`` would have done, in ``observe`` mode) and any state change as an event.
3. ``boundary.finish(span, ...)``: the outcome goes back to the breaker; a failed call gets its
   error category; state changes are events on the span.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

from . import _native
from . import semconv as sc

__all__ = [
    "Boundary",
    "BudgetExceeded",
    "GuardExceeded",
    "IterationLimitExceeded",
    "ToolCall",
    "ToolUnavailable",
    "check_guards",
    "note_iteration",
    "tool",
]

F = TypeVar("F", bound=Callable[..., Any])

# The tool whose boundary is being crossed now (its name): a ``fivelens.tool`` of the same name
# inside it (the function a framework's tool wraps) makes no second span and no second check.
_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("fivelens_tool_boundary", default=None)

CIRCUIT_OPEN = "circuit_open"
"""``error.type`` of a call the breaker rejected."""


class ToolUnavailable(RuntimeError):
    """A tool call rejected by its open circuit breaker (``tool_breaker="enforce"``): the tool was
    not called. Its message is the degraded-mode tool error the model should see."""

    def __init__(self, message: str, *, tool: str, server: str | None = None) -> None:
        super().__init__(message)
        self.tool = tool
        self.server = server


class GuardExceeded(RuntimeError):
    """A model call refused by a loop or budget guard: the call was not made. ``kind`` is
    ``iterations``, ``tokens`` or ``cost``; ``scope`` is ``trace`` or ``session``; ``limit``
    and ``used`` are in iterations, tokens or US dollars."""

    def __init__(self, message: str, *, kind: str, scope: str, limit: float, used: float) -> None:
        super().__init__(message)
        self.kind = kind
        self.scope = scope
        self.limit = limit
        self.used = used


class BudgetExceeded(GuardExceeded):
    """A token or cost budget (per trace or per session) was reached."""


class IterationLimitExceeded(GuardExceeded):
    """``max_agent_iterations`` was reached."""


# ---- the guards -------------------------------------------------------------------------------


def check_guards() -> None:
    """Before a model call: raises ``BudgetExceeded`` or ``IterationLimitExceeded`` when a guard's
    limit is reached in the current trace or session, after marking the current span (the
    ``fivelens.guard.exceeded`` event, and the keep flag so the tail sampler keeps the trace).
    Does nothing (one native call) when no guard is set."""
    if not _native._guards_active():
        return
    hit = _native._guard_check()
    if hit is None:
        return
    kind, scope, limit, used, message, attrs = hit
    span = _native.current_span()
    if span is not None:
        try:
            span.add_event(sc.FIVELENS_EVENT_GUARD, attrs)
            span.set_attribute(sc.FIVELENS_SAMPLING_KEEP, f"guard:{kind}")
        except Exception as e:  # pragma: no cover - defensive
            _native.report_internal_error("python", f"marking a guard refusal failed: {e!r}")
    error = IterationLimitExceeded if kind == "iterations" else BudgetExceeded
    raise error(message, kind=kind, scope=scope, limit=limit, used=used)


def is_guard_error(error: BaseException) -> bool:
    return isinstance(error, GuardExceeded)


def note_iteration(span: Any, n: int) -> None:
    """An agent iteration ``n`` started (its span is ``span``): counted for
    ``max_agent_iterations``."""
    if span is not None and n > 0 and _native._guards_active():
        try:
            _native._guard_iteration(span, int(n))
        except Exception as e:  # pragma: no cover - defensive
            _native.report_internal_error("python", f"counting an iteration failed: {e!r}")


# ---- the boundary -----------------------------------------------------------------------------


def _events(span: Any, transitions: Any) -> None:
    for attrs, when in transitions or ():
        span.add_event(sc.FIVELENS_EVENT_BREAKER, attrs, when)


class Boundary:
    """One tool call crossing the boundary: the breaker's answer and what goes on the span."""

    __slots__ = ("_admission", "_category", "_changes", "_ended", "kind", "name", "server")

    def __init__(self, name: str, server: str | None, kind: str, admission: dict[str, Any] | None) -> None:
        self.name = name
        self.server = server
        self.kind = kind
        self._admission = admission
        self._ended = False
        self._category: str | None = None
        self._changes: Any = ()

    @classmethod
    def admit(cls, name: str, server: str | None = None, kind: str | None = None) -> Boundary:
        """Asks the breakers whether a call of ``name`` (of MCP server ``server``) may go ahead."""
        admission = None
        try:
            admission = _native._tool_admit(name, server)
        except Exception as e:  # pragma: no cover - defensive
            _native.report_internal_error("python", f"asking the tool breaker failed: {e!r}")
        return cls(name, server, kind or ("mcp" if server else "function"), admission)

    @property
    def allowed(self) -> bool:
        """Whether the call may be made (false only in ``enforce`` mode with the breaker open)."""
        return self._admission is None or bool(self._admission["allowed"])

    @property
    def rejected(self) -> bool:
        return not self.allowed

    @property
    def message(self) -> str:
        """The degraded-mode tool error the model receives instead of the result."""
        text = self._admission.get("message") if self._admission else None
        return str(text or f"tool {self.name} unavailable, degraded mode")

    def error(self) -> ToolUnavailable:
        return ToolUnavailable(self.message, tool=self.name, server=self.server)

    def attributes(self) -> dict[str, Any]:
        """The span attributes known when the call starts."""
        attrs: dict[str, Any] = {sc.FIVELENS_TOOL_KIND: self.kind}
        a = self._admission
        if a is None or a["mode"] == "off":
            return attrs
        attrs[sc.FIVELENS_BREAKER_STATE] = a["state"]
        if a["probe"]:
            attrs[sc.FIVELENS_BREAKER_PROBE] = True
        if a["would_reject"]:
            attrs[sc.FIVELENS_BREAKER_WOULD_REJECT] = True
        if not a["allowed"]:
            attrs[sc.FIVELENS_BREAKER_REJECTED] = True
        return attrs

    def start(self, span: Any) -> None:
        """The call's span started: the admission's state changes become its events (its
        attributes are given at start with ``attributes()``)."""
        if span is not None and self._admission is not None:
            try:
                _events(span, self._admission["transitions"])
            except Exception as e:  # pragma: no cover - defensive
                _native.report_internal_error("python", f"recording a breaker change failed: {e!r}")

    def finish(
        self,
        span: Any,
        *,
        error: BaseException | None = None,
        error_type: str | None = None,
        message: str | None = None,
        status_code: int | None = None,
        payload: bool = False,
        failed: bool | None = None,
    ) -> str | None:
        """How the call ended (``error``: the exception it raised; ``payload``: its result reports
        an error; ``failed``: it failed otherwise). Feeds the breaker; on ``span`` (or, for an
        integration that only gets the span later, through ``apply``): a rejected call is
        marked, a failed one gets its error category, state changes are events. Returns the
        category (None when it succeeded)."""
        if self._ended:
            return self._category
        self._ended = True
        try:
            if not self.rejected and (error is not None or payload or error_type is not None or failed):
                if error is not None:
                    error_type = error_type or type(error).__qualname__
                    message = message if message is not None else str(error)
                    status_code = status_code if status_code is not None else _status_of(error)
                self._category = _native._tool_category(error_type, message, status_code, payload)
            if self._admission is not None and not self.rejected:
                self._changes = _native._tool_record(
                    self.name, self.server, int(self._admission["ticket"]), self._category is not None
                )
            if span is not None:
                self._mark_end(span)
        except Exception as e:  # pragma: no cover - defensive
            _native.report_internal_error("python", f"recording a tool outcome failed: {e!r}")
        return self._category

    def _mark_end(self, span: Any) -> None:
        if self.rejected:
            span.set_attribute(sc.ERROR_TYPE, CIRCUIT_OPEN)
            span.set_status("error", self.message[:1024])
        elif self._category is not None:
            span.set_attribute(sc.FIVELENS_TOOL_ERROR_CATEGORY, self._category)
        _events(span, self._changes)

    def apply(self, span: Any) -> None:
        """Everything about the call on a span made after the fact (CrewAI builds its spans from
        events): the start attributes and events, and the outcome when it is known."""
        if span is None:
            return
        try:
            span.set_attributes(self.attributes())
            self.start(span)
            if self._ended:
                self._mark_end(span)
        except Exception as e:  # pragma: no cover - defensive
            _native.report_internal_error("python", f"recording a tool outcome failed: {e!r}")


def _status_of(error: BaseException) -> int | None:
    """An HTTP status code an exception carries (httpx, requests, the provider SDKs, aiohttp)."""
    for holder in (error, getattr(error, "response", None)):
        for attr in ("status_code", "status"):
            code = getattr(holder, attr, None)
            if isinstance(code, int) and not isinstance(code, bool) and 100 <= code < 600:
                return code
    return None


def current_boundary() -> str | None:
    return _CURRENT.get()


def enter_boundary(name: str) -> contextvars.Token[str | None]:
    return _CURRENT.set(name)


def leave_boundary(token: contextvars.Token[str | None]) -> None:
    try:
        _CURRENT.reset(token)
    except ValueError:  # another context: nothing to restore there
        _CURRENT.set(None)


# ---- retries of plain tools --------------------------------------------------------------------

_MAX_ATTEMPTS = 10_000
_attempts: OrderedDict[tuple[str, str], tuple[int, str | None]] = OrderedDict()
_attempts_lock = threading.Lock()


def _retry_begin(trace_id: str, name: str) -> tuple[int, str] | None:
    """A call of ``name`` starts in ``trace_id``: ``(attempt, reason)`` when it follows a failed
    call of the same tool in the same trace."""
    key = (trace_id, name)
    with _attempts_lock:
        attempt, last = _attempts.pop(key, (0, None))
        if last is not None:
            _attempts[key] = (attempt + 1, last)
            return attempt + 1, last
        _attempts[key] = (1, None)
        while len(_attempts) > _MAX_ATTEMPTS:
            _attempts.popitem(last=False)
        return None


def _retry_finish(trace_id: str, name: str, error: str | None) -> None:
    key = (trace_id, name)
    with _attempts_lock:
        attempt, _ = _attempts.get(key, (1, None))
        _attempts[key] = (attempt, error)


# ---- fivelens.tool ----------------------------------------------------------------------------


class ToolCall:
    """One call of a tool made through ``fivelens.tool``: its span, current while it runs."""

    __slots__ = ("_boundary", "_outer", "_payload_error", "_result", "_status_code", "_token", "_trace", "span")

    def __init__(self, scope: ToolScope, arguments: Any = None) -> None:
        self._outer = _CURRENT.get() == scope.name
        self._boundary: Boundary | None = None
        self._token: Any = None
        self._payload_error: str | None = None
        self._status_code: int | None = None
        self._result: Any = None
        self._trace = ""
        self.span: Any = None
        if self._outer:
            # Inside a framework's (or an outer fivelens.tool's) boundary for the same tool: its
            # span and its breaker are the call's.
            return
        boundary = Boundary.admit(scope.name, scope.server, scope.kind)
        self._boundary = boundary
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: "execute_tool",
            sc.GEN_AI_TOOL_NAME: scope.name,
            sc.GEN_AI_TOOL_TYPE: scope.tool_type,
        }
        attrs.update(boundary.attributes())
        if scope.server:
            attrs[sc.MCP_SERVER_NAME if scope.kind == "mcp" else sc.SERVER_ADDRESS] = scope.server
        if scope.description:
            attrs[sc.GEN_AI_TOOL_DESCRIPTION] = scope.description
        if arguments is not None and _native._capture_content():
            attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = arguments if isinstance(arguments, str) else _json(arguments)
        span = _native.start_span(f"execute_tool {scope.name}", kind="internal", attributes=attrs)
        self.span = span
        self._trace = span.trace_id
        retry = _retry_begin(self._trace, scope.name) if boundary.allowed else None
        if retry is not None:
            span.set_attributes(
                {
                    sc.FIVELENS_RETRY_ATTEMPT: retry[0],
                    sc.FIVELENS_RETRY_REASON: retry[1],
                    sc.FIVELENS_RETRY_SOURCE: "caller",
                }
            )
        boundary.start(span)

    @property
    def rejected(self) -> bool:
        return self._boundary is not None and self._boundary.rejected

    def _enter(self, name: str) -> None:
        if self.span is not None:
            self._token = (self.span._activate(), _CURRENT.set(name))

    def _leave(self) -> None:
        token, self._token = self._token, None
        if token is not None and self.span is not None:
            try:
                _CURRENT.reset(token[1])
                self.span._deactivate(token[0])
            except Exception as e:  # another context: the span still ends
                _native.report_internal_error("context", f"resetting a tool span failed: {e!r}")

    def set_arguments(self, arguments: Any) -> None:
        """The call's arguments (content: kept only when capture is on)."""
        if self.span is not None and arguments is not None and _native._capture_content():
            self.span.set_attribute(
                sc.GEN_AI_TOOL_CALL_ARGUMENTS, arguments if isinstance(arguments, str) else _json(arguments)
            )

    def set_result(self, result: Any) -> None:
        """The call's result (content: kept only when capture is on)."""
        self._result = result
        if self.span is not None and result is not None and _native._capture_content():
            self.span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, result if isinstance(result, str) else _json(result))

    def set_error_result(self, message: str | None = None) -> None:
        """The call completed but its result reports an error (category ``tool_error``)."""
        self._payload_error = message or "tool_error"

    def set_status_code(self, code: int) -> None:
        """The HTTP status code of the API the tool called (used for the error category)."""
        self._status_code = int(code)
        if self.span is not None:
            self.span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, int(code))

    def set_attribute(self, key: str, value: Any) -> None:
        if self.span is not None:
            self.span.set_attribute(key, value)

    def _end(self, error: BaseException | None) -> None:
        span = self.span
        boundary = self._boundary
        if span is None or boundary is None:
            return
        try:
            failed_type: str | None = None
            if boundary.rejected:
                boundary.finish(span)
            elif error is not None:
                failed_type = type(error).__qualname__
                span.record_exception(error)
                boundary.finish(span, error=error, status_code=self._status_code)
            elif self._payload_error is not None:
                failed_type = sc.TOOL_ERROR
                span.set_attribute(sc.ERROR_TYPE, sc.TOOL_ERROR)
                span.set_status("error", self._payload_error[:1024])
                boundary.finish(span, payload=True)
            elif self._status_code is not None and self._status_code >= 400:
                failed_type = str(self._status_code)
                span.set_attribute(sc.ERROR_TYPE, failed_type)
                span.set_status("error", f"HTTP {self._status_code}")
                boundary.finish(span, error_type=failed_type, status_code=self._status_code)
            else:
                boundary.finish(span)
            if boundary.allowed:
                _retry_finish(self._trace, boundary.name, failed_type)
        finally:
            span.end()


def _json(value: Any) -> str:
    from ._llm import to_json

    return to_json(value)


class ToolScope:
    """What ``fivelens.tool(...)`` returns: a decorator and a context manager."""

    __slots__ = ("_calls", "description", "kind", "name", "server", "tool_type")

    def __init__(self, name: str, kind: str, server: str | None, description: str | None) -> None:
        self.name = name
        self.kind = kind
        self.server = server
        self.description = description
        self.tool_type = "extension" if kind in ("mcp", "http") else "function"
        self._calls: list[ToolCall] = []

    # -- as a context manager --

    def __enter__(self) -> ToolCall:
        call = ToolCall(self)
        if call.rejected:
            call._end(None)
            assert call._boundary is not None
            raise call._boundary.error()
        call._enter(self.name)
        self._calls.append(call)
        return call

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        call = self._calls.pop() if self._calls else None
        if call is not None:
            call._leave()
            call._end(exc if exc is not None and not isinstance(exc, GeneratorExit) else None)
        return False

    async def __aenter__(self) -> ToolCall:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    # -- as a decorator --

    def __call__(self, func: F) -> F:
        if not callable(func):
            raise TypeError(f"fivelens.tool(...) decorates functions, not {type(func).__name__}")
        try:
            signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            signature = None
        scope = self

        def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not _native._capture_content():
                return None
            if signature is not None:
                try:
                    bound = signature.bind_partial(*args, **kwargs)
                    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
                except TypeError:
                    pass
            return {"args": list(args), "kwargs": kwargs} if kwargs else list(args)

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                call = ToolCall(scope, arguments(args, kwargs))
                if call.rejected:
                    call._end(None)
                    assert call._boundary is not None
                    raise call._boundary.error()
                call._enter(scope.name)
                try:
                    result = await func(*args, **kwargs)
                except BaseException as e:
                    call._leave()
                    call._end(e)
                    raise
                call._leave()
                call.set_result(result)
                call._end(None)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            call = ToolCall(scope, arguments(args, kwargs))
            if call.rejected:
                call._end(None)
                assert call._boundary is not None
                raise call._boundary.error()
            call._enter(scope.name)
            try:
                result = func(*args, **kwargs)
            except BaseException as e:
                call._leave()
                call._end(e)
                raise
            call._leave()
            call.set_result(result)
            call._end(None)
            return result

        return wrapper  # type: ignore[return-value]


_KINDS = ("function", "mcp", "http")


def tool(
    name: str | Callable[..., Any],
    *,
    kind: str = "function",
    server: str | None = None,
    description: str | None = None,
) -> Any:
    """A tool call as a dependency: an ``execute_tool {name}`` span (arguments and result under
    the content policy, ``fivelens.tool.kind``), the tool metrics, and the circuit breaker.

    ``kind`` is ``function`` (default), ``mcp`` (``server`` is the MCP server's name) or ``http``
    (``server`` is the API's host). As a decorator (``@fivelens.tool("search")``, or bare
    ``@fivelens.tool``) it records each call; as a context manager it yields a ``ToolCall``
    (``set_arguments``, ``set_result``, ``set_error_result`` for an error returned in the
    result, ``set_status_code`` for an HTTP API)::

        with fivelens.tool("weather_api", kind="http", server="api.weather.example") as call:
            call.set_arguments({"city": city})
            r = httpx.get(url)
            call.set_status_code(r.status_code)
            call.set_result(r.text)

    With ``tool_breaker="enforce"`` a call whose breaker is open is not made: the decorator and the
    ``with`` statement raise ``fivelens.ToolUnavailable``, whose message is the degraded-mode tool
    error to hand to the model. Exceptions of the tool propagate unchanged.
    """
    if callable(name) and not isinstance(name, str):
        func = name
        return ToolScope(getattr(func, "__name__", "tool"), "function", None, None)(func)
    if not isinstance(name, str) or not name:
        raise TypeError("fivelens.tool: name must be a non-empty string")
    if kind not in _KINDS:
        raise ValueError(f"fivelens.tool: kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    return ToolScope(name, kind, server, description)
