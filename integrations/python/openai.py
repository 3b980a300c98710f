"""OpenAI SDK (the 2.x and 3.x lines): chat completions, the Responses API, embeddings and legacy
completions, sync and async, streamed or not, through every entry point (see ``_stainless``).

The provider is ``openai`` for ``OpenAI`` / ``AsyncOpenAI`` clients whatever their base URL (an
OpenAI-compatible server reached through this SDK is what the instrumentation knows; its host is
in ``server.address``), and ``azure.ai.openai`` for the Azure clients.

Streamed chat completions carry usage only when the request asks for it
(``stream_options={"include_usage": True}``); fivelens does not add it (that would change the
stream the app reads). Without it the tokens are estimated and marked so.

What happens on the caller's thread is kept small: the request body and the parsed response are
handed to the core as the provider's JSON (serialised in C and in pydantic-core, a couple of
microseconds each), and the core's processing thread maps them to the conventions' attributes
(``core/src/providers.rs``, shared with the Node package). Streams are assembled here, chunk by
chunk, as the caller reads them.
"""

from __future__ import annotations

import json
from typing import Any

from fivelens import _hooks
from fivelens import semconv as sc
from fivelens._llm import LlmCall, start_call, text_part

from . import _stainless
from ._stainless import body_of, dump_json, get

INSTRUMENTATION = "fivelens.openai"

_patched: list[Any] = []


def instrument() -> str | None:
    _hooks.when_imported("openai", _patch)
    return None


def uninstrument() -> None:
    _hooks.cancel("openai")
    for module in _patched:
        _stainless.unpatch(module)
    _patched.clear()


def _patch(_openai: Any) -> None:
    from openai import _base_client

    _stainless.patch(_base_client, _ADAPTER)
    _patched.append(_base_client)


# ---- request -----------------------------------------------------------------------------------


_FORMATS = {
    "chat": "openai.chat",
    "responses": "openai.responses",
    "completions": "openai.completions",
}


def _endpoint(options: Any, stream: bool) -> str | None:
    method = str(getattr(options, "method", "")).lower()
    url = str(getattr(options, "url", ""))
    path = url.split("?", 1)[0].rstrip("/")
    if method == "post":
        if path.endswith("/chat/completions"):
            return "chat"
        if path.endswith("/responses"):
            return "responses"
        if path.endswith("/embeddings"):
            return "embeddings"
        if path.endswith("/completions"):
            return "completions"
        return None
    if method == "get" and stream and "/responses/" in path:
        return "responses"  # resuming a streamed response (``responses.stream(response_id=...)``)
    return None


def _provider(client: Any) -> str:
    name = type(client).__name__
    return "azure.ai.openai" if name.startswith(("Azure", "AsyncAzure")) else "openai"


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


