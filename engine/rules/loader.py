"""Load a rules directory into the model, collecting every problem of the whole set.

The phases, each collecting errors rather than stopping at the first:

1. read every ``*.yaml``, ``*.yml`` and ``*.json`` file with positions;
2. validate each against ``schemas/rulefile.schema.json``;
3. gather the vocabulary (facts, outputs, value sets, parameters);
4. build rules, versions, sets, parameters and amendments, compiling every expression
   with the checker (positions inside expressions point into the YAML file);
5. check references between them: ``exception_to``, the targets of amendments, the
   outputs a version sets.

Later checks that need the whole set (cycles, windows) live in :mod:`engine.graph` and
:mod:`engine.rules.timeline`. The result is a :class:`LoadedRules`; nothing is shared with a
previous load, so a failed load never disturbs a rule set in use.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from engine.errors import PolicyError, RuleFileError, Span, UnknownNameError, shorten, suggest
from engine.sources.facts import Mismatch, coerce
from engine.language.expression import Expression
from engine.rules.model import (EFFECTIVE, Amendment, Change, DateRef, LegalSource, Member, Parameter,
                    ParameterVersion, Rule, RuleVersion, ValueSet)
from engine.language.types import BOOL, DATE, Declaration, Type, Vocabulary, list_of, parse_type, TEXT
from engine.sources.yamlsource import DEFAULT_LIMITS, Document, Limits, parse_document, read_text

RULE_FILE_SCHEMA = "rulefile.schema.json"
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class RuleText:
    """The text of one rule file as read: all a rule set is made from (it is what a
    pickled or cached rule set carries, and what its content hash covers)."""

    name: str  # the path as errors show it
    key: str  # the path relative to its root directory: what the content hash names
    text: str


@dataclass
class LoadedRules:
    """Everything read from a rules directory, before amendments are applied."""

    vocabulary: Vocabulary
    rules: dict[str, Rule] = field(default_factory=dict)
    sets: dict[str, ValueSet] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    amendments: dict[str, Amendment] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    content_hash: str = ""
    texts: tuple[RuleText, ...] = ()


def rule_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def read_texts(paths: Iterable[str | Path], limits: Limits = DEFAULT_LIMITS) -> tuple[list[RuleText], list[PolicyError]]:
    """The text of every rule file under ``paths``, and the files that cannot be read
    (or are larger than ``limits`` allow: refused before they are read)."""
    errors: list[PolicyError] = []
    texts: list[RuleText] = []
    for root in (Path(p) for p in paths):
        if not root.exists():
            errors.append(RuleFileError(f"no such file or directory: {root}"))
            continue
        for path in rule_files(root):
            try:
                text = read_text(path, RuleFileError, limits)
            except PolicyError as problem:
                errors.append(problem)
                continue
            texts.append(RuleText(str(path), str(path.relative_to(root) if root.is_dir() else path.name), text))
    return texts, errors


def content_hash(texts: Iterable[RuleText]) -> str:
    """The rule set's version: a digest of its files' names and texts."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.key.encode())
        digest.update(text.text.encode())
    return digest.hexdigest()[:16]


def load(paths: Iterable[str | Path], limits: Limits = DEFAULT_LIMITS) -> tuple[LoadedRules | None, list[PolicyError]]:
    """Read the rule files under ``paths``; returns the rules (None if unusable) and problems.

    Each file is bounded by ``limits`` (see :class:`engine.sources.yamlsource.Limits`)."""
    texts, errors = read_texts(paths, limits)
    return load_texts(texts, errors, limits)


