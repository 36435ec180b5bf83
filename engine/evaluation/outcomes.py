"""Outcomes and decisions: what an evaluation can say about a rule or an output.

Two vocabularies meet here, and this module is the only place that defines either:

- **Possible outcomes**, the general path's currency (:mod:`engine.evaluation.general`).
  An :class:`Outcome` maps a *key* to ``(value, deciding rule)``: the values an output
  may still take given the facts that are missing, and whether "no rule gives a value"
  (not applicable) is possible too (it is, until the walk meets a rule that surely
  gives one). :data:`ANY` is the key of a value that is itself unknown; :func:`key_of`
  turns a value into its key (lists as tuples; :data:`PLAIN` values are their own key).
- **Decisions**, the public result for one output (:class:`Decision`): decided with a
  value and the rule that gave it, unknown with the facts that would decide it, or not
  applicable. :class:`Decisions` builds them for every backend, from the value an
  evaluation found and the rule that decided it.

Both are plain immutable values (an :class:`Outcome` is extended in place only by the
walk that built it), so nothing here holds an evaluation.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, NamedTuple

from engine.values import Unknown, unknown_on

ANY = ("<any value>",)  # the key of a value that is itself unknown

Options = dict[Any, tuple[Any, "str | None"]]  # key -> (value, the rule that gives it)
PLAIN = frozenset({bool, str, type(None), Decimal, date})  # types whose values are their own key


def key_of(value: Any) -> Any:
    """The value as a key of a set of outcomes: lists as tuples, unknowns as :data:`ANY`."""
    if type(value) is Unknown:
        return ANY
    if isinstance(value, list):
        return tuple(value)
    try:
        hash(value)
    except TypeError:
        return ANY
    return value


class Outcome:
    """The possible results of an output (or of one rule of a group of siblings), built
    by one walk of its exception tree and extended by it in place:

    - ``options``: key -> (value, deciding rule), the values some rule may give, in the
      order the walk met them (the first rule to give a value keeps it);
    - ``missing``: the facts whose absence leaves more than one possible;
    - ``closed``: whether some rule surely gives a value; while it is not, "no rule
      applies" (not applicable) is possible as well.

    Nothing possible and not closed is "not applicable, whatever the facts"."""

    __slots__ = ("options", "missing", "closed")

    def __init__(self) -> None:
        self.options: Options = {}
        self.missing: set[str] = set()
        self.closed = False

    @property
    def decided(self) -> bool:
        """Whether one known value is the only possibility."""
        return self.closed and len(self.options) == 1 and ANY not in self.options

    def single(self) -> tuple[Any, str | None]:
        return next(iter(self.options.values()))

    def include(self, sibling: Outcome) -> None:
        """Add the possibilities of a rule of equal standing that agrees with the others
        (a disagreement between decided ones is a conflict, found by the caller); the
        facts it misses count unless it is decided. Whether it closes this outcome is
        the caller's to say."""
        options = self.options
        for key, option in sibling.options.items():
            if key not in options:
                options[key] = option
        if not (sibling.closed and len(sibling.options) == 1 and ANY not in sibling.options):  # not decided
            self.missing |= sibling.missing

    def value(self) -> tuple[Any, str | None]:
        """The output this outcome gives: ``(value, deciding rule)``; an unknown naming
        the missing facts when more than one value is possible. A value every
        possibility agrees on while facts are missing is decided by no single rule."""
        options = self.options
        if not self.closed:
            return (None, None) if not options else (unknown_on(frozenset(self.missing)), None)
        if len(options) != 1:
            return unknown_on(frozenset(self.missing)), None
        key, (value, rule_id) = next(iter(options.items()))
        if key is ANY:
            return unknown_on(frozenset(self.missing)), None
        return value, (None if self.missing else rule_id)


class Decision(NamedTuple):
    """The result for one output."""

    output: str
    status: str  # "decided", "unknown" or "not_applicable"
    value: Any = None
    missing: tuple[str, ...] = ()
    rule: str | None = None  # the rule whose value decided it


_SHARED = 10_000  # decisions of a boolean, a text or none, kept to be shared (immutable)
# a NamedTuple's own constructor runs Python code; decisions are built directly
_new: Callable[[type, tuple[Any, ...]], Decision] = tuple.__new__


def decision(name: str, value: Any, rule: str | None) -> Decision:
    """The decision on ``name`` whose value is known (None: not applicable), given by ``rule``."""
    return _new(Decision, (name, "decided" if value is not None else "not_applicable", value, (), rule))


_UNKNOWN: dict[tuple[str, frozenset[str]], Decision] = {}


def unknown_decision(name: str, value: Unknown) -> Decision:
    """The decision on ``name`` whose value is the unknown ``value``; shared, as the
    decisions :class:`Decisions` keeps."""
    key = (name, value.missing)
    found = _UNKNOWN.get(key)
    if found is None:
        found = _new(Decision, (name, "unknown", None, tuple(sorted(value.missing)), None))
        if len(_UNKNOWN) < _SHARED:
            _UNKNOWN[key] = found
    return found


def decision_of(name: str, value: Any, rule: str | None) -> Decision:
    """The decision on ``name`` from its value (known, None or unknown) and deciding rule."""
    return unknown_decision(name, value) if type(value) is Unknown else decision(name, value, rule)


class Decisions:
    """Builds the :class:`Decision` of an output from its value and deciding rule: the
    one place that does, for every backend.

    The decisions on outputs whose values are few (booleans, texts, not applicable), and
    unknown decisions (by the facts they name), are kept and shared between results, as
    they are immutable; a race between threads
    builds one twice and keeps either."""

    def __init__(self, sharable: Iterable[str]) -> None:
        self.sharable = frozenset(sharable)
        self._kept: dict[tuple[str, Any, str | None], Decision] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"sharable": self.sharable, "_kept": {}}

    def decision(self, name: str, value: Any, rule: str | None) -> Decision:
        """The decision on ``name``, given its value (possibly unknown) and deciding rule."""
        return self.of((name,), {name: value}, {name: rule})[name]

    def of(self, names: Iterable[str], values: Mapping[str, Any],
           deciders: Mapping[str, str | None]) -> dict[str, Decision]:
        """The decisions on ``names``, from an evaluation's memo (one loop: it runs for
        every output of every evaluation)."""
        found: dict[str, Decision] = {}
        kept, sharable = self._kept, self.sharable
        for name in names:
            value = values[name]
            if type(value) is Unknown:
                found[name] = unknown_decision(name, value)
            elif value is None or name in sharable:
                rule = deciders.get(name)
                key = (name, value, rule)
                shared = kept.get(key)
                if shared is None:
                    shared = decision(name, value, rule)
                    if len(kept) < _SHARED:
                        kept[key] = shared
                found[name] = shared
            else:
                found[name] = _new(Decision, (name, "decided", value, (), deciders.get(name)))
        return found
