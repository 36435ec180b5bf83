"""Facts as given by a user or service: validated against the vocabulary, with positions.

A facts document is a mapping; nested mappings name dotted facts (``persoon:
{geboortedatum: ...}`` is ``persoon.geboortedatum``), and dotted keys may be written
directly. Each value is converted to the language's values per the fact's declared type:
dates from YAML dates or ISO text, numbers as :class:`Decimal`, lists as tuples.

A fact left out is unknown, unless the vocabulary declares a default; a fact given as
``null`` is known to have no value. Every problem (an unknown name with "did you mean",
a wrong type, an impossible date or one not written YYYY-MM-DD, a number beyond the
bounds of :func:`engine.values.bounded_number`, a value outside the declared ones, a list
over the size limit) is reported with its position, all of them at once.
"""

from __future__ import annotations

from collections import deque
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Mapping

from engine.errors import InputError, PolicyError, Span, Suggestions, raise_all, shorten, suggest
from engine.language.types import Declaration, Type, Vocabulary
from engine.values import MAX_TERM, Duration, NumberOutOfRange, bounded_number, parse_iso_date

MAX_FACT_LIST = 1000


class Mismatch(ValueError):
    """A value does not fit its declared type; the message says why."""


def coerce(value: Any, wanted: Type) -> Any:
    """``value`` (from YAML or JSON) as a language value of type ``wanted``."""
    if value is None:
        return None
    name = wanted.name
    if name == "bool":
        if isinstance(value, bool):
            return value
        raise Mismatch(f"expected true or false, not {_show(value)}")
    if name == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
            raise Mismatch(f"expected a number, not {_show(value)}")
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):  # ValueError: an int too long to write out
            raise Mismatch(f"expected a number, not {_show(value)}") from None
        return _bounded(number)
    if name == "text":
        if isinstance(value, str):
            return value
        raise Mismatch(f"expected a text, not {_show(value)}")
    if name == "date":
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            return _iso_date(value)
        raise Mismatch(f"expected a date (YYYY-MM-DD), not {_show(value)}")
    if name == "duration":
        if isinstance(value, Mapping) and set(value) <= {"days", "months"}:
            return Duration(_term_part(value.get("days", 0)), _term_part(value.get("months", 0)))
        raise Mismatch("expected a duration as {days: N, months: N}")
    if wanted.is_collection:
        if not isinstance(value, (list, tuple)):
            raise Mismatch(f"expected a list, not {_show(value)}")
        if len(value) > MAX_FACT_LIST:
            raise Mismatch(f"a list holds at most {MAX_FACT_LIST} elements")
        assert wanted.element is not None
        items = tuple(coerce(item, wanted.element) for item in value)
        return frozenset(items) if name == "set" else items
    raise Mismatch(f"cannot give a value of type {wanted}")


# -- bounds and strict forms (values.py says why) ---------------------------------------

def _bounded(number: Decimal) -> Decimal:
    try:
        return bounded_number(number)
    except NumberOutOfRange as problem:
        raise Mismatch(str(problem)) from None


def _iso_date(text: str) -> date:
    try:
        return parse_iso_date(text)
    except ValueError:
        raise Mismatch(f"impossible date {shorten(text)}; expected YYYY-MM-DD") from None


