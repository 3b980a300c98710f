"""Tool calls as dependencies: ``fivelens.tool`` for plain functions, the tool metrics, the circuit
breaker at the tool boundary (observe and enforce, in a real LangGraph agent and at an MCP client)
and the loop and budget guards (a runaway agent against the repository's fake OpenAI server).

The agents are unmodified LangGraph agents: ``langchain.agents.create_agent`` with its default
``ToolNode``, or the hand-written ReAct loop, driven by a chat model that keeps calling its tool
until a tool result says ``degraded mode`` (a runaway agent, as a model that retries a failing
tool is), or ``langchain-openai`` against the fake OpenAI server.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import ToolException, tool

import fivelens
from conftest import Recorded


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metrics_text() -> str:
    assert fivelens.flush(10.0)
    port = fivelens._instrument._report.config["prometheus_port"]  # type: ignore[union-attr]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def series(name: str, value: int, **labels: str) -> str:
    """A Prometheus sample line: ``name{label="value",...} value`` (labels in the order given)."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value}"


def spans() -> list[dict[str, Any]]:
    assert fivelens.flush(10.0)
    return list(fivelens._native.finished_spans())


def tool_spans(name: str) -> list[dict[str, Any]]:
    return sorted((s for s in spans() if s["name"] == f"execute_tool {name}"), key=lambda s: s["start_time"])


def breaker_events(span: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["attributes"] for e in span["events"] if e["name"] == "fivelens.tool.breaker.state_change"]


class RunawayModel(BaseChatModel):
    """A chat model that calls its tool again after every result, the way a model retries a tool
    that keeps failing, until a result says ``degraded mode`` (or ``limit`` results came back)."""

    tool_name: str
    limit: int = 1000

    @property
    def _llm_type(self) -> str:
        return "runaway"

    def bind_tools(self, tools: Any, **kwargs: Any) -> RunawayModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
        if (results and "degraded mode" in str(results[-1].content)) or len(results) >= self.limit:
            message = AIMessage(content=f"Sorry, {self.tool_name} is unavailable right now.", usage_metadata=usage)
        else:
            call = {"name": self.tool_name, "args": {"symbol": "ACME"}, "id": f"call-{len(results)}"}
            message = AIMessage(content="", tool_calls=[call], usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])


def fails_30_percent(n: int) -> bool:
    """Calls 3, 6, 9, 13, 16, 19, 23, ...: 30% of them; at the 23rd the window holds 23 calls, 7
    of them errors, and the default breaker (10% over at least 20 calls) opens."""
    return n % 10 in (3, 6, 9)


# ---- fivelens.tool ----------------------------------------------------------------------------


def test_tool_decorator_and_context_manager(recorded: Recorded) -> None:
    recorded.clear()

    @fivelens.tool("add")
    def add(a: int, b: int) -> int:
        return a + b

    @fivelens.tool
    async def lookup(key: str) -> dict[str, str]:
        return {"key": key, "value": "v"}

    with fivelens.span("agent"):
        assert add(1, b=2) == 3
        assert asyncio.run(lookup("k")) == {"key": "k", "value": "v"}
        with fivelens.tool("weather_api", kind="http", server="api.weather.example") as call:
            call.set_arguments({"city": "Paris"})
            call.set_status_code(503)
        with fivelens.tool("search", kind="mcp", server="docs", description="Search the docs") as call:
            call.set_result({"hits": []})
            call.set_error_result("index not ready")
        # The function a framework's tool (or an outer fivelens.tool) wraps: one span, not two.
        with fivelens.tool("add"):
            assert add(2, 2) == 4

    by_name = {s["name"]: s for s in spans() if s["name"] != "execute_tool add"}
    adds = tool_spans("add")
    assert len(adds) == 2
    a = adds[0]["attributes"]
    assert a["gen_ai.operation.name"] == "execute_tool"
    assert a["gen_ai.tool.name"] == "add"
    assert a["gen_ai.tool.type"] == "function"
    assert a["fivelens.tool.kind"] == "function"
    assert a["fivelens.tool.breaker.state"] == "closed"
    assert a["gen_ai.tool.call.arguments"] == '{"a":1,"b":2}'
    assert a["gen_ai.tool.call.result"] == "3"
    assert adds[0]["parent_span_id"] == by_name["agent"]["span_id"]
    assert by_name["execute_tool lookup"]["attributes"]["gen_ai.tool.call.result"] == '{"key":"k","value":"v"}'

    http = by_name["execute_tool weather_api"]
    assert http["status"] == "error"
    assert http["attributes"]["fivelens.tool.kind"] == "http"
    assert http["attributes"]["gen_ai.tool.type"] == "extension"
    assert http["attributes"]["server.address"] == "api.weather.example"
    assert http["attributes"]["http.response.status_code"] == 503
    assert http["attributes"]["error.type"] == "503"
    assert http["attributes"]["fivelens.tool.error.category"] == "unavailable"

    mcp = by_name["execute_tool search"]
    assert mcp["attributes"]["mcp.server.name"] == "docs"
    assert mcp["attributes"]["gen_ai.tool.description"] == "Search the docs"
    assert mcp["attributes"]["error.type"] == "tool_error"
    assert mcp["attributes"]["fivelens.tool.error.category"] == "tool_error"
    assert mcp["status_message"] == "index not ready"


