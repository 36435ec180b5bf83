"""The decree command line (contracts.md): check, eval (text and JSON), explain, graph and
show, their exit codes, and bad input reported with positions, never as a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import RULESETS

from engine.cli import main
from engine.ruleset import RuleSet

EXCEPTIONS = RULESETS / "exceptions"

ILL = """\
facts:
  persoon: {leeftijd: 30, eu: false, ziek: true, bedienaar: false}
  inschrijving: {datum: 2020-05-01}
"""


def run(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=input)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def content_hash() -> str:
    return RuleSet.load(EXCEPTIONS).content_hash


# -- check ------------------------------------------------------------------------------


def test_check_clean_exit_0(content_hash: str) -> None:
    result = run("check", str(EXCEPTIONS))
    assert result.exit_code == 0
    assert result.stdout == f"ok: 2 files, 5 rules, 0 amendments, 0 warnings (rules version {content_hash})\n"
    assert result.stderr == ""


def test_check_counts_amendments() -> None:
    result = run("check", str(RULESETS / "amendments"))
    assert result.exit_code == 0
    assert result.stdout.startswith("ok: 6 files, 5 rules, 5 amendments, 0 warnings (rules version ")


def test_check_problems_exit_1_with_every_error() -> None:
    result = run("check", str(RULESETS / "broken"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count(": error: ") == 11
    assert result.stderr.rstrip().endswith("11 errors, 0 warnings")
    assert (f"{RULESETS / 'broken' / 'expressions.yaml'}:7:42: error: unknown fact 'persoon.zeik'; did you mean "
            f"'persoon.ziek'?\n            when: persoon.leeftijd >= 18 and persoon.zeik\n"
            f"    {' ' * 41}^^^^^^^^^^^^\n") in result.stderr


def test_check_warnings_only_exit_0() -> None:
    result = run("check", str(RULESETS / "gap"))
    assert result.exit_code == 0
    assert f"{RULESETS / 'gap' / 'rules.yaml'}:13:9: warning: 'termijn': no version applies" in result.stderr
    assert result.stdout.startswith("ok: 1 files, 1 rules, 0 amendments, 1 warning (rules version ")
    quiet = run("check", "--quiet", str(RULESETS / "gap"))
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_check_several_paths_together() -> None:
    result = run("check", str(RULESETS / "broken" / "schema.yaml"), str(RULESETS / "overlap"))
    assert result.exit_code == 1
    assert result.stderr.count(f"{RULESETS / 'broken' / 'schema.yaml'}:") == 3
    assert result.stderr.rstrip().endswith(" errors, 0 warnings")


def test_check_reports_an_overlap_next_to_a_schema_error_elsewhere() -> None:
    result = run("check", str(RULESETS / "broken" / "schema.yaml"), str(RULESETS / "overlap"))
    assert "'termijn': the window [2021-01-01, ...) overlaps" in result.stderr
    assert result.stderr.rstrip().endswith("4 errors, 0 warnings")


def test_check_missing_directory_exit_1() -> None:
    result = run("check", str(RULESETS / "nope"))
    assert result.exit_code == 1
    assert f"no such file or directory: {RULESETS / 'nope'}" in result.stderr


def test_check_default_is_rules_of_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(RULESETS / "gap", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    result = run("check")
    assert result.exit_code == 0
    assert "rules/rules.yaml:13:9: warning:" in result.stderr
    assert result.stdout.startswith("ok: 1 files, 1 rules")


# -- eval -------------------------------------------------------------------------------


def test_eval_text(tmp_path: Path, content_hash: str) -> None:
    result = run("eval", write(tmp_path, "f.yaml", ILL), "--on", "2024-03-01", "--rules", str(EXCEPTIONS))
    assert result.exit_code == 0
    assert result.stdout == (f"Decision on 2024-03-01 (rules {content_hash})\n"
                             "  verplicht  false\n  grond      'ziek'\n  status     'vrij'\n")


def test_eval_text_shows_unknown_and_not_applicable(tmp_path: Path, content_hash: str) -> None:
    facts = write(tmp_path, "f.yaml", "persoon: {leeftijd: 30, eu: false, ziek: null}\ninschrijving: {datum: 2020-05-01}\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(EXCEPTIONS))
    assert result.exit_code == 0
    assert result.stdout == (f"Decision on 2024-03-01 (rules {content_hash})\n"
                             "  verplicht  true\n  status     'verplicht'\n  not applicable: grond\n")
    facts = write(tmp_path, "g.yaml", "persoon: {leeftijd: 30, eu: false, bedienaar: false}\n"
                                     "inschrijving: {datum: 2020-05-01}\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(EXCEPTIONS))
    assert result.stdout.splitlines()[1:] == ["  verplicht  unknown: needs persoon.ziek",
                                              "  grond      unknown: needs persoon.ziek",
                                              "  status     unknown: needs persoon.ziek"]


def test_eval_json_has_the_contract_keys(tmp_path: Path, content_hash: str) -> None:
    facts = write(tmp_path, "f.yaml", "persoon: {leeftijd: 30, eu: false, bedienaar: false}\n"
                                     "inschrijving: {datum: 2020-05-01}\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(EXCEPTIONS), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["on", "rules_version", "proposals", "outputs", "unknown", "not_applicable"]
    assert data == {"on": "2024-03-01", "rules_version": content_hash, "proposals": {}, "outputs": {},
                    "unknown": {"grond": ["persoon.ziek"], "status": ["persoon.ziek"], "verplicht": ["persoon.ziek"]},
                    "not_applicable": []}


def test_eval_json_dates_and_not_applicable(tmp_path: Path) -> None:
    facts = write(tmp_path, "f.json", json.dumps({"traject": {"contract_datum": "2022-03-01"}}))
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(RULESETS / "time"), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout, parse_float=Decimal)
    assert data["outputs"] == {"tarief_contract": Decimal("75.5"), "tarief_nu": Decimal("75.5"),
                               "termijn_dagen": 90, "termijn_einde": "2022-05-30"}
    assert data["unknown"] == {"bedrag": ["persoon.leeftijd"]}
    assert data["not_applicable"] == ["oude_regeling"]


def test_eval_json_numbers_are_exact(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    write(rules, "r.yaml", """\
vocabulary:
  facts:
    bedrag.basis: {type: number}
  outputs:
    totaal: {type: number}
