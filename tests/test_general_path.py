"""The general path's own shortcuts, checked against the plain walk they shorten.

The differential tests (tests/test_differential.py) compare every backend with the
general path, so they cannot see a mistake of the general path itself that every backend
inherits when it hands an output over. Its shortcuts are checked here instead:

- **companions decided in one walk** (:meth:`engine.evaluation.general.Evaluation.resolve`):
  on random rule sets and persons, the values, unknowns (with their missing facts),
  deciding rules and conflicts must be those of the same plan with no companions, where
  each output is walked alone;
- **the walk as one pass over the tree's steps** (:func:`engine.evaluation.plan.steps_of`):
  the order of the steps, and the possibilities it gives in small trees whose answer is
  written out by hand;
- **a one-rule tree answered from its probe** (``resolve``) and **an applying rule's
  unknown value recorded by the generated code** (``OutputWriter._unknown_value``): the
  cases where they must not apply (a computed value, a version that does not set the
  output, a group of siblings).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.errors import ConflictError
from engine.evaluation.general import Evaluation
from engine.evaluation.plan import Plan, RulePlan, steps_of
from engine.ruleset import RuleSet
from engine.values import Unknown
from test_differential import EXPRESSIONS, LEVELS, LITERALS, ON, REFERENCES, _load, _Plain, persons, rule_sets


def _alone(plan: Plan) -> Plan:
    """The plan with no companions: each output is walked on its own."""
    outputs = {name: dataclasses.replace(output, companions=()) for name, output in plan.outputs.items()}
    return dataclasses.replace(plan, outputs=outputs)


def _decide(plan: Plan, facts: dict[str, Any], on: date, outputs: list[str]) -> Any:
    evaluation = Evaluation(plan, facts, on)
    try:
        for output in outputs:
            evaluation.value_of(output)
    except ConflictError as error:
        return ("conflict", str(error))
    return {name: (_shown(evaluation.values[name]), evaluation.deciders.get(name)) for name in outputs}


def _shown(value: Any) -> Any:
    return ("unknown", sorted(value.missing)) if type(value) is Unknown else value


@st.composite
def with_companions(draw: st.DrawFn) -> dict[str, str]:
    """A rule set of tests/test_differential.py, where some rules set every one of their
    outputs in every version (so trees of them have companions), some literally and some
    by an expression, and some are siblings (equal order) or exceptions."""
    files = draw(rule_sets())
    content = yaml.safe_load(files["rules.yaml"])
    kinds = {name: kind for level in LEVELS for name, kind in level.items()}
    shared = draw(st.lists(st.sampled_from(sorted(LEVELS[0])), min_size=2, max_size=3, unique=True))
    for rule in content["rules"]:
        if not rule["id"].startswith("r0") or not draw(st.integers(0, 3)):
            continue
        for version in rule["versions"]:
            version.pop("set", None), version.pop("compute", None)
            for output in shared:
                if draw(st.integers(0, 3)):
                    version.setdefault("set", {})[output] = draw(st.sampled_from(LITERALS[kinds[output]]))
                else:
                    version.setdefault("compute", {})[output] = draw(st.sampled_from(EXPRESSIONS[kinds[output]]))
        rule.pop("reference_date", None)
        reference = draw(st.sampled_from(REFERENCES))
        if reference:
            rule["reference_date"] = reference
    files["rules.yaml"] = yaml.dump(content, Dumper=_Plain, sort_keys=False)
    return files


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files=st.one_of(rule_sets(), with_companions()), people=st.lists(persons(), min_size=1, max_size=3), data=st.data())
def test_companions_decided_together_are_decided_as_each_alone(files: dict[str, str], people: list[dict[str, Any]],
                                                              data: st.DataObject) -> None:
    ruleset = _load(files)
    plan = ruleset.plan({})
    alone = _alone(plan)
    event(f"outputs with companions: {sum(1 for o in plan.outputs.values() if o.companions) > 0}")
    for facts in people:
        on = data.draw(st.sampled_from(ON))
        context = f"\n{''.join(files.values())}\nfacts {facts} on {on}"
        assert _decide(plan, facts, on, list(plan.order)) == _decide(alone, facts, on, list(plan.order)), context
        one = data.draw(st.sampled_from(plan.order)) if plan.order else None
        if one is not None:
            assert _decide(plan, facts, on, [one]) == _decide(alone, facts, on, [one]), f"{context} output {one}"


RULES = """
vocabulary:
  facts:
    f.a: {type: bool}
    f.b: {type: bool}
    f.c: {type: bool}
    f.n: {type: number}
  outputs:
    x: {type: text}
    y: {type: text}
    z: {type: number}
