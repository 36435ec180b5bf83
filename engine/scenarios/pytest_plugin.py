"""pytest collects scenario fixtures: each scenario of ``tests/scenarios/`` is a test item.

Registered through the ``pytest11`` entry point of the package, so ``pytest`` in a
project that has decree installed collects the YAML files under the directory named by
the ``decree_scenarios`` ini option (default ``tests/scenarios``) with the rule set of
``decree_rules`` (default ``rules``), both relative to pytest's root directory. The rule
set is loaded once per session. A failing scenario reports what ``decree test`` reports;
a bad fixture file or rule set is a collection error with every problem listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from engine.errors import PolicyError, flatten
from engine.scenarios.fixtures import Outcome, Scenario, read_fixtures, run
from engine.ruleset import RuleSet

_RULESET = pytest.StashKey["RuleSet | PolicyError"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("decree_rules", "rule set directory for scenario fixtures", default="rules")
    parser.addini("decree_scenarios", "directory of scenario fixtures", default="tests/scenarios")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> "ScenarioFile | None":
    if file_path.suffix not in (".yaml", ".yml", ".json"):  # the files decree test reads
        return None
    scenarios = (Path(str(parent.config.rootpath)) / parent.config.getini("decree_scenarios")).resolve()
    if scenarios not in file_path.resolve().parents:
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def _ruleset(config: pytest.Config) -> RuleSet:
    found = config.stash.get(_RULESET, None)
    if found is None:
        try:
            found = RuleSet.load(Path(str(config.rootpath)) / config.getini("decree_rules"))
        except PolicyError as error:
            found = error
        config.stash[_RULESET] = found
    if isinstance(found, PolicyError):
        raise FixtureError("the rule set has errors:\n" + "\n".join(e.render() for e in flatten([found])))
    return found


class FixtureError(Exception):
    """A bad fixture file or rule set: reported as a collection error, without traceback."""


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator["ScenarioItem"]:
        ruleset = _ruleset(self.config)
        scenarios, problems = read_fixtures(self.path, ruleset)
        if problems:
            raise FixtureError("\n".join(p.render() for p in problems))
        for scenario in scenarios:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, FixtureError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class ScenarioFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.report())
        self.outcome = outcome


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        outcome = run(self.scenario, _ruleset(self.config))
        if not outcome.passed:
            raise ScenarioFailed(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (ScenarioFailed, FixtureError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, f"scenario: {self.scenario.name}"
