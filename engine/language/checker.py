"""The static checker: names resolve and types fit, before anything is evaluated.

:func:`check` walks an AST once and collects every problem it finds (an unknown name
with a "did you mean", a type that does not fit, a function called with the wrong
number of arguments, a text compared with a value its fact can never take), each with
the span of the offending part; it returns the expression's type, or raises all
problems together.

After an error the checker goes on with the type ``any``, which fits everything, so one
mistake does not cascade into many messages.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine.language import nodes as n
from engine.errors import ConditionTypeError, PolicyError, UnknownNameError, raise_all, suggest
from engine.errors import Origin
from engine.language.types import ANY, BOOL, DATE, DURATION, NONE, NUMBER, TEXT, Type, Vocabulary, list_of
from engine.values import Duration

FUNCTIONS = {"age": "age(BIRTH_DATE, ON_DATE)", "min": "min(A, B, ...)", "max": "max(A, B, ...)",
             "count": "count(LIST)"}
ORDERED = ("number", "date", "text")


def literal_type(value: object) -> Type:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, Decimal):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, date):
        return DATE
    if isinstance(value, Duration):
        return DURATION
    return NONE


class _Checker:
    def __init__(self, vocabulary: Vocabulary, origin: Origin) -> None:
        self.vocabulary = vocabulary
        self.origin = origin
        self.errors: list[PolicyError] = []

    def fail(self, message: str, start: int, end: int, kind: type[PolicyError] = ConditionTypeError) -> Type:
        self.errors.append(kind(message, self.origin.span(start, end)))
        return ANY

    def expect(self, node: n.Node, wanted: Type, what: str) -> Type:
        actual = self.type_of(node)
        if not wanted.fits(actual):
            return self.fail(f"{what} must be {wanted}, not {actual}", node.start, node.end)
        return actual

    def type_of(self, node: n.Node) -> Type:
        method = getattr(self, "visit_" + type(node).__name__)
        result: Type = method(node)
        return result

    def visit_Literal(self, node: n.Literal) -> Type:
        return literal_type(node.value)

    def visit_ListLiteral(self, node: n.ListLiteral) -> Type:
        element: Type = ANY
        for item in node.items:
            item_type = self.type_of(item)
            joined = element.join(item_type)
            if joined is None:
                return self.fail(f"a list holds values of one type; found {element} and {item_type}",
                                 item.start, item.end)
            element = joined
        return list_of(element)

    def visit_Name(self, node: n.Name) -> Type:
        declaration = self.vocabulary.get(node.name)
        if declaration is None:
            hint = suggest(node.name, self.vocabulary.names)
            kind = Vocabulary.kind_of_name(node.name)
            what = {"fact": "fact", "output": "output", "set": "value set or parameter"}[kind]
            return self.fail(f"unknown {what} '{node.name}'{hint}", node.start, node.end, UnknownNameError)
        return declaration.type

    def visit_Special(self, node: n.Special) -> Type:
        return DATE

    def visit_At(self, node: n.At) -> Type:
        declaration = self.vocabulary.get(node.name.name)
        self.expect(node.when, DATE, "the date after 'at'")
        if declaration is None:
            return self.visit_Name(node.name)
        if declaration.kind not in ("set", "parameter"):
            return self.fail(f"'at' looks up a value set or parameter on a date; '{node.name.name}' is a "
                             f"{declaration.kind}", node.name.start, node.name.end)
        return declaration.type

    def visit_Not(self, node: n.Not) -> Type:
        self.expect(node.operand, BOOL, "the operand of 'not'")
        return BOOL

    def visit_Negative(self, node: n.Negative) -> Type:
        self.expect(node.operand, NUMBER, "the operand of '-'")
        return NUMBER

    def visit_Logic(self, node: n.Logic) -> Type:
        for operand in node.operands:
            self.expect(operand, BOOL, f"each operand of '{node.op}'")
        return BOOL

    def visit_IsTest(self, node: n.IsTest) -> Type:
        self.type_of(node.operand)
        return BOOL

    def visit_If(self, node: n.If) -> Type:
        self.expect(node.condition, BOOL, "the condition of 'if'")
        then, otherwise = self.type_of(node.then), self.type_of(node.otherwise)
        joined = then.join(otherwise)
        if joined is None:
            return self.fail(f"both branches of 'if' must have one type; found {then} and {otherwise}",
                             node.start, node.end)
        return joined

    def visit_Binary(self, node: n.Binary) -> Type:
        left, right = self.type_of(node.left), self.type_of(node.right)
        if ANY in (left, right):
            return self._result_when_unsure(node.op, left, right)
        if node.op in ("+", "-", "*", "/"):
            return self._arithmetic(node, left, right)
        if node.op in ("==", "!=", "<", "<=", ">", ">="):
            return self._comparison(node, left, right)
        return self._membership(node, left, right)

    def _result_when_unsure(self, op: str, left: Type, right: Type) -> Type:
        if op in ("+", "-", "*", "/"):
            other = right if left == ANY else left
            return other if other.name in ("number", "date", "duration") and op in "+-" else ANY
        return BOOL

    def _arithmetic(self, node: n.Binary, left: Type, right: Type) -> Type:
        names = (left.name, right.name)
        if "none" in names:
            other = right if left.name == "none" else left
            return other if other.name in ("number", "date", "duration", "none") else self._bad_operands(
                node, left, right)
        table = {
            ("+", "number", "number"): NUMBER, ("-", "number", "number"): NUMBER,
            ("*", "number", "number"): NUMBER, ("/", "number", "number"): NUMBER,
            ("+", "date", "duration"): DATE, ("+", "duration", "date"): DATE,
            ("-", "date", "duration"): DATE, ("-", "date", "date"): NUMBER,
            ("+", "duration", "duration"): DURATION, ("-", "duration", "duration"): DURATION,
        }
        result = table.get((node.op, left.name, right.name))
        return result if result is not None else self._bad_operands(node, left, right)

    def _bad_operands(self, node: n.Binary, left: Type, right: Type) -> Type:
        return self.fail(f"'{node.op}' cannot combine {left} and {right}", node.op_start, node.op_end)

    def _comparison(self, node: n.Binary, left: Type, right: Type) -> Type:
        if left.join(right) is None:
            return self.fail(f"cannot compare {left} with {right}", node.op_start, node.op_end)
        if node.op not in ("==", "!=") and "none" not in (left.name, right.name):
            if left.name not in ORDERED:
                return self.fail(f"'{node.op}' orders numbers, dates and texts, not {left}",
                                 node.op_start, node.op_end)
        self._check_enumerated(node.left, node.right)
        self._check_enumerated(node.right, node.left)
        return BOOL

    def _membership(self, node: n.Binary, left: Type, right: Type) -> Type:
        if right.name == "none":
            return BOOL
        if not right.is_collection:
            return self.fail(f"'{node.op.replace('_', ' ')}' needs a list or set on its right, not {right}",
                             node.right.start, node.right.end)
        assert right.element is not None
        if node.op in ("in", "not_in"):
            if left.is_collection:
                return self.fail("the left side is a list: write 'any LIST in SET' to test whether some "
                                 "element is in the set", node.left.start, node.left.end)
            if not right.element.fits(left) and not left.fits(right.element):
                return self.fail(f"cannot look for {left} in {right}", node.op_start, node.op_end)
            self._check_enumerated(node.left, node.right)
            return BOOL
        if left.name == "none":
            return BOOL
        if not left.is_collection:
            return self.fail(f"'any' needs a list on its left, not {left}", node.left.start, node.left.end)
        assert left.element is not None
        if left.element.join(right.element) is None:
            return self.fail(f"cannot look for elements of {left} in {right}", node.op_start, node.op_end)
        return BOOL

    def _check_enumerated(self, name: n.Node, other: n.Node) -> None:
        """A text fact with declared values compared with a text it can never take."""
        if not isinstance(name, n.Name):
            return
        declaration = self.vocabulary.get(name.name)
        if declaration is None or not declaration.values:
            return
        literals = other.items if isinstance(other, n.ListLiteral) else (other,)
        for literal in literals:
            if isinstance(literal, n.Literal) and isinstance(literal.value, str):
                if literal.value not in declaration.values:
                    hint = suggest(literal.value, declaration.values)
                    self.fail(f"'{name.name}' never has the value '{literal.value}'{hint}",
                              literal.start, literal.end)

    def visit_Call(self, node: n.Call) -> Type:
        if node.function not in FUNCTIONS:
            for arg in node.args:
                self.type_of(arg)
            hint = suggest(node.function, FUNCTIONS)
            return self.fail(f"unknown function '{node.function}'{hint}", node.start, node.name_end,
                             UnknownNameError)
        args = [self.type_of(arg) for arg in node.args]
        if node.function == "age":
            if len(args) != 2:
                return self._arity(node)
            for arg, arg_type in zip(node.args, args):
                if not DATE.fits(arg_type):
                    self.fail(f"age() takes dates, not {arg_type}", arg.start, arg.end)
            return NUMBER
        if node.function == "count":
            if len(args) != 1:
                return self._arity(node)
            if not (args[0].is_collection or args[0].name in ("none", "any")):
                return self.fail(f"count() takes a list, not {args[0]}", node.args[0].start, node.args[0].end)
            return NUMBER
        return self._extreme(node, args)

    def _extreme(self, node: n.Call, args: list[Type]) -> Type:
        if not args:
            return self._arity(node)
        if len(args) == 1:
            if not args[0].is_collection:
                return self.fail(f"{node.function}() takes two or more values, or one list",
                                 node.start, node.end)
            assert args[0].element is not None
            element = args[0].element
        else:
            element = ANY
            for arg, arg_type in zip(node.args, args):
                joined = element.join(arg_type)
                if joined is None:
                    return self.fail(f"{node.function}() takes values of one type; found {element} and "
                                     f"{arg_type}", arg.start, arg.end)
                element = joined
        if element.name not in ("number", "date", "any", "none"):
            return self.fail(f"{node.function}() takes numbers or dates, not {element}", node.start, node.end)
        return element

    def _arity(self, node: n.Call) -> Type:
        return self.fail(f"wrong number of arguments: {node.function}() is called as "
                         f"{FUNCTIONS[node.function]}", node.start, node.end)


def _run(node: n.Node, vocabulary: Vocabulary, origin: Origin,
         expected: Type | None) -> tuple[Type, list[PolicyError]]:
    checker = _Checker(vocabulary, origin)
    actual = checker.type_of(node)
    if expected is not None and not expected.fits(actual) and actual != ANY:
        checker.fail(f"this expression gives {actual}, but {expected} is needed", node.start, node.end)
    return actual, checker.errors


def check(node: n.Node, vocabulary: Vocabulary, origin: Origin, expected: Type | None = None) -> Type:
    """The type of ``node``; raises every problem together when there is any."""
    actual, errors = _run(node, vocabulary, origin, expected)
    raise_all(errors)
    return actual
