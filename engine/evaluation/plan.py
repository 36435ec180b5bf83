"""The plan: the contract between a consolidated rule set and every backend that evaluates it.

A :class:`Plan` is built once per consolidation (one choice of proposals) and says, for
each output, how it is decided, as plain frozen data (docs/plan.md draws it):

- :class:`OutputPlan`: the output's *exception tree*: groups of :class:`Branch` of equal
  ``order``, lowest first; each branch is a rule with its own groups of exceptions;
- :class:`RulePlan`: one rule's *probe*: the expression of its reference date (None: the
  evaluation date) and its versions;
- :class:`VersionPlan`: a version's window ``[start, until)``, its condition (None:
  always) and what it sets: literal values (``sets``) and expressions (``computes``).

Deciding an output by the plan (default logic, docs/rules.md): walk its groups in
order; in a branch, first the rule's exceptions (which override it), then the rule
itself: find its reference date, the version in force on it, and whether its condition
holds; an applying version that sets the output gives the value. The first group that
gives a value decides; two rules of one group that give different values conflict; no
value at all is "not applicable". A missing fact makes a step unknown; what follows from
that is the general path's to say (:mod:`engine.evaluation.general`, the oracle).

Backends execute this and nothing else: the general path walks it with sets of
possible outcomes, :mod:`engine.evaluation.codegen` writes each output's walk as Python,
a columnar backend walks it over many persons at once. The plan reads value sets and
parameters through :meth:`Plan.constant`; it holds no function, so it pickles.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterator, Mapping

from engine.errors import Span
from engine.language.expression import Expression
from engine.rules.model import LegalSource, ParameterVersion, Rule, RuleVersion, ValueSet, Window
from engine.rules.timeline import Consolidation, Timeline


@dataclass(frozen=True, slots=True)
class VersionPlan:
    """One version of a rule, as a backend needs it."""

    version: RuleVersion  # the loaded version (its source, span and amendment explain it)
    start: date
    until: date | None  # None: open-ended
    condition: Expression | None  # None: applies whenever it is in force
    sets: Mapping[str, Any]  # outputs given literally
    computes: Mapping[str, Expression]  # outputs given by expressions

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.until is None or day < self.until)

    def gives(self, output: str) -> bool:
        """Whether this version sets ``output`` (literally or by an expression)."""
        return output in self.sets or output in self.computes


@dataclass(frozen=True, slots=True)
class RulePlan:
    """A rule's probe: how to find its reference date, its version, and its condition."""

    id: str
    rule: Rule  # the loaded rule (title, source, span)
    reference_date: Expression | None  # None: the evaluation date
    versions: tuple[VersionPlan, ...]  # sorted by start; windows do not overlap
    _starts: tuple[date, ...] = field(default=(), repr=False, compare=False)

    def version_at(self, day: date) -> VersionPlan | None:
        """The version in force on ``day``: the last one started, if it has not ended."""
        index = bisect.bisect_right(self._starts, day) - 1
        if index < 0:
            return None
        version = self.versions[index]
        return version if version.until is None or day < version.until else None


Group = tuple["Branch", ...]  # rules of equal order: they must agree


@dataclass(frozen=True, slots=True)
class Branch:
    """A rule in an output's exception tree, with the groups of its exceptions (lowest
    order first) that override it."""

    rule: RulePlan
    exceptions: tuple[Group, ...] = ()


# A tree as a sequence: each rule after its exceptions; a group of rules of equal order as
# one step, a tuple holding the steps of each of them (with its own exceptions).
Steps = tuple["RulePlan | tuple[Steps, ...]", ...]


