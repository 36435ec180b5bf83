"""``decree batch``: every person of a population file decided, results written whole.

The run reads the input in chunks (:mod:`engine.population.io`), codes each chunk
(:mod:`engine.population.cells`), decides it on the columnar backend
(:mod:`engine.population.columnar`) and appends its results to a temporary file that
replaces the output only at the end. Reading and coding the next chunk
(:class:`engine.population.io.ReadAhead`) and writing the chunk before (:class:`_Writer`, for
Parquet and CSV) run on threads of their own while a chunk is decided, one chunk ahead and
one behind at most: on two cores the Arrow and Polars work of the three overlaps. Bad
rows (a wrong value, an impossible date, a conflict between rules for that person) are
reported with their position and the message a facts file would get; with
``on_error="fail"`` every problem of the file is reported and nothing is written, with
``"skip"`` the bad rows are left out of the output and the rest is written.
"""

from __future__ import annotations

import queue
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterator

import polars as pl

from engine.errors import InputError, PolicyError, PolicyErrors, Source, Span
from engine.population import io
from engine.population.cells import Coder, CodedChunk
from engine.population.columnar import ColumnarBackend, output_column, state_of
from engine.population.coding import gather
from engine.ruleset import Proposals, RuleSet
from engine.values import Unknown, to_json


@dataclass
class BatchSummary:
    persons: int = 0
    skipped: int = 0
    problems: list[PolicyError] = field(default_factory=list)
    columnar: int = 0  # outputs x rows decided by Polars expressions
    by_combination: int = 0  # outputs x rows decided per distinct combination by the plan's own code
    evaluations: int = 0  # the plan evaluations those took
    with_unknowns: int = 0  # rows with a missing fact settled by Polars over values and unknowns


_KEPT_LINES = 200_000  # distinct result lines kept for reuse (bounded memory)


class Results:
    """Turns a chunk's codes into result rows: JSON lines or typed columns."""

    def __init__(self, backend: ColumnarBackend, coder: Coder) -> None:
        self.backend = backend
        self.coder = coder
        self.public = backend.public
        self.types = {name: backend.ruleset.vocabulary.names[name].type for name in self.public}
        self.head = {"rules_version": backend.ruleset.content_hash,
                     "proposals": {name: day.isoformat() for name, day in sorted(backend.proposals.items())}}
        self._lines: dict[tuple[int, ...], str] = {}
        self._sorted = sorted(self.public)
        # per output, its codebook as the columns a table shows (codebooks only grow:
        # a later chunk converts only the codes new to it)
        self._shown: dict[str, tuple[pl.Series, pl.Series]] = {}

    def json_of(self, on: date, codes: tuple[int, ...]) -> dict[str, Any]:
        """The object ``decree eval --format json`` prints, for one row's codes."""
        values = {name: self.backend.value(name, code) for name, code in zip(self.public, codes)}
        return {
            "on": on.isoformat(),
            **self.head,
            "outputs": {n: to_json(values[n]) for n in self._sorted if state_of(values[n]) == "decided"},
            "unknown": {n: sorted(values[n].missing) for n in self._sorted if type(values[n]) is Unknown},
            "not_applicable": [n for n in self._sorted if values[n] is None],
        }

    def lines(self, decided: pl.DataFrame, days: pl.Series) -> Iterator[str]:
        columns = [decided.get_column(output_column(n)) for n in self.public]
        day_values = self.coder.days.values
        for person, day, *codes in zip(decided.get_column("id"), days, *columns):
            key = (day, *codes)
            text = self._lines.get(key)
            if text is None:
                text = io.dumps_line(self.json_of(day_values[day], tuple(codes)))[1:]
                if len(self._lines) < _KEPT_LINES:
                    self._lines[key] = text
            yield io.dumps_line({"id": person})[:-1] + ", " + text

    def table(self, decided: pl.DataFrame, days: pl.Series) -> pl.DataFrame:
        """``id``, ``on`` and per output its value and ``NAME:unknown`` columns."""
        day_table = pl.Series("on", self.coder.days.values[1:], dtype=pl.Date)
        # every gather is an expression of one select: Polars runs them side by side
        columns: list[pl.Expr] = [pl.col("id"), _gather(day_table, pl.lit(days) - 1).alias("on")]
        for name in self.public:
            shown, missing = self._columns_of(name)
            codes = pl.col(output_column(name))
            columns.append(_gather(shown, codes).alias(name))
            # an output never unknown in the run: its column of missing facts is empty
            unknown = _gather(missing, codes) if missing.null_count() < len(missing) \
                else pl.lit(None, dtype=pl.List(pl.String))
            columns.append(unknown.alias(f"{name}:unknown"))
        return gather(decided, columns)

    def _columns_of(self, name: str) -> tuple[pl.Series, pl.Series]:
        """An output's codebook as the values a table shows and the facts its unknowns miss."""
        book = self.backend.books[name].values
        size = len(book)
        done = self._shown.get(name)
        start = 0 if done is None else len(done[0])
        if done is not None and start == size:
            return done
        dtype = _dtype(self.types[name].name)
        new = book[start:size]
        shown = pl.Series(name, [None if start + i == 0 else _cell(v, dtype) for i, v in enumerate(new)], dtype=dtype)
        missing = pl.Series(f"{name}:unknown", [sorted(v.missing) if type(v) is Unknown else None for v in new],
                            dtype=pl.List(pl.String))
        if done is not None:
            # one chunk of memory: a gather from a table in pieces costs twice as much
            shown, missing = done[0].append(shown).rechunk(), done[1].append(missing).rechunk()
        self._shown[name] = (shown, missing)
        return shown, missing


