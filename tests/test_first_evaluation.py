"""What makes the first evaluation of a large rule set fast must not change what it
decides, nor slow the evaluations after it (``make bench``'s scaling part measures the
time; these tests pin the shortcuts behind it).

- the fallback closures of generated code are compiled when a fallback first runs, and
  then take the place of their stand-in, so later evaluations call them directly;
- the plan without proposals is built from the consolidation the check built;
- the exact layer's cone of an output is built from the cones of the outputs it reads,
  an event's describing facts are found among the facts declared ``event_of``, and the
  rules' literals are read only for a missing text or number;
- the plan's search for companions leaves out outputs a rule sets alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from engine.evaluation import inline
from engine.evaluation.domains import OTHER_TEXT, Domains
from engine.evaluation.exact import other_candidates
from engine.evaluation.general import Evaluation
from engine.evaluation.plan import _with_companions
from engine.rules.timeline import Consolidation, consolidate
from engine.ruleset import RuleSet
from engine.values import Unknown
from tools import rulegen

ON = date(2021, 6, 1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("generated")
    rulegen.generate(directory, 60)
    return directory


def _expressions(ruleset: RuleSet) -> list[Any]:
    consolidation = ruleset.plan({}).consolidation
    found = []
    for rule in consolidation.rules.values():
        found.extend(rule.expressions())
        for version in consolidation.timelines[rule.id].versions:
            found.extend(version.expressions())
    return found


def test_generating_every_output_compiles_no_fallback_closure(generated: Path) -> None:
    """A person who gives every fact never falls back: writing the functions of all
    outputs builds none of the closures (they were most of a large set's objects)."""
    ruleset = RuleSet.load(generated)
    result = ruleset.evaluate(rulegen.person(), ON)
    assert len(result.decisions) == 60 and not result.unknown
    expressions = _expressions(ruleset)
    assert len(expressions) > 100
    assert [e.text for e in expressions if e.closure is not None] == []


def test_a_missing_fact_is_carried_as_the_general_path_says(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fact read by conditions of several rules is missing: the generated code carries
    the unknown (no expression is evaluated twice) and says what the general path says,
    on the first evaluation and on the next ones. A part of an expression run by its
    closure in place is compiled when it first runs, and called directly afterwards (the
    second evaluation writes the person's functions, whose parts then run first)."""
    ruleset = RuleSet.load(generated)
    facts = rulegen.person()
    del facts["f.x3"]
    ran: list[str] = []
    compile_and_run = inline.CompiledOnFirstCall.__call__

    def counted(self: Any, scope: Any) -> Any:
        ran.append(self.name)
        return compile_and_run(self, scope)

    monkeypatch.setattr(inline.CompiledOnFirstCall, "__call__", counted)
    first = ruleset.evaluate(facts, ON, exact=False)
    assert first.unknown and ran  # some parts of expressions ran their closures in place
    second = ruleset.evaluate(facts, ON, exact=False)  # by the person's function that carries unknowns
    assert second._evaluation is None and second.to_json() == first.to_json()

    def stand_in_called(self: Any, scope: Any) -> Any:
        raise AssertionError(f"the stand-in {self.name} ran twice")

    monkeypatch.setattr(inline.CompiledOnFirstCall, "__call__", stand_in_called)
    again = ruleset.evaluate(facts, ON, exact=False)  # the closures are in their places now
    assert again.to_json() == first.to_json()
    general = RuleSet.load(generated)  # the general path alone, from a plan with no generated code
    assert {name: set(missing) for name, missing in first.unknown.items()} == _general_unknowns(general, facts)


def _general_unknowns(ruleset: RuleSet, facts: dict[str, Any]) -> dict[str, set[str]]:
    evaluation = Evaluation(ruleset.plan({}), facts, ON)
    values = {output: evaluation.value_of(output) for output in ruleset.public_outputs}
    return {output: set(value.missing) for output, value in values.items() if type(value) is Unknown}


def _windows(consolidation: Consolidation) -> dict[str, list[Any]]:
    return {rule_id: [(v.rule_id, v.window, v.when.text if v.when else None) for v in timeline.versions]
            for rule_id, timeline in consolidation.timelines.items()}


def test_the_plan_without_proposals_is_the_checked_consolidation() -> None:
    """The check consolidates the rule set as in force; the first plan reuses it. It must
    be the one without proposals (the decree has a proposal that changes rules)."""
    ruleset = RuleSet.load(ROOT / "rules")
    in_force = ruleset.plan({}).consolidation
    assert _windows(in_force) == _windows(consolidate(ruleset.loaded, {}))
    assert in_force.proposals == {} and ruleset.consolidation({}) is in_force
    proposed = {a.id: None for a in ruleset.loaded.amendments.values() if a.proposed}
    assert proposed and _windows(ruleset.plan(proposed).consolidation) != _windows(in_force)


# -- the exact layer's reading of a large set --------------------------------------------

def _cone_by_walking(domains: Domains, output: str) -> tuple[frozenset[str], ...]:
    """The cone as the definition says: every rule reached through the outputs read."""
    facts: set[str] = set()
    atoms: set[Any] = set()
    opaque: set[str] = set()
    seen: set[str] = set()
    pending = [output]
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            for rule in domains.setters.get(name, ()):
                reading = domains.reading(rule)
                facts, atoms, opaque = facts | reading.facts, atoms | reading.atoms, opaque | reading.opaque
                pending.extend(reading.outputs)
    return frozenset(facts), frozenset(atoms), frozenset(opaque)


@pytest.mark.parametrize("which", ["decree", "generated"])
def test_each_cone_is_every_rule_reached_through_the_outputs_read(which: str, generated: Path) -> None:
    """Cones are built from the cones of the outputs read (kept once built): in any
    order of asking, each is the union over every rule reached."""
    ruleset = RuleSet.load(ROOT / "rules" if which == "decree" else generated)
    plan = ruleset.plan({})
    domains = Domains(plan.consolidation, ruleset.vocabulary, ruleset.loaded.sets)
    outputs = list(plan.outputs)
    for output in outputs[len(outputs) // 2:] + outputs[:len(outputs) // 2]:  # the chains' middles first
        assert domains.cone(output) == _cone_by_walking(domains, output), output
    assert len(domains.cone(outputs[-1] if which == "generated" else "status")[0]) > 2


def test_the_facts_that_describe_an_event_are_found_among_the_describing_ones() -> None:
    """The exact layer looks for an event's describing facts among the facts declared
    ``event_of`` (not the whole vocabulary, once per output): a described event has
    happened, and the split tries first whether it is described."""
    from engine.evaluation.exact import _happened

    small = RuleSet.load(ROOT / "tests" / "rulesets" / "exact")
    domains = Domains(small.plan({}).consolidation, small.vocabulary, small.loaded.sets)
    assert domains.describing == ("inschrijving.gewest",)
    assert _happened("inschrijving.datum", domains, {"inschrijving.gewest": "brussel"})
    assert not _happened("inschrijving.datum", domains, {"inschrijving.gewest": None})
    assert not _happened("inschrijving.datum", domains, {})


def test_the_rules_literals_are_read_only_for_a_missing_text_or_number(generated: Path) -> None:
    """Reading every rule for its texts and numbers is left out when no missing fact is
    a text or a number (here the date every rule reads); a number's candidates read them."""
    ruleset = RuleSet.load(generated)
    facts = rulegen.person()
    del facts["f.d"]
    assert ruleset.evaluate(facts, ON).unknown
    domains = ruleset._domains[frozenset()]
    assert "_literals" not in vars(domains)
    candidates = other_candidates(ruleset.vocabulary.names["f.x3"], domains)
    assert candidates is not None and "_literals" in vars(domains)
    assert {Decimal(-1), Decimal(0), Decimal(12), Decimal(16), Decimal(17)} <= set(candidates)
    assert domains.texts == set() and domains.groups == [OTHER_TEXT]


def test_outputs_set_alone_by_a_rule_are_left_out_of_the_search_for_companions() -> None:
    """The plan looks for companions only among outputs no rule sets alone: the decree's
    companions are those found when every output's tree is compared."""
    decree = RuleSet.load(ROOT / "rules")
    for proposals in ({}, {a.id: None for a in decree.loaded.amendments.values() if a.proposed}):
        plan = decree.plan(proposals)
        every = _with_companions({name: replace(o, companions=()) for name, o in plan.outputs.items()})
        assert {n: o.companions for n, o in plan.outputs.items()} == {n: o.companions for n, o in every.items()}
        assert sum(1 for o in plan.outputs.values() if o.companions) >= 10