def steps_of(groups: tuple[Group, ...]) -> Steps:
    """``groups`` in the order a walk visits them. Walking an exception tree is walking
    this sequence until the first rule that gives a value: an exception overrides its
    rule and a lower group a higher one, so what comes first wins."""
    found: list[RulePlan | tuple[Steps, ...]] = []
    for group in groups:
        if len(group) == 1:
            found.extend(steps_of(group[0].exceptions))
            found.append(group[0].rule)
        else:
            found.append(tuple(steps_of(((branch,),)) for branch in group))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """How one output is decided: its exception tree, top groups lowest order first."""

    name: str
    groups: tuple[Group, ...]
    as_set: bool = False  # declared as a set: a computed list becomes a set
    # outputs of the same tree that every version of every rule of it sets: the rule that
    # decides this one decides those (a backend may record them together)
    companions: tuple[str, ...] = ()
    # the tree in the order a walk visits it, derived from ``groups`` (see ``steps_of``)
    steps: Steps = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", steps_of(self.groups))

    def branches(self) -> Iterator[Branch]:
        """Every branch of the tree, each rule's exceptions before the rule."""
        def walk(groups: tuple[Group, ...]) -> Iterator[Branch]:
            for group in groups:
                for branch in group:
                    yield from walk(branch.exceptions)
                    yield branch

        return walk(self.groups)

    def ends_with(self, branch: Branch) -> bool:
        """Whether ``branch`` is the tree's last step, outside any group of siblings: when
        a walk gets there, every rule before it surely gave nothing or may give a value."""
        groups = self.groups
        return bool(groups) and len(groups[-1]) == 1 and groups[-1][0] is branch

    def rules(self) -> list[RulePlan]:
        """Every rule of the tree, once each."""
        found: dict[str, RulePlan] = {}
        for branch in self.branches():
            found.setdefault(branch.rule.id, branch.rule)
        return list(found.values())


@dataclass(frozen=True, slots=True)
class ParameterLookup:
    """A parameter's value on a day: None when no version is in force then."""

    timeline: Timeline[ParameterVersion]

    def at(self, day: date) -> Any:
        version = self.timeline.at(day)
        return version.value if version is not None else None


@dataclass(frozen=True)
class Plan:
    """A consolidated rule set, compiled for evaluation: the contract of every backend.

    ``outputs`` holds the plan of every output some rule sets; an output absent from it
    is not applicable. ``order`` lists the outputs so that each comes after the outputs
    its rules read (the dependency graph's order). ``constants`` maps each value set and
    parameter to an object whose ``at(day)`` gives its value on a day.
    """

    proposals: Mapping[str, date]  # the proposals applied, with their effective dates
    rules: Mapping[str, RulePlan]
    outputs: Mapping[str, OutputPlan]
    order: tuple[str, ...]
    constants: Mapping[str, Any]
    consolidation: Consolidation = field(repr=False, compare=False)

    def constant(self, name: str, day: date) -> Any:
        """A value set's members, or a parameter's value, on ``day`` (None when there is
        no such constant or no version in force)."""
        found = self.constants.get(name)
        return found.at(day) if found is not None else None


def build_plan(consolidation: Consolidation, set_valued: frozenset[str] = frozenset(),
               sets: Mapping[str, ValueSet] | None = None, order: tuple[str, ...] = ()) -> Plan:
    """The plan of a consolidation: ``set_valued`` names the outputs declared as sets,
    ``sets`` the value sets, ``order`` the outputs in the graph's order."""
    rules = {rule_id: rule_plan(rule, consolidation.timelines[rule_id])
             for rule_id, rule in consolidation.rules.items()}
    setters: dict[str, list[Rule]] = {}
    alone: set[str] = set()  # outputs some rule sets alone: they have no companions
    for rule in consolidation.rules.values():
        given = rule.outputs
        for output in sorted(given):
            setters.setdefault(output, []).append(rule)
        if len(given) == 1:
            alone |= given
    outputs: dict[str, OutputPlan] = {}
    for output, candidates in setters.items():
        ids = {rule.id for rule in candidates}
        children: dict[str, list[Rule]] = {}
        roots = []
        for rule in candidates:
            parents = [p for p in rule.exception_to if p in ids]
            for parent in parents:
                children.setdefault(parent, []).append(rule)
            if not parents:
                roots.append(rule)

        def groups(members: list[Rule], depth: int = 0) -> tuple[Group, ...]:
            return tuple(tuple(Branch(rules[r.id], groups(children.get(r.id, []), depth + 1)) for r in group)
                         for group in _by_order(members))

        outputs[output] = OutputPlan(output, groups(roots), output in set_valued)
    outputs = _with_companions(outputs, alone)
    constants: dict[str, Any] = dict(sets or {})
    for name, timeline in consolidation.parameters.items():
        constants[name] = ParameterLookup(timeline)
    known = [name for name in order if name in outputs] + sorted(set(outputs) - set(order))
    return Plan(dict(consolidation.proposals), rules, outputs, tuple(known), constants, consolidation)


