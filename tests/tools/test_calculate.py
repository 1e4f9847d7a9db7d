"""The calculation engine: parser properties against Python's own arithmetic, statistics and
finance against reference results, and the tool inside a run."""

from __future__ import annotations

import math
import operator
import statistics
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cadenza import Agent
from cadenza.errors import CalculationError, ToolError
from cadenza.tools.calc import amortization, cagr, evaluate, fv, irr, npv, percentile, pmt, pv, regression
from cadenza.tools.calculator import calculate
from cadenza.types.events import ToolCalled

# --- expression trees: rendered with minimal parentheses, checked against Python's operators ---

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2, "neg": 3, "^": 4}

leaf_int = st.integers(min_value=0, max_value=100).map(lambda v: ("num", v))
leaf_float = st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda v: ("num", v))
small_exponent = st.one_of(
    st.integers(min_value=0, max_value=4).map(lambda v: ("num", v)),
    st.integers(min_value=1, max_value=3).map(lambda v: ("neg", ("num", v))),
)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    binary = st.tuples(st.sampled_from(["+", "-", "*", "/", "//", "%"]), children, children)
    power = st.tuples(st.just("^"), children, small_exponent)
    negate = st.tuples(st.just("neg"), children)
    return st.one_of(binary, power, negate)


trees = st.recursive(st.one_of(leaf_int, leaf_float), _extend, max_leaves=8)


def prec(node: Any) -> int:
    return 5 if node[0] == "num" else _PREC[node[0]]


def ours(node: Any) -> str:
    kind = node[0]
    if kind == "num":
        return repr(node[1])
    if kind == "neg":
        inner = ours(node[1])
        return f"-({inner})" if prec(node[1]) < _PREC["neg"] else f"-{inner}"
    op, left, right = node
    p = _PREC[op]
    if op == "^":  # right associative; a negated base needs parentheses: (-2)^2
        left_text = f"({ours(left)})" if prec(left) <= p else ours(left)
        right_text = f"({ours(right)})" if prec(right) < _PREC["neg"] else ours(right)
    else:
        left_text = f"({ours(left)})" if prec(left) < p else ours(left)
        right_text = f"({ours(right)})" if prec(right) <= p else ours(right)
    return f"{left_text} {op} {right_text}"


_OPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "^": operator.pow,
}


class _NotFinite(Exception):
    pass


def reference(node: Any) -> Any:
    """Python's own arithmetic on the tree, node by node; an infinite intermediate is an error
    (the engine refuses it where it happens, rather than letting ``0 / inf`` hide it)."""
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "neg":
        return -reference(node[1])
    op, left, right = node
    value = _OPS[op](reference(left), reference(right))
    if isinstance(value, float) and not math.isfinite(value):
        raise _NotFinite
    return value


@settings(max_examples=400, deadline=None)
@given(trees)
def test_expressions_agree_with_python_arithmetic(tree: Any) -> None:
    text = ours(tree)
    try:
        expected = reference(tree)
    except (ZeroDivisionError, OverflowError, _NotFinite):
        with pytest.raises(CalculationError):
            evaluate(text)
        return
    assume(not isinstance(expected, complex))
    result = evaluate(text)
    assert result == expected, text
    assert type(result) is type(expected), text


@given(st.text(max_size=40))
def test_any_text_either_evaluates_or_raises_calculation_error(text: str) -> None:
    try:
        evaluate(text)
    except CalculationError as exc:
        assert exc.expression == text or len(text) > 10_000
        assert exc.position is None or 0 <= exc.position <= len(text)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("-2^2", -4),
        ("2^3^2", 512),
        ("2 ** -1", 0.5),
        ("5% * 200", 10.0),
        ("7 % 3", 1),
        ("10 // 4", 2),
        ("4!", 24),
        ("0.1 + 0.2", 0.3),
        ("sqrt(16) + abs(-3)", 7.0),
        ("log(1000)", 3.0),
        ("log(8, 2)", 3.0),
        ("ln(e)", 1.0),
        ("round(pi, 2)", 3.14),
        ("max([3, 9, 4])", 9),
        ("min(3, 9, 4)", 3),
        ("1_000 * 1e3", 1_000_000.0),
        ("mean([2, 4, 9])", 5.0),
        ("median(5, 1, 3, 2)", 2.5),
    ],
)
def test_known_values(expression: str, expected: Any) -> None:
    assert calculate(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "message", "position"),
    [
        ("1 +", "expected a number", 3),
        ("2 $ 3", "unexpected character '$'", 2),
        ("1 / 0", "division by zero", 2),
        ("(1 + 2", "expected ')'", 6),
        ("foo(1)", "unknown function 'foo'", 0),
        ("x + 1", "unknown name 'x'", 0),
        ("sqrt(-4)", "square root of a negative number", 0),
        ("2 ^ 100000", "result too large", 2),
        ("9 ^ 9 ^ 9", "result too large", 2),
        ("1e308 * 10", "not a finite number", 6),
        ("[1, 2] + 1", "needs a number, not a list", 7),
        ("pmt(0.1)", "missing 2 required positional arguments", 0),
        ("irr([100, 50])", "at least one positive and one negative", 0),
        ("", "empty", None),
        ("(" * 150 + "1" + ")" * 150, "nested more than 100 levels", 100),
        ("2000!", "factorial argument above 1000", 4),
    ],
)
def test_invalid_expressions_name_the_problem_and_where(
    expression: str, message: str, position: int | None
) -> None:
    with pytest.raises(CalculationError) as caught:
        calculate(expression)
    assert message in str(caught.value)
    assert caught.value.position == position
    assert isinstance(caught.value, ToolError)


