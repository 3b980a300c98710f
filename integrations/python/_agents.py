"""What the agent-framework integrations (``langchain``, ``autogen``, ``ag2``, ``crewai``) share:
the reasoning journal, tool retry bookkeeping, and whether a provider SDK is instrumented."""

from __future__ import annotations

import sys
import time
from typing import Any

from fivelens import _native
from fivelens import semconv as sc


def error_type(error: BaseException) -> str:
    """``error.type`` of an exception: its class name."""
    return type(error).__qualname__


def journal(span: Any, kind: str, content: str | None, tool: str | None = None, when: int | None = None) -> None:
    """One entry of the agent's reasoning journal (a ``fivelens.agent.step`` event on ``span``):
    ``kind`` is plan, thought, action, observation or final. The content is a content attribute:
    not even built when capture is off (the core would drop it), bounded and redacted otherwise."""
    if span is None:
        return
    attrs: dict[str, Any] = {sc.FIVELENS_STEP_KIND: kind}
    if tool:
        attrs[sc.GEN_AI_TOOL_NAME] = tool
    if content and _native._capture_content():
        attrs[sc.FIVELENS_STEP_CONTENT] = content
    span.add_event(sc.FIVELENS_EVENT_AGENT_STEP, attrs, when if when is not None else time.time_ns())


class ToolAttempts:
    """The tools called in one agent run and how their last call ended: a call of a tool after it
    failed is a retry (by the model, or the framework), with an attempt number and the reason."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, str | None]] = {}

    def begin(self, name: str) -> tuple[int, str] | None:
        """A call of ``name`` starts: ``(attempt, reason)`` when it retries a failed call."""
        attempt, last_error = self._last.get(name, (0, None))
        if last_error is not None:
            self._last[name] = (attempt + 1, last_error)
            return attempt + 1, last_error
        self._last[name] = (1, None)
        return None

    def retry_attributes(self, name: str, source: str = "model") -> dict[str, Any]:
        """:meth:`begin`, as the span attributes of a retry (none for a first call); ``source``
        is who made the call again (``model``, or ``framework``)."""
        retry = self.begin(name)
        if retry is None:
            return {}
        return {
            sc.FIVELENS_RETRY_ATTEMPT: retry[0],
            sc.FIVELENS_RETRY_REASON: retry[1],
            sc.FIVELENS_RETRY_SOURCE: source,
        }

    def finish(self, name: str, error: str | None) -> int:
        """The call of ``name`` ended (``error``: its error type, or None); returns its attempt."""
        attempt, _ = self._last.get(name, (1, None))
        self._last[name] = (attempt, error)
        return attempt


def sdk_instrumented(package: str) -> bool:
    """Whether fivelens's integration of a Stainless SDK (``openai``, ``anthropic``) is on: then
    the SDK's span is the model call."""
    base = sys.modules.get(f"{package}._base_client")
    request = getattr(getattr(base, "AsyncAPIClient", None), "request", None)
    return bool(getattr(request, "__fivelens__", False))
