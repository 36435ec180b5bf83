"""Error reports a rule author can act on (issue 13, item 7), each asserted in full:
message, line and caret.

- a badly written date says what is expected, with an example;
- a type error underlines the operands (the whole operation), not only the operator;
- a cycle error stands on the use that closes the cycle;
- a file with a YAML or schema error still reports its other errors, and no error in
  one file is caused only by another file's failure.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

VOCABULARY = """\
vocabulary:
  facts:
    persoon.leeftijd: {type: number}
    persoon.ziek: {type: bool}
  outputs:
    verplicht: {type: bool}
    bedrag: {type: number}
"""


def check(root: Path) -> tuple[int, str]:
    """``decree check`` of ``root``: exit code and standard error, with ``root`` left out."""
    result = CliRunner().invoke(main, ["check", str(root)])
    return result.exit_code, result.stderr.replace(f"{root}/", "")


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def rule(when: str = "persoon.leeftijd >= 18", start: str = "2014-01-01", rule_id: str = "basis",
         extra: str = "") -> str:
    return f"""\
rules:
  - id: {rule_id}
    title: Basis
    source: {{instrument: Decreet}}{extra}
    versions:
      - from: {start}
        when: {when}
        set: {{verplicht: true}}
"""


# -- dates ------------------------------------------------------------------------------

DATES = [
    ("2014", "from: 2014 is not a date: write YYYY-MM-DD (e.g. 2014-01-01), or 'effective' "
             "(an amendment's effective date)", "2014", "^^^^"),
    ("2014/01/01", "from: '2014/01/01' is not a date: write YYYY-MM-DD (e.g. 2014-01-01), or 'effective' "
                   "(an amendment's effective date)", "2014/01/01", "^" * 10),
    ("1/3/2020", "from: '1/3/2020' is not a date: write YYYY-MM-DD (e.g. 2020-03-01), or 'effective' "
                 "(an amendment's effective date)", "1/3/2020", "^" * 8),
    ("eerste januari", "from: 'eerste januari' is not a date: write YYYY-MM-DD (e.g. 2024-03-01), or 'effective' "
                       "(an amendment's effective date)", "eerste januari", "^" * 14),
]


@pytest.mark.parametrize("written,message,shown,caret", DATES, ids=[d[0] for d in DATES])
def test_a_badly_written_date_says_what_is_expected(tmp_path: Path, written: str, message: str, shown: str,
                                                    caret: str) -> None:
    write(tmp_path, {"rules.yaml": VOCABULARY + rule(start=written)})
    code, stderr = check(tmp_path)
    assert code == 1
    assert stderr.splitlines() == [
        f"rules.yaml:13:15: error: {message}",
        f"          - from: {shown}",
        f"                  {caret}",
        "1 error, 0 warnings"]


def test_a_badly_written_scenario_date_says_what_is_expected(tmp_path: Path) -> None:
    write(tmp_path, {"rules/rules.yaml": VOCABULARY + rule(), "scenarios.yaml": """\
        scenarios:
          - name: a date written the European way
            on: 01/03/2024
            facts: {persoon.leeftijd: 30}
            expect: {verplicht: true}
        """})
    result = CliRunner().invoke(main, ["test", "--rules", str(tmp_path / "rules"), str(tmp_path / "scenarios.yaml")])
    assert result.exit_code == 2
    assert result.stderr.replace(f"{tmp_path}/", "").splitlines()[:3] == [
        "scenarios.yaml:3:9: error: on: '01/03/2024' is not a date: write YYYY-MM-DD (e.g. 2024-03-01)",
        "        on: 01/03/2024",
        "            ^^^^^^^^^^"]


# -- type errors ------------------------------------------------------------------------

TYPE_ERRORS = [
    ("persoon.ziek == 3", "cannot compare bool with number"),
    ("persoon.leeftijd + 'a' > 1", "'+' cannot combine number and text"),
    ("persoon.ziek > false", "'>' orders numbers, dates and texts, not bool"),
    ("1 in ['a', 'b']", "cannot look for number in list of text"),
]


@pytest.mark.parametrize("when,message", TYPE_ERRORS, ids=[t[1] for t in TYPE_ERRORS])
def test_a_type_error_underlines_the_operands(tmp_path: Path, when: str, message: str) -> None:
    write(tmp_path, {"rules.yaml": VOCABULARY + rule(when=f"persoon.leeftijd >= 18 and {when}")})
    code, stderr = check(tmp_path)
    operation = when if not when.endswith("> 1") else when.removesuffix(" > 1")
    assert code == 1
    assert stderr.splitlines() == [
        f"rules.yaml:14:42: error: {message}",
        f"            when: persoon.leeftijd >= 18 and {when}",
        " " * 45 + "^" * len(operation),
        "1 error, 0 warnings"]


# -- cycles -----------------------------------------------------------------------------
# (the cycle across three files: tests/test_graph.py, asserted in full there)


def test_a_cycle_error_stands_on_the_use_that_closes_it(tmp_path: Path) -> None:
    write(tmp_path, {"rules.yaml": """\
        vocabulary:
          outputs:
            p: {type: number}
            q: {type: number}
        rules:
          - id: regel.p
            title: P
            source: {instrument: Decreet}
            versions:
              - {from: 2014-01-01, compute: {p: 2 * q + 1}}
          - id: regel.q
            title: Q
            source: {instrument: Decreet}
            versions:
              - {from: 2014-01-01, when: p > 0, compute: {q: "1"}}
        """})
    code, stderr = check(tmp_path)
    assert code == 1
    assert stderr.splitlines() == [
        "rules.yaml:15:34: error: dependency cycle: output:p -> rule:regel.p -> output:q -> rule:regel.q -> output:p, "
        "closed by the use of 'p' in 'regel.q' (rules: 'regel.p' at rules.yaml:6; 'regel.q' at rules.yaml:11)",
        "          - {from: 2014-01-01, when: p > 0, compute: {q: \"1\"}}",
        "    " + " " * 33 + "^",
        "1 error, 0 warnings"]


# -- keep going -------------------------------------------------------------------------

ONE_FILE = VOCABULARY.replace("    bedrag: {type: number}\n", "    p: {type: number}\n    q: {type: number}\n") + """\
rules:
  - id: regel.p
    title: P
    source: {instrument: Decreet}
    versions:
      - {from: 2014-01-01, compute: {p: q + 1}}
  - id: regel.q
    title: Q
    title: Q again
    source: {instrument: Decreet}
    versions:
      - {from: 2014-01-01, compute: {q: p + 1}}
  - id: regel.r
    title: R
    source: {instrument: Decreet}
    versions:
      - {from: 2014-01-01, until: 2020-01-01, set: {verplicht: true}}
      - {from: 2019-01-01, set: {verplicht: false}}
  - id: regel.s
    titel: S
    source: {instrument: Decreet}
    versions:
      - {from: 2014-01-01, set: {verplicht: true}}
