"""No internal error on any input, and bounded work on large input (issue 10, items 4-5).

Each of the three crash classes found by fuzzing is reproduced here through the command
line (exit 3 "internal error" is what a user saw) and through the library; then the
bounds: numbers, strict dates, file sizes, strings and collections inside files, the
shortening of long values in messages and the cost of rendering many errors.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli import main
from engine.errors import InputError, PolicyError, PolicyErrors, RuleFileError
from engine.ruleset import RuleSet
from engine.values import dumps, to_json

RULES = """\
vocabulary:
  facts:
    p.n: {type: number}
    p.d: {type: date}
    p.codes: {type: set of text}
  outputs:
    z: {type: number}
    w: {type: number}
    e: {type: date}
rules:
  - id: neg
    title: neg
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        compute: {z: "-p.n"}
  - id: square
    title: square
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        compute: {w: "p.n * p.n"}
  - id: later
    title: later
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        compute: {e: "p.d"}
"""


def run(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=input)
    assert "internal error" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    return folder


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def messages(error: PolicyError) -> list[str]:
    return [e.message for e in (error if isinstance(error, PolicyErrors) else [error])]


# -- crash class 1: decimal.Overflow in unary minus --------------------------------------


def test_a_huge_fact_is_an_input_error_with_its_position(tmp_path: Path, rules: Path) -> None:
    facts = write(tmp_path, "f.yaml", "p.d: 2020-01-01\np.n: 1.0e+999999999\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{facts}:2:6: error: ")
    assert "50 digits" in result.stderr


def test_a_huge_fact_through_the_library_is_an_input_error(rules: Path) -> None:
    ruleset = RuleSet.load(rules)
    for value in (Decimal("1.0e+999999999"), "1.0e+999999999", Decimal("1e-999999999"), 10**60):
        with pytest.raises(InputError, match="50 digits"):
            ruleset.evaluate({"p.n": value}, date(2024, 3, 1))


def test_minus_of_the_largest_number_is_exact(rules: Path) -> None:
    largest = Decimal("9" * 50 + "." + "9" * 50)
    result = RuleSet.load(rules).evaluate({"p.n": largest}, date(2024, 3, 1), outputs=["z"])
    assert result.outputs["z"] == largest.copy_negate()


# -- crash class 2: decimal.Overflow in to_json, and numbers that grow in JSON ----------


def test_a_huge_number_in_a_rule_file_is_a_rule_file_error(tmp_path: Path, rules: Path) -> None:
    text = RULES.replace('compute: {z: "-p.n"}', "set: {z: 1.0e+999999999}")
    (rules / "rules.yaml").write_text(text, encoding="utf-8")
    result = run("check", str(rules))
    assert result.exit_code == 1
    assert ":16:18: error: 1.0e+999999999: the number is too large" in result.stderr
    assert "50 digits" in result.stderr


def test_a_huge_number_in_a_condition_is_a_limit_error(rules: Path) -> None:
    text = RULES.replace('"-p.n"', '"-p.n + 1' + "0" * 60 + '"')
    (rules / "rules.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(rules)
    assert any("50 digits" in m for m in messages(caught.value))
    assert caught.value.span.line == 16


def test_a_result_out_of_range_is_an_evaluation_error_not_a_huge_number(tmp_path: Path, rules: Path) -> None:
    facts = write(tmp_path, "f.yaml", "p.n: 1e40\np.d: 2020-01-01\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules), "--format", "json")
    assert result.exit_code == 2
    assert "rules.yaml:22:23: error: the result is out of range" in result.stderr and "50 digits" in result.stderr


def test_json_of_a_number_never_overflows_nor_grows() -> None:
    huge = Decimal("1.0e+999999")
    assert len(dumps({"n": to_json(huge)})) < 100
    assert to_json(Decimal("1E+5")) == 100000
    assert json.loads(dumps({"n": to_json(Decimal("12.50"))})) == {"n": 12.5}


def test_a_16_byte_fact_never_becomes_a_large_json_number(tmp_path: Path, rules: Path) -> None:
    facts = write(tmp_path, "f.yaml", "p.n: 1.0e+999999\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules), "--format", "json")
    assert result.exit_code == 2 and len(result.output) < 2000


# -- crash class 3: KeyError in the scenario reader ------------------------------------


SCENARIO_WITHOUT_FACTS = """\
scenarios:
  - name: a
    on: 2024-03-01
    expect: {z: 1}
    expect: {z: 2}
