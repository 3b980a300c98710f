"""Carry the current span into other threads: ``threading.Thread`` (subclasses included),
``concurrent.futures.ThreadPoolExecutor.submit`` and ``map``, and with them
``loop.run_in_executor``. asyncio tasks need nothing: they copy the context themselves.

Only fivelens's and OpenTelemetry's context variables travel, not the caller's whole
``contextvars`` context (an app may rely on a thread starting with a clean context).
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import fivelens

_originals: dict[str, Any] = {}


def instrument() -> None:
    if _originals:
        return
    thread_start = threading.Thread.start
    bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
    submit = concurrent.futures.ThreadPoolExecutor.submit

    def start(self: threading.Thread) -> None:
        # Captured when the thread is started, like a task is bound when it is created.
        self._fivelens_run = fivelens.bind_context(_run_bootstrap)  # type: ignore[attr-defined]
        thread_start(self)

    def _bootstrap_inner(self: threading.Thread) -> None:
        runner = getattr(self, "_fivelens_run", None)
        if runner is None:
            bootstrap_inner(self)
            return
        del self._fivelens_run  # type: ignore[attr-defined]
        runner(bootstrap_inner, self)

    def submit_with_context(self: concurrent.futures.ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return submit(self, fivelens.bind_context(fn), *args, **kwargs)

    _originals.update(start=thread_start, bootstrap_inner=bootstrap_inner, submit=submit)
    threading.Thread.start = start  # type: ignore[method-assign]
    threading.Thread._bootstrap_inner = _bootstrap_inner  # type: ignore[attr-defined]
    concurrent.futures.ThreadPoolExecutor.submit = submit_with_context  # type: ignore[method-assign, assignment]


def _run_bootstrap(bootstrap_inner: Any, thread: threading.Thread) -> Any:
    return bootstrap_inner(thread)


def uninstrument() -> None:
    if not _originals:
        return
    threading.Thread.start = _originals["start"]  # type: ignore[method-assign]
    threading.Thread._bootstrap_inner = _originals["bootstrap_inner"]  # type: ignore[attr-defined]
    concurrent.futures.ThreadPoolExecutor.submit = _originals["submit"]  # type: ignore[method-assign]
    _originals.clear()
