"""What a caller sends, read and checked: bodies within a size, JSON, evaluation requests.

Every problem becomes a :class:`Problem`, rendered as RFC 9457 problem details by the
application (``application/problem+json``): a body over the configured size is 413 (the
size is enforced while the body is read, never after reading it whole), text that is not
JSON is 400, and a JSON request that does not fit is 422 with *every* problem at once,
each naming its place as a JSON pointer into the request (``#/facts/persoon/
geboortedatum``) and what was expected, in the words ``decree eval`` uses for a facts
file. Unknown fields, outputs and proposals come with "did you mean".

Numbers are read as :class:`Decimal` (money is never a binary float); ``NaN`` and
``Infinity``, which Python's json module accepts, are not JSON and are refused.

Limits: the facts of one person are read with :func:`engine.sources.facts.iter_fact_errors`,
so what a facts file accepts, a request accepts (nested maps or dotted names).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, AsyncIterator, Mapping

from engine.errors import PolicyError, Source, Span, flatten, suggest
from engine.sources.facts import iter_fact_errors, with_defaults
from engine.values import to_json

PROBLEM_BASE = "https://decree.example/problems/"
EVALUATION_FIELDS = ("facts", "on", "proposals", "outputs", "explain")


@dataclass
class Problem(Exception):
    """A request the service refuses, as RFC 9457 problem details."""

    status: int
    title: str
    detail: str = ""
    kind: str = "about:blank"
    errors: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind if self.kind == "about:blank" else PROBLEM_BASE + self.kind,
                                "title": self.title, "status": self.status}
        if self.detail:
            data["detail"] = self.detail
        if self.errors:
            data["errors"] = self.errors
        data.update(self.extra)
        return data


def invalid(errors: list[dict[str, str]]) -> Problem:
    """The 422 for a request with ``errors`` (each a pointer and a detail)."""
    count = len(errors)
    return Problem(422, "The request does not fit", f"{count} problem{'s' if count != 1 else ''} in the request",
                   "invalid-request", errors)


def pointer(path: tuple[Any, ...]) -> str:
    """A JSON pointer, in the URI fragment form RFC 9457's example uses."""
    return "#" + "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


# -- bodies -------------------------------------------------------------------------

