"""The general path: an evaluation, and the outputs it decides with sets of possible outcomes.

Deciding an output follows its plan (:mod:`engine.evaluation.plan`, docs/plan.md):
default logic over its exception tree; exceptions are tried before the rule they
override, lower ``order`` first; two applicable rules of equal standing that disagree
are a conflict.

Missing facts are carried as *possible outcomes* (:mod:`engine.evaluation.outcomes`): the
result of a rule whose condition is unknown is "its value, or nothing", and the result
of an output is the set of values it could still take. When every possibility gives the
same value the output is decided anyway (an exempt person is not obliged whichever
exemption applies); otherwise it is unknown and names the facts that would decide it.
This path is the oracle: the generated code (:mod:`engine.evaluation.codegen`) decides
what it can with plain values and hands an output here at its first unknown.

An :class:`Evaluation` is created per call and holds the only mutable state (its memo):
the plan is never changed, so evaluations may run in parallel threads. Each rule is
probed at most once per evaluation, and only when an output needs it. The evaluation is
itself the scope of expressions on the evaluation date; a :class:`DatedScope` (for a
rule with a reference date of its own) points at the evaluation, never the other way,
so an evaluation holds no reference cycle and is freed as soon as it is dropped.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Callable, Mapping

from engine.errors import ConflictError
from engine.evaluation.outcomes import ANY, EMPTY, NOTHING, Outcome, either, fall_back, key_of
from engine.evaluation.plan import Branch, Group, Plan, RulePlan
from engine.evaluation.runtime import RuleState
from engine.values import Unknown, render

if TYPE_CHECKING:
    from engine.evaluation.codegen import Program

_MISSING = object()


class Evaluation:
    """One evaluation: the facts, the date, and the memo of rules and outputs.

    With a ``program`` (:class:`engine.evaluation.codegen.Program`) outputs are decided by
    its generated functions, which fall back to this path; without one, by this path
    alone (the oracle of the differential tests)."""

    __slots__ = ("plan", "program", "facts", "on", "values", "decided", "deciders", "states", "outcomes")

    def __init__(self, plan: Plan, facts: Mapping[str, Any], on: date, program: Program | None = None) -> None:
        self.plan = plan
        self.program = program
        self.facts = facts
        self.on = on
        self.values: dict[str, Any] = {}  # output -> value, None (not applicable) or Unknown
        self.decided = self.values  # the name expressions read the memo by (engine.language.semantics.Scope)
        self.deciders: dict[str, str | None] = {}
        self.states: dict[str, RuleState] = {}  # rule id -> how it stands
        self.outcomes: dict[str, Outcome] = {}

    # -- the scope of expressions on the evaluation date ------------------------

    @property
    def evaluation_date(self) -> date:
        return self.on

    @property
    def reference_date(self) -> date:
        return self.on

    def output(self, name: str) -> Any:
        return self.value_of(name)

    def constant(self, name: str, on: date) -> Any:
        return self.plan.constant(name, on)

    def scope_on(self, reference: date) -> Any:
        """The scope of a rule whose reference date is ``reference``."""
        return self if reference == self.on else DatedScope(self, reference)

    # -- outputs ------------------------------------------------------------------

    def value_of(self, output: str) -> Any:
        """An output as expressions see it: its value, none, or unknown."""
        value = self.values.get(output, _MISSING)
        if value is not _MISSING:
            return value
        if self.program is None:
            return self.resolve(output)
        return self.program.decide(output)(self)

    def resolve(self, output: str) -> Any:
        """The output from the sets of its possible outcomes, reusing the rule states
        found so far; recorded in the memo."""
        value, rule_id = self.outcome(output).value()
        if rule_id is not None:
            self.deciders[output] = rule_id
        self.values[output] = value
        return value

    def decider(self, output: str) -> str | None:
        """The rule whose value decided ``output``, once it is decided."""
        self.value_of(output)
        return self.deciders.get(output)

    def outcome(self, output: str) -> Outcome:
        found = self.outcomes.get(output)
        if found is None:
            plan = self.plan.outputs.get(output)
            found = NOTHING if plan is None else self._first_of(plan.groups, output)
            self.outcomes[output] = found
        return found

    # -- rules --------------------------------------------------------------------

    def state(self, rule_id: str) -> RuleState:
        """How a rule stands in this evaluation (probed once, then remembered)."""
        return self.states.get(rule_id) or self.probe(self.plan.rules[rule_id])

    def rule_states(self) -> list[RuleState]:
        """Every rule probed so far, and how it stood."""
        return list(self.states.values())

    def probe(self, rule: RulePlan) -> RuleState:
        """Find how ``rule`` stands (its reference date, version in force, and whether
        its condition holds) and record it."""
        if rule.reference_date is None:
            reference: Any = self.on
        else:
            reference = rule.reference_date.compiled(self)
        if reference is None or type(reference) is Unknown:
            # no version can be chosen: none applies, or it is unknown which one might
            state = RuleState(rule.rule, reference, None, False if reference is None else reference)
        else:
            version = rule.version_at(reference)
            if version is None:
                applies: Any = False
            elif version.condition is None:
                applies = True
            else:
                applies = version.condition.compiled(self.scope_on(reference))
                if applies is None:
                    applies = False
            state = RuleState(rule.rule, reference, version.version if version is not None else None, applies)
        self.states[rule.id] = state
        return state

    def own(self, rule: RulePlan, output: str) -> Outcome:
        """What a rule itself says about ``output``, exceptions aside."""
        state = self.states.get(rule.id) or self.probe(rule)
        applies, version = state.applies, state.version
        if applies is False:
            return NOTHING
        if version is None:  # the reference date is unknown: any version might apply
            return Outcome({ANY: (applies, rule.id), EMPTY: (None, None)}, applies.missing)
        if output in version.values:
            value = version.values[output]
        elif output in version.computed:
            value = version.computed[output].compiled(self.scope_on(state.reference))
        else:
            return NOTHING
        key = key_of(value)
        missing = value.missing if type(value) is Unknown else frozenset()
        if applies is True:
            return Outcome({key: (value, rule.id)}, missing)
        return Outcome({key: (value, rule.id), EMPTY: (None, None)}, missing | applies.missing)

    def _branch(self, branch: Branch, output: str) -> Outcome:
        if branch.exceptions:
            overriding = self._first_of(branch.exceptions, output)
            if overriding is not NOTHING:
                if EMPTY not in overriding.options:
                    return overriding
                return fall_back(overriding, self.own(branch.rule, output))
        return self.own(branch.rule, output)

    def _first_of(self, groups: tuple[Group, ...], output: str) -> Outcome:
        result: Outcome | None = None
        for group in groups:
            current = self._branch(group[0], output) if len(group) == 1 else self._siblings(group, output)
            if current is NOTHING:
                continue
            result = current if result is None else fall_back(result, current)
            if EMPTY not in result.options:
                return result
        return result if result is not None else NOTHING

    def _siblings(self, group: Group, output: str) -> Outcome:
        outcomes = [(branch.rule, self._branch(branch, output)) for branch in group]
        definite = [(rule, o) for rule, o in outcomes if o.decided and not o.open]
        for (first_rule, first), (second_rule, second) in zip(definite, definite[1:]):
            if next(iter(first.options)) != next(iter(second.options)):
                raise _conflict(output, first_rule, first, second_rule, second)
        return either(o for _, o in outcomes)


class DatedScope:
    """The scope of a rule whose reference date is not the evaluation date."""

    __slots__ = ("facts", "decided", "evaluation_date", "reference_date", "output", "_constant")

    def __init__(self, evaluation: Evaluation, reference_date: date) -> None:
        self.facts = evaluation.facts
        self.decided = evaluation.values
        self.evaluation_date = evaluation.on
        self.reference_date = reference_date
        self.output: Callable[[str], Any] = evaluation.value_of
        self._constant = evaluation.plan.constant

    def constant(self, name: str, on: date) -> Any:
        return self._constant(name, on)


def _conflict(output: str, first_rule: RulePlan, first: Outcome, second_rule: RulePlan,
              second: Outcome) -> ConflictError:
    a, b = first_rule.rule, second_rule.rule
    return ConflictError(
        f"conflict on '{output}': rule '{a.id}' ({a.span.file}:{a.span.line}) gives "
        f"{render(first.single()[0])} and rule '{b.id}' ({b.span.file}:{b.span.line}) gives "
        f"{render(second.single()[0])}, with equal priority; make one an exception to the other or give "
        f"them an order", a.span)
