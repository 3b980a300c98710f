"""The MCP SDK, 2.x line, under ``instrument()``: the real SDK, real server processes (stdio and
Streamable HTTP on 127.0.0.1) and in-process servers, asserted on what the OTLP receiver got.

Each request is one CLIENT span and one SERVER span in one trace, the server span the child of the
client span across the process boundary, the tool handler's own spans under the server span; the
SDK's own spans (``MCP send ...`` and its server middleware's) are not made alongside.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError

import fivelens
from conftest import Receiver, run_python

SERVER = str(Path(__file__).parent / "mcp_servers" / "weather.py")
MCP_BOUNDS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0]
CLIENT, SERVER_KIND, INTERNAL, ERROR = 3, 2, 1, 2


def server_env(receiver: Receiver, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FIVELENS_"))}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, FIVELENS_HOME=str(home / "server"), **extra)
    return env


def stdio(receiver: Receiver, home: Path, **extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=[SERVER, "stdio"], env=server_env(receiver, home, **extra)
    )


def by_service(spans: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["resource"].get("service.name") == service]


def one(spans: list[dict[str, Any]], name: str, kind: int) -> dict[str, Any]:
    found = [s for s in spans if s["name"] == name and s["kind"] == kind]
    assert len(found) == 1, [(s["name"], s["kind"]) for s in spans]
    return found[0]


def wait_spans(receiver: Receiver, predicate: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        spans = receiver.spans()
        if predicate(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def has(name: str, kind: int) -> Any:
    return lambda spans: any(s["name"] == name and s["kind"] == kind for s in spans)


def events(span: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in span["events"] if e["name"] == name]


# ---- stdio: a real server process --------------------------------------------------------------------


def test_stdio_call_is_one_trace_across_processes(receiver: Receiver, tmp_path: Path) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent")
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def main() -> Any:
        with fivelens.span("agent turn"):
            async with Client(stdio(receiver, tmp_path)) as client:
                return await client.call_tool("get_weather", {"city": "Paris"}, progress_callback=on_progress)

    result = asyncio.run(main())
    assert result.is_error is False and progress == [1.0]
    assert fivelens.flush(10.0)
    spans = wait_spans(receiver, has("lookup forecast", INTERNAL))

    agent = by_service(spans, "mcp-agent")
    server = by_service(spans, "mcp-weather-server")
    client_span = one(agent, "tools/call get_weather", CLIENT)
    server_span = one(server, "tools/call get_weather", SERVER_KIND)
    lookup = one(server, "lookup forecast", INTERNAL)
    root = one(agent, "agent turn", INTERNAL)

    # One trace: agent -> client span -> (other process) server span -> the handler's own span.
    assert {s["trace_id"] for s in (root, client_span, server_span, lookup)} == {root["trace_id"]}
    assert client_span["parent_span_id"] == root["span_id"]
    assert server_span["parent_span_id"] == client_span["span_id"]
    assert lookup["parent_span_id"] == server_span["span_id"]

    ca = client_span["attributes"]
    assert ca["mcp.method.name"] == "tools/call"
    assert ca["gen_ai.tool.name"] == "get_weather"
    assert ca["gen_ai.operation.name"] == "execute_tool"
    assert ca["network.transport"] == "pipe"
    assert ca["mcp.server.name"] == "weather"
    assert ca["mcp.protocol.version"]
    assert ca["jsonrpc.request.id"] == server_span["attributes"]["jsonrpc.request.id"]
    assert json.loads(ca["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert "sunny in Paris" in ca["gen_ai.tool.call.result"]
    assert client_span["status_code"] != ERROR

    sa = server_span["attributes"]
    assert sa["mcp.method.name"] == "tools/call"
    assert sa["gen_ai.tool.name"] == "get_weather"
    assert sa["network.transport"] == "pipe"
    assert sa["mcp.protocol.version"] == ca["mcp.protocol.version"]

    # The handler's progress notification: an event where it was sent and where it arrived.
    assert "notifications/progress" in [
        e["attributes"]["mcp.method.name"] for e in events(server_span, "mcp.notification")
    ]
    assert "notifications/progress" in [
        e["attributes"]["mcp.method.name"] for e in events(client_span, "mcp.notification")
    ]
    progress_event = events(client_span, "mcp.notification")[0]["attributes"]
    assert progress_event["fivelens.mcp.progress"] == 1.0 and progress_event["fivelens.mcp.progress.total"] == 2.0

    # Exactly one span per request and side: none of the SDK's own (``MCP send ...``).
    assert not [s["name"] for s in spans if s["name"].startswith("MCP send")]
    client_spans = [s for s in agent if s["kind"] == CLIENT]
    server_spans = [s for s in server if s["kind"] == SERVER_KIND]
    assert len({s["attributes"]["jsonrpc.request.id"] for s in client_spans}) == len(client_spans)
    assert len(server_spans) == len(client_spans), (
        [s["name"] for s in client_spans],
        [s["name"] for s in server_spans],
    )


def test_tool_error_and_jsonrpc_error(receiver: Receiver, tmp_path: Path) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent")

    async def main() -> tuple[Any, BaseException | None]:
        async with Client(stdio(receiver, tmp_path)) as client:
            result = await client.call_tool("broken", {"city": "Atlantis"})
            failure: BaseException | None = None
            try:
                await client.get_prompt("no-such-prompt")
            except MCPError as e:
                failure = e
            return result, failure

    result, failure = asyncio.run(main())
    assert result.is_error is True
    assert isinstance(failure, MCPError)
    assert fivelens.flush(10.0)
    spans = wait_spans(receiver, has("prompts/get no-such-prompt", SERVER_KIND))

    for kind in (CLIENT, SERVER_KIND):
        broken = one(spans, "tools/call broken", kind)
        assert broken["status_code"] == ERROR
        assert broken["attributes"]["error.type"] == "tool_error"
        prompt = one(spans, "prompts/get no-such-prompt", kind)
        assert prompt["status_code"] == ERROR
        assert prompt["attributes"]["gen_ai.prompt.name"] == "no-such-prompt"
    # The client sees the JSON-RPC error; the server, the exception its handler raised.
    code = str(failure.error.code)
    client_prompt = one(spans, "prompts/get no-such-prompt", CLIENT)["attributes"]
    assert client_prompt["error.type"] == code and client_prompt["rpc.response.status_code"] == code
    assert one(spans, "prompts/get no-such-prompt", SERVER_KIND)["attributes"]["error.type"] == "ValueError"


def test_app_meta_is_kept_and_carries_the_client_span(receiver: Receiver, tmp_path: Path) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent")
    app_meta = {"com.example/tenant": "acme", "baggage": "user=alice"}

    async def main() -> Any:
        async with Client(stdio(receiver, tmp_path)) as client:
            return await client.call_tool("show_meta", {}, meta=dict(app_meta))

    result = asyncio.run(main())
    seen = json.loads(result.content[0].text)
    assert fivelens.flush(10.0)
    spans = wait_spans(receiver, has("tools/call show_meta", SERVER_KIND))
    client_span = one(spans, "tools/call show_meta", CLIENT)
    assert seen["meta"]["com.example/tenant"] == "acme"
    assert seen["meta"]["baggage"] == "user=alice"
    assert seen["meta"]["traceparent"] == f"00-{client_span['trace_id']}-{client_span['span_id']}-01"
    # The handler sees the server span as current: same trace as the client.
    assert seen["trace_id"] == client_span["trace_id"]


def test_malformed_traceparent_starts_a_new_trace_on_the_server(receiver: Receiver, tmp_path: Path) -> None:
    # The client process is not instrumented: the app's own (malformed) traceparent goes as is.
    async def main() -> Any:
        async with Client(stdio(receiver, tmp_path)) as client:
            bad = await client.call_tool("show_meta", {}, meta={"traceparent": "00-not-a-trace-01"})
            missing = await client.call_tool("get_weather", {"city": "Oslo"})
            return bad, missing

    bad, missing = asyncio.run(main())
    assert bad.is_error is False and missing.is_error is False
    assert json.loads(bad.content[0].text)["meta"]["traceparent"] == "00-not-a-trace-01"
    spans = wait_spans(receiver, has("tools/call get_weather", SERVER_KIND))
    assert not [s for s in spans if s["kind"] == CLIENT]
    for name in ("tools/call show_meta", "tools/call get_weather"):
        span = one(spans, name, SERVER_KIND)
        assert span["parent_span_id"] == ""
        assert span["status_code"] != ERROR
    assert (
        one(spans, "tools/call show_meta", SERVER_KIND)["trace_id"]
        != one(spans, "tools/call get_weather", SERVER_KIND)["trace_id"]
    )


def test_metrics(receiver: Receiver, tmp_path: Path) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent", metric_export_interval_ms=60_000)

    async def main() -> None:
        async with Client(stdio(receiver, tmp_path)) as client:
            await client.call_tool("get_weather", {"city": "Paris"})
            await client.call_tool("get_weather", {"city": "Rome"})
            await client.call_tool("broken", {"city": "Atlantis"})

    asyncio.run(main())
    assert fivelens.flush(10.0)
    with urllib.request.urlopen(receiver.endpoint + "/metrics", timeout=10) as resp:
        points = [p for p in json.loads(resp.read()) if p["resource"].get("service.name") == "mcp-agent"]
    last = max(p["time_unix_nano"] for p in points)
    points = [p for p in points if p["time_unix_nano"] == last]

    duration = [p for p in points if p["name"] == "mcp.client.operation.duration"]
    assert duration and all(p["explicit_bounds"] == MCP_BOUNDS and p["unit"] == "s" for p in duration)
    calls = {p["attributes"].get("error.type"): p["count"] for p in duration if p["attributes"].get("gen_ai.tool.name")}
    assert calls == {None: 2, "tool_error": 1}
    for p in duration:
        assert not {"mcp.session.id", "jsonrpc.request.id", "gen_ai.tool.call.arguments"} & set(p["attributes"])
        assert p["attributes"]["network.transport"] == "pipe"

    counted = {
        (
            p["attributes"]["gen_ai.tool.name"],
            p["attributes"]["fivelens.outcome"],
            p["attributes"].get("error.type"),
        ): p["value"]
        for p in points
        if p["name"] == "fivelens.mcp.tool.calls"
    }
    assert counted == {("get_weather", "ok", None): 2, ("broken", "error", "tool_error"): 1}
    assert all(
        p["attributes"]["mcp.server.name"] == "weather" for p in points if p["name"] == "fivelens.mcp.tool.calls"
    )


# ---- the SDK's own tracing, where the app has an OpenTelemetry SDK -------------------------------------


def test_the_sdks_server_middleware_is_replaced(receiver: Receiver, tmp_path: Path) -> None:
    # The server process has the app's own OpenTelemetry SDK; it prints the spans that SDK got.
    # Without fivelens the MCP SDK's middleware makes its span there; with fivelens, only ours.
    async def call(**extra: str) -> None:
        params = stdio(receiver, tmp_path, WEATHER_OTEL_SDK=str(tmp_path / "otel.json"), **extra)
        async with Client(params) as client:
            await client.call_tool("get_weather", {"city": "Paris"})

    asyncio.run(call(WEATHER_NO_FIVELENS="1"))
    plain = json.loads((tmp_path / "otel.json").read_text())
    assert ["tools/call get_weather", "mcp-python-sdk"] in plain

    asyncio.run(call())
    instrumented = json.loads((tmp_path / "otel.json").read_text())
    assert not [s for s in instrumented if s[1] == "mcp-python-sdk"], instrumented
    spans = wait_spans(receiver, has("tools/call get_weather", SERVER_KIND))
    assert len([s for s in spans if s["name"] == "tools/call get_weather"]) == 1


# ---- Streamable HTTP ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streamable_http(receiver: Receiver, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, SERVER, "http", str(port)],
        env=server_env(receiver, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.1)
        fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent")

        async def main() -> Any:
            with fivelens.span("agent turn"):
                async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
                    return await client.call_tool("get_weather", {"city": "Lima"})

        assert asyncio.run(main()).is_error is False
        assert fivelens.flush(10.0)
        # The server exports on its own schedule; wait for its spans while it runs.
        spans = wait_spans(
            receiver, lambda s: has("lookup forecast", INTERNAL)(s) and has("tools/call get_weather", SERVER_KIND)(s)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    root = one(spans, "agent turn", INTERNAL)
    client_span = one(spans, "tools/call get_weather", CLIENT)
    server_span = one(spans, "tools/call get_weather", SERVER_KIND)
    lookup = one(spans, "lookup forecast", INTERNAL)
    assert client_span["parent_span_id"] == root["span_id"]
    assert server_span["parent_span_id"] == client_span["span_id"]
    assert lookup["parent_span_id"] == server_span["span_id"]
    assert {client_span["trace_id"], server_span["trace_id"], lookup["trace_id"]} == {root["trace_id"]}
    ca, sa = client_span["attributes"], server_span["attributes"]
    assert ca["network.transport"] == "tcp" and sa["network.transport"] == "tcp"
    assert ca["server.address"] == "127.0.0.1" and ca["server.port"] == port
    assert sa["client.address"] == "127.0.0.1"
    assert ca["mcp.session.id"] and ca["mcp.session.id"] == sa["mcp.session.id"]
    assert not [s["name"] for s in spans if s["name"].startswith("MCP send")]


# ---- in process ---------------------------------------------------------------------------------------------


def in_process_server() -> MCPServer:
    app = MCPServer("inproc")

    @app.tool()
    async def get_weather(city: str, ctx: Context) -> str:  # type: ignore[type-arg]
        with fivelens.span("lookup forecast"):
            await ctx.report_progress(1, 2)
        return f"sunny in {city}"

    return app


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_in_process(receiver: Receiver, mode: str) -> None:
    # auto: the SDK's direct dispatcher (no JSON-RPC framing); legacy: its in-memory streams.
    fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent")

    async def main() -> Any:
        with fivelens.span("agent turn"):
            async with Client(in_process_server(), mode=mode) as client:  # type: ignore[arg-type]
                return await client.call_tool("get_weather", {"city": "Kyiv"})

    assert asyncio.run(main()).is_error is False
    assert fivelens.flush(10.0)
    spans = wait_spans(receiver, has("lookup forecast", INTERNAL))
    root = one(spans, "agent turn", INTERNAL)
    client_span = one(spans, "tools/call get_weather", CLIENT)
    server_span = one(spans, "tools/call get_weather", SERVER_KIND)
    assert client_span["parent_span_id"] == root["span_id"]
    assert server_span["parent_span_id"] == client_span["span_id"]
    assert one(spans, "lookup forecast", INTERNAL)["parent_span_id"] == server_span["span_id"]
    assert "network.transport" not in client_span["attributes"]
    assert server_span["attributes"]["jsonrpc.request.id"]
    assert not [s["name"] for s in spans if s["name"].startswith("MCP send")]
    assert len({s["trace_id"] for s in spans}) == 1


def test_inside_a_langchain_tool_the_tool_span_is_the_call(receiver: Receiver) -> None:
    from langchain_core.tools import tool

    fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="mcp-agent")
    server = in_process_server()

    @tool
    async def get_weather(city: str) -> str:
        """The weather in a city (from the MCP server)."""
        async with Client(server) as client:
            result = await client.call_tool("get_weather", {"city": city})
        return str(result.content[0].text)

    assert asyncio.run(get_weather.ainvoke({"city": "Quito"})) == "sunny in Quito"
    assert fivelens.flush(10.0)
    spans = wait_spans(receiver, has("lookup forecast", INTERNAL))
    tool_span = one(spans, "execute_tool get_weather", INTERNAL)
    server_span = one(spans, "tools/call get_weather", SERVER_KIND)
    assert not [s for s in spans if s["name"] == "tools/call get_weather" and s["kind"] == CLIENT]
    assert tool_span["attributes"]["mcp.method.name"] == "tools/call"
    assert tool_span["attributes"]["mcp.server.name"] == "inproc"
    assert server_span["parent_span_id"] == tool_span["span_id"]


def test_uninstrument_gives_the_sdk_its_tracing_back() -> None:
    out = run_python(
        """
        import fivelens
        fivelens.instrument(testing=True, store="off")
        from mcp.shared import jsonrpc_dispatcher
        from mcp.server import runner
        patched = getattr(jsonrpc_dispatcher.otel_span, "__fivelens__", False)
        fivelens.shutdown(1.0)
        print(patched, getattr(jsonrpc_dispatcher.otel_span, "__fivelens__", False),
              getattr(runner.ServerRunner._compose_server_middleware, "__fivelens__", False))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "False"]
