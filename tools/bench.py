"""Speed of decree, measured in one run: ``python -m tools.bench`` (``make bench``).

Each figure is a median over repeated timings; ratios compare against baselines measured
in the same run, because this machine is shared and noisy: a hand-written Python
function doing what a condition does (the floor), the 10-node compiled condition (the
unit the goals are written in), and a bare Python process.

    condition language   compiled 10-node condition, interpreter, native baseline;
                         parse + check + compile of 1,000 conditions
    rule set             load + check of rules/; one person, all outputs, facts validated
                         (every fact given; a third of them left out); p50 and p99 of
                         single evaluations; cyclic-GC collections per 1,000 evaluations;
                         the scenario persons; the first evaluation after loading
    one-shot CLI         ``decree eval examples/persoon.yaml`` as a process, warm cache
    scaling              generated rule sets (tools.rulegen) of 1,000, 5,000 and 10,000
                         rules, each in fresh processes: load + check, then the first
                         evaluation of every output (wall and CPU seconds, full passes
                         of the cyclic collector), the next one, and a first one with
                         a fact missing
    fixtures             1,000 scenarios through the runner (rule set loaded once)

Goals (issue 9) are printed beside the figures; nothing here asserts them. ``--quick``
runs every part briefly on small sizes (the smoke test uses it): its figures are not
measurements.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable

from engine.language import nodes
from engine.language.expression import Expression, TestScope, Vocabulary
from engine.ruleset import RuleSet
from engine.sources.facts import read_facts
from engine.values import age_on
from tools import rulegen

ROOT = Path(__file__).resolve().parent.parent
QUICK = False  # set by --quick: few repeats, small sizes


def per_call(function: Callable[[], Any], *, repeat: int = 31, budget: float = 0.02) -> float:
    """Median seconds per call of ``function`` over ``repeat`` timings of a calibrated loop.

    Each timing is short (2 to 4 ms) and there are many: on a shared machine a timing
    that another process interrupted is an outlier the median leaves out."""
    if QUICK:
        repeat, budget = 3, 0.01
    loops = 1
    while True:
        started = time.perf_counter()
        for _ in range(loops):
            function()
        if time.perf_counter() - started > budget / 10 or loops > 1_000_000:
            break
        loops *= 2
    samples = []
    for _ in range(repeat):
        gc.disable()
        started = time.perf_counter()
        for _ in range(loops):
            function()
        samples.append((time.perf_counter() - started) / loops)
        gc.enable()
    return statistics.median(samples)


def once(function: Callable[[], Any], *, repeat: int = 5) -> float:
    repeat = 1 if QUICK else repeat
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def line(label: str, value: str, goal: str = "") -> None:
    print(f"  {label:<58} {value:>14}   {goal}")


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} us"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


# -- the condition language ---------------------------------------------------

VOCABULARY = Vocabulary.from_declarations({
    "persoon.geboortedatum": "date", "inschrijving.eerste_datum": "date", "inschrijving.gewest": "text",
    "persoon.nationaliteiten": "list of text", "EU": "set of text", "traject.pogingen": "number",
    "verblijf.eerste_keer": "bool",
})
# exactly ten AST nodes: and(>=(age(fact, fact), 18), ==(fact, text), fact)
CONDITION_10 = ("age(persoon.geboortedatum, inschrijving.eerste_datum) >= 18 "
                "and inschrijving.gewest == 'vlaanderen' and verblijf.eerste_keer")
# a condition of 13 AST nodes: and(>=(age(fact, fact), 18), ==(fact, text), not(any_in(fact, set)))
CONDITION = ("age(persoon.geboortedatum, inschrijving.eerste_datum) >= 18 "
             "and inschrijving.gewest == 'vlaanderen' and not any persoon.nationaliteiten in EU")


def bench_language() -> float:
    """The condition language; returns the 10-node compiled condition's median, the unit
    of the rule set's goals."""
    print("condition language")
    scope10 = TestScope(facts={"persoon.geboortedatum": date(1990, 5, 1), "inschrijving.eerste_datum": date(2023, 4, 1),
                               "inschrijving.gewest": "vlaanderen", "verblijf.eerste_keer": True})
    ten = Expression.compile(CONDITION_10, VOCABULARY)
    assert sum(1 for _ in nodes.walk(ten.node)) == 10 and ten.evaluate(scope10) is True

    def native10() -> bool:
        facts = scope10.facts
        return (age_on(facts["persoon.geboortedatum"], facts["inschrijving.eerste_datum"]) >= 18
                and facts["inschrijving.gewest"] == "vlaanderen" and facts["verblijf.eerste_keer"] is True)

    compiled10, interpreted10, native_10 = (per_call(lambda: ten.evaluate(scope10)),
                                            per_call(lambda: ten.interpret(scope10)), per_call(native10))
    line("compiled condition (10 AST nodes), median", fmt_us(compiled10), "goal <= 2 us")
    line("  through the reference interpreter, median", fmt_us(interpreted10))
    line("  interpreter / compiled", f"{interpreted10 / compiled10:.1f}x")
    line("  hand-written Python baseline, median", fmt_us(native_10))
    line("  compiled / hand-written baseline", f"{compiled10 / native_10:.2f}x")
    expression = Expression.compile(CONDITION, VOCABULARY)
    size = sum(1 for _ in nodes.walk(expression.node))
    eu = frozenset(["BE", "NL", "FR", "DE"])
    scope = TestScope(facts={"persoon.geboortedatum": date(1990, 5, 1), "inschrijving.eerste_datum": date(2023, 4, 1),
                             "inschrijving.gewest": "vlaanderen", "persoon.nationaliteiten": ("SY",)},
                      constants={"EU": {"values": sorted(eu)}})

    def native() -> bool:
        facts = scope.facts
        return (age_on(facts["persoon.geboortedatum"], facts["inschrijving.eerste_datum"]) >= 18
                and facts["inschrijving.gewest"] == "vlaanderen"
                and not any(n in eu for n in facts["persoon.nationaliteiten"]))

    assert expression.evaluate(scope) is True and expression.interpret(scope) is True and native() is True
    compiled = per_call(lambda: expression.evaluate(scope))
    interpreted = per_call(lambda: expression.interpret(scope))
    baseline = per_call(native)
    line(f"compiled condition ({size} AST nodes, with a value set), median", fmt_us(compiled))
    line("  through the reference interpreter, median", fmt_us(interpreted))
    line("  interpreter / compiled", f"{interpreted / compiled:.1f}x")
    line("  hand-written Python baseline, median", fmt_us(baseline))
    line("  compiled / hand-written baseline", f"{compiled / baseline:.2f}x")

    count = 50 if QUICK else 1000
    texts = [f"age(persoon.geboortedatum, inschrijving.eerste_datum + {i} days) >= {18 + i % 50} and "
             f"(inschrijving.gewest == 'vlaanderen' or traject.pogingen * {i % 7 + 1} > {i}) and "
             f"not any persoon.nationaliteiten in EU" for i in range(count)]
    elapsed = once(lambda: [Expression.compile(t, VOCABULARY).compiled for t in texts], repeat=3)
    line(f"parse + check + compile {count:,} conditions", fmt_ms(elapsed), "goal < 1 s")
    return compiled10


