"""The world as of the evaluation date: facts declared ``event: true`` dated after the
evaluation date read as none, and so do the facts declared ``event_of`` them; the
load-time checks of those keys, with positions and carets."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.errors import PolicyError, PolicyErrors
from engine.ruleset import RuleSet
from engine.sources.asof import Events, as_of, withdrawn

VOCABULARY = """\
vocabulary:
  facts:
    inschrijving.datum: {type: date, event: true}
    inschrijving.gewest: {type: text, event_of: inschrijving.datum}
    traject.contract: {type: date, event: true, event_of: inschrijving.datum}
    traject.pogingen: {type: number, event_of: traject.contract}
    persoon.geboortedatum: {type: date}
  outputs:
    ingeschreven: {type: bool}
    contract_sinds: {type: date}
"""

RULES = """\
rules:
  - id: inschrijving
    title: Ingeschreven
    source: {instrument: Decreet}
    versions:
      - from: 2000-01-01
        compute:
          ingeschreven: inschrijving.gewest is not none
  - id: contract
    title: Contract
    source: {instrument: Decreet}
    reference_date: traject.contract
    versions:
      - from: 2000-01-01
        compute:
          contract_sinds: traject.contract
"""


def write_set(tmp_path: Path, vocabulary: str = VOCABULARY, rules: str = RULES) -> Path:
    (tmp_path / "vocabulary.yaml").write_text(vocabulary, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    return tmp_path


@pytest.fixture()
def ruleset(tmp_path: Path) -> RuleSet:
    return RuleSet.load(write_set(tmp_path))


def test_declarations_carry_event_and_event_of(ruleset: RuleSet) -> None:
    names = ruleset.vocabulary.names
    assert names["inschrijving.datum"].event and names["inschrijving.datum"].event_of is None
    assert names["inschrijving.gewest"].event_of == "inschrijving.datum" and not names["inschrijving.gewest"].event
    assert not names["persoon.geboortedatum"].event and names["persoon.geboortedatum"].event_of is None
    events = Events.of(ruleset.vocabulary)
    assert set(events.dates) == {"inschrijving.datum", "traject.contract"}
    assert set(events.described_by["inschrijving.datum"]) == {"inschrijving.gewest", "traject.contract"}


def test_an_event_after_the_evaluation_date_has_not_happened(ruleset: RuleSet) -> None:
    facts = {"inschrijving.datum": date(2025, 1, 1), "inschrijving.gewest": "vlaanderen"}
    before = ruleset.evaluate(facts, date(2024, 12, 31))
    assert before.outputs["ingeschreven"] is False
    on_the_day = ruleset.evaluate(facts, date(2025, 1, 1))
    assert on_the_day.outputs["ingeschreven"] is True


def test_a_later_event_withdraws_what_describes_it_transitively() -> None:
    events = Events(("inschrijving.datum", "traject.contract"),
                    {"inschrijving.datum": ("inschrijving.gewest", "traject.contract"),
                     "traject.contract": ("traject.pogingen",)})
    facts = {"inschrijving.datum": date(2025, 1, 1), "inschrijving.gewest": "vlaanderen",
             "traject.contract": date(2024, 6, 1), "traject.pogingen": 2}
    read = as_of(facts, date(2024, 12, 1), events)
    # the contract is dated before the evaluation date, but it describes a registration
    # that has not happened, and the attempts describe that contract
    assert read == {"inschrijving.datum": None, "inschrijving.gewest": None, "traject.contract": None,
                    "traject.pogingen": None}
    assert set(withdrawn(read)) == set(read)
    assert "2025-01-01 lies after the evaluation date 2024-12-01" in withdrawn(read)["inschrijving.datum"]
    assert facts["inschrijving.gewest"] == "vlaanderen"  # the caller's facts are not changed


def test_a_null_event_date_makes_its_descriptions_null_even_when_not_given() -> None:
    events = Events(("inschrijving.datum",), {"inschrijving.datum": ("inschrijving.gewest",)})
    read = as_of({"inschrijving.datum": None}, date(2024, 1, 1), events)
    assert read == {"inschrijving.datum": None, "inschrijving.gewest": None}
    assert withdrawn(read) == {"inschrijving.gewest": "it describes an event that has not happened: "
                                                      "inschrijving.datum is none"}


def test_unknown_or_earlier_events_leave_the_facts_as_given() -> None:
    events = Events(("inschrijving.datum",), {"inschrijving.datum": ("inschrijving.gewest",)})
    unknown_date = {"inschrijving.gewest": "vlaanderen"}
    assert as_of(unknown_date, date(2024, 1, 1), events) is unknown_date
    earlier = {"inschrijving.datum": date(2024, 1, 1), "inschrijving.gewest": "brussel"}
    assert as_of(earlier, date(2024, 1, 1), events) is earlier
    assert withdrawn(earlier) == {}


def test_a_withdrawn_reference_date_makes_the_rule_not_applicable(ruleset: RuleSet) -> None:
    facts = {"inschrijving.datum": date(2020, 1, 1), "inschrijving.gewest": "vlaanderen",
             "traject.contract": date(2024, 5, 1)}
    assert "contract_sinds" in ruleset.evaluate(facts, date(2024, 4, 30)).not_applicable
    assert ruleset.evaluate(facts, date(2024, 5, 1)).outputs["contract_sinds"] == date(2024, 5, 1)


def _errors(root: Path) -> list[PolicyError]:
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(root)
    error = caught.value
    return list(error) if isinstance(error, PolicyErrors) else [error]


def test_event_only_on_date_facts_and_event_of_names_an_event_fact(tmp_path: Path) -> None:
    vocabulary = """\
