"""Properties of the condition language (docs/language.md), checked with Hypothesis.

- Any text either compiles or raises a :class:`PolicyError` whose position lies inside
  the text; never another exception, and a compiled text evaluates without one either.
- For well-typed random expressions over facts that are given, missing (unknown) or
  ``none``, the compiled closures and the reference interpreter agree exactly, including
  the facts an unknown result names; evaluation is deterministic.
- A decided result does not depend on the facts that were missing, and an unknown result
  names only facts that were missing (Kleene's logic is monotone).
- Terms in months and years follow the month-end rule; ``age`` counts whole years the
  same way; ``date - date`` counts days.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Any, Callable

from hypothesis import given, settings
from hypothesis import strategies as st

import engine.language.expression as language
from conftest import generated_value
from engine.errors import PolicyError, PolicyErrors
from engine.values import Unknown

FAST = settings(max_examples=200, deadline=None)

DECLARATIONS = {
    "persoon.n1": "number",
    "persoon.n2": "number",
    "persoon.d1": "date",
    "persoon.d2": "date",
    "persoon.b1": "bool",
    "persoon.b2": "bool",
    "persoon.t": "text",
    "persoon.l": "list of text",
    "doelgroep": "bool",
    "EU": "set of text",
    "BEDRAG": "number",
}
VOCABULARY = language.Vocabulary.from_declarations(DECLARATIONS)
FACTS = tuple(name for name in DECLARATIONS if "." in name)
NUMBER_FACTS = ("persoon.n1", "persoon.n2")
DATE_FACTS = ("persoon.d1", "persoon.d2")
BOOL_FACTS = ("persoon.b1", "persoon.b2")
CODES = ("BE", "NL", "MA", "TR", "HR", "GB")
CONSTANTS = {
    "EU": {
        "versions": [
            {"from": date(1958, 1, 1), "until": date(2013, 7, 1), "value": ["BE", "NL", "GB"]},
            {"from": date(2013, 7, 1), "until": date(2020, 2, 1), "value": ["BE", "NL", "GB", "HR"]},
            {"from": date(2020, 2, 1), "until": None, "value": ["BE", "NL", "HR"]},
        ]
    },
    "BEDRAG": {
        "versions": [
            {"from": date(1900, 1, 1), "until": date(2023, 9, 1), "value": Decimal(0)},
            {"from": date(2023, 9, 1), "until": None, "value": Decimal("90")},
        ]
    },
}
ON = date(2024, 3, 1)


@lru_cache(maxsize=2048)
def compiled(text: str) -> Any:
    return language.Expression.compile(text, VOCABULARY)


def scope(facts: dict[str, Any], doelgroep: Any = True) -> Any:
    return language.TestScope(
        facts=dict(facts),
        outputs={"doelgroep": doelgroep},
        constants=CONSTANTS,
        evaluation_date=ON,
        reference_date=ON,
    )


def errors_of(error: PolicyError) -> list[PolicyError]:
    return list(error) if isinstance(error, PolicyErrors) else [error]


def normal(value: Any) -> Any:
    """A form that compares equal only for the same type and value (``True != 1``)."""
    if isinstance(value, (list, tuple)):
        return ("list", tuple(normal(item) for item in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(normal(item) for item in value))
    if isinstance(value, Unknown):
        return ("unknown", value.missing)
    return (type(value).__name__, value)


def outcome(run: Callable[[Any], Any], facts: dict[str, Any], doelgroep: Any = True) -> Any:
    try:
        return ("value", normal(run(scope(facts, doelgroep))))
    except PolicyError as error:
        return ("error", error.kind)


# --- any text ------------------------------------------------------------------------

TOKENS = (
    "1", "0", "12.50", "-3", "2024-02-29", "2023-02-29", "2022-03-01", "'werk'", '"x"', "'",
    '"', "\\", "true", "false", "none", "persoon.n1", "persoon.d1", "persoon.b1", "persoon.t",
    "persoon.l", "persoon.onbekend", "doelgroep", "doelgrop", "EU", "BEDRAG",
    "evaluation_date", "reference_date", "if", "then", "else", "and", "or", "not", "in",
    "any", "is", "known", "unknown", "at", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*",
    "/", "(", ")", "[", "]", ",", "3 months", "60 days", "1 year", "month", "days", "age",
    "min", "max", "count", "$", "é", ".", "_", "\t",
)
SEPARATORS = ("", " ", " ", "\n", "  ")
ALPHABET = "0123456789+-*/<>=!()[],.'\"\\ \n\tabcdeiklmnorstuvwyzEU_é"


@st.composite
def token_soups(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(SEPARATORS)), max_size=14))
    return "".join(token + separator for token, separator in pieces)


def check_any_text(text: str) -> None:
    lines = text.split("\n")
    try:
        expression = language.Expression.compile(text, VOCABULARY)
    except PolicyError as raised:
        for error in errors_of(raised):
            assert error.kind in {"syntax", "name", "type", "limit"}, f"{text!r}: {error.kind} when compiling"
            line, column = error.span.line, error.span.column
            assert 1 <= line <= len(lines), f"{text!r}: line {line} outside the text ({error.message})"
            width = len(lines[line - 1])
            assert 1 <= column <= width + 1, (
                f"{text!r}: column {column} outside line {line} of width {width} ({error.message})"
            )
        return
    for evaluator in (expression.evaluate, expression.interpret):
        try:
            evaluator(scope({}))
        except PolicyError:
            pass


@FAST
@given(st.text(max_size=60))
def test_any_text_compiles_or_raises_a_policy_error_inside_it(text: str) -> None:
    check_any_text(text)


@FAST
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_text_of_the_language_alphabet_compiles_or_raises_inside_it(text: str) -> None:
    check_any_text(text)


@FAST
@given(token_soups())
def test_token_soup_compiles_or_raises_inside_it(text: str) -> None:
    check_any_text(text)


# --- well-typed expressions ------------------------------------------------------------

DAYS = st.dates(min_value=date(1950, 1, 1), max_value=date(2050, 12, 31))


class Grammar:
    """Draws well-typed expression texts; every compound is parenthesised.

    ``monotone`` leaves out what may change a decided result when a missing fact is
    given: ``is known`` / ``is unknown`` (they look at whether a fact was given) and
    division (a fact that turns out zero makes an error).
    """

    def __init__(self, draw: st.DrawFn, monotone: bool = False) -> None:
        self.draw = draw
        self.monotone = monotone

    def pick(self, options: list[Callable[[], str]]) -> str:
        return self.draw(st.sampled_from(options))()

    def deeper(self, depth: int) -> bool:
        return depth > 0 and self.draw(st.integers(0, 3)) > 0

    def number(self, depth: int) -> str:
        d = depth - 1
        leaves: list[Callable[[], str]] = [
            lambda: str(self.draw(st.integers(0, 1000))),
            lambda: str(self.draw(st.decimals(min_value=0, max_value=100, places=2))),
            lambda: self.draw(st.sampled_from(NUMBER_FACTS)),
            lambda: "BEDRAG",
            lambda: "count(persoon.l)",
        ]
        if not self.deeper(depth):
            return self.pick(leaves)
        operators = ["+", "-", "*"] if self.monotone else ["+", "-", "*", "/"]
        return self.pick([
            lambda: f"({self.number(d)} {self.draw(st.sampled_from(operators))} {self.number(d)})",
            lambda: f"-({self.number(d)})",
            lambda: f"{self.draw(st.sampled_from(['min', 'max']))}({self.number(d)}, {self.number(d)})",
            lambda: f"age({self.date(d)}, {self.date(d)})",
            lambda: f"({self.date(d)} - {self.date(d)})",
            lambda: f"count({self.text_list(d)})",
            lambda: f"(BEDRAG at {self.date_operand(d)})",
            lambda: f"(if {self.boolean(d)} then {self.number(d)} else {self.number(d)})",
        ])

    def duration(self) -> str:
        unit = self.draw(st.sampled_from(["day", "month", "year"]))
        top = {"day": 400, "month": 60, "year": 20}[unit]
        count = self.draw(st.integers(0, top))
        return f"{count} {unit}" if count == 1 else f"{count} {unit}s"

    def date(self, depth: int) -> str:
        d = depth - 1
        leaves: list[Callable[[], str]] = [
            lambda: self.draw(DAYS).isoformat(),
            lambda: self.draw(st.sampled_from(DATE_FACTS)),
            lambda: "evaluation_date",
            lambda: "reference_date",
        ]
        if not self.deeper(depth):
            return self.pick(leaves)
        return self.pick([
            lambda: f"({self.date(d)} {self.draw(st.sampled_from(['+', '-']))} {self.duration()})",
            lambda: f"{self.draw(st.sampled_from(['min', 'max']))}({self.date(d)}, {self.date(d)})",
            lambda: f"(if {self.boolean(d)} then {self.date(d)} else {self.date(d)})",
        ])

    def date_operand(self, depth: int) -> str:
        text = self.date(depth)
        return text if text.startswith("(") or "(" not in text else f"({text})"

    def text(self, depth: int) -> str:
        leaves: list[Callable[[], str]] = [
            lambda: f"'{self.draw(st.sampled_from(CODES))}'",
            lambda: "persoon.t",
        ]
        if not self.deeper(depth):
            return self.pick(leaves)
        d = depth - 1
        return f"(if {self.boolean(d)} then {self.text(d)} else {self.text(d)})"

    def text_list(self, depth: int) -> str:
        def literal() -> str:
            codes = self.draw(st.lists(st.sampled_from(CODES), max_size=3))
            return "[" + ", ".join(f"'{code}'" for code in codes) + "]"

        if not self.deeper(depth):
            return self.pick([literal, lambda: "persoon.l"])
        d = depth - 1
        return f"(if {self.boolean(d)} then {self.text_list(d)} else {self.text_list(d)})"

    def boolean(self, depth: int) -> str:
        d = depth - 1

        def any_fact() -> str:
            return self.draw(st.sampled_from(FACTS))

        leaves: list[Callable[[], str]] = [
            lambda: self.draw(st.sampled_from(["true", "false"])),
            lambda: self.draw(st.sampled_from(BOOL_FACTS)),
            lambda: "doelgroep",
            lambda: f"({any_fact()} {self.draw(st.sampled_from(['is none', 'is not none']))})",
        ]
        if not self.monotone:
            leaves.append(lambda: f"({any_fact()} {self.draw(st.sampled_from(['is known', 'is unknown']))})")
        if not self.deeper(depth):
            return self.pick(leaves)
        order = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
        equality = st.sampled_from(["==", "!="])
        return self.pick([
            lambda: f"({self.boolean(d)} {self.draw(st.sampled_from(['and', 'or']))} {self.boolean(d)})",
            lambda: f"(not {self.boolean(d)})",
            lambda: f"({self.number(d)} {self.draw(order)} {self.number(d)})",
            lambda: f"({self.date(d)} {self.draw(order)} {self.date(d)})",
            lambda: f"({self.text(d)} {self.draw(equality)} {self.text(d)})",
            lambda: f"({self.boolean(d)} {self.draw(equality)} {self.boolean(d)})",
            lambda: f"({self.text(d)} {self.draw(st.sampled_from(['in', 'not in']))} {self.text_list(d)})",
            lambda: f"({self.text(d)} in EU)",
            lambda: f"({self.text(d)} in EU at {self.date_operand(d)})",
            lambda: f"(any {self.text_list(d)} {self.draw(st.sampled_from(['in', 'not in']))} EU)",
            lambda: f"(if {self.boolean(d)} then {self.boolean(d)} else {self.boolean(d)})",
        ])

    def of_kind(self, kinds: tuple[str, ...], depth: int) -> str:
        kind = self.draw(st.sampled_from(kinds))
        text: str = getattr(self, kind)(depth)
        return text


ALL_KINDS = ("number", "date", "boolean", "text", "text_list")


@st.composite
def well_typed(draw: st.DrawFn, monotone: bool = False, kinds: tuple[str, ...] = ALL_KINDS) -> str:
    return Grammar(draw, monotone).of_kind(kinds, draw(st.integers(1, 4)))


def fact_values() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "persoon.n1": st.decimals(min_value=-1000, max_value=1000, places=2),
        "persoon.n2": st.integers(-5, 5).map(Decimal),
        "persoon.d1": DAYS,
        "persoon.d2": DAYS,
        "persoon.b1": st.booleans(),
        "persoon.b2": st.booleans(),
        "persoon.t": st.sampled_from(CODES),
        "persoon.l": st.lists(st.sampled_from(CODES), max_size=4).map(tuple),
    }



@st.composite
def fact_sets(draw: st.DrawFn, states: tuple[str, ...] = ("given", "given", "missing", "none")) -> dict[str, Any]:
    """Each fact given, missing (unknown) or given as ``None``, in proportion to ``states``."""
    facts: dict[str, Any] = {}
    for name, values in fact_values().items():
        state = draw(st.sampled_from(states))
        if state == "given":
            facts[name] = draw(values)
        elif state == "none":
            facts[name] = None
    return facts


@FAST
@given(text=well_typed(), facts=fact_sets(), doelgroep=st.sampled_from([True, False, None]))
def test_compiled_generated_and_interpreted_agree(text: str, facts: dict[str, Any], doelgroep: Any) -> None:
    expression = compiled(text)
    closures = outcome(expression.evaluate, facts, doelgroep)
    reference = outcome(expression.interpret, facts, doelgroep)
    assert closures == reference, f"{text!r} with {facts}: compiled {closures}, interpreted {reference}"
    inlined = outcome(lambda scope: generated_value(expression, scope), facts, doelgroep)
    assert inlined == reference, f"{text!r} with {facts}: inlined {inlined}, interpreted {reference}"


@FAST
@given(text=well_typed(), facts=fact_sets())
def test_evaluation_is_deterministic(text: str, facts: dict[str, Any]) -> None:
    first = compiled(text)
    again = language.Expression.compile(text, VOCABULARY)
    results = {
        repr(outcome(run, facts))
        for run in (first.evaluate, first.evaluate, again.evaluate, first.interpret, again.interpret)
    }
    assert len(results) == 1, f"{text!r} with {facts}: {results}"


@FAST
@given(
    text=well_typed(monotone=True, kinds=("boolean", "number", "date")),
    facts=fact_sets(states=("given", "missing", "missing", "none")),
    data=st.data(),
)
def test_a_decided_result_does_not_depend_on_missing_facts(
    text: str, facts: dict[str, Any], data: st.DataObject
) -> None:
    expression = compiled(text)
    before = outcome(expression.evaluate, facts)
    missing = [name for name in fact_values() if name not in facts]
    if before[0] == "value" and before[1][0] == "unknown":
        named = before[1][1]
        assert named <= set(missing), f"{text!r} with {facts}: names {sorted(named)}, missing {missing}"
        assert named, f"{text!r} with {facts}: unknown, but names no missing fact"
        return
    completed = dict(facts)
    for name in missing:
        completed[name] = data.draw(st.one_of(st.none(), fact_values()[name]), label=name)
    after = outcome(expression.evaluate, completed)
    assert after == before, f"{text!r}: {before} with {facts}, but {after} with {completed}"


# --- Kleene's logic against an oracle ------------------------------------------------


class Kleene:
    """Draws and/or/not over boolean facts, with the result docs/language.md gives.

    The oracle: ``none`` counts as false inside ``and``/``or``/``not``; ``false and X``
    and ``true or X`` are decided whatever X is; otherwise an unknown operand makes the
    result unknown, naming the missing facts of the operands that were unknown.
    """

    def __init__(self, draw: st.DrawFn, facts: dict[str, Any]) -> None:
        self.draw = draw
        self.facts = facts

    def expression(self, depth: int) -> tuple[str, Any]:
        if depth == 0 or self.draw(st.integers(0, 3)) == 0:
            if self.draw(st.booleans()):
                name = self.draw(st.sampled_from(BOOL_FACTS))
                return name, self.facts[name] if name in self.facts else Unknown(frozenset({name}))
            literal = self.draw(st.booleans())
            return ("true" if literal else "false"), literal
        shape = self.draw(st.sampled_from(["and", "or", "not"]))
        if shape == "not":
            text, value = self.expression(depth - 1)
            return f"(not {text})", self.negate(value)
        (left, a), (right, b) = self.expression(depth - 1), self.expression(depth - 1)
        value = self.conjoin(a, b) if shape == "and" else self.negate(self.conjoin(self.negate(a), self.negate(b)))
        return f"({left} {shape} {right})", value

    @staticmethod
    def negate(value: Any) -> Any:
        return value if isinstance(value, Unknown) else not bool(value)

    @staticmethod
    def conjoin(a: Any, b: Any) -> Any:
        a = a if isinstance(a, Unknown) else bool(a)
        b = b if isinstance(b, Unknown) else bool(b)
        if a is False or b is False:
            return False
        if a is True and b is True:
            return True
        missing = frozenset().union(*(v.missing for v in (a, b) if isinstance(v, Unknown)))
        return Unknown(missing)


@st.composite
def kleene_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], Any]:
    facts: dict[str, Any] = {}
    for name in BOOL_FACTS:
        state = draw(st.sampled_from(["true", "false", "missing", "none"]))
        if state != "missing":
            facts[name] = {"true": True, "false": False, "none": None}[state]
    text, value = Kleene(draw, facts).expression(draw(st.integers(1, 5)))
    return text, facts, value


@FAST
@given(kleene_cases())
def test_and_or_not_follow_kleene(case: tuple[str, dict[str, Any], Any]) -> None:
    text, facts, expected = case
    expression = compiled(text)
    for run in (expression.evaluate, expression.interpret):
        result = run(scope(facts))
        assert normal(result) == normal(expected), f"{text!r} with {facts}: {result!r}, expected {expected!r}"


# --- exact decimals ---------------------------------------------------------------------

PLAIN_DECIMALS = st.builds(  # products stay within the number bound (values.MAX_INTEGER_DIGITS)
    lambda digits, places: Decimal(digits).scaleb(-places),
    st.integers(min_value=0, max_value=10**24),
    st.integers(min_value=0, max_value=12),
)


@FAST
@given(left=PLAIN_DECIMALS, right=PLAIN_DECIMALS, operator=st.sampled_from(["+", "-", "*"]))
def test_sums_differences_and_products_are_exact(left: Decimal, right: Decimal, operator: str) -> None:
    text = f"{left:f} {operator} {right:f}"
    with localcontext() as exact:
        exact.prec = 500
        expected = {"+": left + right, "-": left - right, "*": left * right}[operator]
    for run in (compiled(text).evaluate, compiled(text).interpret):
        result = run(scope({}))
        assert isinstance(result, Decimal) and result == expected, f"{text}: {result!r}, exactly {expected}"


# --- dates and terms ------------------------------------------------------------------

DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


def month_term(day: date, months: int) -> tuple[int, int, int]:
    """(year, month, last day of that month) of ``day`` plus ``months`` months."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    return year, month + 1, calendar.monthrange(year, month + 1)[1]


