"""A small support agent, instrumented with fivelens: `make demo` runs it on the embedded store,
then shows its trace tree and the store's statistics with the `fivelens` command.

The model calls go through the real OpenAI SDK to the repository's local fake OpenAI server
(tests/fake_llm_server.py: deterministic, no network); fivelens records them by itself (tokens,
cost, prompt hash, content). The tools are simulated in-process.
"""

from __future__ import annotations

import concurrent.futures
import random
import subprocess
import sys
import time
from typing import Any

from fake_openai import fake_openai_server

import fivelens

SYSTEM = "You are the support agent of an online shop. Use the tools to look orders up; answer in one sentence."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]


def chat(client: Any, messages: list[dict[str, Any]], step: int) -> str:
    """One model call, through the OpenAI SDK: fivelens makes the span (no code here)."""
    scenario = {"x-fake-scenario": "tools"} if step < 2 else {}
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": SYSTEM}, *messages],
        tools=TOOLS,
        max_tokens=200,
        extra_headers=scenario,
    )
    choice = reply.choices[0]
    return "lookup_order" if choice.finish_reason == "tool_calls" else str(choice.message.content)


def tool(name: str, argument: str) -> str:
    with fivelens.span(f"execute_tool {name}", **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}):
        time.sleep(0.005)
        if name == "inventory" and argument == "sku-7":
            raise TimeoutError("inventory service did not answer in 5 s")
        return f"{name}({argument}) ok"


@fivelens.span("invoke_agent support", **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"})
def answer(client: Any, question: str) -> str:
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    for step in range(3):
        with fivelens.span("agent.iteration", step=step), fivelens.stage("orchestrator" if step < 2 else "synthesis"):
            reply = chat(client, messages, step)
            if reply != "lookup_order":
                return reply
            # Tools run in a thread pool; the spans still land under this iteration.
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                futures = [pool.submit(tool, "orders", "A-1042"), pool.submit(tool, "inventory", f"sku-{5 + step * 2}")]
                for f in futures:
                    try:
                        messages.append({"role": "tool", "content": f.result()})
                    except TimeoutError as e:
                        messages.append({"role": "tool", "content": f"error: {e}"})
    return "Sorry, I could not find your order."


def main() -> None:
    random.seed(7)
    fivelens.instrument(service_name="demo-support-agent")
    import openai  # imported after instrument(): fivelens patches it on import

    with fake_openai_server() as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="demo")
        with fivelens.context(session_id="demo-session", user_id="demo-user@example.com", tags=["demo"]):
            with fivelens.span("user.query", kind="server") as root, fivelens.prompt("support-agent", "v1"):
                print(answer(client, "Where is my order A-1042?"))
    fivelens.flush(10)
    print(f"\nstore: {fivelens.status()['pipeline']['store']}\n")
    cli = [sys.executable, "-m", "fivelens"]
    subprocess.run([*cli, "traces", "--limit", "5"], check=True)
    print()
    subprocess.run([*cli, "show", root.trace_id], check=True)
    print()
    subprocess.run([*cli, "stats"], check=True)


if __name__ == "__main__":
    main()
