"""CrewAI, unmodified, under ``instrument()``: a crew run is one trace (crew -> task -> agent ->
iteration -> the OpenAI SDK's ``chat`` span and ``execute_tool`` spans), built from CrewAI's event
bus, with CrewAI's LLM events adding no span of their own.

CrewAI pins openai<3, so this runs in the openai 2.x virtualenv (``make test-python-openai2``);
elsewhere it is skipped. Models are CrewAI's native OpenAI provider against the repository's fake
OpenAI server, or a small scripted server in this file (for a tool that fails and is retried).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# CrewAI reads these at import: no telemetry, no hosted tracing, storage in a scratch folder.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_DISABLE_TRACKING", "true")
os.environ.setdefault("CREWAI_STORAGE_DIR", tempfile.mkdtemp(prefix="fivelens-crewai-"))

crewai = pytest.importorskip("crewai")

import httpx  # noqa: E402
from crewai import LLM, Agent, Crew, Process, Task  # noqa: E402
from crewai.events import crewai_event_bus  # noqa: E402
from crewai.tools import tool  # noqa: E402
from opentelemetry import trace  # noqa: E402

import fivelens  # noqa: E402
from conftest import Recorded, run_example  # noqa: E402


def tree(spans: list[dict[str, Any]]) -> list[str]:
    """The span tree as indented lines: ``name [kind]`` (plus the iteration), children in start order."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_span_id")
        children.setdefault(parent if parent in ids else None, []).append(s)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda s: s["start_time"]):
            it = s["attributes"].get("fivelens.agent.iteration")
            suffix = f" #{it}" if s["name"] == "iteration" else ""
            lines.append("  " * depth + f"{s['name']}{suffix} [{s['kind']}]")
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    return lines


