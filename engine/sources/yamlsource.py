"""Read YAML (and JSON) safely, keeping the position of every key and value.

libyaml parses the text; we build plain Python values from what it reports ourselves,
so that:

- nothing but plain data can come out: tags other than YAML's standard scalars, anchors
  and aliases are errors, and no constructor is ever registered on PyYAML's loaders;
- every value and key has a position (:class:`Place`), looked up by its path, e.g.
  ``("rules", 0, "versions", 1, "when")``, so any later error can point at it;
- duplicate keys are errors, not silent overwrites;
- only ``true`` and ``false`` are booleans (YAML 1.1 reads ``on`` and ``no`` as booleans,
  which would turn a fixture's ``on:`` key into ``True``), and decimal numbers become
  :class:`~decimal.Decimal`, never binary floats.

Two readers give the same result. The usual one builds values straight from libyaml's
stream of events, so no tree of YAML nodes is kept while a file is read; it types plain
scalars with PyYAML's own table of implicit tags. Documents with what the usual reader
leaves alone (anchors, aliases, keys that are not scalars, deep nesting, a second
document) are composed into nodes by libyaml and built from those, whose rules for such
documents are the reference. JSON is read by the same code: a JSON document is a YAML
document.

Input is bounded (:class:`Limits`), each bound checked before the work that grows with
it: the size of a file before it is read (so before YAML parsing), the length of each
text and the number of items of each list or mapping as libyaml's events stream, before
anything is built from them. A file over a bound is one error that names the limit and
how to raise it; the defaults (:data:`DEFAULT_LIMITS`) are 10 MB a file, 100,000
characters a text and 100,000 items a list or mapping, far above what the decree's files
hold. Numbers are bounded too (see :func:`engine.values.bounded_number`), and dates must
be written YYYY-MM-DD.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (AliasEvent, DocumentEndEvent, Event, MappingEndEvent, MappingStartEvent, ScalarEvent,
                         SequenceEndEvent, SequenceStartEvent, StreamEndEvent)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import InputError, Origin, PolicyError, PolicyErrors, Source, Span, shorten
from engine.values import NUMBER_BOUNDS as _NUMBER_BOUNDS, NumberOutOfRange, bounded_number

Path_ = tuple[Any, ...]
# where a value stands, as plain integers (a tuple of ints costs the garbage collector
# nothing once it has seen it): indices into the text, then 1-based line and column of
# its start and of its end
_Marks = tuple[int, int, int, int, int, int]
# libyaml's parser when PyYAML was built with it (its wheels are): the same events,
# nodes and marks (character indices), several times faster than the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SCALARS = SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP = (_TAG + kind for kind in ("str", "null", "bool", "int", "float",
                                                                         "timestamp"))
_SEQ, _MAP, _MERGE = _TAG + "seq", _TAG + "map", _TAG + "merge"
_QUOTED = ("'", '"', "|", ">")
# a yaml Mark: the stubs declare the marks of events and nodes optional, libyaml sets them all
_Mark = Any
_MAX_DEPTH = 64
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_NUMBER_TEXT = 160  # characters of a number written in YAML: far beyond any bounded number


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one file may hold (one ``Limits`` serves rule, fact and scenario files).

    Each field can be set from the environment, for the command line, by the variable
    ``DECREE_MAX_`` + its name in capitals (``DECREE_MAX_FILE_BYTES=50000000``).
    """

    file_bytes: int = 10_000_000  # the size of a file, before it is read
    string_chars: int = 100_000  # one text (a key or a value)
    collection_items: int = 100_000  # the items of one list, or the keys of one mapping

    @classmethod
    def from_environment(cls, environ: Any = None) -> "Limits":
        """The defaults, with each ``DECREE_MAX_<FIELD>`` variable that is set; a value
        that is not a positive whole number is a :class:`InputError`."""
        environ = os.environ if environ is None else environ
        chosen: dict[str, int] = {}
        for limit in fields(cls):
            variable = f"DECREE_MAX_{limit.name.upper()}"
            text = environ.get(variable)
            if text is None:
                continue
            if not text.strip().isdigit() or int(text) <= 0:
                raise InputError(f"{variable} must be a positive whole number, not {shorten(text)}")
            chosen[limit.name] = int(text)
        return cls(**chosen)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value (or key) stands: indices into the file text, and its first line."""

    start: int
    end: int
    line: int  # 1-based
    column: int  # 1-based
    end_line: int = 0
    end_column: int = 0


@dataclass
class Document:
    """A file read with positions: ``data`` and, by path, the place of each part."""

    source: Source
    data: Any
    places: dict[Path_, _Marks] = field(default_factory=dict)
    key_places: dict[Path_, _Marks] = field(default_factory=dict)
    # problems with single values (an impossible date, ...): the value reads as None and
    # its path is in ``bad_paths``, so later checks skip it and still report the rest
    problems: list[PolicyError] = field(default_factory=list)
    bad_paths: set[Path_] = field(default_factory=set)

    def place(self, path: Path_, *, key: bool = False) -> Place | None:
        """Where the value at ``path`` (or its key) stands, if it was read."""
        marks = (self.key_places if key else self.places).get(tuple(path))
        return Place(*marks) if marks is not None else None

    def span(self, path: Path_, *, key: bool = False) -> Span:
        """The span of the value at ``path`` (or of its key), or of the nearest parent."""
        table = self.key_places if key else self.places
        probe = tuple(path)
        while probe not in table and probe:
            if key:
                table = self.places
            probe = probe[:-1]
        marks = table.get(probe) or self.places.get(probe)
        if marks is None:
            return Span(self.source, 1, 1)
        return Span(self.source, *marks[2:])

    def origin(self, path: Path_) -> Origin:
        """Where the text of the scalar at ``path`` lies, for expressions in it."""
        start, end = self.places[tuple(path)][:2]
        return Origin(self.source, str(self.data_at(path)), start, end)

    def data_at(self, path: Path_) -> Any:
        value = self.data
        for part in path:
            value = value[part]
        return value


def read_document(path: str | Path, error: type[PolicyError] = InputError, *,
                  keep_going: bool = False, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read a YAML or JSON file; every problem is raised as a positioned error.

    With ``keep_going``, problems with single values do not raise: they are left in
    ``Document.problems`` for the caller to report along with its own. A file larger
    than ``limits.file_bytes`` is refused before it is read.
    """
    return parse_document(read_text(path, error, limits), str(path), error, keep_going=keep_going, limits=limits)


