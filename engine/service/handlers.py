"""The handlers of ``decree serve``: request in, one engine call, JSON out.

Each handler reads the served rule set *once* (``holder.current``) and uses that one to
the end, so a reload never changes the rules under a request in flight. One person is
decided on the event loop (about 0.1 ms; a hop to a thread would cost as much); a
batch, an explanation read from the log, and a reload run in worker threads.

Every decision is written to the decision log (when one is kept) before it is answered.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from engine.errors import InputError, PolicyError, suggest
from engine.reports.show import render_timeline, timeline_json
from engine.service.app import Service, answer
from engine.service.decisionlog import record, replay_record
from engine.service.decisions import Receipt, batch_row, canonical_json, decide, explanation
from engine.service.requests import (Problem, evaluation_request, invalid, parse_json, pointer, policy_problem,
                                     read_body)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def _json_body(request: Request, limit: int) -> Any:
    body = await read_body(request.stream(), request.headers.get("content-length"), limit)
    return parse_json(body)


def _decided(work: Any) -> Any:
    """Run an engine call; what the rules cannot decide for these facts is a 422."""
    try:
        return work()
    except PolicyError as error:
        raise policy_problem(error) from None
    except OverflowError:  # date arithmetic past the year 9999 for extreme facts
        raise Problem(422, "The rules cannot decide this case", "a date computed from the facts falls outside "
                      "the years 1 to 9999", "evaluation-error") from None


async def evaluate(request: Request) -> Response:
    """POST /v1/evaluate: one person's decision with its receipt."""
    service = _service(request)
    served = service.holder.current
    ask = evaluation_request(await _json_body(request, service.settings.max_body), served.ruleset)
    decision = _decided(lambda: decide(served.ruleset, ask))
    canonical = ask.canonical()
    receipt = Receipt.of(canonical, served.version).to_json()
    service.holder.remember(canonical)
    if service.decisions is not None:
        await service.decisions.record([record("evaluate", receipt, canonical, decision)])
    decision.update(receipt)
    return answer(decision, served.version)


async def explain(request: Request) -> Response:
    """POST /v1/explain/{output}: the derivation of one output."""
    service = _service(request)
    served = service.holder.current
    output = request.path_params["output"]
    outputs = [d.name for d in served.ruleset.vocabulary.of_kind("output")]
    if output not in outputs:
        raise Problem(404, "No such output", f"unknown output '{output}'{suggest(output, outputs)}", "unknown-output")
    data = await _json_body(request, service.settings.max_body)
    ask = evaluation_request(data, served.ruleset, fields=("facts", "on", "proposals"))
    found = _decided(lambda: explanation(served.ruleset, ask, output))
    canonical = {**ask.canonical(), "outputs": [output]}  # the output explained is part of what was asked
    receipt = Receipt.of(canonical, served.version).to_json()
    if service.decisions is not None:
        await service.decisions.record([record("explain", receipt, canonical, found, output=output)])
    found.update(receipt)
    return answer(found, served.version)


# -- batch -------------------------------------------------------------------------

BATCH_ROW_FIELDS = ("id", "on", "facts")


async def batch(request: Request) -> Response:
    """POST /v1/batch: a JSON list or JSON Lines of rows, one decision each, in order."""
    service = _service(request)
    served = service.holder.current
    settings = service.settings
    body = await read_body(request.stream(), request.headers.get("content-length"), settings.max_batch_body)
    lines = any(kind in request.headers.get("content-type", "") for kind in ("ndjson", "jsonl", "json-seq"))
    on, proposals = request.query_params.get("on"), _query_proposals(request)
    # reading, checking and deciding thousands of persons: off the event loop
    text, records = await asyncio.to_thread(_decide_batch, served, body, lines, on, proposals, settings.max_batch,
                                            service.decisions is not None)
    if service.decisions is not None:
        await service.decisions.record(records)
    return answer(text, served.version, media_type="application/x-ndjson" if lines else "application/json")


