"""Validate documents against the JSON Schemas in ``schemas/``, with positions.

The schemas are the ones editors use for completion (``yaml-language-server``); they are
read as package data (``engine/schemas`` links to the top-level ``schemas/``, and a wheel
holds the files), so validation works wherever the package is installed. Our
documents hold dates as ``datetime.date`` and numbers as ``Decimal``, so the validator's
type checker accepts those where the schema says ``string`` (with ``format: date``),
``number`` or ``integer``. Each error is mapped back to the place of the offending value
or key; an unknown key gets a "did you mean".
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any, Callable, Iterator, Mapping

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from engine.errors import PolicyError, Suggestions, shorten, suggest
from engine.sources.yamlsource import Document
from engine.values import parse_iso_date

SCHEMAS = resources.files("engine") / "schemas"


def _is_string(checker: Any, instance: Any) -> bool:
    return isinstance(instance, (str, date))


def _is_number(checker: Any, instance: Any) -> bool:
    return isinstance(instance, (int, float, Decimal)) and not isinstance(instance, bool)


def _is_integer(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, Decimal):
        return instance == instance.to_integral_value()
    return isinstance(instance, int)


_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many(
    {"string": _is_string, "number": _is_number, "integer": _is_integer}
)


def _as_text(instance: Any) -> Any:
    """A date stands for its ISO text where a keyword reads a string's characters."""
    return instance.isoformat() if isinstance(instance, date) else instance


def _on_text(keyword: str) -> Any:
    """The draft's ``keyword``, applied to a date's ISO text (it would fail on the date)."""
    check = Draft202012Validator.VALIDATORS[keyword]

    def on_text(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        return check(validator, value, _as_text(instance), schema)

    return on_text


def _type(validator: Any, types: Any, instance: Any, schema: Any) -> Any:
    """The draft's ``type``, save that a date is a text only where the schema says
    ``format: date``: YAML reads an unquoted 2024-02-02 as a date, and a title or an
    article written so must be quoted, not carried on as a date."""
    if isinstance(instance, date) and schema.get("format") != "date" and "string" in (
            [types] if isinstance(types, str) else types):
        text = instance.isoformat()
        yield ValidationError(f"{text} is read as a date where a text is expected; quote it: '{text}'")
        return
    yield from Draft202012Validator.VALIDATORS["type"](validator, types, instance, schema)


# types-jsonschema leaves validators.extend unannotated
_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, type_checker=_TYPES,
    validators={"type": _type, **{keyword: _on_text(keyword) for keyword in ("pattern", "minLength", "maxLength")}})
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date", raises=ValueError)
def _is_date(instance: Any) -> bool:
    if isinstance(instance, date):
        return True
    if isinstance(instance, str):
        parse_iso_date(instance)  # strict: not 20240301 nor 2024-W01-1
    return True


@functools.cache
def validator(name: str) -> Any:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return _Validator(_inline(schema, schema.get("$defs", {})), format_checker=_FORMATS)


def _inline(part: Any, definitions: dict[str, Any], depth: int = 0) -> Any:
    """The schema with its local ``#/$defs/...`` references replaced by their targets.

    Our schemas are not recursive, and resolving ``$ref`` through ``referencing`` costs
    a large share of validation time; editors keep using the files as written.
    """
    if depth > 32:
        raise ValueError("schema references nest too deeply (recursive schema?)")
    if isinstance(part, dict):
        ref = part.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(part) == 1 or (
                isinstance(ref, str) and ref.startswith("#/$defs/") and set(part) <= {"$ref", "description"}):
            return _inline(definitions[ref.removeprefix("#/$defs/")], definitions, depth + 1)
        return {key: _inline(value, definitions, depth) for key, value in part.items() if key != "$defs"}
    if isinstance(part, list):
        return [_inline(item, definitions, depth) for item in part]
    return part


# -- the quick check of valid documents -----------------------------------------------
#
# Most files are valid, and jsonschema's way of finding every error (a validator object
# and an error generator per keyword and value) costs several times what a yes-or-no
# answer does. So each schema is also compiled into nested predicates that only answer
# "valid?"; jsonschema runs when they say no, and reports as before. The predicates may
# say no where jsonschema finds nothing (then it simply runs), never yes where it finds
# a problem: a keyword they do not know, or a value they are unsure of (a date outside
# ``format: date``, a list of other things than texts to keep unique), means no.

