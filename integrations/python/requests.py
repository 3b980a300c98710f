"""``requests``: outgoing requests carry the current trace (see ``fivelens._http`` for what is
sent where, and when a CLIENT span is made).

``Session.send`` is wrapped (``requests.get`` and friends go through a session too). Each redirect
is sent again through it, with the first request's headers, so it is left alone: the redirect
chain is one span. Sessions that OpenTelemetry's requests instrumentation covers are left to it,
whether it was enabled before fivelens or after.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from fivelens import _hooks, _http

_OTEL_MODULE = "opentelemetry.instrumentation.requests"
_OTEL_MARK = "opentelemetry_instrumentation_requests_applied"
_patched: list[ModuleType] = []


def instrument() -> None:
    _hooks.when_imported("requests", _patch)


def uninstrument() -> None:
    _hooks.cancel("requests")
    for module in _patched:
        original = getattr(module.Session.send, "__fivelens_original__", None)
        if original is not None:
            module.Session.send = original
    _patched.clear()


def _patch(module: ModuleType) -> None:
    if _patched:
        return
    original = module.Session.send

    @functools.wraps(original)
    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        span = None
        try:
            # OpenTelemetry's wrapper below this one (enabled first) or globally on (enabled after:
            # its wrapper is above this one and has already injected).
            otel = getattr(original, _OTEL_MARK, False) or _http.otel_instrumentor_active(
                _OTEL_MODULE, "RequestsInstrumentor"
            )
            plan = None
            if not otel:
                headers = request.headers
                plan = _http.outgoing(request.method or "GET", request.url or "", headers.__contains__)
            if plan is not None:
                span, carrier = plan
                headers.update(carrier)
        except Exception as e:
            _http._report("requests request", e)
        if span is None:
            return original(self, request, **kwargs)
        try:
            response = original(self, request, **kwargs)
        except BaseException as e:
            _http.client_done(span, error=e)
            raise
        _http.client_done(span, getattr(response, "status_code", None))
        return response

    send.__fivelens_original__ = original  # type: ignore[attr-defined]
    module.Session.send = send
    _patched.append(module)
