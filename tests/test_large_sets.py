"""What makes large rule sets load fast must not change what loading finds: a text
parsed once for many expressions still reports each error where it stands."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import PolicyError, PolicyErrors
from engine.ruleset import RuleSet

VOCABULARY = """\
vocabulary:
  facts:
    persoon.leeftijd: {type: number}
    persoon.ziek: {type: bool}
  outputs:
    a: {type: bool}
    b: {type: bool}
    n: {type: number}
"""


def rule(name: str, when: str) -> str:
    return f"""\
  - id: {name}
    title: {name}
    source: {{instrument: Decreet}}
    versions:
      - from: 2014-01-01
        when: {when}
        set: {{{name}: true}}
"""


def load_errors(tmp_path: Path, rules: str) -> list[tuple[int, int, str]]:
    (tmp_path / "vocabulary.yaml").write_text(VOCABULARY, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text("rules:\n" + rules, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(tmp_path)
    errors = list(caught.value) if isinstance(caught.value, PolicyErrors) else [caught.value]
    return [(e.span.line, e.span.column, e.message) for e in errors]


def test_the_same_wrong_text_twice_is_two_errors_each_in_its_place(tmp_path: Path) -> None:
    errors = load_errors(tmp_path, rule("a", "persoon.leeftijd >= 18 and and persoon.ziek")
                         + rule("b", "  persoon.leeftijd >= 18 and and persoon.ziek"))
    assert [(line, column) for line, column, _ in errors] == [(7, 42), (14, 44)]
    assert errors[0][2] == errors[1][2] and errors[0][2].startswith("unexpected 'and'")


def test_the_same_text_parsed_once_is_checked_in_each_place(tmp_path: Path) -> None:
    # a number where a condition is expected: wrong in 'when', right in 'compute'
    errors = load_errors(tmp_path, rule("a", "persoon.leeftijd") + """\
  - id: b
    title: b
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        compute: {n: persoon.leeftijd}
""")
    assert [(line, column) for line, column, _ in errors] == [(7, 15)]