# -- the decree rule set ------------------------------------------------------

COMPLETE = {
    "persoon.geboortedatum": date(1990, 5, 1), "persoon.nationaliteiten": ["SY"],
    "persoon.geboren_in_belgie": False, "persoon.ouder_geboren_in_buitenland": True,
    "persoon.bedienaar_eredienst": False, "persoon.erkenning_geloofsgemeenschap": None,
    "persoon.ernstig_ziek_of_handicap": False, "persoon.alfa": False,
    "verblijf.grond": "gezinshereniging", "verblijf.langer_dan_3_maanden": True, "verblijf.eerste_keer": True,
    "verblijf.tijdelijk_max_1_jaar": False, "verblijf.gezinslid_van_eu_burger": False,
    "verblijf.gezinslid_van_arbeidsmigrant": False, "verblijf.in_belgie_sinds": date(2023, 2, 15),
    "inschrijving.eerste_datum": date(2023, 3, 1), "inschrijving.gewest": "vlaanderen",
    "inschrijving.register": "vreemdelingenregister", "onderwijs.diploma_belgie_of_nederland": False,
    "onderwijs.okan_volledig_schooljaar": False, "onderwijs.diploma_secundair": True,
    "onderwijs.ingeschreven_geletterdheid": False, "onderwijs.opleiding_art64bis": False,
    "situatie.werkt": False, "situatie.studeert": False, "situatie.mag_werken": True, "situatie.leefloon": False,
    "situatie.gedetineerd": False, "situatie.werkzoekend": False,
    "situatie.werkzoekend_zonder_inschakelingsuitkering": False, "situatie.niet_begeleide_minderjarige": False,
    "traject.contract_datum": date(2023, 10, 1), "traject.oproepingsbrief_datum": date(2023, 4, 1),
    "traject.attest_datum": None, "traject.verklaring_geleverde_inspanning": False,
    "traject.mo_test_pogingen": 1, "traject.modules_arbeidsmigrant_voltooid": None,
}

