"""Export from Python to a real OTLP receiver and to the local store, configured by options and
by the standard OTEL_* variables; bounded flush and exit when the collector is down."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import fivelens
from conftest import Receiver, run_python, span_tree


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_otlp_http_export_with_parents_resource_and_headers(receiver: Receiver) -> None:
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint,
        otlp_headers={"authorization": "Bearer t0ken"},
        service_name="py-export",
        schedule_delay_ms=20,
    )
    with fivelens.span("root") as root:
        with fivelens.span("child", kind="client", model="m1"):
            pass
    assert fivelens.flush(10)
    spans = span_tree(receiver.spans())
    assert spans["child"]["parent_span_id"] == root.span_id
    assert spans["child"]["trace_id"] == root.trace_id
    assert spans["child"]["kind"] == 3
    assert spans["child"]["attributes"]["model"] == "m1"
    resource = spans["root"]["resource"]
    assert resource["service.name"] == "py-export"
    assert resource["telemetry.sdk.language"] == "python"
    assert resource["process.runtime.name"] == "cpython"
    assert receiver.headers()["authorization"] == "Bearer t0ken"
    status = fivelens.status()
    assert status["spans"]["exported"] == 2
    assert status["pipeline"]["store"] is None, "no local store when an endpoint is set"


def test_grpc_export(grpc_receiver: Receiver) -> None:
    assert grpc_receiver.grpc_endpoint
    fivelens.instrument(otlp_endpoint=grpc_receiver.grpc_endpoint, otlp_protocol="grpc", schedule_delay_ms=20)
    with fivelens.span("root") as root, fivelens.span("child"):
        pass
    assert fivelens.flush(10)
    spans = span_tree(grpc_receiver.spans())
    assert spans["child"]["parent_span_id"] == root.span_id
    assert spans["child"]["transport"] == "grpc"


def test_standard_environment_variables_configure_export(receiver: Receiver, tmp_path: Path) -> None:
    result = run_python(
        """
        import fivelens
        fivelens.instrument()
        with fivelens.span("from_env"):
            pass
        """,
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme%20corp",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_SERVICE_NAME": "env-service",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,team=ml",
            "FIVELENS_HOME": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    # Exported by the flush at exit.
    spans = receiver.wait_for(1)
    assert [s["name"] for s in spans] == ["from_env"]
    assert spans[0]["resource"]["service.name"] == "env-service"
    assert spans[0]["resource"]["deployment.environment"] == "test"
    assert spans[0]["resource"]["team"] == "ml"
    assert receiver.headers()["x-tenant"] == "acme corp"
    assert receiver.headers()["content-encoding"] == "gzip"
    assert not (tmp_path / "fivelens.db").exists(), "endpoint set: no local store by default"


def test_traces_endpoint_variable_is_used_as_is(receiver: Receiver, tmp_path: Path) -> None:
    result = run_python(
        """
        import fivelens
        fivelens.instrument()
        with fivelens.span("exact"):
            pass
        """,
        env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint + "/v1/traces", "FIVELENS_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert [s["name"] for s in receiver.wait_for(1)] == ["exact"]


def test_sdk_disabled_variable(receiver: Receiver, tmp_path: Path) -> None:
    result = run_python(
        """
        import fivelens
        report = fivelens.instrument()
        assert not report.recording
        with fivelens.span("nothing"):
            pass
        print("ok")
        """,
        env={
            "OTEL_SDK_DISABLED": "true",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "FIVELENS_HOME": str(tmp_path),
        },
    )
    assert result.stdout.strip() == "ok", result.stderr
    time.sleep(0.2)
    assert receiver.spans() == []


def test_store_and_the_fivelens_command(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    fivelens.instrument(store_path=str(db), schedule_delay_ms=20)
    with fivelens.context(session_id="cli-session"):
        with fivelens.span("agent.run") as root:
            with fivelens.span(
                "chat gpt-4o",
                kind="client",
                **{
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 30,
                },
            ):
                pass
            try:
                with fivelens.span("execute_tool search"):
                    raise TimeoutError("tool timed out")
            except TimeoutError:
                pass
    assert fivelens.flush(10)
    assert db.stat().st_mode & 0o777 == 0o600
    assert db.parent.stat().st_mode & 0o777 in (0o700, 0o755)  # tmp_path existed before

    def cli(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "fivelens", *args, "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    listing = json.loads(cli("traces", "--json"))
    assert len(listing["traces"]) == 1
    t = listing["traces"][0]
    assert t["trace_id"] == root.trace_id
    assert t["root_name"] == "agent.run"
    assert t["span_count"] == 3
    assert t["status"] == "ERROR"
    assert t["input_tokens"] == 120
    assert t["session_id"] == "cli-session"
    text = cli("traces")
    assert root.trace_id in text and "agent.run" in text

    shown = json.loads(cli("show", root.trace_id[:10], "--json"))
    names = [(s["depth"], s["name"]) for s in shown["spans"]]
    assert names[0] == (0, "agent.run")
    assert (1, "chat gpt-4o") in names and (1, "execute_tool search") in names
    tree = cli("show", root.trace_id)
    assert "├─ chat gpt-4o" in tree or "└─ chat gpt-4o" in tree
    assert "tokens 120/30" in tree
    assert "ERROR TimeoutError: tool timed out" in tree

    stats = json.loads(cli("stats", "--json"))
    assert stats["traces"] == 1
    model = stats["models"][0]
    assert (model["provider"], model["model"], model["calls"], model["input_tokens"]) == ("openai", "gpt-4o", 1, 120)
    assert "model calls" in cli("stats")


def test_store_and_exporter_together(receiver: Receiver, tmp_path: Path) -> None:
    db = tmp_path / "both.db"
    fivelens.instrument(otlp_endpoint=receiver.endpoint, store="on", store_path=str(db), schedule_delay_ms=20)
    with fivelens.span("both"):
        pass
    assert fivelens.flush(10)
    assert [s["name"] for s in receiver.spans()] == ["both"]
    status = fivelens.status()
    assert status["spans"]["stored"] == 1
    assert status["spans"]["exported"] == 1


def test_collector_down_never_blocks_and_flush_is_bounded(tmp_path: Path) -> None:
    port = free_port()
    fivelens.instrument(otlp_endpoint=f"http://127.0.0.1:{port}", schedule_delay_ms=20)
    start = time.monotonic()
    for i in range(2000):
        with fivelens.span("while-down", i=i):
            pass
    spent = time.monotonic() - start
    assert spent < 2.0, f"2,000 spans took {spent:.2f}s with the collector down"
    start = time.monotonic()
    assert fivelens.flush(0.5) is False
    assert time.monotonic() - start < 2.0
    # Spans accepted while it was down are delivered when it comes back.
    receiver = Receiver(port=port)
    try:
        spans = receiver.wait_for(2000, timeout=20)
        assert len(spans) == 2000
    finally:
        receiver.stop()


def test_exit_with_the_collector_down_is_bounded(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    result = run_python(
        """
        import fivelens
        fivelens.instrument(exit_timeout_ms=1000)
        for i in range(100):
            with fivelens.span("lost"):
                pass
        print("done")
        """,
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "FIVELENS_HOME": str(tmp_path)},
    )
    took = time.monotonic() - started
    assert result.stdout.strip() == "done", result.stderr
    assert result.returncode == 0
    assert took < 8.0, f"exit took {took:.1f}s"


def test_too_large_batches_are_split(receiver: Receiver) -> None:
    receiver.control(max_body=8 * 1024)
    fivelens.instrument(otlp_endpoint=receiver.endpoint, schedule_delay_ms=20)
    for i in range(50):
        with fivelens.span(f"s{i}", payload="x" * 1000):
            pass
    assert fivelens.flush(15)
    assert len(receiver.spans()) == 50
    assert fivelens.status()["export"]["splits"] > 0
