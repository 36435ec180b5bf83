"""The generated fast path (engine.evaluation.codegen) against the general path of the evaluator,
and the hygiene of the code it generates.

The conformance suite and the language properties run every expression through the
inlined code as well; here the subject is whole rule sets: each output decided by its
generated function equals the output resolved from sets of possible outcomes, for every
scenario of tests/scenarios and the decree in rules/.
"""

from __future__ import annotations

import dataclasses
import io
import keyword
import re
import tokenize
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.evaluation import codegen as fastpath
from engine.evaluation.general import Evaluation
from engine.language.expression import Expression, TestScope, Vocabulary
from engine.ruleset import RuleSet
from engine.scenarios.runner import load_scenarios

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"


@pytest.fixture(scope="module")
def decree() -> RuleSet:
    return RuleSet.load(ROOT / "rules")


def _scenarios(ruleset: RuleSet) -> list[Any]:
    scenarios, problems = load_scenarios(ruleset, [SCENARIOS])
    assert not problems and scenarios
    return scenarios


def _evaluation(ruleset: RuleSet, scenario: Any) -> Evaluation:
    plan = ruleset.plan(ruleset.consolidation(scenario.proposals).proposals)
    return Evaluation(plan, dict(scenario.facts), scenario.on)


def test_every_output_of_every_scenario_is_the_same_on_both_paths(decree: RuleSet) -> None:
    compared = 0
    for scenario in _scenarios(decree):
        fast, general = _evaluation(decree, scenario), _evaluation(decree, scenario)
        for output in decree.order:  # dependencies first, so the general path reads its own results
            value = fast.value_of(output)
            assert general.resolve(output) == value, f"{scenario.name}: {output}"
            assert general.deciders.get(output) == fast.deciders.get(output), f"{scenario.name}: {output}"
            compared += 1
    assert compared > 1000


def test_a_person_with_every_fact_never_leaves_the_fast_path(monkeypatch: Any) -> None:
    """The demo person (examples/persoon.yaml) gives every fact the decree reads."""
    from engine.cli import validated_facts

    ruleset = RuleSet.load(ROOT / "rules")  # no function generated yet
    facts = validated_facts(ruleset, str(ROOT / "examples" / "persoon.yaml"))

    def general_path(self: Evaluation, output: str) -> Any:
        raise AssertionError(f"{output} went to the general path")

    monkeypatch.setattr(Evaluation, "resolve", general_path)
    result = ruleset.evaluate(facts, date(2024, 3, 1), validated=True)
    assert result.outputs["status"] == "verplicht" and not result.unknown


def test_inlined_code_does_not_call_the_closure_when_the_values_are_known() -> None:
    vocabulary = Vocabulary.from_declarations({"persoon.geboortedatum": "date", "inschrijving.gewest": "text",
                                               "persoon.talen": "list of text"})
    text = ("age(persoon.geboortedatum, evaluation_date) >= 18 and inschrijving.gewest in ['vlaanderen', 'brussel'] "
            "and not persoon.talen is none")
    expression = Expression.compile(text, vocabulary)

    def closure_called(scope: Any) -> Any:
        raise AssertionError("fell back to the closure")

    inlined = fastpath.fast_function(dataclasses.replace(expression, closure=closure_called))
    known = TestScope(facts={"persoon.geboortedatum": date(1990, 5, 1), "inschrijving.gewest": "brussel",
                             "persoon.talen": ("nl",)})
    assert inlined(known) is True
    with pytest.raises(AssertionError, match="fell back"):  # a missing fact bails to the closure
        inlined(TestScope(facts={"inschrijving.gewest": "brussel", "persoon.talen": ("nl",)}))


ALLOWED_NAMES = {
    # the locals and helpers of the templates
    "ev", "states", "facts", "values", "scope", "s", "a", "v", "r", "missing", "reference", "applies", "version",
    "decide", "probe", "evaluate", "run", "type", "Unknown", "Bail", "UNDECIDED", "GONE", "_bail", "_output", "_known",
    "_arithmetic", "_overlap", "age_on",
    # attributes of the evaluation and its scopes
    "on", "base_scope", "scopes", "get", "scope_on", "scope_of", "deciders", "resolve", "constant", "evaluation_date",
    "reference_date", "decided", "partial", "out", "shared", "make", "unknown",
}


def _generated(ruleset: RuleSet) -> list[str]:
    for scenario in _scenarios(ruleset):
        ruleset.evaluate(scenario.facts, scenario.on, scenario.proposals)
    sources = []
    for plan in ruleset._plans.values():
        for function in list(plan.probes.values()) + list(plan.outputs.values()) + list(plan.runs.values()):
            sources.append(getattr(function, "decree_source", ""))
    return [s for s in sources if s]


def test_generated_code_holds_no_text_from_the_rule_files(decree: RuleSet) -> None:
    """Rule ids, names and values are bound objects: the source has no string literal,
    and every name in it is generated (k12, t3, r0, o1) or one of the templates' own."""
    sources = _generated(decree)
    assert len(sources) > 100
    for source in sources:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            assert token.type != tokenize.STRING, f"string literal in generated code: {token.string}"
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                name = token.string
                generated = re.fullmatch(r"(k|t|r|o|f|found)[0-9]+", name) is not None
                assert generated or name in ALLOWED_NAMES, f"unexpected name {name!r} in:\n{source}"


def test_inlined_age_of_none_and_unknown_is_unknown_as_on_the_closures() -> None:
    # found by test_language_properties: the inlined age() tested its first argument for
    # none before reading the second, so none won over an unknown; the closures say unknown
    vocabulary = Vocabulary.from_declarations({"persoon.d1": "date", "persoon.d2": "date"})
    expression = Expression.compile("age(persoon.d2 + 0 days, persoon.d1)", vocabulary)
    scope = TestScope(facts={"persoon.d2": None})
    reference = expression.interpret(scope)
    assert reference == expression.evaluate(scope) and type(reference).__name__ == "Unknown"
    assert fastpath.fast_function(expression)(scope) == reference
