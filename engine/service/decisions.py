"""Deciding over HTTP: the engine call for one request, its receipt, and its JSON text.

A decision is what ``decree eval --format json`` prints (``Result.to_json()``, with the
``explanations`` of ``--explain`` when asked), plus a receipt: a ``decision_id``, the
``input_hash`` (SHA-256 of the canonical request: dotted fact names, JSON values, sorted
keys, so nested and dotted spellings of the same facts hash alike), the
``rules_version`` that decided it and ``evaluated_at`` (UTC).

:func:`canonical_json` is the one way decisions become text, for responses, the decision
log and replay alike: compact, ASCII (a lone surrogate from a ``\\ud800`` escape can always
be written), and exact decimal numbers, never through ``float``. Replaying a decision
compares these bytes.

:func:`batch_row` gives one person of a batch as ``decree batch`` writes a JSON Lines row
(the eval object plus ``id``); it is a small local version until the batch command's
code can be shared.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from engine.reports.explain import explain as explain_output
from engine.service.requests import EvaluationRequest
from engine.values import JsonNumber

# numbers are written through a marker that no caller can spell: the nonce is secret
_NONCE = secrets.token_hex(8)
_MARK = f"\x00{_NONCE}"
_QUOTED_MARK = json.dumps(_MARK)[:-1]  # the marker as json.dumps writes it, opening quote included


def canonical_json(data: Any, *, sort_keys: bool = False) -> str:
    """Compact ASCII JSON in which decimal numbers keep every digit."""
    if not _has_number(data):  # most answers hold whole numbers only: json.dumps alone
        return json.dumps(data, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False)
    numbers: list[str] = []

    def mark(part: Any) -> Any:
        if type(part) is dict:
            return {key: mark(item) for key, item in part.items()}
        if type(part) is list or type(part) is tuple:
            return [mark(item) for item in part]
        if isinstance(part, (JsonNumber, Decimal)):
            numbers.append(str(part) if isinstance(part, JsonNumber) else _decimal_text(part))
            return f"{_MARK}{len(numbers) - 1}\x00"
        return part

    text = json.dumps(mark(data), separators=(",", ":"), sort_keys=sort_keys, allow_nan=False)
    parts = text.split(_QUOTED_MARK)
    out = [parts[0]]
    for part in parts[1:]:
        index, _, rest = part.partition("\\u0000\"")
        out.append(numbers[int(index)] + rest)
    return "".join(out)


def _has_number(part: Any) -> bool:
    """Whether ``part`` holds a decimal that json.dumps cannot write exactly."""
    kind = type(part)
    if kind is str or kind is int or kind is bool or part is None:
        return False
    if kind is dict:
        return any(_has_number(item) for item in part.values())
    if kind is list or kind is tuple:
        return any(_has_number(item) for item in part)
    return isinstance(part, (JsonNumber, Decimal))


def _decimal_text(number: Decimal) -> str:
    if number == number.to_integral_value() and abs(number) < 10**15:
        return str(int(number))
    return format(number, "f")


def input_hash(canonical: dict[str, Any]) -> str:
    """SHA-256 of a canonical request (:meth:`EvaluationRequest.canonical`), keys sorted."""
    return hashlib.sha256(canonical_json(canonical, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What identifies a decision for audit."""

    decision_id: str
    input_hash: str
    rules_version: str
    evaluated_at: str

    @classmethod
    def of(cls, canonical: dict[str, Any], rules_version: str) -> "Receipt":
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return cls(uuid.uuid4().hex, input_hash(canonical), rules_version, now)

    def to_json(self) -> dict[str, str]:
        return {"decision_id": self.decision_id, "input_hash": self.input_hash,
                "rules_version": self.rules_version, "evaluated_at": self.evaluated_at}


def decide(ruleset: Any, request: EvaluationRequest) -> dict[str, Any]:
    """The object ``decree eval --format json [--explain]`` prints for this request."""
    result = ruleset.evaluate(request.facts, request.on, request.proposals, outputs=request.outputs,
                              validated=True)
    data: dict[str, Any] = result.to_json()
    if request.explain:
        data["explanations"] = {name: explain_output(result, name).to_json() for name in result.decisions}
    return data


def explanation(ruleset: Any, request: EvaluationRequest, output: str) -> dict[str, Any]:
    """The object ``decree explain OUTPUT --format json`` prints, with the rules version."""
    result = ruleset.evaluate(request.facts, request.on, request.proposals, outputs=[output], validated=True)
    data: dict[str, Any] = explain_output(result, output).to_json()
    data["rules_version"] = result.rules_version
    return data


def replay(ruleset: Any, kind: str, request: EvaluationRequest, output: str | None = None) -> dict[str, Any]:
    """What a logged decision of ``kind`` ("evaluate", "explain", "batch") decides again."""
    if kind == "explain":
        assert output is not None
        return explanation(ruleset, request, output)
    return decide(ruleset, request)


def batch_row(ruleset: Any, identifier: Any, request: EvaluationRequest) -> dict[str, Any]:
    """One person of a batch: the eval object plus ``id``, as ``decree batch`` writes it."""
    data = decide(ruleset, request)
    data["id"] = identifier
    return data
