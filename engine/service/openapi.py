"""The OpenAPI 3.1 document of the service, written from the served rule set's vocabulary.

The facts object is described fact by fact, by name and type, as the nested objects a
facts file uses (``persoon: {geboortedatum: ...}``): booleans, numbers, texts (with their
declared values as an ``enum``), dates (``format: date``), durations (``{days,
months}``), lists and sets (arrays), each also ``null`` (known to have no value). The
outputs of an answer are described the same way, so a client generator gives callers
typed requests and answers. Output and proposal names are ``enum`` s.

The document changes when another rule set is swapped in; its ``info.version`` carries
the ``rules_version``. Limits: dotted keys, which the service also accepts for facts, are
mentioned in the description, not in the schema.
"""

from __future__ import annotations

from typing import Any

from engine.language.types import Declaration, Type

PROBLEM = {"$ref": "#/components/schemas/Problem"}
MAX_LIST = 1000


def value_schema(kind: Type, values: tuple[str, ...] = (), bounded: bool = True) -> dict[str, Any]:
    """The JSON Schema of a value of the language's type ``kind`` (without null)."""
    name = kind.name
    if name == "bool":
        return {"type": "boolean"}
    if name == "number":
        return {"type": "number"}
    if name == "text":
        return {"type": "string", "enum": list(values)} if values else {"type": "string"}
    if name == "date":
        return {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    if name == "duration":
        # bounded in requests: a term of centuries only overflows date arithmetic
        whole = {"type": "integer", **({"minimum": -1200, "maximum": 1200} if bounded else {})}
        return {"type": "object", "properties": {"days": whole, "months": whole}, "additionalProperties": False}
    if kind.is_collection and kind.element is not None:
        items = value_schema(kind.element, bounded=bounded)
        return {"type": "array", "items": items, **({"maxItems": MAX_LIST} if bounded else {})}
    return {}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema:
        return {**schema, "type": [schema["type"], "null"], "enum": [*schema["enum"], None]}
    if "type" in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return schema


def fact_schema(declaration: Declaration) -> dict[str, Any]:
    schema = nullable(value_schema(declaration.type, declaration.values))
    text = f"{declaration.type}" + (f": {' '.join(declaration.description.split())}" if declaration.description else "")
    if declaration.has_default:
        text += f" (default when left out: {declaration.default!r})"
    return {**schema, "description": text}


def facts_schema(facts: list[Declaration]) -> dict[str, Any]:
    """The facts object: nested objects by the parts of each dotted name."""
    root: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False,
                            "description": "Facts of one person; a fact left out is unknown, null is known to "
                                           "have no value. Dotted names (\"persoon.geboortedatum\") are accepted "
                                           "as keys too."}
    for declaration in facts:
        node = root
        *parents, last = declaration.name.split(".")
        for part in parents:
            child = node["properties"].setdefault(part, {"type": "object", "properties": {},
                                                         "additionalProperties": False})
            if "properties" not in child:  # a fact is also the prefix of another: keep the dotted name
                node = root
                last = declaration.name
                break
            node = child
        node["properties"][last] = fact_schema(declaration)
    return root


def output_schema(declaration: Declaration) -> dict[str, Any]:
    schema = value_schema(declaration.type, bounded=False)
    return {**schema, "description": f"{declaration.type}" + (
        f": {' '.join(declaration.description.split())}" if declaration.description else "")}


