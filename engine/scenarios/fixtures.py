"""Scenario fixtures: read, validate against the rule set, run, and compare.

A fixture file holds ``scenarios:`` (``../shared/spec/contracts.md``). Reading one checks
it against ``schemas/fixture.schema.json`` and against the rule set's vocabulary: an
unknown output, fact or proposal, a malformed date or a value of the wrong type is an
*error* (the fixture is bad, exit code 2), never a failing scenario. Every error of every
file is reported, each with its position.

Comparison: dates as dates, sets as sets, numbers exactly (``Decimal``); ``null`` in
``expect`` means "not applicable"; an unknown output never equals an expected value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Iterator

from engine.sources import schema
from engine.errors import InputError, PolicyError, Span, Suggestions, flatten, shorten, suggest
from engine.sources.facts import Mismatch, coerce
from engine.evaluation.outcomes import Decision
from engine.ruleset import Result, RuleSet
from engine.language.types import DATE
from engine.values import render
from engine.sources.yamlsource import Document, read_document

FIXTURE_SCHEMA = "fixture.schema.json"


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    line: int
    on: date
    proposals: dict[str, date | None]
    facts: dict[str, Any]
    expect: dict[str, Any]
    expect_unknown: dict[str, frozenset[str]]
    expect_not_applicable: tuple[str, ...]
    span: Span

    @property
    def outputs(self) -> list[str]:
        named = list(self.expect) + list(self.expect_unknown) + list(self.expect_not_applicable)
        return list(dict.fromkeys(named))


@dataclass
class Mismatched:
    output: str
    expected: str
    actual: str
    explanation: str = ""


@dataclass
class Outcome:
    """The run of one scenario."""

    scenario: Scenario
    mismatches: list[Mismatched] = field(default_factory=list)
    error: PolicyError | None = None  # a conflict or other evaluation error
    result: Result | None = None

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.error is None

    def report(self) -> str:
        s = self.scenario
        lines = [f"{s.file}:{s.line}: FAILED: {s.name} (on {s.on.isoformat()}"
                 + (f", proposals {', '.join(sorted(s.proposals))}" if s.proposals else "") + ")"]
        if self.error is not None:
            lines.append("  " + self.error.render().replace("\n", "\n  "))
        for mismatch in self.mismatches:
            lines.append(f"  {mismatch.output}: expected {mismatch.expected}, got {mismatch.actual}")
            if mismatch.explanation:
                lines.extend("      " + line for line in mismatch.explanation.rstrip().splitlines())
        return "\n".join(lines)


def fixture_files(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json")))
        else:
            found.append(path)
    return found


def read_fixtures(path: str | Path, ruleset: RuleSet) -> tuple[list[Scenario], list[PolicyError]]:
    """The scenarios of one file, and every problem found in it."""
    try:
        document = read_document(path, InputError, keep_going=True, limits=ruleset.limits)
    except PolicyError as error:
        return [], flatten([error])
    problems = list(document.problems)
    # A scenario with a schema error is not read further; neither is a file whose top
    # level has one. A problem at a value already reported where it stands (a value that
    # reads as None, an impossible date) is not reported twice, but still counts: a
    # scenario with a duplicate key and a missing one is as broken as the schema says.
    broken: set[Any] = set()
    whole_file = False
    for problem, where in schema.iter_errors_with_paths(document, FIXTURE_SCHEMA, InputError):
        if len(where) < 2 or where[0] != "scenarios":
            whole_file = True
        else:
            broken.add(where[1])
        if where not in document.bad_paths or document.data_at(where) is not None:
            problems.append(problem)
    entries = document.data.get("scenarios") if isinstance(document.data, dict) else None
    if whole_file or not isinstance(entries, list):
        return [], problems
    scenarios = []
    names: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if index in broken or ("scenarios", index, "on") in document.bad_paths or not _complete(entry):
            continue
        if entry["name"] in names:
            problems.append(InputError(f"a second scenario named '{entry['name']}' (first at line "
                                       f"{names[entry['name']]}); names identify scenarios",
                                       document.span(("scenarios", index, "name"))))
        names.setdefault(entry["name"], document.span(("scenarios", index, "name")).line)
        scenario, errors = _scenario(document, ("scenarios", index), ruleset)
        problems.extend(errors)
        if scenario is not None:
            scenarios.append(scenario)
    return scenarios, problems


_REQUIRED = ("name", "on", "facts")


def _complete(entry: Any) -> bool:
    """Whether a scenario has the keys the reader indexes (the schema says so first; this
    keeps the reader from ever indexing a key nobody checked)."""
    return isinstance(entry, dict) and all(key in entry for key in _REQUIRED) and isinstance(entry["name"], str)


def _scenario(document: Document, path: tuple[Any, ...], ruleset: RuleSet) -> tuple[Scenario | None, list[PolicyError]]:
    data = document.data_at(path)
    errors: list[PolicyError] = []
    outputs = {d.name: d for d in ruleset.vocabulary.of_kind("output")}
    facts_declared = [d.name for d in ruleset.vocabulary.of_kind("fact")]
    output_hints, fact_hints = Suggestions(outputs), Suggestions(facts_declared)  # a few, not one per name

    def fail(message: str, where: tuple[Any, ...], key: bool = False) -> None:
        errors.append(InputError(message, document.span(path + where, key=key)))

    proposals: dict[str, date | None] = {}
    raw = data.get("proposals") or {}
    for i, name in enumerate(raw) if isinstance(raw, list) else enumerate(raw):
        where = ("proposals", i) if isinstance(raw, list) else ("proposals", name)
        try:
            ruleset.check_proposals({name: None}, document.span(path + where, key=not isinstance(raw, list)))
        except PolicyError as error:
            errors.append(error)
            continue
        day = None if isinstance(raw, list) else raw[name]
        if path + where in document.bad_paths:
            continue
        proposals[name] = _as_date(day, fail, where) if day is not None else None

    facts: dict[str, Any] = {}
    try:
        facts = ruleset.facts_from(document, path + ("facts",))  # skips values already reported
    except PolicyError as error:
        errors.extend(flatten([error]))

    def known_output(name: str, where: tuple[Any, ...], key: bool) -> bool:
        if name in outputs:
            return True
        fail(f"unknown output {shorten(str(name))}{output_hints(str(name))}", where, key)
        return False

    expect: dict[str, Any] = {}
    for name, value in (data.get("expect") or {}).items():
        if not known_output(name, ("expect", name), True):
            continue
        try:
            expect[name] = coerce(value, outputs[name].type)
        except Mismatch as problem:
            fail(f"expected value of '{name}': {problem}", ("expect", name))
            continue
        allowed = outputs[name].values
        if allowed and isinstance(expect[name], str) and expect[name] not in allowed:
            fail(f"'{name}' never has the value {shorten(expect[name])}{suggest(expect[name], allowed)}", ("expect", name))
    expect_unknown: dict[str, frozenset[str]] = {}
    for name, missing in (data.get("expect_unknown") or {}).items():
        if not known_output(name, ("expect_unknown", name), True):
            continue
        for i, fact in enumerate(missing):
            if fact not in ruleset.vocabulary or ruleset.vocabulary.names[fact].kind != "fact":
                fail(f"unknown fact {shorten(str(fact))}{fact_hints(str(fact))}", ("expect_unknown", name, i))
        expect_unknown[name] = frozenset(missing)
    not_applicable = []
    for i, name in enumerate(data.get("expect_not_applicable") or []):
        if known_output(name, ("expect_not_applicable", i), False):
            not_applicable.append(name)
    on = _as_date(data["on"], fail, ("on",))
    if errors or on is None:
        return None, errors
    span = document.span(path + ("name",))
    return Scenario(data["name"], document.source.name, span.line, on, proposals, facts, expect,
                    expect_unknown, tuple(not_applicable), span), []


def _as_date(value: Any, fail: Any, where: tuple[Any, ...]) -> date | None:
    """A date given unquoted (a YAML date) or quoted (ISO text, as JSON writes it)."""
    try:
        result = coerce(value, DATE)
    except Mismatch as problem:
        fail(str(problem), where)
        return None
    return result  # type: ignore[no-any-return]


def run(scenario: Scenario, ruleset: RuleSet, explain: bool = True) -> Outcome:
    """Evaluate a scenario and compare every expectation."""
    outcome = Outcome(scenario)
    try:
        result = ruleset.evaluate(scenario.facts, scenario.on, scenario.proposals, scenario.outputs, validated=True)
    except PolicyError as error:
        outcome.error = error
        return outcome
    outcome.result = result
    for name, expected in scenario.expect.items():
        decision = result.decisions[name]
        if not _matches(decision, expected):
            outcome.mismatches.append(Mismatched(name, _expected_text(expected), _actual_text(decision)))
    for name, missing in scenario.expect_unknown.items():
        decision = result.decisions[name]
        if decision.status != "unknown" or frozenset(decision.missing) != missing:
            outcome.mismatches.append(Mismatched(
                name, f"unknown, needing {', '.join(sorted(missing)) or 'nothing'}", _actual_text(decision)))
    for name in scenario.expect_not_applicable:
        decision = result.decisions[name]
        if decision.status != "not_applicable":
            outcome.mismatches.append(Mismatched(name, "not applicable", _actual_text(decision)))
    if explain and outcome.mismatches:
        from engine.reports.explain import explain as explain_output, render_text

        for mismatch in outcome.mismatches:
            mismatch.explanation = render_text(explain_output(result, mismatch.output))
    return outcome


def _matches(decision: Decision, expected: Any) -> bool:
    if expected is None:
        return decision.status == "not_applicable"
    if decision.status != "decided":
        return False
    actual = decision.value
    if isinstance(expected, (frozenset, set)) or isinstance(actual, (frozenset, set)):
        return isinstance(actual, (frozenset, set, tuple)) and frozenset(actual) == frozenset(expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    return bool(actual == expected)


def _expected_text(expected: Any) -> str:
    return "not applicable" if expected is None else render(expected)


def _actual_text(decision: Decision) -> str:
    if decision.status == "unknown":
        return f"unknown, needing {', '.join(decision.missing) or 'nothing named'}"
    if decision.status == "not_applicable":
        return "not applicable"
    return render(decision.value)


def iter_all(paths: Iterable[str | Path], ruleset: RuleSet) -> Iterator[tuple[list[Scenario], list[PolicyError]]]:
    for path in fixture_files(paths):
        yield read_fixtures(path, ruleset)
