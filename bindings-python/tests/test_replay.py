"""Snapshots, replay and datasets (issue 14), with the real OpenAI SDK at the repository's fake
server and the embedded store: a failed call is snapshotted (redacted, bounded, compressed) and
replayed to the local server with the same request body; the canary cohort and keep flags get
snapshots, other traces only by share; capture off takes none; a dataset exported from the store
round-trips and runs against a candidate; the command line shows a diff and a progress bar."""

from __future__ import annotations

import base64
import http.server
import json
import os
import sqlite3
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import openai
import pytest

import fivelens

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def client(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="test-key", max_retries=0)


def store_file() -> Path:
    return Path(os.environ["FIVELENS_HOME"]) / "fivelens.db"


def model_calls() -> list[dict[str, Any]]:
    """Model-call spans in the store, with their attributes parsed."""
    assert fivelens.flush(10.0)
    con = sqlite3.connect(store_file())
    try:
        rows = con.execute(
            "SELECT trace_id, span_id, name, status_code, attributes FROM spans ORDER BY start_ns"
        ).fetchall()
    finally:
        con.close()
    out = []
    for trace_id, span_id, name, status, attributes in rows:
        attrs = json.loads(attributes)
        if "gen_ai.operation.name" in attrs:
            out.append({"trace_id": trace_id, "span_id": span_id, "name": name, "status": status, "attributes": attrs})
    return out


def decode(value: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(value)))
    return result


def ask(server: Any, text: str, scenario: str | None = None, **kwargs: Any) -> None:
    headers = {"x-fake-scenario": scenario} if scenario else {}
    try:
        result = client(server).chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}],
            extra_headers=headers,
            **kwargs,
        )
        if kwargs.get("stream"):
            for _ in result:
                pass
    except openai.APIStatusError:
        if scenario is None:
            raise


def test_failed_call_is_snapshotted_redacted_and_replayed_with_the_same_body(llm_server: Any) -> None:
    fivelens.instrument(service_name="replay-tests", snapshot_rate=0.0)
    with fivelens.span("request") as root:
        ask(llm_server, "hello, mail me at ann.smith@example.com", scenario="error-500", temperature=0.7)
    with fivelens.span("fine"):
        ask(llm_server, "all good here")
    calls = model_calls()
    assert len(calls) == 2
    failed, fine = calls
    assert failed["status"] == 2 and failed["trace_id"] == root.trace_id
    assert "fivelens.snapshot" not in fine["attributes"], "a kept trace without a trigger at rate 0"
    attrs = failed["attributes"]
    assert attrs["fivelens.snapshot.reason"] == "error"
    assert not any(k.startswith("fivelens._") for k in attrs), "private bodies never leave"
    snap = decode(attrs["fivelens.snapshot"])
    assert attrs["fivelens.snapshot.bytes"] == len(json.dumps(snap, separators=(",", ":")).encode())
    assert snap["format"] == "openai.chat" and snap["status"] == "error"
    assert snap["prompt_hash"] == attrs["fivelens.prompt.hash"]
    request = snap["request"]
    assert request["model"] == "gpt-4o-mini" and request["temperature"] == 0.7
    assert request["messages"][0] == {"role": "system", "content": "You are terse."}
    user = request["messages"][1]["content"]
    assert "ann.smith@example.com" not in user and "<EMAIL" in user, user

    llm_server.clear_requests()
    reports = fivelens.replay(root.trace_id, base_url=llm_server.url + "/v1")
    sent = [r for r in llm_server.requests() if r["path"].endswith("/chat/completions")]
    assert len(sent) == 1
    assert sent[0]["body"] == request, "the replay sends the recorded body, placeholders included"
    assert "x-fake-scenario" not in sent[0]["headers"]
    [report] = reports
    assert report["span_id"] == failed["span_id"]
    assert report["recorded"]["status"] == "error"
    run = report["runs"][0]
    assert run["status"] == "ok" and run["output"] == "echo: " + user
    assert run["finish_reasons"] == ["stop"]
    assert "+ echo: " + user in report["diff"]
    assert report["change"]["duration_ms"] is not None


