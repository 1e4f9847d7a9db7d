"""``Supervisor``: a supervisor agent plans subtasks, specialists do them, the supervisor synthesises.

Each turn the supervisor returns a structured ``Plan``. Every subtask goes to the specialist it
names or, when that name is unknown, to the specialist whose capabilities best fit its
description; subtasks whose dependencies are met run concurrently. The supervisor sees the
results and may plan another turn (bounded by ``max_turns``) before it writes the final answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cadenza.agents.agent import Agent, to_text
from cadenza.engine.context import StepContext
from cadenza.engine.step import Step, StepInput
from cadenza.errors import RoutingError, WorkflowDefinitionError
from cadenza.patterns.parallel import _all_or_first_error
from cadenza.types.results import StepResult, Task

_WORD = re.compile(r"[a-z][a-z0-9]+")


@dataclass
class Subtask:
    """One piece of the work, for one specialist, after the subtasks it depends on."""

    id: str
    description: str
    specialist: str | None = None
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """A supervisor's plan for one turn; ``done`` means no more work is needed."""

    subtasks: list[Subtask] = field(default_factory=list)
    done: bool = False
    rationale: str = ""


class Supervisor(Step):
    """A supervisor agent coordinating ``specialists`` (Agents or any Steps)."""

    kind = "supervisor"

    def __init__(
        self,
        supervisor: Agent,
        specialists: Sequence[Step],
        *,
        max_turns: int = 3,
        max_subtasks: int = 8,
        concurrent: bool = True,
        synthesizer: Agent | None = None,
        name: str = "supervisor",
    ) -> None:
        if not isinstance(supervisor, Agent):
            raise WorkflowDefinitionError(f"supervisor {name!r}: the supervisor must be an Agent")
        if not specialists:
            raise WorkflowDefinitionError(f"supervisor {name!r} has no specialists: give at least one")
        for specialist in specialists:
            if not isinstance(specialist, Step):
                raise WorkflowDefinitionError(
                    f"supervisor {name!r}: every specialist must be a Step (an Agent or a pattern), "
                    f"got {specialist!r}"
                )
        names = [s.name for s in specialists]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise WorkflowDefinitionError(f"supervisor {name!r}: specialist names repeat: {duplicates}")
        if max_turns < 1 or max_subtasks < 1:
            raise WorkflowDefinitionError(f"supervisor {name!r}: max_turns and max_subtasks must be >= 1")
        self.name = name
        self.supervisor = supervisor
        self.specialists = {s.name: s for s in specialists}
        self.max_turns = max_turns
        self.max_subtasks = max_subtasks
        self.concurrent = concurrent
        self.synthesizer = synthesizer or supervisor

    def catalogue(self) -> str:
        """The specialists as the supervisor sees them: one ``- name: description`` line each."""
        lines = []
        for name, step in self.specialists.items():
            description = getattr(step, "description", "") or step.kind
            capabilities = ", ".join(getattr(step, "capabilities", []) or [])
            suffix = f" (capabilities: {capabilities})" if capabilities else ""
            lines.append(f"- {name}: {description}{suffix}")
        return "\n".join(lines)

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        results: dict[str, tuple[Subtask, str, Any]] = {}
        turns = 0
        for turn in range(1, self.max_turns + 1):
            turns = turn
            prompt = self._plan_prompt(input, results)
            planned = await ctx.call(self.supervisor.asking(prompt, Plan), input, f"plan#{turn}")
            plan: Plan = planned.output
            if plan.done or not plan.subtasks:
                break
            await self._execute(ctx, input, plan.subtasks[: self.max_subtasks], turn, results)
        final = await ctx.call(
            self.synthesizer.asking(self._synthesis_prompt(input, results)), input, "synthesize"
        )
        return ctx.result(
            self.name,
            final.output,
            metadata={"turns": turns, "subtasks": len(results)},
        )

    async def _execute(
        self,
        ctx: StepContext,
        input: StepInput,
        subtasks: list[Subtask],
        turn: int,
        results: dict[str, tuple[Subtask, str, Any]],
    ) -> None:
        routed = [(sub, self.route(ctx, sub)) for sub in _unique_ids(subtasks, results, turn)]
        order = [item for level in _levels(routed, results) for item in level]
        if not self.concurrent:
            for sub, spec in order:
                await self._run_subtask(ctx, input, sub, spec, turn, results)
            return
        # Each subtask is its own task that waits only for its own inputs (no wave barrier).
        # Only subtasks earlier in ``order`` are waited for, so a dependency cycle cannot hang.
        tasks: dict[str, asyncio.Task[None]] = {}
        for sub, spec in order:
            inputs = [tasks[dep] for dep in sub.depends_on if dep in tasks]
            tasks[sub.id] = asyncio.create_task(
                self._run_when_ready(inputs, ctx, input, sub, spec, turn, results)
            )
        await _all_or_first_error(list(tasks.values()))

    async def _run_when_ready(
        self,
        inputs: list[asyncio.Task[None]],
        ctx: StepContext,
        input: StepInput,
        sub: Subtask,
        specialist: Step,
        turn: int,
        results: dict[str, tuple[Subtask, str, Any]],
    ) -> None:
        for task in inputs:
            await task
        await self._run_subtask(ctx, input, sub, specialist, turn, results)

    async def _run_subtask(
        self,
        ctx: StepContext,
        input: StepInput,
        sub: Subtask,
        specialist: Step,
        turn: int,
        results: dict[str, tuple[Subtask, str, Any]],
    ) -> None:
        inputs = {dep: results[dep][2] for dep in sub.depends_on if dep in results}
        task = Task(sub.description, context=input.task.context)
        step_input = StepInput(task, inputs or input.data, input.feedback)
        result = await ctx.call(specialist, step_input, f"{turn}.{sub.id}:{specialist.name}")
        results[sub.id] = (sub, specialist.name, result.output)

    def route(self, ctx: StepContext, sub: Subtask) -> Step:
        """The specialist a subtask goes to: by name, else by the best capability fit."""
        if sub.specialist in self.specialists:
            return self.specialists[sub.specialist]
        wanted = _words(f"{sub.specialist or ''} {sub.description}")
        best, best_score = None, 0
        for step in self.specialists.values():
            offered = _words(" ".join(getattr(step, "capabilities", []) or []))
            score = sum(1 for word in offered if any(_related(word, w) for w in wanted))
            if score > best_score:
                best, best_score = step, score
        if best is None:
            raise RoutingError(ctx.path, sub.specialist or "(none)", list(self.specialists))
        return best

    def _plan_prompt(self, input: StepInput, results: dict[str, tuple[Subtask, str, Any]]) -> str:
        parts = [
            input.task.description,
            "Break the task into subtasks for these specialists. Give each subtask an id, a "
            "description, the specialist's name, and the ids it depends on. Set done to true "
            f"when no more work is needed.\n\nSpecialists:\n{self.catalogue()}",
        ]
        if input.data is not None:
            parts.append(f"Input:\n{to_text(input.data)}")
        if input.feedback:
            parts.append(f"Feedback to address:\n{input.feedback}")
        if results:
            parts.append(f"Results so far:\n{_render_results(results)}")
        return "\n\n".join(parts)

    def _synthesis_prompt(self, input: StepInput, results: dict[str, tuple[Subtask, str, Any]]) -> str:
        parts = [
            input.task.description,
            "Write one complete answer to the task from the results below.",
            f"Input:\n{_render_results(results) or to_text(input.data)}",
        ]
        if input.feedback:
            parts.append(f"Feedback to address:\n{input.feedback}")
        return "\n\n".join(parts)


