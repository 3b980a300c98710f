"""What a span costs the caller when its trace is dropped by head sampling, against a recorded one.

Each case runs in its own interpreter (warm-up, then rounds): a root span with 100 child spans
of 8 attributes each, fivelens with the local store off and no endpoint:

- ``recorded``: the default policies (every trace kept);
- ``head-dropped``: ``sampling_mode="head"``, ``sampling=["baseline:0"]``: the root is decided out
  when it starts, its children are not built;
- ``tail-dropped``: ``sampling=["errors", "baseline:0"]``: spans are built and handed over, and the
  processing thread drops the trace when its root ends (the caller pays as for ``recorded``).

Reported per child span: the caller's wall time (median over rounds) and the process CPU time (all
threads, to the end of a flush). Target (issue 7): a head-dropped span costs at most a third of a
recorded one.

Usage: python sampling_overhead.py [--rounds 7] [--traces 2000] [--json OUT]
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
    import fivelens
    case, traces, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    options = {
        "recorded": {},
        "head-dropped": {"sampling_mode": "head", "sampling": ["baseline:0"]},
        "tail-dropped": {"sampling": ["errors", "baseline:0"]},
    }[case]
    fivelens.instrument(store="off", queue_size=1 << 18, **options)
    ATTRS = dict(a="x", b="y", c=1, d=2, e=True, f=1.5, g="z", h="w")
    span = fivelens.span
    CHILDREN = 100

    def run(k):
        for _ in range(k):
            with span("request"):
                for _ in range(CHILDREN):
                    with span("op", **ATTRS):
                        pass

    run(200)
    fivelens.flush(30.0)
    walls, cpus = [], []
    for _ in range(rounds):
        c0, t0 = time.process_time(), time.perf_counter()
        run(traces)
        t1 = time.perf_counter()
        fivelens.flush(60.0)
        c1 = time.process_time()
        n = traces * (CHILDREN + 1)
        walls.append((t1 - t0) / n * 1e9)
        cpus.append((c1 - c0) / n * 1e9)
    status = fivelens.status()
    print(json.dumps({"wall_ns": walls, "cpu_ns": cpus, "dropped": status["spans"]["dropped_total"],
                      "sampling": status["sampling"]}))
    """
)


def measure(case: str, traces: int, rounds: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, case, str(traces), str(rounds)], capture_output=True, text=True, check=True
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "case": case,
        "wall_ns_per_span": statistics.median(data["wall_ns"]),
        "cpu_ns_per_span": statistics.median(data["cpu_ns"]),
        "queue_drops": data["dropped"],
        "sampling": data["sampling"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--traces", type=int, default=2000)
    ap.add_argument("--json")
    args = ap.parse_args()
    results = [measure(c, args.traces, args.rounds) for c in ("recorded", "head-dropped", "tail-dropped")]
    base = results[0]
    print(f"{'case':14} {'caller ns/span':>15} {'CPU ns/span':>12} {'caller ratio':>13}")
    for r in results:
        ratio = float(r["wall_ns_per_span"]) / float(base["wall_ns_per_span"])  # type: ignore[arg-type]
        r["caller_ratio_to_recorded"] = ratio
        print(f"{r['case']:14} {r['wall_ns_per_span']:15.0f} {r['cpu_ns_per_span']:12.0f} {ratio:13.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