def test_replay_with_another_model_and_n_runs_from_the_cli(llm_server: Any) -> None:
    fivelens.instrument(service_name="replay-tests", snapshot_rate=1.0)
    with fivelens.span("request") as root:
        ask(llm_server, "tell me a story", stream=True, stream_options={"include_usage": True})
    [call] = model_calls()
    snap = decode(call["attributes"]["fivelens.snapshot"])
    assert call["attributes"]["fivelens.snapshot.reason"] == "share"
    assert snap["request"]["stream"] is True
    assert snap["output"][0]["parts"][0]["content"] == "echo: tell me a story"
    fivelens.shutdown(5.0)

    llm_server.clear_requests()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fivelens",
            "replay",
            root.trace_id[:12],
            "--base-url",
            llm_server.url + "/v1",
            "--model",
            "gpt-4o",
            "--n",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENAI_API_KEY": "k"},
    )
    assert out.returncode == 0, out.stderr
    assert "replaying [" in out.stderr and "3/3" in out.stderr, out.stderr
    assert "recorded: ok stop tokens" in out.stdout
    assert "  run 3: ok stop" in out.stdout
    assert "    + " not in out.stdout and "    - " not in out.stdout, "the same answer: no changed lines"
    assert "variance over 3 runs: 1 distinct outputs" in out.stdout
    bodies = [r["body"] for r in llm_server.requests()]
    assert len(bodies) == 3 and all(b == {**snap["request"], "model": "gpt-4o"} for b in bodies)
    assert all(r["headers"]["authorization"] == "Bearer k" for r in llm_server.requests())


def test_canary_cohort_and_keep_flags_get_snapshots(llm_server: Any) -> None:
    # The sampler holds traces (baseline below 1): the keep flag set after the call still counts.
    fivelens.instrument(
        service_name="replay-tests",
        sampling=["errors", "keep", "canary", "baseline:0"],
        canary_users=["vip"],
        snapshot_rate=0.0,
    )
    with fivelens.context(user_id="vip"), fivelens.span("canary turn"):
        ask(llm_server, "first")
        ask(llm_server, "second")
    with fivelens.context(user_id="someone"), fivelens.span("flagged turn"):
        ask(llm_server, "third")
        fivelens.keep_trace("guardrail")
    with fivelens.context(user_id="someone"), fivelens.span("dropped turn"):
        ask(llm_server, "fourth")
    calls = model_calls()
    reasons = [c["attributes"].get("fivelens.snapshot.reason") for c in calls]
    assert reasons == ["canary", "canary", "keep"], reasons


def test_canary_calls_are_snapshotted_when_every_trace_is_kept(llm_server: Any) -> None:
    fivelens.instrument(service_name="replay-tests", canary_users=["vip"], snapshot_rate=0.0)
    with fivelens.context(user_id="vip"), fivelens.span("canary turn"):
        ask(llm_server, "first")
    with fivelens.context(user_id="other"), fivelens.span("plain turn"):
        ask(llm_server, "second")
    reasons = [c["attributes"].get("fivelens.snapshot.reason") for c in model_calls()]
    assert reasons == ["canary", None]


def test_the_size_bound_and_capture_off(llm_server: Any) -> None:
    fivelens.instrument(service_name="replay-tests", snapshot_max_bytes=4096)
    long = " ".join(f"word{i}" for i in range(5000))
    ask(llm_server, long, scenario="error-400")
    [call] = model_calls()
    attrs = call["attributes"]
    assert attrs["fivelens.snapshot.truncated"] is True
    assert attrs["fivelens.snapshot.bytes"] <= 4096
    snap = decode(attrs["fivelens.snapshot"])
    assert len(json.dumps(snap)) < 5000
    assert "truncated" in snap["request"]["messages"][1]["content"]
    assert len(attrs["fivelens.snapshot"]) < 4096, "compressed"
    fivelens.shutdown(5.0)

    store_file().unlink()
    fivelens.instrument(service_name="replay-tests", capture_content=False, snapshot_rate=1.0)
    ask(llm_server, "secret", scenario="error-500")
    [call] = model_calls()
    assert not any(k.startswith("fivelens.snapshot") for k in call["attributes"]), "the capture switch wins"


