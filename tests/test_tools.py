"""Smoke tests of the tools (``python -m tools.NAME``): they run, and say what they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ruleset import RuleSet
from tools import bench, rulegen


def test_rulegen_writes_a_rule_set_that_loads_clean_and_decides_every_output(tmp_path: Path) -> None:
    rulegen.main([str(tmp_path), "250"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules_0000.yaml", "rules_0001.yaml", "rules_0002.yaml",
                                                          "vocabulary.yaml"]
    ruleset, problems = RuleSet.check(tmp_path)
    assert ruleset is not None and [p.render() for p in problems] == []
    assert len(ruleset.loaded.rules) == 250 + 25
    result = ruleset.evaluate(rulegen.person(), rulegen.date(2021, 6, 1))
    assert len(result.decisions) == 250 and not result.unknown
    again = tmp_path / "again"
    rulegen.generate(again, 250)  # deterministic: the same rule set, the same version
    assert RuleSet.load(again).content_hash == ruleset.content_hash


def test_bench_runs_every_part_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--quick"])
    printed = capsys.readouterr().out
    for figure in ("ratio to the 10-node compiled condition", "a third of the facts left out", "p99 / p50",
                   "cyclic-GC collections per 1,000 evaluations", "decree eval examples/persoon.yaml",
                   "the same with --no-cache",
                   "200 rules (220 with exceptions): load + check", "first evaluation of all 200 outputs"):
        assert figure in printed, figure
