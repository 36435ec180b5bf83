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
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from engine.errors import ConflictError, InputError, PolicyError, PolicyErrors, RuleFileError, Span, flatten, suggest
from engine.evaluation.general import Evaluation
from engine.sources.asof import Events, as_of
from engine.sources.facts import iter_fact_errors, reader, with_defaults
from engine.rules.loader import LoadedRules, RuleText, load, load_texts
from engine.evaluation.codegen import Program
from engine.evaluation.outcomes import Decision, Decisions
from engine.evaluation.plan import Plan, build_plan
from engine.rules.timeline import Consolidation, consolidate, iter_window_problems
from engine.language.types import Vocabulary
from engine.values import to_json
from engine.sources.yamlsource import DEFAULT_LIMITS, Document, Limits

if TYPE_CHECKING:  # networkx is imported only where a networkx graph is asked for
    import networkx as nx

    from engine.evaluation.domains import Domains
    from engine.reports.explain import Explanation
    from engine.rules import graph as graphs

Proposals = Mapping[str, "date | None"]


def expect(value: Any, kind: type | tuple[type, ...], argument: str, expected: str) -> None:
    """Raise an :class:`InputError` saying what ``argument`` expects unless ``value`` is a
    ``kind`` (a caller of the Python API learns what to pass, not a TypeError from deep
    inside; a bool is no number and a datetime is no date here)."""
    wrong = not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)) or (
        isinstance(value, datetime) and datetime not in _as_tuple(kind))
    if wrong:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InputError(f"{argument}: expected {expected}, got {type(value).__name__} {shown}")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def packaged_rules() -> Path:
    """The decree's rule set shipped inside the package (``engine/decree_rules``, a link
    to the top-level ``rules/`` in a checkout; the files themselves in a wheel)."""
    return Path(str(resources.files("engine") / "decree_rules"))


def default_rules() -> Path:
    """``rules/`` of the working directory when there is one, else the packaged rule set."""
    local = Path("rules")
    return local if local.is_dir() else packaged_rules()


@dataclass
class Result:
    """All decisions of one evaluation, and what is needed to explain them."""

    on: date
    proposals: dict[str, date]
    rules_version: str
    decisions: dict[str, Decision]
    _evaluation: Evaluation | None = field(repr=False, compare=False)
    # what rebuilds the evaluation when the decisions came without one: the program,
    # the facts as of the date, and the wanted outputs in the graph's order
    _replay: tuple[Program, Mapping[str, Any], tuple[str, ...]] | None = field(default=None, repr=False,
                                                                               compare=False)

    @property
    def evaluation(self) -> Evaluation:
        """The evaluation behind the decisions, with its memo of outputs and rule states
        (explanations and coverage read it). Decisions made at once by the function of
        a whole person (engine.evaluation.person) keep no memo: the evaluation is then
        made again, by the per-output functions, the first time it is asked for."""
        found = self._evaluation
        if found is None:
            assert self._replay is not None
            program, given, ordered = self._replay
            found = self._evaluation = Evaluation(program.plan, given, self.on, program)
            program.run(found, ordered)
        return found

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

    def explain(self, output: str) -> "Explanation":
        """The derivation of one output of this result (``render_text()``, ``to_json()``)."""
        from engine.reports.explain import explain

        expect(output, str, "explain(output)", "an output name (a text)")
        if output not in self.decisions:
            known = list(self.decisions)
            raise InputError(f"explain(output): '{output}' is not an output of this result{suggest(output, known)}")
        return explain(self, output)