_Predicate = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default", "examples",
                          "deprecated", "readOnly", "writeOnly"})


class _Unsupported(Exception):
    """A schema uses a keyword (or a form of one) the quick check does not implement."""


@functools.cache
def quick_check(name: str) -> _Predicate | None:
    """A predicate true only of documents valid under schema ``name``; None when the
    schema uses what it does not know."""
    try:
        return _predicate(validator(name).schema)
    except _Unsupported:
        return None


def _predicate(schema: Any) -> _Predicate:
    if schema is True or schema == {}:
        return lambda instance: True
    if schema is False:
        return lambda instance: False
    if not isinstance(schema, dict):
        raise _Unsupported(repr(schema))
    checks = [_keyword(key, value, schema) for key, value in schema.items() if key not in _ANNOTATIONS]
    checks.sort(key=lambda pair: pair[0])  # the cheap ones first
    tests = tuple(check for _, check in checks)
    if len(tests) == 1:
        return tests[0]

    def every(instance: Any) -> bool:
        for test in tests:
            if not test(instance):
                return False
        return True

    return every


def _keyword(key: str, value: Any, schema: dict[str, Any]) -> tuple[int, _Predicate]:
    """The test of one keyword, with its rank (lower runs first)."""
    if key == "type":
        return 0, _type_test([value] if isinstance(value, str) else value, schema.get("format") == "date")
    if key in ("enum", "const"):
        texts = value if key == "enum" else [value]
        if not all(isinstance(text, str) for text in texts):
            raise _Unsupported(key)
        allowed = frozenset(texts)
        return 1, lambda instance: isinstance(instance, str) and instance in allowed
    if key == "format":
        if value != "date":
            raise _Unsupported(f"format {value}")
        return 1, _is_date_text
    if key == "pattern":
        search = re.compile(value).search
        return 2, lambda instance: not isinstance(instance, (str, date)) or (
            isinstance(instance, str) and search(instance) is not None)
    if key in ("minLength", "maxLength"):
        low, high = (value, None) if key == "minLength" else (0, value)
        return 1, lambda instance: not isinstance(instance, (str, date)) or (
            isinstance(instance, str) and low <= len(instance) and (high is None or len(instance) <= high))
    if key == "required":
        names = tuple(value)
        return 1, lambda instance: not isinstance(instance, dict) or all(n in instance for n in names)
    if key == "dependentRequired":
        pairs = tuple((name, tuple(needed)) for name, needed in value.items())
        return 1, lambda instance: not isinstance(instance, dict) or all(
            all(n in instance for n in needed) for name, needed in pairs if name in instance)
    if key == "properties":
        members = tuple((name, _predicate(sub)) for name, sub in value.items())
        return 3, lambda instance: not isinstance(instance, dict) or all(
            test(instance[name]) for name, test in members if name in instance)
    if key == "additionalProperties":
        if "patternProperties" in schema:
            raise _Unsupported(key)
        named = frozenset(schema.get("properties", {}))
        if value is False:
            return 1, lambda instance: not isinstance(instance, dict) or instance.keys() <= named
        extra = _predicate(value)
        return 3, lambda instance: not isinstance(instance, dict) or all(
            extra(item) for name, item in instance.items() if name not in named)
    if key == "propertyNames":
        name_test = _predicate(value)
        return 3, lambda instance: not isinstance(instance, dict) or all(name_test(name) for name in instance)
    if key == "items":
        if "prefixItems" in schema or not isinstance(value, dict):
            raise _Unsupported(key)
        item_test = _predicate(value)
        return 3, lambda instance: not isinstance(instance, list) or all(item_test(item) for item in instance)
    if key == "minItems":
        return 1, lambda instance: not isinstance(instance, list) or len(instance) >= value
    if key == "uniqueItems":
        return 2, lambda instance: not value or not isinstance(instance, list) or (
            all(isinstance(item, str) for item in instance) and len(set(instance)) == len(instance))
    if key in ("anyOf", "oneOf"):
        branches = tuple(_predicate(sub) for sub in value)
        if key == "anyOf":
            return 4, lambda instance: any(branch(instance) for branch in branches)
        return 4, lambda instance: sum(1 for branch in branches if branch(instance)) == 1
    raise _Unsupported(key)


