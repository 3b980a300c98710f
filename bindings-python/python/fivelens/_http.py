"""HTTP hops: the trace context on outgoing requests, and a SERVER span for incoming ones.

    caller process                                   this process
    span ── CLIENT span ── traceparent ──> SERVER span (asgi_middleware / wsgi_middleware)
                           tracestate                 └─ the handler's spans, LLM calls, HTTP
                           baggage (passed through)
                           fivelens-context (not to model providers)

**Outgoing** (the client integrations: ``httpx``, ``httpx2``, ``requests``, ``aiohttp``): a
request made inside a trace gets a CLIENT span named by its method, and the headers of that span.
A request made while a model-call span is current (an OpenAI or Anthropic SDK call, or
``llm_call``), or by a provider SDK (its ``x-stainless-lang`` header), already has its span: it
carries the model-call span's ``traceparent`` and no second span. Such a request never carries
``fivelens-context``, which is for downstream fivelens services, not model-provider APIs (the
reason it is not ``baggage``). A request outside any trace is left alone. ``baggage`` is passed
through: the app's OpenTelemetry baggage, or else the ``baggage`` header of the request being
served.

**Never twice.** A request that already carries a ``traceparent`` (set by the app, or by an
OpenTelemetry HTTP instrumentation that ran first) is left alone; the client integrations also
step aside entirely for clients that OpenTelemetry's own HTTP instrumentation covers (they check
that per request, so instrumenting before or after fivelens both work). ``suppress_instrumentation``
and ``suppress_http_instrumentation`` in the OpenTelemetry context are honoured.

**Incoming**: a SERVER span ``{method} {http.route}`` (``{method}`` when no route is known),
parented by the request's ``traceparent`` (a new trace without one, or with a malformed one),
carrying the caller's trace-scoped attributes from ``fivelens-context``, current while the app
handles the request. A 5xx response or an exception sets status ERROR. When another layer already
made the server span (the app's OpenTelemetry ASGI/WSGI/Flask instrumentation, or fivelens's
middleware applied twice), the middleware passes the request through untouched.

Nothing here raises into the app: a failure is reported and the request goes on unobserved.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import _llm, _native
from . import semconv as sc

__all__ = ["asgi_middleware", "wsgi_middleware"]

CLIENT_INSTRUMENTATION = "fivelens.http.client"
SERVER_INSTRUMENTATION = "fivelens.http.server"

# Every request of a Stainless-generated SDK (OpenAI, Anthropic and other providers) has it.
_PROVIDER_SDK_HEADER = "x-stainless-lang"

# Query parameters whose values are secrets (the HTTP conventions' list, and common API-key names).
_SECRET_QUERY_KEYS = frozenset(
    {
        "awsaccesskeyid",
        "signature",
        "sig",
        "x-goog-signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "key",
        "api_key",
        "apikey",
        "api-key",
        "token",
        "access_token",
        "client_secret",
        "password",
        "secret",
        "code",
    }
)
_REDACTED = "REDACTED"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# The server request being handled in this context (its span is current while the app runs).
_SERVING: contextvars.ContextVar[ServerRequest | None] = contextvars.ContextVar("fivelens_http_serving", default=None)


def _report(what: str, e: BaseException) -> None:
    try:
        _native.report_internal_error("http", f"{what}: {e!r}")
    except Exception:  # pragma: no cover - interpreter teardown
        pass


# ---- the app's OpenTelemetry --------------------------------------------------------------------


def _otel_suppressed() -> bool:
    """OpenTelemetry's switches for "no instrumentation here" (its exporters set them)."""
    ctx = sys.modules.get("opentelemetry.context")
    if ctx is None:
        return False
    keys = (
        getattr(ctx, "_SUPPRESS_INSTRUMENTATION_KEY", None),
        getattr(ctx, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None),
    )
    return any(k is not None and ctx.get_value(k) for k in keys)


