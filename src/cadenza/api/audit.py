"""The audit log: every mutating request and every refused authentication, append-only.

``AuditMiddleware`` records who (actor, role, team), what (action, method, path), when, from
where (client address, user agent) and the outcome (status). A mutating request's row is
committed before its response starts, so a change the caller was told about is always in the
log; rows are committed in batches, so concurrent requests share commits. The table refuses
UPDATE and DELETE (database triggers, migration 0002) and the API has no endpoint that changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadenza.api.db import aware, connect, execute, now, write
from cadenza.store import Store
from cadenza.store.auth_tables import audit_log

log = logging.getLogger("cadenza.api.audit")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DENIED = frozenset({401, 403, 429})


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    if status in DENIED:
        return "denied"
    return "error" if status >= 500 else "rejected"


@dataclass(slots=True)
class _Pending:
    row: dict[str, Any]
    future: asyncio.Future[None] | None


class AuditLog:
    """Queues audit rows and commits them in batches from one background task."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def record(self, row: dict[str, Any], *, wait: bool) -> asyncio.Future[None] | None:
        """Queue ``row``; with ``wait`` the returned future resolves once it is committed."""
        future = asyncio.get_running_loop().create_future() if wait else None
        self._queue.append(_Pending(row, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())
        self._wake.set()
        return future

    async def flush(self) -> None:
        if self._queue:
            future = asyncio.get_running_loop().create_future()
            self._queue.append(_Pending({}, future))
            self._wake.set()
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._loop())
            await future

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        rows = [p.row for p in batch if p.row]
        error: Exception | None = None
        try:
            if rows:
                await write(self.store, execute, insert(audit_log), rows)
        except Exception as exc:
            log.error("audit batch of %d rows failed: %s", len(rows), exc)
            error = exc
        for pending in batch:
            if pending.future is not None and not pending.future.done():
                if error is None:
                    pending.future.set_result(None)
                else:
                    pending.future.set_exception(error)

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
