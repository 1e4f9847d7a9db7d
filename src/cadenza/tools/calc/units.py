"""Units for the calculator: quantities that cannot be added to the wrong thing.

``5 km + 300 m`` is ``5.3 km``; ``60 km/h * 30 min`` is ``30 km``; ``3 m + 2 s`` and
``100 USD + 20 EUR`` are errors (there are no exchange rates here: each currency is its own
dimension). ``expr to unit`` converts. A unit is a product of symbols with integer exponents
(``kg*m/s^2``); each symbol has a factor to SI and a dimension. Temperatures (affine scales) are
left out on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

Dims = tuple[tuple[str, int], ...]


def _d(**exponents: int) -> Dims:
    return tuple(sorted((k, v) for k, v in exponents.items() if v))


_LENGTH, _MASS, _TIME = _d(L=1), _d(M=1), _d(T=1)
_ENERGY, _POWER = _d(M=1, L=2, T=-2), _d(M=1, L=2, T=-3)

SYMBOLS: dict[str, tuple[float, Dims]] = {
    # length
    "m": (1.0, _LENGTH), "km": (1e3, _LENGTH), "cm": (1e-2, _LENGTH), "mm": (1e-3, _LENGTH),
    "um": (1e-6, _LENGTH), "nm": (1e-9, _LENGTH), "mi": (1609.344, _LENGTH), "yd": (0.9144, _LENGTH),
    "ft": (0.3048, _LENGTH), "inch": (0.0254, _LENGTH), "nmi": (1852.0, _LENGTH),
    # mass
    "kg": (1.0, _MASS), "g": (1e-3, _MASS), "mg": (1e-6, _MASS), "t": (1e3, _MASS),
    "lb": (0.45359237, _MASS), "oz": (0.028349523125, _MASS),
    # time
    "s": (1.0, _TIME), "ms": (1e-3, _TIME), "min": (60.0, _TIME), "h": (3600.0, _TIME),
    "day": (86400.0, _TIME), "week": (604800.0, _TIME), "year": (31557600.0, _TIME),
    # area and volume
    "ha": (1e4, _d(L=2)), "acre": (4046.8564224, _d(L=2)),
    "L": (1e-3, _d(L=3)), "l": (1e-3, _d(L=3)), "mL": (1e-6, _d(L=3)), "ml": (1e-6, _d(L=3)),
    "gal": (3.785411784e-3, _d(L=3)),
    # energy and power
    "J": (1.0, _ENERGY), "kJ": (1e3, _ENERGY), "MJ": (1e6, _ENERGY), "GJ": (1e9, _ENERGY),
    "Wh": (3600.0, _ENERGY), "kWh": (3.6e6, _ENERGY), "MWh": (3.6e9, _ENERGY), "GWh": (3.6e12, _ENERGY),
    "TWh": (3.6e15, _ENERGY), "cal": (4.184, _ENERGY), "kcal": (4184.0, _ENERGY),
    "W": (1.0, _POWER), "kW": (1e3, _POWER), "MW": (1e6, _POWER), "GW": (1e9, _POWER),
    # speed
    "mph": (0.44704, _d(L=1, T=-1)), "knot": (1852.0 / 3600.0, _d(L=1, T=-1)),
    # data (decimal prefixes)
    "bit": (0.125, _d(B=1)), "B": (1.0, _d(B=1)), "KB": (1e3, _d(B=1)), "MB": (1e6, _d(B=1)),
    "GB": (1e9, _d(B=1)), "TB": (1e12, _d(B=1)),
}  # fmt: skip
CURRENCIES = (
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "CHF",
    "CNY",
    "INR",
    "CAD",
    "AUD",
    "BRL",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
)
for _code in CURRENCIES:
    SYMBOLS[_code] = (1.0, ((_code, 1),))

Unit = tuple[tuple[str, int], ...]  # (symbol, exponent) in order of first appearance


def is_unit(name: str) -> bool:
    return name in SYMBOLS


def factor(unit: Unit) -> float:
    result = 1.0
    for symbol, exponent in unit:
        result *= SYMBOLS[symbol][0] ** exponent
    return result


def dims(unit: Unit) -> Dims:
    total: dict[str, int] = {}
    for symbol, exponent in unit:
        for dim, power in SYMBOLS[symbol][1]:
            total[dim] = total.get(dim, 0) + power * exponent
    return tuple(sorted((k, v) for k, v in total.items() if v))


def label(unit: Unit) -> str:
    """``kg*m/s^2`` style: positive exponents first, then ``/`` and the negative ones."""

    def part(symbol: str, exponent: int) -> str:
        return symbol if exponent == 1 else f"{symbol}^{exponent}"

    top = "*".join(part(s, e) for s, e in unit if e > 0) or "1"
    bottom = [part(s, -e) for s, e in unit if e < 0]
    if not bottom:
        return top
    return f"{top}/{bottom[0]}" if len(bottom) == 1 else f"{top}/({'*'.join(bottom)})"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with a unit; ``value`` is in ``unit`` (not in SI)."""

    value: float
    unit: Unit

    def __str__(self) -> str:
        return f"{self.value:.12g} {label(self.unit)}"

    def to(self, target: Unit) -> Quantity:
        if dims(self.unit) != dims(target):
            raise ValueError(f"cannot convert {label(self.unit)} to {label(target)}: different dimensions")
        return Quantity(self.value * factor(self.unit) / factor(target), target)