def _render_results(results: dict[str, tuple[Subtask, str, Any]]) -> str:
    return "\n\n".join(
        f"[{sub_id}] {specialist} on {sub.description!r}:\n{to_text(output)}"
        for sub_id, (sub, specialist, output) in results.items()
    )


def _unique_ids(subtasks: list[Subtask], done: dict[str, Any], turn: int) -> list[Subtask]:
    """The subtasks with ids no earlier subtask (this turn or a past one) has used.

    Models often number every turn's plan from ``t1``; a repeated id becomes ``t1@2`` (turn 2),
    so no result is overwritten and no two steps share a path. Dependencies on a renamed id
    within the same turn follow it.
    """
    taken = set(done)
    renamed: dict[str, str] = {}
    seen: set[str] = set()
    unique = []
    for sub in subtasks:
        original = key = sub.id
        n = 1
        while key in taken:
            n += 1
            key = f"{original}@{turn}" if n == 2 else f"{original}@{turn}.{n - 1}"
        taken.add(key)
        if key != original:
            if original not in seen:  # it collided with a past turn: this turn's deps mean it
                renamed[original] = key
            sub = dataclasses.replace(sub, id=key)
        seen.add(original)
        unique.append(sub)
    if not renamed:
        return unique
    return [
        dataclasses.replace(sub, depends_on=[renamed.get(dep, dep) for dep in sub.depends_on])
        for sub in unique
    ]


def _levels(routed: list[tuple[Subtask, Step]], done: dict[str, Any]) -> list[list[tuple[Subtask, Step]]]:
    """Group subtasks into waves whose dependencies are met by earlier waves (or earlier turns).

    Unknown dependencies are ignored; a cycle is broken by running the rest in plan order.
    """
    known = {sub.id for sub, _ in routed}
    finished = set(done)
    remaining = list(routed)
    levels = []
    while remaining:
        ready = [
            (sub, spec)
            for sub, spec in remaining
            if all(dep in finished or dep not in known for dep in sub.depends_on)
        ]
        if not ready:
            levels.extend([[item] for item in remaining])
            break
        levels.append(ready)
        finished.update(sub.id for sub, _ in ready)
        remaining = [item for item in remaining if item not in ready]
    return levels


_SUFFIXES = ("ing", "ers", "er", "es", "ed", "s", "e")


def _words(text: str) -> set[str]:
    """Crude stems of the words of ``text``: short ones kept ("sql", "seo", "ai" are capabilities)."""
    return {_stem(w) for w in _WORD.findall(text.lower())}


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _related(a: str, b: str) -> bool:
    """Same stem, or the same first five letters ("analysis" ~ "analyse", "data" ~ "database")."""
    if a == b:
        return True
    k = min(5, len(a), len(b))
    return k >= 4 and a[:k] == b[:k]
