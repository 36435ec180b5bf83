"""The conformance suite of the condition language, run against every evaluator.

Every file in ``tests/conformance/`` holds ``{"given": ..., "cases": [...]}`` in the
style of the jmespath compliance suite; the cases are written from ``docs/language.md``
alone. Each case with a value is run through the compiled closures
(:meth:`Expression.evaluate`) and through the reference tree-walking interpreter
(:meth:`Expression.interpret`), as cel-python runs its suite against both runners.

``given`` holds ``types`` (name -> declared type, for the vocabulary), ``facts``,
``outputs``, ``constants`` (sets and parameters: ``{"values": [...]}`` for all dates or
``{"versions": [{"from": ..., "until": ..., "value": ...}]}``), ``on`` (the evaluation
date) and ``reference`` (the reference date). A case may replace ``facts``, ``outputs``,
``constants``, ``on`` and ``reference`` with its own.

Values are encoded as JSON: ``true``/``false``/strings/``null`` as they are, and the
one-key objects ``{"number": "1.5"}``, ``{"date": "2024-02-29"}``, ``{"list": [...]}``,
``{"set": [...]}``, ``{"duration": {"months": 3}}``. Only in ``given`` (inputs):
``{"unknown": [facts]}`` for an output that is itself undecided, and
``{"repeat": [value, times]}`` for a long list.

A case expects exactly one of:

- ``result``: the value, compared strictly (``true`` is ``True``, not ``1``; a number is
  a ``Decimal``; a date is a ``date``; a list compares element-wise, a set as a set);
- ``unknown``: the result is :class:`Unknown` missing exactly these facts, or
  ``unknown_includes``: missing at least these (where the spec leaves the rest open);
- ``error`` (or ``errors``, each of which must be reported): ``kind`` (a string, or a
  list where the spec allows several), and the position as ``line`` and ``column``, or
  as ``at``, a list of ``[line, column]`` pairs where the spec does not say which token
  of the faulty construct carries the error, or as ``line`` and ``column_between``
  (inclusive bounds) where any token of a long construct may; ``message_contains`` /
  ``message_not_contains``; ``phase`` is ``compile`` (default: names, types and limits
  are checked when the rule set loads) or ``evaluate`` (the expression compiles, and
  evaluating it fails the same way in both evaluators).

``expression`` may be given as ``expression_built``, a list of ``[text, times]`` pieces
joined together, for the limit cases of thousands of characters. ``free_names``, where
given, is the exact set :attr:`Expression.free_names` must report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest

import engine.language.expression as language
from conftest import generated_value, person_value
from engine.errors import PolicyError, PolicyErrors
from engine.values import Duration, Unknown

CONFORMANCE = Path(__file__).parent / "conformance"
# the compiled closures, the reference interpreter, and the generated code as production
# runs it: a one-rule plan whose function inlines the expression (engine.evaluation.codegen),
# and its function of a whole person (engine.evaluation.person)
EVALUATORS = ("evaluate", "interpret", "generated", "person")
KINDS = {"syntax", "name", "type", "limit", "evaluation"}


@dataclass(frozen=True)
class Case:
    file: str
    index: int
    given: dict[str, Any]
    spec: dict[str, Any] = field(repr=False)

    @property
    def expression(self) -> str:
        if "expression_built" in self.spec:
            return "".join(text * times for text, times in self.spec["expression_built"])
        text = self.spec["expression"]
        assert isinstance(text, str)
        return text

    def part(self, name: str, default: Any = None) -> Any:
        if name in self.spec:
            return self.spec[name]
        return self.given.get(name, default)

    @property
    def label(self) -> str:
        text = self.expression
        if len(text) > 60:
            text = text[:57] + "..."
        return f"{self.file}[{self.index}] {text!r}"


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(CONFORMANCE.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        given = document.get("given", {})
        for index, spec in enumerate(document["cases"]):
            cases.append(Case(path.stem, index, given, spec))
    return cases


CASES = load_cases()
VALUE_CASES = [c for c in CASES if {"result", "unknown", "unknown_includes"} & c.spec.keys()]
ERROR_CASES = [c for c in CASES if {"error", "errors"} & c.spec.keys()]


def expected_errors(case: Case) -> list[dict[str, Any]]:
    if "error" in case.spec:
        return [case.spec["error"]]
    errors = case.spec["errors"]
    assert isinstance(errors, list) and errors
    return errors


def expected_phase(case: Case) -> str:
    phases = {str(error.get("phase", "compile")) for error in expected_errors(case)}
    assert len(phases) == 1, f"{case.label}: one phase per case"
    return phases.pop()


COMPILE_ERROR_CASES = [c for c in ERROR_CASES if expected_phase(c) == "compile"]
EVALUATION_ERROR_CASES = [c for c in ERROR_CASES if expected_phase(c) == "evaluate"]
FREE_NAME_CASES = [c for c in CASES if "free_names" in c.spec]


# --- decoding the JSON encoding of values ---------------------------------------------


def decode(encoded: Any) -> Any:
    if encoded is None or isinstance(encoded, (bool, str)):
        return encoded
    if isinstance(encoded, list):
        return [decode(item) for item in encoded]
    if isinstance(encoded, dict) and len(encoded) == 1:
        ((tag, inner),) = encoded.items()
        if tag == "number":
            return Decimal(inner)
        if tag == "date":
            return date.fromisoformat(inner)
        if tag == "list":
            return [decode(item) for item in inner]
        if tag == "set":
            return frozenset(decode(item) for item in inner)
        if tag == "duration":
            return Duration(days=inner.get("days", 0), months=inner.get("months", 0))
        if tag == "unknown":
            return Unknown(frozenset(inner))
        if tag == "repeat":
            value, times = inner
            return [decode(value)] * times
    raise ValueError(f"not an encoded value: {encoded!r}")


def decode_constant(encoded: dict[str, Any]) -> dict[str, Any]:
    if "values" in encoded:
        return {"values": decode(encoded["values"])}
    return {
        "versions": [
            {
                "from": optional_date(version["from"]),
                "until": optional_date(version.get("until")),
                "value": decode(version["value"]),
            }
            for version in encoded["versions"]
        ]
    }


def optional_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text is not None else None


def vocabulary(case: Case) -> Any:
    return language.Vocabulary.from_declarations(dict(case.part("types", {})))


def scope(case: Case) -> Any:
    # No reference date given: the scope's own default (the evaluation date) applies.
    dates: dict[str, Any] = {
        "evaluation_date": optional_date(case.part("on")),
        "reference_date": optional_date(case.part("reference")),
    }
    return language.TestScope(
        facts={name: decode(value) for name, value in case.part("facts", {}).items()},
        outputs={name: decode(value) for name, value in case.part("outputs", {}).items()},
        constants={name: decode_constant(value) for name, value in case.part("constants", {}).items()},
        **dates,
    )


def evaluator_of(expression: language.Expression, evaluator: str) -> Callable[[Any], Any]:
    if evaluator == "generated":
        return lambda scope: generated_value(expression, scope)
    if evaluator == "person":
        return lambda scope: person_value(expression, scope)
    method: Callable[[Any], Any] = getattr(expression, evaluator)
    return method


def run(case: Case, evaluator: str) -> Any:
    expression = language.Expression.compile(case.expression, vocabulary(case))
    return evaluator_of(expression, evaluator)(scope(case))


# --- comparing results -----------------------------------------------------------------


def is_plain_date(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def mismatch(actual: Any, expected: Any) -> str | None:
    """Why ``actual`` is not the JSON-encoded ``expected``, or None when it is."""
    what = f"expected {expected!r}, got {actual!r} ({type(actual).__name__})"
    if expected is None or isinstance(expected, bool):
        return None if actual is expected else what
    if isinstance(expected, str):
        return None if isinstance(actual, str) and actual == expected else what
    ((tag, inner),) = expected.items()
    if tag == "number":
        ok = isinstance(actual, Decimal) and actual == Decimal(inner)
        return None if ok else what
    if tag == "date":
        ok = is_plain_date(actual) and actual == date.fromisoformat(inner)
        return None if ok else what
    if tag == "duration":
        ok = isinstance(actual, Duration) and actual == decode(expected)
        return None if ok else what
    if tag == "list":
        if not isinstance(actual, (list, tuple)) or len(actual) != len(inner):
            return what
        for item, expected_item in zip(actual, inner):
            if mismatch(item, expected_item) is not None:
                return what
        return None
    if tag == "set":
        if not isinstance(actual, (set, frozenset, list, tuple)):
            return what
        items = list(actual)
        unmatched = list(inner)
        for item in items:
            hit = next((e for e in unmatched if mismatch(item, e) is None), None)
            if hit is None:
                return what
            unmatched.remove(hit)
        return None if not unmatched else what
    raise ValueError(f"not an encoded value: {expected!r}")


def check_value(case: Case, actual: Any) -> None:
    spec = case.spec
    if "result" in spec:
        problem = mismatch(actual, spec["result"])
        assert problem is None, f"{case.label}: {problem}"
        return
    assert isinstance(actual, Unknown), f"{case.label}: expected unknown, got {actual!r}"
    if "unknown" in spec:
        assert actual.missing == frozenset(spec["unknown"]), (
            f"{case.label}: expected unknown missing {sorted(spec['unknown'])}, "
            f"got missing {sorted(actual.missing)}"
        )
    else:
        needed = frozenset(spec["unknown_includes"])
        assert needed <= actual.missing, (
            f"{case.label}: expected unknown missing at least {sorted(needed)}, "
            f"got missing {sorted(actual.missing)}"
        )


# --- comparing errors ------------------------------------------------------------------


def reported(error: PolicyError) -> list[PolicyError]:
    return list(error) if isinstance(error, PolicyErrors) else [error]


def matches(error: PolicyError, expected: dict[str, Any]) -> bool:
    kinds = expected["kind"] if isinstance(expected["kind"], list) else [expected["kind"]]
    if error.kind not in kinds:
        return False
    if "at" in expected:
        places = [tuple(place) for place in expected["at"]]
    elif "column" in expected:
        places = [(expected.get("line", 1), expected["column"])]
    else:
        places = []
    if places and (error.span.line, error.span.column) not in places:
        return False
    if "column_between" in expected:
        low, high = expected["column_between"]
        if not (error.span.line == expected.get("line", 1) and low <= error.span.column <= high):
            return False
    message = error.message
    if "message_contains" in expected and expected["message_contains"] not in message:
        return False
    if "message_not_contains" in expected and expected["message_not_contains"] in message:
        return False
    return True


def describe(errors: list[PolicyError]) -> str:
    return "; ".join(
        f"{e.kind} at {e.span.line}:{e.span.column}: {e.message}" for e in errors
    )


def check_errors(case: Case, raised: PolicyError) -> None:
    errors = reported(raised)
    for expected in expected_errors(case):
        assert any(matches(e, expected) for e in errors), (
            f"{case.label}: expected {expected}, got {describe(errors)}"
        )


# --- the tests -------------------------------------------------------------------------


def test_the_suite_is_complete() -> None:
    """Guards the suite itself: enough cases, every error kind, every case well formed."""
    assert len(CASES) >= 170
    assert len(VALUE_CASES) + len(ERROR_CASES) == len(CASES), "each case expects something"
    kinds: set[str] = set()
    for case in ERROR_CASES:
        for expected in expected_errors(case):
            named = expected["kind"] if isinstance(expected["kind"], list) else [expected["kind"]]
            assert set(named) <= KINDS, case.label
            kinds.update(named)
    assert kinds == KINDS


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("case", VALUE_CASES, ids=lambda c: c.label)
def test_value(case: Case, evaluator: str) -> None:
    try:
        actual = run(case, evaluator)
    except PolicyError as error:
        pytest.fail(f"{case.label}: raised {describe(reported(error))}")
    check_value(case, actual)


@pytest.mark.parametrize("case", COMPILE_ERROR_CASES, ids=lambda c: c.label)
def test_error_when_compiling(case: Case) -> None:
    with pytest.raises(PolicyError) as raised:
        language.Expression.compile(case.expression, vocabulary(case))
    check_errors(case, raised.value)


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("case", EVALUATION_ERROR_CASES, ids=lambda c: c.label)
def test_error_when_evaluating(case: Case, evaluator: str) -> None:
    expression = language.Expression.compile(case.expression, vocabulary(case))
    with pytest.raises(PolicyError) as raised:
        evaluator_of(expression, evaluator)(scope(case))
    check_errors(case, raised.value)


@pytest.mark.parametrize("case", FREE_NAME_CASES, ids=lambda c: c.label)
def test_free_names(case: Case) -> None:
    expression = language.Expression.compile(case.expression, vocabulary(case))
    assert expression.free_names == frozenset(case.spec["free_names"])


@pytest.mark.parametrize("case", COMPILE_ERROR_CASES, ids=lambda c: c.label)
def test_errors_render_with_their_position_the_line_and_a_caret(case: Case) -> None:
    """``FILE:LINE:COL: error: MESSAGE``, then the source line and a caret under the column."""
    with pytest.raises(PolicyError) as raised:
        language.Expression.compile(case.expression, vocabulary(case))
    source_lines = case.expression.split("\n")
    for error in reported(raised.value):
        rendered = error.render().split("\n")
        head = f":{error.span.line}:{error.span.column}: error: "
        assert head in rendered[0], f"{case.label}: {rendered[0]!r} lacks {head!r}"
        source_line = source_lines[error.span.line - 1]
        if not source_line.strip():
            continue
        if len(source_line) > 60:  # a long line may be shown cut around the column
            assert any("^" in text for text in rendered[1:]), f"{case.label}: no caret in {rendered!r}"
            continue
        shown = next((i for i, text in enumerate(rendered[1:], 1) if source_line in text), None)
        assert shown is not None, f"{case.label}: the source line is not shown in {rendered!r}"
        assert shown + 1 < len(rendered), f"{case.label}: no caret line in {rendered!r}"
        caret_at = rendered[shown].index(source_line) + error.span.column - 1
        caret_line = rendered[shown + 1]
        assert caret_line[caret_at : caret_at + 1] == "^" and not caret_line[:caret_at].strip(), (
            f"{case.label}: the caret is not under column {error.span.column}:\n"
            + "\n".join(rendered)
        )