def test_tool_errors_categories_and_retries_as_metrics() -> None:
    fivelens.instrument(store="off", testing=True, prometheus_port=free_port())
    attempts = {"n": 0}

    @fivelens.tool("quote")
    def quote(symbol: str) -> float:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise TimeoutError("quote service timed out")
        if attempts["n"] == 2:
            raise ConnectionRefusedError("connection refused")
        return 42.0

    with fivelens.span("agent"):
        for _ in range(3):
            try:
                quote("ACME")
            except OSError:
                pass
    with fivelens.span("another trace"):
        quote("ACME")  # a first call in its own trace: no retry

    calls = tool_spans("quote")
    assert [s["attributes"].get("fivelens.tool.error.category") for s in calls] == [
        "timeout",
        "unavailable",
        None,
        None,
    ]
    assert [s["attributes"].get("fivelens.retry.attempt") for s in calls] == [None, 2, 3, None]
    assert [s["attributes"].get("fivelens.retry.reason") for s in calls] == [
        None,
        "TimeoutError",
        "ConnectionRefusedError",
        None,
    ]
    assert calls[1]["attributes"]["fivelens.retry.source"] == "caller"

    text = metrics_text()
    assert (
        series("gen_ai_execute_tool_duration_seconds_count", 2, gen_ai_tool_name="quote", gen_ai_tool_type="function")
        in text
    )
    for line in (
        series(
            "fivelens_tool_calls_total",
            2,
            gen_ai_tool_name="quote",
            fivelens_tool_kind="function",
            fivelens_outcome="ok",
        ),
        series(
            "fivelens_tool_calls_total",
            2,
            gen_ai_tool_name="quote",
            fivelens_tool_kind="function",
            fivelens_outcome="error",
        ),
        series(
            "fivelens_tool_errors_total",
            1,
            gen_ai_tool_name="quote",
            fivelens_tool_kind="function",
            fivelens_tool_error_category="timeout",
        ),
        series(
            "fivelens_tool_errors_total",
            1,
            gen_ai_tool_name="quote",
            fivelens_tool_kind="function",
            fivelens_tool_error_category="unavailable",
        ),
        series(
            "fivelens_tool_retries_total",
            1,
            gen_ai_tool_name="quote",
            fivelens_retry_source="caller",
            fivelens_retry_reason="TimeoutError",
        ),
    ):
        assert line in text, f"{line}\n{text}"


