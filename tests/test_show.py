"""``decree show`` for value sets, parameters, outputs, and what proposals would do to a
base rule (with and without ``--proposal``), through the CLI as policy staff use it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from engine.cli import main

ROOT = Path(__file__).parent.parent
RULES = ROOT / "rules"
RULESETS = Path(__file__).parent / "rulesets"


def show(*args: str, rules: Path = RULES) -> Result:
    return CliRunner().invoke(main, ["show", *args, "--rules", str(rules)])


def test_a_value_set_shows_who_joined_and_left_when_and_by_which_act() -> None:
    result = show("EU_EER_ZWITSERLAND")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "EU_EER_ZWITSERLAND: Lidstaten van de Europese Unie, de Europese Economische Ruimte en Zwitserland"
    history = lines[lines.index("  history:") + 1:lines.index("  the set over time:")]
    act_2003 = ("Akte betreffende de toetredingsvoorwaarden voor de Tsjechische Republiek, Estland, Cyprus, "
                "Letland, Litouwen, Hongarije, Malta, Polen, Slovenië en Slowakije (2003)")
    assert history == [
        *[f"    2004-05-01: {state} joins ({act_2003})"
          for state in ["CY", "CZ", "EE", "HU", "LT", "LV", "MT", "PL", "SI", "SK"]],
        "    2007-01-01: BG joins (Akte betreffende de toetreding van de Republiek Bulgarije en Roemenië (2005))",
        "    2007-01-01: RO joins (Akte betreffende de toetreding van de Republiek Bulgarije en Roemenië (2005))",
        "    2013-07-01: HR joins (Akte betreffende de toetreding van de Republiek Kroatië (2012))",
        "    2021-01-01: GB leaves (Akkoord inzake de terugtrekking van het Verenigd Koninkrijk uit de EU en Euratom, "
        "art. 126 (einde overgangsperiode 31 december 2020))",
    ]
    assert lines[lines.index("  the set over time:") + 1:] == [
        "    [..., 2004-05-01): 19 members", "    [2004-05-01, 2007-01-01): 29 members",
        "    [2007-01-01, 2013-07-01): 31 members",
        "    [2013-07-01, 2021-01-01): 32 members", "    [2021-01-01, ...): 31 members"]


def test_a_value_set_on_a_date() -> None:
    before, on = show("EU_EER_ZWITSERLAND", "--on", "2013-06-30"), show("EU_EER_ZWITSERLAND", "--on", "2013-07-01")
    assert "members on 2013-06-30 (31): " in before.stdout and " HR," not in before.stdout
    assert "members on 2013-07-01 (32): " in on.stdout and " HR," in on.stdout


def test_a_parameter_shows_its_versions_and_acts() -> None:
    result = show("MO_CURSUS_BEDRAG")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[2:] == ["  type: number", "  versions:", "    1. [2023-09-01, ...)",
                                              "       in the base text", "       value: 90"]


def test_an_output_shows_the_rules_that_set_it_in_the_order_they_are_tried() -> None:
    result = show("verplicht", rules=RULESETS / "exceptions")
    assert result.exit_code == 0
    assert result.stdout == """\
verplicht: output, bool
  description: obliged
  set by, in the order tried (exceptions before the rule they override, lower order first;
  rules of equal order together, and they must agree; the first that applies decides):
    1. basis: Inburgeringsplicht (versions [2014-01-01, ...))
       exceptions to it, tried first:
         1. vrijstelling.eu: Vrijstelling EU-burger (order 1, versions [2014-01-01, ...))
         2. vrijstelling.ziek: Vrijstelling ernstig zieke (order 2, versions [2014-01-01, 2022-03-01), [2022-03-01, ...))
            exceptions to it, tried first:
              1. herplicht.bedienaar: Bedienaar van de eredienst blijft verplicht (versions [2014-01-01, ...))
  read by: status.bepaling
"""


def test_status_is_an_output_set_by_three_rules_together() -> None:
    result = show("status")
    assert result.exit_code == 0
    assert "status: output, text (verplicht, rechthebbend, geen_doelgroep)" in result.stdout
    assert [line.split(":")[0].strip() for line in result.stdout.splitlines() if "(together)" in line] == [
        "1. (together) status.geen_doelgroep", "1. (together) status.rechthebbend", "1. (together) status.verplicht"]


def test_an_output_on_a_date_says_which_version_each_rule_has() -> None:
    result = show("verplicht", "--on", "2013-12-31", rules=RULESETS / "exceptions")
    assert result.stdout.count("on 2013-12-31: no version in force") == 4


def test_an_output_on_a_date_in_force_shows_each_rules_condition_then() -> None:
    result = show("verplicht", "--on", "2015-12-31", rules=RULESETS / "exceptions")
    assert result.exit_code == 0, result.output
    assert [line.strip() for line in result.stdout.splitlines() if "on 2015-12-31:" in line] == [
        "on 2015-12-31: when persoon.leeftijd >= 18", "on 2015-12-31: when persoon.eu",
        "on 2015-12-31: when persoon.ziek", "on 2015-12-31: when persoon.bedienaar"]


def test_a_base_rule_a_proposal_would_end_shows_it_marked_as_proposed() -> None:
    result = show("retributie.vrijstelling.leefloon")
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "  proposals that would change it:\n"
        "    PROPOSED, not in force: would end it on 2027-01-01 (its assumed date) (proposal retributie_2026: "
        "Voorstel van de Vlaamse Regering tot beperking van de vrijstellingen van de retributie inburgering "
        "(confidence M); show it with --proposal retributie_2026)\n")
    # switched on, the time line shows the end, marked as the proposal's
    switched = show("retributie.vrijstelling.leefloon", "--proposal", "retributie_2026")
    assert ("       ended on 2027-01-01 by amendment retributie_2026 (PROPOSAL, not in force): Voorstel van de "
            "Vlaamse Regering") in switched.stdout
    assert "proposals that would change it" not in switched.stdout


def test_a_proposal_that_would_replace_a_version() -> None:
    result = show("termijn", rules=RULESETS / "proposals")
    assert result.stdout.splitlines()[-2:] == [
        "  proposals that would change it:",
        "    PROPOSED, not in force: would replace it from 2027-01-01 (its assumed date) with a new version "
        "(proposal verlenging: Voorstel van decreet, art. 1; show it with --proposal verlenging)"]


def test_an_unknown_name_suggests_sets_and_outputs_too() -> None:
    result = show("EU_EER_ZWITSERLAN")
    assert result.exit_code == 2
    assert ("unknown rule, parameter, value set or output 'EU_EER_ZWITSERLAN'; did you mean "
            "'EU_EER_ZWITSERLAND'?") in result.stderr
