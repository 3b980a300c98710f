"""LangGraph and LangChain, unmodified, under ``instrument()``: each run one trace whose span tree
follows the framework's run tree (graph -> node -> model / tool), with the provider SDK's span
taking the chat-model run's place when the model is a real SDK client.

Models are LangChain's fake chat models with scripted messages, or ``langchain-openai`` against
the repository's fake OpenAI server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any, TypedDict
from uuid import UUID

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

import fivelens
from conftest import Recorded, run_example


class ScriptedModel(FakeMessagesListChatModel):
    """LangChain's fake chat model, with ``bind_tools`` (the agent factories call it)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


def call(name: str, args: dict[str, Any], call_id: str, text: str = "") -> AIMessage:
    return AIMessage(
        content=text,
        tool_calls=[{"name": name, "args": args, "id": call_id}],
        usage_metadata={"input_tokens": 12, "output_tokens": 6, "total_tokens": 18},
        response_metadata={"finish_reason": "tool_calls", "model_name": "scripted-1"},
    )


def answer(text: str) -> AIMessage:
    return AIMessage(
        content=text,
        usage_metadata={"input_tokens": 30, "output_tokens": 4, "total_tokens": 34},
        response_metadata={"finish_reason": "stop", "model_name": "scripted-1"},
    )


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tree(spans: list[dict[str, Any]]) -> list[str]:
    """The span tree as indented lines: ``name [kind]``, children in start order."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_span_id")
        children.setdefault(parent if parent in ids else None, []).append(s)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda s: s["start_time"]):
            lines.append("  " * depth + f"{s['name']} [{s['kind']}]")
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    return lines


def named(spans: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["name"] == name]


@pytest.fixture
def recorded_lc(recorded: Recorded) -> Iterator[Recorded]:
    recorded.clear()
    yield recorded


def test_react_agent_is_one_trace_with_iterations(recorded_lc: Recorded) -> None:
    from langchain.agents import create_agent

    model = ScriptedModel(
        responses=[call("add", {"a": 2, "b": 3}, "call-1", text="I should add them."), answer("The sum is 5.")]
    )
    agent = create_agent(model, [add], name="calculator")
    result = agent.invoke({"messages": [HumanMessage("What is 2 + 3?")]})
    assert result["messages"][-1].content == "The sum is 5."

    spans = recorded_lc.spans()
    assert tree(spans) == [
        "invoke_agent calculator [internal]",
        "  model [internal]",
        "    chat scripted-1 [client]",
        "  tools [internal]",
        "    execute_tool add [internal]",
        "  model [internal]",
        "    chat scripted-1 [client]",
    ]
    assert len({s["trace_id"] for s in spans}) == 1
    root = named(spans, "invoke_agent calculator")[0]
    assert root["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert root["attributes"]["gen_ai.agent.name"] == "calculator"
    assert root["attributes"]["fivelens.agent.iterations"] == 3
    assert root["attributes"]["fivelens.rollup.llm_calls"] == 2
    nodes = sorted(named(spans, "model") + named(spans, "tools"), key=lambda s: s["start_time"])
    assert [n["attributes"]["fivelens.langgraph.step"] for n in nodes] == [1, 2, 3]
    assert [n["attributes"]["fivelens.agent.iteration"] for n in nodes] == [1, 2, 3]
    assert nodes[0]["attributes"]["fivelens.langgraph.triggers"] == ["branch:to:model"]
    assert all(n["attributes"]["fivelens.framework"] == "langgraph" for n in nodes)

    chats = named(spans, "chat scripted-1")
    first = chats[0]["attributes"]
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.usage.input_tokens"] == 12
    assert first["gen_ai.usage.output_tokens"] == 6
    assert first["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert json.loads(first["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is 2 + 3?"}]}
    ]
    out = json.loads(first["gen_ai.output.messages"])
    assert out[0]["parts"][1] == {"type": "tool_call", "id": "call-1", "name": "add", "arguments": {"a": 2, "b": 3}}
    second_input = json.loads(chats[1]["attributes"]["gen_ai.input.messages"])
    assert [m["role"] for m in second_input] == ["user", "assistant", "tool"]
    assert second_input[2]["parts"][0] == {"type": "tool_call_response", "id": "call-1", "response": "5"}

    tool_span = named(spans, "execute_tool add")[0]
    ta = tool_span["attributes"]
    assert ta["gen_ai.tool.name"] == "add"
    assert ta["gen_ai.tool.type"] == "function"
    assert ta["gen_ai.tool.call.id"] == "call-1"
    assert json.loads(ta["gen_ai.tool.call.arguments"]) == {"a": 2, "b": 3}
    assert ta["gen_ai.tool.call.result"] == "5"
    assert tool_span["status"] == "unset"

    # The reasoning journal: what the model said and chose, on the iteration spans.
    journal = [
        (e["attributes"]["fivelens.step.kind"], e["attributes"].get("fivelens.step.content"))
        for n in nodes
        for e in n["events"]
        if e["name"] == "fivelens.agent.step"
    ]
    assert journal == [
        ("thought", "I should add them."),
        ("action", json.dumps({"tool": "add", "arguments": {"a": 2, "b": 3}}, separators=(",", ":"))),
        ("observation", "5"),
        ("final", "The sum is 5."),
    ]


class Plan(TypedDict):
    question: str
    draft: str
    review: str


def test_multi_node_graph_user_and_otel_spans_nest_under_the_node(recorded_lc: Recorded) -> None:
    from opentelemetry import trace

    tracer = trace.get_tracer("app.library")
    writer = ScriptedModel(responses=[answer("a draft")])
    reviewer = ScriptedModel(responses=[answer("looks good")])

    def write(state: Plan) -> dict[str, str]:
        with fivelens.span("app.lookup"):
            with tracer.start_as_current_span("library.query"):
                pass
        return {"draft": str(writer.invoke(state["question"]).content)}

    def review(state: Plan) -> dict[str, str]:
        with tracer.start_as_current_span("library.check"):
            pass
        return {"review": str(reviewer.invoke(state["draft"]).content)}

    graph = StateGraph(Plan)
    graph.add_node("write", write)
    graph.add_node("review", review)
    graph.add_edge(START, "write")
    graph.add_edge("write", "review")
    graph.add_edge("review", END)
    app = graph.compile(name="drafting")
    with fivelens.span("request"):
        out = app.invoke({"question": "q"})
    assert out["review"] == "looks good"

    spans = recorded_lc.spans()
    assert tree(spans) == [
        "request [internal]",
        "  invoke_workflow drafting [internal]",
        "    write [internal]",
        "      app.lookup [internal]",
        "        library.query [internal]",
        "      chat scripted-1 [client]",
        "    review [internal]",
        "      library.check [internal]",
        "      chat scripted-1 [client]",
    ]
    root = named(spans, "invoke_workflow drafting")[0]["attributes"]
    assert root["gen_ai.operation.name"] == "invoke_workflow"
    assert root["gen_ai.workflow.name"] == "drafting"
    assert "fivelens.chain.input" not in root  # chain input/output capture is off by default
    assert len({s["trace_id"] for s in spans}) == 1


def test_openai_sdk_span_takes_the_chat_model_runs_place(llm_server: Any, recorded_lc: Recorded) -> None:
    from langchain.agents import create_agent
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        model="gpt-4o",
        base_url=llm_server.url + "/v1",
        api_key="test-key",  # type: ignore[arg-type]
        max_retries=0,
        default_headers={"x-fake-scenario": "tools-once"},
    )
    agent = create_agent(model, [add], name="calc")
    result = agent.invoke({"messages": [HumanMessage("add 1 and 2")]})
    assert result["messages"][-1].content.startswith("echo:")

    spans = recorded_lc.spans()
    assert tree(spans) == [
        "invoke_agent calc [internal]",
        "  model [internal]",
        "    chat gpt-4o [client]",
        "  tools [internal]",
        "    execute_tool add [internal]",
        "  model [internal]",
        "    chat gpt-4o [client]",
    ]
    chats = named(spans, "chat gpt-4o")
    for chat in chats:
        # The OpenAI integration's span, carrying the chat-model run's id: one span per call.
        assert chat["scope"] == "fivelens.openai"
        assert chat["attributes"]["fivelens.framework"] == "langgraph"
        assert chat["attributes"]["fivelens.framework.run_id"]
        assert chat["attributes"]["gen_ai.provider.name"] == "openai"
        assert chat["attributes"]["gen_ai.usage.input_tokens"] > 0
    assert chats[0]["attributes"]["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert chats[1]["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]


def test_concurrent_ainvoke_calls_are_separate_traces(recorded_lc: Recorded, caplog: pytest.LogCaptureFixture) -> None:
    from langchain.agents import create_agent

    def agent_for(i: int) -> Any:
        model = ScriptedModel(responses=[call("add", {"a": i, "b": 1}, f"c{i}"), answer(f"done {i}")])
        return create_agent(model, [add], name=f"agent-{i}")

    agents = [agent_for(i) for i in range(50)]

    async def main() -> list[Any]:
        return await asyncio.gather(*(a.ainvoke({"messages": [HumanMessage(f"q{i}")]}) for i, a in enumerate(agents)))

    with caplog.at_level(logging.WARNING):
        results = asyncio.run(main())
    assert [r["messages"][-1].content for r in results] == [f"done {i}" for i in range(50)]
    assert "different Context" not in caplog.text
    assert "callback" not in caplog.text.lower()

    spans = recorded_lc.spans()
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_trace.setdefault(s["trace_id"], []).append(s)
    assert len(by_trace) == 50
    for trace_spans in by_trace.values():
        lines = tree(trace_spans)
        assert len(lines) == 7, lines
        roots = [s for s in trace_spans if not s.get("parent_span_id")]
        assert len(roots) == 1
        name = roots[0]["attributes"]["gen_ai.agent.name"]
        i = int(name.split("-")[1])
        tool_span = named(trace_spans, "execute_tool add")[0]
        assert json.loads(tool_span["attributes"]["gen_ai.tool.call.arguments"]) == {"a": i, "b": 1}


def test_parallel_sync_tools_in_the_thread_pool_keep_their_parent(recorded_lc: Recorded) -> None:
    from langchain.agents import create_agent

    seen: list[str] = []

    @tool
    def lookup(key: str) -> str:
        """Look a key up."""
        seen.append(threading.current_thread().name)
        with fivelens.span(f"io {key}"):
            return key.upper()

    first = AIMessage(
        content="",
        tool_calls=[
            {"name": "lookup", "args": {"key": "a"}, "id": "t1"},
            {"name": "lookup", "args": {"key": "b"}, "id": "t2"},
        ],
    )
    agent = create_agent(ScriptedModel(responses=[first, answer("A B")]), [lookup], name="parallel")
    agent.invoke({"messages": [HumanMessage("go")]})
    assert len(seen) == 2
    spans = recorded_lc.spans()
    # create_agent sends each tool call to its own "tools" task (one superstep, run in parallel).
    tools_nodes = named(spans, "tools")
    assert [n["attributes"]["fivelens.langgraph.step"] for n in tools_nodes] == [2, 2]
    tool_spans = named(spans, "execute_tool lookup")
    assert len(tool_spans) == 2
    assert {s["parent_span_id"] for s in tool_spans} == {n["span_id"] for n in tools_nodes}
    for key in ("a", "b"):
        io = named(spans, f"io {key}")[0]
        assert io["parent_span_id"] in {s["span_id"] for s in tool_spans}
    assert len({s["trace_id"] for s in spans}) == 1


def test_a_failing_tool_retried_by_the_model_shows_each_attempt(recorded_lc: Recorded) -> None:
    attempts = {"n": 0}

    @tool
    def flaky(x: int) -> int:
        """Fails twice, then works."""
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ValueError(f"backend unavailable (attempt {attempts['n']})")
        return x * 2

    from langgraph.graph import MessagesState
    from langgraph.prebuilt import ToolNode, tools_condition

    model = ScriptedModel(
        responses=[call("flaky", {"x": 4}, f"f{i}") for i in range(3)] + [answer("8")],
    )

    def agent_node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    # The hand-written ReAct loop: errors go back to the model as error ToolMessages.
    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent_node)
    graph.add_node("tools", ToolNode([flaky], handle_tool_errors=True))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    agent = graph.compile(name="retrier")
    result = agent.invoke({"messages": [HumanMessage("double 4")]})
    assert result["messages"][-1].content == "8"
    spans = recorded_lc.spans()
    tool_spans = sorted(named(spans, "execute_tool flaky"), key=lambda s: s["start_time"])
    assert len(tool_spans) == 3
    assert [s["status"] for s in tool_spans] == ["error", "error", "unset"]
    # The tool raised (ToolNode then hands the error to the model as a ToolMessage).
    assert [s["attributes"].get("error.type") for s in tool_spans] == ["ValueError", "ValueError", None]
    assert [s["attributes"].get("fivelens.retry.attempt") for s in tool_spans] == [None, 2, 3]
    assert [s["attributes"].get("fivelens.retry.reason") for s in tool_spans] == [None, "ValueError", "ValueError"]
    # Each attempt sits in its own iteration.
    iterations = [
        next(n for n in spans if n["span_id"] == s["parent_span_id"])["attributes"]["fivelens.agent.iteration"]
        for s in tool_spans
    ]
    assert iterations == [2, 4, 6]
    assert len(named(spans, "tools")) == 3


def test_a_tool_exception_that_escapes_fails_the_tool_and_the_graph(recorded_lc: Recorded) -> None:
    @tool
    def broken(x: int) -> int:
        """Always fails."""
        raise RuntimeError("boom")

    class S(TypedDict):
        x: int

    def use_tool(state: S) -> dict[str, int]:
        return {"x": broken.invoke({"x": state["x"]})}

    graph = StateGraph(S)
    graph.add_node("use_tool", use_tool)
    graph.add_edge(START, "use_tool")
    app = graph.compile(name="fails")
    with pytest.raises(RuntimeError, match="boom"):
        app.invoke({"x": 1})
    spans = recorded_lc.spans()
    for name in ("invoke_workflow fails", "use_tool", "execute_tool broken"):
        span = named(spans, name)[0]
        assert span["status"] == "error", name
        assert span["attributes"]["error.type"] == "RuntimeError"


def test_interrupt_is_not_an_error_and_the_resumed_run_continues_the_trace(recorded_lc: Recorded) -> None:
    class S(TypedDict):
        amount: int
        approved: bool

    def approve(state: S) -> dict[str, bool]:
        return {"approved": bool(interrupt({"amount": state["amount"]}))}

    graph = StateGraph(S)
    graph.add_node("approve", approve)
    graph.add_edge(START, "approve")
    graph.add_edge("approve", END)
    app = graph.compile(checkpointer=InMemorySaver(), name="approval")
    config: Any = {"configurable": {"thread_id": "order-7"}}
    first = app.invoke({"amount": 10, "approved": False}, config)
    assert "__interrupt__" in first
    second = app.invoke(Command(resume=True), config)
    assert second["approved"] is True

    spans = recorded_lc.spans()
    assert len({s["trace_id"] for s in spans}) == 1
    assert tree(spans) == [
        "invoke_workflow approval [internal]",
        "  approve [internal]",
        "  invoke_workflow approval [internal]",
        "    approve [internal]",
    ]
    assert all(s["status"] == "unset" for s in spans)
    roots = sorted(named(spans, "invoke_workflow approval"), key=lambda s: s["start_time"])
    assert roots[0]["attributes"]["fivelens.langgraph.interrupted"] is True
    assert "fivelens.langgraph.interrupted" not in roots[1]["attributes"]


def test_streaming_ends_every_span(recorded_lc: Recorded) -> None:
    from langchain.agents import create_agent

    def fresh() -> Any:
        model = ScriptedModel(responses=[call("add", {"a": 1, "b": 1}, "s1"), answer("2")])
        return create_agent(model, [add], name="streamer")

    chunks = list(fresh().stream({"messages": [HumanMessage("1+1")]}, stream_mode="updates"))
    assert len(chunks) == 3

    async def consume() -> int:
        n = 0
        async for _ in fresh().astream({"messages": [HumanMessage("1+1")]}):
            n += 1
        async for _ in fresh().astream_events({"messages": [HumanMessage("1+1")]}, version="v2"):
            n += 1
        return n

    assert asyncio.run(consume()) > 3
    spans = recorded_lc.spans()
    roots = named(spans, "invoke_agent streamer")
    assert len(roots) == 3
    assert len({s["trace_id"] for s in spans}) == 3
    assert len(spans) == 3 * 7
    for root in roots:
        assert root["end_time"] >= root["start_time"]

    # Broken out of after the first update: what ran ends as it did, the graph run as cancelled
    # by the app, which is not an error.
    recorded_lc.clear()
    stream = fresh().stream({"messages": [HumanMessage("1+1")]}, stream_mode="updates")
    for _ in stream:
        break
    stream.close()
    spans = recorded_lc.spans()
    [root] = named(spans, "invoke_agent streamer")
    assert root["attributes"]["fivelens.framework.run_cancelled"] is True
    assert all(s["status"] == "unset" for s in spans), [(s["name"], s["status"]) for s in spans]
    assert not any("error.type" in s["attributes"] for s in spans)


def test_plain_langchain_chain_and_retriever(recorded_lc: Recorded) -> None:
    class Docs(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: Any = None) -> list[Document]:
            return [Document(page_content="Paris", id="doc-1", metadata={"score": 0.9})]

    retriever = Docs()
    prompt = ChatPromptTemplate.from_messages([("system", "Answer briefly."), ("human", "{q}")])
    chain = prompt | ScriptedModel(responses=[answer("Paris")])

    docs = retriever.invoke("capital of France")
    out = chain.invoke({"q": docs[0].page_content})
    assert out.content == "Paris"
    spans = recorded_lc.spans()
    assert tree(spans) == [
        "retrieval Docs [client]",
        "RunnableSequence [internal]",
        "  ChatPromptTemplate [internal]",
        "  chat scripted-1 [client]",
    ]
    r = named(spans, "retrieval Docs")[0]["attributes"]
    assert r["gen_ai.operation.name"] == "retrieval"
    assert r["gen_ai.data_source.id"] == "Docs"
    assert r["gen_ai.retrieval.query.text"] == "capital of France"
    assert json.loads(r["gen_ai.retrieval.documents"]) == [{"id": "doc-1", "score": 0.9}]
    chat = named(spans, "chat scripted-1")[0]["attributes"]
    assert chat["fivelens.framework"] == "langchain"
    assert chat["fivelens.prompt.hash"]  # the system prompt as sent
    assert json.loads(chat["gen_ai.input.messages"])[0]["role"] == "system"


def test_chain_io_capture_and_collapsed_plumbing() -> None:
    from langgraph.prebuilt import create_react_agent

    fivelens.instrument(testing=True, store="off", capture_chain_io=True, collapse_chains=True)
    recorded = Recorded()
    recorded.clear()
    model = ScriptedModel(responses=[call("add", {"a": 1, "b": 2}, "r1"), answer("3")])
    agent = create_react_agent(model, [add], name="react")
    agent.invoke({"messages": [HumanMessage("1+2")]})
    spans = recorded.spans()
    # call_model, RunnableSequence, the prompt and the router runs are plumbing: collapsed.
    assert tree(spans) == [
        "invoke_agent react [internal]",
        "  agent [internal]",
        "    chat scripted-1 [client]",
        "  tools [internal]",
        "    execute_tool add [internal]",
        "  agent [internal]",
        "    chat scripted-1 [client]",
    ]
    root = named(spans, "invoke_agent react")[0]["attributes"]
    assert json.loads(root["fivelens.chain.input"])["messages"][0]["content"] == "1+2"
    assert "fivelens.chain.output" in root


def test_capture_off_keeps_the_tree_and_drops_content() -> None:
    from langchain.agents import create_agent

    fivelens.instrument(testing=True, store="off", capture_content=False)
    recorded = Recorded()
    recorded.clear()
    model = ScriptedModel(responses=[call("add", {"a": 1, "b": 2}, "n1", text="secret plan"), answer("3")])
    create_agent(model, [add], name="quiet").invoke({"messages": [HumanMessage("my secret")]})
    spans = recorded.spans()
    assert len(tree(spans)) == 7
    text = json.dumps(spans)
    assert "secret" not in text
    for s in spans:
        assert not any(k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.tool.call.a")) for k in s["attributes"])
        for e in s["events"]:
            assert "fivelens.step.content" not in e["attributes"]


def test_odd_message_content_reaches_the_span_mapped_and_nothing_raises(recorded_lc: Recorded) -> None:
    """The run's messages go to the core as written natively from the message objects: blocks,
    a lone surrogate, an object JSON cannot encode (never called), a chat message's own role."""
    from langchain_core.messages import ChatMessage, SystemMessage

    class Opaque:
        def __repr__(self) -> str:
            raise RuntimeError("never called")

    reply = AIMessage(
        content=[{"type": "text", "text": "Sure"}, {"type": "text", "text": "."}],
        tool_calls=[{"name": "add", "args": {"a": 1, "when": Opaque()}, "id": "odd-1"}],
        usage_metadata={"input_tokens": 9, "output_tokens": 2, "total_tokens": 11},
        response_metadata={"finish_reason": "tool_calls"},
    )
    model = ScriptedModel(responses=[reply])
    errors_before = fivelens.status()["internal_errors"]
    out = model.invoke(
        [
            SystemMessage("Be\ud800 brief."),
            HumanMessage(content=[{"type": "text", "text": "add "}, {"type": "image_url", "image_url": {"url": "x"}}]),
            ChatMessage(role="critic", content="ok"),
        ]
    )
    assert out is reply
    [chat] = recorded_lc.spans()
    a = chat["attributes"]
    assert chat["name"] == "chat" and chat["kind"] == "client"
    assert a["gen_ai.usage.input_tokens"] == 9
    assert a["gen_ai.response.finish_reasons"] == ["tool_calls"]
    # LangChain's run id (a UUID object) in its canonical form.
    assert str(UUID(a["fivelens.framework.run_id"])) == a["fivelens.framework.run_id"]
    system, *rest = json.loads(a["gen_ai.input.messages"])
    # (The lone surrogate: a replacement character, as in every attribute.)
    assert system["role"] == "system"
    assert system["parts"][0]["content"] == "Be\ufffd brief."
    assert rest == [
        {"role": "user", "parts": [{"type": "text", "content": "add "}]},
        {"role": "critic", "parts": [{"type": "text", "content": "ok"}]},
    ]
    opaque = f"<test_langchain.{Opaque.__qualname__}>"  # a type label, never its repr
    assert json.loads(a["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Sure."},
                {"type": "tool_call", "id": "odd-1", "name": "add", "arguments": {"a": 1, "when": opaque}},
            ],
            "finish_reason": "tool_calls",
        }
    ]
    assert fivelens.status()["internal_errors"] == errors_before


