"""Errors of the engine, each with the place in a file that caused it.

Every problem a user can cause (in a rule file, a facts file, a fixture, or an
expression) is a :class:`PolicyError` carrying a :class:`Span`; an :class:`Origin` knows
where an expression's text stands in its file, so that errors inside an expression that
came from a YAML scalar point into the YAML file. The text shown to the user
is rendered lazily as ``FILE:LINE:COL: error: MESSAGE``, followed by the source line and a
caret under the column, the format of compilers and of Lark's ``get_context``.

Rendering costs the same for each error however many there are: a source indexes the
starts of its lines once, as far as the errors shown in it need, and "did you mean" hints are
given for the first :data:`MAX_SUGGESTIONS` misspellings of one kind in one run
(:class:`Suggestions`). Values quoted in messages are shortened (:func:`shorten`), and a
message longer than :data:`MAX_MESSAGE` is cut in its middle, so no input is echoed whole.

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

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

MAX_MESSAGE = 2000  # characters of a message before it is cut in the middle
MAX_SUGGESTIONS = 20  # "did you mean" hints of one kind in one run; beyond, none
# the line breaks of str.splitlines besides "\n" (which str.find finds fastest)
_OTHER_BREAK = re.compile("[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def _line_break(text: str, start: int) -> tuple[int, int]:
    """Where the line starting at ``start`` ends, and where the next one starts (both
    ``len(text)`` after the last line); reads that line only."""
    end = text.find("\n", start)
    if end < 0:
        end = len(text)
    other = _OTHER_BREAK.search(text, start, end)  # only before the first "\n"
    if other is not None:
        end = other.start()
    if end == len(text):
        return end, end
    if text.startswith("\r\n", end):
        return end, end + 2
    return end, end + 1


@dataclass(frozen=True, slots=True)
class Source:
    """The text of one file (or of one expression given on its own)."""

    name: str
    text: str
    # where each line starts, found as far as the lines asked for: rendering N errors in
    # one file reads it once, and an error on line 2 of a 50 MB file reads two lines
    line_starts: list[int] = field(default_factory=list, compare=False, repr=False)

    def line(self, number: int) -> str:
        """Line ``number`` (1-based) as ``text.splitlines()`` gives it, or ""."""
        if number < 1:
            return ""
        text, starts = self.text, self.line_starts
        if len(starts) < number:
            known = len(starts)
            found = [starts[-1]] if starts else [0]
            while known + len(found) - (1 if starts else 0) < number:
                _, following = _line_break(text, found[-1])
                if following >= len(text):
                    break
                found.append(following)
            # two threads may both extend the index: with the same values, in either order
            starts[known:] = found[1:] if starts else found
            if len(starts) < number:
                return ""
        start = starts[number - 1]
        return text[start:_line_break(text, start)[0]]


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
            return f"{self.severity}: {_cut(self.message)}"
        head = f"{self.span}: {self.severity}: {_cut(self.message)}"
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
    name = ""  # the name that is not known, where the checker gives it


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


def shorten(value: object, width: int = 60) -> str:
    """``value`` as a message quotes it (a text in quotes), at most about ``width``
    characters: a longer one keeps its start and end and says how long it was."""
    if isinstance(value, str):
        if len(value) <= width:
            return repr(value)
        half = width // 2
        return f"{value[:half]!r}...{value[-half:]!r} ({len(value)} characters)"
    if isinstance(value, (list, tuple, dict, set, frozenset)) and len(value) > 8:
        kind = "mapping" if isinstance(value, dict) else "list"
        return f"a {kind} of {len(value)} items"
    text = str(value) if not isinstance(value, (list, tuple, dict, set, frozenset)) else repr(value)
    if len(text) <= width:
        return text
    half = width // 2
    return f"{text[:half]}...{text[-half:]} ({len(text)} characters)"


def _cut(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    half = MAX_MESSAGE // 2
    return f"{message[:half]} [... {len(message) - MAX_MESSAGE} characters left out ...] {message[-half:]}"


class Suggestions:
    """"Did you mean" among ``candidates`` for at most ``limit`` names, then nothing.

    One per kind of name in one run: 20,000 misspelled keys get 20 hints, not 20,000
    comparisons with every candidate.
    """

    def __init__(self, candidates: Iterable[str], limit: int = MAX_SUGGESTIONS) -> None:
        self.candidates = list(candidates)
        self.left = limit

    def __call__(self, name: str) -> str:
        if self.left <= 0:
            return ""
        self.left -= 1
        return suggest(name, self.candidates)


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
