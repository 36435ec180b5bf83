"""The plan's outputs in *steps*: what the columnar backend decides together.

A step is a group of outputs whose rules read the same facts and outputs and that do not
read each other; the steps come in dependency order (each output after those it reads,
also where an amendment's version reads an output the rule set's graph puts later). A
step is the unit of the per-combination path of :mod:`engine.population.columnar`: its
input codes and the evaluation date are a complete key for its outputs' values, because
an output depends only on the date and the inputs of the rules that set it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import polars as pl

from engine.evaluation.plan import Plan
from engine.population.cells import fact_column
from engine.population.expressions import OutputExpression
from engine.population.persons import output_column
from engine.ruleset import RuleSet


@dataclass
class Step:
    """Outputs decided together, from the same input columns."""

    outputs: tuple[str, ...]
    facts: tuple[str, ...]
    inputs: tuple[str, ...]  # outputs read
    memo: dict[tuple[int, ...], tuple[int, ...]] = field(default_factory=dict)
    # the outputs as Polars expressions for rows with known inputs (None: not translated)
    expressions: dict[str, OutputExpression] | None = None
    bindings: list[tuple[str, pl.Expr]] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [fact_column(f) for f in self.facts] + [output_column(o) for o in self.inputs] + ["on"]


def steps_of(ruleset: RuleSet, plan: Plan, wanted: Iterable[str]) -> list[Step]:
    """The outputs needed for ``wanted``, each with its inputs, in dependency order;
    outputs of equal inputs that do not read each other share a step."""
    vocabulary = ruleset.vocabulary
    inputs: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for output in plan.order:
        tree = plan.outputs.get(output)
        if tree is None:
            continue  # no rule sets it: not applicable, read as none
        names: set[str] = set()
        if tree is not None:
            for rule in tree.rules():
                if rule.reference_date is not None:
                    names |= rule.reference_date.free_names
                # each version's condition and what it computes for this output (not
                # for the rule's other outputs)
                for version in rule.versions:
                    if version.condition is not None:
                        names |= version.condition.free_names
                    computed = version.computes.get(output)
                    if computed is not None:
                        names |= computed.free_names
        kinds = {n: vocabulary.names[n].kind for n in names if n in vocabulary.names}
        inputs[output] = (frozenset(n for n, k in kinds.items() if k == "fact"),
                          frozenset(n for n, k in kinds.items() if k == "output"))
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(inputs.get(name, (frozenset(), frozenset()))[1])
    # each output after those it reads (an amendment's version may read an output the
    # rule set's graph order puts later)
    ordered: list[str] = []
    placed: set[str] = set()

    def place(output: str) -> None:
        if output in placed:
            return
        placed.add(output)
        for used in sorted(inputs.get(output, (frozenset(), frozenset()))[1]):
            place(used)
        ordered.append(output)

    for output in plan.order:
        if output in needed:
            place(output)
    steps: list[Step] = []
    ready: set[str] = set()
    by_inputs: dict[tuple[frozenset[str], frozenset[str]], Step] = {}
    for output in ordered:
        if output not in inputs:
            continue  # read, but set by no rule
        facts, outputs = inputs[output]
        shared = by_inputs.get((facts, outputs))
        if shared is not None and outputs <= ready - set(shared.outputs):
            shared.outputs += (output,)
        else:
            step = Step((output,), tuple(sorted(facts)), tuple(sorted(outputs)))
            steps.append(step)
            by_inputs[(facts, outputs)] = step
        ready.add(output)
    return steps


def with_borrowed_bindings(steps: list[Step]) -> None:
    """Give each step the bindings of earlier steps it reads (a shared condition or age
    is bound once, by the first step that needs it), so a step can run on its own."""
    defined: dict[str, pl.Expr] = {}
    for step in steps:
        defined.update(step.bindings)
    for step in steps:
        if step.expressions is None:
            continue
        needed: set[str] = set()
        stack = [e.value for e in step.expressions.values()] + [e.escape for e in step.expressions.values()]
        stack += [expression for _, expression in step.bindings]
        while stack:
            for used in stack.pop().meta.root_names():
                if used in defined and used not in needed:
                    needed.add(used)
                    stack.append(defined[used])
        step.bindings = [(name, expression) for name, expression in defined.items() if name in needed]


__all__ = ["Step", "steps_of", "with_borrowed_bindings"]
