"""The dependency graph of a rule set, built statically from the expressions' names.

Nodes are ``fact:NAME``, ``output:NAME``, ``rule:ID``, ``set:ID`` and ``parameter:ID``.
Edges point from a user to what it uses:

- ``rule -> fact | output | set | parameter``: the rule's expressions read it;
- ``output -> rule``: the rule decides the output (in some version);
- ``rule -> rule`` (kind ``exception``): the first is an exception to the second.

A cycle through outputs and rules would make evaluation loop; it is a load-time error
naming every rule of the cycle with its file and line (OpenFisca finds such cycles only
while computing). Exceptions must not form a cycle either. The evaluation order of
outputs is a topological order of this graph.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Union

from engine.errors import PolicyError, RuleFileError, Span
from engine.language.nodes import Name, walk
from engine.rules.loader import LoadedRules
from engine.rules.model import Rule
from engine.language.types import Vocabulary

if TYPE_CHECKING:  # networkx is imported where a networkx graph is built or searched
    import networkx as nx


def node(kind: str, name: str) -> str:
    return f"{kind}:{name}"


@dataclass
class Dependencies:
    """The graph as plain data: its nodes (with their attributes) in the order they are
    first named, and the edges from each, in the order they were found.

    Loading checks cycles and orders outputs on this, without networkx; the networkx
    graph (:meth:`to_networkx`) is built for the rest: the ``graph`` command, reporting a
    cycle, what an output depends on. Both hold the same nodes and edges in the same order.
    """

    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    out: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> {used: kind}

    def add_edge(self, user: str, used: str, kind: str) -> None:
        """An edge, once (as networkx keeps one edge from a node to another)."""
        self.nodes.setdefault(user, {})
        self.nodes.setdefault(used, {})
        self.out.setdefault(user, {})[used] = kind  # the last kind, in the first place, as networkx

    @property
    def edges(self) -> list[tuple[str, str, str]]:
        """``(user, used, kind)``, by user in the order of the nodes (as networkx lists them)."""
        out = self.out
        return [(user, used, kind) for user in self.nodes if user in out for used, kind in out[user].items()]

    def to_networkx(self) -> nx.DiGraph[str]:
        import networkx as nx

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self.nodes.items())
        graph.add_edges_from((user, used, {"kind": kind}) for user, used, kind in self.edges)
        return graph


Graph = Union["nx.DiGraph[str]", Dependencies]


def edge_kinds(graph: Graph) -> Iterable[tuple[str, str, str]]:
    """Every edge as ``(user, used, kind)``; :func:`build` gives every edge a kind."""
    if isinstance(graph, Dependencies):
        return graph.edges
    return graph.edges(data="kind")


def gather(loaded: LoadedRules) -> Dependencies:
    """The nodes and edges of ``loaded``'s graph: each declared name, then each rule and
    the edges from and to it (a node first named by an edge is added there)."""
    vocabulary = loaded.vocabulary
    found = Dependencies()
    for declaration in vocabulary.names.values():
        found.nodes[node(declaration.kind, declaration.name)] = {"kind": declaration.kind, "name": declaration.name}
    for rule in loaded.rules.values():
        rule_node = node("rule", rule.id)
        found.nodes.setdefault(rule_node, {}).update(kind="rule", name=rule.id, title=rule.title, span=str(rule.span))
        for expression in rule.expressions():
            for name in expression.free_names:
                declared = vocabulary.get(name)
                if declared is not None:
                    found.add_edge(rule_node, node(declared.kind, name), "uses")
        for output in rule.outputs:
            found.add_edge(node("output", output), rule_node, "decided_by")
        for parent in rule.exception_to:
            if parent in loaded.rules:
                found.add_edge(rule_node, node("rule", parent), "exception")
    return found


def build(loaded: LoadedRules) -> nx.DiGraph[str]:
    return gather(loaded).to_networkx()


def dependencies(graph: nx.DiGraph[str]) -> nx.DiGraph[str]:
    """The graph without exception edges: what evaluation needs first."""
    return _with_edges(graph, _is_dependency)


def _with_edges(graph: nx.DiGraph[str], keep: Callable[[str], bool]) -> nx.DiGraph[str]:
    """A new graph of the edges whose kind ``keep`` accepts, and the nodes they join.

    Like ``graph.edge_subgraph``, but a real graph rather than a view (the algorithms
    below walk it many times, and each step through a filtered view costs several Python
    calls), and without the attributes, which no caller reads. Nodes and edges keep the
    order of ``graph``, so cycles are found and reported as they were through the view.
    """
    import networkx as nx

    edges = [(u, v) for u, v, kind in edge_kinds(graph) if keep(kind)]
    joined = {end for edge in edges for end in edge}
    subgraph: nx.DiGraph[str] = nx.DiGraph()
    subgraph.add_nodes_from(name for name in graph if name in joined)
    subgraph.add_edges_from(edges)
    return subgraph


def _successors(graph: Graph, keep: Callable[[str], bool]) -> dict[str, list[str]]:
    """For each node with an edge whose kind ``keep`` accepts, where those edges lead."""
    found: dict[str, list[str]] = {}
    for u, v, kind in edge_kinds(graph):
        if keep(kind):
            found.setdefault(u, []).append(v)
            found.setdefault(v, [])
    return found


def _topological(successors: dict[str, list[str]]) -> list[str]:
    """The nodes, each before those it leads to, the smallest name first where free to
    choose (networkx's ``lexicographical_topological_sort``); fewer nodes on a cycle."""
    waiting = dict.fromkeys(successors, 0)
    for targets in successors.values():
        for target in targets:
            waiting[target] += 1
    ready = [name for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for target in successors[name]:
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, target)
    return order


def iter_cycle_errors(graph: Graph, rules: dict[str, Rule]) -> Iterator[PolicyError]:
    """One error per cycle of dependencies, and per cycle of exceptions.

    A cycle is told from the rule loaded first (file order): it closes where the last
    rule of the path uses the output that rule decides, and the error stands on that
    use, the name in the condition, since that is what an author edits to break it."""
    loaded = {rule_id: index for index, rule_id in enumerate(rules)}
    for what, keep in (("dependency", _is_dependency), ("exception", _is_exception)):
        successors = _successors(graph, keep)
        if len(_topological(successors)) == len(successors):
            continue  # no cycle: the usual case, answered without networkx
        import networkx as nx

        if isinstance(graph, Dependencies):
            graph = graph.to_networkx()
        subgraph = _with_edges(graph, keep)
        for component in nx.strongly_connected_components(subgraph):
            if len(component) < 2 and not any(subgraph.has_edge(n, n) for n in component):
                continue
            cycle = [u for u, _ in nx.find_cycle(subgraph.subgraph(component))]
            cycle = _from_first_loaded(cycle, loaded)
            path = cycle + [cycle[0]]
            involved = [rules[p.split(":", 1)[1]] for p in cycle if p.startswith("rule:")]
            where = "; ".join(f"'{r.id}' at {r.span.file}:{r.span.line}" for r in involved)
            closing = _closing_use(path, rules) if what == "dependency" else _closing_exception(path, rules)
            if closing is not None:
                rule, name, span = closing
                use = f"the use of '{name}'" if what == "dependency" else f"'exception_to: {name}'"
                yield RuleFileError(f"{what} cycle: {' -> '.join(path)}, closed by {use} in "
                                    f"'{rule.id}' (rules: {where})", span)
                continue
            first = involved[0] if involved else None
            message = f"{what} cycle: {' -> '.join(path)} (rules: {where})"
            yield RuleFileError(message, first.span if first else rules[next(iter(rules))].span)


def _from_first_loaded(cycle: list[str], loaded: dict[str, int]) -> list[str]:
    """The cycle rotated to begin just before its first-loaded rule (at the output that
    rule decides, in a dependency cycle)."""
    positions = [i for i, n in enumerate(cycle) if n.startswith("rule:")]
    if not positions:
        return cycle
    first = min(positions, key=lambda i: loaded.get(cycle[i].split(":", 1)[1], len(loaded)))
    if first > 0 and cycle[first - 1].startswith("output:"):
        first -= 1
    return cycle[first:] + cycle[:first]


def _closing_exception(path: list[str], rules: dict[str, Rule]) -> tuple[Rule, str, Span] | None:
    """The rule whose ``exception_to`` closes ``path`` (``... -> rule:R -> rule:F``), the
    rule it names and where that name is written."""
    if len(path) < 2 or not (path[-2].startswith("rule:") and path[-1].startswith("rule:")):
        return None
    rule = rules[path[-2].split(":", 1)[1]]
    name = path[-1].split(":", 1)[1]
    if name not in rule.exception_to or len(rule.exception_spans) != len(rule.exception_to):
        return None
    return rule, name, rule.exception_spans[rule.exception_to.index(name)]


def _closing_use(path: list[str], rules: dict[str, Rule]) -> tuple[Rule, str, Span] | None:
    """The rule whose use of an output closes ``path`` (``... -> rule:R -> output:O``,
    the first node), that output's name and the place of its first use in R."""
    if len(path) < 3 or not (path[-2].startswith("rule:") and path[-1].startswith("output:")):
        return None
    rule = rules[path[-2].split(":", 1)[1]]
    name = path[-1].split(":", 1)[1]
    for expression in rule.expressions():
        for found in walk(expression.node):
            if isinstance(found, Name) and found.name == name:
                return rule, name, expression.origin.span(found.start, found.end)
    return None


def evaluation_order(graph: Graph) -> list[str]:
    """Outputs in an order where each comes after the outputs it depends on."""
    successors = _successors(graph, _is_dependency)
    order = _topological(successors)
    if len(order) < len(successors):
        import networkx as nx

        raise nx.NetworkXUnfeasible("the dependency graph has a cycle")
    return [n.split(":", 1)[1] for n in reversed(order) if n.startswith("output:")]


def _is_dependency(kind: str) -> bool:
    return kind != "exception"


def _is_exception(kind: str) -> bool:
    return kind == "exception"


def depends_on(graph: nx.DiGraph[str], start: str) -> set[str]:
    """Every node that ``start`` (e.g. ``output:status``) depends on, transitively
    (along dependencies; 'exception to' edges add nothing an output does not reach)."""
    import networkx as nx

    needed = dependencies(graph)
    return set(nx.descendants(needed, start)) if start in needed else set()


def affected_by(graph: nx.DiGraph[str], start: str) -> set[str]:
    """Every node that a change to ``start`` (a rule or fact) may change."""
    import networkx as nx

    needed = dependencies(graph)
    return set(nx.ancestors(needed, start)) if start in needed else set()


def restrict(graph: nx.DiGraph[str], output: str | None) -> nx.DiGraph[str]:
    """The part of the graph one output depends on: dependencies only, not 'exception
    to' edges (every rule that can decide the output is linked to it directly)."""
    if output is None:
        return graph
    start = node("output", output)
    return graph.subgraph(depends_on(graph, start) | {start})


_SHAPES = {"fact": "ellipse", "output": "box", "rule": "component", "set": "folder", "parameter": "note"}


def to_dot(graph: nx.DiGraph[str]) -> str:
    lines = ["digraph decree {", "  rankdir=LR;"]
    for name, data in sorted(graph.nodes.items()):
        label = data.get("name", name)
        lines.append(f'  "{name}" [label="{label}", shape={_SHAPES.get(data.get("kind", ""), "box")}];')
    for u, v, kind in sorted(edge_kinds(graph)):
        style = ' [style=dashed, label="exception to"]' if kind == "exception" else ""
        lines.append(f'  "{u}" -> "{v}"{style};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: nx.DiGraph[str]) -> str:
    ids = {name: f"n{i}" for i, name in enumerate(sorted(graph.nodes))}
    lines = ["flowchart LR"]
    for name, data in sorted(graph.nodes.items()):
        kind, label = data.get("kind", ""), data.get("name", name)
        shape = {"fact": ("([", "])"), "output": ("[", "]"), "rule": ("[[", "]]")}.get(kind, ("[/", "/]"))
        lines.append(f'  {ids[name]}{shape[0]}"{kind}: {label}"{shape[1]}')
    for u, v, kind in sorted(edge_kinds(graph)):
        arrow = "-. exception to .->" if kind == "exception" else "-->"
        lines.append(f"  {ids[u]} {arrow} {ids[v]}")
    return "\n".join(lines) + "\n"


def to_json(graph: nx.DiGraph[str]) -> str:
    data = {
        "nodes": [{"id": n, **{k: v for k, v in d.items()}} for n, d in sorted(graph.nodes.items())],
        "edges": [{"from": u, "to": v, "kind": k} for u, v, k in sorted(edge_kinds(graph))],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def unused_facts(graph: Graph, vocabulary: Vocabulary) -> Iterable[str]:
    used = {target for _, target, _ in edge_kinds(graph)}
    for declaration in vocabulary.of_kind("fact"):
        if node("fact", declaration.name) not in used:
            yield declaration.name


def undecided_outputs(graph: Graph, vocabulary: Vocabulary) -> Iterable[str]:
    """The outputs that no rule sets."""
    decided = {user for user, _, kind in edge_kinds(graph) if kind == "decided_by"}
    for declaration in vocabulary.of_kind("output"):
        if node("output", declaration.name) not in decided:
            yield declaration.name
