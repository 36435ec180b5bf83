"""The columnar backend: the plan executed over whole columns of persons.

Persons arrive as columns of codes (:mod:`engine.population.cells`). The backend walks
the plan's outputs in dependency order, grouped in *steps* (outputs whose rules read the
same inputs), and decides each row in one of two ways:

- **Polars expressions** (:mod:`engine.population.expressions`): where every input of a
  step is known for a row, the plan walk is a chain of ``when/then`` over typed columns.
  The whole plan runs as one query (:meth:`ColumnarBackend.run`) over the rows that lack
  no fact a step reads;
- **Polars expressions over values and unknowns** (:mod:`engine.population.kleene`): the
  rows that lack one run through a second query (collected beside the first) in which
  every value has a mask of the facts it misses, and rules and outputs are the general
  path's sets of possible outcomes: unknowns with their missing facts, and outputs
  decided because every possibility agrees, come out as ``RuleSet.evaluate`` gives them;
- **per combination**: the rows neither query settles (a conflict, an escape, an input
  that is an evaluation error, an expression not translated) are taken step by step
  (:meth:`ColumnarBackend._decide`): each step settles with Polars the rows whose inputs
  to it are known, and groups the others by the distinct combination of the step's input
  codes; each combination not seen before in the run is decided once by the plan's own
  code (:class:`engine.evaluation.general.Evaluation` with the generated functions: what
  :meth:`engine.RuleSet.evaluate` runs).

Before any, the facts are read as of each row's evaluation date (:meth:`Coder.as_of`,
the rule ``RuleSet.evaluate`` applies). With ``exact``, each row left with an unknown
public output is decided again whole by ``RuleSet.evaluate(..., exact=True)``
(:meth:`engine.population.persons.PersonByPerson.redecide_unknown`), which alone says
what becomes of an unknown there.

A person's output depends only on the evaluation date and the inputs of the rules that
set it (the plan's tree for that output), which is what makes the combination a complete
key. Tests compare every row with ``RuleSet.evaluate``, and each of the three ways with
the others (``translate`` and ``unknowns`` turn the queries off). An impact
(:meth:`ColumnarBackend.run_beside`) runs the first query only: its rows with a missing
fact go per combination.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from engine.errors import PolicyError
from engine.evaluation.general import Evaluation
from engine.population.cells import MISSING, MISSING_VALUE, NONE, Codebook, Coder, CodedChunk, fact_column
from engine.population.coding import DTYPES, coded, flags, gather
from engine.population.expressions import (ON_COLUMN, OutputExpression, Translator, Unsupported, collect, in_layers,
                                          value_column)
from engine.population.kleene import UnknownPass, fact_bits
from engine.population.persons import Failure, PersonByPerson, output_column
from engine.population.steps import Step, steps_of, with_borrowed_bindings
from engine.population.tables import Tables
from engine.ruleset import Proposals, RuleSet
from engine.values import Unknown


class ColumnarBackend:
    """One rule set with one choice of proposals, over the chunks of one run.

    The memo of decided combinations lives as long as the backend: later chunks reuse
    what earlier ones decided.
    """

    def __init__(self, ruleset: RuleSet, proposals: Proposals, coder: Coder, translate: bool = True,
                 base: "ColumnarBackend | None" = None, exact: bool = False, unknowns: bool = True,
                 tables: bool = True) -> None:
        if proposals:
            ruleset.check_proposals(proposals)
        self.ruleset = ruleset
        self.program = ruleset.program(dict(proposals))
        self.plan = self.program.plan
        self.proposals = dict(self.plan.proposals)
        self.coder = coder
        self.public = list(ruleset.public_outputs)
        self.steps = steps_of(ruleset, self.plan, self.public)
        self.books: dict[str, Codebook] = {o: Codebook() for o in self.public}
        self.books.update({o: Codebook() for step in self.steps for o in step.outputs})
        # beside a base of the same rule set (an impact): only what the proposals change
        # is decided again; the rest is the base's, codebooks included
        self.base = base
        self.changed: frozenset[str] = frozenset()
        if base is not None:
            changed: set[str] = {o for o in set(self.plan.outputs) | set(base.plan.outputs)
                                 if self.plan.outputs.get(o) != base.plan.outputs.get(o)}
            for step in self.steps:
                if set(step.outputs) & changed or set(step.inputs) & changed:
                    changed.update(step.outputs)
            self.changed = frozenset(changed)
            self.steps = [step for step in self.steps if set(step.outputs) & changed]
            for output in self.books:
                if output not in changed and output in base.books:
                    self.books[output] = base.books[output]
        self.side = "output" if base is None else "variant"
        # no rule of this plan sets them: not applicable
        self.unset = [o for o in self.public if o not in self.plan.outputs]
        produced = {o for step in self.steps for o in step.outputs}
        self.absent = sorted({i for step in self.steps for i in step.inputs
                              if i not in produced and (base is None or i in self.changed)})
        self.books.update({o: Codebook() for o in self.absent if o not in self.books})
        self.persons = PersonByPerson(ruleset, proposals, coder, self.public, self.books, exact)
        self.evaluations = 0  # plan evaluations made: the distinct combinations decided
        self.columnar_rows = 0  # rows x steps decided by Polars expressions
        self.combination_rows = 0  # rows x steps decided per combination
        self._typed: dict[tuple[str, str], tuple[int, pl.Series, pl.Series]] = {}
        self.translated = False  # every step as Polars expressions: the whole query can run
        self._layered: list[list[pl.Expr]] | None = None
        self._read_columns: set[str] | None = None
        # expressions of one fact (or of the date) computed per codebook entry
        self.tables = Tables(self.side) if tables else None
        if translate:
            translator = Translator(self.plan, ruleset.vocabulary, self.side, self.changed, tables=self.tables)
            self.translated = True
            for step in self.steps:
                translator.bindings = []
                bound, forms = dict(translator.bound), dict(translator.forms)
                try:
                    step.expressions = {o: translator.output(o) for o in step.outputs}
                    step.bindings = translator.bindings
                except Unsupported:
                    step.expressions = None
                    self.translated = False
                    translator.bound, translator.forms = bound, forms  # what this step bound is dropped with it
            with_borrowed_bindings(self.steps)
        # the rows with missing facts, settled in Polars too (engine.population.kleene)
        # built when a chunk first needs it (a population with every fact, the base of an
        # impact: never); one bit per fact in its masks
        self.unknowns = self.translated and base is None and unknowns
        self._unknown_pass: UnknownPass | None = None
        self.unknown_rows = 0  # rows settled by it

    def _unknown_query(self, lacking: frozenset[str]) -> UnknownPass | None:
        """The query over values and unknowns for rows that may lack the facts of
        ``lacking`` (and no other): built for the facts any chunk so far lacked, so that
        the masks of the facts no row lacks are left out of it, and a mask has a bit
        for each fact that is lacked, not for each of the vocabulary. None where more
        facts are lacked than a mask has bits (those rows go step by step)."""
        if not self.unknowns:
            return None
        built = self._unknown_pass
        if built is not None and lacking <= built.lacking:
            return built
        bits = fact_bits(sorted(lacking | (built.lacking if built is not None else frozenset())))
        if bits is None:
            return None
        try:
            self._unknown_pass = UnknownPass(self, bits)
        except Unsupported:
            self.unknowns = False
            self._unknown_pass = None
        return self._unknown_pass

    def run(self, chunk: CodedChunk) -> pl.DataFrame:
        """``id`` and one ``output:NAME`` column of codes per public output.

        Every step at once, as one Polars query over typed columns, for the rows that
        lack no fact a step reads; the rows that lack one through the query over values
        and unknowns; the rows neither settles are decided step by step
        (:meth:`_decide`), where each step again uses Polars for the rows it can settle
        and the plan's own code for the combinations it cannot."""
        assert self.base is None, "a variant beside a base runs with run_beside"
        frame = self.coder.as_of(chunk.frame, self.ruleset.events)
        wanted = [output_column(o) for o in self.public]
        if not self.translated:
            decided = self._stepwise(frame).select(wanted)
        else:
            lacking, facts = self._lacking(frame)
            unknown = self._unknown_query(facts) if facts else None
            if unknown is None or lacking is None:
                settled, decided = self._whole(frame)
                rest = (~settled).arg_true()
            else:
                decided, rest = self._both_queries(frame, lacking, unknown)
            self.columnar_rows += (frame.height - len(rest)) * len(self.steps)
            if len(rest):
                others = self._stepwise(frame[rest])
                decided = decided.with_columns([decided.get_column(c).scatter(rest, others.get_column(c))
                                                for c in wanted])
        decided = self.persons.redecide_unknown(chunk.frame, decided.select(wanted))
        return pl.concat([frame.select("id"), decided], how="horizontal")

    def expect_lacking(self, facts: frozenset[str]) -> None:
        """Builds the query over unknowns for rows lacking ``facts`` (those some step
        reads) before a chunk needs it: a run's first chunk is coded meanwhile
        (:func:`engine.population.io.lacking_at_start`). Only a guess: a chunk that lacks
        more builds it again, as it would have."""
        read = facts & self._facts_read()
        if read:
            self._unknown_query(read)

    def _facts_read(self) -> frozenset[str]:
        return frozenset(f for step in self.steps for f in step.facts)

    def _lacking(self, frame: pl.DataFrame) -> tuple[pl.Series | None, frozenset[str]]:
        """Which rows lack a fact some step reads, and the facts some row lacks."""
        read = sorted(self._facts_read())
        if not self.unknowns or not read:
            return None, frozenset()
        missing = frame.select([pl.col(fact_column(f)) == MISSING for f in read])
        facts = frozenset(f for f, some in zip(read, missing.select(pl.all().any()).row(0)) if some)
        return missing.select(pl.any_horizontal(pl.all())).to_series(), facts

    def _both_queries(self, frame: pl.DataFrame, lacking: pl.Series,
                      unknown: UnknownPass) -> tuple[pl.DataFrame, pl.Series]:
        """The public codes of every row of ``frame``, and the rows left unsettled: the
        rows with every fact through the query over known inputs, the others through
        the query over values and unknowns. The two queries run side by side in one
        ``collect_all`` (the two cores of a machine, and one call into Polars)."""
        complete, lacks = (~lacking).arg_true(), lacking.arg_true()
        queries = [unknown.query(frame[lacks])]
        if len(complete):
            queries.append(self._whole_query(frame[complete], complete=True))
        results = pl.collect_all(queries, engine="in-memory")
        known, found = unknown.decoded(results[0], len(lacks))
        self.unknown_rows += int(known.sum())
        if not len(complete):
            return found, (~known).arg_true()
        # the two parts one after the other, then back in the chunk's order: one gather
        # of the whole frame by the inverse of that order
        codes = self._codes(results[1], len(complete))
        parts = pl.concat([found.with_columns(known.alias("settled")),
                           codes.with_columns(results[1].get_column("settled"))], how="vertical")
        decided = parts.select(pl.all().gather(pl.concat([lacks, complete]).arg_sort()))
        return decided.drop("settled"), (~decided.get_column("settled")).arg_true()

    def _stepwise(self, frame: pl.DataFrame) -> pl.DataFrame:
        # outputs that rules read but no rule of this plan sets: not applicable
        frame = frame.with_columns([pl.lit(NONE, dtype=pl.UInt32).alias(output_column(o)) for o in self.absent])
        for step in self.steps:
            frame = self._decide(step, frame)
        return frame.with_columns([pl.lit(NONE, dtype=pl.UInt32).alias(output_column(o)) for o in self.unset])

    def _typed_output(self, output: str, value: pl.Expr) -> pl.Expr:
        dtype = DTYPES.get(self.ruleset.vocabulary.names[output].type.name)
        return value if dtype is None else value.cast(dtype)

    def _settled(self, output: str) -> str:
        return f"settled:{self.side}:{output}" if output in self.changed else f"settled:{output}"

    def _layers(self) -> list[list[pl.Expr]]:
        """Every binding, output value and settled flag of the whole query, in layers of
        columns that do not read each other: one ``with_columns`` per layer, so Polars
        computes a layer's columns in parallel and the plan has few nodes."""
        if self._layered is not None:
            return self._layered
        named: list[tuple[str, pl.Expr]] = []
        for step in self.steps:
            assert step.expressions is not None
            named.extend(step.bindings)
            settled = [pl.col(f"known:{f}") for f in step.facts] + [pl.col(self._settled(o)) for o in step.inputs]
            settled.append(~pl.any_horizontal([e.escape for e in step.expressions.values()]))
            # each output's column in its declared type: a value that is none in every row
            # (a version setting null) is otherwise typed Null, which list operations refuse
            named.extend((self._column_of("output", o), self._typed_output(o, e.value)) for o, e in step.expressions.items())
            named.extend((self._settled(o), pl.all_horizontal(settled)) for o in step.outputs)
        self._layered = in_layers(named)  # a binding borrowed by a later step: computed once
        return self._layered

    def source_table(self, source: str) -> pl.Series:
        """The typed codebook of a table's source: a fact's, or the evaluation dates'."""
        if source == ON_COLUMN:
            return pl.Series(ON_COLUMN, [None] + self.coder.days.values[1:], dtype=pl.Date)
        return self._typed_table("fact", source[len("value:fact:"):])[0]

    def _read(self) -> set[str]:
        """The columns the whole query reads."""
        if self._read_columns is None:
            self._read_columns = _read_by([e for layer in self._layers() for e in layer])
        return self._read_columns

    def table_gathers(self) -> list[pl.Expr]:
        """The tables the whole query reads, gathered by a chunk's codes."""
        if self.tables is None:
            return []
        return self.tables.gathers(self.tables.used(self._read()), self.source_table)

    def _inputs(self, frame: pl.DataFrame, beside: "ColumnarBackend | None" = None,
                complete: bool = False) -> pl.LazyFrame:
        """The typed fact columns, their known flags, the dates and the tables of a
        chunk (and those a variant ``beside`` it reads too), gathered by its codes;
        ``complete``: no row lacks a fact a step reads."""
        gathers: list[pl.Expr] = []
        known: list[pl.Expr] = []
        read = self._read() | (beside._read() if beside is not None else set())
        for name in self.coder.facts:
            codes = pl.col(fact_column(name))
            values, ok = self._typed_table("fact", name)
            if value_column("fact", name) in read:  # else read only through its tables
                gathers.append(pl.lit(values).gather(codes).alias(value_column("fact", name)))
            # (code MISSING, 0, is never known; in complete rows no code read is MISSING)
            known.append(flags(ok.slice(1) if complete else ok, codes, f"known:{name}"))
        gathers.append(pl.lit(self.source_table(ON_COLUMN)).gather(pl.col("on")).alias(ON_COLUMN))
        absent: list[pl.Series] = []
        for output in self.absent:  # read, but set by no rule: none, and settled
            dtype = DTYPES.get(self.ruleset.vocabulary.names[output].type.name, pl.Object)
            absent.append(pl.Series(self._column_of("output", output), [None] * frame.height, dtype=dtype))
            absent.append(pl.Series(self._settled(output), [True] * frame.height, dtype=pl.Boolean))
        inputs = gather(frame, gathers + known + self.table_gathers() + (beside.table_gathers() if beside else []))
        return (inputs.hstack(absent) if absent else inputs).lazy()

    def _query(self, lazy: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.Expr, list[str]]:
        """``lazy`` with this backend's layers; whether a row is settled; the public
        outputs it decides (as typed columns)."""
        for layer in self._layers():
            lazy = lazy.with_columns(layer)
        every = pl.all_horizontal([pl.col(self._settled(o)) for step in self.steps for o in step.outputs] or [True])
        decided = {o for step in self.steps for o in step.outputs}
        return lazy, every, [o for o in self.public if o in decided]

    def _whole(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
        """Every step as one query: which rows it settles, and their public codes."""
        result = collect(self._whole_query(frame))
        return result.get_column("settled"), self._codes(result, frame.height)

    def _whole_query(self, frame: pl.DataFrame, complete: bool = False) -> pl.LazyFrame:
        lazy, every, public = self._query(self._inputs(frame, complete=complete))
        return lazy.select([every.alias("settled")] + [pl.col(self._column_of("output", o)) for o in public])

    def _codes(self, result: pl.DataFrame, height: int) -> pl.DataFrame:
        """The public outputs' codes from a query's typed columns (not applicable where
        no rule of this plan sets one)."""
        wanted = [o for o in self.public if self.base is None or o in self.changed]  # else the base's codes
        present = {o: self._column_of("output", o) for o in wanted if self._column_of("output", o) in result.columns}
        encoded = self._encoded(result, present)
        columns = [encoded.get_column(output_column(o)) if o in present
                   else pl.Series(output_column(o), [NONE] * height, dtype=pl.UInt32) for o in wanted]
        return pl.DataFrame(columns)

    def run_beside(self, chunk: CodedChunk) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The base's and this variant's codes for a chunk, from one query: the outputs
        the proposals do not change are computed once, for both."""
        base = self.base
        assert base is not None
        frame = self.coder.as_of(chunk.frame, self.ruleset.events)
        if not (self.translated and base.translated):
            decided = base.run(chunk)
            after = self._variant_of(decided, self._stepwise(base._stepwise(frame)))
            after = self.persons.redecide_unknown(chunk.frame, after)
            return decided, pl.concat([chunk.frame.select("id"), after], how="horizontal")
        lazy, base_every, base_public = base._query(base._inputs(frame, beside=self))
        lazy, every, public = self._query(lazy)
        result = collect(lazy.select([base_every.alias("base"), (base_every & every).alias("variant")]
                             + [pl.col(base._column_of("output", o)) for o in base_public]
                             + [pl.col(self._column_of("output", o)) for o in public]))
        before = base._codes(result, frame.height)
        after = self._variant_of(before, self._codes(result, frame.height))
        rest = (~result.get_column("variant")).arg_true()
        base.columnar_rows += (frame.height - len(rest)) * len(base.steps)
        if len(rest):
            full = base._stepwise(frame[rest])
            wanted = [output_column(o) for o in self.public]
            before = before.with_columns([before.get_column(c).scatter(rest, full.get_column(c)) for c in wanted])
            others = self._variant_of(full, self._stepwise(full))
            after = after.with_columns([after.get_column(c).scatter(rest, others.get_column(c)) for c in wanted])
        before = base.persons.redecide_unknown(chunk.frame, before)
        after = self.persons.redecide_unknown(chunk.frame, after)
        ids = frame.select("id")
        return pl.concat([ids, before], how="horizontal"), pl.concat([ids, after], how="horizontal")

    def _variant_of(self, before: pl.DataFrame, changed: pl.DataFrame) -> pl.DataFrame:
        """Public codes of the variant: its own for the outputs it changes, else the base's."""
        return pl.DataFrame([(changed if o in self.changed else before).get_column(output_column(o))
                             for o in self.public])

    def _decide(self, step: Step, frame: pl.DataFrame) -> pl.DataFrame:
        if step.expressions is None or frame.height == 0:
            self.combination_rows += frame.height
            return self._by_combination(step, frame)
        columns: list[pl.Series] = []
        known: list[pl.Series] = []
        for kind, names in (("fact", step.facts), ("output", step.inputs)):
            for name in names:
                codes = frame.get_column(fact_column(name) if kind == "fact" else output_column(name))
                values, ok = self._typed_table(kind, name)
                columns.append(values.gather(codes).alias(self._column_of(kind, name)))
                known.append(ok.gather(codes))
        days = pl.Series(ON_COLUMN, [None] + self.coder.days.values[1:], dtype=pl.Date)
        columns.append(days.gather(frame.get_column("on")).alias(ON_COLUMN))
        expressions = step.expressions
        typed = pl.DataFrame(columns)
        if self.tables is not None:
            read = [e.value for e in expressions.values()] + [e.escape for e in expressions.values()]
            read += [e for _, e in step.bindings]
            tables = self.tables.gathers(self.tables.used(_read_by(read)), self.source_table)
            if tables:
                typed = typed.hstack(gather(frame, tables))
        # lazily, so that Polars evaluates the subexpressions a plan walk repeats (a
        # rule's condition in each branch that reads it) once
        lazy = typed.lazy()
        for name, expression in step.bindings:
            lazy = lazy.with_columns(expression.alias(name))
        computed = collect(lazy.select(
            [e.value.alias(o) for o, e in expressions.items()]
            + [pl.any_horizontal([e.escape for e in expressions.values()]).alias("escape")]))
        settled = ~computed.get_column("escape")
        for ok in known:
            settled = settled & ok
        encoded = self._encoded(computed, {o: o for o in step.outputs})
        decided = {o: encoded.get_column(output_column(o)) for o in step.outputs}
        rest = (~settled).arg_true()
        self.columnar_rows += frame.height - len(rest)
        self.combination_rows += len(rest)
        if len(rest):
            others = self._by_combination(step, frame[rest])
            for o in step.outputs:
                decided[o] = decided[o].scatter(rest, others.get_column(output_column(o)))
        return frame.with_columns([decided[o].alias(output_column(o)) for o in step.outputs])

    def _column_of(self, kind: str, name: str) -> str:
        """The typed column an expression of this backend reads for a fact or output."""
        if kind == "output" and name in self.changed:
            return value_column(self.side, name)
        return value_column(kind, name)

    def _typed_table(self, kind: str, name: str) -> tuple[pl.Series, pl.Series]:
        """A codebook as a typed column (null for none) and which codes are known values;
        codebooks only grow, so a later chunk converts only the values new to it."""
        book = (self.coder.books if kind == "fact" else self.books)[name]
        cached = self._typed.get((kind, name))
        done = 0 if cached is None else cached[0]
        size = len(book)  # once: the reader of the next chunk may be adding to it (io.ReadAhead)
        if done == size and cached is not None:
            return cached[1], cached[2]
        type_name = self.ruleset.vocabulary.names[name].type.name
        dates = self.coder.dates_by_code(name, size) if kind == "fact" and type_name == "date" else None
        if dates is not None:  # built by the coder from day numbers: no Python per date
            known = pl.Series([False, True], dtype=pl.Boolean).extend_constant(True, size - 2).rechunk()
            self._typed[(kind, name)] = (size, dates, known)
            return dates, known
        values: list[Any] = []
        ok: list[bool] = []
        for value in book.values[done:size]:
            converted, fits = _typed_value(value, type_name)
            values.append(converted)
            ok.append(fits)
        series = pl.Series(values, dtype=DTYPES.get(type_name, pl.Object))
        known = pl.Series(ok, dtype=pl.Boolean)
        if cached is not None:
            # one chunk of memory: a gather from a table in pieces costs twice as much
            series, known = cached[1].append(series).rechunk(), cached[2].append(known).rechunk()
        self._typed[(kind, name)] = (size, series, known)
        return series, known

    def _encoded(self, frame: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
        """The codes of outputs (output -> its column of ``frame``), named by
        :func:`output_column`: the distinct values of every column in one select, then
        every column coded in another (one query each, run side by side, rather than a
        few Series operations per output)."""
        keys: dict[str, pl.Expr] = {}
        truth: dict[str, pl.Expr] = {}
        for output, column in columns.items():
            dtype = frame.schema[column]
            if dtype == pl.Boolean and self.ruleset.vocabulary.names[output].type.name != "number":
                truth[output] = pl.col(column)  # a gather by truth: no hashing of every cell
            else:
                keys[output] = pl.col(column)
        distinct = frame.select([key.drop_nulls().unique().implode().alias(o) for o, key in keys.items()]).row(0) \
            if keys else ()
        codes: list[pl.Expr] = []
        for output, values in truth.items():
            book = self.books[output]
            table = pl.Series([book.code(False), book.code(True)], dtype=pl.UInt32)
            codes.append(pl.lit(table).gather(values.cast(pl.UInt32)).fill_null(NONE).alias(output_column(output)))
        for (output, key), found in zip(keys.items(), distinct):
            if not found:
                codes.append(pl.repeat(NONE, frame.height, dtype=pl.UInt32).alias(output_column(output)))
                continue
            book = self.books[output]
            as_set = self.plan.outputs[output].as_set or self.ruleset.vocabulary.names[output].type.name == "set"
            if isinstance(frame.schema[columns[output]], pl.List):
                new = [book.code(frozenset(items) if as_set else tuple(items)) for items in found]
            elif self.ruleset.vocabulary.names[output].type.name == "number":
                new = [book.code(Decimal(v)) for v in found]
            else:
                new = [book.code(v) for v in found]
            codes.append(coded(key, frame.schema[columns[output]], found, new).fill_null(NONE)
                         .alias(output_column(output)))
        return gather(frame, codes) if codes else pl.DataFrame()

    def _by_combination(self, step: Step, frame: pl.DataFrame) -> pl.DataFrame:
        # a variant beside its base finds the base's codes for the outputs it redecides
        frame = frame.drop([output_column(o) for o in step.outputs], strict=False)
        keys = step.keys
        combinations = frame.select(keys).unique()
        memo = step.memo
        found: list[tuple[int, ...]] = []
        for combination in combinations.iter_rows():
            codes = memo.get(combination)
            if codes is None:
                codes = memo[combination] = self._evaluate(step, combination)
            found.append(codes)
        decided = combinations.with_columns(
            [pl.Series(output_column(o), [codes[i] for codes in found], dtype=pl.UInt32)
             for i, o in enumerate(step.outputs)])
        if len(keys) == 1:
            column = frame.get_column(keys[0])
            return frame.with_columns(
                [column.replace_strict(decided.get_column(keys[0]), decided.get_column(output_column(o)),
                                       return_dtype=pl.UInt32).alias(output_column(o)) for o in step.outputs])
        return frame.join(decided, on=keys, how="left", maintain_order="left")

    def _evaluate(self, step: Step, combination: tuple[int, ...]) -> tuple[int, ...]:
        """The codes of ``step``'s outputs for one combination of input codes."""
        self.evaluations += 1
        books = self.coder.books
        facts: dict[str, Any] = {}
        for name, code in zip(step.facts, combination):
            if code != MISSING:
                facts[name] = books[name].values[code]
        values: dict[str, Any] = {}
        offset = len(step.facts)
        for name, code in zip(step.inputs, combination[offset:]):
            value = self.books[name].values[code]
            if type(value) is Failure:
                return tuple(self.books[o].code(value) for o in step.outputs)
            values[name] = value
        on: date = self.coder.days.values[combination[-1]]
        evaluation = Evaluation(self.plan, facts, on, self.program)
        evaluation.values.update(values)
        try:
            return tuple(self.books[o].code(evaluation.value_of(o)) for o in step.outputs)
        except PolicyError as error:
            failure = Failure(error.message)
            return tuple(self.books[o].code(failure) for o in step.outputs)

    # -- reading the codes ------------------------------------------------------

    def value(self, output: str, code: int) -> Any:
        return self.books[output].values[code]

    def failures(self, decided: pl.DataFrame) -> dict[int, str]:
        """Row (0-based, in ``decided``) -> the message of its evaluation error."""
        found: dict[int, str] = {}
        for output in self.public:
            book = self.books[output].values
            bad = [code for code, value in enumerate(book) if type(value) is Failure]
            if bad:
                rows = decided.get_column(output_column(output)).is_in(bad).arg_true().to_list()
                for row in rows:
                    code = decided.get_column(output_column(output))[row]
                    found.setdefault(row, book[code].message)
        return found


def _read_by(expressions: list[pl.Expr]) -> set[str]:
    """The columns ``expressions`` read."""
    return {r for e in expressions for r in e.meta.root_names()}


def _typed_value(value: Any, type_name: str) -> tuple[Any, bool]:
    """A language value as the Polars columns hold it, and whether it is a known value
    they can hold (unknowns, failures, fractional numbers are not)."""
    if value is None:
        return None, True
    if value is MISSING_VALUE or type(value) in (Unknown, Failure) or type_name not in DTYPES:
        return None, False
    if type_name == "number":
        if value != value.to_integral_value() or abs(value) >= 2 ** 62:
            return None, False
        return int(value), True
    if type_name in ("set", "list"):
        if not all(isinstance(item, str) for item in value):
            return None, False
        return (sorted(value) if isinstance(value, frozenset) else list(value)), True
    return value, True


def state_of(value: Any) -> str:
    """``decided``, ``unknown`` or ``not_applicable``, as a :class:`engine.ruleset.Decision` says."""
    if type(value) is Unknown:
        return "unknown"
    return "not_applicable" if value is None else "decided"


__all__ = ["ColumnarBackend", "Failure", "MISSING", "NONE", "Step", "output_column", "state_of",
           "steps_of"]
