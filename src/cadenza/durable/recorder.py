"""The durable run's event sink: events and cost-ledger rows, queued for the batch writer.

Emitting stays a list append: events become JSON rows only when the writer commits them.
Model text deltas are not stored (the journaled response holds the whole text).

Agent invocations also become ``tasks`` rows (``cadenza.store.task_records``): the agent step's
start, finish or failure events give its name, status and times; the agent hands its prompt and
output to ``task_prompt``/``task_output`` (found on the run's sinks). The rows ride along with
the writer's next batch, like events: no commit of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cadenza.store.task_records import TaskRow
from cadenza.types.events import Event, LLMCall, StepFailed, StepStarted, TextDelta

if TYPE_CHECKING:
    from cadenza.store.writer import BatchWriter


class EventRecorder:
    """Callable sink for one run attempt; ``seq`` continues across attempts."""

    __slots__ = ("attempt", "run_id", "seq", "tasks", "workflow", "writer")

    def __init__(self, writer: BatchWriter, run_id: str, attempt: int, workflow: str, last_seq: int) -> None:
        self.writer = writer
        self.run_id = run_id
        self.attempt = attempt
        self.workflow = workflow
        self.seq = last_seq
        self.tasks: dict[str, TaskRow] = {}  # the agent invocations in flight, by step path

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            return
        self.seq += 1
        self.writer.write_event(_EventRow(event, self.seq, self.attempt))
        if isinstance(event, LLMCall):
            usage = event.usage
            self.writer.write_usage(
                {
                    "run_id": self.run_id,
                    "path": event.path,
                    "workflow": self.workflow,
                    "model": event.model,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cache_read_tokens": usage.cache_read_tokens,
                    "cache_write_tokens": usage.cache_write_tokens,
                    "cost": str(event.cost),
                    "at": datetime.fromtimestamp(event.at, UTC),
                }
            )
        elif getattr(event, "kind", None) == "agent":
            self._task(event)

    def _task(self, event: Any) -> None:
        at = datetime.fromtimestamp(event.at, UTC)
        if isinstance(event, StepStarted):
            row = self.tasks[event.path] = TaskRow(self.run_id, event.path, event.name, "running", at)
        else:
            found = self.tasks.pop(event.path, None)
            if found is None:
                return
            row = found
            row.finished_at = at
            if isinstance(event, StepFailed):
                row.status = "cancelled" if event.error_type == "CancelledError" else "failed"
                row.error = event.error
            else:
                row.status = "succeeded"
        self.writer.write_task(row)

    def task_prompt(self, path: str, prompt: str) -> None:
        """The prompt of the agent invocation at ``path`` (its task's description)."""
        row = self.tasks.get(path)
        if row is not None:
            row.description = prompt

    def task_output(self, path: str, output: Any) -> None:
        """The output of the agent invocation at ``path`` (its task's result)."""
        row = self.tasks.get(path)
        if row is not None:
            row.output = output


class _EventRow:
    """An event waiting to be written; turned into a row by the writer, off the emit path."""

    __slots__ = ("attempt", "event", "seq")

    def __init__(self, event: Event, seq: int, attempt: int) -> None:
        self.event = event
        self.seq = seq
        self.attempt = attempt

    def __call__(self) -> dict[str, Any]:
        from pydantic_core import to_json

        event = self.event
        return {
            "run_id": event.run_id,
            "seq": self.seq,
            "attempt": self.attempt,
            "type": getattr(event, "type", type(event).__name__),
            "path": event.path,
            "at": event.at,
            # Rust-side serialisation of the slotted dataclass: 5x faster than event_to_dict + json.
            "data": to_json(event, exclude=_EXCLUDED, fallback=str).decode(),
        }


_EXCLUDED = {"run_id"}
