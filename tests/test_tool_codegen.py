"""Smoke tests of the tools of the evaluation wing: python -m tools.codegen prints the generated
function of an output; python -m tools.bench_evaluation runs."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import ROOT, RULESETS

from tools import codegen


def test_it_prints_valid_python_that_imports_only_the_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    assert codegen.main(["verplicht", "--rules", str(RULESETS / "exceptions")]) == 0
    printed = capsys.readouterr().out
    tree = ast.parse(printed)
    assert isinstance(tree.body[0], ast.ImportFrom) and tree.body[0].module == "engine.evaluation.runtime"
    assert [node.name for node in tree.body if isinstance(node, ast.FunctionDef)] == ["decide"]
    # the exceptions are walked before the rule they override
    assert printed.index("rule 'vrijstelling.eu'") < printed.index("rule 'basis'")


def test_it_prints_the_function_of_a_whole_person(capsys: pytest.CaptureFixture[str]) -> None:
    assert codegen.main(["--person", "verplicht", "--rules", str(RULESETS / "exceptions")]) == 0
    tree = ast.parse(capsys.readouterr().out)
    assert isinstance(tree.body[0], ast.ImportFrom) and tree.body[0].module == "engine.evaluation.runtime"
    assert [node.name for node in tree.body if isinstance(node, ast.FunctionDef)] == ["decide_all"]


def test_it_prints_the_function_that_carries_unknowns(capsys: pytest.CaptureFixture[str]) -> None:
    assert codegen.main(["--person", "--carry", "verplicht", "--rules", str(RULESETS / "exceptions")]) == 0
    printed = capsys.readouterr().out
    tree = ast.parse(printed)
    assert [node.name for node in tree.body if isinstance(node, ast.FunctionDef)] == ["decide_all"]
    assert "# unknown: it may apply" in printed  # a rule that may apply is walked past, as the general path does
    with pytest.raises(SystemExit):
        codegen.main(["--carry", "verplicht", "--rules", str(RULESETS / "exceptions")])


def test_an_unknown_output_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert codegen.main(["verplight", "--rules", str(RULESETS / "exceptions")]) == 2
    assert "unknown output 'verplight'" in capsys.readouterr().err


def test_it_runs_as_a_module_from_the_project_root() -> None:
    done = subprocess.run([sys.executable, "-m", "tools.codegen", "status"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "def decide(ev):" in done.stdout


def test_the_evaluation_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from tools import bench_evaluation

    assert bench_evaluation.main(["--quick"]) == 0
    printed = capsys.readouterr().out
    assert "gc collections per 1,000 evaluations" in printed and "facts missing / every fact" in printed
