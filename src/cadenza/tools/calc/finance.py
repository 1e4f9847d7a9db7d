"""Financial functions: present/future value, payments, NPV, IRR, amortization, CAGR.

Sign convention as in spreadsheets and numpy-financial: money you pay out is negative, money
you receive is positive, so ``pmt(0.05/12, 360, 200000)`` is about ``-1073.64``. Rates are per
period (divide an annual rate by 12 for monthly payments). ``when`` is 0 for payments at the end
of each period, 1 for the beginning. Cash flows for ``npv`` and ``irr`` start at time 0.
Every function raises ``ValueError`` naming what is wrong with its input.
"""

from __future__ import annotations

import math
from typing import Any

from cadenza.tools.calc.stats import numbers

Number = int | float


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _rate(value: Any) -> float:
    rate = _number(value, "the rate")
    if rate <= -1:
        raise ValueError(f"the rate must be above -1 (-100%), got {rate}")
    return rate


def _periods(value: Any) -> float:
    nper = _number(value, "the number of periods")
    if nper <= 0:
        raise ValueError(f"the number of periods must be positive, got {nper}")
    return nper


def _when(value: Any) -> int:
    if value not in (0, 1):
        raise ValueError(f"when must be 0 (end of period) or 1 (beginning), got {value!r}")
    return int(value)


def fv(rate: Number, nper: Number, pmt: Number, pv: Number = 0, when: int = 0) -> float:
    """Future value of a series of payments ``pmt`` and a present amount ``pv``."""
    r, n, p, v, w = _rate(rate), _periods(nper), _number(pmt, "pmt"), _number(pv, "pv"), _when(when)
    if r == 0:
        return -(v + p * n)
    growth: float = (1 + r) ** n
    return -(v * growth + p * (1 + r * w) * (growth - 1) / r)


def pv(rate: Number, nper: Number, pmt: Number, fv: Number = 0, when: int = 0) -> float:
    """Present value of a series of payments ``pmt`` and a future amount ``fv``."""
    r, n, p, f, w = _rate(rate), _periods(nper), _number(pmt, "pmt"), _number(fv, "fv"), _when(when)
    if r == 0:
        return -(f + p * n)
    growth: float = (1 + r) ** n
    return -(f + p * (1 + r * w) * (growth - 1) / r) / growth


def pmt(rate: Number, nper: Number, pv: Number, fv: Number = 0, when: int = 0) -> float:
    """The payment per period that pays off ``pv`` (down to ``fv``) in ``nper`` periods."""
    r, n, v, f, w = _rate(rate), _periods(nper), _number(pv, "pv"), _number(fv, "fv"), _when(when)
    if r == 0:
        return -(v + f) / n
    growth: float = (1 + r) ** n
    return -(f + v * growth) * r / ((1 + r * w) * (growth - 1))


def npv(rate: Number, cashflows: Any) -> float:
    """Net present value of ``cashflows``, the first at time 0 (not discounted)."""
    r = _rate(rate)
    flows = numbers(cashflows, "cashflows")
    return math.fsum(flow / (1 + r) ** t for t, flow in enumerate(flows))


def irr(cashflows: Any) -> float:
    """The rate at which the NPV of ``cashflows`` is zero (the one nearest 0 when several exist).

    Brackets a sign change of the NPV on a grid of rates, then bisects to full precision.
    """
    flows = numbers(cashflows, "cashflows", minimum=2)
    if not (any(f > 0 for f in flows) and any(f < 0 for f in flows)):
        raise ValueError("irr needs at least one positive and one negative cash flow")
    grid = _IRR_GRID
    values = [npv(r, flows) for r in grid]
    brackets = [
        (grid[i], grid[i + 1])
        for i in range(len(grid) - 1)
        if values[i] == 0 or values[i] * values[i + 1] < 0
    ]
    if not brackets:
        raise ValueError("no internal rate of return between -99.999999% and 1,000,000,000%")
    low, high = min(brackets, key=lambda b: min(abs(b[0]), abs(b[1])))
    npv_low = npv(low, flows)
    if npv_low == 0:
        return low
    for _ in range(200):
        middle = (low + high) / 2
        value = npv(middle, flows)
        if value == 0 or high - low < 1e-15:
            return middle
        if (value < 0) == (npv_low < 0):
            low, npv_low = middle, value
        else:
            high = middle
    return (low + high) / 2


_IRR_GRID = (
    -0.99999999,
    -0.9999,
    -0.99,
    -0.9,
    -0.5,
    -0.25,
    -0.1,
    0.0,
    0.05,
    0.1,
    0.2,
    0.35,
    0.5,
    0.75,
    1.0,
    2.0,
    5.0,
    10.0,
    100.0,
    1e3,
    1e4,
    1e5,
    1e7,
)


def cagr(begin: Number, end: Number, years: Number) -> float:
    """Compound annual growth rate from ``begin`` to ``end`` over ``years``."""
    start, finish, n = _number(begin, "begin"), _number(end, "end"), _periods(years)
    if start <= 0 or finish < 0:
        raise ValueError("cagr needs a positive starting value and a non-negative end value")
    return float((finish / start) ** (1 / n) - 1)


def amortization(rate: Number, nper: Number, pv: Number) -> list[dict[str, float]]:
    """A repayment schedule: per period the payment, its interest and principal parts, the balance.

    Payments are positive amounts here (a schedule is read by people); the final balance is 0.
    """
    periods = _periods(nper)
    if not float(periods).is_integer() or periods > 1200:
        raise ValueError(f"amortization needs a whole number of periods up to 1200, got {nper}")
    r = _rate(rate)
    balance = _number(pv, "pv")
    payment = -pmt(r, periods, balance)
    rows: list[dict[str, float]] = []
    for period in range(1, int(periods) + 1):
        interest = balance * r
        principal = payment - interest
        if period == int(periods):
            principal = balance
            payment_now = principal + interest
        else:
            payment_now = payment
        balance -= principal
        rows.append(
            {
                "period": period,
                "payment": round(payment_now, 2),
                "interest": round(interest, 2),
                "principal": round(principal, 2),
                "balance": round(abs(balance) if abs(balance) < 1e-6 else balance, 2),
            }
        )
    return rows
