"""The HTTP API in process: answers equal the CLI's JSON, receipts, errors as RFC 9457
problem details with JSON pointers, body limits, batch, the rule set, the OpenAPI
document, the decision log and admin reload."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.service import Settings, create_app
from engine.service.decisions import canonical_json

from .support import EXAMPLE, RULES, TOKEN, break_rules, jsonl, touch_rules

ON = "2024-03-01"


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


RECEIPT = {"decision_id", "input_hash", "rules_version", "evaluated_at"}


def test_evaluate_answers_what_decree_eval_prints_plus_a_receipt(app_client: Any, example_facts: Any) -> None:
    response = app_client.post("/v1/evaluate", json={"facts": example_facts, "on": ON})
    assert response.status_code == 200
    body = response.json()
    expected = cli_json("eval", str(EXAMPLE), "--on", ON, "--format", "json", "--rules", str(RULES))
    assert {k: v for k, v in body.items() if k not in RECEIPT - {"rules_version"}} == expected
    assert RECEIPT <= set(body)
    assert response.headers["Decree-Rules-Version"] == body["rules_version"] == expected["rules_version"]
    assert len(body["input_hash"]) == 64 and len(body["decision_id"]) == 32


def test_the_input_hash_is_of_the_canonical_request(app_client: Any, example_facts: Any) -> None:
    def receipt(facts: Any, **more: Any) -> Any:
        return app_client.post("/v1/evaluate", json={"facts": facts, "on": ON, **more}).json()

    dotted = {f"{group}.{name}": value for group, values in example_facts.items() for name, value in values.items()}
    first, again, spelled = receipt(example_facts), receipt(example_facts), receipt(dotted)
    assert first["input_hash"] == again["input_hash"] == spelled["input_hash"]
    assert first["decision_id"] != again["decision_id"]
    older = {**example_facts, "persoon": {**example_facts["persoon"], "geboortedatum": "1990-05-02"}}
    assert receipt(older)["input_hash"] != first["input_hash"]
    assert receipt(example_facts, outputs=["status"])["input_hash"] != first["input_hash"]


def test_outputs_subset_explain_and_proposals(app_client: Any, example_facts: Any) -> None:
    body = app_client.post("/v1/evaluate", json={"facts": example_facts, "on": ON, "outputs": ["status", "regime"],
                                                 "explain": True}).json()
    assert set(body["outputs"]) | set(body["unknown"]) | set(body["not_applicable"]) == {"status", "regime"}
    assert body["explanations"]["status"]["rule"] == "status.verplicht"
    with_proposal = app_client.post("/v1/evaluate", json={"facts": example_facts, "on": "2027-11-01",
                                                          "proposals": {"arbeidsmigranten": "2027-09-01"}}).json()
    assert with_proposal["proposals"] == {"arbeidsmigranten": "2027-09-01"}
    as_list = app_client.post("/v1/evaluate", json={"facts": example_facts, "on": "2027-11-01",
                                                    "proposals": ["arbeidsmigranten"]}).json()
    assert "arbeidsmigranten" in as_list["proposals"]


def test_explain_answers_what_decree_explain_prints(app_client: Any, example_facts: Any) -> None:
    response = app_client.post("/v1/explain/status", json={"facts": example_facts, "on": ON})
    assert response.status_code == 200
    body = response.json()
    expected = cli_json("explain", "status", str(EXAMPLE), "--on", ON, "--format", "json", "--rules", str(RULES))
    assert {k: v for k, v in body.items() if k not in RECEIPT} == expected
    unknown = app_client.post("/v1/explain/statuss", json={"facts": {}, "on": ON})
    assert unknown.status_code == 404
    assert "did you mean 'status'?" in unknown.json()["detail"]


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert "Traceback" not in response.text
    return body


def test_bad_json_is_400(app_client: Any) -> None:
    assert "line 1 column 2" in problem(app_client.post("/v1/evaluate", content=b"{on: 1}"), 400)["detail"]
    problem(app_client.post("/v1/evaluate", content=b'{"on": NaN}'), 400)
    problem(app_client.post("/v1/evaluate", content=b"\xff\xfe"), 400)


def test_every_problem_of_a_request_is_named_with_its_json_pointer(app_client: Any) -> None:
    body = problem(app_client.post("/v1/evaluate", json={
        "facts": {"persoon": {"geboortedatum": "1990-02-30", "nationaliteit": ["SY"], "alfa": "yes"},
                  "verblijf.grond": "werkk"},
        "on": "2024-3-1", "outputs": ["statuss"], "proposals": {"arbeidsmigrant": None}, "explian": True}), 422)
    found = {error["pointer"]: error["detail"] for error in body["errors"]}
    assert found == {
        "#/explian": "unknown field 'explian'; did you mean 'explain'?",
        "#/on": 'the evaluation date: expected a date YYYY-MM-DD, not "2024-3-1"',
        "#/proposals/arbeidsmigrant": "unknown proposal 'arbeidsmigrant'; did you mean 'arbeidsmigranten'?",
        "#/outputs/0": "unknown output 'statuss'; did you mean 'status'?",
        "#/facts/persoon/geboortedatum": "fact 'persoon.geboortedatum': impossible date '1990-02-30'; "
                                         "expected YYYY-MM-DD",
        "#/facts/persoon/nationaliteit": "unknown fact 'persoon.nationaliteit'; did you mean "
                                         "'persoon.nationaliteiten'?",
        "#/facts/persoon/alfa": "fact 'persoon.alfa': expected true or false, not 'yes'",
        "#/facts/verblijf.grond": "fact 'verblijf.grond' does not take the value 'werkk'; did you mean 'werk'?",
    }
    assert body["detail"] == "8 problems in the request"
    assert problem(app_client.post("/v1/evaluate", json=[1]), 422)["errors"][0]["pointer"] == "#"
    assert problem(app_client.post("/v1/evaluate", json={}), 422)["errors"][0]["pointer"] == "#/on"


def test_an_evaluation_date_of_another_kind_is_named_by_its_kind(app_client: Any) -> None:
    """Found by fuzzing the service: an object or a list holding a decimal number as the
    date made the message itself fail (json.dumps cannot write a Decimal), a 500."""
    for on, shown in (({"": 1.5}, "an object"), ([-1, [1e308]], "a list"), (1.5, "1.5"), (True, "true")):
        body = problem(app_client.post("/v1/evaluate", json={"facts": {}, "on": on}), 422)
        assert body["errors"] == [{"pointer": "#/on",
                                   "detail": f"the evaluation date: expected a date YYYY-MM-DD, not {shown}"}]


def test_unknown_routes_and_methods_are_problems_too(app_client: Any) -> None:
    problem(app_client.get("/v1/nothing"), 404)
    problem(app_client.get("/v1/evaluate"), 405)


def test_a_body_over_the_limit_is_refused_while_it_is_read() -> None:
    app = create_app(Settings(RULES, max_body=1000, max_batch_body=1000, max_batch=2))
    chunks_read = []

    async def endless() -> Any:
        for _ in range(1000):  # 1 MB offered in 1 kB chunks, without a Content-Length
            chunks_read.append(1)
            yield b" " * 1000

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.post("/v1/evaluate", content=b" " * 5000),
                    await client.post("/v1/evaluate", content=endless()),
                    await client.post("/v1/batch?on=2024-03-01", json=[{"facts": {}}] * 3)]

    declared, streamed, rows = asyncio.run(scenario())
    assert problem(declared, 413)["limit"] == 1000
    problem(streamed, 413)
    assert len(chunks_read) < 10  # refused at the second chunk, not after reading a megabyte
    assert "at most 2 persons" in problem(rows, 413)["detail"]


def test_batch_gives_one_eval_object_plus_id_per_person(app_client: Any, example_facts: Any) -> None:
    rows = [{"id": "p-1", "facts": example_facts}, {"id": 2, "facts": {}, "on": "2023-01-01"},
            {"facts": {"persoon": {"geboortedatum": "2001-01-01"}}}]
    listed = app_client.post("/v1/batch?on=2024-03-01", json=rows)
    assert listed.status_code == 200, listed.text
    lines = app_client.post("/v1/batch?on=2024-03-01", content=jsonl(rows),
                            headers={"Content-Type": "application/x-ndjson"})
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    from_lines = [json.loads(line) for line in lines.text.splitlines()]
    assert listed.json() == from_lines
    for row, answer in zip(rows, from_lines):
        alone = app_client.post("/v1/evaluate", json={"facts": row["facts"], "on": row.get("on", "2024-03-01")}).json()
        assert answer == {**{k: v for k, v in alone.items() if k not in RECEIPT - {"rules_version"}},
                          "id": row.get("id")}


def test_batch_problems_name_the_row(app_client: Any) -> None:
    body = problem(app_client.post("/v1/batch", json=[{"facts": {}}, {"facts": {"persoon": {"alfa": 1}},
                                                                      "on": "2024-01-01", "naam": "x"}]), 422)
    assert {e["pointer"] for e in body["errors"]} == {"#/0/on", "#/1/naam", "#/1/facts/persoon/alfa"}
    lines = problem(app_client.post("/v1/batch?on=2024-03-01", content=b'{"facts": {}}\n{oops\n',
                                    headers={"Content-Type": "application/x-ndjson"}), 400)
    assert lines["detail"].startswith("line 2:")


def test_the_rule_set_is_described(app_client: Any) -> None:
    body = app_client.get("/v1/rules").json()
    facts = {fact["name"]: fact for fact in body["facts"]}
    assert facts["persoon.geboortedatum"]["type"] == "date"
    assert "gezinshereniging" in facts["verblijf.grond"]["values"]
    assert any(output["name"] == "status" for output in body["outputs"])
    assert "arbeidsmigranten" in {p["id"] for p in body["proposals"]}
    assert all(rule["title"] and rule["source"] for rule in body["rules"])
    assert body["pending_errors"] == []
    timeline = app_client.get("/v1/rules/status.verplicht", params={"on": "2024-01-01"}).json()
    assert timeline["id"] == "status.verplicht" and "in force on 2024-01-01" in timeline["timeline"]
    assert len(timeline["versions"]) == 1 and timeline["versions"][0]["from"] <= "2024-01-01"
    shown = CliRunner().invoke(main, ["show", "status.verplicht", "--on", "2024-01-01", "--rules", str(RULES)])
    assert timeline["timeline"] == shown.output
    whole = app_client.get("/v1/rules/status.verplicht").json()
    assert [v["version"] for v in whole["versions"]] == list(range(1, len(whole["versions"]) + 1))
    assert whole["kind"] == "rule" and whole["title"] and whole["versions"][0]["sets"] == {"status": "verplicht"}
    assert "did you mean 'status.verplicht'" in problem(app_client.get("/v1/rules/status.verplicht2"), 404)["detail"]


def test_the_openapi_document_types_every_fact(app_client: Any) -> None:
    document = app_client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    facts = document["components"]["schemas"]["Facts"]["properties"]
    assert facts["persoon"]["properties"]["geboortedatum"]["format"] == "date"
    assert facts["persoon"]["properties"]["nationaliteiten"]["type"] == ["array", "null"]
    assert "gezinshereniging" in facts["verblijf"]["properties"]["grond"]["enum"]
    assert facts["persoon"]["properties"]["alfa"]["type"] == ["boolean", "null"]
    outputs = document["components"]["schemas"]["Decision"]["properties"]["outputs"]["properties"]
    assert outputs["verplicht"]["type"] == "boolean"
    assert set(document["paths"]) >= {"/v1/evaluate", "/v1/explain/{output}", "/v1/batch", "/v1/rules",
                                      "/v1/rules/{id}", "/v1/decisions/{decision_id}", "/healthz", "/readyz"}
    assert "swagger-ui" in app_client.get("/docs").text


def test_an_unexpected_error_is_a_500_without_traceback(monkeypatch: Any, example_facts: Any) -> None:
    from starlette.testclient import TestClient

    import engine.service.handlers as handlers

    def broken(*args: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(handlers, "decide", broken)
    with TestClient(create_app(Settings(RULES)), raise_server_exceptions=False) as client:
        body = problem(client.post("/v1/evaluate", json={"facts": example_facts, "on": ON}), 500)
    assert "secret internals" not in json.dumps(body)


def test_decisions_are_logged_and_found_again(tmp_path: Path, example_facts: Any) -> None:
    from starlette.testclient import TestClient

    log = tmp_path / "decisions.jsonl"
    with TestClient(create_app(Settings(RULES, decision_log=log))) as client:
        answer = client.post("/v1/evaluate", json={"facts": example_facts, "on": ON, "explain": True}).json()
        lines = log.read_text().splitlines()  # on the disk before the answer came
        assert len(lines) == 1
        entry = json.loads(lines[0])
        assert {k: entry[k] for k in RECEIPT} == {k: answer[k] for k in RECEIPT}
        assert entry["request"]["facts"]["persoon.geboortedatum"] == "1990-05-01"
        assert entry["result"]["outputs"] == answer["outputs"]
        found = client.get(f"/v1/decisions/{answer['decision_id']}").json()
        assert found["reproduced"] is True and found["result"] == entry["result"]
        problem(client.get("/v1/decisions/0000"), 404)
    assert (tmp_path / "decisions.jsonl.rules" / answer["rules_version"] / "vocabulary.yaml").is_file()


def test_admin_reload_needs_the_token_and_swaps_only_a_clean_rule_set(rules_copy: Path, example_facts: Any) -> None:
    from starlette.testclient import TestClient

    with TestClient(create_app(Settings(rules_copy)), raise_server_exceptions=False) as client:
        problem(client.post("/v1/admin/reload"), 403)
    with TestClient(create_app(Settings(rules_copy, admin_token=TOKEN)), raise_server_exceptions=False) as client:
        first = client.get("/v1/rules").json()["rules_version"]
        assert problem(client.post("/v1/admin/reload"), 401)
        problem(client.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}), 401)
        admin = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post("/v1/admin/reload", headers=admin).json()["status"] == "unchanged"
        break_rules(rules_copy)
        refused = problem(client.post("/v1/admin/reload", headers=admin), 409)
        assert refused["rules_version"] == first and refused["pending_errors"]
        assert refused["pending_errors"][0]["file"] == str(rules_copy / "parameters.yaml")
        listing = client.get("/v1/rules").json()
        assert listing["rules_version"] == first and listing["pending_errors"] == refused["pending_errors"]
        assert client.post("/v1/evaluate", json={"facts": example_facts, "on": ON}).json()["rules_version"] == first
        (rules_copy / "parameters.yaml").write_text((RULES / "parameters.yaml").read_text())
        touch_rules(rules_copy, "a new version")
        swapped = client.post("/v1/admin/reload", headers=admin).json()
        assert swapped["status"] == "swapped" and swapped["previous"] == first
        assert client.get("/v1/rules").json()["pending_errors"] == []
        answer = client.post("/v1/evaluate", json={"facts": example_facts, "on": ON})
        assert answer.json()["rules_version"] == swapped["rules_version"] != first


def test_canonical_json_keeps_every_digit_and_cannot_be_spoofed() -> None:
    from decimal import Decimal

    from engine.values import JsonNumber

    assert canonical_json({"a": JsonNumber("12.50"), "b": [Decimal("0.10"), 3]}) == '{"a":12.50,"b":[0.10,3]}'
    assert canonical_json({"t": "\x00123\x00"}) == '{"t":"\\u0000123\\u0000"}'
    assert json.loads(canonical_json({"é": "\ud800"})) == {"é": "\ud800"}


def test_concurrent_decisions_share_writes_and_all_reach_the_log(tmp_path: Path, example_facts: Any,
                                                                 monkeypatch: Any) -> None:
    from engine.service.decisionlog import DecisionLog

    log = tmp_path / "decisions.jsonl"
    app = create_app(Settings(RULES, decision_log=log))
    writes: list[int] = []
    append = DecisionLog.append

    def counted(self: DecisionLog, records: list[dict[str, Any]]) -> None:
        writes.append(len(records))
        append(self, records)

    monkeypatch.setattr(DecisionLog, "append", counted)

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await asyncio.gather(*(client.post("/v1/evaluate", json={"facts": example_facts, "on": ON})
                                          for _ in range(30)))

    answers = asyncio.run(scenario())
    assert {answer.status_code for answer in answers} == {200}
    logged = [json.loads(line)["decision_id"] for line in log.read_text().splitlines()]
    assert sorted(logged) == sorted(answer.json()["decision_id"] for answer in answers)
    assert sum(writes) == 30 and len(writes) < 30  # grouped


def test_a_decision_that_cannot_be_logged_is_not_answered(tmp_path: Path, example_facts: Any,
                                                          monkeypatch: Any) -> None:
    from engine.service.decisionlog import DecisionLog
    from starlette.testclient import TestClient

    def full(self: DecisionLog, records: list[dict[str, Any]]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(DecisionLog, "append", full)
    with TestClient(create_app(Settings(RULES, decision_log=tmp_path / "d.jsonl")),
                    raise_server_exceptions=False) as client:
        body = problem(client.post("/v1/evaluate", json={"facts": example_facts, "on": ON}), 500)
    assert "decision_id" not in body


def test_a_new_rule_set_is_warmed_with_recent_requests_before_it_is_swapped_in(rules_copy: Path,
                                                                               example_facts: Any,
                                                                               monkeypatch: Any) -> None:
    """The first evaluation of a rule set compiles its fast path; callers must not wait for it."""
    import engine.service.served as served

    warmed: list[tuple[str, Any]] = []
    decide = served.decide

    def recording(ruleset: Any, request: Any) -> Any:
        warmed.append((ruleset.content_hash, request.given.get("persoon.geboortedatum")))
        return decide(ruleset, request)

    from starlette.testclient import TestClient

    with TestClient(create_app(Settings(rules_copy, admin_token=TOKEN))) as client:
        client.post("/v1/evaluate", json={"facts": example_facts, "on": ON})
        monkeypatch.setattr(served, "decide", recording)
        touch_rules(rules_copy, "warm me")
        swapped = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert swapped["status"] == "swapped"
    assert warmed == [(swapped["rules_version"], date(1990, 5, 1))]


def test_serve_and_replay_refuse_bad_arguments_without_a_traceback(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["serve", "--admin-token-file", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "--admin-token-file" in missing.output and "Traceback" not in missing.output
    no_log = CliRunner().invoke(main, ["replay", str(tmp_path / "none.jsonl")])
    assert no_log.exit_code == 2 and "no such decision log" in no_log.output


def test_without_the_serve_extra_serve_says_what_to_install(monkeypatch: Any) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "engine.service.server", raising=False)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 2
    assert "uvicorn is missing: install the serve extra, pip install 'decree[serve]'" in result.output


def test_the_output_explained_is_part_of_the_input_hash(app_client: Any, example_facts: Any) -> None:
    first, other, again = (app_client.post(f"/v1/explain/{output}", json={"facts": example_facts, "on": ON})
                           .json()["input_hash"] for output in ("status", "regime", "status"))
    assert first == again != other
