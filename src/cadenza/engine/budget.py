"""Budgets: token, money, call and wall-time limits, enforced before a model call is sent.

``Budget`` is what a user writes (``flow.run(task, budget=Budget(max_cost_usd=0.50))``);
``BudgetTracker`` is its live state in one run. Before every model request the engine reserves
an upper bound of what the request can cost — its input tokens bounded from above by UTF-8 bytes
plus per-message overhead, plus the ``max_tokens`` it sets on the request, lowered to what is
left — and after the response the reservation settles to the usage the provider reported. So a
request is never sent if it could cross a limit, and concurrent branches of one run, which all
reserve from the same tracker, can never overspend together.

Reservations happen synchronously between awaits (and under a lock, for trackers shared across
threads), which is what makes them race-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cadenza.errors import BudgetExceeded, ConfigurationError
from cadenza.models.pricing import cost_of
from cadenza.types.events import BudgetWarning, Event
from cadenza.types.usage import Usage

if TYPE_CHECKING:
    from cadenza.engine.context import RunState
    from cadenza.models.base import ModelRequest

log = logging.getLogger("cadenza.budget")

#: Tokens a provider adds around each message (role markers, separators); generous on purpose.
MESSAGE_OVERHEAD_TOKENS = 8
#: Tokens around the whole request (reply priming, BOS/EOS).
REQUEST_OVERHEAD_TOKENS = 16
#: Tokens a provider may add when tools are offered (Anthropic's tool-use system prompt is ~350).
TOOLS_OVERHEAD_TOKENS = 512
#: Tokens around each tool definition and around a structured-output schema.
SCHEMA_OVERHEAD_TOKENS = 16

_ZERO = Decimal(0)
_MILLION = 1_000_000


class Budget:
    """Limits for a run (or an agent within a run). ``None`` means no limit. Immutable.

    ``alert_at`` are fractions of each limit at which a ``BudgetWarning`` is emitted, logged and,
    with ``alert_webhook``, POSTed as JSON. ``default_output_tokens`` is the ``max_tokens`` set on
    requests that have none when a token or money limit applies (the bound needs a number);
    ``min_output_tokens`` is the shortest answer worth sending a request for — when not even that
    fits, the run stops with ``BudgetExceeded`` before the request is sent.

    ``period`` ("day", "week", "month" or a duration like "12h") makes the token, money and call
    limits hold over a rolling period of the workflow instead of one run: a durable run reads the
    ledger at its start and gets what the period has left (``cadenza.observability.ledger``).
    It needs a store, so a run without one is refused with ``ConfigurationError``.

    (A plain slotted class, not a dataclass: ``import cadenza`` pays for every dataclass made.)
    """

    FIELDS = (
        "max_tokens",
        "max_cost_usd",
        "max_seconds",
        "max_model_calls",
        "alert_at",
        "min_output_tokens",
        "default_output_tokens",
        "alert_webhook",
        "period",
    )
    __slots__ = FIELDS

    max_tokens: int | None
    max_cost_usd: Decimal | None
    max_seconds: float | None
    max_model_calls: int | None
    alert_at: tuple[float, ...]
    min_output_tokens: int
    default_output_tokens: int
    alert_webhook: str | None
    period: str | None

    def __init__(
        self,
        *,
        max_tokens: int | None = None,
        max_cost_usd: float | str | Decimal | None = None,
        max_seconds: float | None = None,
        max_model_calls: int | None = None,
        alert_at: Iterable[float] = (0.5, 0.8),
        min_output_tokens: int = 16,
        default_output_tokens: int = 4096,
        alert_webhook: str | None = None,
        period: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "max_tokens", _positive_int("max_tokens", max_tokens))
        set_(self, "max_cost_usd", _money(max_cost_usd))
        set_(self, "max_seconds", _positive_float("max_seconds", max_seconds))
        set_(self, "max_model_calls", _positive_int("max_model_calls", max_model_calls))
        thresholds = tuple(sorted(float(a) for a in alert_at))
        if any(not 0 < a <= 1 for a in thresholds):
            raise ConfigurationError(f"budget alert_at: thresholds must be in (0, 1], got {thresholds}")
        set_(self, "alert_at", thresholds)
        set_(self, "min_output_tokens", _positive_int("min_output_tokens", min_output_tokens) or 1)
        set_(
            self, "default_output_tokens", _positive_int("default_output_tokens", default_output_tokens) or 1
        )
        set_(self, "alert_webhook", alert_webhook)
        set_(self, "period", _period(period))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "budget") -> Budget:
        """A budget from a workflow file's ``budget:`` mapping; unknown keys are an error."""
        if not isinstance(data, dict):
            raise ConfigurationError(f"{where}: expected a mapping of limits, got {type(data).__name__}")
        known = set(cls.FIELDS)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"{where}: unknown budget field(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"{where}: {exc}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Budget is immutable: make a new one instead of setting {name}")

    def __repr__(self) -> str:
        set_fields = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self.FIELDS if getattr(self, name) is not None
        )
        return f"Budget({set_fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Budget):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.FIELDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self.FIELDS))

    @property
    def limits_output(self) -> bool:
        """Whether requests need a concrete ``max_tokens`` (a token or money limit applies)."""
        return self.max_tokens is not None or self.max_cost_usd is not None


