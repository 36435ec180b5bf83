"""``decree test --junit FILE``: the JUnit XML report a CI server reads.

One ``testsuite`` per fixture file, one ``testcase`` per scenario (named after it, with
the file as dotted ``classname``); a wrong value is a ``failure`` carrying the mismatch
as its message and the full report as its text; an evaluation error (a rule that cannot
be evaluated) is an ``error``. Parsed with ``xml.etree``, and validated against the
common ``junit-10.xsd`` (``tests/data/``) with ``xmlschema``: strict CI servers reject
other attributes, so the file and line of a scenario are in the suite's ``file`` and in
the failure text, and every test case has its time.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from click.testing import CliRunner

from conftest import ROOT

from engine.cli import main

CASES = "tests/fixture_cases"
RULES = f"{CASES}/rules"
PASSING = f"{CASES}/passing/comparisons.yaml"
WRONG_VALUE = f"{CASES}/failing/wrong_value.yaml"
EVALUATION_ERROR = f"{CASES}/failing/evaluation_error.yaml"
JUNIT_XSD = ROOT / "tests" / "data" / "junit-10.xsd"
TIME = re.compile(r"^[0-9]+\.[0-9]{3}$")


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(JUNIT_XSD)


def names(path: str) -> list[str]:
    return re.findall(r"^  - name: (.*)$", (ROOT / path).read_text(encoding="utf-8"), re.M)


def run_junit(tmp_path: Path, *args: str) -> tuple[int, ET.Element]:
    out = tmp_path / "report.xml"
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, ["test", "--rules", RULES, "--junit", str(out), *args],
                                    catch_exceptions=False)
    finally:
        os.chdir(before)
    assert out.exists(), result.stdout + result.stderr
    return result.exit_code, ET.parse(out).getroot()


def counts(element: ET.Element) -> tuple[int, int, int]:
    return int(element.get("tests", -1)), int(element.get("failures", -1)), int(element.get("errors", -1))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, ET.Element]:
    return run_junit(tmp_path_factory.mktemp("junit"), PASSING, WRONG_VALUE, EVALUATION_ERROR)


def test_totals(mixed: tuple[int, ET.Element]) -> None:
    code, root = mixed
    assert code == 1
    assert root.tag == "testsuites"
    assert counts(root) == (len(names(PASSING)) + 3, 1, 1)
    assert len(root.findall(".//testcase")) == len(names(PASSING)) + 3


def test_one_suite_per_file_with_its_counts(mixed: tuple[int, ET.Element]) -> None:
    _, root = mixed
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert set(suites) == {PASSING, WRONG_VALUE, EVALUATION_ERROR}
    assert counts(suites[PASSING]) == (len(names(PASSING)), 0, 0)
    assert counts(suites[WRONG_VALUE]) == (2, 1, 0)
    assert counts(suites[EVALUATION_ERROR]) == (1, 0, 1)


def test_test_cases_are_named_after_scenarios_with_the_file_as_classname(mixed: tuple[int, ET.Element]) -> None:
    _, root = mixed
    for suite in root.findall("testsuite"):
        file = suite.get("name")
        assert file is not None
        cases = suite.findall("testcase")
        assert [case.get("name") for case in cases] == names(file)
        classname = file.removesuffix(".yaml").replace("/", ".")
        assert {case.get("classname") for case in cases} == {classname}
    case = root.find(".//testcase[@name='wrong on purpose - a Dutch adult is obliged']")
    assert case is not None
    assert case.get("classname") == "tests.fixture_cases.failing.wrong_value"
    assert set(case.attrib) == {"name", "classname", "time"}
    assert {suite.get("name"): suite.get("file") for suite in root.findall("testsuite")} == {
        PASSING: PASSING, WRONG_VALUE: WRONG_VALUE, EVALUATION_ERROR: EVALUATION_ERROR}
    failure = case.find("failure")
    assert failure is not None and (failure.text or "").startswith(f"{WRONG_VALUE}:8: FAILED: ")


def test_the_report_is_valid_junit(mixed: tuple[int, ET.Element], junit_schema: xmlschema.XMLSchema) -> None:
    _, root = mixed
    errors = [str(error.reason) for error in junit_schema.iter_errors(ET.tostring(root, encoding="unicode"))]
    assert errors == []


def test_the_schema_rejects_what_strict_servers_reject(junit_schema: xmlschema.XMLSchema) -> None:
    # the form of earlier reports: the validator does see such attributes
    old = ('<testsuites><testsuite name="f" tests="1" failures="0" errors="0">'
           '<testcase name="n" classname="c" file="f.yaml" line="8"/></testsuite></testsuites>')
    reasons = [str(error.reason) for error in junit_schema.iter_errors(old)]
    assert len(reasons) == 2 and all("attribute" in reason for reason in reasons), reasons


def test_every_test_case_and_suite_has_its_time(mixed: tuple[int, ET.Element]) -> None:
    _, root = mixed
    cases = root.findall(".//testcase")
    assert cases and all(TIME.match(case.get("time") or "") for case in cases)
    for suite in root.findall("testsuite"):
        total = sum(float(case.get("time") or "nan") for case in suite.findall("testcase"))
        assert abs(float(suite.get("time") or "nan") - total) < 0.002 * len(suite.findall("testcase")) + 1e-9
    assert TIME.match(root.get("time") or "")


def test_passing_cases_have_no_failure_or_error(mixed: tuple[int, ET.Element]) -> None:
    _, root = mixed
    for name in names(PASSING):
        case = root.find(f".//testcase[@name='{name}']")
        assert case is not None and list(case) == []


def test_failure_carries_the_mismatch_and_the_report(mixed: tuple[int, ET.Element]) -> None:
    _, root = mixed
    case = root.find(".//testcase[@name='wrong on purpose - a Dutch adult is obliged']")
    assert case is not None
    [failure] = list(case)
    assert failure.tag == "failure"
    assert failure.get("message") == "verplicht: expected true, got false"
    text = failure.text or ""
    assert text.startswith(f"{WRONG_VALUE}:8: FAILED: wrong on purpose - a Dutch adult is obliged (on 2024-01-01)")
    assert "  verplicht: expected true, got false" in text
    assert "vrijstelling.eu" in text and "Testdecreet, art. 2" in text
    other = root.find(".//testcase[@name='an adult is obliged']")
    assert other is not None and list(other) == []


def test_evaluation_error_is_an_error_element(mixed: tuple[int, ET.Element]) -> None:
    _, root = mixed
    case = root.find(".//testcase[@name='division by zero is an evaluation error']")
    assert case is not None
    [error] = list(case)
    assert error.tag == "error"
    assert error.get("message") == "division by zero"
    assert f"{RULES}/rules.yaml:46:20: error: division by zero" in (error.text or "")


def test_all_passing_run_writes_a_clean_report(tmp_path: Path) -> None:
    code, root = run_junit(tmp_path, PASSING)
    assert code == 0
    assert counts(root) == (len(names(PASSING)), 0, 0)
    assert root.findall(".//failure") == [] and root.findall(".//error") == []


def test_several_mismatches_in_one_failure_message(tmp_path: Path) -> None:
    code, root = run_junit(tmp_path, f"{CASES}/failing/two_mismatches.yaml")
    assert code == 1
    assert counts(root) == (1, 1, 0)
    failure = root.find(".//testcase[@name='two outputs wrong at once']/failure")
    assert failure is not None
    assert failure.get("message") == "verplicht: expected true, got false; grond: expected 'ziek', got 'eu'"
    text = failure.text or ""
    assert "  verplicht: expected true, got false\n" in text and "  grond: expected 'ziek', got 'eu'\n" in text


def test_k_limits_the_report_to_the_selected_scenarios(tmp_path: Path) -> None:
    code, root = run_junit(tmp_path, PASSING, WRONG_VALUE, "-k", "adult")
    assert code == 1
    assert counts(root) == (2, 1, 0)
    assert [case.get("name") for case in root.iter("testcase")] == [
        "an adult is obliged", "wrong on purpose - a Dutch adult is obliged"]


def test_no_scenario_selected_exits_5_without_a_report(tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, ["test", "--rules", RULES, "--junit", str(out), PASSING, "-k", "NOTHING"])
    finally:
        os.chdir(before)
    assert result.exit_code == 5
    assert result.stderr == f"no scenario selected by -k 'NOTHING' in {PASSING}\n"
    assert not out.exists()


def test_classname_of_an_absolute_path_has_no_empty_segment(tmp_path: Path) -> None:
    _, root = run_junit(tmp_path, str(ROOT / WRONG_VALUE))
    for case in root.iter("testcase"):
        classname = case.get("classname") or ""
        assert classname.endswith("tests.fixture_cases.failing.wrong_value")
        assert "" not in classname.split("."), classname