def load_texts(texts: Iterable[RuleText], errors: list[PolicyError] | None = None,
               limits: Limits = DEFAULT_LIMITS) -> tuple[LoadedRules | None, list[PolicyError]]:
    """The rules of files already read (see :func:`load`).

    A file with a YAML or schema error still counts with its other entries: each rule,
    set, parameter, change or declaration that holds an error is set aside (the whole file
    only when the error concerns it as a whole), the rest is built and checked, and an
    error that only echoes what was set aside (an exception to a rule whose entry failed,
    a name declared there) is not reported.
    """
    from engine.sources import schema  # jsonschema is imported only by what reads rule files

    errors = [] if errors is None else errors
    texts = tuple(texts)
    documents: list[Document] = []
    failed = _Failed()
    for text in texts:
        try:
            document = parse_document(text.text, text.name, RuleFileError, keep_going=True, limits=limits)
        except PolicyError as problem:
            errors.extend(problem.errors if hasattr(problem, "errors") else [problem])
            failed.unreadable(text.text)
            continue
        errors.extend(document.problems)
        # an impossible value reads as None: its entry is set aside, and the schema's
        # complaint about the None is not reported (YAML's report says what is wrong);
        # a mapping with a duplicate key keeps its first value and stays in use
        unreadable = {p for p in document.bad_paths if _value_at(document, p) is None}
        bad = set(unreadable)
        for mismatch, where in schema.iter_errors_with_paths(document, RULE_FILE_SCHEMA, RuleFileError):
            bad.add(where)
            if where not in unreadable:
                errors.append(mismatch)
        if document.data is None:
            errors.append(RuleFileError("the file is empty", document.span(())))
            continue
        usable = _usable_part(document, bad, failed)
        if usable is not None:
            documents.append(usable)
    builder = _Builder(errors, failed)
    vocabulary = builder.vocabulary(documents)
    loaded = LoadedRules(vocabulary, files=[d.source.name for d in documents],
                         content_hash=content_hash(texts), texts=texts)
    for document in documents:
        builder.contents(document, loaded)
    builder.references(loaded)
    return loaded, errors


def _value_at(document: Document, path: tuple[Any, ...]) -> Any:
    try:
        return document.data_at(path)
    except (KeyError, IndexError, TypeError):
        return None


ENTRY_LISTS = ("rules", "sets", "parameters", "changes")
_UNREADABLE_TEXT_LIMIT = 1_000_000  # bytes of an unreadable file searched for the names it defines


@dataclass
class _Failed:
    """What was set aside: the names its entries define, where they could be read, and
    the texts of what could not be read at all (a name found there may be defined there)."""

    names: set[str] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)

    def covers(self, name: str) -> bool:
        """Whether an error about ``name`` may be caused only by what was set aside."""
        if name in self.names:
            return True
        if not self.texts:
            return False
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?![\w.])")
        return any(pattern.search(text) for text in self.texts)

    def unreadable(self, text: str) -> None:
        if len(text) <= _UNREADABLE_TEXT_LIMIT:
            self.texts.append(text)


