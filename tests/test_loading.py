"""Loading rule files: positioned errors with a caret, schema and name checks with
"did you mean", every error of a multi-file set in one run, and a failed load that
leaves the rule set already in use untouched."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from conftest import RULESETS

from engine.errors import PolicyError, PolicyErrors, RuleFileError
from engine.ruleset import RuleSet

BROKEN = RULESETS / "broken"

VOCABULARY = """\
vocabulary:
  facts:
    persoon.leeftijd: {type: number}
    persoon.ziek: {type: bool}
    inschrijving.datum: {type: date}
  outputs:
    verplicht: {type: bool}
    grond: {type: text, values: [eu, ziek]}
"""


def write_set(tmp_path: Path, rules: str, vocabulary: str = VOCABULARY) -> Path:
    (tmp_path / "vocabulary.yaml").write_text(vocabulary, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    return tmp_path


def errors_of(*paths: Path) -> list[PolicyError]:
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(*paths)
    error = caught.value
    return list(error) if isinstance(error, PolicyErrors) else [error]


def only_error(*paths: Path) -> PolicyError:
    errors = errors_of(*paths)
    assert len(errors) == 1, "\n".join(e.render() for e in errors)
    return errors[0]


def caret_line(column: int, width: int = 1) -> str:
    return "    " + " " * (column - 1) + "^" * width


def assert_rendered(error: PolicyError, file: Path, line: int, column: int, message: str, width: int = 1) -> None:
    """The error renders as FILE:LINE:COL: error: MESSAGE, the source line, and a caret."""
    source_line = file.read_text(encoding="utf-8").splitlines()[line - 1]
    assert (error.span.file, error.span.line, error.span.column) == (str(file), line, column)
    assert error.message == message
    assert error.render().splitlines() == [
        f"{file}:{line}:{column}: error: {message}",
        f"    {source_line}",
        caret_line(column, width),
    ]


# -- errors inside expressions, placed in the YAML file ---------------------------


def test_unknown_fact_in_plain_scalar_points_into_the_yaml_file(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        when: persoon.leeftijd >= 18 and persoon.zeik
        set: {verplicht: true}
""")
    error = only_error(root)
    assert error.kind == "name"
    assert_rendered(error, root / "rules.yaml", 7, 42,
                    "unknown fact 'persoon.zeik'; did you mean 'persoon.ziek'?", width=len("persoon.zeik"))


def test_type_error_on_a_later_line_of_a_block_scalar(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        when: |
          persoon.leeftijd >= 18
            and inschrijving.datum > 2022-03-01
            and persoon.ziek == 3
        set: {verplicht: true}
""")
    error = only_error(root)
    assert error.kind == "type"
    # line 10 is "            and persoon.ziek == 3": the caret underlines both operands
    assert_rendered(error, root / "rules.yaml", 10, 17, "cannot compare bool with number", width=17)


def test_unknown_name_on_a_later_line_of_a_block_scalar(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        when: |
          persoon.leeftijd >= 18
            and inschrijving.datun > 2022-03-01
        set: {verplicht: true}
""")
    error = only_error(root)
    assert_rendered(error, root / "rules.yaml", 9, 17,
                    "unknown fact 'inschrijving.datun'; did you mean 'inschrijving.datum'?",
                    width=len("inschrijving.datun"))


def test_syntax_error_in_a_folded_scalar_points_at_its_line(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        when: >-
          persoon.leeftijd >= 18
          and persoon.ziek ) or true
        set: {verplicht: true}
""")
    error = only_error(root)
    assert error.kind == "syntax"
    assert (error.span.file, error.span.line, error.span.column) == (str(root / "rules.yaml"), 9, 28)
    assert error.message.startswith("unexpected ')'")
    assert error.render().splitlines()[1:] == ["              and persoon.ziek ) or true", caret_line(28)]


def test_syntax_error_in_a_double_quoted_scalar(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    reference_date: "inschrijving.datum + 3 monhts"
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
""")
    error = only_error(root)
    assert error.kind == "syntax"
    assert (error.span.line, error.span.column) == (5, 45)
    assert error.message.startswith("unexpected 'monhts'")
    assert error.render().splitlines()[2] == caret_line(45, len("monhts"))


def test_impossible_date_inside_an_expression(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        when: inschrijving.datum >= 2022-02-30
        set: {verplicht: true}
""")
    error = only_error(root)
    assert error.kind == "syntax"
    assert (error.span.line, error.span.column) == (7, 37)
    assert "2022-02-30" in error.message


def test_wrong_type_of_a_reference_date(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    reference_date: persoon.leeftijd
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
""")
    error = only_error(root)
    assert error.kind == "type"
    assert (error.span.file, error.span.line, error.span.column) == (str(root / "rules.yaml"), 5, 21)
    assert "date" in error.message and "number" in error.message


