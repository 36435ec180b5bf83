"""Time: versions chosen per rule by its reference date on half-open windows, overlaps and
gaps, proposals switched on by name (with an overridable date), and each kind of
amendment change acting on the time line."""

from __future__ import annotations

import random
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import RULESETS

from engine.cli import main
from engine.errors import InputError, PolicyError, PolicyErrors
from engine.rules.model import Window
from engine.ruleset import RuleSet
from engine.rules.timeline import Timeline

ON = date(2024, 1, 1)


@pytest.fixture(scope="module")
def timed() -> RuleSet:
    return RuleSet.load(RULESETS / "time")


@pytest.fixture(scope="module")
def proposals() -> RuleSet:
    return RuleSet.load(RULESETS / "proposals")


@pytest.fixture(scope="module")
def amended() -> RuleSet:
    return RuleSet.load(RULESETS / "amendments")


@pytest.fixture(scope="module")
def base() -> RuleSet:
    return RuleSet.load(RULESETS / "amendments" / "base")


def contract(day: date | None) -> dict[str, object]:
    return {"traject.contract_datum": day, "persoon.leeftijd": 30}


# -- the version in force ------------------------------------------------------------


class _V:
    def __init__(self, start: date, until: date | None, name: str) -> None:
        self.window, self.name = Window(start, until), name


def test_timeline_bisect_agrees_with_a_linear_scan() -> None:
    generator = random.Random(7)
    versions, day = [], date(2000, 1, 1)
    for i in range(200):
        length = generator.randint(1, 60)
        gap = generator.choice([0, 0, 0, 5])
        until = day + timedelta(days=length) if i < 199 else None
        versions.append(_V(day, until, f"v{i}"))
        day = day + timedelta(days=length + gap)
    shuffled = versions[:]
    generator.shuffle(shuffled)
    timeline = Timeline(shuffled)  # type: ignore[type-var]
    assert [v.name for v in timeline.versions] == [v.name for v in versions]
    probe = date(1999, 12, 25)
    while probe < day + timedelta(days=30):
        expected = next((v.name for v in versions if probe in v.window), None)
        found = timeline.at(probe)
        assert (found.name if found else None) == expected, probe
        probe += timedelta(days=1)


def test_timeline_windows_are_half_open() -> None:
    timeline = Timeline([_V(date(2014, 1, 1), date(2022, 3, 1), "old"),  # type: ignore[type-var]
                         _V(date(2022, 3, 1), None, "new")])
    assert timeline.at(date(2013, 12, 31)) is None
    assert timeline.at(date(2014, 1, 1)).name == "old"  # type: ignore[union-attr]
    assert timeline.at(date(2022, 2, 28)).name == "old"  # type: ignore[union-attr]
    assert timeline.at(date(2022, 3, 1)).name == "new"  # type: ignore[union-attr]
    assert timeline.at(date(9999, 12, 31)).name == "new"  # type: ignore[union-attr]


@pytest.mark.parametrize("signed, days, end", [
    (date(2014, 1, 1), 60, date(2014, 3, 2)),
    (date(2022, 2, 28), 60, date(2022, 4, 29)),  # the day before the change
    (date(2022, 3, 1), 90, date(2022, 5, 30)),  # the day of the change
    (date(2030, 6, 1), 90, date(2030, 8, 30)),
])
def test_version_chosen_by_the_contract_date(timed: RuleSet, signed: date, days: int, end: date) -> None:
    result = timed.evaluate(contract(signed), on=ON)
    assert result.outputs["termijn_dagen"] == days
    assert result.outputs["termijn_einde"] == end
    assert result.decisions["termijn_dagen"].rule == "termijn"


def test_same_provision_two_versions_on_the_same_date(timed: RuleSet) -> None:
    early = timed.evaluate(contract(date(2021, 6, 1)), on=ON)
    late = timed.evaluate(contract(date(2023, 6, 1)), on=ON)
    assert (early.outputs["termijn_dagen"], late.outputs["termijn_dagen"]) == (60, 90)
    assert early.evaluation.state("termijn").version.window == Window(date(2014, 1, 1), date(2022, 3, 1))
    assert late.evaluation.state("termijn").version.window == Window(date(2022, 3, 1), None)
    # the evaluation date does not matter for this provision
    assert timed.evaluate(contract(date(2021, 6, 1)), on=date(2030, 1, 1)).outputs["termijn_dagen"] == 60


