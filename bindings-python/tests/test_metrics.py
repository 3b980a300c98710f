"""LLM metrics: aggregated at record time, pushed as OTLP metrics, and scraped by a real
Prometheus (the Debian package's binary, started here on a loopback port)."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

import fivelens
from conftest import Receiver

DURATION_BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TOKEN_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def true_quantile(values: list[float], q: float) -> float:
    """The q-quantile as Prometheus defines the rank: the value at rank ceil(q * n)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def bucket_of(value: float, bounds: list[float]) -> tuple[float, float]:
    lower = 0.0
    for b in bounds:
        if value <= b:
            return lower, b
        lower = b
    return lower, math.inf


def make_calls(server: Any) -> None:
    oa = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    an = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
    # gpt-4o: 57 fast calls and 3 slow ones, so its p99 is a slow one; one ends on the token limit.
    for i in range(60):
        delay = 200 if i % 20 == 7 else 25
        oa.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": f"call {i} with some words"}],
            extra_headers={"x-fake-scenario": f"slow-{delay}"},
        )
    oa.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "a b c d e f"}],
        max_tokens=2,
        extra_headers={"x-fake-scenario": "length"},
    )
    # claude-sonnet-4-6: streamed, all about 60 ms.
    for i in range(20):
        for _ in an.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=64,
            messages=[{"role": "user", "content": f"stream {i}"}],
            stream=True,
            extra_headers={"x-fake-scenario": "slow-60"},
        ):
            pass


def model_spans() -> list[dict[str, Any]]:
    assert fivelens.flush(10.0)
    return [s for s in fivelens._native.finished_spans() if "gen_ai.operation.name" in s["attributes"]]


def test_otlp_metrics(llm_server: Any, receiver: Receiver) -> None:
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint,
        testing=True,
        metric_export_interval_ms=60_000,
        resource_attributes={"deployment.environment.name": "staging"},
    )
    make_calls(llm_server)
    spans = model_spans()
    assert fivelens.flush(10.0)  # a flush pushes the metrics too
    points = get_json(receiver.endpoint + "/metrics")
    by_name: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        by_name.setdefault(p["name"], []).append(p)

    def latest(name: str) -> list[dict[str, Any]]:
        last = max(p["time_unix_nano"] for p in by_name[name])
        return [p for p in by_name[name] if p["time_unix_nano"] == last]

    duration = latest("gen_ai.client.operation.duration")
    assert {p["unit"] for p in duration} == {"s"}
    assert all(p["explicit_bounds"] == DURATION_BOUNDS and p["temporality"] == 2 for p in duration)
    counts = {p["attributes"]["gen_ai.request.model"]: p["count"] for p in duration}
    assert counts == {"gpt-4o": 61, "claude-sonnet-4-6": 20}
    assert all(p["attributes"]["gen_ai.provider.name"] in ("openai", "anthropic") for p in duration)

    usage = latest("gen_ai.client.token.usage")
    assert all(p["explicit_bounds"] == TOKEN_BOUNDS for p in usage)
    input_sum = sum(p["sum"] for p in usage if p["attributes"]["gen_ai.token.type"] == "input")
    assert input_sum == sum(s["attributes"]["gen_ai.usage.input_tokens"] for s in spans)

    ttfc = latest("gen_ai.client.operation.time_to_first_chunk")
    assert [p["count"] for p in ttfc] == [20]

    cost = latest("fivelens.llm.cost")
    assert all(p["kind"] == "sum" and p["monotonic"] for p in cost)
    assert {p["attributes"].get("deployment.environment.name") for p in cost} == {"staging"}
    assert sum(p["value"] for p in cost) == pytest.approx(
        sum(s["attributes"]["fivelens.cost.usd"] for s in spans), rel=1e-9
    )

    reasons = {
        (p["attributes"]["fivelens.finish_reason"], p["attributes"]["gen_ai.request.model"]): p["value"]
        for p in latest("fivelens.llm.finish_reasons")
    }
    assert reasons[("length", "gpt-4o")] == 1
    assert reasons[("stop", "gpt-4o")] == 60
    assert reasons[("end_turn", "claude-sonnet-4-6")] == 20