def _entry_of(path: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The entry (a rule, set, parameter, change or declaration) that ``path`` lies in."""
    if len(path) >= 2 and path[0] in ENTRY_LISTS and isinstance(path[1], int):
        return path[:2]
    if len(path) >= 3 and path[0] == "vocabulary" and path[1] in ("facts", "outputs"):
        return path[:3]
    return None


def _usable_part(document: Document, bad: set[tuple[Any, ...]], failed: _Failed) -> Document | None:
    """``document`` with every entry that holds an error set aside (None in its list, so
    positions stay right), or None when an error concerns the document as a whole."""
    from engine.sources import schema

    data = document.data
    known = schema.validator(RULE_FILE_SCHEMA).schema.get("properties", {})
    entries: set[tuple[Any, ...]] = set()
    for path in bad:
        if len(path) == 1 and path[0] not in known:
            # nothing reads an unknown top-level key, but a misspelt 'vocabulary' or
            # 'rules' may hold what other files use
            failed.texts.append(_text_of(document, path))
            continue
        entry = _entry_of(path)
        if entry is None or not isinstance(data, dict):
            failed.texts.append(document.source.text)
            return None
        entries.add(entry)
    if not entries:
        return document
    kept = dict(data)
    for key in ENTRY_LISTS:
        aside = {entry[1] for entry in entries if entry[0] == key}
        if aside and isinstance(data.get(key), list):
            kept[key] = [None if i in aside else item for i, item in enumerate(data[key])]
            for i in aside:
                _defined_by(data[key][i], document, (key, i), failed)
    vocabulary = data.get("vocabulary")
    if isinstance(vocabulary, dict):
        kept["vocabulary"] = dict(vocabulary)
        for kind in ("facts", "outputs"):
            aside_names = {entry[2] for entry in entries if entry[:2] == ("vocabulary", kind)}
            if aside_names and isinstance(vocabulary.get(kind), dict):
                kept["vocabulary"][kind] = {n: v for n, v in vocabulary[kind].items() if n not in aside_names}
                failed.names.update(str(name) for name in aside_names)
    return replace(document, data=kept)


def _defined_by(entry: Any, document: Document, path: tuple[Any, ...], failed: _Failed) -> None:
    """Note the names an entry set aside defines: its id, the ids of the rules a change
    adds; its text when they cannot be read."""
    ids: list[Any] = []
    if isinstance(entry, dict):
        if isinstance(entry.get("add_rules"), list):
            ids = [rule.get("id") if isinstance(rule, dict) else None for rule in entry["add_rules"]]
        elif len(entry) == 1 and "id" not in entry:
            return  # a change of an existing rule defines nothing
        else:
            ids = [entry.get("id")]
    names = [i for i in ids if isinstance(i, str)]
    if ids and len(names) == len(ids):
        failed.names.update(names)
        return
    failed.texts.append(_text_of(document, path))


def _text_of(document: Document, path: tuple[Any, ...]) -> str:
    """The lines of the value at ``path``."""
    span = document.span(path)
    return "\n".join(document.source.line(n) for n in range(span.line, max(span.line, span.end_line) + 1))


class _Builder:
    def __init__(self, errors: list[PolicyError], failed: "_Failed | None" = None) -> None:
        self.errors = errors
        self.failed = failed or _Failed()
        self.vocab = Vocabulary()
        self.act: LegalSource | None = None  # while reading an amendment: its legal source

    def fail(self, message: str, document: Document, path: tuple[Any, ...], *, key: bool = False,
             severity: str = "error") -> None:
        self.errors.append(RuleFileError(message, document.span(path, key=key), severity=severity))

    # -- vocabulary -------------------------------------------------------------

    def vocabulary(self, documents: list[Document]) -> Vocabulary:
        names: dict[str, Declaration] = {}

        def declare(declaration: Declaration, document: Document, path: tuple[Any, ...]) -> None:
            if declaration.name in names:
                first = names[declaration.name].span
                self.fail(f"'{declaration.name}' is declared twice (first at {first})", document, path, key=True)
                return
            names[declaration.name] = declaration

        for document in documents:
            data = document.data
            for kind in ("facts", "outputs"):
                for name, entry in (data.get("vocabulary") or {}).get(kind, {}).items():
                    path = ("vocabulary", kind, name)
                    declared = self._declaration(name, kind[:-1], entry, document, path)
                    if declared is not None:
                        declare(declared, document, path)
            for i, entry in enumerate(data.get("sets") or []):
                if entry is None:
                    continue  # set aside: it has an error
                element = parse_type(entry.get("element_type", "text"))
                declare(Declaration(entry["id"], "set", Type("set", element), document.span(("sets", i)),
                                    entry["title"]), document, ("sets", i, "id"))
            for i, entry in enumerate(data.get("parameters") or []):
                if entry is None:
                    continue
                declare(Declaration(entry["id"], "parameter", parse_type(entry["type"]),
                                    document.span(("parameters", i)), entry["title"]),
                        document, ("parameters", i, "id"))
        self.vocab = Vocabulary(names)
        self._check_events(documents)
        return self.vocab

    def _check_events(self, documents: list[Document]) -> None:
        """``event`` only on date facts; ``event_of`` names a fact declared ``event: true``."""
        for document in documents:
            for name, entry in ((document.data.get("vocabulary") or {}).get("facts") or {}).items():
                path = ("vocabulary", "facts", name)
                declared = self.vocab.get(name)
                if entry.get("event") and declared is not None and declared.type != DATE:
                    self.fail(f"'event: true' marks the date of an event; '{name}' is a {declared.type}, not a date",
                              document, path + ("event",))
                target = entry.get("event_of")
                if target is None:
                    continue
                event = self.vocab.get(target)
                if event is None or event.kind != "fact":
                    facts = [d.name for d in self.vocab.of_kind("fact") if d.event]
                    self.fail(f"'event_of' names unknown fact '{target}'{suggest(target, facts)}",
                              document, path + ("event_of",))
                elif not event.event:
                    self.fail(f"'event_of' must name an event fact; '{target}' is not declared with 'event: true'",
                              document, path + ("event_of",))
                elif target == name:
                    self.fail(f"'{name}' cannot describe its own event", document, path + ("event_of",))

    def _declaration(self, name: str, kind: str, entry: dict[str, Any], document: Document,
                     path: tuple[Any, ...]) -> Declaration | None:
        declared_type = parse_type(entry["type"])
        values = tuple(entry.get("values", ()))
        if values and declared_type not in (TEXT, list_of(TEXT), Type("set", TEXT)):
            self.fail("'values' lists the allowed values of a text", document, path + ("values",))
        default, has_default = None, "default" in entry
        if has_default:
            try:
                default = coerce(entry["default"], declared_type)
            except Mismatch as problem:
                self.fail(f"default of '{name}': {problem}", document, path + ("default",))
        return Declaration(name, kind, declared_type, document.span(path, key=True), entry.get("description", ""),
                           values, default, has_default, bool(entry.get("internal", False)),
                           event=bool(entry.get("event", False)), event_of=entry.get("event_of"))

    # -- contents ---------------------------------------------------------------

    def contents(self, document: Document, loaded: LoadedRules) -> None:
        data = document.data
        amendment_id = (data.get("amendment") or {}).get("id", "")
        for i, entry in enumerate(data.get("rules") or []):
            if entry is None:
                continue  # set aside: it has an error
            self.add_rule(self.rule(entry, document, ("rules", i), ""), loaded, document, ("rules", i))
        for i, entry in enumerate(data.get("sets") or []):
            if entry is None:
                continue
            value_set = self.value_set(entry, document, ("sets", i))
            loaded.sets[value_set.id] = value_set
        for i, entry in enumerate(data.get("parameters") or []):
            if entry is None:
                continue
            parameter = self.parameter(entry, document, ("parameters", i), "")
            if parameter is not None:
                loaded.parameters[parameter.id] = parameter
        if amendment_id:
            amendment = self.amendment(data, document, loaded)
            if amendment.id in loaded.amendments:
                self.fail(f"amendment '{amendment.id}' is defined twice (first at "
                          f"{loaded.amendments[amendment.id].span})", document, ("amendment", "id"))
            loaded.amendments[amendment.id] = amendment

    def add_rule(self, rule: Rule, loaded: LoadedRules, document: Document, path: tuple[Any, ...]) -> None:
        if rule.id in loaded.rules:
            self.fail(f"rule '{rule.id}' is defined twice (first at {loaded.rules[rule.id].span})",
                      document, path + ("id",))
            return
        loaded.rules[rule.id] = rule

    def expression(self, document: Document, path: tuple[Any, ...], expected: Type | None) -> Expression | None:
        try:
            return Expression.compile(str(document.data_at(path)), self.vocab, document.origin(path), expected)
        except PolicyError as problem:
            self.errors.extend(e for e in getattr(problem, "errors", [problem])
                               if not (isinstance(e, UnknownNameError) and self.failed.covers(e.name)))
            return None

    def date_ref(self, value: Any, document: Document, path: tuple[Any, ...], amendment: str) -> DateRef:
        if value == EFFECTIVE and not amendment:
            self.fail("'effective' stands for an amendment's effective date; use it in amendment files only",
                      document, path)
            return date.min
        return value  # type: ignore[no-any-return]

    def rule(self, entry: dict[str, Any], document: Document, path: tuple[Any, ...], amendment: str) -> Rule:
        exception_to = entry.get("exception_to", ())
        reference = None
        if "reference_date" in entry:
            reference = self.expression(document, path + ("reference_date",), DATE)
        versions = tuple(self.version(entry["id"], v, document, path + ("versions", i), amendment)
                         for i, v in enumerate(entry["versions"]))
        exception_spans: tuple[Span, ...]
        if isinstance(exception_to, str):
            exception_spans = (document.span(path + ("exception_to",)),)
        else:
            exception_spans = tuple(document.span(path + ("exception_to", i)) for i in range(len(exception_to)))
        return Rule(
            id=entry["id"], title=entry["title"], source=LegalSource.from_data(entry["source"]),  # type: ignore[arg-type]
            versions=versions, span=document.span(path + ("id",)), description=entry.get("description", ""),
            reference_date=reference,
            exception_to=(exception_to,) if isinstance(exception_to, str) else tuple(exception_to),
            order=int(entry.get("order", 0)), amendment=amendment, exception_spans=exception_spans)

    def version(self, rule_id: str, entry: dict[str, Any], document: Document, path: tuple[Any, ...],
                amendment: str, start: DateRef | None = None) -> RuleVersion:
        when = self.expression(document, path + ("when",), BOOL) if "when" in entry else None
        values: dict[str, Any] = {}
        for name, value in (entry.get("set") or {}).items():
            declared = self.output(name, document, path + ("set", name))
            if declared is None:
                continue
            try:
                values[name] = coerce(value, declared.type)
            except Mismatch as problem:
                self.fail(f"output '{name}': {problem}", document, path + ("set", name))
                continue
            if declared.values and isinstance(values[name], str) and values[name] not in declared.values:
                self.fail(f"output '{name}' does not take the value '{values[name]}'"
                          f"{suggest(values[name], declared.values)}", document, path + ("set", name))
        computed: dict[str, Expression] = {}
        for name in entry.get("compute") or {}:
            declared = self.output(name, document, path + ("compute", name))
            if declared is None:
                continue
            if name in values:
                self.fail(f"output '{name}' is both set and computed", document, path + ("compute", name), key=True)
            expression = self.expression(document, path + ("compute", name), declared.type)
            if expression is not None:
                computed[name] = _as_set(expression) if declared.type.name == "set" else expression
        return RuleVersion(
            rule_id=rule_id,
            start=start if start is not None else self.date_ref(entry["from"], document, path + ("from",), amendment),
            until=self.date_ref(entry["until"], document, path + ("until",), amendment) if "until" in entry else None,
            when=when, values=values, computed=computed,
            source=LegalSource.from_data(entry.get("source")) or (self.act if amendment else None),
            span=document.span(path), description=entry.get("description", ""), amendment=amendment)

    def output(self, name: str, document: Document, path: tuple[Any, ...]) -> Declaration | None:
        declared = self.vocab.get(name)
        if declared is None and self.failed.covers(name):
            return None  # declared, perhaps, in what was set aside
        if declared is None or declared.kind != "output":
            outputs = [d.name for d in self.vocab.of_kind("output")]
            self.fail(f"unknown output '{name}'{suggest(name, outputs)}", document, path, key=True)
            return None
        return declared

    def value_set(self, entry: dict[str, Any], document: Document, path: tuple[Any, ...]) -> ValueSet:
        members = []
        windows: dict[str, list[tuple[Any, Any, int]]] = {}  # value -> (from, until, line) of each member
        for i, member in enumerate(entry["members"]):
            if isinstance(member, str):
                members.append(Member(member))
                self._once(member, None, None, windows, document, path + ("members", i))
                continue
            start, until = member.get("from"), member.get("until")
            if start and until and until <= start:
                self.fail("a member's 'until' must come after its 'from'", document, path + ("members", i, "until"))
            members.append(Member(member["value"], start, until, LegalSource.from_data(member.get("source"))))
            self._once(member["value"], start, until, windows, document, path + ("members", i))
        return ValueSet(entry["id"], entry["title"], LegalSource.from_data(entry["source"]),  # type: ignore[arg-type]
                        tuple(members), document.span(path + ("id",)), entry.get("description", ""))

    def _once(self, value: str, start: Any, until: Any, windows: dict[str, list[tuple[Any, Any, int]]],
              document: Document, path: tuple[Any, ...]) -> None:
        """Flag a member whose value is already in the set for part of its window (a
        copy-paste slip in a list of thousands is otherwise invisible)."""
        line = document.span(path).line
        earlier = windows.setdefault(value, [])
        for first_start, first_until, first_line in earlier:
            if (start is None or first_until is None or start < first_until) and (
                    first_start is None or until is None or first_start < until):
                self.fail(f"duplicate member {shorten(value)} (first at line {first_line})", document, path)
                return
        earlier.append((start, until, line))

    def parameter(self, entry: dict[str, Any], document: Document, path: tuple[Any, ...],
                  amendment: str) -> Parameter | None:
        declared_type = parse_type(entry["type"])
        versions = []
        for i, version in enumerate(entry["versions"]):
            vpath = path + ("versions", i)
            versions.append(self.parameter_version(version, declared_type, document, vpath, amendment))
        return Parameter(entry["id"], entry["title"], declared_type,
                         LegalSource.from_data(entry["source"]),  # type: ignore[arg-type]
                         tuple(versions), document.span(path + ("id",)), entry.get("description", ""))

    def parameter_version(self, entry: dict[str, Any], declared_type: Type, document: Document,
                          path: tuple[Any, ...], amendment: str) -> ParameterVersion:
        try:
            value = coerce(entry["value"], declared_type)
        except Mismatch as problem:
            self.fail(f"parameter value: {problem}", document, path + ("value",))
            value = None
        return ParameterVersion(
            self.date_ref(entry["from"], document, path + ("from",), amendment),
            self.date_ref(entry["until"], document, path + ("until",), amendment) if "until" in entry else None,
            value, LegalSource.from_data(entry.get("source")) or (self.act if amendment else None), document.span(path),
            entry.get("description", ""), amendment)

    def amendment(self, data: dict[str, Any], document: Document, loaded: LoadedRules) -> Amendment:
        head = data["amendment"]
        amendment_id = head["id"]
        self.act = LegalSource.from_data(head["source"])  # versions it makes carry its source
        changes = []
        for i, entry in enumerate(data["changes"]):
            if entry is None:
                continue  # set aside: it has an error
            path = ("changes", i)
            kind = next(iter(entry))
            body = entry[kind]
            span = document.span(path)
            if kind == "add_rules":
                rules = []
                for j, rule_entry in enumerate(body):
                    rule = self.rule(rule_entry, document, path + (kind, j), amendment_id)
                    self.add_rule(rule, loaded, document, path + (kind, j))
                    rules.append(rule)
                changes.append(Change(kind, span, rules=tuple(rules)))
                continue
            target = body["rule"]
            version: RuleVersion | ParameterVersion | None = None
            start = self.date_ref(body.get("from", body.get("on")), document, path, amendment_id)
            if kind in ("add_version", "replace"):
                vpath = path + (kind, "version")
                version = self._change_version(target, body["version"], document, vpath, amendment_id,
                                               start if kind == "replace" else None)
            to = self.date_ref(body["to"], document, path + (kind, "to"), amendment_id) if kind == "move" else None
            changes.append(Change(kind, span, target, start if kind != "add_version" else None, to, version))
        return Amendment(amendment_id, head["title"], LegalSource.from_data(head["source"]),  # type: ignore[arg-type]
                         head["status"], head["effective"], tuple(changes), document.span(("amendment", "id")),
                         head.get("assumption", ""), head.get("description", ""))

    def _change_version(self, target: str, entry: dict[str, Any], document: Document, path: tuple[Any, ...],
                        amendment: str, start: DateRef | None) -> RuleVersion | ParameterVersion:
        declared = self.vocab.get(target)
        if declared is not None and declared.kind == "parameter":
            body = dict(entry)
            if start is not None:
                body["from"] = start
            return self.parameter_version(body, declared.type, document, path, amendment)
        return self.version(target, entry, document, path, amendment, start)

    # -- references -------------------------------------------------------------

    def references(self, loaded: LoadedRules) -> None:
        for rule in loaded.rules.values():
            for parent in rule.exception_to:
                if parent not in loaded.rules and self.failed.covers(parent):
                    continue  # defined, perhaps, in what was set aside
                if parent not in loaded.rules:
                    self.errors.append(RuleFileError(
                        f"rule '{rule.id}' is an exception to unknown rule '{parent}'"
                        f"{suggest(parent, loaded.rules)}", rule.span))
                elif parent == rule.id:
                    self.errors.append(RuleFileError(f"rule '{rule.id}' is an exception to itself", rule.span))
        for amendment in loaded.amendments.values():
            for change in amendment.changes:
                if change.kind == "add_rules":
                    continue
                if change.target not in loaded.rules and change.target not in loaded.parameters:
                    if self.failed.covers(change.target):
                        continue
                    known = list(loaded.rules) + list(loaded.parameters)
                    self.errors.append(RuleFileError(
                        f"{change.kind} changes unknown rule or parameter '{change.target}'"
                        f"{suggest(change.target, known)}", change.span))


def _as_set(expression: Expression) -> Expression:
    """An expression for a set-typed output: its list value becomes a set."""
    return replace(expression, as_set=True)
