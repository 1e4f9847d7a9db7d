"""The journal of one run attempt: replay completed calls, record new ones before moving on.

Only what is non-deterministic is journaled — model responses, tool results, human decisions —
as small compact-JSON deltas keyed by step path. Replaying a run re-walks the same paths, so the
n-th model call of a step finds its entry and is answered from it, never sent again.

``CADENZA_TEST_CRASH_AT=<path>:<before|after>-journal`` makes the process SIGKILL itself right
before or right after the entry for ``path`` is written: the crash tests use it to die between a
model's answer and its journal write.
"""

from __future__ import annotations

import json
import os
import signal
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cadenza.durable.errors import InFlightToolError
from cadenza.models.base import ModelResponse
from cadenza.models.pricing import cost_of
from cadenza.types.messages import ToolCall
from cadenza.types.usage import Usage

if TYPE_CHECKING:
    from cadenza.engine.context import StepContext
    from cadenza.store.records import JournalEntry
    from cadenza.store.writer import BatchWriter

CRASH_ENV = "CADENZA_TEST_CRASH_AT"
_ZERO = Decimal(0)


class Journal:
    """One attempt's view of a run's journal: entries read at start, writes fenced by ``attempt``."""

    __slots__ = ("_crash", "_seq", "attempt", "entries", "recorded", "replayed", "run_id", "writer")

    def __init__(
        self, writer: BatchWriter, run_id: str, attempt: int, entries: dict[str, JournalEntry]
    ) -> None:
        self.writer = writer
        self.run_id = run_id
        self.attempt = attempt
        self.entries = entries
        self._seq = max((e.seq for e in entries.values()), default=0)
        self._crash = _crash_point()
        self.replayed = 0
        self.recorded = 0

    # Model calls ------------------------------------------------------------------------------

    def replay_model(self, ctx: StepContext, path: str) -> ModelResponse | None:
        """The journaled response at ``path`` (its usage and cost charged to ``ctx``), or None."""
        entry = self.entries.get(path)
        if entry is None or entry.kind != "model" or entry.data is None:
            return None
        model, response, cost = decode_model(entry.data)
        ctx.record(response.usage, cost)
        budget = ctx.budget
        if budget is not None:
            # The run's budget counts what the journaled call used (a zero hold, settled at once).
            from cadenza.engine.budget import Reservation

            Reservation(budget.chain(), 0, _ZERO, model, path, None).settle(response.usage, cost)
        self.replayed += 1
        return response

    async def record_model(self, path: str, model: str, response: ModelResponse) -> None:
        """Write the response at ``path``; returns once it is committed."""
        await self._write(path, "model", encode_model(model, response))

    # Tool calls -------------------------------------------------------------------------------

    def replay_tool(self, path: str, tool: str) -> tuple[str | None, str | None] | None:
        """(output, error) journaled at ``path``, or None; raises for an in-flight unsafe call."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        if entry.kind == "tool_started":
            raise InFlightToolError(path, tool)
        if entry.kind != "tool" or entry.data is None:
            return None
        data = json.loads(entry.data)
        self.replayed += 1
        return data.get("o"), data.get("e")

    async def mark_tool_started(self, path: str) -> None:
        """Before a non-idempotent tool runs: a marker that says it may have taken effect."""
        await self._write(path, "tool_started", None)

    async def record_tool(self, path: str, output: str | None, error: str | None) -> None:
        data = {"o": output} if error is None else {"e": error}
        await self._write(path, "tool", _dumps(data))

    # Human decisions --------------------------------------------------------------------------

    def decision(self, path: str) -> dict[str, Any] | None:
        """The approval decision recorded at ``path`` (approved, comment, by), or None."""
        entry = self.entries.get(path)
        if entry is None or entry.kind != "approval" or entry.data is None:
            return None
        decision: dict[str, Any] = json.loads(entry.data)
        return decision

    async def _write(self, path: str, kind: str, data: str | None) -> None:
        crash = self._crash
        if crash is not None and crash[0] == path and crash[1] == "before":
            _kill_self()
        self._seq += 1
        await self.writer.write_journal(self.run_id, self.attempt, path, self._seq, kind, data)
        self.recorded += 1
        if crash is not None and crash[0] == path and crash[1] == "after":
            _kill_self()


def encode_model(model: str, response: ModelResponse) -> str:
    """A model response as compact JSON: only what the run needs to continue, and its price."""
    usage = response.usage
    data: dict[str, Any] = {"m": model, "t": response.text}
    if response.tool_calls:
        data["c"] = [[c.id, c.name, c.arguments] for c in response.tool_calls]
    data["u"] = [usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens]
    if response.finish_reason != "stop":
        data["f"] = response.finish_reason
    if response.model and response.model != model:
        data["r"] = response.model
    cost = cost_of(model, usage)
    if cost:
        data["$"] = str(cost)
    return _dumps(data)


def decode_model(data: str) -> tuple[str, ModelResponse, Decimal]:
    """The model asked, the response and its cost from ``encode_model``'s JSON."""
    raw = json.loads(data)
    u = raw.get("u") or [0, 0, 0, 0]
    usage = Usage(u[0], u[1], u[2], u[3], 1)
    response = ModelResponse(
        text=raw.get("t", ""),
        tool_calls=[ToolCall(c[0], c[1], c[2]) for c in raw.get("c", ())],
        usage=usage,
        model=raw.get("r", raw.get("m", "")),
        finish_reason=raw.get("f", "stop"),
    )
    cost = Decimal(raw["$"]) if "$" in raw else _ZERO
    return raw.get("m", ""), response, cost


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _kill_self() -> None:
    """Die like a killed process: no cleanup, no flush, no exit handlers."""
    kill = getattr(signal, "SIGKILL", None)
    if kill is not None:
        os.kill(os.getpid(), kill)
    os._exit(137)


def _crash_point() -> tuple[str, str] | None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return None
    path, _, when = spec.rpartition(":")
    return path, when.removesuffix("-journal")