def read_text(path: str | Path, error: type[PolicyError] = InputError, limits: Limits = DEFAULT_LIMITS) -> str:
    """The text of a file, refused (as ``error``) before it is read when it is larger
    than ``limits.file_bytes``, or when it cannot be read as UTF-8."""
    name = str(path)
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            # one byte past the size (a file) or the limit (a pipe or a device says 0), to
            # know it ended; reading up to the limit would reserve the limit's memory
            raw = b"" if size > limits.file_bytes else stream.read((size or limits.file_bytes) + 1)
            if size and len(raw) > size:  # it grew since: read on, up to the limit
                raw += stream.read(limits.file_bytes + 1 - len(raw))
        if size > limits.file_bytes or len(raw) > limits.file_bytes:
            raise error(f"the file is larger than {limits.file_bytes:,} bytes (set DECREE_MAX_FILE_BYTES, or "
                        f"Limits.file_bytes, to read it)", Span(Source(name, ""), 1, 1))
        return _decoded(raw)  # a large file is then held once while it is parsed, not twice
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"cannot read the file: {problem}", Span(Source(name, ""), 1, 1)) from None


def parse_document(text: str, name: str, error: type[PolicyError] = InputError, *,
                   keep_going: bool = False, limits: Limits = DEFAULT_LIMITS) -> Document:
    source = Source(name, text)
    if len(text) > limits.file_bytes:
        raise error(f"the text is longer than {limits.file_bytes:,} characters (set DECREE_MAX_FILE_BYTES, or "
                    f"Limits.file_bytes, to read it)", Span(source, 1, 1))
    try:
        try:
            builder = _Builder(source, error, limits)
            data = builder.read()
        except _Irregular:
            builder = _Builder(source, error, limits)
            builder.scan()
            data = builder.compose()
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"{problem.problem or 'invalid YAML'}" + (f" ({problem.context})" if problem.context else "")
        raise error(f"YAML: {message}", Span(source, line, column)) from None
    except yaml.YAMLError as problem:
        raise error(f"YAML: {problem}", Span(source, 1, 1)) from None
    except RecursionError:
        raise error("YAML: the document nests too deeply", Span(source, 1, 1)) from None
    if builder.errors and not keep_going:
        raise PolicyErrors(builder.errors)
    return Document(source, data, builder.places, builder.key_places, builder.errors, builder.bad_paths)


