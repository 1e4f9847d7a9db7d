"""A small expression language, parsed and evaluated by hand: no ``eval``, no ``ast``.

Grammar (loosest first): ``+ -`` · ``* / // %`` · unary ``- +`` · ``^`` / ``**`` (right
associative; ``-2^2 == -4`` as in Python) · postfix ``!`` (factorial) and ``%`` (percent, when
nothing that can start an operand follows: ``5% * 200`` is 10, ``7 % 3`` is 1) · numbers, names,
calls ``f(a, b)``, lists ``[a, b]`` and parentheses. Every error is a ``CalculationError`` naming
the position. Sizes are capped so that a hostile expression cannot exhaust memory or CPU.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cadenza.errors import CalculationError
from cadenza.tools.calc import units
from cadenza.tools.calc.units import Quantity

MAX_LENGTH = 10_000
MAX_DEPTH = 100
MAX_INT_BITS = 4096

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d[\d_]*)?\.?\d+(?:[eE][-+]?\d+)?|\d[\d_]*\.)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>\*\*|//|[-+*/%^!(),\[\]]))"
)
_OPERAND_START = frozenset({"number", "name", "(", "[", "-", "+"})


@dataclass(slots=True, frozen=True)
class Token:
    kind: str  # "number", "name", an operator symbol, or "end"
    text: str
    position: int


def tokenize(expression: str) -> list[Token]:
    """Split an expression into tokens; an unknown character is an error at its position."""
    tokens: list[Token] = []
    position = 0
    length = len(expression)
    while position < length:
        if expression[position:].isspace():
            break
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            start = position + len(expression[position:]) - len(expression[position:].lstrip())
            raise CalculationError(expression, f"unexpected character {expression[start]!r}", start)
        kind = match.lastgroup or "op"
        text = match.group(kind)
        start = match.start(kind)
        tokens.append(Token(text if kind == "op" else kind, text, start))
        position = match.end()
    tokens.append(Token("end", "", length))
    return tokens


Number = int | float
Value = Any  # a number, a list of values, or a function's structured result


class Evaluator:
    """Evaluates one expression while parsing it (recursive descent over the token list)."""

    def __init__(
        self,
        expression: str,
        functions: Mapping[str, Callable[..., Value]],
        constants: Mapping[str, Value],
    ) -> None:
        if len(expression) > MAX_LENGTH:
            raise CalculationError(expression[:80] + "...", f"expression longer than {MAX_LENGTH} characters")
        self.expression = expression
        self.functions = functions
        self.constants = constants
        self.tokens = tokenize(expression)
        self.index = 0
        self.depth = 0

    def fail(self, detail: str, position: int | None = None) -> CalculationError:
        return CalculationError(self.expression, detail, position)

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str) -> Token:
        token = self.current
        if token.kind != kind:
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self.fail(f"expected {kind!r} but found {found}", token.position)
        return self.advance()

    def evaluate(self) -> Value:
        if self.current.kind == "end":
            raise self.fail("the expression is empty")
        value = self.converted()
        token = self.current
        if token.kind != "end":
            raise self.fail(f"unexpected {token.text!r}", token.position)
        return value

    def converted(self) -> Value:
        """A sum, optionally converted: ``... to unit`` (the loosest operator)."""
        value = self.sum()
        token = self.current
        if token.kind == "name" and token.text == "to":
            self.advance()
            value = self.convert(value, token)
        return value

    def sum(self) -> Value:
        value = self.product()
        while self.current.kind in ("+", "-"):
            op = self.advance()
            right = self.product()
            value = self.arithmetic(op, value, right)
        return value

    def product(self) -> Value:
        value = self.unary()
        while self.current.kind in ("*", "/", "//", "%"):
            op = self.advance()
            right = self.unary()
            value = self.arithmetic(op, value, right)
        return value

    def unary(self) -> Value:
        token = self.current
        if token.kind in ("-", "+"):
            self.advance()
            self.enter(token)
            operand = self.unary()
            self.depth -= 1
            if isinstance(operand, Quantity):
                return units.negate(operand) if token.kind == "-" else operand
            number = self.number(operand, token)
            return -number if token.kind == "-" else number
        return self.power()

    def power(self) -> Value:
        base = self.postfix()
        if self.current.kind in ("^", "**"):
            op = self.advance()
            self.enter(op)
            exponent = self.unary()
            self.depth -= 1
            return self.arithmetic(op, base, exponent)
        return base

    def postfix(self) -> Value:
        value = self.primary()
        while True:
            token = self.current
            if token.kind == "!":
                self.advance()
                value = self.factorial(value, token)
            elif token.kind == "%" and self.tokens[self.index + 1].kind not in _OPERAND_START:
                self.advance()
                value = self.number(value, token) / 100
            else:
                return value

    def primary(self) -> Value:
        token = self.advance()
        if token.kind == "number":
            number = self.literal(token)
            if self.at_unit():
                return Quantity(float(number), self.unit())
            return number
        if token.kind == "name":
            if self.current.kind == "(":
                return self.call(token)
            if token.text in self.constants:
                return self.constants[token.text]
            if token.text in self.functions:
                raise self.fail(f"{token.text} is a function: call it as {token.text}(...)", token.position)
            raise self.fail(f"unknown name {token.text!r}", token.position)
        if token.kind == "(":
            self.enter(token)
            value = self.converted()
            self.depth -= 1
            self.expect(")")
            return value
        if token.kind == "[":
            self.enter(token)
            items = self.arguments("]")
            self.depth -= 1
            return items
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        raise self.fail(f"expected a number, a name or '(' but found {found}", token.position)

    def at_unit(self) -> bool:
        token = self.current
        return token.kind == "name" and units.is_unit(token.text) and self.tokens[self.index + 1].kind != "("

    def unit(self) -> units.Unit:
        """``km``, ``km/h``, ``kg*m/s^2``: symbols joined by * and /, with whole exponents."""
        parts: dict[str, int] = {}
        sign = 1
        while True:
            token = self.advance()
            exponent = 1
            if self.current.kind in ("^", "**"):
                self.advance()
                negative = self.current.kind == "-"
                if negative:
                    self.advance()
                power = self.expect("number")
                if not power.text.isdigit():
                    raise self.fail("a unit's exponent must be a whole number", power.position)
                exponent = -int(power.text) if negative else int(power.text)
            parts[token.text] = parts.get(token.text, 0) + sign * exponent
            following = self.tokens[self.index + 1] if self.current.kind in ("*", "/") else None
            if following is None or following.kind != "name" or not units.is_unit(following.text):
                return tuple(parts.items())
            if self.tokens[self.index + 2].kind == "(":
                return tuple(parts.items())
            sign = -1 if self.advance().kind == "/" else 1

    def convert(self, value: Value, token: Token) -> Value:
        if not self.at_unit():
            raise self.fail("'to' needs a unit, e.g. '5 km to m'", self.current.position)
        target = self.unit()
        if not isinstance(value, Quantity):
            raise self.fail(f"cannot convert {_describe(value)} to a unit: it has none", token.position)
        try:
            return value.to(target)
        except ValueError as exc:
            raise self.fail(str(exc), token.position) from None

    def arguments(self, closing: str) -> list[Value]:
        items: list[Value] = []
        if self.current.kind == closing:
            self.advance()
            return items
        while True:
            items.append(self.converted())
            if self.current.kind == ",":
                self.advance()
                continue
            self.expect(closing)
            return items

    def call(self, name: Token) -> Value:
        function = self.functions.get(name.text)
        if function is None:
            raise self.fail(f"unknown function {name.text!r}", name.position)
        opening = self.advance()
        self.enter(opening)
        args = self.arguments(")")
        self.depth -= 1
        try:
            return function(*args)
        except CalculationError:
            raise
        except TypeError as exc:
            raise self.fail(f"{name.text}(): {_arity_message(exc)}", name.position) from None
        except (ValueError, ArithmeticError) as exc:
            raise self.fail(f"{name.text}(): {exc}", name.position) from None

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep", token.position)

    def literal(self, token: Token) -> Number:
        text = token.text.replace("_", "")
        if re.fullmatch(r"\d+", text):
            value = int(text)
            if value.bit_length() > MAX_INT_BITS:
                raise self.fail("number too large", token.position)
            return value
        return float(text)

    def number(self, value: Value, token: Token) -> Number:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{token.text!r} needs a number, not {_describe(value)}", token.position)
        return value

    def factorial(self, value: Value, token: Token) -> int:
        number = self.number(value, token)
        if isinstance(number, float):
            if not number.is_integer():
                raise self.fail("factorial needs a whole number", token.position)
            number = int(number)
        if number < 0:
            raise self.fail("factorial of a negative number", token.position)
        if number > 1000:
            raise self.fail("factorial argument above 1000", token.position)
        return math.factorial(number)

    def arithmetic(self, op: Token, left: Value, right: Value) -> Value:
        if isinstance(left, Quantity) or isinstance(right, Quantity):
            return self.with_units(op, left, right)
        a = self.number(left, op)
        b = self.number(right, op)
        try:
            if op.kind == "+":
                return self.checked(a + b, op)
            if op.kind == "-":
                return self.checked(a - b, op)
            if op.kind == "*":
                if (
                    isinstance(a, int)
                    and isinstance(b, int)
                    and a.bit_length() + b.bit_length() > MAX_INT_BITS
                ):
                    raise self.fail("result too large", op.position)
                return self.checked(a * b, op)
            if op.kind == "/":
                return self.checked(a / b, op)
            if op.kind == "//":
                return self.checked(a // b, op)
            if op.kind == "%":
                return self.checked(a % b, op)
            return self.power_of(a, b, op)
        except ZeroDivisionError:
            raise self.fail("division by zero", op.position) from None
        except OverflowError:
            raise self.fail("result too large", op.position) from None

    def with_units(self, op: Token, left: Value, right: Value) -> Value:
        for operand in (left, right):
            if not isinstance(operand, Quantity):
                self.number(operand, op)
        try:
            if op.kind in ("+", "-"):
                return units.add(left, right, subtract=op.kind == "-")
            if op.kind in ("*", "/"):
                return units.multiply(left, right, divide=op.kind == "/")
            if op.kind in ("^", "**") and isinstance(left, Quantity):
                return units.power(left, right)
        except ZeroDivisionError:
            raise self.fail("division by zero", op.position) from None
        except (ValueError, OverflowError) as exc:
            raise self.fail(str(exc), op.position) from None
        raise self.fail(f"{op.text!r} is not defined for quantities with units", op.position)

    def power_of(self, a: Number, b: Number, op: Token) -> Number:
        if isinstance(a, int) and isinstance(b, int) and b >= 0:
            if abs(a) > 1 and b * max(a.bit_length(), 1) > MAX_INT_BITS:
                raise self.fail("result too large", op.position)
            return int(a**b)
        if a == 0 and b < 0:
            raise self.fail("zero raised to a negative power", op.position)
        if a < 0 and isinstance(b, float) and not b.is_integer():
            raise self.fail("a negative number raised to a fractional power", op.position)
        return self.checked(float(a) ** float(b), op)

    def checked(self, value: Number, op: Token) -> Number:
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail("result is not a finite number", op.position)
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise self.fail("result too large", op.position)
        return value


def _describe(value: Value) -> str:
    if isinstance(value, Quantity):
        return f"a quantity in {units.label(value.unit)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table of results"
    if isinstance(value, int | float):
        return "a plain number"
    return type(value).__name__


def _arity_message(exc: TypeError) -> str:
    message = str(exc)
    # "f() takes 2 positional arguments but 3 were given" -> drop the Python function name.
    return re.sub(r"^\w+\(\) ", "", message)
