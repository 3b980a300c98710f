"""A small support agent, instrumented with fivelens: `make demo` runs it on the embedded store,
then shows its trace tree and the store's statistics with the `fivelens` command.

The model and the tools are simulated in-process (deterministic, no network); the spans they
produce are what the real OpenAI / Anthropic and framework integrations record.
"""

from __future__ import annotations

import concurrent.futures
import random
import subprocess
import sys
import time

import fivelens

PRICES = {"gpt-4o-mini": (0.15, 0.60)}  # USD per million input / output tokens


def chat(model: str, messages: list[dict[str, str]], step: int) -> str:
    """One model call: a CLIENT span with the GenAI attributes a provider integration sets."""
    with fivelens.span(
        f"chat {model}",
        kind="client",
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "server.address": "api.openai.com",
        },
    ) as span:
        time.sleep(0.02 + 0.01 * random.random())
        input_tokens = 180 + 90 * len(messages)
        output_tokens = 40 + 10 * step
        price_in, price_out = PRICES[model]
        span.set_attributes(
            {
                "gen_ai.response.model": f"{model}-2024-07-18",
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
                "gen_ai.response.finish_reasons": ["tool_calls" if step < 2 else "stop"],
                "fivelens.cost.usd": (input_tokens * price_in + output_tokens * price_out) / 1e6,
            }
        )
        return "lookup_order" if step < 2 else "Your order ships tomorrow."


def tool(name: str, argument: str) -> str:
    with fivelens.span(f"execute_tool {name}", **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}):
        time.sleep(0.005)
        if name == "inventory" and argument == "sku-7":
            raise TimeoutError("inventory service did not answer in 5 s")
        return f"{name}({argument}) ok"


@fivelens.span("invoke_agent support", **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"})
def answer(question: str) -> str:
    messages = [{"role": "user", "content": question}]
    for step in range(3):
        with fivelens.span("agent.iteration", step=step):
            reply = chat("gpt-4o-mini", messages, step)
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
    with fivelens.context(session_id="demo-session", user_id="demo-user@example.com", tags=["demo"]):
        with fivelens.span("user.query", kind="server") as root:
            print(answer("Where is my order A-1042?"))
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