def test_enforce_mode_rejects_plain_tools_then_a_probe_closes_the_breaker() -> None:
    fivelens.instrument(
        store="off",
        testing=True,
        tool_breaker="enforce",
        tool_breaker_min_calls=5,
        tool_breaker_error_rate=0.5,
        tool_breaker_open_ms=200,
    )
    healthy = {"ok": False, "calls": 0}

    @fivelens.tool("inventory")
    def inventory() -> str:
        healthy["calls"] += 1
        if not healthy["ok"]:
            raise ConnectionError("inventory service down")
        return "42 left"

    for _ in range(5):
        with pytest.raises(ConnectionError):
            inventory()
    with pytest.raises(fivelens.ToolUnavailable) as rejected:
        inventory()
    assert str(rejected.value).startswith("tool inventory unavailable, degraded mode")
    assert rejected.value.tool == "inventory"
    assert healthy["calls"] == 5  # not called while open
    # The context manager refuses too, before its block runs.
    with pytest.raises(fivelens.ToolUnavailable), fivelens.tool("inventory"):
        raise AssertionError("not reached")
    status = fivelens.status()["tools"]
    assert status["mode"] == "enforce"
    assert any(b["tool"] == "inventory" and b["state"] == "open" for b in status["breakers"])

    # After the open period, one probe goes through (half-open); it succeeds: closed again.
    import time

    time.sleep(0.25)
    healthy["ok"] = True
    assert inventory() == "42 left"
    assert inventory() == "42 left"

    calls = tool_spans("inventory")
    assert len(calls) == 9
    opened = [e for s in calls for e in breaker_events(s)]
    assert [(e["fivelens.breaker.from"], e["fivelens.breaker.to"]) for e in opened] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert breaker_events(calls[4])[0]["fivelens.breaker.errors"] == 5
    rejected_spans = [s for s in calls if s["attributes"].get("fivelens.tool.breaker.rejected")]
    assert len(rejected_spans) == 2
    assert all(s["attributes"]["error.type"] == "circuit_open" for s in rejected_spans)
    probe = calls[7]["attributes"]
    assert probe["fivelens.tool.breaker.probe"] is True
    assert probe["fivelens.tool.breaker.state"] == "half_open"
    assert calls[8]["attributes"]["fivelens.tool.breaker.state"] == "closed"


# ---- LangGraph ----------------------------------------------------------------------------------


def test_enforce_langgraph_agent_gets_the_degraded_message_instead_of_looping() -> None:
    """create_agent with its default ToolNode; the tool reports its failures as LangChain tools
    do (ToolException with handle_tool_error). With the default breaker (10% over at least 20
    calls in 60 s), the call after the 23rd is not made: the model receives an error
    ToolMessage with the degraded-mode message and stops."""
    fivelens.instrument(store="off", testing=True, tool_breaker="enforce", prometheus_port=free_port())
    from langchain.agents import create_agent

    executions = {"n": 0}

    @tool
    def stock_price(symbol: str) -> str:
        """The stock price of a symbol."""
        executions["n"] += 1
        if fails_30_percent(executions["n"]):
            raise ToolException("quote backend returned 502")
        return f"{symbol}: 12.5"

    stock_price.handle_tool_error = True

    agent = create_agent(RunawayModel(tool_name="stock_price"), [stock_price], name="trader")
    result = agent.invoke({"messages": [HumanMessage("Price of ACME?")]}, {"recursion_limit": 500})

    assert executions["n"] == 23
    last_tool = [m for m in result["messages"] if isinstance(m, ToolMessage)][-1]
    assert last_tool.status == "error"
    assert str(last_tool.content).startswith("tool stock_price unavailable, degraded mode: its circuit breaker is open")
    assert "7 errors in the last 23 calls" in str(last_tool.content)
    assert result["messages"][-1].content == "Sorry, stock_price is unavailable right now."

    calls = tool_spans("stock_price")
    assert len(calls) == 24
    assert [e["fivelens.breaker.to"] for e in breaker_events(calls[22])] == ["open"]
    assert all(s["attributes"]["fivelens.tool.breaker.state"] == "closed" for s in calls[:23])
    last = calls[23]["attributes"]
    assert last["fivelens.tool.breaker.rejected"] is True
    assert last["fivelens.tool.breaker.state"] == "open"
    assert last["error.type"] == "circuit_open"
    assert last["gen_ai.tool.call.result"].startswith("tool stock_price unavailable, degraded mode")
    # The tool's own error results are errors (peers count them as successes).
    failed = [s for s in calls[:23] if s["status"] == "error"]
    assert len(failed) == 7
    assert {s["attributes"]["fivelens.tool.error.category"] for s in failed} == {"tool_error"}
    # The model called the same tool again after each failure: retries by the model.
    assert calls[3]["attributes"]["fivelens.retry.source"] == "model"

    text = metrics_text()
    for line in (
        series(
            "fivelens_tool_calls_total",
            16,
            gen_ai_tool_name="stock_price",
            fivelens_tool_kind="function",
            fivelens_outcome="ok",
        ),
        series(
            "fivelens_tool_calls_total",
            7,
            gen_ai_tool_name="stock_price",
            fivelens_tool_kind="function",
            fivelens_outcome="error",
        ),
        series(
            "fivelens_tool_calls_total",
            1,
            gen_ai_tool_name="stock_price",
            fivelens_tool_kind="function",
            fivelens_outcome="rejected",
        ),
        series(
            "fivelens_tool_errors_total",
            7,
            gen_ai_tool_name="stock_price",
            fivelens_tool_kind="function",
            fivelens_tool_error_category="tool_error",
        ),
        series(
            "fivelens_tool_breaker_transitions_total",
            1,
            gen_ai_tool_name="stock_price",
            fivelens_breaker_scope="tool",
            fivelens_breaker_mode="enforce",
            fivelens_breaker_to="open",
        ),
    ):
        assert line in text, f"{line}\n{text}"


