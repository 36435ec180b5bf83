"""Scenarios kept in tests/pending/ wait for an engine feature on another branch (the
"exactly decided" mechanism of issue 13); they are not run, but they must stay valid
fixtures against today's rule set, so that moving them to tests/scenarios/ is all that
is left to do once the feature is merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ruleset import RuleSet
from engine.scenarios.fixtures import read_fixtures

ROOT = Path(__file__).resolve().parent.parent
PENDING = sorted((ROOT / "tests" / "pending").glob("*.yaml"))


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return RuleSet.load(ROOT / "rules")


@pytest.mark.parametrize("path", PENDING, ids=[p.name for p in PENDING])
def test_pending_fixtures_are_valid(path: Path, ruleset: RuleSet) -> None:
    scenarios, problems = read_fixtures(path, ruleset)
    assert not problems, "\n".join(p.render() for p in problems)
    assert scenarios
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=../../schemas/fixture.schema.json\n")
