"""The world as of the evaluation date: events dated later have not happened yet.

A rule set says which facts are events in its vocabulary, so a rule author sees the
principle in the rule files, not in Python:

    traject.contract_datum: {type: date, event: true}          # the date an event happened
    inschrijving.gewest: {type: text, event_of: inschrijving.eerste_datum}   # describes it

On an evaluation date D, before any rule reads them, :func:`as_of` reads the facts as
they stood on D:

- an ``event: true`` fact whose date is known and lies after D reads as ``none``: the
  event has not happened (no contract yet, not registered yet);
- every fact with ``event_of`` naming an event that has not happened on D, or whose
  date is ``none`` (it never happened), reads as ``none`` too, whether it was given or
  not: there is nothing for it to describe;
- an event whose date is unknown leaves its facts as they are (unknown stays unknown).

An event fact may itself describe another event; a withdrawn event withdraws what
describes it, transitively, so the order of the declarations does not matter.

Limits: only dates the caller gave are compared with D; what an unknown date could be
is for the evaluation to work out. The facts are never changed in place: when nothing
is withdrawn the same mapping is returned, otherwise an :class:`AsOfFacts`, which keeps
why each fact was withdrawn so that an explanation can say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from engine.language.types import Vocabulary


@dataclass(frozen=True)
class Events:
    """The event facts of a vocabulary and the facts that describe each of them."""

    dates: tuple[str, ...]  # facts declared ``event: true``
    described_by: Mapping[str, tuple[str, ...]]  # event fact -> facts with ``event_of`` naming it

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> "Events":
        facts = vocabulary.of_kind("fact")
        described: dict[str, list[str]] = {}
        for declaration in facts:
            if declaration.event_of is not None:
                described.setdefault(declaration.event_of, []).append(declaration.name)
        return cls(tuple(d.name for d in facts if d.event),
                   {event: tuple(names) for event, names in described.items()})

    def __bool__(self) -> bool:
        return bool(self.dates)


class AsOfFacts(dict[str, Any]):
    """Facts as of an evaluation date, with the reason each withdrawn fact reads ``none``."""

    withdrawn: dict[str, str]


def as_of(facts: dict[str, Any], on: date, events: Events) -> dict[str, Any]:
    """``facts`` as they stood on ``on``: see the module docstring."""
    if not events:
        return facts
    reasons: dict[str, str] = {}
    pending: list[tuple[str, str]] = []  # (event fact, why it did not happen)
    for name in events.dates:
        day = facts.get(name)
        if isinstance(day, date) and day > on:
            reasons[name] = f"its date {day.isoformat()} lies after the evaluation date {on.isoformat()}"
            pending.append((name, f"{name} ({day.isoformat()}) lies after the evaluation date {on.isoformat()}"))
        elif name in facts and day is None:
            pending.append((name, f"{name} is none"))
    while pending:
        event, why = pending.pop()
        for name in events.described_by.get(event, ()):
            if name in reasons or (name in facts and facts[name] is None):
                continue  # withdrawn already, or none as given
            reasons[name] = f"it describes an event that has not happened: {why}"
            if name in events.dates:
                pending.append((name, f"{name} is none"))
    if not reasons:
        return facts
    read = AsOfFacts(facts)
    for name in reasons:
        read[name] = None
    read.withdrawn = reasons
    return read


def withdrawn(facts: Mapping[str, Any]) -> Mapping[str, str]:
    """Why each fact of ``facts`` reads ``none`` as of the evaluation date (if any)."""
    return facts.withdrawn if isinstance(facts, AsOfFacts) else {}
