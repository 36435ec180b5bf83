"""The generated code (engine.evaluation.codegen) against the general path, and the
hygiene of the code it generates.

The conformance suite and the language properties run every expression through a
one-rule plan's generated function as well, and tests/test_differential.py compares the
backends on random rule sets; here the subject is the decree: each output decided by
its generated function equals the output resolved by the general path alone, for every
scenario of tests/scenarios.
"""

from __future__ import annotations

import dataclasses
import io
import keyword
import re
import tokenize
from datetime import date
from typing import Any

from conftest import ROOT, SCENARIOS, generated_value

from engine.evaluation import runtime
from engine.evaluation.codegen import generated_person_source, generated_source
from engine.evaluation.general import Evaluation
from engine.language.expression import Expression, TestScope, Vocabulary
from engine.ruleset import RuleSet
from engine.scenarios.runner import load_scenarios
from engine.values import Unknown


def _scenarios(ruleset: RuleSet) -> list[Any]:
    scenarios, problems = load_scenarios(ruleset, [SCENARIOS])
    assert not problems and scenarios
    return scenarios


def test_every_output_of_every_scenario_is_the_same_on_both_paths(decree: RuleSet) -> None:
    compared = 0
    for scenario in _scenarios(decree):
        program = decree.program(decree.plan(scenario.proposals).proposals)
        fast = Evaluation(program.plan, dict(scenario.facts), scenario.on, program)
        general = Evaluation(program.plan, dict(scenario.facts), scenario.on)  # the general path alone
        for output in decree.order:
            assert general.value_of(output) == fast.value_of(output), f"{scenario.name}: {output}"
            assert general.deciders.get(output) == fast.deciders.get(output), f"{scenario.name}: {output}"
            compared += 1
    assert compared > 1000


def test_a_person_with_every_fact_never_leaves_the_generated_code(monkeypatch: Any) -> None:
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

    inlined = dataclasses.replace(expression, closure=closure_called)
    known = TestScope(facts={"persoon.geboortedatum": date(1990, 5, 1), "inschrijving.gewest": "brussel",
                             "persoon.talen": ("nl",)})
    assert generated_value(inlined, known) is True
    # a missing fact is carried, not handed to the closure: unknown on that fact
    missing = generated_value(inlined, TestScope(facts={"inschrijving.gewest": "brussel", "persoon.talen": ("nl",)}))
    assert type(missing) is Unknown and missing.missing == {"persoon.geboortedatum"}


# the locals of the templates; everything else is a runtime name or an attribute of the evaluation
TEMPLATE_NAMES = {"ev", "states", "facts", "values", "deciders", "scope", "s", "a", "v", "reference", "applies",
                  "decide", "get", "import", "from", "decide_all", "on", "m", "y"}
ALLOWED_NAMES = TEMPLATE_NAMES | set(runtime.exported) | set(runtime.EVALUATION_ATTRIBUTES) \
    | set(runtime.RuleState._fields) | {"engine", "evaluation", "runtime"}


def _generated(ruleset: RuleSet) -> list[str]:
    plan = ruleset.plan({})
    return [generated_source(plan, output) for output in plan.outputs] + [
        generated_person_source(plan, tuple(ruleset.public_outputs))]  # the function of a whole person


def test_generated_code_holds_no_text_from_the_rule_files(decree: RuleSet) -> None:
    """Rule ids, names and values are bound objects: the source has no string literal,
    and every name in it is generated (k12, t3, f0, found0) or one the runtime contract lists."""
    sources = _generated(decree)
    assert len(sources) > 20
    for source in sources:
        code = source[source.index("\ndef "):]  # after the import line and the comments that list bound objects
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            assert token.type != tokenize.STRING, f"string literal in generated code: {token.string}"
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                name = token.string
                # o, r, a, v, d: an output's value and rule, a rule's state, in a person's function
                generated = re.fullmatch(r"(k|t|f|g|found|by|o|r|a|v|d)[0-9]+", name) is not None
                assert generated or name in ALLOWED_NAMES, f"unexpected name {name!r} in:\n{source}"


def test_the_printed_source_imports_exactly_the_runtime_names(decree: RuleSet) -> None:
    source = generated_source(decree.plan({}), "status")
    first = source.splitlines()[0]
    assert first.startswith("from engine.evaluation.runtime import ")
    names = set(first.split(" import ")[1].split(", "))
    assert names == set(runtime.exported) - {"type"}
    assert "def decide(ev):" in source


def test_inlined_age_of_none_and_unknown_is_unknown_as_on_the_closures() -> None:
    # found by test_language_properties: the inlined age() tested its first argument for
    # none before reading the second, so none won over an unknown; the closures say unknown
    vocabulary = Vocabulary.from_declarations({"persoon.d1": "date", "persoon.d2": "date"})
    expression = Expression.compile("age(persoon.d2 + 0 days, persoon.d1)", vocabulary)
    scope = TestScope(facts={"persoon.d2": None})
    reference = expression.interpret(scope)
    assert reference == expression.evaluate(scope) and type(reference).__name__ == "Unknown"
    assert generated_value(expression, scope) == reference
