"""The HTTP service's tables: users, API keys, the audit log and workflow versions.

Created by migration ``0002`` (``migrations/versions/0002_api_auth_audit.py``); change both
together. Plain Core tables in the store's one ``metadata``, like ``tables.py``. The service also
adds a ``team`` column to ``workflows``, ``agents`` and ``runs`` (declared in ``tables.py``):
every object belongs to a team and is invisible outside it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, Uuid

from cadenza.store.tables import Json, Timestamp, metadata, runs

users = Table(
    "users",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("team", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

# The key itself is never stored: ``id`` is its public part, ``secret_hash`` the SHA-256 of the
# secret part (the secret has 256 bits of entropy, so a fast hash is enough).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("team", String(255), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_by", String(255)),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp),
    Column("revoked_at", Timestamp),
)

# Append-only: migration 0002 adds triggers that refuse UPDATE and DELETE on both databases.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Timestamp, nullable=False),
    Column("actor", String(255)),
    Column("role", String(16)),
    Column("team", String(255)),
    Column("action", String(64), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("status", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("client", String(255)),
    Column("user_agent", String(512)),
    Column("detail", Json),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_actor", "actor"),
)

workflow_versions = Table(
    "workflow_versions",
    metadata,
    Column(
        "workflow_id", Uuid(as_uuid=False), ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("spec", Json, nullable=False),
    Column("source", Text, nullable=False),
    Column("created_by", String(255)),
    Column("created_at", Timestamp, nullable=False),
)

# Listing a team's runs, newest first (created by migration 0002 on the store's ``runs`` table).
Index("ix_runs_team_created_at", runs.c.team, runs.c.created_at)
