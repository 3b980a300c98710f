"""The OpenAI SDK, unmodified, against the repository's fake OpenAI server: every entry point
becomes one correct GenAI span, and the SDK behaves exactly as without fivelens.

Runs under the openai 3.x line (the main venv) and the 2.x line (``make test-python-openai2``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from typing import Any

import openai
import pydantic
import pytest

import fivelens
from conftest import Recorded

MODEL = "gpt-4o"


def client(server: Any, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.url + "/v1", api_key="test-key", **kwargs)


def aclient(server: Any, **kwargs: Any) -> openai.AsyncOpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="test-key", **kwargs)


def scenario(name: str, key: str | None = None) -> dict[str, Any]:
    headers = {"x-fake-scenario": name}
    if key:
        headers["x-fake-key"] = key
    return {"extra_headers": headers}


MESSAGES = [
    {"role": "system", "content": "You are a  terse assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


def test_chat_completion_span(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    result = c.chat.completions.create(
        model=MODEL, messages=MESSAGES, max_tokens=50, temperature=0.2, top_p=0.9, stop=["END"], seed=7
    )  # type: ignore[arg-type]
    assert isinstance(result, openai.types.chat.ChatCompletion)
    assert result.choices[0].message.content == "echo: What is the capital of France?"

    span = recorded.one()
    a = span["attributes"]
    assert span["name"] == "chat gpt-4o"
    assert span["kind"] == "client"
    assert span["status"] == "unset"
    assert span["scope"] == "fivelens.openai"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o"
    assert a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.request.temperature"] == 0.2
    assert a["gen_ai.request.top_p"] == 0.9
    assert a["gen_ai.request.stop_sequences"] == ["END"]
    assert a["gen_ai.request.seed"] == 7
    assert a["gen_ai.response.id"] == result.id
    assert a["gen_ai.response.model"] == "gpt-4o-2026-01-01"
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens  # type: ignore[union-attr]
    assert a["gen_ai.usage.output_tokens"] == result.usage.completion_tokens  # type: ignore[union-attr]
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == int(llm_server.url.rsplit(":", 1)[1])
    assert "fivelens.usage.estimated" not in a
    # gpt-4o: $2.50 / $10 per million tokens (core/data/prices.json).
    expected = (result.usage.prompt_tokens * 2.5 + result.usage.completion_tokens * 10) / 1e6  # type: ignore[union-attr]
    assert a["fivelens.cost.usd"] == pytest.approx(expected, rel=1e-12)
    # The hash of the system prompt, whitespace collapsed: the same as for a differently spaced copy.
    assert len(a["fivelens.prompt.hash"]) == 12
    # Content, in the conventions' JSON shape.
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "You are a  terse assistant."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]},
    ]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "echo: What is the capital of France?"}],
            "finish_reason": "stop",
        }
    ]
    # Private hand-over attributes never leave the processing thread.
    assert not [k for k in a if k.startswith("fivelens._")]


def test_prompt_hash_ignores_spacing_and_changes_with_the_prompt(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    for system in ("Be  brief.\n", " Be brief.", "Be verbose."):
        c.chat.completions.create(
            model=MODEL, messages=[{"role": "system", "content": system}, {"role": "user", "content": "hi"}]
        )
    hashes = [s["attributes"]["fivelens.prompt.hash"] for s in recorded.llm_spans()]
    assert hashes[0] == hashes[1] != hashes[2]


def test_async_chat_completion(llm_server: Any, recorded: Recorded) -> None:
    async def main() -> Any:
        c = aclient(llm_server)
        with fivelens.span("handler"):
            return await c.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    result = asyncio.run(main())
    spans = {s["name"]: s for s in recorded.spans()}
    llm = spans["chat gpt-4o"]
    assert llm["parent_span_id"] == spans["handler"]["span_id"]
    assert llm["attributes"]["gen_ai.response.id"] == result.id
    # The roll-up: the handler carries the cost and tokens of the call inside it.
    assert spans["handler"]["attributes"]["fivelens.rollup.cost.usd"] == llm["attributes"]["fivelens.cost.usd"]
    assert spans["handler"]["attributes"]["fivelens.rollup.llm_calls"] == 1


def test_stream_without_usage_is_estimated(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    stream = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "count these four words"}], stream=True
    )
    assert isinstance(stream, openai.Stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "echo: count these four words"

    a = recorded.one()["attributes"]
    assert a["gen_ai.request.stream"] is True
    assert 0 < a["gen_ai.response.time_to_first_chunk"] < 5
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["fivelens.usage.estimated"] is True
    assert a["gen_ai.usage.input_tokens"] == fivelens.count_tokens("count these four words", MODEL)
    assert a["gen_ai.usage.output_tokens"] == fivelens.count_tokens(text, MODEL)
    assert json.loads(a["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": text}]


def test_stream_with_usage_uses_the_reported_usage(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    chunks = list(
        c.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []
    a = recorded.one()["attributes"]
    assert "fivelens.usage.estimated" not in a
    assert a["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == usage.completion_tokens


def test_stream_closed_early_ends_the_span(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    with c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "a b c d e f g"}], stream=True
    ) as stream:
        for _ in stream:
            break
    span = recorded.one()
    assert span["end_time"] > 0
    # The choice's finish reason never arrived: "error" in its position (the conventions' rule).
    assert span["attributes"]["gen_ai.response.finish_reasons"] == ["error"]


def test_abandoned_stream_ends_when_collected(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    stream = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "a b c d e f g"}], stream=True
    )
    next(iter(stream))
    read_at = time.time_ns()
    assert recorded.llm_spans() == []
    del stream
    time.sleep(0.05)
    gc.collect()
    span = recorded.one()
    # Ended at the last chunk read, not at collection time.
    assert span["end_time"] <= read_at + 1_000_000


def test_stream_helper(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    with c.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "helper stream"}]) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "echo: helper stream"
    a = recorded.one()["attributes"]
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.finish_reasons"] == ["stop"]

    recorded.clear()
    with c.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "a b c d e f"}]) as stream:
        for _ in stream:
            break
    # The helper closes the HTTP response itself: the span ends there, not at collection.
    assert len(recorded.llm_spans()) == 1


def test_parse_structured_output(llm_server: Any, recorded: Recorded) -> None:
    class City(pydantic.BaseModel):
        name: str
        population: int

    c = client(llm_server)
    parsed = c.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "a city"}], response_format=City
    )
    assert isinstance(parsed.choices[0].message.parsed, City)
    a = recorded.one()["attributes"]
    assert a["gen_ai.output.type"] == "json"
    assert a["gen_ai.usage.output_tokens"] == parsed.usage.completion_tokens  # type: ignore[union-attr]


def test_tool_calls_and_definitions(llm_server: Any, recorded: Recorded) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    c = client(llm_server)
    result = c.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "rainy"},
        ],
        tools=tools,  # type: ignore[arg-type]
        **scenario("tools"),
    )
    call = result.choices[0].message.tool_calls[0]  # type: ignore[index]
    a = recorded.one()["attributes"]
    assert a["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert json.loads(a["gen_ai.tool.definitions"]) == [{"type": "function", "name": "get_weather"}]
    inputs = json.loads(a["gen_ai.input.messages"])
    assert inputs[1]["parts"] == [
        {"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert inputs[2] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rainy"}]}
    out = json.loads(a["gen_ai.output.messages"])[0]["parts"][0]
    assert out["type"] == "tool_call" and out["id"] == call.id and out["name"] == "get_weather"


def test_streamed_tool_call_is_assembled(llm_server: Any, recorded: Recorded) -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
        }
    ]
    c = client(llm_server)
    for _ in c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], tools=tools, stream=True, **scenario("tools")
    ):  # type: ignore[arg-type]
        pass
    a = recorded.one()["attributes"]
    part = json.loads(a["gen_ai.output.messages"])[0]["parts"][0]
    assert part["type"] == "tool_call" and part["name"] == "lookup" and isinstance(part["arguments"], dict)
    assert a["gen_ai.response.finish_reasons"] == ["tool_calls"]


def test_finish_reason_length_and_cache_and_reasoning(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    result = c.chat.completions.create(
        model="o3-mini",
        messages=[{"role": "user", "content": "a b c d e f g h"}],
        max_completion_tokens=3,
        reasoning_effort="low",
        **scenario("length,cache,reasoning"),
    )
    a = recorded.one()["attributes"]
    assert a["gen_ai.response.finish_reasons"] == ["length"]
    assert a["gen_ai.request.max_tokens"] == 3
    assert a["gen_ai.request.reasoning.level"] == "low"
    assert a["gen_ai.usage.cache_read.input_tokens"] == result.usage.prompt_tokens_details.cached_tokens  # type: ignore[union-attr]
    assert a["gen_ai.usage.reasoning.output_tokens"] == 4


def test_responses_create_and_stream(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    result = c.responses.create(
        model="gpt-4o-mini", input="hello responses", instructions="Answer briefly.", max_output_tokens=20
    )
    assert result.output_text == "echo: hello responses"
    a = recorded.one()["attributes"]
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.max_tokens"] == 20
    assert json.loads(a["gen_ai.system_instructions"]) == [{"type": "text", "content": "Answer briefly."}]
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hello responses"}]}
    ]
    assert a["gen_ai.usage.input_tokens"] == result.usage.input_tokens  # type: ignore[union-attr]
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert "fivelens.prompt.hash" in a

    recorded.clear()
    with c.responses.stream(model="gpt-4o-mini", input="streamed responses") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    a = recorded.one()["attributes"]
    assert "".join(deltas) == final.output_text
    assert a["gen_ai.response.id"] == final.id
    assert a["gen_ai.usage.output_tokens"] == final.usage.output_tokens  # type: ignore[union-attr]
    assert "gen_ai.response.time_to_first_chunk" in a
    # The output is the final response's (with its finish reason), not the streamed deltas.
    assert json.loads(a["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": final.output_text}], "finish_reason": "stop"}
    ]


def test_embeddings(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    result = c.embeddings.create(model="text-embedding-3-small", input=["one", "two words"], dimensions=16)
    assert len(result.data[0].embedding) == 16
    span = recorded.one()
    a = span["attributes"]
    assert span["name"] == "embeddings text-embedding-3-small"
    assert a["gen_ai.operation.name"] == "embeddings"
    assert a["gen_ai.embeddings.dimension.count"] == 16
    assert a["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert "gen_ai.usage.output_tokens" not in a
    assert a["fivelens.cost.usd"] == pytest.approx(result.usage.prompt_tokens * 0.02 / 1e6, rel=1e-12)


def test_raw_and_streaming_responses(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=[{"role": "user", "content": "raw"}])
    assert raw.headers.get("content-type", "").startswith("application/json")
    parsed = raw.parse()
    assert raw.parse() is parsed
    assert recorded.one()["attributes"]["gen_ai.response.id"] == parsed.id

    recorded.clear()
    with c.chat.completions.with_streaming_response.create(
        model=MODEL, messages=[{"role": "user", "content": "streamed raw"}]
    ) as response:
        body = response.parse()
    assert recorded.one()["attributes"]["gen_ai.response.id"] == body.id

    recorded.clear()
    raw_stream = c.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "raw stream"}], stream=True
    )
    for _ in raw_stream.parse():
        pass
    assert recorded.one()["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]


def test_http_error_is_raised_unchanged(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    with pytest.raises(openai.BadRequestError) as info:
        c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], **scenario("error-400"))
    assert info.value.status_code == 400
    span = recorded.one()
    assert span["status"] == "error"
    assert span["attributes"]["error.type"] == "BadRequestError"
    # A call that failed before any output gets no estimate and no cost.
    assert "gen_ai.usage.input_tokens" not in span["attributes"]
    assert "fivelens.cost.usd" not in span["attributes"]


def test_retries_are_one_span(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server, max_retries=2)
    result = c.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "x"}],
        **scenario("rate-limit-once", key=f"k{time.time_ns()}"),
    )
    assert result.choices[0].finish_reason == "stop"
    span = recorded.one()
    assert span["status"] == "unset"
    assert len([r for r in llm_server.requests() if r["headers"].get("x-fake-scenario") == "rate-limit-once"]) >= 2

    recorded.clear()
    with pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], **scenario("error-500"))
    span = recorded.one()
    assert span["attributes"]["error.type"] == "InternalServerError"


def test_malformed_and_cut_and_timeout(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    with pytest.raises(json.JSONDecodeError):
        c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], **scenario("malformed"))
    assert recorded.one()["status"] == "error"

    recorded.clear()
    stream = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "a b c d e f g h"}], stream=True, **scenario("cut-stream")
    )
    with pytest.raises(Exception) as info:
        for _ in stream:
            pass
    span = recorded.one()
    assert span["status"] == "error"
    assert span["attributes"]["error.type"] == type(info.value).__name__
    # Output arrived before the cut: it is estimated (the provider bills it).
    assert span["attributes"]["fivelens.usage.estimated"] is True

    recorded.clear()
    with pytest.raises(openai.APITimeoutError):
        client(llm_server, timeout=0.2).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], **scenario("slow-2000")
        )
    assert recorded.one()["attributes"]["error.type"] == "APITimeoutError"


def test_compatible_server_and_unknown_model(llm_server: Any, recorded: Recorded) -> None:
    c = client(llm_server)
    c.chat.completions.create(model="my-local-llama", messages=[{"role": "user", "content": "x"}])
    a = recorded.one()["attributes"]
    # What the instrumentation knows: the OpenAI SDK, so provider openai; the real host in server.address.
    assert a["gen_ai.provider.name"] == "openai"
    assert a["server.address"] == "127.0.0.1"
    assert "gen_ai.usage.input_tokens" in a
    # Not in the price table: no cost at all (never a silent 0), and one warning.
    assert "fivelens.cost.usd" not in a
    diagnostics = json.dumps(fivelens.status())
    assert "my-local-llama" in diagnostics


def test_not_recording_passes_through(llm_server: Any) -> None:
    fivelens.instrument(disabled=True)
    c = client(llm_server)
    result = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert result.choices[0].message.content == "echo: x"


def test_responses_parse(llm_server: Any, recorded: Recorded) -> None:
    class Answer(pydantic.BaseModel):
        city: str
        month: str

    c = client(llm_server)
    result = c.responses.parse(model="gpt-4o-mini", input="When to visit Kyoto?", text_format=Answer)
    assert isinstance(result.output_parsed, Answer)
    a = recorded.one()["attributes"]
    assert a["gen_ai.output.type"] == "json"
    assert a["gen_ai.response.id"] == result.id
    assert a["gen_ai.usage.output_tokens"] == result.usage.output_tokens  # type: ignore[union-attr]
