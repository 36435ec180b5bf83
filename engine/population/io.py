"""Population files in and result files out: Parquet, CSV and JSON Lines, in chunks.

Reading streams: Parquet in slices of rows (Polars), CSV in batches (pyarrow), JSON Lines by
lines; each chunk is coded by :mod:`engine.population.cells`, so memory holds one chunk
of cells, never the whole file. A problem in a row is located as ``FILE:LINE:COL``:
for CSV the line of the file and the character column of the cell, for JSON Lines the
line and the column of the fact's key, for Parquet (no text) the row and the number of
the column.

Writing goes to a temporary file beside the target, renamed over it only when the run
completes (``os.replace`` is atomic on one file system): a failed or interrupted run
leaves no half-written output and an earlier output untouched.

Result files: JSON Lines hold per person exactly the object ``decree eval --format json``
prints, plus ``id``, on one line. CSV and Parquet hold ``id``, ``on`` and, per public
output, a column ``NAME`` with its value (empty when it has none) and ``NAME:unknown``
with the facts that would decide it when it is unknown; a value that is empty with no
unknown means *not applicable*.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Mapping

import polars as pl

from engine.errors import InputError, PolicyError, Source, Span
from engine.population.cells import NONE_SUFFIX, Coder, CodedChunk, RowError
from engine.sources.facts import iter_fact_errors, with_defaults
from engine.values import JsonNumber, dumps, to_json

FORMATS = ("parquet", "csv", "jsonl")
# rows per chunk: fewer chunks spread the fixed cost of planning a query of ~1,000 columns
# (about a tenth of a second); a chunk of this size holds about 700 MB at its peak
CHUNK_ROWS = 250_000


def format_of(path: str, given: str | None = None) -> str:
    if given:
        return given
    suffix = Path(path).suffix.lower().lstrip(".")
    found = {"parquet": "parquet", "pq": "parquet", "csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix)
    if found is None:
        raise InputError(f"cannot tell the format of '{path}' from its extension; use --format parquet|csv|jsonl")
    return found


@dataclass(frozen=True, slots=True)
class FileLines(Source):
    """A source whose lines are read from the file only when an error shows one."""

    path: str = ""
    wanted: frozenset[int] = field(default_factory=frozenset)
    _lines: dict[int, str] = field(default_factory=dict)

    def line(self, number: int) -> str:
        if not self._lines and self.wanted and self.path:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                for index, text in enumerate(handle, start=1):
                    if index in self.wanted:
                        self._lines[index] = text.rstrip("\r\n")
                    if index >= max(self.wanted):
                        break
        return self._lines.get(number, "")


# -- reading -----------------------------------------------------------------------


class ReadAhead(Iterator[CodedChunk]):
    """The chunks of ``chunks`` in order, the next one read and coded on a thread of its
    own while the caller decides the one before: Arrow reads and most Polars work run
    without the interpreter lock, so on two cores reading overlaps deciding. The first
    chunk is read from the start (while the caller builds its queries, say), then one
    chunk ahead, no more (memory stays bounded). Only that thread codes cells, so only
    it adds to the codebooks; a reader of a codebook takes the values its chunk's codes
    name (codebooks only grow). An error of the reader is raised here, in order.
    :meth:`close` (or the end of a ``with`` block) stops the thread and closes ``chunks``."""

    def __init__(self, chunks: Iterator[CodedChunk]) -> None:
        self._chunks = chunks
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decree-reader")
        self._pending: Future[CodedChunk | None] | None = self._thread.submit(next, chunks, None)

    def __next__(self) -> CodedChunk:
        if self._pending is None:
            raise StopIteration
        try:
            chunk = self._pending.result()
        except BaseException:
            self.close()
            raise
        if chunk is None:
            self.close()
            raise StopIteration
        self._pending = self._thread.submit(next, self._chunks, None)
        return chunk

    def close(self) -> None:
        self._pending = None
        self._thread.shutdown(wait=True)  # the chunk in flight, if the caller stopped early
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_chunks(path: str, fmt: str, coder: Coder, chunk_rows: int = CHUNK_ROWS) -> Iterator[CodedChunk]:
    """The persons of ``path`` as coded chunks, in order."""
    first = 0
    if fmt == "parquet":
        # Polars' own reader, a slice of the file a chunk (the row groups outside it are
        # not read, so memory stays bounded): a third of the CPU time of Arrow's batches
        # made into frames (0.12 against 0.36 s for 1,000,000 persons), whose texts had to
        # be converted
        rows, _ = parquet_shape(path)
        for first in range(0, rows, chunk_rows):
            with _reading_parquet(path):
                frame = pl.scan_parquet(path).slice(first, chunk_rows).collect()
            yield coder.from_columns(frame, first, _workers(first))
    elif fmt == "csv":
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.csv as pcsv  # type: ignore[import-untyped]

        # every cell read as text (then as a facts file would read it); empty is null
        text = {name: pa.string() for name in header_of(path, fmt)}
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 22),
                               convert_options=pcsv.ConvertOptions(column_types=text, strings_can_be_null=True))
        pending: list[Any] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= chunk_rows:
                frame = _frame(pa.Table.from_batches(pending))
                yield coder.from_columns(frame, first, _workers(first))
                first += frame.height
                pending, rows = [], 0
        if pending:
            yield coder.from_columns(_frame(pa.Table.from_batches(pending)), first, _workers(first))
    elif fmt == "jsonl":
        records: list[tuple[Any, date | None, Mapping[str, Any]]] = []
        ids: dict[str, str] = {}  # the kind of the first id
        errors: list[PolicyError] = []
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                records.append(_jsonl_row(line, number, path, coder, errors, first + len(records), ids))
                if len(records) >= chunk_rows:
                    yield _coded(coder, records, first, errors)
                    first += len(records)
                    records, errors = [], []
        if records or errors:
            yield _coded(coder, records, first, errors)
    else:
        raise InputError(f"unknown format '{fmt}'; expected parquet, csv or jsonl")


def _workers(first: int) -> int:
    """Threads that code a chunk's columns: two for a run's first chunk, which the
    deciding waits for (most of its cells are new to the codebooks), one after it, when
    the coding runs beside the deciding of the chunk before (two there cost more than
    they gave: 2.72 against 2.66 s for 1,000,000 persons)."""
    return 2 if first == 0 else 1


def _frame(table: Any) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _coded(coder: Coder, records: list[tuple[Any, date | None, Mapping[str, Any]]], first: int,
           errors: list[PolicyError]) -> CodedChunk:
    chunk = coder.from_records(records, first)
    for error in errors:
        chunk.error_spans.setdefault(getattr(error, "row"), []).append(error)
    return chunk


def _jsonl_row(line: str, number: int, path: str, coder: Coder, errors: list[PolicyError],
               row: int, ids: dict[str, str]) -> tuple[Any, date | None, Mapping[str, Any]]:
    """One row of JSON Lines; ``ids`` remembers the kind of the file's first id (the ids
    of a file are all texts or all whole numbers: one column of results holds them)."""
    source = FileLines(path, "", path=path, wanted=frozenset({number}))

    def span_of(where: tuple[Any, ...], key: bool = False) -> Span:
        column = 1
        if where:
            found = line.find(json.dumps(str(where[-1])))
            column = found + 1 if found >= 0 else 1
            if not key and found >= 0:
                colon = line.find(":", found)
                column = colon + 2 if colon >= 0 else column
        return Span(source, number, column)

    def fail(message: str, where: tuple[Any, ...] = (), key: bool = False) -> None:
        error = InputError(message, span_of(where, key))
        setattr(error, "row", row)
        errors.append(error)

    try:
        data = json.loads(line)
    except ValueError as bad_json:
        fail(f"not a JSON object: {bad_json}")
        return None, None, {}
    if not isinstance(data, dict):
        fail("a row of a JSON Lines population is an object with id, on and facts")
        return None, None, {}
    person = data.get("id")
    kind = "text" if isinstance(person, str) else "whole number" \
        if isinstance(person, int) and not isinstance(person, bool) else None
    if person is not None and kind is None:
        fail(f"an id is a text or a whole number, not {json.dumps(person)}", ("id",))
        person = None
    elif kind is not None and ids.setdefault("kind", kind) != kind:
        fail(f"this id is a {kind} where the ids before it are {ids['kind']}s; the ids of a file are of one kind",
             ("id",))
        person = None
    on: date | None = None
    if data.get("on") is not None:
        try:
            on = date.fromisoformat(str(data["on"]))
        except ValueError:
            fail(f"impossible date {data['on']!r}; expected YYYY-MM-DD", ("on",))
    facts: dict[str, Any] = {}
    problems = list(iter_fact_errors(data.get("facts") or {}, coder.vocabulary, span_of, facts))
    for found in problems:
        setattr(found, "row", row)  # where the row starts: JSON Lines positions are per line
        errors.append(found)
    return person, on, with_defaults(facts, coder.vocabulary)


def locate(path: str, fmt: str, errors: list[RowError], header: list[str]) -> list[PolicyError]:
    """Row errors of a CSV or Parquet file as positioned input errors."""
    if fmt == "csv":
        lines = frozenset(e.row + 2 for e in errors if e.row >= 0)
        source: Source = FileLines(path, "", path=path, wanted=lines)
        found: list[PolicyError] = []
        for error in errors:
            if error.row < 0:
                found.append(InputError(error.message, Span(source, 1, _char_column(source.line(1), header, error.column))))
                continue
            line = error.row + 2
            found.append(InputError(error.message, Span(source, line, _char_column(source.line(line), header, error.column))))
        return found
    source = Source(path, "")
    return [InputError(error.message, Span(source, error.row + 1 if error.row >= 0 else 1,
                                           header.index(error.column) + 1 if error.column in header else 1))
            for error in errors]


def _char_column(text: str, header: list[str], column: str) -> int:
    if column not in header or not text:
        return 1
    index = header.index(column)
    cells = next(csv.reader([text]))
    return sum(len(cell) + 1 for cell in cells[:index]) + 1


@contextmanager
def _reading_parquet(path: str) -> Iterator[None]:
    """A file that is not Parquet (or is damaged) is an input error, not a crash."""
    try:
        yield
    except (pl.exceptions.PolarsError, OSError) as error:
        raise InputError(f"cannot read '{path}' as Parquet: {error}", Span(Source(path, ""), 1, 1)) from None


def parquet_shape(path: str) -> tuple[int, list[str]]:
    """The number of rows and the column names of a Parquet file (from its metadata)."""
    with _reading_parquet(path):
        lazy = pl.scan_parquet(path)
        return int(lazy.select(pl.len()).collect().item()), lazy.collect_schema().names()


def lacking_at_start(path: str, fmt: str, coder: Coder, rows: int) -> frozenset[str]:
    """The facts some of the first ``rows`` persons of a Parquet file leave empty (no
    value, not marked none, no default), or whose column is absent: what the first chunk
    will lack, read from the file before that chunk is coded (a bad value, coded as
    missing too, aside). Other formats: none known."""
    if fmt != "parquet":
        return frozenset()
    _, names = parquet_shape(path)
    present = set(names)
    wanted = [name for name in coder.facts if name not in coder.defaulted]
    absent = {name for name in wanted if name not in present}
    checks: list[pl.Expr] = []
    for name in wanted:
        if name in present:
            empty = pl.col(name).is_null()
            if name + NONE_SUFFIX in present:  # marks that are not booleans count as unmarked
                empty = empty & ~pl.col(name + NONE_SUFFIX).cast(pl.Boolean, strict=False).fill_null(False)
            checks.append(empty.any().alias(name))
    if not checks:
        return frozenset(absent)
    with _reading_parquet(path):
        found = pl.scan_parquet(path).slice(0, rows).select(checks).collect().row(0, named=True)
    return frozenset(absent | {name for name, some in found.items() if some})


def header_of(path: str, fmt: str) -> list[str]:
    if fmt == "parquet":
        return parquet_shape(path)[1]
    if fmt == "csv":
        with open(path, encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle), [])
    return []


# -- writing -----------------------------------------------------------------------

@contextmanager
def atomic(path: str) -> Iterator[str]:
    """A temporary path beside ``path``, renamed to it when the block completes."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent or ".")
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def dumps_line(data: object) -> str:
    """One-line JSON in which every :class:`JsonNumber` is an exact number."""
    return dumps(data, indent=None)