async def read_body(chunks: AsyncIterator[bytes], declared_length: str | None, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes."""
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise too_large(limit)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def too_large(limit: int) -> Problem:
    return Problem(413, "Request body too large", f"the body may hold at most {limit} bytes", "too-large",
                   extra={"limit": limit})


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes, what: str = "the body") -> Any:
    """JSON text to data with exact numbers; 400 with the position of the first fault."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise Problem(400, "Malformed JSON", f"{what} is not UTF-8 text", "malformed-json") from None
    except json.JSONDecodeError as error:
        raise Problem(400, "Malformed JSON", f"{what}: {error.msg} at line {error.lineno} column {error.colno}",
                      "malformed-json") from None
    except (ValueError, RecursionError) as error:
        raise Problem(400, "Malformed JSON", f"{what}: {error}", "malformed-json") from None


# -- evaluation requests ------------------------------------------------------------

@dataclass(frozen=True)
class EvaluationRequest:
    """One person's facts, validated against a rule set, and what to decide for them."""

    facts: dict[str, Any]  # validated, with declared defaults (what RuleSet.evaluate takes)
    given: dict[str, Any]  # the facts as given, validated, without defaults: canonical JSON
    on: date
    proposals: dict[str, date | None]
    outputs: tuple[str, ...] | None
    explain: bool

    def canonical(self) -> dict[str, Any]:
        """The request in one spelling (dotted fact names, JSON values): what is hashed."""
        return {"facts": {name: to_json(value) for name, value in sorted(self.given.items())},
                "on": self.on.isoformat(),
                "proposals": {name: day.isoformat() if day else None for name, day in sorted(self.proposals.items())},
                "outputs": list(self.outputs) if self.outputs is not None else None,
                "explain": self.explain}


def evaluation_request(data: Any, ruleset: Any, base: tuple[Any, ...] = (),
                       fields: tuple[str, ...] = EVALUATION_FIELDS) -> EvaluationRequest:
    """Check a decoded request against ``ruleset``; raises a 422 with every problem."""
    errors: list[dict[str, str]] = []
    request = _evaluation_request(data, ruleset, base, fields, errors)
    if errors or request is None:
        raise invalid(errors)
    return request


def _evaluation_request(data: Any, ruleset: Any, base: tuple[Any, ...], fields: tuple[str, ...],
                        errors: list[dict[str, str]]) -> EvaluationRequest | None:
    def problem(path: tuple[Any, ...], detail: str) -> None:
        errors.append({"pointer": pointer(base + path), "detail": detail})

    if not isinstance(data, Mapping):
        problem((), "expected an object with " + ", ".join(f"'{name}'" for name in fields))
        return None
    for key in data:
        if key not in fields:
            problem((key,), f"unknown field '{key}'{suggest(str(key), fields)}")
    on: date | None = None
    if "on" not in data:
        problem(("on",), "'on' is required: the evaluation date, YYYY-MM-DD")
    else:
        on = _date(data["on"], ("on",), "the evaluation date", problem)
    proposals = _proposals(data.get("proposals"), ruleset, problem)
    outputs = _outputs(data.get("outputs"), ruleset, problem) if "outputs" in fields else None
    explain = data.get("explain", False)
    if not isinstance(explain, bool):
        problem(("explain",), "expected true or false")
    given: dict[str, Any] = {}
    facts = data.get("facts")
    if facts is None:
        facts = {}
    if not isinstance(facts, Mapping):
        problem(("facts",), "expected an object of facts: nested objects or dotted names to values")
    else:
        for error in flatten(list(iter_fact_errors(facts, ruleset.vocabulary, _place(base + ("facts",)), given))):
            errors.append({"pointer": error.span.file, "detail": error.message})
    if errors or on is None:
        return None
    return EvaluationRequest(with_defaults(dict(given), ruleset.vocabulary), given, on, proposals, outputs,
                             explain is True)


def _place(base: tuple[Any, ...]) -> Any:
    """``span_of`` for fact reading: the place of a problem is its JSON pointer (as the
    span's file name), where a facts file would give a line and column."""
    def span_of(path: tuple[Any, ...], key: bool = False) -> Span:
        return Span(Source(pointer(base + path), ""), 1, 1)
    return span_of


def _date(value: Any, path: tuple[Any, ...], what: str, problem: Any) -> date | None:
    # date.fromisoformat also takes 20240301; the contract says YYYY-MM-DD
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problem(path, f"{what}: expected a date YYYY-MM-DD, not {_shown(value)}")
    return None


def _shown(value: Any) -> str:
    """A value a request gave where another was expected, as a message names it: an
    object or a list by its kind (it may hold numbers json.dumps cannot write, and a
    whole document has no place in a message), a number as written, the rest as JSON."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _proposals(value: Any, ruleset: Any, problem: Any) -> dict[str, date | None]:
    """``{"name": "YYYY-MM-DD" | null}`` or ``["name", ...]``: proposals switched on."""
    if value is None:
        return {}
    if isinstance(value, list):
        value = {name: None for name in value} if all(isinstance(n, str) for n in value) else value
    if not isinstance(value, Mapping):
        problem(("proposals",), "expected an object of proposal names to an effective date (or null), "
                                "or a list of proposal names")
        return {}
    known = sorted(a.id for a in ruleset.loaded.amendments.values() if a.proposed)
    proposals: dict[str, date | None] = {}
    for name, day in value.items():
        if name not in known:
            hint = suggest(name, known) or (f"; proposals: {', '.join(known)}" if known else "; there are none")
            problem(("proposals", name), f"unknown proposal '{name}'{hint}")
        elif day is None:
            proposals[name] = None
        else:
            proposals[name] = _date(day, ("proposals", name), f"proposal '{name}'", problem)
    return proposals


def _outputs(value: Any, ruleset: Any, problem: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        problem(("outputs",), "expected a list of output names")
        return None
    for index, name in enumerate(value):
        if name not in ruleset.public_outputs:
            problem(("outputs", index), f"unknown output '{name}'{suggest(name, ruleset.public_outputs)}")
    return tuple(dict.fromkeys(value))


def policy_problem(error: PolicyError, status: int = 422) -> Problem:
    """An engine error met while deciding (a conflict between rules, an impossible date)."""
    problems = flatten([error])
    title = "The rules cannot decide this case" if status == 422 else "Error"
    return Problem(status, title, problems[0].message if len(problems) == 1 else f"{len(problems)} problems",
                   "evaluation-error", [{"pointer": "#", "detail": p.message} for p in problems])
