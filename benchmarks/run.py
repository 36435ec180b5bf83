"""Speed of decree, measured in one run (``make bench``).

Each figure is a median over repeated timings; ratios compare against baselines measured
in the same run, because this machine is shared and noisy: a hand-written Python
function doing what the condition does (the floor), and the reference interpreter.

    condition language   compiled 10-node condition, interpreter, native baseline;
                         parse + check + compile of 1,000 conditions
    rule set             load + check of rules/; all outputs for one person (three
                         persons: every fact given, some missing, few given); every person
                         of the scenario fixtures; the first evaluation after loading, which
                         writes and compiles the fast path's code
    scaling              load of generated rule sets of 1,000, 5,000 and 10,000 rules
                         (closures are compiled on first use, not at load)
    fixtures             1,000 scenarios through the runner (rule set loaded once)

Goals (from the issues) are printed beside the figures; nothing here asserts them.
"""

from __future__ import annotations

import gc
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.evaluation import codegen as fastpath
from engine.language import nodes
from engine.language.expression import Expression, TestScope, Vocabulary  # noqa: E402
from engine.ruleset import RuleSet  # noqa: E402
from engine.values import age_on  # noqa: E402


def per_call(function: Callable[[], Any], *, repeat: int = 9, budget: float = 0.2) -> float:
    """Median seconds per call of ``function`` over ``repeat`` timings of a calibrated loop."""
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


def bench_language() -> None:
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

    texts = [f"age(persoon.geboortedatum, inschrijving.eerste_datum + {i} days) >= {18 + i % 50} and "
             f"(inschrijving.gewest == 'vlaanderen' or traject.pogingen * {i % 7 + 1} > {i}) and "
             f"not any persoon.nationaliteiten in EU" for i in range(1000)]
    elapsed = once(lambda: [Expression.compile(t, VOCABULARY).compiled for t in texts], repeat=3)
    line("parse + check + compile 1,000 conditions", fmt_ms(elapsed), "goal < 1 s")


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


def _facts_for(ruleset: RuleSet, facts: dict[str, Any]) -> dict[str, Any]:
    known = {k: v for k, v in facts.items() if k in ruleset.vocabulary}
    return known


def bench_ruleset() -> RuleSet | None:
    print("decree rule set (rules/)")
    try:
        ruleset = RuleSet.load(ROOT / "rules")
    except Exception as error:  # noqa: BLE001 - the benchmark reports, it does not stop
        print(f"  rules/ does not load: {error}")
        return None
    load = once(lambda: RuleSet.load(ROOT / "rules"), repeat=5)
    line(f"load + check ({len(ruleset.loaded.rules)} rules, {len(ruleset.loaded.files)} files)",
         fmt_ms(load), "goal < 300 ms")
    on = date(2024, 3, 1)
    condition = Expression.compile(CONDITION, VOCABULARY)
    scope = TestScope(facts={"persoon.geboortedatum": date(1990, 5, 1), "inschrijving.eerste_datum": date(2023, 4, 1),
                             "inschrijving.gewest": "vlaanderen", "persoon.nationaliteiten": ("SY",)},
                      constants={"EU": {"values": ["BE"]}})
    one_condition = per_call(lambda: condition.evaluate(scope))
    size = sum(1 for _ in nodes.walk(condition.node))
    for label, raw in PERSONS.items():
        facts = _validated(ruleset, raw)
        result = ruleset.evaluate(facts, on, validated=True)
        per_person = per_call(lambda: ruleset.evaluate(facts, on, validated=True))
        line(f"all {len(result.decisions)} outputs, {label}", fmt_us(per_person), "goal <= 50 us")
        line(f"  ratio to one compiled {size}-node condition, same run", f"{per_person / one_condition:.0f}x")
        states = len(result.evaluation.states)
        line(f"  rules evaluated: {states} of {len(ruleset.loaded.rules)}", "")
    with_proposals = _validated(ruleset, COMPLETE)
    proposals = {name: None for name, a in ruleset.amendments.items() if a.proposed}
    ruleset.evaluate(with_proposals, on, proposals, validated=True)
    line("all outputs with every proposal on", fmt_us(per_call(
        lambda: ruleset.evaluate(with_proposals, on, proposals, validated=True))))
    bench_many_persons(ruleset)
    first = _validated(ruleset, COMPLETE)

    def cold() -> None:  # a fresh rule set: the first evaluation writes the functions it reaches
        fastpath._compiled.cache_clear()  # and compiles them: no code shared from earlier rounds
        RuleSet.load(ROOT / "rules").evaluate(first, on, validated=True)

    line("first evaluation after loading (writes the fast path's code)",
         fmt_ms(once(cold, repeat=5) - load), "once per rule set")
    return ruleset


