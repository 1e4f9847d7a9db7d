"""The seed's specialist presets are ordinary Agents that work in every pattern."""

from __future__ import annotations

import pytest

from cadenza import Agent, Supervisor, tool
from cadenza.agents import analysis_agent, research_agent, summary_agent, supervisor_agent
from cadenza.types.events import ToolCalled

PRESETS = [research_agent, analysis_agent, supervisor_agent, summary_agent]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.__name__)
def test_preset_is_an_agent_with_role_instructions_and_capabilities(preset):
    agent = preset()
    assert isinstance(agent, Agent)
    assert agent.model.name == "offline"
    assert len(agent.instructions) > 100
    assert agent.capabilities, "a preset declares what it is good at, for supervisor routing"


def test_preset_options_replace_or_extend_the_defaults():
    agent = summary_agent("brief", instructions="Two sentences.", extra_instructions="No jargon.")
    assert agent.name == "brief"
    assert agent.instructions == "Two sentences.\n\nNo jargon."
    custom = analysis_agent(capabilities=["sql"], max_tool_rounds=2)
    assert custom.capabilities == ["sql"]
    assert custom.max_tool_rounds == 2


async def test_presets_take_their_tools_and_use_them():
    @tool
    def market_size(market: str) -> str:
        """Market size figures for a market."""
        return f"{market}: 1.2 bn EUR"

    researcher = research_agent(tools=[market_size])
    result = await researcher.run("What is the market size of cargo bikes?")
    calls = [e for e in result.events if isinstance(e, ToolCalled)]
    assert [c.tool for c in calls] == ["market_size"]
    assert "1.2 bn EUR" in result.output


async def test_a_supervisor_preset_routes_to_preset_specialists_by_capability():
    team = Supervisor(supervisor_agent(), [research_agent(), analysis_agent(), summary_agent()])
    result = await team.run("Assess the cargo bike market")
    routed = {e.path.rsplit(":", 1)[-1] for e in result.events if e.type == "step_started" and "." in e.path}
    assert routed == {"researcher", "analyst", "summarizer"}
    assert result.output
