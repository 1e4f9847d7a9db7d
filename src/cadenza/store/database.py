"""How the store runs a unit of work: a plain function of a SQLAlchemy connection, in one
transaction.

Writing every write as a synchronous function of a ``Connection`` lets each backend run it the
cheap way:

- SQLite: on one dedicated thread with its own connection (the one writer path of the process),
  the whole transaction in a single hop off the event loop. Going through the async driver costs
  one thread hop per statement (BEGIN, SELECT, INSERT, COMMIT, cursor calls): about 6x slower.
- PostgreSQL: on the async engine through ``AsyncConnection.run_sync`` (asyncpg underneath).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

from cadenza.store.url import async_url, sqlite_path

T = TypeVar("T")
# WAL pages are copied back into the database file every this many inline commits.
CHECKPOINT_EVERY = 256
Work = Callable[..., T]


class Database(Protocol):
    async def transaction(self, work: Callable[..., T], *args: Any) -> T: ...

    async def dispose(self) -> None: ...


class AsyncDatabase:
    """Units of work on the async engine (PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def transaction(self, work: Callable[..., T], *args: Any) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(work, *args)

    async def dispose(self) -> None:
        """The async engine belongs to the store, which disposes of it."""


class ThreadDatabase:
    """Units of work on one thread with one SQLite connection (WAL, busy timeout, BEGIN IMMEDIATE)."""

    def __init__(self, url: str, busy_timeout_ms: int) -> None:
        sync_url = "sqlite+pysqlite://" + async_url(url).split("://", 1)[1]
        self._engine: Engine = create_engine(
            sync_url, pool_size=1, max_overflow=0, connect_args={"timeout": busy_timeout_ms / 1000}
        )
        install_sqlite_listeners(self._engine, busy_timeout_ms)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cadenza-sqlite")
        self._conn: Connection | None = None
        path = sqlite_path(url)
        self._path = str(path) if path is not None else ""
        # The inline fast lane needs a file (an in-memory database is per connection).
        self._inline_ok = path is not None
        self._inline: sqlite3.Connection | None = None
        self._inline_commits = 0

    async def transaction(self, work: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, work, args)

    async def raw_transaction(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(sqlite3_connection, *args)`` between BEGIN IMMEDIATE and COMMIT.

        For the journal writer's hot path, where SQLAlchemy's transaction and statement machinery
        and even the hop to the writer thread cost several times the write itself: the batch is
        written right here when the database is free (a WAL append of a few rows, ~100 µs, no
        fsync, never waiting for a lock), and on the writer thread, which waits for the lock,
        when another connection holds it. WAL checkpoints (which fsync) run on the writer thread.
        """
        if self._inline_ok:
            try:
                result = self._run_inline(work, args)
            except _Busy:
                pass
            else:
                self._inline_commits += 1
                if self._inline_commits % CHECKPOINT_EVERY == 0:
                    asyncio.get_running_loop().run_in_executor(self._executor, self._checkpoint)
                return result
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run_raw, work, args)

    def _run_inline(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        raw = self._inline
        if raw is None:
            raw = self._inline = self._open_inline()
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise _Busy from None
            raise
        try:
            result = work(raw, *args)
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")
        return result

    def _open_inline(self) -> sqlite3.Connection:
        raw = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=0)
        raw.execute("PRAGMA busy_timeout=0")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute("PRAGMA foreign_keys=ON")
        # Checkpoints fsync: they run on the writer thread, never on the event loop.
        raw.execute("PRAGMA wal_autocheckpoint=0")
        return raw

    def _checkpoint(self) -> None:
        try:
            raw = self._connection().connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # a busy database is checkpointed next time (or by SQLite's own auto-checkpoint)

    def _connection(self) -> Connection:
        # Only ever used on the one writer thread: one connection, kept for the store's lifetime.
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _run(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._connection()
        with conn.begin():
            return work(conn, *args)

    def _run_raw(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        raw = self._connection().connection.dbapi_connection
        assert raw is not None
        raw.execute("BEGIN IMMEDIATE")
        try:
            result = work(raw, *args)
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")
        return result

    async def dispose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)

    def _close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()


class _Busy(Exception):
    """Another connection holds SQLite's write lock: take the writer thread's (waiting) path."""


def install_sqlite_listeners(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, busy timeout, NORMAL sync and foreign keys on connect; ``BEGIN IMMEDIATE`` per transaction.

    ``BEGIN IMMEDIATE`` takes the write lock up front, where the busy timeout applies, instead of
    failing with "database is locked" when a read later turns into a write.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN IMMEDIATE is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        # NORMAL in WAL mode survives a crashed process; only a power loss may drop the last commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
