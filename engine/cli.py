"""The ``decree`` command line: arguments in, one engine call, rendering out.

Every :class:`PolicyError` becomes ``FILE:LINE:COL: error: MESSAGE`` with the source line
and a caret on standard error, and an exit code, in one place (:func:`_run`). Exit codes
follow docs (``../shared/spec/contracts.md``): ``check`` 0 clean / 1 problems; ``eval``,
``explain`` and ``show`` 0 / 2 bad input; ``test`` 0 / 1 failures / 2 bad files. No
Python traceback reaches the user: an unexpected exception is reported as an internal
error with exit code 3.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from engine.errors import InputError, PolicyError, PolicyErrors, flatten
from engine.ruleset import Result, RuleSet
from engine.values import dumps
from engine.sources.yamlsource import Document, parse_document, read_document

PACKAGED_RULES = Path(__file__).resolve().parent.parent / "rules"


class Failure(Exception):
    """Leave with an exit code after printing ``problems``."""

    def __init__(self, code: int, problems: list[PolicyError] | None = None, message: str = "") -> None:
        super().__init__(message)
        self.code, self.problems, self.message = code, problems or [], message


def _run(action: Callable[[], int | None], bad_input: int = 2) -> NoReturn:
    """Run a command body; map every error to its rendering and exit code."""
    try:
        code = action() or 0
    except Failure as failure:
        _print_problems(failure.problems)
        if failure.message:
            click.echo(f"decree: {failure.message}", err=True)
        code = failure.code
    except PolicyError as error:
        _print_problems(flatten([error]))
        code = bad_input
    except (KeyboardInterrupt, BrokenPipeError):
        code = 130
    except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
        click.echo(f"decree: internal error: {type(error).__name__}: {error}\n"
                   "This is a bug in decree; please report it with the command that caused it.", err=True)
        code = 3
    sys.exit(code)


def _print_problems(problems: list[PolicyError]) -> None:
    for problem in problems:
        click.echo(problem.render(), err=True)
    errors = sum(1 for p in problems if p.severity == "error")
    if errors > 1:
        click.echo(f"{errors} errors", err=True)


def default_rules() -> Path:
    local = Path("rules")
    return local if local.is_dir() else PACKAGED_RULES


def load_rules(path: str | None) -> RuleSet:
    try:
        return RuleSet.load(path or default_rules())
    except PolicyError as error:
        raise Failure(2, flatten([error]), "the rule set has errors; run 'decree check' for details") from None


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Failure(2, message=f"{what}: impossible date '{value}'; expected YYYY-MM-DD") from None


def parse_proposals(values: tuple[str, ...]) -> dict[str, date | None]:
    proposals: dict[str, date | None] = {}
    for value in values:
        name, _, day = value.partition("=")
        proposals[name.strip()] = parse_date(day.strip(), f"--proposal {name}") if day else None
    return proposals


def evaluate_file(facts_file: str, on: str, proposals: tuple[str, ...], rules_path: str | None,
                  outputs: list[str] | None = None) -> Result:
    """The arguments of eval and explain, checked, and the evaluation they ask for."""
    day = parse_date(on, "--on")
    chosen = parse_proposals(proposals)
    ruleset = load_rules(rules_path)
    facts = validated_facts(ruleset, facts_file)
    return ruleset.evaluate(facts, day, chosen, outputs=outputs, validated=True)


def validated_facts(ruleset: RuleSet, path: str) -> dict[str, Any]:
    """The facts of a facts file, or every problem of it (YAML values and facts alike)."""
    document, where = read_facts_document(path)
    try:
        facts = ruleset.facts_from(document, where)
    except PolicyError as error:
        raise PolicyErrors(document.problems + flatten([error])) from None
    if document.problems:
        raise PolicyErrors(document.problems)
    return facts


def read_facts_document(path: str) -> tuple[Document, tuple[Any, ...]]:
    if path == "-":
        document = parse_document(sys.stdin.read(), "<stdin>", InputError, keep_going=True)
    else:
        document = read_document(path, InputError, keep_going=True)
    data = document.data
    if isinstance(data, dict) and isinstance(data.get("facts"), dict):
        return document, ("facts",)
    if data is not None and not isinstance(data, dict):
        raise InputError("a facts file holds a mapping of facts", document.span(()))
    return document, ()


rules_option = click.option("--rules", "rules_path", metavar="DIR", help="rule set directory (default: rules/)")
proposal_option = click.option("--proposal", "proposals", multiple=True, metavar="NAME[=DATE]",
                               help="switch on a proposed amendment, optionally with its effective date")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="decree")
def main() -> None:
    """decree: policy as data, with versioned rules and explanations."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--quiet", "-q", is_flag=True, help="print only errors")
def check(paths: tuple[str, ...], quiet: bool) -> None:
    """Load, validate and lint rule files (default: rules/)."""

    def action() -> int:
        targets = paths or (str(default_rules()),)
        ruleset, problems = RuleSet.check(*targets)
        errors = [p for p in problems if p.severity == "error"]
        shown = errors if quiet else problems
        for problem in shown:
            click.echo(problem.render(), err=True)
        warnings = len(problems) - len(errors)
        if errors:
            click.echo(f"{len(errors)} error{'s' if len(errors) != 1 else ''}, {warnings} warning"
                       f"{'s' if warnings != 1 else ''}", err=True)
            return 1
        assert ruleset is not None
        loaded = ruleset.loaded
        click.echo(f"ok: {len(loaded.files)} files, {len(loaded.rules)} rules, {len(loaded.amendments)} amendments, "
                   f"{warnings} warning{'s' if warnings != 1 else ''} (rules version {ruleset.content_hash})")
        return 0

    _run(action, bad_input=1)


