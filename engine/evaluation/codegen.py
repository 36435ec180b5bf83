"""Generate one Python function per output from the plan: the fast path of evaluation.

Evaluating a person visits nearly every rule of the decree, and in CPython the cost of a
visit is mostly calls and lookups between closures. For the common case, where the facts
a rule reads are known, this module writes each output's :class:`engine.evaluation.plan.OutputPlan`
as one straight function ``decide(ev)``: the walk over its exception tree, with the probe
of each rule (reference date, version in force, condition) written in place and its
expressions inlined (:mod:`engine.evaluation.inline`). It is compiled on first use (the
technique of ``dataclasses``, ``attrs`` and ``fastjsonschema``); functions of the same
text share one code object.

The function records the output in the evaluation's memo (value and deciding rule) and
each probed rule as a :class:`engine.evaluation.runtime.RuleState`. Past a rule that may
apply (its condition or reference date unknown) and sets the output literally, it walks
on as the general path does, joining what such rules miss: if no rule surely gives a
value, the output is unknown on exactly that, as the general path would say. Otherwise,
at an unknown it hands the output to the general path (``ev.resolve``), which reuses the
states found, unless that unknown is the value of an applying rule outside a group of
siblings, which is then the answer. What generated code may touch is listed in :mod:`engine.evaluation.runtime`;
the generator decides what to write from the plan alone. :func:`generated_source` prints
the code of an output (``python -m tools.codegen``).

:class:`Program` also holds, per tuple of wanted outputs, the function that decides them
all at once for a person whose values are all known (:mod:`engine.evaluation.person`),
written when the same outputs are asked for the second time, and the one that decides
them when facts are missing, carrying unknowns; where both stop (an unknown they cannot
settle in hand, a conflict, an error), these per-output functions decide.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import TYPE_CHECKING, Any, Callable, Iterable

from engine.evaluation import runtime
from engine.evaluation.inline import Carry, Source
from engine.errors import PolicyError
from engine.evaluation.outcomes import Decision, key_of
from engine.evaluation.person import PersonWriter, needed
from engine.evaluation.runtime import Bail
from engine.evaluation.plan import Branch, Group, OutputPlan, Plan, RulePlan

if TYPE_CHECKING:
    from engine.evaluation.general import Evaluation
    from engine.language.expression import Expression

Decide = Callable[["Evaluation"], Any]  # records the output in the memo, returns its value
# decides every wanted output of a person: their decisions (engine.evaluation.person)
DecideAll = Callable[["Evaluation"], tuple[Decision, ...]]
# what ends a person's function before its answer: a missing fact, an unknown or a
# conflict (Bail), an error; the per-output functions then decide, and report any error
_LEFT = (Bail, KeyError, PolicyError)
PERSON_AFTER = 2  # a person's function is written when the same outputs are asked the 2nd time
# beyond this many rules in their trees, outputs are left to the per-output functions: a
# person's function of 1,000 rules takes about half a second to write and compile
PERSON_RULES = 1000
_PREAMBLE = ("facts = ev.facts", "values = ev.values", "states = ev.states", "deciders = ev.deciders")


@functools.lru_cache(maxsize=4096)
def _compiled(text: str) -> CodeType:
    """Compiling is most of the cost of writing a function, and rules of the same shape
    give the same text (their ids, names and values are bound, not written): code objects
    are shared by text, and each function gets its own namespace."""
    return compile(text, "<decree generated>", "exec")


class Program:
    """The generated functions of a plan, written on first use and shared by every
    evaluation with it; two threads racing to write one keep either, harmlessly."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.functions: dict[str, Decide] = {}

        # wanted outputs -> the function that decides them at once (None: not written,
        # see person), and how often each tuple was asked before its function was written
        self.persons: dict[tuple[str, ...], DecideAll | None] = {}
        self.asked: dict[tuple[str, ...], int] = {}
        # wanted outputs -> the function that decides them at once carrying unknowns,
        # written when the person's function first stops (see decide_all)
        self.carriers: dict[tuple[str, ...], DecideAll | None] = {}

    def __getstate__(self) -> dict[str, Any]:  # written again where needed
        return {"plan": self.plan, "functions": {}, "persons": {}, "asked": {}, "carriers": {}}

    def decide_all(self, evaluation: Evaluation, wanted: tuple[str, ...]) -> tuple[Decision, ...] | None:
        """The decisions on ``wanted`` (in that order) when every value on the way is
        known, by the function of a whole person
        (:mod:`engine.evaluation.person`); None when that function stopped or is not
        written. ``evaluation`` gets no memo: decide anew with :meth:`run` when None."""
        function = self.persons.get(wanted)
        if function is None:
            function = self.person(wanted)
            if function is None:
                return None
        try:
            return function(evaluation)
        except _LEFT:
            return None

    def carry_all(self, evaluation: Evaluation, wanted: tuple[str, ...]) -> tuple[Decision, ...] | None:
        """The decisions on ``wanted`` by the function that carries unknowns, once
        :meth:`decide_all` stopped (a fact missing, a value unknown); written the first
        time it is needed. None where it stops too, or where the person's function is
        not written (then neither is this one): decide anew with :meth:`run`."""
        if self.persons.get(wanted) is None:
            return None
        if wanted in self.carriers:
            carrier = self.carriers[wanted]
        else:
            carrier = self._written(PersonWriter(Source(), self.plan, wanted, carry=self.decide))
            if len(self.carriers) < 256:
                self.carriers[wanted] = carrier
        if carrier is None:
            return None
        try:
            return carrier(evaluation)
        except _LEFT:
            return None

    def person(self, wanted: tuple[str, ...], *, now: bool = False) -> DecideAll | None:
        """The function that decides ``wanted`` at once, written the
        :data:`PERSON_AFTER`-th time it is asked for (or ``now``): a one-shot
        evaluation, or the first of a large rule set, costs no more than before. None
        before then, and for trees of over :data:`PERSON_RULES` rules (one function
        that large compiles slowly)."""
        if wanted in self.persons:
            return self.persons[wanted]
        if not now:
            if len(self.asked) >= 4096:
                return None  # a service asking ever other outputs: the per-output functions serve it
            asked = self.asked[wanted] = self.asked.get(wanted, 0) + 1
            if asked < PERSON_AFTER:
                return None
        function = self._written(PersonWriter(Source(), self.plan, wanted))
        if len(self.persons) < 256:  # a service asking ever other outputs does not grow this
            self.persons[wanted] = function
        return function

    def _written(self, writer: PersonWriter) -> DecideAll | None:
        """The function ``writer`` writes, compiled; None for trees of over
        :data:`PERSON_RULES` rules, or code nested past Python's limits."""
        if sum(len(self.plan.outputs[name].rules()) for name in needed(self.plan, writer.wanted)
               if name in self.plan.outputs) > PERSON_RULES:
            return None
        writer.write()
        source = writer.source
        try:  # one text per tuple of outputs: not kept in _compiled's cache
            code = compile(source.text, "<decree generated>", "exec")
        except (SyntaxError, RecursionError, MemoryError):
            return None
        exec(code, source.namespace)
        function: DecideAll = source.namespace["decide_all"]
        return function

    def person_source(self, wanted: tuple[str, ...], carry: bool = False) -> Source:
        """The source of the function that decides ``wanted`` at once."""
        source = Source()
        PersonWriter(source, self.plan, wanted, self.decide if carry else None).write()
        return source

    def decide(self, output: str) -> Decide:
        """The function that decides ``output`` in an evaluation and records it."""
        found = self.functions.get(output)
        if found is None:
            found = self.functions[output] = self._function(output)
        return found

    def run(self, evaluation: Evaluation, outputs: Iterable[str]) -> None:
        """Decide ``outputs`` (in the graph's order: each after those it reads)."""
        values, functions = evaluation.values, self.functions
        for output in outputs:
            if output not in values:
                (functions.get(output) or self.decide(output))(evaluation)

    def _function(self, output: str) -> Decide:
        source = self.source(output)
        exec(_compiled(source.text), source.namespace)
        function: Decide = source.namespace["decide"]
        return function

    def source(self, output: str) -> Source:
        """The source of ``output``'s function, with the objects it names."""
        source = Source()
        found = self.plan.outputs.get(output)
        OutputWriter(source, self.plan, self.decide, found, output).write()
        return source


