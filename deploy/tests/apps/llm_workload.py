"""A scripted LLM workload for the ClickHouse and Prometheus tests: model calls through fivelens's
public API (llm_call, stage, context, keep_trace), in three pipeline stages, two prompt versions,
two models, with answers cut at the token limit, a failed call and a conversation that fills its
context window. Run with .venv's Python; exports as the OTEL_* variables and the options say.

    llm_workload.py [--rounds N] [--pause SECONDS] [--extras] [--linger SECONDS]

--extras adds the other lenses' signals through their public APIs: MCP tool calls to an in-process
MCP server (one call in five fails), guardrail checks (three in ten block), confidence scores, and
content with an e-mail address for the redactor. --linger keeps the process (and its Prometheus
endpoint) up after the workload.
"""

from __future__ import annotations

import argparse
import logging
import time

import fivelens

log = logging.getLogger("workload")
log.setLevel(logging.INFO)

SYSTEM_V1 = "You are a support agent. Answer briefly."
SYSTEM_V2 = "You are a support agent. Answer briefly and cite the order number."


def call(
    model: str,
    stage: str,
    system: str,
    i: int,
    *,
    finish: str = "stop",
    sleep_ms: int = 2,
    input_tokens: int = 50,
    session: str = "",
) -> None:
    provider = "anthropic" if model.startswith("claude") else "openai"
    with fivelens.context(session_id=session or f"s-{i % 5}", user_id=f"user-{i % 9}"), fivelens.stage(stage):
        with fivelens.llm_call(provider, model, max_tokens=256) as c:
            c.set_input([{"role": "user", "content": f"question {i}"}], system=system)
            time.sleep(sleep_ms / 1000)
            c.set_output(f"answer {i}", finish_reasons=[finish])
            c.set_usage(input_tokens, 20)


def one_round(r: int) -> None:
    with fivelens.span("invoke_agent support", round=r):
        log.info("round %d", r)
        for i in range(10):
            call("gpt-4o-mini", "retrieval", SYSTEM_V1, i, sleep_ms=2)
        for i in range(10):
            # gpt-4o: one answer in ten is cut at the token limit (10% > the 5% alert); one call
            # in ten is slow, so p99 is far from p50.
            call(
                "gpt-4o",
                "synthesis",
                SYSTEM_V2 if i % 2 else SYSTEM_V1,
                i,
                finish="length" if i == 4 else "stop",
                sleep_ms=120 if i == 9 else 10,
            )
        for i in range(5):
            call("claude-sonnet-4-6", "planning", SYSTEM_V1, i, finish="end_turn", sleep_ms=5)
        # A conversation that grows to 86% of gpt-4o's 128k window: fivelens raises its context
        # alert on the call that crosses 80%.
        for turn, tokens in enumerate((60_000, 90_000, 110_000)):
            call("gpt-4o", "synthesis", SYSTEM_V2, 100 + turn, input_tokens=tokens, session=f"long-chat-{r}")
        try:
            with fivelens.stage("synthesis"), fivelens.llm_call("openai", "gpt-4o") as c:
                c.set_input("will fail", system=SYSTEM_V1)
                raise TimeoutError("the provider timed out")
        except TimeoutError:
            pass


async def mcp_calls(n: int) -> None:
    """MCP tool calls through the SDK's own client and server, in process."""
    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    app = MCPServer("lookup")

    @app.tool()
    async def find_order(order: str) -> str:
        return f"order {order} shipped"

    @app.tool()
    async def cancel_order(order: str) -> str:
        raise ValueError(f"order {order} cannot be cancelled")

    async with Client(app) as client:
        for i in range(n):
            await client.call_tool("cancel_order" if i % 5 == 4 else "find_order", {"order": str(i)})


def extras(r: int) -> None:
    import asyncio

    with fivelens.span("invoke_agent support", round=r, extras=True):
        asyncio.run(mcp_calls(10))
        for i in range(10):
            with fivelens.guardrail("toxicity") as check:
                check.record("block" if i % 10 < 3 else "pass", action="refuse" if i % 10 < 3 else "none")
        for i in range(10):
            fivelens.record_confidence(0.5 + i / 20, source="answer")
        with fivelens.llm_call("openai", "gpt-4o-mini") as c:
            c.set_input("mail me at jane.doe@example.com", system=SYSTEM_V1)
            c.set_output("sure", finish_reasons=["stop"])
            c.set_usage(12, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--extras", action="store_true")
    ap.add_argument("--linger", type=float, default=0.0)
    args = ap.parse_args()
    fivelens.instrument(service_name="support-bot", logs_level="info")
    for r in range(args.rounds):
        one_round(r)
        if args.extras:
            extras(r)
        if args.pause:
            time.sleep(args.pause)
    fivelens.flush(10.0)
    print("done", flush=True)
    time.sleep(args.linger)
    fivelens.shutdown(10.0)


if __name__ == "__main__":
    main()
