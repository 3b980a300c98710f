"""LangChain and LangGraph (``langchain-core`` 1.x, ``langgraph`` 1.x): every run the app makes is
seen without passing callbacks, and becomes a span in one trace per top-level run.

How it hooks in. One callback handler is registered globally through LangChain's
``register_configure_hook`` with a ``ContextVar`` whose *default* is the handler, so every callback
manager in every thread and task gets it. The handler is synchronous and ``run_inline``: LangChain
calls it in the caller's thread (or task) before the run's own work, which is what lets it tell
the provider SDK integrations which chat-model run they are serving (see "one model call is one
span" below). It never makes anything current: spans are built from LangChain's run tree
(``run_id`` / ``parent_run_id``) with explicit parents, so no context is attached in a callback
and nothing can be detached in the wrong context.

Spans made inside a run by the app (``fivelens.span``), by OpenTelemetry-instrumented libraries or
by the provider integrations nest under that run's span through LangChain's current-run variable
(``var_child_runnable_config``): the core asks this module which span that run has (see
``_resolve_run``), and uses it when the app has not opened a span of its own inside the run.

Span shapes:

- the top-level graph run: ``invoke_workflow {graph name}`` (``invoke_agent {name}`` for graphs
  built by ``langchain.agents.create_agent`` or ``langgraph.prebuilt.create_react_agent``,
  recognised from their runs: nothing is wrapped); a
  top-level plain LangChain runnable is a span named after the run;
- each LangGraph node run: a span named after the node with its superstep
  (``fivelens.langgraph.step``, also ``fivelens.agent.iteration``), node name and triggers;
- one model call is one CLIENT span: when the chat-model run wraps an instrumented SDK call
  (OpenAI, Anthropic), the SDK's span takes the run's place; otherwise the run becomes
  ``chat {model}`` with usage from ``usage_metadata``;
- tools: ``execute_tool {name}``; retrievers: ``retrieval {name}``. ``BaseTool.run`` / ``arun``
  are wrapped for the circuit breaker: a call its open breaker rejects (``enforce``) runs the
  tool's own machinery with a body that raises ``ToolException(degraded message)`` and
  ``handle_tool_error`` on, so the model receives an error ``ToolMessage`` as LangChain makes
  them (LangGraph's ``ToolNode`` does not turn other exceptions into messages by default);
- other chain runs: a span named after the run, or none with ``collapse_chains`` (their children
  move up to the nearest span kept).

Chain inputs and outputs are serialised only with ``capture_chain_io`` (it costs milliseconds on
large states); model and tool runs carry their content under the usual content policy.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from fivelens import _instrument, _llm, _native, _tools
from fivelens import semconv as sc
from fivelens._hooks import cancel, when_imported
from fivelens._llm import LlmCall, to_json
from fivelens._tools import Boundary

from ._agents import ToolAttempts, error_type, journal

INSTRUMENTATION = "fivelens.langchain"

# LangChain's `ls_provider` values mapped to the conventions' `gen_ai.provider.name`.
_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "google_genai": "gcp.gen_ai",
    "google_vertexai": "gcp.vertex_ai",
    "google_anthropic_vertex": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "ollama": "ollama",
    "ibm": "ibm.watsonx.ai",
}

# One LangChain run in progress (native: the chain callbacks are native functions, and model,
# tool and retriever runs share the run table with them). Fields: run_id, kind, name, frame (the
# fivelens frame current when it started), parent (its span's explicit parent; None: the current
# frame), root, node (the LangGraph node run it belongs to), span, effective (the parent its
# children get), start_ns, open, covered, first_token_ns, messages, metadata, max_step,
# interrupted, tools (on a root: its tool calls), boundary (tool runs: the breaker's answer).
_Run = _native._LcRun


class _State:
    def __init__(self) -> None:
        self.enabled = False
        # Keyed by the run id's integer (a UUID hashes through Python code; an int does not),
        # in insertion order: the oldest first.
        self.runs: dict[int, _Run] = {}
        # thread id -> the root span of a graph run that stopped at an interrupt: the run that
        # resumes it continues its trace.
        self.interrupted: OrderedDict[str, Any] = OrderedDict()


_state = _State()
_current = _native._context_var()
_llm_run: ContextVar[_Run | None] = ContextVar("fivelens_langchain_llm_run", default=None)
_registered = False
_handler: Any = None


def instrument() -> str | None:
    cfg = _instrument.current_config()
    _state.enabled = True
    # The chain callbacks are native: they get the shared objects and the chain options.
    _native._lc_setup(_state.runs, _state.interrupted, ToolAttempts, to_json, _PROVIDERS, _model_finish)
    _native._lc_configure(True, bool(cfg.get("capture_chain_io", False)), bool(cfg.get("collapse_chains", False)))
    when_imported("langchain_core", _patch_core)
    return None


def uninstrument() -> None:
    _state.enabled = False
    _native._lc_configure(False, False, False)
    cancel("langchain_core")
    _native._set_run_resolver(None, None)
    _llm.set_adopter(None)
    _unpatch_methods()
    _state.runs.clear()
    _state.interrupted.clear()


def _patch_core(_module: Any) -> None:
    global _registered, _handler
    from langchain_core.runnables.config import var_child_runnable_config

    if not _registered:
        from langchain_core.tracers.context import register_configure_hook

        handler_class = _handler_class()
        _handler = handler_class()
        # The default makes the handler visible in every thread and task; the hook list has no
        # removal, so uninstrument() turns the handler off instead.
        var: ContextVar[Any] = ContextVar("fivelens_langchain_handler", default=_handler)
        register_configure_hook(var, True, handler_class)
        _registered = True
    _native._set_run_resolver(var_child_runnable_config.get, _resolve_run)
    _llm.set_adopter(_adopt)
    _patch_methods()


# ---- wrapped methods: the breaker at the tool boundary, the guards before model calls ----------

_patched: list[tuple[Any, str, Any]] = []
# The breaker's answer for the tool run about to start in this context (set by the ``run`` /
# ``arun`` wrapper, taken by the handler's ``on_tool_start``, which LangChain runs inline).
_pending: ContextVar[Boundary | None] = ContextVar("fivelens_langchain_boundary", default=None)


def _patch_methods() -> None:
    if _patched:
        return
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.tools import BaseTool

    for owner, name, make in (
        (BaseTool, "run", _wrap_tool_run),
        (BaseTool, "arun", _wrap_tool_arun),
        (BaseChatModel, "_generate_with_cache", _wrap_guarded),
        (BaseChatModel, "_agenerate_with_cache", _wrap_aguarded),
        (BaseChatModel, "stream", _wrap_guarded_stream),
        (BaseChatModel, "astream", _wrap_guarded_astream),
    ):
        original = owner.__dict__.get(name)
        if original is None or getattr(original, "__fivelens__", False):
            continue
        wrapped = make(original)
        wrapped.__fivelens__ = True
        wrapped.__wrapped__ = original
        setattr(owner, name, wrapped)
        _patched.append((owner, name, original))


def _unpatch_methods() -> None:
    for owner, name, original in reversed(_patched):
        setattr(owner, name, original)
    _patched.clear()


def _degraded(tool: Any, boundary: Boundary) -> Any:
    """A copy of ``tool`` whose body raises the degraded-mode ``ToolException`` and whose
    ``handle_tool_error`` is on: running it through LangChain's own ``run`` returns the error the
    way LangChain returns tool errors to the model (an error ``ToolMessage`` for a tool call)."""
    from langchain_core.tools import ToolException

    message = boundary.message

    def _run(*args: Any, **kwargs: Any) -> Any:
        raise ToolException(message)

    async def _arun(*args: Any, **kwargs: Any) -> Any:
        raise ToolException(message)

    copy = tool.model_copy(update={"handle_tool_error": True})
    object.__setattr__(copy, "_run", _run)
    object.__setattr__(copy, "_arun", _arun)
    return copy


def _admit(tool: Any) -> Boundary | None:
    if not _state.enabled:
        return None
    try:
        return Boundary.admit(str(getattr(tool, "name", None) or "tool"))
    except Exception as e:  # pragma: no cover - defensive
        _native.report_internal_error("langchain", f"asking the tool breaker failed: {e!r}")
        return None


def _substitute(tool: Any, boundary: Boundary | None) -> Any:
    if boundary is None or boundary.allowed:
        return tool
    try:
        return _degraded(tool, boundary)
    except Exception as e:
        _native.report_internal_error("langchain", f"substituting a rejected tool call failed: {e!r}")
        return tool


def _wrap_tool_run(original: Any) -> Any:
    @functools.wraps(original)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        boundary = _admit(self)
        if boundary is None:
            return original(self, *args, **kwargs)
        token = _pending.set(boundary)
        inside = _tools.enter_boundary(boundary.name)
        try:
            return original(_substitute(self, boundary), *args, **kwargs)
        finally:
            _tools.leave_boundary(inside)
            _pending.reset(token)

    return run


def _wrap_tool_arun(original: Any) -> Any:
    @functools.wraps(original)
    async def arun(self: Any, *args: Any, **kwargs: Any) -> Any:
        boundary = _admit(self)
        if boundary is None:
            return await original(self, *args, **kwargs)
        token = _pending.set(boundary)
        inside = _tools.enter_boundary(boundary.name)
        try:
            return await original(_substitute(self, boundary), *args, **kwargs)
        finally:
            _tools.leave_boundary(inside)
            _pending.reset(token)

    return arun


def _wrap_guarded(original: Any) -> Any:
    @functools.wraps(original)
    def generate(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _state.enabled:
            _tools.check_guards()
        return original(self, *args, **kwargs)

    return generate


def _wrap_aguarded(original: Any) -> Any:
    @functools.wraps(original)
    async def agenerate(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _state.enabled:
            _tools.check_guards()
        return await original(self, *args, **kwargs)

    return agenerate


def _wrap_guarded_stream(original: Any) -> Any:
    @functools.wraps(original)
    def stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _state.enabled:
            _tools.check_guards()
        yield from original(self, *args, **kwargs)

    return stream


def _wrap_guarded_astream(original: Any) -> Any:
    @functools.wraps(original)
    async def astream(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _state.enabled:
            _tools.check_guards()
        async for chunk in original(self, *args, **kwargs):
            yield chunk

    return astream


# ---- the current run, for spans started inside it ---------------------------------------------


def _resolve_run(config: Any, frame: Any) -> Any:
    """The span of the run executing now (from LangChain's current-run variable), when the app
    has not made a span of its own current inside it; else None (the core keeps its frame)."""
    callbacks = config.get("callbacks") if isinstance(config, dict) else None
    run_id = getattr(callbacks, "parent_run_id", None)
    if run_id is None:
        return None
    run = _state.runs.get(run_id.int)
    if run is None or run.frame is not frame:
        return None
    return run.effective


def _adopt() -> dict[str, Any] | None:
    """Called by a provider SDK call starting: the chat-model run it serves, if that run is open
    and the call is directly inside it. The SDK's span takes the run's place."""
    run = _llm_run.get()
    if run is None or not run.open or run.covered or run.frame is not _current.get():
        return None
    run.covered = True
    return {sc.FIVELENS_FRAMEWORK: _framework(run), sc.FIVELENS_RUN_ID: run.run_id}


# ---- helpers ------------------------------------------------------------------------------------


def _framework(run: _Run) -> str:
    return "langgraph" if run.root.kind in ("workflow", "agent") else "langchain"


def _open(run: _Run, name: str, kind: str, attrs: dict[str, Any]) -> None:
    """Starts the run's span (its children's parent from now on) and tracks the run."""
    if kind == "internal":
        run.span = _native._start_internal(name, run.parent, attrs, INSTRUMENTATION)
    else:
        run.span = _native.start_span(
            name, kind=kind, parent=run.parent, attributes=attrs, _instrumentation=INSTRUMENTATION
        )
    run.effective = run.span
    _track(run)


# The run table (native; shared with the chain callbacks): `_start` makes a run (its span's
# parent: the parent run's span when that run is in its own frame, else the current frame),
# `_track` tracks it (bounded: beyond 50,000 open runs the oldest one's span ends), `_close`
# returns the run that ended, no longer tracked.
_start = _native._lc_start
_track = _native._lc_track
_close = _native._lc_close


def _fail(span: Any, error: BaseException) -> None:
    span.set_attribute(sc.ERROR_TYPE, error_type(error))
    span.set_status("error", str(error)[:1024])


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for block in content:
            if isinstance(block, str):
                pieces.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                pieces.append(str(block.get("text", "")))
        return "".join(pieces)
    return "" if content is None else str(content)


def _journal(node: _Run | None, message: Any) -> None:
    """The agent's reasoning journal: what the model said and chose, as events on the iteration
    (node) span. Content: dropped by the core when capture is off, so not even built then."""
    if node is None or node.span is None or message is None or not _native._capture_content():
        return
    # Written natively from the message (its text, each tool call as {"tool", "arguments"}).
    _native._lc_journal(node.span, message, time.time_ns())


# ---- the handler --------------------------------------------------------------------------------


def _handler_failed(method: str, e: Exception) -> None:
    """The handler never raises into LangChain: a failure is reported in ``fivelens.status()``.
    (Each method catches inline: a decorator would add a call level to every callback.)"""
    _native.report_internal_error("langchain", f"{method} failed: {e!r}")


def _handler_class() -> type:
    from langchain_core.callbacks import BaseCallbackHandler

    class FivelensCallbackHandler(BaseCallbackHandler):
        """fivelens's LangChain callback handler (registered globally by ``instrument()``)."""

        run_inline = True
        raise_error = False
        # Plain class attributes: LangChain reads one of these for every callback, and the
        # base class's properties would be a Python call each time.
        ignore_llm = False
        ignore_retry = False
        ignore_chain = False
        ignore_agent = False
        ignore_retriever = False
        ignore_chat_model = False
        ignore_custom_event = False

        # -- chains (graphs, nodes, runnables) --

        # The chain callbacks are native (see bindings-python/src/langchain.rs): most of an
        # invoke's callbacks are chain runs. They catch and report failures themselves.
        on_chain_start = staticmethod(_native._lc_chain_start)
        on_chain_end = staticmethod(_native._lc_chain_end)
        on_chain_error = staticmethod(_native._lc_chain_error)

        # -- model runs --

        def on_chat_model_start(
            self,
            serialized: dict[str, Any] | None,
            messages: list[list[Any]],
            *,
            run_id: UUID,
            parent_run_id: UUID | None = None,
            metadata: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            if not _state.enabled:
                return
            try:
                _model_start(run_id, parent_run_id, "chat", messages, metadata, kwargs)
            except Exception as e:
                _handler_failed("on_chat_model_start", e)

        def on_llm_start(
            self,
            serialized: dict[str, Any] | None,
            prompts: list[str],
            *,
            run_id: UUID,
            parent_run_id: UUID | None = None,
            metadata: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            if not _state.enabled:
                return
            try:
                _model_start(run_id, parent_run_id, "text_completion", prompts, metadata, kwargs)
            except Exception as e:
                _handler_failed("on_llm_start", e)

        def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
            run = _state.runs.get(run_id.int)
            if run is not None and not run.first_token_ns:
                run.first_token_ns = time.time_ns()

        # Native: a chat-model run ends as its span there; other model runs come back to
        # `_model_finish`.
        on_llm_end = staticmethod(_native._lc_llm_end)

        def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            try:
                _model_end(run_id, None, error)
            except Exception as e:
                _handler_failed("on_llm_error", e)

        # -- tools --

        def on_tool_start(
            self,
            serialized: dict[str, Any] | None,
            input_str: str,
            *,
            run_id: UUID,
            parent_run_id: UUID | None = None,
            inputs: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            if not _state.enabled:
                return
            try:
                _tool_start(serialized, input_str, inputs, run_id, parent_run_id, kwargs)
            except Exception as e:
                _handler_failed("on_tool_start", e)

        def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
            try:
                _tool_end(run_id, output, None)
            except Exception as e:
                _handler_failed("on_tool_end", e)

        def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            try:
                _tool_end(run_id, None, error)
            except Exception as e:
                _handler_failed("on_tool_error", e)

        # -- retrievers --

        def on_retriever_start(
            self,
            serialized: dict[str, Any] | None,
            query: str,
            *,
            run_id: UUID,
            parent_run_id: UUID | None = None,
            **kwargs: Any,
        ) -> None:
            if not _state.enabled:
                return
            try:
                _retriever_start(serialized, query, run_id, parent_run_id, kwargs)
            except Exception as e:
                _handler_failed("on_retriever_start", e)

        def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
            try:
                _retriever_end(run_id, documents, None)
            except Exception as e:
                _handler_failed("on_retriever_end", e)

        def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            try:
                _retriever_end(run_id, None, error)
            except Exception as e:
                _handler_failed("on_retriever_error", e)

    return FivelensCallbackHandler


# ---- model runs ---------------------------------------------------------------------------------


def _model_start(
    run_id: UUID,
    parent_run_id: UUID | None,
    operation: str,
    messages: Any,
    metadata: dict[str, Any] | None,
    kwargs: dict[str, Any],
) -> None:
    run = _start(run_id, parent_run_id, operation, str(kwargs.get("name") or operation))
    run.metadata = metadata
    run.messages = messages
    run.effective = run.parent
    _track(run)
    # Seen by the provider SDK call inside the run (the handler runs inline, in the caller's
    # context, just before the model's own code).
    _llm_run.set(run)


def _model_end(run_id: UUID, response: Any, error: BaseException | None) -> None:
    run = _close(run_id)
    if run is not None:
        _model_finish(run, response, error)


def _model_finish(run: _Run, response: Any, error: BaseException | None) -> None:
    """Ends a model run (closed already): nothing when a provider SDK's span covered it (the
    journal goes to the iteration span), else its span (chat models: ``_lc_chat_span``)."""
    message = None
    generation = None
    if response is not None:
        try:
            generation = response.generations[0][0]
            message = getattr(generation, "message", None)
        except (AttributeError, IndexError, TypeError):
            generation = None
    if run.covered:
        _journal(run.node, message)
        return  # the provider SDK's span is this call's span
    if error is not None and _tools.is_guard_error(error):
        return  # refused before it was made: the event is on the current span
    if run.kind != "chat":
        _journal(run.node, message)
    if run.kind == "chat":
        _native._lc_chat_span(run, message, error)
        return
    md = run.metadata or {}
    model = md.get("ls_model_name")
    response_md = getattr(message, "response_metadata", None) or {}
    if not model:
        model = response_md.get("model_name") or response_md.get("model")
    provider = str(md.get("ls_provider") or "langchain")
    attrs: dict[str, Any] = {
        sc.FIVELENS_FRAMEWORK: _framework(run),
        sc.FIVELENS_RUN_ID: run.run_id,
    }
    temperature = md.get("ls_temperature")
    if temperature is not None and type(temperature) in (int, float):
        attrs[sc.GEN_AI_REQUEST_TEMPERATURE] = temperature
    max_tokens = md.get("ls_max_tokens")
    if max_tokens is not None and type(max_tokens) is int:
        attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    provider = _PROVIDERS.get(provider, provider)
    call = LlmCall(
        run.kind,
        provider,
        str(model) if model else None,
        attrs,
        INSTRUMENTATION,
        parent=run.parent,
        start_time=run.start_ns,
    )
    if run.first_token_ns:
        call.set_attribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, (run.first_token_ns - run.start_ns) / 1e9)
    if run.messages:
        call.set_input(str(run.messages[0]))
    if error is not None:
        call.fail(error)
        call.end()
        return
    if message is not None:
        reason = _finish_reason(response_md)
        call.set_output(_text(getattr(message, "content", None)), finish_reasons=[reason] if reason else None)
        call.set_response(model=response_md.get("model_name") or response_md.get("model"))
    elif generation is not None:
        call.set_output(str(getattr(generation, "text", "")))
    call.end()


def _finish_reason(response_md: dict[str, Any]) -> str | None:
    reason = response_md.get("finish_reason") or response_md.get("stop_reason")
    return str(reason) if reason else None


# ---- tools and retrievers -----------------------------------------------------------------------


def _tool_start(
    serialized: dict[str, Any] | None,
    input_str: str,
    inputs: dict[str, Any] | None,
    run_id: UUID,
    parent_run_id: UUID | None,
    kwargs: dict[str, Any],
) -> None:
    name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
    run = _start(run_id, parent_run_id, "tool", name)
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: "execute_tool",
        sc.GEN_AI_TOOL_NAME: name,
        sc.GEN_AI_TOOL_TYPE: "function",
        sc.FIVELENS_FRAMEWORK: _framework(run),
        sc.FIVELENS_RUN_ID: run_id,
        sc.FIVELENS_RUN_TYPE: "tool",
    }
    description = (serialized or {}).get("description")
    if description:
        attrs[sc.GEN_AI_TOOL_DESCRIPTION] = str(description)
    call_id = kwargs.get("tool_call_id")
    if call_id:
        attrs[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
    if run.root.tools is not None:
        # The same tool again after it failed in this run: a retry (by the model).
        attrs.update(run.root.tools.retry_attributes(name))
    if _native._capture_content():
        attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = to_json(inputs) if inputs is not None else input_str
    boundary = _pending.get()
    if boundary is not None and boundary.name == name:
        _pending.set(None)  # taken: a tool run inside this one asks again
    else:
        boundary = Boundary.admit(name)  # a tool run not through BaseTool.run
    run.boundary = boundary
    attrs.update(boundary.attributes())
    _open(run, f"execute_tool {name}", "internal", attrs)
    boundary.start(run.span)


_mcp_claimed: set[UUID] = set()


def current_tool_span(name: str) -> Any:
    """The span of the tool run ``name`` executing now, the first time it is asked for: an MCP
    ``tools/call`` of that tool made inside it adds the MCP attributes to this span instead of
    making a second one (the MCP conventions' rule; see fivelens.integrations.mcp)."""
    from langchain_core.runnables.config import var_child_runnable_config

    config = var_child_runnable_config.get()
    callbacks = config.get("callbacks") if isinstance(config, dict) else None
    run_id = getattr(callbacks, "parent_run_id", None)
    run = _state.runs.get(run_id.int) if run_id is not None else None
    if run is None or run.kind != "tool" or run.name != name or run.span is None or run_id in _mcp_claimed:
        return None
    if run.frame is not _current.get():
        return None  # the app made a span of its own current inside the tool: that is the parent
    _mcp_claimed.add(run.run_id)
    return run.span


def _tool_end(run_id: UUID, output: Any, error: BaseException | None) -> None:
    run = _close(run_id)
    _mcp_claimed.discard(run_id)
    if run is None or run.span is None:
        return
    span = run.span
    boundary = run.boundary
    rejected = boundary is not None and boundary.rejected
    failed: str | None = None
    if error is not None:
        failed = error_type(error)
        _fail(span, error)
        if boundary is not None:
            boundary.finish(span, error=error)
    else:
        content = output
        call_id = getattr(output, "tool_call_id", None)
        if call_id:
            span.set_attribute(sc.GEN_AI_TOOL_CALL_ID, str(call_id))
        if hasattr(output, "content"):
            content = output.content
            if getattr(output, "status", None) == "error" and not rejected:
                # An error the tool returned (LangGraph's ToolNode turns exceptions into these):
                # the call failed, whatever the framework counts it as.
                failed = "tool_error"
                span.set_attribute(sc.ERROR_TYPE, failed)
                span.set_status("error", _text(content)[:1024])
        if rejected:
            # Not made: its breaker is open; the model got the degraded-mode error as the result.
            failed = _tools.CIRCUIT_OPEN
        if boundary is not None:
            boundary.finish(span, payload=failed is not None)
        if _native._capture_content():
            span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, content if isinstance(content, str) else to_json(content))
            if run.node is not None and run.node.span is not None:
                observed = _text(content) if not isinstance(content, dict) else to_json(content)
                journal(run.node.span, "observation", observed, run.name)
    if run.root.tools is not None:
        run.root.tools.finish(run.name, failed)
    span.end()


def _retriever_start(
    serialized: dict[str, Any] | None, query: str, run_id: UUID, parent_run_id: UUID | None, kwargs: dict[str, Any]
) -> None:
    name = str(kwargs.get("name") or (serialized or {}).get("name") or "retriever")
    run = _start(run_id, parent_run_id, "retriever", name)
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: "retrieval",
        sc.GEN_AI_DATA_SOURCE_ID: name,
        sc.FIVELENS_FRAMEWORK: _framework(run),
        sc.FIVELENS_RUN_ID: run_id,
        sc.FIVELENS_RUN_TYPE: "retriever",
    }
    if _native._capture_content():
        attrs[sc.GEN_AI_RETRIEVAL_QUERY_TEXT] = str(query)
    _open(run, f"retrieval {name}", "client", attrs)


def _retriever_end(run_id: UUID, documents: Any, error: BaseException | None) -> None:
    run = _close(run_id)
    if run is None or run.span is None:
        return
    if error is not None:
        _fail(run.span, error)
    elif documents is not None and _native._capture_content():
        docs = []
        for d in documents:
            entry: dict[str, Any] = {}
            doc_id = getattr(d, "id", None)
            if doc_id is not None:
                entry["id"] = str(doc_id)
            score = (getattr(d, "metadata", None) or {}).get("score")
            if isinstance(score, (int, float)):
                entry["score"] = score
            docs.append(entry)
        run.span.set_attribute(sc.GEN_AI_RETRIEVAL_DOCUMENTS, to_json(docs))
    run.span.end()
