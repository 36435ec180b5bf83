"""Parse the text of an expression into our AST (:mod:`engine.nodes`).

Lark stays at this border: its LALR parser runs with an inline transformer that builds
our nodes while it reduces, so no ``lark.Tree`` is ever built or returned, and deep
nesting cannot exhaust Python's stack. Lark's exceptions become
:class:`ConditionSyntaxError` with a position; the cost limits of the language (length,
nesting depth, list size) are enforced here.

:class:`Origin` knows where the text of an expression stands in its file, so that errors
inside an expression that came from a YAML scalar point into the YAML file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from engine.language import nodes as n
from engine.errors import ConditionSyntaxError, LimitError, PolicyError, Source, Span
from engine.values import MAX_TERM, Duration, NumberOutOfRange, bounded_number

MAX_LENGTH = 4000
MAX_DEPTH = 40
MAX_LIST_ITEMS = 500


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


class _Problem(Exception):
    """Raised inside the transformer, turned into a positioned error by :func:`parse`."""

    def __init__(self, kind: type[PolicyError], message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.kind, self.message, self.start, self.end = kind, message, start, end


def _start(item: Token | n.Node) -> int:
    if isinstance(item, Token):
        assert item.start_pos is not None  # lark types it Optional; the lexer positions every token
        return item.start_pos
    return item.start


def _end(item: Token | n.Node) -> int:
    if isinstance(item, Token):
        assert item.end_pos is not None  # lark types it Optional; the lexer positions every token
        return item.end_pos
    return item.end


def _depth(*kids: Any) -> int:
    deepest = 0
    for kid in kids:
        if kid is not None and not isinstance(kid, Token) and kid.depth > deepest:
            deepest = kid.depth
    depth = deepest + 1
    if depth > MAX_DEPTH:
        first = next(k for k in kids if k is not None)
        raise _Problem(LimitError, f"expression nests deeper than {MAX_DEPTH} levels",
                       _start(first), _end(first))
    return depth


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


class _Builder(Transformer[Token, n.Node]):
    """Builds AST nodes as Lark reduces; stateless, so one instance serves all threads."""

    def number(self, kids: list[Token]) -> n.Literal:
        (tok,) = kids
        try:
            value = bounded_number(Decimal(str(tok)))
        except NumberOutOfRange as problem:
            raise _Problem(LimitError, str(problem), _start(tok), _end(tok)) from None
        return n.Literal(value, _start(tok), _end(tok))

    def duration(self, kids: list[Token]) -> n.Literal:
        amount, unit = kids
        if "." in amount:
            raise _Problem(ConditionSyntaxError, "a duration takes a whole number of days, months or years",
                           _start(amount), _end(amount))
        if len(amount) > 8 or int(amount) > MAX_TERM:
            raise _Problem(LimitError, f"a duration holds at most {MAX_TERM} days, months or years",
                           _start(amount), _end(amount))
        count = int(amount)
        term = (Duration(days=count) if unit.startswith("day")
                else Duration(months=count) if unit.startswith("month")
                else Duration(months=12 * count))
        return n.Literal(term, _start(amount), _end(unit))

    def text(self, kids: list[Token]) -> n.Literal:
        (tok,) = kids
        return n.Literal(_unescape(tok[1:-1]), _start(tok), _end(tok))

    def date_literal(self, kids: list[Token]) -> n.Literal:
        (tok,) = kids
        try:
            value = date.fromisoformat(str(tok))
        except ValueError:
            raise _Problem(ConditionSyntaxError, f"impossible date {tok}", _start(tok), _end(tok)) from None
        return n.Literal(value, _start(tok), _end(tok))

    def true(self, kids: list[Token]) -> n.Literal:
        return n.Literal(True, _start(kids[0]), _end(kids[0]))

    def false(self, kids: list[Token]) -> n.Literal:
        return n.Literal(False, _start(kids[0]), _end(kids[0]))

    def none(self, kids: list[Token]) -> n.Literal:
        return n.Literal(None, _start(kids[0]), _end(kids[0]))

    def special(self, kids: list[Token]) -> n.Special:
        return n.Special(str(kids[0]), _start(kids[0]), _end(kids[0]))

    def name(self, kids: list[Token]) -> n.Name:
        return n.Name(str(kids[0]), _start(kids[0]), _end(kids[0]))

    def call(self, kids: list[Any]) -> n.Call:
        name, rpar = kids[0], kids[-1]
        args = tuple(k for k in kids[2:-1] if k is not None and not isinstance(k, Token))
        return n.Call(str(name), args, name.start_pos, rpar.end_pos, name.end_pos, _depth(*args))

    def list_literal(self, kids: list[Any]) -> n.ListLiteral:
        items = tuple(k for k in kids[1:-1] if k is not None and not isinstance(k, Token))
        if len(items) > MAX_LIST_ITEMS:
            raise _Problem(LimitError, f"a list literal holds at most {MAX_LIST_ITEMS} elements",
                           _start(kids[0]), _end(kids[-1]))
        return n.ListLiteral(items, _start(kids[0]), _end(kids[-1]), _depth(*items))

    def group(self, kids: list[Any]) -> n.Node:
        inner = kids[1]
        depth = _depth(inner)  # parentheses nest too: they count toward the limit
        return replace(inner, depth=depth)  # type: ignore[no-any-return]

    def at_date(self, kids: list[Any]) -> n.At:
        target, at, when = kids
        if not isinstance(target, n.Name):
            raise _Problem(ConditionSyntaxError, "'at' follows the name of a value set or parameter",
                           at.start_pos, at.end_pos)
        return n.At(target, when, target.start, _end(when), _depth(target, when))

    def minus(self, kids: list[Any]) -> n.Node:
        sign, operand = kids
        if isinstance(operand, n.Literal) and isinstance(operand.value, Decimal):
            return n.Literal(operand.value.copy_negate(), sign.start_pos, operand.end)
        return n.Negative(operand, sign.start_pos, _end(operand), _depth(operand))

    def negation(self, kids: list[Any]) -> n.Not:
        keyword, operand = kids
        return n.Not(operand, keyword.start_pos, _end(operand), _depth(operand))

    def logic(self, kids: list[Any]) -> n.Node:
        if len(kids) == 1:
            return kids[0]  # type: ignore[no-any-return]
        operands = tuple(k for k in kids if not isinstance(k, Token))
        op = str(kids[1])
        return n.Logic(op, operands, _start(operands[0]), _end(operands[-1]), _depth(*operands))

    def arithmetic(self, kids: list[Any]) -> n.Node:
        node = kids[0]
        for i in range(1, len(kids), 2):
            op, right = kids[i], kids[i + 1]
            node = n.Binary(str(op), node, right, _start(node), _end(right),
                            op.start_pos, op.end_pos, _depth(node, right))
        return node  # type: ignore[no-any-return]

    def _binary(self, op: str, left: Any, right: Any, first_op: Token, last_op: Token) -> n.Binary:
        return n.Binary(op, left, right, _start(left), _end(right),
                        _start(first_op), _end(last_op), _depth(left, right))

    def compare(self, kids: list[Any]) -> n.Binary:
        left, op, right = kids
        return self._binary(str(op), left, right, op, op)

    def member(self, kids: list[Any]) -> n.Binary:
        left, op, right = kids
        return self._binary("in", left, right, op, op)

    def not_member(self, kids: list[Any]) -> n.Binary:
        left, op_not, op_in, right = kids
        return self._binary("not_in", left, right, op_not, op_in)

    def overlap(self, kids: list[Any]) -> n.Binary:
        any_, left, op, right = kids
        node = self._binary("any_in", left, right, op, op)
        return n.Binary(node.op, left, right, any_.start_pos, node.end, op.start_pos, op.end_pos, node.depth)

    def not_overlap(self, kids: list[Any]) -> n.Binary:
        any_, left, op_not, op_in, right = kids
        node = self._binary("any_not_in", left, right, op_not, op_in)
        return n.Binary(node.op, left, right, any_.start_pos, node.end, op_not.start_pos, op_in.end_pos,
                        node.depth)

    def is_test(self, kids: list[Any]) -> n.IsTest:
        operand, negated, word = kids[0], kids[2] is not None, kids[3]
        test = {"known": "unknown", "unknown": "known", "none": "not_none"}[str(word)] if negated else str(word)
        return n.IsTest(operand, test, _start(operand), word.end_pos, _depth(operand))

    def if_then_else(self, kids: list[Any]) -> n.If:
        keyword, condition, _, then, _, otherwise = kids
        return n.If(condition, then, otherwise, keyword.start_pos, _end(otherwise),
                    _depth(condition, then, otherwise))


@functools.cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("condition.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", transformer=_Builder(),
                maybe_placeholders=True)


@functools.lru_cache(maxsize=1024)
def _tree(text: str) -> n.Node:
    """The AST of ``text``, parsed once for all expressions that share the text: the
    nodes hold offsets into the text, not places in a file, and are frozen. Rule sets
    repeat reference dates and conditions. An error is not kept: it is raised again."""
    return _parser().parse(text)  # type: ignore[return-value]


_READABLE = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a text", "DATE": "a date",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "COMMA": "','",
    "COMPARE": "a comparison", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'",
    "UNIT": "'days', 'months' or 'years'", "TEST_WORD": "'known' or 'unknown'", "$END": "the end",
}


def _describe(expected: set[str]) -> str:
    words = sorted({_READABLE.get(t, f"'{t.lower()}'") for t in expected})
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words)


def parse(text: str, origin: Origin | None = None) -> n.Node:
    """The AST of ``text``; raises :class:`ConditionSyntaxError` or :class:`LimitError`."""
    origin = origin or Origin.bare(text)
    if len(text) > MAX_LENGTH:
        raise LimitError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}",
                         origin.span(MAX_LENGTH, MAX_LENGTH + 1))
    if not text.strip():
        raise ConditionSyntaxError("empty expression", origin.span(0, 1))
    try:
        return _tree(text)
    except _Problem as problem:
        raise problem.kind(problem.message, origin.span(problem.start, problem.end)) from None
    except UnexpectedInput as error:
        raise _syntax_error(error, text, origin) from None


def _syntax_error(error: UnexpectedInput, text: str, origin: Origin) -> ConditionSyntaxError:
    if isinstance(error, UnexpectedCharacters):
        # lark declares UnexpectedInput.pos_in_stream as None; UnexpectedCharacters sets the int offset
        offset: int = error.pos_in_stream  # type: ignore[assignment]
        char = text[offset] if offset < len(text) else ""
        message = f"unexpected character {char!r}"
        if char in "'\"":
            message = "text is not closed: a quote is missing"
        return ConditionSyntaxError(message, origin.span(offset, offset + 1))
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        expected = getattr(error, "expected", None) or getattr(error, "accepts", None) or set()
        offset = len(text.rstrip())
        return ConditionSyntaxError(f"the expression ends too early; expected {_describe(set(expected))}",
                                    origin.span(offset, offset + 1))
    assert isinstance(error, UnexpectedToken)
    token = error.token
    expected = set(error.accepts or error.expected or ())
    return ConditionSyntaxError(f"unexpected {str(token)!r}; expected {_describe(expected)}",
                                origin.span(token.start_pos or 0, token.end_pos or (token.start_pos or 0) + 1))
