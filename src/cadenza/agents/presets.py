"""Ready-made specialists from the seed: research, analysis, supervisor and summary agents.

Each preset is an ordinary ``Agent`` with instructions and capabilities that fit its role; it
takes whatever model and tools it is given, so the same preset runs offline in a test and on a
real provider in production. Pass ``instructions=`` to replace the defaults, or
``extra_instructions=`` to add to them; ``model=``, ``tools=`` and every other ``Agent`` option
pass through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Preset:
    """A specialist role: default name, instructions and capabilities."""

    name: str
    instructions: str
    capabilities: tuple[str, ...]

    def build(
        self,
        name: str | None = None,
        *,
        model: str | Model | Sequence[str | Model] = "offline",
        tools: Sequence[Any] = (),
        instructions: str | None = None,
        extra_instructions: str = "",
        **options: Any,
    ) -> Agent:
        """An Agent in this role; any other ``Agent`` option passes through."""
        text = self.instructions if instructions is None else instructions
        if extra_instructions:
            text = f"{text}\n\n{extra_instructions}"
        options.setdefault("capabilities", list(self.capabilities))
        return Agent(name or self.name, model=model, instructions=text, tools=tools, **options)


RESEARCH = Preset(
    "researcher",
    RESEARCH_INSTRUCTIONS,
    ("research", "web search", "document analysis", "source verification"),
)
ANALYSIS = Preset(
    "analyst", ANALYSIS_INSTRUCTIONS, ("analysis", "statistics", "data processing", "insight extraction")
)
SUPERVISION = Preset(
    "supervisor", SUPERVISOR_INSTRUCTIONS, ("planning", "task decomposition", "coordination", "synthesis")
)
SUMMARY = Preset(
    "summarizer",
    SUMMARY_INSTRUCTIONS,
    ("summary", "report writing", "executive summary", "quality assessment"),
)


def research_agent(name: str | None = None, **options: Any) -> Agent:
    """Web search, document analysis, information synthesis and source verification."""
    return RESEARCH.build(name, **options)


def analysis_agent(name: str | None = None, **options: Any) -> Agent:
    """Data processing, pattern recognition, statistical analysis and insight extraction."""
    return ANALYSIS.build(name, **options)


def supervisor_agent(name: str | None = None, **options: Any) -> Agent:
    """Task decomposition, coordination and result synthesis (the brain of a Supervisor)."""
    return SUPERVISION.build(name, **options)


def summary_agent(name: str | None = None, **options: Any) -> Agent:
    """Content aggregation, report generation and executive summaries."""
    return SUMMARY.build(name, **options)
