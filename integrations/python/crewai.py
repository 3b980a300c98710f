# mypy: disable-error-code="import-not-found"
# (crewai cannot live in the main virtualenv, where the type check runs: see requirements-openai2.txt)
"""CrewAI (``crewai`` 1.x, checked with 1.15.30): a crew run is one trace, built from CrewAI's own
event bus, with the agent iterations as spans and the provider SDK's span as the only LLM span.
Every way to run one gives the same shapes: ``kickoff``, ``kickoff_async`` (``kickoff`` in a
thread), ``akickoff``, the ``kickoff_for_each`` family (a trace per input), and an agent kicked off
without a crew (``Agent.kickoff`` / ``kickoff_async`` / ``akickoff``: CrewAI's ``LiteAgent*``
events), whose ``invoke_agent`` span is then the root.

How it hooks in. A ``BaseEventListener`` registered on ``crewai_event_bus`` when ``crewai`` is
imported receives the crew, task, agent, tool and LLM events. CrewAI runs these handlers on a
thread pool, so a start and its end can be handled in either order and a child before its parent:
spans are therefore built from the events' own fields (``event_id``, ``parent_event_id``,
``started_event_id``, ``timestamp``), never from arrival order, and nothing is made current in a
handler. A start whose parent span does not exist yet creates that parent first, from CrewAI's
event record (the handler runs in a copy of the emitting thread's context, which holds it); an end
whose start has not been handled yet waits on the node until it is.

The iterations come from the agent executor, inline in the agent's thread: the executor's calls of
``get_llm_response`` and of its tool execution are wrapped (enter and exit in one frame). Each new
value of the executor's ``state.iterations`` opens an iteration span (child of the agent span,
``fivelens.agent.iteration`` counting from 1), ended when the next one starts or the agent ends.
Inside the wrapper the iteration span is current, so the OpenAI (or Anthropic) SDK span of the
call nests under it; CrewAI's own ``LLMCall*`` events make no span (they add the agent's
reasoning journal to the iteration span). The tool events, emitted inside the wrapper, carry the
iteration in the context the bus copies for their handlers.

The tool boundary. ``BaseTool.run`` / ``arun`` and ``Tool``'s (native tool calling) and
``CrewStructuredTool.invoke`` / ``ainvoke`` (text tool calling) are wrapped: the circuit breaker is
asked before the tool runs and told how it ended, and the tool use's span is current while the
tool's body runs, so that spans it opens (the app's, OpenTelemetry's, an HTTP client's) nest
under ``execute_tool``, not under the iteration. That span is built from ``ToolUsageStarted``,
which CrewAI emits in the same thread just before it calls the tool and keeps on top of its scope
stack meanwhile: the wrapper finds it there and takes the span its handler made, or makes it
first from the same event (one span either way). A call its open breaker rejects (``enforce``)
does not run: it returns a ``ToolFailure`` with the degraded-mode message, the way CrewAI tools
report failures (the agent reads the message; CrewAI's failure policy applies). The breaker's
answer reaches the tool's span (built from the events) through the executor's context,
which the bus copies for the handlers.

Since the spans of a run that has returned may still be ended by handlers in CrewAI's pool,
``fivelens.flush()`` and ``shutdown()`` first wait (within their timeout) for CrewAI's queued
handlers.

Span shapes: ``invoke_workflow {crew}`` -> ``task {task}`` -> ``invoke_agent {role}`` ->
``iteration`` -> ``chat {model}`` (the SDK's) and ``execute_tool {tool}``. A tool that fails is an
error span (``error.type``); the same tool called again in the same agent run after a failure
carries ``fivelens.retry.attempt`` and ``fivelens.retry.reason``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from fivelens import _native, _tools
from fivelens import semconv as sc
from fivelens._hooks import cancel, on_flush, remove_on_flush, when_imported
from fivelens._llm import to_json
from fivelens._tools import Boundary

from ._agents import ToolAttempts, journal

INSTRUMENTATION = "fivelens.crewai"
FRAMEWORK = "crewai"

_MAX_NODES = 50_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_START_TYPES = {
    "crew_kickoff_started": "crew",
    "task_started": "task",
    "agent_execution_started": "agent",
    "lite_agent_execution_started": "agent",  # an agent run without a crew (Agent.kickoff)
    "tool_usage_started": "tool",
}
_END_TYPES = {
    "crew_kickoff_completed": None,
    "crew_kickoff_failed": "error",
    "task_completed": None,
    "task_failed": "error",
    "agent_execution_completed": None,
    "agent_execution_error": "error",
    "lite_agent_execution_completed": None,
    "lite_agent_execution_error": "error",
    "tool_usage_finished": None,
    "tool_usage_error": "error",
}


class _Node:
    """One CrewAI scope (crew, task, agent execution or tool use) and its span."""

    __slots__ = (
        "agent",
        "boundaries",
        "event_id",
        "iteration",
        "iteration_span",
        "kind",
        "last_tool",
        "name",
        "pending_end",
        "span",
        "step_span",
        "tools",
    )

    def __init__(self, event_id: str, kind: str, name: str) -> None:
        self.event_id = event_id
        self.kind = kind
        self.name = name
        self.span: Any = None
        self.pending_end: Any = None  # an end event handled before its start
        self.agent: _Node | None = None  # the agent run a tool use belongs to
        self.step_span: Any = None  # the iteration span a tool use belongs to
        # agent runs: the iteration in progress and its span; tool name -> (attempt, last error)
        self.iteration = 0
        self.iteration_span: Any = None
        self.tools = ToolAttempts()
        self.last_tool: dict[str, _Node] = {}  # tool name -> its latest use in this agent run
        # tool uses: the breaker answers of the executor frame the tool ran in (see _boundaries)
        self.boundaries: dict[str, Boundary] | None = None


class _State:
    def __init__(self) -> None:
        self.enabled = False
        self.lock = threading.RLock()
        self.nodes: OrderedDict[str, _Node] = OrderedDict()
        # start event ids whose span has ended: a late or repeated handler must not reopen them
        self.ended: OrderedDict[str, None] = OrderedDict()


_state = _State()
# The agent run and the iteration span current in the agent's thread (set only by the wrappers,
# in one frame); the bus copies the context at emit time, so handlers see the iteration that was
# current when the event was emitted, even if the run has moved on to the next one since.
_agent_run: ContextVar[tuple[_Node, Any] | None] = ContextVar("fivelens_crewai_agent_run", default=None)
_listener: Any = None
_patched: list[tuple[Any, str, Any]] = []
# Tool name -> the breaker's answer for the tool calls of the executor frame running now (set by
# the executor wrappers, filled by the tool wrappers, read by the tool-end handlers, which run in
# a copy of the emitting context).
_boundaries: ContextVar[dict[str, Boundary] | None] = ContextVar("fivelens_crewai_boundaries", default=None)


def instrument() -> str | None:
    _state.enabled = True
    when_imported("crewai", _patch)
    return None


def uninstrument() -> None:
    _state.enabled = False
    cancel("crewai")
    remove_on_flush(_drain)
    for owner, name, original in reversed(_patched):
        setattr(owner, name, original)
    _patched.clear()
    with _state.lock:
        _state.nodes.clear()
        _state.ended.clear()


# ---- patching -----------------------------------------------------------------------------------


def _patch(_module: Any) -> None:
    global _listener
    from crewai.events import BaseEventListener

    if _listener is None:
        _listener = _listener_class(BaseEventListener)()
    on_flush(_drain)
    if _patched:
        return
    from crewai.agents import agent_executor

    original_llm = agent_executor.get_llm_response
    _patched.append((agent_executor, "get_llm_response", original_llm))
    agent_executor.get_llm_response = _wrap_llm(original_llm)

    executor_class = agent_executor.AgentExecutor
    original_tool = executor_class._execute_single_native_tool_call
    _patched.append((executor_class, "_execute_single_native_tool_call", original_tool))
    executor_class._execute_single_native_tool_call = _wrap_tool_method(original_tool)

    original_react = agent_executor.execute_tool_and_check_finality
    _patched.append((agent_executor, "execute_tool_and_check_finality", original_react))
    agent_executor.execute_tool_and_check_finality = _wrap_react_tool(original_react)

    from crewai.tools.base_tool import BaseTool, Tool
    from crewai.tools.structured_tool import CrewStructuredTool

    for owner, name, is_async in (
        (BaseTool, "run", False),
        (BaseTool, "arun", True),
        (Tool, "run", False),
        (Tool, "arun", True),
        (CrewStructuredTool, "invoke", False),
        (CrewStructuredTool, "ainvoke", True),
    ):
        original = owner.__dict__.get(name)
        if original is None:
            continue
        _patched.append((owner, name, original))
        setattr(owner, name, _wrap_tool_call(original, is_async))


def _drain(timeout: float) -> None:
    """``fivelens.flush()`` / ``shutdown()``: waits (at most ``timeout``) for the event handlers
    CrewAI still has queued, which end the spans of a run that has just returned. Not from one of
    CrewAI's handler threads, whose own work would be among the waited for."""
    if threading.current_thread().name.startswith(("CrewAISyncHandler", "CrewAIEventsLoop")):
        return
    from crewai.events.event_bus import crewai_event_bus

    crewai_event_bus.flush(timeout)


