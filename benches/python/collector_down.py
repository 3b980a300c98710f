"""A collector that is down must not slow the application or grow its memory.

Runs the same workload against the loopback OTLP receiver (up) and against a closed port
(down), each in a fresh interpreter: the latency of each span (start, 8 attributes, end) as the
caller sees it, p50/p99/p99.9, and the peak RSS after 1,000,000 spans with the receiver down.

Usage: python collector_down.py --receiver PATH [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import fivelens
    endpoint, n = sys.argv[1], int(sys.argv[2])
    fivelens.instrument(otlp_endpoint=endpoint, integrations=["threads"], exit_timeout_ms=500)
    span = fivelens.span
    ATTRS = dict(a="x", b="y", c=1, d=2, e=True, f=1.5, g="z", h="w")
    for _ in range(20000):
        with span("warm", **ATTRS):
            pass
    lat = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        with span("op", **ATTRS):
            pass
        lat.append(clock() - t0)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000
    status = fivelens.status()
    print(json.dumps({
        "p50_us": q(0.50), "p99_us": q(0.99), "p999_us": q(0.999),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "spans": status["spans"]["ended"],
        "dropped": status["spans"]["dropped"],
        "exported": status["spans"]["exported"],
    }))
    """
)


def run(endpoint: str, n: int) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", CHILD, endpoint, str(n)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median_run(runs: list[dict[str, object]]) -> dict[str, object]:
    out = dict(runs[0])
    for key in ("p50_us", "p99_us", "p999_us", "max_rss_mb"):
        values = sorted(float(r[key]) for r in runs)  # type: ignore[arg-type]
        out[key] = values[len(values) // 2]
    out["p99_us_all"] = [r["p99_us"] for r in runs]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--receiver", required=True, help="path of the otlp-receiver binary")
    ap.add_argument("--json")
    args = ap.parse_args()

    receiver = subprocess.Popen([args.receiver], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    ready = json.loads(receiver.stdout.readline()[len("READY ") :])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    # Tail latencies move from run to run on a shared machine: alternate the two sides over
    # five passes and compare medians.
    ups, downs = [], []
    try:
        for _ in range(5):
            ups.append(run(ready["http"], 200_000))
            downs.append(run(f"http://127.0.0.1:{closed}", 200_000))
    finally:
        assert receiver.stdin is not None
        receiver.stdin.close()
        receiver.wait()
    up = median_run(ups)
    down = median_run(downs)
    million = run(f"http://127.0.0.1:{closed}", 1_000_000)

    print("Python: span latency with the collector up and down (200,000 spans a run, median of 5 alternating runs)")
    print(f"{'collector':<10} {'p50 us':>8} {'p99 us':>8} {'p99.9 us':>9} {'peak RSS MB':>12}")
    for name, r in (("up", up), ("down", down)):
        print(f"{name:<10} {r['p50_us']:>8.2f} {r['p99_us']:>8.2f} {r['p999_us']:>9.2f} {r['max_rss_mb']:>12.1f}")
    ratio = float(down["p99_us"]) / float(up["p99_us"])  # type: ignore[arg-type]
    print(f"p99 down / up: {ratio:.2f}x (target <= 2x)")
    print(
        f"1,000,000 spans with the collector down: peak RSS {million['max_rss_mb']:.1f} MB, "
        f"dropped {million['dropped']} (the export queue is bounded in bytes)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"collector_up": up, "collector_down": down, "down_1m": million, "p99_ratio": ratio}, f, indent=2)


if __name__ == "__main__":
    main()