PERSONS = {
    "obliged Syrian, every fact given": COMPLETE,
    "obliged Syrian, Flanders 2023, some facts missing": {
        "persoon.geboortedatum": date(1990, 5, 1), "persoon.nationaliteiten": ["SY"],
        "persoon.geboren_in_belgie": False, "verblijf.grond": "gezinshereniging",
        "verblijf.langer_dan_3_maanden": True, "verblijf.eerste_keer": True,
        "inschrijving.eerste_datum": date(2023, 3, 1), "inschrijving.gewest": "vlaanderen",
        "inschrijving.register": "vreemdelingenregister", "traject.contract_datum": date(2023, 10, 1),
        "traject.oproepingsbrief_datum": date(2023, 4, 1), "situatie.mag_werken": True, "situatie.werkt": False,
        "situatie.studeert": False,
    },
    "Spanish citizen, Brussels 2024 (few facts)": {
        "persoon.geboortedatum": date(1985, 1, 31), "persoon.nationaliteiten": ["ES"],
        "inschrijving.eerste_datum": date(2024, 1, 15), "inschrijving.gewest": "brussel",
    },
}


ON = date(2024, 3, 1)


def without_a_third(facts: dict[str, Any]) -> dict[str, Any]:
    """``facts`` with every third fact left out (in the order written): a person of whom
    the administration knows two thirds."""
    return {name: value for i, name in enumerate(facts) for value in (facts[name],) if i % 3 != 2}


