"""Forked children export their own spans, exactly once: ``os.fork``, ``multiprocessing.Process``
(fork and spawn) and ``multiprocessing.Pool`` used as a context manager (which terminates its
workers with SIGTERM)."""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import Receiver, run_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork")


def store_spans(db: Path) -> list[dict[str, Any]]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT name, trace_id, span_id, parent_span_id, resource FROM spans").fetchall()
    finally:
        conn.close()
    return [
        {"name": n, "trace_id": t, "span_id": s, "parent_span_id": p, "pid": json.loads(r)["process.pid"]}
        for n, t, s, p, r in rows
    ]


def test_os_fork_child_exports_its_spans_once(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "fork.db"
    result = run_python(
        f"""
        import os, sys, fivelens
        fivelens.instrument(store="on", store_path={str(db)!r}, otlp_endpoint={receiver.endpoint!r},
                            schedule_delay_ms=60000, batch_size=10000)
        with fivelens.span("parent-before") as before:
            pass
        # "parent-before" is still queued in the parent when it forks.
        pid = os.fork()
        if pid == 0:
            with fivelens.span("child", parent=before):
                pass
            ok = fivelens.flush(10)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        pid2 = os.fork()
        if pid2 == 0:
            with fivelens.span("child-exits-normally"):
                pass
            sys.exit(0)  # atexit flushes
        _, status = os.waitpid(pid2, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        with fivelens.span("parent-after"):
            pass
        assert fivelens.flush(10)
        print(os.getpid())
        """,
    )
    assert result.returncode == 0, result.stderr
    parent_pid = int(result.stdout.strip())
    spans = store_spans(db)
    counts = collections.Counter(s["name"] for s in spans)
    assert counts == {"parent-before": 1, "child": 1, "child-exits-normally": 1, "parent-after": 1}
    by_name = {s["name"]: s for s in spans}
    assert by_name["child"]["pid"] != parent_pid
    assert by_name["child-exits-normally"]["pid"] != parent_pid
    assert by_name["parent-after"]["pid"] == parent_pid
    assert by_name["child"]["parent_span_id"] == by_name["parent-before"]["span_id"]
    exported = collections.Counter(s["name"] for s in receiver.wait_for(4))
    assert exported == counts


def test_multiprocessing_process_and_pool(tmp_path: Path) -> None:
    db = tmp_path / "mp.db"
    script = tmp_path / "mp_app.py"
    script.write_text(
        f"""
import multiprocessing, os, fivelens

fivelens.instrument(store="on", store_path={str(db)!r}, schedule_delay_ms=60000, batch_size=10000)

def process_target():
    with fivelens.span("process-child"):
        pass

def pool_task(i):
    with fivelens.span(f"pool-task-{{i}}", pid=os.getpid()):
        pass
    return i

if __name__ == "__main__":
    fork = multiprocessing.get_context("fork")
    with fivelens.span("main"):
        p = fork.Process(target=process_target)
        p.start()
        p.join()
        assert p.exitcode == 0
        with fork.Pool(2) as pool:
            assert pool.map(pool_task, range(4)) == [0, 1, 2, 3]
        spawn = multiprocessing.get_context("spawn")
        s = spawn.Process(target=process_target)
        s.start()
        s.join()
        assert s.exitcode == 0
    assert fivelens.flush(10)
"""
    )
    result = run_python(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')", timeout=120)
    assert result.returncode == 0, result.stderr
    counts = collections.Counter(s["name"] for s in store_spans(db))
    assert counts["main"] == 1
    assert counts["process-child"] == 2, counts  # fork and spawn
    for i in range(4):
        assert counts[f"pool-task-{i}"] == 1, counts