def test_rules_pick_versions_independently(timed: RuleSet) -> None:
    # termijn follows the contract date (2021: first version), bedrag the evaluation date
    result = timed.evaluate(contract(date(2021, 6, 1)), on=date(2023, 9, 1))
    assert (result.outputs["termijn_dagen"], result.outputs["bedrag"]) == (60, 90)
    result = timed.evaluate(contract(date(2023, 6, 1)), on=date(2023, 8, 31))
    assert (result.outputs["termijn_dagen"], result.outputs["bedrag"]) == (90, 120)


def test_reference_date_unknown_makes_the_outputs_unknown_naming_the_fact(timed: RuleSet) -> None:
    result = timed.evaluate({"persoon.leeftijd": 30}, on=ON)
    assert result.unknown == {
        "termijn_dagen": ("traject.contract_datum",),
        "termijn_einde": ("traject.contract_datum",),
        "tarief_contract": ("traject.contract_datum",),
        "tarief_nu": ("traject.contract_datum",),
    }
    assert result.outputs == {"bedrag": 90}


def test_reference_date_none_makes_the_rule_not_applicable(timed: RuleSet) -> None:
    result = timed.evaluate(contract(None), on=ON)
    assert result.unknown == {}
    assert result.not_applicable == ["oude_regeling", "tarief_contract", "tarief_nu", "termijn_dagen",
                                     "termijn_einde"]
    assert result.outputs == {"bedrag": 90}


def test_no_window_holds_the_reference_date(timed: RuleSet) -> None:
    result = timed.evaluate(contract(date(2013, 12, 31)), on=ON)
    assert "termijn_dagen" in result.not_applicable
    assert result.decisions["termijn_dagen"].status == "not_applicable"


@pytest.mark.parametrize("on, expected", [
    (date(2013, 12, 31), None),
    (date(2014, 1, 1), True),
    (date(2019, 12, 31), True),  # the last day of [2014-01-01, 2020-01-01)
    (date(2020, 1, 1), None),  # 'until' is the first day it no longer applies
])
def test_until_is_exclusive(timed: RuleSet, on: date, expected: bool | None) -> None:
    result = timed.evaluate({}, on=on, outputs=["oude_regeling"])
    assert result.outputs.get("oude_regeling") == expected
    assert ("oude_regeling" in result.not_applicable) == (expected is None)


@pytest.mark.parametrize("on, expected", [(date(2023, 8, 31), 120), (date(2023, 9, 1), 90),
                                          (date(2019, 12, 31), None), (date(2020, 1, 1), 120)])
def test_version_by_evaluation_date_boundaries(timed: RuleSet, on: date, expected: int | None) -> None:
    assert timed.evaluate({"persoon.leeftijd": 30}, on=on, outputs=["bedrag"]).outputs.get("bedrag") == expected


def test_parameter_read_on_the_reference_date_or_with_at(timed: RuleSet) -> None:
    result = timed.evaluate(contract(date(2022, 2, 28)), on=date(2024, 1, 1))
    assert result.outputs["tarief_contract"] == 50
    assert result.outputs["tarief_nu"] == Decimal("75.50")
    assert isinstance(result.outputs["tarief_nu"], Decimal)
    result = timed.evaluate(contract(date(2022, 3, 1)), on=date(2022, 2, 1))
    assert (result.outputs["tarief_contract"], result.outputs["tarief_nu"]) == (Decimal("75.50"), 50)


# -- overlaps (errors) and gaps (warnings) --------------------------------------------


def test_overlapping_windows_are_an_error() -> None:
    path = RULESETS / "overlap" / "rules.yaml"
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(RULESETS / "overlap")
    error = caught.value
    errors = list(error) if isinstance(error, PolicyErrors) else [error]
    assert len(errors) == 1
    assert errors[0].severity == "error"
    assert str(errors[0].span) == f"{path}:13:9"
    assert errors[0].message == (f"'termijn': the window [2021-01-01, ...) overlaps [2014-01-01, 2022-03-01) of the "
                                 f"version at {path}:10")
    assert errors[0].render().splitlines()[1:] == ["          - from: 2021-01-01", "            ^"]