def bench_ruleset(unit: float) -> RuleSet | None:
    print("decree rule set (rules/)")
    try:
        ruleset = RuleSet.load(ROOT / "rules")
    except Exception as error:  # the benchmark reports, it does not stop
        print(f"  rules/ does not load: {error}")
        return None
    load = once(lambda: RuleSet.load(ROOT / "rules"), repeat=5)
    line(f"load + check ({len(ruleset.loaded.rules)} rules, {len(ruleset.loaded.files)} files)",
         fmt_ms(load), "goal < 300 ms")
    complete = {k: v for k, v in COMPLETE.items() if k in ruleset.vocabulary}
    partial = without_a_third(complete)
    outputs = len(ruleset.evaluate(complete, ON).decisions)
    # raw facts: evaluate() validates them, as a service receiving them would
    full = per_call(lambda: ruleset.evaluate(complete, ON))
    validation = per_call(lambda: read_facts(complete, ruleset.vocabulary))
    # the plan's answer (the evaluation wing); the exact layer on top of it is timed apart
    missing = per_call(lambda: ruleset.evaluate(partial, ON, exact=False))
    exact = per_call(lambda: ruleset.evaluate(partial, ON), repeat=3) if not QUICK else 0.0
    line(f"one person, all {outputs} outputs, every fact, facts validated", fmt_us(full))
    line("  ratio to the 10-node compiled condition, same run", f"{full / unit:.0f}x", "goal <= ~50x")
    line("  of which fact validation (read_facts alone)", fmt_us(validation))
    line(f"one person, a third of the facts left out ({len(partial)} of {len(complete)}), plan's answer",
         fmt_us(missing))
    line("  ratio to every fact given", f"{missing / full:.2f}x", "goal <= 2x")
    if exact:
        line("  the same, decided exactly (evaluate's default: cases split)", fmt_us(exact))
        line("    ratio to every fact given", f"{exact / full:.0f}x")
    bench_spread(ruleset, complete, partial)
    with_proposals = read_facts(complete, ruleset.vocabulary)
    proposals = {name: None for name, a in ruleset.loaded.amendments.items() if a.proposed}
    line("all outputs with every proposal on", fmt_us(per_call(
        lambda: ruleset.evaluate(with_proposals, ON, proposals, validated=True))))
    bench_many_persons(ruleset)

    def cold() -> None:  # a fresh rule set: its first evaluation writes the functions it reaches
        RuleSet.load(ROOT / "rules").evaluate(complete, ON)

    line("first evaluation after loading (writes the fast path's code)",
         fmt_ms(max(0.0, once(cold, repeat=5) - load)), "once per rule set")
    return ruleset


def bench_spread(ruleset: RuleSet, complete: dict[str, Any], partial: dict[str, Any]) -> None:
    """Single evaluations of one person after another, with the collector on, as a
    service runs them: the median and the 99th percentile, and how often the cyclic
    collector ran; with the collector off too, which leaves the machine's own noise."""
    count = 2_000 if QUICK else 20_000
    for label, person, collector in (("every fact", complete, True), ("a third left out", partial, True),
                                     ("every fact, collector off", complete, False)):
        p50, p99, collections = spread(ruleset, person, count, collector)
        line(f"single evaluations ({count:,}), {label}: p50 / p99", f"{fmt_us(p50)} / {fmt_us(p99)}")
        line("  p99 / p50", f"{p99 / p50:.1f}x", "goal <= 3x" if collector else "")
        if collector:
            line("  cyclic-GC collections per 1,000 evaluations", f"{collections * 1000 / count:.1f}", "goal 0")


def spread(ruleset: RuleSet, person: dict[str, Any], count: int, collector: bool) -> tuple[float, float, int]:
    """The median and 99th percentile of ``count`` single evaluations of ``person``, and
    the collections of the cyclic collector (counted by gc.callbacks) meanwhile."""
    samples: list[float] = []
    collections = [0]

    def counted(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections[0] += 1

    ruleset.evaluate(person, ON)  # warm: plans and generated code exist before timing
    gc.collect()
    gc.callbacks.append(counted)
    if not collector:
        gc.disable()
    try:
        clock = time.perf_counter
        for _ in range(count):
            started = clock()
            ruleset.evaluate(person, ON, exact=False)
            samples.append(clock() - started)
    finally:
        gc.enable()
        gc.callbacks.remove(counted)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)], collections[0]


