"""The face of the engine: load a rule set once, evaluate many persons with it.

    rules = RuleSet.load("rules/")
    result = rules.evaluate({"persoon.geboortedatum": date(1990, 5, 1), ...},
                            on=date(2024, 3, 1), proposals={"arbeidsmigranten": None})
    result.outputs, result.unknown, result.not_applicable, result.explain("status")

A :class:`RuleSet` is immutable once loaded; a failed load raises and leaves any other
rule set untouched, so a service can keep serving with the one it has. Consolidations
(the rule set with a given choice of proposals) are built on first use and cached; a
race between threads builds one twice, harmlessly, and keeps either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple

import networkx as nx

from engine.rules import graph as graphs
from engine.errors import ConflictError, InputError, PolicyError, PolicyErrors, RuleFileError, Span, flatten, suggest
from engine.evaluation.domains import Domains
from engine.evaluation.exact import refine
from engine.evaluation.general import Evaluation
from engine.sources.facts import iter_fact_errors, read_facts, with_defaults
from engine.rules.loader import LoadedRules, load
from engine.rules.model import Amendment
from engine.evaluation.plan import Plan
from engine.rules.timeline import Consolidation, consolidate, iter_window_problems
from engine.language.types import Vocabulary
from engine.values import Unknown, to_json
from engine.sources.yamlsource import Document

Proposals = Mapping[str, "date | None"]


class Decision(NamedTuple):
    """The result for one output."""

    output: str
    status: str  # "decided", "unknown" or "not_applicable"
    value: Any = None
    missing: tuple[str, ...] = ()
    rule: str | None = None  # the rule whose value decided it


@dataclass
class Result:
    """All decisions of one evaluation, and what is needed to explain them."""

    on: date
    proposals: dict[str, date]
    rules_version: str
    decisions: dict[str, Decision]
    evaluation: Evaluation = field(repr=False)
    ruleset: "RuleSet" = field(repr=False)

    @property
    def outputs(self) -> dict[str, Any]:
        return {n: d.value for n, d in self.decisions.items() if d.status == "decided"}

    @property
    def unknown(self) -> dict[str, tuple[str, ...]]:
        return {n: d.missing for n, d in self.decisions.items() if d.status == "unknown"}

    @property
    def not_applicable(self) -> list[str]:
        return sorted(n for n, d in self.decisions.items() if d.status == "not_applicable")

    def to_json(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "rules_version": self.rules_version,
            "proposals": {name: day.isoformat() for name, day in sorted(self.proposals.items())},
            "outputs": {name: to_json(value) for name, value in sorted(self.outputs.items())},
            "unknown": {name: list(missing) for name, missing in sorted(self.unknown.items())},
            "not_applicable": self.not_applicable,
        }

    def explain(self, output: str) -> Any:
        from engine.reports.explain import explain

        return explain(self, output)


class RuleSet:
    """A loaded, checked and compiled rule set."""

    def __init__(self, loaded: LoadedRules, graph: nx.DiGraph[str], warnings: list[PolicyError]) -> None:
        self.loaded = loaded
        self.graph = graph
        self.warnings = warnings
        self.vocabulary: Vocabulary = loaded.vocabulary
        self.content_hash = loaded.content_hash
        # outputs are decided in the graph's order, each after the outputs it uses (the
        # memo fills bottom-up); results list them in the vocabulary's order
        self.order = graphs.evaluation_order(graph)
        self.public_outputs = [d.name for d in loaded.vocabulary.of_kind("output") if not d.internal]
        rank = {name: i for i, name in enumerate(self.order)}
        self._rank = rank
        self._public_in_order = tuple(sorted(self.public_outputs, key=lambda name: rank.get(name, -1)))
        self._plans: dict[frozenset[tuple[str, date | None]], Plan] = {}
        self._domains: dict[frozenset[tuple[str, date]], Domains] = {}  # read for exact decisions
        self._decisions: dict[tuple[str, Any, str | None], Decision] = {}
        self._sharable = frozenset(d.name for d in loaded.vocabulary.of_kind("output") if d.type.name in ("bool", "text"))
        self._report = tuple((name, name in self._sharable) for name in self.public_outputs)
        self._fact_count = sum(1 for _ in loaded.vocabulary.of_kind("fact"))  # a person with fewer misses some

    # -- loading ----------------------------------------------------------------

    @classmethod
    def load(cls, *paths: str | Path) -> "RuleSet":
        """Load and check the rule files under ``paths``; raises every error together."""
        ruleset, problems = cls.check(*paths)
        errors = [p for p in problems if p.severity == "error"]
        if errors or ruleset is None:
            raise PolicyErrors(errors or [RuleFileError("no rules found")])
        return ruleset

    @classmethod
    def check(cls, *paths: str | Path) -> tuple["RuleSet | None", list[PolicyError]]:
        """Load, and return the rule set (None when unusable) with every problem and warning."""
        loaded, problems = load(paths or ("rules",))
        problems = flatten(problems)
        if loaded is None:
            return None, problems
        # every check runs on whatever loaded, so one run reports every problem
        graph = graphs.build(loaded)
        problems.extend(graphs.iter_cycle_errors(graph, loaded.rules))
        seen: set[str] = set()
        every_proposal = {a.id: None for a in loaded.amendments.values() if a.proposed}
        # the rule set as in force, and with every proposal on (when there is one)
        for proposals in ({}, every_proposal) if every_proposal else ({},):
            for problem in iter_window_problems(consolidate(loaded, proposals)):
                if problem.render() not in seen:
                    seen.add(problem.render())
                    problems.append(problem)
        if any(p.severity == "error" for p in problems):
            return None, problems  # lint warnings (unused facts...) would be echoes of the errors
        problems.extend(cls._lint(loaded, graph))
        return cls(loaded, graph, [p for p in problems if p.severity != "error"]), problems

    @staticmethod
    def _lint(loaded: LoadedRules, graph: nx.DiGraph[str]) -> Iterable[PolicyError]:
        for name in graphs.unused_facts(graph, loaded.vocabulary):
            declaration = loaded.vocabulary.names[name]
            yield RuleFileError(f"fact '{name}' is declared but no rule uses it", declaration.span or Span(None, 1, 1),
                                severity="warning")
        for declaration in loaded.vocabulary.of_kind("output"):
            if graph.out_degree(graphs.node("output", declaration.name)) == 0:
                yield RuleFileError(f"output '{declaration.name}' is declared but no rule sets it",
                                    declaration.span or Span(None, 1, 1), severity="warning")

    # -- proposals and time -----------------------------------------------------

    @property
    def amendments(self) -> Mapping[str, Amendment]:
        return self.loaded.amendments

    def check_proposals(self, proposals: Proposals, span: Span | None = None) -> None:
        for name in proposals:
            amendment = self.loaded.amendments.get(name)
            if amendment is None or not amendment.proposed:
                known = [a.id for a in self.loaded.amendments.values() if a.proposed]
                raise InputError(f"unknown proposal '{name}'{suggest(name, known)}"
                                 + ("" if suggest(name, known) else f"; proposals: {', '.join(sorted(known))}"),
                                 span or Span(None, 1, 1))

    def consolidation(self, proposals: Proposals) -> Consolidation:
        return self.plan(proposals).consolidation

    def plan(self, proposals: Proposals) -> Plan:
        """The rule set for this choice of proposals, compiled for evaluation (cached)."""
        key = frozenset(proposals.items())
        found = self._plans.get(key)
        if found is None:
            set_valued = frozenset(d.name for d in self.vocabulary.of_kind("output") if d.type.name == "set")
            found = self._plans[key] = Plan(consolidate(self.loaded, proposals), set_valued, self.loaded.sets)
        return found

    # -- evaluation ---------------------------------------------------------------

    def facts_from(self, document: Document, path: tuple[Any, ...] = ()) -> dict[str, Any]:
        """Validated facts from (part of) a facts document, with positioned errors."""
        facts: dict[str, Any] = {}

        def span_of(sub: tuple[Any, ...], key: bool = False) -> Span:
            return document.span(path + sub, key=key)

        skip = {bad[len(path):] for bad in document.bad_paths if bad[:len(path)] == path}
        problems = list(iter_fact_errors(document.data_at(path), self.vocabulary, span_of, facts, skip))
        if problems:
            raise PolicyErrors(problems)
        return with_defaults(facts, self.vocabulary)

    def evaluate(self, facts: Mapping[str, Any], on: date, proposals: Proposals | None = None,
                 outputs: Iterable[str] | None = None, *, validated: bool = False, exact: bool = True) -> Result:
        """Decide ``outputs`` (default: every public output) for one person on ``on``.

        ``facts`` maps dotted fact names to values; unless ``validated``, they are checked
        and converted first (raising :class:`InputError`). ``validated`` facts must be as
        :func:`engine.facts.read_facts` gives them: declared names, plain values (a missing
        fact is left out, never given as an unknown). ``proposals`` maps a proposal to
        its effective date, or to None for its assumed date. ``exact``: an output left
        unknown is decided when every value of its missing facts gives the same outcome
        (:mod:`engine.evaluation.exact`).
        """
        if proposals:
            proposals = dict(proposals)
            self.check_proposals(proposals)
            plan = self.plan(proposals)
        else:
            plan = self._plans.get(_NO_PROPOSALS) or self.plan({})
        given = dict(facts) if validated else read_facts(facts, self.vocabulary)
        evaluation = Evaluation(plan, given, on, partial=len(given) < self._fact_count)
        if outputs is None:
            wanted = self.public_outputs
            ordered = self._public_in_order
        else:
            wanted = list(outputs)
            for name in wanted:
                if name not in self.vocabulary or self.vocabulary.names[name].kind != "output":
                    raise InputError(f"unknown output '{name}'{suggest(name, self.public_outputs)}")
            ordered = tuple(sorted(wanted, key=lambda n: self._rank.get(n, -1)))
        if outputs is None:  # every public output: one generated function decides and reports them
            run = plan.runs.get(ordered) or plan.run_function(ordered, self._report, Decision)
            decisions = run(evaluation, self._decisions.get, self._shared_decision, _unknown_decision)
        else:
            for name in ordered:
                evaluation.value_of(name)
            decisions = {name: self._decision(name, evaluation.values[name], evaluation.deciders.get(name))
                         for name in wanted}
        if exact and evaluation.partial and any(d.status == "unknown" for d in decisions.values()):
            decisions = self._exactly(plan, given, on, proposals or {}, decisions)
        return Result(on, dict(plan.consolidation.proposals), self.content_hash, decisions, evaluation, self)

    def _exactly(self, plan: Plan, given: Mapping[str, Any], on: date, proposals: Proposals,
                 decisions: dict[str, Decision]) -> dict[str, Decision]:
        key = frozenset(plan.consolidation.proposals.items())
        domains = self._domains.get(key)
        if domains is None:
            domains = self._domains[key] = Domains(plan.consolidation, self.vocabulary, self.loaded.sets)

        def evaluate(facts: Mapping[str, Any]) -> Callable[[str], Decision | None]:
            """One case: its outputs are decided when asked, each once (the evaluation's memo)."""
            case: list[Evaluation] = []

            def decide(name: str) -> Decision | None:
                try:
                    if not case:
                        result = self.evaluate(facts, on, proposals, (name,), validated=True, exact=False)
                        case.append(result.evaluation)
                        return result.decisions[name]
                    evaluation = case[0]
                    return self._decision(name, evaluation.value_of(name), evaluation.deciders.get(name))
                except ConflictError:
                    return None

            return decide

        return refine(decisions, domains, given, on, evaluate, lambda *fields: _new_decision(Decision, fields))

    def _decision(self, name: str, value: Any, rule: str | None) -> Decision:
        """The decision on one output; those of a boolean, a text or none are few, and are
        kept to be shared between results (they are immutable)."""
        if type(value) is Unknown:
            return _unknown_decision(name, value)
        if value is None or name in self._sharable:
            return self._decisions.get((name, value, rule)) or self._shared_decision(name, value, rule)
        return _new_decision(Decision, (name, "decided", value, (), rule))

    def _shared_decision(self, name: str, value: Any, rule: str | None) -> Decision:
        """A decision made to be shared (see :meth:`_decision`)."""
        decision = _new_decision(Decision, (name, "decided" if value is not None else "not_applicable", value, (), rule))
        if len(self._decisions) < _SHARED_DECISIONS:
            self._decisions[(name, value, rule)] = decision
        return decision


def _unknown_decision(name: str, value: Unknown) -> Decision:
    return _new_decision(Decision, (name, "unknown", None, tuple(sorted(value.missing)), None))


_NO_PROPOSALS: frozenset[tuple[str, date | None]] = frozenset()
_SHARED_DECISIONS = 10_000  # decisions of a boolean, a text or none, kept to be shared (immutable)
# a NamedTuple's own constructor runs Python code; results are built directly
_new_decision: Callable[[type, tuple[Any, ...]], Decision] = tuple.__new__
