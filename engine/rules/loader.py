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
:mod:`engine.timeline`. The result is a :class:`LoadedRules`; nothing is shared with a
previous load, so a failed load never disturbs a rule set in use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from engine.sources import schema
from engine.errors import PolicyError, RuleFileError, Span, suggest
from engine.sources.facts import Mismatch, coerce
from engine.language.expression import Expression
from engine.rules.model import (EFFECTIVE, Amendment, Change, DateRef, LegalSource, Member, Parameter,
                    ParameterVersion, Rule, RuleVersion, ValueSet)
from engine.language.types import BOOL, DATE, Declaration, Type, Vocabulary, list_of, parse_type, TEXT
from engine.sources.yamlsource import Document, read_document

RULE_FILE_SCHEMA = "rulefile.schema.json"
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class LoadedRules:
    """Everything read from a rules directory, before amendments are applied."""

    root: Path
    vocabulary: Vocabulary
    rules: dict[str, Rule] = field(default_factory=dict)
    sets: dict[str, ValueSet] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    amendments: dict[str, Amendment] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    content_hash: str = ""


def rule_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def load(paths: Iterable[str | Path]) -> tuple[LoadedRules | None, list[PolicyError]]:
    """Read the rule files under ``paths``; returns the rules (None if unusable) and problems."""
    errors: list[PolicyError] = []
    documents: list[Document] = []
    digest = hashlib.sha256()
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            errors.append(RuleFileError(f"no such file or directory: {root}"))
            continue
        for path in rule_files(root):
            try:
                document = read_document(path, RuleFileError, keep_going=True)
            except PolicyError as problem:
                errors.extend(problem.errors if hasattr(problem, "errors") else [problem])
                continue
            errors.extend(document.problems)
            digest.update(str(path.relative_to(root) if root.is_dir() else path.name).encode())
            digest.update(document.source.text.encode())
            problems = list(schema.iter_errors(document, RULE_FILE_SCHEMA, RuleFileError))
            errors.extend(problems)
            if not problems and not document.problems and isinstance(document.data, dict):
                documents.append(document)
            elif document.data is None:
                errors.append(RuleFileError("the file is empty", document.span(())))
    builder = _Builder(errors)
    vocabulary = builder.vocabulary(documents)
    loaded = LoadedRules(roots[0] if roots else Path("."), vocabulary,
                         files=[d.source.name for d in documents], content_hash=digest.hexdigest()[:16])
    for document in documents:
        builder.contents(document, loaded)
    builder.references(loaded)
    return loaded, errors


class _Builder:
    def __init__(self, errors: list[PolicyError]) -> None:
        self.errors = errors
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
                element = parse_type(entry.get("element_type", "text"))
                declare(Declaration(entry["id"], "set", Type("set", element), document.span(("sets", i)),
                                    entry["title"]), document, ("sets", i, "id"))
            for i, entry in enumerate(data.get("parameters") or []):
                declare(Declaration(entry["id"], "parameter", parse_type(entry["type"]),
                                    document.span(("parameters", i)), entry["title"]),
                        document, ("parameters", i, "id"))
        for declaration in names.values():
            event = names.get(declaration.event_of) if declaration.event_of else None
            if declaration.event_of and (event is None or not event.event):
                self.errors.append(RuleFileError(
                    f"'event_of' of '{declaration.name}' must name a fact declared 'event: true', not "
                    f"'{declaration.event_of}'", declaration.span or Span(None, 1, 1)))
        self.vocab = Vocabulary(names)
        return self.vocab

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
        if entry.get("event") and declared_type.name != "date":
            self.fail("'event' marks a date fact (the date of an event)", document, path + ("event",))
        return Declaration(name, kind, declared_type, document.span(path, key=True), entry.get("description", ""),
                           values, default, has_default, bool(entry.get("internal", False)),
                           bool(entry.get("event", False)), str(entry.get("event_of", "")))

    # -- contents ---------------------------------------------------------------

    def contents(self, document: Document, loaded: LoadedRules) -> None:
        data = document.data
        amendment_id = (data.get("amendment") or {}).get("id", "")
        for i, entry in enumerate(data.get("rules") or []):
            self.add_rule(self.rule(entry, document, ("rules", i), ""), loaded, document, ("rules", i))
        for i, entry in enumerate(data.get("sets") or []):
            value_set = self.value_set(entry, document, ("sets", i))
            loaded.sets[value_set.id] = value_set
        for i, entry in enumerate(data.get("parameters") or []):
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
            self.errors.extend(getattr(problem, "errors", [problem]))
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
        return Rule(
            id=entry["id"], title=entry["title"], source=LegalSource.from_data(entry["source"]),  # type: ignore[arg-type]
            versions=versions, span=document.span(path + ("id",)), description=entry.get("description", ""),
            reference_date=reference,
            exception_to=(exception_to,) if isinstance(exception_to, str) else tuple(exception_to),
            order=int(entry.get("order", 0)), amendment=amendment)

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
        if declared is None or declared.kind != "output":
            outputs = [d.name for d in self.vocab.of_kind("output")]
            self.fail(f"unknown output '{name}'{suggest(name, outputs)}", document, path, key=True)
            return None
        return declared

    def value_set(self, entry: dict[str, Any], document: Document, path: tuple[Any, ...]) -> ValueSet:
        members = []
        for i, member in enumerate(entry["members"]):
            if isinstance(member, str):
                members.append(Member(member))
                continue
            start, until = member.get("from"), member.get("until")
            if start and until and until <= start:
                self.fail("a member's 'until' must come after its 'from'", document, path + ("members", i, "until"))
            members.append(Member(member["value"], start, until, LegalSource.from_data(member.get("source"))))
        return ValueSet(entry["id"], entry["title"], LegalSource.from_data(entry["source"]),  # type: ignore[arg-type]
                        tuple(members), document.span(path + ("id",)), entry.get("description", ""))

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
                    known = list(loaded.rules) + list(loaded.parameters)
                    self.errors.append(RuleFileError(
                        f"{change.kind} changes unknown rule or parameter '{change.target}'"
                        f"{suggest(change.target, known)}", change.span))


def _as_set(expression: Expression) -> Expression:
    """An expression for a set-typed output: its list value becomes a set."""
    return replace(expression, as_set=True)
