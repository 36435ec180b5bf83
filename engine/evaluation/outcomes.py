"""Outcomes and decisions: what an evaluation can say about a rule or an output.

Two vocabularies meet here, and this module is the only place that defines either:

- **Possible outcomes**, the general path's currency (:mod:`engine.evaluation.general`).
  An :class:`Outcome` maps a *key* to ``(value, deciding rule)``: the values a rule or an
  output may still take given the facts that are missing. :data:`EMPTY` is the key of
  "no rule gives a value" (not applicable), :data:`ANY` the key of a value that is
  itself unknown; :func:`key_of` turns a value into its key (lists as tuples).
- **Decisions**, the public result for one output (:class:`Decision`): decided with a
  value and the rule that gave it, unknown with the facts that would decide it, or not
  applicable. :class:`Decisions` builds them for every backend, from the value an
  evaluation found and the rule that decided it.

Both are plain immutable values (an :class:`Outcome` is extended in place only by the
walk that built it), so nothing here holds an evaluation.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, NamedTuple

from engine.values import Unknown

ANY = ("<any value>",)  # the key of a value that is itself unknown
EMPTY = ("<not applicable>",)  # the key of "no rule gives a value"

Options = dict[Any, tuple[Any, "str | None"]]  # key -> (value, the rule that gives it)


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
    """The possible results of a rule or an output: key -> (value, deciding rule), and
    the facts whose absence leaves more than one possible."""

    __slots__ = ("options", "missing")

    def __init__(self, options: Options, missing: frozenset[str] = frozenset()) -> None:
        self.options = options
        self.missing = missing

    @property
    def decided(self) -> bool:
        """Whether one known value is the only possibility."""
        return len(self.options) == 1 and ANY not in self.options

    @property
    def open(self) -> bool:
        """Whether "no rule applies" is still possible."""
        return EMPTY in self.options

    def single(self) -> tuple[Any, str | None]:
        return next(iter(self.options.values()))

    def value(self) -> tuple[Any, str | None]:
        """The output this outcome gives: ``(value, deciding rule)``; an unknown naming
        the missing facts when more than one value is possible. A value every
        possibility agrees on while facts are missing is decided by no single rule."""
        options = self.options
        if len(options) != 1:
            return Unknown(self.missing), None
        key, (value, rule_id) = next(iter(options.items()))
        if key is ANY:
            return Unknown(self.missing), None
        return value, (None if self.missing else rule_id)


NOTHING = Outcome({EMPTY: (None, None)})  # no rule gives a value, whatever the facts


def fall_back(first: Outcome, second: Outcome) -> Outcome:
    """``first``, where "nothing applies" is replaced by the possibilities of ``second``."""
    options = first.options
    if EMPTY not in options:
        return first
    if len(options) == 1:  # nothing but "nothing applies"
        return second
    merged = {key: option for key, option in options.items() if key is not EMPTY}
    for key, option in second.options.items():
        if key not in merged:
            merged[key] = option
    return Outcome(merged, first.missing | second.missing)


def either(outcomes: Iterable[Outcome]) -> Outcome:
    """The possibilities of rules of equal standing that agree (a disagreement between
    decided ones is a conflict, found by the caller)."""
    options: Options = {}
    missing: frozenset[str] = frozenset()
    every_open = True
    for outcome in outcomes:
        for key, option in outcome.options.items():
            if key is not EMPTY:
                options.setdefault(key, option)
        if not outcome.decided or outcome.open:
            missing |= outcome.missing
        every_open = every_open and outcome.open
    if every_open:
        options[EMPTY] = (None, None)
    return Outcome(options, missing)


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


class Decisions:
    """Builds the :class:`Decision` of an output from its value and deciding rule: the
    one place that does, for every backend.

    The decisions on outputs whose values are few (booleans, texts, not applicable) are
    kept and shared between results, as they are immutable; a race between threads
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
                found[name] = _new(Decision, (name, "unknown", None, tuple(sorted(value.missing)), None))
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
