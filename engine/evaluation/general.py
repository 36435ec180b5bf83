"""Evaluate the outputs of a consolidated rule set for one person on one date.

Deciding an output follows default logic (docs/rules.md): the rules that set it form
trees by ``exception_to``; exceptions are tried before the rule they override, lower
``order`` first; two applicable rules of equal standing that disagree are a conflict.

Missing facts are carried as *possible outcomes*: the result of a rule whose condition is
unknown is "its value, or nothing", and the result of an output is the set of values it
could still take. When every possibility gives the same value the output is decided
anyway (an exempt person is not obliged whichever exemption applies); otherwise it is
unknown and names the facts that would decide it.

An :class:`Evaluation` is created per call and holds the only mutable state (its memo):
the rule set itself is never changed, so evaluations may run in parallel threads. Each
rule is evaluated at most once per evaluation, and only when an output needs it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.errors import ConflictError
from engine.evaluation.program import ANY, OutputTree, Program as Plan, RuleState, key_of
from engine.values import Unknown, render

EMPTY = ("<not applicable>",)  # the key of "no rule gives a value"
_MISSING = object()


class Outcome:
    """The possible results of a rule or an output: key -> (value, deciding rule)."""

    __slots__ = ("options", "missing")

    def __init__(self, options: dict[Any, tuple[Any, str | None]], missing: frozenset[str] = frozenset()) -> None:
        self.options = options
        self.missing = missing

    @property
    def decided(self) -> bool:
        return len(self.options) == 1 and ANY not in self.options

    @property
    def open(self) -> bool:
        """Whether "no rule applies" is still possible."""
        return EMPTY in self.options

    def single(self) -> tuple[Any, str | None]:
        return next(iter(self.options.values()))


NOTHING = Outcome({EMPTY: (None, None)})


class RuleScope:
    """What the expressions of one rule read: facts, outputs, constants, and its dates."""

    __slots__ = ("facts", "decided", "evaluation_date", "reference_date", "_evaluation")

    def __init__(self, evaluation: "Evaluation", reference_date: date) -> None:
        self.facts = evaluation.facts
        self.decided = evaluation.values
        self.evaluation_date = evaluation.on
        self.reference_date = reference_date
        self._evaluation = evaluation

    def output(self, name: str) -> Any:
        return self._evaluation.value_of(name)

    def constant(self, name: str, on: date) -> Any:
        return self._evaluation.constant(name, on)


class Evaluation:
    """One evaluation: the facts, the date, and the memo of rules and outputs."""

    def __init__(self, plan: Plan, facts: dict[str, Any], on: date, partial: bool = True) -> None:
        self.plan = plan
        # whether a fact may be missing or an output was found unknown: the fast path then
        # checks an expression's names before it inlines it (see fastpath.guard)
        self.partial = partial
        self.consolidation = plan.consolidation
        self.trees = plan.trees
        self.literal_outcomes = plan.literal_outcomes
        self._outputs = plan.outputs
        self._output_function = plan.output_function
        self._constant = plan.constant_function  # value sets and parameters on a date
        self.facts = facts
        self.on = on
        self.states: dict[str, tuple[Any, ...]] = {}  # rule id -> the fields of its RuleState
        self.outcomes: dict[str, Outcome] = {}
        self.values: dict[str, Any] = {}
        self.deciders: dict[str, str | None] = {}
        self.base_scope = RuleScope(self, on)
        self.scopes: dict[date, RuleScope] = {on: self.base_scope}  # one scope per reference date

    # -- the values expressions read -------------------------------------------

    def value_of(self, output: str) -> Any:
        """An output as expressions see it: its value, none, or unknown.

        The output's function (:mod:`engine.evaluation.codegen`) decides it with plain values; at
        the first unknown on its way it hands the output to :meth:`resolve`.
        """
        value = self.values.get(output, _MISSING)
        if value is not _MISSING:
            return value
        return (self._outputs.get(output) or self._output_function(output))(self)

    def resolve(self, output: str) -> Any:
        """The general path: the output from the sets of its possible outcomes, reusing
        the rule states found so far; recorded in the memo."""
        outcome = self.outcome(output)
        options = outcome.options
        if len(options) == 1:
            key, (value, rule_id) = next(iter(options.items()))
            if key is ANY:
                value = Unknown(outcome.missing)
            elif not outcome.missing:
                self.deciders[output] = rule_id
            # else: decided because every possibility agrees; no single rule decided it
        else:
            value = Unknown(outcome.missing)
        if type(value) is Unknown:
            self.partial = True
        self.values[output] = value
        return value

    def decider(self, output: str) -> str | None:
        """The rule whose value decided ``output``, once it is decided."""
        self.value_of(output)
        return self.deciders.get(output)

    def constant(self, name: str, on: date) -> Any:
        return self._constant(name)(on)

    # -- rules ------------------------------------------------------------------

    def state(self, rule_id: str) -> RuleState:
        """How a rule stands in this evaluation (found once, then remembered)."""
        return self._named(self.states.get(rule_id) or self.plan.probe(rule_id)(self))

    def rule_states(self) -> list[RuleState]:
        """Every rule evaluated so far, and how it stood."""
        return [self._named(fields) for fields in self.states.values()]

    def _named(self, fields: tuple[Any, ...]) -> RuleState:
        state = RuleState._make(fields)
        return state if state.scope is not None else state._replace(scope=self.scope_of(fields))

    def scope_of(self, state: tuple[Any, ...]) -> RuleScope:
        """The scope of a rule in force on a reference date of its own (the fast path
        leaves it out of the rule's state until something needs it)."""
        return state[4] or self.scope_on(state[1])

    def scope_on(self, reference: date) -> RuleScope:
        scope = self.scopes.get(reference)
        if scope is None:
            scope = self.scopes[reference] = RuleScope(self, reference)
        return scope

    def own(self, rule_id: str, output: str) -> Outcome:
        """What a rule itself says about ``output``, exceptions aside."""
        state = self.states.get(rule_id) or self.plan.probe(rule_id)(self)
        rule, _, version, applies, scope = state
        if applies is False:
            return NOTHING
        if version is None:  # the reference date is unknown: any version might apply
            return Outcome({ANY: (applies, rule_id), EMPTY: (None, None)}, applies.missing)
        values = version.values
        if output in values:
            if applies is True:
                cache_key = (id(version), output)
                found = self.literal_outcomes.get(cache_key)
                if found is None:
                    value = values[output]
                    found = self.literal_outcomes[cache_key] = Outcome({key_of(value): (value, rule_id)})
                return found
            value = values[output]
        elif output in version.computed:
            value = version.computed[output].compiled(scope or self.scope_of(state))
        else:
            return NOTHING
        key = key_of(value)
        missing = value.missing if type(value) is Unknown else frozenset()
        if applies is True:
            return Outcome({key: (value, rule_id)}, missing)
        return Outcome({key: (value, rule_id), EMPTY: (None, None)}, missing | applies.missing)

    # -- outputs ----------------------------------------------------------------

    def outcome(self, output: str) -> Outcome:
        found = self.outcomes.get(output)
        if found is None:
            tree = self.trees.get(output)
            found = NOTHING if tree is None else self._first_of(tree.roots, tree, output)
            self.outcomes[output] = found
        return found

    def _resolve(self, rule_id: str, tree: OutputTree, output: str) -> Outcome:
        groups = tree.exceptions.get(rule_id)
        if not groups:
            return self.own(rule_id, output)
        overriding = self._first_of(groups, tree, output)
        if overriding is NOTHING:
            return self.own(rule_id, output)
        if EMPTY not in overriding.options:
            return overriding
        return _fall_back(overriding, self.own(rule_id, output))

    def _first_of(self, groups: tuple[tuple[str, ...], ...], tree: OutputTree, output: str) -> Outcome:
        result: Outcome | None = None
        owned = False  # whether ``result`` was built here, and may be extended in place
        states, exceptions = self.states, tree.exceptions
        for group in groups:
            if len(group) == 1:
                rule_id = group[0]
                state = states.get(rule_id)
                if state is not None and state[3] is False and rule_id not in exceptions:
                    continue  # a rule that does not apply, without exceptions: nothing
                current = self._resolve(rule_id, tree, output)
            else:
                current = self._siblings(group, tree, output)
            if current is NOTHING:
                continue
            if result is None or len(result.options) == 1:  # nothing yet, or only "nothing applies"
                result, owned = current, False
            elif owned:  # _fall_back in place
                options = result.options
                del options[EMPTY]
                for key, option in current.options.items():
                    if key not in options:
                        options[key] = option
                result.missing = result.missing | current.missing
            else:
                result, owned = _fall_back(result, current), True
            if EMPTY not in result.options:
                return result
        return result if result is not None else NOTHING

    def _siblings(self, group: tuple[str, ...], tree: OutputTree, output: str) -> Outcome:
        outcomes = [(rule_id, self._resolve(rule_id, tree, output)) for rule_id in group]
        definite = [(rule_id, o) for rule_id, o in outcomes if o.decided and not o.open]
        for (first_id, first), (second_id, second) in zip(definite, definite[1:]):
            if next(iter(first.options)) != next(iter(second.options)):
                self._conflict(output, first_id, first, second_id, second)
        options: dict[Any, tuple[Any, str | None]] = {}
        missing: frozenset[str] = frozenset()
        for _, outcome in outcomes:
            for key, option in outcome.options.items():
                if key is not EMPTY:
                    options.setdefault(key, option)
            if not outcome.decided or outcome.open:
                missing |= outcome.missing
        if all(o.open for _, o in outcomes):
            options[EMPTY] = (None, None)
        return Outcome(options, missing)

    def _conflict(self, output: str, first_id: str, first: Outcome, second_id: str, second: Outcome) -> None:
        rules = self.consolidation.rules
        a, b = rules[first_id], rules[second_id]
        raise ConflictError(
            f"conflict on '{output}': rule '{a.id}' ({a.span.file}:{a.span.line}) gives "
            f"{render(first.single()[0])} and rule '{b.id}' ({b.span.file}:{b.span.line}) gives "
            f"{render(second.single()[0])}, with equal priority; make one an exception to the other or give "
            f"them an order", a.span)


def _fall_back(first: Outcome, second: Outcome) -> Outcome:
    """``first``, where "nothing applies" is replaced by the possibilities of ``second``."""
    options = first.options
    if EMPTY not in options:
        return first
    if len(options) == 1:  # nothing but "nothing applies"
        return second
    merged = {key: option for key, option in options.items() if key is not EMPTY}
    for key, option in second.options.items():
        if key not in merged:
            merged[key] = option
    return Outcome(merged, first.missing | second.missing)
