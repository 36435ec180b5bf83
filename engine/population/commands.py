"""The bodies of ``decree batch`` and ``decree impact``: arguments in, a run, rendering out.

Progress bars (rich) are drawn on standard error only when it is a terminal, so CI logs
and pipes stay clean.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator

from engine.population import io
from engine.ruleset import Proposals, RuleSet


@contextmanager
def progress_bar(what: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A callback advancing a bar by a number of persons, or None when stderr is no terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(what, total=total)
        yield lambda persons: progress.advance(task, persons)


def count_rows(path: str, fmt: str) -> int | None:
    """The number of persons when it is cheap to know (Parquet metadata), else None."""
    if fmt == "parquet":
        return io.parquet_shape(path)[0]
    return None


def batch(ruleset: RuleSet, source: str, on: date, proposals: Proposals, output: str,
          in_format: str | None, out_format: str | None, on_error: str, dask_address: str | None,
          echo: Callable[..., Any], exact: bool = False) -> int:
    from engine.population.batch import run_batch

    fmt = io.format_of(source, in_format)
    if not Path(source).exists():
        from engine.errors import InputError

        raise InputError(f"no such file: '{source}'")
    if dask_address is not None:
        from engine.population.dask import batch_on_dask

        persons = batch_on_dask(ruleset, source, on, proposals, output, dask_address, fmt, out_format, exact)
        echo(f"{persons} persons decided on Dask ({dask_address}); results in {output}", err=True)
        return 0
    with progress_bar("batch", count_rows(source, fmt)) as advance:
        summary = run_batch(ruleset, source, on, proposals, output, fmt, out_format, on_error, advance, exact=exact)
    for problem in summary.problems:
        echo(problem.render(), err=True)
    skipped = f", {summary.skipped} bad rows skipped" if summary.skipped else ""
    echo(f"{summary.persons} persons decided{skipped}; results in {output}", err=True)
    return 0


def impact(base: RuleSet, variant: RuleSet, proposals: Proposals, source: str, on: date, fmt: str,
           changed: str | None, examples: int, echo: Callable[..., Any], exact: bool = False) -> int:
    from engine.population.impact import measure
    from engine.population.report import render_html, render_text
    from engine.values import dumps

    if proposals:
        variant.check_proposals(proposals)
    in_format = io.format_of(source)
    with progress_bar("impact", count_rows(source, in_format)) as advance:
        found = measure(base, variant, proposals, source, on, in_format, examples, advance, changed, exact=exact)
    if fmt == "json":
        echo(dumps(found.to_json()))
    elif fmt == "html":
        echo(render_html(found))
    else:
        echo(render_text(found), nl=False)
    return 0


__all__ = ["batch", "impact", "progress_bar"]
