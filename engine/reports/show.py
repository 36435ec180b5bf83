"""``decree show``: a provision's consolidated history, as policy staff read it.

For a rule (or parameter) it lists every version of the consolidated time line, in
order: the window, the act that made the version (the base text or an amendment, with
its legal source), a postponement if a ``move`` changed the start, the condition and the
outputs. With a date, only the version in force on that reference date is shown.
Proposals switched on appear in the time line marked as proposals; a proposal that is
not switched on but would change the provision (end it, replace or add a version, move
its start) is listed after the time line, marked as proposed.

For a value set: its members, when each joined or left and the act behind it, and the
set on a date. For an output: its type, the rules that set it in the order they are
tried (exceptions before the rule they override, lower ``order`` first, rules of equal
order together), and the rules that read it.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from engine.errors import InputError, suggest
from engine.evaluation.plan import Group, Plan, RulePlan
from engine.rules.model import EFFECTIVE, ParameterVersion, RuleVersion, ValueSet
from engine.values import render, to_json


def render_timeline(ruleset: Any, rule_id: str, proposals: Mapping[str, date | None], on: date | None) -> str:
    """What ``decree show NAME`` prints: a rule, parameter, value set or output."""
    loaded = ruleset.loaded
    if rule_id in loaded.sets:
        return render_value_set(loaded.sets[rule_id], on)
    declaration = loaded.vocabulary.get(rule_id)
    if declaration is not None and declaration.kind == "output":
        return render_output(ruleset, rule_id, proposals, on)
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
        lines.extend(_version_lines(number, version, loaded))
    lines.extend(_proposed_lines(rule_id, loaded, ruleset.consolidation(proposals).proposals))
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
    known = list(consolidation.rules) + list(loaded.parameters) + list(loaded.sets) + [
        d.name for d in loaded.vocabulary.of_kind("output")]
    hint = suggest(rule_id, known)
    if rule_id in loaded.rules:
        hint = "; it is added by a proposal: switch it on with --proposal"
    raise InputError(f"unknown rule, parameter, value set or output '{rule_id}'{hint}")


def _proposed_lines(target: str, loaded: Any, chosen: Mapping[str, date]) -> list[str]:
    """What proposals not switched on would do to ``target`` (rule or parameter)."""
    lines: list[str] = []
    for amendment in sorted(loaded.amendments.values(), key=lambda a: (a.effective, a.id)):
        if not amendment.proposed or amendment.id in chosen:
            continue
        for change in amendment.changes:
            if change.kind == "add_rules" or change.target != target:
                continue
            start = _date_of(change.start, amendment.effective)
            if change.kind == "end":
                what = f"would end it on {start}"
            elif change.kind == "move":
                what = f"would move the start of its version from {start} to {_date_of(change.to, amendment.effective)}"
            elif change.kind == "replace":
                what = f"would replace it from {start} with a new version"
            else:
                what = "would add a version" + (f" from {_date_of(change.version.start, amendment.effective)}"
                                                  if change.version is not None else "")
            lines.append(f"    PROPOSED, not in force: {what} (proposal {amendment.id}: {amendment.source.cite()}; "
                         f"show it with --proposal {amendment.id})")
    return (["  proposals that would change it:"] + lines) if lines else []


def _date_of(ref: Any, effective: date) -> str:
    """A change's date; ``effective`` is the proposal's assumed date."""
    if ref == EFFECTIVE:
        return f"{effective.isoformat()} (its assumed date)"
    return ref.isoformat() if isinstance(ref, date) else str(ref)


def render_value_set(value_set: ValueSet, on: date | None) -> str:
    """A value set: its members, who joined or left when and by which act, or the set on a date."""
    lines = [f"{value_set.id}: {value_set.title}", f"  source: {value_set.source.cite()}"]
    if value_set.description:
        lines.append(f"  description: {' '.join(value_set.description.split())}")
    if on is not None:
        members = sorted(value_set.at(on))
        lines.append(f"  members on {on.isoformat()} ({len(members)}): {', '.join(members)}")
        return "\n".join(lines) + "\n"
    always = sorted(m.value for m in value_set.members if m.start is None and m.until is None)
    lines.append(f"  members at all times ({len(always)}): {', '.join(always)}")
    changes = sorted(((m.start, "joins", m) for m in value_set.members if m.start is not None),
                     key=lambda c: (c[0], c[2].value))
    changes += sorted(((m.until, "leaves", m) for m in value_set.members if m.until is not None),
                      key=lambda c: (c[0], c[2].value))
    if changes:
        lines.append("  history:")
        for day, what, member in sorted(changes, key=lambda c: (c[0], c[1], c[2].value)):
            act = f" ({member.source.cite()})" if member.source else ""
            lines.append(f"    {day.isoformat()}: {member.value} {what}{act}")
        points = sorted({day for day, _, _ in changes})
        lines.append("  the set over time:")
        starts: list[date | None] = [None, *points]
        untils: list[date | None] = [*points, None]
        for start, until in zip(starts, untils):
            members = sorted(value_set.at(start or date.min))
            window = f"[{start.isoformat() if start else '...'}, {until.isoformat() if until else '...'})"
            lines.append(f"    {window}: {len(members)} members")
    return "\n".join(lines) + "\n"


def render_output(ruleset: Any, output: str, proposals: Mapping[str, date | None], on: date | None) -> str:
    """An output: what it is, the rules that set it in the order they are tried, who reads it."""
    declaration = ruleset.vocabulary.names[output]
    plan: Plan = ruleset.plan(proposals)
    kind = f"{declaration.type}" + (f" ({', '.join(declaration.values)})" if declaration.values else "")
    lines = [f"{output}: {'internal ' if declaration.internal else ''}output, {kind}"]
    if declaration.description:
        lines.append(f"  description: {' '.join(declaration.description.split())}")
    tree = plan.outputs.get(output)
    if tree is None:
        lines.append("  no rule sets it: it is not applicable")
    else:
        lines.append("  set by, in the order tried (exceptions before the rule they override, lower order first;")
        lines.append("  rules of equal order together, and they must agree; the first that applies decides):")
        _tree_lines(tree.groups, on, "    ", lines)
    readers = sorted(probe.id for probe in plan.rules.values() if _reads(probe, output))
    if readers:
        lines.append(f"  read by: {', '.join(readers)}")
    return "\n".join(lines) + "\n"


def _reads(probe: RulePlan, output: str) -> bool:
    """Whether a rule reads ``output``: in its reference date or any version's expressions."""
    if probe.reference_date is not None and output in probe.reference_date.free_names:
        return True
    return any(output in expression.free_names for version in probe.versions
               for expression in version.version.expressions())


