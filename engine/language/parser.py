"""Parse the text of an expression into our AST (:mod:`engine.language.nodes`).

Lark stays at this border: its LALR parser runs with an inline transformer that builds
our nodes while it reduces, so no ``lark.Tree`` is ever built or returned, and deep
nesting cannot exhaust Python's stack. A text of a shape already parsed (the same
sequence of token types) is built by replaying that parse's reductions on its own tokens
rather than by Lark's parser (see "parsing by shape" below): large rule sets repeat a
few shapes thousands of times. Lark's exceptions become
:class:`ConditionSyntaxError` with a position; the cost limits of the language (length,
nesting depth, list size) are enforced here.

:class:`engine.errors.Origin` places the positions of the nodes in the expression's file.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # Lark is imported on the first parse: a rule set from the cache parses nothing
    from lark import Lark, Token
    from lark.exceptions import UnexpectedInput

from engine.language import nodes as n
from engine.errors import ConditionSyntaxError, LimitError, Origin, PolicyError, Source, Span
from engine.values import MAX_TERM, Duration, NumberOutOfRange, bounded_number

MAX_LENGTH = 4000
MAX_DEPTH = 40
MAX_LIST_ITEMS = 500


class _Problem(Exception):
    """Raised inside the transformer, turned into a positioned error by :func:`parse`."""

    def __init__(self, kind: type[PolicyError], message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.kind, self.message, self.start, self.end = kind, message, start, end


# a kid of a reduction is a Token, a node or None; Tokens are the only texts (a str subclass)

def _start(item: Token | n.Node) -> int:
    if isinstance(item, str):
        assert item.start_pos is not None  # lark types it Optional; the lexer positions every token
        return item.start_pos
    return item.start


def _end(item: Token | n.Node) -> int:
    if isinstance(item, str):
        assert item.end_pos is not None  # lark types it Optional; the lexer positions every token
        return item.end_pos
    return item.end


def _depth(*kids: Any) -> int:
    deepest = 0
    for kid in kids:
        if kid is not None and not isinstance(kid, str) and kid.depth > deepest:
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


class _Builder:
    """Builds AST nodes as Lark reduces (Lark calls the method named after each rule's
    alias); stateless, so one instance serves all threads."""

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
        args = tuple(k for k in kids[2:-1] if k is not None and not isinstance(k, str))
        return n.Call(str(name), args, name.start_pos, rpar.end_pos, name.end_pos, _depth(*args))

    def list_literal(self, kids: list[Any]) -> n.ListLiteral:
        items = tuple(k for k in kids[1:-1] if k is not None and not isinstance(k, str))
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
        operands = tuple(k for k in kids if not isinstance(k, str))
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
    from lark import Lark

    from importlib import resources  # with Lark: not needed to evaluate

    grammar = resources.files(__package__).joinpath("condition.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", transformer=_RecordingBuilder(),
                maybe_placeholders=True)


@functools.lru_cache(maxsize=1024)
def _tree(text: str) -> n.Node:
    """The AST of ``text``, parsed once for all expressions that share the text: the
    nodes hold offsets into the text, not places in a file, and are frozen. Rule sets
    repeat reference dates and conditions. An error is not kept: it is raised again."""
    tokens = _lex(text)
    if tokens is not None:
        program = _programs.get(tuple(token.type for token in tokens))
        if program is not None:
            return _replay(program, tokens)
    return _record(text, tokens)


# -- parsing by shape -----------------------------------------------------------------
#
# Conditions of a rule set share few shapes: "f.x3 > 5 and o2" and "f.x4 >= 7 and o9"
# are the same sequence of token types, and an LALR parser given the same sequence of
# token types makes the same reductions, whatever the tokens' texts. So the first text
# of a shape is parsed by Lark while the reductions it makes (which _Builder method,
# on which tokens and earlier results) are written down; a later text of that shape is
# lexed by one regular expression (Lark's terminals, in Lark's order: the same tokens)
# and the written-down reductions are replayed, calling the same _Builder methods on its
# own tokens. Lark's parser costs some 20 Python calls per token; replaying, one.
# A shape is written down only when the text parsed and Lark's tokens were exactly ours;
# texts that do not lex, and every error, go to Lark, which reports them.

_Step = tuple[Callable[[list[Any]], n.Node], tuple[tuple[int, int], ...]]  # method, (kind, index) per kid
_TOKEN, _RESULT, _NONE = 0, 1, 2
_programs: dict[tuple[str, ...], tuple[_Step, ...]] = {}
_MAX_SHAPES = 4096
# _Builder methods that return their only kid unchanged, whatever its value
_PASSING = frozenset({"logic", "arithmetic"})


@functools.cache
def _scanner() -> tuple[re.Pattern[str], frozenset[str], Callable[..., Token]]:
    """One regular expression of Lark's terminals, ordered as Lark's lexer orders them
    (the first alternative that matches wins, as in Lark), the ignored terminals, and
    how to make a Token (Token() without its check for a deprecated keyword)."""
    from lark import Token

    lark = _parser()
    terminals = sorted(lark.terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
    pattern = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals)
    return (re.compile(pattern, lark.options.g_regex_flags), frozenset(lark.ignore_tokens),
            getattr(Token, "_future_new", Token))


def _lex(text: str) -> list[Token] | None:
    """The tokens of ``text``, or None where no terminal matches (Lark reports that)."""
    scanner, ignored, new_token = _scanner()
    tokens, position = [], 0
    for found in scanner.finditer(text):
        start, after = found.span()
        if start != position:
            return None  # no terminal matches at ``position``
        kind = found.lastgroup
        if kind not in ignored:
            tokens.append(new_token(kind, found.group(), start, None, None, None, None, after))
        position = after
    return tokens if position == len(text) else None


def _replay(program: tuple[_Step, ...], tokens: list[Token]) -> n.Node:
    """Run the reductions of a shape on ``tokens``; the last one builds the root."""
    results: list[Any] = []
    for method, kids in program:
        results.append(method([tokens[i] if kind == _TOKEN else results[i] if kind == _RESULT else None
                               for kind, i in kids]))
    return results[-1]  # type: ignore[no-any-return]


def _record(text: str, tokens: list[Token] | None) -> n.Node:
    """Parse ``text`` with Lark, writing its shape's reductions down when it may be replayed."""
    recorder = _Recorder(tokens)
    _local.recorder = recorder
    try:
        node: n.Node = _parser().parse(text)  # type: ignore[assignment]
    finally:
        _local.recorder = None
    if recorder.valid and recorder.last is node and tokens is not None and len(_programs) < _MAX_SHAPES:
        _programs[tuple(token.type for token in tokens)] = tuple(recorder.steps)
    return node


