"""Why a durable run stopped without finishing: it waits for a human, or needs one.

Each carries ``run_status``: the engine records it as the run's status instead of ``failed``.
Light on purpose (no SQLAlchemy): the approval step raises these from ``import cadenza``.
"""

from __future__ import annotations

from cadenza.errors import CadenzaError, StepFailedError


class ApprovalRequired(CadenzaError):
    """An approval step has no decision yet: the run pauses with status ``waiting``."""

    run_status = "waiting"

    def __init__(self, path: str, prompt: str, data: object = None, run_id: str | None = None) -> None:
        self.path = path
        self.prompt = prompt
        self.data = data
        self.run_id = run_id
        how = (
            f"; decide with `cadenza runs approve {run_id}` or `cadenza runs reject {run_id} -c REASON`"
            if run_id
            else ""
        )
        super().__init__(f"waiting for approval at {path!r}: {prompt}{how}")


class ApprovalRejected(StepFailedError):
    """A human rejected the run at an approval step; the run ends with status ``rejected``."""

    run_status = "rejected"

    def __init__(self, path: str, comment: str, by: str) -> None:
        self.comment = comment
        self.by = by
        reason = f": {comment}" if comment else ""
        super().__init__(path, f"rejected by {by}{reason}")


class InFlightToolError(CadenzaError):
    """A non-idempotent tool call was started but never finished (the process died during it).

    Repeating it could do its effect twice, so the run stops with status ``needs_attention``
    instead; a human checks the outside world and resumes or cancels the run.
    """

    run_status = "needs_attention"

    def __init__(self, path: str, tool: str) -> None:
        self.path = path
        self.tool = tool
        super().__init__(
            f"tool {tool!r} at {path!r} is not idempotent and was in flight when the run's process "
            "died; it was not repeated. Check whether it took effect, then resume with "
            "`cadenza runs resume --retry-in-flight` or cancel the run"
        )


class DurableRunError(CadenzaError):
    """A durable run cannot be started or resumed as asked (no flow to rebuild, bad reference)."""
