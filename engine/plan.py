"""A consolidation compiled for evaluation: one probe per rule, one decider per output.

Evaluating a person visits nearly every rule of the decree once, so what a visit costs
is what an evaluation costs. A :class:`Plan` is built once per consolidation (per choice
of proposals) and binds everything that does not depend on the person:

- a **probe** per rule: finds the rule's reference date, the version in force on it
  (without a search when the rule has one window), and whether its condition holds;
  it records a :class:`RuleState` in the evaluation's memo;
- a **decider** per output: the output's exception tree (:class:`OutputTree`) turned
  into nested closures, exceptions first, that returns ``(value, rule id)``, ``None``
  when no rule gives a value, or :data:`UNDECIDED` at the first unknown on its way.

An undecided output is resolved again by the general path in :mod:`engine.evaluator`,
which carries sets of possible outcomes; the deciders are its fast special case for
known values and give the same answers (the conformance tests run both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NamedTuple

from .model import Rule, RuleVersion
from .timeline import Consolidation, Timeline
from .values import Unknown

if TYPE_CHECKING:
    from .evaluator import Evaluation, RuleScope

UNDECIDED = ("<undecided>",)  # a decider met an unknown
ANY = ("<any value>",)  # the key of a value that is itself unknown
_MISSING = object()

Probe = Callable[["Evaluation"], "RuleState"]
Decider = Callable[["Evaluation"], Any]  # -> (value, rule id) | None | UNDECIDED


class RuleState(NamedTuple):
    """How one rule stands in an evaluation: reference date, version, and whether it applies."""

    rule: Rule
    reference: Any  # a date, None, or Unknown
    version: RuleVersion | None
    applies: Any  # True, False or Unknown
    scope: "RuleScope"


# a NamedTuple's own constructor runs Python code; the probes build states directly
_new_state: Callable[[type, tuple[Any, ...]], RuleState] = tuple.__new__


def key_of(value: Any) -> Any:
    """The value as a key of a set of outcomes: lists as tuples, unknowns as :data:`ANY`."""
    if type(value) is Unknown:
        return ANY
    if isinstance(value, list):
        return tuple(value)
    try:
        hash(value)
    except TypeError:
        return ANY
    return value


@dataclass(frozen=True)
class OutputTree:
    """For one output: the rules at the top, and each rule's exceptions, in order."""

    roots: tuple[tuple[str, ...], ...]  # groups of equal order, lowest order first
    exceptions: Mapping[str, tuple[tuple[str, ...], ...]]


def output_trees(rules: Mapping[str, Rule]) -> dict[str, OutputTree]:
    """The exception trees of every output, from the rules in force."""
    trees: dict[str, OutputTree] = {}
    setters: dict[str, list[Rule]] = {}
    for rule in rules.values():
        for output in rule.outputs:
            setters.setdefault(output, []).append(rule)
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
        trees[output] = OutputTree(_groups(roots), {parent: _groups(kids) for parent, kids in children.items()})
    return trees


def _groups(rules: Iterable[Rule]) -> tuple[tuple[str, ...], ...]:
    ordered = sorted(rules, key=lambda r: (r.order, r.id))
    groups: list[list[str]] = []
    last = None
    for rule in ordered:
        if not groups or rule.order != last:
            groups.append([])
        groups[-1].append(rule.id)
        last = rule.order
    return tuple(tuple(g) for g in groups)


class Plan:
    """A consolidation with its probes and deciders; shared by every evaluation with it."""

    def __init__(self, consolidation: Consolidation) -> None:
        self.consolidation = consolidation
        self.trees = output_trees(consolidation.rules)
        # outcomes of literal outputs of applying rules never change: shared between
        # evaluations (filling a dict is atomic under the GIL)
        self.literal_outcomes: dict[tuple[int, str], Any] = {}
        self.probes: dict[str, Probe] = {
            rule_id: _probe(rule, consolidation.timelines[rule_id]) for rule_id, rule in consolidation.rules.items()}
        self.deciders: dict[str, Decider] = {
            output: _Deciders(self.probes, tree, output).first_of(tree.roots) for output, tree in self.trees.items()}


