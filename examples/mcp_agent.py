"""A LangGraph agent whose tool calls an MCP server, which calls a model: one trace across both
processes, from the agent's root span down to the model call the server makes. Run it, then
`fivelens show` prints the trace (this script does both).

The agent is `langchain`'s `create_agent` with `langchain-openai`'s `ChatOpenAI`; its tool opens
the MCP SDK's own `Client` (no adapter package) on examples/mcp_forecast_server.py over stdio.
Every model call, the agent's and the server's, goes to the repository's local fake OpenAI server
(tests/fake_llm_server.py: deterministic, no network). Both processes call `instrument()` and
nothing else of fivelens; the MCP request carries the trace context in its `params._meta`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from fake_openai import fake_openai_server, show_latest_trace

import fivelens

SERVER = str(Path(__file__).with_name("mcp_forecast_server.py"))


def main() -> None:
    fivelens.instrument(service_name="mcp-agent-example")

    from langchain.agents import create_agent
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from mcp import Client, StdioServerParameters

    with fake_openai_server() as base_url:
        # The server process gets this environment: where the model is, and fivelens's settings.
        server = StdioServerParameters(
            command=sys.executable,
            args=[SERVER],
            env={**os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "demo"},
        )

        @tool
        async def get_forecast(city: str) -> str:
            """Tomorrow's weather forecast for a city."""
            async with Client(server) as client:
                result = await client.call_tool("get_forecast", {"city": city})
            return "".join(getattr(part, "text", "") for part in result.content)

        model = ChatOpenAI(
            model="gpt-4o-mini",
            base_url=base_url,
            api_key="demo",  # type: ignore[arg-type]
            default_headers={"x-fake-scenario": "tools-once"},
        )
        agent = create_agent(model, [get_forecast], name="forecaster", system_prompt="You answer weather questions.")
        result = asyncio.run(agent.ainvoke({"messages": [("user", "Will it rain in Lisbon tomorrow?")]}))
        print(result["messages"][-2].content)  # the tool's answer, from the server's model call
        print(result["messages"][-1].content)
    fivelens.flush(10)
    show_latest_trace()


if __name__ == "__main__":
    main()
