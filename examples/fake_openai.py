"""What the examples share: the repository's fake OpenAI server (tests/fake_llm_server.py:
deterministic, no network), ``with fake_openai_server() as base_url: ...``; and
``show_latest_trace()``, which prints the run's tree with the ``fivelens`` command."""

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


def show_latest_trace(root_prefix: str = "") -> None:
    """Prints ``fivelens show`` of the newest trace in the local store whose root span's name
    starts with ``root_prefix`` (among the five newest)."""
    cli = [sys.executable, "-m", "fivelens"]
    listing = subprocess.run([*cli, "traces", "--json", "--limit", "5"], check=True, capture_output=True)
    run = next(t for t in json.loads(listing.stdout)["traces"] if t["root_name"].startswith(root_prefix))
    subprocess.run([*cli, "show", run["trace_id"]], check=True)
