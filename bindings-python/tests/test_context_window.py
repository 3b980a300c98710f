"""The context window as the unit of analysis: every model call's tokens by section, the model's
window and the fill, growth across a conversation's turns, the 80% alert, tiers, retrieval and
verification spans, the synchronous check, and ``fivelens stats``.

Real SDKs (OpenAI, Anthropic, LangChain/LangGraph) against the repository's fake server, whose
prompt tokens are the words of every message; spans and metrics asserted where they are exported
(the OTLP receiver), or in testing mode after the core's processing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, TypedDict

import anthropic
import openai
import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

import fivelens
from conftest import Receiver, Recorded

SECTIONS = ("system", "tools", "history", "tool_results", "user_input")


def sections(attributes: dict[str, Any]) -> dict[str, int]:
    return {s: attributes[f"fivelens.context.tokens.{s}"] for s in SECTIONS}


def words(messages: list[dict[str, Any]]) -> int:
    """The fake server's prompt tokens: the words of every message."""
    return sum(len(str(m["content"]).split()) for m in messages)


def oa(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city today.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_fifty_iteration_agent_crosses_80_percent_at_the_predicted_turn_once(
    llm_server: Any, receiver: Receiver
) -> None:
    window = 3000
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint,
        context_limits=[
            {"provider": "openai", "model": "gpt-4o-mini", "context_window": window, "max_output_tokens": 500}
        ],
    )
    client = oa(llm_server)
    messages: list[dict[str, Any]] = [{"role": "system", "content": " ".join(f"rule{i}" for i in range(50))}]
    reported: list[int] = []
    with fivelens.context(session_id="agent-loop-1"):
        for i in range(50):
            # 30 words, short enough for the fake's echo (cut at 200 characters) to keep them all.
            messages.append({"role": "user", "content": f"step {i} " + " ".join(["w"] * 28)})
            result = client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
            assert result.usage is not None
            reported.append(result.usage.prompt_tokens)
            assert result.usage.prompt_tokens == words(messages)
            messages.append({"role": "assistant", "content": result.choices[0].message.content})
    # The history grows by a user message (30 words) and an answer (31) per turn: predicted from
    # the requests alone, the first turn at 80% of the window.
    predicted = next(i + 1 for i, n in enumerate(reported) if n >= 0.8 * window)
    assert predicted == 40

    assert fivelens.flush(10.0)
    spans = sorted(
        (s for s in receiver.wait_for(50) if s["attributes"].get("gen_ai.operation.name") == "chat"),
        key=lambda s: s["attributes"]["fivelens.context.turn"],
    )
    assert len(spans) == 50
    alerted = []
    for turn, span in enumerate(spans, start=1):
        a = span["attributes"]
        assert a["fivelens.context.turn"] == turn
        assert a["session.id"] == "agent-loop-1"
        tokens = reported[turn - 1]
        assert a["fivelens.context.input_tokens"] == tokens
        assert sum(sections(a).values()) == tokens, "the sections sum to the provider's count"
        assert a["fivelens.context.window"] == window
        assert a["fivelens.context.max_output_tokens"] == 500
        assert a["fivelens.context.fill"] == pytest.approx(tokens / window)
        if turn > 1:
            assert a["fivelens.context.growth"] == 61
            assert a["fivelens.context.growth_rate"] == pytest.approx(61.0)
            assert a["fivelens.context.turns_left"] == max(0, window - tokens) // 61
            assert sections(a)["history"] > 0
        events = [e for e in span["events"] if e["name"] == "fivelens.context.threshold_crossed"]
        if events:
            alerted.append(turn)
            assert a["fivelens.context.alert"] is True
            assert events[0]["attributes"]["fivelens.context.threshold"] == 0.8
            assert events[0]["attributes"]["fivelens.context.turn"] == turn
        else:
            assert "fivelens.context.alert" not in a
    assert alerted == [predicted], "exactly one alert, at the predicted turn"

    points = receiver._call("GET", "/metrics")
    alerts = [p for p in points if p["name"] == "fivelens.context_window.alerts"]
    assert alerts and max(p["value"] for p in alerts) == 1
    fill = [p for p in points if p["name"] == "fivelens.context_window.fill"]
    assert max(p["count"] for p in fill) == 50
    assert fill[-1]["explicit_bounds"][-1] == 1.0
    growth = [p for p in points if p["name"] == "fivelens.context_window.growth"]
    assert max(p["count"] for p in growth) == 49
    by_section = {
        p["attributes"]["fivelens.context.section"]: p
        for p in points
        if p["name"] == "fivelens.context_window.tokens" and p["count"] == 50
    }
    assert set(by_section) == set(SECTIONS)
    assert sum(p["sum"] for p in by_section.values()) == sum(reported)


