"""``Store``: the database behind durable runs — runs, their journal, events and conversations.

Open one per process (``await Store.open(url)``) and share it: it owns the engine and the one
batch writer. Opening checks the schema: SQLite is upgraded automatically, PostgreSQL must be
upgraded with ``cadenza db upgrade``; a schema newer than the code is refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from cadenza.store import migrate
from cadenza.store.database import ThreadDatabase
from cadenza.store.engine import create_database, create_engine
from cadenza.store.errors import (
    DatabaseUnavailableError,
    RunLeasedError,
    RunNotFoundError,
    RunStateError,
    SchemaMismatchError,
)
from cadenza.store.lease import owner_is_dead
from cadenza.store.records import RESUMABLE, ConversationRecord, JournalEntry, RunRecord, aware, hex_id
from cadenza.store.tables import conversations, journal_entries, run_events, runs
from cadenza.store.url import default_database_url, is_sqlite, redact
from cadenza.store.writer import BatchWriter, sqlite_value

DEFAULT_LEASE_SECONDS = 30.0
T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


def run_key(run_id: str) -> str:
    """A run id in the store's form (32 hex digits); ``RunNotFoundError`` if it is not a UUID."""
    try:
        return uuid.UUID(str(run_id).strip()).hex
    except ValueError:
        raise RunNotFoundError(run_id) from None


