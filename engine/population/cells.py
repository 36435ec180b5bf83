"""Persons' facts as columns of codes: what a cell of a population file means.

A population is read in chunks (:mod:`engine.population.io`); each chunk becomes a
:class:`CodedChunk`, a Polars frame with one ``UInt32`` column of codes per fact, one for
the evaluation date, and the persons' ids. A code stands for one value in a
:class:`Codebook` shared by every chunk of a run, so the columnar backend compares and
groups small integers, and each distinct value is converted and checked once.

What a cell says (docs/population.md):

- a column that is absent, or a cell that is empty (CSV) or null (Parquet, Arrow), is
  **unknown**: the fact was not given (code 0, :data:`MISSING`), unless the vocabulary
  declares a default;
- a companion boolean column ``FACT:none`` that is true says the fact is **known to have
  no value** (``null`` in a facts file; code 1, :data:`NONE`); such a cell must be empty;
- JSON Lines rows carry a ``facts`` object as a facts file does: a fact left out is
  unknown, a fact given as ``null`` has no value.

Text cells of a CSV file are read as JSON scalars where they parse as one (``true``,
``3``, ``["SY", "BE"]``), else as text, so a cell means what the same value means in a
facts file, and a wrong value gets the same message. Typed Parquet columns (dates,
booleans) are taken as they are.

Before any rule reads them, :meth:`Coder.as_of` reads a chunk's facts as of each row's
evaluation date, as :func:`engine.sources.asof.as_of` reads one person's: the rule set's
:class:`engine.sources.asof.Events` say which facts are events and which describe them.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Mapping

import polars as pl

from engine.errors import PolicyError, Span, suggest
from engine.language.types import Declaration, Vocabulary
from engine.population.coding import SEPARATOR, DayCodes, coded
from engine.sources.asof import Events
from engine.sources.facts import iter_fact_errors

MISSING = 0  # the code of a fact nobody gave
NONE = 1  # the code of "known to have no value" (and of a not-applicable output)
NONE_SUFFIX = ":none"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING_VALUE = _Missing()


class Codebook:
    """Values and their codes, for one fact or output; codes 0 and 1 are fixed."""

    def __init__(self) -> None:
        self.values: list[Any] = [MISSING_VALUE, None]
        self._codes: dict[tuple[type, Any], int] = {}

    def code(self, value: Any) -> int:
        if value is None:
            return NONE
        key = (type(value), value)  # True, 1 and Decimal(1) are equal in a dict; not here
        found = self._codes.get(key)
        if found is None:
            found = self._codes[key] = len(self.values)
            self.values.append(value)
        return found

    def codes(self, values: list[Any]) -> list[int]:
        """:meth:`code` of each of ``values`` (a run's first chunk brings tens of
        thousands of new dates at once)."""
        code = self.code
        return [code(value) for value in values]

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class RowError:
    """A problem in one row: where (0-based row of the input, column name) and what."""

    row: int
    column: str
    message: str


@dataclass
class CodedChunk:
    """Rows of a population as codes: ``fact:NAME`` and ``on`` columns, plus ``id``."""

    frame: pl.DataFrame
    first_row: int  # the 0-based number of its first row in the input
    errors: list[RowError] = field(default_factory=list)
    error_spans: dict[int, list[PolicyError]] = field(default_factory=dict)  # set by readers with positions


def fact_column(name: str) -> str:
    return f"fact:{name}"


class Coder:
    """Turns chunks of raw cells into codes; holds the codebooks of one run."""

    def __init__(self, vocabulary: Vocabulary, on: date) -> None:
        self.vocabulary = vocabulary
        self.facts: dict[str, Declaration] = {d.name: d for d in vocabulary.of_kind("fact")}
        self.books: dict[str, Codebook] = {name: Codebook() for name in self.facts}
        self.days = Codebook()
        self.default_on = self.days.code(on)
        self._defaults = {name: self.books[name].code(d.default) for name, d in self.facts.items() if d.has_default}
        self.defaulted = frozenset(self._defaults)  # facts with a default: never missing
        self._converted: dict[tuple[str, Any], tuple[int, str | None]] = {}  # (fact, raw) -> code, problem
        self._dates: dict[str, pl.Series] = {}  # an event fact's codebook as dates (null: not a date)
        self._by_day: dict[str, DayCodes] = {}  # a date fact's codes by day
        # a date fact's codebook as a Date column (by code), while every date in it came
        # through the day table: the typed codebook the queries read, without Python
        self._day_column: dict[str, pl.Series] = {
            name: pl.Series([None, None], dtype=pl.Date) for name, d in self.facts.items()
            if d.type.name == "date" and name not in self._defaults}

    # -- columns of a CSV or Parquet file ------------------------------------------

    def from_columns(self, raw: pl.DataFrame, first_row: int, workers: int = 1) -> CodedChunk:
        """Codes for a frame whose columns are ``id``, ``on``, fact names and ``FACT:none``
        (on ``workers`` threads)."""
        errors: list[RowError] = []
        unknown = [c for c in raw.columns if c not in self.facts and c not in ("id", "on")
                   and not (c.endswith(NONE_SUFFIX) and c[:-len(NONE_SUFFIX)] in self.facts)]
        for column in unknown:  # a misspelt column would silently leave a fact unknown
            errors.append(RowError(-1, column, f"unknown fact '{column}'{suggest(column, self.facts)}"))
        # each fact's column is coded on its own (its own codebook): side by side on two
        # threads where asked (a run's first chunk, coded while nothing else runs yet)
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decree-coder") as pool:
                coded = list(pool.map(lambda name: self._fact_codes(name, raw, first_row), self.facts))
        else:
            coded = [self._fact_codes(name, raw, first_row) for name in self.facts]
        columns = [codes for codes, _ in coded]
        errors.extend(error for _, found in coded for error in found)
        columns.append(self._on_codes(raw, errors, first_row))
        ids = raw.get_column("id") if "id" in raw.columns else pl.Series("id", range(first_row + 1, first_row + 1 + raw.height))
        frame = pl.DataFrame([ids.alias("id")] + columns)
        return CodedChunk(frame, first_row, errors)

    def _fact_codes(self, name: str, raw: pl.DataFrame, first_row: int) -> tuple[pl.Series, list[RowError]]:
        """One fact's column of codes (``FACT:none`` marks and its default applied), and
        the problems of its cells."""
        errors: list[RowError] = []
        codes = self._codes_of(name, raw, errors, first_row) if name in raw.columns else None
        if codes is None:
            codes = pl.Series(fact_column(name), [MISSING], dtype=pl.UInt32).extend_constant(MISSING, raw.height - 1) \
                if raw.height else pl.Series(fact_column(name), [], dtype=pl.UInt32)
        if name + NONE_SUFFIX in raw.columns:
            codes = self._with_none(name, raw, codes, errors, first_row)
        if name in self._defaults:
            codes = codes.set(codes == MISSING, self._defaults[name]) if (codes == MISSING).any() else codes
        return codes.alias(fact_column(name)), errors

    def _codes_of(self, name: str, raw: pl.DataFrame, errors: list[RowError], first_row: int) -> pl.Series:
        column = raw.get_column(name)
        declaration = self.facts[name]
        if declaration.type.name == "date" and column.dtype == pl.Date:
            by_day = self._day_codes(name, column)
            if by_day is not None:
                return by_day
        if declaration.type.name == "bool" and column.dtype == pl.Boolean:
            return self._truth_codes(name, column)
        listed = isinstance(column.dtype, pl.List)
        if listed:
            column = column.cast(pl.List(pl.String))
        distinct = column.drop_nulls().unique().to_list()
        old: list[Any] = []
        new: list[int] = []
        bad: list[tuple[Any, str]] = []
        typed = declaration.type.name == "date" and column.dtype == pl.Date or \
            declaration.type.name == "bool" and column.dtype == pl.Boolean
        book = self.books[name]
        for raw_value in distinct:
            if typed:
                code, problem = book.code(raw_value), None
            else:
                value = tuple(raw_value) if listed else raw_value
                code, problem = self._convert(name, value, from_text=column.dtype == pl.String and not listed)
            if problem is not None:
                bad.append((raw_value, problem))
                code = MISSING
            old.append(raw_value)
            new.append(code)
        if bad:
            cells = column.list.join(SEPARATOR) if listed else column
            for raw_value, problem in bad:
                rows = (cells == (SEPARATOR.join(raw_value) if listed else raw_value)).arg_true().to_list()
                errors.extend(RowError(first_row + row, name, problem) for row in rows)
        if not old:
            return pl.Series(name, [MISSING] * raw.height, dtype=pl.UInt32)
        return _mapped(column, old, new)

    def _truth_codes(self, name: str, column: pl.Series) -> pl.Series:
        """The codes of a typed boolean column: a gather from the codes of false and true
        (at 0 and 1), where mapping values hashes every cell; null is unknown."""
        book = self.books[name]
        table = pl.Series([book.code(False), book.code(True)], dtype=pl.UInt32)
        return table.gather(column.cast(pl.UInt32)).fill_null(MISSING)

    def _day_codes(self, name: str, column: pl.Series) -> pl.Series | None:
        """The codes of a typed date column through a table indexed by day
        (:class:`engine.population.coding.DayCodes`): only the dates new to the run are
        coded in Python. None for a date outside the table's centuries."""
        book = self.books[name]

        def new_dates(dates: pl.Series) -> list[int]:
            before = len(book)
            codes = book.codes(dates.to_list())
            by_code = self._day_column.get(name)
            if by_code is not None:
                if len(by_code) == before and codes == list(range(before, len(book))):
                    self._day_column[name] = by_code.append(dates).rechunk()  # gathered from whole
                else:  # a date the book held, or one coded another way: no longer by code
                    del self._day_column[name]
            return codes

        codes = self._by_day.setdefault(name, DayCodes()).codes(column, new_dates)
        return None if codes is None else codes.fill_null(MISSING)

    def dates_by_code(self, name: str, size: int) -> pl.Series | None:
        """The first ``size`` entries of a date fact's codebook as a Date column (null for
        missing and none), when every date in it came through a typed date column; else
        None (the caller converts the values)."""
        column = self._day_column.get(name)
        if column is None or len(column) != len(self.books[name]) or len(column) < size:
            return None
        return column.slice(0, size)

    def _convert(self, name: str, raw_value: Any, from_text: bool) -> tuple[int, str | None]:
        """A raw cell's code, or the problem a facts file would report for the value."""
        cache_key = (name, raw_value)
        found = self._converted.get(cache_key)
        if found is not None:
            return found
        value = _scalar(raw_value) if from_text else raw_value
        into: dict[str, Any] = {}
        problems = list(iter_fact_errors({name: value}, self.vocabulary, _nowhere, into))
        if problems:
            found = (MISSING, problems[0].message)
        elif into[name] is None:
            found = (MISSING, f"fact '{name}': an empty value is unknown; say 'known to have no value' in {name}{NONE_SUFFIX}")
        else:
            found = (self.books[name].code(into[name]), None)
        self._converted[cache_key] = found
        return found

    def _with_none(self, name: str, raw: pl.DataFrame, codes: pl.Series, errors: list[RowError],
                   first_row: int) -> pl.Series:
        marks = raw.get_column(name + NONE_SUFFIX)
        if marks.dtype != pl.Boolean:
            marks = marks.cast(pl.String).str.to_lowercase().replace_strict(
                {"true": True, "false": False, "": False}, default=None, return_dtype=pl.Boolean)
        marks = marks.fill_null(False)
        both = marks & (codes != MISSING) & raw.get_column(name).is_not_null() if name in raw.columns else marks & False
        for row in both.arg_true().to_list():
            errors.append(RowError(first_row + row, name,
                                   f"fact '{name}' is given a value and, in {name}{NONE_SUFFIX}, none"))
        return codes.set(marks, NONE) if marks.any() else codes

    def _on_codes(self, raw: pl.DataFrame, errors: list[RowError], first_row: int) -> pl.Series:
        if "on" not in raw.columns:
            return pl.Series("on", [self.default_on] * raw.height, dtype=pl.UInt32)
        column = raw.get_column("on")
        old, new = [], []
        for value in column.drop_nulls().unique().to_list():
            day = value if isinstance(value, date) else _as_day(str(value))
            old.append(value)
            if day is None:
                new.append(self.default_on)
                for row in (column == value).arg_true().to_list():
                    errors.append(RowError(first_row + row, "on", f"impossible date {value!r}; expected YYYY-MM-DD"))
            else:
                new.append(self.days.code(day))
        if not old:
            return pl.Series("on", [self.default_on] * raw.height, dtype=pl.UInt32)
        return column.replace_strict(old, new, default=self.default_on, return_dtype=pl.UInt32).alias("on")

    # -- facts already read and checked (JSON Lines, scenarios, Python callers) ------

    def from_records(self, records: Iterable[tuple[Any, date | None, Mapping[str, Any]]], first_row: int) -> CodedChunk:
        """Codes for ``(id, on, facts)`` rows whose facts are validated (dotted names,
        language values, defaults applied)."""
        ids: list[Any] = []
        days: list[int] = []
        codes: dict[str, list[int]] = {name: [] for name in self.facts}
        books = self.books
        for person, on, facts in records:
            ids.append(person)
            days.append(self.default_on if on is None else self.days.code(on))
            for name, column in codes.items():
                value = facts.get(name, MISSING_VALUE)
                column.append(MISSING if value is MISSING_VALUE else books[name].code(value))
        # no id in the chunk: a column of texts, not of nulls (a table of results holds
        # one type of id, and a later chunk's whole numbers read as texts)
        frame = pl.DataFrame([pl.Series("id", ids, dtype=None if any(i is not None for i in ids) else pl.String)]
                             + [pl.Series(fact_column(name), column, dtype=pl.UInt32) for name, column in codes.items()]
                             + [pl.Series("on", days, dtype=pl.UInt32)])
        return CodedChunk(frame, first_row)

    # -- the facts as of the evaluation date -------------------------------------------

    def as_of(self, frame: pl.DataFrame, events: Events) -> pl.DataFrame:
        """``frame`` with its fact codes as of each row's evaluation date, the rule of
        :func:`engine.sources.asof.as_of` on whole columns: an event whose known date lies
        after the date reads as none, and so does every fact describing an event that has
        not happened (dated later, none, or itself describing one that has not), given
        or not. An unknown date withdraws nothing: unknown stays unknown, none stays none."""
        if not events:
            return frame
        days = pl.Series([None] + self.days.values[1:], dtype=pl.Date).gather(frame.get_column("on"))
        later: dict[str, pl.Series] = {}  # event fact -> its known date lies after the row's date
        happened_not: dict[str, pl.Series] = {}  # event fact -> dated later, or none as given
        for name in events.dates:
            codes = frame.get_column(fact_column(name))
            later[name] = (self._dates_of(name).gather(codes) > days).fill_null(False)
            happened_not[name] = later[name] | (codes == NONE)
        describes = {fact: event for event, facts in events.described_by.items() for fact in facts}

        def withdrawn_by(event: str) -> pl.Series:
            """Whether ``event`` has not happened, or an event it describes (up the chain) has not."""
            found = happened_not[event]
            seen = {event}
            while (event := describes.get(event, "")) in happened_not and event not in seen:
                seen.add(event)
                found = found | happened_not[event]
            return found

        withdrawn: dict[str, pl.Series] = {name: mask for name, mask in later.items()}
        for fact, event in describes.items():
            if event in happened_not:
                mask = withdrawn_by(event)
                withdrawn[fact] = withdrawn[fact] | mask if fact in withdrawn else mask
        return frame.with_columns([frame.get_column(fact_column(name)).set(mask, NONE) for name, mask in withdrawn.items()
                                   if mask.any()])

    def _dates_of(self, name: str) -> pl.Series:
        """The codebook of an event fact as dates; codebooks only grow, so it is extended.
        The column the day table keeps (:meth:`dates_by_code`) where it holds."""
        by_code = self.dates_by_code(name, len(self.books[name]))
        if by_code is not None:
            return by_code
        book = self.books[name].values
        known = self._dates.get(name)
        done = 0 if known is None else len(known)
        if done < len(book):
            more = pl.Series([value if isinstance(value, date) else None for value in book[done:]], dtype=pl.Date)
            known = more if known is None else known.append(more).rechunk()  # gathered from whole
            self._dates[name] = known
        assert known is not None
        return known

    def facts_of(self, row: Mapping[str, int]) -> dict[str, Any]:
        """The facts of one coded row, as :meth:`engine.RuleSet.evaluate` takes them."""
        return {name: self.books[name].values[row[fact_column(name)]]
                for name in self.facts if row[fact_column(name)] != MISSING}




def _mapped(column: pl.Series, old: list[Any], new: list[int]) -> pl.Series:
    """``column``'s cells (each one of ``old``, or null: missing) as the codes ``new``
    gives them (:func:`engine.population.coding.coded`)."""
    return column.to_frame().select(coded(pl.col(column.name), column.dtype, old, new).fill_null(MISSING)).to_series()


def _scalar(text: Any) -> Any:
    """A CSV cell as the value a facts file would hold: JSON where it parses, else text."""
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    if stripped[:1] in ("[", "{", "\"") or stripped in ("true", "false") or _looks_numeric(stripped):
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    return text


def _looks_numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-.") and not _as_day(text)


def _as_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _nowhere(path: tuple[Any, ...], key: bool = False) -> Span:
    return Span(None, 1, 1)
