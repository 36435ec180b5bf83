"""Generate Python functions for the fast path of evaluation.

Evaluating a person visits nearly every rule of the decree, and in CPython the cost of a
visit is mostly calls and lookups between closures. For the common case, where the facts
a rule reads are known, this module writes each output's decision as one straight Python
function: the walk over its exception tree, with the probe of each rule (reference date,
version in force, condition) written in place and the conditions inlined as Python
expressions; reference dates and outputs that several of its expressions read are kept
in locals. It is compiled once, on first use (the technique of ``dataclasses``,
``attrs`` and ``fastjsonschema``); functions of the same text share one code object.

**Nothing from a rule file becomes source text.** The generated source consists of fixed
templates, generated identifiers (``k12``, ``t3``, ``r0``, ``o1``) and the literals ``True``, ``False``
and ``None``; every rule id, name, value and closure is an object bound to a generated
name in the function's namespace, whose builtins are empty. The condition language thus
still reaches no Python object it was not given.

**Optimistic, with a fallback.** An inlined expression assumes the values it reads are
known. At the first unknown (a missing fact, an undecided output) it raises :class:`Bail`
and the expression is evaluated again by its compiled closure (:mod:`engine.language.closures`),
which has the full semantics of unknowns; an output whose walk meets an unknown is
handed to the general path of :mod:`engine.evaluation.general` (``ev.resolve``). The inlined
operators keep the closures' semantics for known values, ``none`` included (a comparison
with ``none`` is false, ``and`` and ``or`` treat ``none`` as false); the conformance
suite runs every case through this path too.
"""

from __future__ import annotations

import functools
import itertools
from types import CodeType
from typing import TYPE_CHECKING, Any, Callable, Protocol

from engine.language import nodes as n
from engine.language import semantics as sem
from engine.language.closures import compile_node
from engine.language.parser import Origin
from engine.values import Unknown, age_on

if TYPE_CHECKING:
    from engine.language.expression import Expression
    from engine.rules.model import Rule, RuleVersion
    from engine.rules.timeline import Timeline

UNDECIDED = ("<undecided>",)  # a decider met an unknown
_GONE = object()  # a fact or output not in the mapping

_INLINE_ORDERING = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
@functools.lru_cache(maxsize=4096)
def _compiled(text: str) -> CodeType:
    """Compiling is most of the cost of writing a function, and rules of the same shape
    give the same text (their ids, names and values are bound, not written): code objects
    are shared by text, and each function gets its own namespace."""
    return compile(text, "<decree fast path>", "exec")


_LOCALS = ("states", "facts", "values", "deciders")  # the evaluation's mappings, read into locals when used


class Context(Protocol):
    """What generated code is written against: the plan of a rule set (engine.evaluation.plan)."""

    def output_function(self, output: str) -> Callable[..., Any]: ...

    def constant_function(self, name: str) -> Callable[[Any], Any]: ...


class Bail(Exception):
    """An inlined expression met an unknown: evaluate it again with the closures."""


def _bail() -> Any:
    raise Bail


def _output(scope: Any, name: str) -> Any:
    """An output not yet in the memo: decide it now; an unknown one bails."""
    value = scope.output(name)
    if type(value) is Unknown:
        raise Bail
    return value


def _known(value: Any) -> Any:
    if type(value) is Unknown:
        raise Bail
    return value


def _arithmetic(op: str, a: Any, b: Any) -> Any:
    """Arithmetic on known values; a failure bails, and the closure reports it with its place."""
    try:
        return sem.arithmetic(op, a, b)
    except (sem.DivisionByZero, sem.NumberTooLarge, OverflowError):
        raise Bail from None


