"""Fixtures of the service tests: the example person as JSON, a copy of the rules, the
application in process, and real ``decree serve`` processes (helpers in ``support``)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from engine.service import Settings, create_app

from .support import EXAMPLE, RULES, TOKEN, Server, as_json

with warnings.catch_warnings():  # Starlette now prefers httpx2 for its TestClient; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="session")
def example_facts() -> dict[str, Any]:
    facts: dict[str, Any] = as_json(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    return facts


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    return copy


@pytest.fixture(scope="session")
def app_client() -> Iterator[httpx.Client]:
    """The application in process (no lifespan, no log), for fast tests."""
    with TestClient(create_app(Settings(RULES, admin_token=TOKEN)), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start servers with ``serve(*args)``; each is stopped at the end of the test."""
    started: list[Server] = []

    def start(*args: str) -> Server:
        server = Server(tmp_path, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