rules:
  - id: base
    title: base
    source: {instrument: Test}
    versions: [{from: 2000-01-01, set: {x: base, y: base}}]
  - id: first
    title: first
    source: {instrument: Test}
    exception_to: [base]
    versions: [{from: 2000-01-01, when: f.a, set: {x: first, y: first}}]
  - id: second
    title: second
    source: {instrument: Test}
    exception_to: [base]
    order: 2
    versions: [{from: 2000-01-01, when: f.b, set: {x: base, y: second}}]
  - id: counter
    title: counter
    source: {instrument: Test}
    exception_to: [first]
    versions: [{from: 2000-01-01, when: f.c, set: {x: counter, y: counter}}]
  - id: computed
    title: computed
    source: {instrument: Test}
    versions: [{from: 2000-01-01, when: f.a, compute: {z: f.n + 1}}]
  - id: fallback
    title: fallback
    source: {instrument: Test}
    exception_to: [computed]
    versions: [{from: 2000-01-01, when: f.b, set: {z: 7}}]
"""


def _ruleset(tmp_path: Path) -> RuleSet:
    (tmp_path / "rules.yaml").write_text(RULES)
    return RuleSet.load(tmp_path)


def test_the_steps_put_each_rule_after_its_exceptions_and_lower_orders_first(tmp_path: Path) -> None:
    plan = _ruleset(tmp_path).plan({})
    steps = plan.outputs["x"].steps
    assert all(isinstance(step, RulePlan) for step in steps)
    assert [step.id for step in steps if isinstance(step, RulePlan)] == ["counter", "first", "second", "base"]
    assert steps == steps_of(plan.outputs["x"].groups)


@given(a=st.sampled_from([True, False, None]), b=st.sampled_from([True, False, None]),
       c=st.sampled_from([True, False, None]))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_walk_gives_what_the_tree_says(tmp_path: Path, a: bool | None, b: bool | None, c: bool | None) -> None:
    """x and y by hand: 'counter' overrides 'first' (even where 'first' does not apply),
    which (order 1) goes before 'second' (order 2), which goes before 'base'; a fact left
    out (None here) makes its rule only possible, and a value already possible keeps the
    rule that gave it first."""
    ruleset = _ruleset(tmp_path)
    facts = {name: value for name, value in (("f.a", a), ("f.b", b), ("f.c", c)) if value is not None}
    result = ruleset.evaluate(facts, date(2024, 1, 1), exact=False)

    def expected(values: dict[str, str]) -> tuple[Any, ...]:
        possible: list[str] = []  # the values some rule may give, in the walk's order
        missing: set[str] = set()
        for rule, fact in (("counter", "f.c"), ("first", "f.a"), ("second", "f.b"), ("base", None)):
            if fact is not None and facts.get(fact) is False:
                continue  # surely does not apply
            unknown = {fact} if fact is not None and fact not in facts else set()
            if values[rule] not in possible:
                possible.append(values[rule])
            if not unknown:
                if len(possible) == 1 and not missing:
                    return ("decided", possible[0], rule)
                return ("decided", possible[0], None) if len(possible) == 1 else ("unknown", sorted(missing))
            missing |= unknown
        return ("unknown", sorted(missing))

    x = expected({"counter": "counter", "first": "first", "second": "base", "base": "base"})
    y = expected({"counter": "counter", "first": "first", "second": "second", "base": "base"})
    for name, want in (("x", x), ("y", y)):
        decision = result.decisions[name]
        if want[0] == "unknown":
            assert (decision.status, list(decision.missing)) == want, (name, facts)
        else:
            assert (decision.status, decision.value, decision.rule) == want, (name, facts)


def test_a_companion_a_version_computes_is_left_to_its_own_walk(tmp_path: Path) -> None:
    """'z' is computed, and its exception sets it: with 'f.b' left out and 'f.n'
    missing, it is unknown on both, and it names the facts of both."""
    ruleset = _ruleset(tmp_path)
    result = ruleset.evaluate({"f.a": True}, date(2024, 1, 1), exact=False)
    assert result.decisions["z"].status == "unknown"
    assert result.decisions["z"].missing == ("f.b", "f.n")


SIBLINGS = """
vocabulary:
  facts:
    f.a: {type: bool}
    f.b: {type: bool}
  outputs:
    x: {type: text}
    y: {type: text}
