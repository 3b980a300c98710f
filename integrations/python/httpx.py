"""``httpx`` clients, sync and async: outgoing requests carry the current trace (see
``fivelens._http`` for what is sent where, and when a CLIENT span is made). ``httpx2``, the fork
the OpenAI 3.x and Anthropic SDKs use, is the same code under another name
(``fivelens.integrations.httpx2``).

``Client.send`` / ``AsyncClient.send`` are wrapped: every request of a client goes through them,
whatever its transport, and a request that follows redirects is one span (the redirects keep its
headers). The span ends when the response headers are in, as for a streamed response.

Clients that OpenTelemetry's httpx instrumentation covers (``HTTPXClientInstrumentor().instrument()``,
``instrument_client(client)``, or an ``OpenTelemetryTransport``) are left to it.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from fivelens import _hooks, _http

# module name -> (the module, the OpenTelemetry instrumentor class that covers it)
_OTEL_INSTRUMENTORS = {"httpx": "HTTPXClientInstrumentor", "httpx2": "HTTPX2ClientInstrumentor"}
_OTEL_MODULE = "opentelemetry.instrumentation.httpx"
_patched: dict[str, ModuleType] = {}


def instrument() -> None:
    _hooks.when_imported("httpx", patch)


def uninstrument() -> None:
    _hooks.cancel("httpx")
    unpatch("httpx")


def _covered_by_otel(module_name: str, client: Any) -> bool:
    if getattr(client, "_is_instrumented_by_opentelemetry", False):
        return True
    if "OpenTelemetryTransport" in type(getattr(client, "_transport", None)).__name__:
        return True
    return _http.otel_instrumentor_active(_OTEL_MODULE, _OTEL_INSTRUMENTORS[module_name])


def _prepare(module_name: str, client: Any, request: Any) -> tuple[Any, bool]:
    """The CLIENT span (or ``None``) and whether fivelens handles this request."""
    try:
        if _covered_by_otel(module_name, client):
            return None, False
        headers = request.headers
        plan = _http.outgoing(request.method, str(request.url), headers.__contains__)
        if plan is None:
            return None, False
        span, carrier = plan
        for key, value in carrier.items():
            headers[key] = value
        return span, True
    except Exception as e:
        _http._report("httpx request", e)
        return None, False


def patch(module: ModuleType) -> None:
    """Wraps ``send`` of ``module.Client`` and ``module.AsyncClient`` (once)."""
    name = module.__name__
    if name in _patched:
        return
    sync_send = module.Client.send
    async_send = module.AsyncClient.send

    @functools.wraps(sync_send)
    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        span, handled = _prepare(name, self, request)
        if not handled or span is None:
            return sync_send(self, request, *args, **kwargs)
        try:
            response = sync_send(self, request, *args, **kwargs)
        except BaseException as e:
            _http.client_done(span, error=e)
            raise
        _http.client_done(span, getattr(response, "status_code", None))
        return response

    @functools.wraps(async_send)
    async def asend(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        span, handled = _prepare(name, self, request)
        if not handled or span is None:
            return await async_send(self, request, *args, **kwargs)
        try:
            response = await async_send(self, request, *args, **kwargs)
        except BaseException as e:
            _http.client_done(span, error=e)
            raise
        _http.client_done(span, getattr(response, "status_code", None))
        return response

    send.__fivelens_original__ = sync_send  # type: ignore[attr-defined]
    asend.__fivelens_original__ = async_send  # type: ignore[attr-defined]
    module.Client.send = send
    module.AsyncClient.send = asend
    _patched[name] = module


def unpatch(name: str) -> None:
    module = _patched.pop(name, None)
    if module is None:
        return
    for cls in (module.Client, module.AsyncClient):
        original = getattr(cls.send, "__fivelens_original__", None)
        if original is not None:
            cls.send = original