def _otel_baggage() -> str | None:
    """The app's OpenTelemetry baggage, as a ``baggage`` header value."""
    if "opentelemetry.baggage" not in sys.modules:
        return None
    from opentelemetry.baggage.propagation import W3CBaggagePropagator

    carrier: dict[str, str] = {}
    W3CBaggagePropagator().inject(carrier)
    return carrier.get(sc.BAGGAGE) or None


def otel_instrumentor_active(module: str, cls: str) -> bool:
    """Whether an OpenTelemetry instrumentor (``module.cls``) has instrumented globally. Looked
    up, never imported: an app that has not imported it has not used it."""
    mod = sys.modules.get(module)
    instrumentor = getattr(mod, cls, None) if mod is not None else None
    instance = getattr(instrumentor, "_instance", None)
    return bool(getattr(instance, "_is_instrumented_by_opentelemetry", False))


def _otel_server_span_active() -> bool:
    """Whether the current OpenTelemetry span is the app's own SERVER span."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return False
    span = trace.get_current_span()
    return getattr(span, "kind", None) is trace.SpanKind.SERVER


# ---- outgoing -----------------------------------------------------------------------------------


def sanitize_url(url: str) -> str:
    """``url.full`` as the conventions want it: no credentials, secret query values redacted."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{_REDACTED}:{_REDACTED}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
                query = urlencode([(k, _REDACTED if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except Exception:
        return ""


def _server_of(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except Exception:
        return None, None


def outgoing(method: str, url: str, has_header: Callable[[str], bool]) -> tuple[Any, dict[str, str]] | None:
    """What to do for an outgoing request: ``None`` to leave it alone, else the CLIENT span to
    end with ``client_done`` (``None`` for a model-provider request) and the headers to add."""
    try:
        if has_header(sc.TRACEPARENT) or _otel_suppressed():
            return None
        carrier: dict[str, str] = _native.inject({})
        if sc.TRACEPARENT not in carrier:
            return None  # outside any trace
        span: Any = None
        if _llm.in_model_call() or has_header(_PROVIDER_SDK_HEADER):
            carrier.pop(sc.FIVELENS_CONTEXT_HEADER, None)
        else:
            method = method.upper()
            host, port = _server_of(url)
            attributes: dict[str, Any] = {sc.HTTP_REQUEST_METHOD: method, sc.URL_FULL: sanitize_url(url)}
            if host:
                attributes[sc.SERVER_ADDRESS] = host
            if port:
                attributes[sc.SERVER_PORT] = port
            span = _native.start_span(
                method, kind="client", attributes=attributes, _instrumentation=CLIENT_INSTRUMENTATION
            )
            carrier = _native.inject({}, span)
        if not has_header(sc.BAGGAGE):
            baggage = _otel_baggage() or _incoming_baggage()
            if baggage:
                carrier[sc.BAGGAGE] = baggage
        return span, carrier
    except Exception as e:
        _report("preparing an outgoing request", e)
        return None


def client_done(span: Any, status: int | None = None, error: BaseException | None = None) -> None:
    """Ends a CLIENT span from ``outgoing``: the status code, and ERROR for a 4xx/5xx response or
    an exception."""
    if span is None:
        return
    try:
        attributes: dict[str, Any] = {}
        if status is not None:
            attributes[sc.HTTP_RESPONSE_STATUS_CODE] = status
        if error is not None:
            span.record_exception(error)
        elif status is not None and status >= 400:
            attributes[sc.ERROR_TYPE] = str(status)
            span.set_status("error")
        span._end_with(attributes)
    except Exception as e:
        _report("ending an HTTP client span", e)


def _incoming_baggage() -> str | None:
    request = _SERVING.get()
    return request.baggage if request is not None else None


# ---- incoming -----------------------------------------------------------------------------------


class ServerRequest:
    """One incoming request's SERVER span, current between ``activate`` and ``deactivate``."""

    __slots__ = ("_serving_token", "_token", "baggage", "ended", "method", "route", "span", "status")

    def __init__(self, span: Any, method: str, baggage: str | None) -> None:
        self.span = span
        self.method = method
        self.baggage = baggage
        self.route: str | None = None
        self.status: int | None = None
        self.ended = False
        self._token: Any = None
        self._serving_token: contextvars.Token[ServerRequest | None] | None = None

    def activate(self) -> None:
        try:
            self._token = self.span._activate()
            self._serving_token = _SERVING.set(self)
        except Exception as e:
            _report("activating a server span", e)

    def deactivate(self) -> None:
        token, self._token = self._token, None
        serving, self._serving_token = self._serving_token, None
        try:
            if serving is not None:
                _SERVING.reset(serving)
            if token is not None:
                self.span._deactivate(token)
        except Exception as e:  # a token from another context: the span still ends
            _report("resetting a server span", e)

    def end(self, error: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            attributes: dict[str, Any] = {}
            if self.route:
                attributes[sc.HTTP_ROUTE] = self.route
                self.span.update_name(f"{self.method} {self.route}")
            if self.status is not None:
                attributes[sc.HTTP_RESPONSE_STATUS_CODE] = self.status
            if error is not None:
                self.span.record_exception(error)
            elif self.status is not None and self.status >= 500:
                attributes[sc.ERROR_TYPE] = str(self.status)
                self.span.set_status("error")
            self.span._end_with(attributes)
        except Exception as e:
            _report("ending a server span", e)


def serving() -> ServerRequest | None:
    """The incoming request whose SERVER span is current (frameworks set its route)."""
    return _SERVING.get()


def start_server(
    method: str,
    path: str,
    scheme: str | None,
    headers: dict[str, str],
    client: tuple[str, int | None] | None,
    server: tuple[str, int | None] | None,
) -> ServerRequest | None:
    """Starts the SERVER span of an incoming request (``headers``: the propagation headers, keys
    in lower case), or ``None`` when another layer already made one."""
    try:
        if _SERVING.get() is not None or _otel_server_span_active():
            return None
        method = method.upper()
        attributes: dict[str, Any] = {sc.HTTP_REQUEST_METHOD: method, sc.URL_PATH: path}
        if scheme:
            attributes[sc.URL_SCHEME] = scheme
        if client is not None:
            attributes[sc.CLIENT_ADDRESS] = client[0]
            if client[1] is not None:
                attributes[sc.CLIENT_PORT] = client[1]
        if server is not None:
            attributes[sc.SERVER_ADDRESS] = server[0]
            if server[1] is not None:
                attributes[sc.SERVER_PORT] = server[1]
        # Always an explicit parent: the caller's, or none (a new trace), never whatever happens
        # to be current in the server's own task.
        span = _native.start_span(
            method,
            kind="server",
            parent=_native.extract(headers),
            attributes=attributes,
            _instrumentation=SERVER_INSTRUMENTATION,
        )
        return ServerRequest(span, method, headers.get(sc.BAGGAGE))
    except Exception as e:
        _report("starting a server span", e)
        return None


_PROPAGATION_HEADERS = (sc.TRACEPARENT, sc.TRACESTATE, sc.FIVELENS_CONTEXT_HEADER, sc.BAGGAGE)
_PROPAGATION_HEADERS_BYTES = frozenset(h.encode() for h in _PROPAGATION_HEADERS)


# ---- ASGI ---------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _asgi_request(scope: Scope) -> ServerRequest | None:
    headers: dict[str, str] = {}
    for key, value in scope.get("headers") or ():
        key = bytes(key).lower()
        if key in _PROPAGATION_HEADERS_BYTES:
            headers[key.decode("latin-1")] = bytes(value).decode("latin-1")
    client = scope.get("client")
    server = scope.get("server")
    return start_server(
        str(scope.get("method") or "GET"),
        str(scope.get("path") or "/"),
        scope.get("scheme"),
        headers,
        (str(client[0]), client[1]) if client else None,
        (str(server[0]), server[1]) if server else None,
    )


def _asgi_route(scope: Scope) -> str | None:
    # Starlette and FastAPI leave the matched route in the scope.
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        # A route inside a mounted app: its path is relative to the mount point, the part of
        # ``root_path`` past the app's own.
        root = str(scope.get("root_path") or "")
        mount = str(scope.get("app_root_path") or "")
        prefix = root[len(mount) :] if "app_root_path" in scope and root.startswith(mount) else ""
        return prefix + path
    return None


class AsgiMiddleware:
    """ASGI middleware: a SERVER span per HTTP request (see the module docs)."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        request = _asgi_request(scope)
        if request is None:
            await self.app(scope, receive, send)
            return

        async def send_observed(message: Message) -> None:
            if message.get("type") == "http.response.start":
                try:
                    request.status = int(message["status"])
                except Exception:
                    pass
            await send(message)

        request.activate()
        try:
            await self.app(scope, receive, send_observed)
        except BaseException as e:
            request.deactivate()
            request.route = request.route or _asgi_route(scope)
            if request.status is None:
                request.status = 500
            request.end(e)
            raise
        request.deactivate()
        request.route = request.route or _asgi_route(scope)
        request.end()


def asgi_middleware(app: AsgiApp) -> AsgiApp:
    """Wraps an ASGI app so that each HTTP request is a SERVER span continuing the caller's trace
    (``traceparent``), with ``http.route`` when the framework knows it. Under ``instrument()``,
    Starlette and FastAPI apps get it by themselves; for other ASGI apps:
    ``app = fivelens.asgi_middleware(app)`` (or ``app.add_middleware(fivelens.asgi_middleware)``).
    Applying it twice makes one span."""
    return AsgiMiddleware(app)


# ---- WSGI ---------------------------------------------------------------------------------------

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _wsgi_request(environ: dict[str, Any]) -> ServerRequest | None:
    headers: dict[str, str] = {}
    for name in _PROPAGATION_HEADERS:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if isinstance(value, str):
            headers[name] = value
    client = environ.get("REMOTE_ADDR")
    port = environ.get("REMOTE_PORT")
    server_name = environ.get("SERVER_NAME")
    server_port = environ.get("SERVER_PORT")
    return start_server(
        str(environ.get("REQUEST_METHOD") or "GET"),
        (environ.get("SCRIPT_NAME") or "") + (environ.get("PATH_INFO") or "/"),
        environ.get("wsgi.url_scheme"),
        headers,
        (str(client), int(port) if port and str(port).isdigit() else None) if client else None,
        (str(server_name), int(server_port) if server_port and str(server_port).isdigit() else None)
        if server_name
        else None,
    )


class _ClosingBody:
    """The app's response body; the span ends when the server closes it (as WSGI servers must)."""

    __slots__ = ("_body", "_request")

    def __init__(self, body: Iterable[bytes], request: ServerRequest) -> None:
        self._body = body
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except GeneratorExit:  # the server stopped reading (a client gone): close() ends the span
            raise
        except BaseException as e:
            self._request.end(e)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._request.end()


def serve_wsgi(app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Calls a WSGI app inside the request's SERVER span."""
    request = _wsgi_request(environ)
    if request is None:
        return app(environ, start_response)

    def start_response_observed(status: str, headers: Any, exc_info: Any = None) -> Any:
        try:
            request.status = int(status.split(" ", 1)[0])
        except Exception:
            pass
        if exc_info is None:
            return start_response(status, headers)
        return start_response(status, headers, exc_info)

    request.activate()
    try:
        body = app(environ, start_response_observed)
    except BaseException as e:
        request.deactivate()
        if request.status is None:
            request.status = 500
        request.end(e)
        raise
    request.deactivate()
    return _ClosingBody(body, request)


class WsgiMiddleware:
    """WSGI middleware: a SERVER span per request (see the module docs)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return serve_wsgi(self.app, environ, start_response)


def wsgi_middleware(app: WsgiApp) -> WsgiApp:
    """Wraps a WSGI app so that each request is a SERVER span continuing the caller's trace
    (``traceparent``). Under ``instrument()``, Flask apps get it by themselves (with
    ``http.route``); for other WSGI apps: ``application = fivelens.wsgi_middleware(application)``
    (for Flask by hand: ``app.wsgi_app = fivelens.wsgi_middleware(app.wsgi_app)``). Applying it
    twice makes one span."""
    return WsgiMiddleware(app)
