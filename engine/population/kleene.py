"""The plan as Polars expressions over values *and* unknowns: rows with missing facts.

:mod:`engine.population.expressions` settles the rows whose inputs are all known. This
module settles, in the same columnar way, the rows where facts are missing, so that a
population in which many persons lack a fact or two is not decided person by person.
Each expression becomes a pair of columns: its value (null for none) and a *mask*, a
``UInt64`` with one bit per fact that some row of the run lacks (:func:`fact_bits`;
a fact no row lacks has no mask: zero, left out of the query), zero when the
value is known and otherwise the missing facts an :class:`engine.values.Unknown` would
name. It follows :mod:`engine.language.closures` and :mod:`engine.evaluation.general`
exactly:

- an operation with an unknown operand is unknown, naming the union of the operands'
  missing facts; ``and``/``or`` decide despite an unknown when a known operand decides;
  ``if`` with an unknown test is known when both branches are known and equal; ``is
  known``/``is unknown`` read the mask; the value of an expression is only read where
  its mask is zero;
- a rule and an output are *possible outcomes* (:class:`engine.evaluation.outcomes.Outcome`)
  reduced to five columns (:class:`_Outcome`): whether "nothing applies" is possible
  (``open``), whether a value is (``has``), whether more than one value or an unknown
  value is (``vague``), that value, and the missing facts. ``fall_back`` (groups and
  exceptions) and ``either`` (siblings) combine them as the general path does, so an
  output every possibility agrees on is decided, and an unknown names the same facts.

What it cannot settle exactly it leaves: the rows flagged in an output's *escape*
(a conflict between definite siblings, a birth after the date of an age, an unknown
that would name no fact) and the rows whose inputs are neither known values nor
missing facts (an evaluation error upstream, a fractional number) go to the
per-combination path of :mod:`engine.population.columnar`. A run whose rows lack more
than 64 distinct facts has no masks: its rows with a missing fact then take that path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from typing import TYPE_CHECKING, Any

import polars as pl

from engine.evaluation.plan import Branch, Group, RulePlan
from engine.language import nodes as n
from engine.language.semantics import kind_of_name
from engine.population.cells import MISSING, NONE, fact_column
from engine.population.expressions import (ON_COLUMN, Translator, Unsupported, collect, _literal, _truth, in_layers,
                                           value_column)
from engine.population.coding import DTYPES, flags, gather
from engine.population.persons import output_column
from engine.population.tables import Tables
from engine.values import Unknown

if TYPE_CHECKING:
    from engine.population.columnar import ColumnarBackend

ZERO = pl.lit(0, dtype=pl.UInt64)
MASK_BITS = 64
DENSE_MASKS = 1 << 16  # masks below it are decoded through a table indexed by mask


def mask_column(kind: str, name: str) -> str:
    return f"mask:{kind}:{name}"


def fact_bits(facts: list[str]) -> dict[str, int] | None:
    """Each fact's bit in a mask, or None when the facts do not fit in one (the facts
    some row of a run lacks, not the vocabulary's)."""
    if len(facts) > MASK_BITS:
        return None
    return {name: 1 << index for index, name in enumerate(facts)}


def missing_of(mask: int, bits: dict[str, int]) -> frozenset[str]:
    """The facts a mask names."""
    return frozenset(name for name, bit in bits.items() if mask & bit)


@dataclass
class _Outcome:
    """The possible outcomes of a rule or output, as columns of one row each."""

    open: pl.Expr  # "no rule gives a value" is possible
    has: pl.Expr  # some value is possible
    vague: pl.Expr  # more than one value, or a value that is itself unknown
    value: pl.Expr  # the value, when ``has`` and not ``vague``
    mask: pl.Expr  # the missing facts joined so far
    # no fact it reads can be missing in these rows: ``open`` is ``~has``, ``vague``
    # false and the mask zero in every row, so only ``has`` and ``value`` are computed
    certain: bool = False


_NOTHING = _Outcome(pl.lit(True), pl.lit(False), pl.lit(False), pl.lit(None), ZERO, certain=True)


