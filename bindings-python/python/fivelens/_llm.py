"""Model-call spans: ``fivelens.llm_call(...)`` for any provider, and the building block of the
OpenAI and Anthropic integrations.

A model call is one CLIENT span named ``{operation} {model}`` with the GenAI attributes. This
module only gathers what the caller sees; the processing thread does the rest off the caller's
thread: token estimates when the provider reported no usage, the prompt hash, cost, content
truncation (and dropping, when capture is off), metrics and roll-ups.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

from . import _native
from . import semconv as sc

__all__ = ["LlmCall", "in_model_call", "llm_call", "to_json"]

# Set while a model-call span is current: an HTTP request made then is the model call itself
# (the HTTP client integrations send it no ``fivelens-context`` and make no HTTP span: see
# ``fivelens._http``).
_IN_MODEL_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar("fivelens_in_model_call", default=False)


def in_model_call() -> bool:
    """Whether a model-call span is the current span."""
    return _IN_MODEL_CALL.get()


# ``gen_ai.request.*`` parameters ``llm_call`` accepts by short name, with the expected types.
_REQUEST_PARAMS: dict[str, tuple[str, tuple[type, ...]]] = {
    "max_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, (int,)),
    "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, (int, float)),
    "top_p": (sc.GEN_AI_REQUEST_TOP_P, (int, float)),
    "top_k": (sc.GEN_AI_REQUEST_TOP_K, (int,)),
    "stop_sequences": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, (list, tuple, str)),
    "frequency_penalty": (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, (int, float)),
    "presence_penalty": (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, (int, float)),
    "seed": (sc.GEN_AI_REQUEST_SEED, (int,)),
    "choice_count": (sc.GEN_AI_REQUEST_CHOICE_COUNT, (int,)),
    "reasoning_level": (sc.GEN_AI_REQUEST_REASONING_LEVEL, (str,)),
    "output_type": (sc.GEN_AI_OUTPUT_TYPE, (str,)),
    "conversation_id": (sc.GEN_AI_CONVERSATION_ID, (str,)),
    "encoding_formats": (sc.GEN_AI_REQUEST_ENCODING_FORMATS, (list, tuple, str)),
}


def _fallback(obj: Any) -> Any:
    """JSON for values ``json`` cannot encode: pydantic models, dataclasses, bytes, the rest by
    their string form."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            pass
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return f"<{len(obj)} bytes>"
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields is not None:
        return {name: getattr(obj, name, None) for name in fields}
    return str(obj)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_fallback, check_circular=True)


def to_json(value: Any) -> str:
    """Compact JSON (non-ASCII kept) of anything; values JSON cannot encode become strings."""
    try:
        return _ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError):
        return json.dumps(str(value), ensure_ascii=False)


def _text_of_parts(parts: Iterable[Any]) -> str:
    return "\n".join(
        p["content"]
        for p in parts
        if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("content"), str)
    )


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _generic_parts(content: Any) -> list[dict[str, Any]]:
    """Parts of a message given as a string, a list of strings / ``{"type": "text", "text"}``
    items, or parts already in the conventions' shape."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    if isinstance(content, Mapping):
        content = [content]
    parts: list[dict[str, Any]] = []
    if isinstance(content, Iterable):
        for item in content:
            if isinstance(item, str):
                parts.append(text_part(item))
            elif isinstance(item, Mapping):
                kind = item.get("type")
                if kind == "text" and "content" not in item and isinstance(item.get("text"), str):
                    parts.append(text_part(item["text"]))
                else:
                    parts.append(dict(item))
            else:
                parts.append(text_part(str(item)))
        return parts
    return [text_part(str(content))]


def normalize_messages(messages: Any, default_role: str = "user") -> list[dict[str, Any]]:
    """Messages in the conventions' shape (``{"role", "parts": [...]}``) from that shape or the
    common ``{"role", "content"}`` one; a bare string is one message of ``default_role``."""
    if messages is None:
        return []
    if isinstance(messages, str):
        return [{"role": default_role, "parts": [text_part(messages)]}]
    if isinstance(messages, Mapping):
        messages = [messages]
    out: list[dict[str, Any]] = []
    for m in messages:
        if not isinstance(m, Mapping):
            out.append({"role": default_role, "parts": _generic_parts(m)})
            continue
        msg: dict[str, Any] = {"role": str(m.get("role") or default_role)}
        if "parts" in m:
            msg["parts"] = _generic_parts(m["parts"])
        else:
            msg["parts"] = _generic_parts(m.get("content"))
        if m.get("name"):
            msg["name"] = m["name"]
        if m.get("finish_reason"):
            msg["finish_reason"] = m["finish_reason"]
        out.append(msg)
    return out


def messages_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of messages in the conventions' shape (for token estimates)."""
    return "\n".join(_text_of_parts(m.get("parts") or ()) for m in messages)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


