"""deploy/collector/ with a real OpenTelemetry Collector (otelcol-fivelens, built from the
Collector's modules by tests/collector/build.sh): the production configurations, unchanged, run as
a two-tier fleet on loopback, a load-balancing gateway in front of two tail-sampling collectors,
each forwarding what it keeps to its own OTLP receiver. Two instrumented processes, a Python agent
and the Node tool service it calls, export every span (fivelens's default keeps all) to the
gateway. The samplers keep every error trace, wherever the error happened, and every flagged one,
and about the configured share of the rest; every kept trace arrives whole, both processes' spans
at the same sampler."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import APP_PYTHON, APPS, DEPLOY, REPO, Receiver, app_env, free_port, wait_until

COLLECTOR = DEPLOY / "collector"
REQUESTS = 120
BASELINE_PERCENT = 25


@pytest.fixture(scope="module")
def otelcol() -> str:
    explicit = os.environ.get("FIVELENS_OTELCOL")
    if explicit:
        return explicit
    build = subprocess.run(
        [str(REPO / "tests" / "collector" / "build.sh")], capture_output=True, text=True, timeout=1800
    )
    assert build.returncode == 0, build.stderr
    return build.stdout.strip().splitlines()[-1]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    def listening() -> bool:
        assert proc.poll() is None, f"collector exited: {log.read_text()[-3000:]}"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, 60, f"a collector listening on {port}", interval=0.1)


class Fleet:
    def __init__(self, otelcol: str, tmp: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.backends = [Receiver(grpc=True), Receiver(grpc=True)]
        self.store = Receiver(grpc=True)  # where the gateway sends the log records
        self.tmp = tmp
        sampler_ports = []
        for i, backend in enumerate(self.backends):
            port = free_port()
            sampler_ports.append(port)
            assert backend.grpc_endpoint
            self.start(
                otelcol,
                "sampler.yaml",
                f"sampler-{i}",
                port,
                FIVELENS_OTLP_GRPC=f"127.0.0.1:{port}",
                FIVELENS_OTLP_HTTP=f"127.0.0.1:{free_port()}",
                FIVELENS_BACKEND=backend.grpc_endpoint.removeprefix("http://"),
                FIVELENS_BACKEND_INSECURE="true",
                FIVELENS_DECISION_WAIT="6s",
                FIVELENS_DECISION_AFTER_ROOT="2s",
                FIVELENS_LATENCY_THRESHOLD_MS="60000",
                FIVELENS_BASELINE_PERCENT=str(BASELINE_PERCENT),
            )
        self.http_port, self.prometheus_port = free_port(), free_port()
        self.start(
            otelcol,
            "gateway.yaml",
            "gateway",
            self.http_port,
            FIVELENS_SAMPLERS="[" + ",".join(f"127.0.0.1:{p}" for p in sampler_ports) + "]",
            FIVELENS_BACKEND=(self.store.grpc_endpoint or "").removeprefix("http://"),
            FIVELENS_BACKEND_INSECURE="true",
            FIVELENS_OTLP_GRPC=f"127.0.0.1:{free_port()}",
            FIVELENS_OTLP_HTTP=f"127.0.0.1:{self.http_port}",
            FIVELENS_PROMETHEUS=f"127.0.0.1:{self.prometheus_port}",
        )
        self.endpoint = f"http://127.0.0.1:{self.http_port}"

    def start(self, otelcol: str, config: str, name: str, port: int, **env: str) -> None:
        log = self.tmp / f"{name}.log"
        # The Collector's own telemetry would listen on :8888 in each of them: off here, with a
        # second configuration file merged over the production one.
        quiet = self.tmp / "no-self-telemetry.yaml"
        quiet.write_text("service:\n  telemetry:\n    metrics:\n      level: none\n")
        proc = subprocess.Popen(
            [otelcol, f"--config={COLLECTOR / config}", f"--config={quiet}"],
            env={**os.environ, **env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        wait_for_port(port, proc, log)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in self.tmp.glob("*.log"))

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for backend in [*self.backends, self.store]:
            backend.stop()


@pytest.fixture
def fleet(otelcol: str, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(otelcol, tmp_path)
    yield f
    f.stop()


def run_apps(endpoint: str) -> dict[str, str]:
    """The Node tool service and the Python agent, both exporting to `endpoint`; trace id -> kind."""
    env = app_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    node = subprocess.Popen(
        ["node", str(APPS / "tool_service.js")], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert node.stdout is not None
        port = json.loads(node.stdout.readline())["port"]
        agent = subprocess.run(
            [str(APP_PYTHON), str(APPS / "agent.py"), f"http://127.0.0.1:{port}", str(REQUESTS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert agent.returncode == 0, agent.stderr
    finally:
        assert node.stdin is not None
        node.stdin.close()
        node.wait(timeout=30)
    assert node.returncode == 0
    traces = {}
    for line in agent.stdout.splitlines():
        row = json.loads(line)
        traces[row["trace_id"]] = row["kind"]
    assert len(traces) == REQUESTS
    return traces


def test_two_tier_fleet_tail_samples_whole_traces(fleet: Fleet) -> None:
    scripted = run_apps(fleet.endpoint)

    # Wait for the samplers' decisions: until nothing new has arrived for a few seconds.
    def settled() -> bool:
        counts = [len(b.get("spans")) for b in fleet.backends]
        settled.history.append(counts)  # type: ignore[attr-defined]
        recent = settled.history[-15:]  # type: ignore[attr-defined]
        return len(recent) == 15 and sum(counts) > 0 and all(c == counts for c in recent)

    settled.history = []  # type: ignore[attr-defined]
    wait_until(settled, 90, "the samplers to forward their decisions", interval=0.4)

    where: dict[str, set[int]] = defaultdict(set)
    spans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, backend in enumerate(fleet.backends):
        for s in backend.get("spans"):
            where[s["trace_id"]].add(i)
            spans[s["trace_id"]].append(s)
    assert set(spans) <= set(scripted), "spans of traces the apps did not make"
    for trace_id, sampler in where.items():
        # Load-balanced by trace id: one sampler saw (and decided on) the whole trace.
        assert len(sampler) == 1, (trace_id, sampler)
        services = [s["resource"]["service.name"] for s in spans[trace_id]]
        # Whole: the agent's root, model call and HTTP client span; the service's server, tool
        # and model call spans.
        assert sorted(services) == ["deploy-agent"] * 3 + ["deploy-tools"] * 3, (trace_id, services)
    assert all(where[t] for t in where), fleet.logs()
    # Both samplers got a share of the traces.
    assert {next(iter(s)) for s in where.values()} == {0, 1}, fleet.logs()

    kept = set(spans)
    by_kind: dict[str, list[str]] = defaultdict(list)
    for trace_id, kind in scripted.items():
        by_kind[kind].append(trace_id)
    # Every error trace: those whose error was in Node only (the Python root knew nothing of it)
    # and those whose Python root failed; and every trace flagged with keep_trace().
    for kind in ("node-error", "python-error", "keep"):
        assert by_kind[kind] and set(by_kind[kind]) <= kept, (kind, len(set(by_kind[kind]) - kept))
    # The baseline: about 25% of the rest (binomial, n=91: mean 23, sd 4; bounds at 3.5 sd).
    ok = by_kind["ok"]
    share = len(kept & set(ok))
    assert 8 <= share <= 38, (share, len(ok))

    # Log records are not sampled: the one the agent wrote in every trace, kept or dropped,
    # reached the store through the gateway.
    records = [r for r in fleet.store.get("logs") if r["body"].startswith("request ")]
    assert sorted(r["trace_id"] for r in records) == sorted(scripted)
    assert not any(b.get("logs") for b in fleet.backends)

    # The gateway's Prometheus endpoint: both processes' metrics, every call counted (sampling
    # never touches them).
    with urllib.request.urlopen(f"http://127.0.0.1:{fleet.prometheus_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    counts: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        if line.startswith("gen_ai_client_operation_duration_seconds_count{"):
            model = line.split('gen_ai_request_model="', 1)[1].split('"', 1)[0]
            counts[model] += float(line.rsplit(" ", 1)[1])
    assert counts == {"gpt-4o": REQUESTS, "gpt-4o-mini": REQUESTS}, text[:2000]
