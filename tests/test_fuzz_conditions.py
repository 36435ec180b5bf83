"""Fuzzing condition texts: every text compiles or fails with a positioned PolicyError, and
every compiled text evaluates (compiled and interpreted) or fails the same way.

The texts are the real conditions of ``rules/`` mutated (tokens of the language and
extreme values inserted, parts deleted or repeated), soups of the language's tokens,
and arbitrary text; each Hypothesis example tries a batch of them against the decree's
own vocabulary, and evaluates those that compile (compiled and interpreted) on the example
person's facts on an ordinary date or at either end of the calendar. See ``fuzzing.py`` for the budget.
"""

from __future__ import annotations

import random
from datetime import date
from functools import lru_cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fuzzing
from engine.errors import PolicyError
from engine.evaluation.general import Evaluation
from engine.language.expression import Expression
from engine.ruleset import RuleSet
from engine.rules.loader import rule_files
from engine.sources.yamlsource import read_document
from engine.values import dumps, render, to_json

DAYS = (date(2024, 3, 1), date(9999, 12, 31), date(1, 1, 1))
BATCH = 20


@lru_cache(maxsize=1)
def ruleset() -> RuleSet:
    return RuleSet.load(fuzzing.ROOT / "rules")


@lru_cache(maxsize=1)
def real_conditions() -> tuple[str, ...]:
    """Every condition text of the decree's rule files."""
    found: list[str] = []

    def walk(part: Any) -> None:
        if isinstance(part, dict):
            for key, value in part.items():
                if key in ("when", "reference_date") and isinstance(value, str):
                    found.append(value)
                elif key == "compute" and isinstance(value, dict):
                    found.extend(text for text in value.values() if isinstance(text, str))
                else:
                    walk(value)
        elif isinstance(part, list):
            for item in part:
                walk(item)

    for path in rule_files(fuzzing.ROOT / "rules"):
        walk(read_document(path).data)
    return tuple(sorted(set(found)))


@lru_cache(maxsize=1)
def facts() -> dict[str, Any]:
    from engine.cli import validated_facts

    return validated_facts(ruleset(), str(fuzzing.ROOT / "examples" / "persoon.yaml"))


@lru_cache(maxsize=1)
def names() -> list[str]:
    return sorted(ruleset().vocabulary.names)


def condition_text(rng: random.Random) -> str:
    kind = rng.choice(["mutated", "mutated", "mutated", "soup", "arbitrary"])
    tokens = fuzzing.CONDITION_TOKENS + fuzzing.HUGE[:6] + ["9999-12-31", "0001-01-01", "2024-02-30"]
    if kind == "arbitrary":
        return fuzzing.random_text(rng, rng.randint(0, 60))
    if kind == "soup":
        return " ".join(rng.choice(tokens if rng.random() < 0.6 else names()) for _ in range(rng.randint(0, 12)))
    text = rng.choice(real_conditions())
    for _ in range(rng.randint(1, 3)):
        start = rng.randint(0, len(text))
        end = rng.randint(start, min(len(text), start + 12))
        action = rng.choice(["insert", "replace", "delete", "repeat"])
        if action == "insert" or action == "replace":
            token = rng.choice(tokens if rng.random() < 0.6 else names())
            text = text[:start] + f" {token} " + text[end if action == "replace" else start:]
        elif action == "delete":
            text = text[:start] + text[end:]
        else:
            text = text[:end] + text[start:end] + text[end:]
    return text


def try_condition(text: str, day: date) -> None:
    try:
        expression = Expression.compile(text, ruleset().vocabulary)
    except Exception as error:
        fuzzing.assert_positioned(error)
        return
    for run in (expression.evaluate, expression.interpret):
        scope = Evaluation(ruleset().plan({}), dict(facts()), day)  # an evaluation is the scope of the evaluation date
        value = fuzzing.expect_policy_errors(lambda: run(scope))
        dumps({"value": to_json(value)})
        render(value)


@pytest.fixture(scope="module", autouse=True)
def counts() -> Any:
    yield
    fuzzing.report()


@fuzzing.budget()
@given(st.randoms(use_true_random=False))
def test_condition_texts_fail_only_with_positioned_policy_errors(rng: random.Random) -> None:
    for _ in range(BATCH):
        text = condition_text(rng)
        try:
            try_condition(text, rng.choice(DAYS))
        except AssertionError as failure:
            raise AssertionError(f"condition {text!r}: {failure}") from None
        fuzzing.tally("condition texts")


@pytest.mark.parametrize("text", [
    "-persoon.geboortedatum", "- (1" + "0" * 60 + ")", "1" + "0" * 60 + " > 1", "99999999 years + evaluation_date",
    "evaluation_date + 1 days", "evaluation_date - 1 days", "age(evaluation_date, evaluation_date + 99 years) > 1",
    "0." + "0" * 60 + "1 == 0", "count([]) / 0 == 1", "9" * 50 + " * " + "9" * 50 + " > 1",
])
def test_extreme_conditions(text: str) -> None:
    for day in DAYS:
        try_condition(text, day)


def test_the_real_conditions_are_found() -> None:
    assert len(real_conditions()) > 50
    for text in real_conditions():  # the mutations start from texts that compile
        Expression.compile(text, ruleset().vocabulary)


def test_a_failure_without_a_position_is_caught_by_the_property() -> None:
    with pytest.raises(AssertionError):
        fuzzing.assert_positioned(PolicyError("no place"))
    with pytest.raises(AssertionError):
        fuzzing.assert_positioned(KeyError("facts"))
