"""The Python API rejects arguments of the wrong type with an InputError saying what it
expects (never a TypeError or AttributeError from deep inside the engine)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from engine import InputError, PolicyError, RuleSet

ROOT = Path(__file__).resolve().parent.parent
FACTS = {"persoon.geboortedatum": date(1990, 5, 1), "inschrijving.gewest": "wallonie"}
ON = date(2024, 3, 1)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load(ROOT / "rules")


CASES: list[tuple[str, Callable[[RuleSet], Any], str]] = [
    ("load a number", lambda r: RuleSet.load(42),  # type: ignore[arg-type]
     "RuleSet.load(paths): expected rule directories or files (str or pathlib.Path), got int 42"),
    ("load a list", lambda r: RuleSet.load(["rules"]),  # type: ignore[arg-type]
     "RuleSet.load(paths): expected rule directories or files (str or pathlib.Path), got list ['rules']"),
    ("facts as a list", lambda r: r.evaluate([("persoon.geboortedatum", date(1990, 5, 1))], ON),  # type: ignore[arg-type]
     "evaluate(facts): expected a mapping of dotted fact names to values, got list "
     "[('persoon.geboortedatum', datetime.date(1990, 5, 1))]"),
    ("on as text", lambda r: r.evaluate(FACTS, on="2024-03-01"),  # type: ignore[arg-type]
     "evaluate(on): expected a datetime.date, e.g. date(2024, 3, 1), got str '2024-03-01'"),
    ("on as a datetime", lambda r: r.evaluate(FACTS, on=datetime(2024, 3, 1, 12, 0)),
     "evaluate(on): expected a datetime.date, e.g. date(2024, 3, 1), got datetime "
     "datetime.datetime(2024, 3, 1, 12, 0)"),
    ("on missing", lambda r: r.evaluate(FACTS, None),  # type: ignore[arg-type]
     "evaluate(on): expected a datetime.date, e.g. date(2024, 3, 1), got NoneType None"),
    ("proposals as a list", lambda r: r.evaluate(FACTS, ON, ["arbeidsmigranten"]),  # type: ignore[arg-type]
     "evaluate(proposals): expected a mapping of proposal names to a datetime.date or None, "
     "e.g. {'arbeidsmigranten': None}, got list ['arbeidsmigranten']"),
    ("a proposal's date as text", lambda r: r.evaluate(FACTS, ON, {"arbeidsmigranten": "2027-01-01"}),  # type: ignore[dict-item]
     "evaluate(proposals['arbeidsmigranten']): expected a datetime.date or None, got str '2027-01-01'"),
    ("outputs as one text", lambda r: r.evaluate(FACTS, ON, outputs="status"),
     "evaluate(outputs): expected a list of output names, e.g. ['status'], got str 'status'"),
    ("an output as a number", lambda r: r.evaluate(FACTS, ON, outputs=[1]),  # type: ignore[list-item]
     "evaluate(outputs): expected output names as texts, got int 1"),
    ("explain a number", lambda r: r.evaluate(FACTS, ON).explain(1),  # type: ignore[arg-type]
     "explain(output): expected an output name (a text), got int 1"),
    ("explain an unknown output", lambda r: r.evaluate(FACTS, ON).explain("statuss"),
     "explain(output): 'statuss' is not an output of this result; did you mean 'status'?"),
    ("a long value is shortened", lambda r: r.evaluate(FACTS, on="x" * 100),  # type: ignore[arg-type]
     "evaluate(on): expected a datetime.date, e.g. date(2024, 3, 1), got str '" + "x" * 56 + "..."),
]


@pytest.mark.parametrize("call,message", [(c, m) for _, c, m in CASES], ids=[name for name, _, _ in CASES])
def test_wrong_argument_types_are_input_errors(rules: RuleSet, call: Callable[[RuleSet], Any], message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        call(rules)
    assert isinstance(raised.value, InputError)
    assert raised.value.message == message


def test_right_arguments_still_work(rules: RuleSet) -> None:
    result = rules.evaluate(FACTS, ON, {"arbeidsmigranten": date(2027, 1, 1)}, outputs=("doelgroep",))
    assert result.outputs == {"doelgroep": False}
    assert result.explain("doelgroep").render_text().startswith("doelgroep = false")