def _gather(table: pl.Series, codes: pl.Expr) -> pl.Expr:
    return pl.lit(table).gather(codes.cast(pl.UInt32))


def _dtype(type_name: str) -> Any:
    return {"bool": pl.Boolean, "text": pl.String, "date": pl.Date, "set": pl.List(pl.String),
            "list": pl.List(pl.String)}.get(type_name, pl.String)


def _cell(value: Any, dtype: Any) -> Any:
    if type(value) is Unknown or value is None or type(value).__name__ == "Failure":
        return None
    if dtype == pl.Boolean or dtype == pl.Date:
        return value
    if isinstance(dtype, pl.List):
        listed: Any = to_json(value)
        return [str(v) for v in listed]
    return io.value_cell(value)


def run_batch(ruleset: RuleSet, source: str, on: date, proposals: Proposals, output: str,
              in_format: str | None = None, out_format: str | None = None, on_error: str = "fail",
              progress: Callable[[int], None] | None = None, chunk_rows: int = io.CHUNK_ROWS,
              exact: bool = False) -> BatchSummary:
    """Decide every person of ``source`` and write the results to ``output`` (whole or not at all);
    each row as ``RuleSet.evaluate(..., exact=exact)`` decides it."""
    fmt = io.format_of(source, in_format)
    out_fmt = io.format_of(output, out_format)
    coder = Coder(ruleset.vocabulary, on)
    # the first chunk is read and coded while the plan becomes queries
    with io.ReadAhead(io.read_chunks(source, fmt, coder, chunk_rows)) as chunks:
        backend = ColumnarBackend(ruleset, proposals, coder, exact=exact)
        # and the query over unknowns the first chunk will need (Python's work) is built
        backend.expect_lacking(io.lacking_at_start(source, fmt, coder, chunk_rows))
        return _decide_all(chunks, backend, source, fmt, output, out_fmt, on_error, progress, chunk_rows)


def _decide_all(chunks: Iterator[CodedChunk], backend: ColumnarBackend, source: str, fmt: str, output: str,
                out_fmt: str, on_error: str, progress: Callable[[int], None] | None, chunk_rows: int) -> BatchSummary:
    """:func:`run_batch` once its reader and backend run."""
    header = io.header_of(source, fmt)
    results = Results(backend, backend.coder)
    summary = BatchSummary()
    with io.atomic(output) as temporary:
        writer = _Writer(temporary, out_fmt, chunk_rows)
        try:
            for chunk in chunks:
                decided = backend.run(chunk)
                bad = _problems(chunk, decided, backend, source, fmt, header)
                summary.problems.extend(p for problems in bad.values() for p in problems)
                if any(row < 0 for row in bad):  # a problem of the whole file (an unknown column)
                    raise PolicyErrors(summary.problems)
                keep = decided
                days = chunk.frame.get_column("on")
                if bad:
                    mask = pl.Series([i + chunk.first_row not in bad for i in range(decided.height)])
                    keep, days = decided.filter(mask), days.filter(mask)
                    summary.skipped += decided.height - keep.height
                summary.persons += keep.height
                if on_error == "fail" and summary.problems:
                    continue  # read on, to report every problem of the file; write nothing
                if out_fmt == "jsonl":
                    writer.lines(results.lines(keep, days))
                else:
                    writer.table(results.table(keep, days))
                if progress is not None:
                    progress(decided.height)
            if on_error == "fail" and summary.problems:
                raise PolicyErrors(summary.problems)
        except BaseException:
            writer.abandon()
            raise
        writer.close()
    summary.columnar, summary.by_combination = backend.columnar_rows, backend.combination_rows
    summary.evaluations, summary.with_unknowns = backend.evaluations, backend.unknown_rows
    return summary


