"""``aiohttp`` client sessions: outgoing requests carry the current trace (see ``fivelens._http``
for what is sent where, and when a CLIENT span is made).

``ClientSession._request`` is wrapped: every verb and ``request()`` go through it, and a request
that follows redirects is one span. The app's headers object is never changed: the request gets
a copy with the trace headers added. Sessions that OpenTelemetry's aiohttp-client instrumentation
covers (globally, or through a trace config of its own) are left to it.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from fivelens import _hooks, _http

_OTEL_MODULE = "opentelemetry.instrumentation.aiohttp_client"
_patched: list[ModuleType] = []


def instrument() -> None:
    _hooks.when_imported("aiohttp", _patch)


def uninstrument() -> None:
    _hooks.cancel("aiohttp")
    for module in _patched:
        original = getattr(module.ClientSession._request, "__fivelens_original__", None)
        if original is not None:
            module.ClientSession._request = original
    _patched.clear()


def _covered_by_otel(session: Any) -> bool:
    if _http.otel_instrumentor_active(_OTEL_MODULE, "AioHttpClientInstrumentor"):
        return True
    for config in getattr(session, "trace_configs", None) or ():
        for handler in getattr(config, "on_request_start", None) or ():
            if str(getattr(handler, "__module__", "")).startswith(_OTEL_MODULE):
                return True
    return False


def _patch(module: ModuleType) -> None:
    if _patched:
        return
    from multidict import CIMultiDict

    original = module.ClientSession._request

    @functools.wraps(original)
    async def _request(self: Any, method: str, str_or_url: Any, *args: Any, **kwargs: Any) -> Any:
        span = None
        try:
            if not _covered_by_otel(self):
                headers = CIMultiDict(kwargs.get("headers") or ())
                defaults = getattr(self, "headers", None) or {}

                def has(name: str) -> bool:
                    return name in headers or name in defaults

                build = getattr(self, "_build_url", None)
                url = str(build(str_or_url) if build is not None else str_or_url)
                plan = _http.outgoing(str(method), url, has)
                if plan is not None:
                    span, carrier = plan
                    for key, value in carrier.items():
                        headers[key] = value
                    kwargs["headers"] = headers
        except Exception as e:
            _http._report("aiohttp request", e)
        if span is None:
            return await original(self, method, str_or_url, *args, **kwargs)
        try:
            response = await original(self, method, str_or_url, *args, **kwargs)
        except BaseException as e:
            _http.client_done(span, error=e)
            raise
        _http.client_done(span, getattr(response, "status", None))
        return response

    _request.__fivelens_original__ = original  # type: ignore[attr-defined]
    module.ClientSession._request = _request
    _patched.append(module)
