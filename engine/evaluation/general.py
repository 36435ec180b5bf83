"""The general path: an evaluation, and the outputs it decides with sets of possible outcomes.

Deciding an output follows its plan (:mod:`engine.evaluation.plan`, docs/plan.md):
default logic over its exception tree; exceptions are tried before the rule they
override, lower ``order`` first; two applicable rules of equal standing that disagree
are a conflict. The walk is one pass over the tree's ``steps`` in that order, which
stops at the first rule that surely gives a value.

Missing facts are carried as *possible outcomes* (:mod:`engine.evaluation.outcomes`): the
result of a rule whose condition is unknown is "its value, or nothing", and the result
of an output is the set of values it could still take. When every possibility gives the
same value the output is decided anyway (an exempt person is not obliged whichever
exemption applies); otherwise it is unknown and names the facts that would decide it.
This path is the oracle: the generated code (:mod:`engine.evaluation.codegen`) decides
what it can with plain values and hands an output here at its first unknown (except the
unknown value of an applying rule outside siblings, which is the answer by these rules).
Its shortcuts are checked against the plain walk in tests/test_general_path.py.

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
from engine.evaluation.outcomes import ANY, PLAIN, Outcome, key_of
from engine.evaluation.plan import Plan, RulePlan, Steps
from engine.evaluation.runtime import RuleState, new_state
from engine.rules.model import RuleVersion
from engine.values import Unknown, render

if TYPE_CHECKING:
    from engine.evaluation.codegen import Program
    from engine.evaluation.runtime import EvaluationState

_MISSING = object()


class Evaluation:
    """One evaluation: the facts, the date, and the memo of rules and outputs.

    With a ``program`` (:class:`engine.evaluation.codegen.Program`) outputs are decided by
    its generated functions, which fall back to this path; without one, by this path
    alone (the oracle of the differential tests)."""

    __slots__ = ("plan", "program", "facts", "on", "values", "decided", "deciders", "states")

    def __init__(self, plan: Plan, facts: Mapping[str, Any], on: date, program: Program | None = None) -> None:
        self.plan = plan
        self.program = program
        self.facts = facts
        self.on = on
        self.values: dict[str, Any] = {}  # output -> value, None (not applicable) or Unknown
        self.decided = self.values  # the name expressions read the memo by (engine.language.semantics.Scope)
        self.deciders: dict[str, str | None] = {}
        self.states: dict[str, RuleState] = {}  # rule id -> how it stands

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
        found so far; recorded in the memo, with those of its companions (outputs of
        the same tree, see :meth:`_walk`) not decided yet."""
        plan = self.plan.outputs.get(output)
        possible = Outcome()
        if plan is not None:
            steps = plan.steps
            if len(steps) == 1 and not plan.companions:  # one rule: where generated code hands over most
                rule = steps[0]
                if isinstance(rule, RulePlan):
                    state = self.states.get(rule.id) or self.probe(rule)
                    applies, version = state.applies, state.version
                    if type(applies) is Unknown and (version is None or output in version.values):
                        # it may apply, and then gives a value it needs no fact for: the output
                        # is unknown on exactly what its probe misses (what the walk would say)
                        self.values[output] = applies
                        return applies
            if plan.companions:
                values = self.values
                others = [(name, Outcome()) for name in plan.companions if name not in values]
                possible.closed = self._walk(plan.steps, output, possible, others)
                for name, other in others:
                    other.closed = possible.closed
                    self._record(name, other)
            else:
                possible.closed = self._walk(plan.steps, output, possible, _NONE)
        value, rule_id = possible.value()
        if rule_id is not None:
            self.deciders[output] = rule_id
        self.values[output] = value
        return value

    def _record(self, output: str, possible: Outcome) -> None:
        value, rule_id = possible.value()
        if rule_id is not None:
            self.deciders[output] = rule_id
        self.values[output] = value

    def decider(self, output: str) -> str | None:
        """The rule whose value decided ``output``, once it is decided."""
        self.value_of(output)
        return self.deciders.get(output)

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
            expression = rule.reference_date
            reference = (expression.closure or expression.compiled)(self)
        if reference is None or type(reference) is Unknown:
            # no version can be chosen: none applies, or it is unknown which one might
            state = new_state(RuleState, (rule.rule, reference, None, False if reference is None else reference))
        else:
            version = rule.version_at(reference)
            if version is None:
                applies: Any = False
            elif version.condition is None:
                applies = True
            else:
                condition = version.condition
                applies = (condition.closure or condition.compiled)(self if reference == self.on else
                                                                    DatedScope(self, reference))
                if applies is None:
                    applies = False
            state = new_state(RuleState, (rule.rule, reference, version.version if version is not None else None,
                                          applies))
        self.states[rule.id] = state
        return state

    # -- the walk -----------------------------------------------------------------

    def _walk(self, steps: Steps, output: str, possible: Outcome, others: _Companions) -> bool:
        """Add to ``possible`` what the rules of an exception tree may give for
        ``output``, in the order of its ``steps`` (:func:`engine.evaluation.plan.steps_of`:
        each rule after its exceptions, lower groups first), until one surely gives a
        value: returns whether one did.

        An exception overrides its rule and a lower group a higher one, so once a rule
        surely gives a value nothing after it can matter. A rule that only may give one
        (its condition, its reference date or its value unknown) adds that value as a
        possibility, the facts it misses to ``possible.missing``, and the walk goes on;
        a value already possible keeps the rule that gave it first.

        ``others`` are companions of ``output`` decided in the same walk: every version
        of every rule of the tree sets them too (plan.py), so the same rules give them
        values and the walk stops at the same rule. A companion that a version computes
        is dropped from ``others`` and left to a walk of its own: computing it here
        could raise an error (or decide an output it reads) that deciding ``output``
        alone would not."""
        options, missing, states = possible.options, possible.missing, self.states
        for rule in steps:
            if isinstance(rule, tuple):  # rules of equal order
                if self._siblings(rule, output, possible, others):
                    return True
                continue
            state = states.get(rule.id) or self.probe(rule)
            applies = state.applies
            if applies is False:
                continue
            version = state.version
            if version is None:  # the reference date is unknown: any version might apply, or none
                if ANY not in options:
                    options[ANY] = (applies, rule.id)
                unknown = applies.missing
                missing |= unknown
                for _, other in others:
                    if ANY not in other.options:
                        other.options[ANY] = (applies, rule.id)
                    other.missing |= unknown
                continue
            if output in version.values:
                value = version.values[output]
            elif output in version.computed:
                expression = version.computed[output]
                reference = state.reference
                value = (expression.closure or expression.compiled)(self if reference == self.on else
                                                                    DatedScope(self, reference))
                if type(value) is Unknown:
                    missing |= value.missing
            else:  # this version does not set the output
                continue
            key = value if type(value) in PLAIN else key_of(value)
            if key not in options:
                options[key] = (value, rule.id)
            if others:
                _companions_given(others, version, rule.id, applies)
            if applies is True:
                return True
            missing |= applies.missing  # the rule may not apply: "nothing" stays possible
        return False

    def _siblings(self, group: tuple[Steps, ...], output: str, possible: Outcome, others: _Companions) -> bool:
        """Rules of equal standing (each after its exceptions) must agree: two that
        surely give different values are a conflict. Adds what each may give to
        ``possible``; returns whether one surely gives a value. A companion on which
        they conflict is dropped from ``others`` (its own walk reports the conflict)."""
        found: list[tuple[RulePlan, Outcome, dict[str, Outcome]]] = []
        for steps in group:
            alone = Outcome()
            if others:
                theirs = [(name, Outcome()) for name, _ in others]
                closed = alone.closed = self._walk(steps, output, alone, theirs)
                for _, other in theirs:
                    other.closed = closed
                kept = dict(theirs)
            else:
                alone.closed = self._walk(steps, output, alone, _NONE)
                kept = _NO_OUTCOMES
            rule = steps[-1]  # the rule itself comes after its exceptions
            assert isinstance(rule, RulePlan)
            found.append((rule, alone, kept))
        _agreeing(output, [(rule, alone) for rule, alone, _ in found])
        for pair in list(others) if others else _NONE:
            name, other = pair
            mine = [(rule, theirs[name]) for rule, _, theirs in found if name in theirs]
            if len(mine) < len(found):  # some sibling computes it
                others.remove(pair)
                continue
            try:
                _agreeing(name, mine)
            except ConflictError:
                others.remove(pair)
                continue
            for _, alone in mine:
                other.include(alone)
        closed = False
        for _, alone, _ in found:
            possible.include(alone)
            closed = closed or alone.closed
        return closed


