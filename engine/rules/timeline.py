"""Time: apply amendments, pick the version in force, and lint windows.

A :class:`Consolidation` is the rule set as it stands for one choice of proposals: the
in-force amendments and the proposals switched on are applied in the order of their
effective dates (a proposal on its assumed date, or the date the user gives), each
``effective`` resolved to that date. Each rule and parameter then has a
:class:`Timeline`: its versions sorted by start, searched with ``bisect``.

Windows are half-open, ``[from, until)``. Overlapping windows of one rule are errors; a
gap between two windows is a warning (the rule then does not apply in the gap).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Generic, Iterator, Mapping, TypeVar

from engine.errors import PolicyError, RuleFileError, Span
from engine.rules.loader import LoadedRules
from engine.rules.model import EFFECTIVE, Amendment, DateRef, ParameterVersion, Rule, RuleVersion, Window

V = TypeVar("V", RuleVersion, ParameterVersion)
_Version = TypeVar("_Version", bound="RuleVersion | ParameterVersion")


def _window(version: RuleVersion | ParameterVersion) -> Window:
    """A version's resolved window: :func:`consolidate` resolves it before any lookup."""
    assert version.window is not None
    return version.window


class Timeline(Generic[V]):
    """The versions of one rule or parameter, sorted by the start of their windows."""

    __slots__ = ("versions", "_starts")

    def __init__(self, versions: list[V]) -> None:
        self.versions: list[V] = sorted(versions, key=lambda v: _window(v).start)
        self._starts: list[date] = [_window(v).start for v in self.versions]

    def at(self, day: date) -> V | None:
        """The version in force on ``day``, or None."""
        index = bisect.bisect_right(self._starts, day) - 1
        if index < 0:
            return None
        version = self.versions[index]
        window = version.window
        assert window is not None  # resolved by consolidate
        until = window.until
        return version if until is None or day < until else None

    def index_of(self, version: V) -> int:
        return self.versions.index(version)


@dataclass(frozen=True)
class Consolidation:
    """The rule set for one choice of proposals: timelines and the rules in force."""

    proposals: Mapping[str, date]
    rules: Mapping[str, Rule]
    timelines: Mapping[str, Timeline[RuleVersion]]
    parameters: Mapping[str, Timeline[ParameterVersion]]
    applied: tuple[tuple[Amendment, date], ...]


def resolve(ref: DateRef | None, effective: date | None) -> date | None:
    if ref == EFFECTIVE:
        return effective
    return ref  # type: ignore[return-value]


def _windowed(version: _Version, effective: date | None) -> _Version:
    start = resolve(version.start, effective)
    assert start is not None
    return replace(version, window=Window(start, resolve(version.until, effective)))


def consolidate(loaded: LoadedRules, proposals: Mapping[str, date | None]) -> Consolidation:
    """Apply the in-force amendments and the chosen proposals, in order of their dates."""
    chosen: list[tuple[Amendment, date]] = []
    for amendment in loaded.amendments.values():
        if not amendment.proposed:
            chosen.append((amendment, amendment.effective))
        elif amendment.id in proposals:
            chosen.append((amendment, proposals[amendment.id] or amendment.effective))
    chosen.sort(key=lambda pair: (pair[1], pair[0].id))

    added_by_amendment = {r.id for a in loaded.amendments.values() for c in a.changes for r in c.rules}
    rules = {rid: rule for rid, rule in loaded.rules.items() if rid not in added_by_amendment}
    versions: dict[str, list[Any]] = {rid: [_windowed(v, None) for v in rule.versions] for rid, rule in rules.items()}
    for pid, parameter in loaded.parameters.items():
        versions[pid] = [_windowed(v, None) for v in parameter.versions]

    # Rules an amendment adds exist from the start, whatever the order of the acts: a
    # later act may end or change a provision before it takes effect (a court annulling
    # a fee rule adopted earlier but effective later).
    for amendment, effective in chosen:
        for change in amendment.changes:
            for rule in change.rules:
                rules[rule.id] = rule
                versions[rule.id] = [_windowed(v, effective) for v in rule.versions]
    for amendment, effective in chosen:
        for change in amendment.changes:
            timeline = versions.get(change.target) if change.kind != "add_rules" else None
            if timeline is None:
                continue  # add_rules, done above; an unknown target is reported by the loader
            start = resolve(change.start, effective)
            if change.kind == "add_version" and change.version is not None:
                timeline.append(_windowed(change.version, effective))
            elif change.kind == "replace" and change.version is not None and start is not None:
                _replace(timeline, start, _windowed(change.version, effective), change.version.until is None)
            elif change.kind == "end" and start is not None:
                _end(timeline, start, amendment.id)
            elif change.kind == "move" and start is not None:
                _move(timeline, start, resolve(change.to, effective), amendment.id)  # type: ignore[arg-type]

    timelines = {rid: Timeline(versions[rid]) for rid in rules}
    return Consolidation(
        proposals={a.id: d for a, d in chosen if a.proposed},
        rules=rules,
        timelines=timelines,
        parameters={pid: Timeline(versions[pid]) for pid in loaded.parameters},
        applied=tuple(chosen),
    )


