"""A local fake of the OpenAI and Anthropic HTTP APIs, good enough for the official SDKs.

The server lets the project's tests drive the real ``openai`` and ``anthropic`` SDKs (Python and
Node) offline, on 127.0.0.1, with deterministic answers and scripted failures. It uses the Python
standard library only.

Endpoints (a leading ``/v1`` is optional, so an SDK may use either ``http://127.0.0.1:PORT`` or
``http://127.0.0.1:PORT/v1`` as its base URL; the OpenAI SDKs want the ``/v1`` one, the Anthropic
SDKs the bare one):

``POST /v1/chat/completions``
    A ``chat.completion`` object, or with ``"stream": true`` Server-Sent Events of
    ``chat.completion.chunk`` objects ending with ``data: [DONE]``. The first chunk carries the
    role, the last choice chunk the ``finish_reason``; a final chunk with empty ``choices`` and the
    usage is sent only when ``stream_options.include_usage`` is true (and then every other chunk
    has ``"usage": null``, as the real API does). ``response_format`` ``json_schema`` makes the
    content a JSON object built from the schema (placeholder values of the right type, ``$ref``,
    ``anyOf``, ``enum`` and ``const`` understood), ``json_object`` makes it ``{"echo": ...}``.
    The ``model`` of the answer is the request model with ``-2026-01-01`` appended (unless it
    already ends with a date), as the real API answers with a dated snapshot. ``n`` is ignored:
    there is always one choice.
``POST /v1/responses``
    A ``response`` object (``output`` holds one ``message`` item with one ``output_text`` part, or
    one ``function_call`` item), or with ``"stream": true`` the event sequence
    ``response.created``, ``response.in_progress``, ``response.output_item.added``,
    ``response.content_part.added``, ``response.output_text.delta`` (one per word),
    ``response.output_text.done``, ``response.content_part.done``, ``response.output_item.done``,
    ``response.completed``; each as ``event: <type>`` plus ``data: {json}`` whose JSON has
    ``type`` and ``sequence_number``. A function call streams ``response.output_item.added``,
    ``response.function_call_arguments.delta``/``.done`` and ``response.output_item.done``
    instead. ``text.format`` ``json_schema``/``json_object`` behave as for chat completions. The
    ``model`` is the request model.
``POST /v1/embeddings``
    One vector per input (a string, a list of strings, a token list or a list of token lists),
    8 dimensions unless ``dimensions`` says otherwise, derived from a hash of the input, so the
    same input always gets the same vector. ``encoding_format`` ``float`` and ``base64`` (the
    SDKs' default: little-endian float32) are both honoured. ``usage`` has ``prompt_tokens`` and
    ``total_tokens``. The ``model`` is the request model.
``POST /v1/messages`` (also ``/v1/messages?beta=true``: the query is ignored, ``anthropic-beta`` too)
    An Anthropic ``message`` (a ``text`` block, or a ``tool_use`` block), or with
    ``"stream": true`` the events ``message_start`` (usage with the input tokens and
    ``output_tokens: 1``), ``content_block_start``, ``ping``, ``content_block_delta`` (one per word:
    ``text_delta``, or ``input_json_delta`` for a tool call), ``content_block_stop``,
    ``message_delta`` (``stop_reason`` and the cumulative ``output_tokens``), ``message_stop``;
    each as ``event: <type>`` plus ``data: {json}``. ``output_config.format`` (or
    ``output_format``) of type ``json_schema`` makes the text a JSON object built from the schema.
    The ``model`` is the request model.
``POST /v1/messages/count_tokens``
    ``{"input_tokens": N}``.
``GET /health``
    ``{"status": "ok"}``.
``GET /requests`` and ``DELETE /requests``
    Every request received, except those to ``/health`` and ``/requests``, is recorded as
    ``{"method", "path" (with its query string), "headers" (names lower-cased), "body" (the parsed
    JSON, the raw text when it is not JSON, null when empty)}``. ``GET`` lists them oldest first
    (``FakeLLMServer.requests()`` in-process); ``DELETE`` forgets them.

Deterministic content: the assistant text is ``"echo: "`` followed by the text of the last user
message (whitespace collapsed, cut to 200 characters). Token counts are word counts: the prompt
tokens are the words of every message (plus the system prompt or instructions), at least 1; the
completion tokens are the words of the answer (for a tool call, of its name and JSON arguments).
Ids come from a counter of the server (``chatcmpl-fake000001``, ``resp_fake000002``,
``msg_fake000003``, ...), and ``created`` is always 1767225600 (2026-01-01T00:00:00Z).

Scenarios: a request header ``x-fake-scenario`` holds one scenario or several separated by commas
(``slow-200,tools``). An unknown scenario is answered with a 400 error that names it. ``slow-<ms>``
applies first; then the error scenarios win over ``rate-limit-once``, which wins over
``malformed`` and ``cut-stream``; ``tools``, ``tools-once``, ``length``, ``cache`` and ``reasoning``
shape a normal answer. (Python SDKs: ``extra_headers={"x-fake-scenario": "tools"}``; Node SDKs: a second
argument ``{headers: {"x-fake-scenario": "tools"}}``.)

``error-400``, ``error-500``, ``error-529``
    That status, with an error body in the provider's format: OpenAI
    ``{"error": {"message", "type", "param", "code"}}``; Anthropic
    ``{"type": "error", "error": {"type", "message"}, "request_id"}`` (``invalid_request_error``,
    ``api_error``, ``overloaded_error``).
``rate-limit``
    429 (``rate_limit_exceeded`` / ``rate_limit_error``) every time.
``rate-limit-once``
    429 for the first request carrying a given ``x-fake-key`` header value (a request without the
    header counts as the key ``""``), a normal answer for the later ones. The keys seen are kept
    for the life of the server (``DELETE /requests`` does not reset them), so use a fresh key per
    test.
    Every 429, 500 and 529 carries ``retry-after: 0`` and ``retry-after-ms: 1``, so an SDK that
    retries waits about a millisecond rather than its exponential back-off. The SDKs retry 429,
    500 and 529 by default: give the client ``max_retries=0`` (Node ``maxRetries: 0``) to see the
    error at once.
``malformed``
    Status 200 with ``content-type: application/json`` and a body that is not JSON; for a
    streaming request, an event stream whose first event's data is not JSON.
``cut-stream``
    A streaming request gets its first two chunks/events, and then the connection is closed
    without the terminal chunk of the chunked encoding (and so without ``[DONE]``,
    ``response.completed`` or ``message_stop``): the client sees an incomplete body. A
    non-streaming request gets half of its JSON body and then the connection closes. What the
    SDKs raise (as checked with openai 2.54/3.57, anthropic 2.14, Node openai 6.49 and
    @anthropic-ai/sdk 1.14): Python openai 3.x ``APIConnectionError``; Python openai 2.x and
    anthropic an unwrapped ``RemoteProtocolError`` of httpx/httpx2 while iterating a stream
    (``APIConnectionError`` for a non-streaming request); Node ``TypeError: terminated`` /
    ``AnthropicError: terminated``.
``slow-<ms>``
    Sleep that many milliseconds before answering, and ``ms/10`` between stream chunks.
``tools``
    The answer is a call of the first function tool of the request (OpenAI chat ``tool_calls``
    with ``finish_reason`` ``tool_calls``; a Responses ``function_call`` item; an Anthropic
    ``tool_use`` block with ``stop_reason`` ``tool_use``), its arguments built from the tool's
    JSON schema like ``json_schema`` content. A request without tools gets a call of ``fake_tool``
    with ``{}``. A tool call takes precedence over ``length``.
``tools-once``
    Like ``tools`` until the request carries a tool result (an OpenAI ``tool`` message, a
    Responses ``function_call_output`` item, an Anthropic ``tool_result`` block); then the normal
    answer. One header drives a whole agent loop: call the tool, then answer.
``tools-until-degraded``
    Like ``tools`` until the request's last tool result says ``degraded mode`` (the message a
    circuit breaker's rejection gives the model); then the normal answer. A runaway agent that
    stops only when its tool is reported unavailable.
``length``
    The answer is cut to ``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens`` words
    (3 when the request sets none); ``finish_reason`` ``length``, Responses status
    ``incomplete`` (``incomplete_details.reason`` ``max_output_tokens``, and a streamed
    ``response.incomplete`` in place of ``response.completed``), Anthropic ``stop_reason``
    ``max_tokens``.
``cache``
    Cached prompt tokens: OpenAI ``prompt_tokens_details.cached_tokens`` (Responses
    ``input_tokens_details.cached_tokens``) is half the prompt tokens (at least 1); Anthropic
    reports ``input_tokens`` as usual plus ``cache_read_input_tokens`` = half of them (at least 1)
    and ``cache_creation_input_tokens`` = a quarter (at least 1).
``reasoning``
    OpenAI usage reports 4 reasoning tokens (``completion_tokens_details.reasoning_tokens``,
    Responses ``output_tokens_details.reasoning_tokens``), included in the completion tokens.

Responses are framed for HTTP/1.1 keep-alive: JSON with ``Content-Length``, event streams with
chunked transfer encoding (an HTTP/1.0 client gets the stream delimited by the connection's close).

Running it: ``python3 tests/fake_llm_server.py [--port N]`` prints one line
``READY {"url": "http://127.0.0.1:PORT"}`` once it listens, serves until its standard input is
closed (``--forever``: until it is killed), then exits. In-process::

    server = FakeLLMServer()
    url = server.start()      # or: url, stop = start_server()
    ...
    server.stop()
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

__all__ = ["FakeLLMServer", "main", "start_server"]

CREATED = 1767225600  # 2026-01-01T00:00:00Z
MODEL_DATE_SUFFIX = "-2026-01-01"
ECHO_LIMIT = 200
DEFAULT_LENGTH_LIMIT = 3
DEFAULT_EMBEDDING_DIMENSIONS = 8
REASONING_TOKENS = 4
KNOWN_SCENARIOS = frozenset(
    {
        "error-400",
        "error-500",
        "error-529",
        "rate-limit",
        "rate-limit-once",
        "malformed",
        "cut-stream",
        "tools",
        "tools-once",
        "tools-until-degraded",
        "length",
        "cache",
        "reasoning",
    }
)
ERROR_STATUSES = {"error-400": 400, "error-500": 500, "error-529": 529, "rate-limit": 429}
OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", "invalid_value"),
    404: ("invalid_request_error", "unknown_url"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    529: ("server_error", "overloaded"),
}
ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
REASON_PHRASES = {529: "Overloaded"}
CONTROL_ROUTES = frozenset({"/health", "/requests"})

JSONDict = dict[str, Any]
Event = tuple[str | None, Any]  # (SSE event name or None, JSON payload or a raw string)


# --------------------------------------------------------------------------------------------
# Request reading helpers
# --------------------------------------------------------------------------------------------


def _texts(value: Any) -> list[str]:
    """Every piece of text in a message, content part list, input item or system prompt."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        found: list[str] = []
        for item in value:
            found.extend(_texts(item))
        return found
    if isinstance(value, dict):
        for key in ("text", "content", "output"):
            if key in value:
                return _texts(value[key])
    return []


