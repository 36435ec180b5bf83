"""Fixtures and helpers shared by the test files: the rule sets under tests/rulesets and
the decree in rules/, loaded once per session (a RuleSet is immutable), and the
production path of one expression (a one-rule plan through the generated code)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from engine.evaluation.codegen import Program
from engine.evaluation.general import Evaluation
from engine.values import Unknown
from engine.evaluation.plan import one_rule_plan
from engine.language.expression import Expression, TestScope, Vocabulary
from engine.ruleset import RuleSet

# CI (which sets CI=true) draws the same examples every run, so a red build always means a
# changed program; on a developer's machine the properties keep exploring new examples
# (and Hypothesis replays any failure it found from .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
RULESETS = ROOT / "tests" / "rulesets"
SCENARIOS = ROOT / "tests" / "scenarios"
_REFERENCE = "expression.reference_date"  # a fact that carries the case's reference date
_REFERENCE_EXPRESSION = Expression.compile(_REFERENCE, Vocabulary.from_declarations({_REFERENCE: "date"}))


@pytest.fixture(scope="session")
def decree() -> RuleSet:
    """The decree of rules/."""
    return RuleSet.load(ROOT / "rules")


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    """tests/rulesets/exceptions: a base rule, two ordered exceptions, an exception to an
    exception, and an output that reads another."""
    return RuleSet.load(RULESETS / "exceptions")


@dataclass(frozen=True)
class _Constant:
    """A constant of a TestScope, looked up the way a plan looks up value sets and parameters."""

    scope: TestScope
    name: str

    def at(self, day: date) -> Any:
        return self.scope.constant(self.name, day)


def generated_value(expression: Expression, scope: TestScope) -> Any:
    """``expression`` evaluated as production evaluates a rule's value: a one-rule plan
    whose generated function inlines it (carrying unknowns, and handing the output to the
    general path where it must). The scope's outputs are decided ones in the memo."""
    constants = {name: _Constant(scope, name) for name in scope.constants}
    plan = one_rule_plan(expression, _REFERENCE_EXPRESSION, constants)
    program = Program(plan)
    evaluation = Evaluation(plan, {**scope.facts, _REFERENCE: scope.reference_date}, scope.evaluation_date,
                            program)
    evaluation.values.update(scope.outputs)
    return program.decide("result")(evaluation)


def person_value(expression: Expression, scope: TestScope) -> Any:
    """``expression`` as production evaluates it for a person: the one-rule plan's
    function of a whole person (engine.evaluation.person), and where a value is not
    known, the one that carries unknowns; each answers or stops, and where both stop,
    :func:`generated_value` answers, as in production. A scope
    that gives outputs is left to :func:`generated_value` (a person's function decides
    the outputs it reads itself)."""
    if scope.outputs:
        return generated_value(expression, scope)
    constants = {name: _Constant(scope, name) for name in scope.constants}
    plan = one_rule_plan(expression, _REFERENCE_EXPRESSION, constants)
    program = Program(plan)
    assert program.person(("result",), now=True) is not None
    evaluation = Evaluation(plan, {**scope.facts, _REFERENCE: scope.reference_date}, scope.evaluation_date,
                            program)
    found = program.decide_all(evaluation, ("result",)) or program.carry_all(evaluation, ("result",))
    if found is None:
        return generated_value(expression, scope)
    (decision,) = found
    return Unknown(frozenset(decision.missing)) if decision.status == "unknown" else decision.value