#: Named rolling periods of a period budget (``Budget(period="day")``), or a duration like "12h".
PERIOD_NAMES = ("day", "week", "month")
_PERIOD_DURATION = re.compile(r"^\d+(?:\.\d+)?[smhdw]$")


def _period(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and (value in PERIOD_NAMES or _PERIOD_DURATION.match(value)):
        return value
    raise ConfigurationError(
        f"budget period: expected one of {', '.join(PERIOD_NAMES)} or a duration like 12h or 7d, "
        f"got {value!r}"
    )


def _positive_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"budget {name}: expected a positive integer, got {value!r}")
    return value


def _positive_float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError(f"budget {name}: expected a positive number of seconds, got {value!r}")
    return float(value)


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ConfigurationError(f"budget max_cost_usd: not a number: {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise ConfigurationError(f"budget max_cost_usd: expected a positive amount, got {value!r}")
    return amount


def input_token_bound(request: ModelRequest) -> int:
    """An upper bound of the input tokens ``request`` can count as, without a tokenizer.

    Byte-level BPE tokenizers never produce more tokens than UTF-8 bytes, so the bytes of every
    message, tool call, tool schema and output schema, plus generous per-message and per-request
    overheads for the markers providers add, bound the count from above.
    """
    total = REQUEST_OVERHEAD_TOKENS
    for message in request.messages:
        total += MESSAGE_OVERHEAD_TOKENS + len(message.content.encode())
        if message.name:
            total += len(message.name.encode())
        for call in message.tool_calls:
            total += MESSAGE_OVERHEAD_TOKENS + len(call.id.encode()) + len(call.name.encode())
            total += len(call.arguments.encode())
    if request.tools:
        total += TOOLS_OVERHEAD_TOKENS
        for tool in request.tools:
            total += SCHEMA_OVERHEAD_TOKENS + len(tool.name.encode()) + len(tool.description.encode())
            total += len(json.dumps(tool.parameters, ensure_ascii=False).encode())
    schema = request.output_schema
    if schema is not None:
        total += SCHEMA_OVERHEAD_TOKENS + len(schema.name.encode()) + len(schema.description.encode())
        total += len(json.dumps(schema.json_schema, ensure_ascii=False).encode())
    return total


def max_cost_of(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """The most ``input_tokens`` in and ``output_tokens`` out can cost on ``model``.

    Input is priced at the dearer of the plain and the cache-write rate (a provider may write the
    prompt to its cache), so the figure bounds what the provider will bill.
    """
    plain = cost_of(model, Usage(input_tokens, output_tokens))
    if input_tokens == 0:
        return plain
    cached = cost_of(model, Usage(input_tokens, output_tokens, cache_write_tokens=input_tokens))
    return max(plain, cached)


class Reservation:
    """What one in-flight request holds against each tracker of its chain until it settles."""

    __slots__ = ("cost", "held", "max_output_tokens", "model", "open", "path", "tokens", "trackers")

    def __init__(
        self,
        trackers: list[BudgetTracker],
        tokens: int,
        cost: Decimal,
        model: str,
        path: str,
        max_output_tokens: int | None,
    ) -> None:
        self.trackers = trackers
        self.tokens = tokens
        self.cost = cost
        self.model = model
        self.path = path
        self.max_output_tokens = max_output_tokens
        self.open = True
        # Whether ``reserve`` put this hold on the trackers. A reservation built directly (a
        # journaled call charged on replay) settles its usage without a hold to give back.
        self.held = False

    def settle(self, usage: Usage, cost: Decimal) -> None:
        """Replace the hold by the usage and cost the provider reported; fire alerts."""
        if not self.open:
            return
        self.open = False
        for tracker in self.trackers:
            tracker._settle(self, usage, cost)

    def release(self, *, sent: bool) -> None:
        """Give the hold back after a failed request. A request that was sent still counts as a
        model call (it reached the provider), with no reported usage."""
        if not self.open:
            return
        self.open = False
        for tracker in self.trackers:
            tracker._release(self, sent)


class _Spend:
    __slots__ = ("calls", "cost", "tokens")

    def __init__(self) -> None:
        self.tokens = 0
        self.cost = _ZERO
        self.calls = 0


class BudgetTracker:
    """One budget's live state: what is spent, what in-flight requests hold, which alerts fired.

    ``parent`` chains an agent's own budget to the run's: a request reserves on every tracker of
    the chain and fits only if it fits them all.
    """

    def __init__(
        self,
        budget: Budget,
        *,
        run_id: str,
        emit: Callable[[Event], None],
        scope: str = "run",
        parent: BudgetTracker | None = None,
    ) -> None:
        self.budget = budget
        self.run_id = run_id
        self.emit = emit
        self.scope = scope
        self.parent = parent
        self.started = time.monotonic()
        self.used = _Spend()
        self.reserved = _Spend()
        self._fired: set[tuple[str, float]] = set()
        self._children: dict[str, BudgetTracker] = {}
        self._lock = threading.Lock()

    # -- chain -----------------------------------------------------------------------------------

    def chain(self) -> list[BudgetTracker]:
        """This tracker and its ancestors, innermost first."""
        trackers: list[BudgetTracker] = []
        tracker: BudgetTracker | None = self
        while tracker is not None:
            trackers.append(tracker)
            tracker = tracker.parent
        return trackers

    def scoped(self, name: str, budget: Budget) -> BudgetTracker:
        """The tracker of ``budget`` for ``name`` (an agent) within this one, made on first use.

        Every invocation of the same agent in a run shares it, so an agent's budget is per run.
        """
        child = self._children.get(name)
        if child is None or child.budget is not budget:
            child = BudgetTracker(
                budget, run_id=self.run_id, emit=self.emit, scope=f"agent:{name}", parent=self
            )
            self._children[name] = child
        return child

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining_seconds(self) -> float | None:
        limit = self.budget.max_seconds
        return None if limit is None else limit - self.elapsed

    # -- before a request ------------------------------------------------------------------------

    def reserve(self, model: str, request: ModelRequest, path: str) -> tuple[Reservation, ModelRequest]:
        """Hold the most ``request`` can use on every tracker of the chain, or raise.

        Returns the reservation and the request to send: a copy whose ``max_tokens`` is lowered
        to what the budgets leave, when a token or money limit applies. Raises ``BudgetExceeded``
        (nothing is sent) when not even ``min_output_tokens`` of answer fits.
        """
        trackers = self.chain()
        locks = [t._lock for t in trackers]
        for lock in locks:
            lock.acquire()
        try:
            input_bound = input_token_bound(request)
            output = self._output_allowance(trackers, model, request, input_bound, path)
            tokens = input_bound + (output or 0)
            priced = any(t.budget.max_cost_usd is not None for t in trackers)
            cost = max_cost_of(model, input_bound, output or 0) if priced else _ZERO
            for tracker in trackers:
                tracker.reserved.tokens += tokens
                tracker.reserved.cost += cost
                tracker.reserved.calls += 1
        finally:
            for lock in reversed(locks):
                lock.release()
        sent = request
        if output is not None and output != request.max_tokens:
            sent = _with_max_tokens(request, output)
        reservation = Reservation(trackers, tokens, cost, model, path, output)
        reservation.held = True
        return reservation, sent

    def _output_allowance(
        self,
        trackers: list[BudgetTracker],
        model: str,
        request: ModelRequest,
        input_bound: int,
        path: str,
    ) -> int | None:
        """The ``max_tokens`` to send: the request's (or the default), lowered to fit every limit."""
        wanted = request.max_tokens
        limited = any(t.budget.limits_output for t in trackers)
        if limited and wanted is None:
            wanted = min(t.budget.default_output_tokens for t in trackers if t.budget.limits_output)
        allowed = wanted
        for tracker in trackers:
            tracker._check_calls_and_time(path)
            cap = tracker._output_cap(model, input_bound, path)
            if cap is not None:
                allowed = cap if allowed is None else min(allowed, cap)
        if allowed is None or wanted is None:
            return allowed
        floor = min(wanted, max(t.budget.min_output_tokens for t in trackers))
        if allowed < floor:
            raise self._exceeded_for_output(trackers, model, input_bound, floor, path)
        return allowed

    def _check_calls_and_time(self, path: str) -> None:
        budget = self.budget
        if budget.max_model_calls is not None:
            calls = self.used.calls + self.reserved.calls
            if calls >= budget.max_model_calls:
                raise BudgetExceeded(
                    "max_model_calls",
                    f"{self._where()}the model call at {path!r} would be call {calls + 1} of a budget of "
                    f"{budget.max_model_calls}; it was not sent",
                )
        remaining = self.remaining_seconds
        if remaining is not None and remaining <= 0:
            raise BudgetExceeded(
                "max_seconds",
                f"{self._where()}{self.elapsed:.2f} s of {budget.max_seconds} s used before the model "
                f"call at {path!r}; it was not sent",
            )

    def _output_cap(self, model: str, input_bound: int, path: str) -> int | None:
        """The most answer tokens this tracker's token and money limits leave, or None."""
        budget = self.budget
        cap: int | None = None
        if budget.max_tokens is not None:
            cap = budget.max_tokens - self.used.tokens - self.reserved.tokens - input_bound
        if budget.max_cost_usd is not None:
            left = budget.max_cost_usd - self.used.cost - self.reserved.cost
            money_cap = _affordable_output(model, input_bound, left)
            if money_cap is not None:
                cap = money_cap if cap is None else min(cap, money_cap)
        return cap

    def _exceeded_for_output(
        self, trackers: list[BudgetTracker], model: str, input_bound: int, floor: int, path: str
    ) -> BudgetExceeded:
        for tracker in trackers:
            budget = tracker.budget
            if budget.max_tokens is not None:
                left = budget.max_tokens - tracker.used.tokens - tracker.reserved.tokens
                if left < input_bound + floor:
                    return BudgetExceeded(
                        "max_tokens",
                        f"{tracker._where()}the model call at {path!r} could use up to "
                        f"{input_bound + floor} tokens ({input_bound} input at most + {floor} answer) "
                        f"but {left} of {budget.max_tokens} are left; it was not sent",
                    )
            if budget.max_cost_usd is not None:
                left_usd = budget.max_cost_usd - tracker.used.cost - tracker.reserved.cost
                need = max_cost_of(model, input_bound, floor)
                if need > left_usd:
                    return BudgetExceeded(
                        "max_cost_usd",
                        f"{tracker._where()}the model call at {path!r} to {model} could cost up to "
                        f"${need:.6f} but ${left_usd:.6f} of ${budget.max_cost_usd} are left; "
                        "it was not sent",
                    )
        return BudgetExceeded("max_tokens", f"the model call at {path!r} does not fit the budget")

    def _where(self) -> str:
        return "" if self.scope == "run" else f"{self.scope}: "

    # -- after a request -------------------------------------------------------------------------

    def _settle(self, reservation: Reservation, usage: Usage, cost: Decimal) -> None:
        with self._lock:
            self._unreserve(reservation)
            self.used.tokens += usage.input_tokens + usage.output_tokens
            self.used.cost += cost
            self.used.calls += 1
        self._alert(reservation.path)

    def _release(self, reservation: Reservation, sent: bool) -> None:
        with self._lock:
            self._unreserve(reservation)
            if sent:
                self.used.calls += 1
        if sent:
            self._alert(reservation.path)

    def _unreserve(self, reservation: Reservation) -> None:
        if not reservation.held:
            return
        self.reserved.tokens -= reservation.tokens
        self.reserved.cost -= reservation.cost
        self.reserved.calls -= 1

    def _alert(self, path: str) -> None:
        budget = self.budget
        if not budget.alert_at:
            return
        for limit, used, maximum in (
            ("max_tokens", self.used.tokens, budget.max_tokens),
            ("max_cost_usd", self.used.cost, budget.max_cost_usd),
            ("max_model_calls", self.used.calls, budget.max_model_calls),
            ("max_seconds", self.elapsed, budget.max_seconds),
        ):
            if maximum is None:
                continue
            for threshold in budget.alert_at:
                key = (limit, threshold)
                if key in self._fired or float(used) < float(maximum) * threshold:
                    continue
                self._fired.add(key)
                self._fire(limit, threshold, float(used), float(maximum), path)

    def _fire(self, limit: str, threshold: float, used: float, maximum: float, path: str) -> None:
        warning = BudgetWarning(
            run_id=self.run_id,
            path=path,
            at=time.time(),
            limit=limit,
            threshold=threshold,
            used=used,
            maximum=maximum,
            scope=self.scope,
        )
        log.warning(
            "budget alert: %s%s at %.0f%% (%s of %s) in run %s",
            self._where(),
            limit,
            threshold * 100,
            used,
            maximum,
            self.run_id,
            extra={"run_id": self.run_id, "step_path": path, "budget_limit": limit},
        )
        self.emit(warning)
        if self.budget.alert_webhook:
            from cadenza.observability.alerts import post_alert

            post_alert(self.budget.alert_webhook, warning)


def _with_max_tokens(request: ModelRequest, max_tokens: int) -> ModelRequest:
    """A shallow copy of ``request`` with another ``max_tokens`` (the caller's stays as it was).

    Copies the slots directly: ``dataclasses.replace`` re-runs ``__init__`` and costs several
    times more, on every budgeted model call.
    """
    slots = getattr(type(request), "__slots__", None)
    if not slots:
        return dataclasses.replace(request, max_tokens=max_tokens)
    copy = object.__new__(type(request))
    for name in slots:
        object.__setattr__(copy, name, getattr(request, name))
    copy.max_tokens = max_tokens
    return copy


def _affordable_output(model: str, input_bound: int, left: Decimal) -> int | None:
    """The most answer tokens ``left`` dollars pay for after ``input_bound`` input tokens.

    ``None`` when output is free (unpriced models). Prices are linear in output tokens within a
    tier; the answer is checked with the full price and shrunk if a tier boundary broke that.
    """
    base = max_cost_of(model, input_bound, 0)
    if base > left:
        return -1
    per_million = max_cost_of(model, input_bound, _MILLION) - base
    if per_million <= 0:
        return None
    tokens = int((left - base) * _MILLION / per_million)
    while tokens > 0 and max_cost_of(model, input_bound, tokens) > left:
        tokens = tokens * 9 // 10
    return tokens


def start_budget(run: RunState) -> BudgetTracker | None:
    """Turn the ``Budget`` a run was started with into its tracker (idempotent)."""
    budget = run.budget
    if budget is None or isinstance(budget, BudgetTracker):
        return budget
    if not isinstance(budget, Budget):
        raise ConfigurationError(f"budget must be a cadenza.Budget, got {type(budget).__name__}")
    if budget.period is not None:
        raise ConfigurationError(
            f"budget period={budget.period!r} limits spending across runs, which needs the cost "
            "ledger of a store: run durably (flow.run(task, store=...); cadenza run without --no-store)"
        )
    # A resumed durable run's replayed calls are charged as they replay (durable/journal.py
    # settles a zero reservation for each), so the tracker starts empty here.
    tracker = BudgetTracker(budget, run_id=run.run_id, emit=run.emit)
    run.budget = tracker
    return tracker


def agent_budget(run: RunState, parent: BudgetTracker | None, name: str, budget: Budget) -> BudgetTracker:
    """The tracker of an agent's own ``budget`` in ``run``, chained to the run's budget if any."""
    if budget.period is not None:
        raise ConfigurationError(
            f"agent {name!r}: a period budget (period={budget.period!r}) applies to whole runs; "
            "give it to the run or the workflow file's top-level budget"
        )
    if parent is None:
        parent = run.budget if isinstance(run.budget, BudgetTracker) else None
    if parent is None:
        parent = BudgetTracker(Budget(alert_at=()), run_id=run.run_id, emit=run.emit)
        run.budget = parent
    return parent.scoped(name, budget)


@contextlib.asynccontextmanager
async def run_deadline(tracker: BudgetTracker | None) -> AsyncIterator[None]:
    """Stop the run with ``BudgetExceeded("max_seconds")`` when its wall-time limit passes."""
    remaining = None if tracker is None else tracker.remaining_seconds
    if remaining is None:
        yield
        return
    deadline = asyncio.timeout(max(remaining, 0.0))
    try:
        async with deadline:
            yield
    except TimeoutError:
        if not deadline.expired():
            raise
        raise BudgetExceeded(
            "max_seconds",
            f"the run took longer than its budget of {tracker.budget.max_seconds} s",  # type: ignore[union-attr]
        ) from None


__all__ = [
    "Budget",
    "BudgetTracker",
    "Reservation",
    "agent_budget",
    "input_token_bound",
    "max_cost_of",
    "run_deadline",
    "start_budget",
]