class SettingsModel(ScriptedModel):
    """A scripted model that reports request settings the way provider packages do."""

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        return {
            "ls_provider": "anthropic",
            "ls_model_name": "claude-sonnet-x",
            "ls_model_type": "chat",
            "ls_temperature": 0.2,
            "ls_max_tokens": 64,
        }


class FailingModel(ScriptedModel):
    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("upstream said no")


def test_model_run_settings_failures_and_streaming_reach_the_chat_span(recorded_lc: Recorded) -> None:
    reply = AIMessage(
        content="Short.",
        id="msg_0123",
        usage_metadata={"input_tokens": 7, "output_tokens": 2, "total_tokens": 9},
        response_metadata={"stop_reason": "end_turn", "model": "claude-sonnet-x-20260101"},
    )
    SettingsModel(responses=[reply]).invoke("Be short.")
    [chat] = recorded_lc.spans()
    a = chat["attributes"]
    assert chat["name"] == "chat claude-sonnet-x" and chat["kind"] == "client"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == "claude-sonnet-x"
    assert a["gen_ai.request.temperature"] == 0.2
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.response.id"] == "msg_0123"
    assert a["gen_ai.response.model"] == "claude-sonnet-x-20260101"
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["gen_ai.usage.input_tokens"] == 7
    assert a["fivelens.framework"] == "langchain"

    recorded_lc.clear()
    with pytest.raises(ValueError, match="upstream said no"):
        FailingModel(responses=[reply]).invoke("Hello?")
    [failed] = recorded_lc.spans()
    assert failed["status"] == "error"
    assert failed["attributes"]["error.type"] == "ValueError"
    assert [e["name"] for e in failed["events"]] == ["exception"]
    assert json.loads(failed["attributes"]["gen_ai.input.messages"])[0]["role"] == "user"
    assert "gen_ai.output.messages" not in failed["attributes"]

    recorded_lc.clear()
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    streamed = "".join(str(c.content) for c in GenericFakeChatModel(messages=iter(["one two three"])).stream("Go"))
    assert streamed == "one two three"
    [chat] = recorded_lc.spans()
    assert chat["attributes"]["gen_ai.response.time_to_first_chunk"] > 0
    assert json.loads(chat["attributes"]["gen_ai.output.messages"])[0]["parts"][0]["content"] == "one two three"


