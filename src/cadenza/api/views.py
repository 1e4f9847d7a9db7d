"""Read models of a run built from the store: its record, trace (from its events) and cost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from cadenza.api.auth import Principal
from cadenza.api.db import connect
from cadenza.api.errors import NotFound
from cadenza.api.schemas import Cost, ModelCost, RunOut, Span, Trace
from cadenza.store import RunNotFoundError, RunRecord, Store
from cadenza.store.database import ThreadDatabase
from cadenza.store.store import _run_record as run_record
from cadenza.store.store import run_key
from cadenza.store.tables import runs, usage_ledger


async def visible_run(store: Store, principal: Principal, run_id: str) -> RunRecord:
    """The run if the caller's team owns it (admins: any); another team's run is ``NotFound``."""
    try:
        record = await read_run(store, run_key(run_id))
    except RunNotFoundError:
        raise NotFound(f"no run with id {run_id!r}") from None
    if not principal.sees_all_teams and record.team != principal.team:
        raise NotFound(f"no run with id {run_id!r}")
    return record


async def read_run(store: Store, key: str) -> RunRecord:
    """One run by key, read in a single unit of work on the store's database.

    The hot read of the API (``GET /v1/runs/{id}``, every run endpoint): on SQLite one hop to the
    store's thread costs a fraction of the async driver's hop per cursor call; on PostgreSQL the
    store's own read (one round trip, no transaction) is the cheap one.
    """
    if not isinstance(store.db, ThreadDatabase):
        return await store.get_run(key)
    row = await store.db.transaction(_select_run, key)
    if row is None:
        raise RunNotFoundError(key)
    return run_record(row)


def _select_run(conn: Connection, key: str) -> Any:
    return conn.execute(select(runs).where(runs.c.id == key)).first()


def run_out(record: RunRecord) -> RunOut:
    return RunOut(
        id=record.id,
        workflow=record.workflow,
        status=record.status,
        attempt=record.attempt,
        team=record.team,
        task=record.task,
        output=record.output,
        error=record.error,
        error_type=record.error_type,
        usage=record.usage,
        cost=record.cost,
        waiting=record.waiting,
        created_at=record.created_at,
        updated_at=record.updated_at,
        finished_at=record.finished_at,
    )


def trace_of(run_id: str, events: list[dict[str, Any]]) -> Trace:
    """Spans of every step and model call, in start order, from the run's events."""
    spans: dict[str, Span] = {}
    order: list[str] = []
    for event in events:
        kind = event.get("type")
        path = str(event.get("path", ""))
        if kind == "step_started":
            spans[path] = Span(
                path=path,
                name=str(event.get("name", "")),
                kind=str(event.get("kind", "")),
                status="running",
                started_at=float(event.get("at", 0.0)),
            )
            order.append(path)
        elif kind in ("step_finished", "step_failed") and path in spans:
            span = spans[path]
            span.duration = float(event.get("duration", 0.0))
            if kind == "step_finished":
                span.status, span.cost, span.usage = "succeeded", str(event.get("cost")), event.get("usage")
            else:
                span.status, span.error = "failed", str(event.get("error", ""))
        elif kind == "llm_call":
            duration = float(event.get("duration", 0.0))
            key = f"{path}@{len(order)}"
            spans[key] = Span(
                path=path,
                name=str(event.get("model", "")),
                kind="llm",
                status="succeeded",
                started_at=float(event.get("at", 0.0)) - duration,
                duration=duration,
                cost=str(event.get("cost")),
                usage=event.get("usage"),
            )
            order.append(key)
    return Trace(run_id=run_id, spans=[spans[k] for k in order])


async def cost_of(store: Store, run_id: str) -> Cost:
    """The run's cost from the ledger, exact (Decimal sums of the provider-reported usage)."""
    query = select(
        usage_ledger.c.model, usage_ledger.c.input_tokens, usage_ledger.c.output_tokens, usage_ledger.c.cost
    ).where(usage_ledger.c.run_id == run_key(run_id))
    async with connect(store) as conn:
        rows = (await conn.execute(query)).all()
    by_model: dict[str, list[Any]] = {}
    for model, input_tokens, output_tokens, cost in rows:
        entry = by_model.setdefault(model, [0, 0, 0, Decimal(0)])
        entry[0] += 1
        entry[1] += input_tokens
        entry[2] += output_tokens
        entry[3] += Decimal(cost)
    models = [
        ModelCost(model=m, calls=c, input_tokens=i, output_tokens=o, cost=str(total))
        for m, (c, i, o, total) in sorted(by_model.items())
    ]
    return Cost(
        run_id=run_id,
        total_cost=str(sum((Decimal(m.cost) for m in models), Decimal(0))),
        input_tokens=sum(m.input_tokens for m in models),
        output_tokens=sum(m.output_tokens for m in models),
        by_model=models,
    )
