"""The one writer: journal entries, events and ledger rows committed in batches.

Callers hand rows to ``write_journal`` (awaitable: it returns once the row's batch is committed,
so a completed call is durable before the run moves on) or ``write_event``/``write_usage`` (fire
and forget: they ride along with the next batch). While one batch commits the next one gathers,
so concurrent runs and parallel branches share commits instead of queueing for one each.

Every journal row carries its run's attempt number; a row whose attempt is not the run's current
one is rejected with ``StaleAttemptError`` (fencing: a process that lost the run cannot write).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cadenza.store.errors import StaleAttemptError
from cadenza.store.tables import journal_entries, run_events, runs, usage_ledger

log = logging.getLogger("cadenza.store")


@dataclass(slots=True)
class JournalRow:
    run_id: str
    attempt: int
    path: str
    seq: int
    kind: str
    data: str | None
    future: asyncio.Future[None]


class BatchWriter:
    """Commits queued rows in batches from one background task per store and event loop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._journal: list[JournalRow] = []
        self._events: list[Callable[[], dict[str, Any]]] = []
        self._usage: list[dict[str, Any]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._upsert_statement: Any = None
        self.batches = 0

    def write_journal(
        self, run_id: str, attempt: int, path: str, seq: int, kind: str, data: str | None
    ) -> asyncio.Future[None]:
        """Queue a journal row; the future resolves when it is committed (or fails if fenced)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._journal.append(JournalRow(run_id, attempt, path, seq, kind, data, future))
        self._kick()
        return future

    def write_event(self, row: Callable[[], dict[str, Any]]) -> None:
        """Queue an event row (a callable building it, run at commit time) for the next batch."""
        self._events.append(row)
        self._kick()

    def write_usage(self, row: dict[str, Any]) -> None:
        """Queue a cost-ledger row to be committed with the next batch."""
        self._usage.append(row)
        self._kick()

    async def flush(self) -> None:
        """Commit everything queued so far (events and ledger rows included)."""
        if not (self._journal or self._events or self._usage):
            return
        future = self.write_journal("", 0, "", 0, "flush", None)
        await future

    async def close(self) -> None:
        await self.flush()
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _kick(self) -> None:
        if self._wake is None or self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop(self._wake))
        self._wake.set()

    async def _loop(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            journal, self._journal = self._journal, []
            events, self._events = self._events, []
            usage, self._usage = self._usage, []
            if journal or events or usage:
                await self._commit_batch(journal, events, usage)

    async def _commit_batch(
        self,
        journal: list[JournalRow],
        events: list[Callable[[], dict[str, Any]]],
        usage: list[dict[str, Any]],
    ) -> None:
        real = [row for row in journal if row.kind != "flush"]
        rejected: list[tuple[JournalRow, int | None]] = []
        try:
            async with self._engine.begin() as conn:
                if real:
                    current = await self._current_attempts(conn, {row.run_id for row in real})
                    accepted = []
                    for row in real:
                        attempt = current.get(row.run_id)
                        if attempt == row.attempt:
                            accepted.append(row)
                        else:
                            rejected.append((row, attempt))
                    if accepted:
                        await conn.execute(self._upsert(), [_journal_params(r) for r in accepted])
                if events:
                    await conn.execute(insert(run_events), [build() for build in events])
                if usage:
                    await conn.execute(insert(usage_ledger), usage)
        except BaseException as exc:
            log.error("journal batch of %d rows failed: %s", len(journal), exc)
            for row in journal:
                if not row.future.done():
                    row.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        stale = {id(row) for row, _ in rejected}
        for row, attempt in rejected:
            if not row.future.done():
                row.future.set_exception(StaleAttemptError(row.run_id, row.attempt, attempt))
        for row in journal:
            if id(row) not in stale and not row.future.done():
                row.future.set_result(None)

    async def _current_attempts(self, conn: Any, run_ids: set[str]) -> dict[str, int]:
        query = select(runs.c.id, runs.c.attempt).where(runs.c.id.in_(run_ids))
        if self._postgres:
            # A takeover's UPDATE waits for this batch to commit, then sees its rows.
            query = query.with_for_update(read=True)
        rows = await conn.execute(query)
        return {_hex(run_id): attempt for run_id, attempt in rows}

    def _upsert(self) -> Any:
        """INSERT ... ON CONFLICT (run_id, path) DO UPDATE: a tool's result replaces its start marker."""
        if self._upsert_statement is None:
            module = "postgresql" if self._postgres else "sqlite"
            dialect_insert: Any = importlib.import_module(f"sqlalchemy.dialects.{module}").insert
            statement = dialect_insert(journal_entries)
            self._upsert_statement = statement.on_conflict_do_update(
                index_elements=[journal_entries.c.run_id, journal_entries.c.path],
                set_={
                    "seq": statement.excluded.seq,
                    "attempt": statement.excluded.attempt,
                    "kind": statement.excluded.kind,
                    "data": statement.excluded.data,
                },
            )
        return self._upsert_statement


def _journal_params(row: JournalRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "path": row.path,
        "seq": row.seq,
        "attempt": row.attempt,
        "kind": row.kind,
        "data": row.data,
    }


def _hex(run_id: Any) -> str:
    return str(run_id).replace("-", "")