_Companions = list[tuple[str, Outcome]]  # companions decided in the same walk, with their outcomes
_NONE: _Companions = []  # no companions (never extended: a walk only removes from its list)
_NO_OUTCOMES: dict[str, Outcome] = {}  # never changed


def _companions_given(others: _Companions, version: RuleVersion, rule_id: str, applies: Any) -> None:
    """Add the values an applying (or possibly applying) version sets for companions;
    drop those it computes."""
    for pair in list(others):
        name, other = pair
        if name not in version.values:
            others.remove(pair)
            continue
        value = version.values[name]
        key = value if type(value) in PLAIN else key_of(value)
        if key not in other.options:
            other.options[key] = (value, rule_id)
        if applies is not True:
            other.missing |= applies.missing


def _agreeing(output: str, outcomes: list[tuple[RulePlan, Outcome]]) -> None:
    """Raise the conflict of two rules of equal standing that surely give different values."""
    definite = [(rule, alone) for rule, alone in outcomes if alone.decided]
    for (first_rule, first), (second_rule, second) in zip(definite, definite[1:]):
        if next(iter(first.options)) != next(iter(second.options)):
            raise _conflict(output, first_rule, first, second_rule, second)


if TYPE_CHECKING:
    def _follows_the_runtime_contract(evaluation: Evaluation) -> EvaluationState:
        return evaluation  # mypy checks Evaluation against what generated code may touch


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
