"""Adding an amendment is adding a file: copy a rule set, drop one amendment file in it,
and decisions change from its effective date on (the day before unchanged, the day of
changed), with no Python change."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import RULESETS

from engine.cli import main
from engine.errors import PolicyError
from engine.ruleset import RuleSet

REAL_RULES = Path(__file__).parent.parent / "rules"
EFFECTIVE = date(2025, 1, 1)
DAY_BEFORE = EFFECTIVE - timedelta(days=1)

SENIOR = {"persoon.leeftijd": 70, "persoon.eu": False, "persoon.ziek": False, "persoon.bedienaar": False,
          "inschrijving.datum": date(2020, 5, 1)}

AMENDMENT = """\
# Exempts persons of 65 or older from 2025-01-01.
amendment:
  id: senioren_2025
  title: Vrijstelling voor senioren
  source: {instrument: Wijzigingsdecreet van 2024, article: art. 9}
  status: in_force
  effective: 2025-01-01
changes:
  - add_rules:
      - id: vrijstelling.senior
        title: Vrijstelling 65-plussers
        source: {instrument: Wijzigingsdecreet van 2024, article: art. 9}
        exception_to: basis
        order: 3
        versions:
          - from: effective
            when: persoon.leeftijd >= 65
            set: {verplicht: false}
"""


def without_version(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "rules_version"}


def test_one_amendment_file_changes_decisions_from_its_effective_date(tmp_path: Path) -> None:
    original = RuleSet.load(RULESETS / "exceptions")
    copy = tmp_path / "rules"
    shutil.copytree(RULESETS / "exceptions", copy)
    (copy / "2025-01-01_senioren.yaml").write_text(AMENDMENT, encoding="utf-8")
    amended = RuleSet.load(copy)
    assert amended.warnings == []
    assert amended.content_hash != original.content_hash

    before = amended.evaluate(SENIOR, on=DAY_BEFORE)
    assert before.outputs == {"verplicht": True, "status": "verplicht"}
    assert before.decisions["verplicht"].rule == "basis"
    assert without_version(before.to_json()) == without_version(original.evaluate(SENIOR, on=DAY_BEFORE).to_json())

    after = amended.evaluate(SENIOR, on=EFFECTIVE)
    assert after.outputs == {"verplicht": False, "status": "vrij"}
    assert after.decisions["verplicht"].rule == "vrijstelling.senior"
    assert original.evaluate(SENIOR, on=EFFECTIVE).outputs == {"verplicht": True, "status": "verplicht"}

    # persons the amendment does not concern are unchanged on its effective date
    younger = {**SENIOR, "persoon.leeftijd": 64}
    assert amended.evaluate(younger, on=EFFECTIVE).to_json()["outputs"] == \
        original.evaluate(younger, on=EFFECTIVE).to_json()["outputs"]
    # and the earlier exemptions still go first (order 1 and 2)
    ill = {**SENIOR, "persoon.ziek": True}
    assert amended.evaluate(ill, on=EFFECTIVE).decisions["verplicht"].rule == "vrijstelling.ziek"

    explanation = after.explain("verplicht").to_json()
    assert explanation["rule"] == "vrijstelling.senior"
    step = explanation["decided_by"]["exceptions"][-1]
    assert step["rule"] == "vrijstelling.senior"
    assert step["source"] == {"instrument": "Wijzigingsdecreet van 2024", "article": "art. 9"}
    assert step["version"]["window"] == {"from": "2025-01-01", "until": None}
    assert step["version"]["amendment"] == "senioren_2025"


def test_the_same_through_the_command_line(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(RULESETS / "exceptions", copy)
    (copy / "2025-01-01_senioren.yaml").write_text(AMENDMENT, encoding="utf-8")
    facts = tmp_path / "senior.yaml"
    facts.write_text("persoon: {leeftijd: 70, eu: false, ziek: false, bedienaar: false}\n"
                     "inschrijving: {datum: 2020-05-01}\n", encoding="utf-8")
    runner = CliRunner()
    check = runner.invoke(main, ["check", str(copy)])
    assert check.exit_code == 0
    assert check.stdout.startswith("ok: 3 files, 6 rules, 1 amendments, 0 warnings")

    def outputs(day: date) -> dict[str, Any]:
        result = runner.invoke(main, ["eval", str(facts), "--on", day.isoformat(), "--rules", str(copy),
                                      "--format", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["outputs"]

    assert outputs(DAY_BEFORE) == {"status": "verplicht", "verplicht": True}
    assert outputs(EFFECTIVE) == {"status": "vrij", "verplicht": False}
    show = runner.invoke(main, ["show", "vrijstelling.senior", "--rules", str(copy)])
    assert show.exit_code == 0
    assert "  added by amendment: senioren_2025\n" in show.stdout
    assert "    1. [2025-01-01, ...)\n       by amendment senioren_2025: Wijzigingsdecreet van 2024, art. 9\n" \
        in show.stdout


def test_a_replace_amendment_file(tmp_path: Path) -> None:
    """A second kind of change: replace a provision read on the evaluation date."""
    copy = tmp_path / "rules"
    shutil.copytree(RULESETS / "exceptions", copy)
    (copy / "eu.yaml").write_text("""\
