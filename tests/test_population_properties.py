"""Differential property: on the small rule sets of tests/rulesets (exceptions to
exceptions, orders, conflicts, gaps, amendments, proposals, reference dates), random
persons with facts missing, null or given get from the columnar backend exactly what
RuleSet.evaluate gives them: values, unknowns with their missing facts, not-applicables,
and conflicts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import PolicyError
from engine.language.types import Declaration
from engine.population.cells import Coder
from engine.population.columnar import ColumnarBackend, Failure, output_column
from engine.ruleset import RuleSet
from tests.conftest import RULESETS

SETS = ["exceptions", "conflict", "gap", "time", "proposals", "amendments"]
_LOADED: dict[str, RuleSet] = {}


def _ruleset(name: str) -> RuleSet:
    if name not in _LOADED:
        _LOADED[name] = RuleSet.load(RULESETS / name)
    return _LOADED[name]


def _boundaries(ruleset: RuleSet) -> list[date]:
    """The days around every start and end of a version: where off-by-one errors live."""
    found: set[date] = set()
    for rule in ruleset.plan({}).rules.values():
        for version in rule.versions:
            for day in (version.start, version.until):
                if day is not None:
                    found.update(day + timedelta(days=shift) for shift in (-1, 0, 1))
    return sorted(found)


def _dates(ruleset: RuleSet) -> st.SearchStrategy[date]:
    around = _boundaries(ruleset)
    spread = st.integers(0, 40 * 366).map(lambda days: date(2000, 1, 1) + timedelta(days=days))
    return st.one_of(spread, st.sampled_from(around)) if around else spread


def _value(declaration: Declaration, ruleset: RuleSet) -> st.SearchStrategy[Any]:
    kind = declaration.type.name
    if kind == "bool":
        return st.booleans()
    if kind == "text":
        return st.sampled_from(list(declaration.values) or ["a", "b", "c"])
    if kind == "date":
        return _dates(ruleset)
    if kind == "number":
        return st.integers(-3, 120).map(Decimal)
    if declaration.type.is_collection:
        items = st.lists(st.sampled_from(["a", "b", "BE", "NL", "MA"]), max_size=3)
        return items.map(frozenset) if kind == "set" else items.map(tuple)
    return st.nothing()


@st.composite
def _population(draw: st.DrawFn, ruleset: RuleSet) -> tuple[date, dict[str, None], list[dict[str, Any]]]:
    facts = [d for d in ruleset.vocabulary.of_kind("fact") if d.type.name != "duration"]
    on = draw(_dates(ruleset))
    proposed = sorted(a.id for a in ruleset.loaded.amendments.values() if a.proposed)
    proposals = {name: None for name in draw(st.lists(st.sampled_from(proposed), unique=True))} if proposed else {}
    persons = []
    for _ in range(draw(st.integers(1, 12))):
        person: dict[str, Any] = {}
        for declaration in facts:
            state = draw(st.sampled_from(["missing", "none", "value", "value"]))
            if state == "none":
                person[declaration.name] = None
            elif state == "value":
                person[declaration.name] = draw(_value(declaration, ruleset))
        for declaration in facts:
            if declaration.has_default and declaration.name not in person:
                person[declaration.name] = declaration.default
        persons.append(person)
    return on, proposals, persons


@pytest.mark.parametrize("name", SETS)
def test_the_columnar_backend_equals_per_person_evaluation_on_random_persons(name: str) -> None:
    ruleset = _ruleset(name)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_population(ruleset))
    def check(population: tuple[date, dict[str, None], list[dict[str, Any]]]) -> None:
        on, proposals, persons = population
        coder = Coder(ruleset.vocabulary, on)
        backend = ColumnarBackend(ruleset, proposals, coder)
        decided = backend.run(coder.from_records([(i, None, p) for i, p in enumerate(persons)], 0))
        for index, facts in enumerate(persons):
            got = {o: backend.value(o, decided[index, output_column(o)]) for o in ruleset.public_outputs}
            try:
                result = ruleset.evaluate(facts, on, proposals, validated=True, exact=False)
            except PolicyError:
                assert any(type(v) is Failure for v in got.values()), (facts, got)
                continue
            for output, decision in result.decisions.items():
                value = got[output]
                if decision.status == "unknown":
                    assert sorted(getattr(value, "missing", ["<decided>"])) == list(decision.missing), (output, facts)
                elif decision.status == "not_applicable":
                    assert value is None, (output, facts, value)
                else:
                    assert value == decision.value and type(value) is type(decision.value), (output, facts, value)

    check()
