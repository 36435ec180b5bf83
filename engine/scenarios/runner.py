"""``decree test``: run every scenario of the fixture files, report, and write JUnit XML.

The rule set is loaded once. Bad fixture files are reported first, all of them, and
make the run exit with 2 before any scenario runs (a fixture that names an unknown output
is an error, not a failure). Then every scenario runs; each failure is reported with the
scenario's file and line, expected and actual values and the explanation of the actual
value; the last line is pytest's ``N passed, M failed``. As with pytest, a run that
selects no scenario exits with 5 (a typo in ``-k`` or a path must not pass in CI).

The JUnit report keeps to the common ``junit-10.xsd`` (strict CI servers reject other
attributes): a test case has a name, a dotted class name and its time; its file and line
are in the failure text and in the test suite's ``file`` attribute.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable, Iterable

from engine.reports.coverage import CoverageReport
from engine.errors import PolicyError
from engine.scenarios.fixtures import Outcome, Scenario, iter_all, run
from engine.ruleset import RuleSet


def load_scenarios(ruleset: RuleSet, paths: Iterable[str | Path]) -> tuple[list[Scenario], list[PolicyError]]:
    scenarios: list[Scenario] = []
    problems: list[PolicyError] = []
    for found, errors in iter_all(paths, ruleset):
        scenarios.extend(found)
        problems.extend(errors)
    return scenarios, problems


NO_SCENARIOS = 5  # pytest's exit code when nothing was collected


def run_cli(ruleset: RuleSet, paths: Iterable[str], *, junit: str | None, coverage: bool,
            coverage_json: str | None, fail_under: float | None, keyword: str | None,
            echo: Callable[..., None], coverage_lcov: str | None = None) -> int:
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        echo(f"decree: no such file or directory: {', '.join(missing)}", err=True)
        return 2
    scenarios, problems = load_scenarios(ruleset, paths)
    if problems:
        for problem in problems:
            echo(problem.render(), err=True)
        echo(f"{len(problems)} error{'s' if len(problems) != 1 else ''} in fixture files", err=True)
        return 2
    if keyword:
        scenarios = [s for s in scenarios if keyword.lower() in s.name.lower()]
    if not scenarios:
        echo(f"no scenario selected{f' by -k {keyword!r}' if keyword else ''} in {', '.join(map(str, paths))}",
             err=True)
        return NO_SCENARIOS
    outcomes: list[Outcome] = []
    times: list[float] = []
    for scenario in scenarios:
        started = time.perf_counter()
        outcomes.append(run(scenario, ruleset))
        times.append(time.perf_counter() - started)
    elapsed = sum(times)
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        echo(outcome.report())
        echo("")
    if junit:
        write_junit(outcomes, junit, times)
    report = None
    if coverage or coverage_json or coverage_lcov or fail_under is not None:
        report = CoverageReport.for_rules(ruleset)
        for outcome in outcomes:
            if outcome.result is not None:
                report.record(outcome.result.evaluation)
        if coverage:
            echo(report.render())
        if coverage_json:
            report.dump(coverage_json)
        if coverage_lcov:
            Path(coverage_lcov).write_text(report.to_lcov(), encoding="utf-8")
    echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed in {elapsed:.2f}s")
    if failed:
        return 1
    if report is not None and fail_under is not None and report.percent() < fail_under:
        echo(f"decree: rule-version coverage {report.percent():.1f}% is under {fail_under:g}%", err=True)
        return 1
    return 0


def write_junit(outcomes: list[Outcome], path: str, times: list[float]) -> None:
    """A JUnit XML report: one test suite per fixture file, one test case per scenario,
    each with its time in seconds."""
    root = ET.Element("testsuites", name="decree", tests=str(len(outcomes)),
                      failures=str(sum(1 for o in outcomes if o.mismatches)),
                      errors=str(sum(1 for o in outcomes if o.error is not None)), time=f"{sum(times):.3f}")
    by_file: dict[str, list[tuple[Outcome, float]]] = {}
    for outcome, seconds in zip(outcomes, times):
        by_file.setdefault(outcome.scenario.file, []).append((outcome, seconds))
    for file, group in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(group)),
                              failures=str(sum(1 for o, _ in group if o.mismatches)),
                              errors=str(sum(1 for o, _ in group if o.error is not None)), skipped="0",
                              time=f"{sum(seconds for _, seconds in group):.3f}", file=file)
        for outcome, seconds in group:
            scenario = outcome.scenario
            case = ET.SubElement(suite, "testcase", name=scenario.name, classname=_classname(file),
                                 time=f"{seconds:.3f}")
            if outcome.error is not None:
                error = ET.SubElement(case, "error", message=outcome.error.message, type=type(outcome.error).__name__)
                error.text = outcome.report()
            elif outcome.mismatches:
                summary = "; ".join(f"{m.output}: expected {m.expected}, got {m.actual}" for m in outcome.mismatches)
                failure = ET.SubElement(case, "failure", message=summary, type="ScenarioFailed")
                failure.text = outcome.report()
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _classname(file: str) -> str:
    """``tests/scenarios/doelgroep.yaml`` -> ``tests.scenarios.doelgroep``; relative to the
    working directory where possible, and never with an empty segment."""
    path = Path(file).with_suffix("")
    try:
        path = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    return ".".join(part for part in path.parts if part not in ("/", "\\", "") and not part.endswith(":\\"))
