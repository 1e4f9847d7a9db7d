"""The audit log: every mutating request and every refused authentication, append-only.

``AuditMiddleware`` records who (actor, role, team), what (action, method, path), when, from
where (client address, user agent) and the outcome (status). A mutating request's row is
committed before its response starts, so a change the caller was told about is always in the
log; rows ride in the store's write batches, so requests and runs share commits. The table refuses
UPDATE and DELETE (database triggers, migration 0002) and the API has no endpoint that changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadenza.api.db import connect, now
from cadenza.store import Store
from cadenza.store.auth_tables import audit_log
from cadenza.store.database import ThreadDatabase
from cadenza.store.records import aware
from cadenza.store.writer import sqlite_value

log = logging.getLogger("cadenza.api.audit")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DENIED = frozenset({401, 403, 429})


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    if status in DENIED:
        return "denied"
    return "error" if status >= 500 else "rejected"


class AuditLog:
    """Writes audit rows in the store's batch writer: they share the transaction of the journal and
    event rows being committed anyway, so auditing adds no transaction of its own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._sqlite = isinstance(store.db, ThreadDatabase)
        self._pending: set[asyncio.Future[Any]] = set()

    def record(self, row: dict[str, Any], *, wait: bool) -> asyncio.Future[Any] | None:
        """Queue ``row``; with ``wait`` the returned future resolves once it is committed."""
        future = self.store.writer.run_in_batch(_insert_sqlite if self._sqlite else _insert, row)
        self._pending.add(future)
        future.add_done_callback(self._done)
        return future if wait else None

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("audit row could not be written: %s", future.exception())

    async def close(self) -> None:
        """Wait for every queued row (the store's writer commits them)."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=10)

    async def query(
        self,
        *,
        actor: str | None,
        action: str | None,
        outcome: str | None,
        since: datetime | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """Entries, newest first, filtered by the given fields."""
        q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
        if actor:
            q = q.where(audit_log.c.actor == actor)
        if action:
            q = q.where(audit_log.c.action == action)
        if outcome:
            q = q.where(audit_log.c.outcome == outcome)
        if since:
            q = q.where(audit_log.c.at >= since)
        async with connect(self.store) as conn:
            rows = (await conn.execute(q)).all()
        return [{**row._mapping, "at": aware(row._mapping["at"])} for row in rows]


class AuditMiddleware:
    """Records mutating requests (before their response starts) and denied requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        mutating = scope["method"] in MUTATING

        async def auditing(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if mutating or status in DENIED:
                    future = self._record(scope, state, status, wait=mutating)
                    if future is not None:
                        # The change is made: its answer goes out even if the audit row failed (logged).
                        with contextlib.suppress(Exception):
                            await future
            await send(message)

        await self.app(scope, receive, auditing)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, *, wait: bool) -> Any:
        services = getattr(scope["app"].state, "services", None)
        if services is None:
            return None
        principal = state.get("principal")
        route = scope.get("route")
        action = getattr(route, "name", None) or "unmatched"
        headers = dict(scope.get("headers") or ())
        client = scope.get("client")
        row = {
            "at": now(),
            "actor": principal.actor if principal else None,
            "role": principal.role.value if principal else None,
            "team": principal.team if principal else None,
            "action": action[:64],
            "method": scope["method"][:8],
            "path": scope["path"][:1024],
            "status": status,
            "outcome": outcome_of(status),
            "client": client[0][:255] if client else None,
            "user_agent": headers.get(b"user-agent", b"").decode("latin-1")[:512] or None,
            "detail": state.get("audit_detail"),
        }
        return services.audit.record(row, wait=wait)


def cli_actor() -> str:
    """Who runs a CLI command: ``cli:<OS user>@<host>`` (the CLI has no login, the machine does)."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment (containers): the uid still says who
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}@{socket.gethostname()}"[:255]


async def record_cli(
    store: Store,
    *,
    action: str,
    command: str,
    target: str | None,
    status: int,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write (and commit) the audit row of a CLI command that changed, or was refused to change,
    security or run state. Same table, writer and action names as the API's rows; ``method`` is
    ``CLI``, ``status`` the HTTP status the API would have answered (so ``outcome`` means the
    same), ``client`` the host and ``detail`` holds ``source: cli`` and the target."""
    import socket

    row = {
        "at": now(),
        "actor": cli_actor(),
        "role": None,
        "team": None,
        "action": action[:64],
        "method": "CLI",
        "path": command[:1024],
        "status": status,
        "outcome": outcome_of(status),
        "client": socket.gethostname()[:255],
        "user_agent": "cadenza-cli",
        "detail": {"source": "cli", "target": target, **(detail or {})},
    }
    future = AuditLog(store).record(row, wait=True)
    assert future is not None
    await future


_COLUMNS = (
    "at",
    "actor",
    "role",
    "team",
    "action",
    "method",
    "path",
    "status",
    "outcome",
    "client",
    "user_agent",
    "detail",
)
_INSERT_SQLITE = f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def _insert(conn: Any, row: dict[str, Any]) -> None:
    conn.execute(insert(audit_log), row)


def _insert_sqlite(raw: Any, row: dict[str, Any]) -> None:
    """On SQLite's raw connection (the writer's hot path): times as SQLAlchemy stores them."""
    values = [
        json.dumps(row[c]) if c == "detail" and row[c] is not None else sqlite_value(row[c]) for c in _COLUMNS
    ]
    raw.execute(_INSERT_SQLITE, values)
