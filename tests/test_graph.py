"""The dependency graph: cycles are load-time errors naming each rule with file and line,
exception cycles too; depends_on / affected_by; `decree graph` in dot, mermaid and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from click.testing import CliRunner

from conftest import ROOT, RULESETS

from engine.rules import graph as graphs
from engine.cli import main
from engine.errors import PolicyError, PolicyErrors
from engine.ruleset import RuleSet

CYCLE3 = RULESETS / "cycle3"


def errors_of(path: Path) -> list[PolicyError]:
    with pytest.raises(PolicyError) as caught:
        RuleSet.load(path)
    return list(caught.value) if isinstance(caught.value, PolicyErrors) else [caught.value]


def is_rotation(path: list[str], cycle: list[str]) -> bool:
    """Whether ``path`` (first node repeated at the end) runs around ``cycle``."""
    if path[0] != path[-1] or len(path) != len(cycle) + 1:
        return False
    start = cycle.index(path[0]) if path[0] in cycle else -1
    return start >= 0 and path[:-1] == cycle[start:] + cycle[:start]


# -- cycles ----------------------------------------------------------------------------


def test_cycle_across_three_files_names_each_rule_with_file_and_line() -> None:
    errors = errors_of(CYCLE3)
    assert len(errors) == 1
    error = errors[0]
    # told from the rule loaded first (a.yaml); closed where c.yaml's rule uses x, and
    # placed on that use: the name in the expression, the one to edit to break the cycle
    assert error.message == (
        "dependency cycle: output:x -> rule:regel.x -> output:y -> rule:regel.y -> output:z -> rule:regel.z -> "
        "output:x, closed by the use of 'x' in 'regel.z' "
        f"(rules: 'regel.x' at {CYCLE3 / 'a.yaml'}:7; 'regel.y' at {CYCLE3 / 'b.yaml'}:6; "
        f"'regel.z' at {CYCLE3 / 'c.yaml'}:6)")
    assert error.render().splitlines() == [
        f"{CYCLE3 / 'c.yaml'}:11:22: error: {error.message}",
        "            compute: {z: x * 2}",
        "                         ^"]


def test_cycle_is_reported_by_check_with_exit_code_1() -> None:
    result = CliRunner().invoke(main, ["check", str(CYCLE3)])
    assert result.exit_code == 1
    assert "error: dependency cycle: " in result.stderr
    assert result.stderr.rstrip().endswith("1 error, 0 warnings")
    assert "Traceback" not in result.output


def test_exception_cycle() -> None:
    path = RULESETS / "exception_cycle" / "rules.yaml"
    errors = errors_of(RULESETS / "exception_cycle")
    assert len(errors) == 1
    # told from the rule loaded first; closed by the exception_to written in 'tweede'
    assert errors[0].render().splitlines() == [
        f"{path}:19:19: error: exception cycle: rule:eerste -> rule:tweede -> rule:eerste, closed by "
        f"'exception_to: eerste' in 'tweede' (rules: 'eerste' at {path}:8; 'tweede' at {path}:16)",
        "        exception_to: eerste",
        "                      ^^^^^^"]


def test_self_dependency_is_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
vocabulary:
  outputs:
    x: {type: number}
rules:
  - id: zelf
    title: Zelf
    source: {instrument: D}
    versions:
      - from: 2014-01-01
        compute: {x: x + 1}
""", encoding="utf-8")
    (error,) = errors_of(tmp_path)
    assert error.message == ("dependency cycle: output:x -> rule:zelf -> output:x, closed by the use of 'x' in "
                             f"'zelf' (rules: 'zelf' at {tmp_path / 'r.yaml'}:5)")
    assert error.render().splitlines()[1:] == ["            compute: {x: x + 1}", "                         ^"]