def traces(spans: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The spans grouped by trace, traces in the order their first span started."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in sorted(spans, key=lambda s: s["start_time"]):
        by_trace.setdefault(s["trace_id"], []).append(s)
    return list(by_trace.values())


def named(spans: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["name"] == name]


def by_id(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["span_id"]: s for s in spans}


@pytest.fixture
def recorded_crew(recorded: Recorded) -> Iterator[Recorded]:
    recorded.clear()
    yield recorded
    crewai_event_bus.flush()


def finished(recorded: Recorded) -> list[dict[str, Any]]:
    assert crewai_event_bus.flush(10.0)
    return recorded.spans()


# The tree of one run of the weather crew (`weather_crew` below).
CREW_TREE = [
    "invoke_workflow weather crew [internal]",
    "  task research [internal]",
    "    invoke_agent Researcher [internal]",
    "      iteration #1 [internal]",
    "        chat gpt-4o-mini [client]",
    "        execute_tool lookup_weather [internal]",
    "      iteration #2 [internal]",
    "        chat gpt-4o-mini [client]",
    "  task write [internal]",
    "    invoke_agent Writer [internal]",
    "      iteration #1 [internal]",
    "        chat gpt-4o-mini [client]",
]


def fake_llm(base_url: str, scenario: str | None = None, model: str = "openai/gpt-4o-mini") -> LLM:
    """CrewAI's LLM against a local server (``scenario``: the fake OpenAI server's script)."""
    extra: dict[str, Any] = {"default_headers": {"x-fake-scenario": scenario}} if scenario else {}
    return LLM(model=model, base_url=base_url, api_key="x", max_retries=0, **extra)


@tool("lookup_weather")
def lookup_weather(city: str) -> str:
    """Look up the weather of a city."""
    return f"sunny in {city}"


def test_two_agent_crew_is_one_trace_with_iterations(recorded_crew: Recorded, llm_server: Any) -> None:
    # The researcher's model calls its tool once, then answers; the writer's model just answers.
    crew = weather_crew(llm_server, city="Paris")

    with fivelens.span("user request"):
        result = crew.kickoff()
    assert str(result).startswith("echo: ")

    spans = finished(recorded_crew)
    assert tree(spans) == ["user request [internal]", *("  " + line for line in CREW_TREE)]
    assert len({s["trace_id"] for s in spans}) == 1

    crew_span = named(spans, "invoke_workflow weather crew")[0]
    ca = crew_span["attributes"]
    assert ca["gen_ai.operation.name"] == "invoke_workflow"
    assert ca["gen_ai.workflow.name"] == "weather crew"
    assert ca["fivelens.framework"] == "crewai"
    assert ca["fivelens.framework.run_type"] == "crew"

    researcher_span = named(spans, "invoke_agent Researcher")[0]
    ra = researcher_span["attributes"]
    assert ra["gen_ai.operation.name"] == "invoke_agent"
    assert ra["gen_ai.agent.name"] == "Researcher"
    assert ra["fivelens.agent.iterations"] == 2
    assert named(spans, "invoke_agent Writer")[0]["attributes"]["fivelens.agent.iterations"] == 1

    # One model call, one span: the OpenAI SDK's; CrewAI's LLM events add none.
    chats = named(spans, "chat gpt-4o-mini")
    assert len(chats) == 3
    assert len(llm_server.requests()) >= 3
    ids = by_id(spans)
    for chat in chats:
        assert chat["scope"] == "fivelens.openai"
        assert chat["kind"] == "client"
        assert ids[chat["parent_span_id"]]["name"] == "iteration"
    assert [s["scope"] for s in spans if s["kind"] == "client"] == ["fivelens.openai"] * 3
    first_chat = min(chats, key=lambda s: s["start_time"])
    assert first_chat["attributes"]["gen_ai.response.finish_reasons"] == ["tool_calls"]

    iterations = sorted(
        (s for s in spans if s["name"] == "iteration" and s["parent_span_id"] == researcher_span["span_id"]),
        key=lambda s: s["start_time"],
    )
    assert [s["attributes"]["fivelens.agent.iteration"] for s in iterations] == [1, 2]
    assert all(s["attributes"]["gen_ai.agent.name"] == "Researcher" for s in iterations)
    assert iterations[0]["end_time"] <= iterations[1]["start_time"]

    tool_span = named(spans, "execute_tool lookup_weather")[0]
    ta = tool_span["attributes"]
    assert tool_span["parent_span_id"] == iterations[0]["span_id"]
    assert ta["gen_ai.operation.name"] == "execute_tool"
    assert ta["gen_ai.tool.name"] == "lookup_weather"
    assert ta["gen_ai.agent.name"] == "Researcher"
    assert json.loads(ta["gen_ai.tool.call.arguments"]) == {"city": tool_span_city(ta)}
    assert ta["gen_ai.tool.call.result"].startswith("sunny in ")
    assert "fivelens.retry.attempt" not in ta
    assert tool_span["status"] != "error"

    # The reasoning journal on the iteration spans: the chosen tool, what it returned, the answer.
    steps = [
        (e["attributes"]["fivelens.step.kind"], e["attributes"].get("gen_ai.tool.name"))
        for e in iterations[0]["events"]
        if e["name"] == "fivelens.agent.step"
    ]
    assert sorted(steps) == [("action", "lookup_weather"), ("observation", "lookup_weather")]
    final = [e for e in iterations[1]["events"] if e["name"] == "fivelens.agent.step"]
    assert [e["attributes"]["fivelens.step.kind"] for e in final] == ["final"]
    assert final[0]["attributes"]["fivelens.step.content"].startswith("echo: ")

    # Children inside their parents in time (spans carry the events' timestamps).
    for s in spans:
        parent = ids.get(s["parent_span_id"])
        if parent is not None:
            assert parent["start_time"] <= s["start_time"] <= s["end_time"] <= parent["end_time"], s["name"]


def tool_span_city(attributes: dict[str, Any]) -> Any:
    return json.loads(attributes["gen_ai.tool.call.arguments"])["city"]


# ---- a tool that fails and is retried (a scripted OpenAI server) -------------------------------


class LocalServer:
    """An HTTP server on 127.0.0.1 in a daemon thread (``url``: its address and ``path``)."""

    def serve(self, handler: type[BaseHTTPRequestHandler], path: str) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ScriptedOpenAI(LocalServer):
    """Answers ``/v1/chat/completions`` with the next scripted assistant message."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                message = outer.script[min(outer.calls, len(outer.script) - 1)]
                outer.calls += 1
                finish = "tool_calls" if message.get("tool_calls") else "stop"
                body = json.dumps(
                    {
                        "id": f"chatcmpl-scripted{outer.calls}",
                        "object": "chat.completion",
                        "created": 1767225600,
                        "model": "gpt-4o-mini-2026-01-01",
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler, "/v1")


def tool_call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}],
    }


def test_failing_tool_is_an_error_and_its_retry_is_counted(recorded_crew: Recorded) -> None:
    attempts: list[str] = []

    @tool("flaky_lookup")
    def flaky_lookup(city: str) -> str:
        """Look up a city; the first attempt fails."""
        attempts.append(city)
        with fivelens.span("weather backend"):
            if len(attempts) == 1:
                raise ConnectionError("weather service unreachable")
            return f"rainy in {city}"

    server = ScriptedOpenAI(
        [
            tool_call("call-1", "flaky_lookup", {"city": "Oslo"}),
            tool_call("call-2", "flaky_lookup", {"city": "Oslo"}),
            {"role": "assistant", "content": "It is rainy in Oslo."},
        ]
    )
    try:
        llm = fake_llm(server.url)
        agent = Agent(
            role="Forecaster", goal="Report the weather", backstory="A forecaster.", llm=llm, tools=[flaky_lookup]
        )
        task = Task(
            name="forecast", description="Report the weather in Oslo.", expected_output="The weather.", agent=agent
        )
        crew = Crew(name="forecast crew", agents=[agent], tasks=[task], process=Process.sequential)
        result = crew.kickoff()
    finally:
        server.stop()
    assert str(result) == "It is rainy in Oslo."
    assert attempts == ["Oslo", "Oslo"]

    spans = finished(recorded_crew)
    assert tree(spans) == [
        "invoke_workflow forecast crew [internal]",
        "  task forecast [internal]",
        "    invoke_agent Forecaster [internal]",
        "      iteration #1 [internal]",
        "        chat gpt-4o-mini [client]",
        "        execute_tool flaky_lookup [internal]",
        "          weather backend [internal]",
        "      iteration #2 [internal]",
        "        chat gpt-4o-mini [client]",
        "        execute_tool flaky_lookup [internal]",
        "          weather backend [internal]",
        "      iteration #3 [internal]",
        "        chat gpt-4o-mini [client]",
    ]
    assert len({s["trace_id"] for s in spans}) == 1
    assert named(spans, "invoke_agent Forecaster")[0]["attributes"]["fivelens.agent.iterations"] == 3

    first, second = sorted(named(spans, "execute_tool flaky_lookup"), key=lambda s: s["start_time"])
    assert first["status"] == "error"
    assert first["attributes"]["error.type"] == "ConnectionError"
    assert "fivelens.retry.attempt" not in first["attributes"]
    assert second["status"] != "error"
    assert "error.type" not in second["attributes"]
    assert second["attributes"]["fivelens.retry.attempt"] == 2
    assert second["attributes"]["fivelens.retry.reason"] == "ConnectionError"
    assert second["attributes"]["gen_ai.tool.call.result"] == "rainy in Oslo"
    # The tool's own spans are under each attempt's span, the failed one failed with it.
    failed_backend, backend = sorted(named(spans, "weather backend"), key=lambda s: s["start_time"])
    assert failed_backend["parent_span_id"] == first["span_id"]
    assert failed_backend["status"] == "error"
    assert backend["parent_span_id"] == second["span_id"]
    assert backend["status"] != "error"


def test_enforce_breaker_gives_the_agent_the_degraded_message_instead_of_retrying(llm_server: Any) -> None:
    """A runaway CrewAI agent (the fake model calls its tool after every result, until a result
    says ``degraded mode``) with a tool failing 30% of the time. With the breaker in enforce mode
    (default thresholds: 10% errors over at least 20 calls), the 24th call is not made: the
    agent reads CrewAI's failure message with the degraded-mode text and answers."""
    fivelens.instrument(store="off", testing=True, service_name="crew-tests", tool_breaker="enforce")
    fivelens._native.clear_finished_spans()
    executions: list[int] = []

    @tool("stock_price")
    def stock_price(symbol: str) -> str:
        """The stock price of a symbol."""
        executions.append(len(executions) + 1)
        if len(executions) % 10 in (3, 6, 9):
            raise ConnectionError(f"quote backend unreachable (call {len(executions)})")
        return f"{symbol} is at {len(executions)}.5"

    llm = fake_llm(llm_server.url + "/v1", "tools-until-degraded")
    agent = Agent(
        role="Trader",
        goal="Quote ACME",
        backstory="A trader.",
        llm=llm,
        tools=[stock_price],
        max_iter=100,
        cache=False,
    )
    task = Task(name="quote", description="Quote ACME.", expected_output="A price.", agent=agent)
    crew = Crew(name="trading crew", agents=[agent], tasks=[task], process=Process.sequential, cache=False)
    result = crew.kickoff()
    assert str(result).startswith("echo: ")
    assert len(executions) == 23

    spans = finished(Recorded())
    calls = sorted(named(spans, "execute_tool stock_price"), key=lambda s: s["start_time"])
    assert len(calls) == 24
    failed = [s for s in calls[:23] if s["status"] == "error"]
    assert len(failed) == 7
    assert {s["attributes"]["fivelens.tool.error.category"] for s in failed} == {"unavailable"}
    opened = [e for e in calls[22]["events"] if e["name"] == "fivelens.tool.breaker.state_change"]
    assert [e["attributes"]["fivelens.breaker.to"] for e in opened] == ["open"]
    last = calls[23]["attributes"]
    assert last["fivelens.tool.breaker.rejected"] is True
    assert last["error.type"] == "circuit_open"
    assert last["gen_ai.tool.call.result"].startswith("tool stock_price unavailable, degraded mode")
    # The model was told: its last request carries the degraded-mode message as the tool result.
    requests = [r for r in llm_server.requests() if r["path"].endswith("/chat/completions")]
    tool_results = [m for m in requests[-1]["body"]["messages"] if m.get("role") == "tool"]
    assert "degraded mode" in str(tool_results[-1]["content"])


# ---- the other ways to run a crew, and an agent without a crew ---------------------------------


def weather_crew(llm_server: Any, city: str = "{city}") -> Crew:
    """Two agents: the researcher's model calls its tool once, then answers; the writer's model
    just answers. The research task is about ``city`` (by default a ``{city}`` kickoff input)."""
    base = llm_server.url + "/v1"
    tool_llm = fake_llm(base, "tools-once")
    plain_llm = fake_llm(base)
    researcher = Agent(
        role="Researcher", goal="Find the weather", backstory="A meteorologist.", llm=tool_llm, tools=[lookup_weather]
    )
    writer = Agent(role="Writer", goal="Write one sentence", backstory="A writer.", llm=plain_llm)
    research = Task(
        name="research", description=f"Find the weather in {city}.", expected_output="The weather.", agent=researcher
    )
    write = Task(name="write", description="Write a sentence about it.", expected_output="A sentence.", agent=writer)
    return Crew(name="weather crew", agents=[researcher, writer], tasks=[research, write], process=Process.sequential)


def check_agent_run(spans: list[dict[str, Any]], role: str, iterations: int) -> None:
    """The agent's span and its iterations: numbered from 1 in order, one model call each (the
    OpenAI SDK's span), one after the other in time."""
    ids = by_id(spans)
    (agent,) = named(spans, f"invoke_agent {role}")
    assert agent["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert agent["attributes"]["gen_ai.agent.name"] == role
    assert agent["attributes"]["fivelens.framework"] == "crewai"
    assert agent["attributes"]["fivelens.agent.iterations"] == iterations
    steps = sorted(
        (s for s in spans if s["name"] == "iteration" and s["parent_span_id"] == agent["span_id"]),
        key=lambda s: s["start_time"],
    )
    assert [s["attributes"]["fivelens.agent.iteration"] for s in steps] == list(range(1, iterations + 1))
    assert all(s["attributes"]["gen_ai.agent.name"] == role for s in steps)
    for earlier, later in itertools.pairwise(steps):
        assert earlier["end_time"] <= later["start_time"]
    chats = [s for s in spans if s["kind"] == "client" and ids[s["parent_span_id"]] in steps]
    assert len(chats) == iterations
    assert {s["scope"] for s in chats} == {"fivelens.openai"}
    for s in spans:
        parent = ids.get(s["parent_span_id"])
        if parent is not None:
            assert parent["start_time"] <= s["start_time"] <= s["end_time"] <= parent["end_time"], s["name"]


@pytest.mark.parametrize("method", ["kickoff_async", "akickoff"])
def test_async_crew_kickoff_is_one_trace_with_iterations(method: str, recorded_crew: Recorded, llm_server: Any) -> None:
    crew = weather_crew(llm_server)

    async def run() -> Any:
        with fivelens.span("user request"):
            return await getattr(crew, method)(inputs={"city": "Paris"})

    result = asyncio.run(run())
    assert str(result).startswith("echo: ")

    spans = finished(recorded_crew)
    assert tree(spans) == ["user request [internal]"] + ["  " + line for line in CREW_TREE]
    assert len({s["trace_id"] for s in spans}) == 1
    check_agent_run(spans, "Researcher", 2)
    check_agent_run(spans, "Writer", 1)
    (tool_span,) = named(spans, "execute_tool lookup_weather")
    assert by_id(spans)[tool_span["parent_span_id"]]["attributes"]["fivelens.agent.iteration"] == 1


@pytest.mark.parametrize("method", ["kickoff_for_each", "kickoff_for_each_async", "akickoff_for_each"])
def test_kickoff_for_each_is_one_trace_per_input(method: str, recorded_crew: Recorded, llm_server: Any) -> None:
    crew = weather_crew(llm_server)
    inputs = [{"city": "Paris"}, {"city": "Oslo"}]
    run = getattr(crew, method)
    results = run(inputs=inputs) if method == "kickoff_for_each" else asyncio.run(run(inputs=inputs))
    assert len(results) == 2

    spans = finished(recorded_crew)
    runs = traces(spans)
    assert len(runs) == 2
    for one in runs:
        assert tree(one) == CREW_TREE
        check_agent_run(one, "Researcher", 2)
        check_agent_run(one, "Writer", 1)
    # Each trace is one input's run: its researcher's first model call asked about its city.
    cities = []
    for one in runs:
        first = min((s for s in one if s["kind"] == "client"), key=lambda s: s["start_time"])
        asked = first["attributes"]["gen_ai.input.messages"]
        cities.append([city for city in ("Paris", "Oslo") if city in asked])
    assert sorted(cities) == [["Oslo"], ["Paris"]]


@pytest.mark.parametrize("method", ["kickoff", "kickoff_async", "akickoff"])
def test_agent_kickoff_without_a_crew_is_one_trace_with_iterations(
    method: str, recorded_crew: Recorded, llm_server: Any
) -> None:
    researcher = weather_crew(llm_server).agents[0]

    def run() -> Any:
        with fivelens.span("user request"):
            if method == "kickoff":
                return researcher.kickoff("What is the weather in Paris?")

            async def main() -> Any:
                return await getattr(researcher, method)("What is the weather in Paris?")

            return asyncio.run(main())

    result = run()
    assert result.raw.startswith("echo: ")

    spans = finished(recorded_crew)
    assert tree(spans) == [
        "user request [internal]",
        "  invoke_agent Researcher [internal]",
        "    iteration #1 [internal]",
        "      chat gpt-4o-mini [client]",
        "      execute_tool lookup_weather [internal]",
        "    iteration #2 [internal]",
        "      chat gpt-4o-mini [client]",
    ]
    assert len({s["trace_id"] for s in spans}) == 1
    check_agent_run(spans, "Researcher", 2)
    (agent,) = named(spans, "invoke_agent Researcher")
    assert agent["attributes"]["fivelens.framework.run_type"] == "agent"
    assert agent["attributes"]["gen_ai.agent.description"] == "Find the weather"
    assert agent["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
    (tool_span,) = named(spans, "execute_tool lookup_weather")
    assert tool_span["attributes"]["gen_ai.tool.call.result"].startswith("sunny in ")
    steps = [e["attributes"]["fivelens.step.kind"] for e in by_id(spans)[tool_span["parent_span_id"]]["events"]]
    assert sorted(steps) == ["action", "observation"]


def test_fivelens_flush_waits_for_the_handlers_crewai_still_has_queued(
    recorded_crew: Recorded, llm_server: Any
) -> None:
    """The crew's spans end in CrewAI's handler threads, possibly after ``kickoff`` returned (here
    another listener of the end events is slow): ``fivelens.flush()`` alone, with no call into
    CrewAI, still sees the whole run."""
    from crewai.events.types.crew_events import CrewKickoffCompletedEvent
    from crewai.events.types.task_events import TaskCompletedEvent

    def slow_listener(source: Any, event: Any) -> None:
        time.sleep(0.3)

    for event_type in (TaskCompletedEvent, CrewKickoffCompletedEvent):
        crewai_event_bus.on(event_type)(slow_listener)
    try:
        weather_crew(llm_server).kickoff(inputs={"city": "Paris"})
        assert fivelens.flush(10.0)
        spans = list(fivelens._native.finished_spans())
    finally:
        for event_type in (TaskCompletedEvent, CrewKickoffCompletedEvent):
            crewai_event_bus.off(event_type, slow_listener)
    assert tree(spans) == CREW_TREE
    assert len({s["trace_id"] for s in spans}) == 1


# ---- spans opened inside a tool's body ---------------------------------------------------------


class WeatherService(LocalServer):
    """A local HTTP service (127.0.0.1) that a tool calls; records the traceparent it receives."""

    def __init__(self) -> None:
        self.traceparents: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.traceparents.append(self.headers.get("traceparent"))
                body = b"12 C and sunny"
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler, "/weather")


def weather_tool(service: WeatherService) -> Any:
    """A tool that opens its own span, calls the service through httpx inside it, then opens an
    OpenTelemetry span."""

    @tool("fetch_weather")
    def fetch_weather(city: str) -> str:
        """Fetch the weather of a city from the weather service."""
        with fivelens.span("lookup", city=city):
            text = httpx.get(service.url, params={"city": city}).text
        with trace.get_tracer("weather-app").start_as_current_span("parse"):
            return f"{text} in {city}"

    return fetch_weather


def react_llm(server: ScriptedOpenAI) -> LLM:
    """A model CrewAI calls tools with in text (ReAct), through ``CrewStructuredTool.invoke``:
    CrewAI gives o1 models no native tool calling."""
    return fake_llm(server.url, model="openai/o1-mini")


@pytest.mark.parametrize("mode", ["native", "text", "agent"])
def test_spans_opened_in_a_tool_nest_under_its_tool_span(mode: str, recorded_crew: Recorded, llm_server: Any) -> None:
    """A tool that opens its own span, makes an HTTP call through an instrumented client inside
    it, then opens an OpenTelemetry span: all of them under the tool's ``execute_tool`` span (not
    the iteration's), one tool span per call, and the service sees the HTTP span's traceparent.
    Modes: native tool calling in a crew, text (ReAct) tool calling in a crew, an agent alone."""
    service = WeatherService()
    fetch_weather = weather_tool(service)
    scripted = ScriptedOpenAI(
        [
            {
                "role": "assistant",
                "content": 'Thought: I need the weather.\nAction: fetch_weather\nAction Input: {"city": "Paris"}',
            },
            {"role": "assistant", "content": "Thought: I know it.\nFinal Answer: 12 C and sunny in Paris"},
        ]
    )
    try:
        if mode == "text":
            llm = react_llm(scripted)
        else:
            llm = fake_llm(llm_server.url + "/v1", "tools-once")
        agent = Agent(
            role="Forecaster", goal="Report the weather", backstory="A forecaster.", llm=llm, tools=[fetch_weather]
        )
        if mode == "agent":
            agent.kickoff("What is the weather in Paris?")
        else:
            task = Task(name="forecast", description="Report the weather in Paris.", expected_output="It.", agent=agent)
            Crew(name="forecast crew", agents=[agent], tasks=[task], process=Process.sequential).kickoff()
    finally:
        scripted.stop()
        service.stop()

    spans = finished(recorded_crew)
    model = "o1-mini" if mode == "text" else "gpt-4o-mini"
    agent_part = [
        "invoke_agent Forecaster [internal]",
        "  iteration #1 [internal]",
        f"    chat {model} [client]",
        "    execute_tool fetch_weather [internal]",
        "      lookup [internal]",
        "        GET [client]",
        "      parse [internal]",
        "  iteration #2 [internal]",
        f"    chat {model} [client]",
    ]
    if mode == "agent":
        assert tree(spans) == agent_part
    else:
        assert tree(spans) == [
            "invoke_workflow forecast crew [internal]",
            "  task forecast [internal]",
        ] + ["    " + line for line in agent_part]
    assert len({s["trace_id"] for s in spans}) == 1

    ids = by_id(spans)
    (tool_span,) = named(spans, "execute_tool fetch_weather")
    (lookup,) = named(spans, "lookup")
    (get,) = named(spans, "GET")
    (parse,) = named(spans, "parse")
    assert ids[tool_span["parent_span_id"]]["name"] == "iteration"
    assert lookup["parent_span_id"] == tool_span["span_id"]
    assert parse["parent_span_id"] == tool_span["span_id"]
    assert get["parent_span_id"] == lookup["span_id"]
    assert get["scope"] == "fivelens.http.client"
    assert parse["scope"] == "weather-app"
    assert service.traceparents == [f"00-{get['trace_id']}-{get['span_id']}-01"]
    assert (
        tool_span["attributes"]["gen_ai.tool.call.result"]
        == f"12 C and sunny in {tool_span_city(tool_span['attributes'])}"
    )
    assert tool_span["status"] != "error"
    assert tool_span["start_time"] <= lookup["start_time"] <= parse["end_time"] <= tool_span["end_time"]


# ---- the README example ------------------------------------------------------------------------


def test_the_readme_example_runs_and_fivelens_show_prints_its_tree(tmp_path: Any) -> None:
    lines, _ = run_example("crewai_crew.py", tmp_path / "home")
    assert lines[0] == "echo: Current Task: Write a one-line forecast. This is [...]"
    assert lines[1].startswith("trace ") and "invoke_workflow weather crew" in lines[1] and "12 spans" in lines[1]
    assert lines[2:] == [
        "invoke_workflow weather crew",
        "├─ task research",
        "│  └─ invoke_agent Researcher",
        "│     ├─ iteration  iteration 1",
        "│     │  ├─ chat gpt-4o-mini  openai  tokens 44/3  $0.00001",
        "│     │  └─ execute_tool lookup_weather",
        "│     └─ iteration  iteration 2",
        "│        └─ chat gpt-4o-mini  openai  tokens 47/33  $0.00003",
        "└─ task write",
        "   └─ invoke_agent Writer",
        "      └─ iteration  iteration 1",
        "         └─ chat gpt-4o-mini  openai  tokens 87/36  $0.00003",
    ]


def test_parallel_tool_calls_keep_their_own_spans(recorded_crew: Recorded) -> None:
    """The model asks for two tool calls at once: CrewAI runs them in parallel threads; each
    call's own spans are under its own ``execute_tool`` span."""
    service = WeatherService()
    fetch_weather = weather_tool(service)
    calls = tool_call("call-1", "fetch_weather", {"city": "Paris"})
    calls["tool_calls"] += tool_call("call-2", "fetch_weather", {"city": "Oslo"})["tool_calls"]
    scripted = ScriptedOpenAI([calls, {"role": "assistant", "content": "Sunny in both."}])
    try:
        llm = fake_llm(scripted.url)
        agent = Agent(
            role="Forecaster", goal="Report the weather", backstory="A forecaster.", llm=llm, tools=[fetch_weather]
        )
        result = agent.kickoff("What is the weather in Paris and Oslo?")
    finally:
        scripted.stop()
        service.stop()
    assert result.raw == "Sunny in both."

    spans = finished(recorded_crew)
    tool_part = [
        "    execute_tool fetch_weather [internal]",
        "      lookup [internal]",
        "        GET [client]",
        "      parse [internal]",
    ]
    assert tree(spans) == [
        "invoke_agent Forecaster [internal]",
        "  iteration #1 [internal]",
        "    chat gpt-4o-mini [client]",
        *tool_part,
        *tool_part,
        "  iteration #2 [internal]",
        "    chat gpt-4o-mini [client]",
    ]
    assert len({s["trace_id"] for s in spans}) == 1
    tools = {tool_span_city(s["attributes"]): s for s in named(spans, "execute_tool fetch_weather")}
    assert sorted(tools) == ["Oslo", "Paris"]
    for lookup in named(spans, "lookup"):
        assert lookup["parent_span_id"] == tools[lookup["attributes"]["city"]]["span_id"]
    assert sorted(s["parent_span_id"] for s in named(spans, "parse")) == sorted(s["span_id"] for s in tools.values())
