"""pytest collects scenario fixtures: each scenario is a test item, reported as ``decree test`` does.

Small projects are built in temporary directories (a copy of the rule set of
``tests/fixture_cases/rules/`` as ``rules/``, fixture files under ``tests/scenarios/``,
and a ``pytest.ini``), and ``python -m pytest`` runs in each as a subprocess, once per
module; the plugin comes in through the package's ``pytest11`` entry point. ``decree
test`` runs in-process in the same directories, with its defaults.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT

from engine.cli import main

CASES = ROOT / "tests" / "fixture_cases"
HEADER = re.compile(r"^(?P<file>\S+):(?P<line>\d+): FAILED: (?P<name>.*) \(on [0-9-]+.*\)$")
DECREE_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed( in \d+\.\d\ds)?$")

PASSING = "passing/comparisons.yaml"
WRONG_VALUE = "failing/wrong_value.yaml"
FAILING = "failing/comparisons.yaml"
EVALUATION_ERROR = "failing/evaluation_error.yaml"
TWO_MISMATCHES = "failing/two_mismatches.yaml"


def names(case: str) -> list[str]:
    return re.findall(r"^  - name: (.*)$", (CASES / case).read_text(encoding="utf-8"), re.M)


def project(root: Path, scenarios: dict[str, str], ini: str = "[pytest]\ndecree_rules = rules\n", rules: str = "rules",
            directory: str = "tests/scenarios") -> Path:
    """A project in ``root``: the rule set as ``rules``, fixture cases copied into ``directory``."""
    shutil.copytree(CASES / "rules", root / rules)
    for name, case in scenarios.items():
        target = root / directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CASES / case, target)
    (root / "pytest.ini").write_text(ini, encoding="utf-8")
    return root


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["COLUMNS"] = "200"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def pytest_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # hypothesis's plugin only costs start-up time here
    return run(cwd, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
               *args)


Done = subprocess.CompletedProcess[str]


def collected(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if "::" in line]


def pytest_counts(output: str) -> tuple[int, int]:
    last = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)][-1]
    passed = re.search(r"(\d+) passed", last)
    failed = re.search(r"(\d+) failed", last)
    return int(passed.group(1)) if passed else 0, int(failed.group(1)) if failed else 0


def reports(output: str, prefix: str = "") -> dict[str, str]:
    """Each scenario report in ``output``, by scenario name, with ``prefix`` taken out."""
    found: dict[str, str] = {}
    lines = output.replace(prefix, "").splitlines()
    for index, line in enumerate(lines):
        match = HEADER.match(line)
        if not match:
            continue
        end = index + 1
        while end < len(lines) and lines[end].startswith("  "):
            end += 1
        found[match["name"]] = "\n".join(lines[index:end])
    return found


FOREIGN_YAML = """\
# a scenario of some other tool, not a decree fixture
scenarios:
  - steps: [open, login]
    expect: {page: home}
"""

FOREIGN_TEST = """\
from pathlib import Path


def test_own_scenarios_are_read_by_the_project():
    assert "login" in (Path(__file__).parent / "scenarios" / "login.yaml").read_text()
