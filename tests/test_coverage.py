"""``decree test --coverage``, ``--coverage-json`` and ``--fail-under``.

The rule set of ``tests/fixture_cases/rules/`` has a coverage known by construction
(see the head of ``tests/fixture_cases/coverage/coverage.yaml``): by those four scenarios
5 of its 10 rule versions are used (50%), 2 of its 3 conditions are seen both true and
false, and 1 of its 2 exceptions fires. The uncovered versions, by file and line:

- ``rules.yaml:34`` bedrag until 2023-09-01
- ``rules.yaml:51`` onderdelen
- ``rules.yaml:58`` and ``rules.yaml:61`` both versions of deadline
- ``amendments/verhoging.yaml:12`` the version a proposal adds to bedrag
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import ROOT

from engine.cli import main

CASES = "tests/fixture_cases"
RULES = f"{CASES}/rules"
RULES_FILE = f"{RULES}/rules.yaml"
AMENDMENT = f"{RULES}/amendments/verhoging.yaml"
COVERAGE = f"{CASES}/coverage/coverage.yaml"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed( in \d+\.\d\ds)?$")

UNCOVERED = [("bedrag", RULES_FILE, 34), ("onderdelen", RULES_FILE, 51), ("deadline", RULES_FILE, 58),
             ("deadline", RULES_FILE, 61), ("bedrag", AMENDMENT, 12)]
COVERED = [("verplichting", 9), ("vrijstelling.eu", 18), ("vrijstelling.ziek", 27), ("bedrag", 37), ("totaal", 43)]


def decree_test(*args: str) -> tuple[int, str, str]:
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, ["test", "--rules", RULES, *args], catch_exceptions=False)
    finally:
        os.chdir(before)
    return result.exit_code, result.stdout, result.stderr


def coverage_json(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "coverage.json"
    code, stdout, stderr = decree_test("--coverage-json", str(out), *args)
    assert code == 0, stdout + stderr
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_the_coverage_scenarios_pass() -> None:
    code, stdout, _ = decree_test(COVERAGE)
    assert code == 0
    assert stdout.rstrip("\n").splitlines()[-1].startswith("4 passed, 0 failed")


def test_table_lists_each_uncovered_version_by_file_and_line() -> None:
    code, stdout, _ = decree_test(COVERAGE, "--coverage")
    assert code == 0
    uncovered = [line for line in stdout.splitlines() if "uncovered version" in line]
    assert sorted(uncovered) == sorted(f"{file}:{line}: uncovered version of '{rule}'"
                                       for rule, file, line in UNCOVERED)
    for rule, line in COVERED:
        assert f"{RULES_FILE}:{line}:" not in stdout, rule
    assert f"{RULES_FILE}: exception 'vrijstelling.ziek' never fired" in stdout
    assert "vrijstelling.eu' never fired" not in stdout
    # the summary stays the last line
    assert SUMMARY.match(stdout.rstrip("\n").splitlines()[-1])


def test_table_has_per_file_rows_and_the_totals() -> None:
    _, stdout, _ = decree_test(COVERAGE, "--coverage")

    def row(first: str) -> list[str]:
        [line] = [line for line in stdout.splitlines() if line.startswith("│ " + first + " ")]
        return [cell.strip() for cell in line.strip("│").split("│")]

    assert row("total") == ["total", "5/10 (50%)", "2/3 (67%)", "1/2 (50%)"]
    assert row(RULES_FILE) == [RULES_FILE, "5/9 (56%)", "2/3 (67%)", "1/2 (50%)"]
    assert row(AMENDMENT) == [AMENDMENT, "0/1 (0%)", "-", "-"]


def test_json_numbers_exactly(tmp_path: Path) -> None:
    assert coverage_json(tmp_path, COVERAGE) == {
        "rule_versions": {"total": 10, "used": 5, "percent": 50.0},
        "conditions": {"total": 3, "seen_true_and_false": 2},
        "exceptions": {"total": 2, "fired": 1},
        "files": {
            AMENDMENT: {"versions": 1, "used": 0, "conditions": 0, "both_ways": 0, "exceptions": 0, "fired": 0},
            RULES_FILE: {"versions": 9, "used": 5, "conditions": 3, "both_ways": 2, "exceptions": 2, "fired": 1},
        },
        "uncovered_versions": [{"rule": rule, "file": file, "line": line}
                               for rule, file, line in sorted(UNCOVERED)],
        "conditions_not_seen_both_ways": [
            {"rule": "vrijstelling.ziek", "file": RULES_FILE, "line": 27, "seen": "false only"}],
        "exceptions_never_fired": ["vrijstelling.ziek"],
    }


def test_json_without_the_table(tmp_path: Path) -> None:
    out = tmp_path / "coverage.json"
    code, stdout, _ = decree_test(COVERAGE, "--coverage-json", str(out))
    assert code == 0 and out.exists()
    assert "uncovered version" not in stdout and "Rule coverage" not in stdout


def test_only_the_scenarios_run_count(tmp_path: Path) -> None:
    # one scenario: the proposal's version of bedrag and nothing else
    data = coverage_json(tmp_path, f"{CASES}/passing/comparisons.yaml", "-k", "proposal as a list")
    assert data["rule_versions"] == {"total": 10, "used": 1, "percent": 10.0}
    assert {(v["file"], v["line"]) for v in data["uncovered_versions"]} == (
        {(RULES_FILE, line) for line in (9, 18, 27, 34, 37, 43, 51, 58, 61)})
    assert data["conditions"] == {"total": 3, "seen_true_and_false": 0}
    assert data["exceptions"] == {"total": 2, "fired": 0}


def test_a_version_cut_short_by_a_proposal_counts_as_itself(tmp_path: Path) -> None:
    # on 2030-06-01 with the proposal effective 2031-01-01, bedrag from 2023-09-01 decides
    data = coverage_json(tmp_path, f"{CASES}/passing/comparisons.yaml", "-k", "proposal as a map - with an")
    assert data["rule_versions"] == {"total": 10, "used": 1, "percent": 10.0}
    assert (RULES_FILE, 37) not in {(v["file"], v["line"]) for v in data["uncovered_versions"]}
    assert (AMENDMENT, 12) in {(v["file"], v["line"]) for v in data["uncovered_versions"]}


def test_a_fuller_set_of_scenarios_covers_every_version(tmp_path: Path) -> None:
    data = coverage_json(tmp_path, f"{CASES}/passing/comparisons.yaml", COVERAGE)
    assert data["rule_versions"] == {"total": 10, "used": 10, "percent": 100.0}
    assert data["uncovered_versions"] == []
    assert data["conditions"] == {"total": 3, "seen_true_and_false": 2}
    assert data["exceptions_never_fired"] == ["vrijstelling.ziek"]


@pytest.mark.parametrize(("threshold", "code"), [
    ("0", 0), ("49.9", 0), ("50", 0), ("50.0", 0), ("50.1", 1), ("80", 1), ("100", 1),
])
def test_fail_under(threshold: str, code: int) -> None:
    got, stdout, stderr = decree_test(COVERAGE, "--fail-under", threshold)
    assert got == code, stdout + stderr
    # every scenario passed: the summary says so either way
    assert stdout.rstrip("\n").splitlines()[-1].startswith("4 passed, 0 failed")
    if code:
        assert "50.0%" in stderr and "under" in stderr
    else:
        assert stderr == ""


def test_fail_under_with_the_table(tmp_path: Path) -> None:
    got, stdout, _ = decree_test(COVERAGE, "--coverage", "--fail-under", "60")
    assert got == 1
    assert "uncovered version" in stdout


def test_failing_scenarios_fail_whatever_the_coverage() -> None:
    got, _, _ = decree_test(f"{CASES}/failing/wrong_value.yaml", "--fail-under", "0")
    assert got == 1


def lcov_records(text: str) -> dict[str, list[str]]:
    """The lines of each LCOV record, by source file."""
    records: dict[str, list[str]] = {}
    for block in text.split("end_of_record\n"):
        if not block.strip():
            continue
        lines = block.strip().splitlines()
        assert lines[0] == "TN:decree" and lines[1].startswith("SF:"), lines[:2]
        records[lines[1].removeprefix("SF:")] = lines[2:]
    assert text.endswith("end_of_record\n")
    return records


def test_lcov_has_a_line_per_rule_version_hit_where_used(tmp_path: Path) -> None:
    out = tmp_path / "coverage.lcov"
    code, stdout, stderr = decree_test("--coverage-lcov", str(out), COVERAGE)
    assert code == 0, stdout + stderr
    records = lcov_records(out.read_text(encoding="utf-8"))
    assert set(records) == {RULES_FILE, AMENDMENT}
    hits = {(file, int(line)): int(count) for file, lines in records.items()
            for line, count in (entry.removeprefix("DA:").split(",") for entry in lines if entry.startswith("DA:"))}
    assert {key for key, count in hits.items() if count == 0} == {(file, line) for _, file, line in UNCOVERED}
    assert {key for key, count in hits.items() if count > 0} == {(RULES_FILE, line) for _, line in COVERED}
    assert records[AMENDMENT][-2:] == ["LF:1", "LH:0"]
    assert records[RULES_FILE][-2:] == ["LF:9", "LH:5"]
    # three conditions, two branches each; vrijstelling.ziek (line 27) is never true
    branches = {tuple(map(int, entry.removeprefix("BRDA:").split(",")[:3])): entry.split(",")[3]
                for entry in records[RULES_FILE] if entry.startswith("BRDA:")}
    assert {(line, branch) for line, _, branch in branches} == {(9, 0), (9, 1), (18, 0), (18, 1), (27, 0), (27, 1)}
    assert branches[(27, 2, 0)] == "0" and int(branches[(27, 2, 1)]) > 0
    assert "BRF:6" in records[RULES_FILE] and "BRH:5" in records[RULES_FILE]


def test_lcov_marks_conditions_never_evaluated(tmp_path: Path) -> None:
    out = tmp_path / "coverage.lcov"
    code, _, _ = decree_test("--coverage-lcov", str(out), COVERAGE, "-k", "total")
    assert code == 0
    records = lcov_records(out.read_text(encoding="utf-8"))
    assert "BRDA:27,2,0,-" in records[RULES_FILE] and "BRDA:27,2,1,-" in records[RULES_FILE]
    assert "BRH:0" in records[RULES_FILE]
