"""Helpers of the service tests: the paths, rule sets changed on purpose, and a real
``decree serve`` process on 127.0.0.1 and a free port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
EXAMPLE = ROOT / "examples" / "persoon.yaml"
TOKEN = "s3cret-admin-token"


def as_json(value: Any) -> Any:
    """YAML data as JSON data (dates as ISO text)."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def touch_rules(rules: Path, note: str) -> None:
    """Another good rule set: the same rules with a comment changed (another content hash)."""
    path = rules / "parameters.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f"\n# {note}\n", encoding="utf-8")


def break_rules(rules: Path) -> None:
    path = rules / "parameters.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n  - id: [unclosed\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """A ``decree serve`` process on 127.0.0.1 and a free port."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"serve-{self.port}.err"
        env = {**os.environ, "DECREE_ADMIN_TOKEN": TOKEN}
        self.process = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", str(self.port), *args],
                                        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"decree serve exited {self.process.returncode}: {self.errors()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"decree serve did not get ready: {self.errors()}")
            time.sleep(0.05)

    def errors(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, signalled: bool = False) -> int:
        """SIGTERM (unless ``signalled`` already), and the exit code."""
        if self.process.poll() is None and not signalled:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()