"""


def test_a_duplicate_key_and_a_missing_key_in_a_scenario_are_errors(tmp_path: Path, rules: Path) -> None:
    fixture = write(tmp_path, "s.yaml", SCENARIO_WITHOUT_FACTS)
    result = run("test", fixture, "--rules", str(rules))
    assert result.exit_code == 2
    assert f"{fixture}:5:5: error: duplicate key 'expect'" in result.stderr
    assert "'facts' is a required property" in result.stderr


@pytest.mark.parametrize("entry", [
    "  - {name: a, on: 2024-03-01, facts: {}, facts: {}}\n",
    "  - {name: a, name: b, facts: {}}\n",
    "  - {on: 2024-03-01, on: 2024-03-02, facts: {}}\n",
    "  - {name: a, on: 2024-03-01, facts: {}, expect: {z: 1}, expect_unknown: {z: [p.n]}, expect_unknown: {}}\n",
    "  - {name: a, on: 2024-03-01, facts: {p.n: 1}, proposals: [x], proposals: [y]}\n",
])
def test_no_scenario_with_duplicate_keys_reaches_the_reader_unchecked(tmp_path: Path, rules: Path,
                                                                        entry: str) -> None:
    fixture = write(tmp_path, "s.yaml", "scenarios:\n" + entry)
    result = run("test", fixture, "--rules", str(rules))
    assert result.exit_code == 2
    assert "duplicate key" in result.stderr


# -- the end of the calendar: eval and eval --explain agree --------------------------------


def test_eval_and_its_explanations_agree_at_the_end_of_the_calendar(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "examples" / "persoon.yaml").read_text(encoding="utf-8")
    facts = write(tmp_path, "p.yaml", text.replace("2023-03-01", "9999-12-31").replace("1990-05-01", "9999-12-31"))
    plain = run("eval", facts, "--on", "9999-12-31")
    assert plain.exit_code == 0, plain.stderr
    for extra in (["--explain"], ["--explain", "--format", "json"]):
        explained = run("eval", facts, "--on", "9999-12-31", *extra)
        assert explained.exit_code == plain.exit_code, explained.stderr
    outputs = json.loads(run("eval", facts, "--on", "9999-12-31", "--format", "json").stdout)["outputs"]
    for output in outputs:
        assert run("explain", output, facts, "--on", "9999-12-31").exit_code == 0


# -- strict dates -------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["20240301", "2024-W01-1", "2024-3-1", "2024-03-01T00:00", "2024-061"])
def test_command_line_dates_are_strict(tmp_path: Path, rules: Path, day: str) -> None:
    facts = write(tmp_path, "f.yaml", "p.n: 1\n")
    result = run("eval", facts, "--on", day, "--rules", str(rules))
    assert result.exit_code == 2
    assert "expected YYYY-MM-DD" in result.stderr


@pytest.mark.parametrize("text", ['p.d: "19900501"', 'p.d: "1990-W18-2"', "p.d: 1990-5-1", '{"p.d": "19900501"}'])
def test_fact_dates_are_strict(tmp_path: Path, rules: Path, text: str) -> None:
    facts = write(tmp_path, "f.yaml", text + "\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules))
    assert result.exit_code == 2
    assert f"{facts}:1:" in result.stderr and "YYYY-MM-DD" in result.stderr


def test_library_fact_dates_are_strict(rules: Path) -> None:
    with pytest.raises(InputError, match="expected YYYY-MM-DD"):
        RuleSet.load(rules).evaluate({"p.d": "19900501"}, date(2024, 3, 1))


def test_rule_and_scenario_dates_are_strict(tmp_path: Path, rules: Path) -> None:
    (rules / "rules.yaml").write_text(RULES.replace("from: 2014-01-01", "from: '20140101'", 1), encoding="utf-8")
    result = run("check", str(rules))
    assert result.exit_code == 1 and "rules.yaml:15:15: error: " in result.stderr  # a date only as YYYY-MM-DD
    (rules / "rules.yaml").write_text(RULES, encoding="utf-8")
    fixture = write(tmp_path, "s.yaml", "scenarios:\n  - {name: a, on: '2024-W01-1', facts: {}, expect: {z: 1}}\n")
    result = run("test", fixture, "--rules", str(rules))
    assert result.exit_code == 2 and f"{fixture}:2:" in result.stderr
