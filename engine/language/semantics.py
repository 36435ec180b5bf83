"""The meaning of each operation of the condition language on runtime values.

Both the compiler and the reference interpreter call these primitives, so arithmetic on
dates, the treatment of ``none``, the propagation of unknown values, ``and``/``or``
(:func:`logic`), ``any in`` (:func:`overlap`) and what a bare name stands for
(:func:`kind_of_name`) are written once; the generated code of
:mod:`engine.evaluation.inline` uses them too for known values. The callers differ in how
they walk the tree and in the shortcuts they take; the conformance suite runs the same
cases through all three.

The rules (docs/language.md):

- any operation with an unknown operand gives unknown, naming the union of the missing
  facts (``and`` and ``or`` decide despite an unknown when another operand decides;
  ``not``, ``if`` and ``is`` have their own rules, in the callers);
- ``none`` gives ``none`` through arithmetic, ``at``, functions and membership; ordering
  comparisons with ``none`` are false; ``none == none`` is true.
"""

from __future__ import annotations

import operator
from datetime import date
from decimal import (ROUND_HALF_EVEN, Context, Decimal, DivisionByZero as DivisionByZeroSignal, Inexact,
                     InvalidOperation, Overflow)
from typing import Any, Callable, Iterable, Mapping, Protocol

from engine.values import Duration, NumberOutOfRange, Unknown, add_duration, age_on, bounded_number


class Scope(Protocol):
    """What an expression can read while it is evaluated."""

    @property
    def facts(self) -> Mapping[str, Any]: ...

    @property
    def decided(self) -> Mapping[str, Any]:
        """Outputs already decided (a memo); may stay empty."""

    @property
    def evaluation_date(self) -> date: ...

    @property
    def reference_date(self) -> date: ...

    def output(self, name: str) -> Any: ...

    def constant(self, name: str, on: date) -> Any: ...


def kind_of_name(name: str) -> str:
    """What a bare name stands for, told by its shape (docs/language.md): ``"fact"`` when
    dotted (``persoon.leeftijd``), ``"set"`` when upper case (a value set or a parameter,
    read on the reference date), ``"output"`` otherwise."""
    if "." in name:
        return "fact"
    if name.upper() == name and any(c.isalpha() for c in name):
        return "set"
    return "output"


def logic(op: str, operands: Iterable[Callable[[Any], Any]], scope: Any) -> Any:
    """``and`` / ``or``: each operand is a function of ``scope``, called in order until
    one decides (so the rest are not evaluated). ``none`` counts as false; an unknown
    operand leaves the result unknown unless a later one decides it, and the unknowns'
    missing facts are joined."""
    pending: Unknown | None = None
    if op == "and":  # false decides
        for operand in operands:
            value = operand(scope)
            if value is True:
                continue
            if value is False or value is None:
                return False
            pending = value if pending is None else pending | value
        return True if pending is None else pending
    for operand in operands:  # 'or': true decides
        value = operand(scope)
        if value is False or value is None:
            continue
        if value is True:
            return True
        pending = value if pending is None else pending | value
    return False if pending is None else pending


class DivisionByZero(ArithmeticError):
    pass


# Sums, differences and products are exact up to 100 digits (money is never rounded);
# a quotient is rounded to 34 significant digits. Beyond that an evaluation error, not a
# silently rounded amount; so is a result beyond the bounds of every number
# (values.bounded_number), which keeps results as small as the numbers that enter.
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
                traps=[InvalidOperation, Overflow, Inexact, DivisionByZeroSignal])
QUOTIENT = Context(prec=34, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
                   traps=[InvalidOperation, Overflow, DivisionByZeroSignal])


def unknown_of(*values: Any) -> Unknown:
    """The unknown that results from the unknown ones among ``values``."""
    result: Unknown | None = None
    for value in values:
        if type(value) is Unknown:
            result = value if result is None else result | value
    assert result is not None
    return result


def listed(*items: Any) -> Any:
    """The value of a list: its items, or unknown when one of them is."""
    for item in items:
        if type(item) is Unknown:
            return unknown_of(*items)
    return items


