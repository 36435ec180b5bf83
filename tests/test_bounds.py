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
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


# -- size limits, checked before the work that grows with them ------------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path, rules: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    facts = write(tmp_path, "f.yaml", "p.n: [" + "1, " * 2000 + "]\n")
    monkeypatch.setenv("DECREE_MAX_FILE_BYTES", "5000")
    import engine.sources.yamlsource as yamlsource

    parse = yamlsource.parse_document

    def parse_rules_only(text: str, name: str, *args: Any, **kwargs: Any) -> Any:
        assert not name.endswith("f.yaml"), "parsed a file over the limit"
        return parse(text, name, *args, **kwargs)

    monkeypatch.setattr(yamlsource, "parse_document", parse_rules_only)
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{facts}:1:1: error: the file is larger than 5,000 bytes")
    assert "DECREE_MAX_FILE_BYTES" in result.stderr


def test_a_long_text_is_refused_and_never_echoed(tmp_path: Path, rules: Path) -> None:
    facts = write(tmp_path, "f.yaml", "p.n: 1\np.x: '" + "a" * 200_000 + "'\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules))
    assert result.exit_code == 2
    assert f"{facts}:2:6: error: a text of 200,000 characters; the limit is 100,000" in result.stderr
    assert len(result.stderr) < 1000


def test_a_long_list_is_refused_as_it_streams(tmp_path: Path, rules: Path) -> None:
    facts = write(tmp_path, "f.yaml", "p.codes: [" + "BE, " * 100_001 + "]\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules))
    assert result.exit_code == 2
    assert f"{facts}:1:10: error: a list of more than 100,000 items" in result.stderr


def test_limits_are_set_by_the_library_and_by_the_environment(tmp_path: Path, rules: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.sources.yamlsource import Limits

    with pytest.raises(PolicyError, match="a mapping of more than 3 items"):
        RuleSet.load(rules, limits=Limits(collection_items=3))
    fixture = write(tmp_path, "s.yaml", "scenarios:\n  - {name: abcdefghijklm, on: 2024-03-01, facts: {}, expect: {z: 1}}\n")
    monkeypatch.setenv("DECREE_MAX_STRING_CHARS", "12")
    result = run("test", fixture, "--rules", str(rules))
    assert result.exit_code == 2 and f"{fixture}:2:12: error: a text of 13 characters; the limit is 12" in result.stderr
    monkeypatch.setenv("DECREE_MAX_STRING_CHARS", "many")
    assert "DECREE_MAX_STRING_CHARS must be a positive whole number" in run("check", str(rules)).stderr


def test_anchors_do_not_escape_the_limits(tmp_path: Path, rules: Path) -> None:
    # an anchor sends the document to libyaml's composer; the bounds are checked first
    facts = write(tmp_path, "f.yaml", "p.x: &a 1\np.codes: [" + "BE, " * 100_001 + "]\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules))
    assert result.exit_code == 2 and "a list or mapping of more than 100,000 items" in result.stderr


def test_a_long_number_is_never_echoed_whole(rules: Path) -> None:
    text = RULES.replace("title: neg\n", "title: neg\n    order: " + "1" * 100_001 + "\n")
    (rules / "rules.yaml").write_text(text, encoding="utf-8")
    result = run("check", str(rules))
    assert result.exit_code == 1 and "rules.yaml:13:12: error: a text of 100,001 characters" in result.stderr
    assert len(result.stderr) < 1000
    (rules / "rules.yaml").write_text(text.replace("1" * 100_001, "1" * 1_001), encoding="utf-8")
    result = run("check", str(rules))
    assert result.exit_code == 1 and "rules.yaml:13:12: error: the number '1111" in result.stderr
    assert "(1001 characters) is out of range" in result.stderr and len(result.stderr) < 1000


def test_duplicate_set_members_are_flagged(rules: Path) -> None:
    (rules / "sets.yaml").write_text("""\
sets:
  - id: EU
    title: EU
    source: {instrument: Verdrag}
    members: [BE, NL, {value: GB, until: 2020-02-01}, {value: GB, from: 2021-01-01}, NL,
              {value: BE, from: 2000-01-01}]
""", encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(rules)
    assert sorted((e.span.line, e.span.column, e.message) for e in caught.value) == [
        (5, 86, "duplicate member 'NL' (first at line 5)"),
        (6, 15, "duplicate member 'BE' (first at line 5)"),
    ]


# -- rendering many errors costs each the same ----------------------------------------------


def test_twenty_thousand_unknown_facts_read_their_file_once(tmp_path: Path, rules: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.errors as errors

    facts = write(tmp_path, "f.yaml", "".join(f"onbekend_{i}: 1\n" for i in range(20_000)))
    indexed: list[int] = []
    line_break = errors._line_break
    monkeypatch.setattr(errors, "_line_break", lambda text, start: indexed.append(1) or line_break(text, start))
    compared: list[int] = []
    suggest = errors.suggest
    monkeypatch.setattr(errors, "suggest", lambda name, pool: compared.append(1) or suggest(name, pool))
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(rules))
    assert result.exit_code == 2
    assert result.stderr.count("error: unknown fact") == 20_000
    assert f"{facts}:20000:1: error: unknown fact 'onbekend_19999'" in result.stderr
    assert len(indexed) <= 2 * 20_001  # each line found once, and its end once per error: not once per error and line
    assert len(compared) == errors.MAX_SUGGESTIONS


def test_source_lines_are_those_of_splitlines() -> None:
    from engine.errors import Source

    text = "a\r\nb\rc\n\nd\u2028e\x85f\n"
    source = Source("f", text)
    assert [source.line(n) for n in range(0, 10)] == [""] + text.splitlines() + [""] * (9 - len(text.splitlines()))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet="ab\n\r\v\f\x1c\x85\u2028 ", max_size=40), st.lists(st.integers(0, 20), max_size=8))
def test_any_line_in_any_order_is_that_of_splitlines(text: str, order: list[int]) -> None:
    from engine.errors import Source

    source = Source("f", text)
    lines = text.splitlines()
    for number in order + list(range(len(lines) + 2)):
        assert source.line(number) == (lines[number - 1] if 1 <= number <= len(lines) else "")


def test_a_file_with_carriage_returns_reads_as_in_text_mode(tmp_path: Path, rules: Path) -> None:
    unix = write(tmp_path, "unix.yaml", "p.n: 1\np.d: 2024-02-30\n")
    (tmp_path / "dos.yaml").write_bytes(b"p.n: 1\r\np.d: 2024-02-30\r\n")
    found = [run("eval", path, "--on", "2024-03-01", "--rules", str(rules)).stderr.replace(path, "F")
             for path in (unix, str(tmp_path / "dos.yaml"))]
    assert found[0] == found[1] and "F:2:6: error: impossible date" in found[0]
