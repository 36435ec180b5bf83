"""Evaluation: default logic with exceptions (to any depth, ordered), conflicts, Kleene
unknowns that narrow, not applicable versus unknown, determinism, thread safety, and
clear errors for bad input."""

from __future__ import annotations

import concurrent.futures
import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import RULESETS

from engine.errors import ConflictError, InputError, PolicyError, PolicyErrors
from engine.ruleset import RuleSet

ON = date(2024, 3, 1)
REGISTERED = date(2020, 5, 1)


@pytest.fixture(scope="module")
def conflicting() -> RuleSet:
    return RuleSet.load(RULESETS / "conflict")


def person(**given: Any) -> dict[str, Any]:
    facts = {f"persoon.{name}": value for name, value in given.items()}
    facts["inschrijving.datum"] = REGISTERED
    return facts


def decide(ruleset: RuleSet, **given: Any) -> dict[str, Any]:
    result = ruleset.evaluate(person(**given), on=ON)
    return {"outputs": result.outputs, "unknown": result.unknown, "not_applicable": result.not_applicable,
            "rules": {name: d.rule for name, d in result.decisions.items()}}


# -- default logic -----------------------------------------------------------------


def test_base_rule_applies_when_no_exception_does(ruleset: RuleSet) -> None:
    found = decide(ruleset, leeftijd=30, eu=False, ziek=False, bedienaar=False)
    assert found["outputs"] == {"verplicht": True, "status": "verplicht"}
    assert found["not_applicable"] == ["grond"]
    assert found["rules"]["verplicht"] == "basis"


def test_exception_overrides_the_base_rule(ruleset: RuleSet) -> None:
    found = decide(ruleset, leeftijd=30, eu=False, ziek=True, bedienaar=False)
    assert found["outputs"] == {"verplicht": False, "grond": "ziek", "status": "vrij"}
    assert found["rules"]["verplicht"] == "vrijstelling.ziek"


def test_exception_to_an_exception_decides(ruleset: RuleSet) -> None:
    found = decide(ruleset, leeftijd=30, eu=False, ziek=True, bedienaar=True)
    assert found["outputs"] == {"verplicht": True, "grond": "ziek", "status": "verplicht"}
    assert found["rules"] == {"verplicht": "herplicht.bedienaar", "grond": "vrijstelling.ziek",
                              "status": "status.bepaling"}


def test_exception_to_an_exception_only_counters_its_own_rule(ruleset: RuleSet) -> None:
    # the minister of religion is obliged again only against the illness exemption
    found = decide(ruleset, leeftijd=30, eu=True, ziek=False, bedienaar=True)
    assert found["outputs"] == {"verplicht": False, "grond": "eu", "status": "vrij"}
    assert found["rules"]["verplicht"] == "vrijstelling.eu"


def test_lower_order_goes_first_among_exceptions(ruleset: RuleSet) -> None:
    # both exemptions apply with different grounds: order 1 (eu) wins over order 2 (ziek)
    found = decide(ruleset, leeftijd=30, eu=True, ziek=True, bedienaar=True)
    assert found["outputs"] == {"verplicht": False, "grond": "eu", "status": "vrij"}
    assert found["rules"]["grond"] == "vrijstelling.eu"
    assert found["rules"]["verplicht"] == "vrijstelling.eu"


