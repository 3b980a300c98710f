"""Anthropic SDK: ``messages.create`` (plain and ``stream=True``), ``messages.stream()`` (which
does not go through ``create``), ``parse``, the beta messages and the legacy completions, sync
and async, through every entry point (see ``_stainless``).

The SDK's built-in OpenTelemetry spans. Recent versions make their own span per call when a
tracer provider is set; with fivelens's that would double every call. fivelens decides per
client:

* a client given no ``open_telemetry`` option (and no ``ANTHROPIC_OPEN_TELEMETRY*`` variable in
  the environment) has the SDK's spans switched off, and fivelens records the call (with
  content, prompt hash, cost);
* a client whose owner turned the SDK's tracing on explicitly keeps it: fivelens records no span
  of its own for that client and adopts the SDK's spans, which reach the pipeline through the
  OpenTelemetry bridge and get cost and metrics there.

Usage follows the conventions: ``gen_ai.usage.input_tokens`` is Anthropic's ``input_tokens``
plus the cache-read and cache-write tokens (Anthropic's own count leaves them out), and a
stream's output tokens are the last cumulative count of ``message_delta``.

As for OpenAI, the request and a non-streamed response are handed to the core as the provider's
JSON and mapped there (``core/src/providers.rs``); streams are assembled here.
"""

from __future__ import annotations

import os
from typing import Any

from fivelens import _hooks
from fivelens import semconv as sc
from fivelens._llm import LlmCall, start_call, text_part

from . import _stainless
from ._stainless import body_of, dump_json, get

INSTRUMENTATION = "fivelens.anthropic"

_patched: list[Any] = []
_OTEL_ENV = "ANTHROPIC_OPEN_TELEMETRY"
_MARK = "_fivelens_sdk_tracing"


def instrument() -> str | None:
    _hooks.when_imported("anthropic", _patch)
    return None


def uninstrument() -> None:
    _hooks.cancel("anthropic")
    for module in _patched:
        _stainless.unpatch(module)
        original = getattr(module.BaseClient._set_open_telemetry, "__fivelens_original__", None)
        if original is not None:
            module.BaseClient._set_open_telemetry = original
    _patched.clear()


def _env_configures_tracing() -> bool:
    return any(name.startswith(_OTEL_ENV) for name in os.environ)


def _patch(_anthropic: Any) -> None:
    from anthropic import _base_client

    _stainless.patch(_base_client, _ADAPTER)
    base = getattr(_base_client, "BaseClient", None)
    original = getattr(base, "_set_open_telemetry", None)
    if base is not None and original is not None and not getattr(original, "__fivelens__", False):

        def _set_open_telemetry(self: Any, option: Any) -> Any:
            explicit = option is not None or _env_configures_tracing()
            try:
                setattr(self, _MARK, explicit)
            except Exception:  # pragma: no cover - slotted subclass
                pass
            if not explicit:
                option = {"traces": {"enabled": False}}
            return original(self, option)

        _set_open_telemetry.__fivelens__ = True  # type: ignore[attr-defined]
        _set_open_telemetry.__fivelens_original__ = original  # type: ignore[attr-defined]
        base._set_open_telemetry = _set_open_telemetry
    _patched.append(_base_client)


def _sdk_traces(client: Any) -> bool:
    """Whether this client makes its own spans (then fivelens adopts them). A client built
    before ``instrument()`` with no explicit choice has them switched off here."""
    options = getattr(client, "_open_telemetry", None)
    if not isinstance(options, dict):
        return False  # an SDK version without built-in tracing
    traces = options.get("traces")
    enabled = bool(traces.get("enabled")) if isinstance(traces, dict) else bool(traces)
    if not enabled:
        return False
    explicit = getattr(client, _MARK, None)
    if explicit is None:
        explicit = _env_configures_tracing()
        if not explicit:
            try:
                client._set_open_telemetry({**options, "traces": {**traces, "enabled": False}})  # type: ignore[dict-item]
                return False
            except Exception:
                return True
    return bool(explicit)


def _endpoint(options: Any) -> str | None:
    if str(getattr(options, "method", "")).lower() != "post":
        return None
    path = str(getattr(options, "url", "")).split("?", 1)[0].rstrip("/")
    if path.endswith("/messages"):
        return "chat"
    if path.endswith("/complete"):
        return "text_completion"
    return None


def _provider(client: Any) -> str:
    name = type(client).__name__
    if "Bedrock" in name:
        return "aws.bedrock"
    if "Vertex" in name:
        return "gcp.vertex_ai"
    return "anthropic"


class _Adapter:
    def begin(self, client: Any, options: Any, stream: bool) -> LlmCall | None:
        operation = _endpoint(options)
        if operation is None or _sdk_traces(client):
            return None
        body = body_of(options)
        model = body.get("model")
        model = str(model) if model else None
        attrs: dict[str, Any] = {}
        host, port = _stainless.server_of(client)
        if host:
            attrs[sc.SERVER_ADDRESS] = host
            attrs[sc.SERVER_PORT] = port
        if stream or body.get("stream") is True:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        call = start_call(operation, _provider(client), model, attrs, INSTRUMENTATION)
        fmt = "anthropic.complete" if operation == "text_completion" else "anthropic.messages"
        call._payload(fmt, body)
        return call

    def finish(self, call: LlmCall, result: Any) -> None:
        if not call._has_response_payload:
            call._response_payload(dump_json(result))

    def observer(self, call: LlmCall) -> _stainless.Observer:
        return _StreamObserver(call)


