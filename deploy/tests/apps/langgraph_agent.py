"""An instrumented LangGraph agent run for the Phoenix test: LangChain's create_agent (a LangGraph
graph) with LangChain's fake chat model scripted to call a tool and then answer, with usage as a
provider reports it. fivelens is configured by the OTEL_* variables and compat=True (the
OpenInference attributes Phoenix reads). Prints the trace id.
"""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

import fivelens


class ScriptedModel(FakeMessagesListChatModel):
    """LangChain's fake chat model, with the bind_tools that create_agent calls."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


@tool
def order_status(order: str) -> str:
    """The shipping status of an order."""
    return f"order {order} shipped yesterday"


def main() -> None:
    # The fake model's calls are priced like gpt-4o-mini, so they carry a cost too.
    price = {"provider": "scriptedmodel", "model": "gpt-4o-mini", "input": 0.15, "output": 0.6}
    fivelens.instrument(service_name="support-agent", compat=True, prices=[price])
    model = ScriptedModel(
        responses=[
            AIMessage(
                content="",
                tool_calls=[{"name": "order_status", "args": {"order": "A-17"}, "id": "call-1"}],
                usage_metadata={"input_tokens": 52, "output_tokens": 11, "total_tokens": 63},
                response_metadata={"finish_reason": "tool_calls", "model_name": "gpt-4o-mini"},
            ),
            AIMessage(
                content="Your order A-17 shipped yesterday.",
                usage_metadata={"input_tokens": 81, "output_tokens": 9, "total_tokens": 90},
                response_metadata={"finish_reason": "stop", "model_name": "gpt-4o-mini"},
            ),
        ]
    )
    agent = create_agent(model, [order_status], name="support")
    with fivelens.span("handle question") as root:
        agent.invoke({"messages": [HumanMessage("Where is my order A-17?")]})
    print(root.trace_id, flush=True)
    fivelens.flush(10.0)
    fivelens.shutdown(10.0)


if __name__ == "__main__":
    main()
