"""Compile a checked AST into nested Python closures: the hot path of evaluation.

Each node becomes one function ``scope -> value``, built once when the rule set loads.
Closures bind everything they can at compile time (names, constants, the unknown value a
missing fact gives, the operator function), so evaluating a node costs one call and a few
type tests. Shapes that occur in nearly every rule (a fact compared with a literal, a
membership test in a value set) get closures of their own.

The semantics are those of :mod:`engine.language.interpreter`, which is the oracle; the
primitives of :mod:`engine.language.semantics` are shared (``and``, ``or``, ``any in``
and the kind of a name among them).
"""

from __future__ import annotations

from typing import Any, Callable

from engine.language import nodes as n
from engine.language import semantics as sem
from engine.errors import EvaluationError
from engine.errors import Origin
from engine.values import Unknown, age_on, unknown_on

Compiled = Callable[[sem.Scope], Any]
_MISSING = object()


def compile_node(node: n.Node, origin: Origin) -> Compiled:
    """A closure that evaluates ``node``; ``origin`` places runtime errors."""
    return _Compiler(origin).build(node)


class _Compiler:
    def __init__(self, origin: Origin) -> None:
        self.origin = origin

    def build(self, node: n.Node) -> Compiled:
        method: Callable[[Any], Compiled] = getattr(self, "build_" + type(node).__name__)
        return method(node)

    def build_Literal(self, node: n.Literal) -> Compiled:
        value = node.value
        return lambda scope: value

    def build_ListLiteral(self, node: n.ListLiteral) -> Compiled:
        if all(isinstance(item, n.Literal) for item in node.items):
            constant = tuple(item.value for item in node.items)  # type: ignore[union-attr]
            return lambda scope: constant
        parts = [self.build(item) for item in node.items]

        listed = sem.listed

        def list_value(scope: sem.Scope) -> Any:
            return listed(*[part(scope) for part in parts])

        return list_value

    def build_Name(self, node: n.Name) -> Compiled:
        name = node.name
        kind = sem.kind_of_name(name)
        if kind == "fact":
            unknown = unknown_on(frozenset({name}))

            def fact(scope: sem.Scope) -> Any:
                value = scope.facts.get(name, _MISSING)
                return unknown if value is _MISSING else value

            return fact
        if kind == "set":
            return lambda scope: scope.constant(name, scope.reference_date)

        def output(scope: sem.Scope) -> Any:
            # outputs already decided in this evaluation are read from its memo directly
            value = scope.decided.get(name, _MISSING)
            return scope.output(name) if value is _MISSING else value

        return output

    def build_Special(self, node: n.Special) -> Compiled:
        if node.which == "evaluation_date":
            return lambda scope: scope.evaluation_date
        return lambda scope: scope.reference_date

    def build_At(self, node: n.At) -> Compiled:
        name, when = node.name.name, self.build(node.when)

        def at(scope: sem.Scope) -> Any:
            on = when(scope)
            if on is None or type(on) is Unknown:
                return on
            return scope.constant(name, on)

        return at

    def build_Not(self, node: n.Not) -> Compiled:
        operand = self.build(node.operand)

        def negation(scope: sem.Scope) -> Any:
            value = operand(scope)
            if value is True:
                return False
            if value is False or value is None:
                return True
            return value

        return negation

    def build_Negative(self, node: n.Negative) -> Compiled:
        operand = self.build(node.operand)
        return lambda scope: sem.negative(operand(scope))

    def build_Logic(self, node: n.Logic) -> Compiled:
        parts, op, logic = tuple(self.build(operand) for operand in node.operands), node.op, sem.logic
        return lambda scope: logic(op, parts, scope)

    def build_Binary(self, node: n.Binary) -> Compiled:
        left, right, op = self.build(node.left), self.build(node.right), node.op
        if op in sem.ORDERING:
            return self._ordering(node, left, right)
        if op in ("==", "!="):
            return self._equality(node, left, right)
        if op in ("in", "not_in") and not isinstance(node.right, n.ListLiteral):
            return self._member(op, left, right)
        if op in sem.ARITHMETIC:
            origin, start, end = self.origin, node.start, node.end  # the span is built only on error

            def arithmetic(scope: sem.Scope) -> Any:
                try:
                    return sem.arithmetic(op, left(scope), right(scope))
                except sem.DivisionByZero:
                    raise EvaluationError("division by zero", origin.span(start, end)) from None
                except sem.NumberTooLarge as problem:
                    raise EvaluationError(str(problem), origin.span(start, end)) from None
                except OverflowError:
                    raise EvaluationError("the date falls outside the calendar", origin.span(start, end)) from None

            return arithmetic
        if op == "any_in":
            overlap = sem.overlap
            return lambda scope: overlap(left(scope), right(scope))
        return lambda scope: sem.membership(op, left(scope), right(scope))

    @staticmethod
    def _ordering(node: n.Binary, left: Compiled, right: Compiled) -> Compiled:
        relation = sem.ORDERING[node.op]
        if isinstance(node.right, n.Literal) and node.right.value is not None:
            constant = node.right.value

            def against_constant(scope: sem.Scope) -> Any:
                value = left(scope)
                if value is None:
                    return False
                if type(value) is Unknown:
                    return value
                return relation(value, constant)

            return against_constant

        def ordering(scope: sem.Scope) -> Any:
            a, b = left(scope), right(scope)
            if type(a) is Unknown or type(b) is Unknown:
                return sem.unknown_of(a, b)
            if a is None or b is None:
                return False
            return relation(a, b)

        return ordering

    @staticmethod
    def _equality(node: n.Binary, left: Compiled, right: Compiled) -> Compiled:
        negate = node.op == "!="
        if isinstance(node.right, n.Literal) and isinstance(node.right.value, (str, bool)):
            constant = node.right.value

            def equals_constant(scope: sem.Scope) -> Any:
                value = left(scope)
                if type(value) is Unknown:
                    return value
                return (value != constant) if negate else (value == constant)

            return equals_constant

        def equality(scope: sem.Scope) -> Any:
            a, b = left(scope), right(scope)
            if type(a) is Unknown or type(b) is Unknown:
                return sem.unknown_of(a, b)
            return sem.equal(a, b) is not negate

        return equality

    @staticmethod
    def _member(op: str, left: Compiled, right: Compiled) -> Compiled:
        negate = op == "not_in"

        def member(scope: sem.Scope) -> Any:
            a, b = left(scope), right(scope)
            if type(a) is Unknown or type(b) is Unknown:
                return sem.unknown_of(a, b)
            if a is None or b is None:
                return None
            return (a not in b) if negate else (a in b)

        return member

    def build_IsTest(self, node: n.IsTest) -> Compiled:
        operand, test = self.build(node.operand), node.test
        if test == "known":
            return lambda scope: type(operand(scope)) is not Unknown
        if test == "unknown":
            return lambda scope: type(operand(scope)) is Unknown

        def is_none(scope: sem.Scope) -> Any:
            value = operand(scope)
            if type(value) is Unknown:
                return value
            return (value is None) if test == "none" else (value is not None)

        return is_none

    def build_If(self, node: n.If) -> Compiled:
        condition, then, otherwise = self.build(node.condition), self.build(node.then), self.build(node.otherwise)

        def choice(scope: sem.Scope) -> Any:
            test = condition(scope)
            if test is True:
                return then(scope)
            if test is False or test is None:
                return otherwise(scope)
            return sem.either(test, then(scope), otherwise(scope))

        return choice

    def build_Call(self, node: n.Call) -> Compiled:
        parts, function = [self.build(arg) for arg in node.args], node.function
        if function == "age":
            birth, on = parts

            def age(scope: sem.Scope) -> Any:
                first, second = birth(scope), on(scope)
                if type(first) is Unknown or type(second) is Unknown:
                    return sem.unknown_of(first, second)
                if first is None or second is None:
                    return None
                return age_on(first, second)

            return age
        return lambda scope: sem.call(function, [part(scope) for part in parts])
