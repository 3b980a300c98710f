"""The logs lens at the real OTLP receiver: the app's own ``logging`` and structlog records tied to
the span they were logged in (a LangGraph agent's tool run), redacted, cut to size, stopped by
the per-trace budget, filtered by level; LLM events (inference details, the reasoning journal,
evaluations) as log records; the app's own handlers and output unchanged; ``fivelens logs``."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

import fivelens
from conftest import Receiver, run_python

log = logging.getLogger("app.agent")


class ScriptedModel(FakeMessagesListChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


@tool
def lookup_order(order_id: str) -> str:
    """Look an order up."""
    log.warning("looking up order %s for jane.doe@example.com", order_id, extra={"order.id": order_id})
    return "shipped"


class ListHandler(logging.Handler):
    def __init__(self, fmt: str) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter(fmt))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def app_handler() -> Iterator[ListHandler]:
    h = ListHandler("%(levelname)s %(name)s %(message)s")
    log.addHandler(h)
    log.setLevel(logging.DEBUG)
    yield h
    log.removeHandler(h)
    log.setLevel(logging.NOTSET)


def by_body(logs: list[dict[str, Any]], text: str) -> dict[str, Any]:
    found = [r for r in logs if isinstance(r["body"], str) and text in r["body"]]
    assert len(found) == 1, [r["body"] for r in logs]
    return found[0]


def test_a_record_logged_in_an_agent_run_carries_the_runs_trace_and_span(
    receiver: Receiver, app_handler: ListHandler
) -> None:
    from langchain.agents import create_agent

    fivelens.instrument(
        otlp_endpoint=receiver.endpoint,
        service_name="logs-agent",
        inference_events=True,
        agent_journal="logs",
        metric_export_interval_ms=60_000,
    )
    first = AIMessage(
        content="I should look the order up.",
        tool_calls=[{"name": "lookup_order", "args": {"order_id": "A-17"}, "id": "call-1"}],
        usage_metadata={"input_tokens": 12, "output_tokens": 6, "total_tokens": 18},
        response_metadata={"finish_reason": "tool_calls", "model_name": "scripted-1"},
    )
    last = AIMessage(
        content="It has shipped.",
        usage_metadata={"input_tokens": 30, "output_tokens": 4, "total_tokens": 34},
        response_metadata={"finish_reason": "stop", "model_name": "scripted-1"},
    )
    agent = create_agent(ScriptedModel(responses=[first, last]), [lookup_order], name="support")
    with fivelens.context(session_id="s-42", user_id="jane"):
        agent.invoke({"messages": [HumanMessage("Where is order A-17?")]})
    assert fivelens.flush(10)

    spans = receiver.wait_for(7)
    tool_span = next(s for s in spans if s["name"] == "execute_tool lookup_order")
    trace_id = tool_span["trace_id"]
    assert {s["trace_id"] for s in spans} == {trace_id}
    logs = receiver.wait_for_logs(4)
    record = by_body(logs, "looking up order A-17")
    assert record["trace_id"] == trace_id
    assert record["span_id"] == tool_span["span_id"]
    assert record["severity_number"] == 13 and record["severity_text"] == "WARNING"
    assert record["scope"] == "app.agent"
    assert record["body"] == "looking up order A-17 for <EMAIL>"
    assert record["attributes"]["order.id"] == "A-17"
    assert record["attributes"]["session.id"] == "s-42"
    assert record["attributes"]["user.hash"] == fivelens._native.hash_user_id("jane")
    assert record["attributes"]["code.function.name"] == "lookup_order"
    assert record["attributes"]["fivelens.log.source"] == "logging"
    assert record["resource"]["service.name"] == "logs-agent"

    # The model calls' inference details and the reasoning journal, as records of their spans.
    chats = [s for s in spans if s["name"] == "chat scripted-1"]
    details = [r for r in logs if r["event_name"] == "gen_ai.client.inference.operation.details"]
    assert sorted(r["span_id"] for r in details) == sorted(s["span_id"] for s in chats)
    assert details[0]["attributes"]["gen_ai.request.model"] == "scripted-1"
    assert isinstance(details[0]["attributes"]["gen_ai.input.messages"], list)
    thought = next(r for r in logs if r["event_name"] == "fivelens.agent.step" and "look the order up" in r["body"])
    assert thought["trace_id"] == trace_id
    assert thought["attributes"]["fivelens.step.kind"] == "thought"
    assert all(e["name"] != "fivelens.agent.step" for s in spans for e in s["events"])

    # Metrics of the same run reach the receiver too (flush pushes them).
    names = {p["name"] for p in receiver.metrics()}
    assert "gen_ai.client.token.usage" in names

    # The app's own handler saw its record as it would have without fivelens.
    assert app_handler.lines == ["WARNING app.agent looking up order A-17 for jane.doe@example.com"]


def test_pii_in_a_log_message_and_its_attributes_is_redacted(receiver: Receiver, app_handler: ListHandler) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint)
    with fivelens.span("checkout"):
        log.error(
            "payment failed for %s with card %s",
            "jane.doe@example.com",
            "4111 1111 1111 1111",
            extra={"customer.phone": "+1 506 130 5127"},
        )
    assert fivelens.flush(10)
    record = by_body(receiver.wait_for_logs(1), "payment failed")
    assert record["body"] == "payment failed for <EMAIL> with card <CREDIT_CARD>"
    assert record["attributes"]["customer.phone"] == "<PHONE>"
    assert record["attributes"]["fivelens.redaction.email"] == 1
    assert "jane.doe" in app_handler.lines[0], "the app's own output is not redacted"


def test_the_budget_stops_a_flood(receiver: Receiver) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, logs_trace_budget_bytes=20_000, logs_queue_size=50_000)
    log.setLevel(logging.INFO)
    try:
        with fivelens.span("runaway agent") as runaway:
            for i in range(3000):
                log.info("iteration %d: still thinking about the same thing, again and again", i)
        with fivelens.span("next request") as other:
            log.warning("a normal request")
    finally:
        log.setLevel(logging.NOTSET)
    assert fivelens.flush(10)
    logs = receiver.wait_for_logs(2)
    flood = [r for r in logs if r["trace_id"] == runaway.trace_id]
    assert 30 < len(flood) < 200, len(flood)
    marker = [r for r in flood if r["event_name"] == "fivelens.logs.budget_exhausted"]
    assert len(marker) == 1 and marker[0]["attributes"]["fivelens.logs.budget_bytes"] == 20_000
    assert [r["body"] for r in logs if r["trace_id"] == other.trace_id] == ["a normal request"]
    counts = fivelens.status()["logs"]
    assert counts["dropped_budget"] == 3000 - (len(flood) - 1)
    assert counts["received"] >= 3001


def test_the_apps_handlers_and_output_are_unchanged(receiver: Receiver, app_handler: ListHandler) -> None:
    root = logging.getLogger()
    handlers_before = list(root.handlers)
    fivelens.instrument(otlp_endpoint=receiver.endpoint)
    assert root.handlers == handlers_before, "no handler is added (logging.lastResort keeps working)"
    correlated = ListHandler("%(trace_id)s/%(span_id)s %(message)s")
    log.addHandler(correlated)
    try:
        log.info("outside")
        with fivelens.span("inside") as s:
            log.info("inside")
            # An app passing our field names in `extra=` keeps its value, and no KeyError.
            log.info("own ids", extra={"trace_id": "mine"})
        logging.getLogger("fivelens.internal").error("fivelens's own records are not captured")
    finally:
        log.removeHandler(correlated)
    assert app_handler.lines == ["INFO app.agent outside", "INFO app.agent inside", "INFO app.agent own ids"]
    assert correlated.lines == ["/ outside", f"{s.trace_id}/{s.span_id} inside", f"mine/{s.span_id} own ids"]
    assert fivelens.flush(10)
    bodies = [r["body"] for r in receiver.wait_for_logs(3)]
    assert sorted(bodies) == ["inside", "outside", "own ids"]
    # log_context() for apps that format their own lines.
    with fivelens.span("ctx") as c:
        assert fivelens.log_context()["span_id"] == c.span_id
    assert fivelens.log_context() == {"trace_id": "", "span_id": "", "session_id": "", "user_hash": ""}


def test_last_resort_output_is_unchanged_in_a_fresh_process(receiver: Receiver) -> None:
    code = f"""
