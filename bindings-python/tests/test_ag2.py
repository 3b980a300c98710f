"""ag2 1.x, unmodified, under ``instrument()``: every agent turn is an ``invoke_agent`` span with
its iterations, model calls and tools under it; a sub-agent called as a tool runs under the
tool's span, so a two-agent conversation is one trace.

Models are ag2's scripted ``TestConfig`` (fivelens makes the model-call span) and its
``OpenAIConfig`` against the repository's fake OpenAI server (the OpenAI SDK's span is the call).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from ag2 import Agent
from ag2.config.openai import OpenAIConfig
from ag2.events import ToolCallEvent
from ag2.testing import TestConfig

import fivelens
from conftest import Recorded

MODEL = "gpt-4o-2024-08-06"


def kind(s: dict[str, Any]) -> str:
    return str(s["kind"])


def tree(spans: list[dict[str, Any]]) -> list[str]:
    """The span tree as indented lines, ``name [kind]`` plus the iteration number."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_span_id") or None
        children.setdefault(parent if parent in ids else None, []).append(s)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda s: s["start_time"]):
            it = s["attributes"].get("fivelens.agent.iteration")
            lines.append("  " * depth + f"{s['name']} [{kind(s)}]" + (f" #{it}" if it is not None else ""))
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    return lines


