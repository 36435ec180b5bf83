"""pytest collects scenario fixtures: each scenario is a test item, reported as ``decree test`` does.

Each test builds a small project in a temporary directory (a copy of the rule set of
``tests/fixture_cases/rules/`` as ``rules/``, fixture files under ``tests/scenarios/``,
and a ``pytest.ini``) and runs ``python -m pytest`` there in a subprocess; the plugin
comes in through the package's ``pytest11`` entry point.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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


def project(root: Path, scenarios: dict[str, str], ini: str = "[pytest]\n", rules: str = "rules",
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


def decree_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(cwd, sys.executable, "-m", "engine", "test", *args)


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


@pytest.mark.parametrize("ini", ["[pytest]\n", "[pytest]\ndecree_rules = rules\n"])
def test_each_scenario_is_a_test_item_named_after_it(tmp_path: Path, ini: str) -> None:
    root = project(tmp_path, {"comparisons.yaml": PASSING, "wrong_value.yaml": WRONG_VALUE}, ini)
    # a fixture file outside tests/scenarios/ is not collected, even a bad one
    (root / "tests" / "other").mkdir()
    shutil.copyfile(CASES / "errors" / "unknown_output.yaml", root / "tests" / "other" / "bad.yaml")
    done = pytest_in(root, "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    expected = [f"tests/scenarios/comparisons.yaml::{name}" for name in names(PASSING)]
    expected += [f"tests/scenarios/wrong_value.yaml::{name}" for name in names(WRONG_VALUE)]
    assert sorted(collected(done)) == sorted(expected)
    assert f"{len(expected)} tests collected" in done.stdout
    assert "bad.yaml" not in done.stdout + done.stderr


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str],
                                                            subprocess.CompletedProcess[str]]:
    root = project(tmp_path_factory.mktemp("both"), {
        "comparisons.yaml": PASSING, "wrong_value.yaml": WRONG_VALUE, "failing.yaml": FAILING,
        "evaluation_error.yaml": EVALUATION_ERROR, "two_mismatches.yaml": TWO_MISMATCHES})
    return root, pytest_in(root), decree_in(root)


def test_pytest_and_decree_test_count_alike(both: tuple[Path, subprocess.CompletedProcess[str],
                                                         subprocess.CompletedProcess[str]]) -> None:
    _, by_pytest, by_decree = both
    assert (by_pytest.returncode, by_decree.returncode) == (1, 1), by_pytest.stdout + by_decree.stderr
    summary = DECREE_SUMMARY.match(by_decree.stdout.rstrip("\n").splitlines()[-1])
    assert summary is not None
    counts = (int(summary.group(1)), int(summary.group(2)))
    passed = len(names(PASSING)) + 1
    failed = len(names(FAILING)) + 3
    assert counts == (passed, failed)
    assert pytest_counts(by_pytest.stdout) == (passed, failed)


def test_a_failing_scenario_shows_the_same_report(both: tuple[Path, subprocess.CompletedProcess[str],
                                                               subprocess.CompletedProcess[str]]) -> None:
    root, by_pytest, by_decree = both
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


def test_k_in_pytest_selects_one_scenario(tmp_path: Path) -> None:
    root = project(tmp_path, {"wrong_value.yaml": WRONG_VALUE})
    done = pytest_in(root, "-k", "Dutch")
    assert done.returncode == 1
    assert pytest_counts(done.stdout) == (0, 1)


def test_a_bad_fixture_file_is_a_collection_error_listing_every_problem(tmp_path: Path) -> None:
    root = project(tmp_path, {"unknown_output.yaml": "errors/unknown_output.yaml", "wrong_value.yaml": WRONG_VALUE})
    done = pytest_in(root)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "error" in output.lower() and "unknown_output.yaml" in output
    for line, column, message in [(6, 7, "unknown output 'verplict'; did you mean 'verplicht'?"),
                                  (11, 7, "unknown output 'deadlin'; did you mean 'deadline'?"),
                                  (12, 29, "unknown output 'grnd'; did you mean 'grond'?")]:
        assert f"tests/scenarios/unknown_output.yaml:{line}:{column}: error: {message}" in output
    assert "Traceback" not in output
    # decree test calls the same files bad
    assert decree_in(root).returncode == 2


def test_a_bad_rule_set_is_a_collection_error(tmp_path: Path) -> None:
    root = project(tmp_path, {"wrong_value.yaml": WRONG_VALUE})
    rules = root / "rules" / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("when: persoon.leeftijd >= 18",
                                                               "when: persoon.leeftyd >= 18"), encoding="utf-8")
    done = pytest_in(root)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "rules/rules.yaml:10:15: error:" in output and "persoon.leeftyd" in output
    assert "Traceback" not in output


def test_ini_options_name_other_directories(tmp_path: Path) -> None:
    root = project(tmp_path, {"wrong_value.yaml": WRONG_VALUE},
                   ini="[pytest]\ndecree_rules = policy\ndecree_scenarios = checks\n",
                   rules="policy", directory="checks")
    done = pytest_in(root, "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(collected(done)) == sorted(f"checks/wrong_value.yaml::{name}" for name in names(WRONG_VALUE))
