"""Differential proof: on random rule sets and random persons, every backend gives what
the oracle gives.

Hypothesis writes rule sets as YAML files (exceptions to exceptions, orders, several
versions with different reference dates, outputs set by some versions and not others,
computed values, value sets and parameters over time, outputs that read other outputs,
an amendment in force and a proposal) and persons with facts given, missing or null.
Each is evaluated

- by the oracle: the general path alone, with sets of possible outcomes
  (``Evaluation`` without generated code);
- by production: ``RuleSet.evaluate`` (generated code, falling back to the general path);
- by the generated code asked for one output at a time (its dependencies decided on the
  way, in another order);

and the outputs, unknowns (with the facts they miss), not-applicables and deciding rules
must be the same; a conflict must be a conflict in every backend.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.errors import ConflictError
from engine.evaluation.general import Evaluation
from engine.ruleset import RuleSet

FACTS = {
    "f.b1": "bool", "f.b2": "bool", "f.n1": "number", "f.n2": "number", "f.d1": "date", "f.d2": "date",
    "f.t1": "text",
}
FACT_VALUES: dict[str, Any] = {
    "bool": st.booleans(),
    "number": st.sampled_from([0, 1, 2, 3, 5]),
    "date": st.sampled_from([date(2004, 6, 1), date(2012, 1, 1), date(2016, 3, 1), date(2021, 8, 1)]),
    "text": st.sampled_from(["p", "q", "r"]),
}
# outputs of the first level read facts only; those of the second read facts and level-one outputs
LEVELS: list[dict[str, str]] = [{"a": "number", "b": "number", "c": "bool", "t": "text", "s": "set of text"},
                                {"x": "number", "y": "bool"}]
EXPRESSIONS: dict[str, list[str]] = {
    "number": ["f.n1 + 1", "f.n2", "if f.b1 then 1 else 2", "f.n1 * P", "count(S)"],
    "bool": ["f.b1", "f.b2 or f.b1", "f.n1 > 2", "f.t1 in S", "not f.b2", "f.d1 < 2015-01-01",
             "f.n2 >= P", "f.b1 and f.n1 != 3", "any [f.t1, 'q'] in S", "f.t1 is none"],
    "text": ["f.t1", "if f.b2 then 'p' else 'q'"],
    "set of text": ["[f.t1, 'p']", "['q']"],
}
LEVEL_TWO: dict[str, list[str]] = {
    "number": ["a + 1", "b", "if c then a else 4", "a + b"],
    "bool": ["c", "c or f.b1", "a > 2", "t == 'p'", "'q' in s", "c is none", "a is known"],
}
LITERALS: dict[str, list[Any]] = {"number": [1, 2, 3, None], "bool": [True, False, None], "text": ["p", "q", None],
                                  "set of text": [["p"], ["p", "q"], None]}
STARTS = [date(2000, 1, 1), date(2010, 1, 1), date(2014, 1, 1), date(2018, 1, 1)]
ON = [date(2005, 5, 1), date(2012, 6, 1), date(2019, 1, 1), date(2024, 3, 1)]
REFERENCES = [None, None, "f.d1", "f.d2"]
SOURCE = {"instrument": "Generated"}


@st.composite
def versions(draw: st.DrawFn, outputs: dict[str, str], level: int) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 3))
    starts = sorted(draw(st.lists(st.sampled_from(STARTS), min_size=count, max_size=count, unique=True)))
    found = []
    for index, start in enumerate(starts):
        version: dict[str, Any] = {"from": start}
        if index + 1 < len(starts):
            version["until"] = starts[index + 1]
        elif draw(st.booleans()) and start < STARTS[-1]:
            version["until"] = STARTS[-1]  # ends: a gap (a warning) after it
        if draw(st.integers(0, 3)):
            version["when"] = draw(st.sampled_from(EXPRESSIONS["bool"] + (LEVEL_TWO["bool"] if level else [])))
        # each version sets some of the rule's outputs, at least one
        chosen = draw(st.lists(st.sampled_from(sorted(outputs)), min_size=1, max_size=len(outputs), unique=True))
        for output in chosen:
            kind = outputs[output]
            pool = EXPRESSIONS[kind] + (LEVEL_TWO.get(kind, []) if level else [])
            if draw(st.booleans()):
                version.setdefault("set", {})[output] = draw(st.sampled_from(LITERALS[kind]))
            else:
                version.setdefault("compute", {})[output] = draw(st.sampled_from(pool))
        found.append(version)
    return found


@st.composite
def rule_sets(draw: st.DrawFn) -> dict[str, str]:
    """The files of a rule set: name -> YAML text."""
    rules: list[dict[str, Any]] = []
    for level, outputs in enumerate(LEVELS):
        ids: list[str] = []
        for index in range(draw(st.integers(2, 5) if level == 0 else st.integers(1, 3))):
            rule_id = f"r{level}.{index}"
            own = draw(st.lists(st.sampled_from(sorted(outputs)), min_size=1, max_size=3, unique=True))
            rule: dict[str, Any] = {"id": rule_id, "title": rule_id, "source": SOURCE,
                                    "versions": draw(versions({o: outputs[o] for o in own}, level))}
            reference = draw(st.sampled_from(REFERENCES))
            if reference:
                rule["reference_date"] = reference
            if ids and draw(st.integers(0, 2)):
                rule["exception_to"] = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=2, unique=True))
            if draw(st.booleans()):
                rule["order"] = draw(st.integers(1, 2))
            rules.append(rule)
            ids.append(rule_id)
    vocabulary = {"facts": {name: {"type": kind} for name, kind in FACTS.items()},
                  "outputs": {name: {"type": kind} for level in LEVELS for name, kind in level.items()}}
    sets = [{"id": "S", "title": "S", "source": SOURCE, "element_type": "text",
             "members": ["p", {"value": "q", "from": draw(st.sampled_from(STARTS))}]}]
    parameters = [{"id": "P", "title": "P", "type": "number", "source": SOURCE,
                   "versions": [{"from": date(1990, 1, 1), "until": date(2015, 1, 1), "value": 2},
                                {"from": date(2015, 1, 1), "value": draw(st.sampled_from([1, 3]))}]}]
    files = {"rules.yaml": {"vocabulary": vocabulary, "sets": sets, "parameters": parameters, "rules": rules}}
    # an amendment in force and a proposal, each replacing or ending a rule after every start
    for name, status, effective in (("wijziging", "in_force", date(2019, 6, 1)),
                                    ("voorstel", "proposed", date(2022, 1, 1))):
        if not draw(st.booleans()):
            continue
        target = draw(st.sampled_from(rules))
        level = 0 if target["id"].startswith("r0") else 1
        outputs = {o: LEVELS[level][o] for v in target["versions"] for o in list(v.get("set", {}))
                   + list(v.get("compute", {}))}
        if draw(st.booleans()):
            replacement = draw(versions(outputs, level))[0]
            replacement.pop("from"), replacement.pop("until", None)
            change: dict[str, Any] = {"replace": {"rule": target["id"], "from": "effective", "version": replacement}}
        else:
            change = {"end": {"rule": target["id"], "on": "effective"}}
        files[f"{name}.yaml"] = {"amendment": {"id": name, "title": name, "source": SOURCE, "status": status,
                                               "effective": effective}, "changes": [change]}
    return {file: yaml.dump(content, Dumper=_Plain, sort_keys=False) for file, content in files.items()}


class _Plain(yaml.SafeDumper):
    """Writes every value out: rule files allow no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@st.composite