def named(spans: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return sorted((s for s in spans if s["name"] == name), key=lambda s: s["start_time"])


def iteration(spans: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """The first iteration span numbered ``n``."""
    return next(s for s in named(spans, "iteration") if s["attributes"]["fivelens.agent.iteration"] == n)


def journal(span: dict[str, Any]) -> list[str]:
    return [e["attributes"]["fivelens.step.kind"] for e in span["events"] if e["name"] == "fivelens.agent.step"]


def call(name: str, args: dict[str, Any], call_id: str) -> ToolCallEvent:
    return ToolCallEvent(name, arguments=json.dumps(args), id=call_id)


@pytest.fixture
def recorded_ag2(recorded: Recorded) -> Iterator[Recorded]:
    recorded.clear()
    yield recorded


def test_two_agents_with_a_retried_tool_are_one_trace(llm_server: Any, recorded_ag2: Recorded) -> None:
    attempts: list[str] = []

    def lookup(city: str) -> str:
        """The weather in a city (the service fails once)."""
        attempts.append(city)
        if len(attempts) == 1:
            raise ConnectionError("weather service down")
        return f"sunny in {city}"

    def forecast(city: str) -> str:
        """Tomorrow's forecast for a city."""
        return f"rain tomorrow in {city}"

    researcher = Agent(
        "researcher",
        config=OpenAIConfig(
            model=MODEL,
            api_key="k",
            base_url=llm_server.url + "/v1",
            max_retries=0,
            default_headers={"x-fake-scenario": "tools-once"},
        ),
        tools=[forecast],
    )
    coordinator = Agent(
        "coordinator",
        config=TestConfig(
            call("lookup", {"city": "Paris"}, "c1"),
            call("lookup", {"city": "Paris"}, "c2"),
            call("task_researcher", {"objective": "forecast for Paris"}, "c3"),
            "Sunny today, rain tomorrow.",
            provider="openai",
            model="scripted-1",
            raise_tool_errors=False,
        ),
        tools=[lookup, researcher.as_tool(description="Researches forecasts.")],
    )

    reply = asyncio.run(coordinator.ask("Weather in Paris?"))
    assert asyncio.run(reply.content()) == "Sunny today, rain tomorrow."

    spans = recorded_ag2.spans()
    assert len({s["trace_id"] for s in spans}) == 1
    assert tree(spans) == [
        "invoke_agent coordinator [internal]",
        "  iteration [internal] #1",
        "    chat scripted-1 [client]",
        "    execute_tool lookup [internal]",
        "  iteration [internal] #2",
        "    chat scripted-1 [client]",
        "    execute_tool lookup [internal]",
        "  iteration [internal] #3",
        "    chat scripted-1 [client]",
        "    execute_tool task_researcher [internal]",
        "      invoke_agent researcher [internal]",
        "        iteration [internal] #1",
        f"          chat {MODEL} [client]",
        "          execute_tool forecast [internal]",
        "        iteration [internal] #2",
        f"          chat {MODEL} [client]",
        "  iteration [internal] #4",
        "    chat scripted-1 [client]",
    ]
    root = named(spans, "invoke_agent coordinator")[0]
    assert root["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert root["attributes"]["fivelens.framework"] == "ag2"
    assert root["attributes"]["fivelens.agent.iterations"] == 4

    failed, retried = named(spans, "execute_tool lookup")
    assert failed["status"] == "error"
    assert failed["attributes"]["error.type"] == "ConnectionError"
    assert failed["attributes"]["fivelens.retry.attempt"] == 1
    assert retried["attributes"]["fivelens.retry.attempt"] == 2
    assert retried["attributes"]["fivelens.retry.reason"] == "ConnectionError"
    assert retried["attributes"]["gen_ai.tool.call.id"] == "c2"
    assert json.loads(retried["attributes"]["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert retried["attributes"]["gen_ai.tool.call.result"] == "sunny in Paris"

    # The scripted model: fivelens's span; the OpenAI client: the SDK's span, under the iteration.
    scripted = named(spans, "chat scripted-1")
    assert all(s["scope"] == "fivelens.ag2" for s in scripted)
    assert scripted[-1]["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    sdk = named(spans, f"chat {MODEL}")
    assert all(s["scope"] == "fivelens.openai" for s in sdk)
    assert sdk[0]["attributes"]["gen_ai.usage.input_tokens"] > 0
    forecast_span = named(spans, "execute_tool forecast")[0]
    assert forecast_span["attributes"]["gen_ai.tool.call.result"] == "rain tomorrow in example"

    assert journal(iteration(spans, 1)) == ["action", "observation"]
    assert journal(iteration(spans, 4)) == ["final"]
    assert fivelens.status()["internal_errors"] == 0


def test_concurrent_asks_are_separate_traces(recorded_ag2: Recorded, caplog: pytest.LogCaptureFixture) -> None:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    agents = [
        Agent(
            f"calc{i}",
            config=TestConfig(call("add", {"a": i, "b": 1}, f"c{i}"), f"{i + 1}", provider="openai", model="m"),
            tools=[add],
        )
        for i in range(20)
    ]

    async def main() -> list[Any]:
        replies = await asyncio.gather(*(a.ask(f"{i} + 1?") for i, a in enumerate(agents)))
        return [await r.content() for r in replies]

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(main()) == [f"{i + 1}" for i in range(20)]
    assert "different Context" not in caplog.text

    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in recorded_ag2.spans():
        by_trace.setdefault(s["trace_id"], []).append(s)
    assert len(by_trace) == 20
    for spans in by_trace.values():
        lines = tree(spans)
        assert lines[1:] == [
            "  iteration [internal] #1",
            "    chat m [client]",
            "    execute_tool add [internal]",
            "  iteration [internal] #2",
            "    chat m [client]",
        ], lines
        i = int(lines[0].split()[1][len("calc") :])
        tool = named(spans, "execute_tool add")[0]
        assert json.loads(tool["attributes"]["gen_ai.tool.call.arguments"]) == {"a": i, "b": 1}


def test_enforce_breaker_returns_a_tool_error_event_with_the_degraded_message() -> None:
    fivelens.instrument(
        testing=True, store="off", tool_breaker="enforce", tool_breaker_min_calls=2, tool_breaker_error_rate=0.5
    )
    sent: list[str] = []

    def quotes(symbol: str) -> str:
        """A quote service that is down."""
        sent.append(symbol)
        raise ConnectionError("quote service down")

    agent = Agent(
        "trader",
        config=TestConfig(
            call("quotes", {"symbol": "ACME"}, "c1"),
            call("quotes", {"symbol": "ACME"}, "c2"),
            call("quotes", {"symbol": "ACME"}, "c3"),
            "Quotes are unavailable.",
            provider="openai",
            model="scripted-1",
            raise_tool_errors=False,
        ),
        tools=[quotes],
    )
    reply = asyncio.run(agent.ask("Quote ACME"))
    assert asyncio.run(reply.content()) == "Quotes are unavailable."
    assert sent == ["ACME", "ACME"]
    assert fivelens.flush(10.0)
    spans = named(fivelens._native.finished_spans(), "execute_tool quotes")
    assert len(spans) == 3
    rejected = spans[2]["attributes"]
    assert rejected["fivelens.tool.breaker.rejected"] is True
    assert rejected["gen_ai.tool.call.result"].startswith("tool quotes unavailable, degraded mode")
