"""What the store hands back: plain records of runs, journal entries and conversations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Statuses a run can have. "running" runs have a driver (or had one that died); "waiting" runs
# wait for a human decision; "needs_attention" runs stopped at a non-idempotent tool call that
# was in flight at a crash.
ACTIVE = ("pending", "running")
RESUMABLE = ("pending", "running", "needs_attention", "failed", "budget_exceeded")
FINISHED = ("succeeded", "failed", "cancelled", "rejected", "budget_exceeded")


def hex_id(value: object) -> str:
    """A stored id (a UUID object on PostgreSQL, text on SQLite) as 32 hex digits."""
    return str(value).replace("-", "")


def aware(value: datetime | None) -> datetime | None:
    """A stored time as UTC-aware (SQLite hands back naive datetimes)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(slots=True)
class RunRecord:
    """One run as stored."""

    id: str
    workflow: str
    status: str
    attempt: int
    task: dict[str, Any]
    flow_ref: dict[str, Any] | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    usage: dict[str, Any] | None = None
    cost: str | None = None
    waiting: dict[str, Any] | None = None
    conversation_id: str | None = None
    parent_run_id: str | None = None
    forked_at: str | None = None
    owner: str | None = None
    team: str | None = None  # the owning team (set by the HTTP service)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able data of the run (times as ISO 8601)."""
        data: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        return data


@dataclass(slots=True)
class JournalEntry:
    """One journaled call: its kind (model, tool, tool_started, approval) and its compact JSON data."""

    path: str
    seq: int
    attempt: int
    kind: str
    data: str | None


@dataclass(slots=True)
class ConversationRecord:
    """The seed's ConversationState: messages, context, metadata and the runs that made it."""

    id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    workflow_history: list[dict[str, Any]] = field(default_factory=list)
