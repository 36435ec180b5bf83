"""pytest collects scenario fixtures: each scenario of ``tests/scenarios/`` is a test item.

Registered through the ``pytest11`` entry point of the package, so it is loaded in every
project that has decree installed, but it collects nothing until a project asks for it,
either in its pytest configuration::

    [pytest]
    decree_rules = rules                 # the rule set, relative to pytest's root directory
    decree_scenarios = tests/scenarios   # the default; setting only this one means rules/

or in a ``conftest.py`` that names the rule set (relative to that file's directory)::

    decree_rules = "rules"

Then the YAML and JSON files under the scenario directory are collected with that rule
set, loaded once per session. A failing scenario reports what ``decree test`` reports; a
bad fixture file or rule set is a collection error with every problem listed. A project
that asks for nothing keeps its own YAML files to itself.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

from engine.errors import PolicyError, flatten
from engine.scenarios.fixtures import Outcome, Scenario, read_fixtures, run
from engine.ruleset import RuleSet

_RULESET = pytest.StashKey["RuleSet | PolicyError"]()
_SETTING = pytest.StashKey["tuple[Path, Path]"]()
DEFAULT_SCENARIOS = "tests/scenarios"
DEFAULT_RULES = "rules"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("decree_rules", "decree: rule set directory; scenario fixtures are collected only when set",
                  default="")
    parser.addini("decree_scenarios", f"decree: directory of scenario fixtures (default {DEFAULT_SCENARIOS})",
                  default="")


def setting(config: pytest.Config) -> tuple[Path, Path] | None:
    """The rule set and the scenario directory a project asked for, or None when it asked
    for neither (the ini option wins over a ``conftest.py``). Not finding one is not
    kept: pytest loads a directory's ``conftest.py`` when it collects there."""
    if config.stash.get(_SETTING, None) is not None:
        return config.stash[_SETTING]
    root = Path(str(config.rootpath))
    rules: Path | None = None
    named = str(config.getini("decree_rules") or "")
    scenarios = str(config.getini("decree_scenarios") or "")
    if named:
        rules = root / named
    else:
        for plugin in config.pluginmanager.get_plugins():
            if isinstance(plugin, ModuleType) and isinstance(getattr(plugin, "decree_rules", None), str) \
                    and plugin.__name__.endswith("conftest") and plugin.__file__:
                rules = Path(plugin.__file__).parent / plugin.decree_rules
                break
    if rules is None and scenarios:
        rules = root / DEFAULT_RULES  # naming the scenarios is asking too
    if rules is None:
        return None
    chosen = config.stash[_SETTING] = (rules, (root / (scenarios or DEFAULT_SCENARIOS)).resolve())
    return chosen


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> "ScenarioFile | None":
    if file_path.suffix not in (".yaml", ".yml", ".json"):  # the files decree test reads
        return None
    chosen = setting(parent.config)
    if chosen is None or chosen[1] not in file_path.resolve().parents:
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def _ruleset(config: pytest.Config) -> RuleSet:
    found = config.stash.get(_RULESET, None)
    if found is None:
        try:
            chosen = setting(config)
            assert chosen is not None  # only collected files ask for the rule set
            found = RuleSet.load(chosen[0])
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