def _listener_class(base: type) -> type:
    from crewai.events.types.agent_events import (
        AgentExecutionCompletedEvent,
        AgentExecutionErrorEvent,
        AgentExecutionStartedEvent,
        LiteAgentExecutionCompletedEvent,
        LiteAgentExecutionErrorEvent,
        LiteAgentExecutionStartedEvent,
    )
    from crewai.events.types.crew_events import (
        CrewKickoffCompletedEvent,
        CrewKickoffFailedEvent,
        CrewKickoffStartedEvent,
    )
    from crewai.events.types.llm_events import LLMCallCompletedEvent
    from crewai.events.types.task_events import TaskCompletedEvent, TaskFailedEvent, TaskStartedEvent
    from crewai.events.types.tool_usage_events import (
        ToolUsageErrorEvent,
        ToolUsageFinishedEvent,
        ToolUsageStartedEvent,
    )

    # The bus looks handlers up by exact type: every class is registered.
    types = (
        CrewKickoffStartedEvent,
        CrewKickoffCompletedEvent,
        CrewKickoffFailedEvent,
        TaskStartedEvent,
        TaskCompletedEvent,
        TaskFailedEvent,
        AgentExecutionStartedEvent,
        AgentExecutionCompletedEvent,
        AgentExecutionErrorEvent,
        LiteAgentExecutionStartedEvent,
        LiteAgentExecutionCompletedEvent,
        LiteAgentExecutionErrorEvent,
        ToolUsageStartedEvent,
        ToolUsageFinishedEvent,
        ToolUsageErrorEvent,
        LLMCallCompletedEvent,
    )

    class FivelensCrewAIListener(base):  # type: ignore[misc]
        """fivelens's CrewAI event listener (registered by ``instrument()``)."""

        def setup_listeners(self, crewai_event_bus: Any) -> None:
            for event_type in types:
                crewai_event_bus.on(event_type)(_on_event)

    return FivelensCrewAIListener


