"""The MCP SDK, 1.x line (the one CrewAI pins; run in the openai2 virtualenv), under
``instrument()``: the real SDK, a real stdio server process (``FastMCP``) and the in-memory
transport, asserted on what the OTLP receiver got."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import fivelens
from conftest import Receiver

if not importlib.metadata.version("mcp").startswith("1."):
    pytest.skip(
        "the mcp 1.x line is tested in the openai2 virtualenv (make test-python-openai2)", allow_module_level=True
    )

import mcp.client.stdio
from mcp import ClientSession, StdioServerParameters
from mcp.server.fastmcp import Context, FastMCP
from mcp.shared.memory import create_connected_server_and_client_session

SERVER = str(Path(__file__).parent / "mcp_servers" / "weather.py")
CLIENT, SERVER_KIND, INTERNAL, ERROR = 3, 2, 1, 2


def params(receiver: Receiver, home: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FIVELENS_"))}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, FIVELENS_HOME=str(home / "server"))
    return StdioServerParameters(command=sys.executable, args=[SERVER, "stdio"], env=env)


def one(spans: list[dict[str, Any]], name: str, kind: int) -> dict[str, Any]:
    found = [s for s in spans if s["name"] == name and s["kind"] == kind]
    assert len(found) == 1, [(s["name"], s["kind"]) for s in spans]
    return found[0]


def wait_for(receiver: Receiver, names: list[tuple[str, int]], timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        spans = receiver.spans()
        got = {(s["name"], s["kind"]) for s in spans}
        if all(n in got for n in names) or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def test_stdio_one_trace_errors_meta_and_notifications(receiver: Receiver, tmp_path: Path) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent")
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def main() -> tuple[Any, Any, Any]:
        with fivelens.span("agent turn"):
            # Looked up now (after instrument()), as an app importing the module would.
            async with mcp.client.stdio.stdio_client(params(receiver, tmp_path)) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    ok = await session.call_tool("get_weather", {"city": "Paris"}, progress_callback=on_progress)
                    broken = await session.call_tool("broken", {"city": "Atlantis"})
                    meta = await session.call_tool("show_meta", {}, meta={"com.example/tenant": "acme"})
                    return ok, broken, meta

    ok, broken, meta = asyncio.run(main())
    assert ok.isError is False and broken.isError is True and progress == [1.0]
    assert fivelens.flush(10.0)
    spans = wait_for(
        receiver,
        [("lookup forecast", INTERNAL), ("tools/call broken", SERVER_KIND), ("tools/call show_meta", SERVER_KIND)],
    )
    root = one(spans, "agent turn", INTERNAL)
    client_span = one(spans, "tools/call get_weather", CLIENT)
    server_span = one(spans, "tools/call get_weather", SERVER_KIND)
    lookup = one(spans, "lookup forecast", INTERNAL)
    assert client_span["resource"]["service.name"] == "mcp-agent"
    assert server_span["resource"]["service.name"] == "mcp-weather-server"
    assert client_span["parent_span_id"] == root["span_id"]
    assert server_span["parent_span_id"] == client_span["span_id"]
    assert lookup["parent_span_id"] == server_span["span_id"]
    assert {s["trace_id"] for s in (root, client_span, server_span, lookup)} == {root["trace_id"]}

    ca, sa = client_span["attributes"], server_span["attributes"]
    for a in (ca, sa):
        assert a["mcp.method.name"] == "tools/call"
        assert a["gen_ai.tool.name"] == "get_weather"
        assert a["gen_ai.operation.name"] == "execute_tool"
        assert a["network.transport"] == "pipe"
    assert ca["jsonrpc.request.id"] == sa["jsonrpc.request.id"]
    assert ca["mcp.server.name"] == "weather"
    assert ca["mcp.protocol.version"] == sa["mcp.protocol.version"]
    assert "notifications/progress" in [e["attributes"]["mcp.method.name"] for e in server_span["events"]]
    assert "notifications/progress" in [e["attributes"]["mcp.method.name"] for e in client_span["events"]]

    for kind in (CLIENT, SERVER_KIND):
        failed = one(spans, "tools/call broken", kind)
        assert failed["status_code"] == ERROR and failed["attributes"]["error.type"] == "tool_error"

    seen = json.loads(meta.content[0].text)
    meta_client = one(spans, "tools/call show_meta", CLIENT)
    assert seen["meta"]["com.example/tenant"] == "acme"
    assert seen["meta"]["traceparent"] == f"00-{meta_client['trace_id']}-{meta_client['span_id']}-01"
    assert seen["trace_id"] == meta_client["trace_id"]


def test_in_memory(receiver: Receiver) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent")
    app = FastMCP("inproc")

    @app.tool()
    async def get_weather(city: str, ctx: Context) -> str:  # type: ignore[type-arg]
        with fivelens.span("lookup forecast"):
            await ctx.info("looking")
        return f"sunny in {city}"

    async def main() -> Any:
        with fivelens.span("agent turn"):
            async with create_connected_server_and_client_session(app._mcp_server) as session:
                return await session.call_tool("get_weather", {"city": "Kyiv"})

    assert asyncio.run(main()).isError is False
    assert fivelens.flush(10.0)
    spans = wait_for(receiver, [("lookup forecast", INTERNAL)])
    root = one(spans, "agent turn", INTERNAL)
    client_span = one(spans, "tools/call get_weather", CLIENT)
    server_span = one(spans, "tools/call get_weather", SERVER_KIND)
    assert client_span["parent_span_id"] == root["span_id"]
    assert server_span["parent_span_id"] == client_span["span_id"]
    assert one(spans, "lookup forecast", INTERNAL)["parent_span_id"] == server_span["span_id"]
    assert "network.transport" not in client_span["attributes"]
    # The log message went out while the request was handled, and arrived while it was in flight.
    assert "notifications/message" in [e["attributes"]["mcp.method.name"] for e in server_span["events"]]
    assert "notifications/message" in [e["attributes"]["mcp.method.name"] for e in client_span["events"]]


def test_malformed_traceparent_starts_a_new_trace(receiver: Receiver, tmp_path: Path) -> None:
    # The client is not instrumented: its (malformed) traceparent reaches the server as is.
    async def main() -> Any:
        async with mcp.client.stdio.stdio_client(params(receiver, tmp_path)) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool("show_meta", {}, meta={"traceparent": "00-garbage-01"})

    result = asyncio.run(main())
    assert result.isError is False
    spans = wait_for(receiver, [("tools/call show_meta", SERVER_KIND)])
    span = one(spans, "tools/call show_meta", SERVER_KIND)
    assert span["parent_span_id"] == "" and span["status_code"] != ERROR
    assert json.loads(result.content[0].text)["trace_id"] == span["trace_id"]


def test_is_error_counts_as_an_error_and_the_breaker_rejects_with_an_is_error_result() -> None:
    fivelens.instrument(
        testing=True, store="off", tool_breaker="enforce", tool_breaker_min_calls=2, tool_breaker_error_rate=0.5
    )
    app = FastMCP("quotes")
    sent: list[str] = []

    @app.tool()
    def quote(symbol: str) -> str:
        """A quote service that is down."""
        sent.append(symbol)
        raise ValueError("no quote")  # FastMCP answers isError: true

    async def main() -> list[Any]:
        async with create_connected_server_and_client_session(app._mcp_server) as session:
            return [await session.call_tool("quote", {"symbol": "ACME"}) for _ in range(3)]

    results = asyncio.run(main())
    assert sent == ["ACME", "ACME"]
    assert [r.isError for r in results] == [True, True, True]
    assert results[2].content[0].text.startswith("tool quote unavailable, degraded mode")
    assert fivelens.flush(10.0)
    calls = sorted(
        (s for s in fivelens._native.finished_spans() if s["name"] == "tools/call quote" and s["kind"] == "client"),
        key=lambda s: s["start_time"],
    )
    assert [s["attributes"].get("fivelens.tool.error.category") for s in calls[:2]] == ["tool_error", "tool_error"]
    assert calls[2]["attributes"]["fivelens.tool.breaker.rejected"] is True
