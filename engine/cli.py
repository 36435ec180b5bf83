"""The ``decree`` command line: arguments in, one engine call, rendering out.

Every :class:`PolicyError` becomes ``FILE:LINE:COL: error: MESSAGE`` with the source line
and a caret on standard error, and an exit code, in one place (:func:`_run`). Exit codes
follow docs (``../shared/spec/contracts.md``): ``check`` 0 clean / 1 problems; ``eval``,
``explain`` and ``show`` 0 / 2 bad input; ``test`` 0 / 1 failures / 2 bad files / 5 no
scenario selected. No
Python traceback reaches the user: an unexpected exception is reported as an internal
error with exit code 3 (the fuzz suite holds that no input reaches it). Files are read
within the bounds of :class:`engine.sources.yamlsource.Limits`, set from the
``DECREE_MAX_*`` environment variables.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from engine.errors import InputError, PolicyError, PolicyErrors, flatten, shorten
from engine.ruleset import Result, RuleSet, default_rules
from engine.values import dumps, parse_iso_date
from engine.sources.yamlsource import Document, Limits, parse_document, read_document


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
    except Exception as error:  # the last line of defence against tracebacks
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


def load_rules(path: str | None) -> RuleSet:
    from engine import cache

    try:
        return cache.load(path or default_rules(), limits=Limits.from_environment(),
                          use_cache=_USE_CACHE[0] and cache.enabled())
    except PolicyError as error:
        raise Failure(2, flatten([error]), "the rule set has errors; run 'decree check' for details") from None


def parse_date(value: str, what: str) -> date:
    try:
        return parse_iso_date(value)
    except ValueError:
        raise Failure(2, message=f"{what}: impossible date {shorten(value)}; expected YYYY-MM-DD") from None


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
    limits = Limits.from_environment()
    if path == "-":  # one character past the limit is enough to refuse it
        text = sys.stdin.read(limits.file_bytes + 1)
        document = parse_document(text, "<stdin>", InputError, keep_going=True, limits=limits)
    else:
        document = read_document(path, InputError, keep_going=True, limits=limits)
    data = document.data
    if isinstance(data, dict) and isinstance(data.get("facts"), dict):
        return document, ("facts",)
    if data is not None and not isinstance(data, dict):
        raise InputError("a facts file holds a mapping of facts", document.span(()))
    return document, ()


rules_option = click.option("--rules", "rules_path", metavar="DIR", help="rule set directory (default: rules/)")
proposal_option = click.option("--proposal", "proposals", multiple=True, metavar="NAME[=DATE]",
                               help="switch on a proposed amendment, optionally with its effective date")


_USE_CACHE = [True]  # decree --no-cache: every command loads the rule files


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="decree")
@click.option("--no-cache", is_flag=True,
              help="load the rule files, without the cache of checked rule sets (also DECREE_NO_CACHE=1)")
def main(no_cache: bool) -> None:
    """decree: policy as data, with versioned rules and explanations."""
    _USE_CACHE[0] = not no_cache


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--quiet", "-q", is_flag=True, help="print only errors")
def check(paths: tuple[str, ...], quiet: bool) -> None:
    """Load, validate and lint rule files (default: rules/)."""

    def action() -> int:
        targets = paths or (str(default_rules()),)
        ruleset, problems = RuleSet.check(*targets, limits=Limits.from_environment())
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
@click.option("--coverage-lcov", metavar="FILE", help="write rule-version coverage as LCOV (for editors and CI)")
@click.option("--fail-under", type=float, default=None, metavar="N",
              help="fail when rule-version coverage is below N percent")
@click.option("-k", "keyword", metavar="TEXT", help="only scenarios whose name contains TEXT")
@rules_option
def test_command(paths: tuple[str, ...], junit: str | None, coverage: bool, coverage_json: str | None,
                 coverage_lcov: str | None, fail_under: float | None, keyword: str | None,
                 rules_path: str | None) -> None:
    """Run scenario fixtures (default: tests/scenarios/)."""
    from engine.scenarios.runner import run_cli

    def action() -> int:
        ruleset = load_rules(rules_path)
        return run_cli(ruleset, paths or ("tests/scenarios",), junit=junit, coverage=coverage,
                       coverage_json=coverage_json, fail_under=fail_under, keyword=keyword, echo=click.echo,
                       coverage_lcov=coverage_lcov)

    _run(action)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--decision-log", "decision_log", metavar="FILE", help="log every decision to FILE (JSON lines)")
@click.option("--watch", "watch", type=float, default=None, metavar="SECONDS",
              help="reload when the rules directory changes, polled every SECONDS")
@click.option("--admin-token-file", metavar="FILE",
              help="enables POST /v1/admin/reload for this token (or set DECREE_ADMIN_TOKEN)")
@click.option("--max-body", default=1 << 20, show_default=True, type=int, help="bytes of one request")
@click.option("--max-batch", default=10_000, show_default=True, type=int, help="persons in one batch")
@click.option("--access-log", is_flag=True, help="log every request")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="worker processes on one socket (each holds its own rule set)")
@rules_option
def serve(host: str, port: int, decision_log: str | None, watch: float | None, admin_token_file: str | None,
          max_body: int, max_batch: int, access_log: bool, log_level: str, workers: int,
          rules_path: str | None) -> None:
    """Serve decisions over HTTP (needs the serve extra: pip install 'decree[serve]')."""

    def action() -> int:
        try:
            from engine.service.app import PolicyErrorsAtStart, Settings
            from engine.service.server import run
        except ImportError as error:
            raise Failure(2, message=f"{error.name} is missing: install the serve extra, "
                                     "pip install 'decree[serve]'") from None
        token = os.environ.get("DECREE_ADMIN_TOKEN") or None
        if admin_token_file:
            try:
                token = Path(admin_token_file).read_text(encoding="utf-8").strip() or None
            except OSError as error:
                raise Failure(2, message=f"--admin-token-file: {error.strerror}: {admin_token_file}") from None
        settings = Settings(Path(rules_path) if rules_path else default_rules(),
                            Path(decision_log) if decision_log else None, token, max_body,
                            max(max_body, 16 << 20), max_batch, watch)
        try:
            return run(settings, host, port, access_log, log_level, workers)
        except PolicyErrorsAtStart as error:
            raise Failure(2, error.problems, "the rule set has errors; the service does not start") from None

    _run(action)


@main.command()
@click.argument("log_file", metavar="LOG")
@click.option("--quiet", "-q", is_flag=True, help="print only differences")
def replay(log_file: str, quiet: bool) -> None:
    """Decide every decision of a decision log again; exit 1 on any difference."""
    from engine.service.decisionlog import replay as replay_log

    def action() -> int:
        if not Path(log_file).is_file():
            raise Failure(2, message=f"no such decision log: {log_file}")
        total = differ = 0
        for replayed in replay_log(Path(log_file)):
            total += 1
            if not replayed.same:
                differ += 1
                click.echo(f"{log_file}:{replayed.line}: decision {replayed.decision_id or '?'}: "
                           f"{replayed.problem}", err=True)
            elif not quiet:
                click.echo(f"{log_file}:{replayed.line}: decision {replayed.decision_id}: same")
        click.echo(f"{total - differ} reproduced, {differ} differ")
        return 1 if differ else 0

    _run(action)


@main.command("batch")
@click.argument("source", metavar="INPUT")
@click.option("--on", "on", required=True, metavar="DATE", help="evaluation date (an 'on' column overrides it per row)")
@proposal_option
@click.option("--output", "output", required=True, metavar="FILE", help="results: .parquet, .csv or .jsonl")
@click.option("--format", "in_format", type=click.Choice(["parquet", "csv", "jsonl"]), help="input format")
@click.option("--output-format", "out_format", type=click.Choice(["parquet", "csv", "jsonl"]))
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="a bad row stops the run (nothing written) or is left out")
@click.option("--dask", "dask_address", metavar="ADDRESS|local", help="run on a Dask cluster (extra decree[dask])")
@click.option("--exact", is_flag=True, help="decide rows with unknown outputs exactly, as 'decree eval' does "
              "(about 10 ms more for each such person)")
@rules_option
def batch_command(source: str, on: str, proposals: tuple[str, ...], output: str, in_format: str | None,
                  out_format: str | None, on_error: str, dask_address: str | None, exact: bool,
                  rules_path: str | None) -> None:
    """All outputs for every person of a Parquet, CSV or JSON Lines file."""

    def action() -> int:
        from engine.population.commands import batch

        day = parse_date(on, "--on")
        chosen = parse_proposals(proposals)
        ruleset = load_rules(rules_path)
        return batch(ruleset, source, day, chosen, output, in_format, out_format, on_error, dask_address,
                     click.echo, exact)

    _run(action)


@main.command("impact")
@click.argument("population", metavar="POPULATION")
@click.option("--on", "on", required=True, metavar="DATE")
@proposal_option
@click.option("--against", "against", metavar="RULES_DIR", help="compare with another rule set")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text")
@click.option("--changed", "changed", metavar="FILE", help="write the changed persons with both results")
@click.option("--examples", type=int, default=3, show_default=True, help="example ids per transition")
@click.option("--exact", is_flag=True, help="decide rows with unknown outputs exactly, as 'decree eval' does "
              "(about 10 ms more for each such person)")
@rules_option
def impact_command(population: str, on: str, proposals: tuple[str, ...], against: str | None, fmt: str,
                   changed: str | None, examples: int, exact: bool, rules_path: str | None) -> None:
    """What a proposal or another rule set changes over a population."""

    def action() -> int:
        from engine.population.commands import impact

        if bool(proposals) == bool(against):
            raise Failure(2, message="give either --proposal NAME[=DATE] or --against RULES_DIR")
        day = parse_date(on, "--on")
        chosen = parse_proposals(proposals)
        base = load_rules(rules_path)
        variant = load_rules(against) if against else base
        return impact(base, variant, chosen, population, day, fmt, changed, examples, click.echo, exact)

    _run(action)


if __name__ == "__main__":  # pragma: no cover
    main()