# ---- events -------------------------------------------------------------------------------------


def _on_event(source: Any, event: Any) -> None:
    if not _state.enabled:
        return
    try:
        kind = event.type
        with _state.lock:
            if kind in _START_TYPES:
                _start(event, source=source)
            elif kind in _END_TYPES:
                _end(event)
            elif kind == "llm_call_completed":
                _journal_llm(event)
    except Exception as e:
        _native.report_internal_error("crewai", f"handling {getattr(event, 'type', '?')} failed: {e!r}")


def _ns(ts: Any) -> int:
    if not isinstance(ts, datetime):
        return time.time_ns()
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    delta = ts - _EPOCH
    return int((delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000)


def _record_event(event_id: str) -> Any:
    """An event by id from CrewAI's event record (in the emitting context), or None."""
    try:
        from crewai.events.event_bus import crewai_event_bus

        state = crewai_event_bus.runtime_state
        if state is None:
            return None
        node = state.event_record.get(event_id)
        return node.event if node is not None else None
    except Exception:
        return None


def _parent_node(event: Any, depth: int = 0) -> _Node | None:
    """The span-bearing node the event belongs under, created from the event record if its start
    has not been handled yet; None for a root."""
    parent_id = event.parent_event_id
    while parent_id is not None and depth < 64:
        depth += 1
        node = _state.nodes.get(parent_id)
        if node is not None and node.span is not None:
            return node
        parent = _record_event(parent_id)
        if parent is None:
            return node
        if parent.type in _START_TYPES:
            return _start(parent, depth)
        parent_id = parent.parent_event_id  # a scope without a span (flow, LLM call): skip it
    return None


def _track(node: _Node) -> None:
    nodes = _state.nodes
    nodes[node.event_id] = node
    while len(nodes) > _MAX_NODES:
        _, stale = nodes.popitem(last=False)
        if stale.iteration_span is not None:
            stale.iteration_span.end()
        if stale.span is not None:
            stale.span.end()


def _text_head(text: Any, limit: int = 60) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _start(event: Any, depth: int = 0, source: Any = None) -> _Node | None:
    """The span of a start event (made once; later calls return it). ``source`` is the object that
    emitted it, when known (the handler's; the agent, for a run without a crew)."""
    if event.event_id in _state.ended:
        return None
    existing = _state.nodes.get(event.event_id)
    if existing is not None and existing.span is not None:
        return existing
    kind = _START_TYPES[event.type]
    parent = _parent_node(event, depth)
    attrs: dict[str, Any] = {
        sc.FIVELENS_FRAMEWORK: FRAMEWORK,
        sc.FIVELENS_RUN_ID: str(event.event_id),
        sc.FIVELENS_RUN_TYPE: kind,
    }
    parent_span: Any = parent.span if parent is not None else None
    agent: _Node | None = None
    step_span: Any = None
    if parent_span is None and kind in ("crew", "agent"):
        # A run at the top (a crew, or an agent kicked off without one): the span current where
        # the app called kickoff (the bus hands handlers a copy of the emitting thread's context;
        # the agent's thread has it too).
        parent_span = _native._current_frame()
    if kind == "crew":
        name = str(getattr(event, "crew_name", None) or "crew")
        attrs[sc.GEN_AI_OPERATION_NAME] = "invoke_workflow"
        attrs[sc.GEN_AI_WORKFLOW_NAME] = name
        span_name = f"invoke_workflow {name}"
    elif kind == "task":
        task = getattr(event, "task", None)
        name = str(getattr(task, "name", None) or event.task_name or getattr(task, "description", "") or "task")
        name = _text_head(name)
        span_name = f"task {name}"
    elif kind == "agent":
        # A crew's agent run carries the agent; a run without a crew, its ``agent_info`` (and the
        # agent is the event's source).
        agent_obj = getattr(event, "agent", None)
        if agent_obj is None:
            agent_obj = source
        info = getattr(event, "agent_info", None)
        info = info if isinstance(info, dict) else {}
        name = str(getattr(agent_obj, "role", None) or info.get("role") or event.agent_role or "agent")
        attrs[sc.GEN_AI_OPERATION_NAME] = "invoke_agent"
        attrs[sc.GEN_AI_AGENT_NAME] = name
        goal = getattr(agent_obj, "goal", None) or info.get("goal")
        if goal:
            attrs[sc.GEN_AI_AGENT_DESCRIPTION] = str(goal)
        model = getattr(getattr(agent_obj, "llm", None), "model", None)
        if isinstance(model, str) and model:
            attrs[sc.GEN_AI_REQUEST_MODEL] = model
        span_name = f"invoke_agent {name}"
    else:  # tool
        name = str(event.tool_name)
        current = _agent_run.get()  # the iteration current where the tool ran
        if current is not None:
            agent, step_span = current
            parent_span = step_span
        else:
            agent = _enclosing_agent(parent)
        attrs[sc.GEN_AI_OPERATION_NAME] = "execute_tool"
        attrs[sc.GEN_AI_TOOL_NAME] = name
        attrs[sc.GEN_AI_TOOL_TYPE] = "function"
        if event.agent_role:
            attrs[sc.GEN_AI_AGENT_NAME] = str(event.agent_role)
        if agent is not None:
            _settle_previous(agent, name)
            attrs.update(agent.tools.retry_attributes(name))
        if event.run_attempts and event.run_attempts > 1:
            # CrewAI's own retry of a tool call it could not run (text tool calling).
            attrs[sc.FIVELENS_RETRY_ATTEMPT] = int(event.run_attempts)
            attrs[sc.FIVELENS_RETRY_SOURCE] = "framework"
            attrs.setdefault(sc.FIVELENS_RETRY_REASON, "tool_usage_error")
        if _native._capture_content():
            args = event.tool_args
            attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = args if isinstance(args, str) else to_json(args)
        span_name = f"execute_tool {name}"
    node = existing or _Node(event.event_id, kind, name)
    node.agent = agent
    if kind == "tool":
        node.step_span = step_span
        node.boundaries = _boundaries.get()  # this handler runs in a copy of the tool's frame
        if agent is not None:
            agent.last_tool[name] = node
    node.span = _native.start_span(
        span_name,
        kind="internal",
        parent=parent_span,
        attributes=attrs,
        start_time=_ns(event.timestamp),
        _instrumentation=INSTRUMENTATION,
    )
    _track(node)
    if node.pending_end is not None:
        pending, node.pending_end = node.pending_end, None
        _end(pending)
    return node


def _settle_previous(agent: _Node, name: str) -> None:
    """Ends the previous use of this tool in the agent run if its end event was emitted but not
    handled yet (the handlers race), so that its outcome is known before this use is counted."""
    prev = agent.last_tool.get(name)
    if prev is None or prev.span is None or prev.event_id in _state.ended:
        return
    try:
        from crewai.events.event_bus import crewai_event_bus

        state = crewai_event_bus.runtime_state
        record = state.event_record.get(prev.event_id) if state is not None else None
        for end_id in record.neighbors("completed_by") if record is not None else ():
            end = state.event_record.get(end_id)
            if end is not None:
                _end(end.event)
                return
    except Exception as e:
        _native.report_internal_error("crewai", f"settling a tool use failed: {e!r}")


def _enclosing_agent(node: _Node | None) -> _Node | None:
    return node if node is not None and node.kind == "agent" else None


def _end(event: Any) -> None:
    start_id = event.started_event_id
    if start_id is None or start_id in _state.ended:
        return
    node = _state.nodes.get(start_id)
    if node is None or node.span is None:
        start = _record_event(start_id)
        if start is not None:
            node = _start(start)
        if node is None or node.span is None:
            # Its start has not been handled yet: it ends the span when it is.
            node = node or _Node(start_id, "", "")
            node.pending_end = event
            _state.nodes[start_id] = node
            return
    span = node.span
    end_ns = _ns(event.timestamp)
    failed = _END_TYPES.get(event.type) == "error"
    error = getattr(event, "error", None)
    if node.kind == "tool":
        _end_tool(node, event, failed, error)
    elif failed:
        span.set_attribute(sc.ERROR_TYPE, str(getattr(event, "error_type", None) or "Exception"))
        span.set_status("error", str(error)[:1024])
    if node.kind == "agent":
        if node.iteration_span is not None:
            node.iteration_span.end(end_ns)
            node.iteration_span = None
        if node.iteration:
            span.set_attribute(sc.FIVELENS_AGENT_ITERATIONS, node.iteration)
    _state.nodes.pop(start_id, None)
    _state.ended[start_id] = None
    while len(_state.ended) > _MAX_NODES:
        _state.ended.popitem(last=False)
    span.end(end_ns)


def _end_tool(node: _Node, event: Any, failed: bool, error: Any) -> None:
    span = node.span
    reason: str | None = None
    if failed:
        reason = type(error).__qualname__ if isinstance(error, BaseException) else "ToolError"
        span.set_attribute(sc.ERROR_TYPE, reason)
        span.set_status("error", str(error)[:1024])
    else:
        failure = getattr(event, "failure", None)
        if failure is not None:
            reason = str(getattr(getattr(failure, "reason", None), "value", None) or "tool_failure")
            span.set_attribute(sc.ERROR_TYPE, reason)
            span.set_status("error", str(getattr(failure, "message", "") or "")[:1024])
        if getattr(event, "from_cache", False):
            span.set_attribute(sc.FIVELENS_TOOL_FROM_CACHE, True)
    holder = node.boundaries if node.boundaries is not None else _boundaries.get()
    boundary = holder.get(node.name) if holder is not None else None
    if boundary is not None:
        boundary.apply(span)
        if boundary.rejected:
            reason = _tools.CIRCUIT_OPEN
    output = getattr(event, "output", None) if not failed else str(error)
    if _native._capture_content() and output is not None:
        content = output if isinstance(output, str) else to_json(output)
        span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, content)
        journal(node.step_span, "observation", content, node.name, _ns(event.timestamp))
    agent = node.agent
    if agent is not None:
        agent.tools.finish(node.name, reason)


