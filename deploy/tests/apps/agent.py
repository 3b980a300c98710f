"""The Python half of the deploy tests' two-process app: an "agent" whose every request is one
trace that calls the Node tool service (apps/tool_service.js) over HTTP, so the trace's spans come
from two processes. Run with .venv's Python (fivelens built by `make python-dev`); configured by
the standard OTEL_* variables. Prints one JSON line per trace: its id and what was scripted.

    agent.py TOOL_URL COUNT
"""

from __future__ import annotations

import json
import logging
import sys

import httpx

import fivelens

log = logging.getLogger("agent")
log.setLevel(logging.INFO)


def kind_of(i: int) -> str:
    """Every tenth request fails in the Node service, another tenth in Python, one in 25 is flagged."""
    if i % 10 == 3:
        return "node-error"
    if i % 10 == 7:
        return "python-error"
    if i % 25 == 11:
        return "keep"
    return "ok"


def main() -> None:
    tool_url, count = sys.argv[1], int(sys.argv[2])
    fivelens.instrument(service_name="deploy-agent", logs_level="info")
    with httpx.Client(timeout=10) as client:
        for i in range(count):
            kind = kind_of(i)
            trace_id = ""
            try:
                with fivelens.context(session_id=f"s-{i % 7}", user_id=f"user-{i % 13}"):
                    with fivelens.span("invoke_agent support", request_index=i) as root:
                        trace_id = root.trace_id
                        log.info("request %d started", i)
                        with fivelens.stage("planning"), fivelens.llm_call("openai", "gpt-4o") as call:
                            call.set_input([{"role": "user", "content": f"question {i}"}], system="be brief")
                            call.set_output("use the lookup tool", finish_reasons=["tool_calls"])
                            call.set_usage(120 + i, 12)
                        fail = "1" if kind == "node-error" else "0"
                        client.get(f"{tool_url}/lookup", params={"i": i, "fail": fail})
                        if kind == "keep":
                            fivelens.keep_trace("flagged by a reviewer")
                        if kind == "python-error":
                            raise RuntimeError("the agent gave up")
            except RuntimeError:
                pass
            print(json.dumps({"trace_id": trace_id, "kind": kind}), flush=True)
    fivelens.flush(10.0)
    fivelens.shutdown(10.0)


if __name__ == "__main__":
    main()