def document(ruleset: Any, max_batch: int) -> dict[str, Any]:
    """The whole OpenAPI document for ``ruleset``."""
    vocabulary = ruleset.vocabulary
    facts = [d for d in vocabulary.of_kind("fact")]
    public = [vocabulary.names[name] for name in ruleset.public_outputs]
    every_output = [d.name for d in vocabulary.of_kind("output")]
    proposals = sorted(a.id for a in ruleset.loaded.amendments.values() if a.proposed)
    loaded = ruleset.loaded
    in_force = [r.id for r in loaded.rules.values()
                if not (r.amendment and loaded.amendments[r.amendment].proposed)] + list(loaded.parameters)
    day = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    proposal_names: dict[str, Any] = {"type": "string", "enum": proposals} if proposals else {"type": "string"}
    schemas: dict[str, Any] = {
        "Facts": facts_schema(facts),
        "Proposals": {"description": "Proposed amendments switched on: name to an assumed effective date "
                                     "(null: the date the proposal assumes).",
                      "type": "object", "propertyNames": proposal_names,
                      "additionalProperties": {"anyOf": [day, {"type": "null"}]}},
        "EvaluationRequest": {
            "type": "object", "required": ["on"], "additionalProperties": False,
            "properties": {
                "facts": {"$ref": "#/components/schemas/Facts"},
                "on": {**day, "description": "the evaluation date"},
                "proposals": {"$ref": "#/components/schemas/Proposals"},
                "outputs": {"type": "array", "items": {"type": "string", "enum": [d.name for d in public]},
                            "description": "only these outputs (default: every public output)"},
                "explain": {"type": "boolean", "default": False,
                            "description": "add the explanation of every output"}}},
        "ExplainRequest": {
            "type": "object", "required": ["on"], "additionalProperties": False,
            "properties": {"facts": {"$ref": "#/components/schemas/Facts"}, "on": day,
                           "proposals": {"$ref": "#/components/schemas/Proposals"}}},
        "Decision": _decision_schema(public, day),
        "Receipt": {"type": "object", "required": ["decision_id", "input_hash", "rules_version", "evaluated_at"],
                    "properties": {"decision_id": {"type": "string"},
                                   "input_hash": {"type": "string", "description": "SHA-256 of the canonical request"},
                                   "rules_version": {"type": "string"},
                                   "evaluated_at": {"type": "string", "format": "date-time"}}},
        "BatchRow": {"type": "object", "required": ["facts"], "additionalProperties": False,
                     "properties": {"id": {"type": ["string", "integer", "null"]}, "on": day,
                                    "facts": {"$ref": "#/components/schemas/Facts"}}},
        "Explanation": {"type": "object", "required": ["output", "status", "rules_version"],
                        "properties": {"output": {"type": "string"}, "status": {"type": "string"},
                                       "rules_version": {"type": "string"}}},
        "Problem": {"type": "object", "required": ["type", "title", "status"],
                    "description": "RFC 9457 problem details",
                    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                   "status": {"type": "integer"}, "detail": {"type": "string"},
                                   "errors": {"type": "array", "items": {
                                       "type": "object", "required": ["pointer", "detail"],
                                       "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}}}}}},
    }
    evaluate_answer = {"allOf": [{"$ref": "#/components/schemas/Decision"}, {"$ref": "#/components/schemas/Receipt"}]}
    batch_answer = {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Decision"},
                                                         {"type": "object", "required": ["id"]}]}}
    paths = {
        "/v1/evaluate": {"post": _operation(
            "evaluate", "Decide the outputs for one person", _body("EvaluationRequest"),
            {"200": _json(evaluate_answer, "the decision and its receipt")}, invalid=True, large=True)},
        "/v1/explain/{output}": {"post": _operation(
            "explain", "The derivation of one output, with legal references", _body("ExplainRequest"),
            {"200": _json({"allOf": [{"$ref": "#/components/schemas/Explanation"},
                                     {"$ref": "#/components/schemas/Receipt"}]}, "the explanation and its receipt")},
            invalid=True, large=True, missing=True,
            parameters=[{"name": "output", "in": "path", "required": True,
                         "schema": {"type": "string", "enum": every_output}}])},
        "/v1/batch": {"post": _operation(
            "batch", f"Decide for many persons (at most {max_batch}): a JSON list of rows, or JSON Lines "
                     "(Content-Type application/x-ndjson) answered as JSON Lines",
            _body_schema({"type": "array", "items": {"$ref": "#/components/schemas/BatchRow"}, "maxItems": max_batch}),
            {"200": _json(batch_answer, "one decision per row, in order")}, invalid=True, large=True,
            parameters=[{"name": "on", "in": "query", "required": True, "schema": day,
                         "description": "the evaluation date of rows without their own"},
                        {"name": "proposal", "in": "query", "required": False,
                         "schema": {"type": "array", "items": proposal_names},
                         "style": "form", "explode": True}])},
        "/v1/rules": {"get": _operation(
            "rules", "The served rule set: version, outputs, facts with types, proposals, rules", None,
            {"200": _json({"type": "object", "required": ["rules_version", "outputs", "facts", "proposals", "rules",
                                                          "pending_errors"]}, "the rule set")})},
        "/v1/rules/{id}": {"get": _operation(
            "rule", "The consolidated time line of a rule or parameter, or its version on a date", None,
            {"200": _json({"type": "object", "required": ["id", "rules_version", "kind", "title", "versions", "timeline"],
                           "properties": {"versions": {"type": "array", "items": {
                               "type": "object", "required": ["version", "from", "until"]}},
                                          "timeline": {"type": "string", "description": "as decree show writes it"}}},
                          "the time line")},
            invalid=True, missing=True,
            parameters=[{"name": "id", "in": "path", "required": True,
                         "description": "a rule or parameter id (rules added by a proposal need ?proposal=)",
                         "schema": {"type": "string", "examples": in_force[:20]}},
                        {"name": "on", "in": "query", "required": False, "schema": day},
                        {"name": "proposal", "in": "query", "required": False,
                         "schema": {"type": "array", "items": proposal_names}, "style": "form", "explode": True}])},
        "/v1/decisions/{decision_id}": {"get": _operation(
            "decision", "A logged decision, decided again with the rule set of its version", None,
            {"200": _json({"type": "object", "required": ["decision_id", "rules_version", "request", "result",
                                                          "reproduced"]}, "the logged decision")},
            missing=True, parameters=[{"name": "decision_id", "in": "path", "required": True,
                                       "schema": {"type": "string"}}])},
        "/v1/admin/reload": {"post": _operation(
            "reload", "Load the rules directory again; swapped in only if it loads clean", None,
            {"200": _json({"type": "object", "required": ["status", "rules_version"]}, "swapped or unchanged"),
             "401": _problem("no or a wrong admin token"),
             "403": _problem("no admin token is configured"),
             "409": _problem("the new rule set has errors; the old one is still served")},
            security=[{"adminToken": []}])},
        "/healthz": {"get": _operation("health", "The process is alive", None,
                                       {"200": _json({"type": "object"}, "alive")})},
        "/readyz": {"get": _operation("ready", "A rule set is loaded and served", None,
                                      {"200": _json({"type": "object"}, "ready"),
                                       "503": _problem("not ready")})},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "decree", "version": ruleset.content_hash,
                 "description": "Decisions of the rule set over HTTP. Every answer names the rules_version that "
                                "decided it (also in the Decree-Rules-Version header); errors are RFC 9457 "
                                "problem details."},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
    }


