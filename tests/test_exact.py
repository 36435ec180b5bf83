"""Exactly decided outputs (engine/evaluation/exact.py): on the decree's rules, on a small
rule set with an event date, at the bound, and the date arithmetic behind the candidates.
The comparison with brute force on random rule sets is in test_exact_properties.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.evaluation import exact
from engine.ruleset import RuleSet
from engine.values import Duration

ROOT = Path(__file__).parent.parent
ON = date(2024, 3, 1)
PERSON: dict[str, Any] = {  # the person of examples/persoon.yaml, as facts
    "persoon.geboortedatum": date(1990, 5, 1), "persoon.nationaliteiten": ["SY"], "persoon.geboren_in_belgie": False,
    "persoon.ouder_geboren_in_buitenland": True, "persoon.bedienaar_eredienst": False,
    "persoon.ernstig_ziek_of_handicap": False, "persoon.alfa": False, "verblijf.grond": "gezinshereniging",
    "verblijf.langer_dan_3_maanden": True, "verblijf.eerste_keer": True, "verblijf.tijdelijk_max_1_jaar": False,
    "verblijf.gezinslid_van_eu_burger": False, "verblijf.gezinslid_van_arbeidsmigrant": False,
    "verblijf.in_belgie_sinds": date(2023, 2, 15), "inschrijving.eerste_datum": date(2023, 3, 1),
    "inschrijving.gewest": "vlaanderen", "inschrijving.register": "vreemdelingenregister",
    "onderwijs.diploma_belgie_of_nederland": False, "onderwijs.okan_volledig_schooljaar": False,
    "onderwijs.diploma_secundair": True, "onderwijs.ingeschreven_geletterdheid": False,
    "onderwijs.opleiding_art64bis": False, "situatie.werkt": False, "situatie.studeert": False,
    "situatie.mag_werken": True, "situatie.leefloon": False, "situatie.gedetineerd": False,
    "situatie.werkzoekend": False, "situatie.werkzoekend_zonder_inschakelingsuitkering": False,
    "situatie.niet_begeleide_minderjarige": False, "traject.contract_datum": date(2023, 10, 2),
    "traject.oproepingsbrief_datum": date(2023, 4, 3), "traject.attest_datum": None,
    "traject.verklaring_geleverde_inspanning": False, "traject.mo_test_pogingen": 2,
}


@pytest.fixture(scope="module")
def decree() -> RuleSet:
    return RuleSet.load(ROOT / "rules")


@pytest.fixture(scope="module")
def small() -> RuleSet:
    return RuleSet.load(ROOT / "tests" / "rulesets" / "exact")


def without(*names: str, **changes: Any) -> dict[str, Any]:
    facts = {name: value for name, value in PERSON.items() if name not in names}
    facts.update({name.replace("__", "."): value for name, value in changes.items()})
    return facts


def test_brussels_resident_without_date_of_birth_is_not_obliged_under_the_flemish_decree(decree: RuleSet) -> None:
    # domain page 4a point 12: not obliged whatever her age
    facts = without("persoon.geboortedatum", inschrijving__gewest="brussel")
    assert decree.evaluate(facts, on=ON, exact=False).unknown["verplicht"] == ("persoon.geboortedatum",)
    result = decree.evaluate(facts, on=ON)
    assert result.decisions["verplicht"].status == "decided" and result.outputs["verplicht"] is False


def test_b1_deadline_without_certificate_does_not_need_the_declaration_of_effort(decree: RuleSet) -> None:
    result = decree.evaluate(without("traject.verklaring_geleverde_inspanning"), on=ON)
    assert "b1_mondeling_uiterlijk" not in result.unknown
    with_all = decree.evaluate(PERSON, on=ON).decisions["b1_mondeling_uiterlijk"]
    assert result.decisions["b1_mondeling_uiterlijk"][1:3] == with_all[1:3]


def test_flemish_resident_with_unknown_registration_date_has_no_brussels_obligation(decree: RuleSet) -> None:
    # 4a point 6: decided although the fact that selects the version is unknown
    result = decree.evaluate(without("inschrijving.eerste_datum"), on=ON)
    assert "brussel_verplicht" in result.not_applicable
    assert result.unknown["verplicht"] == ("inschrijving.eerste_datum",)


def test_an_output_that_depends_on_a_missing_fact_names_exactly_the_facts_that_matter(decree: RuleSet) -> None:
    result = decree.evaluate(without("persoon.ernstig_ziek_of_handicap", "persoon.alfa"), on=ON)
    assert result.unknown["verplicht"] == ("persoon.ernstig_ziek_of_handicap",)
    assert result.unknown["nt2_doel"] == ("persoon.alfa",)


def test_a_described_event_has_happened_on_or_before_the_evaluation_date(small: RuleSet) -> None:
    on = date(2022, 1, 1)  # before the Brussels obligation's first version
    adult = {"persoon.geboortedatum": date(1990, 1, 1), "traject.gezien": True}
    # registered in Brussels: the registration lies on or before the evaluation date
    result = small.evaluate({**adult, "inschrijving.gewest": "brussel"}, on=on)
    assert "brussel_plicht" in result.not_applicable
    # a later evaluation date: the date may fall before or after the version starts
    later = small.evaluate({**adult, "inschrijving.gewest": "brussel"}, on=date(2023, 1, 1))
    assert later.unknown["brussel_plicht"] == ("inschrijving.datum",)
    # registered in Flanders: whatever the date, the Brussels rule does not apply
    result = small.evaluate({**adult, "inschrijving.gewest": "vlaanderen"}, on=date(2023, 1, 1))
    assert "brussel_plicht" in result.not_applicable


def test_an_ordinary_date_may_lie_after_the_evaluation_date(small: RuleSet) -> None:
    result = small.evaluate({"traject.gezien": True}, on=date(2019, 6, 1))
    assert result.unknown["contract_regeling"] == ("traject.contract_datum",)


def test_a_fact_asked_whether_it_is_known_keeps_the_answer_of_evaluation(small: RuleSet) -> None:
    # no value of a missing fact answers "is it known": the general path's answer stays
    result = small.evaluate({"traject.contract_datum": date(2021, 1, 1)}, on=date(2022, 1, 1))
    assert result.decisions["gezien_bekend"] == small.evaluate(
        {"traject.contract_datum": date(2021, 1, 1)}, on=date(2022, 1, 1), exact=False).decisions["gezien_bekend"]


def test_beyond_the_bound_the_answer_is_that_of_evaluation(decree: RuleSet, monkeypatch: pytest.MonkeyPatch) -> None:
    facts = without("persoon.geboortedatum", inschrijving__gewest="brussel")
    monkeypatch.setattr(exact, "MAX_EVALUATIONS", 3)
    assert decree.evaluate(facts, on=ON).unknown["verplicht"] == ("persoon.geboortedatum",)


@pytest.mark.parametrize("shift, bound, expected", [
    ((Duration(months=1),), date(2021, 2, 28), date(2021, 1, 31)),  # 29, 30 and 31 January + 1 month end there
    ((Duration(months=1),), date(2021, 2, 27), date(2021, 1, 27)),
    ((Duration(months=12 * 18),), date(2024, 2, 28), date(2006, 2, 28)),
    ((Duration(months=12 * 18),), date(2025, 2, 28), date(2007, 2, 28)),
    ((Duration(months=12),), date(2025, 2, 28), date(2024, 2, 29)),  # born on 29 February: 28 February
    ((Duration(days=3), Duration(months=-1)), date(2021, 3, 1), date(2021, 3, 29)),
])
def test_pull_finds_the_last_day_whose_shift_is_on_or_before_the_bound(
        shift: tuple[Duration, ...], bound: date, expected: date) -> None:
    assert exact._pull(shift, bound) == expected
    assert exact._apply(shift, expected) <= bound
    assert exact._apply(shift, date.fromordinal(expected.toordinal() + 1)) > bound


def test_candidates_beyond_the_range_of_dates_are_skipped() -> None:
    # a bound at date.min has no day before it, and none whose 18th birthday is on or before it
    adult = (Duration(months=12 * 18),)
    assert exact._upper_points((), date.min) == frozenset({date.min})
    assert exact._upper_points(adult, date.min) == frozenset()
    assert exact._upper_points((), date.max) == frozenset({date.max, date(9999, 12, 30)})


def test_an_evaluation_date_at_the_ends_of_the_calendar_is_no_failure(decree: RuleSet) -> None:
    facts = {"verblijf.grond": "werk", "verblijf.tijdelijk_max_1_jaar": True,
             "inschrijving.eerste_datum": date(2023, 11, 1), "inschrijving.gewest": "vlaanderen"}
    for on in (date.min, date.max):
        assert decree.evaluate(facts, on=on).decisions  # no OverflowError from the candidates


def test_few_facts_given_deciding_comes_before_naming(decree: RuleSet) -> None:
    # many outputs are unknown here; the bound on a result's evaluations goes first to
    # whether each output is decided, then to naming the facts of the undecided ones
    facts = {"persoon.nationaliteiten": ["SY"], "persoon.geboren_in_belgie": False,
             "persoon.ouder_geboren_in_buitenland": True, "persoon.bedienaar_eredienst": False,
             "persoon.ernstig_ziek_of_handicap": False, "verblijf.grond": "gezinshereniging",
             "verblijf.langer_dan_3_maanden": True, "verblijf.eerste_keer": True,
             "verblijf.tijdelijk_max_1_jaar": False, "inschrijving.eerste_datum": date(2023, 3, 1),
             "inschrijving.gewest": "brussel"}
    result = decree.evaluate(facts, on=ON)
    assert len(result.unknown) > 10
    assert result.decisions["verplicht"].status == "decided" and result.outputs["verplicht"] is False


def test_a_number_fact_in_arithmetic_keeps_the_answer_of_evaluation(small: RuleSet) -> None:
    # 2.5 attempts is a value no literal names: trying 9, 10, 11, 24, 25, 26 would all say
    # false, which 2.5 is not
    plain = small.evaluate({"traject.gezien": False}, on=ON, exact=False).decisions["veel_pogingen"]
    assert plain.status == "unknown"
    assert small.evaluate({"traject.gezien": False}, on=ON).decisions["veel_pogingen"] == plain
    # the other fact still decides it: 'or' with true
    assert small.evaluate({"traject.gezien": True}, on=ON).outputs["veel_pogingen"] is True


def test_the_explanation_of_an_exactly_decided_output_says_so(decree: RuleSet) -> None:
    from engine.reports.explain import render_text

    facts = without("persoon.geboortedatum", inschrijving__gewest="brussel")
    explanation = decree.evaluate(facts, on=ON).explain("verplicht")
    assert explanation.to_json()["exact"] is True and explanation.to_json()["value"] is False
    assert render_text(explanation).splitlines()[:2] == [
        "verplicht = false",
        "  decided although facts are missing: every value they can take gives this outcome, though the rules "
        "below, read without them, do not show it"]


def test_max_of_two_dates_compares_them_so_both_are_named(tmp_path: Path) -> None:
    """``max(f.d1, f.d2)`` gives one date or the other by comparing them: found by the
    brute-force property test, where the exact layer tried no date of ``f.d2`` below a
    described event ``f.d1`` and named ``f.d1`` as not deciding."""
    (tmp_path / "rules.yaml").write_text("""
vocabulary:
  facts:
    f.b: {type: bool}
    f.t: {type: text, values: [x, y], event_of: f.d1}
    f.d1: {type: date, event: true}
    f.d2: {type: date}
  outputs:
    o3: {type: date}
rules:
  - id: o3.basis
    title: o3.basis
    source: {instrument: test}
    versions:
      - from: 2019-12-25
        when: "not f.b"
        compute: {o3: "max(f.d1, f.d2)"}
""")
    ruleset = RuleSet.load(tmp_path)
    on = date(2020, 1, 2)
    assert ruleset.evaluate({"f.t": "x"}, on).unknown == {"o3": ("f.b", "f.d1", "f.d2")}
    # and with f.d2 given below every day the event can have happened on, f.d1 alone decides
    assert ruleset.evaluate({"f.t": "x", "f.b": False, "f.d2": date(2019, 1, 1)}, on).unknown == {"o3": ("f.d1",)}