def test_enforce_substitutes_the_result_even_where_tool_node_would_raise() -> None:
    """A tool that raises a plain exception under LangGraph's default ToolNode fails the graph
    (ToolNode turns only invocation errors into messages by default): the breaker does not rely
    on it. Once open, the rejected call still reaches the model as an error ToolMessage."""
    fivelens.instrument(
        store="off", testing=True, tool_breaker="enforce", tool_breaker_min_calls=2, tool_breaker_error_rate=0.5
    )
    from langchain.agents import create_agent

    @tool
    def flaky(symbol: str) -> str:
        """Always fails."""
        raise RuntimeError("backend down")

    for _ in range(2):
        agent = create_agent(RunawayModel(tool_name="flaky"), [flaky])
        with pytest.raises(RuntimeError, match="backend down"):
            agent.invoke({"messages": [HumanMessage("go")]})
    agent = create_agent(RunawayModel(tool_name="flaky"), [flaky])
    result = agent.invoke({"messages": [HumanMessage("go")]})
    message = [m for m in result["messages"] if isinstance(m, ToolMessage)][-1]
    assert message.status == "error"
    assert "degraded mode" in str(message.content)
    assert result["messages"][-1].content == "Sorry, flaky is unavailable right now."


def test_observe_mode_changes_nothing_but_records_what_enforce_would_do() -> None:
    fivelens.instrument(store="off", testing=True, prometheus_port=free_port())  # observe: the default
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    executions = {"n": 0}

    @tool
    def stock_price(symbol: str) -> str:
        """The stock price of a symbol."""
        executions["n"] += 1
        if fails_30_percent(executions["n"]):
            raise RuntimeError("quote backend failed")
        return f"{symbol}: 12.5"

    model = RunawayModel(tool_name="stock_price", limit=30)

    def agent_node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent_node)
    graph.add_node("tools", ToolNode([stock_price], handle_tool_errors=True))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    result = graph.compile(name="observed").invoke({"messages": [HumanMessage("go")]}, {"recursion_limit": 500})

    # Nothing changed: every call was made, no result mentions the breaker.
    assert executions["n"] == 30
    assert not any("degraded mode" in str(m.content) for m in result["messages"] if isinstance(m, ToolMessage))

    calls = tool_spans("stock_price")
    assert len(calls) == 30
    assert [e["fivelens.breaker.to"] for e in breaker_events(calls[22])] == ["open"]
    assert breaker_events(calls[22])[0]["fivelens.breaker.mode"] == "observe"
    would = [s for s in calls if s["attributes"].get("fivelens.tool.breaker.would_reject")]
    assert len(would) == 7  # calls 24 to 30: what enforce would have rejected
    assert not any(s["attributes"].get("fivelens.tool.breaker.rejected") for s in calls)
    assert {s["attributes"]["fivelens.tool.error.category"] for s in calls if s["status"] == "error"} == {"other"}

    text = metrics_text()
    assert 'fivelens_outcome="rejected"' not in text
    assert (
        'fivelens_tool_breaker_transitions_total{gen_ai_tool_name="stock_price",fivelens_breaker_scope="tool",'
        'fivelens_breaker_mode="observe",fivelens_breaker_to="open"} 1'
    ) in text
    assert fivelens.status()["tools"]["mode"] == "observe"