def generated_source(plan: Plan, output: str) -> str:
    """The Python that decides ``output``, as it runs, after the import of the runtime
    names it may use (like Jinja's ``Environment.compile(raw=True)``). Bound objects
    appear as ``k<n>``; a comment lists what each stands for."""
    return _printed(Program(plan).source(output))


def generated_person_source(plan: Plan, wanted: tuple[str, ...], carry: bool = False) -> str:
    """The Python that decides ``wanted`` at once for a person with every value known
    (:mod:`engine.evaluation.person`), or with ``carry`` when facts are missing, printed
    as :func:`generated_source` prints."""
    return _printed(Program(plan).person_source(wanted, carry))


def _printed(source: Source) -> str:
    header = [f"from engine.evaluation.runtime import {', '.join(n for n in runtime.exported if n != 'type')}"]
    header += [f"# {name} = {label[:100]}" for name, label in source.labels.items()]
    return "\n".join(header) + "\n\n" + source.text


def write_inlined(source: Source, depth: int, target: str, expression: Expression, plan: Plan,
                  decide: Callable[[str], Decide], reference: str, scope: str) -> None:
    """``target = expression``, carrying unknowns (:class:`engine.evaluation.inline.Carry`).
    ``reference`` is the code of the expression's reference date, ``scope`` the code of
    its scope (assigned to the local ``scope`` only when the code needs it)."""
    carry = Carry(source, expression, plan, decide, reference)
    carried = carry.expr(expression.node)
    if carry.reads_scope:
        source.line(depth, f"scope = {scope}")
    source.line(depth, f"{target} = {carried}")