def test_a_gap_is_a_warning_and_the_rule_does_not_apply_in_it() -> None:
    path = RULESETS / "gap" / "rules.yaml"
    ruleset, problems = RuleSet.check(RULESETS / "gap")
    assert ruleset is not None
    assert [(p.severity, str(p.span), p.message) for p in problems] == [
        ("warning", f"{path}:13:9",
         f"'termijn': no version applies from 2020-01-01 until 2022-03-01 (a gap after the version at {path}:10)")]
    assert problems[0].render().startswith(f"{path}:13:9: warning: 'termijn': no version applies")
    assert ruleset.warnings == problems
    assert RuleSet.load(RULESETS / "gap").evaluate({}, on=date(2019, 12, 31)).outputs == {"termijn_dagen": 60}
    assert RuleSet.load(RULESETS / "gap").evaluate({}, on=date(2020, 1, 1)).not_applicable == ["termijn_dagen"]
    assert RuleSet.load(RULESETS / "gap").evaluate({}, on=date(2022, 3, 1)).outputs == {"termijn_dagen": 90}


def test_empty_window_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
vocabulary:
  outputs:
    x: {type: number}
rules:
  - id: r
    title: R
    source: {instrument: D}
    versions:
      - {from: 2022-03-01, until: 2022-03-01, set: {x: 1}}
""", encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(tmp_path)
    assert caught.value.message == "'r': the window [2022-03-01, 2022-03-01) is empty ('until' must come after 'from')"
    assert (caught.value.span.line, caught.value.span.column) == (9, 9)


def test_overlap_made_by_an_amendment_is_an_error(tmp_path: Path) -> None:
    shutil.copytree(RULESETS / "proposals", tmp_path / "r")
    (tmp_path / "r" / "overlap.yaml").write_text("""\
amendment:
  id: overlappend
  title: Overlappend
  source: {instrument: X}
  status: in_force
  effective: 2015-01-01
changes:
  - add_version:
      rule: termijn
      version: {from: effective, set: {termijn_dagen: 45}}
""", encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(tmp_path / "r")
    assert "'termijn': the window" in caught.value.message and "overlaps" in caught.value.message


def test_overlap_made_by_a_proposal_is_reported_although_proposals_are_off(tmp_path: Path) -> None:
    shutil.copytree(RULESETS / "proposals", tmp_path / "r")
    (tmp_path / "r" / "overlap.yaml").write_text("""\
amendment:
  id: overlappend
  title: Overlappend
  source: {instrument: X}
  status: proposed
  effective: 2026-01-01
changes:
  - add_version:
      rule: termijn
      version: {from: effective, set: {termijn_dagen: 45}}