def _tree_lines(groups: tuple[Group, ...], on: date | None, indent: str, lines: list[str]) -> None:
    """The groups of an exception tree, numbered in the order tried; each rule's
    exceptions below it, since they are tried before it."""
    for number, group in enumerate(groups, start=1):
        together = " (together)" if len(group) > 1 else ""
        for branch in group:
            probe = branch.rule
            rule = probe.rule
            windows = ", ".join(str(v.version.window) for v in probe.versions
                                if v.version.window is not None and not v.version.window.empty)
            order = f"order {rule.order}, " if rule.order else ""
            lines.append(f"{indent}{number}.{together} {probe.id}: {rule.title} ({order}versions {windows or 'none'})")
            if on is not None:
                version = probe.version_at(on)
                lines.append(f"{indent}   on {on.isoformat()}: " + (
                    "no version in force" if version is None
                    else "applies" if version.condition is None
                    else f"when {' '.join(version.condition.text.split())}"))
            if branch.exceptions:
                lines.append(f"{indent}   exceptions to it, tried first:")
                _tree_lines(branch.exceptions, on, indent + "     ", lines)


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
        mark = " (PROPOSAL, not in force)" if ender is not None and ender.proposed else ""
        lines.append(f"       {what} by amendment {version.ended_by}{mark}" + (f": {ender.source.cite()}" if ender else ""))
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
