"""Explanations: the deciding rule, its version window, the reference date used, the
legal source, the exceptions that did not apply and the fact values, as text and JSON."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import RULESETS

from engine.cli import main
from engine.reports.explain import explain_all, render_text
from engine.ruleset import RuleSet

ON = date(2024, 3, 1)


def person(registered: date = date(2020, 5, 1), **given: Any) -> dict[str, Any]:
    facts = {f"persoon.{name}": value for name, value in given.items()}
    facts["inschrijving.datum"] = registered
    return facts


ILL = dict(leeftijd=30, eu=False, ziek=True, bedienaar=False)

ILL_TEXT = """\
verplicht = false
  decided by 'vrijstelling.ziek', an exception that overrides 'basis':
    basis: Inburgeringsplicht [applied]
      source: Decreet van 7 juni 2013, art. 27
      version 1 of 1, in force [2014-01-01, ...), chosen by inschrijving.datum = 2020-05-01
      when: persoon.leeftijd >= 18
      facts: inschrijving.datum = 2020-05-01, persoon.leeftijd = 30
      exception (order 1):
        vrijstelling.eu: Vrijstelling EU-burger [did not apply]
          source: Besluit van de Vlaamse Regering, art. 2
          version 1 of 1, in force [2014-01-01, ...), chosen by evaluation_date = 2024-03-01
          when: persoon.eu
          facts: persoon.eu = false
      exception (order 2):
        vrijstelling.ziek: Vrijstelling ernstig zieke [applied]  <- decides
          source: Besluit van de Vlaamse Regering, art. 3
          version 1 of 2, in force [2014-01-01, 2022-03-01), chosen by inschrijving.datum = 2020-05-01
          when: persoon.ziek
          facts: inschrijving.datum = 2020-05-01, persoon.ziek = true
          exception:
            herplicht.bedienaar: Bedienaar van de eredienst blijft verplicht [did not apply]
              source: Decreet van 3 mei 2024, art. 5
              version 1 of 1, in force [2014-01-01, ...), chosen by evaluation_date = 2024-03-01
              when: persoon.bedienaar
              facts: persoon.bedienaar = false