def write_probe(source: Source, depth: int, rule: RulePlan, plan: Plan, decide: Callable[[str], Decide]) -> None:
    """Code that finds how ``rule`` stands (reference date, version in force, whether it
    applies), leaves it in ``s`` and records it in ``states``."""
    line = source.line
    name = source.bind(rule.rule, f"rule {rule.id!r}")

    def state(reference: str, version: str, applies: str) -> str:
        return f"s = new_state(RuleState, ({name}, {reference}, {version}, {applies}))"

    if rule.reference_date is None:
        line(depth, "reference = ev.on")
        scope, inner = "ev", depth
    else:
        write_inlined(source, depth, "reference", rule.reference_date, plan, decide, "ev.on", "ev")
        line(depth, "if reference is None or type(reference) is Unknown:  # no version can be chosen")
        line(depth + 1, state("reference", "None", "False if reference is None else reference"))
        line(depth, "else:")
        scope, inner = "ev.scope_on(reference)", depth + 1
    outside = state("reference", "None", "False")
    keyword = "if"
    # the version in force: the last one started, if it has not ended (newest first)
    for version in reversed(rule.versions):
        line(inner, f"{keyword} {source.bind(version.start)} <= reference:")
        keyword = "elif"
        body = inner + 1
        if version.until is not None:
            line(inner + 1, f"if reference < {source.bind(version.until)}:")
            body = inner + 2
        loaded = source.bind(version.version, f"version of {rule.id!r} from {version.start}")
        if version.condition is None:
            line(body, state("reference", loaded, "True"))
        else:
            write_inlined(source, body, "applies", version.condition, plan, decide, "reference", scope)
            line(body, state("reference", loaded, "False if applies is None else applies"))
        if version.until is not None:
            line(inner + 1, "else:")
            line(inner + 2, outside)
    if keyword == "if":  # no version at all
        line(inner, outside)
    else:
        line(inner, "else:")
        line(inner + 1, outside)
    line(depth, f"states[{source.bind(rule.id)}] = s")