def _decoded(raw: bytes) -> str:
    """The text as open() in text mode reads it (universal newlines), copied no more than
    needed: most files have no carriage return."""
    text = raw.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


class _Irregular(Exception):
    """The document has what only the reader of composed nodes handles (see the module's doc)."""


def _marks(start: _Mark, end: _Mark) -> _Marks:
    return (start.index, end.index, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


class _Builder:
    def __init__(self, source: Source, error: type[PolicyError], limits: Limits = DEFAULT_LIMITS) -> None:
        self.source = source
        self.error = error
        self.limits = limits
        self.errors: list[PolicyError] = []
        self.places: dict[Path_, _Marks] = {}
        self.key_places: dict[Path_, _Marks] = {}
        self.seen: set[int] = set()
        self.bad_paths: set[Path_] = set()
        self.path: Path_ = ()
        self.tags: dict[str, str] = {}  # the implicit tag of each plain scalar text met
        self.next_event: Callable[[], Event] = _no_events

    def fail(self, message: str, mark: _Mark) -> None:
        self.errors.append(self.error(message, Span(self.source, mark.line + 1, mark.column + 1)))
        self.bad_paths.add(self.path)

    # -- bounds (checked as events arrive, before anything is built from them) --------

    def too_large(self, message: str, setting: str, mark: _Mark) -> PolicyError:
        """The error that stops reading a file over a bound."""
        return self.error(f"{message} (set DECREE_MAX_{setting.upper()}, or Limits.{setting}, to read it)",
                          Span(self.source, mark.line + 1, mark.column + 1))

    def check_text(self, text: str, mark: _Mark) -> None:
        if len(text) > self.limits.string_chars:
            raise self.too_large(f"a text of {len(text):,} characters; the limit is "
                                 f"{self.limits.string_chars:,}", "string_chars", mark)

    def check_items(self, count: int, kind: str, mark: _Mark) -> None:
        if count > self.limits.collection_items:
            raise self.too_large(f"a {kind} of more than {self.limits.collection_items:,} items", "collection_items",
                                 mark)

    def scan(self) -> None:
        """Check the bounds over the whole event stream before libyaml composes nodes
        (which it does for the irregular documents the usual reader leaves alone)."""
        counts: list[int] = []  # items so far of each open collection (a mapping counts keys and values)
        starts: list[_Mark] = []
        limit = self.limits.collection_items
        for event in yaml.parse(self.source.text, Loader=_LOADER):
            kind = type(event)
            if isinstance(event, ScalarEvent):
                self.check_text(event.value, event.start_mark)
            if kind is ScalarEvent or kind is AliasEvent or kind is SequenceStartEvent or kind is MappingStartEvent:
                if counts:
                    counts[-1] += 1
                    if counts[-1] > 2 * limit:
                        raise self.too_large(f"a list or mapping of more than {limit:,} items", "collection_items",
                                             starts[-1])
                if kind is SequenceStartEvent or kind is MappingStartEvent:
                    # a mapping counts keys and values; a list starts at the limit so that it
                    # passes twice the limit after as many items as a mapping's keys
                    counts.append(0 if kind is MappingStartEvent else limit)
                    starts.append(event.start_mark)
            elif kind is SequenceEndEvent or kind is MappingEndEvent:
                counts.pop()
                starts.pop()

    # -- from events (the usual reader) -------------------------------------------

    def read(self) -> Any:
        """The document's value, built from libyaml's events; raises :class:`_Irregular`."""
        if _LOADER.yaml_path_resolvers:  # tags chosen by position: only the composer knows them
            raise _Irregular
        self.next_event = _LOADER(self.source.text).get_event
        self.next_event()  # the start of the stream
        event = self.next_event()
        if type(event) is StreamEndEvent:
            return None
        data = self.value(self.next_event(), (), 0)
        if type(self.next_event()) is not DocumentEndEvent or type(self.next_event()) is not StreamEndEvent:
            raise _Irregular  # a second document: the composer reports it
        return data

    def value(self, event: Event, path: Path_, depth: int) -> Any:
        if isinstance(event, AliasEvent) or depth > _MAX_DEPTH or getattr(event, "anchor", None) is not None:
            raise _Irregular
        self.path = path
        if isinstance(event, ScalarEvent):
            self.check_text(event.value, event.start_mark)
            self.places[path] = _marks(event.start_mark, event.end_mark)
            return self.scalar(self.tag_of(event), event.value, event.style, event.start_mark)
        if isinstance(event, SequenceStartEvent):
            if event.tag is not None and event.tag != "!" and event.tag != _SEQ:
                self.fail(f"unsupported tag {_tag_text(event.tag)}", event.start_mark)
            items: list[Any] = []
            item = self.next_event()
            limit = self.limits.collection_items
            while type(item) is not SequenceEndEvent:
                if len(items) == limit:
                    self.check_items(limit + 1, "list", event.start_mark)
                items.append(self.value(item, path + (len(items),), depth + 1))
                item = self.next_event()
            self.places[path] = _marks(event.start_mark, item.end_mark)
            return items
        assert isinstance(event, MappingStartEvent)
        if event.tag is not None and event.tag != "!" and event.tag != _MAP:
            self.fail(f"unsupported tag {_tag_text(event.tag)}", event.start_mark)
        result: dict[Any, Any] = {}
        key_event = self.next_event()
        keys = 0
        while type(key_event) is not MappingEndEvent:
            if not isinstance(key_event, ScalarEvent) or key_event.anchor is not None:
                raise _Irregular
            keys += 1
            if keys > self.limits.collection_items:
                self.check_items(keys, "mapping", event.start_mark)
            self.check_text(key_event.value, key_event.start_mark)
            tag = self.tag_of(key_event)
            key = self.scalar(tag, key_event.value, key_event.style, key_event.start_mark)
            if key == "<<" and tag == _MERGE:
                self.fail("merge keys are not supported", key_event.start_mark)
                self.skip(self.next_event())
            elif (key := _as_key(key)) in result:
                first = self.key_places[path + (key,)]
                self.fail(f"duplicate key '{key}' (first at line {first[2]})", key_event.start_mark)
                self.skip(self.next_event())
            else:
                self.key_places[path + (key,)] = _marks(key_event.start_mark, key_event.end_mark)
                result[key] = self.value(self.next_event(), path + (key,), depth + 1)
                self.path = path
            key_event = self.next_event()
        self.places[path] = _marks(event.start_mark, key_event.end_mark)
        return result

    def skip(self, event: Event) -> None:
        """Pass over a value that is not built (its key is an error)."""
        open_ = 0
        while True:
            kind = type(event)
            if kind is AliasEvent or getattr(event, "anchor", None) is not None:
                raise _Irregular  # the composer would keep its anchor for later aliases
            if kind is SequenceStartEvent or kind is MappingStartEvent:
                open_ += 1
            elif kind is SequenceEndEvent or kind is MappingEndEvent:
                open_ -= 1
            if open_ == 0:
                return
            event = self.next_event()

    def tag_of(self, event: ScalarEvent) -> str:
        """The scalar's tag as PyYAML's composer resolves it (``Resolver.resolve``)."""
        tag = event.tag
        if tag is not None and tag != "!":
            return tag
        if not event.implicit[0]:
            return _STR
        text = event.value
        found = self.tags.get(text)
        if found is None:
            table = _LOADER.yaml_implicit_resolvers
            found = _STR
            for candidate, pattern in table.get(text[0] if text else "", []) + table.get(None, []):
                if pattern.match(text):
                    found = candidate
                    break
            self.tags[text] = found
        return found

    # -- from composed nodes (documents with anchors, aliases, ...) ---------------

    def compose(self) -> Any:
        """The document's value, built from the nodes libyaml composes (the reference)."""
        root = yaml.compose(self.source.text, Loader=_LOADER)
        return self.build(root, ()) if root is not None else None

    def build(self, node: Node, path: Path_, depth: int = 0) -> Any:
        self.places[path] = _marks(node.start_mark, node.end_mark)
        self.path = path
        if id(node) in self.seen:
            self.fail("anchors and aliases are not supported; write the value out", node.start_mark)
            return None
        self.seen.add(id(node))
        if depth > _MAX_DEPTH:
            self.fail("the document nests too deeply", node.start_mark)
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node.tag, node.value, node.style, node.start_mark)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                self.fail(f"unsupported tag {_tag_text(node.tag)}", node.start_mark)
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        if node.tag != _MAP:
            self.fail(f"unsupported tag {_tag_text(node.tag)}", node.start_mark)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.fail("a key must be a plain value", key_node.start_mark)
                continue
            key = self.scalar(key_node.tag, key_node.value, key_node.style, key_node.start_mark)
            if key == "<<" and key_node.tag == _MERGE:
                self.fail("merge keys are not supported", key_node.start_mark)
                continue
            key = _as_key(key)
            if key in result:
                first = self.key_places[path + (key,)]
                self.fail(f"duplicate key '{key}' (first at line {first[2]})", key_node.start_mark)
                continue
            self.key_places[path + (key,)] = _marks(key_node.start_mark, key_node.end_mark)
            result[key] = self.build(value_node, path + (key,), depth + 1)
            self.path = path
        return result

    # -- scalars ----------------------------------------------------------------

    def scalar(self, tag: str, text: str, style: str | None, mark: _Mark) -> Any:
        if tag == _STR or style in _QUOTED:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return {"true": True, "false": False}.get(text.lower(), text)
        if tag == _INT or tag == _FLOAT:
            return self.number(tag, text, mark)
        if tag == _TIMESTAMP:
            if not _SCALARS.timestamp_regexp.match(text):  # an explicit !!timestamp on any text
                self.fail(f"{shorten(text)} is not a date (YYYY-MM-DD)", mark)
                return None
            try:
                value = _SCALARS.construct_yaml_timestamp(ScalarNode(tag, text))
            except ValueError as problem:
                self.fail(f"impossible date '{text}': {problem}", mark)
                return None
            if isinstance(value, datetime):
                self.fail(f"'{text}' has a time; a date (YYYY-MM-DD) is expected", mark)
                return None
            assert isinstance(value, date)
            if not _ISO_DATE.fullmatch(text):  # YAML also reads 2024-3-1 as a date
                self.fail(f"'{text}' is not written YYYY-MM-DD; expected YYYY-MM-DD", mark)
                return None
            return value
        self.fail(f"unsupported tag {_tag_text(tag)}", mark)
        return None

    def number(self, tag: str, text: str, mark: _Mark) -> Any:
        """A YAML int or float as a bounded :class:`Decimal` (see values.bounded_number)."""
        if len(text) > _MAX_NUMBER_TEXT:  # before int() or Decimal() spend time on it
            self.fail(f"the number {shorten(text)} is out of range: {_NUMBER_BOUNDS}", mark)
            return None
        try:
            if tag == _INT:
                number = Decimal(_SCALARS.construct_yaml_int(ScalarNode(tag, text)))
            else:
                number = Decimal(text.replace("_", ""))
        except (ValueError, InvalidOperation):  # a text YAML's table took for a number, that is none
            if tag == _INT:
                return text
            number = None
        if number is None or not number.is_finite():
            self.fail(f"'{text}' is not a finite decimal number", mark)
            return None
        try:
            return bounded_number(number)
        except NumberOutOfRange as problem:
            self.fail(f"{text}: {problem}", mark)
            return None


def _as_key(key: Any) -> Any:
    """A key as a mapping holds it: a whole number is an int (a list index)."""
    if isinstance(key, Decimal) and key == key.to_integral_value():
        return int(key)
    return key


def _no_events() -> Event:
    raise _Irregular


def _tag_text(tag: str | None) -> str:
    """A tag as a message names it: unquoted, shortened when long."""
    return str(tag) if tag is None or len(tag) <= 60 else shorten(tag)