def _decision_schema(public: list[Declaration], day: dict[str, Any]) -> dict[str, Any]:
    names = [d.name for d in public]
    return {"type": "object", "required": ["on", "rules_version", "proposals", "outputs", "unknown", "not_applicable"],
            "properties": {
                "on": day, "rules_version": {"type": "string"},
                "proposals": {"type": "object", "additionalProperties": day},
                "outputs": {"type": "object", "properties": {d.name: output_schema(d) for d in public},
                            "additionalProperties": False},
                "unknown": {"type": "object", "propertyNames": {"enum": names},
                            "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                "not_applicable": {"type": "array", "items": {"type": "string", "enum": names}},
                "explanations": {"type": "object", "additionalProperties": {"type": "object"}}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": PROBLEM}}}


def _body(name: str) -> dict[str, Any]:
    return _body_schema({"$ref": f"#/components/schemas/{name}"})


def _body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _operation(operation_id: str, summary: str, body: dict[str, Any] | None, answers: dict[str, Any], *,
               invalid: bool = False, large: bool = False, missing: bool = False,
               parameters: list[dict[str, Any]] | None = None,
               security: list[dict[str, list[str]]] | None = None) -> dict[str, Any]:
    responses = dict(answers)
    if body is not None:
        responses["400"] = _problem("the body is not JSON")
    if invalid:
        responses["422"] = _problem("the request does not fit: every problem with its JSON pointer")
    if large:
        responses["413"] = _problem("the body is over the configured size")
    if missing:
        responses["404"] = _problem("no such output, rule or decision")
    responses["default"] = _problem("any other problem")
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    if security:
        operation["security"] = security
    return operation
