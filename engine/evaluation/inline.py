"""Write a condition-language expression as one Python expression, for generated code.

Two forms. :class:`Inline`, for the function of a whole person
(:mod:`engine.evaluation.person`), assumes the values it reads are known: at the first
unknown (a missing fact, an unknown output) or arithmetic failure it raises
:class:`engine.evaluation.runtime.Bail`, which ends that function. :class:`Carry`, for
the per-output functions (:mod:`engine.evaluation.codegen`), which run when facts are
missing, carries unknowns by the closures' rules (:mod:`engine.language.closures`) and
runs the closure in place for shapes it has no form for. For known values both keep the
closures' semantics, ``none`` included: a comparison with ``none`` is false, ``and`` and
``or`` treat ``none`` as false.

**Nothing from a rule file becomes source text.** The code consists of fixed templates,
generated names (``k12``, ``t3``) and the literals ``True``, ``False`` and ``None``;
every name, value and closure is an object bound to a generated name by
:class:`Source`. Which locals the code reads is recorded as it is written
(:attr:`Inline.reads_scope`), never found by reading the text back.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, Mapping

from engine.errors import Origin
from engine.evaluation import runtime
from engine.language import nodes as n
from engine.language import semantics as sem
from engine.language.closures import compile_node
from engine.language.types import Vocabulary
from engine.values import Unknown, unknown_on

if TYPE_CHECKING:
    from engine.evaluation.plan import Plan
    from engine.language.expression import Expression

OutputFunction = Callable[[str], Callable[..., Any]]  # an output -> the function that decides it


class Source:
    """Python source being written, and the objects it refers to by generated names."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = runtime.namespace()
        self._bound: dict[int, str] = {}
        self.labels: dict[str, str] = {}  # generated name -> what it stands for, to print the source
        self.lines: list[str] = []
        self._temps = itertools.count()

    def bind(self, value: Any, label: str = "") -> str:
        """A generated name for ``value`` (the same object always gets the same name);
        ``label`` says what it is where its repr would not."""
        name = self._bound.get(id(value))
        if name is None:
            name = self._bound[id(value)] = f"k{len(self._bound)}"
            self.namespace[name] = value
            self.labels[name] = label or repr(value)
        return name

    def temp(self) -> str:
        return f"t{next(self._temps)}"

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class Inline:
    """Turns one expression into a Python expression over the locals ``facts`` and
    ``values`` and the evaluation ``ev``; ``reference`` is the code of the date the
    expression reads value sets, parameters and ``reference_date`` on. With ``outputs``
    (the function of a whole person) it reads outputs from the locals named there and
    the evaluation date from the local ``on``.

    When the code needs the expression's scope (a closure run in place), it reads the
    local ``scope`` and :attr:`reads_scope` is set: the caller must assign it first."""

    def __init__(self, source: Source, expression: Expression, plan: Plan, decide: OutputFunction,
                 reference: str, outputs: Mapping[str, str] | None = None) -> None:
        self.source = source
        self.origin = expression.origin
        self.plan = plan
        self.decide = decide  # an output not yet in the memo is decided by calling its function
        self.reference = reference
        # for the function of a whole person (engine.evaluation.person): output -> the local
        # that holds its value, known; a missing fact then raises KeyError, which ends it
        self.outputs = outputs
        self.today = "ev.on" if outputs is None else "on"
        self.reads_scope = False

    def expr(self, node: n.Node) -> str:
        method: Callable[[Any], str] | None = getattr(self, "inline_" + type(node).__name__, None)
        return method(node) if method is not None else self.fallback(node)

    def fallback(self, node: n.Node) -> str:
        """The node through its compiled closure; an unknown result bails."""
        self.reads_scope = True
        closure = self.source.bind(compile_node(node, self.origin), f"closure of {_part(self.origin.text, node)!r}")
        t = self.source.temp()
        return f"({t} if type({t} := {closure}(scope)) is not Unknown else bail())"

    def _constant_on(self, name: str, day: str) -> str:
        found = self.plan.constants.get(name)
        if found is None:
            return f"{self.source.bind(self.plan.constant)}({self.source.bind(name)}, {day})"
        return f"{self.source.bind(found.at)}({day})"

    def inline_Literal(self, node: n.Literal) -> str:
        value = node.value
        if value is None or type(value) is bool:
            return repr(value)  # None, True or False: the only literals written as text
        return self.source.bind(value)

    def inline_Name(self, node: n.Name) -> str:
        name = node.name
        kind = Vocabulary.kind_of_name(name)
        if kind == "set":
            return self._constant_on(name, self.reference)
        if self.outputs is not None:
            if kind == "fact":
                return f"facts[{self.source.bind(name)}]"
            return self.outputs[name]  # decided before: engine.evaluation.person.needed orders them
        key, t = self.source.bind(name), self.source.temp()
        if kind == "fact":  # an evaluation's facts are plain values (engine.sources.facts), never unknowns
            return f"({t} if ({t} := facts.get({key}, GONE)) is not GONE else bail())"
        decide, u = self.source.bind(self.decide(name), f"the function that decides {name!r}"), self.source.temp()
        return (f"({t} if type({t} := ({u} if ({u} := values.get({key}, GONE)) is not GONE else {decide}(ev))) "
                f"is not Unknown else bail())")

    def carried(self, node: n.Node) -> str | None:
        """``node`` as code that gives its value as the closure would, an unknown
        included, without bailing; None for shapes that have no such form. Only a bare
        fact or output: the shape of almost every reference date, where a missing fact
        made the inlined code raise and the closure run again for every rule that reads
        it. A missing fact reads as the unknown the closure gives
        (:meth:`engine.language.closures._Compiler.build_Name`): unknown on that fact."""
        if type(node) is not n.Name or self.outputs is not None:
            return None
        name = node.name
        kind = Vocabulary.kind_of_name(name)
        if kind == "fact":
            return self._fact_or_unknown(name)
        if kind == "output":
            key, t = self.source.bind(name), self.source.temp()
            decide = self.source.bind(self.decide(name), f"the function that decides {name!r}")
            return f"({t} if ({t} := values.get({key}, GONE)) is not GONE else {decide}(ev))"
        return None

    def _fact_or_unknown(self, name: str) -> str:
        """A fact's value, or where it is missing the unknown on it (one object per fact)."""
        missing = self.source.bind(unknown_on(frozenset({name})), f"unknown on {name!r}")
        return f"facts.get({self.source.bind(name)}, {missing})"

    def inline_At(self, node: n.At) -> str:
        t = self.source.temp()
        return f"(None if ({t} := {self.expr(node.when)}) is None else {self._constant_on(node.name.name, t)})"

    def inline_Special(self, node: n.Special) -> str:
        return self.today if node.which == "evaluation_date" else self.reference

    def inline_Not(self, node: n.Not) -> str:
        return f"(not {self.expr(node.operand)})"  # true -> false; false and none -> true

    def inline_Logic(self, node: n.Logic) -> str:
        joined = f" {node.op} ".join(self.expr(operand) for operand in node.operands)
        return f"(({joined}) is True)"  # none counts as false, and the result is a boolean

    def inline_Binary(self, node: n.Binary) -> str:
        op = node.op
        if op in sem.ORDERING:
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
        if op in ("in", "not_in"):  # as semantics.membership
            # both operands first, as for an ordering: an unknown one bails even beside a none
            a, b = self.source.temp(), self.source.temp()
            test = "in" if op == "in" else "not in"
            return (f"(None if None in (({a} := {self.expr(node.left)}), ({b} := {self.expr(node.right)})) "
                    f"else {a} {test} {b})")
        if op in sem.ARITHMETIC:
            return f"arithmetic({self.source.bind(op)}, {self.expr(node.left)}, {self.expr(node.right)})"
        if op == "any_in":
            return f"overlap({self.expr(node.left)}, {self.expr(node.right)})"
        return self.fallback(node)

    def inline_ListLiteral(self, node: n.ListLiteral) -> str:
        if all(isinstance(item, n.Literal) for item in node.items):
            return self.source.bind(tuple(item.value for item in node.items))  # type: ignore[union-attr]
        items = "".join(f"{self.expr(item)}, " for item in node.items)  # each known, or it bails
        return f"({items})"

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
        # both are read before either is tested for none: unknown (it bails) outweighs none, as in semantics.call
        return (f"(None if (({a} := {self.expr(birth)}), ({b} := {self.expr(on)}))[0] is None or {b} is None "
                f"else age_on({a}, {b}))")


