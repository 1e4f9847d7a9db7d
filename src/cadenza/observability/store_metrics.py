"""Prometheus text built from the store instead of a live process: for ``cadenza metrics``.

A CLI process has run nothing itself, so its in-process collectors are empty; the totals that
matter across processes live in the database: runs by workflow and status, and the cost
ledger's tokens and cost by workflow, agent and model. Same metric names as the live collectors
where the meaning is the same (``cadenza_tokens_total``, ``cadenza_cost_usd_total``), so
dashboards work with either.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadenza.store import Store


async def store_metrics(store: Store) -> str:
    """The Prometheus text exposition of the store's runs and ledger."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from sqlalchemy import func, select

    from cadenza.observability.ledger import _grouping, _ledger_rows
    from cadenza.store.tables import runs

    async with store._connect() as conn:
        counts = (
            await conn.execute(
                select(runs.c.workflow, runs.c.status, func.count()).group_by(runs.c.workflow, runs.c.status)
            )
        ).all()
    rows = await _ledger_rows(store, None, None, None, None)
    agents = await _grouping(store, "agent", rows)

    runs_family = GaugeMetricFamily(
        "cadenza_stored_runs", "Stored runs by workflow and status.", labels=["workflow", "status"]
    )
    for workflow, status, count in counts:
        runs_family.add_metric([workflow, status], count)
    tokens: dict[tuple[str, str, str, str], int] = defaultdict(int)
    cost: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    calls: dict[tuple[str, str], int] = defaultdict(int)
    for row, agent in zip(rows, agents, strict=True):
        workflow = row.workflow or ""
        tokens[(workflow, agent, row.model, "input")] += row.input_tokens
        tokens[(workflow, agent, row.model, "output")] += row.output_tokens
        cost[(workflow, agent, row.model)] += Decimal(row.cost)
        calls[(row.model, agent)] += 1
    tokens_family = CounterMetricFamily(
        "cadenza_tokens",
        "Tokens by workflow, agent, model and direction.",
        labels=["workflow", "agent", "model", "direction"],
    )
    for labels, value in sorted(tokens.items()):
        tokens_family.add_metric(list(labels), value)
    cost_family = CounterMetricFamily(
        "cadenza_cost_usd", "Cost in USD by workflow, agent and model.", labels=["workflow", "agent", "model"]
    )
    for labels3, amount in sorted(cost.items()):
        cost_family.add_metric(list(labels3), float(amount))
    calls_family = CounterMetricFamily(
        "cadenza_model_calls", "Completed model calls.", labels=["model", "agent"]
    )
    for labels2, count in sorted(calls.items()):
        calls_family.add_metric(list(labels2), count)

    class _Snapshot:
        def collect(self) -> Any:
            return [runs_family, tokens_family, cost_family, calls_family]

    registry = CollectorRegistry()
    registry.register(_Snapshot())
    return generate_latest(registry).decode()
