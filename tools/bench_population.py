"""Benchmark of decree batch and decree impact over generated populations.

    python -m tools.bench_population [--persons 1000000] [--loop 20000] [--repeat 3]

Prints persons per second of the columnar backend (all outputs, every fact given; then a
population where a third lacks one or two facts), each with its ratio to the per-person
loop over ``RuleSet.evaluate`` timed in the same run on a sample of the same persons
(warmed on 500 of them, then the median of three timings, one before and two after the
batch; all three are printed), the CPU time of the batch (all
its threads: a figure the load of other processes moves less than wall time),
the peak memory of the process, and the time of an impact report of the labour-migrant
proposal. Each figure is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from engine import RuleSet
from engine.population.batch import run_batch
from engine.population.cells import Coder
from engine.population.impact import measure
from engine.population.io import write_population
from tools.population import generate

ON = date(2027, 11, 1)


def _median(runs: int, work: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _loop_rate(ruleset: RuleSet, path: Path, sample: int) -> float:
    """Persons per second of the per-person loop on the first ``sample`` persons."""
    import polars as pl

    from engine.population.io import read_chunks

    coder = Coder(ruleset.vocabulary, ON)
    chunk = next(read_chunks(str(path), "parquet", coder, sample))
    rows = chunk.frame.head(sample).to_dicts()
    persons = [coder.facts_of(row) for row in rows]
    del pl
    for facts in persons[:500]:  # warm: the first evaluations of a kind fill caches
        ruleset.evaluate(facts, ON, validated=True, exact=False)
    start = time.perf_counter()
    for facts in persons:
        ruleset.evaluate(facts, ON, validated=True, exact=False)  # what batch gives without --exact
    return len(persons) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_population")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--loop", type=int, default=20_000, help="persons timed in the per-person loop")
    parser.add_argument("--repeat", type=int, default=1)
    arguments = parser.parse_args(argv)
    ruleset = RuleSet.load("rules")
    n = arguments.persons
    with tempfile.TemporaryDirectory() as folder:
        for label, missing in (("every fact given", 0.0), ("a third lacks one or two facts", 0.33)):
            path = Path(folder) / f"persons-{missing}.parquet"
            write_population(generate(n, seed=1, missing=missing), str(path))
            output = Path(folder) / "results.parquet"
            # the loop timed before and after the batch (median of three): on a shared
            # machine the load moves between the two, and the ratio with it
            loops = [_loop_rate(ruleset, path, arguments.loop)]
            cpu = time.process_time()
            seconds = _median(arguments.repeat, lambda: run_batch(ruleset, str(path), ON, {}, str(output)))
            cpu = (time.process_time() - cpu) / arguments.repeat
            loops += [_loop_rate(ruleset, path, arguments.loop) for _ in range(2)]
            loop = statistics.median(loops)
            rate = n / seconds
            print(f"batch, {label}: {n:,} persons in {seconds:.1f} s (CPU {cpu:.1f} s) = {rate:,.0f} persons/s; "
                  f"per-person loop {loop:,.0f} persons/s (timings {', '.join(f'{x:,.0f}' for x in loops)}); "
                  f"ratio {rate / loop:.2f}x")
        path = Path(folder) / "persons-0.0.parquet"
        seconds = _median(arguments.repeat, lambda: measure(ruleset, ruleset, {"arbeidsmigranten": None}, str(path), ON))
        print(f"impact of arbeidsmigranten over {n:,} persons: {seconds:.1f} s (goal < 10 s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak:,.0f} MB (goal < 2,048 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
