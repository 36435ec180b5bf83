"""Smoke tests of tools/population.py (the seeded generator) and tools/bench_population.py."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tools import bench_population, population


def test_the_generator_is_seeded_and_leaves_the_share_of_facts_asked(tmp_path: Path) -> None:
    first, again, other = population.generate(2_000, seed=4, missing=0.3), population.generate(2_000, seed=4, missing=0.3), \
        population.generate(2_000, seed=5, missing=0.3)
    assert first.equals(again) and not first.equals(other)
    lacking = first.select(pl.any_horizontal([pl.col(n).is_null() & ~pl.col(f"{n}:none") if f"{n}:none" in first.columns
                                              else pl.col(n).is_null() for n in population.MAY_BE_MISSING]))
    share = lacking.to_series().mean()
    assert isinstance(share, float) and 0.25 < share < 0.35
    nationals = first.get_column("persoon.nationaliteiten").list.contains("BE").mean()
    assert isinstance(nationals, float) and 0.2 < nationals < 0.3
    registered = first.get_column("inschrijving.eerste_datum")
    assert str(registered.min()) >= "2004-01-01" and str(registered.max()) <= "2027-12-31"
    output = tmp_path / "persons.csv"
    assert population.main(["50", "--seed", "1", "--output", str(output)]) == 0
    assert len(output.read_text().splitlines()) == 51


def test_the_population_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_population.main(["--persons", "1500", "--loop", "100"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("persons/s") == 4 and "ratio" in printed and "impact of arbeidsmigranten" in printed