"""


def test_text_explanation_of_an_exception(ruleset: RuleSet) -> None:
    result = ruleset.evaluate(person(**ILL), on=ON)
    explanation = result.explain("verplicht")
    assert explanation.rule == "vrijstelling.ziek"
    assert explanation.chain == ["basis"]
    assert render_text(explanation) == ILL_TEXT


def test_text_names_every_required_part(ruleset: RuleSet) -> None:
    text = render_text(ruleset.evaluate(person(**ILL), on=ON).explain("verplicht"))
    assert "decided by 'vrijstelling.ziek'" in text  # the deciding rule
    assert "vrijstelling.ziek: Vrijstelling ernstig zieke [applied]  <- decides" in text
    assert "in force [2014-01-01, 2022-03-01)" in text  # its version window
    assert "chosen by inschrijving.datum = 2020-05-01" in text  # the reference date used
    assert "source: Besluit van de Vlaamse Regering, art. 3" in text  # instrument and article
    assert "vrijstelling.eu: Vrijstelling EU-burger [did not apply]" in text  # exceptions that did not apply
    assert "herplicht.bedienaar: Bedienaar van de eredienst blijft verplicht [did not apply]" in text
    assert "facts: inschrijving.datum = 2020-05-01, persoon.ziek = true" in text  # fact values


def test_later_registration_uses_the_second_version_and_its_act(ruleset: RuleSet) -> None:
    text = render_text(ruleset.evaluate(person(date(2023, 5, 1), **ILL), on=ON).explain("verplicht"))
    assert ("          version 2 of 2, in force [2022-03-01, ...), chosen by inschrijving.datum = 2023-05-01\n"
            "          version made by: Besluit van de Vlaamse Regering van 2022\n") in text


def test_exception_to_an_exception_is_marked_as_deciding(ruleset: RuleSet) -> None:
    explanation = ruleset.evaluate(person(**{**ILL, "bedienaar": True}), on=ON).explain("verplicht")
    assert explanation.value is True
    assert explanation.rule == "herplicht.bedienaar"
    assert explanation.chain == ["basis", "vrijstelling.ziek"]
    text = render_text(explanation)
    assert text.startswith("verplicht = true\n  decided by 'herplicht.bedienaar', an exception that overrides "
                           "'vrijstelling.ziek' and 'basis':\n")
    assert "herplicht.bedienaar: Bedienaar van de eredienst blijft verplicht [applied]  <- decides" in text


def test_base_rule_deciding_lists_its_exceptions_as_not_applying(ruleset: RuleSet) -> None:
    explanation = ruleset.evaluate(person(leeftijd=30, eu=False, ziek=False, bedienaar=False), on=ON) \
        .explain("verplicht")
    assert explanation.rule == "basis"
    assert explanation.chain == []
    assert explanation.decided_by is not None
    assert [(e.rule, e.outcome) for e in explanation.decided_by.exceptions] == [
        ("vrijstelling.eu", "did not apply"), ("vrijstelling.ziek", "did not apply")]
    assert render_text(explanation).splitlines()[:3] == [
        "verplicht = true", "  decided by:", "    basis: Inburgeringsplicht [applied]"]


def test_json_explanation_has_the_keys(ruleset: RuleSet) -> None:
    data = ruleset.evaluate(person(**ILL), on=ON).explain("verplicht").to_json()
    assert set(data) == {"output", "status", "value", "rule", "overrides", "decided_by", "considered"}
    assert (data["output"], data["status"], data["value"], data["rule"], data["overrides"]) == (
        "verplicht", "decided", False, "vrijstelling.ziek", ["basis"])
    top = data["decided_by"]
    assert set(top) == {"rule", "title", "source", "outcome", "reference_date", "version", "condition", "facts",
                        "uses", "exceptions"}
    assert top["rule"] == "basis"
    eu, ill = top["exceptions"]
    assert eu["rule"] == "vrijstelling.eu" and eu["outcome"] == "did not apply"
    assert eu["facts"] == {"persoon.eu": False}
    assert ill == {
        "rule": "vrijstelling.ziek",
        "title": "Vrijstelling ernstig zieke",
        "source": {"instrument": "Besluit van de Vlaamse Regering", "article": "art. 3"},
        "outcome": "applied",
        "reference_date": {"expression": "inschrijving.datum", "value": "2020-05-01"},
        "version": {"number": 1, "of": 2, "window": {"from": "2014-01-01", "until": "2022-03-01"},
                    "source": None, "amendment": None},
        "condition": "persoon.ziek",
        "facts": {"inschrijving.datum": "2020-05-01", "persoon.ziek": True},
        "uses": [],
        "exceptions": [{
            "rule": "herplicht.bedienaar",
            "title": "Bedienaar van de eredienst blijft verplicht",
            "source": {"instrument": "Decreet van 3 mei 2024", "article": "art. 5"},
            "outcome": "did not apply",
            "reference_date": {"expression": "evaluation_date", "value": "2024-03-01"},
            "version": {"number": 1, "of": 1, "window": {"from": "2014-01-01", "until": None},
                        "source": None, "amendment": None},
            "condition": "persoon.bedienaar",
            "facts": {"persoon.bedienaar": False},
            "uses": [],
            "exceptions": [],
        }],
    }
    json.dumps(data)  # plain JSON throughout


def test_json_version_source_of_a_later_version(ruleset: RuleSet) -> None:
    data = ruleset.evaluate(person(date(2023, 5, 1), **ILL), on=ON).explain("verplicht").to_json()
    version = data["decided_by"]["exceptions"][1]["version"]
    assert version == {"number": 2, "of": 2, "window": {"from": "2022-03-01", "until": None},
                       "source": {"instrument": "Besluit van de Vlaamse Regering van 2022", "article": "art. 1"},
                       "amendment": None}


def test_explanation_of_a_computed_output_includes_what_it_uses(ruleset: RuleSet) -> None:
    explanation = ruleset.evaluate(person(**ILL), on=ON).explain("status")
    data = explanation.to_json()
    assert data["value"] == "vrij" and data["rule"] == "status.bepaling"
    assert data["decided_by"]["expression"] == "if verplicht then 'verplicht' else 'vrij'"
    (used,) = data["decided_by"]["uses"]
    assert (used["output"], used["value"], used["rule"]) == ("verplicht", False, "vrijstelling.ziek")
    text = render_text(explanation)
    assert "      value: if verplicht then 'verplicht' else 'vrij'\n      verplicht = false\n" in text


def test_explanation_of_an_unknown_output_names_the_missing_facts(ruleset: RuleSet) -> None:
    explanation = ruleset.evaluate(person(leeftijd=30, eu=False, bedienaar=False), on=ON).explain("verplicht")
    data = explanation.to_json()
    assert (data["status"], data["missing"], data["rule"], data["decided_by"]) == (
        "unknown", ["persoon.ziek"], None, None)
    text = render_text(explanation)
    assert text.startswith("verplicht = unknown (missing: persoon.ziek)\n  also considered:\n")
    assert "vrijstelling.ziek: Vrijstelling ernstig zieke [unknown]" in text
    assert "facts: inschrijving.datum = 2020-05-01, persoon.ziek = unknown" in text


def test_explanation_of_a_not_applicable_output(ruleset: RuleSet) -> None:
    explanation = ruleset.evaluate(person(leeftijd=10, eu=False, ziek=False, bedienaar=False), on=ON) \
        .explain("verplicht")
    data = explanation.to_json()
    assert (data["status"], data["rule"], data["decided_by"]) == ("not_applicable", None, None)
    assert "value" not in data
    assert [(s["rule"], s["outcome"]) for s in data["considered"]] == [("basis", "did not apply")]
    text = render_text(explanation)
    assert text.startswith("verplicht = not applicable\n  also considered:\n"
                           "    basis: Inburgeringsplicht [did not apply]\n")
    assert "facts: inschrijving.datum = 2020-05-01, persoon.leeftijd = 10" in text


def test_fact_given_as_none_is_shown_as_none(ruleset: RuleSet) -> None:
    text = render_text(ruleset.evaluate(person(**{**ILL, "bedienaar": None}), on=ON).explain("verplicht"))
    assert "facts: persoon.bedienaar = none" in text


def test_json_tells_unknown_facts_from_none(ruleset: RuleSet) -> None:
    unknown = ruleset.evaluate(person(leeftijd=30, eu=False, ziek=True), on=ON).explain("verplicht").to_json()
    none = ruleset.evaluate(person(leeftijd=30, eu=False, ziek=True, bedienaar=None), on=ON) \
        .explain("verplicht").to_json()

    def bedienaar(data: dict[str, Any]) -> Any:
        return data["considered"][0]["exceptions"][1]["exceptions"][0]["facts"]["persoon.bedienaar"] \
            if data["decided_by"] is None else \
            data["decided_by"]["exceptions"][1]["exceptions"][0]["facts"]["persoon.bedienaar"]

    assert bedienaar(unknown) != bedienaar(none)


def test_explanation_with_an_unknown_reference_date() -> None:
    timed = RuleSet.load(RULESETS / "time")
    explanation = timed.evaluate({"persoon.leeftijd": 30}, on=ON).explain("termijn_dagen")
    data = explanation.to_json()
    assert (data["status"], data["missing"]) == ("unknown", ["traject.contract_datum"])
    (step,) = data["considered"]
    assert (step["rule"], step["outcome"]) == ("termijn", "unknown")
    assert step["reference_date"]["expression"] == "traject.contract_datum"
    assert "traject.contract_datum = unknown" in render_text(explanation)


def test_unknown_reference_date_is_not_called_no_version_in_force() -> None:
    timed = RuleSet.load(RULESETS / "time")
    text = render_text(timed.evaluate({"persoon.leeftijd": 30}, on=ON).explain("termijn_dagen"))
    assert "no version in force" not in text


def test_text_explains_why_no_version_applies() -> None:
    timed = RuleSet.load(RULESETS / "time")
    text = render_text(timed.evaluate({"traject.contract_datum": date(2010, 1, 1)}, on=ON).explain("termijn_dagen"))
    assert "termijn" in text.split("\n", 1)[1] and "2010-01-01" in text


def test_explanation_json_of_a_rule_not_in_force() -> None:
    timed = RuleSet.load(RULESETS / "time")
    data = timed.evaluate({"traject.contract_datum": date(2010, 1, 1)}, on=ON).explain("termijn_dagen").to_json()
    (step,) = data["considered"]
    assert (step["rule"], step["outcome"], step["reference_date"]) == (
        "termijn", "not in force", {"expression": "traject.contract_datum", "value": "2010-01-01"})
    assert "version" not in step


def test_explanation_names_the_amendment_of_a_version() -> None:
    amended = RuleSet.load(RULESETS / "amendments")
    explanation = amended.evaluate({}, on=date(2020, 1, 1)).explain("a_replace")
    data = explanation.to_json()
    assert data["decided_by"]["version"]["amendment"] == "vervanging_2020"
    assert data["decided_by"]["version"]["window"] == {"from": "2020-01-01", "until": None}
    assert "      version made by: vervanging_2020" in render_text(explanation)
    before = amended.evaluate({}, on=date(2019, 12, 31)).explain("a_replace").to_json()
    assert before["decided_by"]["version"]["amendment"] is None
    assert before["decided_by"]["version"]["window"] == {"from": "2014-01-01", "until": "2020-01-01"}


def test_explanation_cites_the_amending_act() -> None:
    amended = RuleSet.load(RULESETS / "amendments")
    data = amended.evaluate({}, on=date(2020, 1, 1)).explain("a_replace").to_json()
    assert data["decided_by"]["version"]["source"] == {"instrument": "Wijzigingsdecreet 2020", "article": "art. 7"}


def test_explain_all_refers_back_to_what_was_explained(ruleset: RuleSet) -> None:
    result = ruleset.evaluate(person(**ILL), on=ON)
    explanations = explain_all(result)
    assert [e.output for e in explanations] == ["verplicht", "grond", "status"]
    (used,) = explanations[2].decided_by.uses  # type: ignore[union-attr]
    assert used.output == "verplicht" and used.repeated
    assert used.to_json() == {"output": "verplicht", "status": "decided", "value": False, "see_above": True}


def test_cli_explain_text_and_json(tmp_path: Path) -> None:
    facts = tmp_path / "facts.yaml"
    facts.write_text("facts:\n  persoon: {leeftijd: 30, eu: false, ziek: true, bedienaar: false}\n"
                     "  inschrijving: {datum: 2020-05-01}\n", encoding="utf-8")
    runner = CliRunner()
    base = ["explain", "verplicht", str(facts), "--on", "2024-03-01", "--rules", str(RULESETS / "exceptions")]
    text = runner.invoke(main, base)
    assert text.exit_code == 0
    assert text.stdout == ILL_TEXT
    data = runner.invoke(main, base + ["--format", "json"])
    assert data.exit_code == 0
    ruleset = RuleSet.load(RULESETS / "exceptions")
    assert json.loads(data.stdout) == ruleset.evaluate(person(**ILL), on=ON).explain("verplicht").to_json()


def test_cli_explain_unknown_output_is_bad_input(tmp_path: Path) -> None:
    facts = tmp_path / "facts.yaml"
    facts.write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", "verplict", str(facts), "--on", "2024-03-01",
                                       "--rules", str(RULESETS / "exceptions")])
    assert result.exit_code == 2
    assert "unknown output 'verplict'; did you mean 'verplicht'?" in result.stderr
    assert "Traceback" not in result.output


def test_cli_eval_with_explain(tmp_path: Path) -> None:
    facts = tmp_path / "facts.yaml"
    facts.write_text("persoon: {leeftijd: 30, eu: false, ziek: true, bedienaar: false}\n"
                     "inschrijving: {datum: 2020-05-01}\n", encoding="utf-8")
    runner = CliRunner()
    base = ["eval", str(facts), "--on", "2024-03-01", "--rules", str(RULESETS / "exceptions"), "--explain"]
    text = runner.invoke(main, base)
    assert text.exit_code == 0
    assert text.stdout.startswith("Decision on 2024-03-01 (rules ")
    assert """
