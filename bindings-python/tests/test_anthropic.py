"""The Anthropic SDK, unmodified, against the repository's fake Anthropic server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import pytest

from conftest import Recorded, run_python

MODEL = "claude-fake-1"


def client(server: Any, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=server.url, api_key="test-key", **kwargs)


def scenario(name: str) -> dict[str, Any]:
    return {"extra_headers": {"x-fake-scenario": name}}


def test_messages_create(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    message = c.messages.create(
        model=MODEL,
        max_tokens=64,
        # Sampling parameters are gone from this SDK's signature; older ones send them as body fields.
        extra_body={"top_p": 0.5, "top_k": 40},
        stop_sequences=["STOP"],
        system="You are brief.",
        messages=[{"role": "user", "content": "Name a colour"}],
    )
    assert isinstance(message, anthropic.types.Message)
    span = recorded.one()
    a = span["attributes"]
    assert span["name"] == "chat claude-fake-1"
    assert span["kind"] == "client"
    assert span["scope"] == "fivelens.anthropic"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.top_p"] == 0.5
    assert a["gen_ai.request.top_k"] == 40
    assert a["gen_ai.request.stop_sequences"] == ["STOP"]
    assert a["gen_ai.response.id"] == message.id
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["gen_ai.usage.input_tokens"] == message.usage.input_tokens
    assert a["gen_ai.usage.output_tokens"] == message.usage.output_tokens
    assert json.loads(a["gen_ai.system_instructions"]) == [{"type": "text", "content": "You are brief."}]
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Name a colour"}]}
    ]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "echo: Name a colour"}],
            "finish_reason": "end_turn",
        }
    ]
    assert len(a["fivelens.prompt.hash"]) == 12


def test_cache_tokens_follow_the_conventions(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    message = c.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=[{"role": "user", "content": "one two three four five six seven eight"}],
        **scenario("cache"),
    )
    u = message.usage
    assert u.cache_read_input_tokens and u.cache_creation_input_tokens
    a = recorded.one()["attributes"]
    # Anthropic's input_tokens leaves the cache out; the conventions' input count includes it.
    total = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
    assert a["gen_ai.usage.input_tokens"] == total
    assert a["gen_ai.usage.cache_read.input_tokens"] == u.cache_read_input_tokens
    assert a["gen_ai.usage.cache_write.input_tokens"] == u.cache_creation_input_tokens
    # claude-sonnet-4-6: input $3, output $15, cache read $0.30, cache write $3.75 per million.
    expected = (
        u.input_tokens * 3
        + u.output_tokens * 15
        + u.cache_read_input_tokens * 0.3
        + u.cache_creation_input_tokens * 3.75
    ) / 1e6
    assert a["fivelens.cost.usd"] == pytest.approx(expected, rel=1e-9)


def test_stream_true(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    events = list(
        c.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "stream this answer"}], stream=True
        )
    )
    delta = [e for e in events if e.type == "message_delta"][-1]
    a = recorded.one()["attributes"]
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.time_to_first_chunk"] > 0
    # Output tokens are the last cumulative count of message_delta.
    assert a["gen_ai.usage.output_tokens"] == delta.usage.output_tokens
    assert "fivelens.usage.estimated" not in a
    assert json.loads(a["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "echo: stream this answer"}
    ]


def test_messages_stream_helper(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    with c.messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "helper"}]) as stream:
        final = stream.get_final_message()
    a = recorded.one()["attributes"]
    assert a["gen_ai.response.id"] == final.id
    assert a["gen_ai.usage.output_tokens"] == final.usage.output_tokens
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]

    recorded.clear()
    with c.messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "a b c d e f"}]) as stream:
        for _ in stream.text_stream:
            break
    assert recorded.one()["end_time"] > 0


def test_tool_use_and_beta_and_parse(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    tools = [
        {
            "name": "get_time",
            "description": "time",
            "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}},
        }
    ]
    message = c.beta.messages.create(
        model=MODEL, max_tokens=64, tools=tools, messages=[{"role": "user", "content": "time?"}], **scenario("tools")
    )  # type: ignore[arg-type]
    block = message.content[0]
    a = recorded.one()["attributes"]
    assert a["gen_ai.response.finish_reasons"] == ["tool_use"]
    assert json.loads(a["gen_ai.tool.definitions"]) == [{"type": "function", "name": "get_time"}]
    part = json.loads(a["gen_ai.output.messages"])[0]["parts"][0]
    assert part == {"type": "tool_call", "id": block.id, "name": "get_time", "arguments": block.input}  # type: ignore[union-attr]

    recorded.clear()
    c.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=[
            {"role": "user", "content": "time?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "get_time", "input": {"tz": "UTC"}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "12:00"}]},
        ],
    )
    inputs = json.loads(recorded.one()["attributes"]["gen_ai.input.messages"])
    assert inputs[1]["parts"] == [{"type": "tool_call", "id": "t1", "name": "get_time", "arguments": {"tz": "UTC"}}]
    assert inputs[2]["parts"] == [{"type": "tool_call_response", "id": "t1", "response": "12:00"}]


def test_stream_cut_estimates_output(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    with pytest.raises(Exception) as info:
        for _ in c.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "a b c d e f g h"}],
            stream=True,
            **scenario("cut-stream"),
        ):
            pass
    span = recorded.one()
    a = span["attributes"]
    assert span["status"] == "error"
    assert a["error.type"] == type(info.value).__name__
    # The input count arrived with message_start; message_start's placeholder output count is
    # not taken for the real one, and no text arrived before the cut, so there is none.
    assert a["gen_ai.usage.input_tokens"] > 0
    assert "gen_ai.usage.output_tokens" not in a
    assert a["gen_ai.response.finish_reasons"] == ["error"]


def test_overloaded_is_retried_in_one_span(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    with pytest.raises(anthropic.InternalServerError) as info:
        c.messages.create(
            model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}], **scenario("error-529")
        )
    assert info.value.status_code == 529
    span = recorded.one()
    assert span["status"] == "error"
    assert span["attributes"]["error.type"] == type(info.value).__name__


def test_async_client(llm_server: Any, recorded: Recorded) -> None:
    async def main() -> Any:
        c = anthropic.AsyncAnthropic(base_url=llm_server.url, api_key="k", max_retries=0)
        m = await c.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "async"}])
        async with c.messages.stream(
            model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "async stream"}]
        ) as s:
            final = await s.get_final_message()
        return m, final

    m, final = asyncio.run(main())
    ids = sorted(s["attributes"]["gen_ai.response.id"] for s in recorded.llm_spans())
    assert ids == sorted([m.id, final.id])


_SDK_TRACING = """
import json, sys
sys.path.insert(0, {tests!r})
from fake_llm_server import FakeLLMServer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
import fivelens
fivelens.instrument(testing=True, store="off")
import anthropic
server = FakeLLMServer(); url = server.start()
user = [{{"role": "user", "content": "hello"}}]
default = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
default.messages.create(model="claude-fake-1", max_tokens=8, messages=user)
explicit = anthropic.Anthropic(
    base_url=url, api_key="k", max_retries=0, open_telemetry={{"traces": {{"enabled": True}}}}
)
explicit.messages.create(model="claude-sonnet-4-6", max_tokens=8, messages=user)
fivelens.flush()
out = []
for s in fivelens._native.finished_spans():
    a = s["attributes"]
    if "gen_ai.operation.name" in a:
        out.append({{"name": s["name"], "scope": s["scope"], "cost": a.get("fivelens.cost.usd"),
                     "model": a.get("gen_ai.request.model")}})