def _journal_llm(event: Any) -> None:
    """The agent's reasoning journal: what the model said and which tools it chose, as events on
    the iteration span (content: only when capture is on)."""
    current = _agent_run.get()
    if current is None or not _native._capture_content():
        return
    span = current[1]
    when = _ns(event.timestamp)
    response = event.response
    if isinstance(response, str):
        if response:
            span.add_event(
                sc.FIVELENS_EVENT_AGENT_STEP, {sc.FIVELENS_STEP_KIND: "final", sc.FIVELENS_STEP_CONTENT: response}, when
            )
        return
    if isinstance(response, list):
        for call in response:
            fn = getattr(call, "function", None)
            if fn is None and isinstance(call, dict):
                fn = call.get("function")
            name = getattr(fn, "name", None) if not isinstance(fn, dict) else fn.get("name")
            args = getattr(fn, "arguments", None) if not isinstance(fn, dict) else fn.get("arguments")
            if name is None:
                continue
            span.add_event(
                sc.FIVELENS_EVENT_AGENT_STEP,
                {
                    sc.FIVELENS_STEP_KIND: "action",
                    sc.GEN_AI_TOOL_NAME: str(name),
                    sc.FIVELENS_STEP_CONTENT: to_json({"tool": name, "arguments": args}),
                },
                when,
            )


