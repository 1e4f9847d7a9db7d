"""Connections for the service's own queries, with the store's error for an unreachable database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from cadenza.store import DatabaseUnavailableError, Store
from cadenza.store.url import redact

T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """``value`` as a UTC-aware datetime (SQLite hands back naive ones)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@asynccontextmanager
async def connect(store: Store) -> AsyncIterator[AsyncConnection]:
    """A connection for reads; an unreachable database is a ``DatabaseUnavailableError`` (503)."""
    try:
        async with store.engine.connect() as conn:
            yield conn
    except (OperationalError, OSError, ConnectionError) as exc:
        raise _unavailable(store, exc) from None


async def write(store: Store, work: Callable[..., T], *args: Any) -> T:
    """Run ``work(connection, *args)`` in one transaction on the store's writer.

    On SQLite that is the store's one writer thread and connection: a second connection writing
    on its own would fight it for the database lock (and wait out SQLite's busy back-off).
    """
    try:
        return await store.db.transaction(work, *args)
    except (OperationalError, OSError, ConnectionError) as exc:
        raise _unavailable(store, exc) from None


def execute(conn: Connection, statement: Any, params: Any = None) -> int:
    """Execute one statement on a writer connection; its row count."""
    return int(conn.execute(statement, params).rowcount)


def _unavailable(store: Store, exc: BaseException) -> DatabaseUnavailableError:
    orig: Any = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else None
    text = str(orig or exc).strip().splitlines()
    return DatabaseUnavailableError(redact(store.url), text[0] if text else type(exc).__name__)