def _term_part(value: Any) -> int:
    """The days or months of a duration: a whole number the calendar can hold."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or (
            isinstance(value, Decimal) and not (value.is_finite() and value == value.to_integral_value())):
        raise Mismatch(f"expected whole numbers of days and months, not {_show(value)}")
    if not -MAX_TERM <= value <= MAX_TERM:
        raise Mismatch(f"a duration holds at most {MAX_TERM} days or months")
    return int(value)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, (Decimal, int, float)):
        return f"the number {shorten(value)}"
    return shorten(value)


class FactReader:
    """The facts of one vocabulary, compiled once for reading many persons.

    Holds what every reading needs (the declarations by name, the dotted prefixes that
    nested mappings may use, the defaults) and, per fact, the Python type a value that
    needs no conversion has. :meth:`read` takes the common case, a flat mapping of
    declared names to values that convert without a problem, in one pass; anything else
    (nesting, a problem) goes through :func:`iter_fact_errors`, the one place that says
    what is wrong and reports every problem.
    """

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.declarations: dict[str, Declaration] = {d.name: d for d in vocabulary.of_kind("fact")}
        self.prefixes = frozenset(name.rsplit(".", i)[0] for name in self.declarations
                                  for i in range(1, name.count(".") + 1))
        self.defaults = tuple((d.name, d.default) for d in self.declarations.values() if d.has_default)
        # name -> (the exact type of a value taken as it is, the allowed values of a text
        # or None, the declared type to convert any other value to)
        self._plain: dict[str, tuple[type | None, frozenset[str] | None, Type]] = {
            name: (_PLAIN.get(d.type.name), frozenset(d.values) if d.values else None, d.type)
            for name, d in self.declarations.items()}
        # name -> the type of a value taken as it is: a boolean, a text of no declared set
        # of values, a date (a number is bounded, a list looked into, a text checked)
        self._taken: dict[str, type] = {name: exact for name, (exact, allowed, _) in self._plain.items()
                                         if exact is not None and exact is not Decimal and allowed is None}

    def read(self, data: Any, span_of: Any = None) -> dict[str, Any]:
        """Validated facts from ``data`` with the defaults added; raises every problem."""
        facts = self._read_plain(data)
        if facts is None:
            facts = {}
            raise_all(iter_fact_errors(data, self, span_of or _nowhere, facts))
        for name, default in self.defaults:
            if name not in facts:
                facts[name] = default
        return facts

    def _read_plain(self, data: Any) -> dict[str, Any] | None:
        """``data`` as facts when it is a flat mapping of declared facts whose values
        convert without a problem; None otherwise (the full validation then reports)."""
        if type(data) is not dict:
            return None
        facts = dict(data)
        taken, plain = self._taken, self._plain
        for name, value in data.items():
            if type(value) is taken.get(name):  # the usual case: one test
                continue
            entry = plain.get(name)
            if entry is None:
                return None
            if value is None:
                continue
            exact, allowed, declared = entry
            if exact is Decimal and type(value) is Decimal:  # a number given as a language value: bounded
                try:
                    value = bounded_number(value)
                except NumberOutOfRange:
                    return None
            elif type(value) is not exact:
                try:
                    value = coerce(value, declared)  # the one conversion, as iter_fact_errors does it
                except Mismatch:
                    return None
            if allowed is not None and type(value) is str and value not in allowed:
                return None
            facts[name] = value
        return facts


_PLAIN: dict[str, type] = {"bool": bool, "number": Decimal, "text": str, "date": date}


def _nowhere(path: tuple[Any, ...], key: bool = False) -> Span:
    return Span(None, 1, 1)


def reader(vocabulary: Vocabulary) -> FactReader:
    """The vocabulary's :class:`FactReader`, built on first use and kept with it (a
    vocabulary is immutable once loaded)."""
    found: FactReader | None = vocabulary.__dict__.get("_fact_reader")
    if found is None:
        found = FactReader(vocabulary)
        object.__setattr__(vocabulary, "_fact_reader", found)  # a cache, not a field: frozen is kept
    return found


def iter_fact_errors(data: Any, facts: Vocabulary | FactReader, span_of: Any,
                     into: dict[str, Any], skip: Any = frozenset()) -> Iterator[PolicyError]:
    """Validate ``data`` into ``into`` (dotted name -> value), yielding every problem.

    ``span_of(path, key=False)`` gives the span of the value (or key) at a path of ``data``;
    values at paths in ``skip`` were already reported (an impossible date) and are left out.
    """
    if data is None:
        return
    if not isinstance(data, Mapping):
        yield InputError("facts must be a mapping of fact names to values", span_of(()))
        return
    compiled = facts if isinstance(facts, FactReader) else reader(facts)
    declarations, prefixes = compiled.declarations, compiled.prefixes
    hints = Suggestions(declarations)  # "did you mean" for the first few unknown names only
    # a queue, not list.pop(0): that is quadratic in the number of keys (bounded at 100,000)
    stack: deque[tuple[tuple[Any, ...], str, Any]] = deque(((key,), str(key), value) for key, value in data.items())
    while stack:
        path, name, value = stack.popleft()
        declaration = declarations.get(name)
        if declaration is None:
            if isinstance(value, Mapping) and name in prefixes:
                stack.extend((path + (key,), f"{name}.{key}", item) for key, item in value.items())
                continue
            yield InputError(f"unknown fact {shorten(name)}{hints(name)}", span_of(path, key=True))
            continue
        if name in into:
            yield InputError(f"fact '{name}' is given twice", span_of(path, key=True))
            continue
        if path in skip:
            continue
        try:
            into[name] = coerce(value, declaration.type)
        except Mismatch as problem:
            yield InputError(f"fact '{name}': {problem}", span_of(path))
            continue
        if declaration.values and isinstance(into[name], str) and into[name] not in declaration.values:
            hint = suggest(into[name], declaration.values) or f"; expected one of: {', '.join(declaration.values)}"
            yield InputError(f"fact '{name}' does not take the value {shorten(into[name])}{hint}", span_of(path))


def with_defaults(facts: dict[str, Any], vocabulary: Vocabulary) -> dict[str, Any]:
    """``facts`` plus the declared default of each fact that was not given."""
    for name, default in reader(vocabulary).defaults:
        if name not in facts:
            facts[name] = default
    return facts


def read_facts(data: Any, vocabulary: Vocabulary, span_of: Any = None) -> dict[str, Any]:
    """Validated facts from ``data``, with the defaults; raises every problem together."""
    return reader(vocabulary).read(data, span_of)
