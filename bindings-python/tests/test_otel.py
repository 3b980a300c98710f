"""Correlation with the host's OpenTelemetry. Each case runs in a fresh interpreter, since the
OpenTelemetry API's globals can be set only once per process."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Receiver, run_python


def run(code: str, tmp_path: Path) -> dict:
    result = run_python(code, env={"FIVELENS_HOME": str(tmp_path), "FIVELENS_USER_HASH_KEY": "k" * 16})
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Overriding of current TracerProvider" not in result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_no_provider_configured_fivelens_provides_one_and_yields_to_the_app(tmp_path: Path) -> None:
    out = run(
        """
        import json, logging
        import fivelens
        from opentelemetry import trace, propagate
        logging.basicConfig()
        fivelens.instrument(store="off", testing=True, schedule_delay_ms=10)
        tracer = trace.get_tracer("some.library")
        with fivelens.context(session_id="s-otel"):
            with fivelens.span("ours") as ours:
                current = trace.get_current_span()
                current.set_attribute("set.via.otel", 1)
                carrier = {}
                propagate.inject(carrier)
                with tracer.start_as_current_span("otel-child", attributes={"lib.attr": "x"}):
                    inner = {}
                    propagate.inject(inner)
                    with fivelens.span("ours-under-otel"):
                        pass
        with tracer.start_as_current_span("otel-outside"):
            pass

        # The app configures its own SDK provider later: accepted, and fivelens attaches to it.
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        accepted = trace.get_tracer_provider() is provider
        with fivelens.span("ours-2") as ours2:
            with trace.get_tracer("app").start_as_current_span("app-child"):
                pass
        assert fivelens.flush(5)
        print(json.dumps({
            "ours": ours.span_id, "trace": ours.trace_id, "ours2": ours2.span_id,
            "current_matches": current.get_span_context().span_id == int(ours.span_id, 16),
            "carrier": carrier, "traceparent": ours.traceparent, "inner": inner,
            "accepted": accepted,
            "app_exported": [s.name for s in exporter.get_finished_spans()],
            "spans": fivelens._native.finished_spans(),
        }))
        """,
        tmp_path,
    )
    spans = {s["name"]: s for s in out["spans"]}
    assert out["current_matches"]
    assert out["carrier"]["traceparent"] == out["traceparent"], "OTel propagators inject fivelens's traceparent"
    assert set(spans) == {"ours", "otel-child", "ours-under-otel", "ours-2", "app-child"}, "otel-outside is not ours"
    assert spans["ours"]["attributes"]["set.via.otel"] == 1
    assert spans["otel-child"]["parent_span_id"] == out["ours"]
    assert spans["otel-child"]["trace_id"] == out["trace"]
    assert spans["otel-child"]["scope"] == "some.library"
    assert spans["otel-child"]["attributes"]["lib.attr"] == "x"
    assert spans["otel-child"]["attributes"]["session.id"] == "s-otel"
    assert out["inner"]["traceparent"].split("-")[2] == spans["otel-child"]["span_id"]
    assert spans["ours-under-otel"]["parent_span_id"] == spans["otel-child"]["span_id"]
    assert not spans["otel-child"]["store_only"]
    # After the app's provider took over.
    assert out["accepted"]
    assert out["app_exported"] == ["app-child"]
    assert spans["app-child"]["parent_span_id"] == out["ours2"]
    assert spans["app-child"]["store_only"], "the app exports its own spans; fivelens only stores them"


def test_app_sdk_provider_first_and_server_span_parents_ours(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "otel.db"
    out = run(
        f"""
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

        import fivelens
        fivelens.instrument(otlp_endpoint={receiver.endpoint!r}, store="on", store_path={str(db)!r},
                            schedule_delay_ms=10)
        tracer = trace.get_tracer("web.framework")
        with tracer.start_as_current_span("GET /ask", kind=trace.SpanKind.SERVER) as server:
            with fivelens.span("ours") as ours:
                with tracer.start_as_current_span("their-child"):
                    pass
        with tracer.start_as_current_span("unrelated"):
            pass
        assert fivelens.flush(5)
        sc = server.get_span_context()
        print(json.dumps({{
            "server_trace": f"{{sc.trace_id:032x}}", "server_span": f"{{sc.span_id:016x}}",
            "ours": ours.span_id, "ours_trace": ours.trace_id,
            "app_exported": sorted(s.name for s in exporter.get_finished_spans()),
        }}))
        """,
        tmp_path,
    )
    assert out["ours_trace"] == out["server_trace"], "the app's SERVER span is the parent"
    exported = {s["name"]: s for s in receiver.wait_for(1)}
    assert set(exported) == {"ours"}, "spans of the app's provider are never exported twice"
    assert exported["ours"]["parent_span_id"] == out["server_span"]
    assert out["app_exported"] == ["GET /ask", "their-child", "unrelated"], "the app's pipeline is untouched"

    import sqlite3

    conn = sqlite3.connect(db)
    rows = {
        name: (parent, attrs)
        for name, parent, attrs in conn.execute("SELECT name, parent_span_id, attributes FROM spans")
    }
    conn.close()
    assert set(rows) == {"ours", "their-child"}, "only spans inside the fivelens trace are recorded"
    assert rows["their-child"][0] == out["ours"]
    assert json.loads(rows["their-child"][1])["fivelens.otel.foreign"] is True


def test_bind_context_carries_the_otel_context_too(tmp_path: Path) -> None:
    out = run(
        """
        import json, threading
        import fivelens
        from opentelemetry import trace
        fivelens.instrument(store="off", testing=True, schedule_delay_ms=10)
        tracer = trace.get_tracer("lib")
        seen = {}
        def work():
            seen["otel"] = trace.get_current_span().get_span_context().span_id
            with fivelens.span("in-thread"):
                pass
        with fivelens.span("root"):
            with tracer.start_as_current_span("otel-mid") as mid:
                t = threading.Thread(target=work)
                t.start(); t.join()
        assert fivelens.flush(5)
        print(json.dumps({"seen": seen["otel"], "mid": mid.get_span_context().span_id,
                          "spans": fivelens._native.finished_spans()}))
        """,
        tmp_path,
    )
    spans = {s["name"]: s for s in out["spans"]}
    assert out["seen"] == out["mid"]
    assert spans["in-thread"]["parent_span_id"] == spans["otel-mid"]["span_id"]
