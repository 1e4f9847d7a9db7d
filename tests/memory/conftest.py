"""Memory tests run on a SQLite file and on the real PostgreSQL, each in its own scope."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.conftest import PG_URL, service_unavailable

from cadenza.memory import LongTermMemory


async def _pg_reachable() -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable("PostgreSQL", str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
async def memory_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        await _pg_reachable()
        return PG_URL
    return str(tmp_path / "memory.db")


@pytest.fixture
def unique() -> str:
    """A name no other test (or earlier run on the shared PostgreSQL) uses."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def long_term(memory_url: str) -> AsyncIterator[LongTermMemory]:
    memory = LongTermMemory(memory_url)
    try:
        yield memory
    finally:
        await memory.close()