rules:
  - id: totaal
    title: Totaal
    source: {instrument: D}
    versions:
      - {from: 2014-01-01, compute: {totaal: bedrag.basis + 0.25}}
""")
    facts = write(tmp_path, "f.yaml", "bedrag: {basis: 12345678901234567.50}\n")
    result = run("eval", facts, "--on", "2024-01-01", "--rules", str(rules), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout, parse_float=Decimal)["outputs"]["totaal"] == Decimal("12345678901234567.75")


def test_eval_facts_from_standard_input(content_hash: str) -> None:
    result = run("eval", "-", "--on", "2024-03-01", "--rules", str(EXCEPTIONS), "--format", "json", input=ILL)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["outputs"] == {"grond": "ziek", "status": "vrij", "verplicht": False}


def test_eval_facts_with_or_without_the_facts_key(tmp_path: Path) -> None:
    wrapped = run("eval", write(tmp_path, "a.yaml", ILL), "--on", "2024-03-01", "--rules", str(EXCEPTIONS))
    bare = run("eval", write(tmp_path, "b.yaml", "persoon: {leeftijd: 30, eu: false, ziek: true, bedienaar: false}\n"
                                               "inschrijving.datum: 2020-05-01\n"),
               "--on", "2024-03-01", "--rules", str(EXCEPTIONS))
    assert wrapped.stdout == bare.stdout
    assert (wrapped.exit_code, bare.exit_code) == (0, 0)


def test_eval_matches_the_library(tmp_path: Path) -> None:
    result = run("eval", write(tmp_path, "f.yaml", ILL), "--on", "2024-03-01", "--rules", str(EXCEPTIONS),
                 "--format", "json")
    facts = {"persoon.leeftijd": 30, "persoon.eu": False, "persoon.ziek": True, "persoon.bedienaar": False,
             "inschrijving.datum": date(2020, 5, 1)}
    assert json.loads(result.stdout) == RuleSet.load(EXCEPTIONS).evaluate(facts, on=date(2024, 3, 1)).to_json()


# -- bad input: exit code 2, positions, never a traceback --------------------------------


def bad(tmp_path: Path, facts_text: str, *extra: str, name: str = "f.yaml") -> Result:
    path = write(tmp_path, name, facts_text)
    result = run("eval", path, "--on", "2024-03-01", "--rules", str(EXCEPTIONS), *extra)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    return result


def test_fact_of_the_wrong_type(tmp_path: Path) -> None:
    result = bad(tmp_path, "persoon:\n  leeftijd: dertig\n")
    assert result.stderr == (f"{tmp_path / 'f.yaml'}:2:13: error: fact 'persoon.leeftijd': expected a number, "
                             "not 'dertig'\n      leeftijd: dertig\n                ^^^^^^\n")


def test_unknown_fact_name(tmp_path: Path) -> None:
    result = bad(tmp_path, "facts:\n  persoon: {leeftyd: 30}\n")
    assert result.stderr.startswith(f"{tmp_path / 'f.yaml'}:2:13: error: unknown fact 'persoon.leeftyd'; did you mean "
                                    "'persoon.leeftijd'?\n")
    assert result.stderr.splitlines()[2] == "                ^^^^^^^"


def test_impossible_date_in_the_facts_file(tmp_path: Path) -> None:
    result = bad(tmp_path, "inschrijving: {datum: 2022-02-30}\n")
    assert result.stderr.startswith(f"{tmp_path / 'f.yaml'}:1:23: error: impossible date '2022-02-30'")
    quoted = bad(tmp_path, 'inschrijving: {datum: "2022-02-30"}\n', name="g.yaml")
    assert quoted.stderr.startswith(f"{tmp_path / 'g.yaml'}:1:23: error: fact 'inschrijving.datum': impossible date "
                                    "'2022-02-30'; expected YYYY-MM-DD\n")


def test_every_bad_fact_is_reported(tmp_path: Path) -> None:
    result = bad(tmp_path, 'persoon:\n  leeftijd: dertig\n  leeftyd: 3\ninschrijving: {datum: "2022-02-30"}\n')
    assert result.stderr.count(": error: ") == 3
    assert result.stderr.rstrip().endswith("3 errors")


def test_every_bad_fact_is_reported_with_an_impossible_yaml_date(tmp_path: Path) -> None:
    result = bad(tmp_path, "persoon:\n  leeftijd: dertig\n  leeftyd: 3\ninschrijving: {datum: 2022-02-30}\n")
    assert result.stderr.count(": error: ") == 3


def test_malformed_facts_file(tmp_path: Path) -> None:
    result = bad(tmp_path, "persoon: {leeftijd: 30\ninschrijving: {}\n")
    assert result.stderr.startswith(f"{tmp_path / 'f.yaml'}:2:13: error: YAML: ")
    json_file = bad(tmp_path, '{"persoon": {"leeftijd" 30}}\n', name="f.json")
    assert json_file.stderr == (f"{tmp_path / 'f.json'}:1:25: error: YAML: did not find expected ',' or '}}' (while "
                                "parsing a flow mapping)\n    {\"persoon\": {\"leeftijd\" 30}}\n" + " " * 28 + "^\n")


def test_facts_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    result = bad(tmp_path, "- persoon\n- leeftijd\n")
    assert result.stderr == f"{tmp_path / 'f.yaml'}:1:1: error: a facts file holds a mapping of facts\n    - persoon\n    ^\n"


def test_duplicate_key_in_the_facts_file(tmp_path: Path) -> None:
    result = bad(tmp_path, "persoon: {leeftijd: 30}\npersoon: {ziek: true}\n")
    assert result.stderr.startswith(f"{tmp_path / 'f.yaml'}:2:1: error: duplicate key 'persoon' (first at line 1)\n")


def test_missing_facts_file(tmp_path: Path) -> None:
    result = run("eval", str(tmp_path / "none.yaml"), "--on", "2024-03-01", "--rules", str(EXCEPTIONS))
    assert result.exit_code == 2
    assert "cannot read the file" in result.stderr and str(tmp_path / "none.yaml") in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--on", "2024-02-30"], "decree: --on: impossible date '2024-02-30'; expected YYYY-MM-DD"),
    (["--on", "1 maart"], "decree: --on: impossible date '1 maart'; expected YYYY-MM-DD"),
    (["--on", "2024-03-01", "--proposal", "x=2024-13-01"],
     "decree: --proposal x: impossible date '2024-13-01'; expected YYYY-MM-DD"),
])
def test_bad_command_line_dates(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("eval", write(tmp_path, "f.yaml", ILL), *args, "--rules", str(EXCEPTIONS))
    assert result.exit_code == 2
    assert message in result.stderr


def test_unknown_proposal_on_the_command_line(tmp_path: Path) -> None:
    result = run("eval", write(tmp_path, "f.yaml", ILL), "--on", "2024-03-01", "--rules", str(EXCEPTIONS),
                 "--proposal", "verlenging")
    assert result.exit_code == 2
    assert "unknown proposal 'verlenging'; proposals: " in result.stderr


def test_missing_on_is_a_usage_error(tmp_path: Path) -> None:
    result = run("eval", write(tmp_path, "f.yaml", ILL), "--rules", str(EXCEPTIONS))
    assert result.exit_code == 2
    assert "Missing option '--on'" in result.stderr


def test_eval_with_a_broken_rule_set_exit_2() -> None:
    result = run("eval", "-", "--on", "2024-03-01", "--rules", str(RULESETS / "broken"), input="{}\n")
    assert result.exit_code == 2
    assert result.stderr.count(": error: ") == 11
    assert "decree: the rule set has errors; run 'decree check' for details" in result.stderr


def test_conflict_is_reported_without_a_traceback(tmp_path: Path) -> None:
    facts = write(tmp_path, "f.yaml", "persoon: {student: true, leeftijd: 70, werkloos: false, leefloon: false}\n")
    result = run("eval", facts, "--on", "2024-03-01", "--rules", str(RULESETS / "conflict"))
    assert result.exit_code == 2
    assert "error: conflict on 'bedrag': rule 'tarief." in result.stderr
    assert "'tarief.student'" in result.stderr and "'tarief.senior'" in result.stderr


# -- explain, graph, show: exit codes ----------------------------------------------------


def test_explain_exit_codes(tmp_path: Path) -> None:
    facts = write(tmp_path, "f.yaml", ILL)
    ok = run("explain", "grond", facts, "--on", "2024-03-01", "--rules", str(EXCEPTIONS))
    assert ok.exit_code == 0
    assert ok.stdout.startswith("grond = 'ziek'\n")
    assert "source: Besluit van de Vlaamse Regering, art. 3" in ok.stdout
    bad_facts = run("explain", "grond", write(tmp_path, "g.yaml", "persoon: {ziek: 1}\n"), "--on", "2024-03-01",
                    "--rules", str(EXCEPTIONS))
    assert bad_facts.exit_code == 2
    assert "fact 'persoon.ziek': expected true or false, not the number 1" in bad_facts.stderr


def test_graph_exit_code_0() -> None:
    result = run("graph", "--rules", str(EXCEPTIONS), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert len(data["nodes"]) == 13 and len(data["edges"]) == 17


def test_show_exit_codes() -> None:
    ok = run("show", "vrijstelling.ziek", "--rules", str(EXCEPTIONS))
    assert ok.exit_code == 0
    assert ok.stdout == """\