# ---- MCP ----------------------------------------------------------------------------------------


def test_mcp_is_error_is_an_error_and_the_server_breaker_rejects_with_an_is_error_result() -> None:
    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    fivelens.instrument(
        store="off",
        testing=True,
        tool_breaker="enforce",
        tool_breaker_min_calls=3,
        tool_breaker_error_rate=0.5,
        prometheus_port=free_port(),
    )
    server = MCPServer("quotes")
    sent = {"n": 0}

    @server.tool()
    def quote(symbol: str) -> str:
        """A quote, or an error result."""
        sent["n"] += 1
        raise ValueError(f"no quote for {symbol}")  # the SDK answers isError: true

    async def main() -> list[Any]:
        out = []
        async with Client(server) as client:
            for _ in range(4):
                out.append(await client.call_tool("quote", {"symbol": "ACME"}))
        return out

    results = asyncio.run(main())
    assert sent["n"] == 3
    assert all(r.is_error for r in results)
    rejected = results[3]
    assert rejected.content[0].text.startswith("tool quote unavailable, degraded mode")

    calls = sorted(
        (s for s in spans() if s["name"] == "tools/call quote" and s["kind"] == "client"), key=lambda s: s["start_time"]
    )
    assert len(calls) == 4
    for s in calls[:3]:
        assert s["status"] == "error"
        assert s["attributes"]["error.type"] == "tool_error"
        assert s["attributes"]["fivelens.tool.error.category"] == "tool_error"
        assert s["attributes"]["fivelens.tool.kind"] == "mcp"
        assert s["attributes"]["mcp.server.name"] == "quotes"
    assert calls[3]["attributes"]["fivelens.tool.breaker.rejected"] is True
    scopes = sorted(e["fivelens.breaker.scope"] for e in breaker_events(calls[2]))
    assert scopes == ["server", "tool"]  # the server's breaker and the tool's opened together

    text = metrics_text()
    for line in (
        series(
            "fivelens_tool_errors_total",
            3,
            gen_ai_tool_name="quote",
            mcp_server_name="quotes",
            fivelens_tool_kind="mcp",
            fivelens_tool_error_category="tool_error",
        ),
        series(
            "fivelens_tool_calls_total",
            1,
            gen_ai_tool_name="quote",
            mcp_server_name="quotes",
            fivelens_tool_kind="mcp",
            fivelens_outcome="rejected",
        ),
        series(
            "gen_ai_execute_tool_duration_seconds_count",
            3,
            gen_ai_tool_name="quote",
            mcp_server_name="quotes",
            error_type="tool_error",
        ),
    ):
        assert line in text, f"{line}\n{text}"


# ---- loop and budget guards ---------------------------------------------------------------------


