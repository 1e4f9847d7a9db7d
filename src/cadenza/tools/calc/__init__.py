"""The calculation engine behind the ``calculate`` tool: a safe expression evaluator (no ``eval``),
statistics and financial functions, usable directly from Python as well.
"""

from __future__ import annotations

from typing import Any

from cadenza.tools.calc.finance import amortization, cagr, fv, irr, npv, pmt, pv
from cadenza.tools.calc.functions import CONSTANTS, FUNCTIONS
from cadenza.tools.calc.parser import Evaluator
from cadenza.tools.calc.stats import (
    correlation,
    covariance,
    describe,
    mean,
    median,
    percentile,
    regression,
    stdev,
    variance,
)


def evaluate(expression: str, variables: dict[str, Any] | None = None) -> Any:
    """Evaluate ``expression``; ``variables`` adds names (numbers or lists) it may use.

    Raises ``CalculationError`` naming the problem and its position.
    """
    constants = {**CONSTANTS, **variables} if variables else CONSTANTS
    return Evaluator(expression, FUNCTIONS, constants).evaluate()


__all__ = [
    "amortization",
    "cagr",
    "correlation",
    "covariance",
    "describe",
    "evaluate",
    "fv",
    "irr",
    "mean",
    "median",
    "npv",
    "percentile",
    "pmt",
    "pv",
    "regression",
    "stdev",
    "variance",
]
