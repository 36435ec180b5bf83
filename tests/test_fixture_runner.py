"""``decree test``: scenario fixtures made to pass, to fail and to be wrong in each way.

The rule set and the fixture files are in ``tests/fixture_cases/`` (not collected by
pytest's plugin, which reads only ``tests/scenarios/``). The command runs in-process with
click's runner, from the repository root, so reported paths are relative and exact; a
few checks run it as a real process to see the exit codes a CI job sees.

What is checked follows ``../shared/spec/contracts.md`` ("Scenario fixtures", the
``decree test`` row): a bad fixture is an error (exit 2), every error of the run is
reported as ``FILE:LINE:COL: error: MESSAGE`` with the source line and a caret; a
failing scenario is a failure (exit 1) reported with file and line, expected, actual and
the explanation of the actual value; the last line is ``N passed, M failed``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from conftest import ROOT

from engine.cli import main

CASES = "tests/fixture_cases"
RULES = f"{CASES}/rules"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed( in \d+\.\d\ds)?$")
ERROR = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<column>\d+): error: (?P<message>.*)$")
HEADER = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+): FAILED: (?P<name>.*) \(on (?P<on>[0-9-]+)(?P<rest>.*)\)$")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> tuple[int, int] | None:
        lines = self.stdout.rstrip("\n").splitlines()
        match = SUMMARY.match(lines[-1]) if lines else None
        return (int(match.group(1)), int(match.group(2))) if match else None

    def errors(self) -> list[tuple[str, int, int, str]]:
        """Every ``FILE:LINE:COL: error:`` of standard error; checks each caret too."""
        found = []
        lines = self.stderr.splitlines()
        for index, text in enumerate(lines):
            match = ERROR.match(text)
            if not match:
                continue
            line, column = int(match["line"]), int(match["column"])
            source = (ROOT / match["file"]).read_text(encoding="utf-8").splitlines()[line - 1]
            assert lines[index + 1] == "    " + source, f"source line after {text!r}"
            caret = lines[index + 2]
            assert caret.startswith("    " + " " * (column - 1) + "^"), f"caret after {text!r}: {caret!r}"
            found.append((match["file"], line, column, match["message"]))
        return found

    def reports(self) -> dict[str, list[str]]:
        """The report of each failed scenario, by name: its lines, header first."""
        blocks: dict[str, list[str]] = {}
        current: list[str] | None = None
        for text in self.stdout.splitlines():
            match = HEADER.match(text)
            if match:
                current = blocks.setdefault(match["name"], [])
            elif SUMMARY.match(text) or not text.strip():
                current = None
            if current is not None:
                current.append(text)
        return blocks


def decree_test(*args: str, rules: str = RULES) -> Run:
    """``decree test --rules RULES ARGS...`` in-process, from the repository root."""
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, ["test", "--rules", rules, *args], catch_exceptions=False)
    finally:
        os.chdir(before)
    return Run(result.exit_code, result.stdout, result.stderr)


def scenario_names(path: str) -> list[str]:
    return re.findall(r"^  - name: (.*)$", (ROOT / path).read_text(encoding="utf-8"), re.M)


# -- passing: the rules of comparison ------------------------------------------------

PASSING = f"{CASES}/passing/comparisons.yaml"


def test_every_passing_scenario_passes() -> None:
    run = decree_test(PASSING)
    names = scenario_names(PASSING)
    assert run.code == 0, run.stdout + run.stderr
    assert run.summary == (len(names), 0)
    assert "FAILED" not in run.stdout
    assert run.stderr == ""


@pytest.mark.parametrize("name", scenario_names(PASSING))
def test_passing_scenario_on_its_own(name: str) -> None:
    run = decree_test(PASSING, "-k", name)
    assert (run.code, run.summary) == (0, (1, 0)), run.stdout


# -- failing: wrong values -------------------------------------------------------------

WRONG_VALUE = f"{CASES}/failing/wrong_value.yaml"


def test_wrong_value_is_a_failure_with_file_line_expected_actual_and_explanation() -> None:
    run = decree_test(WRONG_VALUE)
    assert run.code == 1
    assert run.summary == (1, 1)
    assert run.stderr == ""
    reports = run.reports()
    assert list(reports) == ["wrong on purpose - a Dutch adult is obliged"]
    report = reports["wrong on purpose - a Dutch adult is obliged"]
    assert report[0] == f"{WRONG_VALUE}:8: FAILED: wrong on purpose - a Dutch adult is obliged (on 2024-01-01)"
    assert report[1] == "  verplicht: expected true, got false"
    explanation = "\n".join(report[2:])
    # the explanation of the actual value: what decided it, the provision, its source, the facts
    assert "verplicht = false" in explanation
    assert "vrijstelling.eu" in explanation and "Testdecreet, art. 2" in explanation
    assert "persoon.nationaliteit = 'NL'" in explanation
    assert "exception" in explanation and "verplichting" in explanation


FAILING = f"{CASES}/failing/comparisons.yaml"
# name -> (line of the scenario, the mismatch line of the report)
FAILURES = {
    "decimal 90 is not 90.01": (3, "bedrag: expected 90.01, got 90"),
    "decimal sum is not a float sum": (8, "totaal: expected 120.80000000000001, got 120.80"),
    "a set missing a member is another set": (13, "onderdelen: expected ['mo', 'nt2'], got ['mo', 'nt2', 'pnt']"),
    "a set with an extra member is another set":
        (18, "onderdelen: expected ['mo', 'nt2', 'pnt', 'vdab'], got ['mo', 'nt2', 'pnt']"),
    "a date one day off": (23, "deadline: expected 2024-03-02, got 2024-03-01"),
    "unknown output never equals an expected value":
        (29, "verplicht: expected true, got unknown, needing persoon.leeftijd"),
    "expect_unknown naming the wrong fact":
        (35, "verplicht: expected unknown, needing persoon.ziek, got unknown, needing persoon.leeftijd"),
    "expect_unknown of a decided output": (41, "verplicht: expected unknown, needing persoon.leeftijd, got true"),
    "expect_not_applicable of a decided output": (47, "verplicht: expected not applicable, got true"),
    "null in expect of a decided output": (52, "verplicht: expected not applicable, got true"),
    "a value expected where nothing applies": (58, "verplicht: expected false, got not applicable"),
    "proposal as a list changes the amount": (64, "bedrag: expected 120.50, got 150"),
    "proposal as a map with a later date keeps the amount": (70, "bedrag: expected 150, got 120.50"),
    "an unknown output is not a not-applicable one":
        (76, "verplicht: expected not applicable, got unknown, needing persoon.leeftijd"),
}


def test_failing_file_counts_every_scenario() -> None:
    run = decree_test(FAILING)
    assert run.code == 1
    assert run.summary == (0, len(FAILURES))
    assert set(run.reports()) == set(FAILURES) == set(scenario_names(FAILING))


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failing_scenario_report(name: str) -> None:
    line, mismatch = FAILURES[name]
    run = decree_test(FAILING, "-k", name)
    assert run.code == 1
    assert run.summary == (0, 1)
    report = run.reports()[name]
    header = HEADER.match(report[0])
    assert header is not None
    assert (header["file"], int(header["line"])) == (FAILING, line)
    assert report[1] == "  " + mismatch
    output = mismatch.split(":")[0]
    # the explanation of the actual value follows, indented
    assert len(report) > 2 and report[2].startswith(f"      {output} = ")


def test_every_mismatch_of_a_scenario_is_reported_with_its_explanation() -> None:
    path = f"{CASES}/failing/two_mismatches.yaml"
    run = decree_test(path)
    assert (run.code, run.summary) == (1, (0, 1))
    report = run.reports()["two outputs wrong at once"]
    assert report[0] == f"{path}:2: FAILED: two outputs wrong at once (on 2024-01-01)"
    mismatches = [line for line in report[1:] if not line.startswith("      ")]
    assert mismatches == ["  verplicht: expected true, got false", "  grond: expected 'ziek', got 'eu'"]
    second = report.index(mismatches[1])
    assert report[2] == "      verplicht = false"
    assert report[second + 1] == "      grond = 'eu'"


def test_report_header_names_the_date_and_proposals() -> None:
    run = decree_test(FAILING, "-k", "proposal as a list")
    assert run.reports()["proposal as a list changes the amount"][0] == (
        f"{FAILING}:64: FAILED: proposal as a list changes the amount (on 2030-06-01, proposals verhoging)")


def test_evaluation_error_is_a_failed_scenario_with_the_rule_position() -> None:
    path = f"{CASES}/failing/evaluation_error.yaml"
    run = decree_test(path)
    assert run.code == 1
    assert run.summary == (0, 1)
    report = run.reports()["division by zero is an evaluation error"]
    assert report[0] == f"{path}:2: FAILED: division by zero is an evaluation error (on 2024-01-01)"
    assert report[1] == f"  {RULES}/rules.yaml:46:20: error: division by zero"
    assert report[2] == "                aandeel: bedrag / persoon.aantal"
    assert report[3] == "                         " + "^" * len("bedrag / persoon.aantal")


def test_json_fixture_files_run_too() -> None:
    path = f"{CASES}/json/scenarios.json"
    run = decree_test(path)
    assert (run.code, run.summary) == (1, (2, 1))
    report = run.reports()["a failing scenario written as JSON"]
    assert report[:2] == [f"{path}:7: FAILED: a failing scenario written as JSON (on 2024-06-01)",
                          "  bedrag: expected 120.49, got 120.50"]


# -- summary line, -k and exit codes -------------------------------------------------------


def test_summary_is_the_last_line_of_a_mixed_run() -> None:
    run = decree_test(PASSING, WRONG_VALUE, FAILING)
    passed = len(scenario_names(PASSING)) + 1
    failed = len(FAILURES) + 1
    assert run.code == 1
    last = run.stdout.rstrip("\n").splitlines()[-1]
    assert SUMMARY.match(last), last
    assert last.startswith(f"{passed} passed, {failed} failed")


def test_k_selects_scenarios_by_name() -> None:
    only_failing = decree_test(WRONG_VALUE, "-k", "Dutch adult")
    assert (only_failing.code, only_failing.summary) == (1, (0, 1))
    only_passing = decree_test(WRONG_VALUE, "-k", "an adult is obliged")
    assert (only_passing.code, only_passing.summary) == (0, (1, 0))
    assert only_passing.reports() == {}
    across_files = decree_test(PASSING, FAILING, "-k", "proposal as a")
    proposals = [n for n in scenario_names(PASSING) + scenario_names(FAILING) if "proposal as a" in n]
    failing = [n for n in scenario_names(FAILING) if "proposal as a" in n]
    assert across_files.summary == (len(proposals) - len(failing), len(failing))
    assert set(across_files.reports()) == set(failing)


def test_k_matching_nothing_runs_nothing_and_exits_5_as_pytest() -> None:
    run = decree_test(WRONG_VALUE, "-k", "no scenario has this name")
    assert (run.code, run.summary, run.stdout) == (5, None, "")
    assert run.stderr == f"no scenario selected by -k 'no scenario has this name' in {WRONG_VALUE}\n"


def test_a_directory_without_scenarios_exits_5(tmp_path: Path) -> None:
    run = decree_test(str(tmp_path))
    assert (run.code, run.stderr) == (5, f"no scenario selected in {tmp_path}\n")


def test_a_directory_runs_every_file_in_it() -> None:
    run = decree_test(f"{CASES}/failing")
    assert run.code == 1
    # wrong_value.yaml: 1 passed, 1 failed; evaluation_error.yaml and two_mismatches.yaml: 1 failed each
    assert run.summary == (1, len(FAILURES) + 3)


def test_a_path_that_does_not_exist_is_exit_2() -> None:
    run = decree_test(f"{CASES}/no_such_file.yaml")
    assert run.code == 2
    assert "no such file or directory" in run.stderr
    assert f"{CASES}/no_such_file.yaml" in run.stderr


@pytest.mark.parametrize(("path", "code"), [
    (PASSING, 0),
    (WRONG_VALUE, 1),
    (f"{CASES}/errors/unknown_output.yaml", 2),
])
def test_exit_codes_of_the_real_command(path: str, code: int) -> None:
    done = subprocess.run([sys.executable, "-m", "engine", "test", "--rules", RULES, path],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    if code < 2:
        assert SUMMARY.match(done.stdout.rstrip("\n").splitlines()[-1])
    else:
        assert "passed" not in done.stdout


# -- bad fixtures: errors, exit 2, every one with its position -------------------------------

ERRORS = f"{CASES}/errors"
BAD = {
    "unknown_output.yaml": [
        (6, 7, "unknown output 'verplict'; did you mean 'verplicht'?"),
        (11, 7, "unknown output 'deadlin'; did you mean 'deadline'?"),
        (12, 29, "unknown output 'grnd'; did you mean 'grond'?"),
    ],
    "unknown_fact.yaml": [
        (5, 17, "unknown fact 'persoon.leeftyd'; did you mean 'persoon.leeftijd'?"),
        (12, 18, "unknown fact 'traject.strat'; did you mean 'traject.start'?"),
    ],
    "malformed_date.yaml": [
        (3, 9, "impossible date '2024-02-30': day is out of range for month"),
    ],
    "malformed_date_fact.yaml": [
        (5, 24, "fact 'traject.start': impossible date '1 januari 2024'; expected YYYY-MM-DD"),
        (13, 17, "expected value of 'deadline': impossible date '2024-3-1'; expected YYYY-MM-DD"),
    ],
    "wrong_type.yaml": [
        (7, 18, "expected value of 'verplicht': expected true or false, not 'ja'"),
        (11, 56, "fact 'persoon.ziek': expected true or false, not 'yes'"),
        (19, 14, "'grond' never has the value 'europees'"),
        (25, 17, "expected value of 'deadline': expected a date (YYYY-MM-DD), not the number 20240301"),
        (30, 19, "expected value of 'onderdelen': expected a list, not 'mo'"),
    ],
    "unknown_proposal.yaml": [
        (4, 17, "unknown proposal 'verhogin'; did you mean 'verhoging'?"),
        (10, 17, "unknown proposal 'verhogingg'; did you mean 'verhoging'?"),
    ],
    "duplicate_name.yaml": [
        (7, 11, "a second scenario named 'same name' (first at line 2); names identify scenarios"),
        (11, 17, "fact 'persoon.leeftijd' is given twice"),
    ],
    "unknown_key.yaml": [
        (5, 5, "unknown key 'expected'; did you mean 'expect'?"),
        (2, 5, "'expect' is a required property"),
    ],
}


@pytest.mark.parametrize("file", sorted(BAD))
def test_bad_fixture_is_an_error_with_every_position(file: str) -> None:
    path = f"{ERRORS}/{file}"
    run = decree_test(path)
    assert run.code == 2, run.stdout + run.stderr
    assert sorted(run.errors()) == sorted((path, line, column, message) for line, column, message in BAD[file])
    count = len(BAD[file])
    assert run.stderr.rstrip("\n").splitlines()[-1] == f"{count} error{'s' if count != 1 else ''} in fixture files"
    # an error, not a failure: no scenario ran
    assert run.summary is None and "FAILED" not in run.stdout


def test_all_errors_of_all_files_are_reported_in_one_run() -> None:
    run = decree_test(ERRORS)
    expected = [(f"{ERRORS}/{file}", line, column, message)
                for file in sorted(BAD) for line, column, message in BAD[file]]
    assert run.code == 2
    assert sorted(run.errors()) == sorted(expected)
    assert run.stderr.rstrip("\n").splitlines()[-1] == f"{len(expected)} errors in fixture files"


def test_errors_stop_the_run_before_any_scenario() -> None:
    run = decree_test(PASSING, f"{ERRORS}/unknown_output.yaml", WRONG_VALUE)
    assert run.code == 2
    assert len(run.errors()) == len(BAD["unknown_output.yaml"])
    assert run.summary is None and "FAILED" not in run.stdout


ONE_FILE = f"{CASES}/errors_in_one_file"


def test_schema_error_does_not_hide_other_errors_of_the_file() -> None:
    path = f"{ONE_FILE}/schema_and_vocabulary.yaml"
    run = decree_test(path)
    assert run.code == 2
    assert sorted(run.errors()) == [
        (path, 8, 7, "unknown output 'verplict'; did you mean 'verplicht'?"),
        (path, 9, 5, "'on' is a required property"),
    ]


def test_impossible_date_does_not_hide_other_errors_of_the_file() -> None:
    path = f"{ONE_FILE}/date_and_vocabulary.yaml"
    run = decree_test(path)
    assert run.code == 2
    assert sorted(run.errors()) == [
        (path, 8, 7, "unknown output 'verplict'; did you mean 'verplicht'?"),
        (path, 10, 9, "impossible date '2024-02-30': day is out of range for month"),
    ]


def test_impossible_proposal_date_is_an_error() -> None:
    run = decree_test(f"{ONE_FILE}/proposal_date.yaml")
    assert run.code == 2
    assert len(run.errors()) == 1 and run.errors()[0][1] == 5


def test_impossible_proposal_date_names_the_date_at_its_position() -> None:
    path = f"{ONE_FILE}/proposal_date.yaml"
    run = decree_test(path)
    assert run.code == 2
    [(file, line, column, message)] = run.errors()
    assert (file, line, column) == (path, 5, 28)
    assert "'2030-02-30'" in message and "date" in message


QUOTED = f"{CASES}/quoted_dates/quoted.yaml"


def test_quoted_evaluation_date_is_a_date() -> None:
    run = decree_test(QUOTED, "-k", "quoted evaluation date")
    assert "internal error" not in run.stderr
    assert (run.code, run.summary) == (0, (1, 0))


def test_quoted_proposal_date_is_a_date() -> None:
    run = decree_test(QUOTED, "-k", "quoted effective date")
    assert "internal error" not in run.stderr
    assert (run.code, run.summary) == (0, (1, 0))