def test_cycle_through_a_reference_date(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
vocabulary:
  facts:
    persoon.datum: {type: date}
  outputs:
    peildatum: {type: date}
    plicht: {type: bool}
rules:
  - id: peil
    title: Peildatum
    source: {instrument: D}
    reference_date: peildatum
    versions:
      - from: 2014-01-01
        compute: {peildatum: persoon.datum}
""", encoding="utf-8")
    (error,) = errors_of(tmp_path)
    assert error.message.startswith("dependency cycle: ")
    assert "'peil' at" in error.message


def test_two_separate_cycles_are_two_errors(tmp_path: Path) -> None:
    for name, (a, b) in {"one.yaml": ("p", "q"), "two.yaml": ("s", "t")}.items():
        (tmp_path / name).write_text(f"""\
vocabulary:
  outputs:
    {a}: {{type: number}}
    {b}: {{type: number}}
rules:
  - id: regel_{a}
    title: A
    source: {{instrument: D}}
    versions:
      - {{from: 2014-01-01, compute: {{{a}: {b} + 1}}}}
  - id: regel_{b}
    title: B
    source: {{instrument: D}}
    versions:
      - {{from: 2014-01-01, compute: {{{b}: {a} + 1}}}}
""", encoding="utf-8")
    errors = errors_of(tmp_path)
    assert len(errors) == 2
    assert sorted(Path(e.span.file).name for e in errors) == ["one.yaml", "two.yaml"]


def test_graph_command_on_a_cyclic_set_is_bad_input() -> None:
    result = CliRunner().invoke(main, ["graph", "--rules", str(CYCLE3)])
    assert result.exit_code == 2
    assert "dependency cycle" in result.stderr
    assert "decree: the rule set has errors; run 'decree check' for details" in result.stderr
    assert "Traceback" not in result.output


# -- queries -------------------------------------------------------------------------


def test_depends_on(ruleset: RuleSet) -> None:
    assert graphs.depends_on(ruleset.graph, "output:status") == {
        "rule:status.bepaling", "output:verplicht", "rule:basis", "rule:vrijstelling.eu", "rule:vrijstelling.ziek",
        "rule:herplicht.bedienaar", "fact:persoon.leeftijd", "fact:persoon.eu", "fact:persoon.ziek",
        "fact:persoon.bedienaar", "fact:inschrijving.datum"}
    assert graphs.depends_on(ruleset.graph, "rule:herplicht.bedienaar") >= {"fact:persoon.bedienaar"}
    assert graphs.depends_on(ruleset.graph, "output:nothing") == set()


def test_affected_by(ruleset: RuleSet) -> None:
    # herplicht.bedienaar overrides vrijstelling.ziek but never reads persoon.ziek: a change
    # to the fact changes the outputs (listed), not that rule
    assert graphs.affected_by(ruleset.graph, "fact:persoon.ziek") == {
        "rule:vrijstelling.ziek", "output:verplicht", "output:grond", "output:status", "rule:status.bepaling"}
    assert graphs.affected_by(ruleset.graph, "fact:persoon.bedienaar") == {
        "rule:herplicht.bedienaar", "output:verplicht", "output:status", "rule:status.bepaling"}
    assert graphs.affected_by(ruleset.graph, "output:verplicht") == {"rule:status.bepaling", "output:status"}
    assert graphs.affected_by(ruleset.graph, "fact:unknown") == set()


def test_edges_and_kinds(ruleset: RuleSet) -> None:
    edges = {(u, v): kind for u, v, kind in ruleset.graph.edges(data="kind")}
    assert edges[("output:verplicht", "rule:basis")] == "decided_by"
    assert edges[("rule:basis", "fact:persoon.leeftijd")] == "uses"
    assert edges[("rule:basis", "fact:inschrijving.datum")] == "uses"  # via its reference date
    assert edges[("rule:status.bepaling", "output:verplicht")] == "uses"
    assert edges[("rule:herplicht.bedienaar", "rule:vrijstelling.ziek")] == "exception"
    assert ("rule:herplicht.bedienaar", "rule:basis") not in edges


def test_evaluation_order_puts_used_outputs_first(ruleset: RuleSet) -> None:
    assert ruleset.order.index("verplicht") < ruleset.order.index("status")
    assert sorted(ruleset.order) == ["grond", "status", "verplicht"]


def test_graph_includes_sets_and_parameters() -> None:
    timed = RuleSet.load(RULESETS / "time")
    assert graphs.depends_on(timed.graph, "output:tarief_nu") == {
        "rule:tarief", "parameter:TARIEF", "fact:traject.contract_datum"}


# -- decree graph ---------------------------------------------------------------------


def graph_cli(*args: str) -> str:
    result = CliRunner().invoke(main, ["graph", "--rules", str(RULESETS / "exceptions"), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_graph_dot_of_one_output() -> None:
    assert graph_cli("--format", "dot", "--output", "verplicht") == """\
digraph decree {
  rankdir=LR;
  "fact:inschrijving.datum" [label="inschrijving.datum", shape=ellipse];
  "fact:persoon.bedienaar" [label="persoon.bedienaar", shape=ellipse];
  "fact:persoon.eu" [label="persoon.eu", shape=ellipse];
  "fact:persoon.leeftijd" [label="persoon.leeftijd", shape=ellipse];
  "fact:persoon.ziek" [label="persoon.ziek", shape=ellipse];
  "output:verplicht" [label="verplicht", shape=box];
  "rule:basis" [label="basis", shape=component];
  "rule:herplicht.bedienaar" [label="herplicht.bedienaar", shape=component];
  "rule:vrijstelling.eu" [label="vrijstelling.eu", shape=component];
  "rule:vrijstelling.ziek" [label="vrijstelling.ziek", shape=component];
  "output:verplicht" -> "rule:basis";
  "output:verplicht" -> "rule:herplicht.bedienaar";
  "output:verplicht" -> "rule:vrijstelling.eu";
  "output:verplicht" -> "rule:vrijstelling.ziek";
  "rule:basis" -> "fact:inschrijving.datum";
  "rule:basis" -> "fact:persoon.leeftijd";
  "rule:herplicht.bedienaar" -> "fact:persoon.bedienaar";
  "rule:herplicht.bedienaar" -> "rule:vrijstelling.ziek" [style=dashed, label="exception to"];
  "rule:vrijstelling.eu" -> "fact:persoon.eu";
  "rule:vrijstelling.eu" -> "rule:basis" [style=dashed, label="exception to"];
  "rule:vrijstelling.ziek" -> "fact:inschrijving.datum";
  "rule:vrijstelling.ziek" -> "fact:persoon.ziek";
  "rule:vrijstelling.ziek" -> "rule:basis" [style=dashed, label="exception to"];
}
"""


def test_graph_dot_is_the_default_and_holds_everything() -> None:
    text = graph_cli()
    assert text.startswith("digraph decree {\n  rankdir=LR;\n")
    assert text == graph_cli("--format", "dot")
    assert '  "output:status" -> "rule:status.bepaling";\n' in text
    assert '  "rule:status.bepaling" -> "output:verplicht";\n' in text
    assert text.count(" -> ") == 17


def test_graph_mermaid() -> None:
    lines = graph_cli("--format", "mermaid", "--output", "status").splitlines()
    assert lines[0] == "flowchart LR"
    ids = {}
    for line in lines[1:]:
        if '"' in line:
            node_id, label = line.strip().split('"')[0:2]
            ids[label] = node_id.rstrip("([/")
    assert set(ids) == {"fact: inschrijving.datum", "fact: persoon.bedienaar", "fact: persoon.eu",
                        "fact: persoon.leeftijd", "fact: persoon.ziek", "output: status", "output: verplicht",
                        "rule: basis", "rule: herplicht.bedienaar", "rule: status.bepaling",
                        "rule: vrijstelling.eu", "rule: vrijstelling.ziek"}
    assert f'  {ids["output: status"]}["output: status"]' in lines
    assert f'  {ids["rule: basis"]}[["rule: basis"]]' in lines
    assert f'  {ids["fact: persoon.eu"]}(["fact: persoon.eu"])' in lines
    assert f'  {ids["output: status"]} --> {ids["rule: status.bepaling"]}' in lines
    assert f'  {ids["rule: herplicht.bedienaar"]} -. exception to .-> {ids["rule: vrijstelling.ziek"]}' in lines
    assert sum("-. exception to .->" in line for line in lines) == 3


def test_graph_json_of_one_output() -> None:
    data = json.loads(graph_cli("--format", "json", "--output", "grond"))
    nodes = {n["id"]: n for n in data["nodes"]}
    assert {"output:grond", "rule:vrijstelling.eu", "rule:vrijstelling.ziek", "fact:persoon.eu",
            "fact:persoon.ziek"} <= set(nodes)
    assert "output:verplicht" not in nodes and "output:status" not in nodes
    assert "rule:herplicht.bedienaar" not in nodes  # it never sets grond
    assert nodes["rule:vrijstelling.eu"]["kind"] == "rule"
    assert nodes["rule:vrijstelling.eu"]["title"] == "Vrijstelling EU-burger"
    assert nodes["rule:vrijstelling.eu"]["span"] == f"{RULESETS / 'exceptions' / 'rules.yaml'}:11:9"
    assert nodes["fact:persoon.eu"] == {"id": "fact:persoon.eu", "kind": "fact", "name": "persoon.eu"}
    edges = {(e["from"], e["to"]): e["kind"] for e in data["edges"]}
    assert edges[("output:grond", "rule:vrijstelling.eu")] == "decided_by"
    assert edges[("rule:vrijstelling.ziek", "fact:persoon.ziek")] == "uses"
    assert all(e["from"] in nodes and e["to"] in nodes for e in data["edges"])


def test_graph_of_an_output_only_holds_what_can_change_it() -> None:
    data = json.loads(graph_cli("--format", "json", "--output", "grond"))
    assert {n["id"] for n in data["nodes"]} == {
        "output:grond", "rule:vrijstelling.eu", "rule:vrijstelling.ziek", "fact:persoon.eu", "fact:persoon.ziek",
        "fact:inschrijving.datum"}


def test_graph_unknown_output_is_bad_input() -> None:
    result = CliRunner().invoke(main, ["graph", "--rules", str(RULESETS / "exceptions"), "--output", "verplict"])
    assert result.exit_code == 2
    assert "unknown output 'verplict'" in result.stderr
    assert "Traceback" not in result.output


def test_graph_unknown_format_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["graph", "--rules", str(RULESETS / "exceptions"), "--format", "png"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# -- the graph as plain data, for loading without networkx ----------------------------

def _one_call_per_node_and_edge(loaded: Any) -> nx.DiGraph[str]:
    """The graph as networkx's tutorial builds it: the reference for graph.gather()."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    vocabulary = loaded.vocabulary
    for declaration in vocabulary.names.values():
        graph.add_node(graphs.node(declaration.kind, declaration.name), kind=declaration.kind, name=declaration.name)
    for rule in loaded.rules.values():
        rule_node = graphs.node("rule", rule.id)
        graph.add_node(rule_node, kind="rule", name=rule.id, title=rule.title, span=str(rule.span))
        for expression in rule.expressions():
            for name in expression.free_names:
                declared = vocabulary.get(name)
                if declared is not None:
                    graph.add_edge(rule_node, graphs.node(declared.kind, name), kind="uses")
        for output in rule.outputs:
            graph.add_edge(graphs.node("output", output), rule_node, kind="decided_by")
        for parent in rule.exception_to:
            if parent in loaded.rules:
                graph.add_edge(rule_node, graphs.node("rule", parent), kind="exception")
    return graph


@pytest.mark.parametrize("where", ["rules", "tests/rulesets/cycle3", "tests/rulesets/exception_cycle",
                                   "tests/rulesets/exceptions", "tests/rulesets/proposals", "generated"])
def test_the_gathered_graph_is_networkx_s_in_the_same_order(where: str, tmp_path: Path) -> None:
    from engine.rules.loader import load
    from tools import rulegen

    root = ROOT / where
    if where == "generated":
        root = tmp_path
        rulegen.generate(root, 150)
    loaded, _ = load([root])
    assert loaded is not None
    expected, gathered = _one_call_per_node_and_edge(loaded), graphs.gather(loaded)
    got = gathered.to_networkx()
    assert list(got.nodes(data=True)) == list(expected.nodes(data=True))
    assert list(got.edges(data=True)) == list(expected.edges(data=True))
    assert list(graphs.edge_kinds(gathered)) == list(graphs.edge_kinds(expected))
    assert [e.render() for e in graphs.iter_cycle_errors(gathered, loaded.rules)] == \
        [e.render() for e in graphs.iter_cycle_errors(expected, loaded.rules)]
    assert list(graphs.unused_facts(gathered, loaded.vocabulary)) == \
        [d.name for d in loaded.vocabulary.of_kind("fact") if expected.in_degree(graphs.node("fact", d.name)) == 0]
    assert list(graphs.undecided_outputs(gathered, loaded.vocabulary)) == \
        [d.name for d in loaded.vocabulary.of_kind("output")
         if expected.out_degree(graphs.node("output", d.name)) == 0]