def _certain(has: pl.Expr, value: pl.Expr) -> _Outcome:
    return _Outcome(~has, has, pl.lit(False), value, ZERO, certain=True)


@dataclass
class UnknownOutput:
    """An output's value (null: none, not applicable or unknown), its mask (zero unless
    unknown) and the rows this module cannot settle."""

    value: pl.Expr
    mask: pl.Expr
    escape: pl.Expr


@dataclass
class KleeneTranslator(Translator):
    """Writes outputs as value and mask columns (reads ``value:KIND:NAME`` and
    ``mask:KIND:NAME``); its bindings are named apart from :class:`Translator`'s."""

    reference_masks: dict[str, pl.Expr] = field(default_factory=dict)
    # the facts that may be missing in the rows (None: any): the mask of any other is
    # zero in every row, and so is the mask of an expression reading only such facts,
    # which is then left out of the query (the literal ``ZERO`` itself stands for it)
    lacking: frozenset[str] | None = None
    # outputs whose mask is zero in every row (:meth:`unknown_output` found it so)
    certain: set[str] = field(default_factory=set)

    def _bind(self, expression: pl.Expr) -> pl.Expr:
        expression = self._tabled(expression)
        if expression.meta.is_column() or expression.meta.is_literal(allow_aliasing=False):
            return expression  # a column of its own would only copy it, and the query plans slower
        return self._named(expression, "unknown")

    # -- one output ----------------------------------------------------------------

    def unknown_output(self, name: str) -> UnknownOutput:
        self.escapes = []
        found = self._outcome_of(self.plan.outputs[name].groups, name)
        if found.certain:
            self.certain.add(name)
            value = self._bind(pl.when(found.has).then(found.value).otherwise(None))
            escape = pl.any_horizontal(self.escapes).fill_null(True) if self.escapes else pl.lit(False)
            return UnknownOutput(value, ZERO, self._bind(escape))
        unknown = self._bind(found.vague | (found.has & found.open))
        value = self._bind(pl.when(found.has & ~found.open & ~found.vague).then(found.value).otherwise(None))
        mask = self._bind(pl.when(unknown).then(found.mask).otherwise(ZERO))
        # an unknown naming no fact, and an outcome with no possibility, are not the
        # general path's: left to it
        escapes = self.escapes + [unknown & (found.mask == 0), ~found.has & ~found.open & ~found.vague]
        return UnknownOutput(value, mask, self._bind(pl.any_horizontal(escapes).fill_null(True)))

    def _outcome_of(self, groups: tuple[Group, ...], output: str) -> _Outcome:
        """``_first_of``: each group falls back on the next while nothing may apply."""
        result: _Outcome | None = None
        for group in groups:
            current = self._branch_outcome(group[0], output) if len(group) == 1 else self._either(group, output)
            result = current if result is None else self._fall_back(result, current)
        return result if result is not None else _NOTHING

    def _branch_outcome(self, branch: Branch, output: str) -> _Outcome:
        own = self._own_outcome(branch.rule, output)
        if not branch.exceptions:
            return own
        return self._fall_back(self._outcome_of(branch.exceptions, output), own)

    def _fall_back(self, first: _Outcome, second: _Outcome) -> _Outcome:
        """:func:`engine.evaluation.outcomes.fall_back`."""
        if first.certain and second.certain:
            has = self._bind(first.has | second.has)
            return _certain(has, self._bind(pl.when(first.has).then(first.value).otherwise(second.value)))
        only_empty = first.open & ~first.has & ~first.vague
        differ = first.has & second.has & ~first.value.eq_missing(second.value)
        return _Outcome(
            self._bind(first.open & second.open),
            self._bind(pl.when(first.open).then(first.has | second.has).otherwise(first.has)),
            self._bind(pl.when(first.open).then(first.vague | second.vague | differ).otherwise(first.vague)),
            self._bind(pl.when(first.has | ~first.open).then(first.value).otherwise(second.value)),
            self._bind(ZERO if first.mask is ZERO and second.mask is ZERO else
                       pl.when(~first.open).then(first.mask).when(only_empty).then(second.mask)
                       .otherwise(first.mask | second.mask)))

    def _either(self, group: Group, output: str) -> _Outcome:
        """:func:`engine.evaluation.outcomes.either`, and the conflict between siblings
        that are decided and disagree (an escape: the general path reports it)."""
        outcomes = [self._branch_outcome(branch, output) for branch in group]
        definite = [o.has & ~o.vague & ~o.open for o in outcomes]
        differ: list[pl.Expr] = []
        for i, first in enumerate(outcomes):
            for j in range(i + 1, len(outcomes)):
                second = outcomes[j]
                unequal = ~first.value.eq_missing(second.value)
                differ.append(first.has & second.has & unequal)
                self.escapes.append((definite[i] & definite[j] & unequal).fill_null(True))
        chain: Any = pl
        for outcome in outcomes:
            chain = chain.when(outcome.has).then(outcome.value)
        if all(o.certain for o in outcomes):
            # two siblings that both apply are a conflict: an escape above, so no vague
            return _certain(self._bind(pl.any_horizontal([o.has for o in outcomes])), self._bind(chain.otherwise(None)))
        return _Outcome(
            self._bind(pl.all_horizontal([o.open for o in outcomes])),
            self._bind(pl.any_horizontal([o.has for o in outcomes])),
            self._bind(pl.any_horizontal([o.vague for o in outcomes] + differ)),
            self._bind(chain.otherwise(None)),
            self._bind(_union([pl.when(d).then(ZERO).otherwise(o.mask) for o, d in zip(outcomes, definite)
                               if o.mask is not ZERO])))

    def _own_outcome(self, rule: RulePlan, output: str) -> _Outcome:
        """:meth:`engine.evaluation.general.Evaluation.own`: an unknown reference date
        leaves any version possible; an unknown condition, the value or nothing."""
        if rule.reference_date is None:
            reference, reference_mask = pl.col(ON_COLUMN), ZERO
        else:
            node = rule.reference_date.node
            reference = self._bind(self.value(node, pl.col(ON_COLUMN)))
            reference_mask = self._bind(self.mask(node, pl.col(ON_COLUMN)))
            self.reference_masks[str(reference)] = reference_mask
        # what is certain for every row is left out of the query (a rule without a
        # reference date of its own or with one no missing fact touches, a version
        # without a condition, a literal value, an operand whose mask is zero)
        dated = reference_mask is not ZERO
        known_reference = reference_mask == 0
        holds: list[pl.Expr] = []
        doubtful: list[pl.Expr] = []
        cases: list[tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]] = []  # in force, value, its mask, condition's mask
        for version in rule.versions:
            if not version.gives(output):
                continue
            in_force = reference >= pl.lit(version.start)
            if version.until is not None:
                in_force = in_force & (reference < pl.lit(version.until))
            in_force = self._bind(in_force.fill_null(False) & known_reference if dated else in_force.fill_null(False))
            condition_mask: pl.Expr = ZERO
            holds_here: pl.Expr = in_force
            if version.condition is not None:
                text, condition = version.condition.text, version.condition.node
                condition_mask = self._shared_mask(text, condition, reference)
                holds_here = in_force & _truth(self._shared(text, condition, reference))
                if condition_mask is not ZERO:
                    holds_here = holds_here & (condition_mask == 0)
                    doubtful.append(in_force & (condition_mask != 0))
            holds.append(holds_here)
            if output in version.sets:
                value, value_mask = _literal(version.sets[output]), ZERO
            else:
                computed = version.computes[output]
                value = self._shared(computed.text, computed.node, reference)
                value_mask = self._shared_mask(computed.text, computed.node, reference)
            cases.append((in_force, value, value_mask, condition_mask))
        if not cases:
            return _NOTHING
        applies = self._bind(pl.any_horizontal(holds))
        value_chain: Any = pl
        value_masks: Any = pl
        condition_masks: Any = pl
        for in_force, value, value_mask, condition_mask in cases:
            value_chain = value_chain.when(in_force).then(value)
            value_masks = value_masks.when(in_force).then(value_mask)
            condition_masks = condition_masks.when(in_force).then(condition_mask)
        literal = all(value_mask is ZERO for _, _, value_mask, _ in cases)
        if literal and not doubtful and not dated:
            return _certain(applies, self._bind(value_chain.otherwise(None)))
        of_value = ZERO if literal else self._bind(value_masks.otherwise(ZERO))
        if doubtful:
            unsure = self._bind(pl.any_horizontal(doubtful))
            has = self._bind(applies | unsure)
            open_ = ~has | unsure
            mask = pl.when(applies).then(of_value).when(unsure).then(of_value | condition_masks.otherwise(ZERO)) \
                .otherwise(ZERO)
        else:
            has, open_ = applies, ~applies
            mask = ZERO if literal else pl.when(applies).then(of_value).otherwise(ZERO)
        vague = pl.lit(False) if literal else has & (of_value != 0)  # a value itself unknown: ANY
        if dated:  # an unknown reference date: any version, or none
            open_ = ~known_reference | open_
            vague = ~known_reference | vague
            mask = pl.when(~known_reference).then(reference_mask).otherwise(mask)
        return _Outcome(self._bind(open_), has, self._bind(vague), self._bind(value_chain.otherwise(None)),
                        self._bind(mask))

    # -- expressions --------------------------------------------------------------------

    def _shared_mask(self, text: str, node: n.Node, reference: pl.Expr) -> pl.Expr:
        return self._once((f"mask of {text}", str(reference)), lambda: self.mask(node, reference))

    def _value(self, node: n.Node, reference: pl.Expr) -> Any:
        if isinstance(node, n.IsTest) and node.test in ("known", "unknown"):
            known = self.mask(node.operand, reference) == 0
            return known if node.test == "known" else ~known
        if isinstance(node, n.Logic):  # its operands' values are read by its mask too
            parts = [_truth(self._operand(o, reference)) for o in node.operands]
            return pl.all_horizontal(parts) if node.op == "and" else pl.any_horizontal(parts)
        if isinstance(node, n.If):
            return pl.when(_truth(self._operand(node.condition, reference))).then(self._operand(node.then, reference)) \
                .otherwise(self._operand(node.otherwise, reference))
        return super()._value(node, reference)

    def _operand(self, node: n.Node, reference: pl.Expr) -> pl.Expr:
        """The value of an operand that both a value and a mask read, as a column of
        its own: inline, a nested ``and``/``or`` computes its operands once for its value
        and again for each mask above it (the query grew with the nesting)."""
        return self._once((f"value of {node!r}", str(reference)), lambda: self.value(node, reference))

    def _operand_mask(self, node: n.Node, reference: pl.Expr) -> pl.Expr:
        return self._once((f"mask of {node!r}", str(reference)), lambda: self.mask(node, reference))

    def mask(self, node: n.Node, reference: pl.Expr) -> pl.Expr:
        """The missing facts of an expression's value (zero: known)."""
        match node:
            case n.Literal() | n.ListLiteral():
                return ZERO
            case n.Name(name=name):
                kind = kind_of_name(name)
                if kind == "set":
                    return self._reference_mask(reference)
                if kind == "fact":
                    return ZERO if self.lacking is not None and name not in self.lacking \
                        else pl.col(mask_column("fact", name))
                return ZERO if name in self.certain else pl.col(mask_column("output", name))
            case n.Special(which=which):
                return ZERO if which == "evaluation_date" else self._reference_mask(reference)
            case n.At(when=when):
                return self.mask(when, reference)
            case n.Not(operand=operand) | n.Negative(operand=operand):
                return self.mask(operand, reference)
            case n.Logic(op=op, operands=operands):
                masks = [self._operand_mask(o, reference) for o in operands]
                if all(m is ZERO for m in masks):
                    return ZERO
                truths = [_truth(self._operand(o, reference)) for o in operands]
                decides = [t if op == "or" else ~t for t in truths]
                decisive = [d if m is ZERO else (m == 0) & d for m, d in zip(masks, decides)]
                return pl.when(pl.any_horizontal(decisive)).then(ZERO).otherwise(_union(masks))
            case n.IsTest(operand=operand, test=test):
                return ZERO if test in ("known", "unknown") else self.mask(operand, reference)
            case n.If(condition=condition, then=then, otherwise=otherwise):
                of_test, of_then, of_otherwise = (self._operand_mask(x, reference) for x in (condition, then, otherwise))
                if of_then is ZERO and of_otherwise is ZERO and of_test is ZERO:
                    return ZERO
                agree = (of_then == 0) & (of_otherwise == 0) & \
                    self._operand(then, reference).eq_missing(self._operand(otherwise, reference))
                return pl.when(of_test == 0).then(
                    pl.when(_truth(self._operand(condition, reference))).then(of_then).otherwise(of_otherwise)) \
                    .when(agree).then(ZERO).otherwise(_union([of_test, of_then, of_otherwise]))
            case n.Binary(left=left, right=right):
                return _union([self.mask(left, reference), self.mask(right, reference)])
            case n.Call(args=args):
                return _union([self.mask(a, reference) for a in args])
        raise Unsupported(f"node {type(node).__name__}")

    def _reference_mask(self, reference: pl.Expr) -> pl.Expr:
        return self.reference_masks.get(str(reference), ZERO)


