"""Ready-made specialists from the seed: research, analysis, supervisor and summary agents.

Each preset is an ordinary ``Agent`` with instructions and capabilities that fit its role; it
takes whatever model and tools it is given, so the same preset runs offline in a test and on a
real provider in production. Pass ``instructions=`` to replace the defaults, or
``extra_instructions=`` to add to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cadenza.agents.agent import Agent
from cadenza.models.base import Model

RESEARCH_INSTRUCTIONS = """\
Research agent: you gather and verify information.
Search for relevant, recent sources with the tools you have, read the most promising ones, and
cross-check claims across sources. Report findings as short factual statements, each with its
source, and say plainly where sources disagree or evidence is thin. Never invent a source."""

ANALYSIS_INSTRUCTIONS = """\
Analysis agent: you turn data and findings into insight.
Work from the input you are given. Identify patterns, trends and outliers; compute figures with
the calculation tools rather than in your head; state assumptions. Conclude with the three to
five insights that matter most, each backed by a number or a cited finding."""

SUPERVISOR_INSTRUCTIONS = """\
Supervisor agent: you decompose work and coordinate specialists.
Break the task into independent subtasks where you can, give each to the specialist whose
capabilities fit best, and state dependencies only where a subtask truly needs another's result.
When results come back, decide whether more work is needed; when it is not, synthesise one
coherent answer that resolves conflicts between specialists."""

SUMMARY_INSTRUCTIONS = """\
Summary agent: you write concise, faithful summaries and reports.
Lead with the conclusion, then the supporting points in order of importance. Keep every figure
and name exactly as given; add nothing that is not in the input. Match the length and format the
task asks for; default to an executive summary of at most 200 words."""


def _preset(
    name: str,
    instructions: str,
    capabilities: list[str],
    model: str | Model | Sequence[str | Model],
    tools: Sequence[Any],
    extra_instructions: str,
    kwargs: dict[str, Any],
) -> Agent:
    if extra_instructions:
        instructions = f"{instructions}\n\n{extra_instructions}"
    kwargs.setdefault("capabilities", capabilities)
    return Agent(name, model=model, instructions=instructions, tools=tools, **kwargs)


def research_agent(
    name: str = "researcher",
    *,
    model: str | Model | Sequence[str | Model] = "offline",
    tools: Sequence[Any] = (),
    instructions: str = RESEARCH_INSTRUCTIONS,
    extra_instructions: str = "",
    **kwargs: Any,
) -> Agent:
    """Web search, document analysis, information synthesis and source verification."""
    capabilities = ["research", "web search", "document analysis", "source verification"]
    return _preset(name, instructions, capabilities, model, tools, extra_instructions, kwargs)


def analysis_agent(
    name: str = "analyst",
    *,
    model: str | Model | Sequence[str | Model] = "offline",
    tools: Sequence[Any] = (),
    instructions: str = ANALYSIS_INSTRUCTIONS,
    extra_instructions: str = "",
    **kwargs: Any,
) -> Agent:
    """Data processing, pattern recognition, statistical analysis and insight extraction."""
    capabilities = ["analysis", "statistics", "data processing", "insight extraction"]
    return _preset(name, instructions, capabilities, model, tools, extra_instructions, kwargs)


def supervisor_agent(
    name: str = "supervisor",
    *,
    model: str | Model | Sequence[str | Model] = "offline",
    tools: Sequence[Any] = (),
    instructions: str = SUPERVISOR_INSTRUCTIONS,
    extra_instructions: str = "",
    **kwargs: Any,
) -> Agent:
    """Task decomposition, coordination and result synthesis (the brain of a Supervisor)."""
    capabilities = ["planning", "task decomposition", "coordination", "synthesis"]
    return _preset(name, instructions, capabilities, model, tools, extra_instructions, kwargs)


def summary_agent(
    name: str = "summarizer",
    *,
    model: str | Model | Sequence[str | Model] = "offline",
    tools: Sequence[Any] = (),
    instructions: str = SUMMARY_INSTRUCTIONS,
    extra_instructions: str = "",
    **kwargs: Any,
) -> Agent:
    """Content aggregation, report generation and executive summaries."""
    capabilities = ["summary", "report writing", "executive summary", "quality assessment"]
    return _preset(name, instructions, capabilities, model, tools, extra_instructions, kwargs)
