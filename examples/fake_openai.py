"""The repository's fake OpenAI server (tests/fake_llm_server.py: deterministic, no network), for
the examples: ``with fake_openai_server() as base_url: ...``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def fake_openai_server() -> Iterator[str]:
    """Starts the server in another process; yields its OpenAI base URL; stops it."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fake_llm_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = proc.stdout.readline()
        yield json.loads(line[len("READY ") :])["url"] + "/v1"
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
