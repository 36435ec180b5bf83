"""The runtime of generated code: every name it may use, and the evaluation it works on.

:mod:`engine.evaluation.codegen` and :mod:`engine.evaluation.person` write Python whose
namespace has no builtins. What that code may touch is listed here and nowhere else (as
``jinja2.runtime.exported``):

- :data:`exported`: the names bound in every generated namespace, written out by
  :func:`engine.evaluation.codegen.generated_source` as one import line;
- :class:`EvaluationState`: the attributes of the evaluation (``ev``) it reads and
  writes, typed; :data:`EVALUATION_ATTRIBUTES` lists them for the hygiene test;
- :class:`RuleState`: the record a probe leaves in the evaluation's memo, read by name.

Everything else a generated function needs (a rule, a version, a value, a closure to
fall back to) is an object of the plan bound to a generated name (``k12``).
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any, Callable, Mapping, NamedTuple, Protocol

from engine.evaluation.outcomes import decision
from engine.language import semantics as sem
from engine.rules.model import Rule, RuleVersion
from engine import values
from engine.values import Unknown


class RuleState(NamedTuple):
    """How one rule stands in an evaluation: its reference date (a date, None, or an
    unknown), the version in force on it (None: none, or the date is not known), and
    whether it applies (True, False, or an unknown naming what its condition misses)."""

    rule: Rule
    reference: Any
    version: RuleVersion | None
    applies: Any


class EvaluationState(Protocol):
    """What generated code reads and writes of an evaluation (``ev``)."""

    on: date  # the evaluation date
    facts: Mapping[str, Any]  # validated facts: plain values; a missing fact is absent
    values: dict[str, Any]  # the memo of outputs: value, None (not applicable) or unknown
    deciders: dict[str, str | None]  # output -> the rule whose value decided it
    states: dict[str, RuleState]  # rule id -> how it stands (each rule probed once)

    def resolve(self, output: str) -> Any:
        """Hand an output to the general path (after an unknown); records and returns it."""

    def scope_on(self, reference: date) -> sem.Scope:
        """The scope expressions of a rule with this reference date read."""


EVALUATION_ATTRIBUTES = ("on", "facts", "values", "deciders", "states", "resolve", "scope_on")


class Bail(Exception):
    """Inlined code of a person's function met an unknown (or an arithmetic error): the
    function stops, and the per-output functions decide (and report any error)."""


def bail() -> Any:
    raise Bail


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """Arithmetic on known values; a failure bails, and the closure reports it with its place."""
    try:
        return sem.arithmetic(op, a, b)
    except (sem.DivisionByZero, sem.NumberTooLarge, OverflowError):
        raise Bail from None


def as_set(value: Any) -> Any:
    """A computed list as the value of an output declared as a set."""
    return frozenset(value) if type(value) is tuple else value


overlap = sem.overlap  # ``any a in b`` on known values
# a person's age on a day, asked for on the same few days by many rules: kept in C
# (a pure function of two dates; ``typed``: a datetime is not taken for its date)
age_on = functools.lru_cache(maxsize=1024, typed=True)(values.age_on)
new_state: Callable[[type, tuple[Any, ...]], RuleState] = tuple.__new__  # a record without NamedTuple's Python __new__
decided = decision  # the decision on an output whose value is known, in a person's function
UNDECIDED = ("<undecided>",)  # a block of a sibling met an unknown
GONE = object()  # absent from a mapping; also "not yet read" for the locals that keep values

exported = ("Unknown", "Bail", "bail", "arithmetic", "as_set", "overlap", "age_on", "RuleState", "new_state",
            "UNDECIDED", "GONE", "decided", "type")


def namespace() -> dict[str, Any]:
    """A fresh namespace for generated code: :data:`exported` and nothing else."""
    found: dict[str, Any] = {"__builtins__": {}}
    scope = globals()
    for name in exported:
        found[name] = type if name == "type" else scope[name]
    return found