# -- YAML, schema and names ---------------------------------------------------------


def test_duplicate_key_is_an_error_naming_the_first(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
        set: {verplicht: false}
""")
    error = only_error(root)
    assert isinstance(error, RuleFileError)
    assert_rendered(error, root / "rules.yaml", 8, 9, "duplicate key 'set' (first at line 7)")


def test_duplicate_key_in_the_vocabulary(tmp_path: Path) -> None:
    vocabulary = VOCABULARY + "    verplicht: {type: number}\n"
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {grond: eu}
""", vocabulary)
    errors = errors_of(root)
    duplicate = [e for e in errors if "duplicate key" in e.message]
    assert [(e.span.file, e.span.line, e.span.column, e.message) for e in duplicate] == [
        (str(root / "vocabulary.yaml"), 9, 5, "duplicate key 'verplicht' (first at line 7)")]


def test_unknown_key_gets_did_you_mean(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        wehn: persoon.ziek
        set: {verplicht: true}
""")
    error = only_error(root)
    assert_rendered(error, root / "rules.yaml", 7, 9, "unknown key 'wehn'; did you mean 'when'?", width=4)


def test_unknown_key_without_a_close_match_lists_the_keys(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
amendment:
  id: a
  title: A
  source: {instrument: X}
  status: in_force
  effective: 2020-01-01
  xyz: 1
changes:
  - end: {rule: basis, on: effective}
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
""")
    error = only_error(root)
    assert (error.span.line, error.span.column) == (7, 3)
    assert error.message == ("unknown key 'xyz'; expected one of: assumption, description, effective, id, "
                             "source, status, title")


def test_unknown_change_kind_gets_did_you_mean(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
""")
    (tmp_path / "amendment.yaml").write_text("""\
amendment:
  id: a
  title: A
  source: {instrument: X}
  status: in_force
  effective: 2020-01-01
changes:
  - replase: {rule: basis, from: effective, version: {set: {verplicht: false}}}
""", encoding="utf-8")
    error = only_error(root)
    assert (error.span.file, error.span.line, error.span.column) == (str(tmp_path / "amendment.yaml"), 8, 5)
    assert error.message == "unknown change 'replase'; did you mean 'replace'?"


def test_missing_required_key_and_wrong_enum(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    source: {instrument: Decreet, confidence: X}
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
""")
    errors = errors_of(root)
    assert [(e.span.line, e.span.column, e.message) for e in errors] == [
        (2, 5, "'title' is a required property"),
        (3, 47, "confidence: 'X' is not one of 'H', 'M'"),
    ]


def test_unknown_output_in_set_gets_did_you_mean(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: true, gronde: eu}
""")
    error = only_error(root)
    assert_rendered(error, root / "rules.yaml", 7, 32, "unknown output 'gronde'; did you mean 'grond'?", width=6)


def test_unknown_output_in_an_expression_gets_did_you_mean(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
  - id: grond
    title: Grond
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        when: not verplict
        set: {grond: ziek}
""")
    error = only_error(root)
    assert error.kind == "name"
    assert (error.span.line, error.span.column) == (13, 19)
    assert "'verplict'" in error.message and "did you mean 'verplicht'?" in error.message


def test_value_outside_the_declared_values(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {grond: ziik}
""")
    error = only_error(root)
    assert_rendered(error, root / "rules.yaml", 7, 22, "output 'grond' does not take the value 'ziik'; did you mean 'ziek'?",
                    width=4)


def test_exception_to_unknown_rule_gets_did_you_mean(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
  - id: vrijstelling
    title: Vrijstelling
    source: {instrument: Decreet}
    exception_to: basiss
    versions:
      - from: 2014-01-01
        when: persoon.ziek
        set: {verplicht: false}
""")
    error = only_error(root)
    assert (error.span.line, error.span.column) == (8, 9)
    assert error.message == "rule 'vrijstelling' is an exception to unknown rule 'basiss'; did you mean 'basis'?"


def test_rule_defined_twice_across_files(tmp_path: Path) -> None:
    rule = """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
"""
    root = write_set(tmp_path, rule)
    (tmp_path / "z_again.yaml").write_text(rule, encoding="utf-8")
    error = only_error(root)
    assert (error.span.file, error.span.line, error.span.column) == (str(tmp_path / "z_again.yaml"), 2, 9)
    assert error.message == f"rule 'basis' is defined twice (first at {tmp_path / 'rules.yaml'}:2:9)"


def test_amendment_changing_an_unknown_rule(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: true}
""")
    (tmp_path / "amendment.yaml").write_text("""\