# Set by a framework integration (LangChain): called when an SDK model call starts without an
# explicit parent; returns attributes of the framework's model run the call takes the place of
# (and marks that run covered, so the framework makes no span of its own), or None.
_adopt: Callable[[], dict[str, Any] | None] | None = None


def set_adopter(adopt: Callable[[], dict[str, Any] | None] | None) -> None:
    global _adopt
    _adopt = adopt


class LlmCall:
    """One model call in progress: the span and what is known about the call so far.

    Returned by ``fivelens.llm_call(...)``; the OpenAI and Anthropic integrations use it too.
    Every method is safe to call in any order and more than once (the last value wins); none
    raises for odd values, and nothing is recorded once the call has ended.
    """

    __slots__ = (
        "_attrs",
        "_body",
        "_call_token",
        "_capture",
        "_chunks",
        "_ended",
        "_failed",
        "_first_chunk",
        "_input_messages",
        "_input_set",
        "_last_ns",
        "_output_set",
        "_output_text",
        "_system_text",
        "_t0",
        "_token",
        "span",
    )

    def __init__(
        self,
        operation: str,
        provider: str,
        model: str | None,
        attributes: dict[str, Any],
        instrumentation: str,
        parent: Any = None,
        start_time: int | None = None,
    ) -> None:
        attributes[sc.GEN_AI_OPERATION_NAME] = operation
        attributes[sc.GEN_AI_PROVIDER_NAME] = provider
        if model:
            attributes[sc.GEN_AI_REQUEST_MODEL] = model
        if parent is None and _adopt is not None:
            # A framework's model run (a LangChain chat-model run) open around this SDK call:
            # this span takes the run's place and carries its metadata.
            try:
                extra = _adopt()
                if extra:
                    attributes.update(extra)
            except Exception as e:
                _native.report_internal_error("python", f"adopting a framework model run failed: {e!r}")
        name = f"{operation} {model}" if model else operation
        self.span: Any = _native.start_span(
            name,
            kind="client",
            parent=parent,
            attributes=attributes,
            start_time=start_time,
            _instrumentation=instrumentation,
        )
        # Attributes gathered during the call, handed to the span in one native call at the end
        # (each native call costs about a microsecond on the caller's cold path).
        self._attrs: dict[str, Any] = {}
        self._body: Any = None
        self._token: Any = None
        self._call_token: contextvars.Token[bool] | None = None
        self._t0 = time.monotonic_ns()
        self._first_chunk = 0
        self._last_ns = 0
        self._ended = False
        self._input_set = False
        self._failed = False
        self._output_set = False
        self._input_messages: list[dict[str, Any]] | None = None
        self._system_text: str | None = None
        self._output_text: str | None = None
        self._chunks: list[str] = []
        self._capture = _native._capture_content()

    # ---- as a context manager ----------------------------------------------------------------

    def __enter__(self) -> LlmCall:
        self._activate()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        self._deactivate()
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.fail(exc)
        self.end()
        return False

    def _activate(self) -> None:
        try:
            self._token = self.span._activate()
            self._call_token = _IN_MODEL_CALL.set(True)
        except Exception as e:  # pragma: no cover - defensive
            _native.report_internal_error("python", f"activating a model-call span failed: {e!r}")

    def _deactivate(self) -> None:
        token, self._token = self._token, None
        call_token, self._call_token = self._call_token, None
        if token is not None:
            try:
                if call_token is not None:
                    _IN_MODEL_CALL.reset(call_token)
                self.span._deactivate(token)
            except Exception as e:  # a token from another context: the span still ends
                _native.report_internal_error("context", f"resetting a model-call span failed: {e!r}")

    # ---- what the caller records ---------------------------------------------------------------

    @property
    def capture_content(self) -> bool:
        """Whether content is captured (``capture_content`` and
        ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``)."""
        return self._capture

    def set_attribute(self, key: str, value: Any) -> None:
        """Any other attribute on the span."""
        self._attrs[key] = value

    def set_input(self, messages: Any = None, *, system: Any = None, tools: Any = None) -> None:
        """The input: ``messages`` (the conventions' ``{"role", "parts"}`` shape, or the common
        ``{"role", "content"}`` one, or a string), the separate system instructions (a string or
        parts) and the tool definitions (``{"type": "function", "name", ...}``)."""
        normalized = normalize_messages(messages)
        system_parts = _generic_parts(system) if system is not None else None
        if system_parts is not None:
            system_text: str | None = _text_of_parts(system_parts)
        else:
            system_text = (
                "\n".join(_text_of_parts(m["parts"]) for m in normalized if m.get("role") in ("system", "developer"))
                or None
            )
        self._record_input(normalized, system_parts, tools, system_text)

    def _record_input(
        self,
        messages: list[dict[str, Any]],
        system_parts: list[dict[str, Any]] | None,
        tools: Any,
        system_text: str | None,
    ) -> None:
        """The input, already in the conventions' shape (integrations convert it themselves)."""
        self._input_messages = messages
        self._system_text = system_text
        if system_text:
            # Private: hashed into ``fivelens.prompt.hash`` and removed by the processing thread.
            self._attrs[sc.PRIVATE_SYSTEM_PROMPT] = system_text
        attrs = self._attrs
        # With capture off the input still goes to the processing thread, under private keys, for
        # the context-window sections: counted there, then dropped; never exported.
        keys = (
            (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_TOOL_DEFINITIONS)
            if self._capture
            else (sc.PRIVATE_INPUT_MESSAGES, sc.PRIVATE_SYSTEM_INSTRUCTIONS, sc.PRIVATE_TOOL_DEFINITIONS)
        )
        if messages:
            attrs[keys[0]] = to_json(messages)
        if system_parts:
            attrs[keys[1]] = to_json(system_parts)
        if tools:
            attrs[keys[2]] = to_json(tools)

    def _payload(self, format: str, body: Any) -> None:
        """For integrations: the request body, mapped to attributes (parameters, content, system
        prompt) by the core's processing thread from the provider's JSON. The JSON the SDK sent
        is used when the integration captures it (``_raw_request``); else ``body`` is serialised
        when the call ends."""
        self._attrs[sc.PRIVATE_FORMAT] = format
        self._body = body

    def _raw_request(self, text: str) -> None:
        """For integrations: the request body as the SDK sent it."""
        self._attrs[sc.PRIVATE_REQUEST] = text

    def _response_payload(self, response_json: str | None) -> None:
        """For integrations: the response body, the provider's JSON (id, model, finish reasons,
        usage, output), mapped by the core. Attributes set here win over it."""
        if response_json:
            self._attrs[sc.PRIVATE_RESPONSE] = response_json

    @property
    def _has_response_payload(self) -> bool:
        return sc.PRIVATE_RESPONSE in self._attrs

    def chunk(self, text: str | None = None) -> None:
        """A streamed chunk arrived (with its text, if any): the first one sets
        ``gen_ai.response.time_to_first_chunk``."""
        if self._ended:
            return
        if not self._first_chunk:
            self._first_chunk = time.monotonic_ns()
            self._attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (self._first_chunk - self._t0) / 1e9
        self._last_ns = time.time_ns()
        if text:
            self._chunks.append(text)

    def set_output(self, output: Any = None, *, finish_reasons: Any = None) -> None:
        """The output: a string (one assistant message), or messages (one per choice). Without
        it, the text of the streamed chunks is used."""
        reasons = _as_list(finish_reasons)
        messages = normalize_messages(output, default_role="assistant")
        if reasons:
            self._attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
            for m, r in zip(messages, reasons, strict=False):
                m.setdefault("finish_reason", r)
        self._record_output(messages)

    def _record_output(self, messages: list[dict[str, Any]]) -> None:
        if messages:
            self._output_text = messages_text(messages)
        if messages and self._capture:
            self._attrs[sc.GEN_AI_OUTPUT_MESSAGES] = to_json(messages)

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        *,
        cache_read_input_tokens: int | None = None,
        cache_write_input_tokens: int | None = None,
        reasoning_output_tokens: int | None = None,
    ) -> None:
        """Token usage as the provider reported it. ``input_tokens`` includes cached tokens and
        ``output_tokens`` reasoning tokens (the conventions' rule: the others are subsets)."""
        attrs = self._attrs
        for key, value in (
            (sc.GEN_AI_USAGE_INPUT_TOKENS, input_tokens),
            (sc.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens),
            (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cache_read_input_tokens),
            (sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, cache_write_input_tokens),
            (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, reasoning_output_tokens),
        ):
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                attrs[key] = value
                if key == sc.GEN_AI_USAGE_INPUT_TOKENS:
                    self._input_set = True
                elif key == sc.GEN_AI_USAGE_OUTPUT_TOKENS:
                    self._output_set = True

    def set_response(self, id: str | None = None, model: str | None = None, finish_reasons: Any = None) -> None:
        """The response id, the model that answered, and the finish reason of each choice."""
        attrs = self._attrs
        if id:
            attrs[sc.GEN_AI_RESPONSE_ID] = str(id)
        if model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = str(model)
        if finish_reasons is not None:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = _as_list(finish_reasons)

    def fail(self, error: BaseException | str, error_type: str | None = None) -> None:
        """Marks the call failed: status ERROR, ``error.type`` (the exception's class name unless
        given) and an ``exception`` event."""
        self._failed = True
        if error_type:
            self._attrs[sc.ERROR_TYPE] = error_type
        if isinstance(error, BaseException):
            self.span.record_exception(error)
        else:
            self.span.set_status("error", str(error))
            if not error_type:
                self._attrs.setdefault(sc.ERROR_TYPE, "_OTHER")

    def end(self, end_time: int | None = None) -> None:
        """Ends the call (only the first call counts). Without usage from the provider, the
        processing thread estimates it from the input and output text and marks it estimated."""
        if self._ended:
            return
        self._ended = True
        self._deactivate()
        try:
            attrs = self._attrs
            if self._body is not None and sc.PRIVATE_REQUEST not in attrs:
                attrs[sc.PRIVATE_REQUEST] = to_json(self._body)
            # Streamed text is the output unless a final response body was handed over (the
            # core maps that one, tool calls and finish reasons included).
            if self._output_text is None and self._chunks and sc.PRIVATE_RESPONSE not in attrs:
                text = "".join(self._chunks)
                self._output_text = text
                if self._capture:
                    attrs[sc.GEN_AI_OUTPUT_MESSAGES] = to_json([{"role": "assistant", "parts": [text_part(text)]}])
            # What the provider did not report is estimated by the processing thread from the
            # text (private attributes: they never leave the process). A call that failed before
            # any output is not estimated: it is usually not billed, and a guess would cost it.
            estimate = not self._failed or bool(self._output_text)
            if estimate and not self._input_set and self._input_messages:
                text = messages_text(self._input_messages)
                if self._system_text and not any(
                    m.get("role") in ("system", "developer") for m in self._input_messages
                ):
                    text = self._system_text + "\n" + text
                attrs[sc.PRIVATE_INPUT_TEXT] = text
            if estimate and not self._output_set and self._output_text:
                attrs[sc.PRIVATE_OUTPUT_TEXT] = self._output_text
            self.span._end_with(attrs, end_time)
        except Exception as e:  # never into the host
            _native.report_internal_error("python", f"ending a model-call span failed: {e!r}")

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def last_activity_ns(self) -> int:
        """Wall-clock time of the last streamed chunk (0 before any)."""
        return self._last_ns


