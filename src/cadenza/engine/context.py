"""The run and step contexts every Step receives.

A ``RunState`` exists once per run: its id, task, working memory, event sinks, budget and the
run's totals. A ``StepContext`` is one step's view: its deterministic path, its parent, and the
usage and cost of everything beneath it. Both are slotted plain classes because one of each is
made per step on the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cadenza.errors import CadenzaError
from cadenza.observability.sinks import observer_sinks
from cadenza.types.events import Event, StepFailed, StepFinished, StepStarted
from cadenza.types.results import StepResult, Task
from cadenza.types.usage import Usage

if TYPE_CHECKING:
    from cadenza.engine.budget import BudgetTracker
    from cadenza.engine.step import Step, StepInput

Sink = Callable[[Event], None]
_ZERO = Decimal(0)


class RunState:
    """Everything one run shares across its steps."""

    __slots__ = (
        "budget",
        "emit",
        "events",
        "journal",
        "last_output",
        "run_id",
        "sinks",
        "state",
        "streaming",
        "task",
        "workflow",
    )

    def __init__(
        self,
        run_id: str,
        task: Task,
        workflow: str,
        *,
        state: dict[str, Any] | None = None,
        sinks: list[Sink] | None = None,
        streaming: bool = False,
        budget: Any = None,
    ) -> None:
        self.run_id = run_id
        self.task = task
        self.workflow = workflow
        self.state: dict[str, Any] = state if state is not None else {}
        self.events: list[Event] = []
        # The run's own list first (RunResult.events), then the caller's sinks, then tracing,
        # metrics and logs when they are enabled.
        self.sinks: list[Sink] = [self.events.append, *(sinks or ()), *observer_sinks(run_id, workflow)]
        self.streaming = streaming
        self.budget = budget
        # A durable run's journal (cadenza.durable.journal.Journal); None for an in-memory run.
        self.journal: Any = None
        # The output of the last top-level stage that finished: a stopped run's output so far.
        self.last_output: Any = None
        # One bound callable: with a single sink (the common case) emitting is one call.
        self.emit: Sink = self.sinks[0] if len(self.sinks) == 1 else self._fan_out

    def _fan_out(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)


class StepContext:
    """One step's place in a run: its path, its parent, and the usage beneath it."""

    __slots__ = ("_calls", "budget", "cost", "parent", "path", "run", "usage")

    def __init__(self, run: RunState, path: str, parent: StepContext | None) -> None:
        self.run = run
        self.path = path
        self.parent = parent
        # The innermost budget tracker model calls beneath this step reserve on (None: no limit).
        self.budget: BudgetTracker | None = parent.budget if parent is not None else run.budget
        self.usage = Usage()
        self.cost = _ZERO
        self._calls = 0

    def child_path(self, segment: str) -> str:
        return f"{self.path}/{segment}" if self.path else segment

    def next_call_index(self) -> int:
        """The n-th model call of this step (1-based): it names the call's path, never a clock."""
        self._calls += 1
        return self._calls

    def record(self, usage: Usage, cost: Decimal) -> None:
        """Charge a model call's usage and cost to this step and every step above it."""
        ctx: StepContext | None = self
        while ctx is not None:
            ctx.usage.add(usage)
            ctx.cost += cost
            ctx = ctx.parent

    def result(
        self,
        name: str,
        output: Any,
        *,
        confidence: float | None = None,
        messages: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> StepResult:
        """This step's result: its output with the usage and cost recorded beneath it."""
        return StepResult(
            name,
            self.path,
            output,
            self.usage.copy(),
            self.cost,
            0.0,
            confidence,
            messages,
            metadata if metadata is not None else {},
        )

    async def call(self, step: Step, input: StepInput, segment: str) -> StepResult:
        """Run ``step`` as a child at ``path/segment``, with its start, finish or failure events."""
        run = self.run
        path = self.child_path(segment)
        child = StepContext(run, path, self)
        started = time.perf_counter()
        run.emit(StepStarted(run_id=run.run_id, path=path, at=time.time(), name=step.name, kind=step.kind))
        try:
            result = await step.invoke(child, input)
        except BaseException as exc:
            if isinstance(exc, CadenzaError) and exc.step_path is None:
                exc.step_path = path
            run.emit(
                StepFailed(
                    run_id=run.run_id,
                    path=path,
                    at=time.time(),
                    name=step.name,
                    kind=step.kind,
                    error=str(exc) or type(exc).__name__,
                    error_type=type(exc).__name__,
                    duration=time.perf_counter() - started,
                )
            )
            raise
        result.duration = duration = time.perf_counter() - started
        if self.parent is not None and self.parent.parent is None:
            run.last_output = result.output  # a stage of the root step finished
        run.emit(
            StepFinished(
                run_id=run.run_id,
                path=path,
                at=time.time(),
                name=step.name,
                kind=step.kind,
                duration=duration,
                usage=result.usage,
                cost=result.cost,
                confidence=result.confidence,
            )
        )
        return result