import logging, fivelens
fivelens.instrument(otlp_endpoint={receiver.endpoint!r})
with fivelens.span("job"):
    logging.getLogger("plain").warning("disk almost full")
fivelens.flush(5)
"""
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "disk almost full"
    assert by_body(receiver.wait_for_logs(1), "disk almost full")["trace_id"] != ""


def test_the_level_filter(receiver: Receiver) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint, logs_level="warning")
    log.setLevel(logging.DEBUG)
    try:
        log.debug("debug detail")
        log.info("info detail")
        log.warning("a warning")
    finally:
        log.setLevel(logging.NOTSET)
    assert fivelens.flush(10)
    assert [r["body"] for r in receiver.wait_for_logs(1, timeout=2)] == ["a warning"]


def test_capture_logs_off_leaves_logging_alone(receiver: Receiver) -> None:
    factory = logging.getLogRecordFactory()
    report = fivelens.instrument(otlp_endpoint=receiver.endpoint, capture_logs=False)
    assert report.skipped["logging"] == "capture_logs is off"
    assert logging.getLogRecordFactory() is factory
    with fivelens.span("quiet"):
        logging.getLogger("app").warning("not exported")
    assert fivelens.flush(10)
    assert receiver.wait_for_logs(1, timeout=1) == []


def test_structlog_events_are_exported_and_its_output_unchanged(receiver: Receiver) -> None:
    import structlog

    out = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.KeyValueRenderer(sort_keys=True)],
        logger_factory=structlog.PrintLoggerFactory(out),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        fivelens.instrument(otlp_endpoint=receiver.endpoint)
        slog = structlog.get_logger()
        with fivelens.span("handler") as s:
            slog.warning("refund issued", amount=12.5, email="jane.doe@example.com")
        assert out.getvalue() == "amount=12.5 email='jane.doe@example.com' event='refund issued' level='warning'\n"
        assert fivelens.flush(10)
        record = by_body(receiver.wait_for_logs(1), "refund issued")
        assert (record["trace_id"], record["span_id"]) == (s.trace_id, s.span_id)
        assert record["attributes"]["amount"] == 12.5
        assert record["attributes"]["email"] == "<EMAIL>"
        assert record["attributes"]["fivelens.log.source"] == "structlog"
        assert record["severity_number"] == 13
        fivelens.shutdown(2)

        # With logs_inject_context the app's renderer prints the correlation fields.
        out.truncate(0)
        out.seek(0)
        fivelens.instrument(otlp_endpoint=receiver.endpoint, logs_inject_context=True)
        with fivelens.span("handler") as s2:
            structlog.get_logger().info("with ids")
        line = out.getvalue()
        assert f"trace_id='{s2.trace_id}'" in line and f"span_id='{s2.span_id}'" in line, line
    finally:
        structlog.reset_defaults()


def test_evaluations_are_events_tied_to_their_span(receiver: Receiver) -> None:
    fivelens.instrument(otlp_endpoint=receiver.endpoint)
    with fivelens.span("chat gpt-4o") as judged:
        pass
    fivelens.record_evaluation(
        "relevance",
        score_value=0.25,
        score_label="irrelevant",
        explanation="the answer mentions jane.doe@example.com instead",
        response_id="resp-1",
        span=judged,
    )
    assert fivelens.flush(10)
    record = receiver.wait_for_logs(1)[0]
    assert record["event_name"] == "gen_ai.evaluation.result"
    assert (record["trace_id"], record["span_id"]) == (judged.trace_id, judged.span_id)
    assert record["attributes"]["gen_ai.evaluation.name"] == "relevance"
    assert record["attributes"]["gen_ai.evaluation.score.value"] == 0.25
    assert record["attributes"]["gen_ai.evaluation.score.label"] == "irrelevant"
    assert record["attributes"]["gen_ai.evaluation.explanation"] == "the answer mentions <EMAIL> instead"
    assert record["attributes"]["gen_ai.response.id"] == "resp-1"


def test_fivelens_logs_reads_the_store(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    fivelens.instrument(store="on", store_path=str(db))
    log.setLevel(logging.INFO)
    try:
        with fivelens.span("request") as s:
            log.info("step one")
            log.warning("step two")
    finally:
        log.setLevel(logging.NOTSET)
    assert fivelens.flush(10)
    fivelens.shutdown(5)
    argv = ["logs", s.trace_id[:10], "--json", "--db", str(db)]
    out = run_python(f"import sys, fivelens; sys.exit(fivelens._native.cli_main({argv!r}))")
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)["logs"]
    assert [r["body"] for r in records] == ["step one", "step two"]
    assert {r["span_id"] for r in records} == {s.span_id}