""", encoding="utf-8")
    ruleset, problems = RuleSet.check(tmp_path / "r")
    assert ruleset is None
    errors = [p for p in problems if p.severity == "error"]
    # with every proposal on, the 45-day version overlaps the base version and verlenging's
    assert [(str(e.span), e.message.split(" of the version")[0]) for e in errors] == [
        (f"{tmp_path / 'r' / 'overlap.yaml'}:10:16",
         "'termijn': the window [2026-01-01, ...) overlaps [2014-01-01, 2027-01-01)"),
        (f"{tmp_path / 'r' / 'verlenging.yaml'}:14:9",
         "'termijn': the window [2027-01-01, ...) overlaps [2026-01-01, ...)"),
    ]


# -- proposals -------------------------------------------------------------------------


def test_proposals_are_off_by_default(proposals: RuleSet) -> None:
    result = proposals.evaluate({}, on=date(2027, 6, 1))
    assert result.outputs == {"termijn_dagen": 60, "doelgroep_arbeid": False}
    assert result.proposals == {}
    assert result.to_json()["proposals"] == {}


@pytest.mark.parametrize("on, expected", [(date(2026, 12, 31), 60), (date(2027, 1, 1), 90)])
def test_proposal_on_by_name_at_its_assumed_date(proposals: RuleSet, on: date, expected: int) -> None:
    result = proposals.evaluate({}, on=on, proposals={"verlenging": None})
    assert result.outputs["termijn_dagen"] == expected
    assert result.outputs["doelgroep_arbeid"] is False  # the other proposal stays off
    assert result.proposals == {"verlenging": date(2027, 1, 1)}
    assert result.to_json()["proposals"] == {"verlenging": "2027-01-01"}


@pytest.mark.parametrize("on, expected", [(date(2025, 2, 28), 60), (date(2025, 3, 1), 90),
                                          (date(2027, 1, 1), 90)])
def test_proposal_with_an_overridden_date(proposals: RuleSet, on: date, expected: int) -> None:
    result = proposals.evaluate({}, on=on, proposals={"verlenging": date(2025, 3, 1)})
    assert result.outputs["termijn_dagen"] == expected
    assert result.proposals == {"verlenging": date(2025, 3, 1)}


def test_proposal_date_can_be_later_than_assumed(proposals: RuleSet) -> None:
    result = proposals.evaluate({}, on=date(2027, 6, 1), proposals={"verlenging": date(2028, 1, 1)})
    assert result.outputs["termijn_dagen"] == 60


def test_two_proposals_together_and_the_default_unchanged_afterwards(proposals: RuleSet) -> None:
    both = proposals.evaluate({}, on=date(2027, 6, 1), proposals={"verlenging": None, "arbeidsmigranten": None})
    assert both.outputs == {"termijn_dagen": 90, "doelgroep_arbeid": True}
    assert both.proposals == {"arbeidsmigranten": date(2026, 9, 1), "verlenging": date(2027, 1, 1)}
    assert proposals.evaluate({}, on=date(2027, 6, 1)).outputs == {"termijn_dagen": 60, "doelgroep_arbeid": False}


def test_amendment_in_force_applies_without_being_named(proposals: RuleSet) -> None:
    assert proposals.evaluate({}, on=date(2000, 1, 1)).outputs["termijn_dagen"] == 30


def test_unknown_proposal_name_with_did_you_mean(proposals: RuleSet) -> None:
    with pytest.raises(InputError) as caught:
        proposals.evaluate({}, on=date(2027, 6, 1), proposals={"verlening": None})
    assert caught.value.message == "unknown proposal 'verlening'; did you mean 'verlenging'?"


def test_unknown_proposal_name_without_a_close_match_lists_the_proposals(proposals: RuleSet) -> None:
    with pytest.raises(InputError) as caught:
        proposals.evaluate({}, on=date(2027, 6, 1), proposals={"reeds_van_kracht": None})
    assert caught.value.message == "unknown proposal 'reeds_van_kracht'; proposals: arbeidsmigranten, verlenging"


def test_proposal_through_the_cli(tmp_path: Path) -> None:
    facts = tmp_path / "facts.yaml"
    facts.write_text("facts: {}\n", encoding="utf-8")
    runner = CliRunner()
    args = ["eval", str(facts), "--on", "2025-06-01", "--rules", str(RULESETS / "proposals"), "--format", "json"]
    import json
    off = runner.invoke(main, args)
    on = runner.invoke(main, args + ["--proposal", "verlenging=2025-03-01"])
    named = runner.invoke(main, args[:3] + ["2027-01-01"] + args[4:] + ["--proposal", "verlenging"])
    bad = runner.invoke(main, args + ["--proposal", "verlening"])
    assert (off.exit_code, on.exit_code, named.exit_code, bad.exit_code) == (0, 0, 0, 2)
    assert json.loads(off.stdout)["outputs"]["termijn_dagen"] == 60
    assert json.loads(on.stdout)["outputs"]["termijn_dagen"] == 90
    assert json.loads(on.stdout)["proposals"] == {"verlenging": "2025-03-01"}
    assert json.loads(named.stdout)["proposals"] == {"verlenging": "2027-01-01"}
    assert "unknown proposal 'verlening'; did you mean 'verlenging'?" in bad.stderr
    assert "Traceback" not in bad.output


# -- amendments acting on the time line ---------------------------------------------


def value(ruleset: RuleSet, output: str, on: date) -> object:
    result = ruleset.evaluate({}, on=on, outputs=[output])
    return result.outputs.get(output, "n/a")


@pytest.mark.parametrize("output, day_before, day_of, before, after_base, after_amended", [
    ("a_replace", date(2019, 12, 31), date(2020, 1, 1), 1, 1, 2),
    ("b_end", date(2020, 12, 31), date(2021, 1, 1), True, True, "n/a"),
    ("c_move", date(2022, 5, 31), date(2022, 6, 1), 1, 2, 2),
    ("d_add_version", date(2018, 12, 31), date(2019, 1, 1), 1, "n/a", 3),
    ("e_add_rules", date(2023, 6, 30), date(2023, 7, 1), "n/a", "n/a", "nieuw"),
])
def test_each_change_acts_on_its_effective_date(base: RuleSet, amended: RuleSet, output: str, day_before: date,
                                                day_of: date, before: object, after_base: object,
                                                after_amended: object) -> None:
    assert value(amended, output, day_before) == before
    assert value(amended, output, day_of) == after_amended
    assert value(base, output, day_of) == after_base  # without the amendment


def test_move_postpones_the_start_of_the_second_version(base: RuleSet, amended: RuleSet) -> None:
    assert value(base, "c_move", date(2022, 4, 1)) == 2
    assert value(amended, "c_move", date(2022, 4, 1)) == 1
    windows = [v.window for v in amended.consolidation({}).timelines["r.move"].versions]
    assert windows == [Window(date(2014, 1, 1), date(2022, 6, 1)), Window(date(2022, 6, 1), None)]


def test_consolidated_windows_of_each_change(amended: RuleSet) -> None:
    timelines = amended.consolidation({}).timelines
    assert [(v.window, v.amendment) for v in timelines["r.replace"].versions] == [
        (Window(date(2014, 1, 1), date(2020, 1, 1)), ""), (Window(date(2020, 1, 1), None), "vervanging_2020")]
    assert [v.window for v in timelines["r.end"].versions] == [Window(date(2014, 1, 1), date(2021, 1, 1))]
    assert [(v.window, v.amendment) for v in timelines["r.add_version"].versions] == [
        (Window(date(2014, 1, 1), date(2019, 1, 1)), ""), (Window(date(2019, 1, 1), None), "nieuwe_versie_2019")]
    assert [(v.window, v.amendment) for v in timelines["r.new"].versions] == [
        (Window(date(2023, 7, 1), None), "nieuw_artikel_2023")]
    assert [a.id for a, _ in amended.consolidation({}).applied] == [
        "nieuwe_versie_2019", "vervanging_2020", "opheffing_2021", "uitstel_2022", "nieuw_artikel_2023"]


def test_replace_by_a_proposal_moves_with_the_overridden_date(proposals: RuleSet) -> None:
    windows = [v.window for v in proposals.consolidation({"verlenging": date(2025, 3, 1)}).timelines["termijn"].versions]
    assert windows == [Window(date(1990, 1, 1), date(2014, 1, 1)), Window(date(2014, 1, 1), date(2025, 3, 1)),
                       Window(date(2025, 3, 1), None)]


def show(rule: str, *extra: str, rules: Path = RULESETS / "amendments") -> str:
    result = CliRunner().invoke(main, ["show", rule, "--rules", str(rules), *extra])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def test_show_replace() -> None:
    assert show("r.replace") == """\
