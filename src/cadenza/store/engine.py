"""The async engine: SQLite in WAL mode behind one connection, PostgreSQL through asyncpg.

SQLite allows one writer at a time. Inside a process every statement goes through a single pooled
connection (the one writer path), so the process never contends with itself; across processes
each transaction starts with ``BEGIN IMMEDIATE`` (it takes the write lock up front, where the busy
timeout applies, instead of failing with "database is locked" when a read later turns into a
write) and waits up to ``busy_timeout`` for other processes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cadenza.store.url import async_url, sqlite_path

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite:///file``, ``postgresql://...`` or a bare file path)."""
    target = async_url(url)
    if target.startswith("sqlite"):
        return _sqlite_engine(target)
    return create_async_engine(
        target, pool_size=5, max_overflow=10, connect_args={"timeout": PG_CONNECT_TIMEOUT_S}
    )


def _sqlite_engine(target: str) -> AsyncEngine:
    path = sqlite_path(target)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        target,
        pool_size=1,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN IMMEDIATE is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # NORMAL in WAL mode survives a crashed process; only a power loss may drop the last commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
