"""Integrations that ``fivelens.instrument()`` enables when their framework is importable.

Each module exposes ``instrument()`` (returning ``None`` when enabled, or a string saying why it
skipped itself, e.g. an unsupported version) and ``uninstrument()``. Integrations of libraries
that are slow to import patch them when the app imports them (``fivelens._hooks``), not before.
A failure inside one is counted and reported, never raised into the app.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Integration:
    name: str
    """The name users pass in ``instrument(integrations=[...])``."""
    module: str
    """The module with ``instrument()`` / ``uninstrument()``."""
    requires: tuple[str, ...]
    """Importable modules the framework needs; missing ones mean "skipped"."""
    switch: str | None = None
    """A boolean option that turns the integration off (skipped quietly, not warned about)."""


REGISTRY: tuple[Integration, ...] = (
    Integration("threads", "fivelens.integrations.threads", ("threading", "concurrent.futures")),
    Integration("opentelemetry", "fivelens._otel", ("opentelemetry.trace",)),
    # The app's own logs (fivelens._logs): correlated with the current span, exported as OTLP logs.
    Integration("logging", "fivelens.integrations.logging", ("logging",), switch="capture_logs"),
    Integration("structlog", "fivelens.integrations.structlog", ("structlog",), switch="capture_logs"),
    Integration("openai", "fivelens.integrations.openai", ("openai",)),
    Integration("anthropic", "fivelens.integrations.anthropic", ("anthropic",)),
    Integration("langchain", "fivelens.integrations.langchain", ("langchain_core",)),
    Integration("autogen", "fivelens.integrations.autogen", ("autogen_core",)),
    Integration("ag2", "fivelens.integrations.ag2", ("ag2",)),
    Integration("crewai", "fivelens.integrations.crewai", ("crewai",)),
    Integration("mcp", "fivelens.integrations.mcp", ("mcp",)),
    # HTTP hops (fivelens._http): trace context on outgoing requests, SERVER spans for incoming.
    Integration("httpx", "fivelens.integrations.httpx", ("httpx",)),
    Integration("httpx2", "fivelens.integrations.httpx2", ("httpx2",)),
    Integration("requests", "fivelens.integrations.requests", ("requests",)),
    Integration("aiohttp", "fivelens.integrations.aiohttp", ("aiohttp",)),
    Integration("starlette", "fivelens.integrations.starlette", ("starlette",)),
    Integration("flask", "fivelens.integrations.flask", ("flask",)),
)
