"""``Parallel``: the same input fanned out to branches that run concurrently, then merged.

Each branch is its own chain of awaits, so a branch that is a Pipeline moves to its next stage
the moment its own stage ends; nothing waits for the slowest branch except the final merge.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from cadenza.engine.context import StepContext
from cadenza.engine.step import Step, StepInput
from cadenza.errors import ParallelError, StepFailedError, WorkflowDefinitionError
from cadenza.types.results import StepResult

FailurePolicy = Literal["fail_fast", "best_effort"]
T = TypeVar("T")
MERGE_STRATEGIES = ("concat", "list", "dict", "vote")


class Parallel(Step):
    """Run ``branches`` concurrently on the same input and merge their outputs.

    ``merge`` is ``"concat"`` (text, one section per branch), ``"list"``, ``"dict"`` (by branch
    name), ``"vote"`` (the most common output; ties go to the earliest branch), a function of the
    list of outputs, or a Step (a synthesiser agent) that receives the outputs by branch name.
    ``on_failure="fail_fast"`` cancels the rest at the first failure; ``"best_effort"`` carries
    on and needs at least ``quorum`` successful branches (default 1).
    """

    kind = "parallel"

    def __init__(
        self,
        branches: Sequence[Step],
        *,
        merge: str | Callable[[list[Any]], Any] | Step = "concat",
        max_concurrency: int | None = None,
        branch_timeout: float | None = None,
        on_failure: FailurePolicy = "fail_fast",
        quorum: int | None = None,
        name: str = "parallel",
    ) -> None:
        if not branches:
            raise WorkflowDefinitionError(f"parallel {name!r} has no branches: give at least one")
        for branch in branches:
            if not isinstance(branch, Step):
                raise WorkflowDefinitionError(
                    f"parallel {name!r}: every branch must be a Step (an Agent or a pattern), got {branch!r}"
                )
        if isinstance(merge, str) and merge not in MERGE_STRATEGIES:
            raise WorkflowDefinitionError(
                f"parallel {name!r}: unknown merge {merge!r}; expected one of {', '.join(MERGE_STRATEGIES)}, "
                "a function or an agent"
            )
        if on_failure not in ("fail_fast", "best_effort"):
            raise WorkflowDefinitionError(
                f"parallel {name!r}: on_failure must be 'fail_fast' or 'best_effort', got {on_failure!r}"
            )
        if quorum is not None and not 1 <= quorum <= len(branches):
            raise WorkflowDefinitionError(
                f"parallel {name!r}: quorum must be between 1 and {len(branches)}, got {quorum}"
            )
        if max_concurrency is not None and max_concurrency < 1:
            raise WorkflowDefinitionError(f"parallel {name!r}: max_concurrency must be >= 1")
        if branch_timeout is not None and branch_timeout <= 0:
            raise WorkflowDefinitionError(
                f"parallel {name!r}: branch_timeout must be > 0 seconds, got {branch_timeout}"
            )
        self.name = name
        self.branches = list(branches)
        self.merge = merge
        self.max_concurrency = max_concurrency
        self.branch_timeout = branch_timeout
        self.on_failure = on_failure
        self.quorum = quorum or 1
        self.keys = _output_keys(self.branches)

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        limiter = asyncio.Semaphore(self.max_concurrency) if self.max_concurrency else None
        tasks = [
            asyncio.create_task(self._run_branch(ctx, i, branch, input, limiter))
            for i, branch in enumerate(self.branches)
        ]
        if self.on_failure == "fail_fast":
            results = await _all_or_first_error(tasks)
            succeeded = list(enumerate(results))
        else:
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            errors = {i: o for i, o in enumerate(outcomes) if isinstance(o, BaseException)}
            for error in errors.values():
                if isinstance(error, asyncio.CancelledError):
                    raise error
            succeeded = [(i, o) for i, o in enumerate(outcomes) if not isinstance(o, BaseException)]
            if len(succeeded) < self.quorum:
                detail = "; ".join(f"branch {i} ({self.branches[i].name}): {e}" for i, e in errors.items())
                counts = f"{len(succeeded)} of {len(self.branches)} branches succeeded"
                raise ParallelError(ctx.path, f"{counts}, quorum is {self.quorum}: {detail}", errors)
        outputs = [(self.keys[i], r.output) for i, r in succeeded]
        merged = await self._merge(ctx, input, outputs)
        failed = len(self.branches) - len(succeeded)
        return ctx.result(self.name, merged, metadata={"branches": len(self.branches), "failed": failed})

    async def _run_branch(
        self, ctx: StepContext, index: int, branch: Step, input: StepInput, limiter: asyncio.Semaphore | None
    ) -> StepResult:
        segment = f"{index}:{branch.name}"
        async with limiter or contextlib.nullcontext():
            if self.branch_timeout is None:
                return await ctx.call(branch, input, segment)
            try:
                async with asyncio.timeout(self.branch_timeout):
                    return await ctx.call(branch, input, segment)
            except TimeoutError:
                raise StepFailedError(
                    ctx.child_path(segment), f"timed out after {self.branch_timeout} s"
                ) from None

    async def _merge(self, ctx: StepContext, input: StepInput, outputs: list[tuple[str, Any]]) -> Any:
        merge = self.merge
        if isinstance(merge, Step):
            data = {name: output for name, output in outputs}
            # The synthesiser sees feedback given to this step (by an outer gate or critic) too.
            result = await ctx.call(merge, StepInput(input.task, data, input.feedback), f"merge:{merge.name}")
            return result.output
        if callable(merge):
            merged = merge([output for _, output in outputs])
            return await merged if asyncio.iscoroutine(merged) else merged
        if merge == "list":
            return [output for _, output in outputs]
        if merge == "dict":
            return {name: output for name, output in outputs}
        if merge == "vote":
            return _majority([output for _, output in outputs])
        from cadenza.agents.agent import to_text

        return "\n\n".join(f"## {name}\n{to_text(output)}" for name, output in outputs)


def _output_keys(branches: list[Step]) -> list[str]:
    """What each branch's output is called in a merge: its name, or ``index:name`` when names repeat.

    ``Parallel([agent, agent, agent], merge="dict")`` must keep all three answers.
    """
    names = [b.name for b in branches]
    return [name if names.count(name) == 1 else f"{i}:{name}" for i, name in enumerate(names)]


def _majority(outputs: list[Any]) -> Any:
    from cadenza.agents.agent import to_text

    keys = [to_text(o).strip().lower() for o in outputs]
    counts = Counter(keys)
    best = max(counts.values())
    for key, output in zip(keys, outputs, strict=True):
        if counts[key] == best:
            return output
    raise AssertionError("unreachable: outputs is never empty")


async def _all_or_first_error(tasks: list[asyncio.Task[T]]) -> list[T]:
    """Wait for every task; at the first failure cancel the others and raise that failure."""
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    failed = next((t for t in tasks if t.done() and not t.cancelled() and t.exception()), None)
    if failed is not None:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieve later failures too: no "never retrieved" warnings
        raise failed.exception()  # type: ignore[misc]
    return [t.result() for t in tasks]
