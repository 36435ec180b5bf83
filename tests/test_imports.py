"""What a command does not need is not imported (measured with ``python -X importtime``:
networkx 0.13 s, jsonschema 0.05 s, Lark 0.02 s on a quiet machine). Each case runs in a
fresh interpreter and lists which of the three it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("networkx", "jsonschema", "lark")


def imported_by(code: str, tmp_path: Path) -> list[str]:
    script = f"import sys\n{code}\nprint(__import__('json').dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "user"), "DECREE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("DECREE_NO_CACHE", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_importing_the_engine_and_its_cli_imports_none_of_them(tmp_path: Path) -> None:
    assert imported_by("import engine, engine.cli", tmp_path) == []


def test_loading_and_evaluating_needs_no_networkx(tmp_path: Path) -> None:
    code = ("from datetime import date\nfrom engine import RuleSet\n"
            "RuleSet.load('rules').evaluate({}, date(2024, 3, 1))")
    assert imported_by(code, tmp_path) == ["jsonschema", "lark"]


@pytest.mark.parametrize("command", [["eval", "examples/persoon.yaml", "--on", "2024-03-01"],
                                     ["explain", "status", "examples/persoon.yaml", "--on", "2024-03-01"]])
def test_a_command_answered_from_the_cache_imports_none_of_them(command: list[str], tmp_path: Path) -> None:
    code = (f"from engine.cli import main\nimport sys\nsys.argv = ['decree', *{command!r}]\n"
            "try:\n    main()\nexcept SystemExit as done:\n    assert done.code == 0, done.code")
    assert imported_by(code, tmp_path) == ["jsonschema", "lark"]  # the first run loads the files
    assert imported_by(code, tmp_path) == []  # the second takes the cache's entry
