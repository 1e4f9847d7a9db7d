"""Persistence: SQLAlchemy (async) tables, Alembic migrations and the ``Store`` that uses them.

Imported only by durable runs and the CLI/API, never by ``import cadenza`` (SQLAlchemy is slow
to import).
"""

from cadenza.store.errors import (
    DatabaseUnavailableError,
    RunLeasedError,
    RunNotFoundError,
    RunStateError,
    SchemaMismatchError,
    StaleAttemptError,
    StoreError,
)
from cadenza.store.records import ConversationRecord, JournalEntry, RunRecord
from cadenza.store.store import Store
from cadenza.store.url import default_database_url

__all__ = [
    "ConversationRecord",
    "DatabaseUnavailableError",
    "JournalEntry",
    "RunLeasedError",
    "RunNotFoundError",
    "RunRecord",
    "RunStateError",
    "SchemaMismatchError",
    "StaleAttemptError",
    "Store",
    "StoreError",
    "default_database_url",
]
