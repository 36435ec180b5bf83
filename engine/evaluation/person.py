"""Generate one Python function that decides every wanted output of a person at once.

The functions of :mod:`engine.evaluation.codegen` decide one output each and keep what
they find in the evaluation's memo, so that an output met again, or an unknown met on
the way, can be taken up by the general path. When every fact a person's outputs need
is known, that bookkeeping is most of the cost. This module writes the plan's walk for a
whole tuple of wanted outputs as one function ``decide_all(ev)``, for that case alone:

- the outputs the wanted ones read are decided too, each after those it reads (the
  rules' free names give the order); each output's value, and how each rule stands, are
  kept in locals (``o3``, ``a7``), never in the memo;
- a rule is probed where the walk first needs it; where a later use may come first in
  some run, its local starts as ``GONE`` and the use probes it then;
- anything but known values ends the function: a missing fact (``facts[...]`` raises
  ``KeyError``), an unknown or an arithmetic failure (``bail()`` raises ``Bail``), two
  rules of equal standing that disagree, an error. The caller then evaluates the person
  by the per-output functions and the general path, which give the answer and its
  explanation as they always do (:meth:`engine.evaluation.codegen.Program.person`).

When a fact is missing, that function stops at once, and a second one, written the first
time that happens (``carry``), decides the person instead: the same walk, with the
expressions carrying unknowns (:class:`engine.evaluation.inline.Carry`) and each output's
walk joining what the rules that may give a value miss (``m``, ``y``, as the per-output
functions of :class:`engine.evaluation.codegen.OutputWriter` do) and weighing the values
they may give as the general path's possible outcomes do (``w``, ``q``). An output that
depends on what rules of equal standing may give is handed, alone, to its per-output
function (``bail()`` inside that output's ``try``); a conflict or an error stops the
function, and the per-output functions decide the person.

It returns the wanted outputs' decisions (:class:`engine.evaluation.outcomes.Decision`)
as a tuple, in the order asked; a decision on a literal value is made once, when the
function is written, and shared by every answer. The result is the same as the per-output functions', which the differential
tests check on random rule sets (tests/test_differential.py) and tests/test_person.py
on the decree; it records no rule states, so explanations and coverage come from an
evaluation by the per-output functions, rebuilt when asked for
(:attr:`engine.ruleset.Result.evaluation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from engine.evaluation.inline import Carry, Inline, Source
from engine.evaluation.outcomes import decision, decision_of, key_of, unknown_decision
from engine.evaluation.plan import Branch, Group, OutputPlan, Plan, RulePlan, VersionPlan
from engine.language.types import Vocabulary

if TYPE_CHECKING:
    from engine.language.expression import Expression


def needed(plan: Plan, wanted: tuple[str, ...]) -> list[str]:
    """``wanted`` and every output they read, each after the outputs it reads (in the
    plan's order where that leaves a choice)."""
    rank = {name: index for index, name in enumerate(plan.order)}

    def ranked(names: Iterable[str]) -> list[str]:
        return sorted(names, key=lambda name: (rank.get(name, -1), name), reverse=True)

    found: list[str] = []
    done: set[str] = set()
    # a depth-first walk with a stack of (output, whether what it reads is done)
    stack = [(name, False) for name in ranked(wanted)]
    while stack:
        name, ready = stack.pop()
        if name in done:
            continue
        if ready:
            done.add(name)
            found.append(name)
            continue
        stack.append((name, True))
        stack.extend((read, False) for read in ranked(reads(plan.outputs.get(name))) if read not in done)
    return found


def reads(output: OutputPlan | None) -> set[str]:
    """The outputs the walk of ``output`` may read."""
    if output is None:
        return set()
    names: set[str] = set()
    for rule in output.rules():
        expressions: list[Expression] = [rule.reference_date] if rule.reference_date is not None else []
        for version in rule.versions:
            if version.condition is not None:
                expressions.append(version.condition)
            if output.name in version.computes:
                expressions.append(version.computes[output.name])
        for expression in expressions:
            names.update(name for name in expression.free_names if Vocabulary.kind_of_name(name) == "output")
    names.discard(output.name)
    return names


class PersonWriter:
    """Writes ``decide_all(ev)`` for ``wanted`` (see the module docstring).

    Within an output's block (``while True: ... break``) a value found leaves the block;
    rules of equal standing are walked each in a block of its own, as in
    :class:`engine.evaluation.codegen.OutputWriter`."""

    def __init__(self, source: Source, plan: Plan, wanted: tuple[str, ...],
                 carry: Callable[[str], Callable[..., Any]] | None = None) -> None:
        self.source = source
        self.plan = plan
        self.wanted = wanted
        # the function that carries unknowns is written with ``carry``: output -> the
        # per-output function that decides it (engine.evaluation.codegen.Program.decide)
        self.carry = carry
        self.maybe = False  # carry: this output's walk has written code that may set ``m``
        self.tracked = False  # and code that keeps the literals rules that may apply give (w)
        self.vague = False  # and code in a sibling's block that may set ``m``
        self.values: dict[str, str] = {}  # output -> the local that holds its value
        self.deciders: dict[str, str] = {}  # wanted output -> the local that holds its deciding rule
        self.rules: dict[str, str] = {}  # rule id -> its number in the names of its locals
        self.started: set[str] = set()  # rules whose locals start as GONE (see _probe)
        self.known: list[set[str]] = []  # per depth: rules surely probed in the blocks open there
        self.loops: list[_Loop] = []  # the blocks left by break that are open
        self.capture: list[int] = []  # the levels of the sibling blocks being written
        self.output: OutputPlan | None = None
        self.name = ""
        self.companions: tuple[str, ...] = ()  # outputs decided in the block of this one

    def line(self, depth: int, text: str) -> None:
        loops = self.loops
        while loops and loops[-1].body > depth:  # a block closes: what it surely probed stays sure
            closed = loops.pop()
            del self.known[closed.body:]
            self._sure(closed.body - 1, closed.sure)
        del self.known[depth + 1:]  # deeper blocks are closed: what they probed may not have run
        self.source.line(depth, text)

    def _loop(self, depth: int) -> None:
        """Open a block (``while True:``) that ``break`` leaves."""
        self.line(depth, "while True:")
        self.loops.append(_Loop(depth + 1))

    def _break(self, depth: int) -> None:
        self.line(depth, "break")
        self.loops[-1].left = True

    def _sure(self, depth: int, rules: Iterable[str]) -> None:
        """``rules`` stand in their locals from here on, in the block at ``depth``."""
        while len(self.known) <= depth:
            self.known.append(set())
        self.known[depth].update(rules)
        loop = self.loops[-1] if self.loops else None
        if loop is not None and loop.body == depth and not loop.left:  # run each time the block is
            loop.sure.update(rules)

    def write(self) -> None:
        source = self.source
        order = needed(self.plan, self.wanted)
        for index, name in enumerate(order):
            self.values[name] = f"o{index}"
        for name in self.wanted:
            self.deciders[name] = f"r{self.values[name][1:]}"  # its decision
        together = {} if self.carry else _decided_together(self.plan, order)
        self.line(0, "def decide_all(ev):")
        self.line(1, "facts = ev.facts")
        self.line(1, "on = ev.on")
        start = len(source.lines)
        skipped: set[str] = set()
        for name in order:
            if name in skipped:
                continue
            self.name, self.output = name, self.plan.outputs.get(name)
            self.companions = together.get(name, ())
            skipped.update(self.companions)
            self._output(1)
        for index, rule_id in enumerate(sorted(self.started, key=lambda r: int(self.rules[r]))):
            source.lines.insert(start + index, f"    a{self.rules[rule_id]} = GONE")
        self.line(1, f"return ({''.join(f'{self.deciders[name]}, ' for name in self.wanted)})")

    def _output(self, depth: int) -> None:
        if self.output is None:  # no rule sets it: not applicable
            self.line(depth, f"{self.values[self.name]} = None")
            self._decision(depth, self.name, None)
            return
        outer = depth
        if self.carry:  # where OutputWriter hands the output on, bail() hands it to its function
            self.line(outer, "try:")
            depth += 1
        start, self.maybe, self.vague, self.tracked = len(self.source.lines), False, False, False
        self._loop(depth)
        self._groups(depth + 1, self.output.groups)
        if self.maybe:
            # no rule surely gave a value, some may: unknown on what they miss (or, m
            # being None, not applicable), as the general path says (Outcome.value)
            first = ["m = None", "y = False"] + (["w = GONE", "q = False"] if self.tracked else [])
            self.source.lines[start:start] = ["    " * depth + text for text in first]
            self._settled(depth + 1, "m")
        else:
            for name in (self.name,) + self.companions:
                self.line(depth + 1, f"{self.values[name]} = None  # no rule gives a value: not applicable")
                self._decision(depth + 1, name, None)
        self._break(depth + 1)
        if self.carry:
            self._handed_over(outer)

    def _handed_over(self, depth: int) -> None:
        """``except Bail:`` the output decided by its per-output function, which hands it
        to the general path where it must (nothing after the block counts on a rule
        probed in it: a bail may have left it before)."""
        assert self.carry is not None
        bind, name = self.source.bind, self.name
        self.line(depth, "except Bail:")
        key, decide = bind(name), bind(self.carry, "the per-output function of an output")
        # the outputs it reads are decided (needed() orders them first): into the memo,
        # so that its function and the general path read them, not decide them again
        for read in sorted(reads(self.output)):
            self.line(depth + 1, f"ev.values[{bind(read)}] = {self.values[read]}")
        local, t = self.values[name], self.source.temp()
        self.line(depth + 1, f"{local} = {t} if ({t} := ev.values.get({key}, GONE)) is not GONE else {decide}({key})(ev)")
        decision_local = self.deciders.get(name)
        if decision_local is not None:
            made = bind(decision_of, "decision_of (engine.evaluation.outcomes)")
            self.line(depth + 1, f"{decision_local} = {made}({key}, {local}, ev.deciders.get({key}))")

    # -- values --------------------------------------------------------------------

    def _found(self, depth: int, value: str, rule: str, given: tuple[RulePlan, VersionPlan] | None) -> None:
        """``value`` found, given by ``rule`` (the code of its id); ``given``: the rule
        and version, when it is theirs (not the agreement of a group)."""
        if self.capture:  # inside a sibling's block: keep the value and the rule, leave the block
            level = self.capture[-1]
            self.line(depth, f"f{level} = {value}")
            self.line(depth, f"g{level} = {rule}")
        else:
            if self.maybe:  # a rule before it may give a value
                self._weighed(depth, value, given)
            self.line(depth, f"{self.values[self.name]} = {value}")
            self._decision(depth, self.name, given or rule)
        self._break(depth)

    def _weighed(self, depth: int, value: str, given: tuple[RulePlan, VersionPlan] | None) -> None:
        """A rule surely gives ``value`` after rules that may give one (``m``): as the
        general path's options, the output is the first value if every one has its key
        (decided by no single rule, unless no fact is missing), and otherwise unknown on
        ``m``. Past what siblings may give (``vague``) it bails: the general path weighs.
        Outside siblings every join of ``m`` sets ``y`` (which _any_value settles before
        this) or ``w`` (_may_apply), so ``w`` holds a key wherever this code runs."""
        if self.vague:
            self.line(depth, "if m is not None: bail()")
            return
        bind = self.source.bind
        if given is not None and self.name in given[1].sets:
            key = bind(key_of(given[1].sets[self.name]), "its key")
        else:
            key = f"{bind(key_of, 'key_of (engine.evaluation.outcomes)')}({value})"
        self.line(depth, "if m is not None:")
        self.line(depth + 1, f"if q or w != {key}:")
        self._settled(depth + 2, "m")
        self._break(depth + 2)
        self.line(depth + 1, f"{self.values[self.name]} = wv")
        local = self.deciders.get(self.name)
        if local is not None:
            self.line(depth + 1, f"{local} = decided({bind(self.name)}, wv, None if m.missing else wr)")
        self._break(depth + 1)

    def _decision(self, depth: int, name: str, given: tuple[RulePlan, VersionPlan] | str | None) -> None:
        """The decision on ``name`` (if wanted), after its value: not applicable (None),
        given by a rule's version, or by the rule whose id is in the local ``given``.
        Where the value is a literal it is made now, once (outcomes.decision)."""
        local = self.deciders.get(name)
        if local is None:
            return
        bind = self.source.bind
        if given is None:
            code = bind(decision(name, None, None), f"decision: {name!r} not applicable")
        elif isinstance(given, str):
            code = f"decided({bind(name)}, {self.values[name]}, {given})"
        elif name in given[1].sets:
            rule, version = given
            code = bind(decision(name, version.sets[name], rule.id), f"decision: {name!r} by {rule.id!r}")
        else:
            code = f"decided({bind(name)}, {self.values[name]}, {bind(given[0].id)})"
        self.line(depth, f"{local} = {code}")

    def _inline(self, depth: int, expression: Expression, reference: str, scope: str) -> str:
        """``expression`` as Python over the locals; ``reference`` is the code of its
        reference date, ``scope`` the code of its scope (assigned to ``scope`` first
        when the code runs a closure in place)."""
        kind = Carry if self.carry else Inline
        inline = kind(self.source, expression, self.plan, _no_function, reference, self.values)
        code = inline.expr(expression.node)
        if inline.reads_scope:
            self.line(depth, f"scope = {scope}")
        return code

    # -- the tree ------------------------------------------------------------------

    def _groups(self, depth: int, groups: tuple[Group, ...]) -> None:
        for group in groups:
            if len(group) == 1:
                self._branch(depth, group[0])
            else:
                self._siblings(depth, group)

    def _branch(self, depth: int, branch: Branch) -> None:
        source, rule = self.source, branch.rule
        assert self.output is not None
        self._groups(depth, branch.exceptions)
        number = self._probe(depth, rule)
        rule_id = source.bind(rule.id)
        self.line(depth, f"if a{number} is True:" if self.carry else f"if a{number}:")
        versions = [v for v in rule.versions if v.gives(self.name)]
        for index, version in enumerate(versions):
            inner = depth + 1
            if len(rule.versions) > 1:  # when it applies, a rule of one version is in that version
                loaded = source.bind(version.version, f"version of {rule.id!r} from {version.start}")
                self.line(inner, f"{'if' if index == 0 else 'elif'} v{number} is {loaded}:")
                inner += 1
            if self.companions:  # the same rule decides them (_decided_together), in the order they read each other
                for name in sorted((self.name,) + self.companions, key=list(self.values).index):
                    self.line(inner, f"{self.values[name]} = {self._value(inner, version, name, number)}")
                    self._decision(inner, name, (rule, version))
                self._break(inner)
                continue
            value = self._value(inner, version, self.name, number)
            if self.carry and self.name not in version.sets:
                self.line(inner, f"v = {value}")
                self.line(inner, "if type(v) is Unknown:")
                self._unknown_value(inner + 1)
                value = "v"
            self._any_value(inner)
            self._found(inner, value, rule_id, (rule, version))
        if not versions:
            self.line(depth + 1, "pass")
        if self.carry:
            self.line(depth, f"elif a{number} is not False and a{number} is not None:  # unknown: it may apply")
            if self.capture or not self.output.ends_with(branch) \
                    or not self._last_may_apply(depth + 1, rule, number):
                self._may_apply(depth + 1, rule, number)

    def _value(self, depth: int, version: VersionPlan, name: str, number: str) -> str:
        """The code of the value ``version`` gives ``name``, its rule's locals numbered ``number``."""
        if name in version.sets:
            return self.source.bind(version.sets[name])
        dated = self.plan.rules[version.version.rule_id].reference_date is not None
        reference, scope = (f"d{number}", f"ev.scope_on(d{number})") if dated else ("on", "ev")
        code = self._inline(depth, version.computes[name], reference, scope)
        output = self.plan.outputs.get(name)
        return f"as_set({code})" if output is not None and output.as_set else code

    def _siblings(self, depth: int, group: Group) -> None:
        """Rules of equal standing: each is walked in a block of its own, which leaves its
        value in ``f<level>`` (GONE: none) and its rule in ``g<level>``; they must agree."""
        key = self.source.bind(key_of, "key_of (engine.evaluation.outcomes)")
        level = len(self.capture)
        found, by, current, rule = f"found{level}", f"by{level}", f"f{level}", f"g{level}"
        self.line(depth, f"{found} = GONE")
        for branch in group:
            self.capture.append(level)
            self._loop(depth)
            self._branch(depth + 1, branch)
            self.line(depth + 1, f"{current} = GONE")
            self._break(depth + 1)
            self.capture.pop()
            self.line(depth, f"if {current} is not GONE:")
            self.line(depth + 1, f"if {found} is GONE:")
            self.line(depth + 2, f"{found} = {current}")
            self.line(depth + 2, f"{by} = {rule}")
            self.line(depth + 1, f"elif {key}({found}) != {key}({current}):")
            self.line(depth + 2, "bail()  # a conflict, or not: the general path tells")
        self.line(depth, f"if {found} is not GONE:")
        self._found(depth + 1, found, by, None)

    # -- unknowns (the function that carries them) ---------------------------------
    # As engine.evaluation.codegen.OutputWriter, whose walk these follow step by step:
    # ``m`` joins what the rules that may give a value miss, ``y`` says one of them may
    # give any value; ``w``/``wv``/``wr``/``q`` keep the values they may give (_weighed).
    # Where this function cannot settle an output, bail() hands that output alone to its
    # per-output function (_handed_over).

    def _settled(self, depth: int, value: str) -> None:
        """The output's value is ``value``: an unknown, or None (not applicable)."""
        local = self.values[self.name]
        self.line(depth, f"{local} = {value}")
        decision_local = self.deciders.get(self.name)
        if decision_local is not None:
            bind = self.source.bind
            absent = bind(decision(self.name, None, None), f"decision: {self.name!r} not applicable")
            unknown = bind(unknown_decision, "unknown_decision (engine.evaluation.outcomes)")
            self.line(depth, f"{decision_local} = {absent} if {local} is None else {unknown}({bind(self.name)}, {local})")

    def _may_apply(self, depth: int, rule: RulePlan, number: str) -> None:
        """The rule may apply (``a<n>`` is unknown): see OutputWriter._may_apply."""
        applies, version, bind = f"a{number}", f"v{number}", self.source.bind

        def loaded(plan: VersionPlan) -> str:
            return bind(plan.version, f"version of {rule.id!r} from {plan.start}")

        join = f"m = {applies} if m is None else m if {applies} is m else m | {applies}"
        computing = [v for v in rule.versions if self.name in v.computes]
        if computing and self.capture:  # the general path weighs what siblings may compute
            self.line(depth, f"if {' or '.join(f'{version} is {loaded(v)}' for v in computing)}:")
            self.line(depth + 1, "bail()")
        elif computing:  # its value, computed as the general path computes it, may be given
            key = bind(key_of, "key_of (engine.evaluation.outcomes)")
            self.tracked = True
            for plan in computing:
                self.line(depth, f"if {version} is {loaded(plan)}:")
                self.line(depth + 1, f"u = {self._value(depth + 1, plan, self.name, number)}")
                self.line(depth + 1, join)
                self.line(depth + 1, "if type(u) is Unknown:  # any value may be given")
                self.line(depth + 2, "m = m | u")
                self.line(depth + 2, "y = True")
                self.line(depth + 1, f"elif w is GONE: w, wv, wr = {key}(u), u, {bind(rule.id)}")
                self.line(depth + 1, f"elif w != {key}(u): q = True")
        if not all(self.name in v.sets for v in rule.versions):
            giving = [f"{version} is {loaded(v)}" for v in rule.versions if self.name in v.sets]
            self.line(depth, f"if {' or '.join([f'{version} is None'] + giving)}:")
            depth += 1
        self.line(depth, join)
        self.line(depth, f"if {version} is None: y = True")
        self.maybe = True
        if self.capture:  # what siblings may give is the general path's to weigh (_found hands it over)
            self.vague = True
            return
        # the literal it may give: the first one kept (``w`` its key, ``wv`` it, ``wr`` the
        # rule), ``q`` set when another one differs, as the general path's options
        self.tracked = True
        for plan in rule.versions:
            if self.name in plan.sets:
                value = plan.sets[self.name]
                key = bind(key_of(value), f"key of {value!r}")
                test = f"{version} is {loaded(plan)}"
                self.line(depth, f"if {test} and w is GONE: w, wv, wr = {key}, {bind(value)}, {bind(rule.id)}")
                self.line(depth, f"elif {test} and w != {key}: q = True")

    def _last_may_apply(self, depth: int, rule: RulePlan, number: str) -> bool:
        """The tree's last rule may apply: see OutputWriter._last_may_apply."""
        always = all(self.name in version.sets for version in rule.versions)
        if not always:
            self.line(depth, f"if v{number} is None:  # no version known: what the general path would say")
            depth += 1
        applies = f"a{number}"
        self._settled(depth, f"(m | {applies} if m is not None else {applies})" if self.maybe else applies)
        self._break(depth)
        return always

    def _unknown_value(self, depth: int) -> None:
        """The rule applies and its value ``v`` is unknown: see OutputWriter._unknown_value."""
        if self.capture:
            self.line(depth, "bail()")
            return
        self._settled(depth, "(m | v if m is not None else v)" if self.maybe else "v")
        self._break(depth)

    def _any_value(self, depth: int) -> None:
        """A rule before this one may give any value: see OutputWriter._any_value."""
        if not self.carry or self.capture or not self.maybe:
            return
        self.line(depth, "if y:")
        self._settled(depth + 1, "m")
        self._break(depth + 1)

    # -- rules ---------------------------------------------------------------------

    def _probe(self, depth: int, rule: RulePlan) -> str:
        """Code that leaves how ``rule`` stands in its locals, unless it surely stands
        there already: ``a<n>`` whether it applies (true, or false or none), ``v<n>``
        the version in force, ``d<n>`` its reference date. Returns ``n``."""
        number = self.rules.get(rule.id)
        if number is None:  # the first use in the text: the first in every run
            number = self.rules[rule.id] = str(len(self.rules))
            self._write_probe(depth, rule, number)
        elif not any(rule.id in known for known in self.known[:depth + 1]):
            self.started.add(rule.id)
            self.line(depth, f"if a{number} is GONE:")
            self._write_probe(depth + 1, rule, number)
        self._sure(depth, (rule.id,))
        return number

    def _write_probe(self, depth: int, rule: RulePlan, number: str) -> None:
        applies, version = f"a{number}", f"v{number}"
        reference = "on"
        if rule.reference_date is not None:
            reference = f"d{number}"
            self.line(depth, f"{reference} = {self._inline(depth, rule.reference_date, 'on', 'ev')}")
            self.line(depth, f"if {reference} is None:  # no version can be chosen")
            self.line(depth + 1, f"{applies} = False")
            if self.carry:  # unknown: so is which version is in force, and whether it applies
                self.line(depth, f"elif type({reference}) is Unknown:")
                self.line(depth + 1, f"{applies} = {reference}")
                self.line(depth + 1, f"{version} = None")
            self.line(depth, "else:")
            depth += 1
        scope = "ev" if rule.reference_date is None else f"ev.scope_on({reference})"
        keyword = "if"
        for plan in reversed(rule.versions):  # the version in force: the last one started, if not ended
            self.line(depth, f"{keyword} {self.source.bind(plan.start)} <= {reference}:")
            keyword = "elif"
            body = depth + 1
            if plan.until is not None:
                self.line(depth + 1, f"if {reference} < {self.source.bind(plan.until)}:")
                body = depth + 2
            condition = "True" if plan.condition is None else self._inline(body, plan.condition, reference, scope)
            self.line(body, f"{applies} = {condition}")
            if len(rule.versions) > 1 or self.carry:
                loaded = self.source.bind(plan.version, f"version of {rule.id!r} from {plan.start}")
                self.line(body, f"{version} = {loaded}")
            if plan.until is not None:
                self.line(depth + 1, "else:")
                self.line(depth + 2, f"{applies} = False")
        if keyword == "if":  # no version at all
            self.line(depth, f"{applies} = False")
        else:
            self.line(depth, "else:")
            self.line(depth + 1, f"{applies} = False")


def _decided_together(plan: Plan, order: list[str]) -> dict[str, tuple[str, ...]]:
    """Output -> its companions (engine.evaluation.plan.OutputPlan.companions) that its
    block decides as well: where no two rules of their tree are of equal standing, the
    rule that decides one gives the others theirs (every version gives every one of
    them), and none applying leaves them all not applicable. The first of them in
    ``order`` gets the block, if what their computed values read is decided before it."""
    found: dict[str, tuple[str, ...]] = {}
    taken: set[str] = set()
    position = {name: index for index, name in enumerate(order)}
    for name in order:
        output = plan.outputs.get(name)
        if output is None or name in taken or not output.companions:
            continue
        companions = tuple(c for c in output.companions if c in position and c not in taken)
        every = sorted((name,) + companions, key=position.__getitem__)
        branches = list(output.branches())
        if not companions or any(len(group) > 1 for group in output.groups) \
                or any(len(group) > 1 for branch in branches for group in branch.exceptions):
            continue
        ready = set(order[:position[name]])
        for target in every:
            for branch in branches:
                for version in branch.rule.versions:
                    computed = version.computes.get(target)
                    if computed is not None:
                        ready = ready if _reads(computed) <= ready else set()  # set(): not ready
            if not ready:
                break
            ready.add(target)
        else:
            found[name] = companions
            taken.update(every)
    return found


def _reads(expression: Expression) -> set[str]:
    return {name for name in expression.free_names if Vocabulary.kind_of_name(name) == "output"}


class _Loop:
    """An open block that ``break`` leaves: the depth of its body, the rules probed in it
    before anything could leave it, and whether something could."""

    __slots__ = ("body", "sure", "left")

    def __init__(self, body: int) -> None:
        self.body = body
        self.sure: set[str] = set()
        self.left = False


def _no_function(output: str) -> Any:
    raise AssertionError(f"output {output!r} is read before it is decided")  # needed() orders them
