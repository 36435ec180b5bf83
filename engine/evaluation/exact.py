"""Exactly decided: an output is decided when every value its missing facts could take
gives the same outcome (docs: README, "Exactly decided"; domain page 4a points 6 and 12).

This is a layer over evaluation, domain-free. The general path carries sets of possible
*rule* outcomes and cannot see that, say, an unknown date of birth makes no difference
for who is registered in Brussels; this module asks the question directly: it tries the
missing facts' values and compares the outcomes. The values to try are few because the
conditions can only tell a fact's values apart in a few ways, read statically from the
checked ASTs of the consolidation (never from the evaluators' internals):

- a boolean: true, false; a text with declared values: those values;
- another text, or a list of texts: the texts named in the expressions that read the
  fact, and the members of the value sets those expressions use, grouped by which
  literals and which sets (in which period) hold them, one text per group and one text
  none of them holds; a list: every combination of groups (a list compared whole is
  opaque);
- a date: the **date terms** the conditions compare (a fact, the evaluation date or a
  literal, shifted by durations: ``persoon.geboortedatum + 18 years``, ``age(a, b) >= 18``
  read as ``a + 18 years <= b``; ``min`` and ``max`` compare their arguments), against each other and against the window boundaries of
  the versions a term selects (a rule's ``reference_date``, a set or parameter ``at`` a
  date). Every outcome is fixed by which side of each comparison the terms fall, and each
  such region holds its greatest point, which is built from the upper bounds alone: a
  literal, a boundary or a known date, pulled back through the shifts (the largest day
  whose shifted value is still on or before the bound, or just before it), repeated along
  chains of unknown dates, plus one day after everything. Those points are the
  candidates;
- a number: the numbers the rules name, each with its neighbours;
- ``none`` for a date or a text (a fact known to have no value).

A date fact declared ``event: true`` takes no value after the evaluation date (a later
event has not happened), and is not ``none`` when a fact declared ``event_of`` it is
given (4a point 8).

**Cases split on demand.** Evaluation is sound with facts missing: what it decides holds
whatever they are. So the cases are not the product of every missing fact's values: the
output is evaluated, and while it stays unknown, the first fact the evaluation names is
tried at each of its values, and each case evaluated again with that value given. Most
cases are decided after one or two facts (a Brussels resident is not obliged under the
Flemish decree, whatever her date of birth). The facts named for an undecided output are
those whose value alone changes it, read from the tree of cases (:func:`_deciding`).
Cases are shared between a result's outputs; each output is first tried until two cases
disagree, and only then are the undecided outputs' trees completed to name their facts.

**Bounded.** A fact used in a way the analysis does not read (whether it is known, a
count of a list, a date in arithmetic it does not follow) is *opaque*; so is a date fact
with more than :data:`MAX_DATE_CANDIDATES` candidates, an output with more than
:data:`MAX_CASES` cases, and a result whose outputs' cases need more than
:data:`MAX_EVALUATIONS` cases (each case is evaluated once, and asked for each output
whose tree reaches it). Then the answer stays what evaluation gave:
unknown, naming the facts it met (sound, possibly not exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timedelta
from decimal import Decimal
from itertools import combinations
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from engine.evaluation.domains import EVALUATION_DATE, Atom, Domains, Shift, Term
from engine.language.types import Declaration
from engine.values import add_duration

if TYPE_CHECKING:
    from engine.evaluation.outcomes import Decision

MAX_EVALUATIONS = 400  # evaluations for one result (a case tried for several outputs counts once)
MAX_CASES = 2_000  # cases tried for one output
MAX_DATE_CANDIDATES = 256  # values tried for one date fact
MAX_LIST_GROUPS = 6  # a list fact ranges over every combination of this many groups of texts
_DATE_CACHE = 10_000  # candidate lists kept per consolidation (they depend on the known dates only)
_MISSING = object()
_DEPTH = 3  # chains of unknown dates followed through this many comparisons
_ONE_DAY = timedelta(days=1)

# -- the values to try ---------------------------------------------------------------

LATEST = date(2500, 1, 1)  # after every date a rule names, however shifted


def _apply(shifts: Shift, day: date) -> date:
    for shift in shifts:
        day = add_duration(day, shift)
    return day


def _pull(shifts: Shift, bound: date) -> date:
    """The largest day whose shifted value is on or before ``bound`` (shifts are monotone)."""
    day = bound
    for shift in reversed(shifts):
        day = add_duration(day, -shift)
    for _ in range(40):  # month ends move a pulled day by a few days at most
        if _apply(shifts, day) > bound:
            day -= _ONE_DAY
        elif day < date.max and _apply(shifts, day + _ONE_DAY) <= bound:
            day += _ONE_DAY
        else:
            break
    return day


@lru_cache(maxsize=1 << 16)
def _upper_points(shifts: Shift, bound: date) -> frozenset[date]:
    """Where a region bounded by ``term <= bound`` or ``term < bound`` has its greatest day
    (pure, and asked again and again for the same bounds: cached)."""
    points = set()
    for days_before in (0, 1):
        try:  # a day beyond date.min or date.max is no candidate: skipped
            points.add(_pull(shifts, bound - days_before * _ONE_DAY))
        except (OverflowError, ValueError):
            continue
    return frozenset(points)


@lru_cache(maxsize=1 << 16)
def _shifted(shifts: Shift, day: date) -> date | None:
    try:
        return _apply(shifts, day)
    except (OverflowError, ValueError):
        return None


def date_candidates(missing: Iterable[str], atoms: Iterable[Atom], given: Mapping[str, Any], on: date,
                    events: Mapping[str, bool]) -> dict[str, list[date | None]] | None:
    """The dates to try for each missing date fact, or None beyond :data:`MAX_DATE_CANDIDATES`.

    ``events`` maps a missing event date fact to whether it must have happened (a fact
    describing the event is given)."""
    wanted = set(missing)

    def resolve(term: Term) -> Term | None:  # a term over a known value becomes a literal
        base = term.base
        if base is EVALUATION_DATE:
            base = on
        elif isinstance(base, str):
            if base in wanted:
                return term
            base = given.get(base)
            if not isinstance(base, date):
                return None  # none: comparisons with it are false, whatever the others
        try:
            return Term(_apply(term.shifts, base))
        except (OverflowError, ValueError):
            return None

    found: dict[str, set[date]] = {name: set() for name in wanted}
    links: list[tuple[Term, Term]] = []
    every = list(atoms) + [(Term(name), Term(EVALUATION_DATE)) for name in events]
    for left, right in every:
        a, b = resolve(left), resolve(right)
        if a is None or b is None:
            continue
        for one, other in ((a, b), (b, a)):
            if isinstance(one.base, str) and isinstance(other.base, date):
                found[one.base] |= _upper_points(one.shifts, other.base)
        if isinstance(a.base, str) and isinstance(b.base, str) and a.base != b.base:
            links.append((a, b))
    new = {name: set(days) for name, days in found.items()}  # grown in the last round
    for _ in range(_DEPTH if links else 0):
        grown: dict[str, set[date]] = {name: set() for name in found}
        for a, b in links:
            for one, other in ((a, b), (b, a)):
                for day in new[other.base]:
                    bound = _shifted(other.shifts, day)
                    if bound is not None:
                        grown[one.base] |= _upper_points(one.shifts, bound) - found[one.base]
        for name, days in grown.items():
            found[name] |= days
        new = grown
        if not any(grown.values()) or any(len(days) > MAX_DATE_CANDIDATES for days in found.values()):
            break
    result: dict[str, list[date | None]] = {}
    for name, days in found.items():
        if name in events:
            options: list[date | None] = [d for d in sorted(days) if d <= on]
            if not events[name]:
                options.append(None)
        else:
            options = [*sorted(days | {LATEST}), None]
        if len(options) > MAX_DATE_CANDIDATES:
            return None
        result[name] = options
    return result


def other_candidates(declaration: Declaration, domains: Domains) -> list[Any] | None:
    """The values to try for a missing fact that is not a date, or None (opaque)."""
    kind = declaration.type
    if kind.name == "bool":
        return [True, False]
    if kind.name == "text":
        return list(declaration.values or domains.groups_for(declaration.name)) + [None]
    if kind.is_collection and kind.element is not None and kind.element.name == "text":
        groups = list(declaration.values) if declaration.values else domains.groups_for(declaration.name)
        if len(groups) > MAX_LIST_GROUPS:
            return None
        lists = [tuple(c) for size in range(len(groups) + 1) for c in combinations(groups, size)]
        return [frozenset(c) for c in lists] if kind.name == "set" else list(lists)
    if kind.name == "number":
        near = {m + delta for m in domains.numbers for delta in (Decimal(-1), Decimal(0), Decimal(1))}
        return sorted(near | {Decimal(0)})
    return None


# -- deciding exactly ------------------------------------------------------------------

Evaluate = Callable[[Mapping[str, Any]], Callable[[str], "Decision | None"]]  # a case -> decide an output


class _Cases:
    """The cases of one result, shared between its outputs: the trees of several outputs
    try the same values of the same facts, and a case decides each output once."""

    def __init__(self, given: Mapping[str, Any], evaluate: Evaluate) -> None:
        self.given = given
        self.evaluate = evaluate
        self.found: dict[frozenset[tuple[str, Any]], Callable[[str], "Decision | None"]] = {}

    def decide(self, known: Mapping[str, Any], output: str) -> "Decision | None":
        key = frozenset((f, _key(v)) for f, v in known.items() if f not in self.given)
        case = self.found.get(key)
        if case is None:
            if len(self.found) >= MAX_EVALUATIONS:
                raise _Beyond(output)
            case = self.found[key] = self.evaluate(dict(known))  # ``known`` changes as the trees are walked
        return case(output)


@dataclass
class _Leaf:
    """A part of the cases where the output no longer depends on the missing facts."""

    assigned: dict[str, Any]  # the values tried, fact by fact
    outcome: tuple[Any, ...]  # (status, value key, value, deciding rule)


class _Beyond(Exception):
    """More cases than the bound, or a fact whose values cannot be listed."""


class _Disagree(Exception):
    """Two cases with different outcomes: the output is not decided."""


def refine(decisions: dict[str, "Decision"], domains: Domains, given: Mapping[str, Any], on: date,
           evaluate: Evaluate, make: Callable[..., "Decision"]) -> dict[str, "Decision"]:
    """``decisions`` with every unknown one decided exactly, where the cases are few enough.

    The cases are split on demand: an evaluation that leaves the output unknown names the
    facts it met; the first of them is tried at each of its values (the candidates above)
    and each case evaluated again, until every case is decided (evaluation is sound: a
    decided case holds whatever the facts still missing). ``evaluate(facts)`` gives a
    case's function that decides an output without this refinement; ``make`` builds a
    Decision."""
    refined = dict(decisions)
    cases = _Cases(given, evaluate)
    unknown = [(name, d, domains.cone(name)) for name, d in decisions.items() if d.status == "unknown"]
    # outputs with fewer missing facts first: they need fewer cases, and the bound on a
    # result's evaluations then goes to the outputs most likely to be settled. The facts
    # evaluation met count first: the cases split on them only (a Brussels resident's
    # ``verplicht`` meets her date of birth alone, though its rules read eight missing facts)
    unknown.sort(key=lambda entry: (len(entry[1].missing), sum(1 for f in entry[2][0] if f not in given)))
    # first whether each output is decided, stopping at two different outcomes; then,
    # with what the bound leaves, which facts the undecided ones depend on
    undecided = []
    for name, decision, cone in unknown:
        try:
            leaves = _split(name, dict(given), decision.missing, domains, cone, on, cases, [0], set())
        except _Disagree:
            undecided.append((name, decision, cone))
            continue
        except _Beyond:
            continue
        _conclude(name, leaves, refined, make)
    for name, decision, cone in undecided:
        try:
            leaves = _split(name, dict(given), decision.missing, domains, cone, on, cases, [0], None)
        except _Beyond:
            continue
        _conclude(name, leaves, refined, make)
    return refined


def _conclude(name: str, leaves: list[_Leaf], refined: dict[str, "Decision"], make: Callable[..., "Decision"]) -> None:
    """The decision from the tree of cases of one output."""
    if any(leaf.outcome[0] == "unknown" for leaf in leaves):
        return  # a case left unknown with nothing more to try: keep the sound answer
    if len({leaf.outcome[:2] for leaf in leaves}) == 1:
        status, _, value, _ = leaves[0].outcome
        rules = {leaf.outcome[3] for leaf in leaves}
        refined[name] = make(name, status, value, (), rules.pop() if len(rules) == 1 else None)
    else:
        refined[name] = make(name, "unknown", None, _deciding(leaves), None)


Cone = tuple[frozenset[str], frozenset[Atom], frozenset[str]]  # facts, date atoms, opaque facts


def _split(output: str, known: dict[str, Any], missing: Iterable[str], domains: Domains, cone: Cone,
           on: date, cases: _Cases, spent: list[int], seen: set[Any] | None) -> list[_Leaf]:
    """The tree of cases of one output, as its leaves. With ``seen``, stops (raising
    :class:`_Disagree`) as soon as two leaves have different outcomes."""
    vocabulary = domains.vocabulary
    candidates = sorted((f for f in missing if f not in known), key=lambda f: (
        vocabulary.names[f].type.name == "date", f))
    if not candidates:
        return [_Leaf({}, ("unknown", None, None, None))]
    fact = candidates[0]
    describing = [name for name in domains.describing if vocabulary.names[name].event_of == fact and name not in known]
    if vocabulary.names[fact].event and describing:
        fact = describing[0]  # first whether the event is described: then it has happened
    if fact in cone[2]:
        raise _Beyond(fact)
    leaves: list[_Leaf] = []
    for value in _values(fact, domains, cone, known, on):
        spent[0] += 1
        if spent[0] > MAX_CASES:
            raise _Beyond(output)
        known[fact] = value
        decision = cases.decide(known, output)
        event = vocabulary.names[fact].event_of
        if value is not None and event and event not in known and event in cone[0]:
            # the event happened: its date is tried too, so that every leaf says which
            # dates it covers (not none), and leaves are compared on what they cover
            found = _split(output, known, (event,), domains, cone, on, cases, spent, seen)
        elif decision is not None and decision.status == "unknown":
            found = _split(output, known, decision.missing, domains, cone, on, cases, spent, seen)
        else:
            found = [_Leaf({}, _outcome(decision))]
            if seen is not None:
                seen.add(found[0].outcome[:2])
                if len(seen) > 1:
                    raise _Disagree(output)
        for leaf in found:
            leaf.assigned[fact] = value
        leaves.extend(found)
        del known[fact]
    return leaves


def _values(fact: str, domains: Domains, cone: Cone, known: Mapping[str, Any], on: date) -> list[Any]:
    vocabulary = domains.vocabulary
    declaration = vocabulary.names[fact]
    if declaration.type.name != "date":
        if declaration.event_of and declaration.event_of in known and known[declaration.event_of] is None:
            return [None]  # the event has not happened: nothing describes it
        values = other_candidates(declaration, domains)
        if values is None:
            raise _Beyond(fact)
        return values
    dates = [f for f in cone[0] if vocabulary.names[f].type.name == "date"]
    key = (on, cone[1], tuple(known.get(f, _MISSING) for f in dates),
           tuple(known.get(f) is not None for f in domains.describing))
    found = domains.date_cache.get(key)
    if found is None:
        missing = [f for f in dates if f not in known]
        events = {name: _happened(name, domains, known) for name in missing if vocabulary.names[name].event}
        found = date_candidates(missing, cone[1], known, on, events)
        if len(domains.date_cache) < _DATE_CACHE:
            domains.date_cache[key] = found
    if found is None:
        raise _Beyond(fact)
    return found[fact]


def _happened(event: str, domains: Domains, given: Mapping[str, Any]) -> bool:
    """Whether a fact describing the event is given (not none): then it has happened."""
    names = domains.vocabulary.names
    return any(names[name].event_of == event and given.get(name) is not None for name in domains.describing)


def _outcome(decision: "Decision | None") -> tuple[Any, ...]:
    if decision is None:
        return ("conflict", None, None, None)
    value = decision.value
    key = tuple(value) if isinstance(value, list) else value
    return (decision.status, key, value, decision.rule)


def _deciding(leaves: list[_Leaf]) -> tuple[str, ...]:
    """The missing facts whose value alone changes the outcome.

    The leaves partition the cases as a tree: each path tries one fact after another. Two
    cases that differ in one fact ``f`` only lie in different branches of a node that
    tries ``f``, in leaves that give every other fact both of them try the same value; so
    ``f`` is named when, at a node that tries it, two branches hold such leaves with
    different outcomes."""
    paths = [(tuple(reversed(list(leaf.assigned.items()))), leaf.outcome[:2]) for leaf in leaves]
    named: set[str] = set()
    pending = [(paths, 0)]
    while pending:
        group, depth = pending.pop()
        inner = [(path, outcome) for path, outcome in group if len(path) > depth]
        if not inner:
            continue
        fact = inner[0][0][depth][0]
        branches: dict[Any, list[tuple[tuple[tuple[str, Any], ...], Any]]] = {}
        for path, outcome in inner:
            branches.setdefault(_key(path[depth][1]), []).append((path, outcome))
        if fact not in named and _differ_in_branch(branches, depth + 1):
            named.add(fact)
        pending.extend((branch, depth + 1) for branch in branches.values())
    return tuple(sorted(named))


def _key(value: Any) -> Any:
    return tuple(sorted(value)) if isinstance(value, frozenset) else value


def _differ_in_branch(branches: Mapping[Any, list[tuple[tuple[tuple[str, Any], ...], Any]]], depth: int) -> bool:
    """Whether two leaves of different branches, agreeing on every fact both try below
    the node, have different outcomes. Leaves are grouped by which facts they try, so
    two groups are compared through the values of the facts they share."""
    by_facts: dict[frozenset[str], list[tuple[Any, dict[str, Any], Any]]] = {}
    for branch, members in branches.items():
        for path, outcome in members:
            below = {f: _key(v) for f, v in path[depth:]}
            by_facts.setdefault(frozenset(below), []).append((branch, below, outcome))
    kinds = list(by_facts)
    for i, first in enumerate(kinds):
        for second in kinds[i:]:
            shared = sorted(first & second)
            ones: dict[tuple[Any, ...], set[tuple[Any, Any]]] = {}
            for branch, below, outcome in by_facts[first]:
                ones.setdefault(tuple(below[f] for f in shared), set()).add((branch, outcome))
            others = ones
            if second != first:
                others = {}
                for branch, below, outcome in by_facts[second]:
                    others.setdefault(tuple(below[f] for f in shared), set()).add((branch, outcome))
            for projection, found in ones.items():
                if _apart(found, others.get(projection, set())):
                    return True
    return False


def _apart(ones: set[tuple[Any, Any]], others: set[tuple[Any, Any]]) -> bool:
    """An entry of each with different branches and different outcomes."""
    return any(a[0] != b[0] and a[1] != b[1] for a in ones for b in others)
