"""One span from Python (start, 8 attributes, end): fivelens against the OpenTelemetry Python SDK.

Both sides run in this process tree, on this machine, in the same run, alternating:

- OpenTelemetry SDK: ``TracerProvider`` + ``BatchSpanProcessor`` + an exporter that drops what it
  is given (and counts it), ``tracer.start_as_current_span(name, attributes=...)``.
- fivelens: ``with fivelens.span(name, **attributes)``, local store off and no OTLP endpoint (the
  processing thread receives every span and drops it), in a venv without ``opentelemetry-api``
  (``--plain-python``) and in one with it installed and the bridge active.

Each side runs in its own interpreter: warm-up, then rounds of N spans. Reported per span: the
caller's wall time (median over rounds) and the process CPU time (all threads, including the
background processing, from the start of the round to the end of a flush). Drops are checked:
the OTel exporter must have seen every span, fivelens's status must report none dropped.

Usage: python span_overhead.py --plain-python PATH [--rounds 7] [--spans 100000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, sys, time
    mode, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ATTRS = dict(a="x", b="y", c=1, d=2, e=True, f=1.5, g="z", h="w")

    if mode == "otel":
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class Dropping(SpanExporter):
            count = 0
            def export(self, spans):
                Dropping.count += len(spans)
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        processor = BatchSpanProcessor(Dropping(), max_queue_size=1 << 20)
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("bench")
        start = tracer.start_as_current_span

        def run(k):
            for _ in range(k):
                with start("op", attributes=ATTRS):
                    pass

        def flush():
            processor.force_flush()

        def dropped(total):
            return total - Dropping.count
    else:
        import fivelens
        fivelens.instrument(store="off", integrations=None if mode == "fivelens-bridge" else ["threads"])
        if mode == "fivelens-bridge":
            assert "opentelemetry" in fivelens.status()["instrumentation"]["enabled"]
        else:
            import importlib.util
            assert importlib.util.find_spec("opentelemetry") is None, "plain venv has opentelemetry"
        span = fivelens.span

        def run(k):
            for _ in range(k):
                with span("op", **ATTRS):
                    pass

        def flush():
            fivelens.flush(30)

        def dropped(total):
            return fivelens.status()["spans"]["dropped_total"]

    run(20000)
    flush()
    wall, cpu = [], []
    for _ in range(rounds):
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        run(n)
        t1 = time.perf_counter_ns()
        flush()
        c1 = time.process_time_ns()
        wall.append((t1 - t0) / n / 1000)
        cpu.append((c1 - c0) / n / 1000)
    print(json.dumps({"wall_us": wall, "cpu_us": cpu, "dropped": dropped(20000 + n * rounds)}))
    """
)


def measure(python: str, mode: str, n: int, rounds: int) -> dict[str, object]:
    out = subprocess.run([python, "-c", CHILD, mode, str(n), str(rounds)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plain-python", required=True, help="an interpreter whose venv has fivelens but no opentelemetry")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--spans", type=int, default=100_000)
    ap.add_argument("--json")
    args = ap.parse_args()

    sides = {
        "otel": sys.executable,
        "fivelens-bridge": sys.executable,
        "fivelens": args.plain_python,
    }
    samples: dict[str, dict[str, list[float]]] = {k: {"wall_us": [], "cpu_us": [], "dropped": []} for k in sides}
    # Alternate the sides over three passes so that drift hits all of them alike.
    for _ in range(3):
        for mode, python in sides.items():
            r = measure(python, mode, args.spans, args.rounds)
            samples[mode]["wall_us"] += r["wall_us"]  # type: ignore[operator]
            samples[mode]["cpu_us"] += r["cpu_us"]  # type: ignore[operator]
            samples[mode]["dropped"].append(r["dropped"])  # type: ignore[arg-type]

    summary = {
        mode: {
            "wall_us": statistics.median(s["wall_us"]),
            "cpu_us": statistics.median(s["cpu_us"]),
            "dropped": max(s["dropped"]),
        }
        for mode, s in samples.items()
    }
    otel = summary["otel"]
    print(f"Python: one span, start + 8 attributes + end ({args.spans:,} spans x {args.rounds} rounds x 3 passes)")
    print(f"{'side':<34} {'caller us/span':>15} {'CPU us/span':>12} {'vs OTel (caller)':>17} {'dropped':>8}")
    labels = {
        "otel": "OpenTelemetry SDK (batch, dropping)",
        "fivelens": "fivelens, no opentelemetry-api",
        "fivelens-bridge": "fivelens, OTel bridge active",
    }
    for mode in ("otel", "fivelens", "fivelens-bridge"):
        s = summary[mode]
        ratio = s["wall_us"] / otel["wall_us"]
        print(f"{labels[mode]:<34} {s['wall_us']:>15.2f} {s['cpu_us']:>12.2f} {ratio:>16.3f}x {s['dropped']:>8}")
    print(
        "targets: fivelens <= 0.100x (no OTel API) and <= 0.200x (bridge): "
        f"{summary['fivelens']['wall_us'] / otel['wall_us']:.3f}x and "
        f"{summary['fivelens-bridge']['wall_us'] / otel['wall_us']:.3f}x"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python_span": summary}, f, indent=2)


if __name__ == "__main__":
    main()