amendment:
  id: a
  title: A
  source: {instrument: X}
  status: in_force
  effective: 2020-01-01
changes:
  - end: {rule: bassis, on: effective}
""", encoding="utf-8")
    error = only_error(root)
    assert (error.span.file, error.span.line) == (str(tmp_path / "amendment.yaml"), 8)
    assert error.message == "end changes unknown rule or parameter 'bassis'; did you mean 'basis'?"


def test_effective_outside_an_amendment_is_an_error(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: effective
        set: {verplicht: true}
""")
    error = only_error(root)
    assert (error.span.line, error.span.column) == (6, 15)
    assert error.message.startswith("'effective' stands for an amendment's effective date")


def test_missing_directory_is_an_error() -> None:
    error = only_error(RULESETS / "does_not_exist")
    assert error.message == f"no such file or directory: {RULESETS / 'does_not_exist'}"


# -- every error of a multi-file set, in one run -----------------------------------


BROKEN_ERRORS = [
    ("duplicate.yaml", 5, 5, "duplicate key 'title' (first at line 3)"),
    ("duplicate.yaml", 7, 15, "impossible date '2022-02-30': day is out of range for month"),
    ("expressions.yaml", 7, 42, "unknown fact 'persoon.zeik'; did you mean 'persoon.ziek'?"),
    ("expressions.yaml", 9, 9, "rule 'blok' is an exception to unknown rule 'basiss'; did you mean 'basis'?"),
    ("expressions.yaml", 18, 17, "cannot compare bool with number"),
    ("expressions.yaml", 19, 33, "unknown output 'verplight'; did you mean 'verplicht'?"),
    ("expressions.yaml", 19, 57, "output 'grond' does not take the value 'ziik'; did you mean 'ziek'?"),
    ("expressions.yaml", 23, 45, None),  # a syntax error: unexpected 'monhts'
    ("schema.yaml", 2, 5, "'title' is a required property"),
    ("schema.yaml", 3, 5, "unknown key 'titel'; did you mean 'title'?"),
    ("schema.yaml", 4, 13, "source: 'instrument' is a required property"),
]


def test_all_errors_of_a_multi_file_set_in_one_run() -> None:
    errors = errors_of(BROKEN)
    found = [(Path(e.span.file).name, e.span.line, e.span.column, e.message) for e in errors]
    assert len(found) == len(BROKEN_ERRORS) == 11
    for (file, line, column, message), expected in zip(found, BROKEN_ERRORS):
        assert (file, line, column) == expected[:3]
        if expected[3] is None:
            assert message.startswith("unexpected 'monhts'")
        else:
            assert message == expected[3]
    assert all(e.severity == "error" for e in errors)


def test_check_returns_every_problem_and_no_ruleset() -> None:
    ruleset, problems = RuleSet.check(BROKEN)
    assert ruleset is None
    assert len([p for p in problems if p.severity == "error"]) == 11
    assert {Path(p.span.file).name for p in problems} == {"duplicate.yaml", "expressions.yaml", "schema.yaml"}


def test_every_rendered_error_has_position_source_line_and_caret() -> None:
    for error in errors_of(BROKEN):
        head, line, caret = error.render().splitlines()
        assert head.startswith(f"{error.span.file}:{error.span.line}:{error.span.column}: error: ")
        source_line = Path(error.span.file).read_text(encoding="utf-8").splitlines()[error.span.line - 1]
        assert line == "    " + source_line
        assert caret.startswith("    " + " " * (error.span.column - 1) + "^")
        assert set(caret.strip()) == {"^"}


def test_errors_of_two_rule_set_paths_are_reported_together(tmp_path: Path) -> None:
    other = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        set: {verplicht: ja}
