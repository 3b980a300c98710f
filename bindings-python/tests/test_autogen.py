"""AutoGen 0.7 (autogen-agentchat, autogen-core, autogen-ext), unmodified, under ``instrument()``:
a team or agent run is one trace (team -> agent turn -> iteration -> model call / tool), whether
the team runs its own runtime or the app's, AutoGen's own agent and tool spans adopted.

Models are autogen-ext's ``OpenAIChatCompletionClient`` against the repository's fake OpenAI
server (the OpenAI SDK's span is the model call) and its ``ReplayChatCompletionClient`` with
scripted results (fivelens makes the model-call span).
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import FunctionCall, SingleThreadedAgentRuntime
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.openai import OpenAIChatCompletionClient
from autogen_ext.models.replay import ReplayChatCompletionClient

import fivelens
from conftest import Receiver, Recorded, run_example

MODEL = "gpt-4o-2024-08-06"  # a dated name: the fake server answers with the same one
MODEL_INFO: Any = {
    "function_calling": True,
    "vision": False,
    "json_output": False,
    "family": "gpt-4o",
    "structured_output": False,
}
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def lookup(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def openai_client(url: str, scenario: str | None = None, stream: bool = False) -> OpenAIChatCompletionClient:
    return OpenAIChatCompletionClient(
        model=MODEL,
        base_url=url + "/v1",
        api_key="k",
        max_retries=0,
        model_info=MODEL_INFO,
        default_headers={"x-fake-scenario": scenario} if scenario else None,
        **({"stream_options": {"include_usage": True}} if stream else {}),
    )


def tool_call(name: str, args: dict[str, Any], call_id: str, thought: str | None = None) -> CreateResult:
    return CreateResult(
        finish_reason="function_calls",
        content=[FunctionCall(id=call_id, name=name, arguments=json.dumps(args))],
        usage=RequestUsage(prompt_tokens=12, completion_tokens=6),
        cached=False,
        thought=thought,
    )


def answer(text: str) -> CreateResult:
    return CreateResult(
        finish_reason="stop", content=text, usage=RequestUsage(prompt_tokens=30, completion_tokens=4), cached=False
    )


def replay(*results: CreateResult | str) -> ReplayChatCompletionClient:
    return ReplayChatCompletionClient(list(results), model_info=MODEL_INFO)


def kind(s: dict[str, Any]) -> str:
    k = s["kind"]
    return KINDS.get(k, str(k)) if isinstance(k, int) else str(k)


def start(s: dict[str, Any]) -> int:
    return int(s.get("start_time") or s.get("start_time_unix_nano") or 0)


def tree(spans: list[dict[str, Any]]) -> list[str]:
    """The span tree as indented lines, ``name [kind]`` plus the iteration number, children in
    start order."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_span_id") or None
        children.setdefault(parent if parent in ids else None, []).append(s)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=start):
            it = s["attributes"].get("fivelens.agent.iteration")
            lines.append("  " * depth + f"{s['name']} [{kind(s)}]" + (f" #{it}" if it is not None else ""))
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    return lines


