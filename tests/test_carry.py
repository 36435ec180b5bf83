"""The person's function that carries unknowns (engine.evaluation.person with ``carry``)
weighs what rules that may apply give as the general path does, without handing over.

Rule sets where exceptions of their own order may apply (their conditions read a missing
fact) and the base rule surely applies: the output is decided when every value that may
be given has the same key (by no single rule), and unknown on the exceptions' missing
facts otherwise. Each case is checked against the general path (the oracle), and the
carrier must answer it itself (no output handed to its per-output function).
tests/test_differential.py covers the same on random rule sets; these cases are the
combinations it draws too rarely to fail on a wrong shortcut.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.evaluation.general import Evaluation
from engine.ruleset import RuleSet
from engine.values import Unknown

ON = date(2024, 3, 1)
SOURCE = {"instrument": "Generated"}


def _rule(rule_id: str, version: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"id": rule_id, "title": rule_id, "source": dict(SOURCE), **more,
            "versions": [{"from": date(2000, 1, 1), **version}]}


def _ruleset(tmp_path: Path, exceptions: list[dict[str, Any]], base: dict[str, Any]) -> RuleSet:
    rules = [_rule("basis", base)]
    for order, version in enumerate(exceptions, start=1):
        rules.append(_rule(f"uitzondering{order}", version, exception_to=["basis"], order=order))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({
        "vocabulary": {"facts": {"f.a": {"type": "bool"}, "f.b": {"type": "bool"}, "f.n": {"type": "number"},
                                 "f.m": {"type": "number"}},
                       "outputs": {"x": {"type": "number"}}},
        "rules": rules}, sort_keys=False))
    return RuleSet.load(tmp_path)


def _oracle(ruleset: RuleSet, facts: dict[str, Any]) -> Any:
    value = Evaluation(ruleset.plan({}), facts, ON).value_of("x")
    return ("unknown", tuple(sorted(value.missing))) if type(value) is Unknown else value


def _carried(ruleset: RuleSet, facts: dict[str, Any]) -> Any:
    program = ruleset.program({})
    program.person(("x",), now=True)
    found = program.carry_all(Evaluation(program.plan, facts, ON, program), ("x",))
    assert found is not None
    assert not program.functions, "an output was handed to its per-output function"
    (decision,) = found
    result = ruleset.evaluate(facts, ON, exact=False, outputs=["x"])
    assert result.decisions["x"] == decision  # the facade answers by it, alike
    return ("unknown", decision.missing) if decision.status == "unknown" else decision.value


CASES = {
    # two exceptions that may apply, giving values that differ: unknown on both facts
    "literals that differ": ([{"when": "f.a", "set": {"x": 1}}, {"when": "f.b", "set": {"x": 2}}],
                             {"set": {"x": 1}}, {}, ("unknown", ("f.a", "f.b"))),
    # every value that may be given is the base's: decided, by no single rule
    "literals that agree": ([{"when": "f.a", "set": {"x": 1}}, {"when": "f.b", "set": {"x": 1}}],
                            {"set": {"x": 1}}, {}, 1),
    # the base gives another value than the exceptions that may apply
    "the base differs": ([{"when": "f.a", "set": {"x": 2}}], {"set": {"x": 1}}, {}, ("unknown", ("f.a",))),
    # computed values that may be given, known and different
    "computed values that differ": ([{"when": "f.a", "compute": {"x": "f.n + 1"}},
                                     {"when": "f.b", "compute": {"x": "f.n + 2"}}],
                                    {"set": {"x": 11}}, {"f.n": 10}, ("unknown", ("f.a", "f.b"))),
    "computed values that agree": ([{"when": "f.a", "compute": {"x": "f.n + 1"}},
                                    {"when": "f.b", "compute": {"x": "f.n + 1"}}],
                                   {"set": {"x": 11}}, {"f.n": 10}, 11),
    # a value that may be given is itself unknown: any value is possible
    "a computed value unknown": ([{"when": "f.a", "compute": {"x": "f.m + 1"}},
                                  {"when": "f.b", "set": {"x": 1}}],
                                 {"set": {"x": 1}}, {}, ("unknown", ("f.a", "f.b", "f.m"))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_that_rules_that_may_apply_give_are_weighed_as_the_general_path_does(tmp_path: Path,
                                                                                      case: str) -> None:
    exceptions, base, facts, expected = CASES[case]
    ruleset = _ruleset(tmp_path, exceptions, base)
    assert _oracle(ruleset, facts) == expected
    assert _carried(ruleset, facts) == expected