class Source:
    """Python source being written, and the objects it refers to by generated names."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "__builtins__": {}, "type": type, "Unknown": Unknown, "Bail": Bail, "_bail": _bail,
            "_output": _output, "_known": _known, "_arithmetic": _arithmetic,
            "_overlap": sem.overlap, "age_on": age_on, "UNDECIDED": UNDECIDED, "GONE": _GONE,
        }
        self._bound: dict[int, str] = {}
        self.lines: list[str] = []
        self.used: set[str] = set()  # which of _LOCALS the lines mention
        self.outputs: dict[str, str] = {}  # outputs kept in locals once read (see OutputWriter)
        self._temps = itertools.count()

    def bind(self, value: Any) -> str:
        """A generated name for ``value`` (the same object always gets the same name)."""
        name = self._bound.get(id(value))
        if name is None:
            name = self._bound[id(value)] = f"k{len(self._bound)}"
            self.namespace[name] = value
        return name

    def temp(self) -> str:
        return f"t{next(self._temps)}"

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)
        for local in _LOCALS:
            if local in text:
                self.used.add(local)

    def function(self, name: str, evaluation: bool = True) -> Callable[..., Any]:
        """Compile the lines written so far (one ``def name``) and return the function.

        In a function of an evaluation (``ev``), the evaluation's mappings the body uses
        are read into locals first.
        """
        preamble = [f"    {local} = ev.{local}" for local in _LOCALS if evaluation and local in self.used]
        text = "\n".join(self.lines[:1] + preamble + self.lines[1:]) + "\n"
        exec(_compiled(text), self.namespace)  # noqa: S102 - source from fixed templates only, see the module docstring
        function: Callable[..., Any] = self.namespace[name]
        function.decree_source = text  # type: ignore[attr-defined]  # for tests and debugging
        return function


class Inline:
    """Turns an expression into a Python expression over the locals ``facts``, ``values``
    and ``scope``, that raises :class:`Bail` at the first unknown."""

    def __init__(self, source: Source, origin: Origin, plan: Context | None = None,
                 shared: dict[str, str] | None = None, reference: str = "scope.reference_date") -> None:
        self.source = source
        self.origin = origin
        self.reference = reference  # the code of the date the expression is evaluated on
        self.shared = shared or {}  # outputs several expressions of the function read -> their locals
        # inside a probe or an output's function (which hold the evaluation as ``ev``),
        # an output not yet in the memo is decided by calling its function directly, and
        # a value set or parameter is looked up on a date through the plan's function
        self.plan = plan

    def _constant_on(self, name: str, day: str) -> str:
        if self.plan is None:
            return f"_known(scope.constant({self.source.bind(name)}, {day}))"
        return f"{self.source.bind(self.plan.constant_function(name))}({day})"

    def expr(self, node: n.Node) -> str:
        method: Callable[[Any], str] | None = getattr(self, "inline_" + type(node).__name__, None)
        return method(node) if method is not None else self.fallback(node)

    def fallback(self, node: n.Node) -> str:
        """The node through its compiled closure; an unknown result bails."""
        closure = self.source.bind(compile_node(node, self.origin))
        t = self.source.temp()
        return f"({t} if type({t} := {closure}(scope)) is not Unknown else _bail())"

    def inline_Literal(self, node: n.Literal) -> str:
        value = node.value
        if value is None or type(value) is bool:
            return repr(value)  # None, True or False: the only literals written as text
        return self.source.bind(value)

    def inline_Name(self, node: n.Name) -> str:
        name = node.name
        key, t = self.source.bind(name), self.source.temp()
        if "." not in name and name.upper() == name and any(c.isalpha() for c in name):
            return self._constant_on(name, self.reference)  # a value set or parameter
        if "." in name:
            if self.plan is not None:  # an evaluation's facts are values (engine.facts), never unknowns
                return f"({t} if ({t} := facts.get({key}, GONE)) is not GONE else _bail())"
            return f"({t} if ({t} := facts.get({key}, GONE)) is not GONE and type({t}) is not Unknown else _bail())"
        if self.plan is None:
            return (f"({t} if ({t} := values.get({key}, GONE)) is not GONE and type({t}) is not Unknown "
                    f"else _output(scope, {key}))")
        decide, u = self.source.bind(self.plan.output_function(name)), self.source.temp()
        read = (f"({t} if type({t} := ({u} if ({u} := values.get({key}, GONE)) is not GONE else {decide}(ev))) "
                f"is not Unknown else _bail())")
        local = self.shared.get(name)
        # read by several expressions of the function: the first read keeps it in a local
        return read if local is None else f"({local} if {local} is not GONE else ({local} := {read}))"

    def inline_At(self, node: n.At) -> str:
        t = self.source.temp()
        return f"(None if ({t} := {self.expr(node.when)}) is None else {self._constant_on(node.name.name, t)})"

    def inline_Special(self, node: n.Special) -> str:
        if node.which == "evaluation_date":
            return "scope.evaluation_date" if self.plan is None else "ev.on"
        return self.reference

    def inline_Not(self, node: n.Not) -> str:
        return f"(not {self.expr(node.operand)})"  # true -> false; false and none -> true

    def inline_Logic(self, node: n.Logic) -> str:
        joined = f" {node.op} ".join(self.expr(operand) for operand in node.operands)
        return f"(({joined}) is True)"  # none counts as false, and the result is a boolean

    def inline_Binary(self, node: n.Binary) -> str:
        op = node.op
        if op in _INLINE_ORDERING:
            left = self.expr(node.left)
            if isinstance(node.right, n.Literal) and node.right.value is not None:
                t = self.source.temp()
                return f"(False if ({t} := {left}) is None else {t} {op} {self.inline_Literal(node.right)})"
            # both operands first: an unknown one bails (unknown), even beside a none
            right, a, b = self.expr(node.right), self.source.temp(), self.source.temp()
            return f"(False if None in (({a} := {left}), ({b} := {right})) else {a} {op} {b})"
        if op in ("==", "!=") and isinstance(node.right, n.Literal) and isinstance(node.right.value, (str, bool)):
            return f"({self.expr(node.left)} {op} {self.inline_Literal(node.right)})"
        if op in ("in", "not_in") and isinstance(node.right, n.ListLiteral) \
                and all(isinstance(item, n.Literal) and item.value is not None for item in node.right.items):
            members = self.source.bind(tuple(item.value for item in node.right.items))  # type: ignore[union-attr]
            t = self.source.temp()
            test = "in" if op == "in" else "not in"
            return f"(None if ({t} := {self.expr(node.left)}) is None else {t} {test} {members})"
        if op in sem.ARITHMETIC:
            return f"_arithmetic({self.source.bind(op)}, {self.expr(node.left)}, {self.expr(node.right)})"
        if op == "any_in":
            return f"_overlap({self.expr(node.left)}, {self.expr(node.right)})"
        return self.fallback(node)

    def inline_IsTest(self, node: n.IsTest) -> str:
        if node.test == "none":
            return f"({self.expr(node.operand)} is None)"
        if node.test == "not_none":
            return f"({self.expr(node.operand)} is not None)"
        return self.fallback(node)  # 'is known' and 'is unknown' look at the unknown itself

    def inline_If(self, node: n.If) -> str:
        condition, then, otherwise = (self.expr(node.condition), self.expr(node.then), self.expr(node.otherwise))
        return f"({then} if {condition} is True else {otherwise})"

    def inline_Call(self, node: n.Call) -> str:
        if node.function != "age":
            return self.fallback(node)
        birth, on = node.args
        a, b = self.source.temp(), self.source.temp()
        # both arguments first: an unknown one bails (unknown), even beside a none
        return (f"(None if None in (({a} := {self.expr(birth)}), ({b} := {self.expr(on)})) "
                f"else age_on({a}, {b}))")


def fast_function(expression: Expression) -> Callable[[Any], Any]:
    """``expression`` as one Python function of a scope, falling back to its closure."""
    source = Source()
    inlined = Inline(source, expression.origin).expr(expression.node)
    slow = source.bind(expression.compiled)
    for depth, text in ((0, "def evaluate(scope):"), (1, "facts = scope.facts"), (1, "values = scope.decided"),
                        (1, "try:"), (2, f"return {inlined}"), (1, "except Bail:"), (2, f"return {slow}(scope)")):
        source.line(depth, text)
    return source.function("evaluate", evaluation=False)


def assign_inlined(source: Source, depth: int, target: str, expression: Expression,
                   plan: Context, scope_of: str | None = None, reference: str = "scope.reference_date") -> None:
    """``target = expression`` inlined, with the closure as the fallback. The closure
    runs on ``scope``, or on ``scope_of`` when given: the scope then is found only if
    the closure is needed (the inlined code must not use ``scope`` itself)."""
    inlined = Inline(source, expression.origin, plan, source.outputs, reference).expr(expression.node)
    if scope_of is not None and "scope" in inlined:
        source.line(depth, f"scope = {scope_of}")
        scope_of = None
    slow = f"{target} = {source.bind(expression.compiled)}({scope_of or 'scope'})"
    depth = guard(source, depth, expression, slow)
    source.line(depth, "try:")
    source.line(depth + 1, f"{target} = {inlined}")
    source.line(depth, "except Bail:")
    source.line(depth + 1, slow)


def guard(source: Source, depth: int, expression: Expression, slow: str) -> int:
    """When the evaluation is partial (facts missing, or outputs found unknown), go to
    the closure at once if a fact the expression reads is missing or an output it reads
    is already unknown: bailing out of inlined code costs a raised exception. Returns the
    depth of the inlined code that follows."""
    tests = []
    for name in sorted(expression.free_names):
        if "." in name:
            tests.append(f"{source.bind(name)} not in facts")
        elif not (name.upper() == name and any(c.isalpha() for c in name)):
            tests.append(f"type(values.get({source.bind(name)})) is Unknown")
    if not tests:
        return depth
    source.line(depth, f"if ev.partial and ({' or '.join(tests)}):")
    source.line(depth + 1, slow)
    source.line(depth, "else:")
    return depth + 1


def run_function(outputs: tuple[str, ...], plan: Context, report: tuple[tuple[str, bool], ...],
                 decision: type) -> Callable[..., Any]:
    """A function that decides ``outputs`` in this order (each after what it uses), then
    reports the outputs of ``report`` as ``decision`` tuples, in that order.

    It is called as ``run(ev, shared, make, unknown)``: ``shared((name, value, rule))``
    finds a decision kept for sharing and ``make(name, value, rule)`` makes (and keeps)
    one; the outputs of ``report`` marked True (booleans and texts) and every 'not
    applicable' go that way. ``unknown(name, value)`` makes an unknown output's."""
    source = Source()
    source.line(0, "def run(ev, shared, make, unknown):")
    for output in outputs:
        source.line(1, f"if {source.bind(output)} not in values:")
        source.line(2, f"{source.bind(plan.output_function(output))}(ev)")
    source.line(1, "out = {}")
    new, decided = source.bind(tuple.__new__), source.bind("decided")
    for output, sharable in report:
        name = source.bind(output)
        source.line(1, f"v = values[{name}]")
        source.line(1, "if type(v) is Unknown:")
        source.line(2, f"out[{name}] = unknown({name}, v)")
        source.line(1, "else:")
        source.line(2, f"r = deciders.get({name})")
        kept = f"(shared(({name}, v, r)) or make({name}, v, r))"
        if sharable:
            source.line(2, f"out[{name}] = {kept}")
        else:
            source.line(2, f"out[{name}] = {new}({source.bind(decision)}, ({name}, {decided}, v, (), r)) "
                           f"if v is not None else {kept}")
    source.line(1, "return out")
    return source.function("run")


def probe_function(rule: Rule, timeline: Timeline[RuleVersion], plan: Context) -> Callable[..., Any]:
    """The probe of ``rule`` as a function of its own (see :func:`write_probe`)."""
    source = Source()
    source.line(0, "def probe(ev):")
    write_probe(source, 1, rule, timeline, plan)
    source.line(1, "return s")
    return source.function("probe")


def write_probe(source: Source, depth: int, rule: Rule, timeline: Timeline[RuleVersion],
                plan: Context, shared: dict[str, str] | None = None) -> None:
    """Code that finds how ``rule`` stands: its reference date, the version in force on
    it and whether its condition holds, as ``s``, a plain tuple with the fields of
    :class:`engine.evaluation.plan.RuleState` (built in one instruction), recorded in the memo.

    ``shared`` names the locals that keep reference dates several rules of the function
    read (by the expression's text): the first rule to need one finds it."""
    line = source.line
    rule_name, rule_id = source.bind(rule), source.bind(rule.id)
    if rule.reference_date is None:
        line(depth, "reference = ev.on")
        scope_of = "ev.base_scope"
        inner = depth
    else:
        local = (shared or {}).get(rule.reference_date.text.strip())
        if local is None:
            line(depth, "scope = ev.base_scope")
            assign_inlined(source, depth, "reference", rule.reference_date, plan, reference="ev.on")
        else:
            line(depth, f"if {local} is GONE:")
            line(depth + 1, "scope = ev.base_scope")
            assign_inlined(source, depth + 1, local, rule.reference_date, plan, reference="ev.on")
            line(depth, f"reference = {local}")
        line(depth, "if reference is None or type(reference) is Unknown:  # no version can be chosen")
        line(depth + 1, f"s = ({rule_name}, reference, None, False if reference is None else reference, ev.base_scope)")
        line(depth, "else:")
        scope_of = "ev.scopes.get(reference) or ev.scope_on(reference)"
        inner = depth + 1
    # the version in force: the last one (by start) that has started, if it has not
    # ended; Timeline.at's search, written out newest first
    outside = f"s = ({rule_name}, reference, None, False, ev.base_scope)"
    keyword = "if"
    for version in reversed(timeline.versions):
        window = version.window
        assert window is not None  # resolved by consolidate
        line(inner, f"{keyword} {source.bind(window.start)} <= reference:")
        keyword = "elif"
        if window.until is None:
            _applies(source, inner + 1, version, scope_of, rule_name, plan)
            continue
        line(inner + 1, f"if reference < {source.bind(window.until)}:")
        _applies(source, inner + 2, version, scope_of, rule_name, plan)
        line(inner + 1, "else:")
        line(inner + 2, outside)
    if keyword == "if":  # no version at all
        line(inner, outside)
    else:
        line(inner, "else:")
        line(inner + 1, outside)
    line(depth, f"states[{rule_id}] = s")


def _applies(source: Source, depth: int, version: RuleVersion, scope_of: str, rule_name: str,
             plan: Context) -> None:
    """The state of a rule whose version is in force. On a reference date of its own, the
    rule's scope is found only when something needs it: a closure, or code that reads a
    value set, a parameter or ``reference_date``; the state then keeps None for it, and
    Evaluation.scope_of finds it later if asked."""
    own_date = scope_of != "ev.base_scope"
    if version.when is None:
        source.line(depth, f"s = ({rule_name}, reference, {source.bind(version)}, True, "
                           f"{'None' if own_date else scope_of})")
        return
    if not own_date:
        source.line(depth, f"scope = {scope_of}")
    mark = len(source.lines)
    assign_inlined(source, depth, "applies", version.when, plan, scope_of if own_date else None, "reference")
    found = any(line.strip().startswith("scope = ") for line in source.lines[mark:])
    kept = "scope" if not own_date or found else "None"
    source.line(depth, f"s = ({rule_name}, reference, {source.bind(version)}, False if applies is None else applies, "
                       f"{kept})")


def tree_rules(groups: tuple[tuple[str, ...], ...], exceptions: Any) -> list[str]:
    """Every rule of an exception tree, from its top ``groups`` down."""
    found: list[str] = []
    pending = [rule for group in groups for rule in group]
    while pending:
        rule = pending.pop()
        if rule not in found:
            found.append(rule)
            pending.extend(r for group in exceptions.get(rule, ()) for r in group)
    return found


class OutputWriter:
    """Writes the function that decides one output: its exception tree as straight code,
    exceptions first.

    The function records the result in the evaluation's memo (value and deciding rule)
    and returns the value; at the first unknown on its way it hands the output to the
    general path (``ev.resolve``). Each rule of a group of siblings is walked in a block
    that leaves ``(value, rule id)``, None or UNDECIDED in a local, and the group's
    results are compared.
    """

    def __init__(self, output: str, exceptions: Any, rules: Any, timelines: Any,
                 plan: Context, key_of: Callable[[Any], Any], as_set: bool = False,
                 companions: tuple[str, ...] = ()) -> None:
        self.output = output
        self.exceptions = exceptions  # rule id -> groups of exceptions, lowest order first
        self.rules = rules
        self.timelines = timelines  # rule id -> its time line; the rules' probes are written inline
        self.plan = plan  # for the outputs, value sets and parameters its expressions read
        self.key_of = key_of
        self.as_set = as_set  # the output is declared as a set: a computed list becomes one
        self.capture: list[str] = []  # the locals that keep the results of sibling blocks being written
        self.shared: dict[str, str] = {}  # reference dates of several rules -> the locals that keep them
        self.companions = companions  # outputs of the same tree, set by every version (see engine.evaluation.plan)

    def function(self, groups: tuple[tuple[str, ...], ...]) -> Callable[..., Any]:
        source = Source()
        self.name = source.bind(self.output)
        # the whole tree is one rule: when it may or may not apply, the output is unknown
        self.alone = len(groups) == 1 and len(groups[0]) == 1 and not self.exceptions.get(groups[0][0])
        source.line(0, "def decide(ev):")
        # reference dates that two or more rules of the function read: kept in locals r0, r1...
        texts = [self.rules[r].reference_date.text.strip() for r in tree_rules(groups, self.exceptions)
                 if self.rules[r].reference_date is not None]
        repeated = sorted({text for text in texts if texts.count(text) > 1})
        self.shared = {text: f"r{index}" for index, text in enumerate(repeated)}
        # outputs that two or more expressions of the function read: kept in locals o0, o1...
        names = [name for r in tree_rules(groups, self.exceptions) for e in self._expressions(r) for name in e.free_names
                 if "." not in name and not (name.upper() == name and any(c.isalpha() for c in name))]
        outputs = sorted({name for name in names if names.count(name) > 1})
        source.outputs = {name: f"o{index}" for index, name in enumerate(outputs)}
        for local in list(self.shared.values()) + list(source.outputs.values()):
            source.line(1, f"{local} = GONE")
        self._groups(source, 1, groups)
        source.line(1, f"values[{self.name}] = None  # no rule gives a value: not applicable")
        source.line(1, "return None")
        return source.function("decide")

    def _expressions(self, rule_id: str) -> list[Expression]:
        """The expressions of a rule the function may inline: reference date, conditions,
        and the values it computes for this output."""
        rule = self.rules[rule_id]
        found = [rule.reference_date] if rule.reference_date is not None else []
        for version in self.timelines[rule_id].versions:
            found += [version.when] if version.when is not None else []
            found += [version.computed[self.output]] if self.output in version.computed else []
        return found

    def _found(self, source: Source, depth: int, value: str, rule: str) -> None:
        if self.capture:  # inside a sibling's block: keep the pair, leave the block
            source.line(depth, f"{self.capture[-1]} = ({value}, {rule})")
            source.line(depth, "break")
        else:
            source.line(depth, f"values[{self.name}] = {value}")
            source.line(depth, f"deciders[{self.name}] = {rule}")
            source.line(depth, f"return {value}")

    def _undecided(self, source: Source, depth: int) -> None:
        if self.capture:
            source.line(depth, f"{self.capture[-1]} = UNDECIDED")
            source.line(depth, "break")
        else:
            source.line(depth, f"return ev.resolve({self.name})")

    def _groups(self, source: Source, depth: int, groups: tuple[tuple[str, ...], ...]) -> None:
        """Returns at the first group that gives a value (or meets an unknown)."""
        for group in groups:
            if len(group) == 1:
                self._rule(source, depth, group[0])
            else:
                self._siblings(source, depth, group)

    def _rule(self, source: Source, depth: int, rule_id: str) -> None:
        line, rule = source.line, source.bind(rule_id)
        self._groups(source, depth, self.exceptions.get(rule_id, ()))
        line(depth, f"s = states.get({rule})")
        line(depth, "if s is None:")
        write_probe(source, depth + 1, self.rules[rule_id], self.timelines[rule_id], self.plan, self.shared)
        line(depth, "a = s[3]")
        line(depth, "if a is not False:")
        line(depth + 1, "if a is not True:")
        versions = [v for v in self.timelines[rule_id].versions if self.output in v.outputs]
        single = len(self.timelines[rule_id].versions) == 1
        if self.alone:
            self._alone_unknown(source, depth + 2, rule_id, versions)
        else:
            self._undecided(source, depth + 2)
        for index, version in enumerate(versions):
            inner = depth + 1
            if not single:
                line(inner, f"{'if' if index == 0 else 'elif'} s[2] is {source.bind(version)}:")
                inner += 1
            if self.output in version.values:
                if not self.capture:  # the same rule decides the companions; literal ones cost nothing
                    for companion in self.companions:
                        if companion in version.values:
                            name = source.bind(companion)
                            line(inner, f"values[{name}] = {source.bind(version.values[companion])}")
                            line(inner, f"deciders[{name}] = {rule}")
                self._found(source, inner, source.bind(version.values[self.output]), rule)
                continue
            computed = version.computed[self.output]
            inlined = Inline(source, computed.origin, self.plan, source.outputs, "s[1]").expr(computed.node)
            scope_of = "(s[4] or ev.scope_of(s))"  # found only when needed
            if "scope" in inlined:
                line(inner, f"scope = {scope_of}")
                scope_of = "scope"
            slow = f"v = {source.bind(computed.compiled)}({scope_of})  # the closure makes lists sets itself"
            fast = guard(source, inner, computed, slow)
            line(fast, "try:")
            line(fast + 1, f"v = {inlined}")
            if self.as_set:
                line(fast + 1, f"v = {source.bind(frozenset)}(v) if type(v) is {source.bind(tuple)} else v")
            line(fast, "except Bail:")
            line(fast + 1, slow)
            line(inner, "if type(v) is Unknown:")
            self._undecided(source, inner + 1)
            self._found(source, inner, "v", rule)

    def _alone_unknown(self, source: Source, depth: int, rule_id: str, versions: list[RuleVersion]) -> None:
        """The only rule of the tree may or may not apply: the output is its value or
        nothing, so unknown, missing what the condition (or the reference date) misses
        and what the value misses. The general path finds the same in more steps."""
        line = source.line
        line(depth, "if s[2] is None:  # the reference date is unknown")
        line(depth + 1, "r = a")
        for version in versions:
            line(depth, f"elif s[2] is {source.bind(version)}:")
            if self.output in version.values:
                line(depth + 1, "r = a")
            else:
                line(depth + 1, f"v = {source.bind(version.computed[self.output].compiled)}(s[4] or ev.scope_of(s))")
                line(depth + 1, "r = Unknown(a.missing | v.missing) if type(v) is Unknown else a")
        line(depth, "else:  # this version does not set the output: nothing applies")
        line(depth + 1, "r = None")
        line(depth, f"values[{self.name}] = r")
        line(depth, "ev.partial = True")
        line(depth, "return r")

    def _siblings(self, source: Source, depth: int, group: tuple[str, ...]) -> None:
        """Rules of equal standing: they must agree; a disagreement goes to the general
        path, which reports the conflict. Each sibling is walked in a block of its own
        (``while True: ... break``), which leaves its result in ``f<level>``."""
        line, key_of = source.line, source.bind(self.key_of)
        level = len(self.capture)
        found, current = f"found{level}", f"f{level}"
        line(depth, f"{found} = None")
        for rule_id in group:
            self.capture.append(current)
            line(depth, "while True:")
            self._rule(source, depth + 1, rule_id)
            line(depth + 1, f"{current} = None")
            line(depth + 1, "break")
            self.capture.pop()
            line(depth, f"if {current} is UNDECIDED:")
            self._undecided(source, depth + 1)
            line(depth, f"if {current} is not None:")
            line(depth + 1, f"if {found} is None:")
            line(depth + 2, f"{found} = {current}")
            line(depth + 1, f"elif {key_of}({found}[0]) != {key_of}({current}[0]):")
            self._undecided(source, depth + 2)
        line(depth, f"if {found} is not None:")
        self._found(source, depth + 1, f"{found}[0]", f"{found}[1]")