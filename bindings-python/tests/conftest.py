"""Shared fixtures: a real OTLP receiver (the repository's loopback receiver, decoding with the
OTLP protobuf definitions), a clean fivelens per test, and subprocess helpers for the tests that
need a fresh interpreter (fork, exit, OpenTelemetry provider set-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fivelens

REPO = Path(__file__).resolve().parents[2]


def _receiver_binary() -> Path:
    explicit = os.environ.get("FIVELENS_OTLP_RECEIVER")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("debug", "release"):
        candidate = target / profile / "otlp-receiver"
        if candidate.exists():
            return candidate
    pytest.fail("otlp-receiver is not built: run `cargo build -p fivelens-tests --bin otlp-receiver` (make test does)")


class Receiver:
    """A running loopback OTLP receiver (HTTP; gRPC too when asked)."""

    def __init__(self, grpc: bool = False, port: int = 0) -> None:
        args = [str(_receiver_binary()), "--port", str(port)]
        if grpc:
            args.append("--grpc")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"receiver did not start: {line!r}")
        ready = json.loads(line[len("READY ") :])
        self.endpoint: str = ready["http"]
        self.grpc_endpoint: str | None = ready["grpc"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoint + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def spans(self) -> list[dict[str, Any]]:
        return self._call("GET", "/spans")  # type: ignore[no-any-return]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if len(spans) >= n or time.monotonic() > deadline:
                return spans
            time.sleep(0.02)

    def clear(self) -> None:
        self._call("DELETE", "/spans")

    def logs(self) -> list[dict[str, Any]]:
        return self._call("GET", "/logs")  # type: ignore[no-any-return]

    def wait_for_logs(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            logs = self.logs()
            if len(logs) >= n or time.monotonic() > deadline:
                return logs
            time.sleep(0.02)

    def metrics(self) -> list[dict[str, Any]]:
        return self._call("GET", "/metrics")  # type: ignore[no-any-return]

    def control(self, **faults: Any) -> None:
        self._call("POST", "/control", faults)

    def headers(self) -> dict[str, str]:
        return self._call("GET", "/headers")  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def grpc_receiver() -> Iterator[Receiver]:
    r = Receiver(grpc=True)
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def clean_fivelens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with fivelens shut down and its own store folder."""
    monkeypatch.setenv("FIVELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FIVELENS_USER_HASH_KEY", "test-user-hash-key")
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    fivelens.shutdown(2.0)
    yield
    fivelens.shutdown(2.0)


def span_tree(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Spans by name (names are unique within a test)."""
    by_name = {s["name"]: s for s in spans}
    assert len(by_name) == len(spans), f"duplicate span names: {[s['name'] for s in spans]}"
    return by_name


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter (same venv) and returns the finished process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---- model calls ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def llm_server() -> Iterator[Any]:
    """The repository's fake OpenAI / Anthropic server (tests/fake_llm_server.py), in process."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from fake_llm_server import FakeLLMServer
    finally:
        sys.path.pop(0)
    server = FakeLLMServer()
    server.start()
    yield server
    server.stop()


class Recorded:
    """Spans recorded in testing mode, after the core's processing (cost, hash, estimates)."""

    def spans(self) -> list[dict[str, Any]]:
        assert fivelens.flush(10.0)
        return list(fivelens._native.finished_spans())

    def llm_spans(self) -> list[dict[str, Any]]:
        return [s for s in self.spans() if "gen_ai.operation.name" in s["attributes"]]

    def one(self) -> dict[str, Any]:
        spans = self.llm_spans()
        assert len(spans) == 1, [s["name"] for s in spans]
        return spans[0]

    def clear(self) -> None:
        fivelens.flush(10.0)
        fivelens._native.clear_finished_spans()


@pytest.fixture
def recorded() -> Recorded:
    """fivelens instrumented in testing mode (no store, no exporter)."""
    fivelens.instrument(testing=True, store="off", service_name="llm-tests")
    return Recorded()


def run_example(name: str, home: Path, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """Runs ``examples/<name>`` in a fresh interpreter with its own store (and ``env`` added, e.g. an
    OTLP endpoint); returns its output lines with the durations taken out of ``fivelens show``'s
    tree (they vary), and its stderr."""
    import re

    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FIVELENS_"))}
    full_env["FIVELENS_HOME"] = str(home)
    full_env.update(env or {})
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / name)], env=full_env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = [re.sub(r"\s{2,}[\d.]+ (ms|µs|s)\b", "", line).rstrip() for line in out.stdout.splitlines()]
    return lines, out.stderr