def test_runs_that_never_end_do_not_grow_the_run_table(recorded_lc: Recorded) -> None:
    # Abandoned runs (a stream the app stopped reading, never closed) stay open in the handler's
    # run table; beyond 50,000 the oldest ones' spans end and they are forgotten.
    from uuid import uuid4

    from fivelens.integrations import langchain as integration

    handler = integration._handler
    errors_before = fivelens.status()["internal_errors"]
    ids = [uuid4() for _ in range(50_003)]
    for i, run_id in enumerate(ids):
        handler.on_chain_start({"name": f"stuck-{i}"}, {}, run_id=run_id)
    assert len(integration._state.runs) == 50_000
    assert [s["name"] for s in recorded_lc.spans()] == ["stuck-0", "stuck-1", "stuck-2"]
    for run_id in ids:  # the forgotten ones end as unknown runs: nothing happens
        handler.on_chain_end({}, run_id=run_id)
    assert len(integration._state.runs) == 0
    assert fivelens.status()["internal_errors"] == errors_before


def test_tool_message_outputs_and_uninstrument(recorded_lc: Recorded) -> None:
    from fivelens.integrations import langchain as integration

    @tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    msg = echo.invoke({"type": "tool_call", "name": "echo", "args": {"text": "hi"}, "id": "direct-1"})
    assert isinstance(msg, ToolMessage)
    spans = recorded_lc.spans()
    assert [s["name"] for s in spans] == ["execute_tool echo"]
    assert spans[0]["attributes"]["gen_ai.tool.call.id"] == "direct-1"

    @tool
    def missing(key: str) -> ToolMessage:
        """Reports an error in its result instead of raising."""
        return ToolMessage(content=f"no such key: {key}", status="error", tool_call_id="direct-2")

    missing.invoke({"type": "tool_call", "name": "missing", "args": {"key": "k"}, "id": "direct-2"})
    failed = named(recorded_lc.spans(), "execute_tool missing")[0]
    assert failed["status"] == "error"
    assert failed["attributes"]["error.type"] == "tool_error"

    recorded_lc.clear()
    integration.uninstrument()
    try:
        echo.invoke({"text": "again"})
        assert recorded_lc.spans() == []
    finally:
        integration.instrument()


def test_the_readme_example_runs_and_fivelens_show_prints_its_tree(tmp_path: Any) -> None:
    lines, _ = run_example("langgraph_agent.py", tmp_path / "home")
    assert lines[0] == "echo: Where is my order A-1042?"
    assert lines[2:] == [
        "invoke_agent support",
        "├─ model  iteration 1",
        "│  └─ chat gpt-4o-mini  openai  tokens 10/3  $0.00000",
        "├─ tools  iteration 2",
        "│  └─ execute_tool lookup_order",
        "└─ model  iteration 3",
        "   └─ chat gpt-4o-mini  openai  tokens 15/6  $0.00001",
    ]
