"""What exact decisions cost (``make bench``; run as ``python -m tools.bench_exact``).

Two populations: every person of the scenario fixtures (tests/scenarios/) who lacks
facts (most give only the few facts their scenario is about), and the example person
(examples/persoon.yaml) with 15% of her facts left out at random (200 draws, fixed seed),
each evaluated on 2024-03-01. All public outputs are decided twice in the same run: as
evaluation alone decides them (the baseline, ``exact=False``) and with exact decisions
(engine/evaluation/exact.py). Prints medians per person, their ratio, the slowest person,
and how many outputs exactness decided or narrowed (fewer facts named).
"""

from __future__ import annotations

import argparse
import random
import statistics
from datetime import date
from pathlib import Path
from typing import Any

from engine.cli import read_facts_document
from engine.ruleset import RuleSet
from engine.scenarios.fixtures import iter_all
from tools.bench import once

ROOT = Path(__file__).resolve().parent.parent


Person = tuple[str, dict[str, Any], date, dict[str, Any]]  # name, facts, date, proposals


def scenario_persons(ruleset: RuleSet) -> list[Person]:
    every_fact = sum(1 for _ in ruleset.vocabulary.of_kind("fact"))
    return [(s.name, s.facts, s.on, s.proposals)
            for scenarios, _ in iter_all([ROOT / "tests" / "scenarios"], ruleset) for s in scenarios
            if len(s.facts) < every_fact]


def example_persons(ruleset: RuleSet, draws: int = 200, left_out: float = 0.15) -> list[Person]:
    document, where = read_facts_document(str(ROOT / "examples" / "persoon.yaml"))
    facts = ruleset.facts_from(document, where)
    names = sorted(facts)
    chance = random.Random(13)
    persons = []
    for draw in range(draws):
        dropped = set(chance.sample(names, round(left_out * len(names))))
        persons.append((f"example person, draw {draw}", {n: v for n, v in facts.items() if n not in dropped},
                        date(2024, 3, 1), {}))
    return persons


def measure(ruleset: RuleSet, title: str, persons: list[Person]) -> None:
    base_times, exact_times = [], []
    decided = narrowed = still_unknown = 0
    slowest = (0.0, "")
    for name, facts, on, proposals in persons:
        def plain() -> Any:
            return ruleset.evaluate(facts, on, proposals, validated=True, exact=False)

        def exact() -> Any:
            return ruleset.evaluate(facts, on, proposals, validated=True)

        before, after = plain(), exact()  # the first call of each also builds what is cached
        for output, missing in before.unknown.items():
            if output not in after.unknown:
                decided += 1
            elif set(after.unknown[output]) < set(missing):
                narrowed += 1
            else:
                still_unknown += 1
        base_times.append(once(plain))
        exact_times.append(once(exact))
        if exact_times[-1] > slowest[0]:
            slowest = (exact_times[-1], name)
    base, with_exact = statistics.median(base_times), statistics.median(exact_times)
    print(f"{len(persons)} {title}, all public outputs each")
    print(f"  evaluation alone (baseline)     median {base * 1e6:9.0f} us   mean {statistics.mean(base_times) * 1e6:9.0f} us")
    print(f"  with exact decisions            median {with_exact * 1e6:9.0f} us   mean "
          f"{statistics.mean(exact_times) * 1e6:9.0f} us   ratio {with_exact / base:.1f}x (medians)")
    print(f"  slowest person with exact decisions: {slowest[0] * 1e3:.1f} ms ({slowest[1]})")
    print(f"  outputs left unknown by evaluation: {decided + narrowed + still_unknown}; decided exactly: {decided}; "
          f"fewer facts named: {narrowed}; unchanged: {still_unknown}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_exact", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few persons of each kind (a smoke run)")
    quick = parser.parse_args(argv).quick
    ruleset = RuleSet.load(ROOT / "rules")
    examples, scenarios = example_persons(ruleset, draws=5 if quick else 200), scenario_persons(ruleset)
    measure(ruleset, "persons: the example person with 15% of her facts left out", examples)
    measure(ruleset, "scenario persons with missing facts", scenarios[:10] if quick else scenarios)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
