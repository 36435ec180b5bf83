"""Benchmark of the evaluation wing: time, work and garbage per evaluation.

    python -m tools.bench_evaluation            # make bench runs it
    python -m tools.bench_evaluation --quick    # a smoke run

For the demo person (examples/persoon.yaml) on 2024-03-01, all public outputs, with
every fact and with a third of the facts left out, it prints:

- the median and p99 of one evaluation (facts validated first, as ``RuleSet.evaluate``
  does by default), and the median as a multiple of a compiled 10-node condition timed
  in the same run (the baseline: this machine's speed varies from minute to minute);
- the missing-facts median as a multiple of the full-facts median (goal: at most 2x)
  and p99 as a multiple of the median (goal: at most 3x);
- the cyclic garbage collections per 1,000 evaluations (goal: 0), counted with
  ``gc.callbacks``;
- the calls and bytecode instructions of one evaluation, counted with ``sys.settrace``
  (deterministic: compare versions side by side with these).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import date
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any, Callable

from engine.cli import validated_facts
from engine.language.expression import Expression, TestScope, Vocabulary
from engine.ruleset import RuleSet

ROOT = Path(__file__).resolve().parent.parent
ON = date(2024, 3, 1)
CONDITION = "persoon.a >= 18 and persoon.b < 65 and persoon.c and persoon.d in ['x', 'y']"


def _times(run: Callable[[], Any], count: int) -> list[float]:
    found = []
    for _ in range(count):
        start = time.perf_counter()
        run()
        found.append(time.perf_counter() - start)
    return sorted(found)


def _collections(run: Callable[[], Any], count: int) -> int:
    seen = [0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen[0] += 1

    gc.callbacks.append(callback)
    try:
        for _ in range(count):
            run()
    finally:
        gc.callbacks.remove(callback)
    return seen[0]


def _work(run: Callable[[], Any], by_code: Counter[str] | None = None) -> tuple[int, int]:
    """The calls and bytecodes of one run; ``by_code`` counts the bytecodes per code
    object (module.function) when given."""
    counts = {"call": 0, "opcode": 0}

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event in counts:
            counts[event] += 1
        if event == "opcode" and by_code is not None:
            code = frame.f_code
            by_code[f"{frame.f_globals.get('__name__', code.co_filename)}.{code.co_qualname}"] += 1
        return tracer

    sys.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(None)
    return counts["call"], counts["opcode"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_evaluation", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke run)")
    parser.add_argument("--by-code", action="store_true",
                        help="also print each evaluation's bytecodes per code object (module.function)")
    arguments = parser.parse_args(argv)
    count = 20 if arguments.quick else 2000
    ruleset = RuleSet.load(ROOT / "rules")
    raw = validated_facts(ruleset, str(ROOT / "examples" / "persoon.yaml"))
    partial = {name: raw[name] for index, name in enumerate(sorted(raw)) if index % 3}
    vocabulary = Vocabulary.from_declarations({"persoon.a": "number", "persoon.b": "number", "persoon.c": "bool",
                                               "persoon.d": "text"})
    condition = Expression.compile(CONDITION, vocabulary).compiled
    scope = TestScope(facts={"persoon.a": 30, "persoon.b": 40, "persoon.c": True, "persoon.d": "x"})
    baseline = statistics.median(_times(lambda: condition(scope), count * 10))
    print(f"compiled 10-node condition (baseline): median {baseline * 1e6:.2f} us")
    medians = {}
    for label, given in (("every fact", raw), ("a third of the facts left out", partial)):
        def run(given: dict[str, Any] = given) -> Any:
            return ruleset.evaluate(given, ON, exact=False)  # the evaluation wing; the exact layer: tools.bench_exact

        run()  # the generated code is written on first use,
        run()  # and the function of a whole person on the second (engine.evaluation.person)
        times = _times(run, count)
        median, p99 = statistics.median(times), times[int(len(times) * 0.99)]
        medians[label] = median
        collections = _collections(run, count) * 1000 / count
        calls, instructions = _work(run)
        print(f"{label}: median {median * 1e6:.1f} us ({median / baseline:.0f}x the condition), "
              f"p99 {p99 * 1e6:.1f} us ({p99 / median:.1f}x the median), {collections:.1f} gc collections per "
              f"1,000 evaluations, {calls} calls and {instructions} bytecodes per evaluation")
        if arguments.by_code:
            by_code: Counter[str] = Counter()
            _work(run, by_code)
            for name, instructions in by_code.most_common(12):
                print(f"    {instructions:6d}  {name}")
    ratio = medians["a third of the facts left out"] / medians["every fact"]
    print(f"facts missing / every fact: {ratio:.1f}x (goal <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