r.replace: Replaced on 2020-01-01
  source: Basisdecreet, art. 1
  reference date: evaluation_date
  versions:
    1. [2014-01-01, 2020-01-01)
       in the base text
       a_replace = 1
    2. [2020-01-01, ...)
       by amendment vervanging_2020: Wijzigingsdecreet 2020, art. 7
       a_replace = 2
"""


def test_show_move_and_end() -> None:
    moved = show("r.move")
    assert "    1. [2014-01-01, 2022-06-01)\n" in moved
    assert "    2. [2022-06-01, ...)\n" in moved
    assert ("       start moved from 2022-04-01 to 2022-06-01 by amendment uitstel_2022: Uitsteldecreet 2022\n"
            in moved)
    ended = show("r.end")
    assert "    1. [2014-01-01, 2021-01-01)\n" in ended
    assert "[2021-01-01" not in ended


def test_show_names_the_act_that_moved_a_version() -> None:
    assert "uitstel_2022" in show("r.move")


def test_show_names_the_act_that_ended_a_rule() -> None:
    assert show("r.end").endswith("""\
    1. [2014-01-01, 2021-01-01)
       in the base text
       ended on 2021-01-01 by amendment opheffing_2021: Opheffingsdecreet 2021
       b_end = true
""")


def test_show_add_version_and_add_rules() -> None:
    assert show("r.add_version").endswith("""\
    2. [2019-01-01, ...)
       by amendment nieuwe_versie_2019: Wijzigingsdecreet 2019
       d_add_version = 3
