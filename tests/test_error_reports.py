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
