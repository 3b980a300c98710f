"""A real Arize Phoenix server (PyPI arize-phoenix, local, its SQLite store, on loopback) receives
an instrumented LangGraph run over OTLP from fivelens (compat=True), and its REST API shows the
spans as Phoenix understands them: one trace, the agent as an AGENT span, the tool call as a TOOL
span, the model calls as LLM spans with their token counts (OpenInference's llm.token_count.*) and
fivelens's cost."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import APP_PYTHON, APPS, app_env, free_port, get_json, wait_until


@pytest.fixture
def phoenix(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_WORKING_DIR": str(tmp_path),  # its SQLite database lives here
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = tmp_path / "phoenix.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "phoenix"), "serve"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    try:
        wait_until(healthy, 180, "phoenix to start", interval=0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_langgraph_run_in_phoenix(phoenix: str) -> None:
    env = app_env(OTEL_EXPORTER_OTLP_ENDPOINT=phoenix, OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    run = subprocess.run(
        [str(APP_PYTHON), str(APPS / "langgraph_agent.py")], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    trace_id = run.stdout.strip()

    def spans() -> list[dict[str, Any]]:
        got = get_json(f"{phoenix}/v1/projects/default/spans?limit=100")["data"]
        return got if len(got) >= 8 else []

    found = wait_until(spans, 60, "phoenix to store the run's spans", fail=False)
    assert found, (get_json(f"{phoenix}/v1/projects/default/spans?limit=100"), run.stderr[-2000:])
    # The root, the agent, two model nodes with their calls, the tools node with its tool call.
    assert len(found) == 8, [s["name"] for s in found]
    assert {s["context"]["trace_id"] for s in found} == {trace_id}
    by_id = {s["context"]["span_id"]: s for s in found}

    def kinds(name: str) -> list[str]:
        return [s["span_kind"] for s in found if s["name"] == name]

    def ancestors(span: dict[str, Any]) -> list[str]:
        names = []
        while span.get("parent_id"):
            span = by_id[span["parent_id"]]
            names.append(span["name"])
        return names

    assert kinds("invoke_agent support") == ["AGENT"]
    assert kinds("execute_tool order_status") == ["TOOL"]
    assert kinds("chat gpt-4o-mini") == ["LLM", "LLM"]
    llm = sorted((s for s in found if s["span_kind"] == "LLM"), key=lambda s: s["start_time"])
    tokens = [(s["attributes"]["llm.token_count.prompt"], s["attributes"]["llm.token_count.completion"]) for s in llm]
    assert tokens == [(52, 11), (81, 9)]
    assert [s["attributes"]["llm.token_count.total"] for s in llm] == [63, 90]
    assert [s["attributes"]["llm.model_name"] for s in llm] == ["gpt-4o-mini", "gpt-4o-mini"]
    # fivelens's cost, as its attribute, beside Phoenix's own pricing.
    assert llm[0]["attributes"]["fivelens.cost.usd"] == pytest.approx((52 * 0.15 + 11 * 0.6) / 1e6)
    # The tree as Phoenix rebuilt it: every model call and the tool call under the agent.
    tool = next(s for s in found if s["span_kind"] == "TOOL")
    for span in [*llm, tool]:
        assert "invoke_agent support" in ancestors(span), ancestors(span)
