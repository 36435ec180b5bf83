"""What makes large rule sets load fast must not change what loading finds: a text
parsed once for many expressions still reports each error where it stands, and the
graph's order and cycles are the ones networkx finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rules import graph as graphs
from engine.errors import PolicyError, PolicyErrors, Span
from engine.rules.model import LegalSource, Rule
from engine.ruleset import RuleSet

ROOT_RULES = Path(__file__).resolve().parent.parent / "rules"
VOCABULARY = """\
vocabulary:
  facts:
    persoon.leeftijd: {type: number}
    persoon.ziek: {type: bool}
  outputs:
    a: {type: bool}
    b: {type: bool}
    n: {type: number}
"""


def rule(name: str, when: str) -> str:
    return f"""\
  - id: {name}
    title: {name}
    source: {{instrument: Decreet}}
    versions:
      - from: 2014-01-01
        when: {when}
        set: {{{name}: true}}
"""


def load_errors(tmp_path: Path, rules: str) -> list[tuple[int, int, str]]:
    (tmp_path / "vocabulary.yaml").write_text(VOCABULARY, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text("rules:\n" + rules, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(tmp_path)
    errors = list(caught.value) if isinstance(caught.value, PolicyErrors) else [caught.value]
    return [(e.span.line, e.span.column, e.message) for e in errors]


def test_the_same_wrong_text_twice_is_two_errors_each_in_its_place(tmp_path: Path) -> None:
    errors = load_errors(tmp_path, rule("a", "persoon.leeftijd >= 18 and and persoon.ziek")
                         + rule("b", "  persoon.leeftijd >= 18 and and persoon.ziek"))
    assert [(line, column) for line, column, _ in errors] == [(7, 42), (14, 44)]
    assert errors[0][2] == errors[1][2] and errors[0][2].startswith("unexpected 'and'")


def test_the_same_text_parsed_once_is_checked_in_each_place(tmp_path: Path) -> None:
    # a number where a condition is expected: wrong in 'when', right in 'compute'
    errors = load_errors(tmp_path, rule("a", "persoon.leeftijd") + """\
  - id: b
    title: b
    source: {instrument: Decreet}
    versions:
      - from: 2014-01-01
        compute: {n: persoon.leeftijd}
""")
    assert [(line, column) for line, column, _ in errors] == [(7, 15)]


# -- the graph's order and cycles, without networkx in the usual case --------------

@st.composite
def rule_graphs(draw: st.DrawFn) -> nx.DiGraph[str]:
    """Graphs shaped like build()'s: outputs decided by rules, rules using outputs and
    facts, some rules exceptions to others; cycles allowed."""
    rules = [f"rule:r{i}" for i in range(draw(st.integers(1, 8)))]
    outputs = [f"output:o{i}" for i in range(draw(st.integers(1, 6)))]
    facts = [f"fact:f{i}" for i in range(3)]
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(rules + outputs + facts)
    for rule in rules:
        for used in draw(st.lists(st.sampled_from(outputs + facts), max_size=3)):
            graph.add_edge(rule, used, kind="uses")
        for parent in draw(st.lists(st.sampled_from(rules), max_size=2)):
            graph.add_edge(rule, parent, kind="exception")
    for output in outputs:
        for rule in draw(st.lists(st.sampled_from(rules), max_size=2)):
            graph.add_edge(output, rule, kind="decided_by")
    return graph


@settings(max_examples=300, deadline=None)
@given(rule_graphs())
def test_evaluation_order_and_cycles_are_networkx_s(graph: nx.DiGraph[str]) -> None:
    needed = graphs.dependencies(graph)
    rules = {name.split(":", 1)[1]: Rule(name.split(":", 1)[1], "t", LegalSource("x"), (), Span(None, 1, 1))
             for name in graph if name.startswith("rule:")}
    if nx.is_directed_acyclic_graph(needed):
        expected = [n.split(":", 1)[1] for n in reversed(list(nx.lexicographical_topological_sort(needed)))
                    if n.startswith("output:")]
        assert graphs.evaluation_order(graph) == expected
    else:
        with pytest.raises(nx.NetworkXUnfeasible):
            graphs.evaluation_order(graph)
    cyclic = [what for what, keep in (("dependency", "exception".__ne__), ("exception", "exception".__eq__))
              if not nx.is_directed_acyclic_graph(graph.edge_subgraph(
                  [(u, v) for u, v, kind in graph.edges(data="kind") if keep(kind)]))]
    reported = [error.message.split(" cycle:")[0] for error in graphs.iter_cycle_errors(graph, rules)]
    assert sorted(set(reported)) == cyclic


# -- Python's collector is the embedding program's, not ours ---------------------------

def test_loading_and_evaluating_leave_the_garbage_collector_alone(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Pausing the collector would speed up large loads but is process-wide state: a
    service reloading rules in one thread would pause it for every other thread."""
    import gc
    from datetime import date

    from tools import rulegen

    touched: list[str] = []
    monkeypatch.setattr(gc, "disable", lambda: touched.append("disable"))
    monkeypatch.setattr(gc, "freeze", lambda: touched.append("freeze"))
    rulegen.generate(tmp_path, 120)
    RuleSet.load(tmp_path).evaluate({}, date(2024, 3, 1))
    RuleSet.load(ROOT_RULES).evaluate({}, date(2024, 3, 1))
    assert touched == []
