"""ag2 1.x (the ``ag2`` package; the 0.x line shipped as ``autogen`` and is not covered): every
agent turn is one ``invoke_agent`` span with its iterations, model calls and tools under it.

ag2 runs a turn through per-agent middleware (``on_turn``, ``on_llm_call``,
``on_tool_execution``). fivelens adds one of its own to every turn (``Agent._drive_scope``, where
the turn's middleware is put together: nothing is changed on the agent, and the app's middleware
runs around it):

- ``invoke_agent {agent name}`` (INTERNAL), the root of the turn when no span is current; a
  sub-agent called as a tool (``Agent.as_tool``) runs its turn under the tool's span;
- ``iteration`` under it for each model call and the tool calls it asked for
  (``fivelens.agent.iteration``; ``fivelens.agent.iterations`` on the turn), with the agent's
  reasoning journal as ``fivelens.agent.step`` events;
- the model call: the SDK's span when the client calls an SDK fivelens instruments (ag2's OpenAI
  and Anthropic clients), else a ``chat {model}`` span with the usage the client reported;
- ``execute_tool {name}`` with the call id, arguments and result (under the content policy), an
  ERROR status and ``error.type`` when the tool failed, and ``fivelens.retry.attempt`` /
  ``fivelens.retry.reason`` when the model calls a tool again after it failed.

ag2's own ``TelemetryMiddleware`` is independent of this: an app that adds it gets its spans in
its own tracer provider as before.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
from typing import Any

from fivelens import _hooks, _native, _tools
from fivelens import semconv as sc
from fivelens._llm import LlmCall, text_part, to_json
from fivelens._tools import Boundary

from ._agents import ToolAttempts, error_type, journal, sdk_instrumented

INSTRUMENTATION = "fivelens.ag2"
FRAMEWORK = "ag2"

_MARK = "__fivelens__"
_ORIGINAL = "__fivelens_original__"

_PROVIDERS = {
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "xai": "x_ai",
}


def _report(what: str, e: BaseException) -> None:
    _native.report_internal_error("integration", f"ag2: {what}: {e!r}")


def _covered_by_sdk(client: Any, depth: int = 0) -> bool:
    """Whether the client's calls go through an SDK fivelens instruments (the SDK's span is then
    the model call): an ``openai`` / ``anthropic`` client among its attributes, or in a client it
    wraps (``TrackingClient``)."""
    if client is None or depth > 2:
        return False
    for value in vars(client).values() if hasattr(client, "__dict__") else ():
        root = type(value).__module__.split(".", 1)[0]
        if root in ("openai", "anthropic"):
            return sdk_instrumented(root)
        if callable(value) and hasattr(value, "__dict__") and type(value).__name__.endswith("Client"):
            if _covered_by_sdk(value, depth + 1):
                return True
    return False


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _tool_calls(response: Any) -> list[Any]:
    calls = getattr(response, "tool_calls", None)
    return list(getattr(calls, "calls", None) or ())


def _response_text(response: Any) -> str | None:
    message = getattr(response, "message", None)
    content = getattr(message, "content", None)
    return content if isinstance(content, str) else None


def _result_text(result: Any) -> str:
    parts = getattr(getattr(result, "result", None), "parts", None) or ()
    texts = []
    for part in parts:
        content = getattr(part, "content", None)
        if isinstance(content, str):
            texts.append(content)
        elif getattr(part, "data", None) is not None:
            texts.append(to_json(part.data))
    return "\n".join(texts)


def _events_as_messages(events: Any) -> list[dict[str, Any]]:
    """The conversation handed to the model, in the conventions' shape (for content and token
    estimates of calls no SDK records)."""
    out: list[dict[str, Any]] = []
    for event in events or ():
        kind = type(event).__name__
        if kind == "ModelRequest":
            texts = [
                p.content for p in getattr(event, "parts", ()) or () if isinstance(getattr(p, "content", None), str)
            ]
            out.append({"role": "user", "parts": [text_part(t) for t in texts]})
        elif kind == "ModelResponse":
            parts: list[dict[str, Any]] = []
            text = _response_text(event)
            if text:
                parts.append(text_part(text))
            for call in _tool_calls(event):
                parts.append(
                    {"type": "tool_call", "id": call.id, "name": call.name, "arguments": _arguments(call.arguments)}
                )
            out.append({"role": "assistant", "parts": parts})
        elif kind in ("ToolResultsEvent",):
            parts = [
                {"type": "tool_call_response", "id": r.parent_id, "response": _result_text(r)}
                for r in getattr(event, "results", ()) or ()
            ]
            out.append({"role": "tool", "parts": parts})
    return out


class _Turn:
    """What one turn's middleware instance knows: its span, open iteration and tool attempts."""

    __slots__ = ("agent", "count", "iteration", "model", "provider", "sdk", "span", "tools")

    def __init__(self, agent: Any, client: Any, config: Any) -> None:
        self.agent = str(getattr(agent, "name", None) or "agent")
        self.span: Any = None
        self.iteration: Any = None
        self.count = 0
        self.tools = ToolAttempts()
        self.sdk = _covered_by_sdk(client)
        self.model: str | None = None
        self.provider: str | None = None
        config = config or getattr(agent, "config", None)
        with contextlib.suppress(Exception):
            self.model = str(config.model) if config is not None and config.model else None
        with contextlib.suppress(Exception):
            provider = str(getattr(config.provider, "value", config.provider)) if config is not None else None
            self.provider = _PROVIDERS.get(provider or "", provider)

    def next_iteration(self) -> Any:
        self.end_iteration()
        self.count += 1
        self.iteration = _native.start_span(
            "iteration",
            kind="internal",
            parent=self.span,
            attributes={
                sc.FIVELENS_FRAMEWORK: FRAMEWORK,
                sc.GEN_AI_AGENT_NAME: self.agent,
                sc.FIVELENS_AGENT_ITERATION: self.count,
            },
            _instrumentation=INSTRUMENTATION,
        )
        _tools.note_iteration(self.iteration, self.count)
        return self.iteration

    def end_iteration(self) -> None:
        span, self.iteration = self.iteration, None
        if span is not None:
            span.end()