def test_a_cost_budget_stops_a_runaway_agent_at_the_configured_spend(llm_server: Any) -> None:
    """A LangGraph agent whose model (gpt-4o-mini through langchain-openai, against the fake
    server) calls its tool forever. The trace's budget refuses the first call made once the
    spend reached it; the trace is kept by the keep flag alone (no errors policy)."""
    from langchain.agents import create_agent
    from langchain_openai import ChatOpenAI

    budget = 0.0002
    fivelens.instrument(
        store="off",
        testing=True,
        trace_cost_budget_usd=budget,
        sampling=["keep", "baseline:0"],
        prometheus_port=free_port(),
    )

    @tool
    def search(query: str) -> str:
        """Search the web."""
        return "nothing new " * 20

    model = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=llm_server.url + "/v1",
        api_key="k",
        max_retries=0,
        default_headers={"x-fake-scenario": "tools"},
    )
    agent = create_agent(model, [search], name="runaway")
    with pytest.raises(fivelens.BudgetExceeded) as refused:
        agent.invoke({"messages": [HumanMessage("find everything")]}, {"recursion_limit": 1000})
    error = refused.value
    assert (error.kind, error.scope, error.limit) == ("cost", "trace", budget)
    assert error.used >= budget
    assert "trace_cost_budget_usd" in str(error)

    kept = spans()
    chats = sorted((s for s in kept if s["name"].startswith("chat ")), key=lambda s: s["start_time"])
    costs = [s["attributes"]["fivelens.cost.usd"] for s in chats]
    # Every call made started under the budget; the spend reached it with the last one.
    assert sum(costs[:-1]) < budget <= sum(costs)
    assert error.used == pytest.approx(sum(costs), rel=1e-9)
    assert len(chats) > 3
    # Kept by the keep flag: the span current when the call was refused carries it and the event.
    marked = [s for s in kept if s["attributes"].get("fivelens.sampling.keep") == "guard:cost"]
    assert len(marked) == 1
    event = next(e for e in marked[0]["events"] if e["name"] == "fivelens.guard.exceeded")
    assert event["attributes"]["fivelens.guard.kind"] == "cost"
    assert event["attributes"]["fivelens.guard.scope"] == "trace"
    root = next(s for s in kept if s["name"] == "invoke_agent runaway")
    assert root["attributes"]["fivelens.sampling.reason"] == "keep:guard:cost"
    refusals = series("fivelens_guard_refusals_total", 1, fivelens_guard_kind="cost", fivelens_guard_scope="trace")
    assert refusals in metrics_text()

    # Another trace starts with nothing spent.
    fivelens._native.clear_finished_spans()
    with fivelens.span("fresh"):
        ChatOpenAI(model="gpt-4o-mini", base_url=llm_server.url + "/v1", api_key="k", max_retries=0).invoke("hi")


def test_session_token_budget_and_iteration_limit(llm_server: Any) -> None:
    import openai

    fivelens.instrument(store="off", testing=True, session_token_budget=40, max_agent_iterations=3)
    client = openai.OpenAI(base_url=llm_server.url + "/v1", api_key="k", max_retries=0)
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "one two three four five"}]}
    with fivelens.context(session_id="s-1"):
        made = 0
        with pytest.raises(fivelens.BudgetExceeded) as refused:
            for _ in range(10):
                with fivelens.span("turn"):  # each turn its own trace: the session's budget
                    client.chat.completions.create(**ask)
                    made += 1
    assert (refused.value.kind, refused.value.scope) == ("tokens", "session")
    assert made == 4  # 5 + 6 tokens a call (prompt words, "echo: ..." words): 33 < 40 after 3, 44 after 4
    with fivelens.context(session_id="s-2"), fivelens.span("other session"):
        client.chat.completions.create(**ask)

    # max_agent_iterations: a LangGraph agent's model call in superstep 5 (> 3) is refused.
    from langchain.agents import create_agent

    assert fivelens.flush(10.0)
    fivelens._native.clear_finished_spans()

    @tool
    def noop(symbol: str) -> str:
        """Does nothing."""
        return "ok"

    agent = create_agent(RunawayModel(tool_name="noop"), [noop], name="looper")
    with pytest.raises(fivelens.IterationLimitExceeded, match="max_agent_iterations"):
        agent.invoke({"messages": [HumanMessage("go")]}, {"recursion_limit": 100})
    nodes = [s for s in spans() if s["attributes"].get("fivelens.langgraph.node") == "model"]
    assert sorted(s["attributes"]["fivelens.agent.iteration"] for s in nodes) == [1, 3, 5]
    refused_node = max(nodes, key=lambda s: s["attributes"]["fivelens.agent.iteration"])
    assert refused_node["attributes"]["fivelens.sampling.keep"] == "guard:iterations"
    # The refused call is not a model call of its own: the calls of supersteps 1 and 3 are.
    assert len([s for s in spans() if s["attributes"].get("gen_ai.operation.name") == "chat"]) == 2


def test_llm_call_is_refused_too() -> None:
    fivelens.instrument(store="off", testing=True, trace_token_budget=10)
    with fivelens.span("work"):
        with fivelens.llm_call("ollama", "llama3.1") as call:
            call.set_usage(8, 4)
        with pytest.raises(fivelens.BudgetExceeded, match="trace_token_budget"):
            fivelens.llm_call("ollama", "llama3.1")
    assert fivelens._native._guard_spend() is not None
