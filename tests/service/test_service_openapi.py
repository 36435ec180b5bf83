"""Schemathesis against the service's own OpenAPI document: generated requests for every
operation (a bounded number each) sent to a real ``decree serve`` process, no server
error, and every answer matching the document (status codes, content types, schemas).

The document is the one the server serves (checked below); it is built here too because
schemathesis's lazy fixture loader does not run under pytest 9."""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from engine.ruleset import RuleSet
from engine.service.openapi import document

from .support import RULES, Server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_BATCH = 50
DOCUMENT = document(RuleSet.load(RULES), MAX_BATCH)
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(DOCUMENT)))


@pytest.fixture(scope="module")
def served(tmp_path_factory: Any) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("schemathesis"), "--rules", str(RULES), "--max-batch", str(MAX_BATCH))
    yield server
    assert server.stop() == 0


def test_the_document_is_the_one_served(served: Server) -> None:
    assert httpx.get(served.url + "/openapi.json").json() == json.loads(json.dumps(DOCUMENT))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_document(case: Any, served: Server) -> None:
    case.call_and_validate(base_url=served.url, checks=CHECKS)
