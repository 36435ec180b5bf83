"""The static reading behind exactly decided outputs (:mod:`engine.evaluation.exact`).

For one consolidation, :class:`Domains` reads the checked ASTs of every rule version
(conditions, computed values, reference dates) and finds, per output, the facts it
depends on, the **date atoms** its rules compare (two date terms: a fact, a literal or
the evaluation date, shifted by durations; ``age(a, b) >= N`` read as ``a + N years``
against ``b``; a reference date or a set's or parameter's ``at`` date against the
boundaries of the windows it selects), and the facts it reads in a way this reading does
not follow (*opaque*: a count, days between two dates, a duration that is not a literal
or a parameter). It also groups the texts the rules name and the members of value sets by
what tells them apart. Nothing here depends on a person: a :class:`Domains` is built once
per consolidation and shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any, Iterable, Mapping

from engine.language import nodes as n
from engine.language.types import Vocabulary
from engine.rules.model import Rule, ValueSet
from engine.rules.timeline import Consolidation
from engine.values import Duration

OTHER_TEXT = "\u2205other"  # a text no rule names and no set holds
Shift = tuple[Duration, ...]
Base = Any  # a fact name (str), a date, or EVALUATION_DATE
EVALUATION_DATE = ("evaluation_date",)


@dataclass(frozen=True)
class Term:
    """A date the conditions compare: a base shifted by durations, in order."""

    base: Base
    shifts: Shift = ()

    def shifted(self, by: Duration) -> "Term":
        return Term(self.base, self.shifts + (by,))


Atom = tuple[Term, Term]  # two date terms compared with each other


class _Opaque(Exception):
    """A construct the analysis does not follow: its facts are opaque."""


@dataclass
class _RuleReading:
    """What the expressions of one rule tell about the facts they read."""

    atoms: set[Atom]
    facts: set[str]  # facts read, directly
    outputs: set[str]  # outputs read
    opaque: set[str]


class Domains:
    """The static reading of one consolidation: per output, its facts and date atoms."""

    def __init__(self, consolidation: Consolidation, vocabulary: Vocabulary,
                 sets: Mapping[str, ValueSet]) -> None:
        self.consolidation = consolidation
        self.vocabulary = vocabulary
        self.sets = sets
        self.setters: dict[str, list[Rule]] = {}
        for rule in consolidation.rules.values():
            for output in rule.outputs:
                self.setters.setdefault(output, []).append(rule)
        self._terms: dict[str, frozenset[Term]] = {}
        self._readings: dict[str, _RuleReading] = {}
        self._cones: dict[str, tuple[frozenset[str], frozenset[Atom], frozenset[str]]] = {}
        self._groups: dict[str, list[str]] = {}
        self.describing = tuple(d.name for d in vocabulary.names.values() if d.event_of)  # facts of events
        self.date_cache: dict[Any, Any] = {}  # candidate dates by what they depend on (engine.evaluation.exact)

    # -- the literals and the groups of texts ---------------------------------------
    # read from every rule, so read only when a missing fact is a text or a number: most
    # missing facts are dates and booleans, and a large set's rules are many

    @cached_property
    def texts(self) -> set[str]:
        """The texts the rules name."""
        return self._literals[0]

    @cached_property
    def numbers(self) -> set[Decimal]:
        """The numbers the rules and parameters name."""
        return self._literals[1]

    @cached_property
    def groups(self) -> list[str]:
        """One text per group of the texts no literal or set tells apart."""
        return self._text_groups()

    @cached_property
    def _literals(self) -> tuple[set[str], set[Decimal]]:
        texts: set[str] = set()
        numbers: set[Decimal] = set()
        for rule in self.consolidation.rules.values():
            for version in self.consolidation.timelines[rule.id].versions:
                for value in version.values.values():
                    if isinstance(value, str):
                        texts.add(value)
                for expression in version.expressions() + ([rule.reference_date] if rule.reference_date else []):
                    for node in n.walk(expression.node):
                        if isinstance(node, n.Literal) and isinstance(node.value, str):
                            texts.add(node.value)
                        elif isinstance(node, n.Literal) and isinstance(node.value, Decimal):
                            numbers.add(node.value)
        for timeline in self.consolidation.parameters.values():
            for parameter in timeline.versions:
                if isinstance(parameter.value, Decimal):
                    numbers.add(parameter.value)
        return texts, numbers

    def _text_groups(self, texts: set[str] | None = None, sets: Iterable[ValueSet] | None = None) -> list[str]:
        """One text per group of texts that no literal or set (in any period) tells apart
        (of ``texts`` and ``sets``; by default every literal and every set)."""
        texts = self.texts if texts is None else texts
        chosen = list(self.sets.values() if sets is None else sets)
        points = sorted({d for s in chosen for m in s.members for d in (m.start, m.until) if d})
        probes = [date.min] + points
        candidates = texts | {m.value for s in chosen for m in s.members if isinstance(m.value, str)}
        seen: dict[Any, str] = {}
        for text in sorted(candidates):
            signature = (text if text in texts else None, tuple(text in s.at(day) for s in chosen for day in probes))
            seen.setdefault(signature, text)
        return sorted(seen.values()) + [OTHER_TEXT]

    def groups_for(self, fact: str) -> list[str]:
        """The groups of texts for one fact: only the literals and sets of the expressions
        that read it tell its values apart, unless an expression hands the fact on whole
        (to an output), where any literal may meet it."""
        found = self._groups.get(fact)
        if found is None:
            texts: set[str] = set()
            sets: dict[str, ValueSet] = {}
            handed_on = False
            for rule in self.consolidation.rules.values():
                for version in self.consolidation.timelines[rule.id].versions:
                    for expression in version.expressions():
                        if fact not in expression.free_names:
                            continue
                        handed_on = handed_on or any(
                            e is expression and isinstance(e.node, n.Name) for e in version.computed.values())
                        for node in n.walk(expression.node):
                            if isinstance(node, n.Literal) and isinstance(node.value, str):
                                texts.add(node.value)
                            elif isinstance(node, n.Name) and node.name in self.sets:
                                sets[node.name] = self.sets[node.name]
            found = self.groups if handed_on else self._text_groups(texts, sets.values())
            self._groups[fact] = found
        return found

    # -- what an output depends on --------------------------------------------------

    def cone(self, output: str) -> tuple[frozenset[str], frozenset[Atom], frozenset[str]]:
        """The facts an output depends on, the date atoms of its rules, its opaque facts.

        An output's cone is what its own rules read joined with the cones of the outputs
        they read, each kept once built: a chain of outputs that read one another (rule
        ``n`` reading the output of rule ``n - 1``) is read once, not once per output
        along it. Built bottom-up without recursion, as chains can be long."""
        found = self._cones.get(output)
        if found is not None:
            return found
        expanded: set[str] = set()
        pending = [output]
        while pending:
            name = pending[-1]
            if name in self._cones:
                pending.pop()
                continue
            readings = [self.reading(rule) for rule in self.setters.get(name, ())]
            used = {read for reading in readings for read in reading.outputs} - {name}
            waiting = [read for read in used if read not in self._cones]
            if waiting:
                # outputs form no cycle (the check rejects one), so a name is expanded once
                assert name not in expanded, f"outputs read in a cycle through {name!r}"
                expanded.add(name)
                pending.extend(waiting)
                continue
            facts: set[str] = set()
            atoms: set[Atom] = set()
            opaque: set[str] = set()
            # an atom over an output's date reaches the facts behind it
            for part in [(r.facts, r.atoms, r.opaque) for r in readings] + [self._cones[u] for u in used]:
                facts |= part[0]
                atoms |= part[1]
                opaque |= part[2]
            # built whole before it is kept, so another thread never sees it half built
            self._cones[name] = (frozenset(facts), frozenset(atoms), frozenset(opaque))
            pending.pop()
        return self._cones[output]

    def reading(self, rule: Rule) -> _RuleReading:
        found = self._readings.get(rule.id)
        if found is None:
            # built whole before it is kept, so another thread never sees it half read
            # (outputs form no cycle: the recursion through outputs ends)
            found = _RuleReading(set(), set(), set(), set())
            timeline = self.consolidation.timelines[rule.id]
            bounds = {d for v in timeline.versions if v.window for d in (v.window.start, v.window.until) if d}
            try:
                reference = self._reference_terms(rule)
                found.atoms |= {(t, Term(b)) for t in reference for b in bounds}
            except _Opaque:
                for name in rule.reference_date.free_names if rule.reference_date else ():
                    found.opaque |= self._facts_behind(name)
            expressions = [rule.reference_date] if rule.reference_date else []
            for version in timeline.versions:
                expressions += version.expressions()
            for expression in expressions:
                for node in n.walk(expression.node):
                    self._read(node, rule, found)
            self._readings[rule.id] = found
        return found

    def _read(self, node: n.Node, rule: Rule, reading: _RuleReading) -> None:
        vocabulary = self.vocabulary
        if isinstance(node, n.Name):
            declaration = vocabulary.get(node.name)
            if declaration is None:
                return
            if declaration.kind == "fact":
                reading.facts.add(node.name)
            elif declaration.kind == "output":
                reading.outputs.add(node.name)
            else:  # a set or parameter read on the rule's reference date
                try:
                    self._boundaries(node.name, self._reference_terms(rule), reading)
                except _Opaque:
                    for name in rule.reference_date.free_names if rule.reference_date else ():
                        reading.opaque |= self._facts_behind(name)
            return
        try:
            if isinstance(node, n.At):
                self._boundaries(node.name.name, self._date_terms(node.when, rule), reading)
            elif isinstance(node, n.Binary) and node.op in ("<", "<=", ">", ">=", "==", "!="):
                reading.atoms |= self._comparison(node, rule)
            elif isinstance(node, n.Call) and node.function in ("min", "max") and self._is_date(node):
                # min and max compare their arguments: which one they give turns on that comparison
                terms = [self._date_terms(argument, rule) for argument in node.args]
                reading.atoms |= {(a, b) for i, left in enumerate(terms) for right in terms[i + 1:]
                                  for a in left for b in right}
            elif isinstance(node, n.Call) and node.function == "count":
                raise _Opaque(node)
            elif isinstance(node, n.Binary) and node.op in ("==", "!=") and any(
                    isinstance(side, n.Name) and self._is_collection_fact(side.name) for side in (node.left, node.right)):
                raise _Opaque(node)  # a whole list compared: order and repetition count
            elif isinstance(node, n.Binary) and node.op in ("+", "-", "*", "/") and not self._is_date(node):
                raise _Opaque(node)  # a number computed from a fact: its thresholds are not the literals'
            elif isinstance(node, n.IsTest) and node.test in ("known", "unknown"):
                raise _Opaque(node)  # asks whether a fact was given: no value of it answers that
            elif isinstance(node, n.Binary) and node.op == "-" and self._is_date(node.left) \
                    and self._is_date(node.right):
                raise _Opaque(node)  # a number of days between dates: not followed
        except _Opaque:
            for name in n.free_names(node):
                reading.opaque |= self._facts_behind(name)

    def _is_collection_fact(self, name: str) -> bool:
        declaration = self.vocabulary.get(name)
        return declaration is not None and declaration.kind == "fact" and declaration.type.is_collection

    def _facts_behind(self, name: str) -> set[str]:
        declaration = self.vocabulary.get(name)
        if declaration is None or declaration.kind in ("set", "parameter"):
            return set()
        if declaration.kind == "fact":
            return {name}
        found: set[str] = set()
        for rule in self.setters.get(name, ()):
            reading = self.reading(rule)
            found |= reading.facts
            for output in reading.outputs:
                found |= self._facts_behind(output)
        return found

    def _boundaries(self, name: str, terms: Iterable[Term], reading: _RuleReading) -> None:
        value_set = self.sets.get(name)
        if value_set is not None:
            bounds = {d for m in value_set.members for d in (m.start, m.until) if d}
        else:
            timeline = self.consolidation.parameters.get(name)
            bounds = {d for v in (timeline.versions if timeline else ()) if v.window
                      for d in (v.window.start, v.window.until) if d}
        reading.atoms |= {(t, Term(b)) for t in terms for b in bounds}

    def _comparison(self, node: n.Binary, rule: Rule) -> set[Atom]:
        left, right = node.left, node.right
        if self._is_date(left) or self._is_date(right):
            return {(a, b) for a in self._date_terms(left, rule) for b in self._date_terms(right, rule)}
        ages = [(side, other) for side, other in ((left, right), (right, left)) if self._is_age(side)]
        if ages:  # age(a, b) against a number N: a + N years against b (and N + 1 for ==, <, >)
            side, other = ages[0]
            numbers = self._numbers(other)
            atoms: set[Atom] = set()
            for birth, on in self._ages(side, rule):
                for number in numbers:
                    for years in (number, number + 1):
                        if years != years.to_integral_value():
                            raise _Opaque(node)
                        shift = Duration(months=12 * int(years))
                        atoms |= {(b.shifted(shift), o) for b in birth for o in on}
            return atoms
        return set()

    def _numbers(self, node: n.Node) -> set[Decimal]:
        if isinstance(node, n.Literal) and isinstance(node.value, Decimal):
            return {node.value}
        if isinstance(node, n.Name):
            timeline = self.consolidation.parameters.get(node.name)
            if timeline is not None:
                return {v.value for v in timeline.versions if isinstance(v.value, Decimal)}
        raise _Opaque(node)

    def _is_age(self, node: n.Node) -> bool:
        if isinstance(node, n.Call) and node.function == "age":
            return True
        if isinstance(node, n.Name):
            declaration = self.vocabulary.get(node.name)
            if declaration is not None and declaration.kind == "output" and declaration.type.name == "number":
                return bool(self.setters.get(node.name)) and all(
                    self._is_age(e.node) for r in self.setters[node.name]
                    for v in self.consolidation.timelines[r.id].versions
                    for o, e in v.computed.items() if o == node.name) and not any(
                    node.name in v.values for r in self.setters[node.name]
                    for v in self.consolidation.timelines[r.id].versions)
        return False

    def _ages(self, node: n.Node, rule: Rule) -> list[tuple[frozenset[Term], frozenset[Term]]]:
        if isinstance(node, n.Call):
            return [(self._date_terms(node.args[0], rule), self._date_terms(node.args[1], rule))]
        assert isinstance(node, n.Name)
        return [pair for r in self.setters[node.name] for v in self.consolidation.timelines[r.id].versions
                for o, e in v.computed.items() if o == node.name for pair in self._ages(e.node, r)]

    def _is_date(self, node: n.Node) -> bool:
        if isinstance(node, n.Literal):
            return isinstance(node.value, date)
        if isinstance(node, n.Special):
            return True
        if isinstance(node, n.Name):
            declaration = self.vocabulary.get(node.name)
            return declaration is not None and declaration.type.name == "date"
        if isinstance(node, n.At):
            return self._is_date(node.name)
        if isinstance(node, n.Binary) and node.op in ("+", "-"):
            return self._is_date(node.left) and not self._is_date(node.right) or \
                (node.op == "+" and self._is_date(node.right) and not self._is_date(node.left))
        if isinstance(node, n.If):
            return self._is_date(node.then) or self._is_date(node.otherwise)
        if isinstance(node, n.Call) and node.function in ("min", "max"):
            return any(self._is_date(a) for a in node.args)
        return False

    def _reference_terms(self, rule: Rule) -> frozenset[Term]:
        if rule.reference_date is None:
            return frozenset({Term(EVALUATION_DATE)})
        return self._date_terms(rule.reference_date.node, rule)

    def _date_terms(self, node: n.Node, rule: Rule) -> frozenset[Term]:
        """The terms a date expression can take (outputs are followed to their rules)."""
        if isinstance(node, n.Literal):
            if node.value is None:
                return frozenset()
            if isinstance(node.value, date):
                return frozenset({Term(node.value)})
        elif isinstance(node, n.Special):
            return self._reference_terms(rule) if node.which == "reference_date" else frozenset({Term(EVALUATION_DATE)})
        elif isinstance(node, n.Name):
            declaration = self.vocabulary.get(node.name)
            if declaration is not None and declaration.kind == "fact":
                return frozenset({Term(node.name)})
            if declaration is not None and declaration.kind == "output":
                return self._output_terms(node.name)
            if declaration is not None and declaration.kind == "parameter":
                return self._parameter_dates(node.name)
        elif isinstance(node, n.At):
            return self._parameter_dates(node.name.name)
        elif isinstance(node, n.If):
            return self._date_terms(node.then, rule) | self._date_terms(node.otherwise, rule)
        elif isinstance(node, n.Call) and node.function in ("min", "max"):
            return frozenset().union(*(self._date_terms(a, rule) for a in node.args))
        elif isinstance(node, n.Binary) and node.op in ("+", "-"):
            if node.op == "+" and not self._is_date(node.left):
                node = n.Binary("+", node.right, node.left, node.start, node.end)
            durations = self._durations(node.right)
            terms = self._date_terms(node.left, rule)
            sign = 1 if node.op == "+" else -1
            return frozenset(t.shifted(d if sign == 1 else -d) for t in terms for d in durations)
        raise _Opaque(node)

    def _output_terms(self, output: str) -> frozenset[Term]:
        found = self._terms.get(output)
        if found is None:
            terms: set[Term] = set()
            for rule in self.setters.get(output, ()):
                for version in self.consolidation.timelines[rule.id].versions:
                    if output in version.values:
                        value = version.values[output]
                        if isinstance(value, date):
                            terms.add(Term(value))
                    elif output in version.computed:
                        terms |= self._date_terms(version.computed[output].node, rule)
            found = self._terms[output] = frozenset(terms)
        return found

    def _parameter_dates(self, name: str) -> frozenset[Term]:
        timeline = self.consolidation.parameters.get(name)
        if timeline is None:
            raise _Opaque(name)
        return frozenset(Term(v.value) for v in timeline.versions if isinstance(v.value, date))

    def _durations(self, node: n.Node) -> set[Duration]:
        if isinstance(node, n.Literal) and isinstance(node.value, Duration):
            return {node.value}
        name = node.name.name if isinstance(node, n.At) else node.name if isinstance(node, n.Name) else None
        if name is not None:
            timeline = self.consolidation.parameters.get(name)
            if timeline is not None:
                return {v.value for v in timeline.versions if isinstance(v.value, Duration)}
        raise _Opaque(node)
