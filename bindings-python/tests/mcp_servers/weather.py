"""An MCP server for the MCP tests, on either SDK line (``MCPServer`` in 2.x, ``FastMCP`` in 1.x),
instrumented by fivelens from the environment (``OTEL_EXPORTER_OTLP_ENDPOINT``).

    python weather.py stdio
    python weather.py http PORT      (Streamable HTTP on 127.0.0.1)
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import fivelens

if os.environ.get("WEATHER_OTEL_SDK"):
    # The app's own OpenTelemetry SDK: the spans it gets are written to that file at exit.
    import atexit

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    def _write(path: str = os.environ["WEATHER_OTEL_SDK"]) -> None:
        spans = exporter.get_finished_spans()
        got = [[s.name, s.instrumentation_scope.name if s.instrumentation_scope else ""] for s in spans]
        with open(path, "w") as f:
            json.dump(got, f)

    atexit.register(_write)

if not os.environ.get("WEATHER_NO_FIVELENS"):
    fivelens.instrument(service_name="mcp-weather-server")

try:
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver import MCPServer as App
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context
    from mcp.server.fastmcp import FastMCP as App

app: Any = App("weather")


@app.tool()
async def get_weather(city: str, ctx: Context) -> str:  # type: ignore[type-arg]
    """The weather in a city."""
    with fivelens.span("lookup forecast", city=city):
        await ctx.report_progress(1, 2)
        await ctx.info(f"looking up {city}")
    return f"sunny in {city}"


@app.tool()
async def broken(city: str) -> str:
    """Always fails."""
    raise ValueError(f"no station near {city}")


@app.tool()
async def show_meta(ctx: Context) -> str:  # type: ignore[type-arg]
    """The request's ``_meta`` as the server received it, and the current span's trace."""
    meta: Any = ctx.request_context.meta
    if meta is not None and not isinstance(meta, dict):
        meta = meta.model_dump(by_alias=True, exclude_none=True)
    span = fivelens.current_span()
    return json.dumps({"meta": meta or {}, "trace_id": span.trace_id if span is not None else None})


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        app.run()
    else:
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
