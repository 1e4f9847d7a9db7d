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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from cadenza.store.database import Database, ThreadDatabase
from cadenza.store.errors import StaleAttemptError
from cadenza.store.records import hex_id
from cadenza.store.tables import journal_entries, run_events, runs, usage_ledger
from cadenza.store.task_records import TaskIds, TaskRow
from cadenza.store.task_records import write as write_tasks
from cadenza.store.task_records import write_sqlite as write_tasks_sqlite

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


@dataclass(slots=True)
class _Job:
    """A unit of work run in a batch's transaction, after its rows are written."""

    work: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class BatchWriter:
    """Commits queued rows in batches from one background task per store and event loop."""

    def __init__(self, db: Database, *, postgres: bool) -> None:
        self._db = db
        self._postgres = postgres
        self._journal: list[JournalRow] = []
        self._events: list[Callable[[], dict[str, Any]]] = []
        self._usage: list[dict[str, Any]] = []
        self._jobs: list[_Job] = []
        self._tasks: list[TaskRow] = []
        self._task_ids = TaskIds()
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
        """Queue an event row (a callable building it, run at commit time) for the next batch.

        It does not start a commit of its own: it rides along with the next journal write or
        ``flush`` (the driver flushes when a run ends).
        """
        self._events.append(row)

    def write_usage(self, row: dict[str, Any]) -> None:
        """Queue a cost-ledger row to be committed with the next batch (like ``write_event``)."""
        self._usage.append(row)

    def write_task(self, row: TaskRow) -> None:
        """Queue a run's task row (an agent invocation) for the next batch, like ``write_event``."""
        self._tasks.append(row)

    def run_in_batch(self, work: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``work(conn, *args)`` in the next batch's transaction, after everything queued before
        it is written; the future gets its result once committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._jobs.append(_Job(work, args, future))
        self._kick()
        return future

    async def flush(self) -> None:
        """Commit everything queued so far (events and ledger rows included)."""
        if self._journal or self._events or self._usage or self._jobs or self._tasks:
            await self.run_in_batch(_nothing)

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
            jobs, self._jobs = self._jobs, []
            tasks, self._tasks = self._tasks, []
            if journal or events or usage or jobs or tasks:
                await self._commit_batch(journal, events, usage, jobs, tasks)

    async def _commit_batch(
        self,
        journal: list[JournalRow],
        events: list[Callable[[], dict[str, Any]]],
        usage: list[dict[str, Any]],
        jobs: list[_Job],
        tasks: list[TaskRow],
    ) -> None:
        try:
            if isinstance(self._db, ThreadDatabase):
                rejected, results = await self._db.raw_transaction(
                    _sqlite_batch, journal, events, usage, jobs, tasks, self._task_ids
                )
            else:
                rejected, results = await self._db.transaction(
                    self._write_batch, journal, events, usage, jobs, tasks
                )
        except BaseException as exc:
            self._task_ids = TaskIds()  # ids made in the failed transaction do not exist
            log.error("batch of %d journal rows and %d jobs failed: %s", len(journal), len(jobs), exc)
            error = exc if isinstance(exc, Exception) else RuntimeError(str(exc))
            for future in [row.future for row in journal] + [job.future for job in jobs]:
                if not future.done():
                    future.set_exception(error)
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
        for job, result in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    def _write_batch(
        self,
        conn: Connection,
        journal: list[JournalRow],
        events: list[Callable[[], dict[str, Any]]],
        usage: list[dict[str, Any]],
        jobs: list[_Job],
        tasks: list[TaskRow],
    ) -> tuple[list[tuple[JournalRow, int | None]], list[Any]]:
        rejected = self._write(conn, journal, events, usage)
        if tasks:
            write_tasks(conn, tasks, self._task_ids)
        return rejected, [job.work(conn, *job.args) for job in jobs]

    def _write(
        self,
        conn: Connection,
        journal: list[JournalRow],
        events: list[Callable[[], dict[str, Any]]],
        usage: list[dict[str, Any]],
    ) -> list[tuple[JournalRow, int | None]]:
        """One transaction: fence the journal rows by attempt, then write everything."""
        rejected: list[tuple[JournalRow, int | None]] = []
        if journal:
            current = self._current_attempts(conn, {row.run_id for row in journal})
            accepted = []
            for row in journal:
                attempt = current.get(row.run_id)
                if attempt == row.attempt:
                    accepted.append(row)
                else:
                    rejected.append((row, attempt))
            if accepted:
                conn.execute(self._upsert(), [_journal_params(r) for r in accepted])
        if events:
            conn.execute(insert(run_events), [build() for build in events])
        if usage:
            conn.execute(insert(usage_ledger), usage)
        return rejected

    def _current_attempts(self, conn: Connection, run_ids: set[str]) -> dict[str, int]:
        query = select(runs.c.id, runs.c.attempt).where(runs.c.id.in_(run_ids))
        if self._postgres:
            # A takeover's UPDATE waits for this batch to commit, then sees its rows.
            query = query.with_for_update(read=True)
        return {hex_id(run_id): attempt for run_id, attempt in conn.execute(query)}

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


_SQLITE_UPSERT = (
    "INSERT INTO journal_entries (run_id, path, seq, attempt, kind, data) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, path) DO UPDATE SET seq = excluded.seq, attempt = excluded.attempt, "
    "kind = excluded.kind, data = excluded.data"
)
_SQLITE_EVENT = (
    "INSERT INTO run_events (run_id, seq, attempt, type, path, at, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_LEDGER_COLUMNS = (
    "run_id",
    "path",
    "workflow",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost",
    "at",
)
_SQLITE_LEDGER = "INSERT INTO usage_ledger ({}) VALUES ({})".format(
    ", ".join(_LEDGER_COLUMNS), ", ".join("?" * len(_LEDGER_COLUMNS))
)


def _sqlite_batch(
    raw: Any,
    journal: list[JournalRow],
    events: list[Callable[[], dict[str, Any]]],
    usage: list[dict[str, Any]],
    jobs: list[_Job],
    tasks: list[TaskRow],
    task_ids: TaskIds,
) -> tuple[list[tuple[JournalRow, int | None]], list[Any]]:
    """A whole batch on SQLite's raw connection; jobs get the raw connection too."""
    rejected = _write_sqlite(raw, journal, events, usage)
    if tasks:
        write_tasks_sqlite(raw, tasks, task_ids)
    return rejected, [job.work(raw, *job.args) for job in jobs]


def _write_sqlite(
    raw: Any,
    journal: list[JournalRow],
    events: list[Callable[[], dict[str, Any]]],
    usage: list[dict[str, Any]],
) -> list[tuple[JournalRow, int | None]]:
    """The same batch on SQLite's raw cursor: the writer's hot path, where SQLAlchemy's statement
    machinery would cost ten times the write itself. Run ids are stored as 32 hex digits (how
    ``Uuid`` stores them on SQLite)."""
    cursor = raw.cursor()
    rejected: list[tuple[JournalRow, int | None]] = []
    try:
        if journal:
            ids = sorted({row.run_id for row in journal})
            cursor.execute(f"SELECT id, attempt FROM runs WHERE id IN ({', '.join('?' * len(ids))})", ids)
            current = {str(run_id): attempt for run_id, attempt in cursor.fetchall()}
            accepted = []
            for row in journal:
                attempt = current.get(row.run_id)
                if attempt == row.attempt:
                    accepted.append((row.run_id, row.path, row.seq, row.attempt, row.kind, row.data))
                else:
                    rejected.append((row, attempt))
            if accepted:
                cursor.executemany(_SQLITE_UPSERT, accepted)
        if events:
            rows = [build() for build in events]
            cursor.executemany(
                _SQLITE_EVENT,
                [
                    (r["run_id"], r["seq"], r["attempt"], r["type"], r["path"], r["at"], r["data"])
                    for r in rows
                ],
            )
        if usage:
            cursor.executemany(
                _SQLITE_LEDGER,
                [tuple(sqlite_value(r[c]) for c in _LEDGER_COLUMNS) for r in usage],
            )
    finally:
        cursor.close()
    return rejected


def sqlite_value(value: Any) -> Any:
    # DateTime on SQLite: the text form SQLAlchemy writes and reads back.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value


def _nothing(conn: Any) -> None:
    return None


def _journal_params(row: JournalRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "path": row.path,
        "seq": row.seq,
        "attempt": row.attempt,
        "kind": row.kind,
        "data": row.data,
    }
