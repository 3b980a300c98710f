"""The behaviour lens at the real OTLP receiver: guardrail spans, verdict counters and the keep
flag; false positives, over-redaction reports and resubmissions; confidence, intent, re-ranker
and prompt-growth signals; drift against golden outputs (lexical in the core, an embedding
function on the pool, goldens in a file and in the store); asynchronous evaluations that never
delay the request path; Time-To-Good-Output across regenerations, in process and across
processes through the store, and `fivelens stats`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import fivelens
from conftest import Receiver, run_python


def latest(receiver: Receiver, name: str) -> list[dict[str, Any]]:
    points = [p for p in receiver.metrics() if p["name"] == name]
    if not points:
        return []
    last = max(p["time_unix_nano"] for p in points)
    return [p for p in points if p["time_unix_nano"] == last]


def by_name(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        out.setdefault(s["name"], []).append(s)
    return out


def start(receiver: Receiver, **options: Any) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, metrics_exporter="otlp", **options)


def test_guardrail_spans_counters_and_a_block_keeps_its_trace(receiver: Receiver) -> None:
    start(receiver, store="off", sampling=["keep", "baseline:0"])
    with fivelens.span("allowed request"):
        with fivelens.guardrail("toxicity") as check:
            check.record("pass", scores={"toxicity": 0.1, "insult": 0.05})
    with fivelens.span("blocked request"):
        with fivelens.guardrail("toxicity") as check:
            check.record("block", action="refuse", scores={"toxicity": 0.97})

    @fivelens.guardrail("pii")
    def pii_check(text: str) -> dict[str, Any]:
        return {"verdict": "flag", "scores": {"pii": 0.7}}

    with fivelens.span("flagged request"):
        assert pii_check("call me on 555-0100") == {"verdict": "flag", "scores": {"pii": 0.7}}
    assert fivelens.flush(10)

    spans = by_name(receiver.spans())
    # Only the trace with a block passes a baseline of 0: the keep flag kept it.
    assert set(spans) == {"blocked request", "guardrail toxicity"}
    check_span = spans["guardrail toxicity"][0]
    a = check_span["attributes"]
    assert a["fivelens.guardrail.policy"] == "toxicity"
    assert a["fivelens.guardrail.verdict"] == "block"
    assert a["fivelens.guardrail.action"] == "refuse"
    assert a["fivelens.guardrail.score.toxicity"] == pytest.approx(0.97)
    assert a["fivelens.sampling.keep"] == "guardrail:toxicity"
    assert check_span["parent_span_id"] == spans["blocked request"][0]["span_id"]
    assert check_span["end_time_unix_nano"] >= check_span["start_time_unix_nano"]

    # Counters count every check, kept or not.
    verdicts = {
        (
            p["attributes"]["fivelens.guardrail.policy"],
            p["attributes"]["fivelens.guardrail.verdict"],
            p["attributes"]["fivelens.guardrail.action"],
        ): p["value"]
        for p in latest(receiver, "fivelens.guardrail.verdicts")
    }
    assert verdicts == {
        ("toxicity", "pass", "allow"): 1,
        ("toxicity", "block", "refuse"): 1,
        ("pii", "flag", "allow"): 1,
    }
    durations = latest(receiver, "fivelens.guardrail.duration")
    assert sum(p["count"] for p in durations) == 3


def test_false_positives_over_redactions_and_resubmissions(receiver: Receiver) -> None:
    start(receiver, store="off")
    with fivelens.span("first submit"), fivelens.guardrail("jailbreak") as check:
        check.record("block")
        blocked = check.span
    with fivelens.span("other submit"), fivelens.guardrail("jailbreak") as check:
        check.record("flag")
    # A reviewer, later, with the check's traceparent; a user report with the trace id only.
    assert fivelens.feedback.false_positive(blocked.traceparent, "jailbreak", reason="a recipe question")
    assert fivelens.feedback.over_redaction(blocked.trace_id, "phone")
    with fivelens.span("resubmit"), fivelens.guardrail("jailbreak", resubmission_of=blocked) as check:
        check.record("pass")
    assert fivelens.flush(10)

    spans = by_name(receiver.spans())
    fp = spans["feedback false_positive"][0]
    assert fp["trace_id"] == blocked.trace_id
    assert fp["parent_span_id"] == blocked.span_id
    assert fp["attributes"]["fivelens.guardrail.policy"] == "jailbreak"
    assert fp["attributes"]["fivelens.feedback.reason"] == "a recipe question"
    resubmitted = next(
        s for s in spans["guardrail jailbreak"] if s["attributes"]["fivelens.guardrail.verdict"] == "pass"
    )
    assert resubmitted["attributes"]["fivelens.guardrail.resubmission"] is True
    assert [(link["trace_id"], link["span_id"]) for link in resubmitted["links"]] == [
        (blocked.trace_id, blocked.span_id)
    ]

    assert [p["value"] for p in latest(receiver, "fivelens.guardrail.false_positives")] == [1]
    # One false positive over two flagged or blocked checks.
    rate = latest(receiver, "fivelens.guardrail.false_positive_rate")
    assert [(p["kind"], p["attributes"]["fivelens.guardrail.policy"], p["value"]) for p in rate] == [
        ("gauge", "jailbreak", 0.5)
    ]
    assert [p["value"] for p in latest(receiver, "fivelens.guardrail.resubmissions")] == [1]
    over = latest(receiver, "fivelens.redaction.over_redactions")
    assert [(p["attributes"]["fivelens.pii.type"], p["value"]) for p in over] == [("PHONE", 1)]


def test_confidence_intent_rerank_and_prompt_growth(receiver: Receiver) -> None:
    start(receiver, store="off", intent_low_confidence_threshold=0.6)
    with fivelens.span("classify"):
        fivelens.record_confidence(0.83, source="answer")
        assert fivelens.record_intent({"refund": 0.55, "cancel": 0.3, "other": 0.15}) == ("refund", 0.55)
    with fivelens.span("classify sure"):
        fivelens.record_intent({"refund": 0.92, "other": 0.08})
    with fivelens.span("retrieve"):
        assert fivelens.record_rerank([0.91, 0.4, 0.12]) == pytest.approx(0.79)
    with fivelens.prompt("support", version="v7"):
        for tokens in (1000, 1200):
            with fivelens.llm_call("acme", "m1") as call:
                call.set_usage(tokens, 10)
    assert fivelens.flush(10)

    spans = by_name(receiver.spans())
    a = spans["classify"][0]["attributes"]
    assert a["fivelens.confidence.score"] == pytest.approx(0.83)
    assert a["fivelens.intent.name"] == "refund"
    assert a["fivelens.intent.scores.cancel"] == pytest.approx(0.3)
    assert a["fivelens.intent.low_confidence"] is True
    assert spans["classify sure"][0]["attributes"]["fivelens.intent.low_confidence"] is False
    r = spans["retrieve"][0]["attributes"]
    assert (r["fivelens.rerank.top_score"], r["fivelens.rerank.bottom_score"], r["fivelens.rerank.documents"]) == (
        0.91,
        0.12,
        3,
    )

    confidence = latest(receiver, "fivelens.confidence")
    assert [(p["attributes"], p["count"], p["sum"]) for p in confidence] == [
        ({"fivelens.confidence.source": "answer"}, 1, pytest.approx(0.83))
    ]
    assert sum(p["count"] for p in latest(receiver, "fivelens.intent.score")) == 2
    low = latest(receiver, "fivelens.intent.low_confidence")
    assert [(p["attributes"]["fivelens.intent.name"], p["value"]) for p in low] == [("refund", 1)]
    spread = latest(receiver, "fivelens.rerank.spread")
    assert [(p["count"], p["sum"]) for p in spread] == [(1, pytest.approx(0.79))]
    growth = latest(receiver, "fivelens.prompt.input_tokens")
    assert [(p["attributes"]["gen_ai.prompt.version"], p["count"], p["sum"]) for p in growth] == [("v7", 2, 2200)]


def test_drift_lexical_with_goldens_in_a_file_and_in_the_store(receiver: Receiver, tmp_path: Path) -> None:
    goldens = tmp_path / "goldens.json"
    goldens.write_text(json.dumps([{"prompt_version": "file-v1", "output": "Refunds take five business days."}]))
    start(receiver, store="off", drift_goldens_file=str(goldens))
    with fivelens.span("same"):
        fivelens.check_drift("Refunds take five business days.", prompt_version="file-v1")
    with fivelens.span("drifted"):
        fivelens.check_drift("Refunds take seven business days.", prompt_version="file-v1")
    fivelens.register_golden("file-v2", "Hello there", input="greeting")
    with fivelens.span("per input"):
        fivelens.check_drift("hello there", prompt_version="file-v2", input="greeting")
    with fivelens.span("no golden"):
        fivelens.check_drift("anything", prompt_version="unknown")
    assert fivelens.flush(10)

    spans = {s["name"]: s["attributes"] for s in receiver.spans()}
    assert spans["same"]["fivelens.drift.similarity"] == pytest.approx(1.0)
    assert 0.5 < spans["drifted"]["fivelens.drift.similarity"] < 1.0
    assert spans["drifted"]["fivelens.drift.method"] == "lexical"
    assert spans["per input"]["fivelens.drift.similarity"] == pytest.approx(1.0)
    assert spans["no golden"]["fivelens.drift.golden_missing"] is True
    assert not any(k.startswith("fivelens._") for a in spans.values() for k in a)
    hist = {
        p["attributes"]["fivelens.drift.prompt_version"]: p["count"]
        for p in latest(receiver, "fivelens.drift.similarity")
    }
    assert hist == {"file-v1": 2, "file-v2": 1}
    # The registration was written to the named file.
    saved = json.loads(goldens.read_text())
    assert {"prompt_version": "file-v2", "input": "greeting", "output": "Hello there"} in saved

    fivelens.shutdown(5)
    start(receiver, store="on")
    fivelens.register_golden("store-v1", "Stored golden answer")
    assert fivelens.flush(10)
    db = Path(fivelens.status()["pipeline"]["store"])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT prompt_version, input, output FROM behaviour_goldens").fetchall()
    assert ("store-v1", "", "Stored golden answer") in rows


def test_drift_with_an_embedding_function_runs_on_the_pool(receiver: Receiver) -> None:
    start(receiver, store="off")
    calls: list[str] = []

    def embed(text: str) -> list[float]:
        calls.append(threading.current_thread().name)
        return [float(text.count(c)) for c in "aeiou"]

    fivelens.register_golden("emb-v1", "a cat sat on a mat")
    with fivelens.span("answer") as span:
        fivelens.check_drift("a cat sat on a hat", prompt_version="emb-v1", embed=embed)
    fivelens.wait_for_evaluations()
    assert fivelens.flush(10)
    assert calls and all(name.startswith("fivelens-eval") for name in calls)
    records = [r for r in receiver.wait_for_logs(1) if r.get("event_name") == "gen_ai.evaluation.result"]
    assert len(records) == 1
    rec = records[0]
    assert (rec["trace_id"], rec["span_id"]) == (span.trace_id, span.span_id)
    assert rec["attributes"]["gen_ai.evaluation.name"] == "fivelens.drift"
    assert rec["attributes"]["gen_ai.evaluation.score.value"] == pytest.approx(1.0)
    hist = latest(receiver, "fivelens.drift.similarity")
    assert [(p["attributes"]["fivelens.drift.method"], p["count"]) for p in hist] == [("embedding", 1)]


def test_a_slow_evaluator_never_delays_the_response(receiver: Receiver) -> None:
    start(receiver, store="off")
    release = threading.Event()
    finished: list[bool] = []

    def judge(sample: fivelens.EvaluationSample) -> fivelens.EvaluationResult:
        # Blocks until the test lets it go, which it does only after the response returned.
        ok = release.wait(30)
        finished.append(ok)
        return fivelens.EvaluationResult(score=0.2, label="hallucinated", explanation="not in the context")

    fivelens.register_evaluator("hallucination", judge)
    try:

        def handle_request() -> tuple[str, Any]:
            with fivelens.span("request") as span:
                assert fivelens.evaluate(output="The moon is cheese.", context=["The moon is rock."]) == 1
                return "The moon is cheese.", span

        response, span = handle_request()
        # The response is back and the evaluator has not finished (it cannot before release).
        assert response == "The moon is cheese."
        assert finished == []
        release.set()
        fivelens.wait_for_evaluations()
        assert finished == [True]
        assert fivelens.flush(10)
    finally:
        fivelens.unregister_evaluator("hallucination")

    records = [r for r in receiver.wait_for_logs(1) if r.get("event_name") == "gen_ai.evaluation.result"]
    assert len(records) == 1
    a = records[0]["attributes"]
    assert (records[0]["trace_id"], records[0]["span_id"]) == (span.trace_id, span.span_id)
    assert (a["gen_ai.evaluation.name"], a["gen_ai.evaluation.score.label"]) == ("hallucination", "hallucinated")
    assert a["gen_ai.evaluation.score.value"] == pytest.approx(0.2)
    assert [(p["count"], p["sum"]) for p in latest(receiver, "fivelens.evaluation.score")] == [(1, pytest.approx(0.2))]
    assert [p["value"] for p in latest(receiver, "fivelens.evaluation.hallucination_rate")] == [1.0]


def test_a_saturated_pool_drops_and_counts(receiver: Receiver) -> None:
    start(receiver, store="off", evaluation_workers=1, evaluation_queue_size=1)
    release = threading.Event()
    fivelens.register_evaluator("slow", lambda sample: release.wait(30) and 1.0)
    try:
        with fivelens.span("burst"):
            queued = sum(fivelens.evaluate(output=f"answer {i}") for i in range(6))
        # One running and one waiting at most: the rest were dropped at once.
        assert 1 <= queued <= 2
        release.set()
        fivelens.wait_for_evaluations()
        assert fivelens.flush(10)
    finally:
        fivelens.unregister_evaluator("slow")
    dropped = latest(receiver, "fivelens.evaluation.dropped")
    assert [(p["attributes"]["gen_ai.evaluation.name"], p["value"]) for p in dropped] == [("slow", 6 - queued)]
    assert fivelens.status()["behaviour"]["evaluations_dropped"] >= 6 - queued


def attempt(name: str) -> tuple[str, int, int]:
    with fivelens.context(session_id="s-42"), fivelens.span(name) as span:
        traceparent = span.traceparent
    return traceparent, 0, 0


def test_ttgo_spans_all_three_attempts_of_a_session_with_two_regenerations(receiver: Receiver) -> None:
    start(receiver, store="on")
    first, _, _ = attempt("submit 1")
    assert fivelens.record_outcome(first, "regenerated")
    second, _, _ = attempt("submit 2")
    assert fivelens.record_outcome(second, "regenerated")
    third, _, _ = attempt("submit 3")
    assert fivelens.record_outcome(third, "accepted")
    assert not fivelens.record_outcome(third, "liked")
    assert fivelens.flush(10)

    spans = by_name(receiver.spans())
    accepted = spans["outcome accepted"][0]
    assert accepted["trace_id"] == third.split("-")[1]
    assert accepted["parent_span_id"] == third.split("-")[2]
    a = accepted["attributes"]
    assert a["fivelens.user.outcome"] == "accepted"
    assert a["session.id"] == "s-42"
    assert a["fivelens.ttgo.attempts"] == 3
    # From the first submit's start to the acceptance: it covers all three attempts.
    span_all = accepted["end_time_unix_nano"] - spans["submit 1"][0]["start_time_unix_nano"]
    assert a["fivelens.ttgo"] == pytest.approx(span_all / 1e9, abs=1e-6)
    assert (
        a["fivelens.ttgo"] * 1e9
        >= spans["submit 3"][0]["end_time_unix_nano"] - spans["submit 1"][0]["start_time_unix_nano"]
    )

    ttgo = latest(receiver, "fivelens.ttgo")
    assert [(p["attributes"], p["count"]) for p in ttgo] == [({"fivelens.user.outcome": "accepted"}, 1)]
    outcomes = {
        p["attributes"]["fivelens.user.outcome"]: p["value"] for p in latest(receiver, "fivelens.user.outcomes")
    }
    assert outcomes == {"regenerated": 2, "accepted": 1}
    assert [p["value"] for p in latest(receiver, "fivelens.regenerate_rate")] == [pytest.approx(2 / 3)]

    out = subprocess.run(
        [sys.executable, "-m", "fivelens", "stats", "--json"], capture_output=True, text=True, timeout=60
    )
    behaviour = json.loads(out.stdout)["behaviour"]
    assert behaviour["outcomes"] == {"accepted": 1, "regenerated": 2}
    assert behaviour["regenerate_rate"] == pytest.approx(2 / 3)
    assert behaviour["ttgo_sessions"] == 1
    text = subprocess.run(
        [sys.executable, "-m", "fivelens", "stats"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "regenerate rate 66.7%" in text and "TTGO            1 sessions" in text


def test_ttgo_across_processes_through_the_store(receiver: Receiver) -> None:
    # Two submits handled by another worker process sharing the store...
    child = run_python(
        """
        import fivelens
        fivelens.instrument(store="on")
        tps = []
        for i in range(2):
            with fivelens.context(session_id="s-7"), fivelens.span(f"submit {i}") as s:
                tps.append(s.traceparent)
        fivelens.record_outcome(tps[0], "regenerated")
        fivelens.flush(10)
        print(" ".join(tps))
        """
    )
    assert child.returncode == 0, child.stderr
    _first, second = child.stdout.split()
    # ...then the outcome of the second arrives here, and a third submit is accepted here.
    start(receiver, store="on")
    with fivelens.context(session_id="s-7"):
        assert fivelens.record_outcome(second, "regenerated")
    third, _, _ = attempt_in("s-7", "submit 2")
    assert fivelens.record_outcome(third, "accepted")
    assert fivelens.flush(10)
    accepted = by_name(receiver.spans())["outcome accepted"][0]["attributes"]
    assert accepted["fivelens.ttgo.attempts"] == 3


def attempt_in(session: str, name: str) -> tuple[str, int, int]:
    with fivelens.context(session_id=session), fivelens.span(name) as span:
        traceparent = span.traceparent
    return traceparent, 0, 0
