"""What reading the facts as of the evaluation date costs per evaluation.

Evaluates the example person, and the same person with a contract and a certificate
dated after the evaluation date (so facts are withdrawn), with the rule set as loaded and
with its events switched off (the baseline, timed in the same run). Prints the median
time per evaluation of each and the ratio to the baseline.

    python -m tools.bench_asof
"""

from __future__ import annotations

import argparse
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


def _median_us(ruleset: RuleSet, facts: dict[str, Any], rounds: int = ROUNDS, per_round: int = PER_ROUND) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            ruleset.evaluate(facts, ON, validated=True)
        times.append((time.perf_counter() - start) / per_round * 1e6)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_asof", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke run)")
    rounds, per_round = (3, 5) if parser.parse_args(argv).quick else (ROUNDS, PER_ROUND)
    ruleset = RuleSet.load(ROOT / "rules")
    data = yaml.safe_load((ROOT / "examples" / "persoon.yaml").read_text(encoding="utf-8"))
    person = read_facts(data, ruleset.vocabulary)
    later = dict(person, **{"traject.contract_datum": date(2024, 5, 1), "traject.attest_datum": date(2024, 6, 1)})
    events = ruleset.events
    ruleset.evaluate(person, ON, validated=True)  # the generated code is written on first use, not timed
    for name, facts in (("example person", person), ("contract and certificate later", later)):
        ruleset.events = Events((), {})
        baseline = _median_us(ruleset, facts, rounds, per_round)
        ruleset.events = events
        with_events = _median_us(ruleset, facts, rounds, per_round)
        print(f"{name}: events off {baseline:.1f} us, events on {with_events:.1f} us "
              f"(ratio {with_events / baseline:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
