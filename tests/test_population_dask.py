"""The columnar backend on a Dask LocalCluster with two worker processes gives the same
results as the run in this process; tasks carry the rule files' texts (or their path)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from engine.population.batch import run_batch
from engine.population.io import write_population
from engine.ruleset import RuleSet
from tests.conftest import ROOT
from tools.population import generate

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


def test_dask_results_equal_the_in_process_run(decree: RuleSet, tmp_path: Path) -> None:
    from engine.population.dask import decide_frame

    source = tmp_path / "persons.parquet"
    write_population(generate(4_000, seed=3, missing=0.2), str(source))
    few = tmp_path / "few.parquet"  # exact decisions cost more: fewer persons
    pl.read_parquet(source).head(400).write_parquet(few)
    local, local_exact = tmp_path / "local.parquet", tmp_path / "local-exact.parquet"
    run_batch(decree, str(source), date(2027, 11, 1), {"arbeidsmigranten": None}, str(local))
    run_batch(decree, str(few), date(2027, 11, 1), {"arbeidsmigranten": None}, str(local_exact), exact=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        persons = dd.read_parquet(str(source)).repartition(npartitions=4)
        # the rule set's texts travel with the tasks: the workers need no rule files
        results = decide_frame(persons, decree, date(2027, 11, 1), {"arbeidsmigranten": None}).compute()
        exactly = decide_frame(dd.read_parquet(str(few)).repartition(npartitions=2), decree, date(2027, 11, 1),
                               {"arbeidsmigranten": None}, exact=True).compute()
    on_dask = pl.from_pandas(results).sort("id")
    expected = pl.read_parquet(local).sort("id")
    assert on_dask.height == 4_000
    assert on_dask.columns == expected.columns
    assert on_dask.equals(expected)
    exact_on_dask, exact_expected = pl.from_pandas(exactly).sort("id"), pl.read_parquet(local_exact).sort("id")
    assert exact_on_dask.height == 400 and exact_on_dask.equals(exact_expected)
    # exactness decided some output the plan alone left unknown, so the two runs differ
    assert not exact_expected.equals(expected.filter(pl.col("id").is_in(exact_expected.get_column("id").to_list())))


def test_a_task_carries_the_rules_texts_or_their_path(decree: RuleSet) -> None:
    import pickle

    from engine.population.dask import RulesLoader

    carried = pickle.loads(pickle.dumps(RulesLoader.of(decree, {})))
    assert carried.texts and carried.ruleset().content_hash == decree.content_hash
    assert RulesLoader.of(str(ROOT / "rules"), {}).ruleset().content_hash == decree.content_hash