def bench_many_persons(ruleset: RuleSet) -> None:
    """Every person of the scenario fixtures, each evaluated once per round: a mix of
    complete and incomplete facts, dates and proposals, as a service would see."""
    from engine.scenarios.runner import load_scenarios

    scenarios, problems = load_scenarios(ruleset, [ROOT / "tests" / "scenarios"])
    if problems or not scenarios:
        return
    persons = [(read_facts(s.facts, ruleset.vocabulary), s.on, s.proposals) for s in scenarios]
    elapsed = once(lambda: [ruleset.evaluate(f, on, p, validated=True) for f, on, p in persons], repeat=9)
    line(f"all outputs, the {len(persons)} persons of the scenarios, mean per person", fmt_us(elapsed / len(persons)))


# -- the one-shot command line ----------------------------------------------------

def bench_cli() -> None:
    """``decree eval`` as a whole process, as a user runs it once, after a first run has
    filled the cache; against a bare Python process started the same way."""
    print("one-shot command line (whole process, warm cache)")
    decree = Path(sys.executable).with_name("decree")
    command = [str(decree)] if decree.exists() else [sys.executable, "-m", "engine"]
    command += ["eval", "examples/persoon.yaml", "--on", "2024-03-01"]
    bare = [sys.executable, "-c", "pass"]

    # as an installed package runs: its bytecode written once and reused (some
    # environments set PYTHONDONTWRITEBYTECODE, which recompiles the engine every run)
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}

    def run(argv: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
        return time.perf_counter() - started

    run(command)  # fills the cache of checked rule sets and writes the bytecode
    runs = 2 if QUICK else 9
    eval_runs, uncached_runs, bare_runs = [], [], []
    for _ in range(runs):  # in turn, so that the machine's moods fall on all three alike
        eval_runs.append(run(command))
        uncached_runs.append(run(command[:-4] + ["--no-cache"] + command[-4:]))
        bare_runs.append(run(bare))
    eval_runs.sort()
    median, baseline = statistics.median(eval_runs), statistics.median(bare_runs)
    line(f"decree eval examples/persoon.yaml --on 2024-03-01, median of {runs}", fmt_ms(median), "goal <= 300 ms")
    line(f"  fastest {fmt_ms(eval_runs[0])}, slowest {fmt_ms(eval_runs[-1])}", "")
    line("  the same with --no-cache (loads rules/), median", fmt_ms(statistics.median(uncached_runs)))
    line("  a bare 'python -c pass', median", fmt_ms(baseline))
    line("  ratio to the bare process", f"{median / baseline:.1f}x")


# -- generated rule sets --------------------------------------------------------

def bench_scaling() -> None:
    """Load + check of generated rule sets, then the first evaluation of every output;
    each size in fresh processes (the median of three), so no cache of an earlier run
    helps a later one. Beside the wall-clock seconds: the CPU seconds of the first
    evaluation and the full passes of the cyclic collector during it (on this shared
    machine, the steadier figures), then the next evaluation of the same person, and a
    first evaluation with one fact missing (the exact layer's first use)."""
    sizes = (100, 200) if QUICK else (1000, 5000, 10000)
    runs = 1 if QUICK else 3
    print(f"scaling: generated rule sets (tools.rulegen), fresh processes (median of {runs}), no cache")
    previous: tuple[int, float] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            directory = Path(tmp) / f"set{size}"
            rulegen.generate(directory, size)
            children = [json.loads(subprocess.run(
                [sys.executable, "-m", "tools.bench", "--scaling-child", str(directory)], cwd=ROOT, check=True,
                capture_output=True, text=True, env={**os.environ, "DECREE_NO_CACHE": "1"}).stdout)
                for _ in range(runs)]
            figures = {key: statistics.median(child[key] for child in children) for key in children[0]}
            load, first = figures["load"], figures["first"]
            growth = f"  (x{load / previous[1]:.1f} for x{size / previous[0]:.0f} rules)" if previous else ""
            line(f"{size:,} rules ({int(size * 1.1):,} with exceptions): load + check", f"{load:.2f} s",
                 ("goal <= 5 s" if size == 10000 else "") + growth)
            line(f"  then the first evaluation of all {int(figures['outputs']):,} outputs", f"{first:.2f} s",
                 "goal <= 2 s" if size == 10000 else "")
            line("    in CPU seconds; full passes of the cyclic GC then", f"{figures['first_cpu']:.2f} s",
                 f"{figures['full_collections']:.0f}")
            line("  the next evaluation of the same person", fmt_ms(figures["next"]))
            line("  a first evaluation with f.x3 missing (exact)", f"{figures['missing']:.2f} s",
                 f"{int(figures['unknown']):,} outputs unknown")
            previous = (size, load)
            shutil.rmtree(directory)


def scaling_child(directory: Path) -> None:
    """In a fresh process: load + check ``directory`` and evaluate every output once;
    prints the seconds as JSON for :func:`bench_scaling`."""
    full = [0]

    def count_full(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            full[0] += 1

    started = time.perf_counter()
    ruleset = RuleSet.load(directory)
    loaded, cpu = time.perf_counter(), time.process_time()
    gc.callbacks.append(count_full)
    result = ruleset.evaluate(rulegen.person(), date(2021, 6, 1))
    first, first_cpu = time.perf_counter(), time.process_time()
    gc.callbacks.remove(count_full)
    ruleset.evaluate(rulegen.person(), date(2021, 6, 1))
    again = time.perf_counter()
    facts = rulegen.person()
    del facts["f.x3"]
    missing = ruleset.evaluate(facts, date(2021, 6, 1))
    print(json.dumps({"load": loaded - started, "first": first - loaded, "outputs": len(result.decisions),
                      "first_cpu": first_cpu - cpu, "full_collections": full[0], "next": again - first,
                      "missing": time.perf_counter() - again, "unknown": len(missing.unknown)}))


# -- fixtures -------------------------------------------------------------------

def bench_fixtures(ruleset: RuleSet | None) -> None:
    print("scenario fixtures")
    if ruleset is None:
        print("  skipped: rules/ does not load")
        return
    from engine.scenarios.fixtures import run
    from engine.scenarios.runner import load_scenarios

    scenarios, problems = load_scenarios(ruleset, [ROOT / "tests" / "scenarios"])
    if problems or not scenarios:
        print(f"  skipped: {len(problems)} problems in tests/scenarios, {len(scenarios)} scenarios")
        return
    count = 50 if QUICK else 1000
    batch = (scenarios * (count // len(scenarios) + 1))[:count]
    elapsed = once(lambda: [run(s, ruleset, explain=False) for s in batch], repeat=3)
    line(f"{count:,} scenarios ({len(scenarios)} distinct, repeated), rule set loaded once", fmt_ms(elapsed),
         "goal < 2 s")
    with tempfile.TemporaryDirectory() as tmp:
        copies = Path(tmp)
        for i in range(count // len(scenarios) + 1):
            for path in (ROOT / "tests" / "scenarios").glob("*.yaml"):
                shutil.copy(path, copies / f"{i:03d}_{path.name}")

        def read_and_run() -> None:
            found, _ = load_scenarios(ruleset, [copies])
            for scenario in found[:count]:
                run(scenario, ruleset, explain=False)

        line(f"reading and running {count:,} scenarios from files", fmt_ms(once(read_and_run, repeat=1)), "goal < 2 s")


def main(argv: list[str] | None = None) -> None:
    global QUICK
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every part briefly, small sizes (a smoke test)")
    parser.add_argument("--scaling-child", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.scaling_child:
        scaling_child(arguments.scaling_child)
        return
    QUICK = arguments.quick
    print(f"decree benchmarks, Python {sys.version.split()[0]}; medians of repeated timings"
          + (" (--quick: not measurements)" if QUICK else "") + "\n")
    unit = bench_language()
    print()
    ruleset = bench_ruleset(unit)
    print()
    bench_cli()
    print()
    bench_fixtures(ruleset)
    print()
    bench_scaling()


if __name__ == "__main__":
    main()
