"""The shape of the package: modules of a readable size, no import cycle between them,
and evaluations that leave nothing for the cyclic garbage collector."""

from __future__ import annotations

import ast
import gc
from datetime import date
from pathlib import Path

import networkx as nx
from conftest import ROOT

from engine.ruleset import RuleSet

ENGINE = ROOT / "engine"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_at_load(path: Path) -> set[str]:
    """The engine modules ``path`` imports when it is loaded: module level, outside
    ``if TYPE_CHECKING:`` (imports inside functions run later, on use)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ():
            if isinstance(inner, ast.ImportFrom) and inner.module and inner.module.startswith("engine"):
                found.add(inner.module)
                found.update(f"{inner.module}.{alias.name}" for alias in inner.names)
            elif isinstance(inner, ast.Import):
                found.update(alias.name for alias in inner.names if alias.name.startswith("engine"))
    return found


def test_no_module_is_over_600_lines() -> None:
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in ENGINE.rglob("*.py")}
    assert sizes and all(lines <= 600 for lines in sizes.values()), {p: n for p, n in sizes.items() if n > 600}


def test_no_import_cycle_between_engine_modules() -> None:
    modules = {_module(path): path for path in ENGINE.rglob("*.py")}
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in _imports_at_load(path) & set(modules):
            if target != name and not name.startswith(target + ".") and not target == name.rsplit(".", 1)[0]:
                graph.add_edge(name, target)
    assert graph.number_of_edges() > 30  # the walk found the imports
    assert list(nx.simple_cycles(graph)) == []


def test_the_walk_finds_a_cycle_when_there_is_one(tmp_path: Path) -> None:
    graph: nx.DiGraph[str] = nx.DiGraph([("engine.a", "engine.b"), ("engine.b", "engine.a")])
    assert list(nx.simple_cycles(graph))


def test_an_evaluation_leaves_no_garbage_for_the_cyclic_collector(decree: RuleSet) -> None:
    """The evaluation and its scopes never point at each other: dropping a result frees
    it at once, so evaluating causes no collections (nor their pauses)."""
    from engine.cli import validated_facts

    facts = validated_facts(decree, str(ROOT / "examples" / "persoon.yaml"))
    some = {name: value for index, (name, value) in enumerate(sorted(facts.items())) if index % 3}
    for given in (facts, some):
        for _ in range(2):  # code generated before counting (a person's function on the second evaluation)
            result = decree.evaluate(given, date(2024, 3, 1), validated=True)
        assert result.explain("status") is not None
        gc.collect()
        gc.disable()
        try:
            for _ in range(50):
                decree.evaluate(given, date(2024, 3, 1), validated=True).explain("status")
            assert gc.collect() == 0
        finally:
            gc.enable()
    assert some != facts and decree.evaluate(some, date(2024, 3, 1), validated=True).unknown
