"""``Step``: the one abstraction the engine runs. Agents and all four patterns are Steps.

A Step receives its context and a ``StepInput`` (the run's task, the previous step's output and
any feedback to address) and returns a ``StepResult``. ``run`` and ``stream`` start a whole run
with a Step at its root; user-defined Steps get both for free.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar

from cadenza.engine.budget import run_deadline, start_budget
from cadenza.engine.context import RunState, Sink, StepContext
from cadenza.errors import BudgetExceeded
from cadenza.types.events import Event, RunFailed, RunFinished, RunStarted
from cadenza.types.results import RunResult, StepResult, Task

_END = object()


@dataclass(slots=True)
class StepInput:
    """What a step works on: the task, the previous step's output, and feedback to address."""

    task: Task
    data: Any = None
    feedback: str | None = None


class Step(ABC):
    """A unit of work the engine can run, nest and observe.

    Subclasses set ``kind`` (e.g. ``"pipeline"``) and implement ``invoke``. A Step keeps no
    per-run state on itself, so one Step object may serve many concurrent runs.
    """

    kind: ClassVar[str] = "step"
    name: str

    @abstractmethod
    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        """Do the work. Call children with ``ctx.call(child, input, segment)``."""

    def run(
        self,
        task: str | Task,
        *,
        state: dict[str, Any] | None = None,
        run_id: str | None = None,
        budget: Any = None,
        sinks: list[Sink] | None = None,
        store: Any = None,
        conversation: str | None = None,
    ) -> Coroutine[Any, Any, RunResult]:
        """Run this step as a whole run: ``await flow.run(task)`` returns its result.

        Raises if the run fails. (A plain method returning the driving coroutine, so a run in
        flight holds one frame less.) With ``store`` (a ``cadenza.store.Store``) or
        ``conversation`` (a thread id; the default store is used) the run is durable: journaled,
        resumable after a crash, able to pause for approval.
        """
        if store is not None or conversation is not None:
            from cadenza.durable.driver import run_durable

            return run_durable(
                self,
                task,
                store=store,
                conversation=conversation,
                state=state,
                run_id=run_id,
                budget=budget,
                sinks=sinks,
            )
        run = self._new_run(task, state=state, run_id=run_id, budget=budget, sinks=sinks)
        return _drive(self, run)

    async def stream(
        self,
        task: str | Task,
        *,
        state: dict[str, Any] | None = None,
        run_id: str | None = None,
        budget: Any = None,
    ) -> AsyncIterator[Event]:
        """Run and yield every event as it happens, model text deltas included.

        The last event is ``RunFinished`` or ``RunFailed``; after a failure the error is raised.
        Leaving the loop early cancels the run.
        """
        queue: asyncio.Queue[Any] = asyncio.Queue()
        run = self._new_run(
            task, state=state, run_id=run_id, budget=budget, sinks=[queue.put_nowait], streaming=True
        )

        async def drive() -> RunResult:
            try:
                return await _drive(self, run)
            finally:
                queue.put_nowait(_END)

        driver = asyncio.create_task(drive())
        try:
            while (item := await queue.get()) is not _END:
                yield item
            await driver
        finally:
            if not driver.done():
                driver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await driver

    def _new_run(
        self,
        task: str | Task,
        *,
        state: dict[str, Any] | None,
        run_id: str | None,
        budget: Any,
        sinks: list[Sink] | None,
        streaming: bool = False,
    ) -> RunState:
        return RunState(
            run_id or uuid.uuid4().hex,
            Task.of(task),
            self.name,
            state=state,
            sinks=sinks,
            streaming=streaming,
            budget=budget,
        )


async def _drive(step: Step, run: RunState) -> RunResult:
    """Run ``step`` at the root of ``run``: run events, totals, and the failure status."""
    tracker = start_budget(run)
    root = StepContext(run, "", None)
    started = time.perf_counter()
    run.emit(
        RunStarted(
            run_id=run.run_id,
            path=step.name,
            at=time.time(),
            workflow=run.workflow,
            input=run.task.description,
        )
    )
    try:
        if tracker is None or tracker.budget.max_seconds is None:
            result = await root.call(step, StepInput(run.task), step.name)
        else:
            async with run_deadline(tracker):
                result = await root.call(step, StepInput(run.task), step.name)
    except BaseException as exc:
        status = _status_of(exc)
        duration = time.perf_counter() - started
        run.emit(
            RunFailed(
                run_id=run.run_id,
                path=step.name,
                at=time.time(),
                status=status,
                error=str(exc) or type(exc).__name__,
                error_type=type(exc).__name__,
                usage=root.usage.copy(),
                cost=root.cost,
                duration=duration,
            )
        )
        if isinstance(exc, BudgetExceeded) and exc.result is None:
            exc.result = RunResult(
                run.run_id,
                status,
                run.last_output,
                root.usage.copy(),
                root.cost,
                duration,
                run.events,
                error=str(exc),
            )
        raise
    duration = time.perf_counter() - started
    run.emit(
        RunFinished(
            run_id=run.run_id,
            path=step.name,
            at=time.time(),
            output=result.output,
            usage=result.usage,
            cost=result.cost,
            duration=duration,
        )
    )
    return RunResult(
        run.run_id, "succeeded", result.output, root.usage.copy(), root.cost, duration, run.events, result
    )


def _status_of(exc: BaseException) -> str:
    status = getattr(exc, "run_status", None)
    if isinstance(status, str):
        # Durable runs pause (waiting for approval) or stop for a human (needs_attention).
        return status
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return "cancelled"
    if isinstance(exc, BudgetExceeded):
        return "budget_exceeded"
    return "failed"
