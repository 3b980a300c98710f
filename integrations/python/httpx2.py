"""``httpx2`` clients (the OpenAI 3.x and Anthropic SDKs send through them): the same as
``fivelens.integrations.httpx``. Model-provider requests carry the model-call span's
``traceparent`` and no ``fivelens-context``, and get no HTTP span of their own."""

from __future__ import annotations

from fivelens import _hooks

from . import httpx as _httpx


def instrument() -> None:
    _hooks.when_imported("httpx2", _httpx.patch)


def uninstrument() -> None:
    _hooks.cancel("httpx2")
    _httpx.unpatch("httpx2")
