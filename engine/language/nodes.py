"""The abstract syntax tree of the condition language.

Every node is a frozen, slotted dataclass that carries its span as character offsets
(``start``, ``end``) into the expression's text; :class:`engine.errors.Origin` turns
offsets into lines and columns of the file the text came from. ``depth`` is the node's
nesting depth, computed on construction so the parser can bound it without recursion.

Lark's trees never leave :mod:`engine.parser`; everything after it works on these nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Union

from engine.values import Duration


@dataclass(frozen=True, slots=True)
class Literal:
    value: object  # bool, Decimal, str, date, Duration or None
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple["Node", ...]
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Name:
    """A fact, an output, a value set or a parameter."""

    name: str
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Special:
    """``evaluation_date`` or ``reference_date``."""

    which: str
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class At:
    """A value set or parameter looked up on a date: ``EU at verplichting_ontstaan_op``."""

    name: Name
    when: "Node"
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Not:
    operand: "Node"
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Negative:
    operand: "Node"
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Logic:
    """``and`` or ``or`` over two or more operands, in order."""

    op: str
    operands: tuple["Node", ...]
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic (``+ - * /``), comparison, and membership (``in``, ``not in``,
    ``any in``, ``any not in``, spelt ``in``, ``not_in``, ``any_in``, ``any_not_in``)."""

    op: str
    left: "Node"
    right: "Node"
    start: int
    end: int
    op_start: int = 0
    op_end: int = 0
    depth: int = 1


@dataclass(frozen=True, slots=True)
class IsTest:
    """``X is known``, ``X is unknown``, ``X is none``, ``X is not none``."""

    operand: "Node"
    test: str  # "known", "unknown", "none", "not_none"
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class If:
    condition: "Node"
    then: "Node"
    otherwise: "Node"
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple["Node", ...]
    start: int
    end: int
    name_end: int = 0
    depth: int = 1


Node = Union[Literal, ListLiteral, Name, Special, At, Not, Negative, Logic, Binary, IsTest, If, Call]


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``, in source order."""
    if isinstance(node, ListLiteral):
        return node.items
    if isinstance(node, At):
        return (node.name, node.when)
    if isinstance(node, (Not, Negative)):
        return (node.operand,)
    if isinstance(node, Logic):
        return node.operands
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, IsTest):
        return (node.operand,)
    if isinstance(node, If):
        return (node.condition, node.then, node.otherwise)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def free_names(node: Node) -> frozenset[str]:
    """The names an expression reads (Jinja's ``find_undeclared_variables``)."""
    return frozenset(n.name for n in walk(node) if isinstance(n, Name))


__all__ = [
    "At", "Binary", "Call", "Duration", "If", "IsTest", "ListLiteral", "Literal", "Logic",
    "Name", "Negative", "Node", "Not", "Special", "children", "free_names", "walk",
]