@FAST
@given(
    day=DATES,
    count=st.integers(0, 1200),
    unit=st.sampled_from(["months", "years"]),
    sign=st.sampled_from(["+", "-"]),
)
def test_terms_in_months_end_on_the_same_day_or_the_months_last(
    day: date, count: int, unit: str, sign: str
) -> None:
    if unit == "years":
        count = count // 12
    word = unit[:-1] if count == 1 else unit
    expression = compiled(f"persoon.d1 {sign} {count} {word}")
    months = count * (12 if unit == "years" else 1) * (1 if sign == "+" else -1)
    year, month, last = month_term(day, months)
    for run in (expression.evaluate, expression.interpret):
        result = run(scope({"persoon.d1": day}))
        assert isinstance(result, date), result
        assert (result.year, result.month) == (year, month), f"{day} {sign} {count} {word}: {result}"
        assert result.day <= last
        assert result.day == min(day.day, last), f"{day} {sign} {count} {word}: {result}"


@FAST
@given(day=DATES, years=st.integers(1, 120))
def test_age_turns_over_on_the_term_in_years(day: date, years: int) -> None:
    word = "year" if years == 1 else "years"
    on_birthday = compiled(f"age(persoon.d1, persoon.d1 + {years} {word})")
    day_before = compiled(f"age(persoon.d1, persoon.d1 + {years} {word} - 1 day)")
    facts = {"persoon.d1": day}
    for run in (on_birthday.evaluate, on_birthday.interpret):
        assert run(scope(facts)) == Decimal(years), f"born {day}, {years} years"
    for run in (day_before.evaluate, day_before.interpret):
        assert run(scope(facts)) == Decimal(years - 1), f"born {day}, a day short of {years} years"