class OutputWriter:
    """Writes the function that decides one output: its exception tree as straight code,
    exceptions first.

    Each rule of a group of siblings is walked in a block (``while True: ... break``)
    that leaves its value and rule in locals, and the group's results are compared; a
    disagreement goes to the general path, which reports it."""

    def __init__(self, source: Source, plan: Plan, decide: Callable[[str], Decide], output: OutputPlan | None,
                 name: str) -> None:
        self.source = source
        self.plan = plan
        self.decide = decide
        self.output = output
        self.name = name
        self.capture: list[int] = []  # the levels of the sibling blocks being written (see _siblings)
        self.maybe = False  # whether code that may set ``m`` is written (see _may_apply)

    def write(self) -> None:
        source = self.source
        name = source.bind(self.name)
        source.line(0, "def decide(ev):")
        for text in _PREAMBLE:
            source.line(1, text)
        source.line(1, "m = None  # what the rules that may give a value miss (see _may_apply)")
        source.line(1, "y = False  # one of them may give any value: its reference date is unknown")
        if self.output is not None:
            self._groups(1, self.output.groups)
        if self.maybe:
            # no rule surely gave a value, some may: unknown on what they miss, as the
            # general path says (engine.evaluation.outcomes.Outcome.value). Companions
            # are left to their own functions, whose walks meet the same rules.
            source.line(1, "if m is not None:")
            source.line(2, f"values[{name}] = m")
            source.line(2, "return m")
        source.line(1, f"values[{name}] = None  # no rule gives a value: not applicable")
        source.line(1, "return None")

    def _found(self, depth: int, value: str, rule: str) -> None:
        line = self.source.line
        if self.capture:  # inside a sibling's block: keep the value and the rule, leave the block
            level = self.capture[-1]
            line(depth, f"f{level} = {value}")
            line(depth, f"g{level} = {rule}")
            line(depth, "break")
        else:
            name = self.source.bind(self.name)
            self._handed_over_if_maybe(depth)
            line(depth, f"values[{name}] = {value}")
            line(depth, f"deciders[{name}] = {rule}")
            line(depth, f"return {value}")

    def _handed_over_if_maybe(self, depth: int) -> None:
        """Where the walk would record a result outside any group of siblings: a rule met
        before may have given a value (``u``), so the output goes to the general path."""
        if self.maybe:
            self.source.line(depth, f"if m is not None: return ev.resolve({self.source.bind(self.name)})")

    def _undecided(self, depth: int) -> None:
        if self.capture:
            self.source.line(depth, f"f{self.capture[-1]} = UNDECIDED")
            self.source.line(depth, "break")
        else:
            self.source.line(depth, f"return ev.resolve({self.source.bind(self.name)})")

    def _groups(self, depth: int, groups: tuple[Group, ...]) -> None:
        """Returns at the first group that gives a value (or meets an unknown)."""
        for group in groups:
            if len(group) == 1:
                self._branch(depth, group[0])
            else:
                self._siblings(depth, group)

    def _branch(self, depth: int, branch: Branch) -> None:
        source, line, rule = self.source, self.source.line, branch.rule
        assert self.output is not None
        self._groups(depth, branch.exceptions)
        rule_id = source.bind(rule.id)
        line(depth, f"s = states.get({rule_id})")
        line(depth, "if s is None:")
        write_probe(source, depth + 1, rule, self.plan, self.decide)
        line(depth, "a = s.applies")
        line(depth, "if a is not False:")
        line(depth + 1, "if a is not True:")
        if self.capture or not self.output.ends_with(branch) or not self._last_may_apply(depth + 2, rule):
            self._may_apply(depth + 2, rule)
        line(depth + 1, "else:")
        versions = [v for v in rule.versions if v.gives(self.name)]
        if not versions:
            line(depth + 2, "pass")
        for index, version in enumerate(versions):
            inner = depth + 2
            if len(rule.versions) > 1:  # when it applies, a rule of one version is in that version
                loaded = source.bind(version.version, f"version of {rule.id!r} from {version.start}")
                line(inner, f"{'if' if index == 0 else 'elif'} s.version is {loaded}:")
                inner += 1
            if self.name in version.sets:
                self._any_value(inner)
                if not self.capture and self.output.companions:
                    self._handed_over_if_maybe(inner)
                    # the same rule decides the companions; literal ones cost nothing
                    for companion in self.output.companions:
                        if companion in version.sets:
                            kept = source.bind(companion)
                            line(inner, f"values[{kept}] = {source.bind(version.sets[companion])}")
                            line(inner, f"deciders[{kept}] = {rule_id}")
                self._found(inner, source.bind(version.sets[self.name]), rule_id)
                continue
            computed = version.computes[self.name]
            write_inlined(source, inner, "v", computed, self.plan, self.decide, "s.reference",
                          "ev.scope_on(s.reference)")
            if self.output.as_set:
                line(inner, "v = as_set(v)")
            line(inner, "if type(v) is Unknown:")
            self._unknown_value(inner + 1)
            self._any_value(inner)
            self._found(inner, "v", rule_id)

    def _may_apply(self, depth: int, rule: RulePlan) -> None:
        """The rule may apply (``a`` is unknown). The general path (``Evaluation._walk``)
        then adds what it may give, and the facts ``a`` misses, and walks on; so does this
        code, probing the rules the general path would probe next, in the same order,
        and joining in ``m`` what the rules that may give a value miss. If a later rule
        surely gives a value, the general path answers (finding those rules probed); if
        none does, the output is unknown on ``m``. A version in force that does not set
        the output adds nothing. Where the version in force computes the output, the
        general path would compute that value first (which may read other outputs, or
        fail): the output is handed over here."""
        line, bind = self.source.line, self.source.bind
        if any(self.name in version.computes for version in rule.versions):
            versions = [bind(v.version, f"version of {rule.id!r} from {v.start}")
                        for v in rule.versions if self.name in v.computes]
            line(depth, f"if {' or '.join(f's.version is {v}' for v in versions)}:")
            self._undecided(depth + 1)
        if not all(self.name in version.sets for version in rule.versions):
            # no version known (the reference date is unknown), or one that sets it
            giving = [f"s.version is {bind(v.version, f'version of {rule.id!r} from {v.start}')}"
                      for v in rule.versions if self.name in v.sets]
            line(depth, f"if {' or '.join(['s.version is None'] + giving)}:")
            depth += 1
        line(depth, "m = a if m is None else m if a is m else m | a")
        line(depth, "if s.version is None: y = True")  # rules of one reference date share a
        self.maybe = True

    def _any_value(self, depth: int) -> None:
        """The rule surely gives a known value, outside any group of siblings, and a rule
        before it may give any value (``y``: its reference date is unknown): the general
        path's possibilities then hold an unknown value, so the output is unknown on
        what the rules that may give a value miss (``m``), whatever this one gives."""
        if self.capture or not self.maybe:
            return
        name = self.source.bind(self.name)
        self.source.line(depth, "if y:")
        self.source.line(depth + 1, f"values[{name}] = m")
        self.source.line(depth + 1, "return m")

    def _last_may_apply(self, depth: int, rule: RulePlan) -> bool:
        """The tree's last rule may apply (``a`` is unknown) and every rule before it
        surely gave nothing: where its value needs no fact (no version is known, or the
        version in force sets the output literally), the general path would answer
        ``a`` itself, unknown on what the probe misses. Recorded here, without the walk;
        returns whether it always is (every version sets the output literally). Where
        rules before it may give a value (``m``), the facts they miss are joined in."""
        name = self.source.bind(self.name)
        always = all(self.name in version.sets for version in rule.versions)
        if not always:
            self.source.line(depth, "if s.version is None:  # no version known: what the general path would say")
            depth += 1
        if self.maybe:  # rules before it may give a value too
            self.source.line(depth, "if m is not None: a = m | a")
        self.source.line(depth, f"values[{name}] = a")
        self.source.line(depth, "return a")
        return always

    def _unknown_value(self, depth: int) -> None:
        """The rule applies and its value ``v`` is unknown. Outside a group of siblings,
        every rule before it surely gave nothing (the code hands the output over at the
        first unknown), so the general path would answer ``v`` itself: unknown on the
        facts ``v`` misses. Recorded here, without the walk."""
        if self.capture:
            self._undecided(depth)
            return
        name = self.source.bind(self.name)
        if self.maybe:  # rules before it may give a value: unknown on what they miss too
            self.source.line(depth, "if m is not None: v = m | v")
        self.source.line(depth, f"values[{name}] = v  # what the general path would say")
        self.source.line(depth, "return v")

    def _siblings(self, depth: int, group: Group) -> None:
        """Rules of equal standing: they must agree. Each is walked in a block of its own
        (``while True: ... break``), which leaves its value in ``f<level>`` (GONE: none,
        UNDECIDED: it met an unknown) and its rule in ``g<level>``; the first value found
        is kept in ``found<level>``, its rule in ``by<level>``."""
        line, key = self.source.line, self.source.bind(key_of, "key_of (engine.evaluation.outcomes)")
        level = len(self.capture)
        found, by, current, rule = f"found{level}", f"by{level}", f"f{level}", f"g{level}"
        line(depth, f"{found} = GONE")
        line(depth, f"{by} = None")
        for branch in group:
            self.capture.append(level)
            line(depth, "while True:")
            self._branch(depth + 1, branch)
            line(depth + 1, f"{current} = GONE")
            line(depth + 1, "break")
            self.capture.pop()
            line(depth, f"if {current} is UNDECIDED:")
            self._undecided(depth + 1)
            line(depth, f"if {current} is not GONE:")
            line(depth + 1, f"if {found} is GONE:")
            line(depth + 2, f"{found} = {current}")
            line(depth + 2, f"{by} = {rule}")
            line(depth + 1, f"elif {key}({found}) != {key}({current}):")
            self._undecided(depth + 2)
        line(depth, f"if {found} is not GONE:")
        self._found(depth + 1, found, by)