vrijstelling.ziek: Vrijstelling ernstig zieke
  source: Besluit van de Vlaamse Regering, art. 3
  reference date: inschrijving.datum
  exception to: basis (order 2)
  versions:
    1. [2014-01-01, 2022-03-01)
       in the base text
       when: persoon.ziek
       verplicht = false
       grond = 'ziek'
    2. [2022-03-01, ...)
       in the base text
       source: Besluit van de Vlaamse Regering van 2022, art. 1
       when: persoon.ziek
       verplicht = false
       grond = 'ziek'
"""
    on = run("show", "vrijstelling.ziek", "--on", "2022-03-01", "--rules", str(EXCEPTIONS))
    assert on.exit_code == 0 and "  in force on 2022-03-01:\n    2. [2022-03-01, ...)\n" in on.stdout
    unknown = run("show", "vrijstelling.zie", "--rules", str(EXCEPTIONS))
    assert unknown.exit_code == 2
    assert "unknown rule, parameter, value set or output 'vrijstelling.zie'; did you mean 'vrijstelling.ziek'?" in unknown.stderr
    bad_date = run("show", "basis", "--on", "2022-02-30", "--rules", str(EXCEPTIONS))
    assert bad_date.exit_code == 2


def test_python_dash_m_engine_runs_the_same_command() -> None:
    completed = subprocess.run([sys.executable, "-m", "engine", "check", str(RULESETS / "broken")],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    assert completed.stderr.rstrip().endswith("11 errors, 0 warnings")
    assert "Traceback" not in completed.stderr
