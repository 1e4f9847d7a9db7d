"""Descriptive statistics and simple regression over lists of numbers.

Built on the standard library's ``statistics`` module (well kept, exact where it can be);
this module adds percentiles, input checks with clear messages, and a regression summary.
Every function raises ``ValueError`` naming what is wrong with its input.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

Number = int | float


def numbers(data: Any, what: str = "data", minimum: int = 1) -> list[float]:
    """Check that ``data`` is a list of at least ``minimum`` finite numbers."""
    if isinstance(data, int | float) and not isinstance(data, bool):
        data = [data]
    if not isinstance(data, list | tuple):
        raise ValueError(f"{what} must be a list of numbers")
    values: list[float] = []
    for item in data:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            shown = repr(item) if isinstance(item, str) else str(item)
            raise ValueError(f"{what} must contain only finite numbers, found {shown}")
        values.append(item)
    if len(values) < minimum:
        raise ValueError(f"{what} needs at least {minimum} value(s), got {len(values)}")
    return values


def _flatten(args: tuple[Any, ...]) -> list[float]:
    """``mean([1, 2, 3])`` and ``mean(1, 2, 3)`` mean the same thing."""
    if len(args) == 1 and isinstance(args[0], list | tuple):
        return numbers(args[0])
    return numbers(list(args))


def mean(*data: Any) -> float:
    """Arithmetic mean."""
    return statistics.fmean(_flatten(data))


def median(*data: Any) -> float:
    """Middle value (mean of the two middle values for an even count)."""
    return float(statistics.median(_flatten(data)))


def mode(*data: Any) -> float:
    """Most common value (the first one seen on a tie)."""
    return float(statistics.mode(_flatten(data)))


def stdev(*data: Any) -> float:
    """Sample standard deviation (n - 1 in the denominator)."""
    return statistics.stdev(numbers(_flatten(data), minimum=2))


def pstdev(*data: Any) -> float:
    """Population standard deviation."""
    return statistics.pstdev(_flatten(data))


def variance(*data: Any) -> float:
    """Sample variance."""
    return statistics.variance(numbers(_flatten(data), minimum=2))


def pvariance(*data: Any) -> float:
    """Population variance."""
    return statistics.pvariance(_flatten(data))


def percentile(data: Any, p: Number) -> float:
    """The ``p``-th percentile (0..100) with linear interpolation between closest ranks.

    The same definition as numpy's default and spreadsheets' PERCENTILE.INC.
    """
    values = sorted(numbers(data))
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100:
        raise ValueError(f"the percentile must be between 0 and 100, got {p!r}")
    rank = (len(values) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(values) - 1)
    fraction = rank - low
    return values[low] + (values[high] - values[low]) * fraction


def quartiles(data: Any) -> list[float]:
    """The 25th, 50th and 75th percentiles."""
    return [percentile(data, 25), percentile(data, 50), percentile(data, 75)]


def _pair(x: Any, y: Any) -> tuple[list[float], list[float]]:
    xs = numbers(x, "x", minimum=2)
    ys = numbers(y, "y", minimum=2)
    if len(xs) != len(ys):
        raise ValueError(f"x and y must have the same length, got {len(xs)} and {len(ys)}")
    return xs, ys


def covariance(x: Any, y: Any) -> float:
    """Sample covariance of two equally long lists."""
    xs, ys = _pair(x, y)
    return statistics.covariance(xs, ys)


def correlation(x: Any, y: Any) -> float:
    """Pearson's correlation coefficient (-1..1)."""
    xs, ys = _pair(x, y)
    if len(set(xs)) == 1 or len(set(ys)) == 1:
        raise ValueError("correlation is undefined when x or y is constant")
    return statistics.correlation(xs, ys)


def regression(x: Any, y: Any) -> dict[str, float]:
    """Least-squares line ``y = slope * x + intercept`` with its coefficient of determination."""
    xs, ys = _pair(x, y)
    if len(set(xs)) == 1:
        raise ValueError("regression needs at least two distinct x values")
    fit = statistics.linear_regression(xs, ys)
    mean_y = statistics.fmean(ys)
    total = sum((v - mean_y) ** 2 for v in ys)
    residual = sum((v - (fit.slope * u + fit.intercept)) ** 2 for u, v in zip(xs, ys, strict=True))
    r_squared = 1.0 if total == 0 else 1 - residual / total
    return {"slope": fit.slope, "intercept": fit.intercept, "r_squared": r_squared}


def total(*data: Any) -> float:
    """Sum of the values."""
    return math.fsum(_flatten(data))


def count(*data: Any) -> int:
    """How many values."""
    return len(_flatten(data))


def describe(data: Sequence[Number]) -> dict[str, float]:
    """A summary: count, mean, median, stdev (0 for one value), min, max, quartiles."""
    values = numbers(list(data))
    q1, q2, q3 = quartiles(values)
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "median": q2,
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "q1": q1,
        "q3": q3,
    }