def _probe(rule: Rule, timeline: Timeline[RuleVersion]) -> Probe:
    """The closure that finds how ``rule`` stands in an evaluation and records it.

    Specialized when the plan is built: a rule read on the evaluation date needs no
    reference expression, and a rule with one window needs no search of its time line.
    """
    rule_id = rule.id
    reference_date = rule.reference_date.compiled if rule.reference_date is not None else None
    versions = timeline.versions
    only = versions[0] if len(versions) == 1 and versions[0].window is not None else None
    start = only.window.start if only is not None and only.window is not None else None
    until = only.window.until if only is not None and only.window is not None else None
    condition = only.when.compiled if only is not None and only.when is not None else None
    version_on: Callable[[date], RuleVersion | None] = timeline.at

    def in_force(evaluation: Evaluation, reference: Any) -> RuleState:
        if only is not None:  # one window: no search
            if start <= reference and (until is None or reference < until):
                scope = evaluation.scopes.get(reference) or evaluation.scope_on(reference)
                applies = True if condition is None else condition(scope)
                state = _new_state(RuleState, (rule, reference, only, False if applies is None else applies, scope))
            else:
                state = _new_state(RuleState, (rule, reference, None, False, evaluation.base_scope))
        else:
            version = version_on(reference)
            if version is None:
                state = _new_state(RuleState, (rule, reference, None, False, evaluation.base_scope))
            else:
                scope = evaluation.scopes.get(reference) or evaluation.scope_on(reference)
                when = version.when
                applies = True if when is None else when.compiled(scope)
                state = _new_state(RuleState, (rule, reference, version, False if applies is None else applies,
                                               scope))
        evaluation.states[rule_id] = state
        return state

    if reference_date is None:
        return lambda evaluation: in_force(evaluation, evaluation.on)

    def probe(evaluation: Evaluation) -> RuleState:
        reference = reference_date(evaluation.base_scope)
        if reference is None or type(reference) is Unknown:  # no version can be chosen
            state = _new_state(RuleState, (rule, reference, None, False if reference is None else reference,
                                           evaluation.base_scope))
            evaluation.states[rule_id] = state
            return state
        return in_force(evaluation, reference)

    return probe


class _Deciders:
    """Builds the decider closures of one output's exception tree."""

    def __init__(self, probes: Mapping[str, Probe], tree: OutputTree, output: str) -> None:
        self.probes = probes
        self.tree = tree
        self.output = output

    def first_of(self, groups: tuple[tuple[str, ...], ...]) -> Decider:
        """The first group (lowest order) that gives a value."""
        parts = tuple(self.rule(g[0]) if len(g) == 1 else self.siblings(g) for g in groups)
        if len(parts) == 1:
            return parts[0]

        def first(evaluation: Evaluation) -> Any:
            for part in parts:
                found = part(evaluation)
                if found is not None:
                    return found
            return None

        return first

    def siblings(self, group: tuple[str, ...]) -> Decider:
        """Rules of equal standing: they must agree; a disagreement goes to the general
        path, which reports the conflict."""
        parts = tuple(self.rule(rule_id) for rule_id in group)

        def agreed(evaluation: Evaluation) -> Any:
            found = None
            for part in parts:
                current = part(evaluation)
                if current is UNDECIDED:
                    return UNDECIDED
                if current is not None:
                    if found is None:
                        found = current
                    elif key_of(found[0]) != key_of(current[0]):
                        return UNDECIDED
            return found

        return agreed

    def rule(self, rule_id: str) -> Decider:
        """One rule: its exceptions first, then what the rule itself gives."""
        groups = self.tree.exceptions.get(rule_id)
        exceptions = self.first_of(groups) if groups else None
        probe, output = self.probes[rule_id], self.output

        def decide(evaluation: Evaluation) -> Any:
            if exceptions is not None:
                found = exceptions(evaluation)
                if found is not None:
                    return found
            state = evaluation.states.get(rule_id) or probe(evaluation)
            applies = state[3]
            if applies is False:
                return None
            if applies is not True:
                return UNDECIDED
            version = state[2]
            assert version is not None  # a rule that applies has a version
            value = version.values.get(output, _MISSING)
            if value is not _MISSING:
                return value, rule_id
            computed = version.computed.get(output)
            if computed is None:
                return None
            value = computed.compiled(state[4])
            if type(value) is Unknown:
                return UNDECIDED
            return value, rule_id

        return decide
