"""Runtime values of the condition language and the arithmetic of dates.

Values are plain Python: ``bool``, ``Decimal`` for numbers (money is never a binary
float), ``str``, ``datetime.date``, :class:`Duration`, tuples for lists, ``None`` for
"known to have no value". Two markers are our own:

- :class:`Unknown` is a value that could not be decided because facts are missing; it
  names them, so an undecided output can say which facts would decide it.
- :class:`Duration` is a term in days, months and years (years are kept as months).

Numbers are bounded where they enter (facts, rule files, literals in conditions) and
where arithmetic makes them: at most :data:`MAX_INTEGER_DIGITS` digits before the decimal
point and :data:`MAX_FRACTION_DIGITS` after it (:func:`bounded_number`). So no number
costs more than a few hundred bytes to hold, compute or write as JSON, and no decimal
operation meets its context's exponent limits.

Dates are read in one form only, ``YYYY-MM-DD`` (:func:`parse_iso_date`): Python's
``date.fromisoformat`` also takes ``20240301`` and ``2024-W01-1``, which no message of
ours announces.

Terms in months run from date to date; where the target month has no such day the term
ends on that month's last day (Gerechtelijk Wetboek art. 54): 31 January + 1 month is the
last day of February.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal



@dataclass(frozen=True, slots=True)
class Unknown:
    """A value that depends on facts nobody gave; ``missing`` names them."""

    missing: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        raise TypeError("an unknown value has no truth value; test it explicitly")

    def __or__(self, other: "Unknown") -> "Unknown":
        if not other.missing or other.missing <= self.missing:
            return self
        if not self.missing:
            return other
        return unknown_on(self.missing | other.missing)

    def __repr__(self) -> str:
        return f"Unknown({sorted(self.missing)})"


_INTERNED: dict[frozenset[str], Unknown] = {}
_INTERNED_AT_MOST = 4096  # distinct sets of missing facts kept; past that, new objects


def unknown_on(missing: frozenset[str]) -> Unknown:
    """The unknown naming ``missing``: one object per set of facts (up to
    :data:`_INTERNED_AT_MOST` sets), so that code joining unknowns finds the same set by
    identity (``a is m``) instead of calling :meth:`Unknown.__or__`. Equal unknowns are
    equal whether interned or not; interning saves work, it decides nothing."""
    found = _INTERNED.get(missing)
    if found is None:
        found = Unknown(missing)
        if len(_INTERNED) < _INTERNED_AT_MOST:
            found = _INTERNED.setdefault(missing, found)
    return found


@dataclass(frozen=True, slots=True)
class Duration:
    """A term: calendar days plus calendar months (a year is twelve months)."""

    days: int = 0
    months: int = 0

    def __neg__(self) -> "Duration":
        return Duration(-self.days, -self.months)

    def __add__(self, other: "Duration") -> "Duration":
        return Duration(self.days + other.days, self.months + other.months)

    def __str__(self) -> str:
        parts = []
        if self.months:
            years, months = divmod(abs(self.months), 12)
            sign = "-" if self.months < 0 else ""
            if years and not months:
                parts.append(f"{sign}{years} year{'s' if years != 1 else ''}")
            else:
                parts.append(f"{self.months} month{'s' if abs(self.months) != 1 else ''}")
        if self.days or not parts:
            parts.append(f"{self.days} day{'s' if abs(self.days) != 1 else ''}")
        return " + ".join(parts)


MAX_INTEGER_DIGITS = 50
MAX_FRACTION_DIGITS = 50
NUMBER_BOUNDS = (f"numbers have at most {MAX_INTEGER_DIGITS} digits before the decimal point "
                 f"and {MAX_FRACTION_DIGITS} after it")


MAX_TERM = 10_000 * 366  # days, months or years in a duration: more than the calendar holds


class NumberOutOfRange(ValueError):
    """A number beyond the bounds of :func:`bounded_number`; the message says which."""


def bounded_number(value: Decimal) -> Decimal:
    """``value`` if it is within the bounds (a zero of any exponent becomes 0); raises
    :class:`NumberOutOfRange` otherwise.

    The usual case costs two method calls; trailing zeros beyond the last decimal place
    allowed (``1.000...0``) are dropped rather than refused, since the value is the same.
    """
    if value.is_finite() and value.adjusted() < MAX_INTEGER_DIGITS:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= -MAX_FRACTION_DIGITS:
            return value
    return _bounded_slowly(value)


def _bounded_slowly(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise NumberOutOfRange("expected a finite number")
    if value.is_zero():
        return Decimal(0)
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        raise NumberOutOfRange(f"the number is too large: {NUMBER_BOUNDS}")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    kept = len(digits)
    while kept > 1 and digits[kept - 1] == 0 and exponent < -MAX_FRACTION_DIGITS:
        kept -= 1
        exponent += 1
    if exponent < -MAX_FRACTION_DIGITS:
        raise NumberOutOfRange(f"the number has too many decimals: {NUMBER_BOUNDS}")
    return Decimal((sign, digits[:kept], exponent))


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_iso_date(text: str) -> date:
    """The date written ``YYYY-MM-DD``; raises ValueError (with the reason) otherwise."""
    if not _ISO_DATE.fullmatch(text):
        raise ValueError("expected YYYY-MM-DD")
    return date.fromisoformat(text)


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, ending on the month's last day if needed."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def add_duration(day: date, term: Duration, sign: int = 1) -> date:
    """``day`` plus (``sign`` = 1) or minus (``sign`` = -1) a term: months first, then days."""
    result = day
    if term.months:
        result = add_months(result, sign * term.months)
    if term.days:
        result = result + timedelta(days=sign * term.days)
    return result


_WHOLE = [Decimal(n) for n in range(150)]


def age_on(birth: date, on: date) -> Decimal:
    """Whole years from ``birth`` to ``on``; birthdays follow the month-end rule."""
    years = on.year - birth.year
    if years >= 0:
        if (on.month, on.day) < (birth.month, birth.day) and not (
            # born on 29 February: in a common year the birthday is 28 February
            birth.month == 2 and birth.day == 29 and on.month == 2 and on.day == 28
            and not calendar.isleap(on.year)
        ):
            years -= 1
        if years >= 0:
            return _WHOLE[years] if years < 150 else Decimal(years)
        return Decimal(years)
    if years > 0 and add_months(birth, 12 * years) > on:
        years -= 1
    elif years < 0 and add_months(birth, 12 * years) < on:
        years += 1
    return Decimal(years)


def render(value: object) -> str:
    """A value as the language would write it: for explanations and messages."""
    if value is None:
        return "none"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Unknown):
        return "unknown"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (tuple, list, frozenset, set)):
        items = sorted(value, key=str) if isinstance(value, (frozenset, set)) else value
        return "[" + ", ".join(render(v) for v in items) + "]"
    return str(value)


_MARK = "\u2063decree-number\u2063"  # invisible separators: no rule or fact text holds them


class JsonNumber(str):
    """A decimal number that :func:`dumps` writes as a JSON number, digit for digit."""


def to_json(value: object) -> object:
    """A value as JSON: dates as ISO text, exact numbers, sets as sorted lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        # adjusted() and copy_abs() use no context, so no exponent can overflow them
        if value.adjusted() < 15 and value == value.to_integral_value():
            return int(value)
        # numbers are bounded where they enter; one that was not (built by a caller)
        # keeps its exponent rather than growing into a megabyte of zeros
        small = value.adjusted() < MAX_INTEGER_DIGITS and -MAX_FRACTION_DIGITS <= value.as_tuple().exponent  # type: ignore[operator]
        return JsonNumber(format(value, "f") if small else str(value).replace("E", "e"))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Duration):
        return {"days": value.days, "months": value.months}
    if isinstance(value, (frozenset, set)):
        return sorted((to_json(v) for v in value), key=str)
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    return str(value)


def dumps(data: object, indent: int | None = 2) -> str:
    """JSON text in which every :class:`JsonNumber` is an exact number, never a float;
    indented, or on one line (``indent=None``: JSON Lines).

    Python's json module writes decimals only through ``float``, which would round
    money; numbers are written as quoted markers first and unquoted afterwards.
    """
    import json

    numbers: list[str] = []

    def mark(part: object) -> object:
        if isinstance(part, JsonNumber):
            numbers.append(str(part))
            return f"{_MARK}{len(numbers) - 1}{_MARK}"
        if isinstance(part, dict):
            return {key: mark(item) for key, item in part.items()}
        if isinstance(part, (list, tuple)):
            return [mark(item) for item in part]
        return part

    text = json.dumps(mark(data), indent=indent, ensure_ascii=False,
                      separators=(", ", ": ") if indent is None else None)
    for index, number in enumerate(numbers):
        text = text.replace(f'"{_MARK}{index}{_MARK}"', number, 1)
    return text
