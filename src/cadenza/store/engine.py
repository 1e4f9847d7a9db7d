"""The async engine: SQLite in WAL mode behind one connection, PostgreSQL through asyncpg.

SQLite allows one writer at a time. Inside a process every statement goes through a single pooled
connection (the one writer path), so the process never contends with itself; across processes
each transaction starts with ``BEGIN IMMEDIATE`` (it takes the write lock up front, where the busy
timeout applies, instead of failing with "database is locked" when a read later turns into a
write) and waits up to ``busy_timeout`` for other processes.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cadenza.store.database import AsyncDatabase, Database, ThreadDatabase, install_sqlite_listeners
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
    install_sqlite_listeners(engine.sync_engine, SQLITE_BUSY_TIMEOUT_MS)
    return engine


def create_database(url: str, engine: AsyncEngine) -> Database:
    """Where the store's units of work run: SQLite on its writer thread, others on ``engine``."""
    if async_url(url).startswith("sqlite"):
        return ThreadDatabase(url, SQLITE_BUSY_TIMEOUT_MS)
    return AsyncDatabase(engine)
