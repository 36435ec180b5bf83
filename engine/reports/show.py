"""``decree show``: a provision's consolidated history, as policy staff read it.

For a rule (or parameter) it lists every version of the consolidated time line, in
order: the window, the act that made the version (the base text or an amendment, with
its legal source), a postponement if a ``move`` changed the start, the condition and the
outputs. With a date, only the version in force on that reference date is shown.
Proposals switched on appear in the time line marked as proposals.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from engine.errors import InputError, suggest
from engine.rules.model import ParameterVersion, RuleVersion
from engine.values import render, to_json


def render_timeline(ruleset: Any, rule_id: str, proposals: Mapping[str, date | None], on: date | None) -> str:
    subject, timeline, _ = _subject(ruleset, rule_id, proposals)
    versions = timeline.versions
    lines = list(subject)
    if on is not None:
        found = timeline.at(on)
        versions = [found] if found is not None else []
        if not versions:
            lines.append(f"  no version in force on {on.isoformat()}")
    lines.append("  versions:" if on is None else f"  in force on {on.isoformat()}:")
    for version in versions:
        number = timeline.index_of(version) + 1
        lines.extend(_version_lines(number, version, ruleset.loaded))
    return "\n".join(lines) + "\n"


def timeline_json(ruleset: Any, rule_id: str, proposals: Mapping[str, date | None], on: date | None) -> dict[str, Any]:
    """The time line as data: what :func:`render_timeline` writes, for a program."""
    _, timeline, about = _subject(ruleset, rule_id, proposals)
    loaded = ruleset.loaded
    chosen = timeline.versions if on is None else [v for v in [timeline.at(on)] if v is not None]
    versions = []
    for version in chosen:
        window = version.window
        assert window is not None
        entry: dict[str, Any] = {"version": timeline.index_of(version) + 1, **window.to_json()}
        if version.amendment:
            amendment = loaded.amendments[version.amendment]
            entry["amendment"] = {"id": amendment.id, "source": amendment.source.cite(),
                                  "proposed": amendment.proposed}
        if version.source is not None:
            entry["source"] = version.source.cite()
        if version.moved_from is not None:
            entry["moved"] = {"from": version.moved_from.isoformat(), "by": version.moved_by}
        if version.ended_by:
            entry["ended_by"] = version.ended_by
        if isinstance(version, ParameterVersion):
            entry["value"] = to_json(version.value)
        else:
            if version.when is not None:
                entry["when"] = " ".join(version.when.text.split())
            entry["sets"] = {name: to_json(value) for name, value in version.values.items()}
            entry["computes"] = {name: " ".join(e.text.split()) for name, e in version.computed.items()}
        versions.append(entry)
    return {**about, "versions": versions}


def _subject(ruleset: Any, rule_id: str, proposals: Mapping[str, date | None]) -> tuple[list[str], Any, dict[str, Any]]:
    """The heading lines of a rule or parameter, its time line, and the same as data."""
    consolidation = ruleset.consolidation(proposals)
    loaded = ruleset.loaded
    if rule_id in consolidation.rules:
        rule = consolidation.rules[rule_id]
        lines = [f"{rule.id}: {rule.title}", f"  source: {rule.source.cite()}"]
        if rule.source.url:
            lines.append(f"  url: {rule.source.url}")
        if rule.description:
            lines.append(f"  description: {' '.join(rule.description.split())}")
        lines.append(f"  reference date: {rule.reference_text}")
        if rule.exception_to:
            lines.append(f"  exception to: {', '.join(rule.exception_to)}" + (f" (order {rule.order})" if rule.order else ""))
        if rule.amendment:
            lines.append(f"  added by amendment: {rule.amendment}")
        about = {"kind": "rule", "title": rule.title, "source": rule.source.cite(), "reference_date": rule.reference_text,
                 "exception_to": list(rule.exception_to)}
        return lines, consolidation.timelines[rule_id], about
    if rule_id in loaded.parameters:
        parameter = loaded.parameters[rule_id]
        lines = [f"{parameter.id}: {parameter.title}", f"  source: {parameter.source.cite()}",
                 f"  type: {parameter.type}"]
        about = {"kind": "parameter", "title": parameter.title, "source": parameter.source.cite(),
                 "type": str(parameter.type)}
        return lines, consolidation.parameters[rule_id], about
    known = list(consolidation.rules) + list(loaded.parameters)
    hint = suggest(rule_id, known)
    if rule_id in loaded.rules:
        hint = "; it is added by a proposal: switch it on with --proposal"
    raise InputError(f"unknown rule '{rule_id}'{hint}")


def _version_lines(number: int, version: RuleVersion | ParameterVersion, loaded: Any) -> list[str]:
    window = version.window
    assert window is not None
    lines = [f"    {number}. {window}"]
    act = None
    if version.amendment:
        amendment = loaded.amendments[version.amendment]
        act = amendment.source
        status = " (PROPOSAL, not in force)" if amendment.proposed else ""
        lines.append(f"       by amendment {amendment.id}{status}: {amendment.source.cite()}")
    else:
        lines.append("       in the base text")
    if version.source is not None and version.source != act:
        lines.append(f"       source: {version.source.cite()}")
    if version.moved_from is not None:
        mover = loaded.amendments.get(version.moved_by)
        lines.append(f"       start moved from {version.moved_from.isoformat()} to {window.start.isoformat()}"
                     + (f" by amendment {mover.id}: {mover.source.cite()}" if mover else ""))
    if version.ended_by:
        ender = loaded.amendments.get(version.ended_by)
        what = "never took effect: ended before its start" if window.empty else f"ended on {window.until}"
        lines.append(f"       {what} by amendment {version.ended_by}" + (f": {ender.source.cite()}" if ender else ""))
    if isinstance(version, ParameterVersion):
        lines.append(f"       value: {render(version.value)}")
        return lines
    if version.when is not None:
        lines.append(f"       when: {' '.join(version.when.text.split())}")
    for name, value in version.values.items():
        lines.append(f"       {name} = {render(value)}")
    for name, expression in version.computed.items():
        lines.append(f"       {name} = {' '.join(expression.text.split())}")
    return lines