# ---- the agent's thread: iterations -------------------------------------------------------------


_AGENT_SCOPES = ("agent_execution_started", "lite_agent_execution_started")


def _agent_scope_id() -> str | None:
    """The event id of the innermost agent run open in this thread (CrewAI's scope stack): a
    crew's agent execution, or an agent kicked off on its own."""
    try:
        from crewai.events.event_context import _event_id_stack

        for event_id, event_type in reversed(_event_id_stack.get()):
            if event_type in _AGENT_SCOPES:
                return str(event_id)
    except Exception:
        return None
    return None


def _agent_node(executor: Any) -> _Node | None:
    event_id = _agent_scope_id()
    if event_id is None:
        return None
    with _state.lock:
        node = _state.nodes.get(event_id)
        if node is not None and node.span is not None:
            return node
        start = _record_event(event_id)  # its handler has not run yet: make the span now
        return _start(start, source=getattr(executor, "agent", None)) if start is not None else None


def _iteration(executor: Any) -> _Node | None:
    """The agent run of this executor, with the span of its current iteration open."""
    run = _agent_node(executor)
    if run is None:
        return None
    state = getattr(executor, "state", None)
    raw = getattr(state, "iterations", None)
    index = (raw if isinstance(raw, int) else run.iteration) + 1
    with _state.lock:
        if run.iteration_span is not None and run.iteration == index:
            return run
        now = time.time_ns()
        if run.iteration_span is not None:
            run.iteration_span.end(now)
        run.iteration = index
        run.iteration_span = _native.start_span(
            "iteration",
            kind="internal",
            parent=run.span,
            attributes={
                sc.FIVELENS_FRAMEWORK: FRAMEWORK,
                sc.FIVELENS_AGENT_ITERATION: index,
                sc.GEN_AI_AGENT_NAME: run.name,
            },
            start_time=now,
            _instrumentation=INSTRUMENTATION,
        )
    _tools.note_iteration(run.iteration_span, index)
    return run


