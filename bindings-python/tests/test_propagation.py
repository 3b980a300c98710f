"""The current span follows the work: asyncio tasks, executors, thread pools, threads; and
trace-scoped attributes reach every descendant. Each case asserts on the exported parent ids."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import fivelens
from conftest import span_tree
from fivelens import _native


def start() -> None:
    fivelens.instrument(store="off", testing=True, schedule_delay_ms=10)


def finished() -> dict[str, dict[str, Any]]:
    assert fivelens.flush(5)
    return span_tree(_native.finished_spans())


def test_asyncio_create_task_and_gather() -> None:
    start()

    async def leaf(name: str) -> None:
        await asyncio.sleep(0.001)
        with fivelens.span(name):
            await asyncio.sleep(0.001)

    async def main() -> None:
        with fivelens.span("root"):
            task = asyncio.create_task(leaf("task"))
            await asyncio.gather(leaf("g1"), leaf("g2"))
            await task

    asyncio.run(main())
    spans = finished()
    root = spans["root"]["span_id"]
    for name in ("task", "g1", "g2"):
        assert spans[name]["parent_span_id"] == root, name
        assert spans[name]["trace_id"] == spans["root"]["trace_id"]


def test_run_in_executor() -> None:
    start()

    def work() -> None:
        with fivelens.span("in_executor"):
            pass

    async def main() -> None:
        with fivelens.span("root"):
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, work)

    asyncio.run(main())
    spans = finished()
    assert spans["in_executor"]["parent_span_id"] == spans["root"]["span_id"]


def test_thread_pool_submit_and_map_do_not_leak_between_tasks() -> None:
    start()

    def work(name: str) -> str:
        with fivelens.span(name):
            pass
        return name

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        with fivelens.span("first"):
            pool.submit(work, "submitted").result()
            list(pool.map(work, ["mapped1", "mapped2"]))
        # The same pool threads, now outside any span: no parent must leak in.
        pool.submit(work, "outside").result()
    spans = finished()
    first = spans["first"]["span_id"]
    for name in ("submitted", "mapped1", "mapped2"):
        assert spans[name]["parent_span_id"] == first, name
    assert spans["outside"]["parent_span_id"] == ""
    assert spans["outside"]["trace_id"] != spans["first"]["trace_id"]


def test_threads_and_thread_subclasses() -> None:
    start()

    class Worker(threading.Thread):
        def run(self) -> None:
            with fivelens.span("subclass"):
                pass

    def target() -> None:
        with fivelens.span("target"):
            pass

    with fivelens.span("root"):
        t1 = threading.Thread(target=target)
        t2 = Worker()
        t1.start()
        t2.start()
    t1.join()
    t2.join()
    spans = finished()
    root = spans["root"]["span_id"]
    assert spans["target"]["parent_span_id"] == root
    assert spans["subclass"]["parent_span_id"] == root


def test_threads_carry_only_fivelens_context() -> None:
    import contextvars

    start()
    app_var: contextvars.ContextVar[str] = contextvars.ContextVar("app_var", default="unset")
    seen: list[str] = []

    def target() -> None:
        seen.append(app_var.get())

    app_var.set("set-in-caller")
    with fivelens.span("root"):
        t = threading.Thread(target=target)
        t.start()
        t.join()
    assert seen == ["unset"]


def test_context_attributes_stamp_every_descendant_across_threads_and_tasks() -> None:
    start()

    def in_thread() -> None:
        with fivelens.span("thread_child"):
            pass

    async def in_task() -> None:
        with fivelens.span("task_child"):
            pass

    with fivelens.context(session_id="sess-1", user_id="alice", tenant="acme", tags=["beta"], deploy="canary"):
        with fivelens.span("root"):
            with fivelens.span("child"):
                pass
            t = threading.Thread(target=in_thread)
            t.start()
            t.join()
            asyncio.run(in_task())
            with fivelens.context(session_id="sess-2"):
                with fivelens.span("inner_scope"):
                    pass
    with fivelens.span("after"):
        pass
    spans = finished()
    expected_hash = _native.hash_user_id("alice")
    for name in ("root", "child", "thread_child", "task_child"):
        attrs = spans[name]["attributes"]
        assert attrs["session.id"] == "sess-1", name
        assert attrs["user.hash"] == expected_hash, name
        assert attrs["fivelens.tenant"] == "acme"
        assert attrs["fivelens.tags"] == ["beta"]
        assert attrs["deploy"] == "canary"
        assert "alice" not in str(attrs)
    assert spans["inner_scope"]["attributes"]["session.id"] == "sess-2"
    assert spans["inner_scope"]["attributes"]["fivelens.tenant"] == "acme"
    assert spans["inner_scope"]["parent_span_id"] == spans["root"]["span_id"]
    assert "session.id" not in spans["after"]["attributes"]


def test_span_attributes_win_over_context_attributes() -> None:
    start()
    with fivelens.context(session_id="from-context"):
        with fivelens.span("s", **{"session.id": "explicit"}):
            pass
    assert finished()["s"]["attributes"]["session.id"] == "explicit"


def test_inject_and_extract_carry_the_trace_and_the_scope_but_not_the_raw_user() -> None:
    start()
    with fivelens.context(session_id="sess-9", user_id="bob"):
        with fivelens.span("client") as client:
            headers = fivelens.inject({})
    assert headers["traceparent"] == client.traceparent
    assert "bob" not in headers["fivelens-context"]
    # Downstream (another process in real life): the headers parent the server span and bring
    # the scope with them.
    remote = fivelens.extract(headers)
    assert remote.is_valid()
    with fivelens.span("server", parent=remote, kind="server"):
        with fivelens.span("server_child"):
            pass
    spans = finished()
    assert spans["server"]["parent_span_id"] == client.span_id
    assert spans["server"]["trace_id"] == client.trace_id
    for name in ("server", "server_child"):
        assert spans[name]["attributes"]["session.id"] == "sess-9"
        assert spans[name]["attributes"]["user.hash"] == _native.hash_user_id("bob")


def test_context_as_a_frame_outside_any_span() -> None:
    start()
    with fivelens.context(session_id="lonely") as frame:
        assert fivelens.current_span() is None
        assert frame.context_attributes == {"session.id": "lonely"}
        with fivelens.span("root"):
            pass
    assert finished()["root"]["parent_span_id"] == ""
