"""Patching a library when it is imported, not before: ``instrument()`` must not import every
SDK that happens to be installed (importing ``openai`` alone takes a few hundred milliseconds).

``when_imported(name, fn)`` runs ``fn(module)`` now if ``name`` is already imported, otherwise
right after its import finishes, once. Failures in ``fn`` are reported, never raised into the
importing code.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from . import _native

Hook = Callable[[ModuleType], None]

_LOCK = threading.RLock()
_pending: dict[str, list[Hook]] = {}


def _run(name: str, module: ModuleType, hooks: list[Hook]) -> None:
    for hook in hooks:
        try:
            hook(module)
        except Exception as e:  # never into the importing code
            _native.report_internal_error("integration", f"patching {name} failed: {e!r}")


class _Loader(Loader):
    """Delegates to the real loader, then runs the hooks for the module."""

    def __init__(self, inner: Loader, name: str) -> None:
        self._inner = inner
        self._name = name

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        # Put the real loader back, for code that inspects it.
        if module.__spec__ is not None:
            module.__spec__.loader = self._inner
        module.__loader__ = self._inner
        with _LOCK:
            hooks = _pending.pop(self._name, [])
        _run(self._name, module, hooks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Finder(MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _pending:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, fullname)
        return spec


_FINDER = _Finder()


def when_imported(name: str, hook: Hook) -> None:
    """Runs ``hook(module)`` once ``name`` is imported (now, if it already is)."""
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__spec__", None) is not None:
        _run(name, module, [hook])
        return
    with _LOCK:
        _pending.setdefault(name, []).append(hook)
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)


def cancel(name: str) -> None:
    """Forgets the hooks waiting for ``name`` (``uninstrument``)."""
    with _LOCK:
        _pending.pop(name, None)


# ---- work an integration still has in flight when the app flushes -------------------------------

Drain = Callable[[float], None]
_drains: list[Drain] = []


def on_flush(drain: Drain) -> None:
    """Registers ``drain(timeout)``, called by ``flush()`` and ``shutdown()`` before the spans are
    flushed: for an integration whose spans are ended off the app's thread (CrewAI's event
    handlers run on CrewAI's thread pool), so that a flush right after a run sees its spans."""
    with _LOCK:
        if drain not in _drains:
            _drains.append(drain)


def remove_on_flush(drain: Drain) -> None:
    with _LOCK:
        if drain in _drains:
            _drains.remove(drain)


def drain(timeout: float) -> float:
    """Runs the registered drains within ``timeout`` seconds in all; returns the time left."""
    with _LOCK:
        drains = list(_drains)
    if not drains:
        return timeout
    deadline = time.monotonic() + max(timeout, 0.0)
    for fn in drains:
        try:
            fn(max(deadline - time.monotonic(), 0.0))
        except Exception as e:  # never into the app
            _native.report_internal_error("integration", f"draining before a flush failed: {e!r}")
    return max(deadline - time.monotonic(), 0.0)