def test_order_decides_regardless_of_file_order(tmp_path: Path) -> None:
    text = (RULESETS / "exceptions" / "rules.yaml").read_text(encoding="utf-8")
    swapped = text.replace("    order: 1\n", "    order: 3\n")
    (tmp_path / "vocabulary.yaml").write_text((RULESETS / "exceptions" / "vocabulary.yaml").read_text("utf-8"),
                                              encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(swapped, encoding="utf-8")
    found = decide(RuleSet.load(tmp_path), leeftijd=30, eu=True, ziek=True, bedienaar=False)
    assert found["outputs"]["grond"] == "ziek"
    assert found["rules"]["verplicht"] == "vrijstelling.ziek"


def test_exception_applies_where_the_base_rule_does_not(ruleset: RuleSet) -> None:
    found = decide(ruleset, leeftijd=10, eu=True, ziek=False, bedienaar=False)
    assert found["outputs"] == {"verplicht": False, "grond": "eu", "status": "vrij"}


def test_output_of_another_rule_is_used(ruleset: RuleSet) -> None:
    found = decide(ruleset, leeftijd=10, eu=False, ziek=False, bedienaar=False)
    # verplicht is not applicable; none counts as false in the condition of status
    assert found["outputs"] == {"status": "vrij"}
    assert found["not_applicable"] == ["grond", "verplicht"]


# -- unknown and not applicable -----------------------------------------------------


def test_unknown_names_the_missing_fact(ruleset: RuleSet) -> None:
    found = decide(ruleset, leeftijd=30, eu=False, bedienaar=False)
    assert found["outputs"] == {}
    assert found["unknown"] == {"verplicht": ("persoon.ziek",), "grond": ("persoon.ziek",),
                                "status": ("persoon.ziek",)}
    assert found["not_applicable"] == []


def test_unknown_names_every_fact_that_would_decide(ruleset: RuleSet) -> None:
    found = decide(ruleset, leeftijd=30, eu=False)
    assert found["unknown"]["verplicht"] == ("persoon.bedienaar", "persoon.ziek")
    assert found["unknown"]["grond"] == ("persoon.ziek",)
    result = ruleset.evaluate({"inschrijving.datum": REGISTERED}, on=ON)
    assert result.unknown["verplicht"] == ("persoon.bedienaar", "persoon.eu", "persoon.leeftijd", "persoon.ziek")
    # with the reference date unknown too, every fact whose value alone can change the
    # outcome is named, also those read only by the versions it would select
    result = ruleset.evaluate({}, on=ON)
    assert result.unknown["verplicht"] == ("inschrijving.datum", "persoon.bedienaar", "persoon.eu",
                                           "persoon.leeftijd", "persoon.ziek")
    # without exact decisions, the general path names what it met: the reference date,
    # not what the conditions of the versions it would select read
    result = ruleset.evaluate({}, on=ON, exact=False)
    assert result.unknown["verplicht"] == ("inschrijving.datum", "persoon.bedienaar", "persoon.eu")


def test_kleene_false_and_unknown_short_circuits(ruleset: RuleSet) -> None:
    # the EU exemption applies whatever persoon.ziek is
    found = decide(ruleset, leeftijd=30, eu=True)
    assert found["outputs"] == {"verplicht": False, "grond": "eu", "status": "vrij"}
    assert found["unknown"] == {}


def test_unknown_narrows_when_every_possibility_agrees(ruleset: RuleSet) -> None:
    # eu unknown, ill and not a minister: exempt whichever exemption applies, so verplicht
    # is decided; the ground differs per possibility, so it stays unknown
    found = decide(ruleset, leeftijd=30, ziek=True, bedienaar=False)
    assert found["outputs"] == {"verplicht": False, "status": "vrij"}
    assert found["unknown"] == {"grond": ("persoon.eu",)}


def test_unknown_age_does_not_matter_once_an_exception_applies(ruleset: RuleSet) -> None:
    found = decide(ruleset, eu=False, ziek=True, bedienaar=False)
    assert found["outputs"] == {"verplicht": False, "grond": "ziek", "status": "vrij"}
    found = decide(ruleset, eu=False, ziek=True)
    assert found["outputs"] == {"grond": "ziek"}
    assert found["unknown"] == {"verplicht": ("persoon.bedienaar",), "status": ("persoon.bedienaar",)}


def test_narrowed_decision_does_not_name_a_rule_that_may_not_apply(ruleset: RuleSet) -> None:
    result = ruleset.evaluate(person(leeftijd=30, ziek=True, bedienaar=False), on=ON)
    assert result.outputs["verplicht"] is False
    deciding = result.decisions["verplicht"].rule
    assert deciding is None or result.evaluation.state(deciding).applies is True


def test_fact_given_as_null_is_known_to_have_no_value(ruleset: RuleSet) -> None:
    found = decide(ruleset, leeftijd=30, eu=False, ziek=None, bedienaar=False)
    assert found["outputs"] == {"verplicht": True, "status": "verplicht"}
    assert found["unknown"] == {}
    assert found["not_applicable"] == ["grond"]


def test_not_applicable_is_not_unknown(ruleset: RuleSet) -> None:
    result = ruleset.evaluate(person(leeftijd=10, eu=False, ziek=False, bedienaar=False), on=ON)
    assert result.decisions["verplicht"].status == "not_applicable"
    assert result.decisions["verplicht"].value is None
    assert result.decisions["verplicht"].missing == ()
    result = ruleset.evaluate(person(eu=False, ziek=False, bedienaar=False), on=ON)
    assert result.decisions["verplicht"].status == "unknown"
    assert result.decisions["verplicht"].missing == ("persoon.leeftijd",)
    assert result.decisions["grond"].status == "not_applicable"


def test_before_the_first_version_nothing_applies(ruleset: RuleSet) -> None:
    result = ruleset.evaluate({**person(leeftijd=30, eu=True, ziek=True, bedienaar=True),
                               "inschrijving.datum": date(2013, 1, 1)}, on=date(2013, 6, 1))
    assert result.outputs == {}
    assert result.not_applicable == ["grond", "status", "verplicht"]


def test_only_the_requested_outputs(ruleset: RuleSet) -> None:
    result = ruleset.evaluate(person(leeftijd=30, eu=False, ziek=False, bedienaar=False), on=ON, outputs=["status"])
    assert list(result.decisions) == ["status"]
    assert result.outputs == {"status": "verplicht"}


def test_fact_default_is_used_when_not_given(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
vocabulary:
  facts:
    traject.pogingen: {type: number, default: 1}
  outputs:
    resterend: {type: number}
rules:
  - id: pogingen
    title: Pogingen
    source: {instrument: D}
    versions:
      - {from: 2014-01-01, compute: {resterend: 3 - traject.pogingen}}
""", encoding="utf-8")
    rules = RuleSet.load(tmp_path)
    assert rules.evaluate({}, on=ON).outputs == {"resterend": 2}
    assert rules.evaluate({"traject.pogingen": 3}, on=ON).outputs == {"resterend": 0}
    assert rules.evaluate({"traject.pogingen": None}, on=ON).not_applicable == ["resterend"]


def test_numbers_are_exact_decimals(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
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
      - {from: 2014-01-01, compute: {totaal: bedrag.basis + 0.2}}
""", encoding="utf-8")
    result = RuleSet.load(tmp_path).evaluate({"bedrag.basis": "0.1"}, on=ON)
    assert result.outputs == {"totaal": Decimal("0.3")}
    assert isinstance(result.outputs["totaal"], Decimal)


# -- conflicts --------------------------------------------------------------------------


def test_conflict_between_unrelated_rules_names_both(conflicting: RuleSet) -> None:
    path = RULESETS / "conflict" / "rules.yaml"
    with pytest.raises(ConflictError) as caught:
        conflicting.evaluate({"persoon.student": True, "persoon.leeftijd": 70}, on=ON, outputs=["bedrag"])
    message = caught.value.message
    assert message.startswith("conflict on 'bedrag': rule 'tarief.")
    assert f"rule 'tarief.student' ({path}:13)" in message
    assert f"rule 'tarief.senior' ({path}:20)" in message
    assert message.endswith("with equal priority; make one an exception to the other or give them an order")
    assert caught.value.kind == "conflict"
    assert caught.value.span.file == str(path) and caught.value.span.line in (13, 20)


def test_conflict_between_exceptions_of_equal_order(conflicting: RuleSet) -> None:
    path = RULESETS / "conflict" / "rules.yaml"
    with pytest.raises(ConflictError) as caught:
        conflicting.evaluate({"persoon.werkloos": True, "persoon.leefloon": True}, on=ON, outputs=["korting"])
    assert f"rule 'korting.a' ({path}:33)" in caught.value.message
    assert f"rule 'korting.b' ({path}:41)" in caught.value.message
    assert caught.value.message.startswith("conflict on 'korting': ")


def test_conflict_message_shows_values_as_written(conflicting: RuleSet) -> None:
    with pytest.raises(ConflictError) as caught:
        conflicting.evaluate({"persoon.student": True, "persoon.leeftijd": 70}, on=ON, outputs=["bedrag"])
    assert "Decimal" not in caught.value.message
    assert "gives 0" in caught.value.message and "gives 10" in caught.value.message


def test_no_conflict_when_only_one_applies(conflicting: RuleSet) -> None:
    result = conflicting.evaluate({"persoon.student": True, "persoon.leeftijd": 30, "persoon.werkloos": True,
                                   "persoon.leefloon": False}, on=ON)
    assert result.outputs == {"bedrag": 10, "korting": 50}
    result = conflicting.evaluate({"persoon.student": False, "persoon.leeftijd": 30, "persoon.werkloos": False,
                                   "persoon.leefloon": False}, on=ON)
    assert result.outputs == {"korting": 0}
    assert result.not_applicable == ["bedrag"]


def test_possible_conflict_is_unknown_not_a_pick(conflicting: RuleSet) -> None:
    result = conflicting.evaluate({"persoon.student": True, "persoon.werkloos": True}, on=ON)
    assert result.outputs == {}
    assert result.unknown == {"bedrag": ("persoon.leeftijd",), "korting": ("persoon.leefloon",)}


def test_agreeing_rules_of_equal_priority_are_no_conflict(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
vocabulary:
  facts:
    persoon.a: {type: bool}
    persoon.b: {type: bool}
  outputs:
    vrij: {type: bool}
rules:
  - id: regel.a
    title: A
    source: {instrument: D}
    versions: [{from: 2014-01-01, when: persoon.a, set: {vrij: true}}]
  - id: regel.b
    title: B
    source: {instrument: D}
    versions: [{from: 2014-01-01, when: persoon.b, set: {vrij: true}}]
""", encoding="utf-8")
    result = RuleSet.load(tmp_path).evaluate({"persoon.a": True, "persoon.b": True}, on=ON)
    assert result.outputs == {"vrij": True}
    assert result.decisions["vrij"].rule in ("regel.a", "regel.b")


# -- determinism and threads -----------------------------------------------------------


PEOPLE = [dict(zip(("leeftijd", "eu", "ziek", "bedienaar"), combination))
          for combination in itertools.product((10, 30, None), (True, False, None), (True, False, None),
                                                (True, False))]


def snapshot(ruleset: RuleSet, given: dict[str, Any]) -> dict[str, Any]:
    facts = {f"persoon.{k}": v for k, v in given.items() if v is not None}
    facts["inschrijving.datum"] = REGISTERED
    result = ruleset.evaluate(facts, on=ON)
    return {"json": result.to_json(), "rules": {n: d.rule for n, d in result.decisions.items()},
            "explain": result.explain("verplicht").to_json()}


def test_evaluation_is_deterministic(ruleset: RuleSet) -> None:
    for given in PEOPLE[:10]:
        assert snapshot(ruleset, given) == snapshot(ruleset, given)
    again = RuleSet.load(RULESETS / "exceptions")
    assert [snapshot(again, g) for g in PEOPLE] == [snapshot(ruleset, g) for g in PEOPLE]


def test_evaluation_is_thread_safe() -> None:
    sequential_rules = RuleSet.load(RULESETS / "exceptions")
    expected = [snapshot(sequential_rules, given) for given in PEOPLE]
    shared = RuleSet.load(RULESETS / "exceptions")  # a cold cache: the threads race to build it
    work = PEOPLE * 4
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda given: snapshot(shared, given), work))
    assert found == expected * 4


def test_threads_with_different_proposals() -> None:
    shared = RuleSet.load(RULESETS / "proposals")
    choices: list[dict[str, Any]] = [{}, {"verlenging": None}, {"verlenging": date(2025, 3, 1)},
                                      {"arbeidsmigranten": None, "verlenging": None}]
    days = [date(2025, 2, 28), date(2025, 3, 1), date(2026, 12, 31), date(2027, 1, 1)]
    jobs = [(c, d) for c in choices for d in days] * 8

    def run(job: tuple[dict[str, Any], date]) -> dict[str, Any]:
        return shared.evaluate({}, on=job[1], proposals=job[0]).to_json()

    fresh = RuleSet.load(RULESETS / "proposals")
    expected = [fresh.evaluate({}, on=d, proposals=c).to_json() for c, d in jobs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(run, jobs)) == expected
    assert expected[0]["outputs"]["termijn_dagen"] == 60 and expected[9]["outputs"]["termijn_dagen"] == 90


def test_evaluation_does_not_change_the_ruleset(ruleset: RuleSet) -> None:
    before = snapshot(ruleset, PEOPLE[0])
    ruleset.evaluate({}, on=ON)
    ruleset.evaluate(person(leeftijd=30), on=date(2015, 1, 1))
    assert snapshot(ruleset, PEOPLE[0]) == before


# -- bad input ---------------------------------------------------------------------------


def input_error(ruleset: RuleSet, facts: dict[str, Any], **kwargs: Any) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        ruleset.evaluate(facts, on=ON, **kwargs)
    return caught.value


def test_fact_of_the_wrong_type(ruleset: RuleSet) -> None:
    error = input_error(ruleset, {"persoon.leeftijd": "dertig"})
    assert isinstance(error, InputError)
    assert error.message == "fact 'persoon.leeftijd': expected a number, not 'dertig'"
    error = input_error(ruleset, {"persoon.ziek": "ja"})
    assert error.message == "fact 'persoon.ziek': expected true or false, not 'ja'"
    error = input_error(ruleset, {"inschrijving.datum": 20200501})
    assert error.message == "fact 'inschrijving.datum': expected a date (YYYY-MM-DD), not the number 20200501"


def test_unknown_fact_name_with_did_you_mean(ruleset: RuleSet) -> None:
    error = input_error(ruleset, {"persoon.leeftyd": 30})
    assert isinstance(error, InputError)
    assert error.message == "unknown fact 'persoon.leeftyd'; did you mean 'persoon.leeftijd'?"


def test_impossible_date(ruleset: RuleSet) -> None:
    error = input_error(ruleset, {"inschrijving.datum": "2022-02-30"})
    assert isinstance(error, InputError)
    assert error.message == "fact 'inschrijving.datum': impossible date '2022-02-30'; expected YYYY-MM-DD"


def test_every_bad_fact_is_reported_together(ruleset: RuleSet) -> None:
    error = input_error(ruleset, {"persoon.leeftyd": 30, "persoon.ziek": "ja", "inschrijving.datum": "2022-02-30"})
    assert isinstance(error, PolicyErrors)
    assert sorted(e.message for e in error) == [
        "fact 'inschrijving.datum': impossible date '2022-02-30'; expected YYYY-MM-DD",
        "fact 'persoon.ziek': expected true or false, not 'ja'",
        "unknown fact 'persoon.leeftyd'; did you mean 'persoon.leeftijd'?",
    ]


def test_nested_facts_are_dotted_facts(ruleset: RuleSet) -> None:
    nested = {"persoon": {"leeftijd": 30, "eu": False, "ziek": True, "bedienaar": False},
              "inschrijving": {"datum": "2020-05-01"}}
    dotted = person(leeftijd=30, eu=False, ziek=True, bedienaar=False)
    assert ruleset.evaluate(nested, on=ON).to_json() == ruleset.evaluate(dotted, on=ON).to_json()
    error = input_error(ruleset, {"persoon": {"leeftijd": 30}, "persoon.leeftijd": 31})
    assert error.message == "fact 'persoon.leeftijd' is given twice"


def test_unknown_output_requested(ruleset: RuleSet) -> None:
    error = input_error(ruleset, {}, outputs=["verplict"])
    assert isinstance(error, InputError)
    assert error.message == "unknown output 'verplict'; did you mean 'verplicht'?"


def test_fact_list_limit(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
vocabulary:
  facts:
    persoon.nationaliteiten: {type: list of text}
  outputs:
    aantal: {type: number}
rules:
  - id: aantal
    title: Aantal
    source: {instrument: D}
    versions: [{from: 2014-01-01, compute: {aantal: count(persoon.nationaliteiten)}}]
""", encoding="utf-8")
    rules = RuleSet.load(tmp_path)
    assert rules.evaluate({"persoon.nationaliteiten": ["BE"] * 1000}, on=ON).outputs == {"aantal": 1000}
    error = input_error(rules, {"persoon.nationaliteiten": ["BE"] * 1001})
    assert error.message == "fact 'persoon.nationaliteiten': a list holds at most 1000 elements"


def test_fact_outside_its_declared_values(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
vocabulary:
  facts:
    verblijf.grond: {type: text, values: [werk, studie]}
  outputs:
    werk: {type: bool}
rules:
  - id: werk
    title: Werk
    source: {instrument: D}
    versions: [{from: 2014-01-01, compute: {werk: "verblijf.grond == 'werk'"}}]
""", encoding="utf-8")
    rules = RuleSet.load(tmp_path)
    assert rules.evaluate({"verblijf.grond": "studie"}, on=ON).outputs == {"werk": False}
    error = input_error(rules, {"verblijf.grond": "werkk"})
    assert error.message == "fact 'verblijf.grond' does not take the value 'werkk'; did you mean 'werk'?"
    error = input_error(rules, {"verblijf.grond": "asiel"})
    assert error.message == "fact 'verblijf.grond' does not take the value 'asiel'; expected one of: werk, studie"
