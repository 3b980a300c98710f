"""HTTP hops: outgoing requests from httpx, httpx2, requests and aiohttp carry the trace, and
Starlette, FastAPI, Flask and hand-wrapped ASGI/WSGI apps continue it with a SERVER span. Every
case runs real servers on 127.0.0.1 and asserts on the spans the OTLP receiver got."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from fastapi import FastAPI, Request
from starlette.requests import Request as StarletteRequest

import fivelens
from conftest import Receiver, run_python

SERVER = 2
CLIENT = 3
ERROR = 2


def start(receiver: Receiver) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, store="off", schedule_delay_ms=10, service_name="http-tests")


def exported(receiver: Receiver, n: int) -> list[dict[str, Any]]:
    assert fivelens.flush(10)
    spans = receiver.wait_for(n)
    assert len(spans) >= n, [s["name"] for s in spans]
    return spans


def by_id(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["span_id"]: s for s in spans}


def named(spans: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["name"] == name]


# ---- servers ------------------------------------------------------------------------------------


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def echo_app(seen: list[dict[str, list[str]]]) -> Any:
    """A FastAPI app that records the propagation headers of each request (every value, so a
    header sent twice shows up twice)."""
    app = FastAPI()

    @app.get("/echo/{name}")
    async def echo(name: str, request: Request) -> dict[str, str]:
        seen.append(
            {h: request.headers.getlist(h) for h in ("traceparent", "tracestate", "baggage", "fivelens-context")}
        )
        with fivelens.span("handler", who=name):
            pass
        return {"name": name}

    @app.get("/status/{code}")
    async def status(code: int) -> Any:
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse("x", status_code=code)

    return app


# ---- outgoing -----------------------------------------------------------------------------------


def check_hop(spans: list[dict[str, Any]], client: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
    """The CLIENT span is a child of ``parent``; the FastAPI SERVER span is its child, one trace."""
    ids = by_id(spans)
    assert client["kind"] == CLIENT
    assert client["parent_span_id"] == parent["span_id"]
    assert client["trace_id"] == parent["trace_id"]
    servers = [s for s in spans if s["kind"] == SERVER and s["parent_span_id"] == client["span_id"]]
    assert len(servers) == 1, [s["name"] for s in spans]
    server = servers[0]
    assert server["trace_id"] == parent["trace_id"]
    assert server["name"] == "GET /echo/{name}"
    handler = [s for s in spans if s["name"] == "handler" and descends(spans, s, server)]
    assert len(handler) == 1
    assert ids[client["parent_span_id"]] is parent
    return server


def descends(spans: list[dict[str, Any]], span: dict[str, Any], ancestor: dict[str, Any]) -> bool:
    """Whether ``ancestor`` is on ``span``'s parent chain (FastAPI's own ``fastapi.endpoint``
    span sits between a route's SERVER span and the handler's spans)."""
    ids = by_id(spans)
    parent = ids.get(span["parent_span_id"])
    while parent is not None:
        if parent is ancestor:
            return True
        parent = ids.get(parent["parent_span_id"])
    return False


def test_httpx_sync_and_async_and_requests_and_aiohttp_carry_the_trace_to_fastapi(receiver: Receiver) -> None:
    import aiohttp
    import httpx
    import requests

    start(receiver)
    seen: list[dict[str, list[str]]] = []
    with serve_asgi(echo_app(seen)) as base:

        async def async_calls() -> None:
            async with httpx.AsyncClient() as client:
                await client.get(f"{base}/echo/httpx-async")
            async with aiohttp.ClientSession(headers={"x-app": "1"}) as session:
                async with session.get(f"{base}/echo/aiohttp", headers={"x-call": "2"}) as resp:
                    assert resp.status == 200

        with fivelens.context(session_id="sess-http", user_id="ann"):
            with fivelens.span("agent") as agent:
                with httpx.Client() as client:
                    assert client.get(f"{base}/echo/httpx?token=s3cret").status_code == 200
                assert requests.get(f"{base}/echo/requests").status_code == 200
                asyncio.run(async_calls())
        spans = exported(receiver, 1 + 4 * 3 + 4 * 3)  # agent; per call client, server, handler + FastAPI's 3
    root = next(s for s in spans if s["name"] == "agent")
    assert root["span_id"] == agent.span_id
    clients = [s for s in spans if s["kind"] == CLIENT]
    assert len(clients) == 4
    servers = [check_hop(spans, c, root) for c in clients]
    for s in spans:
        assert s["trace_id"] == agent.trace_id, s["name"]
    urls = sorted(c["attributes"]["url.full"] for c in clients)
    assert f"{base}/echo/httpx?token=REDACTED" in urls, urls
    for c in clients:
        assert c["name"] == "GET"
        assert c["attributes"]["http.request.method"] == "GET"
        assert c["attributes"]["http.response.status_code"] == 200
        assert c["attributes"]["server.address"] == "127.0.0.1"
        assert c["status_code"] != ERROR
    for s in servers:
        a = s["attributes"]
        assert a["http.route"] == "/echo/{name}"
        assert a["url.path"].startswith("/echo/")
        assert a["http.response.status_code"] == 200
        assert a["client.address"] == "127.0.0.1"
        # The caller's trace-scoped attributes came with fivelens-context.
        assert a["session.id"] == "sess-http"
        assert a["user.hash"] == fivelens._native.hash_user_id("ann")
    handlers = named(spans, "handler")
    assert sorted(h["attributes"]["who"] for h in handlers) == ["aiohttp", "httpx", "httpx-async", "requests"]
    assert all(len(h["traceparent"]) == 1 for h in seen), seen
    assert all("ann" not in json.dumps(h) for h in seen)


def test_httpx2_client_carries_the_trace(receiver: Receiver) -> None:
    import httpx2

    start(receiver)
    seen: list[dict[str, list[str]]] = []
    with serve_asgi(echo_app(seen)) as base:
        with fivelens.span("agent") as agent:
            assert httpx2.get(f"{base}/echo/httpx2").status_code == 200
        spans = exported(receiver, 1 + 6)
    root = next(s for s in spans if s["span_id"] == agent.span_id)
    (client,) = [s for s in spans if s["kind"] == CLIENT]
    check_hop(spans, client, root)
    assert seen[0]["traceparent"] == [f"00-{agent.trace_id}-{client['span_id']}-01"]


def test_requests_outside_a_trace_are_left_alone(receiver: Receiver) -> None:
    import httpx
    import requests

    start(receiver)
    seen: list[dict[str, list[str]]] = []
    with serve_asgi(echo_app(seen)) as base:
        httpx.get(f"{base}/echo/a")
        requests.get(f"{base}/echo/b")
        spans = exported(receiver, 2 * 5)
    assert seen == [{"traceparent": [], "tracestate": [], "baggage": [], "fivelens-context": []}] * 2
    assert not [s for s in spans if s["kind"] == CLIENT]
    # Each request is its own trace, rooted at its SERVER span.
    servers = [s for s in spans if s["kind"] == SERVER]
    assert len(servers) == 2
    assert all(s["parent_span_id"] == "" for s in servers)
    assert servers[0]["trace_id"] != servers[1]["trace_id"]


def test_a_traceparent_the_app_set_is_kept(receiver: Receiver) -> None:
    import httpx

    start(receiver)
    seen: list[dict[str, list[str]]] = []
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with serve_asgi(echo_app(seen)) as base:
        with fivelens.span("agent"):
            httpx.get(f"{base}/echo/x", headers={"traceparent": mine})
        spans = exported(receiver, 1 + 5)
    assert seen[0]["traceparent"] == [mine]
    assert not [s for s in spans if s["kind"] == CLIENT]
    (server,) = [s for s in spans if s["kind"] == SERVER]
    assert server["parent_span_id"] == "b7ad6b7169203331"


def test_client_errors_and_error_statuses(receiver: Receiver) -> None:
    import httpx
    import requests

    start(receiver)
    seen: list[dict[str, list[str]]] = []
    with serve_asgi(echo_app(seen)) as base:
        with fivelens.span("agent"):
            assert httpx.get(f"{base}/status/404").status_code == 404
            assert requests.get(f"{base}/status/503").status_code == 503
            with pytest.raises(httpx.ConnectError):
                httpx.get("http://127.0.0.1:9/refused")
        spans = exported(receiver, 1 + 3 + 2 * 3)  # agent, clients, SERVER + FastAPI's 2 each
    clients = {s["attributes"]["url.full"].rsplit("/", 1)[1]: s for s in spans if s["kind"] == CLIENT}
    assert clients["404"]["attributes"]["error.type"] == "404"
    assert clients["404"]["status_code"] == ERROR
    assert clients["503"]["attributes"]["http.response.status_code"] == 503
    assert clients["refused"]["attributes"]["error.type"] == "ConnectError"
    assert clients["refused"]["status_code"] == ERROR
    servers = {s["attributes"]["url.path"]: s for s in spans if s["kind"] == SERVER}
    assert servers["/status/404"]["status_code"] != ERROR, "a 4xx is not a server error"
    assert servers["/status/503"]["status_code"] == ERROR
    assert servers["/status/503"]["attributes"]["error.type"] == "503"


def test_provider_sdk_requests_carry_the_model_call_span_and_no_fivelens_context(
    receiver: Receiver, llm_server: Any
) -> None:
    import openai

    start(receiver)
    llm_server.clear_requests() if hasattr(llm_server, "clear_requests") else None
    client = openai.OpenAI(base_url=llm_server.url + "/v1", api_key="k", max_retries=0)
    with fivelens.context(session_id="sess-llm"):
        with fivelens.span("agent"):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    spans = exported(receiver, 2)
    (llm,) = [s for s in spans if s["name"] == "chat gpt-4o-mini"]
    assert not [s for s in spans if s["name"] == "POST"], "no HTTP span under the model-call span"
    headers = [r["headers"] for r in llm_server.requests() if r["path"].startswith("/v1/chat")][-1]
    assert headers["traceparent"] == f"00-{llm['trace_id']}-{llm['span_id']}-01"
    assert "fivelens-context" not in headers


def test_baggage_is_passed_through_from_the_incoming_request(receiver: Receiver) -> None:
    import httpx

    start(receiver)
    seen: list[dict[str, list[str]]] = []
    with serve_asgi(echo_app(seen)) as downstream:
        relay = FastAPI()

        @relay.get("/relay")
        async def relay_call() -> dict[str, str]:
            async with httpx.AsyncClient() as client:
                await client.get(f"{downstream}/echo/relayed")
            return {}

        with serve_asgi(relay) as base:
            assert httpx.get(f"{base}/relay", headers={"baggage": "tenant=acme,plan=pro"}).status_code == 200
            spans = exported(receiver, 2 + 3 + 5)
    assert seen[0]["baggage"] == ["tenant=acme,plan=pro"]
    assert seen[0]["fivelens-context"] == []
    (client,) = [s for s in spans if s["kind"] == CLIENT]
    assert seen[0]["traceparent"] == [f"00-{client['trace_id']}-{client['span_id']}-01"]
    relay_server = next(s for s in spans if s["name"] == "GET /relay")
    assert descends(spans, client, relay_server)


# The app's own OpenTelemetry HTTP instrumentation, enabled before or after fivelens: it makes the
# CLIENT spans and injects; fivelens adds nothing, and each request carries one traceparent.
OTEL_CASE = """
import json, sys
sys.path.insert(0, {tests!r})
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

