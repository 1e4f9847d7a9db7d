"""The names an expression may use: math, statistics and finance functions, and constants."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from cadenza.tools.calc import finance, stats

Number = int | float


def _log(x: Number, base: Number = 10) -> float:
    if x <= 0:
        raise ValueError(f"logarithm of a non-positive number ({x})")
    if base <= 0 or base == 1:
        raise ValueError(f"logarithm base must be positive and not 1, got {base}")
    return math.log(x, base)


def _ln(x: Number) -> float:
    if x <= 0:
        raise ValueError(f"logarithm of a non-positive number ({x})")
    return math.log(x)


def _sqrt(x: Number) -> float:
    if x < 0:
        raise ValueError(f"square root of a negative number ({x})")
    return math.sqrt(x)


def _round(x: Number, digits: Number = 0) -> Number:
    if isinstance(digits, float) and digits.is_integer():
        digits = int(digits)
    if not isinstance(digits, int):
        raise ValueError("the number of digits must be a whole number")
    return round(x, digits) if digits else round(x)


def _extreme(pick: Callable[[list[float]], float]) -> Callable[..., float]:
    def apply(*args: Any) -> float:
        values = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        return pick(stats.numbers(values))

    return apply


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # arithmetic and math
    "abs": abs,
    "sqrt": _sqrt,
    "cbrt": lambda x: math.copysign(abs(x) ** (1 / 3), x),
    "exp": math.exp,
    "ln": _ln,
    "log": _log,
    "log10": lambda x: _log(x, 10),
    "log2": lambda x: _log(x, 2),
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "degrees": math.degrees,
    "radians": math.radians,
    "hypot": math.hypot,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
    "round": _round,
    "gcd": math.gcd,
    "lcm": math.lcm,
    "min": _extreme(min),
    "max": _extreme(max),
    "sum": stats.total,
    "count": stats.count,
    # statistics
    "mean": stats.mean,
    "average": stats.mean,
    "median": stats.median,
    "mode": stats.mode,
    "stdev": stats.stdev,
    "pstdev": stats.pstdev,
    "variance": stats.variance,
    "pvariance": stats.pvariance,
    "percentile": stats.percentile,
    "quartiles": stats.quartiles,
    "covariance": stats.covariance,
    "correlation": stats.correlation,
    "regression": stats.regression,
    # finance
    "npv": finance.npv,
    "irr": finance.irr,
    "pmt": finance.pmt,
    "pv": finance.pv,
    "fv": finance.fv,
    "cagr": finance.cagr,
    "amortization": finance.amortization,
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
