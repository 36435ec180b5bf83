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
from typing import Any, Iterable, Mapping

import networkx as nx

from engine.rules import graph as graphs
from engine.errors import InputError, PolicyError, PolicyErrors, RuleFileError, Span, flatten, suggest
from engine.evaluation.general import Evaluation
from engine.sources.facts import iter_fact_errors, read_facts, with_defaults
from engine.rules.loader import LoadedRules, load
from engine.evaluation.codegen import Program
from engine.evaluation.outcomes import Decision, Decisions
from engine.evaluation.plan import Plan, build_plan
from engine.rules.timeline import Consolidation, consolidate, iter_window_problems
from engine.language.types import Vocabulary
from engine.values import to_json
from engine.sources.yamlsource import Document

Proposals = Mapping[str, "date | None"]


@dataclass
class Result:
    """All decisions of one evaluation, and what is needed to explain them."""

    on: date
    proposals: dict[str, date]
    rules_version: str
    decisions: dict[str, Decision]
    evaluation: Evaluation = field(repr=False)

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
        self._programs: dict[frozenset[tuple[str, date | None]], Program] = {}
        self._decisions = Decisions(d.name for d in loaded.vocabulary.of_kind("output")
                                    if d.type.name in ("bool", "text"))

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
        """The plan of the rule set for this choice of proposals (engine.evaluation.plan):
        what every backend executes (cached)."""
        return self.program(proposals).plan

    def program(self, proposals: Proposals) -> Program:
        """The plan with its generated functions (engine.evaluation.codegen), cached."""
        key = frozenset(proposals.items())
        found = self._programs.get(key)
        if found is None:
            set_valued = frozenset(d.name for d in self.vocabulary.of_kind("output") if d.type.name == "set")
            plan = build_plan(consolidate(self.loaded, proposals), set_valued, self.loaded.sets, tuple(self.order))
            found = self._programs[key] = Program(plan)
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
                 outputs: Iterable[str] | None = None, *, validated: bool = False) -> Result:
        """Decide ``outputs`` (default: every public output) for one person on ``on``.

        ``facts`` maps dotted fact names to values; unless ``validated``, they are checked
        and converted first (raising :class:`InputError`). ``validated`` facts must be as
        :func:`engine.facts.read_facts` gives them: declared names, plain values (a missing
        fact is left out, never given as an unknown). ``proposals`` maps a proposal to
        its effective date, or to None for its assumed date.
        """
        if proposals:
            proposals = dict(proposals)
            self.check_proposals(proposals)
            program = self.program(proposals)
        else:
            program = self._programs.get(_NO_PROPOSALS) or self.program({})
        given = dict(facts) if validated else read_facts(facts, self.vocabulary)
        if outputs is None:
            wanted, ordered = self.public_outputs, self._public_in_order
        else:
            wanted = list(outputs)
            for name in wanted:
                if name not in self.vocabulary or self.vocabulary.names[name].kind != "output":
                    raise InputError(f"unknown output '{name}'{suggest(name, self.public_outputs)}")
            ordered = tuple(sorted(wanted, key=lambda n: self._rank.get(n, -1)))
        plan = program.plan
        evaluation = Evaluation(plan, given, on, program)
        program.run(evaluation, ordered)
        decisions = self._decisions.of(wanted, evaluation.values, evaluation.deciders)
        return Result(on, dict(plan.proposals), self.content_hash, decisions, evaluation)


_NO_PROPOSALS: frozenset[tuple[str, date | None]] = frozenset()