"""

BOTH = {"comparisons.yaml": PASSING, "wrong_value.yaml": WRONG_VALUE, "failing.yaml": FAILING,
        "evaluation_error.yaml": EVALUATION_ERROR, "two_mismatches.yaml": TWO_MISMATCHES}


def decree_in_process(root: Path) -> Done:
    """``decree test`` with its defaults (``rules/``, ``tests/scenarios/``) in ``root``."""
    before = os.getcwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(main, ["test"], catch_exceptions=False)
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(["decree", "test"], result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Done]]:
    """Every project of this module and what pytest printed in each, by key; pytest runs
    as subprocesses, two at a time."""
    jobs: dict[str, tuple[Path, tuple[str, ...]]] = {}
    # pytest.ini names rules/; tests/scenarios/ is the default
    collect = project(tmp_path_factory.mktemp("collect"), {"comparisons.yaml": PASSING,
                                                           "wrong_value.yaml": WRONG_VALUE})
    # a fixture file outside tests/scenarios/ is not collected, even a bad one
    (collect / "tests" / "other").mkdir()
    shutil.copyfile(CASES / "errors" / "unknown_output.yaml", collect / "tests" / "other" / "bad.yaml")
    jobs["collect"] = (collect, ("--collect-only",))
    # the rule set named in pytest.ini
    jobs["both"] = (project(tmp_path_factory.mktemp("both"), BOTH, "[pytest]\ndecree_rules = rules\n"), ())
    jobs["bad fixture"] = (project(tmp_path_factory.mktemp("bad"), {
        "unknown_output.yaml": "errors/unknown_output.yaml", "wrong_value.yaml": WRONG_VALUE}), ())
    broken = project(tmp_path_factory.mktemp("broken"), {"wrong_value.yaml": WRONG_VALUE})
    rules = broken / "rules" / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("when: persoon.leeftijd >= 18",
                                                               "when: persoon.leeftyd >= 18"), encoding="utf-8")
    jobs["bad rules"] = (broken, ())
    jobs["other directories"] = (project(tmp_path_factory.mktemp("other"), {"wrong_value.yaml": WRONG_VALUE},
                                         ini="[pytest]\ndecree_rules = policy\ndecree_scenarios = checks\n",
                                         rules="policy", directory="checks"), ("--collect-only",))
    jobs["json"] = (project(tmp_path_factory.mktemp("json"), {"scenarios.json": "json/scenarios.json",
                                                              "wrong_value.yaml": WRONG_VALUE}), ("--collect-only",))
    # a project that does not ask for decree: its own YAML under tests/scenarios is its own
    foreign = tmp_path_factory.mktemp("foreign")
    (foreign / "tests" / "scenarios").mkdir(parents=True)
    (foreign / "tests" / "scenarios" / "login.yaml").write_text(FOREIGN_YAML, encoding="utf-8")
    (foreign / "tests" / "scenarios" / "data.json").write_text('{"steps": [1, 2]}', encoding="utf-8")
    (foreign / "tests" / "test_own.py").write_text(FOREIGN_TEST, encoding="utf-8")
    (foreign / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    jobs["foreign"] = (foreign, ("-v", "-v"))  # -q comes first
    # a conftest.py names the rule set instead of the ini file
    conftest = project(tmp_path_factory.mktemp("conftest"), {"wrong_value.yaml": WRONG_VALUE}, ini="[pytest]\n")
    (conftest / "conftest.py").write_text('decree_rules = "rules"\n', encoding="utf-8")
    jobs["conftest"] = (conftest, ("--collect-only",))
    # naming only the scenario directory asks for the plugin too, with rules/
    jobs["scenarios only"] = (project(tmp_path_factory.mktemp("scenarios_only"), {"wrong_value.yaml": WRONG_VALUE},
                                      ini="[pytest]\ndecree_scenarios = checks\n", directory="checks"),
                              ("--collect-only",))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: (root, pool.submit(pytest_in, root, *args)) for key, (root, args) in jobs.items()}
        return {key: (root, future.result()) for key, (root, future) in futures.items()}


def test_each_scenario_is_a_test_item_named_after_it(runs: dict[str, tuple[Path, Done]]) -> None:
    _, done = runs["collect"]
    assert done.returncode == 0, done.stdout + done.stderr
    expected = [f"tests/scenarios/comparisons.yaml::{name}" for name in names(PASSING)]
    expected += [f"tests/scenarios/wrong_value.yaml::{name}" for name in names(WRONG_VALUE)]
    assert sorted(collected(done)) == sorted(expected)
    assert f"{len(expected)} tests collected" in done.stdout
    assert "bad.yaml" not in done.stdout + done.stderr


def test_pytest_and_decree_test_count_alike(runs: dict[str, tuple[Path, Done]]) -> None:
    root, by_pytest = runs["both"]
    by_decree = decree_in_process(root)
    assert (by_pytest.returncode, by_decree.returncode) == (1, 1), by_pytest.stdout + by_decree.stderr
    summary = DECREE_SUMMARY.match(by_decree.stdout.rstrip("\n").splitlines()[-1])
    assert summary is not None
    counts = (int(summary.group(1)), int(summary.group(2)))
    passed = len(names(PASSING)) + 1
    failed = len(names(FAILING)) + 3
    assert counts == (passed, failed)
    assert pytest_counts(by_pytest.stdout) == (passed, failed)


def test_a_failing_scenario_shows_the_same_report(runs: dict[str, tuple[Path, Done]]) -> None:
    root, by_pytest = runs["both"]
    by_decree = decree_in_process(root)
    from_pytest = reports(by_pytest.stdout, prefix=f"{root}{os.sep}")
    from_decree = reports(by_decree.stdout, prefix=f"{root}{os.sep}")
    failing = set(names(FAILING)) | {"wrong on purpose - a Dutch adult is obliged",
                                     "division by zero is an evaluation error", "two outputs wrong at once"}
    assert set(from_decree) == failing
    assert set(from_pytest) == failing
    for name in sorted(failing):
        assert from_pytest[name] == from_decree[name], name
    wrong = from_pytest["wrong on purpose - a Dutch adult is obliged"].splitlines()
    assert wrong[0] == ("tests/scenarios/wrong_value.yaml:8: FAILED: wrong on purpose - a Dutch adult is obliged "
                        "(on 2024-01-01)")
    assert wrong[1] == "  verplicht: expected true, got false"
    assert "vrijstelling.eu" in "\n".join(wrong[2:])
    # pytest names the failing item after the scenario
    assert "FAILED tests/scenarios/wrong_value.yaml::wrong on purpose - a Dutch adult is obliged" in by_pytest.stdout
    assert "Traceback" not in by_pytest.stdout + by_pytest.stderr


def test_a_bad_fixture_file_is_a_collection_error_listing_every_problem(runs: dict[str, tuple[Path, Done]]) -> None:
    root, done = runs["bad fixture"]
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "ERROR collecting tests/scenarios/unknown_output.yaml" in output
    for line, column, message in [(6, 7, "unknown output 'verplict'; did you mean 'verplicht'?"),
                                  (11, 7, "unknown output 'deadlin'; did you mean 'deadline'?"),
                                  (12, 29, "unknown output 'grnd'; did you mean 'grond'?")]:
        assert f"tests/scenarios/unknown_output.yaml:{line}:{column}: error: {message}" in output
    assert "Traceback" not in output
    # decree test calls the same files bad
    by_decree = decree_in_process(root)
    assert by_decree.returncode == 2
    assert "tests/scenarios/unknown_output.yaml:6:7: error: unknown output 'verplict'" in by_decree.stderr


def test_a_bad_rule_set_is_a_collection_error(runs: dict[str, tuple[Path, Done]]) -> None:
    _, done = runs["bad rules"]
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "rules/rules.yaml:10:15: error:" in output and "persoon.leeftyd" in output
    assert "Traceback" not in output


def test_ini_options_name_other_directories(runs: dict[str, tuple[Path, Done]]) -> None:
    _, done = runs["other directories"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(collected(done)) == sorted(f"checks/wrong_value.yaml::{name}" for name in names(WRONG_VALUE))


def test_json_fixture_files_are_collected_as_decree_test_runs_them(runs: dict[str, tuple[Path, Done]]) -> None:
    root, done = runs["json"]
    by_decree = decree_in_process(root)
    summary = DECREE_SUMMARY.match(by_decree.stdout.rstrip("\n").splitlines()[-1])
    assert summary is not None
    assert (int(summary.group(1)), int(summary.group(2))) == (3, 2)
    expected = [f"tests/scenarios/scenarios.json::{name}" for name in (
        "a scenario written as JSON", "a JSON number is a decimal", "a failing scenario written as JSON")]
    expected += [f"tests/scenarios/wrong_value.yaml::{name}" for name in names(WRONG_VALUE)]
    assert sorted(collected(done)) == sorted(expected)


def test_a_foreign_project_keeps_its_yaml_to_itself(runs: dict[str, tuple[Path, Done]]) -> None:
    _, done = runs["foreign"]
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert [line.split()[:2] for line in collected(done)] == [
        ["tests/test_own.py::test_own_scenarios_are_read_by_the_project", "PASSED"]]
    assert "1 passed" in done.stdout
    assert "error" not in output.lower()


def test_a_conftest_can_name_the_rule_set(runs: dict[str, tuple[Path, Done]]) -> None:
    _, done = runs["conftest"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(collected(done)) == sorted(f"tests/scenarios/wrong_value.yaml::{name}"
                                             for name in names(WRONG_VALUE))


def test_naming_only_the_scenarios_uses_rules_of_the_root(runs: dict[str, tuple[Path, Done]]) -> None:
    _, done = runs["scenarios only"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(collected(done)) == sorted(f"checks/wrong_value.yaml::{name}" for name in names(WRONG_VALUE))
