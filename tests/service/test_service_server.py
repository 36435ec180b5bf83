"""``decree serve`` as a real process on 127.0.0.1: hot reload under concurrent requests,
SIGHUP and --watch, draining on SIGTERM with exit code 0, and the decision log replayed
offline byte for byte."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from engine.cli import main
from engine.ruleset import RuleSet

from .support import TOKEN, break_rules, touch_rules

ON = "2024-03-01"


def wait_for(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_reload_under_load_never_serves_a_broken_rule_set(serve: Any, rules_copy: Path, example_facts: Any) -> None:
    """good -> good' -> broken -> good'': 0 failed requests, every version a good one."""
    good = {RuleSet.load(rules_copy).content_hash}
    server = serve("--rules", str(rules_copy))
    admin = {"Authorization": f"Bearer {TOKEN}"}
    answers: list[tuple[int, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/evaluate", json={"facts": example_facts, "on": ON})
                    answers.append((response.status_code, response.json().get("rules_version", "")))
                except httpx.HTTPError as error:
                    failures.append(repr(error))

    workers = [threading.Thread(target=client) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            time.sleep(0.3)
            touch_rules(rules_copy, "second")
            good.add(RuleSet.load(rules_copy).content_hash)
            assert http.post("/v1/admin/reload", headers=admin).json()["status"] == "swapped"
            time.sleep(0.3)
            break_rules(rules_copy)
            refused = http.post("/v1/admin/reload", headers=admin)
            assert refused.status_code == 409
            assert http.get("/v1/rules").json()["pending_errors"]
            time.sleep(0.3)
            (rules_copy / "parameters.yaml").write_text(
                (rules_copy / "parameters.yaml").read_text().replace("\n  - id: [unclosed\n", "\n"))
            touch_rules(rules_copy, "third")
            good.add(RuleSet.load(rules_copy).content_hash)
            server.signal(signal.SIGHUP)
            third = RuleSet.load(rules_copy).content_hash
            wait_for(lambda: http.get("/readyz").json()["rules_version"] == third)
            assert http.get("/v1/rules").json()["pending_errors"] == []
            time.sleep(0.3)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert failures == []
    assert len(answers) > 50
    assert {status for status, _ in answers} == {200}
    served = {version for _, version in answers}
    assert served <= good and len(served) == 3, (served, good)
    assert server.stop() == 0


def test_watch_reloads_a_changed_directory(serve: Any, rules_copy: Path) -> None:
    server = serve("--rules", str(rules_copy), "--watch", "0.1")
    first = httpx.get(server.url + "/readyz").json()["rules_version"]
    break_rules(rules_copy)
    wait_for(lambda: httpx.get(server.url + "/v1/rules").json()["pending_errors"] != [])
    assert httpx.get(server.url + "/readyz").json()["rules_version"] == first
    (rules_copy / "parameters.yaml").write_text(
        (rules_copy / "parameters.yaml").read_text().replace("\n  - id: [unclosed\n", "\n"))
    touch_rules(rules_copy, "watched")
    wait_for(lambda: httpx.get(server.url + "/readyz").json()["rules_version"] != first)
    assert httpx.get(server.url + "/v1/rules").json()["pending_errors"] == []
    assert server.stop() == 0


def test_sigterm_drains_requests_in_flight_and_exits_0(serve: Any, example_facts: Any) -> None:
    server = serve()
    rows = [{"id": n, "facts": example_facts} for n in range(3000)]  # a batch that takes a while
    outcome: dict[str, Any] = {}

    def post() -> None:
        response = httpx.post(server.url + f"/v1/batch?on={ON}", json=rows, timeout=60)
        outcome["status"], outcome["rows"] = response.status_code, len(response.json())

    sender = threading.Thread(target=post)
    sender.start()
    time.sleep(0.5)  # the batch is being decided
    server.signal(signal.SIGTERM)
    sender.join()
    assert outcome == {"status": 200, "rows": 3000}
    assert server.stop(signalled=True) == 0


def test_a_broken_rule_set_does_not_start(serve: Any, rules_copy: Path) -> None:
    break_rules(rules_copy)
    try:
        serve("--rules", str(rules_copy))
    except AssertionError as error:
        assert "exited 2" in str(error) and "parameters.yaml:" in str(error) and "Traceback" not in str(error)
    else:
        raise AssertionError("decree serve started on a broken rule set")


def test_replay_reproduces_every_logged_decision(serve: Any, tmp_path: Path, rules_copy: Path,
                                                 example_facts: Any) -> None:
    log = tmp_path / "decisions.jsonl"
    server = serve("--rules", str(rules_copy), "--decision-log", str(log))
    admin = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        first = http.post("/v1/evaluate", json={"facts": example_facts, "on": ON, "explain": True}).json()
        http.post("/v1/explain/status", json={"facts": example_facts, "on": ON})
        http.post("/v1/batch?on=2027-11-01&proposal=arbeidsmigranten",
                  json=[{"id": "a", "facts": example_facts}, {"id": "b", "facts": {}}])
        touch_rules(rules_copy, "after the first decisions")  # the rest is decided by another rule set
        assert http.post("/v1/admin/reload", headers=admin).json()["status"] == "swapped"
        second = http.post("/v1/evaluate", json={"facts": {"persoon": {"geboortedatum": "1950-01-01"}},
                                                 "on": "2022-06-01", "outputs": ["doelgroep", "status"]}).json()
        assert first["rules_version"] != second["rules_version"]
        assert http.get(f"/v1/decisions/{first['decision_id']}").json()["reproduced"] is True
    assert server.stop() == 0
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["kind"] for e in entries] == ["evaluate", "explain", "batch", "batch", "evaluate"]
    replayed = CliRunner().invoke(main, ["replay", str(log)])
    assert replayed.exit_code == 0, replayed.output
    assert "5 reproduced, 0 differ" in replayed.output
    # a logged answer that the rules do not give is found
    lines = log.read_text().splitlines()
    lines[0] = lines[0].replace('"status":"verplicht"', '"status":"vrijgesteld"', 1)
    log.write_text("\n".join(lines) + "\n")
    tampered = CliRunner().invoke(main, ["replay", str(log)])
    assert tampered.exit_code == 1
    assert "4 reproduced, 1 differ" in tampered.output and "differs at byte" in tampered.output


def test_several_workers_reload_together_and_share_one_log(serve: Any, tmp_path: Path, rules_copy: Path,
                                                           example_facts: Any) -> None:
    log = tmp_path / "decisions.jsonl"
    server = serve("--rules", str(rules_copy), "--workers", "2", "--decision-log", str(log))
    first = httpx.get(server.url + "/readyz").json()["rules_version"]
    pids: set[int] = set()
    wait_for(lambda: pids.add(httpx.get(server.url + "/healthz").json()["pid"]) or len(pids) == 2)
    ids = [httpx.post(server.url + "/v1/evaluate", json={"facts": example_facts, "on": ON}).json()["decision_id"]
           for _ in range(12)]
    for identifier in ids:  # a decision written by one worker is found by either
        assert httpx.get(server.url + f"/v1/decisions/{identifier}").json()["reproduced"] is True
    assert [json.loads(line)["decision_id"] for line in log.read_text().splitlines()] == ids
    touch_rules(rules_copy, "for both workers")
    swapped = httpx.post(server.url + "/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert swapped["status"] == "swapped"
    seen: dict[int, str] = {}

    def both_reloaded() -> bool:
        answer = httpx.get(server.url + "/healthz")
        seen[answer.json()["pid"]] = answer.headers["Decree-Rules-Version"]
        return len(seen) == 2 and set(seen.values()) == {swapped["rules_version"]}

    wait_for(both_reloaded)
    assert swapped["rules_version"] != first
    assert server.stop() == 0


def test_a_request_in_flight_finishes_on_the_rule_set_it_started_with(serve: Any, rules_copy: Path,
                                                                      example_facts: Any) -> None:
    server = serve("--rules", str(rules_copy))
    first = httpx.get(server.url + "/readyz").json()["rules_version"]
    rows = [{"id": n, "facts": example_facts} for n in range(8000)]  # seconds of work, even on a quiet machine
    outcome: dict[str, Any] = {}

    def post() -> None:
        response = httpx.post(server.url + f"/v1/batch?on={ON}", json=rows, timeout=120)
        outcome["answered_at"] = time.monotonic()
        outcome["versions"] = {row["rules_version"] for row in response.json()}

    sender = threading.Thread(target=post)
    sender.start()
    time.sleep(0.3)
    touch_rules(rules_copy, "while a batch is decided")
    swapped = httpx.post(server.url + "/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=60).json()
    swapped_at = time.monotonic()
    sender.join()
    assert swapped["status"] == "swapped"
    assert swapped_at < outcome["answered_at"], "the batch was not in flight during the reload; make it larger"
    assert outcome["versions"] == {first}
    assert httpx.get(server.url + "/readyz").json()["rules_version"] == swapped["rules_version"] != first
    assert server.stop() == 0
