"""Expressions of one coded column, computed once per codebook entry.

A chunk's facts arrive as codes (:mod:`engine.population.cells`): one ``UInt32`` per
cell, an index into the fact's codebook, which holds each distinct value once. An
expression that reads a single fact (``persoon.nationaliteiten`` holding a member of
the EU in one segment of time, ``inschrijving.eerste_datum + 6 months``, a birth date
as the number YYYYMMDD) or the evaluation date alone is a function of that code.
Computed over the codebook's distinct values (a few dozen to a few thousand) and
gathered by code, it costs one gather a row instead of the operation itself: list
operations, the parts of dates and month arithmetic are several times dearer than a
gather. A comparison or a test of none is cheaper than the gather, and stays in place.

:class:`Tables` collects such expressions while a translator writes the plan
(:meth:`Tables.hoisted` replaces each by a column ``TABLE:N``), computes the tables from
the typed codebook columns (:meth:`Tables.columns`) and gives the gathers that put them
in a query. The value in a row is the expression evaluated on that row's value, as
before, so every path (both queries, the step-by-step one) reads the same values; the
equality tests against ``RuleSet.evaluate`` cover it, and ``tables=False`` in the
backend turns it off for the side-by-side tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import polars as pl

from engine.population.cells import fact_column
from engine.population.expressions import ON_COLUMN

FACT_PREFIX = "value:fact:"


# operations dearer than a gather: on lists, on the parts of dates and month arithmetic,
# membership; a comparison or a test of none costs less than gathering its result
_DEAR = (".list.", ".dt.", ".is_in(", ".str.")


def _dear(expression: pl.Expr) -> bool:
    text = str(expression)
    return any(operation in text for operation in _DEAR)


def code_column(source: str) -> str:
    """The column of codes that indexes a source's codebook (a fact's, or the dates')."""
    return "on" if source == ON_COLUMN else fact_column(source[len(FACT_PREFIX):])


@dataclass
class Tables:
    """Sub-expressions reading one source column (``value:fact:NAME`` or ``value:on``),
    each named ``PREFIX-table:N`` and computed per codebook entry."""

    prefix: str
    # name -> (source column, expression over it and earlier tables of the same source)
    expressions: dict[str, tuple[str, pl.Expr]] = field(default_factory=dict)
    _by_form: dict[bytes, str] = field(default_factory=dict)
    # source -> (codebook size, the computed table columns)
    _computed: dict[str, tuple[int, pl.DataFrame]] = field(default_factory=dict)

    def hoisted(self, expression: pl.Expr, dear: bool = False) -> pl.Expr:
        """``expression``, or a table column standing for it where it reads one source
        and costs more than a gather (``dear``: known to)."""
        if expression.meta.is_column() or expression.meta.is_literal(allow_aliasing=False):
            return expression
        sources = {self.expressions[r][0] if r in self.expressions else r for r in expression.meta.root_names()}
        if len(sources) != 1:
            return expression
        (source,) = sources
        if not (source.startswith(FACT_PREFIX) or source == ON_COLUMN) or not (dear or _dear(expression)):
            return expression
        # the serialized plan, not the text: the text of a literal list is only "Series"
        text = expression.meta.serialize(format="binary")
        name = self._by_form.get(text)
        if name is None:
            name = self._by_form[text] = f"{self.prefix}-table:{len(self.expressions)}"
            self.expressions[name] = (source, expression)
        return pl.col(name)

    def used(self, read: set[str]) -> list[str]:
        """The table columns among the columns a query ``read``s, in the order they were
        made (the tables they read in turn are computed with them)."""
        return [name for name in self.expressions if name in read]

    def columns(self, wanted: list[str], typed: Callable[[str], pl.Series]) -> dict[str, pl.Series]:
        """The tables of ``wanted``, one entry per codebook entry of their source:
        ``typed(source)`` gives the source's codebook as a typed column. Computed again
        only when the codebook has grown (a later chunk brought new values)."""
        by_source: dict[str, list[str]] = {}
        for name in wanted:
            by_source.setdefault(self.expressions[name][0], []).append(name)
        found: dict[str, pl.Series] = {}
        for source, names in by_source.items():
            values = typed(source)
            cached = self._computed.get(source)
            if cached is None or cached[0] != len(values) or not set(names) <= set(cached[1].columns):
                of_source = [(n, e) for n, (s, e) in self.expressions.items() if s == source]
                lazy = pl.DataFrame([values.alias(source)]).lazy()
                for name, expression in of_source:  # a table may read the tables before it
                    lazy = lazy.with_columns(expression.alias(name))
                table = lazy.drop(source).collect(engine="in-memory")
                cached = self._computed[source] = (len(values), table)
            for name in names:
                found[name] = cached[1].get_column(name)
        return found

    def gathers(self, wanted: list[str], typed: Callable[[str], pl.Series]) -> list[pl.Expr]:
        """The tables of ``wanted`` gathered by a chunk's codes, as expressions for
        :func:`engine.population.expressions.gather`."""
        return [pl.lit(table).gather(pl.col(code_column(self.expressions[name][0]))).alias(name)
                for name, table in self.columns(wanted, typed).items()]


__all__ = ["Tables", "code_column"]
