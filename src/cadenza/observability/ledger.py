"""Cost ledger reports and period budgets, from the store's ``usage_ledger``.

Durable runs write one ledger row per completed model call (``cadenza.durable.recorder``): the
usage the provider reported and its price, under the call's step path. Replayed calls are not
re-recorded, so every call is counted once. This module reads it back:

- ``cost_report(store, by="agent", since=...)`` — totals by run, agent, workflow, model, user or
  day. Costs are summed as ``Decimal`` in Python (they are stored as exact decimal strings, and
  SQL ``SUM`` over text would not be exact on every database).
- ``period_budget(store, budget, period="1d", workflow=...)`` — a run budget reduced by what the
  workflow (or everything) already spent in the period, or ``BudgetExceeded`` when nothing is left.

Agent names come from the run's stored ``step_started`` events (the step directly above a model
call is the agent that made it), so a supervisor's plan is charged to the supervisor agent.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cadenza.errors import BudgetExceeded, ConfigurationError
from cadenza.store.records import hex_id

if TYPE_CHECKING:
    from cadenza.engine.budget import Budget
    from cadenza.store import Store

GROUPS = ("run", "agent", "workflow", "model", "user", "day")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CHUNK = 500


@dataclass(slots=True)
class CostLine:
    """The totals of one group: model calls, tokens, cost, and how many runs they came from."""

    key: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal = Decimal(0)
    run_ids: set[str] = field(default_factory=set)

    @property
    def runs(self) -> int:
        return len(self.run_ids)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, row: Any) -> None:
        self.calls += 1
        self.input_tokens += row.input_tokens
        self.output_tokens += row.output_tokens
        self.cache_read_tokens += row.cache_read_tokens
        self.cache_write_tokens += row.cache_write_tokens
        self.cost += Decimal(row.cost)
        self.run_ids.add(hex_id(row.run_id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "runs": self.runs,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": str(self.cost),
        }


@dataclass(slots=True)
class CostReport:
    """Lines by group, most expensive first, and the total over all of them."""

    by: str
    since: datetime | None
    until: datetime | None
    lines: list[CostLine]
    total: CostLine

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "lines": [line.to_dict() for line in self.lines],
            "total": self.total.to_dict(),
        }


def parse_since(value: str | datetime | timedelta | None, *, now: datetime | None = None) -> datetime | None:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"2w"``, an ISO date or datetime, or a timedelta back from now."""
    if value is None or value == "":
        return None
    now = now or datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, timedelta):
        return now - value
    match = _DURATION.match(value)
    if match:
        try:
            return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
        except OverflowError:
            raise ConfigurationError(f"since: {value!r} reaches back before year 1") from None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"since: {value!r} is neither a duration (30m, 12h, 7d, 2w) nor an ISO date/datetime"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def cost_report(
    store: Store,
    *,
    by: str = "model",
    since: str | datetime | timedelta | None = None,
    until: str | datetime | None = None,
    workflow: str | None = None,
    run_id: str | None = None,
    team: str | None = None,
) -> CostReport:
    """Totals of the ledger grouped ``by`` run, agent, workflow, model, user or day.

    ``team`` keeps only the calls of runs owned by that team (the HTTP service's scoping).
    """
    if by not in GROUPS:
        raise ConfigurationError(f"cost report: unknown grouping {by!r}; expected one of {', '.join(GROUPS)}")
    start = parse_since(since)
    end = parse_since(until) if until is not None else None
    rows = await _ledger_rows(store, start, end, workflow, run_id, team)
    keys = await _grouping(store, by, rows)
    lines: dict[str, CostLine] = {}
    total = CostLine("total")
    for row, key in zip(rows, keys, strict=True):
        line = lines.get(key)
        if line is None:
            line = lines[key] = CostLine(key)
        line.add(row)
        total.add(row)
    ordered = sorted(lines.values(), key=lambda line: (-line.cost, -line.total_tokens, line.key))
    return CostReport(by, start, end, ordered, total)


async def _ledger_rows(
    store: Store,
    since: datetime | None,
    until: datetime | None,
    workflow: str | None,
    run_id: str | None,
    team: str | None = None,
) -> list[Any]:
    from sqlalchemy import select

    from cadenza.store.store import run_key
    from cadenza.store.tables import runs, usage_ledger

    query = select(usage_ledger).order_by(usage_ledger.c.id)
    if since is not None:
        query = query.where(usage_ledger.c.at >= since)
    if until is not None:
        query = query.where(usage_ledger.c.at < until)
    if workflow is not None:
        query = query.where(usage_ledger.c.workflow == workflow)
    if run_id is not None:
        query = query.where(usage_ledger.c.run_id == run_key(run_id))
    if team is not None:
        query = query.where(usage_ledger.c.run_id.in_(select(runs.c.id).where(runs.c.team == team)))
    async with store._connect() as conn:
        return list((await conn.execute(query)).all())