def either(test: Unknown, first: Any, second: Any) -> Any:
    """``if`` whose test is unknown, given both branches' values: known when both are
    known and equal, otherwise unknown on what the test and the branches miss."""
    if type(first) is not Unknown and type(second) is not Unknown and equal(first, second):
        return first
    return unknown_of(test, first, second)


def any_unknown(*values: Any) -> bool:
    return any(type(v) is Unknown for v in values)


def add(a: Any, b: Any) -> Any:
    if isinstance(a, date):
        return add_duration(a, b)
    if isinstance(b, date):
        return add_duration(b, a)
    if isinstance(a, Decimal):
        return EXACT.add(a, b)
    return a + b


def subtract(a: Any, b: Any) -> Any:
    if isinstance(a, date):
        if isinstance(b, date):
            return Decimal((a - b).days)
        return add_duration(a, b, -1)
    if isinstance(a, Duration):
        return a + (-b)
    return EXACT.subtract(a, b)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.multiply(a, b)


def divide(a: Decimal, b: Decimal) -> Decimal:
    if b == 0:
        raise DivisionByZero("division by zero")
    return QUOTIENT.divide(a, b)


class NumberTooLarge(ArithmeticError):
    pass


ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": add, "-": subtract, "*": multiply, "/": divide,
}
ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def arithmetic(op: str, a: Any, b: Any) -> Any:
    if type(a) is Unknown or type(b) is Unknown:
        return unknown_of(a, b)
    if a is None or b is None:
        return None
    try:
        result = ARITHMETIC[op](a, b)
    except (Inexact, Overflow, InvalidOperation):
        raise NumberTooLarge("the number has more than 100 digits") from None
    if type(result) is Decimal:
        try:
            return bounded_number(result)
        except NumberOutOfRange as problem:
            raise NumberTooLarge(f"the result is out of range: {problem}") from None
    return result


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, frozenset) or isinstance(b, frozenset):
        if isinstance(a, (tuple, list, frozenset)) and isinstance(b, (tuple, list, frozenset)):
            return frozenset(a) == frozenset(b)
    if isinstance(a, list):
        a = tuple(a)
    if isinstance(b, list):
        b = tuple(b)
    return bool(a == b)


def compare(op: str, a: Any, b: Any) -> Any:
    if type(a) is Unknown or type(b) is Unknown:
        return unknown_of(a, b)
    if op == "==":
        return equal(a, b)
    if op == "!=":
        return not equal(a, b)
    if a is None or b is None:
        return False
    return ORDERING[op](a, b)


def overlap(a: Any, b: Any) -> Any:
    """``any a in b``: unknown when either is, none when either is none."""
    if type(a) is Unknown or type(b) is Unknown:
        return unknown_of(a, b)
    if a is None or b is None:
        return None
    for element in a:
        if element in b:
            return True
    return False


def membership(op: str, a: Any, b: Any) -> Any:
    """``in``, ``not_in``, ``any_in`` and ``any_not_in``."""
    if type(a) is Unknown or type(b) is Unknown:
        return unknown_of(a, b)
    if a is None or b is None:
        return None
    if op == "in":
        return a in b
    if op == "not_in":
        return a not in b
    if op == "any_in":
        return overlap(a, b)
    return any(x not in b for x in a)


def negative(a: Any) -> Any:
    if type(a) is Unknown or a is None:
        return a
    if type(a) is Decimal:
        return a.copy_negate()  # exact, and outside any context: no exponent can overflow
    return -a


def call(function: str, args: list[Any]) -> Any:
    if any_unknown(*args):
        return unknown_of(*args)
    if any(a is None for a in args):
        return None
    if function == "age":
        return age_on(args[0], args[1])
    if function == "count":
        return Decimal(len(args[0]))
    values = list(args[0]) if len(args) == 1 else args
    if any(type(v) is Unknown for v in values):
        return unknown_of(*values)
    values = [v for v in values if v is not None]
    if not values:
        return None
    return min(values) if function == "min" else max(values)


def truth(value: Any) -> Any:
    """A value in a condition: ``none`` counts as false; unknown stays unknown."""
    if value is None:
        return False
    return value
