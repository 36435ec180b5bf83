"""Persons the columnar path leaves unknown, decided one by one by ``RuleSet.evaluate``.

The columnar backend (:mod:`engine.population.columnar`) decides every output of every
row, and its unknowns are those of the plan's general path: sound, and today exactly
what :meth:`engine.RuleSet.evaluate` gives. But what evaluation does with an unknown is
the facade's to decide (an output may be *exactly* decided when every value its missing
facts could take gives the same outcome), and only the whole person can say that: the
facts an unknown names may lie in another step's inputs. So every row with an unknown
public output is decided again, whole, by :meth:`PersonByPerson.evaluate_person`, the one
place that calls the facade, with the facts as given (the facade reads them as of the
evaluation date itself). Rows without an unknown are not touched: evaluation refines
unknowns only.

Limits: a person's facts are the key of a memo of bounded size (persons with the same
facts on the same date are decided once while it has room); each other person costs one
``RuleSet.evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

import polars as pl

from engine.errors import PolicyError
from engine.population.cells import MISSING, Codebook, Coder, fact_column
from engine.ruleset import Proposals, RuleSet
from engine.values import Unknown

KEPT_PERSONS = 100_000  # distinct persons' results kept for reuse (bounded memory)


@dataclass(frozen=True, slots=True)
class Failure:
    """An evaluation error (a conflict between rules) for the persons of one combination."""

    message: str


def output_column(name: str) -> str:
    return f"output:{name}"


class PersonByPerson:
    """Decides persons one at a time, with the facade, into a backend's codebooks."""

    def __init__(self, ruleset: RuleSet, proposals: Proposals, coder: Coder, public: list[str],
                 books: Mapping[str, Codebook], exact: bool = False) -> None:
        self.ruleset = ruleset
        self.exact = exact  # rows with an unknown output are decided again with the exact layer
        self.proposals = dict(proposals)  # as asked: the facade's cache of plans is keyed by them
        self.coder = coder
        self.public = public
        self.books = books
        self.keys = [fact_column(name) for name in coder.facts] + ["on"]
        self.memo: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.persons = 0  # persons decided by the facade (memo hits not counted)

    def evaluate_person(self, facts: dict[str, Any], on: date) -> dict[str, Any]:
        """Every public output of one person (facts as given, validated, defaults
        applied): its value, an :class:`Unknown`, None when not applicable."""
        result = self.ruleset.evaluate(facts, on, self.proposals, validated=True, exact=self.exact)
        return {name: decision.value if decision.status == "decided" else
                Unknown(frozenset(decision.missing)) if decision.status == "unknown" else None
                for name, decision in result.decisions.items()}

    def redecide_unknown(self, persons: pl.DataFrame, decided: pl.DataFrame) -> pl.DataFrame:
        """``decided`` (``output:NAME`` codes, rows as in ``persons``, whose fact codes are
        as given) with each row that has an unknown public output decided again whole, when
        the backend is exact (otherwise the plan's answer stands: it is
        ``RuleSet.evaluate(..., exact=False)``'s)."""
        if not self.exact:
            return decided
        unknown = []
        for name in self.public:
            codes = [code for code, value in enumerate(self.books[name].values) if type(value) is Unknown]
            if codes:
                unknown.append(pl.col(output_column(name)).is_in(codes))
        if not unknown:
            return decided
        rows = decided.select(pl.any_horizontal(unknown)).to_series().arg_true()
        if rows.is_empty():
            return decided
        found = [self._codes(person) for person in persons[rows].select(self.keys).iter_rows()]
        return decided.with_columns([
            decided.get_column(output_column(name)).scatter(rows, pl.Series([codes[i] for codes in found],
                                                                            dtype=pl.UInt32))
            for i, name in enumerate(self.public)])

    def _codes(self, person: tuple[int, ...]) -> tuple[int, ...]:
        """The public outputs' codes for one person's fact codes and date code."""
        found = self.memo.get(person)
        if found is not None:
            return found
        self.persons += 1
        books = self.coder.books
        facts = {name: books[name].values[code] for name, code in zip(self.coder.facts, person) if code != MISSING}
        try:
            values = self.evaluate_person(facts, self.coder.days.values[person[-1]])
            found = tuple(self.books[name].code(values[name]) for name in self.public)
        except PolicyError as error:
            failure = Failure(error.message)
            found = tuple(self.books[name].code(failure) for name in self.public)
        if len(self.memo) < KEPT_PERSONS:
            self.memo[person] = found
        return found


__all__ = ["Failure", "KEPT_PERSONS", "PersonByPerson", "output_column"]
