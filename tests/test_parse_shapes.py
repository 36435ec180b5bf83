"""Parsing by shape (engine.language.parser): a text whose tokens have the types of a
text parsed before is built by replaying that parse's reductions on its own tokens. The
replay must give exactly what Lark gives for the text: the same tree, or the same error.

Each case parses a text (which writes its shape down), then a sibling of the same shape
(other names, numbers, texts, dates, comparisons), once by shape and once by a plain Lark
parser with the same builder."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark
from lark.exceptions import UnexpectedInput

from engine.language import parser
from test_language_properties import token_soups, well_typed

PLAIN = Lark(resources.files("engine.language").joinpath("condition.lark").read_text(encoding="utf-8"),
             parser="lalr", lexer="contextual", transformer=parser._Builder(), maybe_placeholders=True)
SWAPS = {"NAME": ["zz", "persoon.leeftijd", "EU", "o_1"], "NUMBER": ["7", "0", "12.50", "3"],
         "STRING": ["'x'", '"vlaanderen"', "''"], "DATE": ["2024-02-29", "2023-02-29", "1999-12-31"],
         "COMPARE": ["<", ">=", "==", "!="], "UNIT": ["day", "years", "months"]}


def outcome(parse: Any, text: str) -> Any:
    try:
        return parse(text)
    except parser._Problem as problem:
        return ("problem", problem.kind, problem.message, problem.start, problem.end)
    except UnexpectedInput as error:
        return ("syntax", type(error).__name__)


def sibling(text: str, choices: Any) -> str | None:
    """``text`` with other tokens of the same types (None when it does not lex)."""
    tokens = parser._lex(text)
    if tokens is None:
        return None
    pieces, position = [], 0
    for token in tokens:
        options = SWAPS.get(token.type)
        pieces.append(text[position:token.start_pos] + (choices.draw(st.sampled_from(options)) if options else token))
        position = token.end_pos
    return "".join(pieces) + text[position:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(well_typed(), token_soups()), st.data())
def test_a_text_of_a_known_shape_parses_as_lark_parses_it(text: str, choices: Any) -> None:
    first = outcome(parser._tree.__wrapped__, text)
    assert first == outcome(PLAIN.parse, text)
    other = sibling(text, choices)
    if other is not None:
        assert outcome(parser._tree.__wrapped__, other) == outcome(PLAIN.parse, other)


@pytest.mark.parametrize("first, second", [
    ("persoon.leeftijd >= 18 and not persoon.ziek", "f.x3 < 2 and not f.y"),
    ("-3 + x", "-4 + y"),  # a negative number is folded into the literal
    ("date(2024, 1, 1) + 3 days", "date(2023, 5, 9) + 10 months"),
    ("a at 2024-01-01", "b at 2023-02-29"),  # an impossible date: the same error as Lark's
    ("((a))", "((b))"),
    ("x", "y"),
])
def test_the_second_text_of_a_shape_is_replayed(first: str, second: str) -> None:
    outcome(parser._tree.__wrapped__, first)
    tokens = parser._lex(second)
    assert tokens is not None and tuple(t.type for t in tokens) in parser._programs  # replayed, not parsed
    assert outcome(parser._tree.__wrapped__, second) == outcome(PLAIN.parse, second)
