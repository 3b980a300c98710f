"""A CrewAI crew, unmodified, under `fivelens.instrument()`: run it, then `fivelens show` prints its
trace tree (this script does both).

Two agents and a tool: the researcher's model (CrewAI's native OpenAI provider, talking to the
repository's local fake OpenAI server, tests/fake_llm_server.py: deterministic, no network) asks
for the tool once, then answers; the writer's model just answers. Nothing below mentions fivelens
except `instrument()`.

CrewAI 1.15 pins `openai<3` and `mcp<2` (and `pydantic<2.13`), so it cannot share the main
virtualenv, which has the openai 3.x and mcp 2.x lines: this example runs in its own environment,
the repository's openai 2.x virtualenv (`make test-python-openai2` sets it up):

    .venv-openai2/bin/python examples/crewai_crew.py
"""

from __future__ import annotations

import logging
import os
import textwrap

from fake_openai import fake_openai_server, show_latest_trace

import fivelens

# An offline example: no CrewAI telemetry or hosted tracing (CrewAI reads these at import).
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_DISABLE_TRACKING", "true")
# CrewAI warns at every model call that a server other than OpenAI's cannot count tokens ahead.
logging.getLogger("crewai.llms.base_llm").setLevel(logging.ERROR)


def main() -> None:
    fivelens.instrument(service_name="crewai-example")

    from crewai import LLM, Agent, Crew, Task
    from crewai.tools import tool

    @tool("lookup_weather")
    def lookup_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    with fake_openai_server() as base_url:

        def llm(scenario: str | None = None) -> LLM:
            headers = {"x-fake-scenario": scenario} if scenario else None
            return LLM(model="openai/gpt-4o-mini", base_url=base_url, api_key="demo", default_headers=headers)

        researcher = Agent(
            role="Researcher",
            goal="Find the weather",
            backstory="A meteorologist.",
            llm=llm("tools-once"),
            tools=[lookup_weather],
        )
        writer = Agent(role="Writer", goal="Write a forecast", backstory="A writer.", llm=llm())
        research = Task(
            name="research", description="Find the weather in Paris.", expected_output="The weather.", agent=researcher
        )
        write = Task(name="write", description="Write a one-line forecast.", expected_output="A line.", agent=writer)
        crew = Crew(name="weather crew", agents=[researcher, writer], tasks=[research, write])
        result = crew.kickoff()
        print(textwrap.shorten(str(result), 60))  # the fake model echoes the writer's prompt
    fivelens.flush(10)
    show_latest_trace("invoke_workflow")


if __name__ == "__main__":
    main()
