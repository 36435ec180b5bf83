"""The face of the condition language: ``Expression.compile(text, vocabulary)``.

One call parses, checks and compiles an expression (cel-python's
``Environment.compile``); the resulting :class:`Expression` evaluates through its
compiled closure (:meth:`Expression.evaluate`) or through the reference interpreter
(:meth:`Expression.interpret`). :class:`TestScope` is a self-contained scope for tests
and tools that evaluate an expression outside a rule set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

from engine.language import nodes as n
from engine.language.checker import check
from engine.language.closures import Compiled, compile_node
from engine.language.interpreter import interpret
from engine.errors import Origin
from engine.language.parser import parse
from engine.language.semantics import Scope
from engine.language.types import Type, Vocabulary
from engine.values import Unknown

__all__ = ["Expression", "Origin", "TestScope", "Vocabulary"]


@dataclass(frozen=True)
class Expression:
    """A parsed, checked and compiled expression."""

    text: str
    node: n.Node
    type: Type
    origin: Origin
    closure: Compiled | None = field(default=None, repr=False, compare=False)  # given, or built on first use
    free_names: frozenset[str] = frozenset()
    as_set: bool = False  # the value of a set-typed output: a list becomes a set

    @property
    def compiled(self) -> Compiled:
        """The closure that evaluates the expression, compiled on first use.

        Not at load: a large rule set then holds no closures it never runs (they are
        most of the objects Python's collector walks while the set loads), and the
        generated fast path (engine.evaluation.codegen) needs them only to fall back to. Two
        threads compiling at once make equal closures and keep either."""
        closure = self.closure
        if closure is None:
            closure = compile_node(self.node, self.origin)
            if self.as_set:
                closure = _as_set(closure)
            object.__setattr__(self, "closure", closure)  # a cache on a frozen value
        return closure

    @classmethod
    def compile(cls, text: str, vocabulary: Vocabulary, origin: Origin | None = None,
                expected: Type | None = None) -> "Expression":
        """Parse and check ``text`` (compiled on first use); raises :class:`engine.errors.PolicyError`."""
        origin = origin or Origin.bare(text)
        node = parse(text, origin)
        result_type = check(node, vocabulary, origin, expected)
        return cls(text, node, result_type, origin, None, n.free_names(node))

    def evaluate(self, scope: Scope) -> Any:
        """The value through the compiled closures (the hot path)."""
        return self.compiled(scope)

    def interpret(self, scope: Scope) -> Any:
        """The value through the reference interpreter (the oracle)."""
        return interpret(self.node, scope, self.origin)


def _as_set(inner: Compiled) -> Compiled:
    def as_set(scope: Scope) -> Any:
        value = inner(scope)
        return frozenset(value) if isinstance(value, tuple) else value

    return as_set


@dataclass
class TestScope:
    """A scope built from plain mappings.

    ``constants`` maps a set or parameter to ``{"values": [...]}`` (a set at all times),
    ``{"value": V}`` (a parameter at all times) or ``{"versions": [{"from": DATE,
    "until": DATE or None, "value": V}, ...]}``. An output absent from ``outputs`` is
    ``none`` (not applicable); give an :class:`Unknown` to make it unknown.
    """

    __test__ = False  # not a pytest test class

    facts: dict[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    decided: dict[str, Any] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    evaluation_date: date = date(2024, 1, 1)
    reference_date: date = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.reference_date is None:
            self.reference_date = self.evaluation_date
        self._sets = {name: frozenset(entry["values"]) for name, entry in self.constants.items()
                      if isinstance(entry, Mapping) and "values" in entry}

    def output(self, name: str) -> Any:
        return self.outputs.get(name)

    def constant(self, name: str, on: date) -> Any:
        entry = self.constants.get(name)
        if entry is None:
            return Unknown(frozenset())
        if name in self._sets:
            return self._sets[name]
        if "value" in entry:
            return entry["value"]
        for version in entry.get("versions", ()):
            start, until = version.get("from"), version.get("until")
            if (start is None or start <= on) and (until is None or on < until):
                value = version["value"]
                return frozenset(value) if isinstance(value, (list, tuple, set)) else value
        return None