def test_variables_can_be_supplied_from_python() -> None:
    assert evaluate("price * (1 + vat)", {"price": 100, "vat": 0.2}) == pytest.approx(120)


# --- statistics against reference formulas ---

samples = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=2, max_size=50)


@given(samples)
def test_statistics_match_reference_formulas(data: list[float]) -> None:
    n = len(data)
    m = math.fsum(data) / n
    assert evaluate("mean(d)", {"d": data}) == pytest.approx(m, rel=1e-9, abs=1e-6)
    ordered = sorted(data)
    middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    assert evaluate("median(d)", {"d": data}) == pytest.approx(middle)
    var = math.fsum((x - m) ** 2 for x in data) / (n - 1)
    assert evaluate("variance(d)", {"d": data}) == pytest.approx(var, rel=1e-6, abs=1e-6)
    assert evaluate("stdev(d)", {"d": data}) == pytest.approx(math.sqrt(var), rel=1e-6, abs=1e-6)


@given(samples, st.floats(min_value=0, max_value=100))
def test_percentiles_are_bounded_monotonic_and_hit_the_ends(data: list[float], p: float) -> None:
    assert percentile(data, 0) == min(data)
    assert percentile(data, 100) == max(data)
    assert percentile(data, 50) == pytest.approx(statistics.median(data))
    value = percentile(data, p)
    assert min(data) <= value <= max(data)
    assert percentile(data, min(p + 10, 100)) >= value - 1e-9


def test_percentile_matches_spreadsheet_percentile_inc() -> None:
    # PERCENTILE.INC({1,2,3,4}, 0.4) = 2.2 and numpy.percentile([1,2,3,4], 40) = 2.2
    assert percentile([1, 2, 3, 4], 40) == pytest.approx(2.2)
    assert percentile([15, 20, 35, 40, 50], 30) == pytest.approx(20.0 + 0.2 * 15)


@given(
    st.lists(st.floats(min_value=-100, max_value=100, allow_nan=False), min_size=3, max_size=20, unique=True),
    st.floats(min_value=-5, max_value=5, allow_nan=False),
    st.floats(min_value=-50, max_value=50, allow_nan=False),
)
def test_regression_recovers_an_exact_line(xs: list[float], slope: float, intercept: float) -> None:
    assume(max(xs) - min(xs) > 1e-3)
    fit = regression(xs, [slope * x + intercept for x in xs])
    assert fit["slope"] == pytest.approx(slope, abs=1e-6)
    assert fit["intercept"] == pytest.approx(intercept, abs=1e-5)
    if abs(slope) > 1e-3:
        assert fit["r_squared"] == pytest.approx(1.0, abs=1e-9)


def test_correlation_of_opposite_series_is_minus_one() -> None:
    assert evaluate("correlation([1, 2, 3], [6, 4, 2])") == pytest.approx(-1.0)
    with pytest.raises(CalculationError, match="same length"):
        evaluate("correlation([1, 2, 3], [1, 2])")


# --- finance against documented reference values and identities ---


def test_finance_matches_numpy_financial_documented_examples() -> None:
    assert pmt(0.075 / 12, 12 * 15, 200000) == pytest.approx(-1854.0247200054619)
    assert fv(0.05 / 12, 10 * 12, -100, -100) == pytest.approx(15692.928894335748)
    assert pv(0.05 / 12, 10 * 12, -100, 15692.93) == pytest.approx(-100.00067131625819)
    assert irr([-100, 39, 59, 55, 20]) == pytest.approx(0.28094842115996066)
    assert npv(0.281, [-100, 39, 59, 55, 20]) == pytest.approx(-0.0084785916384548798)
    assert cagr(100, 200, 5) == pytest.approx(2 ** (1 / 5) - 1)


