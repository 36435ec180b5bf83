"""Read YAML (and JSON) safely, keeping the position of every key and value.

PyYAML composes the document into nodes with marks; we build plain Python values from
those nodes ourselves, so that:

- nothing but plain data can come out: tags other than YAML's standard scalars, anchors
  and aliases are errors, and no constructor is ever registered on PyYAML's loaders;
- every value and key has a position (:class:`Place`), looked up by its path, e.g.
  ``("rules", 0, "versions", 1, "when")``, so any later error can point at it;
- duplicate keys are errors, not silent overwrites;
- only ``true`` and ``false`` are booleans (YAML 1.1 reads ``on`` and ``no`` as booleans,
  which would turn a fixture's ``on:`` key into ``True``), and decimal numbers become
  :class:`~decimal.Decimal`, never binary floats.

JSON is read by the same code: a JSON document is a YAML document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import InputError, PolicyError, PolicyErrors, Source, Span
from .parser import Origin

Path_ = tuple[Any, ...]
# libyaml's composer when PyYAML was built with it (its wheels are): the same nodes and
# marks (character indices), several times faster than the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SCALARS = SafeConstructor()
_TAG = "tag:yaml.org,2002:"


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
    places: dict[Path_, Place] = field(default_factory=dict)
    key_places: dict[Path_, Place] = field(default_factory=dict)
    # problems with single values (an impossible date, ...): the value reads as None and
    # its path is in ``bad_paths``, so later checks skip it and still report the rest
    problems: list[PolicyError] = field(default_factory=list)
    bad_paths: set[Path_] = field(default_factory=set)

    def span(self, path: Path_, *, key: bool = False) -> Span:
        """The span of the value at ``path`` (or of its key), or of the nearest parent."""
        table = self.key_places if key else self.places
        probe = tuple(path)
        while probe not in table and probe:
            if key:
                table = self.places
            probe = probe[:-1]
        place = table.get(probe) or self.places.get(probe)
        if place is None:
            return Span(self.source, 1, 1)
        return Span(self.source, place.line, place.column, place.end_line, place.end_column)

    def origin(self, path: Path_) -> Origin:
        """Where the text of the scalar at ``path`` lies, for expressions in it."""
        place = self.places[tuple(path)]
        return Origin(self.source, str(self.data_at(path)), place.start, place.end)

    def data_at(self, path: Path_) -> Any:
        value = self.data
        for part in path:
            value = value[part]
        return value


def read_document(path: str | Path, error: type[PolicyError] = InputError, *,
                  keep_going: bool = False) -> Document:
    """Read a YAML or JSON file; every problem is raised as a positioned error.

    With ``keep_going``, problems with single values do not raise: they are left in
    ``Document.problems`` for the caller to report along with its own.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"cannot read the file: {problem}", Span(Source(name, ""), 1, 1)) from None
    return parse_document(text, name, error, keep_going=keep_going)


def parse_document(text: str, name: str, error: type[PolicyError] = InputError, *,
                   keep_going: bool = False) -> Document:
    source = Source(name, text)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"{problem.problem or 'invalid YAML'}" + (f" ({problem.context})" if problem.context else "")
        raise error(f"YAML: {message}", Span(source, line, column)) from None
    except yaml.YAMLError as problem:
        raise error(f"YAML: {problem}", Span(source, 1, 1)) from None
    except RecursionError:
        raise error("YAML: the document nests too deeply", Span(source, 1, 1)) from None
    builder = _Builder(source, error)
    data = builder.build(root, ()) if root is not None else None
    if builder.errors and not keep_going:
        raise PolicyErrors(builder.errors)
    return Document(source, data, builder.places, builder.key_places, builder.errors, builder.bad_paths)


class _Builder:
    def __init__(self, source: Source, error: type[PolicyError]) -> None:
        self.source = source
        self.error = error
        self.errors: list[PolicyError] = []
        self.places: dict[Path_, Place] = {}
        self.key_places: dict[Path_, Place] = {}
        self.seen: set[int] = set()
        self.bad_paths: set[Path_] = set()
        self.path: Path_ = ()

    def place(self, node: Node) -> Place:
        mark, end = node.start_mark, node.end_mark
        return Place(mark.index, end.index, mark.line + 1, mark.column + 1, end.line + 1, end.column + 1)

    def fail(self, message: str, node: Node) -> None:
        place = self.place(node)
        self.errors.append(self.error(message, Span(self.source, place.line, place.column)))
        self.bad_paths.add(self.path)

    def build(self, node: Node, path: Path_, depth: int = 0) -> Any:
        self.places[path] = self.place(node)
        self.path = path
        if id(node) in self.seen:
            self.fail("anchors and aliases are not supported; write the value out", node)
            return None
        self.seen.add(id(node))
        if depth > 64:
            self.fail("the document nests too deeply", node)
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                self.fail(f"unsupported tag {node.tag}", node)
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        if node.tag != _TAG + "map":
            self.fail(f"unsupported tag {node.tag}", node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.fail("a key must be a plain value", key_node)
                continue
            key = self.scalar(key_node)
            if key == "<<" and key_node.tag == _TAG + "merge":
                self.fail("merge keys are not supported", key_node)
                continue
            if isinstance(key, Decimal) and key == key.to_integral_value():
                key = int(key)
            if key in result:
                first = self.key_places[path + (key,)]
                self.fail(f"duplicate key '{key}' (first at line {first.line})", key_node)
                continue
            self.key_places[path + (key,)] = self.place(key_node)
            result[key] = self.build(value_node, path + (key,), depth + 1)
            self.path = path
        return result

    def scalar(self, node: ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag == _TAG + "str" or node.style in ("'", '"', "|", ">"):
            return text
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return {"true": True, "false": False}.get(text.lower(), text)
        if tag == _TAG + "int":
            try:
                return Decimal(_SCALARS.construct_yaml_int(node))
            except ValueError:
                return text
        if tag == _TAG + "float":
            try:
                number = Decimal(text.replace("_", ""))
            except InvalidOperation:
                number = None
            if number is None or not number.is_finite():
                self.fail(f"'{text}' is not a finite decimal number", node)
                return None
            return number
        if tag == _TAG + "timestamp":
            try:
                value = _SCALARS.construct_yaml_timestamp(node)
            except ValueError as problem:
                self.fail(f"impossible date '{text}': {problem}", node)
                return None
            if isinstance(value, datetime):
                self.fail(f"'{text}' has a time; a date (YYYY-MM-DD) is expected", node)
                return None
            assert isinstance(value, date)
            return value
        self.fail(f"unsupported tag {tag}", node)
        return None
