"""The function of a whole person (engine.evaluation.person) on the decree.

tests/test_differential.py compares it with the oracle on random rule sets and
tests/test_conformance.py runs every expression through it; here: every scenario person
of tests/scenarios it answers gets the per-output functions' answer, the demo person is
answered by it, what it stops on, and the evaluation behind a result it answered (which
explanations and coverage read) is the one the per-output functions build.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from conftest import ROOT, SCENARIOS

from engine.evaluation.codegen import Program
from engine.evaluation.general import Evaluation
from engine.evaluation.person import needed
from engine.reports.coverage import CoverageReport
from engine.ruleset import RuleSet
from engine.scenarios.runner import load_scenarios

ON = date(2024, 3, 1)


def _demo(ruleset: RuleSet) -> dict[str, Any]:
    from engine.cli import validated_facts

    return validated_facts(ruleset, str(ROOT / "examples" / "persoon.yaml"))


def _per_output(ruleset: RuleSet, program: Program, facts: dict[str, Any], on: date, wanted: tuple[str, ...]) -> Any:
    evaluation = Evaluation(program.plan, facts, on, program)
    program.run(evaluation, wanted)
    return tuple(ruleset._decisions.of(wanted, evaluation.values, evaluation.deciders).values())


def test_every_scenario_person_it_answers_gets_the_per_output_answer(decree: RuleSet) -> None:
    scenarios, problems = load_scenarios(decree, [SCENARIOS])
    assert not problems
    answered = carried = 0
    for scenario in scenarios:
        program = decree.program(decree.plan(scenario.proposals).proposals)
        for wanted in (tuple(decree.public_outputs), ("status",), ("retributie_mo_bedrag", "verplicht")):
            program.person(wanted, now=True)
            found = program.decide_all(Evaluation(program.plan, dict(scenario.facts), scenario.on, program), wanted)
            if found is not None:
                answered += 1
            else:  # a value not known: the function that carries unknowns
                found = program.carry_all(Evaluation(program.plan, dict(scenario.facts), scenario.on, program), wanted)
                carried += found is not None
            if found is not None:
                assert found == _per_output(decree, program, dict(scenario.facts), scenario.on, wanted), scenario.name
    assert answered > len(scenarios)  # most scenario persons give every fact their outputs read
    assert carried > 20  # and many a scenario leaves facts out


def test_the_demo_person_is_answered_at_once_from_the_second_evaluation() -> None:
    ruleset = RuleSet.load(ROOT / "rules")  # nothing written yet
    facts = _demo(ruleset)
    first = ruleset.evaluate(facts, ON)  # the per-output functions: a one-shot run writes no person's function
    assert first._evaluation is not None and not ruleset.program({}).persons
    second = ruleset.evaluate(facts, ON)
    assert second._evaluation is None  # answered at once: no memo kept
    assert second.decisions == first.decisions and list(second.decisions) == list(first.decisions)
    assert second.to_json() == first.to_json()


def test_the_evaluation_behind_an_answer_at_once_is_the_per_output_one() -> None:
    """Explanations and coverage read the evaluation: rebuilt, it has the same memo and
    rule states as an evaluation by the per-output functions."""
    ruleset = RuleSet.load(ROOT / "rules")
    facts = _demo(ruleset)
    first, second = ruleset.evaluate(facts, ON), ruleset.evaluate(facts, ON)
    assert second._evaluation is None
    assert second.evaluation.values == first.evaluation.values
    assert second.evaluation.deciders == first.evaluation.deciders
    assert second.evaluation.rule_states() == first.evaluation.rule_states()
    for output in ruleset.public_outputs:
        assert second.explain(output).render_text() == first.explain(output).render_text()
    reports = [CoverageReport.for_rules(ruleset) for _ in range(2)]
    reports[0].record(first.evaluation)
    reports[1].record(second.evaluation)
    assert reports[0].render() == reports[1].render()


def test_a_missing_fact_a_conflict_or_an_error_stops_it(decree: RuleSet) -> None:
    program = decree.program({})
    wanted = tuple(decree.public_outputs)
    assert program.person(wanted, now=True) is not None
    facts = _demo(decree)
    assert program.decide_all(Evaluation(program.plan, facts, ON, program), wanted) is not None
    del facts["persoon.geboortedatum"]
    assert program.decide_all(Evaluation(program.plan, facts, ON, program), wanted) is None
    carried = program.carry_all(Evaluation(program.plan, facts, ON, program), wanted)
    assert carried is not None and carried == _per_output(decree, program, facts, ON, wanted)
    result = decree.evaluate(facts, ON, validated=True, exact=False)
    assert result._evaluation is None and "persoon.geboortedatum" in str(result.unknown)
    assert tuple(result.decisions.values()) == carried


def test_the_function_that_carries_unknowns_is_written_only_after_the_persons_function() -> None:
    ruleset = RuleSet.load(ROOT / "rules")
    facts = _demo(ruleset)
    del facts["persoon.geboortedatum"]
    first = ruleset.evaluate(facts, ON, validated=True, exact=False)  # one-shot: nothing written
    assert first._evaluation is not None and not ruleset.program({}).carriers
    second = ruleset.evaluate(facts, ON, validated=True, exact=False)
    assert second._evaluation is None and second.to_json() == first.to_json()
    # its explanations come from the per-output evaluation, rebuilt when asked for
    for output in ruleset.public_outputs:
        assert second.explain(output).render_text() == first.explain(output).render_text()


def test_outputs_are_decided_after_the_outputs_they_read(decree: RuleSet) -> None:
    plan = decree.plan({})
    order = needed(plan, ("status",))
    assert order[-1] == "status" and {"doelgroep", "verplicht"} <= set(order)
    assert order.index("doelgroep") < order.index("verplicht") < order.index("status")
    every = needed(plan, tuple(decree.public_outputs))
    assert len(every) == len(set(every)) and set(every) == set(plan.order) | set(decree.public_outputs)


def test_a_person_function_is_written_once_per_tuple_of_outputs_and_a_rule_set_still_pickles(
        decree: RuleSet) -> None:
    import pickle

    program = decree.program({})
    wanted = ("status", "regime")
    function = program.person(wanted, now=True)
    assert function is not None and program.person(wanted) is function
    copy = pickle.loads(pickle.dumps(decree))
    facts = _demo(decree)
    assert copy.evaluate(facts, ON).decisions == decree.evaluate(facts, ON).decisions