def start_call(
    operation: str,
    provider: str,
    model: str | None,
    attributes: dict[str, Any],
    instrumentation: str,
) -> LlmCall:
    """For integrations: a call whose attributes are already keyed by their full names."""
    return LlmCall(operation, provider, model, attributes, instrumentation)


def llm_call(
    provider: str,
    model: str | None = None,
    *,
    operation: str = "chat",
    server_address: str | None = None,
    server_port: int | None = None,
    stream: bool = False,
    parent: Any = None,
    attributes: Mapping[str, Any] | None = None,
    **request: Any,
) -> LlmCall:
    """Records a model call made through an SDK fivelens does not wrap (Gemini, Bedrock, a local
    vLLM or Ollama server...): the same span, usage, cost and metrics as a wrapped one.

    ``provider`` is the ``gen_ai.provider.name`` value (``gcp.gemini``, ``aws.bedrock``,
    ``ollama``...); request parameters are given by short name: ``max_tokens``,
    ``temperature``, ``top_p``, ``top_k``, ``stop_sequences``, ``frequency_penalty``,
    ``presence_penalty``, ``seed``, ``choice_count``, ``reasoning_level``, ``output_type``,
    ``conversation_id``, ``encoding_formats``. Use it as a context manager::

        with fivelens.llm_call("ollama", "llama3.1", server_address="localhost") as call:
            call.set_input([{"role": "user", "content": question}])
            reply = ollama_chat(question)
            call.set_output(reply.text, finish_reasons=["stop"])
            call.set_usage(reply.prompt_eval_count, reply.eval_count)

    An exception leaving the block marks the call failed and propagates unchanged. When a loop
    or budget guard's limit is reached (``max_agent_iterations``, ``trace_*_budget``,
    ``session_*_budget``), ``llm_call`` raises ``fivelens.BudgetExceeded`` /
    ``fivelens.IterationLimitExceeded`` instead: make no call.
    """
    if not isinstance(provider, str) or not provider:
        raise TypeError("provider: expected a non-empty string, e.g. 'gcp.gemini'")
    if model is not None and not isinstance(model, str):
        raise TypeError(f"model: expected a string, got {type(model).__name__}")
    if not isinstance(operation, str) or not operation:
        raise TypeError("operation: expected a non-empty string, e.g. 'chat'")
    attrs: dict[str, Any] = dict(attributes) if attributes else {}
    for name, value in request.items():
        spec = _REQUEST_PARAMS.get(name)
        if spec is None:
            known = ", ".join(sorted(_REQUEST_PARAMS))
            raise TypeError(
                f"llm_call() got an unknown request parameter {name!r} (known: {known}; use attributes= for others)"
            )
        if value is None:
            continue
        key, types = spec
        if not isinstance(value, types) or isinstance(value, bool):
            raise TypeError(f"{name}: expected {' or '.join(t.__name__ for t in types)}, got {type(value).__name__}")
        if key in (sc.GEN_AI_REQUEST_STOP_SEQUENCES, sc.GEN_AI_REQUEST_ENCODING_FORMATS):
            value = _as_list(value)
        attrs[key] = value
    if server_address:
        attrs[sc.SERVER_ADDRESS] = server_address
        if server_port:
            attrs[sc.SERVER_PORT] = int(server_port)
    if stream:
        attrs[sc.GEN_AI_REQUEST_STREAM] = True
    from ._tools import check_guards

    check_guards()  # a loop or budget guard refuses the call before it is made
    return LlmCall(operation, provider, model, attrs, "fivelens", parent)