class _Adapter:
    def begin(self, client: Any, options: Any, stream: bool) -> LlmCall | None:
        endpoint = _endpoint(options, stream)
        if endpoint is None:
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
        if endpoint == "embeddings":
            # Read here: the request's inputs and the response's vectors are of no use to the
            # core, and can be large.
            fmt = body.get("encoding_format")
            if isinstance(fmt, str):
                attrs[sc.GEN_AI_REQUEST_ENCODING_FORMATS] = [fmt]
            dims = body.get("dimensions")
            if isinstance(dims, int):
                attrs[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dims
            return start_call("embeddings", _provider(client), model, attrs, INSTRUMENTATION)
        operation = "text_completion" if endpoint == "completions" else "chat"
        call = start_call(operation, _provider(client), model, attrs, INSTRUMENTATION)
        call._payload(_FORMATS[endpoint], body)
        return call

    def finish(self, call: LlmCall, result: Any) -> None:
        if sc.PRIVATE_FORMAT not in call._attrs:  # embeddings
            _finish_embeddings(call, result)
        elif not call._has_response_payload:
            call._response_payload(dump_json(result))

    def observer(self, call: LlmCall) -> _stainless.Observer:
        return _StreamObserver(call)


_ADAPTER = _Adapter()


def _usage(call: LlmCall, usage: Any) -> None:
    if usage is None:
        return
    input_tokens = get(usage, "prompt_tokens")
    if input_tokens is None:  # the Responses API's names
        input_tokens = get(usage, "input_tokens")
        output_tokens = get(usage, "output_tokens")
        in_details = get(usage, "input_tokens_details")
        out_details = get(usage, "output_tokens_details")
    else:
        output_tokens = get(usage, "completion_tokens")
        in_details = get(usage, "prompt_tokens_details")
        out_details = get(usage, "completion_tokens_details")
    call.set_usage(
        input_tokens,
        output_tokens,
        cache_read_input_tokens=get(in_details, "cached_tokens") if in_details is not None else None,
        reasoning_output_tokens=get(out_details, "reasoning_tokens") if out_details is not None else None,
    )


def _response_meta(call: LlmCall, result: Any) -> None:
    call.set_response(id=get(result, "id"), model=get(result, "model"))
    tier = get(result, "service_tier")
    if isinstance(tier, str):
        call.set_attribute(sc.OPENAI_RESPONSE_SERVICE_TIER, tier)
    fingerprint = get(result, "system_fingerprint")
    if isinstance(fingerprint, str):
        call.set_attribute(sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fingerprint)


def _finish_embeddings(call: LlmCall, result: Any) -> None:
    # Not handed over as JSON: the vectors would make it large for nothing.
    call.set_response(model=get(result, "model"))
    data = get(result, "data") or ()
    if data:
        vector = get(data[0], "embedding")
        if isinstance(vector, list):
            call.set_attribute(sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, len(vector))
    usage = get(result, "usage")
    if usage is not None:
        call.set_usage(get(usage, "prompt_tokens"))


class _Choice:
    __slots__ = ("reason", "texts", "tools")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.tools: dict[int, dict[str, Any]] = {}
        self.reason: str | None = None


class _StreamObserver:
    """Chat-completion chunks or Responses events, as the caller reads them."""

    __slots__ = ("call", "choices", "final", "meta_seen", "texts", "usage_seen")

    def __init__(self, call: LlmCall) -> None:
        self.call = call
        self.choices: dict[int, _Choice] = {}
        self.final: Any = None
        self.meta_seen = False
        self.texts: list[str] = []
        self.usage_seen = False

    def item(self, item: Any) -> None:
        kind = get(item, "type")
        if kind is not None and get(item, "object") is None:
            self._event(str(kind), item)
            return
        call = self.call
        if not self.meta_seen:
            self.meta_seen = True
            _response_meta(call, item)
        choices = get(item, "choices")
        text = None
        for ch in choices or ():
            index = get(ch, "index", 0) or 0
            state = self.choices.get(index)
            if state is None:
                state = self.choices[index] = _Choice()
            delta = get(ch, "delta")
            if delta is not None:
                content = get(delta, "content")
                if content:
                    state.texts.append(content)
                    text = content
                for tc in get(delta, "tool_calls") or ():
                    slot = state.tools.setdefault(get(tc, "index", 0) or 0, {"id": None, "name": None, "args": []})
                    if get(tc, "id"):
                        slot["id"] = get(tc, "id")
                    fn = get(tc, "function")
                    if fn is not None:
                        if get(fn, "name"):
                            slot["name"] = get(fn, "name")
                        if get(fn, "arguments"):
                            slot["args"].append(get(fn, "arguments"))
            else:  # legacy completions
                content = get(ch, "text")
                if content:
                    state.texts.append(content)
                    text = content
            reason = get(ch, "finish_reason")
            if reason:
                state.reason = str(reason)
        call.chunk(text)
        usage = get(item, "usage")
        if usage is not None:
            self.usage_seen = True
            _usage(call, usage)

    def _event(self, kind: str, event: Any) -> None:
        call = self.call
        if kind == "response.output_text.delta":
            delta = get(event, "delta")
            call.chunk(delta if isinstance(delta, str) else None)
            if isinstance(delta, str):
                self.texts.append(delta)
            return
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = get(event, "response")
            return
        if kind in ("response.created", "response.in_progress"):
            response = get(event, "response")
            if response is not None and not self.meta_seen:
                self.meta_seen = True
                _response_meta(call, response)
            return
        if kind == "error":
            call.fail(str(get(event, "message") or "stream error"), str(get(event, "code") or "_OTHER"))
            return
        call.chunk(None)

    def finish(self) -> None:
        call = self.call
        if self.final is not None:
            call._response_payload(dump_json(self.final))
            return
        if self.texts:  # a Responses stream that ended before its final event
            call.set_response(finish_reasons=["error"])
            call._record_output(
                [{"role": "assistant", "parts": [text_part("".join(self.texts))], "finish_reason": "error"}]
            )
            return
        if not self.choices:
            return
        reasons: list[str] = []
        messages: list[dict[str, Any]] = []
        for index in sorted(self.choices):
            state = self.choices[index]
            # A choice whose reason never arrived (stream cut or closed early): "error".
            reason = state.reason or "error"
            reasons.append(reason)
            parts: list[dict[str, Any]] = []
            if state.texts:
                parts.append(text_part("".join(state.texts)))
            for i in sorted(state.tools):
                tool = state.tools[i]
                parts.append(
                    {
                        "type": "tool_call",
                        "id": tool["id"],
                        "name": tool["name"],
                        "arguments": _arguments("".join(tool["args"])),
                    }
                )
            messages.append({"role": "assistant", "parts": parts, "finish_reason": reason})
        call.set_response(finish_reasons=reasons)
        call._record_output(messages)
