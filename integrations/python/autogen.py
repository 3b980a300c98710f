"""AutoGen 0.7 (``autogen-core``, ``autogen-agentchat``, ``autogen-ext``): a team or agent run is
one trace, each agent turn an iteration span, every model call one ``chat`` span.

AutoGen makes OpenTelemetry spans of its own, and fivelens adopts them through the OpenTelemetry
bridge (``fivelens._otel``, scope ``autogen-core``): ``create_agent {name}`` (made when an agent is
constructed; it stands in a trace of its own, and the runs of a team link to its agents' ones),
``invoke_agent {name}`` (one a turn; the root of a lone agent's run) and ``execute_tool {name}``.
fivelens adds what they lack: ``fivelens.framework``, the tool's arguments and result, retry
attributes, and the number of iterations an agent took.

What fivelens makes itself:

- ``invoke_workflow {team name}``, the root of a team run (``BaseGroupChat.run_stream``, which
  ``run`` goes through), linked to its agents' ``create_agent`` spans;
- ``iteration`` under ``invoke_agent``: one model call and the tool calls it asked for (the
  loop of ``AssistantAgent``). ``fivelens.agent.iteration`` counts the agent's iterations within
  the run (a second turn of the same agent continues its count); the agent's reasoning journal
  (``fivelens.agent.step`` events: thought, action, observation, final) sits on it;
- ``chat {model}`` for a model client whose calls go through no instrumented SDK (``Replay``,
  Ollama, llama.cpp, Azure AI Inference, custom clients), with usage from its ``CreateResult``.
  The OpenAI and Anthropic clients of ``autogen-ext`` call the SDKs that fivelens instruments: the
  SDK's span is the model call, under the iteration, and nothing is added.

One trace per run. AutoGen's runtime hands messages from agent to agent through a queue, and
deliberately turns the sender's span into a link, so a run with no span around it splits into
one trace per message. Around a team run the root span is current while the runtime starts (its
handler tasks inherit it); a runtime the app started before the run (outside any span) is reached
through the message envelopes, which carry the run they were sent in, so every message handled
during the run stays in its trace, concurrent runs apart. The runtime's own messaging spans
(``autogen create/publish/process/ack <topic uuid>``, about fifteen a turn) are not recorded when
fivelens provides the tracer provider: they describe AutoGen's plumbing, not the agents' work, and
their names carry ids; a runtime given its own ``tracer_provider`` keeps them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from fivelens import _hooks, _native, _tools
from fivelens import semconv as sc
from fivelens._llm import LlmCall, text_part, to_json
from fivelens._tools import Boundary

from ._agents import ToolAttempts, error_type, journal, sdk_instrumented

INSTRUMENTATION = "fivelens.autogen"
FRAMEWORK = "autogen"
_SCOPE = "autogen-core"
"""The tracer AutoGen's agent and tool spans are made with (adopted by the bridge)."""

_MARK = "__fivelens__"
_ORIGINAL = "__fivelens_original__"


# ---- state ----------------------------------------------------------------------------------------


class _Run:
    """A team run, or a lone agent's: what its agents' iterations and tool retries count against."""

    __slots__ = ("anchor", "iterations", "tools", "total")

    def __init__(self, anchor: Any) -> None:
        self.anchor = anchor
        """The span the runtime's message handlers run under (a team's root), or None."""
        self.iterations: dict[str, int] = {}
        self.tools = ToolAttempts()
        self.total = 0


class _Invocation:
    """One ``invoke_agent`` span: the agent's turn, and its open iteration."""

    __slots__ = ("agent", "count", "iteration", "parent", "run")

    def __init__(self, agent: str, run: _Run, parent: Any) -> None:
        self.agent = agent
        self.run = run
        self.parent = parent
        self.iteration: Any = None
        self.count = 0

    def next_iteration(self) -> Any:
        self.end_iteration()
        n = self.run.iterations.get(self.agent, 0) + 1
        self.run.iterations[self.agent] = n
        self.run.total += 1
        self.count += 1
        self.iteration = _native.start_span(
            "iteration",
            kind="internal",
            parent=self.parent,
            attributes={
                sc.FIVELENS_FRAMEWORK: FRAMEWORK,
                sc.GEN_AI_AGENT_NAME: self.agent,
                sc.FIVELENS_AGENT_ITERATION: n,
            },
            _instrumentation=INSTRUMENTATION,
        )
        _tools.note_iteration(self.iteration, n)
        return self.iteration

    def end_iteration(self) -> None:
        span, self.iteration = self.iteration, None
        if span is not None:
            span.end()


