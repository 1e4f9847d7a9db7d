"""``Approval``: a human in the loop. The run pauses here until someone approves or rejects it.

The first time the step runs there is no decision in the journal: the run stops with status
``waiting`` and is stored. ``cadenza runs approve ID`` (or ``reject``, with a comment) records
the decision in the run's journal and resumes it — minutes or days later, in any process. On
that replay every earlier call comes from the journal and the step finds its decision.
"""

from __future__ import annotations

from cadenza.durable.errors import ApprovalRejected, ApprovalRequired
from cadenza.engine.context import StepContext
from cadenza.engine.step import Step, StepInput
from cadenza.errors import ConfigurationError
from cadenza.types.results import StepResult


class Approval(Step):
    """Wait for a human decision; on approval pass the input through unchanged.

    ``prompt`` is what the approver is asked. A rejection ends the run with status
    ``rejected`` and the approver's comment.
    """

    kind = "approval"

    def __init__(self, name: str = "approval", *, prompt: str = "Approve to continue?") -> None:
        if not name or not isinstance(name, str):
            raise ConfigurationError("an approval step needs a non-empty name")
        self.name = name
        self.prompt = prompt
        self.description = f"human approval: {prompt}"

    def __repr__(self) -> str:
        return f"Approval({self.name!r})"

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        journal = ctx.run.journal
        if journal is None:
            raise ConfigurationError(
                f"approval step {self.name!r} at {ctx.path!r} needs a durable run to pause: run it "
                "with store= (cadenza run is durable by default)"
            )
        decision = journal.decision(ctx.path)
        if decision is None:
            raise ApprovalRequired(ctx.path, self.prompt, input.data, ctx.run.run_id)
        if not decision.get("approved"):
            raise ApprovalRejected(
                ctx.path, str(decision.get("comment") or ""), str(decision.get("by") or "?")
            )
        return ctx.result(
            self.name,
            input.data,
            metadata={"approved": True, "comment": decision.get("comment", ""), "by": decision.get("by")},
        )
