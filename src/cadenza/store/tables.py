"""The database schema: the seed's tables plus runs, the journal, events, the cost ledger and
conversations.

Plain SQLAlchemy Core tables (no ORM): the journal writer and the run driver issue a handful of
statements per step and the ORM's unit of work would cost more than the statement itself.
Migrations under ``migrations/`` create exactly this schema; change both together.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")
Timestamp = DateTime(timezone=True)

workflows = Table(
    "workflows",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("pattern", String(50)),
    Column("status", String(50), nullable=False, default="active"),
    Column("config", Json),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp),
    Column("team", String(255)),  # the owning team (API; migration 0002)
)

agents = Table(
    "agents",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("type", String(100)),
    Column("capabilities", Json),
    Column("config", Json),
    Column("status", String(50), nullable=False, default="active"),
    Column("created_at", Timestamp, nullable=False),
    Column("team", String(255)),  # the owning team (API; migration 0002)
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("messages", Json, nullable=False),
    Column("context", Json, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("workflow_history", Json, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("workflow", String(255), nullable=False),
    Column("workflow_id", Uuid(as_uuid=False), ForeignKey("workflows.id", ondelete="SET NULL")),
    # How to rebuild the flow in another process (a workflow spec or an import path).
    Column("flow_ref", Json),
    Column("task", Json, nullable=False),
    Column("status", String(32), nullable=False),
    # Fencing token: bumped each time a process takes the run; every journal write carries it.
    Column("attempt", Integer, nullable=False, default=1),
    Column("lease_owner", String(255)),
    Column("lease_expires_at", Timestamp),
    Column("output", Json),
    Column("error", Text),
    Column("error_type", String(100)),
    Column("usage", Json),
    Column("cost", String(40)),
    Column("waiting", Json),
    Column("conversation_id", Uuid(as_uuid=False), ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("parent_run_id", Uuid(as_uuid=False)),
    Column("forked_at", String(1024)),
    Column("owner", String(255)),
    Column("team", String(255)),  # the owning team: invisible to other teams (API; migration 0002)
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
    Index("ix_runs_status", "status"),
    Index("ix_runs_created_at", "created_at"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid(as_uuid=False), primary_key=True),
    Column("workflow_id", Uuid(as_uuid=False), ForeignKey("workflows.id", ondelete="CASCADE")),
    Column("agent_id", Uuid(as_uuid=False), ForeignKey("agents.id", ondelete="SET NULL")),
    Column("run_id", Uuid(as_uuid=False), ForeignKey("runs.id", ondelete="CASCADE")),
    Column("description", Text),
    Column("result", Json),
    Column("status", String(50), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    # A durable run's agent invocation (migration 0004): its step path, finish time and error.
    Column("path", String(1024)),
    Column("finished_at", Timestamp),
    Column("error", Text),
    Index("ix_tasks_run_id", "run_id"),
)

# One row per completed non-deterministic call (model response, tool result, approval decision),
# keyed by the call's deterministic step path. ``data`` is compact JSON text written by the
# journal; ``seq`` orders entries within a run (for forks).
journal_entries = Table(
    "journal_entries",
    metadata,
    Column("run_id", Uuid(as_uuid=False), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("data", Text),
)

run_events = Table(
    "run_events",
    metadata,
    Column("run_id", Uuid(as_uuid=False), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("attempt", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("at", Float, nullable=False),
    Column("data", Text, nullable=False),
)

usage_ledger = Table(
    "usage_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Uuid(as_uuid=False), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("workflow", String(255)),
    Column("model", String(255), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cache_read_tokens", Integer, nullable=False),
    Column("cache_write_tokens", Integer, nullable=False),
    Column("cost", String(40), nullable=False),
    Column("at", Timestamp, nullable=False),
    Index("ix_usage_ledger_run", "run_id"),
    Index("ix_usage_ledger_at", "at"),
)
