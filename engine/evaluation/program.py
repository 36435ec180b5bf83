"""(Being replaced by engine.evaluation.plan) A consolidation compiled for evaluation: the exception trees of its outputs, and the
functions that decide them.

Evaluating a person visits nearly every rule of the decree once, so what a visit costs
is what an evaluation costs. A :class:`Plan` is built once per consolidation (per choice
of proposals) and holds what does not depend on the person:

- :class:`OutputTree`: for each output, the rules that set it, grouped by priority, and
  each rule's exceptions;
- the **output functions**, written by :mod:`engine.evaluation.codegen` on first use: each decides
  one output with plain values, finding the state of each rule on its way (reference
  date, version in force, condition) and recording it as a :class:`RuleState` in the
  evaluation's memo, exceptions first; at the first unknown it hands the output to the
  general path of :mod:`engine.evaluation.general`, which carries sets of possible outcomes;
- the **probes**, one function per rule, for the general path and for explanations;
- a run function that decides the public outputs in the graph's order.

The fast path gives the answers of the general path wherever it decides (a test compares
both on every output of every scenario).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NamedTuple

from engine.evaluation import codegen as fastpath
from engine.rules.model import Rule, RuleVersion
from engine.rules.timeline import Consolidation
from engine.values import Unknown

if TYPE_CHECKING:
    from engine.evaluation.general import Evaluation, RuleScope

ANY = ("<any value>",)  # the key of a value that is itself unknown

Probe = Callable[["Evaluation"], tuple[Any, ...]]  # -> the fields of a RuleState
Decide = Callable[["Evaluation"], Any]  # records the output in the memo, returns its value


class RuleState(NamedTuple):
    """How one rule stands in an evaluation: reference date, version, and whether it applies."""

    rule: Rule
    reference: Any  # a date, None, or Unknown
    version: RuleVersion | None
    applies: Any  # True, False or Unknown
    scope: "RuleScope"


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


class Program:
    """A consolidation with its probes and deciders; shared by every evaluation with it.

    Probes and deciders are generated (:mod:`engine.evaluation.codegen`) on first use, so a large
    rule set pays only for what its evaluations reach; two threads racing to generate
    one keep either, harmlessly.
    """

    def __init__(self, consolidation: Consolidation, set_valued: frozenset[str] = frozenset(),
                 sets: Mapping[str, Any] | None = None) -> None:
        self.consolidation = consolidation
        self.sets = sets or {}  # the value sets (the same for every evaluation of the rule set)
        self.set_valued = set_valued  # outputs declared as sets: a computed list becomes a set
        self.trees = output_trees(consolidation.rules)
        # outcomes of literal outputs of applying rules never change: shared between
        # evaluations (filling a dict is atomic under the GIL)
        self.literal_outcomes: dict[tuple[int, str], Any] = {}
        self.probes: dict[str, Probe] = {}
        self.outputs: dict[str, Decide] = {}
        self.runs: dict[tuple[str, ...], Callable[..., dict[str, Any]]] = {}  # the public outputs
        self.constants: dict[str, Callable[[date], Any]] = {}
        self.companions = _companions(self.trees, consolidation)

    def probe(self, rule_id: str) -> Probe:
        """The probe of a rule: how it stands in an evaluation, recorded in its memo."""
        found = self.probes.get(rule_id)
        if found is None:
            found = self.probes[rule_id] = fastpath.probe_function(
                self.consolidation.rules[rule_id], self.consolidation.timelines[rule_id], self)
        return found

    def run_function(self, outputs: tuple[str, ...], report: tuple[tuple[str, bool], ...],
                     decision: type) -> Callable[..., dict[str, Any]]:
        """A function that decides ``outputs`` (given in the graph's order) and reports
        those of ``report`` (see :func:`engine.evaluation.codegen.run_function`)."""
        found = self.runs.get(outputs)
        if found is None:
            found = self.runs[outputs] = fastpath.run_function(outputs, self, report, decision)
        return found

    def constant_function(self, name: str) -> Callable[[date], Any]:
        """A value set's members, or a parameter's value, on a date (None when the
        parameter has no version then): what Evaluation.constant and the generated code
        read."""
        found = self.constants.get(name)
        if found is None:
            found = self.constants[name] = self._constant_function(name)
        return found

    def _constant_function(self, name: str) -> Callable[[date], Any]:
        value_set = self.sets.get(name)
        if value_set is not None:
            at: Callable[[date], Any] = value_set.at
            return at
        timeline = self.consolidation.parameters.get(name)

        def parameter(day: date) -> Any:
            version = timeline.at(day) if timeline is not None else None
            return version.value if version is not None else None

        return parameter

    def output_function(self, output: str) -> Decide:
        """The function that decides an output in an evaluation and records it in its memo."""
        found = self.outputs.get(output)
        if found is None:
            tree = self.trees.get(output)
            if tree is None:
                found = _not_applicable(output)
            else:
                writer = fastpath.OutputWriter(output, tree.exceptions, self.consolidation.rules,
                                               self.consolidation.timelines, self, key_of, as_set=output in self.set_valued,
                                               companions=self.companions.get(output, ()))
                found = writer.function(tree.roots)
            self.outputs[output] = found
        return found


def _companions(trees: Mapping[str, OutputTree], consolidation: Consolidation) -> dict[str, tuple[str, ...]]:
    """Outputs decided by the same exception tree, where every version of every rule sets
    all of them: the rule that decides one decides the others. When it gives them
    literally, the first one's function records the others' values too (they cost
    nothing to compute) and the walk over their common tree is not repeated."""
    alike: dict[Any, list[str]] = {}
    for output, tree in trees.items():
        alike.setdefault((tree.roots, tuple(sorted(tree.exceptions.items()))), []).append(output)
    companions: dict[str, tuple[str, ...]] = {}
    for (roots, exceptions), outputs in alike.items():
        if len(outputs) < 2:
            continue
        rules = fastpath.tree_rules(roots, dict(exceptions))
        every = frozenset(outputs)
        if all(every <= version.outputs for r in rules for version in consolidation.timelines[r].versions):
            for output in outputs:
                companions[output] = tuple(o for o in outputs if o != output)
    return companions


def _not_applicable(output: str) -> Decide:
    """The function of an output that no rule sets."""
    def decide(evaluation: Evaluation) -> Any:
        evaluation.values[output] = None
        return None

    return decide