verplicht = false
  by vrijstelling.ziek: Vrijstelling ernstig zieke
  an exception overriding basis
  source: Besluit van de Vlaamse Regering, art. 3
  version 1 of 2 [2014-01-01, 2022-03-01), chosen by inschrijving.datum = 2020-05-01
  when: persoon.ziek
  using: inschrijving.datum = 2020-05-01, persoon.ziek = true
""" in text.stdout
    assert "  using: verplicht = false\n" in text.stdout  # status, computed from verplicht
    data = json.loads(runner.invoke(main, base + ["--format", "json"]).stdout)
    assert sorted(data["explanations"]) == ["grond", "status", "verplicht"]
    assert data["explanations"]["verplicht"]["rule"] == "vrijstelling.ziek"
    assert data["explanations"]["grond"]["rule"] == "vrijstelling.ziek"


def _outputs_in(data: dict[str, Any]) -> set[str]:
    """Every output named anywhere in an explanation's JSON (the rules that decided it and
    those only considered, with what they used and their exceptions)."""
    found = {data["output"]}
    steps = ([data["decided_by"]] if data.get("decided_by") else []) + data.get("considered", [])
    while steps:
        step = steps.pop()
        for used in step["uses"]:
            found |= _outputs_in(used)
        steps.extend(step["exceptions"])
    return found


def test_text_derivation_of_status_explains_every_output_once_where_first_needed() -> None:
    decree = RuleSet.load(Path(__file__).parent.parent / "rules")
    facts = Path(__file__).parent.parent / "examples" / "persoon.yaml"
    from engine.cli import read_facts_document

    document, where = read_facts_document(str(facts))
    result = decree.evaluate(decree.facts_from(document, where), on=date(2024, 3, 1), validated=True)
    explanation = result.explain("status")
    lines = render_text(explanation).splitlines()
    outputs = _outputs_in(explanation.to_json())
    assert {"doelgroep", "verplicht", "verplicht_in_beginsel", "leeftijd"} <= outputs
    explained: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        name, equals, rest = line.strip().partition(" = ")
        if not equals or name not in outputs:
            continue
        if "(explained above, line " in rest:
            at = int(rest.rsplit("line ", 1)[1].rstrip(")"))
            assert explained.get(name) == at < number, line
        else:
            assert name not in explained, f"{name} explained twice: lines {explained[name]} and {number}"
            assert "(not expanded further)" not in rest and "explained above)" not in rest, line
            explained[name] = number
            # the explanation follows its first mention: the rule that decided it, or why none did
            following = lines[number] if number < len(lines) else ""
            assert following.strip().startswith(("decided", "also considered")), (line, following)
    assert set(explained) == outputs
