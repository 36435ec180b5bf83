"""The plan (engine.evaluation.plan): the exception trees every backend executes."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

from engine.evaluation.plan import Branch, OutputPlan, Plan
from engine.ruleset import RuleSet

RULESETS = Path(__file__).parent / "rulesets"


def _shape(groups: tuple[tuple[Branch, ...], ...]) -> list[list[object]]:
    return [[(b.rule.id, _shape(b.exceptions)) if b.exceptions else b.rule.id for b in group] for group in groups]


def test_the_plan_holds_each_outputs_exception_tree() -> None:
    plan = RuleSet.load(RULESETS / "exceptions").plan({})
    assert isinstance(plan, Plan)
    verplicht = plan.outputs["verplicht"]
    assert isinstance(verplicht, OutputPlan)
    assert _shape(verplicht.groups) == [[("basis", [["vrijstelling.eu"], [("vrijstelling.ziek",
                                                                              [["herplicht.bedienaar"]])]])]]
    # 'grond' is set by the two exemptions only: they are the top of its tree
    assert _shape(plan.outputs["grond"].groups) == [["vrijstelling.eu"], ["vrijstelling.ziek"]]
    assert [b.rule.id for b in verplicht.branches()] == ["vrijstelling.eu", "herplicht.bedienaar",
                                                          "vrijstelling.ziek", "basis"]
    assert plan.order.index("verplicht") < plan.order.index("status")


def test_a_rule_plan_finds_the_version_in_force() -> None:
    plan = RuleSet.load(RULESETS / "exceptions").plan({})
    ziek = plan.rules["vrijstelling.ziek"]
    assert ziek.reference_date is not None and ziek.reference_date.text == "inschrijving.datum"
    assert [(v.start, v.until) for v in ziek.versions] == [(date(2014, 1, 1), date(2022, 3, 1)),
                                                           (date(2022, 3, 1), None)]
    assert ziek.version_at(date(2013, 12, 31)) is None
    assert ziek.version_at(date(2022, 2, 28)) is ziek.versions[0]
    assert ziek.version_at(date(2022, 3, 1)) is ziek.versions[1]
    assert ziek.versions[1].sets == {"verplicht": False, "grond": "ziek"} and ziek.versions[1].gives("grond")


def test_outputs_are_companions_only_when_every_version_sets_them_all() -> None:
    plan = RuleSet.load(RULESETS / "exceptions").plan({})
    # 'verplicht' and 'grond' have different trees: never companions
    assert plan.outputs["verplicht"].companions == () and plan.outputs["grond"].companions == ()


def test_a_plan_pickles() -> None:
    plan = RuleSet.load(RULESETS / "exceptions").plan({})
    again = pickle.loads(pickle.dumps(plan))
    assert list(again.outputs) == list(plan.outputs)