vocabulary:
  facts:
    inschrijving.datum: {type: date}
    inschrijving.gewest: {type: text, event: true, event_of: inschrijving.datum}
    traject.contract: {type: date, event: true}
    traject.pogingen: {type: number, event_of: traject.kontract}
  outputs:
    ingeschreven: {type: bool}
    contract_sinds: {type: date}
"""
    root = write_set(tmp_path, vocabulary, RULES.replace("inschrijving.gewest is not none",
                                                         "inschrijving.gewest is not none and traject.pogingen > 0"
                                                         " and inschrijving.datum is known"))
    file = root / "vocabulary.yaml"
    rendered = [e.render().splitlines() for e in _errors(root)]
    region = "        inschrijving.gewest: {type: text, event: true, event_of: inschrijving.datum}"
    attempts = "        traject.pogingen: {type: number, event_of: traject.kontract}"
    assert rendered == [
        [f"{file}:4:46: error: 'event: true' marks the date of an event; 'inschrijving.gewest' is a text, not a date",
         region, " " * 49 + "^" * 4],
        [f"{file}:4:62: error: 'event_of' must name an event fact; 'inschrijving.datum' is not declared with "
         f"'event: true'", region, " " * 65 + "^" * 18],
        [f"{file}:6:48: error: 'event_of' names unknown fact 'traject.kontract'; did you mean 'traject.contract'?",
         attempts, " " * 51 + "^" * 16],
    ]


def test_event_is_not_an_output_key(tmp_path: Path) -> None:
    vocabulary = VOCABULARY.replace("ingeschreven: {type: bool}", "ingeschreven: {type: bool, event: true}")
    errors = _errors(write_set(tmp_path, vocabulary))
    assert "unknown key 'event'; expected one of: description, internal, type, values" in [e.message for e in errors]


def test_explain_says_which_facts_were_read_as_none_and_why(ruleset: RuleSet) -> None:
    from engine.reports.explain import render_summary, render_text

    facts = {"inschrijving.datum": date(2025, 1, 1), "inschrijving.gewest": "vlaanderen"}
    explanation = ruleset.evaluate(facts, date(2024, 12, 31)).explain("ingeschreven")
    why = ("it describes an event that has not happened: inschrijving.datum (2025-01-01) lies after the "
           "evaluation date 2024-12-31")
    assert explanation.to_json()["decided_by"]["read_as_none"] == {"inschrijving.gewest": why}
    assert f"inschrijving.gewest read as none: {why}" in [line.strip() for line in render_text(explanation).splitlines()]
    assert "  using: inschrijving.gewest = none (read as of the evaluation date)" in render_summary(explanation)
