"""``Reflective``: draft, critique, improve, until the critic is satisfied or rounds run out.

The critic returns a structured ``Critique`` (a score from 0 to 1 and feedback). The best
version seen is kept, not just the last one. Without a critic the agent critiques itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cadenza.agents.agent import Agent, to_text
from cadenza.engine.context import StepContext
from cadenza.engine.step import Step, StepInput
from cadenza.errors import GateFailedError, WorkflowDefinitionError
from cadenza.types.events import GateChecked
from cadenza.types.results import StepResult


@dataclass
class Critique:
    """A critic's judgement of a draft: ``score`` from 0 (useless) to 1 (perfect), and what to fix."""

    score: float
    feedback: str


class Reflective(Step):
    """Improve ``agent``'s output with a critic until ``score >= threshold`` or ``max_rounds``.

    With ``require_pass=True`` a critic that is never satisfied fails the step
    (``GateFailedError``); otherwise the best version is returned and the result's metadata
    says it did not pass.
    """

    kind = "reflective"

    def __init__(
        self,
        agent: Step,
        *,
        critic: Agent | None = None,
        max_rounds: int = 3,
        threshold: float = 0.8,
        require_pass: bool = False,
        name: str = "reflective",
    ) -> None:
        where = f"reflective {name!r}"
        if not isinstance(agent, Step):
            raise WorkflowDefinitionError(
                f"{where}: the agent must be a Step (an Agent or a pattern), got {agent!r}"
            )
        if critic is not None and not isinstance(critic, Agent):
            raise WorkflowDefinitionError(f"{where}: the critic must be an Agent, got {critic!r}")
        if critic is None and not isinstance(agent, Agent):
            raise WorkflowDefinitionError(
                f"{where}: self-critique needs an Agent; give a critic for {agent.name!r}"
            )
        if max_rounds < 1:
            raise WorkflowDefinitionError(f"{where}: max_rounds must be >= 1, got {max_rounds}")
        if not 0.0 <= threshold <= 1.0:
            raise WorkflowDefinitionError(f"{where}: threshold must be within 0..1, got {threshold}")
        self.name = name
        self.agent = agent
        self.critic: Agent = critic if critic is not None else agent  # type: ignore[assignment]
        self.max_rounds = max_rounds
        self.threshold = threshold
        self.require_pass = require_pass

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        run = ctx.run
        best_output: Any = None
        best_score = -1.0
        scores: list[float] = []
        draft_input = input
        critique = Critique(0.0, "")
        memory = getattr(self.agent, "memory", None)  # the learning loop: see _learn
        for round_number in range(1, self.max_rounds + 1):
            segment = f"round#{round_number}"
            drafted = await ctx.call(self.agent, draft_input, f"{segment}/draft:{self.agent.name}")
            critic_segment = f"{segment}/critic:{self.critic.name}"
            critique = await self._critique(ctx, input, drafted.output, critic_segment)
            score = min(max(float(critique.score), 0.0), 1.0)
            if memory is not None and scores and score > scores[-1] and draft_input.feedback:
                await self._learn(ctx, memory, draft_input.feedback, scores[-1], score)
            scores.append(score)
            passed = score >= self.threshold
            run.emit(
                GateChecked(
                    run_id=run.run_id,
                    path=drafted.path,
                    at=time.time(),
                    gate=f"critic:{self.critic.name}",
                    passed=passed,
                    feedback=critique.feedback,
                    attempt=round_number,
                )
            )
            if score > best_score:
                best_output, best_score = drafted.output, score
            if passed:
                break
            draft_input = StepInput(input.task, drafted.output, critique.feedback)
        passed = best_score >= self.threshold
        if not passed and self.require_pass:
            raise GateFailedError(
                ctx.path, f"critic:{self.critic.name}", critique.feedback, len(scores), best_output, run.state
            )
        return ctx.result(
            self.name,
            best_output,
            confidence=best_score,
            metadata={"rounds": len(scores), "scores": scores, "passed": passed},
        )

    async def _learn(self, ctx: StepContext, memory: Any, feedback: str, before: float, after: float) -> None:
        """Feedback that raised the score is a lesson: keep it in the agent's long-term memory,
        so the agent's next run starts from it (its memory adds lessons to its instructions)."""
        meta = {"workflow": ctx.run.workflow, "critic": self.critic.name, "gain": round(after - before, 4)}
        await memory.learn_lesson(self.agent.name, feedback, meta)

    async def _critique(self, ctx: StepContext, input: StepInput, draft: Any, segment: str) -> Critique:
        prompt = (
            f"Critique the draft written for this task. Score it from 0 to 1 and say what to improve."
            f"\n\nTask:\n{input.task.description}\n\nDraft:\n{to_text(draft)}"
        )
        result = await ctx.call(self.critic.asking(prompt, Critique), input, segment)
        critique: Critique = result.output
        return critique