_ADAPTER = _Adapter()


def _thinking_tokens(usage: Any) -> Any:
    details = get(usage, "output_tokens_details")
    return get(details, "thinking_tokens") if details is not None else None


def _set_usage(call: LlmCall, uncached: Any, output: Any, cache_read: Any, cache_write: Any, reasoning: Any) -> None:
    def n(v: Any) -> int:
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

    total_input = n(uncached) + n(cache_read) + n(cache_write) if uncached is not None else None
    call.set_usage(
        total_input,
        output if isinstance(output, int) else None,
        cache_read_input_tokens=cache_read if isinstance(cache_read, int) else None,
        cache_write_input_tokens=cache_write if isinstance(cache_write, int) else None,
        reasoning_output_tokens=reasoning if isinstance(reasoning, int) else None,
    )


class _Block:
    __slots__ = ("id", "kind", "name", "texts")

    def __init__(self, kind: str, id: Any, name: Any) -> None:
        self.kind = kind
        self.texts: list[str] = []
        self.id = id
        self.name = name


class _StreamObserver:
    """Raw message-stream events: ``message_start`` (id, model, input usage), content blocks
    and their deltas, ``message_delta`` (stop reason, cumulative output tokens)."""

    __slots__ = ("blocks", "call", "completion", "legacy", "reason", "usage")

    def __init__(self, call: LlmCall) -> None:
        self.call = call
        self.blocks: dict[int, _Block] = {}
        self.reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.completion: list[str] = []
        self.legacy = False

    def _take_usage(self, usage: Any) -> None:
        if usage is None:
            return
        for field in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            v = get(usage, field)
            if v is not None:
                self.usage[field] = v
        thinking = _thinking_tokens(usage)
        if thinking is not None:
            self.usage["thinking"] = thinking

    def item(self, event: Any) -> None:
        kind = get(event, "type")
        call = self.call
        if kind == "content_block_delta":
            delta = get(event, "delta")
            block = self.blocks.get(get(event, "index", 0) or 0)
            dkind = get(delta, "type")
            text = None
            if dkind == "text_delta":
                text = get(delta, "text")
            elif dkind == "input_json_delta":
                text = get(delta, "partial_json")
            elif dkind == "thinking_delta":
                text = get(delta, "thinking")
            if block is not None and text:
                block.texts.append(text)
            call.chunk(text if dkind == "text_delta" else None)
        elif kind == "content_block_start":
            b = get(event, "content_block")
            block = _Block(str(get(b, "type")), get(b, "id"), get(b, "name"))
            initial = get(b, "text")
            if initial:
                block.texts.append(initial)
            self.blocks[get(event, "index", 0) or 0] = block
            call.chunk(None)
        elif kind == "message_start":
            message = get(event, "message")
            call.set_response(id=get(message, "id"), model=get(message, "model"))
            self._take_usage(get(message, "usage"))
            call.chunk(None)
        elif kind == "message_delta":
            reason = get(get(event, "delta"), "stop_reason")
            if reason:
                self.reason = str(reason)
            self._take_usage(get(event, "usage"))
        elif kind == "completion":  # legacy text completions
            self.legacy = True
            text = get(event, "completion")
            if text:
                self.completion.append(text)
            reason = get(event, "stop_reason")
            if reason:
                self.reason = str(reason)
            call.chunk(text)

    def finish(self) -> None:
        call = self.call
        reason = self.reason or "error"
        if self.legacy:
            parts = [text_part("".join(self.completion))]
        else:
            parts = []
            for i in sorted(self.blocks):
                b = self.blocks[i]
                text = "".join(b.texts)
                if b.kind == "text":
                    parts.append(text_part(text))
                elif b.kind == "thinking":
                    parts.append({"type": "reasoning", "content": text})
                elif b.kind == "tool_use":
                    parts.append({"type": "tool_call", "id": b.id, "name": b.name, "arguments": _json_or_text(text)})
                else:
                    parts.append({"type": b.kind})
        call.set_response(finish_reasons=[reason])
        call._record_output([{"role": "assistant", "parts": parts, "finish_reason": reason}])
        u = self.usage
        if self.reason is None:
            # Cut before ``message_delta``: the output count so far is message_start's
            # placeholder, so the output is estimated from the text instead.
            u.pop("output_tokens", None)
        if u:
            _set_usage(
                call,
                u.get("input_tokens"),
                u.get("output_tokens"),
                u.get("cache_read_input_tokens"),
                u.get("cache_creation_input_tokens"),
                u.get("thinking"),
            )


def _json_or_text(text: str) -> Any:
    import json

    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text