rates = st.floats(min_value=0.0001, max_value=0.2)
periods = st.integers(min_value=1, max_value=480)
amounts = st.floats(min_value=100, max_value=1e7)


@given(rates, periods, amounts)
def test_payment_pays_off_the_loan(rate: float, nper: int, principal: float) -> None:
    payment = pmt(rate, nper, principal)
    scale = principal * (1 + rate) ** nper  # the size of the terms that cancel out
    assert fv(rate, nper, payment, principal) == pytest.approx(0, abs=1e-9 * scale)
    assert pv(rate, nper, payment) == pytest.approx(principal, rel=1e-9)


@given(st.floats(min_value=0.001, max_value=0.02), st.integers(min_value=1, max_value=360), amounts)
def test_amortization_schedule_repays_the_principal(rate: float, nper: int, principal: float) -> None:
    rows = amortization(rate, nper, principal)
    assert len(rows) == nper
    assert rows[-1]["balance"] == 0
    assert math.fsum(r["principal"] for r in rows) == pytest.approx(principal, abs=0.01 * nper)


@given(
    st.floats(min_value=-1e6, max_value=-1),
    st.lists(st.floats(min_value=1, max_value=1e6), min_size=1, max_size=15),
)
def test_irr_zeroes_the_npv(investment: float, returns: list[float]) -> None:
    flows = [investment, *returns]
    rate = irr(flows)
    assert npv(rate, flows) == pytest.approx(0, abs=1e-6 * max(abs(f) for f in flows))


@given(st.floats(min_value=1, max_value=1e6), st.floats(min_value=1, max_value=1e6), st.integers(1, 50))
def test_cagr_compounds_back_to_the_end_value(begin: float, end: float, years: int) -> None:
    assert begin * (1 + cagr(begin, end, years)) ** years == pytest.approx(end, rel=1e-9)


# --- the tool in a run ---


async def test_calculate_in_a_run_returns_the_result_to_the_model() -> None:
    agent = Agent("analyst", tools=[calculate])
    result = await agent.run("Calculate 12 * (3 + 4) for the budget")
    calls = [e for e in result.events if isinstance(e, ToolCalled)]
    assert [(c.tool, c.output, c.error) for c in calls] == [("calculate", "84", None)]
    assert "Tool calculate: 84" in result.output


async def test_invalid_expression_in_a_run_goes_back_as_a_tool_error() -> None:
    agent = Agent("analyst", tools=[calculate])
    result = await agent.run("Calculate 12 / 0 for the budget")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert call.output is None
    assert call.error is not None and "division by zero at position 3" in call.error


# --- units ---


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("5 km + 300 m", "5.3 km"),
        ("300 m + 5 km", "5300 m"),
        ("60 km/h * 30 min", "30 km"),
        ("3 kWh / 2 h to kW", "1.5 kW"),
        ("240 MW * 24 h to GWh", "5.76 GWh"),
        ("100 USD + 20 USD", "120 USD"),
        ("20 USD * 3", "60 USD"),
        ("90 min to h", "1.5 h"),
        ("2 m * 3 m", "6 m^2"),
        ("(2 m)^2", "4 m^2"),
        ("9.81 kg*m/s^2 * 2 s", "19.62 kg*m/s"),
        ("1 GB / 10 MB/s", "100 s"),
        ("-5 kg", "-5 kg"),
        ("10 km / 2 km", 5.0),
        ("1 km / 500 m", 2.0),
    ],
)
def test_units(expression: str, expected: object) -> None:
    assert calculate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("3 m + 2 s", "cannot add m and s"),
        ("5 m - 1", "cannot subtract a plain number from m"),
        ("100 USD + 20 EUR", "cannot add USD and EUR"),
        ("5 km to s", "cannot convert km to s: different dimensions"),
        ("5 to m", "cannot convert a plain number to a unit"),
        ("3 m to", "'to' needs a unit"),
        ("(2 m)^0.5", "only be raised to a whole power"),
        ("mean([1 m, 2 m])", "found 1 m"),
    ],
)
def test_mixing_units_is_an_error(expression: str, message: str) -> None:
    with pytest.raises(CalculationError, match=message):
        calculate(expression)


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from(["m", "km", "mi", "ft", "cm"]),
    st.sampled_from(["m", "km", "mi", "ft", "cm"]),
)
def test_converting_there_and_back_is_the_identity(value: float, a: str, b: str) -> None:
    back = evaluate(f"({value!r} {a} to {b}) to {a}")
    assert back.value == pytest.approx(value, rel=1e-12, abs=1e-9)
