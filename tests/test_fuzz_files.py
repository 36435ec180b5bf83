"""Fuzzing fact, scenario and rule files: mutations of the real ones fail only with
positioned PolicyErrors, along the whole way the command line takes them.

- facts: the facts of every scenario in ``tests/scenarios/`` and ``examples/``, written as
  YAML and as JSON, mutated, then read, validated, evaluated, written as JSON and
  explained (``decree eval --format json --explain``);
- scenarios: the files of ``tests/scenarios/``, mutated, read and run (``decree test``);
- rules: one file of ``rules/`` mutated among the others, loaded and checked (``decree
  check``), and when it still loads, evaluated for the example person.

The property is :func:`fuzzing.assert_positioned`; the budget is in ``fuzzing.py``.
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import fuzzing
from engine.errors import InputError, PolicyErrors, flatten
from engine.reports.explain import explain, render_text
from engine.ruleset import RuleSet
from engine.scenarios.fixtures import read_fixtures, run
from engine.sources.yamlsource import Limits, parse_document, read_document
from engine.values import dumps

# small limits, so that mutations also cross them
LIMITS = Limits(file_bytes=200_000, string_chars=2_000, collection_items=500)
BATCH = 5


@lru_cache(maxsize=1)
def ruleset() -> RuleSet:
    return RuleSet.load(fuzzing.ROOT / "rules", limits=LIMITS)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@lru_cache(maxsize=1)
def fact_texts() -> tuple[str, ...]:
    texts = [(fuzzing.ROOT / "examples" / "persoon.yaml").read_text(encoding="utf-8")]
    for path in sorted((fuzzing.ROOT / "tests" / "scenarios").glob("*.yaml")):
        for scenario in read_document(path).data["scenarios"]:
            facts = _plain(scenario.get("facts") or {})
            texts.append(yaml.safe_dump(facts, allow_unicode=True, sort_keys=False))
            texts.append(json.dumps(facts, indent=1, default=str, ensure_ascii=False))
    return tuple(texts)


@lru_cache(maxsize=1)
def scenario_files() -> tuple[tuple[str, str], ...]:
    return tuple((path.name, path.read_text(encoding="utf-8"))
                 for path in sorted((fuzzing.ROOT / "tests" / "scenarios").glob("*.yaml")))


@lru_cache(maxsize=1)
def rule_files() -> tuple[tuple[str, str], ...]:
    root = fuzzing.ROOT / "rules"
    return tuple((str(path.relative_to(root)), path.read_text(encoding="utf-8"))
                 for path in sorted(root.rglob("*.yaml")))


def eval_facts(text: str, on: date, output: str, name: str) -> None:
    """What ``decree eval FACTS --format json --explain`` and ``decree explain`` do."""
    rules = ruleset()
    document = parse_document(text, name, InputError, keep_going=True, limits=LIMITS)
    where: tuple[Any, ...] = ()
    if isinstance(document.data, dict) and isinstance(document.data.get("facts"), dict):
        where = ("facts",)
    elif document.data is not None and not isinstance(document.data, dict):
        raise InputError("a facts file holds a mapping of facts", document.span(()))
    facts = rules.facts_from(document, where)
    if document.problems:
        raise PolicyErrors(document.problems)
    result = rules.evaluate(facts, on, validated=True)
    dumps(result.to_json())
    # every explanation as JSON data; written out for one (json's pure-Python encoder with
    # indentation costs more than all the rest, and exercises nothing of ours)
    explanations = {name: explain(result, name).to_json() for name in result.decisions}
    dumps(explanations[output] if output in explanations else {})
    render_text(explain(result, output))


@pytest.fixture(scope="module", autouse=True)
def counts() -> Any:
    yield
    fuzzing.report()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


DAYS = [date(2024, 3, 1), date(2014, 1, 1), date(9999, 12, 31), date(1, 1, 1)]


@fuzzing.budget(0.2)
@given(st.randoms(use_true_random=False))
def test_mutated_facts_files(rng: random.Random) -> None:
    outputs = sorted(ruleset().public_outputs)
    for _ in range(BATCH):
        base = rng.choice(fact_texts())
        text = fuzzing.mutate_text(base, rng, extra=[f"{name}: 1" for name in ("persoon.x", "p", "persoon")])
        name = "f.json" if base.startswith("{") else "f.yaml"
        try:
            fuzzing.expect_policy_errors(lambda: eval_facts(text, rng.choice(DAYS), rng.choice(outputs), name))
        except AssertionError as failure:
            raise AssertionError(f"facts file {text!r}: {failure}") from None
        fuzzing.tally("facts files")


@fuzzing.budget(0.05)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_scenario_files(rng: random.Random, workspace: Path) -> None:
    folder = workspace / "scenarios"
    folder.mkdir(exist_ok=True)
    name, base = rng.choice(scenario_files())
    path = folder / name
    path.write_text(fuzzing.mutate_text(base, rng), encoding="utf-8")

    def read_and_run() -> None:
        scenarios, problems = read_fixtures(path, ruleset())
        for problem in problems:
            fuzzing.assert_positioned(problem)
        for scenario in rng.sample(scenarios, min(3, len(scenarios))):
            outcome = run(scenario, ruleset())
            if outcome.error is not None:
                fuzzing.assert_positioned(outcome.error)
            outcome.report()

    try:
        fuzzing.expect_policy_errors(read_and_run)
    except AssertionError as failure:
        raise AssertionError(f"scenario file {path.read_text(encoding='utf-8')!r}: {failure}") from None
    fuzzing.tally("scenario files")


@fuzzing.budget(0.01, least=10)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_rule_files(rng: random.Random, workspace: Path) -> None:
    folder = workspace / "rules"  # a copy of rules/ in which one file at a time is mutated
    if not folder.exists():
        shutil.copytree(fuzzing.ROOT / "rules", folder)
    for original, text in rule_files():
        (folder / original).write_text(text, encoding="utf-8")
    name, base = rng.choice(rule_files())
    (folder / name).write_text(fuzzing.mutate_text(base, rng), encoding="utf-8")

    def check_and_evaluate() -> None:
        rules, problems = RuleSet.check(folder, limits=LIMITS)
        for problem in flatten(problems):
            fuzzing.assert_positioned(problem)
        if rules is not None:
            facts = ruleset().facts_from(read_document(fuzzing.ROOT / "examples" / "persoon.yaml"))
            on = rng.choice(DAYS)
            result = rules.evaluate({k: v for k, v in facts.items() if k in rules.vocabulary.names}, on,
                                    validated=True)
            dumps(result.to_json())
            for output in result.decisions:
                render_text(explain(result, output))

    try:
        fuzzing.expect_policy_errors(check_and_evaluate)
    except AssertionError as failure:
        raise AssertionError(f"rule file {name}: {(folder / name).read_text(encoding='utf-8')!r}: {failure}") from None
    fuzzing.tally("rule files")