def _joined(value: Any) -> str:
    return " ".join(_texts(value))


def _last_user_text(items: Any) -> str:
    """The text of the last user message of a message list (or of the last item if none is)."""
    if isinstance(items, str):
        return items
    if not isinstance(items, list):
        return ""
    dicts = [item for item in items if isinstance(item, dict)]
    users = [item for item in dicts if item.get("role") == "user"]
    chosen = users[-1] if users else (dicts[-1] if dicts else None)
    return _joined(chosen) if chosen is not None else ""


def _word_count(text: str) -> int:
    return len(text.split())


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _dict(value: Any) -> JSONDict:
    return cast(JSONDict, value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --------------------------------------------------------------------------------------------
# JSON schema placeholders
# --------------------------------------------------------------------------------------------


def _resolve_ref(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}
    node = root
    for raw in ref[1:].split("/"):
        if not raw:
            continue
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return {}
    return node


def _placeholder_number(schema: JSONDict, integer: bool) -> int | float:
    low: float | None = None
    high: float | None = None
    for key, shift in (("minimum", 0), ("exclusiveMinimum", 1)):
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            low = max(low, bound + shift) if low is not None else bound + shift
    for key, shift in (("maximum", 0), ("exclusiveMaximum", -1)):
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            high = min(high, bound + shift) if high is not None else bound + shift
    value = 1.0
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    if not integer:
        return value
    whole = math.ceil(value)
    return math.floor(value) if high is not None and whole > high else whole


def _placeholder_string(schema: JSONDict) -> str:
    formats = {
        "date-time": "2026-01-01T00:00:00Z",
        "date": "2026-01-01",
        "time": "00:00:00Z",
        "email": "user@example.com",
        "uri": "https://example.com/",
        "url": "https://example.com/",
        "uuid": "00000000-0000-4000-8000-000000000000",
        "ipv4": "127.0.0.1",
        "hostname": "example.com",
    }
    fmt = schema.get("format")
    text = formats.get(fmt, "example") if isinstance(fmt, str) else "example"
    min_length = _int_or_none(schema.get("minLength"))
    max_length = _int_or_none(schema.get("maxLength"))
    if min_length is not None and len(text) < min_length:
        text = text + "x" * (min_length - len(text))
    if max_length is not None and len(text) > max_length:
        text = text[:max_length]
    return text


def placeholder_from_schema(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value of the shape a JSON schema describes, with placeholder leaves."""
    root = schema if root is None else root
    if schema is True or schema == {}:
        return "example"
    if not isinstance(schema, dict) or depth > 16:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return placeholder_from_schema(_resolve_ref(root, ref), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = _list(schema.get("enum"))
    if enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        options = _list(schema.get(key))
        if options:
            usable = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return placeholder_from_schema((usable or options)[0], root, depth + 1)
    all_of = _list(schema.get("allOf"))
    if all_of:
        merged: JSONDict = {}
        for part in all_of:
            part_dict = _dict(part)
            part_ref = part_dict.get("$ref")
            merged.update(_dict(_resolve_ref(root, part_ref)) if isinstance(part_ref, str) else part_dict)
        merged.update({k: v for k, v in schema.items() if k != "allOf"})
        return placeholder_from_schema(merged, root, depth + 1)

    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if isinstance(k, str)]
        kind = next((k for k in kinds if k != "null"), "null")
    if kind is None:
        if "properties" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
    if kind == "object":
        properties = _dict(schema.get("properties"))
        return {name: placeholder_from_schema(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        prefix = _list(schema.get("prefixItems"))
        if prefix:
            return [placeholder_from_schema(sub, root, depth + 1) for sub in prefix]
        items = schema.get("items")
        count = max(_int_or_none(schema.get("minItems")) or 0, 1)
        max_items = _int_or_none(schema.get("maxItems"))
        if max_items is not None:
            count = min(count, max_items)
        if not isinstance(items, dict) or depth > 8:
            count = min(count, _int_or_none(schema.get("minItems")) or 0)
        return [placeholder_from_schema(items, root, depth + 1) for _ in range(count)]
    if kind == "string":
        return _placeholder_string(schema)
    if kind == "integer":
        return _placeholder_number(schema, integer=True)
    if kind == "number":
        return _placeholder_number(schema, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"


# --------------------------------------------------------------------------------------------
# Scenarios and answer plans
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """The scripted behaviour asked for by the ``x-fake-scenario`` header."""

    names: frozenset[str]
    delay: float  # seconds to sleep before answering
    unknown: tuple[str, ...]

    @classmethod
    def parse(cls, header: str | None) -> Scenario:
        names: set[str] = set()
        unknown: list[str] = []
        delay = 0.0
        for raw in (header or "").split(","):
            name = raw.strip().lower()
            if not name:
                continue
            slow = re.fullmatch(r"slow-(\d+(?:\.\d+)?)", name)
            if slow:
                delay = float(slow.group(1)) / 1000.0
            elif name in KNOWN_SCENARIOS:
                names.add(name)
            else:
                unknown.append(name)
        return cls(frozenset(names), delay, tuple(unknown))

    def has(self, name: str) -> bool:
        return name in self.names

    @property
    def chunk_delay(self) -> float:
        return self.delay / 10.0


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # JSON text

    @property
    def input(self) -> Any:
        return json.loads(self.arguments)


@dataclass(frozen=True)
class Plan:
    """What the fake model answers, independent of the wire format."""

    pieces: tuple[str, ...]  # the text, one piece (word and its trailing space) per stream delta
    tool: ToolCall | None
    truncated: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def argument_pieces(self) -> tuple[str, ...]:
        if self.tool is None:
            return ()
        return tuple(_split_words(self.tool.arguments))


def _split_words(text: str) -> list[str]:
    return re.findall(r"\s*\S+\s*", text) if text.strip() else [text]


def _make_plan(
    *,
    scenario: Scenario,
    prompt_text: str,
    last_user: str,
    schema: Any = None,
    json_object: bool = False,
    tools: Iterable[tuple[str, Any]] = (),
    max_tokens: int | None = None,
    answered: bool = False,
    last_tool_result: str = "",
) -> Plan:
    prompt_tokens = max(1, _word_count(prompt_text))
    tool: ToolCall | None = None
    pieces: list[str] = []
    truncated = False
    degraded = "degraded mode" in last_tool_result.lower()
    if (
        scenario.has("tools")
        or (scenario.has("tools-once") and not answered)
        or (scenario.has("tools-until-degraded") and not degraded)
    ):
        first = next(iter(tools), None)
        name, tool_schema = first if first is not None else ("fake_tool", None)
        arguments = placeholder_from_schema(tool_schema) if isinstance(tool_schema, dict) else {}
        if not isinstance(arguments, dict):
            arguments = {}
        tool = ToolCall(name=name, arguments=json.dumps(arguments))
        completion_tokens = _word_count(name) + _word_count(tool.arguments)
    else:
        if schema is not None:
            text = json.dumps(placeholder_from_schema(schema))
        else:
            echoed = " ".join(last_user.split())
            if len(echoed) > ECHO_LIMIT:
                echoed = echoed[:ECHO_LIMIT].rstrip()
            text = "echo: " + (echoed or "(empty)")
            if json_object:
                text = json.dumps({"echo": text})
        pieces = _split_words(text)
        if scenario.has("length"):
            limit = max_tokens if max_tokens is not None and max_tokens > 0 else DEFAULT_LENGTH_LIMIT
            truncated = True
            pieces = pieces[:limit]
            pieces[-1] = pieces[-1].rstrip()
        completion_tokens = max(1, _word_count("".join(pieces)))
    reasoning = REASONING_TOKENS if scenario.has("reasoning") else 0
    caching = scenario.has("cache")
    return Plan(
        pieces=tuple(pieces),
        tool=tool,
        truncated=truncated,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens + reasoning,
        cached_tokens=max(1, prompt_tokens // 2) if caching else 0,
        cache_creation_tokens=max(1, prompt_tokens // 4) if caching else 0,
        reasoning_tokens=reasoning,
    )


def _dated_model(model: str) -> str:
    if re.search(r"-\d{4}-\d{2}-\d{2}$", model):
        return model
    return model + MODEL_DATE_SUFFIX


def _embedding(item: Any, dimensions: int) -> list[float]:
    digest = hashlib.shake_256(json.dumps(item, sort_keys=True).encode("utf-8")).digest(dimensions)
    return [(byte - 128) / 128.0 for byte in digest]


# --------------------------------------------------------------------------------------------
# The HTTP server
# --------------------------------------------------------------------------------------------


class FakeLLMState:
    """Shared state: recorded requests, the keys seen by ``rate-limit-once``, the id counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[JSONDict] = []
        self._rate_limited_keys: set[str] = set()
        self._counter = 0

    def record(self, entry: JSONDict) -> None:
        with self._lock:
            self._requests.append(entry)

    def requests(self) -> list[JSONDict]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> int:
        with self._lock:
            count = len(self._requests)
            self._requests.clear()
            return count

    def next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._rate_limited_keys:
                return False
            self._rate_limited_keys.add(key)
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, port: int, state: FakeLLMState, verbose: bool) -> None:
        self.state = state
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection, so that no keep-alive connection outlives the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops its keep-alive connection is no error worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _StreamCut(Exception):
    """Raised to stop a response early; the connection is then closed."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLLM/1.0"
    timeout = 120  # seconds an idle keep-alive connection is kept
    disable_nagle_algorithm = True  # small writes (headers, then body; SSE events) go out at once

    # ---- plumbing -------------------------------------------------------------------------

    @property
    def _server(self) -> _Server:
        return cast(_Server, self.server)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if self._server.verbose:
            super().log_message(format, *args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _header_dict(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    def _send_bytes(self, status: int, data: bytes, content_type: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status, REASON_PHRASES.get(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._send_bytes(status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    # ---- HTTP verbs ------------------------------------------------------------------------

    def _read_request(self) -> tuple[str, Any]:
        """Read the body, record the request unless it is for a control endpoint; return (route, JSON body)."""
        raw = self._read_body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        route = urlsplit(self.path).path.rstrip("/")
        if route not in CONTROL_ROUTES:
            entry = {"method": self.command, "path": self.path, "headers": self._header_dict(), "body": body}
            self._server.state.record(entry)
        return route, body

    def do_GET(self) -> None:
        route, _ = self._read_request()
        if route == "/health":
            self._send_json(200, {"status": "ok"})
        elif route == "/requests":
            self._send_json(200, self._server.state.requests())
        else:
            self._send_json(404, {"error": {"message": f"no route GET {route}", "type": "not_found"}})

    def do_DELETE(self) -> None:
        route, _ = self._read_request()
        if route == "/requests":
            self._send_json(200, {"deleted": self._server.state.clear()})
        else:
            self._send_json(404, {"error": {"message": f"no route DELETE {route}", "type": "not_found"}})

    def do_POST(self) -> None:
        route, body = self._read_request()
        if route.startswith("/v1/"):
            route = route[3:]
        anthropic = route.startswith("/messages")
        scenario = Scenario.parse(self.headers.get("x-fake-scenario"))
        ident = self._server.state.next_id()
        id_header = ("request-id" if anthropic else "x-request-id", f"req_fake{ident:06d}")
        try:
            if scenario.delay:
                time.sleep(scenario.delay)
            self._dispatch(route, anthropic, scenario, body, ident, id_header)
        except (_StreamCut, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---- dispatch --------------------------------------------------------------------------

    def _dispatch(
        self,
        route: str,
        anthropic: bool,
        scenario: Scenario,
        body: Any,
        ident: int,
        id_header: tuple[str, str],
    ) -> None:
        handlers: dict[str, Callable[[JSONDict, Scenario, int], tuple[JSONDict, list[Event] | None]]] = {
            "/chat/completions": self._chat_completions,
            "/responses": self._responses,
            "/embeddings": self._embeddings,
            "/messages": self._messages,
            "/messages/count_tokens": self._count_tokens,
        }
        handler = handlers.get(route)
        if handler is None:
            self._send_error(anthropic, 404, f"Unknown route POST {route}", id_header)
            return
        if scenario.unknown:
            known = ", ".join(sorted([*KNOWN_SCENARIOS, "slow-<ms>"]))
            message = f"Unknown x-fake-scenario {', '.join(scenario.unknown)}; known: {known}"
            self._send_error(anthropic, 400, message, id_header)
            return
        if not isinstance(body, dict):
            self._send_error(anthropic, 400, "The request body is not a JSON object", id_header)
            return
        for name, status in ERROR_STATUSES.items():
            if scenario.has(name):
                self._send_error(anthropic, status, f"Fake {name} scenario", id_header)
                return
        if scenario.has("rate-limit-once") and self._server.state.first_time(self.headers.get("x-fake-key", "")):
            self._send_error(anthropic, 429, "Fake rate-limit-once scenario", id_header)
            return

        streaming = body.get("stream") is True
        if scenario.has("malformed"):
            if streaming:
                self._stream([("message_start" if anthropic else None, "{this is not json")], scenario, id_header)
            else:
                self._send_bytes(200, b"this is not json {", "application/json", [id_header])
            return

        payload, events = handler(body, scenario, ident)
        if streaming and events is not None:
            self._stream(events, scenario, id_header)
        elif scenario.has("cut-stream"):
            data = json.dumps(payload).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header(*id_header)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            raise _StreamCut
        else:
            self._send_json(200, payload, [id_header])

    def _send_error(self, anthropic: bool, status: int, message: str, id_header: tuple[str, str]) -> None:
        headers = [id_header]
        if status in (429, 500, 529):
            headers += [("retry-after", "0"), ("retry-after-ms", "1")]
        payload: JSONDict
        if anthropic:
            payload = {
                "type": "error",
                "error": {"type": ANTHROPIC_ERRORS.get(status, "api_error"), "message": message},
                "request_id": id_header[1],
            }
        else:
            kind, code = OPENAI_ERRORS.get(status, ("server_error", None))
            payload = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._send_json(status, payload, headers)

    def _stream(self, events: list[Event], scenario: Scenario, id_header: tuple[str, str]) -> None:
        chunked = self.request_version == "HTTP/1.1"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header(*id_header)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        cut = scenario.has("cut-stream")
        for index, (name, payload) in enumerate(events):
            if cut and index == 2:
                raise _StreamCut
            if index and scenario.chunk_delay:
                time.sleep(scenario.chunk_delay)
            data = payload if isinstance(payload, str) else json.dumps(payload)
            text = (f"event: {name}\n" if name else "") + f"data: {data}\n\n"
            encoded = text.encode("utf-8")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(encoded), encoded) if chunked else encoded)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    # ---- OpenAI: chat completions ----------------------------------------------------------

    def _chat_completions(self, body: JSONDict, scenario: Scenario, ident: int) -> tuple[JSONDict, list[Event]]:
        messages = _list(body.get("messages"))
        response_format = _dict(body.get("response_format"))
        schema = None
        if response_format.get("type") == "json_schema":
            schema = _dict(response_format.get("json_schema")).get("schema", {})
        tools = [
            (str(function.get("name")), function.get("parameters"))
            for tool in _list(body.get("tools"))
            if _dict(tool).get("type", "function") == "function"
            for function in [_dict(_dict(tool).get("function"))]
            if function.get("name")
        ]
        plan = _make_plan(
            scenario=scenario,
            prompt_text=" ".join(_joined(_dict(m).get("content")) for m in messages),
            last_user=_last_user_text(messages),
            schema=schema,
            json_object=response_format.get("type") == "json_object",
            tools=tools,
            max_tokens=_int_or_none(body.get("max_completion_tokens")) or _int_or_none(body.get("max_tokens")),
            answered=any(_dict(m).get("role") in ("tool", "function") for m in messages),
            last_tool_result=next(
                (
                    _joined(_dict(m).get("content"))
                    for m in reversed(messages)
                    if _dict(m).get("role") in ("tool", "function")
                ),
                "",
            ),
        )
        completion_id = f"chatcmpl-fake{ident:06d}"
        model = _dated_model(str(body.get("model") or "fake-model"))
        finish = "tool_calls" if plan.tool else ("length" if plan.truncated else "stop")
        call_id = f"call_fake{ident:06d}"
        usage = {
            "prompt_tokens": plan.prompt_tokens,
            "completion_tokens": plan.completion_tokens,
            "total_tokens": plan.prompt_tokens + plan.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": plan.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": plan.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        message: JSONDict = {
            "role": "assistant",
            "content": None if plan.tool else plan.text,
            "refusal": None,
            "annotations": [],
        }
        if plan.tool:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": plan.tool.name, "arguments": plan.tool.arguments},
                }
            ]
        common = {"id": completion_id, "created": CREATED, "model": model, "system_fingerprint": "fp_fake"}
        payload = {
            **common,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
            "service_tier": "default",
        }

        include_usage = _dict(body.get("stream_options")).get("include_usage") is True

        def chunk(delta: JSONDict, finish_reason: str | None = None) -> Event:
            data: JSONDict = {
                **common,
                "object": "chat.completion.chunk",
                "service_tier": "default",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                data["usage"] = None
            return (None, data)

        events: list[Event] = []
        if plan.tool:
            opening = {"index": 0, "id": call_id, "type": "function", "function": {"name": plan.tool.name}}
            events.append(
                chunk(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{**opening, "function": {"name": plan.tool.name, "arguments": ""}}],
                    }
                )
            )
            for piece in plan.argument_pieces:
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
            events.extend(chunk({"content": piece}) for piece in plan.pieces)
        events.append(chunk({}, finish))
        if include_usage:
            events.append((None, {**common, "object": "chat.completion.chunk", "choices": [], "usage": usage}))
        events.append((None, "[DONE]"))
        return payload, events

    # ---- OpenAI: responses -----------------------------------------------------------------

    def _responses(self, body: JSONDict, scenario: Scenario, ident: int) -> tuple[JSONDict, list[Event]]:
        text_format = _dict(_dict(body.get("text")).get("format"))
        schema = text_format.get("schema", {}) if text_format.get("type") == "json_schema" else None
        tools = [
            (str(tool.get("name")), tool.get("parameters"))
            for tool in map(_dict, _list(body.get("tools")))
            if tool.get("type") == "function" and tool.get("name")
        ]
        raw_input = body.get("input")
        prompt_parts = [_joined(body.get("instructions")), _joined(raw_input)]
        plan = _make_plan(
            scenario=scenario,
            prompt_text=" ".join(prompt_parts),
            last_user=_last_user_text(raw_input),
            schema=schema,
            json_object=text_format.get("type") == "json_object",
            tools=tools,
            max_tokens=_int_or_none(body.get("max_output_tokens")),
            answered=any(_dict(item).get("type") == "function_call_output" for item in _list(raw_input)),
            last_tool_result=next(
                (
                    _joined(_dict(item).get("output"))
                    for item in reversed(_list(raw_input))
                    if _dict(item).get("type") == "function_call_output"
                ),
                "",
            ),
        )
        response_id = f"resp_fake{ident:06d}"
        item_id = f"{'fc' if plan.tool else 'msg'}_fake{ident:06d}"
        incomplete = plan.truncated and plan.tool is None
        usage = {
            "input_tokens": plan.prompt_tokens,
            "input_tokens_details": {"cached_tokens": plan.cached_tokens},
            "output_tokens": plan.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
            "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        }

        def response(status: str, output: list[JSONDict], final_usage: JSONDict | None) -> JSONDict:
            return {
                "id": response_id,
                "object": "response",
                "created_at": CREATED,
                "status": status,
                "background": False,
                "completed_at": CREATED if status == "completed" else None,
                "error": None,
                "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
                "instructions": body.get("instructions"),
                "max_output_tokens": body.get("max_output_tokens"),
                "max_tool_calls": None,
                "model": str(body.get("model") or "fake-model"),
                "output": output,
                "parallel_tool_calls": body.get("parallel_tool_calls", True),
                "previous_response_id": body.get("previous_response_id"),
                "reasoning": {"effort": None, "summary": None},
                "service_tier": "default",
                "store": body.get("store", True),
                "temperature": body.get("temperature", 1.0),
                "text": {"format": text_format or {"type": "text"}, "verbosity": "medium"},
                "tool_choice": body.get("tool_choice", "auto"),
                "tools": _list(body.get("tools")),
                "top_p": body.get("top_p", 1.0),
                "truncation": "disabled",
                "usage": final_usage,
                "user": None,
                "metadata": _dict(body.get("metadata")),
            }

        final_status = "incomplete" if incomplete else "completed"
        item_status = "incomplete" if incomplete else "completed"
        part = {"type": "output_text", "text": plan.text, "annotations": [], "logprobs": []}
        final_item: JSONDict
        if plan.tool:
            final_item = {
                "id": item_id,
                "type": "function_call",
                "status": "completed",
                "arguments": plan.tool.arguments,
                "call_id": f"call_fake{ident:06d}",
                "name": plan.tool.name,
            }
        else:
            final_item = {
                "id": item_id,
                "type": "message",
                "status": item_status,
                "role": "assistant",
                "content": [part],
            }
        payload = response(final_status, [final_item], usage)

        raw_events: list[JSONDict] = [
            {"type": "response.created", "response": response("in_progress", [], None)},
            {"type": "response.in_progress", "response": response("in_progress", [], None)},
        ]
        at = {"item_id": item_id, "output_index": 0}
        if plan.tool:
            raw_events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": {**final_item, "status": "in_progress", "arguments": ""},
                }
            )
            raw_events.extend(
                {"type": "response.function_call_arguments.delta", **at, "delta": piece}
                for piece in plan.argument_pieces
            )
            raw_events.append(
                {
                    "type": "response.function_call_arguments.done",
                    **at,
                    "name": plan.tool.name,
                    "arguments": plan.tool.arguments,
                }
            )
        else:
            at_part = {**at, "content_index": 0}
            raw_events += [
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": {**final_item, "status": "in_progress", "content": []},
                },
                {"type": "response.content_part.added", **at_part, "part": {**part, "text": ""}},
            ]
            raw_events.extend(
                {"type": "response.output_text.delta", **at_part, "delta": piece, "logprobs": []}
                for piece in plan.pieces
            )
            raw_events += [
                {"type": "response.output_text.done", **at_part, "text": plan.text, "logprobs": []},
                {"type": "response.content_part.done", **at_part, "part": part},
            ]
        raw_events += [
            {"type": "response.output_item.done", "output_index": 0, "item": final_item},
            {"type": f"response.{final_status}", "response": payload},
        ]
        events: list[Event] = [
            (str(event["type"]), {**event, "sequence_number": number}) for number, event in enumerate(raw_events)
        ]
        return payload, events

    # ---- OpenAI: embeddings ----------------------------------------------------------------

    def _embeddings(self, body: JSONDict, scenario: Scenario, ident: int) -> tuple[JSONDict, None]:
        raw = body.get("input")
        items: list[Any]
        if isinstance(raw, list) and raw and all(isinstance(v, int) for v in raw):
            items = [raw]
        elif isinstance(raw, list):
            items = raw
        else:
            items = [raw]
        dimensions = _int_or_none(body.get("dimensions")) or DEFAULT_EMBEDDING_DIMENSIONS
        as_base64 = body.get("encoding_format") == "base64"
        data: list[JSONDict] = []
        tokens = 0
        for index, item in enumerate(items):
            vector = _embedding(item, dimensions)
            tokens += len(item) if isinstance(item, list) else _word_count(str(item))
            encoded: Any = vector
            if as_base64:
                encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = max(1, tokens)
        payload = {
            "object": "list",
            "data": data,
            "model": str(body.get("model") or "fake-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return payload, None

    # ---- Anthropic: messages ---------------------------------------------------------------

    def _anthropic_plan(self, body: JSONDict, scenario: Scenario) -> Plan:
        messages = _list(body.get("messages"))
        output_format = _dict(_dict(body.get("output_config")).get("format")) or _dict(body.get("output_format"))
        schema = output_format.get("schema", {}) if output_format.get("type") == "json_schema" else None
        tools = [
            (str(tool.get("name")), tool.get("input_schema"))
            for tool in map(_dict, _list(body.get("tools")))
            if tool.get("name")
        ]
        prompt_text = " ".join([_joined(body.get("system")), *(_joined(_dict(m).get("content")) for m in messages)])
        return _make_plan(
            scenario=scenario,
            prompt_text=prompt_text,
            last_user=_last_user_text(messages),
            schema=schema,
            tools=tools,
            max_tokens=_int_or_none(body.get("max_tokens")),
            answered=any(
                _dict(block).get("type") == "tool_result"
                for m in messages
                for block in (_list(_dict(m).get("content")) if isinstance(_dict(m).get("content"), list) else ())
            ),
            last_tool_result=next(
                (
                    _joined(_dict(block).get("content"))
                    for m in reversed(messages)
                    for block in reversed(
                        _list(_dict(m).get("content")) if isinstance(_dict(m).get("content"), list) else []
                    )
                    if _dict(block).get("type") == "tool_result"
                ),
                "",
            ),
        )

    def _messages(self, body: JSONDict, scenario: Scenario, ident: int) -> tuple[JSONDict, list[Event]]:
        plan = self._anthropic_plan(body, scenario)
        tool_id = f"toolu_fake{ident:06d}"
        block: JSONDict
        if plan.tool:
            block = {"type": "tool_use", "id": tool_id, "name": plan.tool.name, "input": plan.tool.input}
        else:
            block = {"type": "text", "text": plan.text}
        stop_reason = "tool_use" if plan.tool else ("max_tokens" if plan.truncated else "end_turn")
        usage = {
            "input_tokens": plan.prompt_tokens,
            "output_tokens": plan.completion_tokens,
            "cache_creation_input_tokens": plan.cache_creation_tokens,
            "cache_read_input_tokens": plan.cached_tokens,
            "service_tier": "standard",
        }
        message = {
            "id": f"msg_fake{ident:06d}",
            "type": "message",
            "role": "assistant",
            "model": str(body.get("model") or "fake-model"),
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if plan.tool:
            opening = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in plan.argument_pieces]
        else:
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in plan.pieces]
        raw_events: list[JSONDict] = [
            {
                "type": "message_start",
                "message": {
                    **message,
                    "content": [],
                    "stop_reason": None,
                    "usage": {**usage, "output_tokens": 1},
                },
            },
            {"type": "content_block_start", "index": 0, "content_block": opening},
            {"type": "ping"},
            *({"type": "content_block_delta", "index": 0, "delta": delta} for delta in deltas),
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": plan.completion_tokens},
            },
            {"type": "message_stop"},
        ]
        return message, [(str(event["type"]), event) for event in raw_events]

    def _count_tokens(self, body: JSONDict, scenario: Scenario, ident: int) -> tuple[JSONDict, None]:
        return {"input_tokens": self._anthropic_plan(body, scenario).prompt_tokens}, None


# --------------------------------------------------------------------------------------------
# Starting and stopping
# --------------------------------------------------------------------------------------------


class FakeLLMServer:
    """The fake server, run in a background thread of this process.

    ``start()`` returns the base URL (``http://127.0.0.1:PORT``; OpenAI clients want
    ``url + "/v1"``). ``requests()`` and ``clear_requests()`` read the same record as
    ``GET``/``DELETE /requests``. Usable as a context manager.
    """

    def __init__(self, port: int = 0, *, verbose: bool = False) -> None:
        self.state = FakeLLMState()
        self._port = port
        self._verbose = verbose
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake LLM server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> str:
        if self._httpd is None:
            self._httpd = _Server(self._port, self.state, self._verbose)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm-server", daemon=True
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def requests(self) -> list[JSONDict]:
        return self.state.requests()

    def clear_requests(self) -> None:
        self.state.clear()

    def __enter__(self) -> FakeLLMServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(port: int = 0, *, verbose: bool = False) -> tuple[str, Callable[[], None]]:
    """Start a fake server in this process; return its base URL and a function that stops it."""
    server = FakeLLMServer(port, verbose=verbose)
    return server.start(), server.stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic API server for tests.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--forever", action="store_true", help="ignore standard input; serve until killed")
    parser.add_argument("--verbose", action="store_true", help="log every request to standard error")
    args = parser.parse_args(argv)

    server = FakeLLMServer(args.port, verbose=args.verbose)
    url = server.start()
    print("READY " + json.dumps({"url": url}), flush=True)
    try:
        if args.forever:
            while True:
                time.sleep(3600)
        elif sys.stdin is not None:
            fd = sys.stdin.fileno()
            while os.read(fd, 65536):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
