"""The MCP server of examples/mcp_agent.py: one tool, ``get_forecast``, that asks a model (the
OpenAI SDK, at ``OPENAI_BASE_URL``) to word the forecast. Run over stdio by the agent's MCP
client; under ``fivelens.instrument()`` its span for each request continues the agent's trace, and
the model call nests under it. Nothing below mentions fivelens except ``instrument()``.
"""

from __future__ import annotations

import fivelens

fivelens.instrument(service_name="forecast-mcp-server")

from mcp.server.mcpserver import MCPServer  # noqa: E402
from openai import AsyncOpenAI  # noqa: E402

app = MCPServer("forecast", log_level="WARNING")
model = AsyncOpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY from the environment


@app.tool()
async def get_forecast(city: str) -> str:
    """Tomorrow's weather forecast for a city."""
    reply = await model.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You word weather forecasts in one sentence."},
            {"role": "user", "content": f"Forecast for {city}: sunny, 24 C, light wind."},
        ],
    )
    return reply.choices[0].message.content or ""


if __name__ == "__main__":
    app.run()  # stdio