def persons(draw: st.DrawFn) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for name, kind in FACTS.items():
        state = draw(st.sampled_from(["given", "given", "missing", "null"]))
        if state == "given":
            facts[name] = draw(FACT_VALUES[kind])
        elif state == "null":
            facts[name] = None
    return facts


def _oracle(ruleset: RuleSet, facts: dict[str, Any], on: date, proposals: dict[str, Any],
            outputs: list[str] | None = None) -> Any:
    plan = ruleset.plan(proposals)
    evaluation = Evaluation(plan, facts, on)  # the general path alone
    wanted = outputs or ruleset.public_outputs
    try:
        for output in ruleset.order:
            if output in wanted:
                evaluation.value_of(output)
    except ConflictError as error:
        return ("conflict", str(error))
    return {name: (_shown(evaluation.values.get(name)), evaluation.deciders.get(name)) for name in wanted}


def _shown(value: Any) -> Any:
    from engine.values import Unknown

    if type(value) is Unknown:
        return ("unknown", tuple(sorted(value.missing)))
    if value is None:
        return ("not applicable",)
    return value


def _production(ruleset: RuleSet, facts: dict[str, Any], on: date, proposals: dict[str, Any],
                outputs: list[str] | None = None, record: bool = False) -> Any:
    # the function of a whole person is written on the second evaluation: now, so that it is tested
    ruleset.program(proposals).person(tuple(outputs) if outputs is not None else tuple(ruleset.public_outputs),
                                      now=True)
    try:
        # the backends of the plan, before the exact layer (which tests/test_exact_properties.py
        # checks against brute force): the oracle does not split cases either
        result = ruleset.evaluate(facts, on, proposals, outputs=outputs, exact=False)
    except ConflictError as error:
        return ("conflict", str(error))
    if record:
        carried = any(d.status == "unknown" for d in result.decisions.values())
        event(f"answered by a person's function: {result._evaluation is None}"
              f"{' (the one that carries unknowns)' if result._evaluation is None and carried else ''}")
    found = {}
    for name, decision in result.decisions.items():
        if decision.status == "unknown":
            found[name] = (("unknown", decision.missing), None)
        elif decision.status == "not_applicable":
            found[name] = (("not applicable",), decision.rule)
        else:
            found[name] = (decision.value, decision.rule)
    return found


