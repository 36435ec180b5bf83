"""The columnar backend on Dask: a population past one machine.

:func:`decide_frame` takes a Dask DataFrame of persons (the columns ``decree batch``
reads) and returns one of results (``id``, ``on`` and per output its value and
``NAME:unknown``), built with ``map_partitions``. Each partition is handed to the
backend as Arrow (pandas with Arrow dtypes in, Arrow-backed pandas out); the live rule
set is not shipped with each task: a small :class:`RulesLoader` travels instead, holding
the texts of the rule files (a ``RuleSet`` given) or the directory's path, and each
worker process builds the rule set once and keeps it (a module-level cache keyed by the
rules' content hash, or path, and the proposals), as the issue asks. With a path, the
workers must see the same rule files there (a shared volume, or the workers' image).

Running on a real cluster::

    dask scheduler                                  # on one machine: tcp://HOST:8786
    dask worker tcp://HOST:8786 --nprocs 2          # on each worker machine, with decree[dask]
    decree batch persons.parquet --on 2027-11-01 --output results.parquet --dask tcp://HOST:8786

``--dask local`` starts a ``LocalCluster`` on this machine instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from engine.population.batch import Results
from engine.population.cells import Coder
from engine.population.columnar import ColumnarBackend
from engine.rules.loader import RuleText
from engine.ruleset import Proposals, RuleSet

_LOADED: dict[tuple[str, tuple[tuple[str, date | None], ...]], tuple[RuleSet, Proposals]] = {}


@dataclass(frozen=True)
class RulesLoader:
    """What a task carries instead of a rule set: its files' texts (or where to load
    them), and the proposals."""

    path: str
    proposals: tuple[tuple[str, date | None], ...] = ()
    texts: tuple[RuleText, ...] = ()  # when given, ``path`` is the rules' content hash
    content_hash: str = ""

    @classmethod
    def of(cls, rules: "RuleSet | str | Path", proposals: Proposals | None) -> "RulesLoader":
        chosen = tuple(sorted((proposals or {}).items()))
        if isinstance(rules, RuleSet):
            return cls(rules.content_hash, chosen, tuple(rules.loaded.texts), rules.content_hash)
        return cls(str(rules), chosen)

    def ruleset(self) -> RuleSet:
        key = (self.path, self.proposals)
        found = _LOADED.get(key)
        if found is None:
            ruleset = RuleSet.from_texts(self.texts) if self.texts else RuleSet.load(self.path)
            found = _LOADED[key] = (ruleset, dict(self.proposals))
        return found[0]


@dataclass(frozen=True)
class DecidePartition:
    """The function ``map_partitions`` calls on each partition (picklable)."""

    loader: RulesLoader
    on: date
    exact: bool = False  # as ``decree batch --exact``: unknowns decided where every possibility agrees

    def __call__(self, partition: Any) -> Any:
        import pyarrow as pa  # type: ignore[import-untyped]

        ruleset = self.loader.ruleset()
        frame = pl.from_arrow(pa.Table.from_pandas(partition, preserve_index=False))
        assert isinstance(frame, pl.DataFrame)
        coder = Coder(ruleset.vocabulary, self.on)
        backend = ColumnarBackend(ruleset, dict(self.loader.proposals), coder, exact=self.exact)
        chunk = coder.from_columns(frame, 0)
        if chunk.errors:
            first = chunk.errors[0]
            raise ValueError(f"row {first.row + 1}, column {first.column}: {first.message}")
        decided = backend.run(chunk)
        table = Results(backend, coder).table(decided, chunk.frame.get_column("on"))
        return table.to_pandas(use_pyarrow_extension_array=True)


def decide_frame(persons: Any, rules: "RuleSet | str | Path", on: date, proposals: Proposals | None = None,
                 exact: bool = False) -> Any:
    """A Dask DataFrame of results for a Dask DataFrame of persons (lazy, as Dask is);
    ``rules`` a loaded rule set (its texts travel) or the path of the rule files;
    ``exact`` as :func:`engine.population.batch.run_batch`."""
    decide = DecidePartition(RulesLoader.of(rules, proposals), on, exact)
    meta = decide(persons._meta)
    return persons.map_partitions(decide, meta=meta)


def batch_on_dask(rules: "RuleSet | str", source: str, on: date, proposals: Proposals, output: str, address: str,
                  fmt: str, out_format: str | None = None, exact: bool = False) -> int:
    """``decree batch --dask``: read, decide and write with a cluster (Parquet or CSV)."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from engine.population.io import atomic, format_of

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True) if address == "local" else None  # type: ignore[no-untyped-call]
    with Client(cluster if cluster is not None else address):  # type: ignore[no-untyped-call]
        persons = dd.read_parquet(source) if fmt == "parquet" else dd.read_csv(source, dtype=str)
        results = decide_frame(persons, rules, on, proposals, exact).compute()
    if cluster is not None:
        cluster.close()
    frame = pl.from_pandas(results)
    with atomic(output) as temporary:
        kind = format_of(output, out_format)
        if kind == "parquet":
            frame.write_parquet(temporary)
        else:
            lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
            frame.with_columns([pl.col(c).list.join(";") for c in lists]).write_csv(temporary)
    return frame.height