_RUN: ContextVar[_Run | None] = ContextVar("fivelens_autogen_run", default=None)
_INVOCATION: ContextVar[_Invocation | None] = ContextVar("fivelens_autogen_invocation", default=None)
_MODEL_STEP: ContextVar[_ModelStep | None] = ContextVar("fivelens_autogen_model_step", default=None)
_TOOL: ContextVar[_ToolCall | None] = ContextVar("fivelens_autogen_tool", default=None)
_CREATED: ContextVar[list[Any] | None] = ContextVar("fivelens_autogen_created", default=None)


def _reset(var: ContextVar[Any], token: Token[Any]) -> None:
    """Resets ``var``; a token from another context (an async generator finished elsewhere)
    falls back to the previous value instead of raising."""
    try:
        var.reset(token)
    except ValueError:
        prev = token.old_value
        var.set(None if prev is Token.MISSING else prev)


def _report(what: str, e: BaseException) -> None:
    _native.report_internal_error("integration", f"autogen: {what}: {e!r}")


def _native_of(span: Any) -> Any:
    """The fivelens span under an OpenTelemetry span the bridge made, or None (an app's SDK span)."""
    return getattr(span, "_native", None)


# ---- model calls ------------------------------------------------------------------------------------

# Model clients of autogen-ext whose calls go through an SDK fivelens instruments: (base class
# name, module prefix, the SDK's package).
_SDK_CLIENTS = (
    ("BaseOpenAIChatCompletionClient", "autogen_ext.models.openai", "openai"),
    ("BaseAnthropicChatCompletionClient", "autogen_ext.models.anthropic", "anthropic"),
)
# Clients that only delegate to another client (the inner client's call is the model call).
_DELEGATING = (("ChatCompletionCache", "autogen_ext.models.cache"),)
_PROVIDERS = {
    "OpenAIChatCompletionClient": "openai",
    "AzureOpenAIChatCompletionClient": "azure.ai.openai",
    "AnthropicChatCompletionClient": "anthropic",
    "AnthropicBedrockChatCompletionClient": "aws.bedrock",
    "AzureAIChatCompletionClient": "azure.ai.inference",
    "OllamaChatCompletionClient": "ollama",
    "LlamaCppChatCompletionClient": "llama_cpp",
    "SKChatCompletionAdapter": "semantic_kernel",
    "ReplayChatCompletionClient": "replay",
}
_FINISH_REASONS = {"function_calls": "tool_calls"}


def _client_kind(client: Any) -> str:
    """``sdk`` (an instrumented SDK makes the span), ``delegating`` or ``own`` (fivelens makes it)."""
    for klass in type(client).__mro__:
        name, module = klass.__name__, klass.__module__
        for base, prefix, package in _SDK_CLIENTS:
            if name == base and module.startswith(prefix):
                return "sdk" if sdk_instrumented(package) else "own"
        for base, prefix in _DELEGATING:
            if name == base and module.startswith(prefix):
                return "delegating"
    return "own"