def _events(expected: Any) -> None:
    """What the examples exercised (pytest --hypothesis-show-statistics)."""
    if not isinstance(expected, dict):
        event("conflict")
        return
    for kind in ("unknown", "not applicable"):
        event(f"{sum(1 for value, _ in expected.values() if isinstance(value, tuple) and value[0] == kind)} {kind}")
    event(f"decided without a single rule: {any(rule is None and not isinstance(v, tuple) for v, rule in expected.values())}")


def _load(files: dict[str, str]) -> RuleSet:
    with tempfile.TemporaryDirectory() as directory:
        for name, text in files.items():
            (Path(directory) / name).write_text(text)
        return RuleSet.load(directory)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files=rule_sets(), people=st.lists(persons(), min_size=1, max_size=3), data=st.data())
def test_every_backend_agrees_with_the_oracle(files: dict[str, str], people: list[dict[str, Any]],
                                             data: st.DataObject) -> None:
    ruleset = _load(files)
    choices: list[dict[str, Any]] = [{}]
    if "voorstel.yaml" in files:
        choices += [{"voorstel": None}, {"voorstel": date(2020, 6, 1)}]
    for facts in people:
        on = data.draw(st.sampled_from(ON))
        proposals = data.draw(st.sampled_from(choices))
        expected = _oracle(ruleset, facts, on, proposals)
        _events(expected)
        context = f"\n{''.join(files.values())}\nfacts {facts} on {on} proposals {proposals}"
        assert _production(ruleset, facts, on, proposals, record=True) == expected, context
        one = data.draw(st.sampled_from(ruleset.public_outputs))
        assert _production(ruleset, facts, on, proposals, [one]) == _oracle(ruleset, facts, on, proposals, [one]), \
            f"{context} output {one}"


def test_an_exception_that_sets_only_one_output_is_no_companion(tmp_path: Path) -> None:
    """Outputs of one tree are decided together only when every version sets both: here
    the exception's later version sets only 'b', so 'a' falls back to the base rule
    while 'b' is the exception's."""
    (tmp_path / "rules.yaml").write_text(yaml.dump({
        "vocabulary": {"facts": {"f.b1": {"type": "bool"}},
                       "outputs": {"a": {"type": "number"}, "b": {"type": "number"}}},
        "rules": [
            {"id": "basis", "title": "basis", "source": SOURCE,
             "versions": [{"from": date(2000, 1, 1), "set": {"a": 1, "b": 1}}]},
            {"id": "uitzondering", "title": "uitzondering", "source": SOURCE, "exception_to": ["basis"],
             "versions": [{"from": date(2000, 1, 1), "until": date(2010, 1, 1), "when": "f.b1",
                           "set": {"a": 2, "b": 2}},
                          {"from": date(2010, 1, 1), "when": "f.b1", "set": {"b": 2}}]},
        ]}, Dumper=_Plain, sort_keys=False))
    ruleset = RuleSet.load(tmp_path)
    for outputs in (None, ["a"], ["b"]):
        result = ruleset.evaluate({"f.b1": True}, date(2024, 3, 1), outputs=outputs)
        assert {"a": 1, "b": 2}.items() >= result.outputs.items() and result.outputs
    assert ruleset.evaluate({"f.b1": True}, date(2005, 3, 1)).outputs == {"a": 2, "b": 2}
