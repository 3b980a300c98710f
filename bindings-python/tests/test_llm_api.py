"""The model-call API: ``llm_call`` for any provider, ``stage`` and ``prompt`` labels, the content
switch, compat attributes and token counting."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import openai
import pytest

import fivelens
from conftest import Receiver, Recorded, run_python

SECRET = "the-launch-code-is-4711"


def test_llm_call_any_provider(recorded: Recorded) -> None:
    with fivelens.span("agent"):
        with fivelens.llm_call(
            "gcp.gemini",
            "gemini-2.5-pro",
            server_address="generativelanguage.googleapis.com",
            server_port=443,
            max_tokens=256,
            temperature=0.1,
        ) as call:
            call.set_input([{"role": "user", "content": "Summarize this"}], system="You summarize.")
            call.set_output("A summary.", finish_reasons=["STOP"])
            call.set_response(id="resp-1", model="gemini-2.5-pro")
            call.set_usage(1000, 200)
    spans = {s["name"]: s for s in recorded.spans()}
    span = spans["chat gemini-2.5-pro"]
    a = span["attributes"]
    assert span["kind"] == "client"
    assert span["parent_span_id"] == spans["agent"]["span_id"]
    assert a["gen_ai.provider.name"] == "gcp.gemini"
    assert a["gen_ai.request.max_tokens"] == 256
    assert a["server.address"] == "generativelanguage.googleapis.com"
    assert a["gen_ai.response.finish_reasons"] == ["STOP"]
    # gemini-2.5-pro: $1.25 input, $10 output per million.
    assert a["fivelens.cost.usd"] == pytest.approx((1000 * 1.25 + 200 * 10) / 1e6, rel=1e-12)
    assert json.loads(a["gen_ai.system_instructions"]) == [{"type": "text", "content": "You summarize."}]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "A summary."}], "finish_reason": "STOP"}
    ]
    assert spans["agent"]["attributes"]["fivelens.rollup.cost.usd"] == a["fivelens.cost.usd"]


def test_llm_call_streaming_and_estimates(recorded: Recorded) -> None:
    with fivelens.llm_call("ollama", "llama3.1", stream=True) as call:
        call.set_input("count my words please")
        for piece in ("Sure", ", here", " they are."):
            call.chunk(piece)
    a = recorded.one()["attributes"]
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.time_to_first_chunk"] >= 0
    assert a["fivelens.usage.estimated"] is True
    assert a["gen_ai.usage.input_tokens"] == fivelens.count_tokens("count my words please")
    assert a["gen_ai.usage.output_tokens"] == fivelens.count_tokens("Sure, here they are.")
    # A model not in the price table: no cost, never a silent 0.
    assert "fivelens.cost.usd" not in a


def test_llm_call_failure_propagates(recorded: Recorded) -> None:
    with pytest.raises(TimeoutError):
        with fivelens.llm_call("aws.bedrock", "anthropic.claude-x") as call:
            call.set_input("hi")
            raise TimeoutError("upstream")
    span = recorded.one()
    assert span["status"] == "error"
    assert span["attributes"]["error.type"] == "TimeoutError"
    assert "gen_ai.usage.input_tokens" not in span["attributes"]


def test_llm_call_bad_arguments() -> None:
    with pytest.raises(TypeError, match="unknown request parameter 'max_token'"):
        fivelens.llm_call("openai", "gpt-4o", max_token=5)
    with pytest.raises(TypeError, match="temperature"):
        fivelens.llm_call("openai", "gpt-4o", temperature="hot")
    with pytest.raises(TypeError, match="provider"):
        fivelens.llm_call("", "gpt-4o")


def test_stage_and_prompt_label_model_calls_only(recorded: Recorded) -> None:
    @fivelens.stage("synthesis")
    def synthesize() -> None:
        with fivelens.llm_call("openai", "gpt-4o") as call:
            call.set_usage(10, 2)

    with fivelens.stage("classifier"), fivelens.prompt("triage", version=3):
        with fivelens.span("classify"):
            with fivelens.llm_call("openai", "gpt-4o-mini") as call:
                call.set_usage(10, 2)
        synthesize()
    with fivelens.llm_call("openai", "gpt-4.1") as call:
        call.set_usage(1, 1)

    spans = {s["name"]: s["attributes"] for s in recorded.spans()}
    assert spans["chat gpt-4o-mini"]["fivelens.stage"] == "classifier"
    assert spans["chat gpt-4o-mini"]["gen_ai.prompt.name"] == "triage"
    assert spans["chat gpt-4o-mini"]["gen_ai.prompt.version"] == "3"
    # The inner stage wins; the prompt still applies.
    assert spans["chat gpt-4o"]["fivelens.stage"] == "synthesis"
    assert spans["chat gpt-4o"]["gen_ai.prompt.name"] == "triage"
    # Only model calls carry them, and only inside the block.
    assert "fivelens.stage" not in spans["classify"]
    assert "fivelens.stage" not in spans["chat gpt-4.1"]


def test_stage_crosses_tasks_and_threads(recorded: Recorded) -> None:
    async def call_model() -> None:
        with fivelens.llm_call("openai", "gpt-4o") as c:
            c.set_usage(1, 1)

    async def main() -> None:
        with fivelens.stage("fanout"):
            await asyncio.gather(call_model(), call_model())

    asyncio.run(main())

    def worker() -> None:
        with fivelens.llm_call("openai", "o3") as c:
            c.set_usage(1, 1)

    with fivelens.stage("threaded"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    stages = sorted(s["attributes"].get("fivelens.stage", "") for s in recorded.llm_spans())
    assert stages == ["fanout", "fanout", "threaded"]


def test_stage_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="name"):
        fivelens.stage("  ")
    with pytest.raises(TypeError, match="name"):
        fivelens.stage(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="version"):
        fivelens.prompt("p", version=[1])  # type: ignore[arg-type]


def test_compat_attributes(llm_server: Any) -> None:
    fivelens.instrument(testing=True, store="off", compat=True)
    with fivelens.llm_call("openai", "gpt-4o") as call:
        call.set_usage(100, 10)
    fivelens.flush()
    a = next(s for s in fivelens._native.finished_spans() if s["name"] == "chat gpt-4o")["attributes"]
    assert a["openinference.span.kind"] == "LLM"
    assert a["llm.token_count.prompt"] == 100
    assert a["llm.token_count.total"] == 110
    assert a["llm.cost.total"] == a["fivelens.cost.usd"]
    assert a["langfuse.observation.type"] == "generation"
    assert json.loads(a["langfuse.observation.usage_details"]) == {"input": 100, "output": 10}


def _secret_call(server: Any) -> None:
    c = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    c.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": f"System {SECRET}"}, {"role": "user", "content": f"Tell me {SECRET}"}],
    )
    stream = c.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"stream {SECRET}"}], stream=True
    )
    for _ in stream:
        pass
    c.responses.create(model="gpt-4o", input=f"responses {SECRET}", instructions=f"instr {SECRET}")
    with fivelens.llm_call("gcp.gemini", "gemini-2.5-pro") as call:
        call.set_input(f"manual {SECRET}", system=f"sys {SECRET}")
        call.set_output(f"out {SECRET}")


@pytest.mark.parametrize("how", ["option", "NO_CONTENT", "false", "EVENT_ONLY"])
def test_no_content_leaves_the_process_when_capture_is_off(
    how: str, llm_server: Any, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store.db"
    options: dict[str, Any] = {"otlp_endpoint": receiver.endpoint, "store": "on", "store_path": str(store)}
    if how == "option":
        options["capture_content"] = False
    else:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", how)
    fivelens.instrument(**options)
    _secret_call(llm_server)
    assert fivelens.flush(10.0)
    spans = receiver.wait_for(4)
    llm = [s for s in spans if "gen_ai.operation.name" in s["attributes"]]
    assert len(llm) == 4
    # Everything else is still there: the calls, their usage, their prompt hashes.
    assert all("gen_ai.usage.input_tokens" in s["attributes"] for s in llm)
    assert sum("fivelens.prompt.hash" in s["attributes"] for s in llm) == 3
    fivelens.shutdown(5.0)
    assert SECRET not in json.dumps(spans)
    assert SECRET.encode() not in store.read_bytes()
    for suffix in ("-wal", "-shm"):
        extra = Path(str(store) + suffix)
        if extra.exists():
            assert SECRET.encode() not in extra.read_bytes()
    rows = sqlite3.connect(store).execute("select count(*) from spans").fetchone()[0]
    assert rows >= 4


def test_content_is_captured_by_default(llm_server: Any, receiver: Receiver) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint)
    _secret_call(llm_server)
    assert fivelens.flush(10.0)
    spans = receiver.wait_for(4)
    assert SECRET in json.dumps(spans)


def test_long_content_is_cut_with_valid_json(recorded: Recorded) -> None:
    fivelens.shutdown()
    fivelens.instrument(testing=True, store="off", max_content_bytes=2000)
    with fivelens.llm_call("openai", "gpt-4o") as call:
        call.set_input([{"role": "system", "content": "rules"}, {"role": "user", "content": "x" * 50_000}])
        call.set_usage(1, 1)
    a = recorded.one()["attributes"]
    messages = json.loads(a["gen_ai.input.messages"])
    assert len(a["gen_ai.input.messages"].encode()) <= 2000
    assert messages[0]["parts"][0]["content"] == "rules"
    assert "truncated" in messages[1]["parts"][0]["content"]
    assert a["fivelens.truncated"] == ["gen_ai.input.messages"]


def test_count_tokens() -> None:
    assert fivelens.count_tokens("hello world", "gpt-4o") == 2
    assert fivelens.token_encoding("gpt-4o-2024-08-06") == "o200k_base"
    assert fivelens.token_encoding("gpt-4") == "cl100k_base"
    assert fivelens.token_encoding("claude-sonnet-4-6") is None
    text = "Tokenization is the first step of every language model. " * 50
    assert fivelens.count_tokens(text, encoding="cl100k_base") == fivelens.count_tokens(text, "gpt-4")
    with pytest.raises(ValueError, match="p50k"):
        fivelens.count_tokens("x", encoding="p50k_base")
    with pytest.raises(TypeError, match="text"):
        fivelens.count_tokens(b"x")  # type: ignore[arg-type]


def test_env_capture_switch_in_a_fresh_process(llm_server: Any) -> None:
    # The boolean spelling, read at start-up, switches every integration.
    proc = run_python(
        f"""
        import json, openai, fivelens
        fivelens.instrument(testing=True, store="off")
        c = openai.OpenAI(base_url={llm_server.url + "/v1"!r}, api_key="k", max_retries=0)
        c.chat.completions.create(model="gpt-4o", messages=[{{"role": "user", "content": {SECRET!r}}}])
        fivelens.flush()
        print(json.dumps(fivelens._native.finished_spans()))
        """,
        env={"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "False"},
    )
    assert proc.returncode == 0, proc.stderr
    spans = json.loads(proc.stdout)
    assert len(spans) == 1 and SECRET not in proc.stdout


def test_price_overrides(tmp_path: Path, recorded: Recorded) -> None:
    fivelens.shutdown()
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"models": [{"provider": "ollama", "model": "llama3.1", "input": 0.1, "output": 0.2}]}))
    fivelens.instrument(
        testing=True,
        store="off",
        prices_file=str(table),
        # Inline entries win over the file and the built-in table (gpt-4o is repriced here).
        prices=[{"provider": "openai", "model": "gpt-4o", "input": 1, "output": 1}],
    )
    for provider, model in (("ollama", "llama3.1"), ("openai", "gpt-4o")):
        with fivelens.llm_call(provider, model) as call:
            call.set_usage(1_000_000, 1_000_000)
    costs = {
        s["attributes"]["gen_ai.request.model"]: s["attributes"]["fivelens.cost.usd"] for s in recorded.llm_spans()
    }
    assert costs == {"llama3.1": pytest.approx(0.3), "gpt-4o": pytest.approx(2.0)}


def test_broken_prices_are_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="prices_file"):
        fivelens.instrument(prices_file=str(bad))
    with pytest.raises(ValueError, match="prices_file"):
        fivelens.instrument(prices_file=str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="prices"):
        fivelens.instrument(prices=[{"provider": "openai", "model": "x"}])
