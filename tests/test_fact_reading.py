"""Facts are read through a reader compiled once per vocabulary, with a one-pass path for
a flat mapping of values already of their type. That path must read exactly what the
full validation (``iter_fact_errors`` with the defaults) reads, and must step aside for
everything the full validation would convert or report."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import PolicyError, Span
from engine.language.types import Vocabulary
from engine.ruleset import RuleSet
from engine.sources.facts import iter_fact_errors, read_facts, reader

ROOT = Path(__file__).resolve().parent.parent
VOCABULARY = RuleSet.load(ROOT / "rules").vocabulary
NAMES = sorted(d.name for d in VOCABULARY.of_kind("fact"))
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 200), st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(["vlaanderen", "brussel", "vlaandren", "werk", "SY", "", "2024-02-30", "2023-03-01"]),
    st.dates(date(1900, 1, 1), date(2100, 1, 1)), st.just(datetime(2023, 3, 1, 12, 0)),
    st.lists(st.sampled_from(["SY", "BE", "NL"]), max_size=3), st.just({"days": 3}),
)


def reference(data: Any, vocabulary: Vocabulary) -> tuple[dict[str, Any] | None, list[str]]:
    """What the full validation reads (None and the messages when it reports problems)."""
    into: dict[str, Any] = {}
    problems = [p.message for p in iter_fact_errors(data, vocabulary, lambda path, key=False: Span(None, 1, 1), into)]
    if problems:
        return None, sorted(problems)
    for declaration in vocabulary.of_kind("fact"):
        if declaration.has_default and declaration.name not in into:
            into[declaration.name] = declaration.default
    return into, []


def read(data: Any) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        return read_facts(data, VOCABULARY), []
    except PolicyError as error:
        return None, sorted(p.message for p in getattr(error, "errors", [error]))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.one_of(st.sampled_from(NAMES), st.sampled_from(["persoon.geboortedatun", "x"])),
                       VALUES, max_size=12))
def test_reading_equals_the_full_validation(data: dict[str, Any]) -> None:
    got, expected = read(data), reference(data, VOCABULARY)
    assert got == expected
    if got[0] is not None:  # same types too: a Decimal stays a Decimal, a date a date
        assert {k: type(v) for k, v in got[0].items()} == {k: type(v) for k, v in expected[0].items()}


def test_a_flat_mapping_without_problems_takes_the_one_pass_path() -> None:
    facts = {"persoon.geboortedatum": date(1990, 5, 1), "inschrijving.gewest": "vlaanderen",
             "traject.mo_test_pogingen": Decimal(1), "persoon.alfa": False, "traject.attest_datum": None}
    compiled = reader(VOCABULARY)
    assert compiled._read_plain(facts) == facts
    converted = {"persoon.geboortedatum": "1990-05-01", "traject.mo_test_pogingen": 1,
                 "persoon.nationaliteiten": ["SY"]}
    assert compiled._read_plain(converted) == {"persoon.geboortedatum": date(1990, 5, 1),
                                               "traject.mo_test_pogingen": Decimal(1),
                                               "persoon.nationaliteiten": ("SY",)}
    for wrong in ({"inschrijving.gewest": "vlaandren"}, {"traject.mo_test_pogingen": Decimal("NaN")},
                  {"persoon.alfa": 1}, {"persoon.geboortedatum": "1990-02-30"}, {"persoon": {"alfa": True}},
                  {"persoon.nationaliteit": ["SY"]}):
        assert compiled._read_plain({**facts, **wrong}) is None, wrong


def test_the_reader_is_built_once_per_vocabulary() -> None:
    assert reader(VOCABULARY) is reader(VOCABULARY)
    assert reader(Vocabulary.from_declarations({"a.b": "bool"})) is not reader(VOCABULARY)


@pytest.mark.parametrize("wrong, message", [
    ({"inschrijving.gewest": "vlaandren"}, "does not take the value 'vlaandren'"),
    ({"traject.mo_test_pogingen": Decimal("Infinity")}, "expected a finite number"),
])
def test_a_wrong_value_of_the_right_type_is_still_reported(wrong: dict[str, Any], message: str) -> None:
    _, problems = read(wrong)
    assert len(problems) == 1 and message in problems[0]
