"""Schema migrations, run programmatically from the Alembic scripts shipped in the package.

Checking the schema on every start must be cheap, so the revisions this code knows are listed
here and compared with the database's ``alembic_version`` by one query; Alembic itself is
imported only when an upgrade actually runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Oldest first; the last one is the head. A new migration appends its revision id here.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004")
HEAD = KNOWN_REVISIONS[-1]
MIGRATIONS = Path(__file__).parent / "migrations"


async def current_revision(conn: AsyncConnection) -> str | None:
    """The database's schema revision, ``None`` for a database Cadenza never touched."""
    try:
        row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
    except (OperationalError, ProgrammingError, DBAPIError):
        # No such table (first use). PostgreSQL aborts the transaction: roll it back.
        await conn.rollback()
        return None
    return None if row is None else str(row[0])


def is_newer_than_code(revision: str | None) -> bool:
    return revision is not None and revision not in KNOWN_REVISIONS


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the head by default), in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(_run_upgrade, revision)


def _run_upgrade(sync_conn: Any, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = sync_conn
    command.upgrade(config, revision)
