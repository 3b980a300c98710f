"""A LangGraph agent, unmodified, under `fivelens.instrument()`: run it, then `fivelens show` prints
its trace tree (this script does both).

The model is `langchain-openai`'s `ChatOpenAI` talking to the repository's local fake OpenAI
server (tests/fake_llm_server.py: deterministic, no network), which asks for the tool once and
then answers. Nothing below mentions fivelens except `instrument()`.
"""

from __future__ import annotations

from fake_openai import fake_openai_server, show_latest_trace

import fivelens


def main() -> None:
    fivelens.instrument(service_name="langgraph-example")

    from langchain.agents import create_agent
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def lookup_order(order_id: str) -> str:
        """The status of an order."""
        return f"order {order_id}: shipped on Monday"

    with fake_openai_server() as base_url:
        model = ChatOpenAI(
            model="gpt-4o-mini",
            base_url=base_url,
            api_key="demo",  # type: ignore[arg-type]
            default_headers={"x-fake-scenario": "tools-once"},
        )
        agent = create_agent(model, [lookup_order], name="support", system_prompt="You are a support agent.")
        result = agent.invoke({"messages": [("user", "Where is my order A-1042?")]})
        print(result["messages"][-1].content)
    fivelens.flush(10)
    show_latest_trace()


if __name__ == "__main__":
    main()
