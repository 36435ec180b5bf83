"""Codes as the typed columns of the queries, and columns of values as codes.

Both ends of the columnar backend turn a column of values into codes, indexes into a
codebook that holds each distinct value once: the cells of an input file
(:mod:`engine.population.cells`) and the outputs a query computes
(:mod:`engine.population.columnar`). :func:`coded` does it for both, without hashing
each cell where the type allows it:

- a text through an enum of the texts found (its index in them);
- a categorical text through the categories' numbers;
- a date through a table over the days between the first and the last found;
- a list by the hash of each list, where the lists found hash apart (each cell is one
  of them, so its hash names it), else by the lists joined into texts;
- anything else by lookup.

The queries read typed columns gathered from the codebooks by code (:func:`gather`,
:func:`flags`). Texts are categorical in them (:data:`DTYPES`): a chain of ``when/then`` over
texts then moves small integers, not strings (ten times cheaper).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

import polars as pl

SEPARATOR = "\u241f"  # the symbol for a unit separator: no code of a country holds it

# a language type's column in the queries
DTYPES: dict[str, Any] = {"bool": pl.Boolean, "text": pl.Categorical, "date": pl.Date, "number": pl.Int64,
                          "set": pl.List(pl.Categorical), "list": pl.List(pl.Categorical)}


def coded(key: pl.Expr, dtype: Any, found: list[Any], codes: list[int]) -> pl.Expr:
    """The codes of ``key``, a column of type ``dtype`` whose distinct values (nulls
    aside) are ``found``, ``codes`` in the same order; null stays null."""
    table = pl.Series(codes, dtype=pl.UInt32)
    if isinstance(dtype, pl.List):
        hashes = pl.Series(found, dtype=dtype).hash()
        if hashes.n_unique() == len(found):
            return pl.when(key.is_null()).then(None).otherwise(
                key.hash().replace_strict(hashes, table, default=None, return_dtype=pl.UInt32))
        return key.cast(pl.List(pl.String)).list.join(SEPARATOR).replace_strict(
            [SEPARATOR.join(items) for items in found], codes, default=None, return_dtype=pl.UInt32)
    if dtype == pl.String:
        return pl.lit(table).gather(key.cast(pl.Enum(found)).to_physical())
    if dtype == pl.Categorical:
        ids = pl.Series(found, dtype=pl.Categorical).to_physical()
        if int(ids.max()) < 1 << 16:  # type: ignore[arg-type]
            dense = pl.Series([0] * (int(ids.max()) + 1), dtype=pl.UInt32).scatter(ids, table)  # type: ignore[arg-type]
            return pl.lit(dense).gather(key.to_physical())
    if dtype == pl.Date:
        days = pl.Series(found, dtype=pl.Date).to_physical()
        first, last = int(days.min()), int(days.max())  # type: ignore[arg-type]
        if last - first < 1 << 16:
            dense = pl.Series([0] * (last - first + 1), dtype=pl.UInt32).scatter(days - first, table)
            return pl.lit(dense).gather((key.to_physical() - first).cast(pl.UInt32))
    return key.replace_strict(found, codes, default=None, return_dtype=pl.UInt32)


_FIRST_DAY = date(1800, 1, 1)
_DAYS = 146_097 * 2  # four hundred years twice: 1800 to 2600
_EPOCH_DAY = (date(1970, 1, 1) - _FIRST_DAY).days  # Polars counts days from 1970


class DayCodes:
    """The codes of one codebook's dates through a table indexed by day (1800 to 2600):
    a gather, where mapping values hashes every cell; only the days new to the table
    are coded in Python, by the caller. Used for typed date cells (0 in the table: not
    coded yet; a codebook's dates have codes from 2)."""

    def __init__(self) -> None:
        self._table: pl.Series | None = None

    def codes(self, column: pl.Series, code: Callable[[pl.Series], list[int]]) -> pl.Series | None:
        """The codes of a Date ``column`` (null stays null); ``code`` gives the codes of
        days new to the table (a Date column of distinct days). None when a date lies
        outside the table's centuries (the caller codes the column another way)."""
        days = column.cast(pl.Int64) + _EPOCH_DAY
        first, last = days.min(), days.max()
        if first is not None and (first < 0 or last >= _DAYS):  # type: ignore[operator]
            return None
        table = self._table
        if table is None:
            table = pl.Series([0], dtype=pl.UInt32).extend_constant(0, _DAYS - 1)
        codes = table.gather(days)
        places = days.filter((codes == 0).fill_null(False)).unique()
        if len(places):
            table = table.scatter(places, pl.Series(code((places - _EPOCH_DAY).cast(pl.Date)), dtype=pl.UInt32))
            codes = table.gather(days)
        self._table = table
        return codes


def gather(frame: pl.DataFrame, gathers: list[pl.Expr]) -> pl.DataFrame:
    """Columns gathered from literal Series by the codes of ``frame``, in one select (run
    side by side), kept out of the queries that read them: Polars 2.1's common
    subexpression elimination took gathers of two different literal Series by the same
    codes for one (a date read as a number), so it is off here, where nothing repeats."""
    return frame.lazy().select(gathers).collect(engine="in-memory",
                                                 optimizations=pl.QueryOptFlags(comm_subexpr_elim=False))


def flags(table: pl.Series, codes: pl.Expr, name: str) -> pl.Expr:
    """A codebook's flags (a value is known, typed) gathered by code, for :func:`gather`:
    a constant where every entry of ``table`` is flagged, as in most chunks (the caller
    leaves out the entries no row has)."""
    if table.all():
        return pl.lit(True).alias(name)
    return pl.lit(table).gather(codes).alias(name)


__all__ = ["DTYPES", "DayCodes", "SEPARATOR", "coded", "flags", "gather"]
