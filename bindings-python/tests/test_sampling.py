"""Sampling: tail policies (errors, keep flag, latency, users, canary, baseline), head mode, the
standard OTel variables, bounded memory, and metrics that count every call whatever is dropped.
Every check is on what the OTLP receiver got."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import defaultdict
from typing import Any

import pytest

import fivelens
from conftest import Receiver, run_python


def traces(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in spans:
        out[s["trace_id"]].append(s)
    return out


def roots(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if not s.get("parent_span_id")]


def metric_points(receiver: Receiver, name: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(receiver.endpoint + "/metrics", timeout=10) as resp:
        points = [p for p in json.loads(resp.read()) if p["name"] == name]
    if not points:
        return []
    last = max(p["time_unix_nano"] for p in points)
    return [p for p in points if p["time_unix_nano"] == last]


def test_ten_thousand_calls_at_one_percent_metrics_exact_and_every_error_kept(receiver: Receiver) -> None:
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint,
        store="off",
        sampling=["errors", "keep", "baseline:0.01"],
        metrics_exporter="otlp",
        queue_size=200_000,
        prices=[{"provider": "acme", "model": "m1", "input": 1.0, "output": 2.0}],
    )
    input_total = output_total = 0
    error_traces: set[str] = set()
    for i in range(10_000):
        with fivelens.span("request") as root:
            fails = i % 97 == 0
            try:
                with fivelens.llm_call("acme", "m1") as call:
                    call.set_usage(100 + i % 7, 10 + i % 3)
                    input_total += 100 + i % 7
                    output_total += 10 + i % 3
                    if fails:
                        raise TimeoutError("upstream timed out")
            except TimeoutError:
                error_traces.add(root.trace_id)
    assert fivelens.flush(30.0)
    spans = receiver.spans()
    by_trace = traces(spans)
    assert error_traces <= set(by_trace), "every trace with an error is exported"
    baseline = [t for t in by_trace if t not in error_traces]
    assert 40 <= len(baseline) <= 170, len(baseline)  # about 1% of 9,896
    # Whole traces, and the decision on the root.
    for spans_of in by_trace.values():
        assert len(spans_of) == 2
        (root,) = roots(spans_of)
        reason = root["attributes"]["fivelens.sampling.reason"]
        assert reason in ("error", "baseline")
        assert root["attributes"]["fivelens.sampling.rate"] == (1.0 if reason == "error" else 0.01)

    # Metrics are never sampled: the exported counters are the exact totals of all 10,000 calls.
    tokens = {
        p["attributes"]["fivelens.token.type"]: p["value"] for p in metric_points(receiver, "fivelens.llm.tokens")
    }
    assert tokens == {"input": input_total, "output": output_total}
    cost = sum(p["value"] for p in metric_points(receiver, "fivelens.llm.cost"))
    assert cost == pytest.approx((input_total * 1.0 + output_total * 2.0) / 1e6, rel=1e-9)
    durations = metric_points(receiver, "gen_ai.client.operation.duration")
    assert sum(p["count"] for p in durations) == 10_000
    status = fivelens.status()
    assert status["sampling"]["traces_kept"] == len(by_trace)
    assert status["sampling"]["traces_kept"] + status["sampling"]["traces_dropped"] == 10_000


def test_a_user_is_always_in_or_always_out(receiver: Receiver) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, store="off", sampling=["users:0.3", "baseline:0"])
    per_user: dict[str, int] = {}
    for u in range(20):
        for _ in range(1000 if u == 0 else 50):
            with fivelens.context(user_id=f"user-{u}"), fivelens.span("turn"):
                pass
    assert fivelens.flush(30.0)
    spans = receiver.spans()
    for s in spans:
        per_user[s["attributes"]["user.hash"]] = per_user.get(s["attributes"]["user.hash"], 0) + 1
    first = fivelens._native.hash_user_id("user-0")
    assert per_user.get(first, 0) in (0, 1000)
    assert all(n == 50 for h, n in per_user.items() if h != first)
    assert 2 <= len(per_user) <= 12, per_user  # about 30% of 20 users

    # The same users are in for another process with the same key.
    code = """
        import fivelens
        fivelens.instrument(store="off", sampling=["users:0.3", "baseline:0"], testing=True)
        for u in range(20):
            with fivelens.context(user_id=f"user-{u}"), fivelens.span("turn"):
                pass
        fivelens.flush(10.0)
        print(sorted({s["attributes"]["user.hash"] for s in fivelens._native.finished_spans()}))
    """
    out = run_python(code, env={"FIVELENS_USER_HASH_KEY": "test-user-hash-key"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(sorted(per_user))


def test_canary_users_keep_every_span_and_are_marked(receiver: Receiver) -> None:
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint, store="off", sampling=["canary", "baseline:0"], canary_users=["vip-7"]
    )
    for user in ("vip-7", "someone", "vip-7"):
        with fivelens.context(user_id=user), fivelens.span("agent"):
            for i in range(5):
                with fivelens.span(f"step {i}"):
                    pass
    assert fivelens.flush(10.0)
    spans = receiver.spans()
    assert len(spans) == 12
    assert {s["attributes"]["user.hash"] for s in spans} == {fivelens._native.hash_user_id("vip-7")}
    for root in roots(spans):
        assert root["attributes"]["fivelens.canary"] is True
        assert root["attributes"]["fivelens.sampling.reason"] == "canary"


def test_latency_outliers_and_keep_trace_are_kept(receiver: Receiver) -> None:
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint, store="off", sampling=["keep", "latency:p99", "latency:2s", "baseline:0"]
    )
    for _ in range(300):
        with fivelens.span("search"):
            pass
    with fivelens.span("search") as slow:
        time.sleep(0.05)
    with fivelens.span("answer") as flagged, fivelens.span("guardrail"):
        assert fivelens.keep_trace("guardrail.block")
    assert fivelens.keep_trace() is False  # no current span
    assert fivelens.flush(10.0)
    spans = receiver.spans()
    kept = {s["trace_id"]: s for s in roots(spans)}
    assert {slow.trace_id, flagged.trace_id} <= set(kept)
    assert kept[slow.trace_id]["attributes"]["fivelens.sampling.reason"] == "latency"
    # The tail of the fast ones is the p99's own 1% (about 2 of the 200 judged once 100 were seen).
    tail = [t for t in kept if t not in (slow.trace_id, flagged.trace_id)]
    assert len(tail) <= 8, len(tail)
    assert all(kept[t]["attributes"]["fivelens.sampling.reason"] == "latency" for t in tail)
    assert kept[flagged.trace_id]["attributes"]["fivelens.sampling.reason"] == "keep:guardrail.block"
    assert len(traces(spans)[flagged.trace_id]) == 2


def test_standard_variables_mean_the_default_policies(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    report = fivelens.instrument(otlp_endpoint=receiver.endpoint, store="off")
    assert report.config["sampling"] == ["errors", "keep", "latency:p99", "canary", "baseline:0"]
    with pytest.raises(ValueError, match="boom"), fivelens.span("failing"):
        raise ValueError("boom")
    with fivelens.span("fine"):
        pass
    assert fivelens.flush(10.0)
    assert [s["name"] for s in receiver.spans()] == ["failing"]


def test_head_mode_does_not_build_dropped_spans_yet_counts_their_model_calls(receiver: Receiver) -> None:
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint,
        store="off",
        sampling=["baseline:0.5"],
        sampling_mode="head",
        metrics_exporter="otlp",
    )
    kept: set[str] = set()
    dropped_recording = []
    for _ in range(200):
        with fivelens.span("request") as root:
            with fivelens.span("step") as step:
                step.set_attribute("k", "v")
                (kept.add(root.trace_id) if root.sampled else dropped_recording.append(step.is_recording()))
            with fivelens.llm_call("acme", "m1") as call:
                call.set_usage(10, 1)
    assert fivelens.flush(10.0)
    spans = receiver.spans()
    assert {s["trace_id"] for s in spans} == kept
    assert 60 <= len(kept) <= 140
    assert dropped_recording and not any(dropped_recording)  # not built
    assert all(len(v) == 3 for v in traces(spans).values())
    # A dropped trace's traceparent says so to the next service.
    tokens = {
        p["attributes"]["fivelens.token.type"]: p["value"] for p in metric_points(receiver, "fivelens.llm.tokens")
    }
    assert tokens == {"input": 2000, "output": 200}
    assert fivelens.status()["spans"]["started"] < 3 * 200


def test_head_mode_scope_made_in_a_dropped_trace_keeps_its_attributes_when_recorded(receiver: Receiver) -> None:
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint, store="off", sampling=["canary"], sampling_mode="head", canary_users=["vip"]
    )
    with fivelens.span("dropped root") as root:
        assert not root.sampled
        scope = fivelens.span("reused", attributes={"a.b": 1}, k="v")  # made here, attributes deferred
        with scope as inner:
            assert not inner.is_recording()
    with fivelens.context(user_id="vip"), fivelens.span("kept root"), scope:
        pass
    assert fivelens.flush(10.0)
    spans = {s["name"]: s for s in receiver.spans()}
    assert set(spans) == {"kept root", "reused"}
    assert spans["reused"]["attributes"]["a.b"] == 1 and spans["reused"]["attributes"]["k"] == "v"


def test_memory_stays_bounded_with_100000_open_traces() -> None:
    code = """
        import resource, fivelens
        fivelens.instrument(store="off", sampling=["errors", "baseline:0"])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for i in range(100_000):
            root = fivelens.start_span("open request")  # never ended
            with fivelens.span("step", parent=root, payload="x" * 200):
                pass
            if i % 1000 == 0:
                fivelens.flush(30.0)
        fivelens.flush(60.0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        s = fivelens.status()["sampling"]
        print(before // 1024, peak // 1024, s["overflow"], s["traces_dropped"])
    """
    out = run_python(code, timeout=300)
    assert out.returncode == 0, out.stderr
    before_mb, peak_mb, overflow, dropped = map(int, out.stdout.split())
    print(f"RSS before {before_mb} MB, peak {peak_mb} MB, overflow decisions {overflow}")
    assert overflow >= 100_000 - 20_000 and dropped >= overflow
    # Held: at most 20,000 undecided traces (the default bound), whatever the number open.
    assert peak_mb - before_mb < 250, (before_mb, peak_mb)
