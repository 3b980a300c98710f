"""An AutoGen team, unmodified, under `fivelens.instrument()`: run it, then `fivelens show` prints its
trace tree (this script does both).

The model clients are autogen-ext's `OpenAIChatCompletionClient` talking to the repository's local
fake OpenAI server (tests/fake_llm_server.py: deterministic, no network); the first agent's model
asks for the tool once, then answers. Nothing below mentions fivelens except `instrument()`.
"""

from __future__ import annotations

import asyncio

from fake_openai import fake_openai_server, show_latest_trace

import fivelens

MODEL_INFO = {
    "function_calling": True,
    "vision": False,
    "json_output": False,
    "family": "gpt-4o",
    "structured_output": False,
}


def main() -> None:
    fivelens.instrument(service_name="autogen-example")

    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    def lookup(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    def client(base_url: str, scenario: str | None = None) -> OpenAIChatCompletionClient:
        headers = {"x-fake-scenario": scenario} if scenario else None
        return OpenAIChatCompletionClient(
            model="gpt-4o-2024-08-06", base_url=base_url, api_key="demo", model_info=MODEL_INFO, default_headers=headers
        )

    with fake_openai_server() as base_url:
        weather = AssistantAgent(
            "weather", model_client=client(base_url, "tools-once"), tools=[lookup], max_tool_iterations=2
        )
        writer = AssistantAgent("writer", model_client=client(base_url))
        team = RoundRobinGroupChat([weather, writer], termination_condition=MaxMessageTermination(3), name="forecast")
        result = asyncio.run(team.run(task="Weather in Paris?"))
        print(result.messages[-1].to_text())
    fivelens.flush(10)
    show_latest_trace("invoke_workflow")


if __name__ == "__main__":
    main()
