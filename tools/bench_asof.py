"""What reading the facts as of the evaluation date costs per evaluation.

Evaluates the example person, and the same person with a contract and a certificate
dated after the evaluation date (so facts are withdrawn), with the rule set as loaded and
with its events switched off (the baseline, timed in the same run). Prints the median
time per evaluation of each and the ratio to the baseline.

    python -m tools.bench_asof
"""

from __future__ import annotations

import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engine.ruleset import RuleSet
from engine.sources.asof import Events
from engine.sources.facts import read_facts

ROOT = Path(__file__).resolve().parent.parent
ON = date(2024, 3, 1)
ROUNDS, PER_ROUND = 15, 200


def _median_us(ruleset: RuleSet, facts: dict[str, Any]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(PER_ROUND):
            ruleset.evaluate(facts, ON, validated=True)
        times.append((time.perf_counter() - start) / PER_ROUND * 1e6)
    return statistics.median(times)


def main() -> None:
    ruleset = RuleSet.load(ROOT / "rules")
    data = yaml.safe_load((ROOT / "examples" / "persoon.yaml").read_text(encoding="utf-8"))
    person = read_facts(data, ruleset.vocabulary)
    later = dict(person, **{"traject.contract_datum": date(2024, 5, 1), "traject.attest_datum": date(2024, 6, 1)})
    events = ruleset.events
    for name, facts in (("example person", person), ("contract and certificate later", later)):
        ruleset.events = Events((), {})
        baseline = _median_us(ruleset, facts)
        ruleset.events = events
        with_events = _median_us(ruleset, facts)
        print(f"{name}: events off {baseline:.1f} us, events on {with_events:.1f} us "
              f"(ratio {with_events / baseline:.2f})")


if __name__ == "__main__":
    main()
