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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

from cadenza.store.url import async_url

T = TypeVar("T")
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

    async def transaction(self, work: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, work, args)

    def _run(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._engine.begin() as conn:
            return work(conn, *args)

    async def dispose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._engine.dispose)
        self._executor.shutdown(wait=False)


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
