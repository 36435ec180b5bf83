"""The parser against whole ASTs (jmespath's test_parser.py style): each text with the
tree it must give, every node's kind, operator, offsets and depth compared at once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.errors import ConditionSyntaxError
from engine.language import nodes as n
from engine.language.parser import parse
from engine.values import Duration


def number(text: str, start: int) -> n.Literal:
    return n.Literal(Decimal(text), start, start + len(text))


def name(text: str, start: int) -> n.Name:
    return n.Name(text, start, start + len(text))


CASES: list[tuple[str, n.Node]] = [
    ("18", number("18", 0)),
    ("'werk'", n.Literal("werk", 0, 6)),
    ("none", n.Literal(None, 0, 4)),
    ("true", n.Literal(True, 0, 4)),
    ("2024-02-29", n.Literal(date(2024, 2, 29), 0, 10)),
    ("3 months", n.Literal(Duration(months=3), 0, 8)),
    ("persoon.leeftijd", name("persoon.leeftijd", 0)),
    ("evaluation_date", n.Special("evaluation_date", 0, 15)),
    ("persoon.leeftijd >= 18 and not persoon.eu",
     n.Logic("and", (n.Binary(">=", name("persoon.leeftijd", 0), number("18", 20), 0, 22, 17, 19, depth=2),
                     n.Not(name("persoon.eu", 31), 27, 41, depth=2)), 0, 41, depth=3)),
    ("a or b or c", n.Logic("or", (name("a", 0), name("b", 5), name("c", 10)), 0, 11, depth=2)),
    # '*' binds tighter than '+'
    ("1 + 2 * 3", n.Binary("+", number("1", 0), n.Binary("*", number("2", 4), number("3", 8), 4, 9, 6, 7, depth=2),
                           0, 9, 2, 3, depth=3)),
    ("x in ['a', 'b']", n.Binary("in", name("x", 0), n.ListLiteral((n.Literal("a", 6, 9), n.Literal("b", 11, 14)),
                                                                 5, 15, depth=2), 0, 15, 2, 4, depth=3)),
    ("any l not in S", n.Binary("any_not_in", name("l", 4), name("S", 13), 0, 14, 6, 12, depth=2)),
    ("EU at reference_date", n.At(name("EU", 0), n.Special("reference_date", 6, 20), 0, 20, depth=2)),
    ("if a then 1 else 2", n.If(name("a", 3), number("1", 10), number("2", 17), 0, 18, depth=2)),
    ("age(persoon.d, evaluation_date)",
     n.Call("age", (name("persoon.d", 4), n.Special("evaluation_date", 15, 30)), 0, 31, name_end=3, depth=2)),
    ("a is not none", n.IsTest(name("a", 0), "not_none", 0, 13, depth=2)),
    ("a is unknown", n.IsTest(name("a", 0), "unknown", 0, 12, depth=2)),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_the_parser_gives_the_whole_tree(text: str, expected: n.Node) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["a and", "1 +", "(a", "a b", "if a then 1"])
def test_an_incomplete_text_is_a_syntax_error_inside_it(text: str) -> None:
    with pytest.raises(ConditionSyntaxError) as raised:
        parse(text)
    assert 1 <= raised.value.span.column <= len(text) + 1
