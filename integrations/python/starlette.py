"""Starlette and FastAPI apps: each HTTP request is a SERVER span continuing the caller's trace
(``fivelens.asgi_middleware``, see ``fivelens._http``), with ``http.route`` from the matched
route.

``build_middleware_stack`` is wrapped (Starlette's, and FastAPI's, which builds its own), so the
middleware sits outside the app's own (it sees the 500 that ``ServerErrorMiddleware`` sends for
an unhandled exception). The stack is built at the first request, so apps created before
``instrument()`` are covered too.

Apps that OpenTelemetry's ASGI or FastAPI instrumentation covers are left to it. FastAPI's own
telemetry (FastAPI 0.16x, on when an OpenTelemetry provider is configured) starts its SERVER span
outside the stack: with the app's SDK provider that span is the app's, and the middleware steps
aside; with fivelens's provider it does not record, and the middleware's span is the one (FastAPI's
``fastapi.endpoint`` and similar spans nest under it).
"""

from __future__ import annotations

import functools
from typing import Any

from fivelens import _hooks, _http

# (class, its original build_middleware_stack)
_patched: list[tuple[Any, Any]] = []


def instrument() -> None:
    _hooks.when_imported("starlette.applications", lambda m: _patch(m.Starlette))
    _hooks.when_imported("fastapi.applications", lambda m: _patch(m.FastAPI))


def uninstrument() -> None:
    _hooks.cancel("starlette.applications")
    _hooks.cancel("fastapi.applications")
    for cls, original in _patched:
        cls.build_middleware_stack = original
    _patched.clear()


def _covered_by_otel(app: Any) -> bool:
    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        return True
    return any(
        getattr(getattr(m, "cls", None), "__name__", "") == "OpenTelemetryMiddleware"
        for m in getattr(app, "user_middleware", None) or ()
    )


def _patch(cls: Any) -> None:
    original = cls.__dict__.get("build_middleware_stack")
    if original is None or getattr(original, "__fivelens_original__", None) is not None:
        return

    @functools.wraps(original)
    def build_middleware_stack(self: Any) -> Any:
        stack = original(self)
        try:
            if not isinstance(stack, _http.AsgiMiddleware) and not _covered_by_otel(self):
                return _http.asgi_middleware(stack)
        except Exception as e:
            _http._report("wrapping a Starlette app", e)
        return stack

    build_middleware_stack.__fivelens_original__ = original  # type: ignore[attr-defined]
    cls.build_middleware_stack = build_middleware_stack
    _patched.append((cls, original))