def _run_in(run: _Node | None, fn: Any, args: Any, kwargs: Any) -> Any:
    """Calls ``fn`` with the run's iteration span current (entered and left in this frame)."""
    span = run.iteration_span if run is not None else None
    if run is None or span is None:
        return fn(*args, **kwargs)
    run_token = _agent_run.set((run, span))
    span_token = span._activate()
    try:
        return fn(*args, **kwargs)
    finally:
        span._deactivate(span_token)
        _agent_run.reset(run_token)


def _safe_iteration(executor: Any) -> _Node | None:
    if not _state.enabled or executor is None:
        return None
    try:
        return _iteration(executor)
    except Exception as e:
        _native.report_internal_error("crewai", f"opening an iteration failed: {e!r}")
        return None


def _current_run(executor: Any) -> _Node | None:
    if not _state.enabled:
        return None
    try:
        run = _agent_node(executor)
        if run is not None and run.iteration_span is None:
            return _iteration(executor)
        return run
    except Exception as e:
        _native.report_internal_error("crewai", f"finding the iteration failed: {e!r}")
        return None


def _wrap_llm(original: Any) -> Any:
    def get_llm_response(*args: Any, **kwargs: Any) -> Any:
        run = _safe_iteration(kwargs.get("executor_context"))
        return _run_in(run, original, args, kwargs)

    get_llm_response.__wrapped__ = original  # type: ignore[attr-defined]
    return get_llm_response


