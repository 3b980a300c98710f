"""OpenAI SDK (the 2.x and 3.x lines): chat completions, the Responses API, embeddings and legacy
completions, sync and async, streamed or not, through every entry point (see ``_stainless``).

The provider is ``openai`` for ``OpenAI`` / ``AsyncOpenAI`` clients whatever their base URL (an
OpenAI-compatible server reached through this SDK is what the instrumentation knows; its host is
in ``server.address``), and ``azure.ai.openai`` for the Azure clients.

Streamed chat completions carry usage only when the request asks for it
(``stream_options={"include_usage": True}``); fivelens does not add it (that would change the
stream the app reads). Without it the tokens are estimated and marked so.
"""

from __future__ import annotations

import json
from typing import Any

from fivelens import _hooks
from fivelens import semconv as sc
from fivelens._llm import LlmCall, start_call, text_part

from . import _stainless
from ._stainless import body_of, get

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


def _number(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _output_type(fmt: Any) -> str | None:
    kind = get(fmt, "type") if fmt is not None else None
    if kind in ("json_schema", "json_object"):
        return "json"
    if kind == "text":
        return "text"
    return None


def _common_request(body: dict[str, Any], attrs: dict[str, Any]) -> None:
    for key, attr in (
        ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", sc.GEN_AI_REQUEST_TOP_P),
        ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
        ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ):
        v = _number(body.get(key))
        if v is not None:
            attrs[attr] = float(v)
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        attrs[sc.GEN_AI_REQUEST_SEED] = seed
    tier = body.get("service_tier")
    if isinstance(tier, str):
        attrs[sc.OPENAI_REQUEST_SERVICE_TIER] = tier
    if body.get("stream") is True:
        attrs[sc.GEN_AI_REQUEST_STREAM] = True


def _tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """Tool definitions, names only (the conventions leave descriptions and schemas out by
    default, for size)."""
    out: list[dict[str, Any]] = []
    for t in tools or ():
        kind = get(t, "type") or "function"
        fn = get(t, "function")
        name = get(fn, "name") if fn is not None else get(t, "name")
        if name is None and kind == "custom":
            name = get(get(t, "custom"), "name")
        entry: dict[str, Any] = {"type": kind}
        if name:
            entry["name"] = name
        out.append(entry)
    return out


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _media_part(url: str, modality: str) -> dict[str, Any]:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        mime = head[5:].split(";", 1)[0] or None
        part: dict[str, Any] = {"type": "blob", "modality": modality, "content": data}
        if mime:
            part["mime_type"] = mime
        return part
    return {"type": "uri", "modality": modality, "uri": url}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """Chat-completions or Responses content (a string or a list of typed parts)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[dict[str, Any]] = []
    for p in content:
        if isinstance(p, str):
            parts.append(text_part(p))
            continue
        kind = get(p, "type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(text_part(get(p, "text") or ""))
        elif kind == "refusal":
            parts.append(text_part(get(p, "refusal") or ""))
        elif kind == "image_url":
            url = get(get(p, "image_url"), "url") or ""
            parts.append(_media_part(str(url), "image"))
        elif kind == "input_image":
            url = get(p, "image_url")
            if url:
                parts.append(_media_part(str(url), "image"))
            else:
                parts.append({"type": "file", "modality": "image", "file_id": get(p, "file_id")})
        elif kind == "input_audio":
            audio = get(p, "input_audio")
            parts.append(
                {
                    "type": "blob",
                    "modality": "audio",
                    "content": get(audio, "data"),
                    "mime_type": f"audio/{get(audio, 'format')}",
                }
            )
        elif kind in ("file", "input_file"):
            f = get(p, "file") or p
            parts.append({"type": "file", "modality": "document", "file_id": get(f, "file_id") or get(f, "filename")})
        else:
            parts.append({"type": str(kind)})
    return parts


def _chat_messages(messages: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Chat-completions messages in the conventions' shape, and the system prompt text."""
    out: list[dict[str, Any]] = []
    system: list[str] = []
    for m in messages or ():
        role = str(get(m, "role") or "user")
        if role == "tool":
            out.append(
                {
                    "role": "tool",
                    "parts": [
                        {
                            "type": "tool_call_response",
                            "id": get(m, "tool_call_id"),
                            "response": _tool_response(get(m, "content")),
                        }
                    ],
                }
            )
            continue
        parts = _content_parts(get(m, "content"))
        if role in ("system", "developer"):
            system.extend(p["content"] for p in parts if p.get("type") == "text")
        for call in get(m, "tool_calls") or ():
            fn = get(call, "function")
            parts.append(
                {
                    "type": "tool_call",
                    "id": get(call, "id"),
                    "name": get(fn, "name"),
                    "arguments": _arguments(get(fn, "arguments")),
                }
            )
        msg: dict[str, Any] = {"role": role, "parts": parts}
        name = get(m, "name")
        if name:
            msg["name"] = name
        out.append(msg)
    return out, ("\n".join(system) if system else None)


def _tool_response(content: Any) -> Any:
    if isinstance(content, list):
        return "\n".join(p["content"] for p in _content_parts(content) if p.get("type") == "text")
    return content


def _responses_input(value: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Responses API ``input`` (a string or a list of items) in the conventions' shape."""
    if value is None:
        return [], None
    if isinstance(value, str):
        return [{"role": "user", "parts": [text_part(value)]}], None
    out: list[dict[str, Any]] = []
    system: list[str] = []
    for item in value:
        kind = get(item, "type")
        role = get(item, "role")
        if kind in (None, "message") and role:
            parts = _content_parts(get(item, "content"))
            if role in ("system", "developer"):
                system.extend(p["content"] for p in parts if p.get("type") == "text")
            out.append({"role": str(role), "parts": parts})
        elif kind == "function_call":
            part = {
                "type": "tool_call",
                "id": get(item, "call_id"),
                "name": get(item, "name"),
                "arguments": _arguments(get(item, "arguments")),
            }
            out.append({"role": "assistant", "parts": [part]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            out.append(
                {
                    "role": "tool",
                    "parts": [
                        {"type": "tool_call_response", "id": get(item, "call_id"), "response": get(item, "output")}
                    ],
                }
            )
        elif kind == "reasoning":
            text = "\n".join(str(get(s, "text") or "") for s in get(item, "summary") or ())
            out.append({"role": "assistant", "parts": [{"type": "reasoning", "content": text}]})
        elif kind is not None:
            out.append({"role": "assistant" if "call" in str(kind) else "user", "parts": [{"type": str(kind)}]})
    return out, ("\n".join(system) if system else None)


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
        if endpoint == "embeddings":
            fmt = body.get("encoding_format")
            if isinstance(fmt, str):
                attrs[sc.GEN_AI_REQUEST_ENCODING_FORMATS] = [fmt]
            dims = body.get("dimensions")
            if isinstance(dims, int):
                attrs[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dims
            return start_call("embeddings", _provider(client), model, attrs, INSTRUMENTATION)

        _common_request(body, attrs)
        if stream:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        if endpoint == "chat":
            max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
            if isinstance(max_tokens, int):
                attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
            stop = body.get("stop")
            if stop:
                attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else [str(s) for s in stop]
            n = body.get("n")
            if isinstance(n, int) and n != 1:
                attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] = n
            effort = body.get("reasoning_effort")
            if isinstance(effort, str):
                attrs[sc.GEN_AI_REQUEST_REASONING_LEVEL] = effort
            out_type = _output_type(body.get("response_format"))
            if out_type:
                attrs[sc.GEN_AI_OUTPUT_TYPE] = out_type
            call = start_call("chat", _provider(client), model, attrs, INSTRUMENTATION)
            messages, system = _chat_messages(body.get("messages"))
            call._record_input(
                messages, None, _tool_definitions(body.get("tools")) if call.capture_content else None, system
            )
            return call
        if endpoint == "completions":
            max_tokens = body.get("max_tokens")
            if isinstance(max_tokens, int):
                attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
            call = start_call("text_completion", _provider(client), model, attrs, INSTRUMENTATION)
            prompt = body.get("prompt")
            texts = [prompt] if isinstance(prompt, str) else [str(p) for p in prompt or () if isinstance(p, str)]
            call._record_input([{"role": "user", "parts": [text_part(t)]} for t in texts], None, None, None)
            return call

        # Responses API
        max_tokens = body.get("max_output_tokens")
        if isinstance(max_tokens, int):
            attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        effort = get(body.get("reasoning"), "effort") if body.get("reasoning") else None
        if isinstance(effort, str):
            attrs[sc.GEN_AI_REQUEST_REASONING_LEVEL] = effort
        text_cfg = body.get("text")
        out_type = _output_type(get(text_cfg, "format")) if text_cfg else None
        if out_type:
            attrs[sc.GEN_AI_OUTPUT_TYPE] = out_type
        previous = body.get("previous_response_id")
        if isinstance(previous, str):
            attrs[sc.GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID] = previous
        conversation = body.get("conversation")
        conversation_id = (
            conversation if isinstance(conversation, str) else get(conversation, "id") if conversation else None
        )
        if isinstance(conversation_id, str):
            attrs[sc.GEN_AI_CONVERSATION_ID] = conversation_id
        prompt = body.get("prompt")
        if isinstance(prompt, dict) and prompt.get("id"):
            # A stored prompt: its id and version are the declared prompt name and version.
            attrs[sc.GEN_AI_PROMPT_NAME] = str(prompt["id"])
            if prompt.get("version"):
                attrs[sc.GEN_AI_PROMPT_VERSION] = str(prompt["version"])
        call = start_call("chat", _provider(client), model, attrs, INSTRUMENTATION)
        messages, system = _responses_input(body.get("input"))
        instructions = body.get("instructions")
        system_parts = None
        if isinstance(instructions, str) and instructions:
            system_parts = [text_part(instructions)]
            system = instructions
        call._record_input(
            messages, system_parts, _tool_definitions(body.get("tools")) if call.capture_content else None, system
        )
        return call

    def finish(self, call: LlmCall, result: Any) -> None:
        obj = get(result, "object")
        if obj == "response" or (obj is None and get(result, "output") is not None):
            _finish_response(call, result)
        elif obj in ("chat.completion", "text_completion") or get(result, "choices") is not None:
            _finish_chat(call, result)
        elif obj == "list" or get(result, "data") is not None:
            _finish_embeddings(call, result)

    def observer(self, call: LlmCall) -> _stainless.Observer:
        return _StreamObserver(call)


_ADAPTER = _Adapter()


def _usage(call: LlmCall, usage: Any) -> None:
    if usage is None:
        return
    input_tokens = get(usage, "prompt_tokens", get(usage, "input_tokens"))
    output_tokens = get(usage, "completion_tokens", get(usage, "output_tokens"))
    in_details = get(usage, "prompt_tokens_details") or get(usage, "input_tokens_details")
    out_details = get(usage, "completion_tokens_details") or get(usage, "output_tokens_details")
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


def _finish_chat(call: LlmCall, result: Any) -> None:
    _response_meta(call, result)
    reasons: list[str] = []
    messages: list[dict[str, Any]] = []
    for choice in get(result, "choices") or ():
        reason = get(choice, "finish_reason") or "error"
        reasons.append(str(reason))
        message = get(choice, "message")
        parts: list[dict[str, Any]] = []
        if message is None:  # legacy completions
            text = get(choice, "text")
            if text:
                parts.append(text_part(text))
        else:
            content = get(message, "content")
            if content:
                parts.append(text_part(content))
            refusal = get(message, "refusal")
            if refusal:
                parts.append(text_part(refusal))
            for tc in get(message, "tool_calls") or ():
                fn = get(tc, "function")
                parts.append(
                    {
                        "type": "tool_call",
                        "id": get(tc, "id"),
                        "name": get(fn, "name"),
                        "arguments": _arguments(get(fn, "arguments")),
                    }
                )
        messages.append({"role": "assistant", "parts": parts, "finish_reason": str(reason)})
    if reasons:
        call.set_response(finish_reasons=reasons)
    call._record_output(messages)
    _usage(call, get(result, "usage"))


def _response_finish_reason(result: Any, has_tool_call: bool) -> str:
    status = get(result, "status")
    if status == "incomplete":
        reason = get(get(result, "incomplete_details"), "reason")
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    if status == "failed":
        return "error"
    return "tool_calls" if has_tool_call else "stop"


def _finish_response(call: LlmCall, result: Any) -> None:
    _response_meta(call, result)
    parts: list[dict[str, Any]] = []
    has_tool_call = False
    for item in get(result, "output") or ():
        kind = get(item, "type")
        if kind == "message":
            parts.extend(_content_parts(get(item, "content")))
        elif kind in ("function_call", "custom_tool_call"):
            has_tool_call = True
            parts.append(
                {
                    "type": "tool_call",
                    "id": get(item, "call_id"),
                    "name": get(item, "name"),
                    "arguments": _arguments(get(item, "arguments", get(item, "input"))),
                }
            )
        elif kind == "reasoning":
            text = "\n".join(str(get(s, "text") or "") for s in get(item, "summary") or ())
            parts.append({"type": "reasoning", "content": text})
        elif kind:
            parts.append(
                {
                    "type": "server_tool_call",
                    "id": get(item, "id"),
                    "name": str(kind),
                    "server_tool_call": {"type": str(kind)},
                }
            )
    reason = _response_finish_reason(result, has_tool_call)
    call.set_response(finish_reasons=[reason])
    call._record_output([{"role": "assistant", "parts": parts, "finish_reason": reason}])
    _usage(call, get(result, "usage"))
    error = get(result, "error")
    if get(result, "status") == "failed" and error is not None:
        call.fail(str(get(error, "message") or "response failed"), str(get(error, "code") or "_OTHER"))


def _finish_embeddings(call: LlmCall, result: Any) -> None:
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
            _finish_response(call, self.final)
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