def test_openai_sections_system_tools_history_tool_results_and_input(llm_server: Any, recorded: Recorded) -> None:
    client = oa(llm_server)
    messages = [
        {"role": "system", "content": "You answer questions about the weather, briefly."},
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Sunny, 21 degrees, light wind from the west."},
        {"role": "user", "content": "And should I take an umbrella tomorrow?"},
    ]
    result = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])  # type: ignore[arg-type,list-item]
    assert result.usage is not None
    a = recorded.one()["attributes"]
    s = sections(a)
    assert all(n > 0 for n in s.values()), s
    assert sum(s.values()) == result.usage.prompt_tokens == a["gen_ai.usage.input_tokens"]
    # Counted with gpt-4o's vocabulary before the scaling: the tools are counted as sent.
    counted = a["fivelens.context.counted_tokens"]
    assert counted > fivelens.count_tokens(json.dumps(WEATHER_TOOL), "gpt-4o") > 20
    assert a["fivelens.context.window"] == 128_000
    assert a["fivelens.context.fill"] == pytest.approx(result.usage.prompt_tokens / 128_000)
    assert a["fivelens.context.turn"] == 1
    assert "fivelens.context.growth" not in a
    assert not any(k.startswith("fivelens._") for k in a)


def test_capture_off_still_gives_the_breakdown(llm_server: Any) -> None:
    fivelens.instrument(testing=True, store="off", capture_content=False)
    client = oa(llm_server)
    client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hello there"}],
    )
    assert fivelens.flush(10.0)
    (span,) = [s for s in fivelens._native.finished_spans() if "gen_ai.operation.name" in s["attributes"]]
    a = span["attributes"]
    assert "gen_ai.input.messages" not in a
    assert sections(a)["system"] > 0 and sections(a)["user_input"] > 0
    assert sum(sections(a).values()) == a["gen_ai.usage.input_tokens"]


def test_anthropic_system_and_tools_sections_and_fill(llm_server: Any, recorded: Recorded) -> None:
    client = anthropic.Anthropic(base_url=llm_server.url, api_key="k", max_retries=0)
    message = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        system="You are a careful assistant for travel questions.",
        tools=[
            {
                "name": "get_weather",
                "description": "The weather in a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello, where to?"},
            {"role": "user", "content": "Lisbon in May, is it warm?"},
        ],
    )
    a = recorded.one()["attributes"]
    s = sections(a)
    assert s["system"] > 0 and s["tools"] > 0 and s["history"] > 0 and s["user_input"] > 0
    assert s["tool_results"] == 0
    assert sum(s.values()) == message.usage.input_tokens == a["gen_ai.usage.input_tokens"]
    assert a["fivelens.context.window"] == 200_000
    assert a["fivelens.context.max_output_tokens"] == 64_000
    assert a["fivelens.context.fill"] == pytest.approx(message.usage.input_tokens / 200_000)


def test_a_model_missing_from_the_table_gets_no_fill_and_one_warning(llm_server: Any, recorded: Recorded) -> None:
    client = oa(llm_server)
    for _ in range(3):
        client.chat.completions.create(model="my-local-model-7b", messages=[{"role": "user", "content": "hi there"}])
    spans = recorded.llm_spans()
    assert len(spans) == 3
    for span in spans:
        a = span["attributes"]
        assert "fivelens.context.fill" not in a and "fivelens.context.window" not in a
        assert sum(sections(a).values()) == a["gen_ai.usage.input_tokens"], "the sections are still there"
    messages = fivelens.status()["messages"]
    warnings = [m for m in messages if "no context window known" in m and "my-local-model-7b" in m]
    assert len(warnings) == 1, messages