def write_population(frame: pl.DataFrame, path: str, fmt: str | None = None) -> None:
    """A population frame (as :mod:`tools.population` makes) in any format, atomically."""
    kind = format_of(path, fmt)
    with atomic(path) as temporary:
        if kind == "parquet":
            frame.write_parquet(temporary)
        elif kind == "csv":
            lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
            frame.with_columns([pl.col(c).map_elements(lambda v: json.dumps(list(v)), return_dtype=pl.String)
                                for c in lists]).write_csv(temporary)
        else:
            with open(temporary, "w", encoding="utf-8") as out:
                for row in frame.iter_rows(named=True):
                    out.write(json.dumps(_jsonl_person(row), ensure_ascii=False) + "\n")


def _jsonl_person(row: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for name, value in row.items():
        if name in ("id", "on") or name.endswith(":none"):
            continue
        if row.get(f"{name}:none"):
            facts[name] = None
        elif value is not None:
            facts[name] = value.isoformat() if isinstance(value, date) else value
    person: dict[str, Any] = {"id": row["id"], "facts": facts}
    if row.get("on") is not None:
        person["on"] = str(row["on"])
    return person


def value_cell(value: Any) -> Any:
    """A decided value in a result column: JSON-like, numbers as exact text."""
    converted = to_json(value)
    if isinstance(converted, JsonNumber):
        return str(converted)
    if isinstance(converted, int) and not isinstance(converted, bool):
        return str(converted)
    if isinstance(converted, dict):
        return json.dumps(converted)
    return converted
