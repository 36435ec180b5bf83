"""Schema validation: the quick check of valid files never hides a problem jsonschema
finds, and values YAML reads as dates are reported, not a traceback."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT

from engine.sources import schema
from engine.errors import InputError, PolicyError, PolicyErrors
from engine.ruleset import RuleSet
from engine.sources.yamlsource import parse_document, read_document

RULE_FILES = sorted((ROOT / "rules").rglob("*.yaml")) + sorted((ROOT / "tests" / "rulesets").rglob("*.yaml"))
FIXTURE_FILES = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))
SCHEMAS = {"rulefile.schema.json": RULE_FILES, "fixture.schema.json": FIXTURE_FILES}


def full_errors(name: str, data: Any) -> list[Any]:
    return list(schema.validator(name).iter_errors(data))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_has_a_quick_check_that_passes_the_valid_files(name: str) -> None:
    check = schema.quick_check(name)
    assert check is not None
    valid = [path for path in SCHEMAS[name] if not full_errors(name, read_document(path, keep_going=True).data)]
    assert len(valid) >= 5
    assert [path for path in valid if not check(read_document(path, keep_going=True).data)] == []


VALUES = [
    "", "x", "r.a", "Rule", "EU_LIST", "H", "Q", "effective", "in_force", "proposed", "text", "number", "list of text",
    "2024-01-01", "2024-13-01", "20240101", Decimal(1), Decimal("1.5"), Decimal(-3), date(2024, 1, 1), True, False,
    None, [], {}, ["a"], ["a", "a"], [Decimal(1), True], {"x": Decimal(1)}, {"instrument": "Wet"},
]
KEYS = ["id", "title", "source", "versions", "from", "until", "when", "set", "compute", "type", "values", "rules",
        "vocabulary", "facts", "outputs", "amendment", "changes", "order", "exception_to", "members", "value",
        "instrument", "article", "confidence", "on", "cases", "expect", "facts", "x", 1, date(2024, 1, 1), None]


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += paths(value, prefix + (i,))
    return found


def mutate(data: Any, draw: Any) -> Any:
    """``data`` with a few values replaced, keys added or removed, or items repeated."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)))
        if not where:
            continue
        parent = data
        for part in where[:-1]:
            parent = parent[part]
        last = where[-1]
        action = draw(st.sampled_from(["replace", "remove", "add", "repeat"]))
        if action == "replace":
            parent[last] = copy.deepcopy(draw(st.sampled_from(VALUES)))
        elif action == "remove" and isinstance(parent, dict):
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = copy.deepcopy(draw(st.sampled_from(VALUES)))
        elif action == "repeat" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return data


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_the_quick_check_never_passes_a_document_with_errors(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SCHEMAS)))
    path = data.draw(st.sampled_from(SCHEMAS[name]))
    document = mutate(read_document(path, keep_going=True).data, data.draw)
    check = schema.quick_check(name)
    assert check is not None
    if check(document):
        assert full_errors(name, document) == []


def errors_of(path: Path) -> list[PolicyError]:
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(path)
    return list(caught.value) if isinstance(caught.value, PolicyErrors) else [caught.value]


def test_dates_where_names_and_texts_are_expected_are_errors_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("""\
vocabulary:
  outputs:
    2024-05-05: {type: bool}
rules:
  - id: 2024-01-01
    title: x
    source: {instrument: X, article: 2024-03-03}
    versions:
      - from: 2000-01-01
        set: {o: true}
""", encoding="utf-8")
    errors = errors_of(tmp_path)
    messages = [(e.span.line, e.span.column, e.message) for e in errors]
    assert (5, 9, "id: '2024-01-01' is not a valid name here (pattern ^[a-z0-9_]+(\\.[a-z0-9_]+)*$)") in messages
    assert any(line == 3 and "'2024-05-05' is not a valid name here" in message for line, _, message in messages)


def test_a_document_with_a_problem_still_gets_every_error() -> None:
    document = parse_document("rules:\n  - id: r.a\n    titel: x\n", "f.yaml", InputError)
    check = schema.quick_check("rulefile.schema.json")
    assert check is not None and not check(document.data)
    messages = [e.message for e in schema.iter_errors(document, "rulefile.schema.json", InputError)]
    assert "unknown key 'titel'; did you mean 'title'?" in messages
    assert "'title' is a required property" in messages


def test_a_date_where_a_text_is_expected_is_an_error_that_says_to_quote_it(tmp_path: Path) -> None:
    """YAML reads an unquoted 2024-02-02 as a date; a title written so used to load as a
    date and break the JSON of an explanation later."""
    (tmp_path / "rules.yaml").write_text(
        "vocabulary:\n  outputs:\n    uitkomst: {type: bool}\n"
        "rules:\n  - id: r.een\n    title: 2024-02-02\n    source: {instrument: Decreet}\n"
        "    versions:\n      - from: 2024-01-01\n        set: {uitkomst: true}\n", encoding="utf-8")
    ruleset, problems = RuleSet.check(tmp_path)
    assert ruleset is None
    rendered = [p.render() for p in problems]
    assert any(":6:12: error: title: 2024-02-02 is read as a date where a text is expected; quote it: '2024-02-02'"
               in text for text in rendered), rendered
