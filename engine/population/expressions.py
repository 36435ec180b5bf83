"""The plan as Polars expressions, for persons whose inputs are all known.

For a row whose every input to an output is known (a value, or known to have none), the
semantics of the condition language are two-valued plus ``none``, and a plan walk is a
chain of ``when/then``: this module writes that chain for one output as a Polars
expression over typed columns (``value:fact:NAME``, ``value:output:NAME``, ``value:on``;
null stands for none). It follows :mod:`engine.language.semantics` and
:mod:`engine.evaluation.general` exactly where it translates:

- ``none`` counts as false in conditions, ``and``/``or``/``not``/``if`` test truth;
  ``none == none`` holds, ordering with ``none`` is false, arithmetic, membership, ``at``
  and functions give ``none`` for a ``none`` operand;
- a rule applies when its reference date is known, a version is in force on it, and its
  condition holds; exceptions first, groups lowest order first, the first applicable
  sibling's value; a version that does not set the output says nothing;
- value sets and parameters are piecewise constant in time: looked up by the segment of
  the date.

What it cannot settle exactly it does not guess: an expression it does not translate
raises :class:`Unsupported` (the output is then decided on the per-combination path),
and rows it cannot settle (two applicable siblings that disagree: a conflict the general
path reports; a birth after the date of an age) are flagged in an *escape* expression,
and go to the per-combination path too. Numbers are whole (Int64): a fractional number
or a division is :class:`Unsupported`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from engine.evaluation.plan import Branch, Group, Plan, RulePlan
from engine.language import nodes as n
from engine.language.semantics import kind_of_name
from engine.language.types import Vocabulary
from engine.values import Duration

if TYPE_CHECKING:
    from engine.population.tables import Tables


class Unsupported(Exception):
    """An expression the columnar translation does not cover."""


def value_column(kind: str, name: str) -> str:
    return f"value:{kind}:{name}"


ON_COLUMN = "value:on"


def collect(lazy: pl.LazyFrame) -> pl.DataFrame:
    """Run a query of this backend on Polars' in-memory engine: the streaming engine
    (Polars 2's default) takes about a third longer on these wide queries over a chunk
    already in memory (measured with ``tools/bench_population``)."""
    return lazy.collect(engine="in-memory")


@dataclass(frozen=True)
class _SetAt:
    """A value set on a date: members per segment of time."""

    segment: pl.Expr
    members: tuple[frozenset[Any], ...]


@dataclass
class OutputExpression:
    """An output's value (null: none or not applicable) and the rows it cannot settle."""

    value: pl.Expr
    escape: pl.Expr


@dataclass
class Translator:
    """Writes outputs as expressions over the columns of earlier *bindings*: each rule's
    and each exception tree's (found, value) is computed once as a column of its own,
    so an expression never repeats a subtree (a plan walk reads a condition in the
    branch that tests it and in the chain that picks the value)."""

    plan: Plan
    vocabulary: Vocabulary
    # a variant evaluated beside a base plan reads its own columns for the outputs it
    # changes (``value:variant:NAME``) and the base's for the others
    side: str = "output"
    changed: frozenset[str] = frozenset()
    escapes: list[pl.Expr] = field(default_factory=list)
    bindings: list[tuple[str, pl.Expr]] = field(default_factory=list)
    count: int = 0  # bindings made, for names unique across the outputs of a plan
    # expressions already bound, by text and reference date: the versions of a rule often
    # repeat a condition, and rules repeat an age
    # (and the escapes their translation raised, which every output that reads them shares)
    bound: dict[tuple[str, str], tuple[pl.Expr, list[pl.Expr]]] = field(default_factory=dict)
    # expressions of one coded column, computed per codebook entry (None: row by row)
    tables: Tables | None = None
    # each binding's expression, serialized -> its column
    forms: dict[bytes, str] = field(default_factory=dict)

    # -- one output ------------------------------------------------------------------

    def output(self, name: str) -> OutputExpression:
        self.escapes = []
        tree = self.plan.outputs[name]
        found, value = self._first_of(tree.groups, name)
        result = self._bind(pl.when(found).then(value).otherwise(None))
        escape = pl.any_horizontal(self.escapes) if self.escapes else pl.lit(False)
        return OutputExpression(result, self._bind(escape.fill_null(True)))

    def _bind(self, expression: pl.Expr) -> pl.Expr:
        expression = self._tabled(expression)
        if expression.meta.is_column():
            return expression
        return self._named(expression, self.side)

    def _named(self, expression: pl.Expr, prefix: str) -> pl.Expr:
        """A column of its own for ``expression``, or the column of an equal one bound
        before: rules that set several outputs give each the same outcome columns (whether
        a rule applies, may apply, what it misses), so each is computed once; and as the
        columns an expression reads are shared, so are the expressions built on them."""
        form = expression.meta.serialize(format="binary")  # the text of a literal list is "Series"
        name = self.forms.get(form)
        if name is None:
            name = self.forms[form] = f"{prefix}-binding:{self.count}"
            self.count += 1
            self.bindings.append((name, expression))
        return pl.col(name)

    def _pair(self, pair: tuple[pl.Expr, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
        return self._bind(pair[0]), self._bind(pair[1])

    def _first_of(self, groups: tuple[Group, ...], output: str) -> tuple[pl.Expr, pl.Expr]:
        found: list[tuple[pl.Expr, pl.Expr]] = []
        for group in groups:
            siblings = [self._pair(self._branch(branch, output)) for branch in group]
            for i, (first_found, first_value) in enumerate(siblings):
                for second_found, second_value in siblings[i + 1:]:
                    self.escapes.append(first_found & second_found & ~first_value.eq_missing(second_value))
            found.extend(siblings)
        return _first(found)

    def _branch(self, branch: Branch, output: str) -> tuple[pl.Expr, pl.Expr]:
        own = self._own(branch.rule, output)
        if not branch.exceptions:
            return own
        overriding = self._pair(self._first_of(branch.exceptions, output))
        return _first([overriding, self._pair(own)])

    def _own(self, rule: RulePlan, output: str) -> tuple[pl.Expr, pl.Expr]:
        reference = pl.col(ON_COLUMN) if rule.reference_date is None else self._bind(
            self.value(rule.reference_date.node, pl.col(ON_COLUMN)))
        cases: list[tuple[pl.Expr, pl.Expr]] = []
        for version in rule.versions:
            in_force = reference >= pl.lit(version.start)
            if version.until is not None:
                in_force = in_force & (reference < pl.lit(version.until))
            if not version.gives(output):
                continue
            applies = in_force.fill_null(False)
            if version.condition is not None:
                applies = applies & _truth(self._shared(version.condition.text, version.condition.node, reference))
            applies = self._bind(applies)
            if output in version.sets:
                value = _literal(version.sets[output])
            else:
                computed = version.computes[output]
                value = self._shared(computed.text, computed.node, reference)
            cases.append((applies, value))
        if not cases:
            return pl.lit(False), pl.lit(None)
        return _first(cases)

    def _shared(self, text: str, node: n.Node, reference: pl.Expr) -> pl.Expr:
        return self._once((text, str(reference)), lambda: self.value(node, reference))

    def _once(self, key: tuple[str, str], translate: Any) -> pl.Expr:
        found = self.bound.get(key)
        if found is None:
            before = len(self.escapes)
            expression = self._bind(translate())
            found = self.bound[key] = (expression, self.escapes[before:])
        else:
            self.escapes.extend(found[1])
        return found[0]

    # -- expressions --------------------------------------------------------------------

    def value(self, node: n.Node, reference: pl.Expr) -> pl.Expr:
        found = self._value(node, reference)
        if isinstance(found, _SetAt):
            raise Unsupported("a value set used as a value")
        return self._tabled(found)

    def _tabled(self, expression: pl.Expr, dear: bool = False) -> pl.Expr:
        return expression if self.tables is None else self.tables.hoisted(expression, dear)

    def _value(self, node: n.Node, reference: pl.Expr) -> pl.Expr | _SetAt:
        match node:
            case n.Literal(value=value):
                if isinstance(value, Duration):
                    raise Unsupported("a term outside date arithmetic")
                return _literal(value)
            case n.ListLiteral(items=items):
                values = []
                for item in items:
                    if not isinstance(item, n.Literal) or not isinstance(item.value, str):
                        raise Unsupported("a list of other than texts")
                    values.append(item.value)
                return pl.lit(pl.Series([values], dtype=pl.List(pl.Categorical))).first()
            case n.Name(name=name):
                kind = kind_of_name(name)
                if kind == "set":
                    return self._constant(name, reference)
                if kind == "fact":
                    return pl.col(value_column("fact", name))
                return pl.col(value_column(self.side if name in self.changed else "output", name))
            case n.Special(which=which):
                return pl.col(ON_COLUMN) if which == "evaluation_date" else reference
            case n.At(name=target, when=when):
                return self._constant(target.name, self.value(when, reference))
            case n.Not(operand=operand):
                return ~_truth(self.value(operand, reference))
            case n.Negative(operand=operand):
                return -self.value(operand, reference)
            case n.Logic(op=op, operands=operands):
                parts = [_truth(self.value(o, reference)) for o in operands]
                return pl.all_horizontal(parts) if op == "and" else pl.any_horizontal(parts)
            case n.IsTest(operand=operand, test=test):
                operand_value = self.value(operand, reference)
                if test == "none":
                    return operand_value.is_null()
                if test == "not_none":
                    return operand_value.is_not_null()
                return pl.lit(test == "known")  # every input of these rows is known
            case n.If(condition=condition, then=then, otherwise=otherwise):
                return pl.when(_truth(self.value(condition, reference))).then(self.value(then, reference)) \
                    .otherwise(self.value(otherwise, reference))
            case n.Binary(op=op, left=left, right=right):
                return self._binary(op, left, right, reference)
            case n.Call(function=function, args=args):
                return self._call(function, [self.value(a, reference) for a in args])
        raise Unsupported(f"node {type(node).__name__}")

    def _binary(self, op: str, left: n.Node, right: n.Node, reference: pl.Expr) -> pl.Expr:
        if op in ("+", "-") and isinstance(right, n.Literal) and isinstance(right.value, Duration):
            term = right.value
            sign = 1 if op == "+" else -1
            day = self.value(left, reference)
            if term.months:
                day = day.dt.offset_by(f"{sign * term.months}mo")
            if term.days:
                day = day.dt.offset_by(f"{sign * term.days}d")
            return day
        a = self._value(left, reference)
        b = self._value(right, reference)
        # each operand on its own: 'birth + 18 years <= registration + 1 year' reads two
        # facts, each side one
        a = a if isinstance(a, _SetAt) else self._tabled(a)
        b = b if isinstance(b, _SetAt) else self._tabled(b)
        if op in ("in", "not_in", "any_in", "any_not_in"):
            return self._membership(op, left, right, a, b)
        if isinstance(a, _SetAt) or isinstance(b, _SetAt):
            raise Unsupported("a value set compared")
        if op == "==":
            return a.eq_missing(b)
        if op == "!=":
            return a.ne_missing(b)
        if op in ("<", "<=", ">", ">="):
            compared = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
            return compared.fill_null(False)
        if op == "-" and self._is_date(left):
            return (a - b).dt.total_days()
        if op in ("+", "-", "*"):
            return {"+": a + b, "-": a - b, "*": a * b}[op]
        raise Unsupported(f"operator {op}")

    def _membership(self, op: str, left: n.Node, right: n.Node, a: pl.Expr | _SetAt, b: pl.Expr | _SetAt) -> pl.Expr:
        if isinstance(a, _SetAt):
            raise Unsupported("a value set on the left of 'in'")
        many = op.startswith("any")
        if isinstance(b, _SetAt):
            parts = []
            for index, members in enumerate(b.members):
                listed = sorted(members, key=str)
                if many:
                    test = a.list.eval(pl.element().is_in(listed) if op == "any_in"
                                       else ~pl.element().is_in(listed)).list.any()
                else:
                    test = a.is_in(listed)
                # a fact's membership in one segment's members: per codebook entry
                parts.append(pl.when(b.segment == index).then(self._tabled(test)))
            found = pl.coalesce(parts) if len(parts) > 1 else parts[0]
            if op == "not_in":
                found = ~found
            return pl.when(a.is_null() | b.segment.is_null()).then(None).otherwise(found)
        if many:
            raise Unsupported("'any in' a list that is not a value set")
        if isinstance(right, n.ListLiteral):  # persoon.x in ['a', 'b']
            listed = [item.value for item in right.items if isinstance(item, n.Literal)]
            test = a.is_in(listed)
            found = test if op == "in" else ~test
            return pl.when(a.is_null()).then(None).otherwise(found)
        if isinstance(left, n.Literal):  # 'BE' in persoon.nationaliteiten
            test = b.list.contains(a)
            found = test if op == "in" else ~test
            return pl.when(b.is_null()).then(None).otherwise(found)
        raise Unsupported("membership of two columns")

    def _constant(self, name: str, day: pl.Expr) -> pl.Expr | _SetAt:
        lookup = self.plan.constants.get(name)
        if lookup is None:
            return pl.lit(None)
        breaks = _breaks(lookup)
        segment = pl.sum_horizontal([(day >= pl.lit(b)).cast(pl.Int32) for b in breaks]) if breaks \
            else pl.lit(0, dtype=pl.Int32)
        segment = self._tabled(pl.when(day.is_null()).then(None).otherwise(segment), dear=True)
        values = [lookup.at(date.min)] + [lookup.at(b) for b in breaks]
        if any(isinstance(v, frozenset) for v in values):
            return _SetAt(segment, tuple(v or frozenset() for v in values))
        chain: Any = pl
        for index, value in enumerate(values):
            chain = chain.when(segment == index).then(_literal(value))
        result: pl.Expr = chain.otherwise(None)
        return result

    def _call(self, function: str, args: list[pl.Expr]) -> pl.Expr:
        if function == "age" and len(args) == 2:
            return self._once(("age", " | ".join(str(a) for a in args)), lambda: self._age(args[0], args[1]))
        if function == "count" and len(args) == 1:
            return args[0].list.len().cast(pl.Int64)
        if function in ("min", "max") and len(args) >= 2:
            # of numbers or dates only (the checker refuses texts, whose categorical order
            # here would not be the texts' order)
            # none operands give none (semantics.call): any null argument is a null result
            combined = pl.min_horizontal(args) if function == "min" else pl.max_horizontal(args)
            return pl.when(pl.any_horizontal([a.is_null() for a in args])).then(None).otherwise(combined)
        raise Unsupported(f"function {function}")

    def _age(self, birth: pl.Expr, on: pl.Expr) -> pl.Expr:
        """Whole years from ``birth`` to ``on``, as :func:`engine.values.age_on` counts them:
        a birthday on 29 February is reached on 28 February of a common year."""
        self.escapes.append((birth > on).fill_null(False))  # negative ages: the engine's own rule
        # each date as the number YYYYMMDD: from a birth on or before the date, the
        # difference's ten-thousands are the whole years (a birthday later in the year
        # borrows from them), and a birthday on 29 February counts one day more on 28
        # February of a common year, when it is reached
        born, today = self._tabled(_day_number(birth)), self._tabled(_day_number(on))
        leap_birth = self._tabled((birth.dt.month() == 2) & (birth.dt.day() == 29))
        common_28 = self._tabled((on.dt.month() == 2) & (on.dt.day() == 28) & ~on.dt.is_leap_year())
        return ((today - born + (leap_birth & common_28).cast(pl.Int32)) // 10_000).cast(pl.Int64)

    def _is_date(self, node: n.Node) -> bool:
        if isinstance(node, n.Special):
            return True
        if isinstance(node, n.Name):
            declared = self.vocabulary.names.get(node.name)
            return declared is not None and declared.type.name == "date"
        if isinstance(node, n.Literal):
            return isinstance(node.value, date)
        raise Unsupported("a difference of expressions of unclear type")


def _day_number(day: pl.Expr) -> pl.Expr:
    """A date as the whole number YYYYMMDD."""
    return day.dt.year() * 10_000 + day.dt.month().cast(pl.Int32) * 100 + day.dt.day().cast(pl.Int32)


def in_layers(named: list[tuple[str, pl.Expr]]) -> list[list[pl.Expr]]:
    """Named columns in layers of columns that do not read each other: one
    ``with_columns`` per layer, so Polars computes a layer's columns in parallel and the
    query has few nodes. A name given twice is computed once, the first time."""
    depth: dict[str, int] = {}
    layers: list[list[pl.Expr]] = []
    for name, expression in named:
        if name in depth:
            continue
        level = 1 + max((depth.get(used, 0) for used in expression.meta.root_names()), default=0)
        depth[name] = level
        while len(layers) < level:
            layers.append([])
        layers[level - 1].append(expression.alias(name))
    return layers


def _first(cases: list[tuple[pl.Expr, pl.Expr]]) -> tuple[pl.Expr, pl.Expr]:
    """Whether any case holds, and the value of the first that does."""
    if not cases:
        return pl.lit(False), pl.lit(None)
    found = pl.any_horizontal([c for c, _ in cases])
    chain: Any = pl
    for condition, value in cases:
        chain = chain.when(condition).then(value)
    result: pl.Expr = chain.otherwise(None)
    return found, result


def _truth(value: pl.Expr) -> pl.Expr:
    return value.fill_null(False)


def _literal(value: Any) -> pl.Expr:
    if value is None:
        return pl.lit(None)
    if isinstance(value, bool):
        return pl.lit(value, dtype=pl.Boolean)
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise Unsupported("a fractional number")
        return pl.lit(int(value), dtype=pl.Int64)
    if isinstance(value, str):
        return pl.lit(value, dtype=pl.Categorical)  # as texts are in the queries
    if isinstance(value, date):
        return pl.lit(value, dtype=pl.Date)
    if isinstance(value, (tuple, list, frozenset)):
        items = sorted(value) if isinstance(value, frozenset) else list(value)
        if not all(isinstance(v, str) for v in items):
            raise Unsupported("a list of other than texts")
        return pl.lit(pl.Series([items], dtype=pl.List(pl.Categorical))).first()
    raise Unsupported(f"a literal {type(value).__name__}")


def _breaks(lookup: Any) -> list[date]:
    """The dates on which a value set or parameter may change."""
    members = getattr(lookup, "members", None)
    if members is not None:
        return sorted({d for m in members for d in (m.start, m.until) if d is not None})
    timeline = getattr(lookup, "timeline", None)
    if timeline is None:
        raise Unsupported("a constant of unknown shape")
    points: set[date] = set()
    for version in timeline.versions:
        window = version.window
        points.add(window.start)
        if window.until is not None:
            points.add(window.until)
    return sorted(points)
