"""The live tree of a run's steps, drawn from its event stream (the only way to observe a run).

``RunTracker`` folds events into per-step state (status, duration, tokens, cost, model and tool
calls, gate verdicts); ``RunView`` renders that state as a Rich tree, redrawn while it runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from cadenza.types.events import (
    BudgetWarning,
    Event,
    FallbackUsed,
    GateChecked,
    LLMCall,
    RetryScheduled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepFailed,
    StepFinished,
    StepStarted,
    ToolCalled,
)
from cadenza.types.usage import Usage

_ICONS = {
    "running": ("●", "yellow"),
    "succeeded": ("✓", "green"),
    "failed": ("✗", "red"),
    "cancelled": ("■", "magenta"),
}


@dataclass
class StepState:
    """What the view knows about one step."""

    path: str
    name: str
    kind: str
    started: float
    status: str = "running"
    duration: float | None = None
    tokens: int = 0
    cost: Decimal = Decimal(0)
    model_calls: int = 0
    error: str | None = None
    notes: list[Text] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


class RunTracker:
    """Every step of one run, keyed by path, built from its events in order."""

    def __init__(self) -> None:
        self.steps: dict[str, StepState] = {}
        self.roots: list[str] = []
        self.workflow = ""
        self.run_id = ""
        self.input = ""
        self.status = "running"
        self.output: Any = None
        self.usage = Usage()
        self.cost = Decimal(0)
        self.duration: float | None = None
        self.error: str | None = None
        self.error_type: str | None = None
        self.model_calls = 0
        self.tool_calls = 0
        #: Every finished tool call, in order (the demo explains what web_search found).
        self.tool_events: list[ToolCalled] = []
        self.gates: list[GateChecked] = []
        self.started = time.perf_counter()

    def add(self, event: Event) -> None:
        """Fold one event into the state."""
        if isinstance(event, RunStarted):
            self.workflow, self.run_id, self.input = event.workflow, event.run_id, event.input
        elif isinstance(event, StepStarted):
            self._start(event)
        elif isinstance(event, StepFinished | StepFailed):
            self._finish(event)
        elif isinstance(event, LLMCall):
            self.model_calls += 1
            self.usage.add(event.usage)
            self.cost += event.cost
            step = self._owner(event.path)
            if step:
                step.model_calls += 1
        elif isinstance(event, ToolCalled):
            self.tool_calls += 1
            self.tool_events.append(event)
            mark = Text("✗ " if event.error else "⚙ ", style="red" if event.error else "cyan")
            self._note(event.path, mark + Text(f"tool {event.tool} ({event.duration:.2f} s)", style="dim"))
        elif isinstance(event, GateChecked):
            self.gates.append(event)
            self._gate(event)
        elif isinstance(event, RetryScheduled):
            self._note(
                event.path,
                Text(
                    f"↻ retry {event.attempt} of {event.model} in {event.delay:.1f} s: {event.reason[:80]}",
                    style="yellow",
                ),
            )
        elif isinstance(event, BudgetWarning):
            self._note(
                event.path,
                Text(
                    f"$ budget {event.limit} at {event.threshold:.0%} ({event.used:g} of {event.maximum:g})",
                    style="yellow",
                ),
            )
        elif isinstance(event, FallbackUsed):
            self._note(event.path, Text(f"⇢ fallback {event.from_model} → {event.to_model}", style="yellow"))
        elif isinstance(event, RunFinished):
            self.status, self.output, self.duration = "succeeded", event.output, event.duration
            self.usage, self.cost = event.usage.copy(), event.cost
        elif isinstance(event, RunFailed):
            self.status, self.error, self.error_type = event.status, event.error, event.error_type
            self.duration, self.usage, self.cost = event.duration, event.usage.copy(), event.cost

    def mark_cancelled(self) -> None:
        """The run was interrupted: it and every step still running are cancelled."""
        self.status = "cancelled"
        self.error = self.error or "cancelled by the user"
        self.duration = self.duration or time.perf_counter() - self.started
        for step in self.steps.values():
            if step.status == "running":
                step.status = "cancelled"
                step.duration = time.perf_counter() - step.started

    def _start(self, event: StepStarted) -> None:
        step = StepState(event.path, event.name, event.kind, time.perf_counter())
        self.steps[event.path] = step
        parent = self._owner(event.path)
        if parent is None:
            self.roots.append(event.path)
        else:
            parent.children.append(event.path)

    def _finish(self, event: StepFinished | StepFailed) -> None:
        step = self.steps.get(event.path)
        if step is None:
            return
        step.duration = event.duration
        if isinstance(event, StepFinished):
            step.status = "succeeded"
            step.tokens = event.usage.total_tokens
            step.cost = event.cost
        else:
            cancelled = event.error_type in ("CancelledError", "KeyboardInterrupt")
            step.status = "cancelled" if cancelled else "failed"
            step.error = None if cancelled else event.error

    def _owner(self, path: str) -> StepState | None:
        """The nearest started step above ``path``."""
        probe = path
        while "/" in probe:
            probe = probe.rsplit("/", 1)[0]
            if probe in self.steps:
                return self.steps[probe]
        return None

    def _note(self, path: str, text: Text) -> None:
        step = self.steps.get(path) or self._owner(path)
        if step is not None:
            step.notes.append(text)

    def _gate(self, event: GateChecked) -> None:
        style = "green" if event.passed else "red"
        verdict = "passed" if event.passed else "failed"
        text = Text(f"{'✓' if event.passed else '✗'} gate {event.gate} {verdict}", style=style)
        text.append(f" (attempt {event.attempt})", style="dim")
        if event.feedback and not event.passed:
            text.append(f": {event.feedback[:120]}", style="dim")
        self._note(event.path, text)


def step_role(step: StepState) -> str:
    """What a step's path says about its role: ``plan#1``, ``retry 1``, ``draft``, ``t2`` ..."""
    segment = step.path.rsplit("/", 1)[-1]
    parent_segment = step.path.rsplit("/", 2)[-2] if step.path.count("/") >= 1 else ""
    if "@retry" in segment:
        return f"retry {segment.rsplit('@retry', 1)[1]}"
    head, _, tail = segment.partition(":")
    if tail == step.name and head.isdigit():
        return ""
    if tail == step.name:
        return f"{head} of {parent_segment}" if parent_segment.startswith("round#") else head
    return "" if segment == step.name else segment


