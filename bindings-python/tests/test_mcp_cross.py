"""MCP across processes and languages: a Node client (the TypeScript SDK, under fivelens's Node package) calling
a Python server over stdio, and a Python client calling a Node server over Streamable HTTP on
127.0.0.1. Both processes export to the one OTLP receiver the test starts; each call must be one
trace in which the server's span (one language) is the child of the client's span (the other).
And end to end (examples/mcp_agent.py): a LangGraph agent's tool calls an MCP server with the MCP
client, the server calls a model: one trace from the agent's root span to the server's model call.

The Node side runs the built addon in bindings-node (``make node-dev``; ``make test-python``
builds it first).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

import fivelens
from conftest import REPO, Receiver, run_example

HERE = Path(__file__).parent
PY_SERVER = str(HERE / "mcp_servers" / "weather.py")
NODE_CLIENT = str(HERE / "mcp_servers" / "node_client.js")
NODE_PKG = REPO / "bindings-node"
NODE_SERVER = str(NODE_PKG / "test" / "mcp_server.js")
CLIENT, SERVER, INTERNAL, ERROR = 3, 2, 1, 2


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not on PATH (the cross-language MCP tests need it)")
    if not list(NODE_PKG.glob("fivelens.*.node")):
        pytest.fail("the Node addon is not built: run `make node-dev` (make test-python does)")
    if not (NODE_PKG / "node_modules" / "@modelcontextprotocol").is_dir():
        pytest.fail("bindings-node's dependencies are not installed: run `make setup`")
    return exe


def clean_env(receiver: Receiver, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FIVELENS_"))}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, FIVELENS_HOME=str(home), **extra)
    return env


def wait_spans(receiver: Receiver, predicate: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        spans = receiver.spans()
        if predicate(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def of(spans: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["resource"].get("service.name") == service]


def one(spans: list[dict[str, Any]], name: str, kind: int) -> dict[str, Any]:
    found = [s for s in spans if s["name"] == name and s["kind"] == kind]
    assert len(found) == 1, [(s["name"], s["kind"], s["resource"].get("service.name")) for s in spans]
    return found[0]


def language(span: dict[str, Any]) -> str:
    return str(span["resource"].get("telemetry.sdk.language"))


# ---- a Node client, a Python server, over stdio -------------------------------------------------------


@pytest.mark.parametrize("line", ["1", "2"], ids=["sdk-1.x", "client-2.x"])
def test_node_client_calls_python_server_over_stdio(node: str, receiver: Receiver, tmp_path: Path, line: str) -> None:
    out = subprocess.run(
        [node, NODE_CLIENT, line, sys.executable, PY_SERVER],
        env=clean_env(receiver, tmp_path / "home"),
        cwd=NODE_PKG,  # the app's folder: where fivelens and the SDK resolve from
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["text"] == "sunny in Paris" and result["is_error"] is False

    def complete(spans: list[dict[str, Any]]) -> bool:
        names = {(s["name"], s["kind"]) for s in spans}
        wanted = {("lookup forecast", INTERNAL), ("tools/call get_weather", SERVER), ("node agent turn", INTERNAL)}
        return wanted <= names

    spans = wait_spans(receiver, complete)
    client_side = of(spans, "node-mcp-agent")
    server_side = of(spans, "mcp-weather-server")
    root = one(client_side, "node agent turn", INTERNAL)
    call = one(client_side, "tools/call get_weather", CLIENT)
    init = one(client_side, "initialize", CLIENT)
    handled = one(server_side, "tools/call get_weather", SERVER)
    handled_init = one(server_side, "initialize", SERVER)
    lookup = one(server_side, "lookup forecast", INTERNAL)

    # Two languages, one trace: Node agent -> Node client span -> Python server span -> the tool's span.
    assert {language(s) for s in (root, call, init)} == {"nodejs"}
    assert {language(s) for s in (handled, handled_init, lookup)} == {"python"}
    assert (root["trace_id"], root["span_id"]) == (result["trace_id"], result["span_id"])
    assert {s["trace_id"] for s in spans} == {root["trace_id"]}, "every span of both processes is in the agent's trace"
    assert root["parent_span_id"] == ""
    assert call["parent_span_id"] == root["span_id"] and init["parent_span_id"] == root["span_id"]
    assert handled["parent_span_id"] == call["span_id"], "the Python server span is the child of the Node client span"
    assert handled_init["parent_span_id"] == init["span_id"]
    assert lookup["parent_span_id"] == handled["span_id"]

    ca, sa = call["attributes"], handled["attributes"]
    for a in (ca, sa):
        assert a["mcp.method.name"] == "tools/call"
        assert a["gen_ai.tool.name"] == "get_weather"
        assert a["gen_ai.operation.name"] == "execute_tool"
        assert a["network.transport"] == "pipe"
    assert ca["jsonrpc.request.id"] == sa["jsonrpc.request.id"]
    assert ca["mcp.protocol.version"] == sa["mcp.protocol.version"]
    assert ca["mcp.server.name"] == "weather"
    assert call["status_code"] != ERROR and handled["status_code"] != ERROR
    # One span per request and side.
    assert len([s for s in client_side if s["kind"] == CLIENT]) == len([s for s in server_side if s["kind"] == SERVER])


# ---- a Python client, a Node server, over Streamable HTTP --------------------------------------------


def start_node_server(node: str, receiver: Receiver, home: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [node, NODE_SERVER, "--http"],
        env=clean_env(receiver, home, FIVELENS_MCP_TEST_SERVER="1", OTEL_SERVICE_NAME="node-mcp-server"),
        cwd=NODE_PKG,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    if not ready.startswith("READY "):
        proc.kill()
        pytest.fail(f"the Node MCP server did not start: {ready!r}")
    return proc, int(ready.split()[1])


def stop_node_server(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()  # the server flushes and exits when its stdin ends
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_python_client_calls_node_server_over_streamable_http(node: str, receiver: Receiver, tmp_path: Path) -> None:
    proc, port = start_node_server(node, receiver, tmp_path / "server")
    try:
        fivelens.instrument(otlp_endpoint=receiver.endpoint, service_name="python-mcp-agent")

        async def main() -> Any:
            with fivelens.span("python agent turn"):
                async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                    return await client.call_tool("get_weather", {"city": "Lima"})

        result = asyncio.run(main())
        assert result.is_error is False and result.content[0].text == "sunny in Lima"
        assert fivelens.flush(10.0)
    finally:
        stop_node_server(proc)
    spans = wait_spans(receiver, lambda s: any(x["name"] == "lookup weather" for x in s))

    client_side = of(spans, "python-mcp-agent")
    server_side = of(spans, "node-mcp-server")
    root = one(client_side, "python agent turn", INTERNAL)
    call = one(client_side, "tools/call get_weather", CLIENT)
    handled = one(server_side, "tools/call get_weather", SERVER)
    lookup = one(server_side, "lookup weather", INTERNAL)

    assert {language(s) for s in (root, call)} == {"python"}
    assert {language(s) for s in (handled, lookup)} == {"nodejs"}
    assert {s["trace_id"] for s in spans} == {root["trace_id"]}, "every span of both processes is in the agent's trace"
    assert call["parent_span_id"] == root["span_id"]
    assert handled["parent_span_id"] == call["span_id"], "the Node server span is the child of the Python client span"
    assert lookup["parent_span_id"] == handled["span_id"]

    ca, sa = call["attributes"], handled["attributes"]
    for a in (ca, sa):
        assert a["mcp.method.name"] == "tools/call"
        assert a["gen_ai.tool.name"] == "get_weather"
        assert a["network.transport"] == "tcp"
    assert ca["jsonrpc.request.id"] == sa["jsonrpc.request.id"]
    assert ca["mcp.protocol.version"] == sa["mcp.protocol.version"]
    assert ca["server.address"] == "127.0.0.1" and ca["server.port"] == port
    assert ca["mcp.server.name"] == sa["mcp.server.name"] == "weather"
    assert ca["mcp.session.id"] and ca["mcp.session.id"] == sa["mcp.session.id"]
    assert call["status_code"] != ERROR and handled["status_code"] != ERROR
    # The server's progress and log notifications reached the Python client span as events.
    received = sorted(e["attributes"]["mcp.method.name"] for e in call["events"] if e["name"] == "mcp.notification")
    assert "notifications/message" in received


# ---- end to end: a LangGraph agent -> its tool -> an MCP server -> a model call ----------------------------


def test_langgraph_agent_tool_mcp_server_model_call_is_one_trace(receiver: Receiver, tmp_path: Path) -> None:
    # Both processes export to the receiver and write the local store (`fivelens show` reads it).
    otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "FIVELENS_STORE": "on"}
    lines, _ = run_example("mcp_agent.py", tmp_path / "home", otlp)
    assert lines[0] == "echo: Forecast for example: sunny, 24 C, light wind."  # the server's model call
    assert lines[1] == "echo: Will it rain in Lisbon tomorrow?"
    # `fivelens show` on the store both processes wrote: one tree (the README's).
    assert lines[3:] == [
        "invoke_agent forecaster",
        "├─ model  iteration 1",
        "│  └─ chat gpt-4o-mini  openai  tokens 10/3  $0.00000",
        "├─ tools  iteration 2",
        "│  └─ execute_tool get_forecast",
        "│     ├─ server/discover",
        "│     │  └─ server/discover",
        "│     ├─ tools/call get_forecast",
        "│     │  └─ chat gpt-4o-mini  openai  tokens 15/9  $0.00001",
        "│     └─ tools/list",
        "│        └─ tools/list",
        "└─ model  iteration 3",
        "   └─ chat gpt-4o-mini  openai  tokens 19/7  $0.00001",
    ], lines

    spans = wait_spans(
        receiver, lambda s: len(of(s, "forecast-mcp-server")) >= 4 and len(of(s, "mcp-agent-example")) >= 9
    )
    agent = of(spans, "mcp-agent-example")
    server = of(spans, "forecast-mcp-server")
    root = one(agent, "invoke_agent forecaster", INTERNAL)
    tools_node = one(agent, "tools", INTERNAL)
    tool = one(agent, "execute_tool get_forecast", INTERNAL)
    handled = one(server, "tools/call get_forecast", SERVER)
    llm = one(server, "chat gpt-4o-mini", CLIENT)

    # The chain of parents, from the agent's root down to the model call in the server process.
    assert root["parent_span_id"] == ""
    assert tools_node["parent_span_id"] == root["span_id"]
    assert tool["parent_span_id"] == tools_node["span_id"]
    assert handled["parent_span_id"] == tool["span_id"]
    assert llm["parent_span_id"] == handled["span_id"]
    assert {s["trace_id"] for s in spans} == {root["trace_id"]}, "every span of both processes in one trace"

    # The tool run is the MCP call (no second span on the client side), with the MCP attributes.
    assert not [s for s in agent if s["name"] == "tools/call get_forecast"]
    ta = tool["attributes"]
    assert ta["mcp.method.name"] == "tools/call" and ta["mcp.server.name"] == "forecast"
    assert ta["network.transport"] == "pipe"
    assert ta["jsonrpc.request.id"] == handled["attributes"]["jsonrpc.request.id"]
    assert ta["fivelens.framework"] == "langgraph"
    # The server's model call: the OpenAI SDK's, with its usage.
    la = llm["attributes"]
    assert la["gen_ai.operation.name"] == "chat" and la["gen_ai.provider.name"] == "openai"
    assert la["gen_ai.usage.input_tokens"] == 15 and la["gen_ai.usage.output_tokens"] == 9
    assert root["attributes"]["gen_ai.agent.name"] == "forecaster"
