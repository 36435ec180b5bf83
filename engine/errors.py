"""Errors of the engine, each with the place in a file that caused it.

Every problem a user can cause (in a rule file, a facts file, a fixture, or an
expression) is a :class:`PolicyError` carrying a :class:`Span`; an :class:`Origin` knows
where an expression's text stands in its file, so that errors inside an expression that
came from a YAML scalar point into the YAML file. The text shown to the user
is rendered lazily as ``FILE:LINE:COL: error: MESSAGE``, followed by the source line and a
caret under the column, the format of compilers and of Lark's ``get_context``.

Validation collects: functions named ``iter_errors`` yield every problem, and
:class:`PolicyErrors` carries them together when they are raised (as python-jsonschema
does with ``iter_errors`` and ``validate``).

The tree::

    PolicyError
    ├── ConditionSyntaxError     the text of an expression does not parse
    ├── UnknownNameError         a name is not in the vocabulary (with "did you mean")
    ├── ConditionTypeError       types do not fit: a date compared with a number, ...
    ├── LimitError               an expression or a list exceeds a cost limit
    ├── EvaluationError          a rule cannot be evaluated: division by zero, a conflict
    │   └── ConflictError        two applicable rules of equal priority disagree
    ├── RuleFileError            a rule file is malformed: YAML, schema, windows, graph
    ├── InputError               a facts file or fixture is malformed (exit code 2)
    └── PolicyErrors             several of the above, raised together
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator


@dataclass(frozen=True, slots=True)
class Source:
    """The text of one file (or of one expression given on its own)."""

    name: str
    text: str

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        if 1 <= number <= len(lines):
            return lines[number - 1]
        return ""


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a source: 1-based line and column, and where it ends."""

    source: Source | None
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    @property
    def file(self) -> str:
        return self.source.name if self.source is not None else "<input>"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Origin:
    """Where an expression's text lies in a file: ``source.text[start:end]`` holds it,
    possibly quoted, folded or indented as YAML writes scalars."""

    source: Source
    text: str
    start: int = 0
    end: int = -1
    _offsets: list[int] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def bare(cls, text: str, name: str = "<expression>") -> "Origin":
        return cls(Source(name, text), text, 0, len(text))

    def _index(self, offset: int) -> int:
        """The index in the file of the expression's character at ``offset``."""
        if self.source.text is self.text or self.source.text == self.text and self.start == 0:
            return offset
        if not self._offsets:
            self._offsets.extend(_align(self.text, self.source.text, self.start, self.end))
        if offset < len(self._offsets):
            return self._offsets[offset]
        return (self._offsets[-1] + 1) if self._offsets else self.start

    def span(self, start: int, end: int) -> Span:
        first = self._index(max(0, start))
        last = self._index(max(start, end - 1)) + 1 if end > start else first
        line, column = _line_column(self.source.text, first)
        end_line, end_column = _line_column(self.source.text, last)
        return Span(self.source, line, column, end_line, end_column)


def _align(text: str, raw_text: str, start: int, end: int) -> list[int]:
    """Map each character of a YAML scalar's value to its index in the raw file text."""
    stop = len(raw_text) if end < 0 else end
    j = start
    if j < stop and raw_text[j] in "|>":
        newline = raw_text.find("\n", j)
        j = newline + 1 if newline >= 0 else j
    offsets = []
    for char in text:
        if char.isspace():
            offsets.append(j)
            continue
        k = raw_text.find(char, j, stop)
        if k < 0:
            k = min(j, max(start, stop - 1))
        offsets.append(k)
        j = k + 1
    return offsets


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


NOWHERE = Span(None, 1, 1)


class PolicyError(Exception):
    """Root of every error the engine reports to a user."""

    kind = "error"

    def __init__(self, message: str, span: Span = NOWHERE, *, severity: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.severity = severity

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """``FILE:LINE:COL: error: MESSAGE``, the source line, and a caret."""
        if self.span.source is None:  # a command-line argument or an API call: no file
            return f"{self.severity}: {self.message}"
        head = f"{self.span}: {self.severity}: {self.message}"
        text = self.span.source.line(self.span.line)
        if not text:
            return head
        width = 1
        if self.span.end_line == self.span.line and self.span.end_column > self.span.column:
            width = self.span.end_column - self.span.column
        column = self.span.column
        if len(text) > 100:  # show a window of a long line around the column
            first = max(0, column - 50)
            text = ("..." if first else "") + text[first:first + 100] + ("..." if first + 100 < len(text) else "")
            column = column - first + (3 if first else 0)
        caret = " " * (column - 1) + "^" * max(1, min(width, 60))
        return f"{head}\n    {text}\n    {caret}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.message)


class ConditionSyntaxError(PolicyError):
    kind = "syntax"


class UnknownNameError(PolicyError):
    kind = "name"


class ConditionTypeError(PolicyError):
    kind = "type"


class LimitError(PolicyError):
    kind = "limit"


class EvaluationError(PolicyError):
    kind = "evaluation"


class ConflictError(EvaluationError):
    kind = "conflict"


class RuleFileError(PolicyError):
    kind = "rule"


class InputError(PolicyError):
    kind = "input"


class PolicyErrors(PolicyError):
    """Several errors raised together; iterating gives each, sorted by place."""

    def __init__(self, errors: Iterable[PolicyError]) -> None:
        self.errors: list[PolicyError] = sorted(flatten(errors), key=PolicyError.sort_key)
        first = self.errors[0] if self.errors else None
        super().__init__(first.message if first else "no errors", first.span if first else NOWHERE)

    def __iter__(self) -> Iterator[PolicyError]:
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)

    def render(self) -> str:
        return "\n".join(error.render() for error in self.errors)

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.errors[0].kind if self.errors else "error"


def raise_all(errors: Iterable[PolicyError]) -> None:
    """Raise every error of ``errors`` together, or nothing when there is none."""
    collected = [e for e in errors if e.severity == "error"]
    if len(collected) == 1:
        raise collected[0]
    if collected:
        raise PolicyErrors(collected)


def flatten(errors: Iterable[PolicyError]) -> list[PolicyError]:
    """Expand every :class:`PolicyErrors` into its members."""
    out: list[PolicyError] = []
    for error in errors:
        if isinstance(error, PolicyErrors):
            out.extend(flatten(error.errors))
        else:
            out.append(error)
    return out


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A "did you mean" hint for a misspelled ``name``, or the empty string.

    Dotted names that share their prefix are compared by their last part, so that a
    common prefix (``persoon.``) does not make unrelated names look alike.
    """
    import difflib

    pool = [str(c) for c in candidates]
    prefix, dot, last = name.rpartition(".")
    if dot:
        siblings = {c.rpartition(".")[2]: c for c in pool if c.rpartition(".")[0] == prefix}
        matches = difflib.get_close_matches(last, list(siblings), n=1, cutoff=0.7)
        if matches:
            return f"; did you mean '{siblings[matches[0]]}'?"
        pool = [c for c in pool if c.rpartition(".")[0] != prefix]
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.75)
    return f"; did you mean '{matches[0]}'?" if matches else ""