class State(TypedDict):
    messages: list[Any]


class ScriptedModel(FakeMessagesListChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


def test_langgraph_model_runs_carry_the_breakdown(recorded: Recorded) -> None:
    answers = [
        AIMessage(
            content=f"answer {i}",
            usage_metadata={"input_tokens": 40 + 10 * i, "output_tokens": 2, "total_tokens": 42 + 10 * i},
            response_metadata={"finish_reason": "stop", "model_name": "gpt-4o-mini"},
        )
        for i in range(2)
    ]
    model = ScriptedModel(responses=answers)

    def think(state: State) -> State:
        return {"messages": [*state["messages"], model.invoke(state["messages"])]}

    graph = StateGraph(State)
    graph.add_node("think", think)
    graph.add_edge(START, "think")
    graph.add_edge("think", END)
    app = graph.compile()
    history: list[Any] = [SystemMessage("You plan trips."), HumanMessage("Plan a day in Rome.")]
    with fivelens.context(session_id="lc-1"):
        history = app.invoke({"messages": history})["messages"]
        history = app.invoke({"messages": [*history, HumanMessage("And in Florence?")]})["messages"]
    spans = sorted(
        (s for s in recorded.llm_spans() if s["attributes"]["gen_ai.operation.name"] == "chat"),
        key=lambda s: s["start_time"],
    )
    assert len(spans) == 2
    for i, span in enumerate(spans):
        a = span["attributes"]
        s = sections(a)
        assert sum(s.values()) == 40 + 10 * i == a["gen_ai.usage.input_tokens"]
        assert s["system"] > 0 and s["user_input"] > 0
        assert a["fivelens.context.window"] == 128_000
        assert a["fivelens.context.turn"] == i + 1
    assert sections(spans[1]["attributes"])["history"] > 0
    assert spans[1]["attributes"]["fivelens.context.growth"] == 10


def test_the_synchronous_check() -> None:
    system = "You are a code reviewer. Point out bugs, not style."
    history = [{"role": "user", "content": "Review this."}, {"role": "assistant", "content": "Send the diff."}]
    check = fivelens.context_window("gpt-4o", {"system": system, "history": history, "retrieved": 120_000})
    assert check.sections["system"] == fivelens.count_tokens(system, "gpt-4o")
    assert check.sections["history"] == (
        fivelens.count_tokens("Review this.", "gpt-4o") + fivelens.count_tokens("Send the diff.", "gpt-4o") + 2 * 3
    )
    assert check.sections["retrieved"] == 120_000
    assert check.tokens == sum(check.sections.values())
    assert check.limit == 128_000 and check.max_output_tokens == 16_384
    assert check.fill == pytest.approx(check.tokens / 128_000)
    assert check.remaining == 128_000 - check.tokens
    assert check.threshold == 0.8 and check.over_threshold is True
    unknown = fivelens.context_window("my-local-model-7b", {"user_input": "hi"})
    assert unknown.limit is None and unknown.fill is None and unknown.over_threshold is None
    with pytest.raises(TypeError):
        fivelens.context_window("gpt-4o", ["not", "a", "mapping"])  # type: ignore[arg-type]
    # The configured overrides and threshold apply.
    fivelens.instrument(
        testing=True,
        store="off",
        context_alert_threshold=0.5,
        context_limits=[{"provider": "openai", "model": "gpt-4o", "context_window": 1000}],
    )
    check = fivelens.context_window("gpt-4o", {"user_input": 600})
    assert (check.limit, check.fill, check.over_threshold, check.threshold) == (1000, 0.6, True, 0.5)


def test_bad_context_options_are_clear_errors(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="context_alert_threshold"):
        fivelens.instrument(context_alert_threshold=1.5)
    with pytest.raises(ValueError, match="context_limits"):
        fivelens.instrument(context_limits=[{"provider": "openai", "model": "x"}])
    bad = tmp_path / "limits.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="context_limits_file"):
        fivelens.instrument(context_limits_file=str(bad))


def test_tiers_retrieval_and_verification_loops(llm_server: Any, receiver: Receiver) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint)
    client = oa(llm_server)
    open_files = "def add(a, b):\n    return a + b\n" * 20
    similar = ["def sub(a, b): return a - b", "def mul(a, b): return a * b"]
    with fivelens.span("coding agent"):
        with fivelens.retrieval("code-index", tier="similar", top_k=8, similarity_threshold=0.75) as r:
            r.record(scanned=1200, selected=2, cache_hits=1)
        with fivelens.context_tiers({"open_files": open_files, "similar": similar, "signatures": 340}):
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": open_files + "\n".join(similar)}]
            )
        with fivelens.verification("fix test_add") as loop:
            while not loop.succeeded and loop.attempts < 5:
                with loop.attempt() as attempt:
                    attempt.passed(loop.attempts == 3)
    assert fivelens.flush(10.0)
    spans = {s["name"]: s for s in receiver.wait_for(8)}
    chat = spans["chat gpt-4o"]["attributes"]
    assert chat["fivelens.context.tier_tokens.open_files"] == fivelens.count_tokens(open_files, "gpt-4o")
    assert chat["fivelens.context.tier_tokens.similar"] == sum(fivelens.count_tokens(t, "gpt-4o") for t in similar)
    assert chat["fivelens.context.tier_tokens.signatures"] == 340
    retrieval = spans["retrieval code-index"]
    ra = retrieval["attributes"]
    assert ra["gen_ai.operation.name"] == "retrieval"
    assert ra["gen_ai.data_source.id"] == "code-index"
    assert ra["gen_ai.retrieval.top_k"] == 8
    assert ra["fivelens.retrieval.similarity_threshold"] == 0.75
    figures = ("scanned", "selected", "cache_hits")
    assert [ra[f"fivelens.retrieval.{f}"] for f in figures] == [1200, 2, 1]
    assert ra["fivelens.context.tier"] == "similar"
    loop_span = spans["verify fix test_add"]
    assert loop_span["attributes"]["fivelens.verification.attempts"] == 3
    assert loop_span["attributes"]["fivelens.verification.passed"] is True
    attempts = sorted(
        (s for s in receiver.spans() if s["name"] == "verify_attempt fix test_add"),
        key=lambda s: s["attributes"]["fivelens.verification.attempt"],
    )
    assert [s["attributes"]["fivelens.verification.passed"] for s in attempts] == [False, False, True]
    assert all(s["parent_span_id"] == loop_span["span_id"] for s in attempts)
    points = receiver._call("GET", "/metrics")
    tiers = {
        p["attributes"]["fivelens.context.tier"]: p["sum"]
        for p in points
        if p["name"] == "fivelens.context_window.tokens_by_tier"
    }
    assert tiers["signatures"] == 340 and tiers["open_files"] == chat["fivelens.context.tier_tokens.open_files"]


def test_fivelens_stats_lists_the_sessions_nearest_exhaustion(llm_server: Any, tmp_path: Any) -> None:
    fivelens.instrument(context_limits=[{"provider": "openai", "model": "gpt-4o-mini", "context_window": 200}])
    client = oa(llm_server)
    for session, size in (("small-chat", 10), ("long-agent", 150), ("medium", 60)):
        with fivelens.context(session_id=session):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": " ".join(["w"] * size)}]
            )
    fivelens.shutdown(5.0)
    out = subprocess.run(
        [sys.executable, "-m", "fivelens", "stats", "--json"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    sessions = json.loads(out.stdout)["sessions"]
    assert [(s["session"], s["fill"]) for s in sessions] == [
        ("long-agent", 0.75),
        ("medium", 0.3),
        ("small-chat", 0.05),
    ]
    text = subprocess.run(
        [sys.executable, "-m", "fivelens", "stats"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "nearest to exhaustion" in text and "long-agent" in text and "75.0%" in text
