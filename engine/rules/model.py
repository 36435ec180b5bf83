"""The rule set as loaded: provisions, their versions, value sets, parameters, amendments.

Everything here is frozen. Windows are half-open, ``[start, until)``; ``until`` is None
for an open-ended version. In amendment files a window may refer to the amendment's
effective date (``EFFECTIVE``), which is only resolved when the amendments are applied
(:mod:`engine.rules.timeline`), because a proposal's date can be overridden per evaluation.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping, Union

from engine.errors import Span
from engine.language.expression import Expression
from engine.language.types import Type

EFFECTIVE = "effective"
DateRef = Union[date, str]  # a date, or EFFECTIVE inside an amendment


@dataclass(frozen=True, slots=True)
class LegalSource:
    instrument: str
    article: str = ""
    url: str = ""
    document: str = ""
    confidence: str = ""
    note: str = ""

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> "LegalSource | None":
        if not data:
            return None
        return cls(**{key: str(value) for key, value in data.items()})

    def cite(self) -> str:
        """The source in one line: instrument, article, document and confidence."""
        text = self.instrument + (f", {self.article}" if self.article else "")
        extra = [part for part in (self.document, f"confidence {self.confidence}" if self.confidence else "")
                 if part]
        return text + (f" ({'; '.join(extra)})" if extra else "")

    def to_json(self) -> dict[str, str]:
        return {key: value for key, value in (
            ("instrument", self.instrument), ("article", self.article), ("url", self.url),
            ("document", self.document), ("confidence", self.confidence), ("note", self.note)) if value}


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    until: date | None = None

    def __contains__(self, day: date) -> bool:
        return self.start <= day and (self.until is None or day < self.until)

    @property
    def empty(self) -> bool:
        return self.until is not None and self.until <= self.start

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.until.isoformat() if self.until else '...'})"

    def to_json(self) -> dict[str, str | None]:
        return {"from": self.start.isoformat(), "until": self.until.isoformat() if self.until else None}


@dataclass(frozen=True)
class RuleVersion:
    """One version of a provision: its window, condition and outputs."""

    rule_id: str
    start: DateRef
    until: DateRef | None
    when: Expression | None
    values: Mapping[str, Any]  # outputs given literally (``set:``)
    computed: Mapping[str, Expression]  # outputs given by expressions (``compute:``)
    source: LegalSource | None
    span: Span
    description: str = ""
    amendment: str = ""  # the amendment that added this version, if any
    window: Window | None = None  # resolved when the amendments are applied
    moved_from: date | None = None  # the start before a 'move' change postponed it
    moved_by: str = ""  # the amendment that moved it
    ended_by: str = ""  # the amendment that ended it (its window may then be empty)

    @property
    def outputs(self) -> frozenset[str]:
        return frozenset(self.values) | frozenset(self.computed)

    def expressions(self) -> list[Expression]:
        return ([self.when] if self.when else []) + list(self.computed.values())


@dataclass(frozen=True)
class Rule:
    """A provision: one or more versions over time, and its place among exceptions."""

    id: str
    title: str
    source: LegalSource
    versions: tuple[RuleVersion, ...]
    span: Span
    description: str = ""
    reference_date: Expression | None = None  # None: the evaluation date
    exception_to: tuple[str, ...] = ()
    order: int = 0
    amendment: str = ""  # the amendment that added this rule, if any
    exception_spans: tuple[Span, ...] = ()  # where each name of exception_to is written

    @property
    def outputs(self) -> frozenset[str]:
        return frozenset().union(*(v.outputs for v in self.versions))

    @property
    def reference_text(self) -> str:
        return self.reference_date.text if self.reference_date else "evaluation_date"

    def expressions(self) -> list[Expression]:
        found = [self.reference_date] if self.reference_date else []
        for version in self.versions:
            found.extend(version.expressions())
        return found


@dataclass(frozen=True, slots=True)
class Member:
    value: str
    start: date | None = None
    until: date | None = None
    source: LegalSource | None = None


@dataclass(frozen=True)
class ValueSet:
    """A named set whose members may join and leave over time."""

    id: str
    title: str
    source: LegalSource
    members: tuple[Member, ...]
    span: Span
    description: str = ""
    _breaks: list[date] = field(default_factory=list, compare=False, repr=False)
    _segments: list[frozenset[str]] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        points = sorted({d for m in self.members for d in (m.start, m.until) if d is not None})
        self._breaks.extend(points)
        for probe in [date.min] + points:
            self._segments.append(frozenset(m.value for m in self.members if _holds(m, probe)))

    def at(self, day: date) -> frozenset[str]:
        """The members on ``day``."""
        return self._segments[bisect.bisect_right(self._breaks, day)]


def _holds(member: Member, day: date) -> bool:
    return (member.start is None or member.start <= day) and (member.until is None or day < member.until)


@dataclass(frozen=True)
class ParameterVersion:
    start: DateRef
    until: DateRef | None
    value: Any
    source: LegalSource | None
    span: Span
    description: str = ""
    amendment: str = ""
    window: Window | None = None
    moved_from: date | None = None
    moved_by: str = ""
    ended_by: str = ""


@dataclass(frozen=True)
class Parameter:
    id: str
    title: str
    type: Type
    source: LegalSource
    versions: tuple[ParameterVersion, ...]
    span: Span
    description: str = ""


@dataclass(frozen=True)
class Change:
    """One change an amendment makes (docs/rules.md, "Amendments")."""

    kind: str  # add_rules, add_version, replace, end, move
    span: Span
    target: str = ""  # the rule or parameter changed
    start: DateRef | None = None  # replace: from; end: on; move: from
    to: DateRef | None = None  # move: the new start
    version: RuleVersion | ParameterVersion | None = None
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Amendment:
    id: str
    title: str
    source: LegalSource
    status: str  # in_force or proposed
    effective: date
    changes: tuple[Change, ...]
    span: Span
    assumption: str = ""
    description: str = ""

    @property
    def proposed(self) -> bool:
        return self.status == "proposed"
