"""Schema validation: values YAML reads as dates are reported, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import PolicyError, PolicyErrors
from engine.ruleset import RuleSet


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
