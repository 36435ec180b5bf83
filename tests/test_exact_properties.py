"""Exactly decided, checked against brute force on random small rule sets.

Each example writes a random rule set over a few facts with small domains (a boolean, an
enumerated text, two dates near 2020-01-01 compared with literals, with each other
shifted by days and with the evaluation date, the date of an event and a fact
describing it, a list of texts against a value set whose members change), reference
dates that select versions, exceptions, and outputs used by other outputs. It leaves some
facts out, evaluates with exact decisions on, and compares every output with brute
force: every combination of values of the missing facts, dates on every day of a range
wider than anything the rules can tell apart. An output must be decided exactly when
every combination gives the same outcome, and otherwise name exactly the facts whose
value alone changes it.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import product
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evaluation import exact as exact_module
from engine.ruleset import Decision, RuleSet

START = date(2020, 1, 1)
DAYS = [START + timedelta(days=i) for i in range(-14, 22)]  # every day the rules below can tell apart, and more
GIVEN_DAYS = DAYS[6:-8]  # given dates keep what they are compared with inside DAYS
FACTS = {
    "f.b": [True, False],
    "f.t": ["x", "y", None],
    "f.d1": DAYS + [None],
    "f.d2": DAYS + [None],
    "f.l": [(), ("a",), ("c",), ("z",), ("a", "c"), ("a", "z"), ("c", "z"), ("a", "c", "z")],
}
VOCABULARY = """\
vocabulary:
  facts:
    f.b: {type: bool}
    f.t: {type: text, values: [x, y], event_of: f.d1}
    f.d1: {type: date, event: true}
    f.d2: {type: date}
    f.l: {type: list of text}
  outputs:
    o1: {type: bool}
    o2: {type: text, values: [p, q, r]}
    o3: {type: date}
    o4: {type: bool}
sets:
  - id: S
    title: S
    source: {instrument: test}
    element_type: text
    members: [a, {value: c, from: 2020-01-03}]
"""


def _int(data: Any, bounds: tuple[int, int]) -> int:
    """A whole number from Hypothesis's data, or from a ``random.Random`` (to replay by seed)."""
    if isinstance(data, random.Random):
        return data.randint(*bounds)
    return int(data.draw(st.integers(*bounds)))


def _pick(data: Any, options: list[Any]) -> Any:
    if isinstance(data, random.Random):
        return data.choice(options)
    return data.draw(st.sampled_from(options))


def _day(data: Any) -> str:
    return (START + timedelta(days=_int(data, (0, 5)))).isoformat()


def _atom(data: Any, outputs: list[str]) -> str:
    choices = ["f.b", "f.t == 'x'", "f.t is none", "f.d1 < DAY", "f.d2 >= DAY", "f.d1 + N days <= f.d2",
               "f.d2 < evaluation_date", "f.d1 is none", "any f.l in S", "'a' in f.l", "f.d1 == DAY"]
    choices += [{"o1": "o1", "o3": "o3 <= DAY", "o2": "o2 == 'p'"}[o] for o in outputs]
    atom = _pick(data, (choices))
    atom = atom.replace("DAY", _day(data)).replace("N", str(_int(data, (0, 2))))
    return f"not ({atom})" if _pick(data, ([True, False])) and "is" not in atom else atom


def _condition(data: Any, outputs: list[str]) -> str:
    atoms = [_atom(data, outputs) for _ in range(_int(data, (1, 3)))]
    return f" {_pick(data, (['and', 'or']))} ".join(f"({a})" for a in atoms)


