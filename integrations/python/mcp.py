"""The MCP Python SDK (``mcp``), both lines: 2.x (built-in OpenTelemetry) and 1.x (none; still
pinned by CrewAI and the LangChain adapters).

Every request is one ``CLIENT`` span on the side that sends it and one ``SERVER`` span on the side
that handles it, named and attributed as the MCP conventions say (``tools/call get_weather``,
``mcp.method.name``, ``jsonrpc.request.id``, ``gen_ai.tool.name``, ...). The client span's
context goes into the request's ``params._meta`` (``traceparent``, ``tracestate`` and
fivelens's ``fivelens-context``; the app's own ``_meta`` keys are kept), and the server span takes
its parent from there, not from the transport, so a tool handler's own spans and model calls are
in the caller's trace. A missing or malformed ``traceparent`` starts a new trace, silently.

Where each side is seen:

* 2.x client: ``Dispatcher.send_raw_request`` (the JSON-RPC dispatcher of every stream
  transport, and the direct dispatcher of an in-process ``Client(server)``).
* 2.x server: the SDK's own hook, ``Server.middleware``. Its default entry, the SDK's
  ``OpenTelemetryMiddleware``, is swapped for fivelens's (a subclass, so an app that removes the
  SDK's middleware by type removes fivelens's too).
* 1.x client: ``BaseSession.send_request``; 1.x server: ``Server._handle_request``.

**One span per request per side, on 2.x.** The SDK would make its own client span
(``MCP send tools/call x``) and server span (its middleware). fivelens's spans take their place
rather than sit beside them: the dispatcher's span helper is pointed at the fivelens span of the
request (the SDK's request id lands on it), its ``_meta`` injection writes fivelens's context, and
the middleware is replaced. With fivelens switched off (``uninstrument()``), the SDK's tracing is
back as it was.

**The circuit breaker.** A ``tools/call`` crosses the tool boundary: the breakers of the tool
(of its server) and of the server (``mcp.server.name``) are asked first. In ``enforce`` mode a
call they reject is not sent: the client gets the result an MCP server returns for a failed tool,
``isError: true`` with the degraded-mode message as text, which the model receives as it receives
any tool error. Results with ``isError: true`` count as errors (``tool_error``), whatever peers
count them as.

**Inside an agent framework's tool span.** When a LangChain tool run (``execute_tool {name}``)
calls ``tools/call`` of the same tool, the conventions say not to make a second span: the MCP
attributes go on the tool span, whose context is what the server receives.

Notifications (progress, log messages, list changes) are ``mcp.notification`` events: where
they are sent, on the span of the request being handled (a handler's progress and log messages;
else the current span), and, where they arrive at a client, on the span of the request they belong to
(progress by its token; others when one request is in flight on that connection).

Transports: ``network.transport`` is ``pipe`` for stdio and ``tcp`` for Streamable HTTP (with
``server.address``/``server.port`` and ``mcp.session.id`` on the client; ``client.address``/
``client.port`` and the session id on the server); in-process transports have none. stdio is
recognised through ``mcp.client.stdio.stdio_client`` / ``mcp.server.stdio.stdio_server`` as
looked up after ``instrument()``.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import importlib.metadata
import json
import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fivelens import _hooks, _native
from fivelens import semconv as sc
from fivelens._tools import Boundary

INSTRUMENTATION = "fivelens.mcp"

# Methods whose ``params.name`` is the span's target, and the attribute it goes to.
_TARGETS = {"tools/call": sc.GEN_AI_TOOL_NAME, "prompts/get": sc.GEN_AI_PROMPT_NAME}
_RESOURCE_METHODS = ("resources/read", "resources/subscribe", "resources/unsubscribe")
# Notifications recorded as events (requests' bookkeeping, such as cancellations, is not).
_NOTIFICATIONS = (
    "notifications/progress",
    "notifications/message",
    "notifications/resources/updated",
)
_PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
_PROTOCOL_VERSION_HEADER = "mcp-protocol-version"
_SESSION_HEADER = "mcp-session-id"
_INVALID_PARAMS = -32602


class _State:
    def __init__(self) -> None:
        self.enabled = False
        self.major: int | None = None
        self.patches: list[tuple[Any, str, Any]] = []
        self.stdio_server = False


_state = _State()


def instrument() -> str | None:
    _state.enabled = True
    _hooks.when_imported("mcp", _patch)
    return None


def uninstrument() -> None:
    _state.enabled = False
    _hooks.cancel("mcp")
    for module in _STDIO_SERVER_USERS:
        _hooks.cancel(module)
    for owner, name, original in reversed(_state.patches):
        try:
            setattr(owner, name, original)
        except Exception as e:  # never into the host
            _native.report_internal_error("mcp", f"restoring {name} failed: {e!r}")
    _state.patches.clear()


def sdk_major() -> int | None:
    """The major version of the installed ``mcp`` (``None`` when unknown)."""
    try:
        return int(importlib.metadata.version("mcp").split(".")[0])
    except Exception:
        return None


def _patch(_mcp: Any) -> None:
    major = sdk_major()
    if major is None:
        # Not installed as a distribution (vendored): tell the lines apart by their modules.
        try:
            import mcp.shared.jsonrpc_dispatcher  # noqa: F401

            major = 2
        except ImportError:
            major = 1
    _state.major = major
    if major >= 2:
        _patch_v2()
    else:
        _patch_v1()


def _replace(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    original = getattr(owner, name, None)
    if original is None or getattr(original, "__fivelens__", False):
        return
    wrapper = make(original)
    wrapper.__fivelens__ = True
    setattr(owner, name, wrapper)
    _state.patches.append((owner, name, original))


# ---- what a request looks like on a span --------------------------------------------------------


def _to_json(value: Any) -> str:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        value = dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(value, default=str, ensure_ascii=False)


def _request_attributes(method: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The span name and the attributes known before the request goes out (or is handled)."""
    attrs: dict[str, Any] = {sc.MCP_METHOD_NAME: method}
    name = method
    target_key = _TARGETS.get(method)
    params = params if isinstance(params, Mapping) else {}
    if target_key is not None:
        target = params.get("name")
        if isinstance(target, str):
            attrs[target_key] = target
            name = f"{method} {target}"
    if method == "tools/call":
        attrs[sc.GEN_AI_OPERATION_NAME] = "execute_tool"
        arguments = params.get("arguments")
        if arguments is not None and _native._capture_content():
            attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = _to_json(arguments)
    elif method in _RESOURCE_METHODS:
        uri = params.get("uri")
        if isinstance(uri, str):
            attrs[sc.MCP_RESOURCE_URI] = uri
    return name, attrs