class RunView:
    """A Rich renderable of a tracker: redrawn on every refresh of a ``Live`` display."""

    def __init__(self, tracker: RunTracker, title: str) -> None:
        self.tracker = tracker
        self.title = title

    def __rich__(self) -> RenderableType:
        tracker = self.tracker
        tree = Tree(Text.assemble(("▶ ", "bold"), (self.title, "bold"), (f"  {tracker.run_id[:12]}", "dim")))
        for path in tracker.roots:
            self._add(tree, tracker.steps[path])
        return Group(tree)

    def _add(self, parent: Tree, step: StepState) -> None:
        branch = parent.add(self._label(step))
        for child in step.children:
            self._add(branch, self.tracker.steps[child])
        for note in step.notes:
            branch.add(note)

    def _label(self, step: StepState) -> Text:
        icon, style = _ICONS.get(step.status, ("?", "white"))
        elapsed = step.duration if step.duration is not None else time.perf_counter() - step.started
        text = Text.assemble((f"{icon} ", style), (step.name, "bold"), (f" {step.kind}", "dim"))
        role = step_role(step)
        if role:
            text.append(f" · {role}", style="magenta")
        text.append(f"  {elapsed:.2f} s", style="cyan")
        if step.status == "succeeded":
            text.append(f"  {step.tokens:,} tok  ${step.cost:.6f}", style="dim")
        elif step.model_calls:
            text.append(f"  {step.model_calls} model call(s)", style="dim")
        if step.error:
            text.append(f"  {step.error[:160]}", style="red")
        return text
