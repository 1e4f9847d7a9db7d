"""Cadenza: teams of LLM agents as composable, observable steps.

    from cadenza import Agent, Pipeline, Parallel, Supervisor, Reflective, tool

Everything importable from here is the public API; modules and names with a leading underscore
may change at any time.
"""

from cadenza.agents.agent import Agent
from cadenza.durable.approval import Approval
from cadenza.engine.budget import Budget
from cadenza.engine.retry import RetryPolicy
from cadenza.engine.step import Step, StepInput
from cadenza.models.function import FunctionModel
from cadenza.patterns import (
    Critique,
    Parallel,
    Pipeline,
    Plan,
    Reflective,
    Subtask,
    Supervisor,
    Verdict,
    register_pattern,
)
from cadenza.tools.base import Tool, tool
from cadenza.types import Event, Message, RunResult, StepResult, Task, Usage

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "Approval",
    "Budget",
    "Critique",
    "Event",
    "FunctionModel",
    "Message",
    "Parallel",
    "Pipeline",
    "Plan",
    "Reflective",
    "RetryPolicy",
    "RunResult",
    "Step",
    "StepInput",
    "StepResult",
    "Subtask",
    "Supervisor",
    "Task",
    "Tool",
    "Usage",
    "Verdict",
    "__version__",
    "register_pattern",
    "tool",
]
