"""Per-agent performance over time: success rate, latency p50/p95, tokens, cost, confidence.

The seed's ``PerformanceTracker``. Nothing extra is written for it: every agent invocation of a
durable run is already stored as a ``step_finished`` or ``step_failed`` event (with its
duration, usage, cost and the output's confidence), so the tracker reads those back and
aggregates them, for a window and optionally per day. ``cadenza agents stats`` prints it. A
resumed run's replayed steps are not counted again.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cadenza.observability.ledger import parse_since

if TYPE_CHECKING:
    from cadenza.store import Store


@dataclass(slots=True)
class AgentStats:
    """One agent's figures over the window (``day`` None) or on one day (``YYYY-MM-DD``)."""

    agent: str
    day: str | None
    invocations: int
    succeeded: int
    failed: int
    latency_p50: float
    latency_p95: float
    input_tokens: int
    output_tokens: int
    cost: Decimal
    mean_confidence: float | None

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.invocations if self.invocations else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "day": self.day,
            "invocations": self.invocations,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "success_rate": round(self.success_rate, 4),
            "latency_p50_s": round(self.latency_p50, 4),
            "latency_p95_s": round(self.latency_p95, 4),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": str(self.cost),
            "mean_confidence": None if self.mean_confidence is None else round(self.mean_confidence, 4),
        }


@dataclass(slots=True)
class _Bucket:
    durations: list[float] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    confidences: list[float] = field(default_factory=list)

    def add(self, data: dict[str, Any]) -> None:
        self.durations.append(float(data.get("duration", 0.0)))
        if data.get("type") == "step_failed":
            self.failed += 1
            return
        self.succeeded += 1
        usage = data.get("usage") or {}
        self.input_tokens += int(usage.get("input_tokens", 0))
        self.output_tokens += int(usage.get("output_tokens", 0))
        self.cost += Decimal(str(data.get("cost", "0")))
        confidence = data.get("confidence")
        if isinstance(confidence, int | float):
            self.confidences.append(float(confidence))

    def stats(self, agent: str, day: str | None) -> AgentStats:
        durations = sorted(self.durations)
        return AgentStats(
            agent=agent,
            day=day,
            invocations=len(durations),
            succeeded=self.succeeded,
            failed=self.failed,
            latency_p50=percentile(durations, 0.50),
            latency_p95=percentile(durations, 0.95),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost=self.cost,
            mean_confidence=sum(self.confidences) / len(self.confidences) if self.confidences else None,
        )


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


class PerformanceTracker:
    """Agent performance from a store's run events."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def stats(
        self,
        *,
        since: str | datetime | timedelta | None = "7d",
        agent: str | None = None,
        by_day: bool = False,
        team: str | None = None,
    ) -> list[AgentStats]:
        """Figures per agent (and per day with ``by_day``), busiest agent first.

        ``team`` keeps only the runs owned by that team (the HTTP service's scoping).
        """
        start = parse_since(since)
        buckets: dict[tuple[str, str | None], _Bucket] = defaultdict(_Bucket)
        for at, data in await self._agent_events(start, team):
            name = str(data.get("name", ""))
            if agent is not None and name != agent:
                continue
            day = datetime.fromtimestamp(at, UTC).date().isoformat() if by_day else None
            buckets[(name, day)].add(data)
        results = [bucket.stats(name, day) for (name, day), bucket in buckets.items()]
        results.sort(key=lambda s: (s.day or "", -s.invocations, s.agent))
        return results

    async def _agent_events(
        self, since: datetime | None, team: str | None = None
    ) -> list[tuple[float, dict[str, Any]]]:
        from sqlalchemy import select

        from cadenza.store.tables import run_events, runs

        query = (
            select(run_events.c.run_id, run_events.c.path, run_events.c.at, run_events.c.data)
            .where(run_events.c.type.in_(("step_finished", "step_failed")))
            .order_by(run_events.c.run_id, run_events.c.seq)
        )
        if since is not None:
            query = query.where(run_events.c.at >= since.timestamp())
        if team is not None:
            query = query.where(run_events.c.run_id.in_(select(runs.c.id).where(runs.c.team == team)))
        async with self.store._connect() as conn:
            rows = (await conn.execute(query)).all()
        events = []
        finished: set[tuple[str, str]] = set()
        for run_id, path, at, raw in rows:
            data = json.loads(raw)
            if data.get("kind") != "agent":
                continue
            # A resumed run replays the steps that finished before: their events come again
            # (in a later attempt, taking no time). The first finish is the invocation.
            key = (str(run_id), path)
            if key in finished:
                continue
            if data.get("type") == "step_finished":
                finished.add(key)
            events.append((float(at), data))
        return events