_local = threading.local()  # the recorder of the parse running in this thread, if any


class _Recorder:
    """The reductions of one parse, as steps :func:`_replay` can run on other tokens."""

    def __init__(self, tokens: list[Token] | None) -> None:
        self.tokens = tokens or []
        self.valid = tokens is not None
        self.steps: list[_Step] = []
        self.kept: list[Any] = []  # every result stays alive, so no two share an id()
        self.last: Any = None
        self.results: dict[int, int] = {}
        self.positions = {token.start_pos: i for i, token in enumerate(self.tokens)}

    def reduced(self, method: Callable[[list[Any]], n.Node], kids: list[Any], result: Any) -> None:
        if len(kids) == 1 and result is kids[0] and method.__name__ in _PASSING:
            self.kept.append(result)  # the kid itself, already recorded: nothing to replay
            return
        self.steps.append((method, tuple(self._kid(kid) for kid in kids)))
        self.kept.append(result)
        self.last = result  # what the last step builds: the root, when the parse is over
        self.results[id(result)] = len(self.steps) - 1

    def _kid(self, item: Any) -> tuple[int, int]:
        if item is None:
            return (_NONE, 0)
        if isinstance(item, str):
            token: Token = item  # type: ignore[assignment]  # the only texts among kids
            index = self.positions.get(token.start_pos)
            mine = self.tokens[index] if index is not None else None
            if mine is None or (mine.type, str(mine), mine.end_pos) != (token.type, str(token), token.end_pos):
                self.valid = False  # Lark's contextual lexer saw another token: never replay this shape
                return (_NONE, 0)
            return (_TOKEN, index)  # type: ignore[return-value]
        found = self.results.get(id(item))
        if found is None:
            self.valid = False
            return (_NONE, 0)
        return (_RESULT, found)


class _RecordingBuilder(_Builder):
    """The transformer Lark runs: each reduction builds through :class:`_Builder` and is
    written down when this thread is recording."""


def _recording(name: str) -> Callable[[Any, list[Any]], n.Node]:
    method = getattr(_BUILDER, name)

    def reduce(self: Any, kids: list[Any]) -> n.Node:
        result: n.Node = method(kids)
        recorder = getattr(_local, "recorder", None)
        if recorder is not None:
            recorder.reduced(method, kids, result)
        return result

    reduce.__name__ = name
    return reduce


_BUILDER = _Builder()
for _name in [name for name in vars(_Builder) if not name.startswith("_")]:
    setattr(_RecordingBuilder, _name, _recording(_name))


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
    except Exception as error:
        from lark.exceptions import UnexpectedInput

        if isinstance(error, UnexpectedInput):
            raise _syntax_error(error, text, origin) from None
        raise


def _syntax_error(error: UnexpectedInput, text: str, origin: Origin) -> ConditionSyntaxError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

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
