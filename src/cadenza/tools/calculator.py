"""The ``calculate`` tool: arithmetic, statistics and finance in one safe expression language.

The module is not named ``calculate``: a submodule of that name would shadow the tool on
``cadenza.tools`` once imported."""

from __future__ import annotations

import math
from typing import Any

from cadenza.errors import CalculationError
from cadenza.tools.base import tool
from cadenza.tools.calc import evaluate
from cadenza.tools.calc.units import Quantity


@tool(name="calculate")
def calculate(expression: str) -> Any:
    """Evaluate a math, statistics or finance expression exactly, without guessing.

    Operators: + - * / // % ^ (power) ! (factorial); 5% means 0.05. Lists: [1, 2, 3].
    Math: sqrt, ln, log(x, base=10), exp, sin, cos, tan, abs, round(x, digits), floor, ceil,
    min, max, sum. Statistics: mean, median, mode, stdev, variance, percentile(data, p),
    quartiles, correlation(x, y), covariance(x, y), regression(x, y). Finance (rates per
    period, money paid out is negative): npv(rate, cashflows), irr(cashflows),
    pmt(rate, nper, pv), pv(rate, nper, pmt), fv(rate, nper, pmt, pv), cagr(begin, end, years),
    amortization(rate, nper, principal). Constants: pi, e.
    Units: 5 km + 300 m, 60 km/h * 30 min, 3 kWh / 2 h to kW, 100 USD + 20 USD; mixing
    dimensions (m + s, USD + EUR) is an error. Convert with "to": 90 min to h.

    Args:
        expression: the expression, e.g. "pmt(5%/12, 360, 200000)" or "mean([3, 5, 8])".
    """
    if not isinstance(expression, str):
        raise CalculationError(str(expression), "the expression must be text")
    return tidy(evaluate(expression))


def tidy(value: Any) -> Any:
    """Round floats to 12 significant digits so 0.1 + 0.2 reads 0.3; whole floats stay floats."""
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else value
    if isinstance(value, Quantity):
        return str(value)
    if isinstance(value, list):
        return [tidy(v) for v in value]
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    return value