def _rule(data: Any, rule_id: str, output: str, value: str, uses: list[str],
          exception_to: str | None = None) -> str:
    reference = _pick(data, ([None, "f.d1", "f.d2"] + (["o3"] if "o3" in uses else [])))
    lines = [f"  - id: {rule_id}", f"    title: {rule_id}", "    source: {instrument: test}"]
    if exception_to:
        lines.append(f"    exception_to: {exception_to}")
    if reference:
        lines.append(f"    reference_date: {reference}")
    lines.append("    versions:")
    boundary = _day(data) if _pick(data, ([True, False])) else None
    windows = [("2019-12-25", boundary), (boundary, None)] if boundary else [("2019-12-25", None)]
    for start, until in windows:
        lines.append(f"      - from: {start}")
        if until:
            lines.append(f"        until: {until}")
        lines.append(f'        when: "{_condition(data, uses)}"')
        lines.append(f'        compute: {{{output}: "{value}"}}')
    return "\n".join(lines)


def _rule_set(data: Any) -> str:
    rules = []
    values = {"o1": ["true", "false"], "o2": ["'p'", "'q'", "'r'"],
              "o3": ["f.d1 + 1 days", "f.d2", "2020-01-04", "max(f.d1, f.d2)"], "o4": ["true", "false"]}
    order = ["o3", "o1", "o2", "o4"]  # each output may use those before it
    for index, output in enumerate(order):
        uses = order[:index]
        rules.append(_rule(data, f"{output}.basis", output, _pick(data, (values[output])), uses))
        if _pick(data, ([True, False])):
            rules.append(_rule(data, f"{output}.uitzondering", output, _pick(data, (values[output])),
                               uses, exception_to=f"{output}.basis"))
    return VOCABULARY + "rules:\n" + "\n".join(rules) + "\n"


def _allowed(facts: dict[str, Any], on: date) -> bool:
    """The world as the event facts allow it: no event after ``on``; a described event happened."""
    d1 = facts.get("f.d1")
    if d1 is not None and d1 > on:
        return False
    return not (facts.get("f.t") is not None and "f.d1" in facts and d1 is None)


def _outcome(decision: Decision) -> tuple[str, Any]:
    return decision.status, decision.value


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_exact_decisions_agree_with_brute_force(tmp_path_factory: Any, data: Any) -> None:
    check_against_brute_force(tmp_path_factory.mktemp("exact"), data)


def check_against_brute_force(folder: Path, data: Any) -> None:
    (folder / "rules.yaml").write_text(_rule_set(data))
    ruleset = RuleSet.load(folder)
    on = START + timedelta(days=_int(data, (1, 4)))
    missing = sorted(set(_pick(data, sorted(FACTS)) for _ in range(_int(data, (1, 3)))))
    given_facts = {name: _pick(data, [v for v in values if not isinstance(v, date) or v in GIVEN_DAYS])
                   for name, values in FACTS.items() if name not in missing}
    if not _allowed(given_facts, on):
        return  # a world the event facts rule out
    cases = []
    for combination in product(*(FACTS[m] for m in missing)):
        facts = {**given_facts, **dict(zip(missing, combination))}
        if _allowed(facts, on):
            cases.append((combination, ruleset.evaluate(facts, on, validated=True, exact=False).decisions))
    if not cases:
        return
    bounds = exact_module.MAX_EVALUATIONS, exact_module.MAX_CASES
    exact_module.MAX_EVALUATIONS = exact_module.MAX_CASES = 100_000  # exactness here; the bounds in test_exact.py
    try:
        exact = ruleset.evaluate(given_facts, on, validated=True).decisions
    finally:
        exact_module.MAX_EVALUATIONS, exact_module.MAX_CASES = bounds
    for output, decision in exact.items():
        outcomes = {_outcome(found[output]) for _, found in cases}
        assert all(status != "unknown" for status, _ in outcomes)
        if len(outcomes) == 1:
            assert _outcome(decision) == next(iter(outcomes)), (output, decision)
            continue
        assert decision.status == "unknown", (output, decision, outcomes)
        deciding = set()
        for index, name in enumerate(missing):
            rest: dict[Any, set[Any]] = {}
            for combination, found in cases:
                rest.setdefault(combination[:index] + combination[index + 1:], set()).add(_outcome(found[output]))
            if any(len(seen) > 1 for seen in rest.values()):
                deciding.add(name)
        assert set(decision.missing) == deciding, (output, decision, outcomes)