def _wrap_tool_method(original: Any) -> Any:
    def _execute_single_native_tool_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _boundaries.set({})
        try:
            return _run_in(_current_run(self), original, (self, *args), kwargs)
        finally:
            _boundaries.reset(token)

    _execute_single_native_tool_call.__wrapped__ = original  # type: ignore[attr-defined]
    return _execute_single_native_tool_call


def _wrap_react_tool(original: Any) -> Any:
    def execute_tool_and_check_finality(*args: Any, **kwargs: Any) -> Any:
        token = _boundaries.set({})
        try:
            return _run_in(_current_run(None), original, args, kwargs)
        finally:
            _boundaries.reset(token)

    execute_tool_and_check_finality.__wrapped__ = original  # type: ignore[attr-defined]
    return execute_tool_and_check_finality


# ---- the tool boundary: the circuit breaker ------------------------------------------------------


def _tool_name(tool: Any) -> str:
    """The name CrewAI's tool events carry (the sanitized one the model calls)."""
    name = str(getattr(tool, "name", None) or "tool")
    try:
        from crewai.utilities.string_utils import sanitize_tool_name

        return str(sanitize_tool_name(name))
    except Exception:
        return name


def _rejected_result(boundary: Boundary) -> Any:
    """What a CrewAI tool returns for a failure it reports: the degraded-mode message."""
    from crewai.tools.tool_failure import ToolFailure, ToolFailureReason

    return ToolFailure(
        message=boundary.message, reason=ToolFailureReason.TOOL_REPORTED, code=_tools.CIRCUIT_OPEN, retryable=False
    )