def _provider(client: Any) -> str:
    for klass in type(client).__mro__:
        provider = _PROVIDERS.get(klass.__name__)
        if provider:
            return provider
    name = type(client).__name__
    for suffix in ("ChatCompletionClient", "Client"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name.lower()


def _model(client: Any) -> str | None:
    args = getattr(client, "_create_args", None)
    if isinstance(args, dict) and isinstance(args.get("model"), str):
        return str(args["model"])
    for attr in ("_model_name", "_model"):
        value = getattr(client, attr, None)
        if isinstance(value, str) and value:
            return value
    return None  # not the model family: a family names no model (and has no price)


def _call_parts(content: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        if content:
            parts.append(text_part(content))
        return parts
    for item in content or ():
        if isinstance(item, str):
            parts.append(text_part(item))
        elif hasattr(item, "arguments") and hasattr(item, "name"):
            parts.append(
                {"type": "tool_call", "id": item.id, "name": item.name, "arguments": _arguments(item.arguments)}
            )
        else:  # an image
            parts.append({"type": "blob", "modality": "image"})
    return parts


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            import json

            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _messages(messages: Any) -> list[dict[str, Any]]:
    """AutoGen's ``LLMMessage`` list in the conventions' ``{"role", "parts"}`` shape."""
    out: list[dict[str, Any]] = []
    for m in messages or ():
        kind = type(m).__name__
        content = getattr(m, "content", None)
        if kind == "SystemMessage":
            out.append({"role": "system", "parts": _call_parts(content)})
        elif kind == "AssistantMessage":
            parts = _call_parts(content)
            thought = getattr(m, "thought", None)
            if thought:
                parts.insert(0, text_part(str(thought)))
            out.append({"role": "assistant", "parts": parts})
        elif kind == "FunctionExecutionResultMessage":
            out.append(
                {
                    "role": "tool",
                    "parts": [
                        {"type": "tool_call_response", "id": r.call_id, "response": r.content} for r in content or ()
                    ],
                }
            )
        else:
            msg: dict[str, Any] = {"role": "user", "parts": _call_parts(content)}
            source = getattr(m, "source", None)
            if isinstance(source, str) and source:
                msg["name"] = source
            out.append(msg)
    return out


def _tool_definitions(tools: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in tools or ():
        schema = t if isinstance(t, dict) else getattr(t, "schema", None)
        if isinstance(schema, dict) and schema.get("name"):
            out.append(
                {
                    "type": "function",
                    "name": schema.get("name"),
                    "description": schema.get("description"),
                    "parameters": schema.get("parameters"),
                }
            )
    return out


class _ModelStep:
    """One call of a model client: the agent's next iteration (inside an agent's turn), and the
    ``chat`` span when no instrumented SDK makes one."""

    __slots__ = ("_tokens", "call", "iteration")

    def __init__(self, client: Any, messages: Any, kwargs: dict[str, Any], outer: _ModelStep | None, stream: bool):
        self.iteration: Any = None
        self.call: LlmCall | None = None
        self._tokens: list[Any] = []
        kind = _client_kind(client)
        if outer is None:
            inv = _INVOCATION.get()
            if inv is not None:
                self.iteration = inv.next_iteration()
        elif outer.call is not None or kind == "delegating":
            return  # a client calling another (or its own base class): the outer call covers it
        if kind != "own":
            return
        attrs: dict[str, Any] = {sc.FIVELENS_FRAMEWORK: FRAMEWORK}
        if stream:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        self.call = LlmCall("chat", _provider(client), _model(client), attrs, INSTRUMENTATION, self.iteration)
        call = self.call
        # The input is kept for token estimates and the context-window sections even when content
        # is not captured (then under private keys, dropped on the processing thread).
        call._record_input(
            _messages(messages),
            None,
            _tool_definitions(kwargs.get("tools")),
            "\n".join(str(getattr(m, "content", "")) for m in messages or () if type(m).__name__ == "SystemMessage")
            or None,
        )

    def activate(self) -> None:
        if self.iteration is not None:
            self._tokens.append((self.iteration, self.iteration._activate()))
        if self.call is not None:
            self.call._activate()

    def deactivate(self) -> None:
        if self.call is not None:
            self.call._deactivate()
        while self._tokens:
            span, token = self._tokens.pop()
            try:
                span._deactivate(token)
            except Exception as e:
                _report("resetting an iteration span", e)

    def chunk(self, text: str) -> None:
        if self.call is not None:
            self.call.chunk(text)

    def finish(self, result: Any) -> None:
        try:
            if self.call is not None:
                _record_result(self.call, result)
            if self.iteration is not None and result is not None:
                _journal_result(self.iteration, result)
        except Exception as e:
            _report("reading a model result", e)
        if self.call is not None:
            self.call.end()

    def fail(self, error: BaseException) -> None:
        if self.call is not None:
            self.call.fail(error)
            self.call.end()
        if self.iteration is not None and not isinstance(error, GeneratorExit):
            self.iteration.set_attribute(sc.ERROR_TYPE, error_type(error))
            self.iteration.set_status("error", str(error)[:1024])


def _record_result(call: LlmCall, result: Any) -> None:
    if result is None:
        return
    reason = str(getattr(result, "finish_reason", "") or "")
    reason = _FINISH_REASONS.get(reason, reason)
    parts = _call_parts(getattr(result, "content", None))
    thought = getattr(result, "thought", None)
    if thought:
        parts.insert(0, text_part(str(thought)))
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if reason:
        message["finish_reason"] = reason
        call.set_response(finish_reasons=[reason])
    call._record_output([message])
    usage = getattr(result, "usage", None)
    if usage is not None:
        call.set_usage(getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))


def _journal_result(span: Any, result: Any) -> None:
    content = getattr(result, "content", None)
    thought = getattr(result, "thought", None)
    if thought:
        journal(span, "thought", str(thought))
    if isinstance(content, str):
        journal(span, "final", content)
        return
    for call in content or ():
        name = getattr(call, "name", None)
        journal(
            span,
            "action",
            to_json({"tool": name, "arguments": _arguments(getattr(call, "arguments", None))}),
            str(name) if name else None,
        )


def _wrap_create(original: Any) -> Any:
    @functools.wraps(original)
    async def create(self: Any, messages: Any, *args: Any, **kwargs: Any) -> Any:
        if not _native.is_recording():
            return await original(self, messages, *args, **kwargs)
        try:
            step = _ModelStep(self, messages, kwargs, _MODEL_STEP.get(), stream=False)
            step.activate()
        except Exception as e:
            _report("starting a model call", e)
            return await original(self, messages, *args, **kwargs)
        try:
            _tools.check_guards()  # a loop or budget guard refuses the call before it is made
        except _tools.GuardExceeded:
            step.deactivate()
            raise
        token = _MODEL_STEP.set(step)
        try:
            result = await original(self, messages, *args, **kwargs)
        except BaseException as e:
            _reset(_MODEL_STEP, token)
            step.deactivate()
            step.fail(e)
            raise
        _reset(_MODEL_STEP, token)
        step.deactivate()
        step.finish(result)
        return result

    return create


def _wrap_create_stream(original: Any) -> Any:
    @functools.wraps(original)
    async def create_stream(self: Any, messages: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        inner = original(self, messages, *args, **kwargs)
        step: _ModelStep | None = None
        if _native.is_recording():
            try:
                step = _ModelStep(self, messages, kwargs, _MODEL_STEP.get(), stream=True)
            except Exception as e:
                _report("starting a streamed model call", e)
        if step is None:
            async for item in inner:
                yield item
            return
        final: Any = None
        try:
            while True:
                step.activate()
                token = _MODEL_STEP.set(step)
                try:
                    item = await inner.__anext__()
                except StopAsyncIteration:
                    break
                finally:
                    _reset(_MODEL_STEP, token)
                    step.deactivate()
                if isinstance(item, str):
                    step.chunk(item)
                else:
                    final = item
                yield item
        except GeneratorExit:
            step.finish(final)
            await inner.aclose()
            raise
        except BaseException as e:
            step.fail(e)
            raise
        step.finish(final)

    return create_stream


_patched_clients: list[tuple[type, str, Any]] = []


def _patch_client_class(cls: type) -> None:
    for name, wrap in (("create", _wrap_create), ("create_stream", _wrap_create_stream)):
        fn = cls.__dict__.get(name)
        if fn is None or getattr(fn, _MARK, False) or getattr(fn, "__isabstractmethod__", False):
            continue
        wrapped = wrap(fn)
        setattr(wrapped, _MARK, True)
        setattr(wrapped, _ORIGINAL, fn)
        setattr(cls, name, wrapped)
        _patched_clients.append((cls, name, fn))


def _all_subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


# ---- tools --------------------------------------------------------------------------------------------


class _ToolCall:
    """One ``run_json`` of a tool: the attributes AutoGen's ``execute_tool`` span gets from
    fivelens, and the span itself, held open until the result is known."""

    __slots__ = ("arguments", "boundary", "call_id", "inv", "name", "retry", "span")

    def __init__(self, name: str, arguments: Any, call_id: Any, inv: _Invocation | None) -> None:
        self.name = name
        self.arguments = arguments
        self.call_id = call_id
        self.inv = inv
        self.span: Any = None
        # The model calls the tool again after it failed in this run: a retry.
        self.retry = inv.run.tools.begin(name) if inv is not None else None
        self.boundary = Boundary.admit(name)

    def start_attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {sc.FIVELENS_FRAMEWORK: FRAMEWORK, sc.GEN_AI_TOOL_TYPE: "function"}
        if self.call_id:
            attrs[sc.GEN_AI_TOOL_CALL_ID] = str(self.call_id)
        if self.inv is not None:
            attrs[sc.GEN_AI_AGENT_NAME] = self.inv.agent
        if self.retry is not None:
            attrs[sc.FIVELENS_RETRY_ATTEMPT] = self.retry[0]
            attrs[sc.FIVELENS_RETRY_REASON] = self.retry[1]
            attrs[sc.FIVELENS_RETRY_SOURCE] = "model"
        attrs.update(self.boundary.attributes())
        return attrs

    def content_allowed(self) -> bool:
        # Content goes only on spans fivelens records itself (an app's SDK span would export it
        # unredacted).
        return _native._capture_content() and _native_of(self.span) is not None

    def on_start(self, span: Any) -> None:
        self.span = span
        self.boundary.start(span)
        if self.content_allowed():
            span.set_attribute(sc.GEN_AI_TOOL_CALL_ARGUMENTS, to_json(self.arguments))

    def reject(self) -> BaseException:
        """The breaker is open (enforce): the tool is not run. Its span is fivelens's own (AutoGen
        makes its span inside the call); the error raised is what AutoGen's workbench hands the
        model as the tool's failed result."""
        iteration = self.inv.iteration if self.inv is not None else None
        attrs = self.start_attributes()
        attrs[sc.GEN_AI_OPERATION_NAME] = "execute_tool"
        attrs[sc.GEN_AI_TOOL_NAME] = self.name
        if _native._capture_content():
            attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = to_json(self.arguments)
        span = _native.start_span(
            f"execute_tool {self.name}",
            kind="internal",
            parent=iteration,
            attributes=attrs,
            _instrumentation=INSTRUMENTATION,
        )
        self.boundary.start(span)
        self.boundary.finish(span)
        if _native._capture_content():
            span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, self.boundary.message)
        span.end()
        if self.inv is not None:
            self.inv.run.tools.finish(self.name, _tools.CIRCUIT_OPEN)
            journal(self.inv.iteration, "observation", self.boundary.message, self.name)
        return self.boundary.error()

    def succeeded(self, tool: Any, result: Any) -> None:
        text: str | None = None
        try:
            text = str(tool.return_value_as_string(result))
        except Exception:
            text = to_json(result)
        if self.span is not None and self.content_allowed():
            self.span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, text)
        self.boundary.finish(self.span)
        if self.inv is not None:
            self.inv.run.tools.finish(self.name, None)
            journal(self.inv.iteration, "observation", text, self.name)

    def failed(self, error: BaseException) -> None:
        # AutoGen's span records the exception, the ERROR status and ``error.type``.
        self.boundary.finish(self.span, error=error if isinstance(error, Exception) else None, failed=True)
        if self.inv is not None:
            self.inv.run.tools.finish(self.name, error_type(error))
            journal(self.inv.iteration, "observation", f"{error_type(error)}: {error}", self.name)
        if self.span is not None and self.retry is None:
            self.span.set_attribute(sc.FIVELENS_RETRY_ATTEMPT, 1)

    def end(self) -> None:
        if self.span is not None:
            self.span.end()


class _HeldOpenTracer:
    """Given to AutoGen's ``trace_tool_span`` for a call fivelens follows: the span is AutoGen's
    (the ``autogen-core`` tracer, so the bridge adopts it), started with fivelens's attributes
    and ended by fivelens once the tool's result is on it."""

    def __init__(self, call: _ToolCall) -> None:
        self._call = call

    def start_span(
        self,
        name: str,
        context: Any = None,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Any = None,
        links: Any = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        attrs = dict(attributes or {})
        attrs.update(self._call.start_attributes())
        span = trace.get_tracer(_SCOPE).start_span(
            name, context, kind, attrs, links, start_time, record_exception, set_status_on_exception
        )
        self._call.on_start(span)
        return span

    @contextlib.contextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Any = None,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Any = None,
        links: Any = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        # AutoGen's helper records the exception and the status itself.
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield span


def _trace_tool_span(original: Any) -> Any:
    @functools.wraps(original)
    def trace_tool_span(tool_name: str, *, tracer: Any = None, **kwargs: Any) -> Any:
        call = _TOOL.get()
        if call is None or call.span is not None or tracer is not None:
            return original(tool_name, tracer=tracer, **kwargs)
        return original(tool_name, tracer=_HeldOpenTracer(call), **kwargs)

    return trace_tool_span


def _tool_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    arguments = args[0] if args else kwargs.get("args")
    call_id = args[2] if len(args) > 2 else kwargs.get("call_id")
    return arguments, call_id


def _begin_tool(tool: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _ToolCall | None:
    if not _native.is_recording():
        return None
    try:
        arguments, call_id = _tool_args(args, kwargs)
        return _ToolCall(str(getattr(tool, "name", "tool")), arguments, call_id, _INVOCATION.get())
    except Exception as e:
        _report("starting a tool call", e)
        return None


class _ToolScope:
    """What is current while a tool runs: its iteration (the parent of AutoGen's span), and no
    agent turn (a model called inside a tool is not the agent's next iteration)."""

    __slots__ = ("_activation", "_boundary", "_tokens")

    def __init__(self, call: _ToolCall) -> None:
        self._tokens = (_TOOL.set(call), _INVOCATION.set(None))
        self._boundary = _tools.enter_boundary(call.name)
        iteration = call.inv.iteration if call.inv is not None else None
        self._activation = (iteration, iteration._activate()) if iteration is not None else None

    def close(self) -> None:
        if self._activation is not None:
            span, token = self._activation
            try:
                span._deactivate(token)
            except Exception as e:
                _report("resetting an iteration span", e)
        _tools.leave_boundary(self._boundary)
        _reset(_INVOCATION, self._tokens[1])
        _reset(_TOOL, self._tokens[0])


def _wrap_run_json(original: Any) -> Any:
    @functools.wraps(original)
    async def run_json(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _begin_tool(self, args, kwargs)
        if call is None:
            return await original(self, *args, **kwargs)
        if call.boundary.rejected:
            raise call.reject()
        scope = _ToolScope(call)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as e:
            scope.close()
            call.failed(e)
            call.end()
            raise
        scope.close()
        call.succeeded(self, result)
        call.end()
        return result

    return run_json


def _wrap_run_json_stream(original: Any) -> Any:
    @functools.wraps(original)
    async def run_json_stream(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        call = _begin_tool(self, args, kwargs)
        if call is not None and call.boundary.rejected:
            raise call.reject()
        inner = original(self, *args, **kwargs)
        if call is None:
            async for item in inner:
                yield item
            return
        last: Any = None
        try:
            while True:
                scope = _ToolScope(call)
                try:
                    item = await inner.__anext__()
                except StopAsyncIteration:
                    break
                finally:
                    scope.close()
                last = item
                yield item
        except GeneratorExit:
            call.end()
            await inner.aclose()
            raise
        except BaseException as e:
            call.failed(e)
            call.end()
            raise
        call.succeeded(self, last)
        call.end()

    return run_json_stream


# ---- agents and teams ------------------------------------------------------------------------------


def _traced_invoke(original: Any) -> Any:
    """AutoGen's ``trace_invoke_agent_span``, with the agent's turn made known to fivelens."""

    @functools.wraps(original)
    @contextlib.contextmanager
    def trace_invoke_agent_span(agent_name: str, **kwargs: Any) -> Iterator[Any]:
        with original(agent_name, **kwargs) as span:
            tokens: list[tuple[ContextVar[Any], Token[Any]]] = []
            inv: _Invocation | None = None
            if _native.is_recording():
                try:
                    span.set_attribute(sc.FIVELENS_FRAMEWORK, FRAMEWORK)
                    run = _RUN.get()
                    if run is None:  # a lone agent's run: this span is its root
                        run = _Run(None)
                        tokens.append((_RUN, _RUN.set(run)))
                    inv = _Invocation(agent_name, run, _native_of(span))
                    tokens.append((_INVOCATION, _INVOCATION.set(inv)))
                except Exception as e:
                    _report("starting an agent turn", e)
            try:
                yield span
            finally:
                if inv is not None:
                    try:
                        inv.end_iteration()
                        span.set_attribute(sc.FIVELENS_AGENT_ITERATIONS, inv.count)
                    except Exception as e:
                        _report("ending an agent turn", e)
                for var, token in reversed(tokens):
                    _reset(var, token)

    return trace_invoke_agent_span


def _traced_create(original: Any) -> Any:
    """AutoGen's ``trace_create_agent_span``, remembered for the links of the agent's runs."""

    @functools.wraps(original)
    @contextlib.contextmanager
    def trace_create_agent_span(agent_name: str, **kwargs: Any) -> Iterator[Any]:
        with original(agent_name, **kwargs) as span:
            try:
                span.set_attribute(sc.FIVELENS_FRAMEWORK, FRAMEWORK)
                created = _CREATED.get()
                if created is not None:
                    created.append(span.get_span_context())
            except Exception as e:
                _report("reading a create_agent span", e)
            yield span

    return trace_create_agent_span


def _wrap_agent_init(original: Any) -> Any:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        created: list[Any] = []
        token = _CREATED.set(created)
        try:
            original(self, *args, **kwargs)
        finally:
            _reset(_CREATED, token)
        if created:
            try:
                self._fivelens_created = created[0]
            except Exception:  # an agent that takes no new attributes: no link
                pass

    return __init__


def _created_links(team: Any) -> list[tuple[str, dict[str, Any]]]:
    links: list[tuple[str, dict[str, Any]]] = []
    for agent in getattr(team, "_participants", None) or ():
        ctx = getattr(agent, "_fivelens_created", None)
        if ctx is not None and ctx.is_valid:
            links.append((f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags) & 1:02x}", {}))
    return links


def _start_team_span(team: Any) -> Any:
    name = str(getattr(team, "name", None) or type(team).__name__)
    return _native.start_span(
        f"invoke_workflow {name}",
        kind="internal",
        attributes={
            sc.GEN_AI_OPERATION_NAME: "invoke_workflow",
            sc.GEN_AI_WORKFLOW_NAME: name,
            sc.FIVELENS_FRAMEWORK: FRAMEWORK,
        },
        links=_created_links(team) or None,
        _instrumentation=INSTRUMENTATION,
    )


def _wrap_team_run_stream(original: Any) -> Any:
    @functools.wraps(original)
    def run_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        inner = original(self, *args, **kwargs)
        if not _native.is_recording():
            return inner
        return _team_run(self, inner)

    return run_stream


async def _team_run(team: Any, inner: Any) -> AsyncIterator[Any]:
    """The team's stream, its root span current (and its run known) while the team works."""
    try:
        root = _start_team_span(team)
    except Exception as e:
        _report("starting a team run", e)
        async for item in inner:
            yield item
        return
    run = _Run(root)
    failure: BaseException | None = None
    try:
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            activation = root._activate()
            token = _RUN.set(run)
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = await inner.athrow(exc)
                else:
                    item = await inner.asend(to_send)
            except StopAsyncIteration:
                return
            finally:
                _reset(_RUN, token)
                root._deactivate(activation)
            try:
                to_send = yield item
            except GeneratorExit:
                activation = root._activate()
                token = _RUN.set(run)
                try:
                    await inner.aclose()
                finally:
                    _reset(_RUN, token)
                    root._deactivate(activation)
                raise
            except BaseException as e:
                to_throw = e
                to_send = None
    except BaseException as e:
        failure = e
        raise
    finally:
        try:
            root.set_attribute(sc.FIVELENS_AGENT_ITERATIONS, run.total)
            if failure is not None and not isinstance(failure, GeneratorExit):
                root.record_exception(failure)
            root.end()
        except Exception as e:
            _report("ending a team run", e)


# ---- the runtime ---------------------------------------------------------------------------------


class _PassThroughTracer:
    """The runtime's tracer when fivelens provides the tracer provider: no messaging spans, and
    the current span stays current (so the agents' spans nest where they belong)."""

    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> trace.Span:
        return trace.get_current_span(context)

    @contextlib.contextmanager
    def start_as_current_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> Iterator[trace.Span]:
        yield trace.get_current_span(context)


_PASS_THROUGH = _PassThroughTracer()


def _wrap_runtime_init(original: Any) -> Any:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            from fivelens._otel import FivelensTracerProvider

            helper = getattr(self, "_tracer_helper", None)
            if (
                helper is not None
                and kwargs.get("tracer_provider") is None
                and isinstance(trace.get_tracer_provider(), FivelensTracerProvider)
            ):
                helper.tracer = _PASS_THROUGH
        except Exception as e:
            _report("setting up a runtime", e)

    return __init__


_CARRIED = "_fivelens_carried"


def _wrap_envelope_metadata(original: Any) -> Any:
    """``get_telemetry_envelope_metadata`` as the runtime calls it when it queues a message: the
    envelope also carries the run it was sent in (and the OpenTelemetry context)."""

    @functools.wraps(original)
    def get_telemetry_envelope_metadata() -> Any:
        metadata = original()
        try:
            run = _RUN.get()
            setattr(metadata, _CARRIED, (run, otel_context.get_current()))
        except Exception as e:
            _report("carrying a run in a message", e)
        return metadata

    return get_telemetry_envelope_metadata


def _wrap_process(original: Any) -> Any:
    """The runtime's handling of one queued message (a task of its own): under the run and span
    the message was sent in."""

    @functools.wraps(original)
    async def process(self: Any, envelope: Any, *args: Any, **kwargs: Any) -> Any:
        carried = getattr(getattr(envelope, "metadata", None), _CARRIED, None)
        if carried is None:
            return await original(self, envelope, *args, **kwargs)
        run, ctx = carried
        run_token = _RUN.set(run)
        activation: Any = None
        otel_token: Any = None
        try:
            if run is not None and run.anchor is not None:
                activation = run.anchor._activate()
            elif ctx is not None:
                otel_token = otel_context.attach(ctx)
        except Exception as e:
            _report("resuming a run in a message handler", e)
        try:
            return await original(self, envelope, *args, **kwargs)
        finally:
            if activation is not None:
                run.anchor._deactivate(activation)
            if otel_token is not None:
                otel_context.detach(otel_token)
            _reset(_RUN, run_token)

    return process


# ---- patching ------------------------------------------------------------------------------------

_patched: list[tuple[Any, str, Any, bool]] = []
"""(owner, attribute, original, was it in the owner's own __dict__)"""
_subclass_hook: list[Any] = []


def _replace(owner: Any, name: str, wrap: Any) -> None:
    original = getattr(owner, name, None)
    if original is None or getattr(original, _MARK, False):
        return
    wrapped = wrap(original)
    setattr(wrapped, _MARK, True)
    setattr(wrapped, _ORIGINAL, original)
    own = name in vars(owner)
    setattr(owner, name, wrapped)
    _patched.append((owner, name, original, own))


def _patch_core(_module: Any) -> None:
    from autogen_core import _single_threaded_agent_runtime as runtime
    from autogen_core.models import ChatCompletionClient
    from autogen_core.tools import _base as tools

    _replace(tools, "trace_tool_span", _trace_tool_span)
    _replace(tools.BaseTool, "run_json", _wrap_run_json)
    _replace(tools.BaseStreamTool, "run_json_stream", _wrap_run_json_stream)
    _replace(runtime, "get_telemetry_envelope_metadata", _wrap_envelope_metadata)
    cls = runtime.SingleThreadedAgentRuntime
    _replace(cls, "__init__", _wrap_runtime_init)
    for name in ("_process_send", "_process_publish", "_process_response"):
        _replace(cls, name, _wrap_process)

    # Model clients: those defined now, and those defined later (autogen-ext's are imported on
    # demand, the app may define its own).
    for sub in _all_subclasses(ChatCompletionClient):
        _patch_client_class(sub)
    if not _subclass_hook:
        base = ChatCompletionClient

        def __init_subclass__(cls: Any, /, **kwargs: Any) -> None:
            super(base, cls).__init_subclass__(**kwargs)
            try:
                _patch_client_class(cls)
            except Exception as e:
                _report(f"patching {cls.__name__}", e)

        _subclass_hook.append((base, vars(base).get("__init_subclass__")))
        base.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]


def _patch_agentchat(_module: Any) -> None:
    from autogen_agentchat.agents import _base_chat_agent as agents
    from autogen_agentchat.teams._group_chat import _base_group_chat as teams
    from autogen_agentchat.teams._group_chat import _chat_agent_container as container

    _replace(agents, "trace_create_agent_span", _traced_create)
    _replace(agents, "trace_invoke_agent_span", _traced_invoke)
    _replace(container, "trace_invoke_agent_span", _traced_invoke)
    _replace(agents.BaseChatAgent, "__init__", _wrap_agent_init)
    _replace(teams.BaseGroupChat, "run_stream", _wrap_team_run_stream)


def _supported() -> str | None:
    try:
        version = importlib.metadata.version("autogen-core")
    except importlib.metadata.PackageNotFoundError:
        return None
    if not version.startswith("0.7."):
        return f"autogen-core {version} is not supported (0.7.x is)"
    return None


def instrument() -> str | None:
    unsupported = _supported()
    if unsupported:
        return unsupported
    _hooks.when_imported("autogen_core", _patch_core)
    _hooks.when_imported("autogen_agentchat", _patch_agentchat)
    return None


def uninstrument() -> None:
    _hooks.cancel("autogen_core")
    _hooks.cancel("autogen_agentchat")
    for owner, name, original, own in reversed(_patched):
        if own:
            setattr(owner, name, original)
        else:
            with contextlib.suppress(AttributeError):
                delattr(owner, name)
    _patched.clear()
    for cls, name, original in reversed(_patched_clients):
        setattr(cls, name, original)
    _patched_clients.clear()
    for base, previous in _subclass_hook:
        if previous is None:
            with contextlib.suppress(AttributeError):
                del base.__init_subclass__
        else:
            base.__init_subclass__ = previous
    _subclass_hook.clear()