class Store:
    """Runs, journal, events and conversations in SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._postgres = engine.dialect.name == "postgresql"
        # Writes run as units of work: on SQLite's writer thread, or on the async engine.
        self.db = create_database(url, engine)
        self.writer = BatchWriter(self.db, postgres=self._postgres)

    @classmethod
    async def open(cls, url: str | None = None, *, upgrade: bool | None = None) -> Store:
        """Connect, check the schema and return the store.

        ``upgrade`` defaults to True for SQLite (a file needs no set-up) and False for
        PostgreSQL (production schemas change through ``cadenza db upgrade``).
        """
        url = url or default_database_url()
        auto_upgrade = is_sqlite(url) if upgrade is None else upgrade
        try:
            engine = create_engine(url)
        except Exception as exc:
            raise DatabaseUnavailableError(redact(url), _first_line(exc)) from None
        store = cls(engine, url)
        try:
            await store._check_schema(auto_upgrade)
        except BaseException:
            await engine.dispose()
            raise
        return store

    @classmethod
    def unchecked(cls, url: str | None = None) -> Store:
        """A store whose schema is not checked (for ``cadenza db upgrade`` and ``status``)."""
        url = url or default_database_url()
        try:
            return cls(create_engine(url), url)
        except Exception as exc:
            raise DatabaseUnavailableError(redact(url), _first_line(exc)) from None

    async def close(self) -> None:
        """Commit what is queued and release the connections."""
        try:
            await self.writer.close()
        finally:
            await self.db.dispose()
            await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_revision(self) -> str | None:
        async with self._connect() as conn:
            return await migrate.current_revision(conn)

    async def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to this code's head; returns (revision before, revision after)."""
        before = await self.schema_revision()
        if migrate.is_newer_than_code(before):
            raise self._too_new(before)
        if before != migrate.HEAD:
            await migrate.upgrade(self.engine)
        return before, migrate.HEAD

    async def _check_schema(self, auto_upgrade: bool) -> None:
        revision = await self.schema_revision()
        if revision == migrate.HEAD:
            return
        if migrate.is_newer_than_code(revision):
            raise self._too_new(revision)
        if not auto_upgrade:
            state = "has no Cadenza schema" if revision is None else f"schema is at revision {revision}"
            raise SchemaMismatchError(
                redact(self.url),
                f"{state}, this code needs {migrate.HEAD}; run `cadenza db upgrade`",
                found=revision,
                expected=migrate.HEAD,
            )
        await migrate.upgrade(self.engine)

    def _too_new(self, revision: str | None) -> SchemaMismatchError:
        return SchemaMismatchError(
            redact(self.url),
            f"schema revision {revision} is newer than this version of Cadenza knows "
            f"(latest {migrate.HEAD}); upgrade Cadenza, nothing was changed",
            found=revision,
            expected=migrate.HEAD,
        )

    def _connect(self) -> Any:
        return _Connecting(self)

    # Runs -------------------------------------------------------------------------------------

    async def create_run(
        self,
        *,
        run_id: str,
        workflow: str,
        task: dict[str, Any],
        owner: str,
        flow_ref: dict[str, Any] | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        conversation_id: str | None = None,
        parent_run_id: str | None = None,
        forked_at: str | None = None,
        status: str = "running",
        team: str | None = None,
    ) -> RunRecord:
        """Insert a new run, taken by ``owner`` (attempt 1) unless ``status`` says otherwise."""
        at = now()
        values = {
            "id": run_key(run_id),
            "workflow": workflow,
            "task": task,
            "flow_ref": flow_ref,
            "status": status,
            "attempt": 1,
            "lease_owner": owner if status == "running" else None,
            "lease_expires_at": at + timedelta(seconds=lease_seconds) if status == "running" else None,
            "conversation_id": conversation_id,
            "parent_run_id": parent_run_id,
            "forked_at": forked_at,
            "owner": owner,
            "team": team,
            "created_at": at,
            "updated_at": at,
        }
        # Through the writer: concurrent starts share a commit (one fsync on PostgreSQL for many).
        if isinstance(self.db, ThreadDatabase):
            await self.writer.run_in_batch(_insert_run_sqlite, values)
        else:
            await self.writer.run_in_batch(_insert, runs, values)
        return _run_record_from(values)

    async def get_run(self, run_id: str) -> RunRecord:
        async with self._connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == run_key(run_id)))).first()
        if row is None:
            raise RunNotFoundError(run_id)
        return _run_record(row)

    async def list_runs(
        self,
        *,
        status: Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
        team: str | None = None,
        workflow: str | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally only those with one of ``status`` (of ``team``, ``workflow``)."""
        query = select(runs).order_by(runs.c.created_at.desc(), runs.c.id).limit(limit).offset(offset)
        if status:
            query = query.where(runs.c.status.in_(list(status)))
        if team is not None:
            query = query.where(runs.c.team == team)
        if workflow is not None:
            query = query.where(runs.c.workflow == workflow)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_run_record(row) for row in rows]

    async def take_run(
        self,
        run_id: str,
        owner: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        allowed: tuple[str, ...] = RESUMABLE,
        action: str = "resume",
    ) -> RunRecord:
        """Become the run's driver: check its status and lease, bump its attempt, take the lease.

        Raises ``RunLeasedError`` when a live process holds the lease.
        """
        return await self._transaction(self._take, run_id, owner, lease_seconds, allowed, action)

    def _take(
        self,
        conn: Connection,
        run_id: str,
        owner: str,
        lease_seconds: float,
        allowed: tuple[str, ...],
        action: str,
    ) -> RunRecord:
        record = self._locked_run(conn, run_id)
        if record.status not in allowed:
            raise RunStateError(record.id, record.status, action, allowed)
        if record.status == "running" and _lease_alive(record):
            raise RunLeasedError(record.id, record.lease_owner or "?", _iso(record.lease_expires_at))
        at = now()
        record.attempt += 1
        record.status = "running"
        record.lease_owner = owner
        record.lease_expires_at = at + timedelta(seconds=lease_seconds)
        record.updated_at = at
        conn.execute(
            update(runs)
            .where(runs.c.id == record.id)
            .values(
                attempt=record.attempt,
                status="running",
                lease_owner=owner,
                lease_expires_at=record.lease_expires_at,
                updated_at=at,
                error=None,
                error_type=None,
                finished_at=None,
            )
        )
        return record

    async def renew_lease(self, run_id: str, attempt: int, owner: str, lease_seconds: float) -> bool:
        """Extend the lease; False when the run was taken over or is no longer running."""
        at = now()
        statement = (
            update(runs)
            .where(
                runs.c.id == run_key(run_id),
                runs.c.attempt == attempt,
                runs.c.lease_owner == owner,
                runs.c.status == "running",
            )
            .values(lease_expires_at=at + timedelta(seconds=lease_seconds), updated_at=at)
        )
        return bool(await self._transaction(_rowcount, statement))

    async def finish_run(
        self,
        run_id: str,
        attempt: int,
        status: str,
        *,
        output: Any = None,
        error: str | None = None,
        error_type: str | None = None,
        usage: dict[str, Any] | None = None,
        cost: str | None = None,
        waiting: dict[str, Any] | None = None,
    ) -> bool:
        """Record how the attempt ended and release the lease; False if the attempt was fenced off.

        Runs in the writer's next batch, so the run's last events and ledger rows commit with it.
        """
        at = now()
        finished = status not in ("waiting", "needs_attention", "running", "pending")
        params = {
            "k": run_key(run_id),
            "a": attempt,
            "b_status": status,
            "b_output": output,
            "b_error": error,
            "b_error_type": error_type,
            "b_usage": usage,
            "b_cost": cost,
            "b_waiting": waiting,
            "b_at": at,
            "b_finished": at if finished else None,
        }
        finish = _finish_sqlite if isinstance(self.db, ThreadDatabase) else _finish
        return bool(await self.writer.run_in_batch(finish, params))

    async def cancel_run(self, run_id: str) -> RunRecord:
        """Mark an unfinished run cancelled; its driver, if alive, stops at its next heartbeat."""
        return await self._transaction(self._cancel, run_id)

    def _cancel(self, conn: Connection, run_id: str) -> RunRecord:
        allowed = ("pending", "running", "waiting", "needs_attention")
        record = self._locked_run(conn, run_id)
        if record.status not in allowed:
            raise RunStateError(record.id, record.status, "cancel", allowed)
        at = now()
        conn.execute(
            update(runs)
            .where(runs.c.id == record.id)
            .values(
                status="cancelled",
                error="cancelled by request",
                error_type="Cancelled",
                updated_at=at,
                finished_at=at,
            )
        )
        record.status = "cancelled"
        return record

    async def decide(self, run_id: str, *, approved: bool, comment: str, by: str) -> RunRecord:
        """Record a human decision on a waiting run; the run becomes ``pending`` (ready to resume)."""
        return await self._transaction(self._decide, run_id, approved, comment, by)

    def _decide(self, conn: Connection, run_id: str, approved: bool, comment: str, by: str) -> RunRecord:
        action = "approve" if approved else "reject"
        record = self._locked_run(conn, run_id)
        if record.status != "waiting" or not record.waiting:
            raise RunStateError(record.id, record.status, action, ("waiting",))
        query = select(func.coalesce(func.max(journal_entries.c.seq), 0)).where(
            journal_entries.c.run_id == record.id
        )
        seq = int(conn.execute(query).scalar_one()) + 1
        data = json.dumps(
            {"approved": approved, "comment": comment, "by": by, "at": now().isoformat()},
            separators=(",", ":"),
        )
        conn.execute(
            insert(journal_entries),
            {
                "run_id": record.id,
                "path": record.waiting["path"],
                "seq": seq,
                "attempt": record.attempt,
                "kind": "approval",
                "data": data,
            },
        )
        conn.execute(update(runs).where(runs.c.id == record.id).values(status="pending", updated_at=now()))
        record.status = "pending"
        return record

    async def orphaned_runs(self) -> list[RunRecord]:
        """Runs left ``running`` by a process that died (lease expired or owner gone)."""
        async with self._connect() as conn:
            rows = (await conn.execute(select(runs).where(runs.c.status == "running"))).all()
        return [record for record in map(_run_record, rows) if not _lease_alive(record)]

    # Journal ----------------------------------------------------------------------------------

    async def load_journal(self, run_id: str) -> dict[str, JournalEntry]:
        """Every journal entry of a run, by step path."""
        query = select(
            journal_entries.c.path,
            journal_entries.c.seq,
            journal_entries.c.attempt,
            journal_entries.c.kind,
            journal_entries.c.data,
        ).where(journal_entries.c.run_id == run_key(run_id))
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row[0]: JournalEntry(*row) for row in rows}

    async def copy_journal(self, entries: Iterable[JournalEntry], target: str) -> dict[str, JournalEntry]:
        """Write ``entries`` (another run's) into run ``target`` as its first attempt's; returns
        ``target``'s journal as ``load_journal`` would."""
        copied = {e.path: JournalEntry(e.path, e.seq, 1, e.kind, e.data) for e in entries}
        key = run_key(target)
        rows = [
            {"run_id": key, "path": e.path, "seq": e.seq, "attempt": 1, "kind": e.kind, "data": e.data}
            for e in copied.values()
        ]
        if rows:
            await self._transaction(_insert, journal_entries, rows)
        return copied

    async def journal_size(self, run_id: str) -> tuple[int, int]:
        """(entries, bytes of path + data) of a run's journal."""
        query = select(
            func.count(),
            func.coalesce(
                func.sum(func.length(journal_entries.c.path) + func.length(journal_entries.c.data)), 0
            ),
        ).where(journal_entries.c.run_id == run_key(run_id))
        async with self._connect() as conn:
            count, size = (await conn.execute(query)).one()
        return int(count), int(size)

    # Events -----------------------------------------------------------------------------------

    async def list_events(self, run_id: str, *, after: int = 0) -> list[dict[str, Any]]:
        """A run's stored events in order, each with its ``seq``."""
        query = (
            select(run_events.c.seq, run_events.c.data)
            .where(run_events.c.run_id == run_key(run_id), run_events.c.seq > after)
            .order_by(run_events.c.seq)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        return [{"seq": seq, **json.loads(data)} for seq, data in rows]

    async def next_event_seq(self, run_id: str) -> int:
        query = select(func.coalesce(func.max(run_events.c.seq), 0)).where(
            run_events.c.run_id == run_key(run_id)
        )
        async with self._connect() as conn:
            return int((await conn.execute(query)).scalar_one()) + 1

    # Conversations ----------------------------------------------------------------------------

    async def load_conversation(self, conversation_id: str) -> ConversationRecord | None:
        key = conversation_key(conversation_id)
        async with self._connect() as conn:
            row = (await conn.execute(select(conversations).where(conversations.c.id == key))).first()
        if row is None:
            return None
        return ConversationRecord(
            hex_id(row.id),
            list(row.messages),
            dict(row.context),
            dict(row.metadata),
            list(row.workflow_history),
        )

    async def save_conversation(self, record: ConversationRecord) -> None:
        key = conversation_key(record.id)
        at = now()
        values = {
            "messages": record.messages,
            "context": record.context,
            "metadata": record.metadata,
            "workflow_history": record.workflow_history,
            "updated_at": at,
        }
        await self._transaction(_upsert_conversation, key, at, values)

    # Connections ------------------------------------------------------------------------------

    async def _transaction(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(conn, *args)`` in one transaction; connect errors name the database."""
        try:
            return await self.db.transaction(work, *args)
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailableError(redact(self.url), _first_line(exc)) from None

    def _locked_run(self, conn: Connection, run_id: str) -> RunRecord:
        """The run's row, locked for the rest of the transaction on PostgreSQL."""
        query = select(runs).where(runs.c.id == run_key(run_id))
        if self._postgres:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise RunNotFoundError(run_id)
        return _run_record(row)


class _Connecting:
    """``async with``: a connection whose connect errors name the database."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cm: Any = None

    async def __aenter__(self) -> Any:
        self._cm = self._store.engine.connect()
        try:
            return await self._cm.__aenter__()
        except Exception as exc:
            raise DatabaseUnavailableError(redact(self._store.url), _first_line(exc)) from None

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._cm.__aexit__(*exc)


_FINISH = (
    update(runs)
    .where(runs.c.id == bindparam("k"), runs.c.attempt == bindparam("a"))
    .values(
        status=bindparam("b_status"),
        output=bindparam("b_output", type_=runs.c.output.type),
        error=bindparam("b_error"),
        error_type=bindparam("b_error_type"),
        usage=bindparam("b_usage", type_=runs.c.usage.type),
        cost=bindparam("b_cost"),
        waiting=bindparam("b_waiting", type_=runs.c.waiting.type),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=bindparam("b_at", type_=runs.c.updated_at.type),
        finished_at=bindparam("b_finished", type_=runs.c.finished_at.type),
    )
)


def _finish(conn: Connection, params: dict[str, Any]) -> int:
    return int(conn.execute(_FINISH, params).rowcount)


_FINISH_SQLITE = (
    "UPDATE runs SET status = :b_status, output = :b_output, error = :b_error, error_type = :b_error_type, "
    "usage = :b_usage, cost = :b_cost, waiting = :b_waiting, lease_owner = NULL, lease_expires_at = NULL, "
    "updated_at = :b_at, finished_at = :b_finished WHERE id = :k AND attempt = :a"
)
_JSON_PARAMS = ("b_output", "b_usage", "b_waiting")
_RUN_COLUMNS = (
    "id",
    "workflow",
    "task",
    "flow_ref",
    "status",
    "attempt",
    "lease_owner",
    "lease_expires_at",
    "conversation_id",
    "parent_run_id",
    "forked_at",
    "owner",
    "team",
    "created_at",
    "updated_at",
)
_INSERT_RUN_SQLITE = "INSERT INTO runs ({}) VALUES ({})".format(
    ", ".join(_RUN_COLUMNS), ", ".join("?" * len(_RUN_COLUMNS))
)
_JSON_COLUMNS = ("task", "flow_ref")


def _sqlite_json(value: Any) -> str | None:
    """JSON as SQLAlchemy's JSON type stores it on SQLite (SQL NULL for None)."""
    return None if value is None else json.dumps(value)


def _finish_sqlite(raw: Any, params: dict[str, Any]) -> int:
    """``_finish`` on SQLite's raw connection (the writer's batch), same stored forms."""
    bound = {k: sqlite_value(v) for k, v in params.items()}
    for key in _JSON_PARAMS:
        bound[key] = _sqlite_json(params[key])
    cursor = raw.execute(_FINISH_SQLITE, bound)
    return int(cursor.rowcount)


def _insert_run_sqlite(raw: Any, values: dict[str, Any]) -> None:
    row = [_sqlite_json(values[c]) if c in _JSON_COLUMNS else sqlite_value(values[c]) for c in _RUN_COLUMNS]
    raw.execute(_INSERT_RUN_SQLITE, row)


def _insert(conn: Connection, table: Any, values: Any) -> None:
    conn.execute(insert(table), values)


def _rowcount(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).rowcount)


def _upsert_conversation(conn: Connection, key: str, at: datetime, values: dict[str, Any]) -> None:
    if not conn.execute(update(conversations).where(conversations.c.id == key).values(values)).rowcount:
        conn.execute(insert(conversations), {"id": key, "created_at": at, **values})


def conversation_key(conversation_id: str) -> str:
    """Conversation ids may be any text; ones that are not UUIDs map to a stable UUID."""
    try:
        return uuid.UUID(str(conversation_id)).hex
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"cadenza:conversation:{conversation_id}").hex


def _lease_alive(record: RunRecord) -> bool:
    if record.lease_owner is None or record.lease_expires_at is None:
        return False
    if record.lease_expires_at <= now():
        return False
    return not owner_is_dead(record.lease_owner)


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "?"


def _run_record(row: Row[Any]) -> RunRecord:
    return _run_record_from(row._mapping)


def _run_record_from(m: Any) -> RunRecord:
    return RunRecord(
        id=hex_id(m["id"]),
        workflow=m["workflow"],
        status=m["status"],
        attempt=m["attempt"],
        task=m["task"],
        flow_ref=m.get("flow_ref"),
        lease_owner=m.get("lease_owner"),
        lease_expires_at=aware(m.get("lease_expires_at")),
        output=m.get("output"),
        error=m.get("error"),
        error_type=m.get("error_type"),
        usage=m.get("usage"),
        cost=m.get("cost"),
        waiting=m.get("waiting"),
        conversation_id=hex_id(m["conversation_id"]) if m.get("conversation_id") else None,
        parent_run_id=hex_id(m["parent_run_id"]) if m.get("parent_run_id") else None,
        forked_at=m.get("forked_at"),
        owner=m.get("owner"),
        team=m.get("team"),
        created_at=aware(m.get("created_at")),
        updated_at=aware(m.get("updated_at")),
        finished_at=aware(m.get("finished_at")),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    orig = getattr(exc, "orig", None)
    if orig is not None and str(orig).strip():
        text = str(orig).strip()
    return text.splitlines()[0]
