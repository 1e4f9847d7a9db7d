"""What a step and a run return, and the task they work on."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cadenza.types.events import Event
from cadenza.types.messages import Message
from cadenza.types.usage import Usage


@dataclass(slots=True)
class Task:
    """A unit of work: what to do, context to do it with, and what a good answer looks like."""

    description: str
    context: dict[str, Any] = field(default_factory=dict)
    expected_output: str | None = None

    @classmethod
    def of(cls, task: str | Task) -> Task:
        """Accept a plain string wherever a task is expected."""
        return task if isinstance(task, Task) else cls(task)


@dataclass(slots=True)
class StepResult:
    """One step's output and what it took: usage and cost include every child and every retry."""

    name: str
    path: str
    output: Any
    usage: Usage
    cost: Decimal
    duration: float
    confidence: float | None = None
    messages: list[Message] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunResult:
    """A whole run: the root step's output plus the run's totals and its event stream."""

    run_id: str
    status: str
    output: Any
    usage: Usage
    cost: Decimal
    duration: float
    events: list[Event]
    step: StepResult | None = None
    error: str | None = None

    @property
    def confidence(self) -> float | None:
        return self.step.confidence if self.step else None

    @property
    def messages(self) -> list[Message]:
        """The root step's conversation (an Agent's messages); empty for patterns and failures."""
        return list(self.step.messages or ()) if self.step else []