def test_metrics_count_every_call_even_when_spans_are_dropped(llm_server: Any) -> None:
    # A tiny queue drops spans under load; the metrics are aggregated before any of that.
    fivelens.instrument(store="off", testing=True, queue_size=1, prometheus_port=free_port())
    oa = openai.OpenAI(base_url=llm_server.url + "/v1", api_key="k", max_retries=0)
    for _ in range(30):
        oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert fivelens.flush(10.0)
    port = fivelens._instrument._report.config["prometheus_port"]  # type: ignore[union-attr]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    counts = [
        line
        for line in text.splitlines()
        if line.startswith("gen_ai_client_operation_duration_seconds_count")
        and 'gen_ai_request_model="gpt-4o-mini"' in line
    ]
    assert counts and counts[0].endswith(" 30"), counts
    # The spans the full queue dropped are themselves a metric, by reason and category.
    status = fivelens.status()
    lost = [line for line in text.splitlines() if line.startswith("fivelens_spans_dropped")]
    if status["spans"]["dropped"]["queue_full"]:
        assert any('fivelens_drop_reason="queue_full"' in line for line in lost), lost


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A real Prometheus scraping fivelens's endpoint every 200 ms."""
    binary = shutil.which("prometheus")
    assert binary, "the prometheus binary is required (Debian package `prometheus`; .ci/run installs it)"
    target = free_port()
    web = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n"
        f"scrape_configs:\n  - job_name: fivelens\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{web}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{web}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"prometheus did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.1)
    yield url, target
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def promql(url: str, query: str) -> list[dict[str, Any]]:
    result = get_json(url + "/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    assert result["status"] == "success", result
    return result["data"]["result"]  # type: ignore[no-any-return]


def test_prometheus_scrape(llm_server: Any, prometheus: tuple[str, int]) -> None:
    url, port = prometheus
    fivelens.instrument(store="off", testing=True, prometheus_port=port)
    make_calls(llm_server)
    spans = model_spans()
    total_cost = sum(s["attributes"]["fivelens.cost.usd"] for s in spans)

    # Wait until Prometheus has scraped the final values.
    deadline = time.monotonic() + 30
    while True:
        cost = promql(url, "sum(fivelens_llm_cost_usd_total)")
        count = promql(url, "sum(gen_ai_client_operation_duration_seconds_count)")
        if cost and count and float(count[0]["value"][1]) == len(spans):
            break
        assert time.monotonic() < deadline, "prometheus never scraped the final values"
        time.sleep(0.2)
    assert float(cost[0]["value"][1]) == pytest.approx(total_cost, rel=1e-9)

    query = "sum by (le, gen_ai_request_model) (gen_ai_client_operation_duration_seconds_bucket)"
    p99 = {
        r["metric"]["gen_ai_request_model"]: float(r["value"][1])
        for r in promql(url, f"histogram_quantile(0.99, {query})")
    }
    for model in ("gpt-4o", "claude-sonnet-4-6"):
        durations = [
            (s["end_time"] - s["start_time"]) / 1e9 for s in spans if s["attributes"]["gen_ai.request.model"] == model
        ]
        lower, upper = bucket_of(true_quantile(durations, 0.99), DURATION_BOUNDS)
        assert lower <= p99[model] <= upper, (model, p99[model], lower, upper, sorted(durations)[-3:])
    # The slow calls put gpt-4o's p99 well above claude's.
    assert p99["gpt-4o"] > 0.16 and p99["claude-sonnet-4-6"] < 0.16

    # Tokens by model and type, and the finish-reason canary.
    tokens = promql(url, 'sum by (gen_ai_request_model) (fivelens_llm_tokens_total{fivelens_token_type="input"})')
    reported = {r["metric"]["gen_ai_request_model"]: float(r["value"][1]) for r in tokens}
    for model in ("gpt-4o", "claude-sonnet-4-6"):
        assert reported[model] == sum(
            s["attributes"]["gen_ai.usage.input_tokens"]
            for s in spans
            if s["attributes"]["gen_ai.request.model"] == model
        )
    length = promql(url, 'sum(fivelens_llm_finish_reasons_total{fivelens_finish_reason="length"})')
    assert float(length[0]["value"][1]) == 1