def one_rule_plan(expression: Expression, reference_date: Expression | None = None,
                  constants: Mapping[str, Any] | None = None, output: str = "result") -> Plan:
    """The plan of one rule, in force at all times, that computes ``output`` by
    ``expression`` on the reference date given by ``reference_date`` (None: the
    evaluation date): how one expression runs in production, for the conformance suite
    and for printing the code of an expression. ``constants`` as in :class:`Plan`."""
    span = Span(expression.origin.source, 1, 1)
    version = RuleVersion("expression", date.min, None, None, {}, {output: expression}, None, span,
                          window=Window(date.min))
    rule = Rule("expression", "expression", LegalSource("expression"), (version,), span,
                reference_date=reference_date)
    timeline = Timeline([version])
    probe = rule_plan(rule, timeline)
    consolidation = Consolidation({}, {rule.id: rule}, {rule.id: timeline}, {}, ())
    return Plan({}, {rule.id: probe}, {output: OutputPlan(output, ((Branch(probe),),))}, (output,),
                dict(constants or {}), consolidation)


def rule_plan(rule: Rule, timeline: Timeline[RuleVersion]) -> RulePlan:
    versions = []
    for version in timeline.versions:
        window = version.window
        assert window is not None  # resolved by consolidate
        versions.append(VersionPlan(version, window.start, window.until, version.when, version.values,
                                    version.computed))
    return RulePlan(rule.id, rule, rule.reference_date, tuple(versions), tuple(v.start for v in versions))


def _by_order(rules: list[Rule]) -> list[list[Rule]]:
    ordered = sorted(rules, key=lambda r: (r.order, r.id))
    groups: list[list[Rule]] = []
    for rule in ordered:
        if not groups or rule.order != groups[-1][0].order:
            groups.append([])
        groups[-1].append(rule)
    return groups


def _shape(plan: OutputPlan) -> Any:
    """The tree's shape (rule ids, nesting), which outputs of the same tree share."""
    def of(groups: tuple[Group, ...]) -> Any:
        return tuple(tuple((b.rule.id, of(b.exceptions)) for b in group) for group in groups)

    return of(plan.groups)


def _with_companions(outputs: dict[str, OutputPlan], alone: set[str] | frozenset[str] = frozenset()
                     ) -> dict[str, OutputPlan]:
    """Outputs decided by the same exception tree, where every version of every rule of
    it sets all of them: the rule that decides one decides the others. Where a version
    sets only some, the tree may decide them differently (an exception that sets only
    ``b`` leaves ``a`` to the rule it overrides), so they are not companions.

    ``alone``: outputs that some rule sets and sets nothing else; every rule of an
    output's tree sets it, so such an output has no companion, and its tree's shape is
    not read (in a large set, most outputs)."""
    alike: dict[Any, list[str]] = {}
    for name, plan in outputs.items():
        if name not in alone:
            alike.setdefault(_shape(plan), []).append(name)
    found = dict(outputs)
    for names in alike.values():
        if len(names) < 2:
            continue
        every = frozenset(names)
        tree = outputs[names[0]]
        if all(every <= version.version.outputs for rule in tree.rules() for version in rule.versions):
            for name in names:
                plan = outputs[name]
                found[name] = OutputPlan(name, plan.groups, plan.as_set, tuple(o for o in names if o != name))
    return found