def _model_call(turn: _Turn, iteration: Any, events: Any) -> LlmCall:
    attrs: dict[str, Any] = {sc.FIVELENS_FRAMEWORK: FRAMEWORK}
    call = LlmCall("chat", turn.provider or FRAMEWORK, turn.model, attrs, INSTRUMENTATION, iteration)
    with contextlib.suppress(Exception):
        call._record_input(_events_as_messages(events), None, None, None)
    return call


def _record_response(call: LlmCall, response: Any) -> None:
    parts: list[dict[str, Any]] = []
    text = _response_text(response)
    if text:
        parts.append(text_part(text))
    for tc in _tool_calls(response):
        parts.append({"type": "tool_call", "id": tc.id, "name": tc.name, "arguments": _arguments(tc.arguments)})
    reason = getattr(response, "finish_reason", None) or ("tool_calls" if _tool_calls(response) else "stop")
    call._record_output([{"role": "assistant", "parts": parts, "finish_reason": reason}])
    call.set_response(id=getattr(response, "response_id", None), model=getattr(response, "model", None))
    call.set_response(finish_reasons=[reason])
    usage = getattr(response, "usage", None)

    def tokens(name: str) -> int | None:
        value = getattr(usage, name, None)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    if usage is not None:
        call.set_usage(
            tokens("prompt_tokens"),
            tokens("completion_tokens"),
            cache_read_input_tokens=tokens("cache_read_input_tokens"),
            cache_write_input_tokens=tokens("cache_creation_input_tokens"),
            reasoning_output_tokens=tokens("thinking_tokens"),
        )


def _journal_response(iteration: Any, response: Any) -> None:
    text = _response_text(response)
    calls = _tool_calls(response)
    if text:
        journal(iteration, "thought" if calls else "final", text)
    for call in calls:
        journal(iteration, "action", to_json({"tool": call.name, "arguments": _arguments(call.arguments)}), call.name)