def _result_of(result: Any) -> Mapping[str, Any] | None:
    if isinstance(result, Mapping):
        return result
    root = getattr(result, "root", result)  # 1.x wraps results in ServerResult
    dump = getattr(root, "model_dump", None)
    if dump is None:
        return None
    dumped = dump(mode="json", by_alias=True, exclude_none=True)
    return dumped if isinstance(dumped, dict) else None


def _finish_result(span: Any, method: str, result: Any) -> None:
    """A successful response: for ``tools/call``, ``isError: true`` is a failed call."""
    if method != "tools/call":
        return
    if isinstance(result, Mapping):
        is_error = result.get("isError") is True
    else:
        root = getattr(result, "root", result)
        is_error = getattr(root, "isError", None) is True or getattr(root, "is_error", None) is True
    if is_error:
        span.set_attribute(sc.ERROR_TYPE, sc.TOOL_ERROR)
        span.set_status("error", None)
    if _native._capture_content():
        data = _result_of(result)
        if data is not None:
            payload = data.get("structuredContent")
            if payload is None:
                payload = data.get("content")
            if payload is not None:
                span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, _to_json(payload))


def _jsonrpc_error(error: BaseException) -> tuple[int, str] | None:
    """The JSON-RPC error an exception carries (``MCPError`` in 2.x, ``McpError`` in 1.x)."""
    data = getattr(error, "error", None)
    code = getattr(data, "code", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return code, str(getattr(data, "message", "") or "")
    return None


def _fail(span: Any, error: BaseException) -> None:
    rpc = _jsonrpc_error(error)
    if rpc is not None:
        code = str(rpc[0])
        span.set_attributes({sc.ERROR_TYPE: code, sc.RPC_RESPONSE_STATUS_CODE: code})
        span.set_status("error", rpc[1])
        return
    if type(error).__name__ == "ValidationError":
        # What the peer receives for it (pydantic's text carries the request's content).
        code = str(_INVALID_PARAMS)
        span.set_attributes({sc.ERROR_TYPE: code, sc.RPC_RESPONSE_STATUS_CODE: code})
        span.set_status("error", "Invalid request parameters")
        return
    span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
    if isinstance(error, Exception):
        span.record_exception(error)
    span.set_status("error", str(error)[:1024])


def _fail_with(span: Any, code: int, message: str) -> None:
    span.set_attributes({sc.ERROR_TYPE: str(code), sc.RPC_RESPONSE_STATUS_CODE: str(code)})
    span.set_status("error", message)


def _guard(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as e:
        _native.report_internal_error("mcp", f"{what} failed: {e!r}")
        return None


# ---- connections: transport, server, session --------------------------------------------------


@dataclass
class _Connection:
    """What fivelens knows about one connection (keyed by its write stream, dispatcher or
    session)."""

    transport: str | None = None
    address: str | None = None
    port: int | None = None
    session_id: Callable[[], str | None] | None = None
    server_name: str | None = None
    protocol_version: str | None = None
    in_flight: dict[str, Any] = field(default_factory=dict)
    """Request id -> the client span waiting for its answer (notifications find it here)."""


class _IdentityMap:
    """Objects (by identity: some SDK streams are unhashable) to their connection, forgotten
    when the object is collected; objects without weak references (2.x's context streams have
    ``__slots__``) are held, the oldest let go beyond ``_MAX_HELD``."""

    _MAX_HELD = 256

    def __init__(self) -> None:
        self._items: dict[int, tuple[Callable[[], Any], _Connection]] = {}
        self._held: OrderedDict[int, None] = OrderedDict()

    def get(self, key: Any) -> _Connection | None:
        if key is None:
            return None
        item = self._items.get(id(key))
        return item[1] if item is not None and item[0]() is key else None

    def set(self, key: Any, conn: _Connection) -> None:
        k = id(key)
        try:
            ref: Callable[[], Any] = weakref.ref(key, lambda _ref: self._items.pop(k, None))
        except TypeError:
            ref = functools.partial(_same, key)
            self._held[k] = None
            self._held.move_to_end(k)
            while len(self._held) > self._MAX_HELD:
                old, _ = self._held.popitem(last=False)
                self._items.pop(old, None)
        self._items[k] = (ref, conn)


def _same(value: Any) -> Any:
    return value


_connections = _IdentityMap()
"""Dispatchers (2.x) and sessions (1.x) to their connection."""
_by_stream = _IdentityMap()
"""Transports' streams to their connection, until a dispatcher or session takes them."""


def _connection(key: Any, stream: Any = None) -> _Connection:
    conn = _connections.get(key)
    if conn is not None and conn.transport is not None:
        return conn
    # A transport may register its streams after the first request went out (Streamable HTTP
    # does it from its writer task): look again until it has.
    registered = _by_stream.get(stream)
    if registered is not None:
        if conn is not None:
            registered.server_name = registered.server_name or conn.server_name
            registered.protocol_version = registered.protocol_version or conn.protocol_version
            registered.in_flight.update(conn.in_flight)
        conn = registered
    elif conn is None:
        conn = _Connection()
    _connections.set(key, conn)
    return conn


def _register_stream(stream: Any, conn: _Connection) -> None:
    _by_stream.set(stream, conn)


def _connection_attributes(conn: _Connection, attrs: dict[str, Any]) -> None:
    if conn.transport:
        attrs[sc.NETWORK_TRANSPORT] = conn.transport
    if conn.address:
        attrs[sc.SERVER_ADDRESS] = conn.address
        if conn.port:
            attrs[sc.SERVER_PORT] = conn.port
    if conn.server_name:
        attrs[sc.MCP_SERVER_NAME] = conn.server_name
    if conn.session_id is not None:
        sid = conn.session_id()
        if sid:
            attrs[sc.MCP_SESSION_ID] = sid


def _learn_from_result(conn: _Connection, method: str, result: Any) -> None:
    """``initialize`` (and 2026's ``server/discover``) name the server and the version."""
    if method not in ("initialize", "server/discover"):
        return
    data = _result_of(result) or {}
    info = data.get("serverInfo")
    if not isinstance(info, Mapping):
        meta = data.get("_meta")
        info = meta.get("io.modelcontextprotocol/serverInfo") if isinstance(meta, Mapping) else None
    if isinstance(info, Mapping) and isinstance(info.get("name"), str):
        conn.server_name = info["name"]
    version = data.get("protocolVersion")
    if isinstance(version, str):
        conn.protocol_version = version


class _TransportContext:
    """Wraps a transport's async context manager: the streams it yields are remembered with the
    transport's attributes."""

    def __init__(self, inner: Any, conn: _Connection) -> None:
        self._inner = inner
        self._conn = conn

    async def __aenter__(self) -> Any:
        streams = await self._inner.__aenter__()
        _guard("registering a transport", lambda: self._register(streams))
        return streams

    def _register(self, streams: Any) -> None:
        for stream in streams[:2]:
            _register_stream(stream, self._conn)

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _wrap_stdio_client(original: Any) -> Any:
    @functools.wraps(original)
    def stdio_client(*args: Any, **kwargs: Any) -> Any:
        return _TransportContext(original(*args, **kwargs), _Connection(transport="pipe"))

    return stdio_client


def _wrap_stdio_server(original: Any) -> Any:
    @functools.wraps(original)
    def stdio_server(*args: Any, **kwargs: Any) -> Any:
        _state.stdio_server = True
        return original(*args, **kwargs)

    return stdio_server


def _wrap_post_writer(original: Any) -> Any:
    """Streamable HTTP (both lines): ``post_writer`` is handed the write stream the session
    writes to; the transport knows the URL and the session id."""

    @functools.wraps(original)
    async def post_writer(self: Any, *args: Any, **kwargs: Any) -> Any:
        def register() -> None:
            write_stream = args[3] if len(args) > 3 else kwargs.get("write_stream")
            parts = urlsplit(str(getattr(self, "url", "")))
            port = parts.port or (443 if parts.scheme == "https" else 80)
            conn = _Connection(
                transport="tcp",
                address=parts.hostname,
                port=port,
                session_id=lambda: getattr(self, "session_id", None),
            )
            if write_stream is not None:
                _register_stream(write_stream, conn)

        _guard("registering a Streamable HTTP transport", register)
        return await original(self, *args, **kwargs)

    return post_writer


_STDIO_SERVER_USERS = ("mcp.server.mcpserver.server", "mcp.server.fastmcp.server")


def _patch_stdio_server_user(module: Any) -> None:
    _replace(module, "stdio_server", _wrap_stdio_server)


def _patch_transports() -> None:
    import mcp
    import mcp.client.stdio as client_stdio

    _replace(client_stdio, "stdio_client", _wrap_stdio_client)
    _replace(mcp, "stdio_client", _wrap_stdio_client)
    try:
        import mcp.server.stdio as server_stdio

        _replace(server_stdio, "stdio_server", _wrap_stdio_server)
    except ImportError:
        pass
    # The high-level servers import it by name.
    for module in _STDIO_SERVER_USERS:
        _hooks.when_imported(module, _patch_stdio_server_user)
    try:
        from mcp.client.streamable_http import StreamableHTTPTransport

        _replace(StreamableHTTPTransport, "post_writer", _wrap_post_writer)
    except ImportError:
        pass


# ---- the client side ------------------------------------------------------------------------------


def _outer_tool(name: str) -> Any:
    """An agent framework's ``execute_tool`` span running now for the tool ``name`` (LangChain's,
    when its integration is on), or ``None``."""
    langchain = sys.modules.get("fivelens.integrations.langchain")
    lookup = getattr(langchain, "current_tool_span", None)
    return lookup(name) if lookup is not None else None


_HANDLING: contextvars.ContextVar[Any] = contextvars.ContextVar("fivelens_mcp_handling", default=None)
"""The server span of the request whose handler runs now."""
_CALL: contextvars.ContextVar[_ClientCall | None] = contextvars.ContextVar("fivelens_mcp_call", default=None)


class _ClientCall:
    """One request on its way out: its span (fivelens's own, or an agent framework's tool span
    that it enriches), current while the request runs."""

    __slots__ = ("boundary", "conn", "method", "own", "request_id", "span", "token")

    def __init__(self, span: Any, own: bool, method: str, conn: _Connection) -> None:
        self.span = span
        self.own = own
        self.method = method
        self.conn = conn
        self.request_id: str | None = None
        self.token: Any = None
        self.boundary: Boundary | None = None

    @property
    def rejected(self) -> bool:
        return self.boundary is not None and self.boundary.rejected

    def rejected_result(self) -> dict[str, Any]:
        """What an MCP server answers for a failed tool: the degraded-mode message, ``isError``."""
        message = self.boundary.message if self.boundary is not None else "tool unavailable"
        return {"content": [{"type": "text", "text": message}], "isError": True}

    def set_request_id(self, request_id: Any) -> None:
        if request_id is None:
            return
        self.request_id = str(request_id)
        self.span.set_attribute(sc.JSONRPC_REQUEST_ID, self.request_id)
        self.conn.in_flight[self.request_id] = self.span

    def inject(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """``params`` with this request's context in ``_meta`` (a copy: the app's dict and its
        other ``_meta`` keys are left as they are)."""
        out = dict(params) if params else {}
        existing = out.get("_meta")
        # Keys the app set itself are kept, and win (as in the Node integration).
        out["_meta"] = {**_native.inject({}, self.span), **(existing if isinstance(existing, Mapping) else {})}
        return out


def _begin_client(
    method: str, params: Mapping[str, Any] | None, conn: _Connection, protocol_version: str | None
) -> _ClientCall | None:
    if not _state.enabled:
        return None
    name, attrs = _request_attributes(method, params)
    _connection_attributes(conn, attrs)
    version = protocol_version or conn.protocol_version
    if version:
        attrs[sc.MCP_PROTOCOL_VERSION] = version
    outer = None
    boundary: Boundary | None = None
    if method == "tools/call" and sc.GEN_AI_TOOL_NAME in attrs:
        outer = _outer_tool(attrs[sc.GEN_AI_TOOL_NAME])
        boundary = Boundary.admit(attrs[sc.GEN_AI_TOOL_NAME], conn.server_name, "mcp")
        attrs.update(boundary.attributes())
    if outer is not None:
        # The framework's tool span is the call (the conventions: no second span); its own
        # arguments and result are already there.
        attrs.pop(sc.GEN_AI_TOOL_CALL_ARGUMENTS, None)
        outer.set_attributes(attrs)
        call = _ClientCall(outer, False, method, conn)
    else:
        span = _native.start_span(name, kind="client", attributes=attrs, _instrumentation=INSTRUMENTATION)
        call = _ClientCall(span, True, method, conn)
    if boundary is not None:
        call.boundary = boundary
        boundary.start(call.span)
    call.token = call.span._activate()
    return call


def _end_client(call: _ClientCall, result: Any = None, error: BaseException | None = None) -> None:
    try:
        call.span._deactivate(call.token)
    except Exception as e:  # a task boundary crossed: keep going, the span must end
        _native.report_internal_error("mcp", f"restoring the current span failed: {e!r}")
    if call.request_id is not None:
        call.conn.in_flight.pop(call.request_id, None)
    span = call.span
    boundary = call.boundary
    if boundary is not None and boundary.rejected:
        if call.own:
            _finish_result(span, call.method, result)
        boundary.finish(span)
    elif error is not None:
        _fail(span, error)
        if boundary is not None:
            rpc = _jsonrpc_error(error)
            boundary.finish(span, error=error, status_code=rpc[0] if rpc is not None else None)
    else:
        _learn_from_result(call.conn, call.method, result)
        if call.own:
            _finish_result(span, call.method, result)
        elif call.method == "tools/call" and _is_tool_error(result):
            span.set_attribute(sc.ERROR_TYPE, sc.TOOL_ERROR)
            span.set_status("error", None)
        if boundary is not None:
            boundary.finish(span, payload=call.method == "tools/call" and _is_tool_error(result))
    if call.own:
        span.end()


def _is_tool_error(result: Any) -> bool:
    if isinstance(result, Mapping):
        return result.get("isError") is True
    root = getattr(result, "root", result)
    return getattr(root, "isError", None) is True or getattr(root, "is_error", None) is True


def _notification_event(span: Any, method: str, params: Any = None) -> None:
    attrs: dict[str, Any] = {sc.MCP_METHOD_NAME: method}
    if params is not None and not isinstance(params, Mapping):
        params = _result_of(params)
    if isinstance(params, Mapping):
        for key, name in (("progress", sc.FIVELENS_MCP_PROGRESS), ("total", sc.FIVELENS_MCP_PROGRESS_TOTAL)):
            value = params.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attrs[name] = float(value)
        level = params.get("level")
        if isinstance(level, str):
            attrs[sc.FIVELENS_MCP_LOG_LEVEL] = level
        if "data" in params and _native._capture_content():
            attrs[sc.FIVELENS_MCP_NOTIFICATION_DATA] = _to_json(params["data"])
    span.add_event(sc.MCP_NOTIFICATION_EVENT, attrs)


def _is_recorded_notification(method: str) -> bool:
    return method in _NOTIFICATIONS or (method.startswith("notifications/") and method.endswith("/list_changed"))


def _sent_notification(method: str, params: Any = None) -> None:
    """A notification going out: an event on the span of the request being handled (a server
    handler's progress and log messages), else on the span current now."""
    if not _state.enabled or not _is_recorded_notification(method):
        return
    span = _HANDLING.get() or _native.current_span()
    if span is not None:
        _notification_event(span, method, params)


def _received_notification(conn: _Connection | None, method: str, params: Any) -> None:
    """A notification arriving at a client: an event on the request it belongs to."""
    if not _state.enabled or conn is None or not _is_recorded_notification(method):
        return
    span = None
    if method == "notifications/progress":
        token = params.get("progressToken") if isinstance(params, Mapping) else getattr(params, "progressToken", None)
        if token is not None:
            span = conn.in_flight.get(str(token))
    elif len(conn.in_flight) == 1:
        span = next(iter(conn.in_flight.values()))
    if span is not None:
        _notification_event(span, method, params)


# ---- the server side ------------------------------------------------------------------------------


def _parent_from_meta(meta: Any) -> Any:
    """The request's parent from its ``_meta``: a ``RemoteContext`` (an invalid one starts a new
    trace), or ``None`` when ``_meta`` has no ``traceparent`` (then the current context, e.g. an
    HTTP server span, is the parent)."""
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        dump = getattr(meta, "model_dump", None)
        meta = dump(by_alias=True) if dump is not None else None
        if not isinstance(meta, Mapping):
            return None
    carrier = {
        key: value
        for key in (sc.TRACEPARENT, sc.TRACESTATE, sc.FIVELENS_CONTEXT_HEADER, sc.BAGGAGE)
        if isinstance(value := meta.get(key), str)
    }
    if sc.TRACEPARENT not in carrier:
        return None
    return _native.extract(carrier)


def _http_attributes(request: Any, attrs: dict[str, Any]) -> None:
    """Streamable HTTP: the Starlette request the message came in."""
    headers = getattr(request, "headers", None)
    if headers is None:
        if _state.stdio_server:
            attrs[sc.NETWORK_TRANSPORT] = "pipe"
        return
    attrs[sc.NETWORK_TRANSPORT] = "tcp"
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    if isinstance(host, str):
        attrs[sc.CLIENT_ADDRESS] = host
        port = getattr(client, "port", None)
        if isinstance(port, int):
            attrs[sc.CLIENT_PORT] = port
    sid = headers.get(_SESSION_HEADER)
    if sid:
        attrs[sc.MCP_SESSION_ID] = sid
    if sc.MCP_PROTOCOL_VERSION not in attrs:
        version = headers.get(_PROTOCOL_VERSION_HEADER)
        if version:
            attrs[sc.MCP_PROTOCOL_VERSION] = version


def _begin_server(
    method: str,
    params: Mapping[str, Any] | None,
    meta: Any,
    request_id: Any,
    protocol_version: str | None,
    request: Any,
) -> Any:
    name, attrs = _request_attributes(method, params)
    if request_id is not None:
        attrs[sc.JSONRPC_REQUEST_ID] = str(request_id)
    if protocol_version:
        attrs[sc.MCP_PROTOCOL_VERSION] = protocol_version
    _http_attributes(request, attrs)
    parent = _parent_from_meta(meta)
    links = None
    if parent is not None:
        # The transport's own context (an HTTP server span), when there is one, is linked: the
        # MCP context and the transport's are independent.
        ambient = _native.current_span()
        if ambient is not None:
            links = [ambient]
    return _native.start_span(
        name, kind="server", parent=parent, links=links, attributes=attrs, _instrumentation=INSTRUMENTATION
    )


@contextmanager
def _server_span(
    method: str,
    params: Mapping[str, Any] | None,
    meta: Any,
    request_id: Any,
    protocol_version: str | None,
    request: Any,
) -> Iterator[Any]:
    """The handled request's span, current while the handler runs (``None`` if it could not be
    started; the request is handled all the same)."""
    span = _guard("starting a server span", _begin_server, method, params, meta, request_id, protocol_version, request)
    if span is None:
        yield None
        return
    token = span._activate()
    handling = _HANDLING.set(span)
    try:
        yield span
    finally:
        _HANDLING.reset(handling)
        try:
            span._deactivate(token)
        except Exception as e:
            _native.report_internal_error("mcp", f"restoring the current span failed: {e!r}")


# ---- mcp 2.x ------------------------------------------------------------------------------------------


def _patch_v2() -> None:
    from mcp.client.session import ClientSession
    from mcp.server import runner
    from mcp.shared import direct_dispatcher, jsonrpc_dispatcher

    _patch_transports()
    import mcp.client.client as client_module

    _replace(client_module, "stdio_client", _wrap_stdio_client)

    for cls in (jsonrpc_dispatcher.JSONRPCDispatcher, direct_dispatcher.DirectDispatcher):
        _replace(cls, "send_raw_request", _wrap_send_raw_request)
        _replace(cls, "notify", _wrap_notify)
    _replace(jsonrpc_dispatcher, "otel_span", _wrap_sdk_client_span)
    _replace(jsonrpc_dispatcher, "inject_trace_context", _wrap_sdk_inject)
    _replace(ClientSession, "_on_notify", _wrap_on_notify_v2)
    _replace(runner.ServerRunner, "_compose_server_middleware", _wrap_compose)


def _protocol_version_v2(params: Mapping[str, Any] | None, opts: Any) -> str | None:
    headers = opts.get("headers") if isinstance(opts, Mapping) else None
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == _PROTOCOL_VERSION_HEADER and isinstance(value, str):
                return value
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    if isinstance(meta, Mapping) and isinstance(meta.get(_PROTOCOL_VERSION_META), str):
        return str(meta[_PROTOCOL_VERSION_META])
    if isinstance(params, Mapping) and isinstance(params.get("protocolVersion"), str):
        return str(params["protocolVersion"])  # initialize: the version asked for
    return None


def _wrap_send_raw_request(original: Any) -> Any:
    @functools.wraps(original)
    async def send_raw_request(
        self: Any, method: str, params: Mapping[str, Any] | None, opts: Any = None, **kwargs: Any
    ) -> Any:
        def begin() -> tuple[_ClientCall, dict[str, Any]] | None:
            conn = _connection(self, getattr(self, "_write_stream", None))
            call = _begin_client(method, params, conn, _protocol_version_v2(params, opts))
            if call is None:
                return None
            return call, call.inject(params)

        started = _guard("starting a client span", begin)
        if started is None:
            return await original(self, method, params, opts, **kwargs)
        call, params_out = started
        if call.rejected:
            # The breaker is open (enforce): not sent; the tool's failed result instead.
            rejected = {**call.rejected_result(), "resultType": "complete"}
            _guard("ending a client span", _end_client, call, rejected)
            return rejected
        var_token = _CALL.set(call)
        try:
            result = await original(self, method, params_out, opts, **kwargs)
        except BaseException as e:
            _CALL.reset(var_token)
            _guard("ending a client span", _end_client, call, error=e)
            raise
        _CALL.reset(var_token)
        _guard("ending a client span", _end_client, call, result)
        return result

    return send_raw_request


class _AdoptedSpan:
    """What the SDK's client-span helper yields while fivelens's span is the request's: the SDK
    reports its errors itself, and fivelens records them from the raised error, so its calls are
    taken and dropped."""

    def set_attributes(self, attributes: Any) -> None:
        pass

    def set_attribute(self, key: Any, value: Any) -> None:
        pass

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        pass

    def record_exception(self, *args: Any, **kwargs: Any) -> None:
        pass

    def is_recording(self) -> bool:
        return False


_ADOPTED = _AdoptedSpan()


def _wrap_sdk_client_span(original: Any) -> Any:
    @functools.wraps(original)
    def otel_span(name: str, *args: Any, **kwargs: Any) -> Any:
        call = _CALL.get()
        if call is None:
            return original(name, *args, **kwargs)
        attributes = kwargs.get("attributes") or {}
        _guard("reading the request id", lambda: call.set_request_id(attributes.get(sc.JSONRPC_REQUEST_ID)))
        return _adopted()

    return otel_span


@contextmanager
def _adopted() -> Iterator[_AdoptedSpan]:
    yield _ADOPTED


def _wrap_sdk_inject(original: Any) -> Any:
    @functools.wraps(original)
    def inject_trace_context(meta: dict[str, Any]) -> None:
        if _CALL.get() is None:
            original(meta)
        # Otherwise fivelens's context is already in ``_meta`` (the SDK copies it from params).

    return inject_trace_context


def _wrap_notify(original: Any) -> Any:
    @functools.wraps(original)
    async def notify(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        _guard("recording a notification", _sent_notification, method, args[0] if args else kwargs.get("params"))
        return await original(self, method, *args, **kwargs)

    return notify


def _wrap_on_notify_v2(original: Any) -> Any:
    @functools.wraps(original)
    async def _on_notify(self: Any, dctx: Any, method: str, params: Any) -> Any:
        _guard(
            "recording a notification",
            lambda: _received_notification(_connections.get(getattr(self, "_dispatcher", None)), method, params),
        )
        return await original(self, dctx, method, params)

    return _on_notify


_middleware_class: type | None = None


def _fivelens_middleware() -> type:
    global _middleware_class
    if _middleware_class is not None:
        return _middleware_class
    from mcp.server._otel import OpenTelemetryMiddleware

    class FivelensMiddleware(OpenTelemetryMiddleware):
        """fivelens's server span in place of the SDK's (see the module docs). Off, it is the
        SDK's middleware again."""

        async def __call__(self, ctx: Any, call_next: Any) -> Any:
            if not _state.enabled or ctx.request_id is None:
                # Notifications from the client get no span of their own (see the module docs).
                if not _state.enabled:
                    return await super().__call__(ctx, call_next)
                return await call_next(ctx)
            method = ctx.method
            with _server_span(method, ctx.params, ctx.meta, ctx.request_id, ctx.protocol_version, ctx.request) as span:
                try:
                    result = await call_next(ctx)
                except BaseException as e:
                    if span is not None:
                        _guard("ending a server span", _end_server, span, method, error=e)
                    raise
                if span is not None:
                    _guard("ending a server span", _end_server, span, method, result)
                return result

    _middleware_class = FivelensMiddleware
    return FivelensMiddleware


def _wrap_compose(original: Any) -> Any:
    @functools.wraps(original)
    def _compose_server_middleware(self: Any, inner: Any) -> Any:
        if _state.enabled:
            _guard("replacing the SDK's server middleware", lambda: _swap_middleware(self.server))
        return original(self, inner)

    return _compose_server_middleware


def _swap_middleware(server: Any) -> None:
    from mcp.server._otel import OpenTelemetryMiddleware

    middleware = getattr(server, "middleware", None)
    if not isinstance(middleware, list):
        return
    ours = _fivelens_middleware()
    for i, m in enumerate(middleware):
        if type(m) is OpenTelemetryMiddleware:
            middleware[i] = ours()


# ---- mcp 1.x --------------------------------------------------------------------------------------------


def _patch_v1() -> None:
    from mcp.client.session import ClientSession
    from mcp.server.lowlevel.server import Server

    # Imported by name: 2.x has no such module (the type checker runs against 2.x).
    BaseSession = importlib.import_module("mcp.shared.session").BaseSession

    _patch_transports()
    _replace(BaseSession, "send_request", _wrap_send_request_v1)
    _replace(BaseSession, "send_notification", _wrap_send_notification_v1)
    _replace(ClientSession, "_received_notification", _wrap_received_notification_v1)
    _replace(Server, "_handle_request", _wrap_handle_request_v1)


class _RequestWithMeta:
    """Stands in for a 1.x request model: ``send_request`` dumps it to the wire, and this dump
    carries the request's context in ``params._meta`` (the app's model is not changed)."""

    def __init__(self, request: Any, carrier: dict[str, Any]) -> None:
        self._request = request
        self._carrier = carrier

    def model_dump(self, *args: Any, **kwargs: Any) -> Any:
        data = self._request.model_dump(*args, **kwargs)
        if isinstance(data, dict):
            params = data.get("params")
            params = dict(params) if isinstance(params, Mapping) else {}
            existing = params.get("_meta")
            params["_meta"] = {**self._carrier, **(existing if isinstance(existing, Mapping) else {})}
            data["params"] = params
        return data

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # the SDK names the request's class in its timeout message
        return type(self._request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def _wrap_send_request_v1(original: Any) -> Any:
    @functools.wraps(original)
    async def send_request(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        def begin() -> tuple[_ClientCall, Any] | None:
            data = request.model_dump(by_alias=True, mode="json", exclude_none=True)
            method = data.get("method")
            if not isinstance(method, str):
                return None
            params = data.get("params")
            conn = _connection(self, getattr(self, "_write_stream", None))
            version = params.get("protocolVersion") if isinstance(params, Mapping) else None
            call = _begin_client(method, params, conn, version if isinstance(version, str) else None)
            if call is None:
                return None
            # The id send_request is about to take (nothing runs in between).
            call.set_request_id(getattr(self, "_request_id", None))
            return call, _RequestWithMeta(request, _native.inject({}, call.span))

        started = _guard("starting a client span", begin)
        if started is None:
            return await original(self, request, *args, **kwargs)
        call, wrapped = started
        if call.rejected:
            # The breaker is open (enforce): not sent; the tool's failed result instead.
            result_type = args[0] if args else kwargs.get("result_type")
            raw = call.rejected_result()
            _guard("ending a client span", _end_client, call, raw)
            return result_type.model_validate(raw) if result_type is not None else raw
        try:
            result = await original(self, wrapped, *args, **kwargs)
        except BaseException as e:
            _guard("ending a client span", _end_client, call, error=e)
            raise
        _guard("ending a client span", _end_client, call, result)
        return result

    return send_request


def _method_of(message: Any) -> str | None:
    root = getattr(message, "root", message)
    method = getattr(root, "method", None)
    return method if isinstance(method, str) else None


def _wrap_send_notification_v1(original: Any) -> Any:
    @functools.wraps(original)
    async def send_notification(self: Any, notification: Any, *args: Any, **kwargs: Any) -> Any:
        root = getattr(notification, "root", notification)
        _guard(
            "recording a notification",
            _sent_notification,
            _method_of(notification) or "",
            getattr(root, "params", None),
        )
        return await original(self, notification, *args, **kwargs)

    return send_notification


def _wrap_received_notification_v1(original: Any) -> Any:
    @functools.wraps(original)
    async def _received_notification(self: Any, notification: Any) -> Any:
        def record() -> None:
            method = _method_of(notification)
            if method:
                params = getattr(getattr(notification, "root", notification), "params", None)
                _received_notification_v1(self, method, params)

        _guard("recording a notification", record)
        return await original(self, notification)

    return _received_notification


def _received_notification_v1(session: Any, method: str, params: Any) -> None:
    _received_notification(_connections.get(session), method, params)


def _wrap_handle_request_v1(original: Any) -> Any:
    @functools.wraps(original)
    async def _handle_request(self: Any, message: Any, req: Any, session: Any, *args: Any, **kwargs: Any) -> Any:
        if not _state.enabled:
            return await original(self, message, req, session, *args, **kwargs)

        def describe() -> tuple[str, dict[str, Any] | None, Any, Any, str | None, Any]:
            data = req.model_dump(by_alias=True, mode="json", exclude_none=True)
            params = data.get("params")
            meta = params.get("_meta") if isinstance(params, Mapping) else None
            client_params = getattr(session, "client_params", None)
            version = getattr(client_params, "protocolVersion", None)
            metadata = getattr(message, "message_metadata", None)
            request = getattr(metadata, "request_context", None)
            return (
                str(data.get("method")),
                params if isinstance(params, dict) else None,
                meta,
                getattr(message, "request_id", None),
                str(version) if version is not None else None,
                request,
            )

        described = _guard("reading a request", describe)
        if described is None:
            return await original(self, message, req, session, *args, **kwargs)
        method = described[0]
        with _server_span(*described) as span:
            if span is None:
                return await original(self, message, req, session, *args, **kwargs)
            outcome: list[Any] = []
            respond = message.respond

            async def respond_and_record(response: Any) -> None:
                outcome.append(response)
                await respond(response)

            # The handler's answer (a result, or an error the server made of an exception) is
            # only seen where it is sent.
            message.respond = respond_and_record
            try:
                return await original(self, message, req, session, *args, **kwargs)
            except BaseException as e:
                _guard("ending a server span", _fail, span, e)
                raise
            finally:
                try:
                    del message.respond
                except AttributeError:
                    pass
                _guard("ending a server span", lambda: _end_server_v1(span, method, outcome))

    return _handle_request


def _end_server(span: Any, method: str, result: Any = None, error: BaseException | None = None) -> None:
    if error is not None:
        _fail(span, error)
    else:
        _finish_result(span, method, result)
    span.end()


def _end_server_v1(span: Any, method: str, outcome: list[Any]) -> None:
    if outcome:
        response = outcome[0]
        code = getattr(response, "code", None)
        if isinstance(code, int) and hasattr(response, "message"):  # ErrorData
            _fail_with(span, code, str(response.message))
        else:
            _finish_result(span, method, response)
    span.end()
