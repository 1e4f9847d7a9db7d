"""Agents: the model <-> tool loop, and ready-made specialists."""

from cadenza.agents.agent import Agent

__all__ = ["Agent"]