def _middleware_class(base: type) -> type:
    class FivelensMiddleware(base):  # type: ignore[misc]
        """fivelens's middleware, added to every turn (see the module docs)."""

        def __init__(self, event: Any, context: Any, turn: _Turn) -> None:
            super().__init__(event, context)
            self._fivelens = turn

        async def on_turn(self, call_next: Any, event: Any, context: Any) -> Any:
            turn = self._fivelens
            try:
                turn.span = _native.start_span(
                    f"invoke_agent {turn.agent}",
                    kind="internal",
                    attributes={
                        sc.GEN_AI_OPERATION_NAME: "invoke_agent",
                        sc.GEN_AI_AGENT_NAME: turn.agent,
                        sc.FIVELENS_FRAMEWORK: FRAMEWORK,
                        **({sc.GEN_AI_REQUEST_MODEL: turn.model} if turn.model else {}),
                    },
                    _instrumentation=INSTRUMENTATION,
                )
                activation = turn.span._activate()
            except Exception as e:
                _report("starting a turn", e)
                return await call_next(event, context)
            try:
                return await call_next(event, context)
            except BaseException as e:
                if not isinstance(e, GeneratorExit):
                    turn.span.record_exception(e)
                raise
            finally:
                turn.span._deactivate(activation)
                turn.end_iteration()
                turn.span.set_attribute(sc.FIVELENS_AGENT_ITERATIONS, turn.count)
                turn.span.end()

        async def on_llm_call(self, call_next: Any, events: Any, context: Any) -> Any:
            turn = self._fivelens
            if turn.span is None:
                return await call_next(events, context)
            call: LlmCall | None = None
            try:
                iteration = turn.next_iteration()
                activation = iteration._activate()
            except Exception as e:
                _report("starting a model call", e)
                return await call_next(events, context)
            try:
                _tools.check_guards()  # a loop or budget guard refuses the call before it is made
            except _tools.GuardExceeded:
                iteration._deactivate(activation)
                raise
            try:
                if not turn.sdk:
                    call = _model_call(turn, iteration, events)
                    call._activate()
            except Exception as e:
                iteration._deactivate(activation)
                _report("starting a model call", e)
                return await call_next(events, context)
            try:
                response = await call_next(events, context)
            except BaseException as e:
                if call is not None:
                    call._deactivate()
                    call.fail(e)
                    call.end()
                iteration._deactivate(activation)
                iteration.set_attribute(sc.ERROR_TYPE, error_type(e))
                iteration.set_status("error", str(e)[:1024])
                raise
            if call is not None:
                call._deactivate()
            iteration._deactivate(activation)
            try:
                if call is not None:
                    _record_response(call, response)
                _journal_response(iteration, response)
            except Exception as e:
                _report("reading a model response", e)
            if call is not None:
                call.end()
            return response

        async def on_tool_execution(self, call_next: Any, event: Any, context: Any) -> Any:
            turn = self._fivelens
            name = str(getattr(event, "name", None) or "tool")
            try:
                boundary = Boundary.admit(name)
                span = _start_tool(turn, name, event, boundary)
                boundary.start(span)
                activation = span._activate()
            except Exception as e:
                _report("starting a tool call", e)
                return await call_next(event, context)
            if boundary.rejected:
                # The breaker is open (enforce): not run; the model gets the failed result ag2
                # makes of a tool's exception, with the degraded-mode message.
                span._deactivate(activation)
                return _rejected(turn, span, name, event, boundary)
            failure: str | None = None
            inside = _tools.enter_boundary(name)
            try:
                result = await call_next(event, context)
            except BaseException as e:
                _tools.leave_boundary(inside)
                span._deactivate(activation)
                _tool_failed(turn, span, name, e)
                boundary.finish(span, error=e if isinstance(e, Exception) else None, failed=True)
                span.end()
                raise
            _tools.leave_boundary(inside)
            span._deactivate(activation)
            error = getattr(result, "error", None)
            if isinstance(error, BaseException):
                _tool_failed(turn, span, name, error)
                boundary.finish(span, error=error if isinstance(error, Exception) else None, failed=True)
                failure = error_type(error)
            else:
                text = _result_text(result)
                if _native._capture_content():
                    span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, text)
                journal(turn.iteration, "observation", text, name)
                boundary.finish(span)
            turn.tools.finish(name, failure)
            span.end()
            return result

    return FivelensMiddleware