import fivelens

def otel_on():
    HTTPXClientInstrumentor().instrument()
    RequestsInstrumentor().instrument()

if {otel_first}:
    otel_on()
fivelens.instrument(otlp_endpoint={endpoint!r}, store="off", schedule_delay_ms=10)
if not {otel_first}:
    otel_on()

import httpx, requests
from test_http import echo_app, serve_asgi

seen = []
with serve_asgi(echo_app(seen)) as base:
    with fivelens.span("agent") as agent:
        httpx.get(base + "/echo/a")
        requests.get(base + "/echo/b")
        with httpx.Client() as client:
            client.get(base + "/echo/c")
assert fivelens.flush(5)
print(json.dumps({{
    "seen": seen,
    "agent": agent.span_id,
    "otel_clients": {{
        format(s.context.span_id, "016x"): format(s.parent.span_id, "016x")
        for s in exporter.get_finished_spans()
        if s.kind == trace.SpanKind.CLIENT
    }},
    "otel_server_parents": [
        format(s.parent.span_id, "016x")
        for s in exporter.get_finished_spans()
        if s.kind == trace.SpanKind.SERVER and s.parent is not None
    ],
}}))
"""


@pytest.mark.parametrize("otel_first", [True, False], ids=["otel-first", "otel-after"])
def test_with_the_apps_otel_http_instrumentation_one_traceparent(receiver: Receiver, otel_first: bool) -> None:
    from pathlib import Path

    out = run_python(
        OTEL_CASE.format(tests=str(Path(__file__).parent), otel_first=otel_first, endpoint=receiver.endpoint)
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    otel_clients = result["otel_clients"]
    assert len(otel_clients) == 3
    assert set(otel_clients.values()) == {result["agent"]}, "the app's CLIENT spans nest under the fivelens span"
    for headers in result["seen"]:
        assert len(headers["traceparent"]) == 1, headers
        assert headers["traceparent"][0].split("-")[2] in otel_clients
    # FastAPI's own telemetry made the SERVER spans through the app's provider (fivelens's
    # middleware stepped aside), each a child of the app's CLIENT span.
    assert sorted(result["otel_server_parents"]) == sorted(otel_clients)
    spans = receiver.wait_for(4)
    assert sorted(s["name"] for s in spans) == ["agent", "handler", "handler", "handler"]
    assert not [s for s in spans if s["kind"] in (CLIENT, SERVER)], "no fivelens span beside the app's"


# ---- incoming -----------------------------------------------------------------------------------


def test_starlette_app_continues_the_callers_trace(receiver: Receiver) -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    async def user(request: StarletteRequest) -> JSONResponse:
        with fivelens.span("inside"):
            pass
        return JSONResponse({"id": request.path_params["uid"]})

    app = Starlette(routes=[Mount("/api", routes=[Route("/users/{uid}", user)])])
    start(receiver)
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with serve_asgi(app) as base:
        r = httpx.post(f"{base}/api/users/42", headers={"traceparent": caller, "tracestate": "k=v"})
        assert r.status_code == 405
        r = httpx.get(f"{base}/api/users/42", headers={"traceparent": caller})
        assert r.status_code == 200
        spans = exported(receiver, 3)
    servers = [s for s in spans if s["kind"] == SERVER]
    assert len(servers) == 2
    for s in servers:
        assert s["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert s["parent_span_id"] == "00f067aa0ba902b7"
    get = next(s for s in servers if s["attributes"]["http.request.method"] == "GET")
    assert get["name"] == "GET /api/users/{uid}"
    assert get["attributes"]["http.route"] == "/api/users/{uid}"
    assert get["attributes"]["url.path"] == "/api/users/42"
    assert get["attributes"]["url.scheme"] == "http"
    assert named(spans, "inside")[0]["parent_span_id"] == get["span_id"]


def test_fastapi_unhandled_exception_is_an_error_server_span(receiver: Receiver) -> None:
    import httpx

    app = FastAPI()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaput")

    start(receiver)
    with serve_asgi(app) as base:
        assert httpx.get(f"{base}/boom").status_code == 500
        spans = exported(receiver, 3)  # the SERVER span, FastAPI's dependencies and endpoint spans
    (server,) = [s for s in spans if s["kind"] == SERVER]
    assert server["name"] == "GET /boom"
    assert server["status_code"] == ERROR
    assert server["attributes"]["http.response.status_code"] == 500
    assert server["attributes"]["error.type"] == "RuntimeError"


def test_flask_app_continues_the_callers_trace(receiver: Receiver) -> None:
    import flask
    import requests

    app = flask.Flask("fl")

    @app.route("/orders/<int:oid>")
    def order(oid: int) -> Any:
        with fivelens.span("inside"):
            pass
        return {"oid": oid}

    @app.route("/fail")
    def fail() -> Any:
        raise ValueError("nope")

    start(receiver)
    with serve_wsgi(app) as base:
        with fivelens.context(session_id="from-caller"):
            with fivelens.span("caller") as caller:
                assert requests.get(f"{base}/orders/7").status_code == 200
                assert requests.get(f"{base}/fail").status_code == 500
        spans = exported(receiver, 1 + 2 + 2 + 1)
    clients = {s["attributes"]["url.full"].rsplit("/", 1)[1]: s for s in spans if s["kind"] == CLIENT}
    servers = {s["attributes"]["url.path"]: s for s in spans if s["kind"] == SERVER}
    ok = servers["/orders/7"]
    assert ok["name"] == "GET /orders/<int:oid>"
    assert ok["attributes"]["http.route"] == "/orders/<int:oid>"
    assert ok["parent_span_id"] == clients["7"]["span_id"]
    assert clients["7"]["parent_span_id"] == caller.span_id
    assert ok["attributes"]["http.response.status_code"] == 200
    assert ok["attributes"]["client.address"] == "127.0.0.1"
    assert ok["attributes"]["session.id"] == "from-caller"
    assert named(spans, "inside")[0]["parent_span_id"] == ok["span_id"]
    bad = servers["/fail"]
    assert bad["status_code"] == ERROR
    assert bad["attributes"]["http.response.status_code"] == 500
    assert bad["attributes"]["error.type"] == "500"


def test_hand_applied_middlewares_on_plain_asgi_and_wsgi_apps_once_even_when_applied_twice(
    receiver: Receiver,
) -> None:
    import httpx

    async def raw_asgi(scope: Any, receive: Any, send: Any) -> None:
        with fivelens.span("asgi-inside"):
            pass
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def raw_wsgi(environ: Any, start_response: Callable[..., Any]) -> Any:
        with fivelens.span("wsgi-inside"):
            pass
        start_response("202 Accepted", [("content-type", "text/plain")])
        return [b"ok"]

    start(receiver)
    caller = "00-11111111111111111111111111111111-2222222222222222-01"
    asgi = fivelens.asgi_middleware(fivelens.asgi_middleware(raw_asgi))
    wsgi = fivelens.wsgi_middleware(fivelens.wsgi_middleware(raw_wsgi))
    with serve_asgi(asgi) as a, serve_wsgi(wsgi) as w:
        assert httpx.get(f"{a}/x", headers={"traceparent": caller}).status_code == 201
        assert httpx.get(f"{w}/y", headers={"traceparent": caller}).status_code == 202
        spans = exported(receiver, 4)
    servers = [s for s in spans if s["kind"] == SERVER]
    assert sorted(s["name"] for s in servers) == ["GET", "GET"]
    codes = sorted(s["attributes"]["http.response.status_code"] for s in servers)
    assert codes == [201, 202]
    for s in servers:
        assert s["parent_span_id"] == "2222222222222222"
    ids = {s["span_id"] for s in servers}
    assert named(spans, "asgi-inside")[0]["parent_span_id"] in ids
    assert named(spans, "wsgi-inside")[0]["parent_span_id"] in ids


def test_malformed_traceparent_starts_a_new_trace(receiver: Receiver) -> None:
    import httpx

    start(receiver)
    seen: list[dict[str, list[str]]] = []
    with serve_asgi(echo_app(seen)) as base:
        assert httpx.get(f"{base}/echo/m", headers={"traceparent": "00-zz-bad-01"}).status_code == 200
        spans = exported(receiver, 5)
    (server,) = [s for s in spans if s["kind"] == SERVER]
    assert server["parent_span_id"] == ""
    assert server["status_code"] != ERROR
