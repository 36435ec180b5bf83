"""The reference interpreter: a plain walk over the AST, the oracle for the compiler.

It is written for clarity, not speed: every node is visited as the language documents
it, with no shortcuts. The conformance suite and the property tests check that the
compiled closures of :mod:`engine.language.closures` agree with it on every case.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.language import nodes as n
from engine.language import semantics as sem
from engine.errors import EvaluationError
from engine.errors import Origin
from engine.values import Unknown


def interpret(node: n.Node, scope: sem.Scope, origin: Origin) -> Any:
    """The value of ``node`` in ``scope``."""
    return _Interpreter(scope, origin).value(node)


class _Interpreter:
    def __init__(self, scope: sem.Scope, origin: Origin) -> None:
        self.scope = scope
        self.origin = origin

    def fail(self, message: str, node: n.Node) -> EvaluationError:
        return EvaluationError(message, self.origin.span(node.start, node.end))

    def value(self, node: n.Node) -> Any:
        scope = self.scope
        match node:
            case n.Literal(value=value):
                return value
            case n.ListLiteral(items=items):
                return sem.listed(*[self.value(item) for item in items])
            case n.Name(name=name):
                return self.name(name)
            case n.Special(which="evaluation_date"):
                return scope.evaluation_date
            case n.Special():
                return scope.reference_date
            case n.At(name=target, when=when):
                on = self.value(when)
                if type(on) is Unknown or on is None:
                    return on
                return scope.constant(target.name, on)
            case n.Not(operand=operand):
                value = sem.truth(self.value(operand))
                return value if type(value) is Unknown else not value
            case n.Negative(operand=operand):
                return sem.negative(self.value(operand))
            case n.Logic(op=op, operands=operands):
                return self.logic(op, operands)
            case n.Binary(op=op, left=left, right=right):
                return self.binary(node, op, self.value(left), self.value(right))
            case n.IsTest(operand=operand, test=test):
                return self.is_test(self.value(operand), test)
            case n.If(condition=condition, then=then, otherwise=otherwise):
                return self.choice(condition, then, otherwise)
            case n.Call(function=function, args=args):
                return sem.call(function, [self.value(arg) for arg in args])
        raise AssertionError(f"unknown node {node!r}")

    def name(self, name: str) -> Any:
        scope = self.scope
        kind = sem.kind_of_name(name)
        if kind == "fact":
            if name in scope.facts:
                return scope.facts[name]
            return Unknown(frozenset({name}))
        if kind == "set":
            return scope.constant(name, scope.reference_date)
        return scope.output(name)

    def logic(self, op: str, operands: tuple[n.Node, ...]) -> Any:
        def value_of(node: n.Node) -> Callable[[Any], Any]:
            return lambda scope: self.value(node)

        return sem.logic(op, [value_of(operand) for operand in operands], self.scope)

    def binary(self, node: n.Binary, op: str, left: Any, right: Any) -> Any:
        if op in ("+", "-", "*", "/"):
            try:
                return sem.arithmetic(op, left, right)
            except sem.DivisionByZero:
                raise self.fail("division by zero", node) from None
            except sem.NumberTooLarge as problem:
                raise self.fail(str(problem), node) from None
            except OverflowError:
                raise self.fail("the date falls outside the calendar", node) from None
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return sem.compare(op, left, right)
        return sem.membership(op, left, right)

    @staticmethod
    def is_test(value: Any, test: str) -> Any:
        if test == "known":
            return type(value) is not Unknown
        if test == "unknown":
            return type(value) is Unknown
        if type(value) is Unknown:
            return value
        return (value is None) if test == "none" else (value is not None)

    def choice(self, condition: n.Node, then: n.Node, otherwise: n.Node) -> Any:
        test = sem.truth(self.value(condition))
        if test is True:
            return self.value(then)
        if test is False:
            return self.value(otherwise)
        return sem.either(test, self.value(then), self.value(otherwise))

