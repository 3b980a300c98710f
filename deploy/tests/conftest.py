"""Shared helpers of the deploy tests (run with .venv-deploy, `make test-deploy`): where the
repository's binaries are, the loopback OTLP receiver, free ports, and the instrumented apps, which
run as subprocesses with .venv's Python (fivelens built by `make python-dev`) and with Node (the
addon built by `make node-dev`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
APPS = Path(__file__).resolve().parent / "apps"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
APP_PYTHON = Path(os.environ.get("FIVELENS_APP_PYTHON", REPO / ".venv" / "bin" / "python"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.2, fail: bool = True) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            if not fail:
                return value
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(interval)


def app_env(**extra: str) -> dict[str, str]:
    """The environment of an instrumented app: no store, nothing inherited that points elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FIVELENS_"))}
    env.update({"FIVELENS_STORE": "off", "FIVELENS_LOG_LEVEL": "warn"})
    env.update(extra)
    return env


class Receiver:
    """The repository's loopback OTLP receiver (tests/src/receiver.rs): HTTP, and gRPC when asked."""

    def __init__(self, grpc: bool = False) -> None:
        binary = Path(os.environ.get("FIVELENS_OTLP_RECEIVER", TARGET / "debug" / "otlp-receiver"))
        assert binary.exists(), f"{binary} is not built: run `make receiver`"
        args = [str(binary)] + (["--grpc"] if grpc else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"receiver did not start: {line!r}")
        ready = json.loads(line[len("READY ") :])
        self.endpoint: str = ready["http"]
        self.grpc_endpoint: str | None = ready["grpc"]

    def get(self, what: str) -> list[dict[str, Any]]:
        return get_json(f"{self.endpoint}/{what}")  # type: ignore[no-any-return]

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


def run_workload(env: dict[str, str], *args: str, timeout: float = 120) -> None:
    """Runs apps/llm_workload.py to completion with .venv's fivelens."""
    assert APP_PYTHON.exists(), f"{APP_PYTHON} is missing: run `make python-dev`"
    proc = subprocess.run(
        [str(APP_PYTHON), str(APPS / "llm_workload.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