amendment:
  id: eu_2025
  title: EU-vrijstelling alleen onder de 65 jaar
  source: {instrument: Wijzigingsdecreet van 2024, article: art. 2}
  status: in_force
  effective: 2025-01-01
changes:
  - replace:
      rule: vrijstelling.eu
      from: effective
      version:
        when: persoon.eu and persoon.leeftijd < 65
        set: {verplicht: false, grond: eu}
""", encoding="utf-8")
    amended = RuleSet.load(copy)
    eu_senior = {**SENIOR, "persoon.eu": True}
    assert amended.evaluate(eu_senior, on=DAY_BEFORE).outputs == {"verplicht": False, "grond": "eu", "status": "vrij"}
    assert amended.evaluate(eu_senior, on=EFFECTIVE).outputs == {"verplicht": True, "status": "verplicht"}
    assert amended.evaluate(eu_senior, on=EFFECTIVE).not_applicable == ["grond"]


# -- the real rule set --------------------------------------------------------------------

# The first scenario of tests/scenarios/verplichting.yaml: an adult foreign national with
# a first residence title of more than three months is obliged.
PERSON = {
    "persoon": {"geboortedatum": "1990-05-01", "nationaliteiten": ["MA"], "bedienaar_eredienst": False,
                "ernstig_ziek_of_handicap": False},
    "verblijf": {"grond": "gezinshereniging", "langer_dan_3_maanden": True, "eerste_keer": True,
                 "tijdelijk_max_1_jaar": False, "gezinslid_van_eu_burger": False,
                 "gezinslid_van_arbeidsmigrant": False},
    "inschrijving": {"eerste_datum": "2022-06-15", "gewest": "vlaanderen"},
    "onderwijs": {"diploma_belgie_of_nederland": False, "okan_volledig_schooljaar": False},
    "traject": {"attest_datum": None},
}
REAL_EFFECTIVE = date(2031, 1, 1)


@pytest.fixture(scope="module")
def real_rules() -> RuleSet:
    try:
        return RuleSet.load(REAL_RULES)
    except PolicyError as error:
        pytest.skip(f"rules/ does not load yet: {error.message}")


def test_amendment_file_on_the_real_rule_set(tmp_path: Path, real_rules: RuleSet) -> None:
    try:
        original = real_rules.evaluate(PERSON, on=REAL_EFFECTIVE - timedelta(days=1))
    except PolicyError as error:
        pytest.skip(f"rules/ no longer takes the facts of this person: {error.message}")
    assert original.outputs.get("verplicht") is True, original.to_json()
    deciding = original.decisions["verplicht"].rule
    assert deciding is not None

    copy = tmp_path / "rules"
    shutil.copytree(REAL_RULES, copy)
    (copy / "amendments" / "2031-01-01_test_vrijstelling.yaml").write_text(f"""\
amendment:
  id: test_vrijstelling_2031
  title: Vrijstelling voor iedereen vanaf 2031 (test)
  source: {{instrument: Testdecreet van 2030, article: art. 1}}
  status: in_force
  effective: 2031-01-01
changes:
  - add_rules:
      - id: test.vrijstelling_2031
        title: Niemand is nog verplicht
        source: {{instrument: Testdecreet van 2030, article: art. 1}}
        exception_to: {deciding}
        versions:
          - from: effective
            set: {{verplicht: false}}
""", encoding="utf-8")
    amended = RuleSet.load(copy)
    new_warnings = {w.message for w in amended.warnings} - {w.message for w in real_rules.warnings}
    assert new_warnings == set()

    before = amended.evaluate(PERSON, on=REAL_EFFECTIVE - timedelta(days=1))
    assert without_version(before.to_json()) == without_version(original.to_json())
    after = amended.evaluate(PERSON, on=REAL_EFFECTIVE)
    assert after.outputs["verplicht"] is False
    assert after.decisions["verplicht"].rule == "test.vrijstelling_2031"
    assert real_rules.evaluate(PERSON, on=REAL_EFFECTIVE).outputs["verplicht"] is True
    changed = {name for name in after.decisions
               if after.to_json()["outputs"].get(name) != original.to_json()["outputs"].get(name)}
    assert "verplicht" in changed
