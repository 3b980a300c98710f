"""Spans from Python: nesting, attributes, errors, decorators, bad input, configuration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import fivelens
from conftest import span_tree
from fivelens import _native


def start(**options: Any) -> fivelens.InstrumentReport:
    options.setdefault("store", "off")
    options.setdefault("testing", True)
    options.setdefault("schedule_delay_ms", 10)
    return fivelens.instrument(**options)


def finished() -> list[dict[str, Any]]:
    assert fivelens.flush(5)
    return _native.finished_spans()


def test_nested_spans_share_a_trace_and_parent_correctly() -> None:
    start()
    with fivelens.span("root", kind="server") as root:
        assert fivelens.current_span() is root
        with fivelens.span("child") as child:
            assert fivelens.current_span() is child
            with fivelens.span("grandchild"):
                pass
        assert fivelens.current_span() is root
    assert fivelens.current_span() is None
    spans = span_tree(finished())
    assert {s["trace_id"] for s in spans.values()} == {root.trace_id}
    assert spans["root"]["parent_span_id"] == ""
    assert spans["root"]["kind"] == "server"
    assert spans["child"]["parent_span_id"] == root.span_id
    assert spans["grandchild"]["parent_span_id"] == child.span_id
    assert spans["child"]["start_time"] <= spans["grandchild"]["start_time"] <= spans["grandchild"]["end_time"]


def test_attribute_types_are_kept_and_odd_ones_are_made_safe() -> None:
    start()

    class Explosive:
        """An object whose str() and repr() must never be called."""

        def __str__(self) -> str:
            raise AssertionError("str() was called")

        __repr__ = __str__

    with fivelens.span(
        "attrs",
        s="text",
        b=True,
        i=42,
        f=1.5,
        big=2**80,
        strs=["a", "b"],
        ints=(1, 2, 3),
        mixed=[1, "a", None],
        mapping={"k": [1, {"x": Explosive()}]},
        obj=Explosive(),
        none=None,
        raw=b"\x00\x01",
        surrogate="bad \ud800 text",
        attributes={"gen_ai.request.model": "gpt-4o", "kind": "not-the-span-kind"},
    ) as span:
        span.set_attribute("late", 3)
        span.set_attribute(123, "ignored: keys are strings")
        span.set_attributes({"late2": [0.5, 1.5]})
    attrs = span_tree(finished())["attrs"]["attributes"]
    assert attrs["s"] == "text"
    assert attrs["b"] is True
    assert attrs["i"] == 42
    assert attrs["f"] == 1.5
    assert attrs["big"] == str(2**80)
    assert attrs["strs"] == ["a", "b"]
    assert attrs["ints"] == [1, 2, 3]
    assert attrs["mixed"] == '[1,"a",null]'
    label = "<test_spans.test_attribute_types_are_kept_and_odd_ones_are_made_safe.<locals>.Explosive>"
    assert attrs["mapping"] == '{"k":[1,{"x":"' + label + '"}]}'
    assert attrs["obj"] == label
    assert "none" not in attrs
    assert attrs["raw"] == "<bytes: 2 bytes>"
    assert attrs["surrogate"] == "bad \ufffd text"  # one replacement character for the lone surrogate
    attrs["surrogate"].encode("utf-8")  # valid UTF-8
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["kind"] == "not-the-span-kind"
    assert attrs["late"] == 3
    assert attrs["late2"] == [0.5, 1.5]


def test_huge_values_are_truncated_with_a_marker() -> None:
    start(max_attribute_bytes=1024)
    with fivelens.span("big", payload="é" * 5000, small="ok"):
        pass
    attrs = span_tree(finished())["big"]["attributes"]
    assert len(attrs["payload"].encode()) <= 1024
    assert set(attrs["payload"]) == {"é"}
    assert attrs["fivelens.truncated"] == ["payload"]
    assert attrs["small"] == "ok"


def test_exception_sets_error_and_is_reraised_unchanged() -> None:
    start()

    class Boom(ValueError):
        pass

    err = Boom("it broke")
    with pytest.raises(Boom) as caught:
        with fivelens.span("failing"):
            raise err
    assert caught.value is err
    s = span_tree(finished())["failing"]
    assert s["status"] == "error"
    assert s["status_message"] == "it broke"
    assert s["attributes"]["error.type"] == "test_exception_sets_error_and_is_reraised_unchanged.<locals>.Boom"
    event = s["events"][0]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.message"] == "it broke"
    assert "raise err" in event["attributes"]["exception.stacktrace"]


def test_ending_twice_is_a_no_op_and_late_calls_are_ignored() -> None:
    start()
    span = fivelens.start_span("manual")
    span.end()
    span.end()
    span.set_attribute("after", 1)
    assert not span.is_recording()
    spans = finished()
    assert [s["name"] for s in spans] == ["manual"]
    assert "after" not in spans[0]["attributes"]


def test_status_and_events() -> None:
    start()
    with fivelens.span("st") as span:
        span.add_event("checkpoint", {"step": 2})
        span.set_status("ok")
        span.set_status("error", "ignored: OK is final")
    s = span_tree(finished())["st"]
    assert s["status"] == "ok"
    assert s["events"][0]["name"] == "checkpoint"
    assert s["events"][0]["attributes"] == {"step": 2}


def test_decorator_on_functions_coroutines_and_generators() -> None:
    start()

    @fivelens.span("sync_fn", layer="a")
    def sync_fn(x: int) -> int:
        current = fivelens.current_span()
        assert current is not None
        return x + 1

    @fivelens.span("async_fn")
    async def async_fn() -> str:
        await asyncio.sleep(0)
        return "done"

    @fivelens.span("gen_fn")
    def gen_fn() -> Any:
        for i in range(3):
            # The span is current while the generator runs...
            current = fivelens.current_span()
            assert current is not None
            yield i, current.span_id
        return "end"

    @fivelens.span("agen_fn")
    async def agen_fn() -> Any:
        for i in range(2):
            await asyncio.sleep(0)
            yield i

    assert sync_fn.__name__ == "sync_fn"
    with fivelens.span("outer") as outer:
        assert sync_fn(1) == 2
        assert sync_fn(2) == 3
        assert asyncio.run(async_fn()) == "done"
        seen = []
        for _i, sid in gen_fn():
            seen.append(sid)
            # ...and not while the caller runs between items.
            assert fivelens.current_span() is outer
        assert len(set(seen)) == 1

        async def consume() -> list[int]:
            return [i async for i in agen_fn()]

        assert asyncio.run(consume()) == [0, 1]
    spans = finished()
    names = sorted(s["name"] for s in spans)
    assert names == ["agen_fn", "async_fn", "gen_fn", "outer", "sync_fn", "sync_fn"]
    by_id = {s["span_id"]: s for s in spans}
    gen = next(s for s in spans if s["name"] == "gen_fn")
    assert gen["span_id"] == seen[0]
    for s in spans:
        if s["name"] != "outer":
            assert by_id[s["parent_span_id"]]["name"] == "outer", s["name"]
    assert [s["attributes"].get("layer") for s in spans if s["name"] == "sync_fn"] == ["a", "a"]


def test_decorated_generator_records_errors_and_close() -> None:
    start()

    @fivelens.span("fails_midway")
    def fails_midway() -> Any:
        yield 1
        raise RuntimeError("midway")

    @fivelens.span("closed_early")
    def closed_early() -> Any:
        yield 1
        yield 2

    with pytest.raises(RuntimeError):
        list(fails_midway())
    g = closed_early()
    next(g)
    g.close()
    spans = span_tree(finished())
    assert spans["fails_midway"]["status"] == "error"
    assert spans["fails_midway"]["attributes"]["error.type"] == "RuntimeError"
    assert spans["closed_early"]["status"] == "unset"


def test_malformed_traceparent_starts_a_new_root() -> None:
    start()
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    for bad in ["", "nonsense", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-" + good[3:]]:
        with fivelens.span("bad", parent=bad) as s:
            pass
        assert s.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736"
    with fivelens.span("from_header", parent={"TraceParent": good}) as s:
        pass
    spans = finished()
    remote = next(x for x in spans if x["name"] == "from_header")
    assert remote["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert remote["parent_span_id"] == "00f067aa0ba902b7"
    assert all(x["parent_span_id"] == "" for x in spans if x["name"] == "bad")


def test_explicit_parent_and_links() -> None:
    start()
    a = fivelens.start_span("a")
    b = fivelens.start_span("b", parent=a, links=[a])
    b.end()
    a.end()
    spans = span_tree(finished())
    assert spans["b"]["parent_span_id"] == a.span_id
    assert spans["b"]["links"] == [{"trace_id": a.trace_id, "span_id": a.span_id}]


def test_bad_options_raise_a_clear_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        fivelens.instrument(queue_size="big")
    with pytest.raises(ValueError, match=r"otlp_endpoint.*http"):
        fivelens.instrument(otlp_endpoint="localhost:4318")
    with pytest.raises(ValueError, match=r"servce_name.*service_name"):
        fivelens.instrument(servce_name="x")
    with pytest.raises(TypeError):
        fivelens.span(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        fivelens.span("x", kind="sideways")


def test_bad_environment_raises_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_TIMEOUT"):
        fivelens.instrument()


def test_instrument_is_idempotent_and_reports() -> None:
    first = start()
    assert first.recording
    assert "threads" in first.enabled
    assert "opentelemetry" in first.enabled
    with pytest.warns(RuntimeWarning, match="already called"):
        second = fivelens.instrument(service_name="other")
    assert second is first
    status = fivelens.status()
    assert status["instrumentation"]["enabled"] == first.enabled
    assert status["recording"] is True


def test_only_named_integrations_are_enabled() -> None:
    report = start(integrations=["threads"])
    assert report.enabled == ["threads"]
    assert report.skipped["opentelemetry"] == "not requested"


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    report = fivelens.instrument()
    assert not report.recording
    with fivelens.span("ignored") as s:
        assert not s.is_recording()
        assert len(s.trace_id) == 32  # ids still exist, for propagation
    assert fivelens.flush(1)


def test_spans_before_instrument_are_no_ops() -> None:
    with fivelens.span("early") as s:
        assert not s.is_recording()
    start()
    assert finished() == []


def test_status_counts() -> None:
    start()
    for _ in range(5):
        with fivelens.span("s"):
            pass
    assert fivelens.flush(5)
    spans = fivelens.status()["spans"]
    assert spans["started"] == 5
    assert spans["ended"] == 5
    assert spans["processed"] == 5
    assert spans["dropped_total"] == 0


def test_typed_options_match_the_core_schema() -> None:
    from fivelens import Options

    assert set(Options.__annotations__) == set(_native.default_config())


def test_defaults_equal_the_core_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIVELENS_USER_HASH_KEY")
    resolved = fivelens.instrument().config
    assert resolved == _native.default_config()


def test_decorators_applied_before_instrument_keep_their_attributes() -> None:
    @fivelens.span("early_decorated", layer="import-time")
    def work() -> int:
        return 1

    start()
    assert work() == 1
    assert span_tree(finished())["early_decorated"]["attributes"]["layer"] == "import-time"