def _decide_batch(served: Any, body: bytes, lines: bool, on: str | None, proposals: dict[str, Any], limit: int,
                  logged: bool) -> tuple[str, list[dict[str, Any]]]:
    """The answer's text and, when ``logged``, the decision log's records."""
    if lines:
        rows: Any = [parse_json(line, f"line {number}") for number, line in enumerate(body.splitlines(), 1)
                     if line.strip()]
    else:
        rows = parse_json(body)
        if not isinstance(rows, list):
            raise invalid([{"pointer": "#", "detail": "expected a list of rows {id, on, facts}"}])
    if len(rows) > limit:
        raise Problem(413, "Too many persons", f"a batch holds at most {limit} persons, not {len(rows)}",
                      "too-large", extra={"limit": limit})
    asks, ids, errors = [], [], []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append({"pointer": pointer((index,)), "detail": "expected a row {id, on, facts}"})
            continue
        for key in row:
            if key not in BATCH_ROW_FIELDS:
                errors.append({"pointer": pointer((index, key)),
                               "detail": f"unknown field '{key}'{suggest(str(key), BATCH_ROW_FIELDS)}"})
        wanted = {"facts": row.get("facts"), "on": row.get("on", on), "proposals": proposals}
        if wanted["on"] is None:
            errors.append({"pointer": pointer((index, "on")), "detail": "no evaluation date: give 'on' in the "
                                                                        "row or ?on=YYYY-MM-DD"})
            continue
        try:
            asks.append(evaluation_request(wanted, served.ruleset, (index,), fields=("facts", "on", "proposals")))
            ids.append(row.get("id"))
        except Problem as problem:
            errors.extend(problem.errors)
    if errors:
        raise invalid(errors)
    decided = _decided(lambda: [batch_row(served.ruleset, i, a) for i, a in zip(ids, asks)])
    records = []
    if logged:
        batch_id = Receipt.of({}, served.version).decision_id
        for ask, row in zip(asks, decided):
            canonical = ask.canonical()
            result = {key: value for key, value in row.items() if key != "id"}
            records.append(record("batch", Receipt.of(canonical, served.version).to_json(), canonical, result,
                                  id=row["id"], batch_id=batch_id))
    if lines:
        return "".join(canonical_json(row) + "\n" for row in decided), records
    return canonical_json(decided), records


def _query_proposals(request: Request) -> dict[str, Any]:
    """``?proposal=NAME`` or ``?proposal=NAME=YYYY-MM-DD``, repeated."""
    proposals: dict[str, Any] = {}
    for value in request.query_params.getlist("proposal"):
        name, _, day = value.partition("=")
        proposals[name] = day or None
    return proposals


# -- the rule set ------------------------------------------------------------------

async def rules(request: Request) -> Response:
    """GET /v1/rules: what the served rule set decides, from which facts, with which rules."""
    service = _service(request)
    served = service.holder.current
    listing = served.derived.get("listing")
    if listing is None:
        listing = served.derived["listing"] = _listing(served.ruleset)
    data = {**listing, "loaded_at": served.loaded_at, "pending_errors": service.holder.pending_errors}
    return answer(data, served.version)


def _listing(ruleset: Any) -> dict[str, Any]:
    vocabulary = ruleset.vocabulary

    def declared(kind: str) -> list[dict[str, Any]]:
        out = []
        for d in vocabulary.of_kind(kind):
            if kind == "output" and d.internal:
                continue
            entry: dict[str, Any] = {"name": d.name, "type": str(d.type)}
            if d.values:
                entry["values"] = list(d.values)
            if d.has_default:
                entry["default"] = d.default if not isinstance(d.default, date) else d.default.isoformat()
            if d.description:
                entry["description"] = " ".join(d.description.split())
            out.append(entry)
        return out

    loaded = ruleset.loaded
    return {
        "rules_version": ruleset.content_hash,
        "outputs": declared("output"),
        "facts": declared("fact"),
        "proposals": [{"id": a.id, "title": a.title, "effective": a.effective.isoformat(), "source": a.source.cite()}
                      for a in loaded.amendments.values() if a.proposed],
        "rules": [{"id": r.id, "title": r.title, "source": r.source.cite(), **({"url": r.source.url} if r.source.url
                                                                              else {}),
                   **({"amendment": r.amendment} if r.amendment else {})} for r in loaded.rules.values()],
        "warnings": len(ruleset.warnings),
    }


