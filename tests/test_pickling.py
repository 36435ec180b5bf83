"""A rule set can be pickled at any time, also after it has evaluated (its plans and
generated code are rebuilt where it lands, never pickled), so it can be sent to worker
processes. Results after the round trip equal the original's, for every scenario person."""

from __future__ import annotations

import multiprocessing
import pickle
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.ruleset import RuleSet
from engine.scenarios.runner import load_scenarios

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def decree() -> RuleSet:
    return RuleSet.load(ROOT / "rules")


@pytest.fixture(scope="module")
def persons(decree: RuleSet) -> list[tuple[dict[str, Any], date, dict[str, Any]]]:
    scenarios, problems = load_scenarios(decree, [ROOT / "tests" / "scenarios"])
    assert not problems and len(scenarios) > 100
    return [(dict(s.facts), s.on, dict(s.proposals)) for s in scenarios]


def decide(ruleset: RuleSet, persons: list[tuple[dict[str, Any], date, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [ruleset.evaluate(facts, on, proposals).to_json() for facts, on, proposals in persons]


def test_a_fresh_rule_set_round_trips(decree: RuleSet, persons: list[Any]) -> None:
    fresh = RuleSet.load(ROOT / "rules")
    copy = pickle.loads(pickle.dumps(fresh))
    assert copy is not fresh and copy.content_hash == fresh.content_hash
    assert decide(copy, persons) == decide(decree, persons)


def test_a_rule_set_that_has_evaluated_round_trips(decree: RuleSet, persons: list[Any]) -> None:
    expected = decide(decree, persons)  # plans, generated code and shared decisions now exist
    data = pickle.dumps(decree)
    assert b"def " not in data and len(data) < 2 * sum(len(t.text) for t in decree.loaded.texts)
    copy = pickle.loads(data)
    assert decide(copy, persons) == expected
    assert copy.warnings == decree.warnings and copy.public_outputs == decree.public_outputs
    assert pickle.loads(pickle.dumps(copy)).content_hash == decree.content_hash  # and again


def _decide_in_worker(job: tuple[RuleSet, list[Any]]) -> list[dict[str, Any]]:
    ruleset, persons = job
    return decide(ruleset, persons)


def test_a_rule_set_goes_to_worker_processes(decree: RuleSet, persons: list[Any]) -> None:
    expected = decide(decree, persons)
    halves = [persons[: len(persons) // 2], persons[len(persons) // 2:]]
    # spawn: each worker gets the rule set by pickle, not by a forked copy of memory
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        got = pool.map(_decide_in_worker, [(decree, half) for half in halves])
    assert got[0] + got[1] == expected


def test_unpickling_takes_the_cache_s_entry_when_there_is_one(decree: RuleSet, persons: list[Any], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("DECREE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DECREE_NO_CACHE", "1")
    data = pickle.dumps(decree)
    pickle.loads(data)
    assert not (tmp_path / "cache").exists()  # switched off: nothing written
    monkeypatch.delenv("DECREE_NO_CACHE")
    pickle.loads(data)  # writes the entry
    assert len(list((tmp_path / "cache").glob("*.ruleset"))) == 1

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("loaded from the texts, not from the cache")

    monkeypatch.setattr(cache, "load_texts", fail)
    copy = pickle.loads(data)
    assert decide(copy, persons) == decide(decree, persons)
