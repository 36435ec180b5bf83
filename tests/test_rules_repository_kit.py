"""The kit for a repository of rules: pre-commit hooks, the example CI workflow, and the
``$schema`` line of scenario files.

The hooks of ``.pre-commit-hooks.yaml`` and every ``decree`` step of
``examples/rules-repository/decree.yml`` are run, as written, in a copy of a rules
repository (this project's ``rules/`` and ``tests/scenarios/``), so neither can name an
option or a command that does not exist. Every scenario file names the fixture schema for
editors (yaml-language-server), with a path that leads to it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
SCHEMA_LINE = "# yaml-language-server: $schema="


@pytest.fixture()
def repository(tmp_path: Path) -> Path:
    """A rules repository: rules/ and tests/scenarios/, nothing of decree's own."""
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(SCENARIOS, tmp_path / "tests" / "scenarios")
    return tmp_path


def decree(cwd: Path, command: str) -> tuple[int, str]:
    words = shlex.split(command)
    assert words[0] == "decree", command
    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, words[1:], catch_exceptions=False)
    finally:
        os.chdir(before)
    return result.exit_code, result.stdout + result.stderr


def scenario_files() -> list[Path]:
    return sorted(p for p in SCENARIOS.rglob("*") if p.suffix in (".yaml", ".yml"))


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_every_scenario_file_names_its_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(SCHEMA_LINE), f"{path}: the first line should be {SCHEMA_LINE}<path to fixture.schema.json>"
    target = first.removeprefix(SCHEMA_LINE).strip()
    assert target.endswith("schemas/fixture.schema.json")
    assert (path.parent / target).resolve() == (ROOT / "schemas" / "fixture.schema.json").resolve()


def test_the_pre_commit_hooks_run_as_written(repository: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [hook["id"] for hook in hooks] == ["decree-check", "decree-test"]
    for hook in hooks:
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        code, output = decree(repository, hook["entry"])
        assert code == 0, f"{hook['id']}: {output}"
    check, test = hooks
    assert check["entry"] == "decree check" and test["entry"] == "decree test"


@pytest.mark.parametrize("path,runs", [("rules/doelgroep.yaml", {"decree-check", "decree-test"}),
                                       ("rules/amendments/a.yml", {"decree-check", "decree-test"}),
                                       ("tests/scenarios/x.yaml", {"decree-test"}),
                                       ("README.md", set()), ("src/rules/x.yaml", set())])
def test_the_hooks_run_for_the_files_that_concern_them(path: str, runs: set[str]) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {hook["id"] for hook in hooks if re.search(hook["files"], path)} == runs


def test_the_example_ci_workflow_runs_as_written(repository: Path) -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "rules-repository" / "decree.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["rules"]["steps"]
    commands = [step["run"] for step in steps if str(step.get("run", "")).startswith("decree ")]
    assert [c.split()[1] for c in commands] == ["check", "test"]
    for command in commands:
        code, output = decree(repository, command)
        assert code == 0, f"{command}: {output}"
    uploaded = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact"))
    for name in uploaded["with"]["path"].split():
        assert (repository / name).is_file(), name
    report = ET.parse(repository / "decree-junit.xml").getroot()
    assert int(report.get("tests") or 0) > 0 and report.get("failures") == "0"
    assert (repository / "decree.lcov").read_text(encoding="utf-8").startswith("TN:decree\nSF:rules/")
