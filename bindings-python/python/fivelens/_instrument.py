"""``instrument()``: configure the core once, enable every integration whose framework is
importable, and make sure spans leave the process at exit, in forked children and in
``multiprocessing`` workers."""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import platform
import sys
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

from . import _behaviour, _hooks, _native

_LOCK = threading.RLock()


@dataclass
class InstrumentReport:
    """What ``instrument()`` did."""

    recording: bool
    """Whether spans are recorded (false when disabled, e.g. ``OTEL_SDK_DISABLED=true``)."""
    enabled: list[str] = field(default_factory=list)
    """Integrations that were switched on."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Integrations left off, with the reason (framework not installed, not requested...)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Integrations whose set-up failed (the rest still run)."""
    config: dict[str, Any] = field(default_factory=dict)
    """The resolved configuration (options over environment over defaults)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "enabled": list(self.enabled),
            "skipped": dict(self.skipped),
            "failed": dict(self.failed),
        }

    def __str__(self) -> str:
        lines = [f"fivelens: {'recording' if self.recording else 'not recording'}"]
        if self.enabled:
            lines.append("  enabled: " + ", ".join(self.enabled))
        for name, why in self.skipped.items():
            lines.append(f"  skipped {name}: {why}")
        for name, why in self.failed.items():
            lines.append(f"  failed {name}: {why}")
        return "\n".join(lines)


_report: InstrumentReport | None = None
_options: dict[str, Any] | None = None
_enabled_modules: list[Any] = []
_hooks_installed = False


_config: dict[str, Any] = {}
"""The resolved configuration of the last ``instrument()`` call (integrations read their options
here while they are being enabled)."""


def current_config() -> dict[str, Any]:
    return _config


def instrument(**options: Any) -> InstrumentReport:
    """Configure fivelens and instrument every supported framework that is importable.

    Options are the fields of the configuration table in the README (``service_name``,
    ``otlp_endpoint``, ``store_path``, ``capture_content``, ``integrations``...); each falls back
    to its environment variable, then its default. A bad option raises ``ValueError`` naming it.
    Calling it again returns the first report (call ``fivelens.shutdown()`` first to change the
    configuration).
    """
    global _report, _options
    with _LOCK:
        if _report is not None and _native.is_recording():
            if options and options != _options:
                warnings.warn(
                    "fivelens.instrument() was already called; the new options are ignored "
                    "(call fivelens.shutdown() first to reconfigure)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return _report
        resolved = _native.configure(options, _runtime_attributes())
        # The evaluation pool is sized by this configuration.
        _behaviour._reset_pool()
        report = InstrumentReport(recording=_native.is_recording(), config=resolved)
        _config.clear()
        _config.update(resolved)
        _options = dict(options)
        if report.recording:
            _install_process_hooks()
            _enable_integrations(report, resolved.get("integrations"))
        _native.set_instrument_report(report.as_dict())
        _report = report
        return report


def shutdown(timeout: float = 5.0) -> bool:
    """Flush what is queued (at most ``timeout`` seconds) and stop recording. Returns whether
    everything was delivered in time. ``instrument()`` may be called again afterwards."""
    global _report
    timeout = _hooks.drain(timeout)  # spans still being ended off the app's thread (CrewAI)
    with _LOCK:
        for module in reversed(_enabled_modules):
            try:
                module.uninstrument()
            except Exception as e:  # never raise into the host
                _native.report_internal_error("integration", f"{module.__name__}.uninstrument failed: {e!r}")
        _enabled_modules.clear()
        _report = None
    return _native.shutdown(timeout)


def _runtime_attributes() -> list[tuple[str, str]]:
    return [
        ("process.runtime.name", sys.implementation.name),
        ("process.runtime.version", platform.python_version()),
    ]


def _enable_integrations(report: InstrumentReport, wanted: list[str] | None) -> None:
    from .integrations import REGISTRY

    names = {i.name for i in REGISTRY}
    if wanted is not None:
        unknown = sorted(set(wanted) - names)
        if unknown:
            report.failed["integrations"] = f"unknown integration(s): {', '.join(unknown)}"
    for integration in REGISTRY:
        if wanted is not None and integration.name not in wanted:
            report.skipped[integration.name] = "not requested"
            continue
        if integration.switch is not None and not _config.get(integration.switch, True):
            report.skipped[integration.name] = f"{integration.switch} is off"
            continue
        missing = [m for m in integration.requires if importlib.util.find_spec(m.split(".")[0]) is None]
        if missing:
            report.skipped[integration.name] = f"{missing[0]} is not installed"
            continue
        try:
            module = importlib.import_module(integration.module)
            reason = module.instrument()
        except Exception as e:  # one integration failing must not stop the others
            report.failed[integration.name] = f"{type(e).__name__}: {e}"
            _native.report_internal_error("integration", f"enabling {integration.name} failed: {e!r}")
            continue
        if isinstance(reason, str):
            report.skipped[integration.name] = reason
            warnings.warn(f"fivelens: {integration.name} skipped: {reason}", RuntimeWarning, stacklevel=3)
            continue
        _enabled_modules.append(module)
        report.enabled.append(integration.name)


def _exit_timeout() -> float:
    cfg = _report.config if _report is not None else {}
    return float(cfg.get("exit_timeout_ms", 2000)) / 1000.0


def _at_exit() -> None:
    try:
        _native.shutdown(_exit_timeout())
    except Exception:  # pragma: no cover - interpreter teardown
        pass


class _ForkAnchor:
    """A weak-referenceable object for ``multiprocessing.util.register_after_fork``."""


_FORK_ANCHOR = _ForkAnchor()


def _mp_child(_anchor: object) -> None:
    # A process started by multiprocessing leaves through os._exit, which skips atexit; its
    # finalizers do run, so the flush is registered as one.
    import multiprocessing.util as mpu

    mpu.Finalize(None, _at_exit, exitpriority=0)


def _install_process_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    try:
        import multiprocessing
        import multiprocessing.util as mpu

        mpu.register_after_fork(_FORK_ANCHOR, _mp_child)
        if multiprocessing.parent_process() is not None:
            # Started with the spawn or forkserver method and instrumented at import.
            mpu.Finalize(None, _at_exit, exitpriority=0)
        _patch_pool_worker()
    except Exception as e:  # pragma: no cover - exotic platforms
        _native.report_internal_error("exit", f"multiprocessing hooks not installed: {e!r}")
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_child)


def _after_fork_child() -> None:
    # The core rebuilds its threads lazily (pthread_atfork); nothing Python-side to reset yet,
    # but the hook keeps the order explicit for integrations that cache per-process state.
    for module in _enabled_modules:
        hook = getattr(module, "after_fork_child", None)
        if hook is not None:
            try:
                hook()
            except Exception as e:
                _native.report_internal_error("integration", f"{module.__name__}.after_fork_child failed: {e!r}")


class _FlushingQueue:
    """Wraps a ``multiprocessing.Pool`` worker's result queue: before a task's result goes back,
    the spans that task ended are flushed. ``Pool.terminate()`` (which ``with Pool()`` calls)
    kills workers with SIGTERM, which runs neither atexit nor finalizers."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        self._seen = 0

    def put(self, obj: Any) -> None:
        try:
            ended = _native._spans_ended()
            if ended != self._seen:
                self._seen = ended
                _native.flush(_exit_timeout())
        except Exception as e:
            _native.report_internal_error("exit", f"flush in pool worker failed: {e!r}")
        self._queue.put(obj)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)


def _patch_pool_worker() -> None:
    import multiprocessing.pool as mpp

    original = getattr(mpp, "worker")  # noqa: B009 - private to multiprocessing, untyped
    if getattr(original, "__fivelens__", False):
        return

    def worker(inqueue: Any, outqueue: Any, *args: Any, **kwargs: Any) -> Any:
        return original(inqueue, _FlushingQueue(outqueue), *args, **kwargs)

    # Same name, so that pickling the Process target by reference (spawn) still finds it.
    worker.__module__ = original.__module__
    worker.__qualname__ = original.__qualname__
    worker.__name__ = original.__name__
    worker.__fivelens__ = True  # type: ignore[attr-defined]
    setattr(mpp, "worker", worker)  # noqa: B010