def _part(text: str, node: n.Node) -> str:
    return text[node.start:node.end]


class Carry(Inline):
    """Like :class:`Inline`, but the code carries unknowns instead of bailing: it gives
    the value the expression's closure would give, an unknown included, by the rules of
    :mod:`engine.language.semantics` (``and``/``or`` as :func:`engine.language.semantics.logic`,
    ``not``, comparisons and membership as the closures build them). A missing fact no
    longer costs a raise and a second evaluation by the closure. Shapes without a carried
    form run their closure in place (it has the full semantics and reports errors with
    their place); nothing is ever evaluated twice. Used by the per-output functions
    (:mod:`engine.evaluation.codegen`), which run when facts are missing."""

    def expr(self, node: n.Node) -> str:
        method: Callable[[Any], str] | None = getattr(self, "carry_" + type(node).__name__, None)
        return method(node) if method is not None else self.in_place(node)

    def in_place(self, node: n.Node) -> str:
        """The node through its closure, whatever it gives; compiled when it first runs
        (:class:`CompiledOnFirstCall`)."""
        self.reads_scope = True
        stand_in = CompiledOnFirstCall(node, self.origin, self.source.namespace)
        stand_in.name = self.source.bind(stand_in, f"closure of {_part(self.origin.text, node)!r}")
        return f"{stand_in.name}(scope)"

    def carry_Name(self, node: n.Name) -> str:
        kind = Vocabulary.kind_of_name(node.name)
        if kind == "set":
            return self._constant_on(node.name, self.reference)
        if self.outputs is not None:  # a person's function that carries unknowns: outputs in locals
            return self.outputs[node.name] if kind == "output" else self._fact_or_unknown(node.name)
        found = self.carried(node)
        assert found is not None
        return found

    def carry_Literal(self, node: n.Literal) -> str:
        return self.inline_Literal(node)

    def carry_Special(self, node: n.Special) -> str:
        return self.inline_Special(node)

    def carry_Not(self, node: n.Not) -> str:
        t = self.source.temp()
        return f"(False if ({t} := {self.expr(node.operand)}) is True else True if {t} is False or {t} is None else {t})"

    def carry_Logic(self, node: n.Logic) -> str:
        # operands in order until one decides (false for 'and', true for 'or'); an
        # unknown one leaves the result unknown unless a later one decides
        temps = [self.source.temp() for _ in node.operands]
        unknown = self.source.bind(sem.unknown_of, "unknown_of (engine.language.semantics)")
        pending = " or ".join(f"type({t}) is Unknown" for t in temps)
        if len(temps) == 2:  # the common case, without a call: join the unknown ones
            a, b = temps
            joined = (f"({b} if {a} is True else {a} if {b} is True else {a} | {b})" if node.op == "and" else
                      f"({b} if {a} is False or {a} is None else {a} if {b} is False or {b} is None else {a} | {b})")
        else:
            joined = f"{unknown}({', '.join(temps)})"
        if node.op == "and":  # each operand left is true or unknown
            code = f"({joined} if {pending} else True)"
            for t, operand in reversed(list(zip(temps, node.operands))):
                code = f"(False if ({t} := {self.expr(operand)}) is False or {t} is None else {code})"
        else:  # each operand left is false, none or unknown
            code = f"({joined} if {pending} else False)"
            for t, operand in reversed(list(zip(temps, node.operands))):
                code = f"(True if ({t} := {self.expr(operand)}) is True else {code})"
        return code

    def carry_Binary(self, node: n.Binary) -> str:
        op, right, t = node.op, node.right, self.source.temp()
        if op in sem.ORDERING and isinstance(right, n.Literal) and right.value is not None:
            return (f"(False if ({t} := {self.expr(node.left)}) is None else {t} if type({t}) is Unknown "
                    f"else {t} {op} {self.inline_Literal(right)})")
        if op in ("==", "!=") and isinstance(right, n.Literal) and isinstance(right.value, (str, bool)):
            return f"({t} if type({t} := {self.expr(node.left)}) is Unknown else {t} {op} {self.inline_Literal(right)})"
        if op in ("in", "not_in") and isinstance(right, n.ListLiteral) \
                and all(isinstance(item, n.Literal) and item.value is not None for item in right.items):
            members = self.source.bind(tuple(item.value for item in right.items))  # type: ignore[union-attr]
            test = "in" if op == "in" else "not in"
            return (f"({t} if type({t} := {self.expr(node.left)}) is Unknown else None if {t} is None "
                    f"else {t} {test} {members})")
        if op in sem.ARITHMETIC and self.outputs is not None:
            # semantics.arithmetic carries unknowns; a failure bails, and the person's
            # function hands the output to its per-output function, whose closure
            # reports the error with its place (there, arithmetic runs in place)
            return f"arithmetic({self.source.bind(op)}, {self.expr(node.left)}, {self.expr(node.right)})"
        if op == "any_in":  # semantics.overlap carries unknowns and none
            return f"overlap({self.expr(node.left)}, {self.expr(node.right)})"
        if op in sem.ORDERING:
            return self._both(node, "False", f"{{a}} {op} {{b}}")
        if op in ("in", "not_in"):
            return self._both(node, "None", f"{{a}} {'in' if op == 'in' else 'not in'} {{b}}")
        if op in ("==", "!="):
            equal = self.source.bind(sem.equal, "equal (engine.language.semantics)")
            return self._both(node, None, f"{equal}({{a}}, {{b}}) is {'True' if op == '==' else 'False'}")
        return self.in_place(node)

    def _both(self, node: n.Binary | n.Call, if_none: str | None, known: str) -> str:
        """Both operands read (in order, neither skipped), then: an unknown one makes the
        result unknown on what both miss; a none one gives ``if_none`` (unless None);
        else ``known``, with ``{a}`` and ``{b}`` for the operands."""
        left, right = (node.left, node.right) if isinstance(node, n.Binary) else node.args
        a, b = self.source.temp(), self.source.temp()
        unknown = self.source.bind(sem.unknown_of, "unknown_of (engine.language.semantics)")
        test = f"(type({a} := {self.expr(left)}) is Unknown) | (type({b} := {self.expr(right)}) is Unknown)"
        value = known.format(a=a, b=b)
        if if_none is not None:
            value = f"{if_none} if {a} is None or {b} is None else {value}"
        return f"({unknown}({a}, {b}) if {test} else {value})"

    def carry_At(self, node: n.At) -> str:
        t = self.source.temp()
        return (f"({t} if ({t} := {self.expr(node.when)}) is None or type({t}) is Unknown "
                f"else {self._constant_on(node.name.name, t)})")

    def carry_ListLiteral(self, node: n.ListLiteral) -> str:
        if all(isinstance(item, n.Literal) for item in node.items):
            return self.inline_ListLiteral(node)
        listed = self.source.bind(sem.listed, "listed (engine.language.semantics)")
        return f"{listed}({', '.join(self.expr(item) for item in node.items)})"

    def carry_Call(self, node: n.Call) -> str:
        if node.function != "age":
            return self.in_place(node)
        return self._both(node, "None", "age_on({a}, {b})")

    def carry_IsTest(self, node: n.IsTest) -> str:
        operand, t = self.expr(node.operand), self.source.temp()
        if node.test == "known":
            return f"(type({operand}) is not Unknown)"
        if node.test == "unknown":
            return f"(type({operand}) is Unknown)"
        return f"({t} if type({t} := {operand}) is Unknown else {t} is {'None' if node.test == 'none' else 'not None'})"

    def carry_If(self, node: n.If) -> str:
        t = self.source.temp()
        either = self.source.bind(sem.either, "either (engine.language.semantics)")
        then, otherwise = self.expr(node.then), self.expr(node.otherwise)
        if len(then) + len(otherwise) > 400:  # each branch is written twice: nested ifs would grow apace
            return self.in_place(node)
        return (f"({then} if ({t} := {self.expr(node.condition)}) is True else {otherwise} if {t} is False "
                f"or {t} is None else {either}({t}, {then}, {otherwise}))")


class CompiledOnFirstCall:
    """The closure of a node that carried code runs in place, compiled when it first
    runs, which then puts the closure in its own place in the function's namespace
    (later calls go to the closure directly). Most never run where facts are known, and
    a closure is a function and cells per node: built for every output of a 10,000-rule
    set they were half the objects in the process, and the cyclic collector's passes
    over them most of the first evaluation's time."""

    __slots__ = ("node", "origin", "namespace", "name")

    def __init__(self, node: n.Node, origin: Origin, namespace: dict[str, Any]) -> None:
        self.node = node
        self.origin = origin
        self.namespace = namespace
        self.name = ""

    def __call__(self, scope: Any) -> Any:
        closure = compile_node(self.node, self.origin)
        self.namespace[self.name] = closure
        return closure(scope)