def _type_test(names: list[str], date_is_text: bool) -> _Predicate:
    """Our type checker's answer (see ``_TYPES``), save that a date counts as a text only
    where the schema says ``format: date``."""
    kinds: list[type | tuple[type, ...]] = []
    for name in names:
        if name == "string":
            kinds.append((str, date) if date_is_text else str)
        elif name in ("number", "integer", "boolean", "null", "object", "array"):
            continue
        else:
            raise _Unsupported(f"type {name}")
    exact = tuple(kinds)
    wanted = frozenset(names)

    def test(instance: Any) -> bool:
        if isinstance(instance, bool):
            return "boolean" in wanted
        if exact and isinstance(instance, exact):
            return True
        if isinstance(instance, dict):
            return "object" in wanted
        if isinstance(instance, list):
            return "array" in wanted
        if instance is None:
            return "null" in wanted
        if isinstance(instance, (int, Decimal)):
            return "number" in wanted or ("integer" in wanted and _is_integer(None, instance))
        return False

    return test


def _is_date_text(instance: Any) -> bool:
    if isinstance(instance, str):
        try:
            parse_iso_date(instance)
        except ValueError:
            return False
    return True


# -- errors -----------------------------------------------------------------------------

def iter_errors(document: Document, schema_name: str, error: type[PolicyError]) -> Iterator[PolicyError]:
    """Every schema problem of ``document``, placed in its file."""
    for problem, where in iter_errors_with_paths(document, schema_name, error):
        if where not in document.bad_paths:  # an impossible value is reported where it stands
            yield problem


def iter_errors_with_paths(document: Document, schema_name: str,
                           error: type[PolicyError]) -> Iterator[tuple[PolicyError, tuple[Any, ...]]]:
    """Each schema problem with the path of the value it concerns (of an unknown key:
    the path to that key), so a reader can set aside just the part that is wrong."""
    valid = quick_check(schema_name)
    if valid is not None and valid(document.data):
        return
    for problem in sorted(validator(schema_name).iter_errors(document.data), key=lambda e: list(map(str, e.path))):
        yield from _explain(document, problem, error)


def _explain(document: Document, problem: ValidationError,
             error: type[PolicyError]) -> Iterator[tuple[PolicyError, tuple[Any, ...]]]:
    path = tuple(problem.absolute_path)
    expected_date = _date_expected(problem)
    if expected_date:
        yield error(f"{_where(path)}{_written(problem.instance)} is not a date: {expected_date}",
                    document.span(path)), path
        return
    if problem.validator == "additionalProperties" and isinstance(problem.instance, dict):
        allowed = set(_schema(problem).get("properties", {}))
        hints = Suggestions(allowed)  # a hint for the first few unknown keys: 20,000 cost no more
        expected = f"; expected one of: {', '.join(sorted(allowed))}"
        for key in problem.instance:
            if key not in allowed:
                hint = hints(str(key)) or expected
                yield error(f"unknown key {shorten(str(key))}{hint}", document.span(path + (key,), key=True)), path + (key,)
        return
    if problem.validator in ("oneOf", "anyOf") and problem.context:
        if isinstance(problem.instance, dict) and problem.validator == "oneOf":
            keys = _branch_keys(_schema(problem)[problem.validator])
            if keys and len(problem.instance) == 1 and next(iter(problem.instance)) not in keys:
                key = next(iter(problem.instance))
                hint = suggest(str(key), keys) or f"; expected one of: {', '.join(sorted(keys))}"
                yield error(f"unknown change '{key}'{hint}", document.span(path + (key,), key=True)), path + (key,)
                return
        context = list(problem.context)
        if isinstance(problem.instance, (dict, list)):
            # the branch for another kind of value (a list where a mapping is given) says
            # nothing useful: explain the branches made for this kind of value
            fitting = [c for c in context if not (c.validator == "type" and not c.path)]
            context = fitting or context
        deepest = best_match(context)
        if deepest is not None and (tuple(deepest.absolute_path) != path or deepest.validator != problem.validator):
            yield from _explain(document, deepest, error)
            return
    if problem.validator == "required":
        yield error(f"{_where(path)}{problem.message}", document.span(path)), path
        return
    if problem.validator == "format":
        yield error(f"{shorten(problem.instance)} is not a valid {problem.validator_value}", document.span(path)), path
        return
    yield error(f"{_where(path)}{_message(problem)}", document.span(path)), path