""")
    errors = errors_of(BROKEN / "schema.yaml", other)
    # errors come sorted by file path, and the two directories sort by where they lie
    assert sorted((Path(e.span.file).name, e.span.line) for e in errors) == [
        ("rules.yaml", 7), ("schema.yaml", 2), ("schema.yaml", 3), ("schema.yaml", 4)]
    assert errors == sorted(errors, key=lambda e: (e.span.file, e.span.line, e.span.column, e.message))
    (other_error,) = [e for e in errors if Path(e.span.file).name == "rules.yaml"]
    assert other_error.message == "output 'verplicht': expected true or false, not 'ja'"


# -- a failed load leaves the rule set in use working ----------------------------------


def test_failed_load_leaves_the_previous_ruleset_working(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(RULESETS / "exceptions", root)
    old = RuleSet.load(root)
    facts = {"persoon.leeftijd": 30, "persoon.eu": False, "persoon.ziek": True, "persoon.bedienaar": False,
             "inschrijving.datum": date(2020, 5, 1)}
    before = old.evaluate(facts, on=date(2024, 3, 1)).to_json()
    assert before["outputs"] == {"grond": "ziek", "status": "vrij", "verplicht": False}

    # the same directory, now with a broken rule: the load fails as a whole
    rules = (root / "rules.yaml").read_text(encoding="utf-8")
    (root / "rules.yaml").write_text(rules.replace("when: persoon.ziek\n", "when: persoon.zeik\n", 1),
                                     encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(root)
    assert "unknown fact 'persoon.zeik'" in caught.value.render()
    with pytest.raises(PolicyError):
        RuleSet.load(BROKEN)

    after = old.evaluate(facts, on=date(2024, 3, 1))
    assert after.to_json() == before
    assert after.decisions["verplicht"].rule == "vrijstelling.ziek"
    # and a proposal-free consolidation never built before still works on the old set
    assert old.evaluate({**facts, "persoon.ziek": False}, on=date(2024, 3, 1)).outputs == {
        "verplicht": True, "status": "verplicht"}


def test_load_is_repeatable_and_content_hash_is_stable() -> None:
    first, second = RuleSet.load(RULESETS / "exceptions"), RuleSet.load(RULESETS / "exceptions")
    assert first is not second
    assert first.content_hash == second.content_hash
    assert len(first.content_hash) == 16
    assert RuleSet.load(RULESETS / "time").content_hash != first.content_hash


def test_content_hash_changes_with_any_file(tmp_path: Path) -> None:
    shutil.copytree(RULESETS / "exceptions", tmp_path / "r")
    before = RuleSet.load(tmp_path / "r").content_hash
    with (tmp_path / "r" / "rules.yaml").open("a", encoding="utf-8") as handle:
        handle.write("# a comment\n")
    assert RuleSet.load(tmp_path / "r").content_hash != before


def test_clean_ruleset_loads_without_warnings() -> None:
    ruleset, problems = RuleSet.check(RULESETS / "exceptions")
    assert ruleset is not None
    assert problems == []
    assert sorted(ruleset.loaded.rules) == ["basis", "herplicht.bedienaar", "status.bepaling", "vrijstelling.eu",
                                            "vrijstelling.ziek"]
    assert ruleset.public_outputs == ["verplicht", "grond", "status"]


def test_lint_warnings_do_not_stop_loading(tmp_path: Path) -> None:
    root = write_set(tmp_path, """\
rules:
  - id: basis
    title: Basis
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        when: persoon.ziek
        set: {verplicht: true}
""")
    ruleset = RuleSet.load(root)
    assert sorted((w.severity, w.message) for w in ruleset.warnings) == [
        ("warning", "fact 'inschrijving.datum' is declared but no rule uses it"),
        ("warning", "fact 'persoon.leeftijd' is declared but no rule uses it"),
        ("warning", "output 'grond' is declared but no rule sets it"),
    ]
    rendered = [w.render().splitlines()[0] for w in ruleset.warnings]
    assert f"{root / 'vocabulary.yaml'}:8:5: warning: output 'grond' is declared but no rule sets it" in rendered


@pytest.mark.parametrize("when, line, column", [
    # a plain scalar continued on the next line
    ("when: persoon.leeftijd >= 18\n          and persoon.zeik", 8, 15),
    # single quotes with '' escapes before the error
    ("when: 'persoon.ziek == true and ''a'' == ''a'' and persoon.zeik'", 7, 60),
    # double quotes with \" and \u escapes before the error
    ('when: "\\"\\u00e4\\" == \\"a\\" and persoon.zeik"', 7, 40),
    # a folded scalar with an empty line
    (">-\n          persoon.ziek\n\n          and persoon.zeik".replace(">-", "when: >-"), 10, 15),
    # a double-quoted scalar broken over two lines
    ('when: "persoon.leeftijd >= 18 and\n          persoon.zeik"', 8, 11),
])
def test_errors_inside_every_scalar_style(tmp_path: Path, when: str, line: int, column: int) -> None:
    root = write_set(tmp_path, f"""\
rules:
  - id: basis
    title: Basis
    source: {{instrument: Decreet}}
    versions:
      - from: 2014-01-01
        {when}
        set: {{verplicht: true}}
""")
    error = only_error(root)
    assert error.message == "unknown fact 'persoon.zeik'; did you mean 'persoon.ziek'?"
    assert (error.span.line, error.span.column) == (line, column)
    source_line = (root / "rules.yaml").read_text(encoding="utf-8").splitlines()[line - 1]
    assert source_line[column - 1:column - 1 + len("persoon.zeik")] == "persoon.zeik"
    assert error.render().splitlines()[2] == caret_line(column, len("persoon.zeik"))
