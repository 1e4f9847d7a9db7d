"""agent memory: memory_entries with full-text search (SQLite FTS5 / PostgreSQL tsvector)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:30:00

The DDL is the one ``cadenza.memory.index`` runs when it opens a database on its own (with
``IF NOT EXISTS``), so a memory that was opened before the store migrated is kept as it is.
"""

from __future__ import annotations

from alembic import op

from cadenza.memory.index import postgresql_ddl, sqlite_ddl

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in postgresql_ddl() if dialect == "postgresql" else sqlite_ddl():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for trigger in ("memory_entries_ai", "memory_entries_ad", "memory_entries_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS memory_fts")
    op.execute("DROP TABLE IF EXISTS memory_entries")