class RuleSet:
    """A loaded, checked and compiled rule set."""

    def __init__(self, loaded: LoadedRules, graph: "nx.DiGraph[str] | None", warnings: list[PolicyError],
                 order: list[str] | None = None, limits: Limits = DEFAULT_LIMITS,
                 in_force: Consolidation | None = None) -> None:
        """``graph`` may be None when ``order`` is given: it is then built when first
        asked for, so that loading and evaluating need no networkx. ``in_force``: the
        consolidation without proposals, when the check has built it already (the first
        evaluation's plan is built from it rather than consolidating again)."""
        self.loaded = loaded
        self.limits = limits  # the bounds its rule files were read with; fixtures are read with them too
        self._graph = graph
        self.warnings = warnings
        self.vocabulary: Vocabulary = loaded.vocabulary
        self.events = Events.of(loaded.vocabulary)  # facts read as of the evaluation date
        self._facts = reader(loaded.vocabulary)  # facts validated by what is compiled once per vocabulary
        self.content_hash = loaded.content_hash
        # outputs are decided in the graph's order, each after the outputs it uses (the
        # memo fills bottom-up); results list them in the vocabulary's order
        if order is None:
            from engine.rules import graph as graphs

            order = graphs.evaluation_order(self.graph)
        self.order = order
        self.public_outputs = [d.name for d in loaded.vocabulary.of_kind("output") if not d.internal]
        rank = {name: i for i, name in enumerate(self.order)}
        self._rank = rank
        self._public = tuple(self.public_outputs)
        self._public_in_order = tuple(sorted(self.public_outputs, key=lambda name: rank.get(name, -1)))
        self._programs: dict[frozenset[tuple[str, date | None]], Program] = {}
        self._domains: dict[frozenset[tuple[str, date | None]], "Domains"] = {}  # read for exact decisions
        self._in_force = in_force
        self._decisions = Decisions(d.name for d in loaded.vocabulary.of_kind("output")
                                    if d.type.name in ("bool", "text"))

    @property
    def graph(self) -> "nx.DiGraph[str]":
        """The dependency graph (:mod:`engine.rules.graph`)."""
        if self._graph is None:
            from engine.rules import graph as graphs

            self._graph = graphs.build(self.loaded)
        return self._graph

    # -- loading ----------------------------------------------------------------

    @classmethod
    def load(cls, *paths: str | Path, limits: Limits = DEFAULT_LIMITS) -> "RuleSet":
        """Load and check the rule files under ``paths``; raises every error together.

        ``limits`` bounds each file (size, texts, lists and mappings); the defaults are in
        :class:`engine.sources.yamlsource.Limits`."""
        ruleset, problems = cls.check(*paths, limits=limits)
        errors = [p for p in problems if p.severity == "error"]
        if errors or ruleset is None:
            raise PolicyErrors(errors or [RuleFileError("no rules found")])
        return ruleset

    @classmethod
    def check(cls, *paths: str | Path, limits: Limits = DEFAULT_LIMITS) -> tuple["RuleSet | None", list[PolicyError]]:
        """Load, and return the rule set (None when unusable) with every problem and warning."""
        for path in paths:
            expect(path, (str, Path), "RuleSet.load(paths)", "rule directories or files (str or pathlib.Path)")
        return cls._checked(*load(paths or (default_rules(),), limits), limits)

    @classmethod
    def from_texts(cls, texts: Iterable[RuleText], limits: Limits = DEFAULT_LIMITS) -> "RuleSet":
        """The rule set of rule files already read (as :attr:`LoadedRules.texts` holds them)."""
        ruleset, problems = cls._checked(*load_texts(texts, None, limits), limits)
        if ruleset is None:
            raise PolicyErrors([p for p in problems if p.severity == "error"] or [RuleFileError("no rules found")])
        return ruleset

    @classmethod
    def _checked(cls, loaded: LoadedRules | None, problems: list[PolicyError],
                 limits: Limits = DEFAULT_LIMITS) -> tuple["RuleSet | None", list[PolicyError]]:
        from engine.rules import graph as graphs

        problems = flatten(problems)
        if loaded is None:
            return None, problems
        # every check runs on whatever loaded, so one run reports every problem; the
        # graph as plain data: networkx only when a cycle is reported
        graph = graphs.gather(loaded)
        problems.extend(graphs.iter_cycle_errors(graph, loaded.rules))
        seen: set[str] = set()
        every_proposal = {a.id: None for a in loaded.amendments.values() if a.proposed}
        # the rule set as in force, and with every proposal on (when there is one)
        in_force = consolidate(loaded, {})
        for consolidation in (in_force, consolidate(loaded, every_proposal)) if every_proposal else (in_force,):
            for problem in iter_window_problems(consolidation):
                if problem.render() not in seen:
                    seen.add(problem.render())
                    problems.append(problem)
        if any(p.severity == "error" for p in problems):
            return None, problems  # lint warnings (unused facts...) would be echoes of the errors
        problems.extend(cls._lint(loaded, graph))
        warnings = [p for p in problems if p.severity != "error"]
        return cls(loaded, None, warnings, graphs.evaluation_order(graph), limits, in_force), problems

    @staticmethod
    def _lint(loaded: LoadedRules, graph: "graphs.Dependencies") -> Iterable[PolicyError]:
        from engine.rules import graph as graphs

        for name in graphs.unused_facts(graph, loaded.vocabulary):
            declaration = loaded.vocabulary.names[name]
            yield RuleFileError(f"fact '{name}' is declared but no rule uses it", declaration.span or Span(None, 1, 1),
                                severity="warning")
        for name in graphs.undecided_outputs(graph, loaded.vocabulary):
            declaration = loaded.vocabulary.names[name]
            yield RuleFileError(f"output '{name}' is declared but no rule sets it",
                                declaration.span or Span(None, 1, 1), severity="warning")

    # -- pickling ------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """A rule set travels as the texts of its files: it is rebuilt where it lands, so
        no closure, generated code or memo is ever pickled (and a rule set that has
        evaluated pickles as well as a fresh one). Where it lands, it comes from the
        cache of checked rule sets (:mod:`engine.cache`) when that has these texts, so
        that workers started on one machine load it once."""
        return {"texts": self.loaded.texts, "limits": self.limits}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from engine import cache

        rebuilt = cache.from_texts(list(state["texts"]), limits=state["limits"], use_cache=cache.enabled())
        self.__dict__.update(rebuilt.__dict__)

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
        """The rule set as it stands with these proposals (no plan needed)."""
        found = self._programs.get(frozenset(proposals.items()))
        return found.plan.consolidation if found is not None else self._consolidate(proposals)

    def _consolidate(self, proposals: Proposals) -> Consolidation:
        if not proposals and self._in_force is not None:
            return self._in_force
        return consolidate(self.loaded, proposals)

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
            plan = build_plan(self._consolidate(proposals), set_valued, self.loaded.sets, tuple(self.order))
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
                 outputs: Iterable[str] | None = None, *, validated: bool = False, exact: bool = True) -> Result:
        """Decide ``outputs`` (default: every public output) for one person on ``on``.

        ``facts`` maps dotted fact names to values; unless ``validated``, they are checked
        and converted first (raising :class:`InputError`). ``validated`` facts must be as
        :func:`engine.sources.facts.read_facts` gives them: declared names, plain values (a missing
        fact is left out, never given as an unknown). ``proposals`` maps a proposal to
        its effective date, or to None for its assumed date. ``exact``: an output left
        unknown is decided when every value of its missing facts gives the same outcome
        (:mod:`engine.evaluation.exact`).
        """
        if type(facts) is not dict or type(on) is not date or proposals is not None or outputs is not None:
            self._check_arguments(facts, on, proposals, outputs)  # the usual call passes these checks
        if proposals:
            proposals = dict(proposals)
            self.check_proposals(proposals)
            program = self.program(proposals)
        else:
            program = self._programs.get(_NO_PROPOSALS) or self.program({})
        given = as_of(dict(facts) if validated else self._facts.read(facts), on, self.events)
        wanted: tuple[str, ...]
        if outputs is None:
            wanted, ordered = self._public, self._public_in_order
        else:
            wanted = tuple(outputs)
            for name in wanted:
                if name not in self.vocabulary or self.vocabulary.names[name].kind != "output":
                    raise InputError(f"unknown output '{name}'{suggest(name, self.public_outputs)}")
            ordered = tuple(sorted(wanted, key=lambda n: self._rank.get(n, -1)))
        plan = program.plan
        evaluation = Evaluation(plan, given, on, program)
        # every value known: decided at once (engine.evaluation.person), the evaluation
        # behind the result rebuilt if an explanation asks for it
        found = program.decide_all(evaluation, wanted)
        if found is not None:
            return Result(on, dict(plan.proposals), self.content_hash, dict(zip(wanted, found)), None,
                          (program, given, ordered))
        found = program.carry_all(evaluation, wanted)  # facts missing: at once too, carrying unknowns
        replay: tuple[Program, Mapping[str, Any], tuple[str, ...]] | None = None
        if found is not None:
            decisions, replay = dict(zip(wanted, found)), (program, given, ordered)
            kept: Evaluation | None = None
        else:
            kept = Evaluation(plan, given, on, program)  # a fresh memo: as if the above had not run
            program.run(kept, ordered)
            decisions = self._decisions.of(wanted, kept.values, kept.deciders)
        if exact and any(d.status == "unknown" for d in decisions.values()):
            decisions = self._exactly(plan, given, on, proposals or {}, decisions)
        return Result(on, dict(plan.proposals), self.content_hash, decisions, kept, replay)

    def _exactly(self, plan: Plan, given: Mapping[str, Any], on: date, proposals: Proposals,
                 decisions: dict[str, Decision]) -> dict[str, Decision]:
        """``decisions`` with each unknown one decided where every value of its missing
        facts gives the same outcome (:func:`engine.evaluation.exact.refine`)."""
        from engine.evaluation.domains import Domains
        from engine.evaluation.exact import refine

        key = frozenset(plan.proposals.items())
        program = self.program(proposals)
        domains = self._domains.get(key)
        if domains is None:
            domains = self._domains[key] = Domains(plan.consolidation, self.vocabulary, self.loaded.sets)

        def evaluate(facts: Mapping[str, Any]) -> Callable[[str], Decision | None]:
            """One case: its outputs are decided when asked, each once (the evaluation's memo)."""
            case: list[Evaluation] = []

            def decide(name: str) -> Decision | None:
                try:
                    if not case:  # by the per-output functions: a case decides few outputs
                        case.append(Evaluation(plan, as_of(dict(facts), on, self.events), on, program))
                    evaluation = case[0]
                    value = evaluation.value_of(name)
                    return self._decisions.decision(name, value, evaluation.deciders.get(name))
                except ConflictError:
                    return None

            return decide

        return refine(decisions, domains, given, on, evaluate, lambda *fields: Decision(*fields))

    @staticmethod
    def _check_arguments(facts: Any, on: Any, proposals: Any, outputs: Any) -> None:
        expect(facts, Mapping, "evaluate(facts)", "a mapping of dotted fact names to values")
        expect(on, date, "evaluate(on)", "a datetime.date, e.g. date(2024, 3, 1)")
        if proposals is not None:
            expect(proposals, Mapping, "evaluate(proposals)",
                   "a mapping of proposal names to a datetime.date or None, e.g. {'arbeidsmigranten': None}")
            for name, day in proposals.items():
                expect(name, str, "evaluate(proposals)", "proposal names as texts")
                if day is not None:
                    expect(day, date, f"evaluate(proposals['{name}'])", "a datetime.date or None")
        if outputs is not None:
            expect(outputs, (list, tuple, set, frozenset), "evaluate(outputs)",
                   "a list of output names, e.g. ['status']")
            for name in outputs:
                expect(name, str, "evaluate(outputs)", "output names as texts")


_NO_PROPOSALS: frozenset[tuple[str, date | None]] = frozenset()
