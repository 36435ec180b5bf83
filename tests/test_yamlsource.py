"""Reading YAML: plain data only, positions for every value, and two readers that agree.

The usual reader builds values from libyaml's events; documents with anchors, aliases,
keys that are not scalars, deep nesting or a second document go through the reader of
composed nodes. Whatever the text, both must give the same data, places and problems.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sources import yamlsource
from engine.errors import InputError, PolicyError
from engine.sources.yamlsource import parse_document


def problems_of(text: str) -> list[tuple[int, int, str]]:
    document = parse_document(text, "f.yaml", keep_going=True)
    return [(p.span.line, p.span.column, p.message) for p in document.problems]


@pytest.mark.parametrize("text, data, problems", [
    ("a: on\nb: yes\nc: true\nd: False\ne: 'true'\n",
     {"a": "on", "b": "yes", "c": True, "d": False, "e": "true"}, []),
    ("a: 1.10\nb: 7\nc: ~\nd: 2024-02-29\ne: '2024-02-29'\n",
     {"a": Decimal("1.10"), "b": Decimal("7"), "c": None, "d": date(2024, 2, 29), "e": "2024-02-29"}, []),
    ("1: a\n2.0: b\n", {1: "a", 2: "b"}, []),
    ("a: &x 1\nb: *x\n", {"a": Decimal(1), "b": None},
     [(1, 4, "anchors and aliases are not supported; write the value out")]),
    ("a: !foo x\nb: !!python/object:os.system y\n", {"a": None, "b": None},
     [(1, 4, "unsupported tag !foo"), (2, 4, "unsupported tag tag:yaml.org,2002:python/object:os.system")]),
    ("x: !!set {a}\n", {"x": {"a": None}}, [(1, 4, "unsupported tag tag:yaml.org,2002:set")]),
    ("? [1, 2]\n: x\nb: 2\n", {"b": Decimal(2)}, [(1, 3, "a key must be a plain value")]),
    ("a: 1\nb: {c: 2}\na: {d: x}\n", {"a": Decimal(1), "b": {"c": Decimal(2)}},
     [(3, 1, "duplicate key 'a' (first at line 1)")]),
    ("a: .inf\nb: 2024-02-30\nc: 2024-01-01 10:00:00\nd: !!timestamp soon\n", {"a": None, "b": None, "c": None, "d": None},
     [(1, 4, "'.inf' is not a finite decimal number"),
      (2, 4, "impossible date '2024-02-30': day is out of range for month"),
      (3, 4, "'2024-01-01 10:00:00' has a time; a date (YYYY-MM-DD) is expected"),
      (4, 4, "'soon' is not a date (YYYY-MM-DD)")]),
])
def test_plain_data_and_positioned_problems(text: str, data: Any, problems: list[tuple[int, int, str]]) -> None:
    document = parse_document(text, "f.yaml", keep_going=True)
    assert document.data == data
    assert [(p.span.line, p.span.column, p.message) for p in document.problems] == problems


@pytest.mark.parametrize("text, line, column, message", [
    ("a: 1\n---\nb: 2\n", 2, 1, "YAML: but found another document (expected a single document in the stream)"),
    ("a: *nowhere\n", 1, 4, "YAML: found undefined alias"),
    ("a: [1, 2\n", 2, 1, "YAML: did not find expected ',' or ']' (while parsing a flow sequence)"),
])
def test_malformed_yaml_is_one_positioned_error(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_document(text, "f.yaml")
    assert (caught.value.span.line, caught.value.span.column, caught.value.message) == (line, column, message)


def test_every_value_and_key_has_its_place() -> None:
    document = parse_document("rules:\n  - id: r.a\n    when: 'x > 1'\n", "f.yaml")
    assert str(document.span(("rules", 0, "when"))) == "f.yaml:3:11"
    assert str(document.span(("rules", 0, "when"), key=True)) == "f.yaml:3:5"
    assert str(document.span(("rules", 0, "missing"))) == "f.yaml:2:5"  # the nearest parent
    origin = document.origin(("rules", 0, "when"))
    assert document.source.text[origin.start:origin.end] == "'x > 1'"
    place = document.place(("rules", 0, "id"))
    assert place is not None and (place.line, place.column, place.end_line, place.end_column) == (2, 9, 2, 12)


def test_nesting_deeper_than_the_limit_is_an_error() -> None:
    assert problems_of("a: " + "[" * 70 + "]" * 70 + "\n") == [(1, 68, "the document nests too deeply")]


def read_both(text: str) -> tuple[Any, Any]:
    """What the usual reader and the reader of composed nodes make of ``text``: the data,
    places, problems and bad paths, or the error libyaml raised ("irregular" when the
    usual reader hands the document over)."""
    source = yamlsource.Source("f.yaml", text)

    def outcome(builder: yamlsource._Builder, read: Any) -> Any:
        try:
            data = read()
        except yamlsource._Irregular:
            return "irregular"
        except Exception as error:  # compared, not hidden
            return f"{type(error).__name__}: {error}"
        return (repr(data), builder.places, builder.key_places,
                [p.render() for p in builder.errors], builder.bad_paths)

    usual = yamlsource._Builder(source, InputError)
    composed = yamlsource._Builder(source, InputError)
    return outcome(usual, usual.read), outcome(composed, composed.compose)


FRAGMENTS = ["a", "b: ", "c:", "- ", "  ", "\n", "\n  ", "[", "]", "{", "}", ", ", "'x'", '"y"', "on", "1.5", "7",
             "2024-02-29", "2024-02-30", "~", "&k ", "*k", "!t ", "!!str ", "? ", "<<: ", "#c", "|\n  z", ">\n  w",
             "\n---\n", "1: ", "é", "\t"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))
def test_the_usual_reader_agrees_with_the_reader_of_composed_nodes(text: str) -> None:
    usual, composed = read_both(text)
    if usual != "irregular":
        assert usual == composed


def test_documents_with_anchors_go_to_the_reader_of_composed_nodes() -> None:
    for text in ("a: &x 1\n", "a: *x\n", "? [1]\n: 2\n", "a: 1\n---\nb: 2\n", "a: " + "[" * 70 + "]" * 70):
        assert read_both(text)[0] == "irregular", text