rules:
  - id: one
    title: one
    source: {instrument: Test}
    versions: [{from: 2000-01-01, when: f.a, set: {x: same, y: one}}]
  - id: two
    title: two
    source: {instrument: Test}
    versions: [{from: 2000-01-01, when: f.b, set: {x: same, y: two}}]
"""


def test_a_conflict_on_a_companion_is_its_own(tmp_path: Path) -> None:
    """Two rules of equal standing agree on 'x' and not on 'y': deciding 'x' (with 'y'
    as its companion) gives 'x', and 'y' is still the conflict it is alone, or unknown
    while one of the two may not apply."""
    (tmp_path / "rules.yaml").write_text(SIBLINGS)
    ruleset = RuleSet.load(tmp_path)
    assert ruleset.plan({}).outputs["x"].companions == ("y",)
    on = date(2024, 1, 1)
    assert ruleset.evaluate({"f.a": True, "f.b": True}, on, outputs=["x"], exact=False).decisions["x"].value == "same"
    evaluation = Evaluation(ruleset.plan({}), {"f.a": True, "f.b": True}, on)
    assert evaluation.value_of("x") == "same"
    with pytest.raises(ConflictError, match="conflict on 'y'"):
        evaluation.value_of("y")
    evaluation = Evaluation(ruleset.plan({}), {"f.a": True}, on)
    assert evaluation.value_of("x") == "same"
    assert evaluation.value_of("y") == Unknown(frozenset({"f.b"}))


def test_an_unknown_value_among_siblings_leaves_the_others_to_count(tmp_path: Path) -> None:
    """The generated code records an applying rule's unknown value as the output only
    outside a group of siblings: here 'one' applies with a value that misses 'f.n', and
    'two', of equal standing, may apply, so the output misses 'f.b' as well."""
    (tmp_path / "rules.yaml").write_text("""
vocabulary:
  facts:
    f.n: {type: number}
    f.b: {type: bool}
  outputs:
    z: {type: number}
rules:
  - id: one
    title: one
    source: {instrument: Test}
    versions: [{from: 2000-01-01, compute: {z: f.n + 1}}]
  - id: two
    title: two
    source: {instrument: Test}
    versions: [{from: 2000-01-01, when: f.b, set: {z: 2}}]
""")
    ruleset = RuleSet.load(tmp_path)
    for facts, missing in (({}, ("f.b", "f.n")), ({"f.b": False}, ("f.n",)), ({"f.b": True}, ("f.n",))):
        decision = ruleset.evaluate(facts, date(2024, 1, 1), exact=False).decisions["z"]
        assert (decision.status, decision.missing) == ("unknown", missing), facts


def test_a_tree_of_one_rule_that_may_apply(tmp_path: Path) -> None:
    """The general path answers a one-rule tree whose rule may apply from its probe
    alone only where the value needs no fact: a computed value adds the facts it misses,
    and a version in force that does not set the output gives nothing."""
    (tmp_path / "rules.yaml").write_text("""
vocabulary:
  facts:
    f.n: {type: number}
    f.b: {type: bool}
    f.d: {type: date}
  outputs:
    z: {type: number}
    w: {type: number}
    v: {type: number}
rules:
  - id: computed
    title: computed
    source: {instrument: Test}
    versions: [{from: 2000-01-01, when: f.b, compute: {z: f.n + 1}}]
  - id: literal
    title: literal
    source: {instrument: Test}
    reference_date: f.d
    versions: [{from: 2000-01-01, when: f.b, set: {w: 1}}]
  - id: later
    title: later
    source: {instrument: Test}
    versions:
      - {from: 2000-01-01, until: 2020-01-01, when: f.b, set: {v: 1}}
      - {from: 2020-01-01, when: f.b, set: {w: 2}}
""")
    ruleset = RuleSet.load(tmp_path)
    on = date(2024, 1, 1)
    decisions = ruleset.evaluate({}, on, exact=False).decisions
    assert (decisions["z"].status, decisions["z"].missing) == ("unknown", ("f.b", "f.n"))
    assert (decisions["w"].status, decisions["w"].missing) == ("unknown", ("f.b", "f.d"))
    assert decisions["v"].status == "not_applicable"  # 'later' is in its second version, which sets only w
    decisions = ruleset.evaluate({"f.d": date(2010, 1, 1), "f.n": 1}, on, exact=False).decisions
    assert (decisions["z"].status, decisions["z"].missing) == ("unknown", ("f.b",))
    assert (decisions["w"].status, decisions["w"].missing) == ("unknown", ("f.b",))