@FAST
@given(birth=DATES, on=DATES)
def test_age_is_the_number_of_whole_year_terms_that_have_run(birth: date, on: date) -> None:
    if on < birth:
        birth, on = on, birth
    years = on.year - birth.year
    year, month, last = month_term(birth, 12 * years)
    if date(year, month, min(birth.day, last)) > on:
        years -= 1
    expression = compiled("age(persoon.d1, persoon.d2)")
    for run in (expression.evaluate, expression.interpret):
        result = run(scope({"persoon.d1": birth, "persoon.d2": on}))
        assert isinstance(result, Decimal) and result == years, f"born {birth}, on {on}: {result!r}"


@FAST
@given(day=DATES, days=st.integers(-3000, 3000))
def test_date_plus_days_and_date_minus_date_count_calendar_days(day: date, days: int) -> None:
    word = "day" if abs(days) == 1 else "days"
    sign = "+" if days >= 0 else "-"
    term = compiled(f"persoon.d1 {sign} {abs(days)} {word}")
    between = compiled("persoon.d2 - persoon.d1")
    later = day + timedelta(days=days)
    for run in (term.evaluate, term.interpret):
        assert run(scope({"persoon.d1": day})) == later, f"{day} {sign} {abs(days)} {word}"
    for run in (between.evaluate, between.interpret):
        result = run(scope({"persoon.d1": day, "persoon.d2": later}))
        assert isinstance(result, Decimal) and result == days, f"{later} - {day}: {result!r}"