def bench_many_persons(ruleset: RuleSet) -> None:
    """Every person of the scenario fixtures, each evaluated once per round: a mix of
    complete and incomplete facts, dates and proposals, as a service would see."""
    from engine.scenarios.runner import load_scenarios

    scenarios, problems = load_scenarios(ruleset, [ROOT / "tests" / "scenarios"])
    if problems or not scenarios:
        return
    persons = [(ruleset.evaluate(s.facts, s.on, s.proposals).evaluation.facts, s.on, s.proposals) for s in scenarios]
    complete = sum(1 for facts, on, proposals in persons
                   if not ruleset.evaluate(facts, on, proposals, validated=True).evaluation.partial)
    elapsed = once(lambda: [ruleset.evaluate(f, on, p, validated=True) for f, on, p in persons], repeat=9)
    line(f"all outputs, the {len(persons)} persons of the scenarios, mean per person", fmt_us(elapsed / len(persons)))
    line(f"  persons without a missing fact or an unknown output: {complete} of {len(persons)}", "")


def _validated(ruleset: RuleSet, raw: dict[str, Any]) -> dict[str, Any]:
    from engine.sources.facts import read_facts

    return read_facts(_facts_for(ruleset, raw), ruleset.vocabulary)


# -- generated rule sets --------------------------------------------------------

def generate(directory: Path, rules: int) -> None:
    """A rule set of ``rules`` rules in files of 100: each rule reads facts and the
    output of an earlier rule, has two versions, and every tenth is an exception."""
    directory.mkdir(parents=True, exist_ok=True)
    facts = "\n".join(f"    f.x{i}: {{type: number}}" for i in range(20))
    outputs = "\n".join(f"    o{i}: {{type: bool}}" for i in range(rules))
    (directory / "vocabulary.yaml").write_text(f"vocabulary:\n  facts:\n{facts}\n    f.d: {{type: date}}\n"
                                               f"  outputs:\n{outputs}\n")
    for chunk in range(0, rules, 100):
        parts = ["rules:"]
        for i in range(chunk, min(chunk + 100, rules)):
            uses = f" and o{i - 1}" if i % 100 else ""
            parts.append(f"""  - id: r.n{i}
    title: Rule {i}
    source: {{instrument: Generated, article: art. {i}}}
    reference_date: f.d
    versions:
      - from: 2000-01-01
        until: 2020-01-01
        when: f.x{i % 20} > {i % 13}{uses}
        set: {{o{i}: true}}
      - from: 2020-01-01
        when: f.x{(i + 1) % 20} + f.x{(i + 2) % 20} >= {i % 17} or f.d < 2021-01-01{uses}
        set: {{o{i}: true}}""")
            if i % 10 == 9:
                parts.append(f"""  - id: r.e{i}
    title: Exception {i}
    source: {{instrument: Generated}}
    exception_to: r.n{i}
    versions:
      - from: 2000-01-01
        when: f.x{i % 20} == 0
        set: {{o{i}: false}}""")
        (directory / f"rules_{chunk // 100:04d}.yaml").write_text("\n".join(parts) + "\n")


def bench_scaling() -> None:
    print("scaling: load + check of generated rule sets")
    previous = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in (1000, 5000, 10000):
            directory = Path(tmp) / f"set{size}"
            generate(directory, size)
            elapsed = once(lambda: RuleSet.load(directory), repeat=1 if size > 1000 else 3)
            growth = f"  (x{elapsed / previous[1]:.1f} for x{size / previous[0]:.0f} rules)" if previous else ""
            line(f"{size:,} rules ({int(size * 1.1):,} with exceptions)", f"{elapsed:.2f} s",
                 ("goal < 10 s" if size == 10000 else "") + growth)
            previous = (size, elapsed)
            shutil.rmtree(directory)


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
    batch = (scenarios * (1000 // len(scenarios) + 1))[:1000]
    elapsed = once(lambda: [run(s, ruleset, explain=False) for s in batch], repeat=3)
    line(f"1,000 scenarios ({len(scenarios)} distinct, repeated), rule set loaded once", fmt_ms(elapsed),
         "goal < 2 s")
    with tempfile.TemporaryDirectory() as tmp:
        copies = Path(tmp)
        for i in range(1000 // len(scenarios) + 1):
            for path in (ROOT / "tests" / "scenarios").glob("*.yaml"):
                shutil.copy(path, copies / f"{i:03d}_{path.name}")

        def read_and_run() -> None:
            found, _ = load_scenarios(ruleset, [copies])
            for scenario in found[:1000]:
                run(scenario, ruleset, explain=False)

        line("reading and running 1,000 scenarios from files", fmt_ms(once(read_and_run, repeat=1)), "goal < 2 s")


def main() -> None:
    print(f"decree benchmarks, Python {sys.version.split()[0]}; medians of repeated timings\n")
    bench_language()
    print()
    ruleset = bench_ruleset()
    print()
    bench_fixtures(ruleset)
    print()
    bench_scaling()


if __name__ == "__main__":
    main()