def _problems(chunk: CodedChunk, decided: pl.DataFrame, backend: ColumnarBackend, source: str, fmt: str,
              header: list[str]) -> dict[int, list[PolicyError]]:
    """Row (0-based in the input) -> its problems; row -1 for problems of the whole file."""
    found: dict[int, list[PolicyError]] = {}
    for error, positioned in zip(chunk.errors, io.locate(source, fmt, chunk.errors, header)):
        found.setdefault(error.row, []).append(positioned)
    for row, errors in chunk.error_spans.items():
        found.setdefault(row, []).extend(errors)
    failures = backend.failures(decided)
    for row, message in failures.items():
        absolute = chunk.first_row + row
        if absolute in found:
            continue  # its facts were wrong; the conflict is an echo
        line = absolute + (2 if fmt == "csv" else 1)
        source_of = io.FileLines(source, "", path=source, wanted=frozenset({line})) if fmt != "parquet" else Source(source, "")
        found[absolute] = [InputError(message, Span(source_of, line, 1))]
    return found


class _Writer:
    """Appends chunks of results to one file of one format.

    A table chunk is written on a thread of its own (one at a time, in order) while the
    next chunk is decided: Polars and Arrow write without the interpreter lock, so on
    two cores the writing overlaps the next chunk's queries. Lines of JSON are written
    where they are made (the work there is Python's).

    Parquet is written by Polars' streaming sink (``sink_parquet``) over a source that
    yields the chunks handed to :meth:`table`: Polars has no writer a file can be
    appended to, and its encoder took three quarters of the CPU time of Arrow's (with
    ``to_arrow``) on a chunk of results (0.19 against 0.25 s for 250,000 rows, one
    thread), and encodes columns side by side."""

    def __init__(self, path: str, fmt: str, rows: int = io.CHUNK_ROWS) -> None:
        self.path, self.fmt = path, fmt
        self.rows = rows  # a row group a chunk: Polars' default (262,144 rows) split chunks
        self._handle: Any = None
        if fmt in ("jsonl", "csv"):
            self._handle = open(path, "w", encoding="utf-8", newline="")
        self._header = True
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decree-writer")
        self._pending: Future[None] | None = None
        self._schema: pl.Schema | None = None  # of the Parquet file, once its sink runs
        self._chunks: queue.Queue[pl.DataFrame | BaseException | None] = queue.Queue(maxsize=1)

    def lines(self, lines: Iterator[str]) -> None:
        self._handle.writelines(line + "\n" for line in lines)

    def table(self, frame: pl.DataFrame) -> None:
        if self.fmt == "csv":
            self._wait()  # at most one chunk in flight: memory stays bounded, order kept
            lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
            flat = frame.with_columns([pl.col(c).list.join(";") for c in lists])
            header, self._header = self._header, False
            self._pending = self._thread.submit(flat.write_csv, self._handle, include_header=header)
            return
        if self._schema is None:  # the first chunk: its schema is the file's
            self._schema = frame.schema
            self._pending = self._thread.submit(self._sink, frame.schema)
        elif frame.schema != self._schema:  # ids as whole numbers after texts
            frame = frame.cast(dict(self._schema))  # type: ignore[arg-type]
        if not self._offer(frame):  # waits while the chunk before is still being written
            self._wait()  # the sink stopped: its error, here
            raise RuntimeError("the Parquet writer stopped early")

    def _sink(self, schema: pl.Schema) -> None:
        from polars.io.plugins import register_io_source

        def chunks(*_: Any) -> Iterator[pl.DataFrame]:
            while (chunk := self._chunks.get()) is not None:
                if isinstance(chunk, BaseException):
                    raise chunk
                yield chunk

        # no statistics: a result file is read whole
        register_io_source(chunks, schema=schema).sink_parquet(self.path, compression="lz4", statistics=False,
                                                               row_group_size=self.rows)

    def _offer(self, item: pl.DataFrame | BaseException | None) -> bool:
        """Hands ``item`` to the sink; False if the sink has stopped."""
        while self._pending is not None and not self._pending.done():
            try:
                self._chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # a failed write raises here

    def abandon(self) -> None:
        """Stop after the write in flight, if any; the temporary file is discarded."""
        if self.fmt == "parquet":
            self._offer(_Abandoned())  # the sink stops and raises it: nothing to report
        self._thread.shutdown(wait=True)
        if self._handle is not None:
            self._handle.close()

    def close(self) -> None:
        try:
            if self.fmt == "parquet":
                self._offer(None)  # the end of the file
            self._wait()
        finally:
            self._thread.shutdown(wait=True)
            if self._handle is not None:
                self._handle.close()
        if self.fmt == "parquet" and self._schema is None:
            pl.DataFrame().write_parquet(self.path)


class _Abandoned(Exception):
    """Stops the Parquet sink of a run that failed."""
