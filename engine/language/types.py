"""Types of the condition language and the vocabulary of names they are checked against.

A type is a small frozen value: a base (``bool``, ``number``, ``text``, ``date``,
``duration``), a ``list of T`` or a ``set of T`` (a list that compares as a set), ``none``
(the type of the literal ``none``, which fits every type), or ``any`` (the element type
of the empty list, which fits every type too).

A :class:`Vocabulary` maps every name an expression may use to its :class:`Declaration`:
a fact, an output, a value set or a parameter, with its type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from engine.errors import Span

BASES = ("bool", "number", "text", "date", "duration")


@dataclass(frozen=True, slots=True)
class Type:
    name: str  # one of BASES, "list", "set", "none", "any"
    element: "Type | None" = None

    def __str__(self) -> str:
        if self.element is not None:
            return f"{self.name} of {self.element}"
        return self.name

    @property
    def is_collection(self) -> bool:
        return self.name in ("list", "set")

    def fits(self, other: "Type") -> bool:
        """Whether a value of type ``other`` may stand where ``self`` is expected."""
        if other.name in ("none", "any") or self.name == "any":
            return True
        if self.is_collection and other.is_collection:
            assert self.element is not None and other.element is not None
            return self.element.fits(other.element)
        return self.name == other.name

    def join(self, other: "Type") -> "Type | None":
        """The common type of two values (for lists and ``if`` branches), or None."""
        if other.name in ("none", "any"):
            return self
        if self.name in ("none", "any"):
            return other
        if self.is_collection and other.is_collection:
            assert self.element is not None and other.element is not None
            element = self.element.join(other.element)
            if element is None:
                return None
            return Type("set" if "set" in (self.name, other.name) else "list", element)
        return self if self.name == other.name else None


BOOL = Type("bool")
NUMBER = Type("number")
TEXT = Type("text")
DATE = Type("date")
DURATION = Type("duration")
NONE = Type("none")
ANY = Type("any")


def list_of(element: Type) -> Type:
    return Type("list", element)


def parse_type(text: str) -> Type:
    """``'date'``, ``'list of text'``, ``'set of text'`` ... to a :class:`Type`."""
    words = text.strip().split()
    if len(words) == 1 and words[0] in BASES:
        return Type(words[0])
    if len(words) >= 3 and words[0] in ("list", "set") and words[1] == "of":
        return Type(words[0], parse_type(" ".join(words[2:])))
    raise ValueError(f"unknown type '{text}'; use one of {', '.join(BASES)}, 'list of T' or 'set of T'")


KINDS = ("fact", "output", "set", "parameter")


@dataclass(frozen=True, slots=True)
class Declaration:
    """A name an expression may use, what it is, and its type."""

    name: str
    kind: str  # one of KINDS
    type: Type
    span: Span | None = None
    description: str = ""
    values: tuple[str, ...] = ()  # allowed values of a text fact, when declared
    default: object = None  # a fact's default when not given (None: no default)
    has_default: bool = False
    internal: bool = False  # an intermediate output, not part of the public result
    event: bool = False  # a date fact that is the date of an event (none while it has not happened)
    event_of: str = ""  # a fact describing that event: given (not none), the event has happened


@dataclass(frozen=True)
class Vocabulary:
    """Every declared name, by name."""

    names: Mapping[str, Declaration] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def get(self, name: str) -> Declaration | None:
        return self.names.get(name)

    def of_kind(self, kind: str) -> list[Declaration]:
        return [d for d in self.names.values() if d.kind == kind]

    @staticmethod
    def kind_of_name(name: str) -> str:
        """The kind a bare name implies: dotted facts, UPPER sets, lower outputs."""
        if "." in name:
            return "fact"
        if name.upper() == name and any(c.isalpha() for c in name):
            return "set"
        return "output"

    @classmethod
    def from_declarations(cls, types: Mapping[str, str]) -> "Vocabulary":
        """A vocabulary from ``{name: type text}``, each kind told by the name's shape."""
        names = {
            name: Declaration(name, cls.kind_of_name(name), parse_type(text))
            for name, text in types.items()
        }
        return cls(names)

    @classmethod
    def of(cls, declarations: Iterable[Declaration]) -> "Vocabulary":
        return cls({d.name: d for d in declarations})