Value = float | int | Quantity


def _as_quantity(value: Value) -> Quantity:
    return value if isinstance(value, Quantity) else Quantity(float(value), ())


def _simplified(value: float, unit: Unit) -> Value:
    cleaned = tuple((s, e) for s, e in unit if e)
    if not cleaned:
        return value
    if not dims(cleaned) and not any(s in CURRENCIES for s, _ in cleaned):
        return value * factor(cleaned)  # e.g. km/m: a plain ratio
    return Quantity(value, cleaned)


def add(a: Value, b: Value, subtract: bool = False) -> Value:
    left, right = _as_quantity(a), _as_quantity(b)
    if dims(left.unit) != dims(right.unit):
        what_left = label(left.unit) if left.unit else "a plain number"
        what_right = label(right.unit) if right.unit else "a plain number"
        if subtract:
            raise ValueError(f"cannot subtract {what_right} from {what_left}")
        raise ValueError(f"cannot add {what_left} and {what_right}")
    converted = right.to(left.unit).value
    return _simplified(left.value - converted if subtract else left.value + converted, left.unit)


def multiply(a: Value, b: Value, divide: bool = False) -> Value:
    left, right = _as_quantity(a), _as_quantity(b)
    if divide and right.value == 0:
        raise ZeroDivisionError
    value = left.value / right.value if divide else left.value * right.value
    unit = dict(left.unit)
    for symbol, exponent in right.unit:
        exponent = -exponent if divide else exponent
        if symbol in unit:
            unit[symbol] += exponent
            continue
        same_kind = next(
            (s for s in unit if SYMBOLS[s][1] == SYMBOLS[symbol][1] and len(SYMBOLS[s][1]) == 1), None
        )
        if same_kind is not None:  # e.g. km/h * min: express the minutes in hours
            value *= (SYMBOLS[symbol][0] / SYMBOLS[same_kind][0]) ** exponent
            unit[same_kind] += exponent
        else:
            unit[symbol] = exponent
    return _simplified(value, tuple(unit.items()))


def power(a: Quantity, exponent: Value) -> Value:
    if isinstance(exponent, Quantity) or not float(exponent).is_integer():
        raise ValueError("a quantity with a unit can only be raised to a whole power")
    n = int(exponent)
    return _simplified(a.value**n, tuple((s, e * n) for s, e in a.unit))


def negate(a: Quantity) -> Quantity:
    return Quantity(-a.value, a.unit)
