"""Agents: the model <-> tool loop, and ready-made specialists."""

from cadenza.agents.agent import Agent
from cadenza.agents.presets import analysis_agent, research_agent, summary_agent, supervisor_agent

__all__ = ["Agent", "analysis_agent", "research_agent", "summary_agent", "supervisor_agent"]