def _outcome(boundary: Boundary, result: Any) -> None:
    """A tool's result: a ``ToolFailure`` is a failed call (an error returned in the payload)."""
    reason = getattr(getattr(result, "reason", None), "value", None)
    if reason is None or type(result).__name__ != "ToolFailure":
        boundary.finish(None)
        return
    code = getattr(result, "code", None)
    error_type = str(code) if reason == "exception" and code else str(reason)
    boundary.finish(
        None,
        error_type=error_type,
        message=str(getattr(result, "message", "") or ""),
        payload=reason in ("tool_reported", "mcp_error"),
    )


def _begin_call(tool: Any) -> Boundary | None:
    if not _state.enabled:
        return None
    try:
        boundary = Boundary.admit(_tool_name(tool))
        holder = _boundaries.get()
        if holder is not None:
            holder[boundary.name] = boundary
        return boundary
    except Exception as e:
        _native.report_internal_error("crewai", f"asking the tool breaker failed: {e!r}")
        return None


def _tool_span() -> Any:
    """The span of the tool use whose body is about to run in this thread, or None.

    CrewAI emits ``ToolUsageStarted`` in the agent's thread right before it calls the tool, and
    pushes the event on its scope stack (a context variable, so each of its parallel tool threads
    has its own); the span is built from that event, by its handler or, if the handler has not run
    yet, here (the same node: whichever comes first makes it, the other finds it)."""
    if not _state.enabled:
        return None
    try:
        from crewai.events.event_context import _event_id_stack

        stack = _event_id_stack.get()
        if not stack or stack[-1][1] != "tool_usage_started":
            return None
        event_id = str(stack[-1][0])
        with _state.lock:
            node = _state.nodes.get(event_id)
            if node is None or node.span is None:
                start = _record_event(event_id)
                node = _start(start) if start is not None else None
            return node.span if node is not None else None
    except Exception as e:
        _native.report_internal_error("crewai", f"finding the tool span failed: {e!r}")
        return None


def _enter_tool(boundary: Boundary | None) -> tuple[Any, Any, Any]:
    """Makes the tool use's span current (so spans the tool's body opens nest under it) and marks
    the breaker's boundary; returns what ``_leave_tool`` restores."""
    span = _tool_span()
    token: Any = None
    if span is not None:
        try:
            token = span._activate()
        except Exception as e:
            _native.report_internal_error("crewai", f"entering the tool span failed: {e!r}")
            span = None
    inside = _tools.enter_boundary(boundary.name) if boundary is not None else None
    return span, token, inside


def _leave_tool(entered: tuple[Any, Any, Any]) -> None:
    span, token, inside = entered
    if inside is not None:
        _tools.leave_boundary(inside)
    if span is not None:
        try:
            span._deactivate(token)
        except Exception as e:
            _native.report_internal_error("crewai", f"leaving the tool span failed: {e!r}")


def _wrap_tool_call(original: Any, is_async: bool) -> Any:
    if is_async:

        async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
            boundary = _begin_call(self)
            if boundary is not None and boundary.rejected:
                boundary.finish(None)
                return _rejected_result(boundary)
            entered = _enter_tool(boundary)
            try:
                result = await original(self, *args, **kwargs)
            except BaseException as e:
                if boundary is not None:
                    boundary.finish(None, error=e if isinstance(e, Exception) else None, failed=True)
                raise
            finally:
                _leave_tool(entered)
            if boundary is not None:
                _outcome(boundary, result)
            return result

        acall.__wrapped__ = original  # type: ignore[attr-defined]
        acall.__name__ = getattr(original, "__name__", "arun")
        return acall

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        boundary = _begin_call(self)
        if boundary is not None and boundary.rejected:
            boundary.finish(None)
            return _rejected_result(boundary)
        entered = _enter_tool(boundary)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as e:
            if boundary is not None:
                boundary.finish(None, error=e if isinstance(e, Exception) else None, failed=True)
            raise
        finally:
            _leave_tool(entered)
        if boundary is not None:
            _outcome(boundary, result)
        return result

    call.__wrapped__ = original  # type: ignore[attr-defined]
    call.__name__ = getattr(original, "__name__", "run")
    return call