def _date_expected(problem: ValidationError) -> str:
    """What a date field expects, with an example, when ``problem`` is a badly written
    date (jsonschema would say "Decimal('2014') is not of type string" of ``from: 2014``,
    or "'effective' was expected" of ``from: 2014/01/01``); empty for other problems."""
    schema = problem.schema
    if not isinstance(schema, Mapping) or isinstance(problem.instance, (dict, list, bool)) or problem.instance is None:
        return ""
    example = _example_date(problem.instance)
    if problem.validator == "anyOf" and _is_date_or_effective(schema):
        return f"write YYYY-MM-DD (e.g. {example}), or 'effective' (an amendment's effective date)"
    if problem.validator in ("type", "format") and _is_date_schema(schema):
        return f"write YYYY-MM-DD (e.g. {example})"
    return ""


def _is_date_schema(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("format") == "date"


def _is_date_or_effective(schema: Mapping[str, Any]) -> bool:
    branches = schema.get("anyOf", [])
    return any(_is_date_schema(b) for b in branches) and any(b == {"const": "effective"} for b in branches)


_DATE_PARTS = (re.compile(r"^(?P<y>\d{4})(?:\D(?P<m>\d{1,2})(?:\D(?P<d>\d{1,2}))?)?$"),
               re.compile(r"^(?P<d>\d{1,2})\D(?P<m>\d{1,2})\D(?P<y>\d{4})$"))


def _example_date(instance: Any) -> str:
    """The date the author probably meant, as YYYY-MM-DD (2014 -> 2014-01-01,
    2014/3/1 and 1/3/2014 -> 2014-03-01); a fixed example when no date shows through."""
    text = str(instance).strip()
    for pattern in _DATE_PARTS:
        match = pattern.match(text)
        if match:
            try:
                return date(int(match["y"]), int(match["m"] or 1), int(match["d"] or 1)).isoformat()
            except ValueError:
                break
    return "2024-03-01"


def _written(instance: Any) -> str:
    """A value as the author wrote it: numbers bare, texts quoted."""
    if isinstance(instance, (int, Decimal)) and not isinstance(instance, bool):
        return str(instance)
    shown = repr(instance)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _schema(problem: ValidationError) -> Mapping[str, Any]:
    """The schema object whose keyword ``problem.validator`` failed (never a boolean schema)."""
    assert isinstance(problem.schema, Mapping)
    return problem.schema


def _branch_keys(branches: list[dict[str, Any]]) -> set[str]:
    keys: set[str] = set()
    for branch in branches:
        keys.update(branch.get("required", []))
    return keys


def _where(path: tuple[Any, ...]) -> str:
    return f"{path[-1]}: " if path and isinstance(path[-1], str) else ""


def _message(problem: ValidationError) -> str:
    if problem.validator == "enum":
        assert isinstance(problem.validator_value, list)  # an enum keyword's value is a JSON array
        return f"{shorten(problem.instance)} is not one of {', '.join(map(repr, problem.validator_value))}"
    if problem.validator == "type":
        if isinstance(problem.instance, date):  # see _type
            return problem.message
        return f"{_show(problem.instance)} is not of type {problem.validator_value}"
    if problem.validator == "pattern":
        return f"{shorten(_as_text(problem.instance))} is not a valid name here (pattern {problem.validator_value})"
    if len(problem.message) > 200:  # jsonschema quotes the whole value; a long one is shortened
        return f"{shorten(problem.instance)} does not satisfy '{problem.validator}': {problem.validator_value!r}"[:300]
    return problem.message


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return _written(value)