def traces(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        out.setdefault(s["trace_id"], []).append(s)
    return out


def run_trace(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans of the one trace that is not an agent's construction."""
    runs = [t for t in traces(spans).values() if not all(s["name"].startswith("create_agent") for s in t)]
    assert len(runs) == 1, [tree(t) for t in runs]
    return runs[0]


def named(spans: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return sorted((s for s in spans if s["name"] == name), key=start)


def iteration(spans: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """The first iteration span numbered ``n``."""
    return next(s for s in named(spans, "iteration") if s["attributes"]["fivelens.agent.iteration"] == n)


def journal(span: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [
        (e["attributes"]["fivelens.step.kind"], e["attributes"].get("fivelens.step.content"))
        for e in span["events"]
        if e["name"] == "fivelens.agent.step"
    ]


@pytest.fixture
def recorded_ag(recorded: Recorded) -> Iterator[Recorded]:
    recorded.clear()
    yield recorded


@pytest.fixture(autouse=True)
def quiet_model_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # autogen-ext on models it does not know
        yield


def test_round_robin_team_with_openai_clients_is_one_trace_at_the_otlp_receiver(
    llm_server: Any, receiver: Receiver
) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, store="off", schedule_delay_ms=20)
    weather = AssistantAgent(
        "weather", model_client=openai_client(llm_server.url, "tools-once"), tools=[lookup], max_tool_iterations=2
    )
    writer = AssistantAgent("writer", model_client=openai_client(llm_server.url))
    team = RoundRobinGroupChat([weather, writer], termination_condition=MaxMessageTermination(3), name="forecast")

    result = asyncio.run(team.run(task="weather in Paris?"))
    assert result.messages[-1].source == "writer"
    assert fivelens.flush(10)
    spans = receiver.wait_for(12)

    run = run_trace(spans)
    assert tree(run) == [
        "invoke_workflow forecast [internal]",
        "  invoke_agent weather [client]",
        "    iteration [internal] #1",
        f"      chat {MODEL} [client]",
        "      execute_tool lookup [internal]",
        "    iteration [internal] #2",
        f"      chat {MODEL} [client]",
        "  invoke_agent writer [client]",
        "    iteration [internal] #1",
        f"      chat {MODEL} [client]",
    ]
    root = named(run, "invoke_workflow forecast")[0]
    assert root["attributes"]["gen_ai.operation.name"] == "invoke_workflow"
    assert root["attributes"]["gen_ai.workflow.name"] == "forecast"
    assert root["attributes"]["fivelens.framework"] == "autogen"
    assert root["attributes"]["fivelens.agent.iterations"] == 3
    agent = named(run, "invoke_agent weather")[0]
    assert agent["attributes"]["fivelens.framework"] == "autogen"
    assert agent["attributes"]["fivelens.agent.iterations"] == 2
    # The OpenAI SDK's span is the model call: one a call, with usage, under the iteration.
    chats = named(run, f"chat {MODEL}")
    assert len(chats) == 3
    assert all(c["attributes"]["gen_ai.provider.name"] == "openai" for c in chats)
    assert all(c["attributes"]["gen_ai.usage.input_tokens"] > 0 for c in chats)
    assert chats[0]["attributes"]["gen_ai.response.finish_reasons"] == ["tool_calls"]
    tool = named(run, "execute_tool lookup")[0]
    assert tool["attributes"]["gen_ai.tool.call.id"].startswith("call_fake")
    assert json.loads(tool["attributes"]["gen_ai.tool.call.arguments"]) == {"city": "example"}
    assert tool["attributes"]["gen_ai.tool.call.result"] == "sunny in example"
    assert tool["attributes"]["fivelens.framework"] == "autogen"
    # The agents' construction stands apart, linked from the run.
    created = [s for s in spans if s["name"].startswith("create_agent")]
    assert sorted(s["name"] for s in created) == ["create_agent weather", "create_agent writer"]
    assert all(not s["parent_span_id"] for s in created)
    assert {link["span_id"] for link in root["links"]} == {s["span_id"] for s in created}


def test_replay_client_calls_are_chat_spans_and_the_journal_is_on_the_iterations(recorded_ag: Recorded) -> None:
    calc = AssistantAgent(
        "calc",
        model_client=replay(
            tool_call("add", {"a": 1, "b": 2}, "call_1", thought="I will add them."), "1 + 2 = 3", "Still 3."
        ),
        tools=[add],
        max_tool_iterations=2,
    )
    critic = AssistantAgent("critic", model_client=replay(answer("Looks right.")))
    team = RoundRobinGroupChat([calc, critic], termination_condition=MaxMessageTermination(4))

    asyncio.run(team.run(task="What is 1 + 2?"))
    run = run_trace(recorded_ag.spans())
    assert tree(run) == [
        "invoke_workflow RoundRobinGroupChat [internal]",
        "  invoke_agent calc [client]",
        "    iteration [internal] #1",
        "      chat [client]",
        "      execute_tool add [internal]",
        "    iteration [internal] #2",
        "      chat [client]",
        "  invoke_agent critic [client]",
        "    iteration [internal] #1",
        "      chat [client]",
        # The agent's second turn in the run continues its count.
        "  invoke_agent calc [client]",
        "    iteration [internal] #3",
        "      chat [client]",
    ]
    assert named(run, "invoke_workflow RoundRobinGroupChat")[0]["attributes"]["fivelens.agent.iterations"] == 4
    assert [s["attributes"]["fivelens.agent.iterations"] for s in named(run, "invoke_agent calc")] == [2, 1]
    first, second, third, _ = named(run, "chat")
    assert first["attributes"]["gen_ai.provider.name"] == "replay"
    assert first["attributes"]["gen_ai.usage.input_tokens"] == 12
    assert first["attributes"]["gen_ai.usage.output_tokens"] == 6
    assert first["attributes"]["gen_ai.response.finish_reasons"] == ["tool_calls"]
    output = json.loads(first["attributes"]["gen_ai.output.messages"])
    assert output[0]["parts"][1] == {"type": "tool_call", "id": "call_1", "name": "add", "arguments": {"a": 1, "b": 2}}
    assert json.loads(second["attributes"]["gen_ai.input.messages"])[-1]["role"] == "tool"
    assert third["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert "fivelens.usage.estimated" not in third["attributes"]

    it1, it2 = iteration(run, 1), iteration(run, 2)
    assert journal(it1) == [
        ("thought", "I will add them."),
        ("action", '{"tool":"add","arguments":{"a":1,"b":2}}'),
        ("observation", "3"),
    ]
    assert journal(it2) == [("final", "1 + 2 = 3")]
    tool = named(run, "execute_tool add")[0]
    assert tool["attributes"]["gen_ai.tool.call.id"] == "call_1"
    assert tool["attributes"]["gen_ai.tool.call.result"] == "3"
    assert tool["attributes"]["gen_ai.agent.name"] == "calc"
    assert fivelens.status()["internal_errors"] == 0


def test_a_failing_tool_retried_by_the_model_shows_each_attempt(recorded_ag: Recorded) -> None:
    attempts: list[int] = []

    def flaky(city: str) -> str:
        """A weather service that fails once."""
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("weather service down")
        return f"rain in {city}"

    agent = AssistantAgent(
        "weather",
        model_client=replay(
            tool_call("flaky", {"city": "Oslo"}, "c1"),
            tool_call("flaky", {"city": "Oslo"}, "c2", thought="The service failed; trying again."),
            "Rain in Oslo.",
        ),
        tools=[flaky],
        max_tool_iterations=3,
    )
    result = asyncio.run(agent.run(task="Weather in Oslo?"))
    assert result.messages[-1].content == "Rain in Oslo."

    run = run_trace(recorded_ag.spans())
    assert tree(run) == [
        "invoke_agent weather [client]",
        "  iteration [internal] #1",
        "    chat [client]",
        "    execute_tool flaky [internal]",
        "  iteration [internal] #2",
        "    chat [client]",
        "    execute_tool flaky [internal]",
        "  iteration [internal] #3",
        "    chat [client]",
    ]
    failed, retried = named(run, "execute_tool flaky")
    assert failed["status"] == "error"
    assert failed["attributes"]["error.type"] == "ConnectionError"
    assert failed["attributes"]["fivelens.retry.attempt"] == 1
    assert "gen_ai.tool.call.result" not in failed["attributes"]
    assert retried["status"] != "error"
    assert retried["attributes"]["fivelens.retry.attempt"] == 2
    assert retried["attributes"]["fivelens.retry.reason"] == "ConnectionError"
    assert retried["attributes"]["gen_ai.tool.call.result"] == "rain in Oslo"
    assert journal(iteration(run, 1))[-1] == ("observation", "ConnectionError: weather service down")
    assert named(run, "invoke_agent weather")[0]["attributes"]["fivelens.agent.iterations"] == 3


def test_a_runtime_started_by_the_app_outside_any_span_keeps_each_run_in_one_trace(
    llm_server: Any, recorded_ag: Recorded
) -> None:
    async def main() -> None:
        runtime = SingleThreadedAgentRuntime()
        runtime.start()  # outside any span: its queue task has no trace context
        for i in range(2):
            a = AssistantAgent(f"weather{i}", model_client=openai_client(llm_server.url, "tools-once"), tools=[lookup])
            b = AssistantAgent(f"writer{i}", model_client=openai_client(llm_server.url))
            team = RoundRobinGroupChat(
                [a, b], termination_condition=MaxMessageTermination(3), runtime=runtime, name=f"team{i}"
            )
            await team.run(task=f"weather in Paris, {i}?")
        await runtime.stop()

    asyncio.run(main())
    spans = recorded_ag.spans()
    runs = [t for t in traces(spans).values() if not t[0]["name"].startswith("create_agent")]
    assert len(runs) == 2
    for i, run in enumerate(sorted(runs, key=lambda t: min(start(s) for s in t))):
        assert tree(run) == [
            f"invoke_workflow team{i} [internal]",
            f"  invoke_agent weather{i} [client]",
            "    iteration [internal] #1",
            f"      chat {MODEL} [client]",
            "      execute_tool lookup [internal]",
            f"  invoke_agent writer{i} [client]",
            "    iteration [internal] #1",
            f"      chat {MODEL} [client]",
        ]
    # The runtime's messaging spans are not recorded; nothing else stands apart.
    assert not [s for s in spans if s["name"].startswith("autogen ")]
    assert sorted(s["name"] for s in spans if not s["parent_span_id"]) == sorted(
        ["invoke_workflow team0", "invoke_workflow team1"]
        + [f"create_agent {n}{i}" for n in ("weather", "writer") for i in range(2)]
    )


def test_concurrent_team_runs_are_separate_traces(
    llm_server: Any, recorded_ag: Recorded, caplog: pytest.LogCaptureFixture
) -> None:
    def team(i: int, runtime: Any) -> RoundRobinGroupChat:
        a = AssistantAgent(
            "calc", model_client=replay(tool_call("add", {"a": i, "b": 1}, f"c{i}"), f"{i + 1}"), tools=[add]
        )
        b = AssistantAgent("writer", model_client=openai_client(llm_server.url))
        return RoundRobinGroupChat(
            [a, b], termination_condition=MaxMessageTermination(3), runtime=runtime, name=f"team-{i}"
        )

    async def main() -> list[Any]:
        shared = SingleThreadedAgentRuntime()
        shared.start()
        # Half the teams on their own runtime, half on one the app shares between them.
        teams = [team(i, shared if i % 2 else None) for i in range(20)]
        results = await asyncio.gather(*(t.run(task=f"{i} + 1?") for i, t in enumerate(teams)))
        await shared.stop()
        return results

    with caplog.at_level(logging.WARNING):
        results = asyncio.run(main())
    assert [r.messages[-1].source for r in results] == ["writer"] * 20
    assert "different Context" not in caplog.text
    assert "Failed to detach" not in caplog.text
    assert fivelens.status()["internal_errors"] == 0

    runs = [t for t in traces(recorded_ag.spans()).values() if not t[0]["name"].startswith("create_agent")]
    assert len(runs) == 20
    for run in runs:
        lines = tree(run)
        assert lines[1:] == [
            "  invoke_agent calc [client]",
            "    iteration [internal] #1",
            "      chat [client]",
            "      execute_tool add [internal]",
            "  invoke_agent writer [client]",
            "    iteration [internal] #1",
            f"      chat {MODEL} [client]",
        ], lines
        i = int(lines[0].split()[1].split("-")[1])
        tool = named(run, "execute_tool add")[0]
        assert json.loads(tool["attributes"]["gen_ai.tool.call.arguments"]) == {"a": i, "b": 1}


def test_a_lone_agent_run_and_stream_are_rooted_at_its_invoke_agent_span(
    llm_server: Any, recorded_ag: Recorded
) -> None:
    agent = AssistantAgent(
        "solo",
        model_client=openai_client(llm_server.url, "tools-once", stream=True),
        tools=[lookup],
        model_client_stream=True,
        reflect_on_tool_use=True,
    )

    async def main() -> list[Any]:
        return [m async for m in agent.run_stream(task="weather in Rome?")]

    items = asyncio.run(main())
    assert items[-1].messages[-1].content == "echo: weather in Rome?"
    run = run_trace(recorded_ag.spans())
    assert tree(run) == [
        "invoke_agent solo [client]",
        "  iteration [internal] #1",
        f"    chat {MODEL} [client]",
        "    execute_tool lookup [internal]",
        "  iteration [internal] #2",
        f"    chat {MODEL} [client]",
    ]
    for chat in named(run, f"chat {MODEL}"):
        assert chat["attributes"]["gen_ai.request.stream"] is True
        assert chat["attributes"]["gen_ai.usage.output_tokens"] > 0

    # Inside an app's span, the agent's construction and run are under it.
    recorded_ag.clear()
    with fivelens.span("request") as outer:
        asyncio.run(AssistantAgent("solo2", model_client=replay("hi")).run(task="hello"))
    run = run_trace(recorded_ag.spans())
    assert tree(run) == [
        "request [internal]",
        "  create_agent solo2 [client]",
        "  invoke_agent solo2 [client]",
        "    iteration [internal] #1",
        "      chat [client]",
    ]
    assert run[0]["trace_id"] == outer.trace_id


def test_capture_off_keeps_the_tree_and_drops_content() -> None:
    fivelens.instrument(testing=True, store="off", capture_content=False)
    fivelens._native.clear_finished_spans()
    agent = AssistantAgent(
        "calc", model_client=replay(tool_call("add", {"a": 2, "b": 2}, "c1", thought="Adding."), "4"), tools=[add]
    )
    asyncio.run(agent.run(task="2 + 2?"))
    assert fivelens.flush(10)
    run = run_trace(list(fivelens._native.finished_spans()))
    assert [line.strip() for line in tree(run)] == [
        "invoke_agent calc [client]",
        "iteration [internal] #1",
        "chat [client]",
        "execute_tool add [internal]",
    ]
    tool = named(run, "execute_tool add")[0]
    assert "gen_ai.tool.call.arguments" not in tool["attributes"]
    assert "gen_ai.tool.call.result" not in tool["attributes"]
    assert "gen_ai.input.messages" not in named(run, "chat")[0]["attributes"]
    # The journal keeps its steps, without their text.
    assert journal(iteration(run, 1)) == [("thought", None), ("action", None), ("observation", None)]


def test_uninstrument_puts_autogen_back(recorded_ag: Recorded) -> None:
    from autogen_agentchat.agents import _base_chat_agent
    from autogen_agentchat.teams._group_chat._base_group_chat import BaseGroupChat
    from autogen_core import _single_threaded_agent_runtime as runtime
    from autogen_core.tools import BaseTool

    assert getattr(BaseGroupChat.run_stream, "__fivelens__", False)
    assert getattr(ReplayChatCompletionClient.create, "__fivelens__", False)
    fivelens.shutdown(2.0)
    assert not getattr(BaseGroupChat.run_stream, "__fivelens__", False)
    assert not getattr(BaseTool.run_json, "__fivelens__", False)
    assert not getattr(ReplayChatCompletionClient.create, "__fivelens__", False)
    assert not getattr(_base_chat_agent.trace_invoke_agent_span, "__fivelens__", False)
    assert not getattr(runtime.get_telemetry_envelope_metadata, "__fivelens__", False)
    # Still works, unobserved.
    result = asyncio.run(AssistantAgent("plain", model_client=replay("ok")).run(task="hi"))
    assert result.messages[-1].content == "ok"


def test_the_readme_example_runs_and_fivelens_show_prints_its_tree(tmp_path: Any) -> None:
    lines, stderr = run_example("autogen_team.py", tmp_path / "home")
    assert "Warning" not in stderr, stderr
    assert lines[0] == "echo: echo: Weather in Paris?"
    assert lines[2:] == [
        "invoke_workflow forecast",
        "├─ invoke_agent weather",
        "│  ├─ iteration  iteration 1",
        "│  │  ├─ chat gpt-4o-2024-08-06  openai  tokens 23/3  $0.00009",
        "│  │  └─ execute_tool lookup",
        "│  └─ iteration  iteration 2",
        "│     └─ chat gpt-4o-2024-08-06  openai  tokens 26/4  $0.00011",
        "└─ invoke_agent writer",
        "   └─ iteration  iteration 1",
        "      └─ chat gpt-4o-2024-08-06  openai  tokens 27/5  $0.00012",
    ]


def test_enforce_breaker_hands_the_model_the_degraded_message_as_a_tool_error() -> None:
    fivelens.instrument(
        testing=True, store="off", tool_breaker="enforce", tool_breaker_min_calls=2, tool_breaker_error_rate=0.5
    )
    calls: list[str] = []

    def quotes(symbol: str) -> str:
        """A quote service that is down."""
        calls.append(symbol)
        raise ConnectionError("quote service down")

    agent = AssistantAgent(
        "trader",
        model_client=replay(
            tool_call("quotes", {"symbol": "ACME"}, "c1"),
            tool_call("quotes", {"symbol": "ACME"}, "c2"),
            tool_call("quotes", {"symbol": "ACME"}, "c3"),
            "Quotes are unavailable.",
        ),
        tools=[quotes],
        max_tool_iterations=4,
    )
    result = asyncio.run(agent.run(task="Quote ACME"))
    assert calls == ["ACME", "ACME"]  # the third call was not made
    executed = [
        r for m in result.messages if type(m).__name__ == "ToolCallExecutionEvent" for r in getattr(m, "content", [])
    ]
    assert [r.is_error for r in executed] == [True, True, True]
    assert "tool quotes unavailable, degraded mode" in executed[2].content

    assert fivelens.flush(10.0)
    spans = named(fivelens._native.finished_spans(), "execute_tool quotes")
    assert len(spans) == 3
    assert [s["attributes"].get("fivelens.tool.error.category") for s in spans[:2]] == ["unavailable", "unavailable"]
    assert spans[2]["attributes"]["fivelens.tool.breaker.rejected"] is True
    assert spans[2]["attributes"]["error.type"] == "circuit_open"