""")
    added = show("r.new")
    assert "  added by amendment: nieuw_artikel_2023\n" in added
    assert "    1. [2023-07-01, ...)\n       by amendment nieuw_artikel_2023: Wijzigingsdecreet 2023, art. 2\n" in added


def test_show_on_a_date() -> None:
    assert show("r.replace", "--on", "2019-12-31").endswith("  in force on 2019-12-31:\n    1. [2014-01-01, 2020-01-01)\n"
                                                            "       in the base text\n       a_replace = 1\n")
    assert "    2. [2020-01-01, ...)" in show("r.replace", "--on", "2020-01-01")
    assert "  no version in force on 2021-01-01\n" in show("r.end", "--on", "2021-01-01")


def test_show_a_proposal_with_its_date() -> None:
    text = show("termijn", "--proposal", "verlenging=2026-01-01", rules=RULESETS / "proposals")
    assert "    2. [2014-01-01, 2026-01-01)\n" in text
    assert ("    3. [2026-01-01, ...)\n       by amendment verlenging (PROPOSAL, not in force): Voorstel van decreet, "
            "art. 1\n       termijn_dagen = 90\n") in text
    off = show("termijn", rules=RULESETS / "proposals")  # not in the time line, but named as proposed
    assert "by amendment verlenging" not in off and "PROPOSED, not in force: would replace it" in off


def test_show_a_parameter() -> None:
    text = show("TARIEF", rules=RULESETS / "time")
    assert "    2. [2022-03-01, ...)\n       in the base text\n       value: 75.50\n" in text


def test_show_unknown_rule_is_bad_input() -> None:
    result = CliRunner().invoke(main, ["show", "r.replase", "--rules", str(RULESETS / "amendments")])
    assert result.exit_code == 2
    assert "unknown rule, parameter, value set or output 'r.replase'; did you mean 'r.replace'?" in result.stderr
    assert "Traceback" not in result.output


def test_value_set_read_on_the_reference_date(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
vocabulary:
  facts:
    persoon.nationaliteiten: {type: list of text}
    inschrijving.datum: {type: date}
  outputs:
    eu_burger: {type: bool}
    eu_burger_nu: {type: bool}
sets:
  - id: EU
    title: EU
    source: {instrument: VEU}
    members:
      - BE
      - {value: HR, from: 2013-07-01, source: {instrument: Toetredingsverdrag}}
      - {value: GB, until: 2021-01-01, source: {instrument: Terugtrekkingsakkoord}}
rules:
  - id: eu
    title: EU-burger bij inschrijving
    source: {instrument: D}
    reference_date: inschrijving.datum
    versions:
      - from: 2000-01-01
        compute:
          eu_burger: any persoon.nationaliteiten in EU
          eu_burger_nu: any persoon.nationaliteiten in (EU at evaluation_date)
""", encoding="utf-8")
    rules = RuleSet.load(tmp_path)

    def eu(nationality: str, registered: date) -> tuple[object, object]:
        outputs = rules.evaluate({"persoon.nationaliteiten": [nationality], "inschrijving.datum": registered},
                                 on=date(2024, 1, 1)).outputs
        return outputs["eu_burger"], outputs["eu_burger_nu"]

    assert eu("HR", date(2013, 6, 30)) == (False, True)
    assert eu("HR", date(2013, 7, 1)) == (True, True)
    assert eu("GB", date(2020, 12, 31)) == (True, False)
    assert eu("GB", date(2021, 1, 1)) == (False, False)
    assert eu("BE", date(2000, 1, 1)) == (True, True)
