"""``Pipeline``: stages in order, each handed the previous stage's output, with quality gates.

A gate after a stage checks its output. When it fails, the stage runs again with the gate's
feedback, up to ``max_gate_retries`` times; when it still fails, the run's working memory is
rolled back to what it was after the last stage that passed, and the pipeline fails with the
gate's reason (``GateFailedError``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cadenza.engine.context import StepContext
from cadenza.engine.step import Step, StepInput
from cadenza.errors import GateFailedError, WorkflowDefinitionError
from cadenza.patterns.gates import Gate, as_gate
from cadenza.types.events import GateChecked
from cadenza.types.results import StepResult


class Pipeline(Step):
    """Run ``stages`` one after another; ``gates`` check outputs between them.

    ``gates`` is a list aligned with the stages (``None`` where a stage has no gate) or a mapping
    from stage name or index to gate.
    """

    kind = "pipeline"

    def __init__(
        self,
        stages: Sequence[Step],
        *,
        gates: Sequence[Any] | Mapping[str | int, Any] | None = None,
        max_gate_retries: int = 2,
        name: str = "pipeline",
    ) -> None:
        if not stages:
            raise WorkflowDefinitionError(f"pipeline {name!r} has no stages: give at least one")
        for stage in stages:
            if not isinstance(stage, Step):
                raise WorkflowDefinitionError(
                    f"pipeline {name!r}: every stage must be a Step (an Agent or a pattern), got {stage!r}"
                )
        if max_gate_retries < 0:
            raise WorkflowDefinitionError(f"pipeline {name!r}: max_gate_retries must be >= 0")
        self.name = name
        self.stages = list(stages)
        self.gates = self._align_gates(gates)
        self.max_gate_retries = max_gate_retries

    def _align_gates(self, gates: Sequence[Any] | Mapping[str | int, Any] | None) -> list[Gate | None]:
        aligned: list[Gate | None] = [None] * len(self.stages)
        if gates is None:
            return aligned
        if isinstance(gates, Mapping):
            names = {stage.name: i for i, stage in enumerate(self.stages)}
            for key, gate in gates.items():
                index = key if isinstance(key, int) else names.get(key)
                if index is None or not 0 <= index < len(self.stages):
                    raise WorkflowDefinitionError(
                        f"pipeline {self.name!r}: gate for unknown stage {key!r}; stages: {', '.join(names)}"
                    )
                aligned[index] = None if gate is None else as_gate(gate)
            return aligned
        if len(gates) > len(self.stages):
            raise WorkflowDefinitionError(
                f"pipeline {self.name!r}: {len(gates)} gates for {len(self.stages)} stages"
            )
        for i, gate in enumerate(gates):
            aligned[i] = None if gate is None else as_gate(gate)
        return aligned

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        run = ctx.run
        data = input.data
        gated = self.gates.count(None) != len(self.gates)
        # Only a gated pipeline rolls back, so only it pays for snapshots of the working memory.
        last_good_state = _snapshot(run.state) if gated else {}
        last_good_output = None
        for index, (stage, gate) in enumerate(zip(self.stages, self.gates, strict=True)):
            # Feedback given to this pipeline (by an outer gate or critic) reaches every stage.
            segment = f"{index}:{stage.name}"
            result = await ctx.call(stage, StepInput(input.task, data, input.feedback), segment)
            attempt = 1
            # Gate calls (an LLM judge's) live under the stage's path, so two gated stages never
            # share a path: pipeline/1:writer/gate#2:judge.
            gate_ctx = StepContext(run, ctx.child_path(segment), ctx) if gate is not None else ctx
            while gate is not None:
                verdict = await gate.check(gate_ctx, result.output, attempt)
                run.emit(
                    GateChecked(
                        run_id=run.run_id,
                        path=result.path,
                        at=time.time(),
                        gate=gate.name,
                        passed=verdict.passed,
                        feedback=verdict.feedback,
                        attempt=attempt,
                    )
                )
                if verdict.passed:
                    break
                if attempt > self.max_gate_retries:
                    run.state.clear()
                    run.state.update(last_good_state)
                    raise GateFailedError(
                        result.path, gate.name, verdict.feedback, attempt, last_good_output, run.state
                    )
                # The retry starts from the state the last good stage left, not the failed try's.
                run.state.clear()
                run.state.update(_snapshot(last_good_state))
                retry_input = StepInput(input.task, data, verdict.feedback)
                result = await ctx.call(stage, retry_input, f"{segment}@retry{attempt}")
                attempt += 1
            data = last_good_output = result.output
            if gated:
                last_good_state = _snapshot(run.state)
        return ctx.result(self.name, data, confidence=result.confidence)


def _snapshot(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of the working memory to roll back to; deep when the values allow it."""
    try:
        return copy.deepcopy(state)
    except Exception:
        return dict(state)