@main.command("eval")
@click.argument("facts_file", metavar="FACTS")
@click.option("--on", "on", required=True, metavar="DATE", help="evaluation date, YYYY-MM-DD")
@proposal_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--explain", is_flag=True, help="explain every output")
@rules_option
def eval_command(facts_file: str, on: str, proposals: tuple[str, ...], fmt: str, explain: bool,
                 rules_path: str | None) -> None:
    """Evaluate all outputs for one person."""
    from engine.reports.explain import explain as explain_output
    from engine.reports.explain import render_summary

    def action() -> int:
        result = evaluate_file(facts_file, on, proposals, rules_path)
        if fmt == "json":
            data = result.to_json()
            if explain:
                data["explanations"] = {name: explain_output(result, name).to_json() for name in result.decisions}
            click.echo(dumps(data))
            return 0
        click.echo(render_result(result))
        if explain:
            click.echo("\nWhy (decree explain OUTPUT FACTS --on DATE gives the whole derivation):\n")
            for name, decision in result.decisions.items():
                if decision.status != "not_applicable":
                    click.echo(render_summary(explain_output(result, name)))
        return 0

    _run(action)


def render_result(result: Any) -> str:
    from engine.values import render

    lines = [f"Decision on {result.on.isoformat()} (rules {result.rules_version}"
             + (f", proposals: {', '.join(f'{k}={v}' for k, v in sorted(result.proposals.items()))}"
                if result.proposals else "") + ")"]
    width = max((len(name) for name in result.decisions), default=10)
    for name, decision in result.decisions.items():
        if decision.status == "decided":
            lines.append(f"  {name:<{width}}  {render(decision.value)}")
        elif decision.status == "unknown":
            lines.append(f"  {name:<{width}}  unknown: needs {', '.join(decision.missing)}")
    if result.not_applicable:
        lines.append(f"  not applicable: {', '.join(result.not_applicable)}")
    return "\n".join(lines)


@main.command("explain")
@click.argument("output")
@click.argument("facts_file", metavar="FACTS")
@click.option("--on", "on", required=True, metavar="DATE")
@proposal_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@rules_option
def explain_command(output: str, facts_file: str, on: str, proposals: tuple[str, ...], fmt: str,
                    rules_path: str | None) -> None:
    """The derivation of one output, with legal references."""
    from engine.reports.explain import explain, render_text

    def action() -> int:
        result = evaluate_file(facts_file, on, proposals, rules_path, outputs=[output])
        explanation = explain(result, output)
        if fmt == "json":
            click.echo(dumps(explanation.to_json()))
        else:
            click.echo(render_text(explanation), nl=False)
        return 0

    _run(action)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "json"]), default="dot")
@click.option("--output", "output", metavar="OUTPUT", help="only what this output depends on")
@click.option("--affected-by", "changed", metavar="NAME",
              help="only what a change to this rule, fact, output, set or parameter may change")
@rules_option
def graph(fmt: str, output: str | None, changed: str | None, rules_path: str | None) -> None:
    """The dependency graph of the rule set."""
    from engine.rules import graph as graphs
    from engine.errors import suggest

    def action() -> int:
        ruleset = load_rules(rules_path)
        if output is not None and graphs.node("output", output) not in ruleset.graph:
            raise Failure(2, message=f"unknown output '{output}'")
        subgraph = graphs.restrict(ruleset.graph, output)
        if changed is not None:
            names = {data.get("name"): node for node, data in ruleset.graph.nodes.items()}
            start = changed if changed in ruleset.graph else names.get(changed)
            if start is None:
                raise Failure(2, message=f"unknown rule, fact, output, set or parameter '{changed}'"
                                         f"{suggest(changed, [n for n in names if n])}")
            subgraph = subgraph.subgraph(graphs.affected_by(ruleset.graph, start) | {start})
        render = {"dot": graphs.to_dot, "mermaid": graphs.to_mermaid, "json": graphs.to_json}[fmt]
        click.echo(render(subgraph), nl=False)
        return 0

    _run(action)


@main.command()
@click.argument("rule")
@click.option("--on", "on", metavar="DATE", help="the version in force on this reference date")
@proposal_option
@rules_option
def show(rule: str, on: str | None, proposals: tuple[str, ...], rules_path: str | None) -> None:
    """A rule's or parameter's time line, a value set's history, or the rules that set an output."""
    from engine.reports.show import render_timeline

    def action() -> int:
        ruleset = load_rules(rules_path)
        chosen = parse_proposals(proposals)
        ruleset.check_proposals(chosen)
        day = parse_date(on, "--on") if on else None
        click.echo(render_timeline(ruleset, rule, chosen, day), nl=False)
        return 0

    _run(action)


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--junit", "junit", metavar="FILE", help="write a JUnit XML report")
@click.option("--coverage", is_flag=True, help="report which rule versions, conditions and exceptions were exercised")
@click.option("--coverage-json", metavar="FILE", help="write the coverage report as JSON")
@click.option("--fail-under", type=float, default=None, metavar="N",
              help="fail when rule-version coverage is below N percent")
@click.option("-k", "keyword", metavar="TEXT", help="only scenarios whose name contains TEXT")
@rules_option
def test_command(paths: tuple[str, ...], junit: str | None, coverage: bool, coverage_json: str | None,
                 fail_under: float | None, keyword: str | None, rules_path: str | None) -> None:
    """Run scenario fixtures (default: tests/scenarios/)."""
    from engine.scenarios.runner import run_cli

    def action() -> int:
        ruleset = load_rules(rules_path)
        return run_cli(ruleset, paths or ("tests/scenarios",), junit=junit, coverage=coverage,
                       coverage_json=coverage_json, fail_under=fail_under, keyword=keyword, echo=click.echo)

    _run(action)


if __name__ == "__main__":  # pragma: no cover
    main()
