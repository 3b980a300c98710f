"""What instrumentation adds to an OpenAI SDK call: fivelens against the OpenTelemetry GenAI
instrumentation (``opentelemetry-instrumentation-openai-v2``), at equal settings, in the same run.

One interpreter makes the same chat-completion calls (system + user message, non-streaming) to
the repository's fake OpenAI server, itself in another process, in blocks of ``--block`` calls:
uninstrumented, with fivelens, with the OpenTelemetry instrumentation, the order rotating each
round (the instrumentations are switched on and off between blocks), so that drift of the
machine falls on all three alike. Two figures per side, each minus the uninstrumented one: the
median wall time of a call as the caller sees it, and the CPU the process spends per call, all
its threads included (background export too), from the first call of a block to the end of a
flush after it (median over blocks). Settings, both sides:

- ``content``: message content captured (fivelens: on the span, its default; the OTel
  instrumentation 2.3b0: as log events, ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``,
  with a ``LoggerProvider`` exporting them over OTLP) and metrics on (OTel: a ``MeterProvider``
  with an OTLP metric reader);
- ``no-content``: content off, metrics on.

Spans (and metrics) go to the loopback OTLP receiver over HTTP/protobuf on both sides (fivelens
store off). Usage: python openai_overhead.py --python PY --server PY --receiver PATH [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    content, url, endpoint = sys.argv[1] == "content", sys.argv[2], sys.argv[3]
    rounds, block = int(sys.argv[4]), int(sys.argv[5])
    # The OpenTelemetry side: providers for traces, metrics and logs (content events), all
    # exporting OTLP to the receiver; the instrumentor is switched on and off per block.
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true" if content else "false"
    from opentelemetry import metrics, trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint + "/v1/traces")))
    trace.set_tracer_provider(tp)
    metric_exporter = OTLPMetricExporter(endpoint=endpoint + "/v1/metrics")
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    lp = LoggerProvider()
    lp.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint + "/v1/logs")))
    set_logger_provider(lp)
    instrumentor = OpenAIInstrumentor()
    import fivelens
    import openai
    client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
    messages = [
        {"role": "system", "content": "You are a concise assistant for a travel agency. Answer in one sentence."},
        {"role": "user", "content": "Which month is best for visiting Kyoto if I want to see the autumn leaves?"},
    ]
    def call():
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=64, temperature=0.3)
    def on(side):
        if side == "fivelens":
            fivelens.instrument(otlp_endpoint=endpoint, store="off", capture_content=content, integrations=["openai"])
        elif side == "otel":
            instrumentor.instrument()
    def flush(side):
        if side == "fivelens":
            fivelens.flush()
        elif side == "otel":
            tp.force_flush(); lp.force_flush()
    def off(side):
        if side == "fivelens":
            fivelens.shutdown()
        elif side == "otel":
            instrumentor.uninstrument()
    sides = ["baseline", "fivelens", "otel"]
    # Per round: each side's median call time and CPU per call in its block.
    wall = {s: [] for s in sides}
    cpu = {s: [] for s in sides}
    for side in sides:  # warm-up
        on(side)
        for _ in range(200):
            call()
        flush(side)
        off(side)
    clock = time.perf_counter_ns
    for r in range(rounds):
        for side in sides[r % 3:] + sides[:r % 3]:
            on(side)
            for _ in range(20):
                call()
            flush(side)
            times = []
            c0 = time.process_time_ns()
            for _ in range(block):
                t0 = clock()
                call()
                times.append(clock() - t0)
            flush(side)
            cpu[side].append((time.process_time_ns() - c0) / block / 1000)
            times.sort()
            wall[side].append(times[len(times) // 2] / 1000)
            off(side)
    print(json.dumps({"wall": wall, "cpu": cpu}))
    """
)


def run(
    python: str, content: str, url: str, endpoint: str, rounds: int, block: int
) -> dict[str, dict[str, list[float]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FIVELENS_"))}
    out = subprocess.run(
        [python, "-c", CHILD, content, url, endpoint, str(rounds), str(block)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{content} failed:\n{out.stderr}")
    result: dict[str, dict[str, list[float]]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def start(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"{args[0]} did not start: {line!r}")
    return proc, line[len("READY ") :]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter with fivelens, openai and the OTel packages"
    )
    parser.add_argument("--server", default=sys.executable, help="interpreter for the fake server")
    parser.add_argument("--receiver", required=True)
    parser.add_argument("--rounds", type=int, default=30, help="blocks per side, sides rotating")
    parser.add_argument("--block", type=int, default=200, help="calls per block")
    parser.add_argument("--json")
    args = parser.parse_args()

    server, ready = start([args.server, str(REPO / "tests" / "fake_llm_server.py")])
    url = json.loads(ready)["url"]
    receiver, ready = start([args.receiver, "--port", "0"])
    endpoint = json.loads(ready)["http"]
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    try:
        for content in ("content", "no-content"):
            results[content] = run(args.python, content, url, endpoint, args.rounds, args.block)
    finally:
        for proc in (server, receiver):
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)

    # Overheads are paired by round (each side minus the baseline block of the same round), then
    # the median over rounds: drift of the machine between rounds cancels out.
    result: dict[str, object] = {"rounds": args.rounds, "block": args.block}
    for content, r in results.items():
        entry: dict[str, float | None] = {
            "baseline_median_us": median(r["wall"]["baseline"]),
            "baseline_cpu_us": median(r["cpu"]["baseline"]),
        }
        for kind, key in (("caller", "wall"), ("cpu", "cpu")):
            base = r[key]["baseline"]
            for side in ("fivelens", "otel"):
                entry[f"{side}_{kind}_overhead_us"] = median([x - b for x, b in zip(r[key][side], base, strict=True)])
            theirs = entry[f"otel_{kind}_overhead_us"]
            ours = entry[f"fivelens_{kind}_overhead_us"]
            entry[f"{kind}_ratio"] = ours / theirs if theirs and theirs > 0 and ours is not None else None
        result[content] = entry
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