async def rule(request: Request) -> Response:
    """GET /v1/rules/{id}?on=DATE&proposal=NAME: a provision's time line, as ``decree show``
    writes it (``timeline``) and as data (``versions``)."""
    served = _service(request).holder.current
    rule_id = request.path_params["id"]
    wanted = {"on": request.query_params.get("on") or "2000-01-01", "proposals": _query_proposals(request)}
    ask = evaluation_request(wanted, served.ruleset, ("query",), fields=("on", "proposals"))
    on = ask.on if request.query_params.get("on") else None
    try:
        timeline = render_timeline(served.ruleset, rule_id, ask.proposals, on)
        data = timeline_json(served.ruleset, rule_id, ask.proposals, on)
    except InputError as error:
        raise Problem(404, "No such rule", error.message, "unknown-rule") from None
    return answer({"id": rule_id, "rules_version": served.version, "on": on.isoformat() if on else None,
                   "proposals": {k: v.isoformat() if v else None for k, v in ask.proposals.items()},
                   **data, "timeline": timeline}, served.version)


async def decision(request: Request) -> Response:
    """GET /v1/decisions/{id}: a logged decision, and whether it is decided the same again."""
    service = _service(request)
    version = service.holder.current.version
    if service.decisions is None or service.store is None:
        raise Problem(404, "No decision log", "this service keeps no decision log (decree serve --decision-log FILE)",
                      "no-decision-log")
    identifier = request.path_params["decision_id"]
    entry = await asyncio.to_thread(service.decisions.find, identifier)
    if entry is None:
        raise Problem(404, "No such decision", f"no decision '{identifier}' in the log", "unknown-decision")
    same, why = await asyncio.to_thread(replay_record, entry, service.store.ruleset)
    entry["reproduced"] = same
    if why:
        entry["difference"] = why
    return answer(entry, version)


async def reload(request: Request) -> Response:
    """POST /v1/admin/reload: load the rules directory again (admin token required)."""
    service = _service(request)
    token = service.settings.admin_token
    if not token:
        raise Problem(403, "Reload disabled", "no admin token is configured (--admin-token-file)", "forbidden")
    given = request.headers.get("authorization", "")
    scheme, _, secret = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(secret.strip().encode(), token.encode()):
        raise Problem(401, "Unauthorized", "give the admin token as 'Authorization: Bearer TOKEN'", "unauthorized")
    outcome = await service.holder.reload("admin request")
    if service.settings.supervised:  # the other workers reload too
        from engine.service.server import ask_supervisor_to_reload

        ask_supervisor_to_reload()
    if outcome.status == "refused":
        raise Problem(409, "The new rule set has errors", f"still serving rules {outcome.rules_version}",
                      "reload-refused", extra={"rules_version": outcome.rules_version,
                                               "pending_errors": outcome.errors})
    return answer(outcome.to_json(), outcome.rules_version)


# -- operations --------------------------------------------------------------------

async def healthz(request: Request) -> Response:
    """GET /healthz: the process answers (its pid tells workers apart)."""
    return answer({"status": "ok", "pid": os.getpid()}, _service(request).holder.current.version)


async def readyz(request: Request) -> Response:
    served = _service(request).holder.current
    return answer({"status": "ready", "rules_version": served.version}, served.version)


async def openapi(request: Request) -> Response:
    """GET /openapi.json: the API document of the served rule set."""
    from engine.service.openapi import document

    service = _service(request)
    served = service.holder.current
    text = served.derived.get("openapi")
    if text is None:
        text = served.derived["openapi"] = canonical_json(document(served.ruleset, service.settings.max_batch))
    return answer(text, served.version)


DOCS = """<!doctype html>
<html><head><meta charset="utf-8"><title>decree API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
<noscript>The API document is <a href="/openapi.json">/openapi.json</a>.</noscript>
</body></html>
"""


async def docs(request: Request) -> Response:
    """GET /docs: Swagger UI over /openapi.json (the browser fetches Swagger UI from its CDN)."""
    return HTMLResponse(DOCS, headers={"Decree-Rules-Version": _service(request).holder.current.version})