"""


def test_a_yaml_or_schema_error_leaves_the_other_errors_of_its_file_reported(tmp_path: Path) -> None:
    write(tmp_path, {"rules.yaml": ONE_FILE})
    code, stderr = check(tmp_path)
    assert code == 1
    assert stderr.splitlines() == [
        "rules.yaml:17:5: error: duplicate key 'title' (first at line 16)",
        "        title: Q again",
        "        ^",
        "rules.yaml:27:5: error: 'title' is a required property",
        "      - id: regel.s",
        "        ^",
        "rules.yaml:28:5: error: unknown key 'titel'; did you mean 'title'?",
        "        titel: S",
        "        ^^^^^",
        "rules.yaml:20:41: error: dependency cycle: output:p -> rule:regel.p -> output:q -> rule:regel.q -> output:p, "
        "closed by the use of 'p' in 'regel.q' (rules: 'regel.p' at rules.yaml:10; 'regel.q' at rules.yaml:15)",
        "          - {from: 2014-01-01, compute: {q: p + 1}}",
        "                                            ^",
        "rules.yaml:26:9: error: 'regel.r': the window [2019-01-01, ...) overlaps [2014-01-01, 2020-01-01) "
        "of the version at rules.yaml:25",
        "          - {from: 2019-01-01, set: {verplicht: false}}",
        "            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        "5 errors, 0 warnings"]


OTHER_FILES = {
    "vocabulary.yaml": VOCABULARY.replace("bedrag: {type: number}", "bedrag: {type: nummer}"),
    "basis.yaml": """\
        rules:
          - id: doelgroep.basis
            titel: Doelgroep
            source: {instrument: Decreet}
            versions:
              - {from: 2014-01-01, when: persoon.leeftijd >= 18, set: {verplicht: true}}
        """,
    "uitzonderingen.yaml": """\
        rules:
          - id: doelgroep.ziek
            title: Zieken
            source: {instrument: Decreet}
            exception_to: doelgroep.basis
            versions:
              - {from: 2014-01-01, when: persoon.ziek and bedrag > 0, set: {verplicht: false}}
          - id: doelgroep.kind
            title: Kinderen
            source: {instrument: Decreet}
            exception_to: doelgroep.basiss
            versions:
              - {from: 2014-01-01, when: persoon.leeftijd < 18 and onbekend.feit, set: {verplicht: false}}
        """,
    "kapot.yaml": """\
        rules:
          - id: brussel.basis
            title: [unclosed
        """,
    "brussel.yaml": """\
        rules:
          - id: brussel.uitzondering
            title: Brussel
            source: {instrument: Ordonnantie}
            exception_to: brussel.basis
            versions:
              - {from: 2014-01-01, when: persoon.leeftijd > 64, set: {verplicht: false}}
        """,
}


def test_no_error_is_caused_only_by_another_files_failure(tmp_path: Path) -> None:
    # the failures: a declaration of a bad type (bedrag), a rule entry with a schema error
    # (doelgroep.basis), a file that is not YAML (defining brussel.basis); what only echoes
    # them is not reported, what is wrong in its own right still is
    write(tmp_path, OTHER_FILES)
    code, stderr = check(tmp_path)
    assert code == 1
    assert stderr.splitlines() == [
        "basis.yaml:2:5: error: 'title' is a required property",
        "      - id: doelgroep.basis",
        "        ^",
        "basis.yaml:3:5: error: unknown key 'titel'; did you mean 'title'?",
        "        titel: Doelgroep",
        "        ^^^^^",
        "kapot.yaml:4:1: error: YAML: did not find expected ',' or ']' (while parsing a flow sequence)",
        "vocabulary.yaml:7:20: error: type: 'nummer' is not a valid name here "
        "(pattern ^((list|set) of )*(bool|number|text|date|duration)$)",
        "        bedrag: {type: nummer}",
        "                       ^^^^^^",
        "uitzonderingen.yaml:13:60: error: unknown fact 'onbekend.feit'",
        "          - {from: 2014-01-01, when: persoon.leeftijd < 18 and onbekend.feit, set: {verplicht: false}}",
        "    " + " " * 59 + "^" * len("onbekend.feit"),
        "uitzonderingen.yaml:8:9: error: rule 'doelgroep.kind' is an exception to unknown rule 'doelgroep.basiss'",
        "      - id: doelgroep.kind",
        "            ^^^^^^^^^^^^^^",
        "6 errors, 0 warnings"]


def test_a_misspelt_section_does_not_make_its_names_unknown_elsewhere(tmp_path: Path) -> None:
    write(tmp_path, {"vocabulary.yaml": VOCABULARY.replace("vocabulary:", "vocabularry:"),
                     "rules.yaml": rule(when="persoon.leeftijd >= 18 and persoon.zwanger")})
    code, stderr = check(tmp_path)
    assert code == 1
    assert stderr.splitlines() == [
        "vocabulary.yaml:1:1: error: unknown key 'vocabularry'; did you mean 'vocabulary'?",
        "    vocabularry:",
        "    ^^^^^^^^^^^",
        "rules.yaml:7:42: error: unknown fact 'persoon.zwanger'",
        "            when: persoon.leeftijd >= 18 and persoon.zwanger",
        "    " + " " * 41 + "^" * len("persoon.zwanger"),
        "2 errors, 0 warnings"]