async def _grouping(store: Store, by: str, rows: Sequence[Any]) -> list[str]:
    if by == "run":
        return [hex_id(row.run_id) for row in rows]
    if by == "workflow":
        return [row.workflow or "(none)" for row in rows]
    if by == "model":
        return [row.model for row in rows]
    if by == "day":
        return [_utc(row.at).date().isoformat() for row in rows]
    if by == "user":
        owners = await _owners(store, {hex_id(row.run_id) for row in rows})
        return [owners.get(hex_id(row.run_id)) or "(none)" for row in rows]
    names = await _step_names(store, {hex_id(row.run_id) for row in rows})
    return [agent_of(row.path, names.get(hex_id(row.run_id), {})) for row in rows]


def agent_of(call_path: str, step_names: dict[str, str]) -> str:
    """The agent that made the model call at ``call_path``: the name of the step above it.

    Without the run's step events, the step's path segment stands in (its index prefix removed).
    """
    step_path = call_path.rpartition("/")[0]
    name = step_names.get(step_path)
    if name:
        return name
    segment = step_path.rpartition("/")[2]
    index, colon, rest = segment.partition(":")
    if colon and index.isdigit():
        return rest
    return segment or "(unknown)"


async def _step_names(store: Store, run_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """For each run, step path -> step name, from its stored ``step_started`` events."""
    from sqlalchemy import select

    from cadenza.store.tables import run_events

    names: dict[str, dict[str, str]] = defaultdict(dict)
    ids = sorted(run_ids)
    async with store._connect() as conn:
        for i in range(0, len(ids), _CHUNK):
            query = select(run_events.c.run_id, run_events.c.path, run_events.c.data).where(
                run_events.c.run_id.in_(ids[i : i + _CHUNK]), run_events.c.type == "step_started"
            )
            for run_id, path, data in (await conn.execute(query)).all():
                names[hex_id(run_id)][path] = json.loads(data).get("name", "")
    return names


async def _owners(store: Store, run_ids: Iterable[str]) -> dict[str, str | None]:
    from sqlalchemy import select

    from cadenza.store.tables import runs

    owners: dict[str, str | None] = {}
    ids = sorted(run_ids)
    async with store._connect() as conn:
        for i in range(0, len(ids), _CHUNK):
            query = select(runs.c.id, runs.c.owner).where(runs.c.id.in_(ids[i : i + _CHUNK]))
            for run_id, owner in (await conn.execute(query)).all():
                owners[hex_id(run_id)] = owner
    return owners


PERIODS = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=30)}


async def period_budget(
    store: Store,
    budget: Budget,
    *,
    period: str | timedelta | None = None,
    workflow: str | None = None,
    now: datetime | None = None,
    exclude_run: str | None = None,
    team: str | None = None,
) -> Budget:
    """``budget`` as a limit over a rolling period: the run gets what the period has left.

    ``period`` defaults to ``budget.period`` (else "day"). Spending in the period (of
    ``workflow``, or of everything) is read from the ledger; tokens, money and model calls are
    reduced by it. Raises ``BudgetExceeded`` when a limit is already spent. Concurrent runs each
    get the remainder at their start; within a run the hard stop holds as usual. A resumed run
    passes its own id as ``exclude_run``: its journaled calls replay and are charged again.
    ``team`` counts only that team's runs (the HTTP service: each team has its own period).
    """
    from cadenza.engine.budget import Budget as BudgetType

    period = period if period is not None else (budget.period or "day")
    window = PERIODS.get(period) if isinstance(period, str) else period
    since = (now or datetime.now(UTC)) - window if window is not None else parse_since(period, now=now)
    spent = (await cost_report(store, by="workflow", since=since, workflow=workflow, team=team)).total
    if exclude_run is not None:
        own = (
            await cost_report(store, by="run", since=since, workflow=workflow, run_id=exclude_run, team=team)
        ).total
        spent.calls -= own.calls
        spent.input_tokens -= own.input_tokens
        spent.output_tokens -= own.output_tokens
        spent.cost -= own.cost
    scope = f"workflow {workflow!r}" if workflow else "all workflows"
    if team is not None:
        scope += f" of team {team!r}"
    remaining: dict[str, Any] = {}
    for limit, used, maximum in (
        ("max_tokens", spent.total_tokens, budget.max_tokens),
        ("max_cost_usd", spent.cost, budget.max_cost_usd),
        ("max_model_calls", spent.calls, budget.max_model_calls),
    ):
        if maximum is None:
            continue
        left = maximum - used
        if left <= 0:
            raise BudgetExceeded(
                limit,
                f"the {_describe(period)} budget of {scope} is spent: {used} of {maximum} used "
                f"since {since:%Y-%m-%d %H:%M} UTC",
            )
        remaining[limit] = left
    # the same budget for one run (no period: the period is accounted for), limits reduced
    kept = {name: getattr(budget, name) for name in budget.FIELDS if name != "period"}
    return BudgetType(**{**kept, **remaining})


def _describe(period: str | timedelta) -> str:
    return period if isinstance(period, str) else f"{period.total_seconds():g} s"


def _utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
