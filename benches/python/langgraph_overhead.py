"""What instrumentation adds to a LangGraph run: fivelens against OpenInference's LangChain
instrumentation (``openinference-instrumentation-langchain``), in the same run of the benchmark.

The graph has three nodes: ``agent`` (a fake chat model that first asks for a tool, then answers),
``tools`` (LangGraph's ``ToolNode`` with one tool) and ``respond`` (plain Python), the agent loop
going agent -> tools -> agent -> respond. One ``invoke`` is 5 node runs, 2 model runs, 1 tool run
and the plumbing runs LangGraph adds. Content capture is on for both (each one's default), and
both export spans over OTLP/HTTP to the loopback receiver (OpenInference through the OTel SDK's
``BatchSpanProcessor``; fivelens with its store off).

Each side runs in its own fresh interpreter per round (so an instrumentation that cannot be fully
removed never weighs on another side), the order of the sides rotating each round; per round and
side: the median wall time of ``invoke`` over a block, and the CPU the process spends per invoke,
all threads included, from the first invoke of the block to the end of a flush after it. The
figures are each side minus the uninstrumented side of the same round, then the median over
rounds. Usage: python langgraph_overhead.py --receiver PATH [--rounds N] [--block N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    side, endpoint, block = sys.argv[1], sys.argv[2], int(sys.argv[3])
    flush = lambda: None
    if side == "fivelens":
        import fivelens
        fivelens.instrument(otlp_endpoint=endpoint, store="off", integrations=["langchain"])
        flush = fivelens.flush
    elif side == "openinference":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from openinference.instrumentation.langchain import LangChainInstrumentor
        tp = TracerProvider()
        tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint + "/v1/traces")))
        LangChainInstrumentor().instrument(tracer_provider=tp)
        flush = tp.force_flush
    from typing import Any
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import tool
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    @tool
    def lookup_fare(origin: str, destination: str) -> str:
        '''The cheapest fare between two airports.'''
        return f"{origin}-{destination}: 182 EUR"

    model = FakeMessagesListChatModel(responses=[
        AIMessage(
            content="Let me look the fare up.",
            tool_calls=[{"name": "lookup_fare", "args": {"origin": "CDG", "destination": "FCO"}, "id": "call-1"}],
            usage_metadata={"input_tokens": 48, "output_tokens": 22, "total_tokens": 70},
            response_metadata={"finish_reason": "tool_calls", "model_name": "gpt-4o-mini"},
        ),
        AIMessage(
            content="The cheapest fare from Paris to Rome is 182 EUR.",
            usage_metadata={"input_tokens": 96, "output_tokens": 14, "total_tokens": 110},
            response_metadata={"finish_reason": "stop", "model_name": "gpt-4o-mini"},
        ),
    ])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def respond(state: MessagesState) -> dict[str, Any]:
        return {"messages": []}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([lookup_fare]))
    graph.add_node("respond", respond)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", "__end__": "respond"})
    graph.add_edge("tools", "agent")
    graph.add_edge("respond", END)
    app = graph.compile(name="fares")
    question = {"messages": [HumanMessage("What is the cheapest fare from Paris to Rome?")]}

    for _ in range(100):  # warm-up
        app.invoke(question)
    flush()
    clock = time.perf_counter_ns
    times = []
    c0 = time.process_time_ns()
    for _ in range(block):
        t0 = clock()
        app.invoke(question)
        times.append(clock() - t0)
    flush()
    cpu = (time.process_time_ns() - c0) / block / 1000
    times.sort()
    print(json.dumps({"wall": times[len(times) // 2] / 1000, "cpu": cpu}))
    """
)

SIDES = ("baseline", "fivelens", "openinference")


def run(python: str, side: str, endpoint: str, block: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FIVELENS_"))}
    out = subprocess.run(
        [python, "-c", CHILD, side, endpoint, str(block)], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{side} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default=sys.executable, help="interpreter with the packages")
    parser.add_argument("--receiver", required=True)
    parser.add_argument("--rounds", type=int, default=12, help="rounds, the sides rotating")
    parser.add_argument("--block", type=int, default=300, help="invokes per side and round")
    parser.add_argument("--json")
    args = parser.parse_args()

    receiver = subprocess.Popen(
        [args.receiver, "--port", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert receiver.stdout is not None and receiver.stdin is not None
    line = receiver.stdout.readline()
    if not line.startswith("READY "):
        receiver.kill()
        raise SystemExit(f"receiver did not start: {line!r}")
    endpoint = json.loads(line[len("READY ") :])["http"]
    per: dict[str, dict[str, list[float]]] = {s: {"wall": [], "cpu": []} for s in SIDES}
    try:
        for r in range(args.rounds):
            for side in SIDES[r % 3 :] + SIDES[: r % 3]:
                got = run(args.python, side, endpoint, args.block)
                per[side]["wall"].append(got["wall"])
                per[side]["cpu"].append(got["cpu"])
    finally:
        receiver.stdin.close()
        receiver.wait(timeout=10)

    result: dict[str, object] = {
        "rounds": args.rounds,
        "block": args.block,
        "baseline_invoke_us": median(per["baseline"]["wall"]),
        "baseline_cpu_us": median(per["baseline"]["cpu"]),
    }
    for kind, key in (("caller", "wall"), ("cpu", "cpu")):
        base = per["baseline"][key]
        for side in ("fivelens", "openinference"):
            result[f"{side}_{kind}_overhead_us"] = median([x - b for x, b in zip(per[side][key], base, strict=True)])
        ours = result[f"fivelens_{kind}_overhead_us"]
        theirs = result[f"openinference_{kind}_overhead_us"]
        assert isinstance(ours, float) and isinstance(theirs, float)
        result[f"{kind}_ratio"] = ours / theirs if theirs > 0 else None
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