def test_dataset_export_round_trips_and_runs_against_a_candidate(llm_server: Any, tmp_path: Path) -> None:
    fivelens.instrument(service_name="replay-tests", snapshot_rate=1.0)
    for text in ("alpha question", "beta question"):
        with fivelens.span("turn"), fivelens.stage("answer"):
            ask(llm_server, text)
    ask(llm_server, "gamma", scenario="error-500")
    assert fivelens.flush(10.0)
    path = tmp_path / "dataset.jsonl"
    lines = fivelens.export_dataset(str(path), stage="answer", finish_reason="stop")
    assert [json.loads(x) for x in path.read_text().splitlines()] == lines
    assert [x["expected_output"] for x in lines] == ["echo: alpha question", "echo: beta question"]
    first = lines[0]
    assert first["input"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "alpha question"},
    ]
    meta = first["metadata"]
    assert meta["model"] == "gpt-4o-mini" and meta["stage"] == "answer" and meta["finish_reasons"] == ["stop"]
    assert meta["usage"]["output_tokens"] == 3
    assert len(fivelens.export_dataset(prompt_hash=meta["prompt_hash"][:6])) == 3
    assert fivelens.export_dataset(model="gpt-5") == []
    assert len(fivelens.export_dataset(reason="error")) == 1
    assert fivelens.export_dataset(since="2000-01-01", until="2000-01-02") == []

    cli = subprocess.run(
        [sys.executable, "-m", "fivelens", "dataset", "export", "--stage", "answer", "--out", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert [json.loads(x) for x in cli.stdout.splitlines()] == lines

    llm_server.clear_requests()
    result = fivelens.run_dataset(str(path), base_url=llm_server.url + "/v1", model="gpt-4o")
    assert result["summary"]["lines"] == 2 and result["summary"]["replayed"] == 2
    assert result["summary"]["drift"]["max"] == 0.0, "the fake server answers alike"
    assert [r["body"]["model"] for r in llm_server.requests()] == ["gpt-4o", "gpt-4o"]


def test_replay_of_an_unknown_trace_raises() -> None:
    fivelens.instrument(service_name="replay-tests")
    with fivelens.span("nothing"):
        pass
    assert fivelens.flush(10.0)
    with pytest.raises(ValueError, match="no trace"):
        fivelens.replay("abcdef0123")


class _OtlpJsonSink(http.server.BaseHTTPRequestHandler):
    """Appends each OTLP/JSON request body as one line, as a Collector's file exporter writes."""

    path_out: Path

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.path_out.open("ab") as f:
            f.write(body.replace(b"\n", b"") + b"\n")
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def test_failed_call_in_a_langgraph_run_replayed_from_a_file_of_exported_spans(llm_server: Any, tmp_path: Path) -> None:
    from langchain.agents import create_agent
    from langchain_core.messages import HumanMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def lookup(query: str) -> str:
        """Look something up."""
        return "nothing"

    out = tmp_path / "spans.jsonl"
    handler = type("Sink", (_OtlpJsonSink,), {"path_out": out})
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        fivelens.instrument(
            otlp_endpoint=f"http://127.0.0.1:{sink.server_address[1]}",
            otlp_protocol="http/json",
            store="off",
            metrics_exporter="none",
            capture_logs=False,
            snapshot_rate=0.0,
        )
        model = ChatOpenAI(
            model="gpt-4o-mini",
            base_url=llm_server.url + "/v1",
            api_key="test-key",  # type: ignore[arg-type]
            max_retries=0,
            temperature=0.2,
            default_headers={"x-fake-scenario": "error-500"},
        )
        agent = create_agent(model, [lookup], name="support")
        with pytest.raises(openai.InternalServerError):
            agent.invoke({"messages": [HumanMessage("my card is 4111 1111 1111 1111, why was it declined?")]})
        assert fivelens.flush(10.0)
    finally:
        sink.shutdown()

    # The file holds fivelens's own OTLP/JSON export: the failed model call carries its snapshot.
    spans = [
        s
        for line in out.read_text().splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for s in ss["spans"]
    ]
    attrs_of = {s["spanId"]: {a["key"]: a["value"] for a in s.get("attributes", [])} for s in spans}
    failed = [s for s in spans if "fivelens.snapshot" in attrs_of[s["spanId"]]]
    assert len(failed) == 1 and failed[0]["name"] == "chat gpt-4o-mini"
    snap = decode(attrs_of[failed[0]["spanId"]]["fivelens.snapshot"]["stringValue"])
    assert snap["status"] == "error" and snap["request"]["temperature"] == 0.2
    assert "4111" not in json.dumps(snap) and "<CREDIT_CARD" in json.dumps(snap)
    trace_id = failed[0]["traceId"]

    llm_server.clear_requests()
    [report] = fivelens.replay(trace_id, base_url=llm_server.url + "/v1", source=str(out))
    sent = [r for r in llm_server.requests() if r["path"].endswith("/chat/completions")]
    assert len(sent) == 1 and sent[0]["body"] == snap["request"]
    assert report["recorded"]["status"] == "error" and report["runs"][0]["status"] == "ok"

    # The same from the command line, reading the file.
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "fivelens",
            "replay",
            trace_id[:12],
            "--from",
            str(out),
            "--base-url",
            llm_server.url + "/v1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENAI_API_KEY": "test-key"},
    )
    assert cli.returncode == 0, cli.stderr
    [from_cli] = json.loads(cli.stdout)
    assert from_cli["span_id"] == report["span_id"] and from_cli["runs"][0]["status"] == "ok"