print(json.dumps({{"fivelens": out, "sdk": [s.name for s in exporter.get_finished_spans()]}}))
server.stop()
"""


def test_sdk_builtin_tracing_never_doubles_ours() -> None:
    from conftest import REPO

    proc = run_python(_SDK_TRACING.format(tests=str(REPO / "tests")))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    by_model = {s["model"]: s for s in result["fivelens"]}
    assert len(result["fivelens"]) == 2, result
    # A client with no explicit option: the SDK's spans are off, fivelens records the call.
    assert by_model["claude-fake-1"]["scope"] == "fivelens.anthropic"
    # A client whose owner turned the SDK's tracing on: its span is adopted (one span, not two),
    # and the core prices it like its own.
    adopted = by_model["claude-sonnet-4-6"]
    assert adopted["scope"] != "fivelens.anthropic"
    assert adopted["cost"] is not None and adopted["cost"] > 0
    assert result["sdk"] == ["anthropic.messages.create"]


def test_parse_structured_output(llm_server: Any, recorded: Recorded) -> None:
    import pydantic

    class Colour(pydantic.BaseModel):
        name: str
        hex: str

    c = client(llm_server)
    message = c.messages.parse(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "a colour"}], output_format=Colour
    )
    assert isinstance(message.parsed_output, Colour)
    a = recorded.one()["attributes"]
    assert a["gen_ai.output.type"] == "json"
    assert a["gen_ai.response.id"] == message.id
    assert a["gen_ai.usage.output_tokens"] == message.usage.output_tokens