def _in_force(timeline: list[Any], day: date) -> int | None:
    for i, version in enumerate(timeline):
        if day in version.window:
            return i
    return None


def _replace(timeline: list[Any], start: date, new: Any, open_ended: bool) -> None:
    """End the version in force on ``start`` there, and add ``new`` from ``start``."""
    index = _in_force(timeline, start)
    if index is not None:
        old = timeline[index]
        if open_ended:
            new = replace(new, window=Window(start, old.window.until))
        if old.window.start == start:
            timeline.pop(index)
        else:
            timeline[index] = replace(old, window=Window(old.window.start, start))
    timeline.append(new)


def _end(timeline: list[Any], day: date, amendment: str) -> None:
    """The rule stops applying on ``day``.

    A version that would only start on or after ``day`` never takes effect: it is kept
    with an empty window, marked with the act that ended it, so the history shows it.
    """
    for i, version in enumerate(timeline):
        start = version.window.start
        if start >= day:
            timeline[i] = replace(version, window=Window(start, start), ended_by=amendment)
        elif version.window.until is None or version.window.until > day:
            timeline[i] = replace(version, window=Window(start, day), ended_by=amendment)


def _move(timeline: list[Any], old_start: date, new_start: date, amendment: str) -> None:
    """The version that started on ``old_start`` starts on ``new_start`` instead."""
    for i, version in enumerate(timeline):
        if version.window.start == old_start:
            timeline[i] = replace(version, window=Window(new_start, version.window.until), moved_from=old_start,
                                  moved_by=amendment)
        elif version.window.until == old_start:
            timeline[i] = replace(version, window=Window(version.window.start, new_start))


def iter_window_problems(consolidation: Consolidation) -> Iterator[PolicyError]:
    """Empty and overlapping windows (errors), and gaps between windows (warnings)."""
    named: list[tuple[str, Timeline[Any]]] = list(consolidation.timelines.items())
    named += list(consolidation.parameters.items())
    for name, timeline in named:
        previous = None
        for version in timeline.versions:
            window: Window = version.window
            if window.empty and version.ended_by:
                continue  # ended before it took effect: history only
            if window.until is not None and window.until <= window.start:
                yield RuleFileError(f"'{name}': the window {window} is empty ('until' must come after 'from')",
                                    version.span)
            if previous is not None:
                before: Window = previous.window
                if before.until is None or before.until > window.start:
                    yield RuleFileError(f"'{name}': the window {window} overlaps {before} of the version at "
                                        f"{_place(previous.span)}", version.span)
                elif before.until < window.start:
                    yield RuleFileError(f"'{name}': no version applies from {before.until} until {window.start} "
                                        f"(a gap after the version at {_place(previous.span)})", version.span,
                                        severity="warning")
            previous = version


def _place(span: Span) -> str:
    return f"{span.file}:{span.line}"