def _rejected(turn: _Turn, span: Any, name: str, event: Any, boundary: Boundary) -> Any:
    from ag2.events.tool_events import ToolErrorEvent

    boundary.finish(span)
    if _native._capture_content():
        span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, boundary.message)
    journal(turn.iteration, "observation", boundary.message, name)
    turn.tools.finish(name, _tools.CIRCUIT_OPEN)
    span.end()
    return ToolErrorEvent.from_call(event, boundary.error())


def _start_tool(turn: _Turn, name: str, event: Any, boundary: Boundary | None = None) -> Any:
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: "execute_tool",
        sc.GEN_AI_TOOL_NAME: name,
        sc.GEN_AI_TOOL_TYPE: "function",
        sc.GEN_AI_AGENT_NAME: turn.agent,
        sc.FIVELENS_FRAMEWORK: FRAMEWORK,
    }
    call_id = getattr(event, "id", None)
    if call_id:
        attrs[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
    # The model calls the tool again after it failed in this turn: a retry.
    attrs.update(turn.tools.retry_attributes(name))
    if _native._capture_content():
        attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = to_json(_arguments(getattr(event, "arguments", None)))
    if boundary is not None:
        attrs.update(boundary.attributes())
    return _native.start_span(
        f"execute_tool {name}",
        kind="internal",
        parent=turn.iteration or turn.span,
        attributes=attrs,
        _instrumentation=INSTRUMENTATION,
    )


def _tool_failed(turn: _Turn, span: Any, name: str, error: BaseException) -> None:
    kind = error_type(error)
    span.set_attribute(sc.ERROR_TYPE, kind)
    span.set_status("error", str(error)[:1024])
    if turn.tools.finish(name, kind) == 1:
        span.set_attribute(sc.FIVELENS_RETRY_ATTEMPT, 1)
    journal(turn.iteration, "observation", f"{kind}: {error}", name)


class _Factory:
    """Makes fivelens's middleware for one turn (ag2 calls factories with the turn's event and
    context)."""

    def __init__(self, cls: type, agent: Any, client: Any) -> None:
        self._cls = cls
        self._agent = agent
        self._client = client

    def __call__(self, event: Any, context: Any) -> Any:
        # The model config of this turn (``ask(config=...)`` overrides the agent's).
        config = (getattr(context, "dependencies", None) or {}).get(_CONFIG_KEY)
        return self._cls(event, context, _Turn(self._agent, self._client, config))


_patched: list[tuple[Any, str, Any]] = []
_CONFIG_KEY: Any = object()


def _wrap_drive_scope(original: Any, middleware_cls: type) -> Any:
    @functools.wraps(original)
    def _drive_scope(self: Any, event: Any, **kwargs: Any) -> Any:
        if _native.is_recording():
            try:
                factory = _Factory(middleware_cls, self, kwargs.get("client"))
                kwargs["additional_middleware"] = (*kwargs.get("additional_middleware", ()), factory)
            except Exception as e:
                _report("adding the middleware", e)
        return original(self, event, **kwargs)

    return _drive_scope


def _patch(_module: Any) -> None:
    global _CONFIG_KEY
    from ag2.agent import Agent
    from ag2.middleware.base import BaseMiddleware

    with contextlib.suppress(ImportError):
        from ag2.utils import MODEL_CONFIG_CONTEXT_DEPENDENCY_KEY

        _CONFIG_KEY = MODEL_CONFIG_CONTEXT_DEPENDENCY_KEY

    original = vars(Agent).get("_drive_scope")
    if original is None or getattr(original, _MARK, False):
        return
    wrapped = _wrap_drive_scope(original, _middleware_class(BaseMiddleware))
    setattr(wrapped, _MARK, True)
    setattr(wrapped, _ORIGINAL, original)
    Agent._drive_scope = wrapped  # type: ignore[method-assign]
    _patched.append((Agent, "_drive_scope", original))


def instrument() -> str | None:
    try:
        version = importlib.metadata.version("ag2")
    except importlib.metadata.PackageNotFoundError:
        return "ag2 is not installed"
    if not version.startswith("1."):
        return f"ag2 {version} is not supported (1.x is)"
    _hooks.when_imported("ag2", _patch)
    return None


def uninstrument() -> None:
    _hooks.cancel("ag2")
    for owner, name, original in reversed(_patched):
        setattr(owner, name, original)
    _patched.clear()