class UnknownPass:
    """Every step of a backend as one query over values and masks: which rows it
    settles (every output, unknowns included), and their public outputs' codes. Only
    the facts of ``bits`` (each with its bit in a mask) may be missing in the rows it
    runs on."""

    def __init__(self, backend: ColumnarBackend, bits: dict[str, int]) -> None:
        self.backend = backend
        self.bits = bits
        self.lacking = lacking = frozenset(bits)
        self.tables = Tables("unknown") if backend.tables is not None else None
        translator = KleeneTranslator(backend.plan, backend.ruleset.vocabulary, lacking=lacking,
                                      certain=set(backend.absent), tables=self.tables)
        named: list[tuple[str, pl.Expr]] = []
        for step in backend.steps:
            escapes = []
            for output in step.outputs:
                found = translator.unknown_output(output)  # Unsupported: no such pass
                named.extend(translator.bindings)
                translator.bindings = []
                named.append((value_column("output", output), backend._typed_output(output, found.value)))
                if found.mask is not ZERO:
                    named.append((mask_column("output", output), found.mask))
                escapes.append(found.escape)
            settled = [pl.col(f"ok:{f}") for f in step.facts] + [pl.col(f"settled:{i}") for i in step.inputs]
            settled.append(~pl.any_horizontal(escapes))
            named.extend((f"settled:{o}", pl.all_horizontal(settled)) for o in step.outputs)
        self.layers = in_layers(named)
        self.read = {r for layer in self.layers for e in layer for r in e.meta.root_names()}
        self.read_tables = [] if self.tables is None else self.tables.used(self.read)
        decided = [o for step in backend.steps for o in step.outputs]
        self.every = pl.all_horizontal([pl.col(f"settled:{o}") for o in decided] or [pl.lit(True)])
        self.outputs = [o for o in backend.public if o in decided]
        self.certain = translator.certain  # outputs known in every row: no mask column

    def run(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
        """Which rows of ``frame`` (fact codes as of the date) are settled, and the
        ``output:NAME`` codes of every public output (meaningless where not settled)."""
        return self.decoded(collect(self.query(frame)), frame.height)

    def query(self, frame: pl.DataFrame) -> pl.LazyFrame:
        """The query over ``frame``'s rows: ``settled``, each output's value and mask."""
        backend = self.backend
        gathers: list[pl.Expr] = []
        for name in backend.coder.facts:
            codes = pl.col(fact_column(name))
            values, ok = backend._typed_table("fact", name)
            if value_column("fact", name) in self.read:  # else read only through its tables
                gathers.append(pl.lit(values).gather(codes).alias(value_column("fact", name)))
            # a missing fact is "ok" here (code MISSING is 0): its mask says it is unknown
            gathers.append(flags(ok.clone().scatter(MISSING, True), codes, f"ok:{name}"))
            if name in self.lacking:
                bits = pl.Series([self.bits[name]] + [0] * (len(ok) - 1), dtype=pl.UInt64)
                gathers.append(pl.lit(bits).gather(codes).alias(mask_column("fact", name)))
        gathers.append(pl.lit(backend.source_table(ON_COLUMN)).gather(pl.col("on")).alias(ON_COLUMN))
        if self.tables is not None:
            gathers += self.tables.gathers(self.read_tables, backend.source_table)
        lazy = gather(frame, gathers).lazy()
        absent = []
        for output in backend.absent:  # read, but set by no rule: none, known, settled
            dtype = _dtype(backend, output)
            absent += [(pl.lit(None) if dtype == pl.Object else pl.lit(None, dtype=dtype)).alias(value_column("output", output)),
                       pl.lit(True).alias(f"settled:{output}")]
        if absent:
            lazy = lazy.with_columns(absent)
        for layer in self.layers:
            lazy = lazy.with_columns(layer)
        return lazy.select([self.every.alias("settled")]
                           + [pl.col(value_column("output", o)) for o in self.outputs]
                           + [pl.col(mask_column("output", o)) for o in self.outputs if o not in self.certain])

    def decoded(self, result: pl.DataFrame, height: int) -> tuple[pl.Series, pl.DataFrame]:
        """What :meth:`run` returns, from the result of :meth:`query`."""
        backend = self.backend
        # every output coded in one select, then the unknowns' codes over them in another
        encoded = backend._encoded(result, {o: value_column("output", o) for o in self.outputs})
        masked = [o for o in self.outputs if o not in self.certain]
        distinct = result.select([pl.col(mask_column("output", o)).filter(pl.col(mask_column("output", o)) != 0)
                                  .unique().implode().alias(o) for o in masked]).row(0) if masked else ()
        unknowns: list[pl.Expr] = []
        for output, masks in zip(masked, distinct):
            if masks:
                book = backend.books[output]
                coded = [book.code(Unknown(missing_of(m, self.bits))) for m in masks]
                unknowns.append(pl.when(pl.col(mask_column("output", output)) != 0)
                                .then(_unknown_codes(pl.col(mask_column("output", output)), masks, coded))
                                .otherwise(pl.col(output_column(output))).alias(output_column(output)))
        if unknowns:
            encoded = pl.concat([encoded, result.select([mask_column("output", o) for o in masked])], how="horizontal") \
                .with_columns(unknowns)
        found = [encoded.get_column(output_column(o)) if o in self.outputs
                 else pl.Series(output_column(o), [NONE] * height, dtype=pl.UInt32) for o in backend.public]
        return result.get_column("settled"), pl.DataFrame(found)


def _unknown_codes(mask: pl.Expr, masks: list[int], codes: list[int]) -> pl.Expr:
    """The codes of the unknowns ``masks`` name, by ``mask``: a gather from a table indexed
    by mask where the masks are small (a run lacking up to 16 facts; four times cheaper
    than hashing each mask), else by lookup."""
    if max(masks) < DENSE_MASKS:
        table = pl.Series([0] * (max(masks) + 1), dtype=pl.UInt32).scatter(masks, codes)
        return pl.lit(table).gather(mask)
    return mask.replace_strict(masks, codes, default=0, return_dtype=pl.UInt32)


def _dtype(backend: ColumnarBackend, output: str) -> Any:
    return DTYPES.get(backend.ruleset.vocabulary.names[output].type.name, pl.Object)


def _union(masks: list[pl.Expr]) -> pl.Expr:
    """The facts any of ``masks`` names (``ZERO`` itself when each is ``ZERO``)."""
    masks = [m for m in masks if m is not ZERO]
    if not masks:
        return ZERO
    return reduce(lambda a, b: a | b, masks)


__all__ = ["KleeneTranslator", "MASK_BITS", "UnknownOutput", "UnknownPass", "ZERO", "fact_bits", "mask_column", "missing_of",
           "value_column"]
