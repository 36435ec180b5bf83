"""Bad inputs are refused quickly and in little memory (issue 10): ``make bench``.

Each case runs twice over, several times each, in fresh processes: the real command line
(``python -m engine ...``: wall time, and the process's peak resident memory from
``os.wait4``, the child's own ``ru_maxrss`` rather than the maximum over all children
that ``RUSAGE_CHILDREN`` keeps), and the refusing call alone (the interpreter loads
what the command loads, then times the call that reads the bad file and renders its
errors; peak memory of that whole process). Medians are printed. The baseline, timed in
the same run, is a good input: ``decree eval examples/persoon.yaml``, which pays the
same start-up (imports, loading the rule set); the ratio says how a bad input compares.

The cases, each under the default limits (the file size refused before the file is
read) and with ``DECREE_MAX_FILE_BYTES`` raised past the file (the libyaml event stream
then refuses the list, the text, or the set as it streams):

    list (YAML)      a 50 MB facts file holding one list
    list (JSON)      the same as JSON
    string           a 50 MB facts file holding one text
    unknown keys     20,000 unknown fact names (a 0.4 MB file: within every limit, so
                     this measures the rendering of 20,000 errors)
    set              a rule file with a value set of 8 million members (88 MB)

Goal: each refused in under 1 s and 300 MB. Nothing here asserts it; the figures are
printed beside the goal. Run as ``python -m tools.bench_bad_inputs [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
GOAL_SECONDS = 1.0
GOAL_MB = 300


def _write(path: Path, head: str, item: str, count: int, tail: str) -> None:
    """``head``, ``count`` times ``item``, ``tail``: written in pieces, so that this process
    stays small (a child's peak memory starts from its parent's at fork)."""
    with path.open("w", encoding="utf-8") as stream:
        stream.write(head)
        piece = max(1, MB // max(1, len(item)))
        for start in range(0, count, piece):
            stream.write(item * min(piece, count - start))
        stream.write(tail)


def write_inputs(folder: Path) -> dict[str, tuple[str, str]]:
    """The bad files: for each case, what reads it (facts or rules) and its path."""
    _write(folder / "list.yaml", "persoon:\n  nationaliteiten:\n", "    - BE\n", 50 * MB // 9, "")
    _write(folder / "list.json", '{"persoon.nationaliteiten": [', '"BE", ', 50 * MB // 6, '"BE"]}\n')
    _write(folder / "string.yaml", "verblijf:\n  grond: '", "a", 50 * MB, "'\n")
    (folder / "unknown.yaml").write_text("".join(f"persoon.onbekend_{i}: true\n" for i in range(20_000)),
                                         encoding="utf-8")
    rules = folder / "rules"
    shutil.copytree(ROOT / "rules", rules)
    with (rules / "sets.yaml").open("a", encoding="utf-8") as stream:
        stream.write("  - id: GROOT\n    title: groot\n    source: {instrument: Decreet}\n    members:\n")
        for start in range(0, 8_000_000, 100_000):
            stream.write("".join(f"      - m{i:07d}\n" for i in range(start, start + 100_000)))
    return {
        "list (YAML)": ("facts", str(folder / "list.yaml")),
        "list (JSON)": ("facts", str(folder / "list.json")),
        "string": ("facts", str(folder / "string.yaml")),
        "unknown keys": ("facts", str(folder / "unknown.yaml")),
        "set": ("rules", str(rules)),
    }


# Run in a fresh interpreter: load what the command loads, then time the call that reads
# the bad file and renders its errors as the command line does.
_REJECTION = """
import json, resource, sys, time
from engine.cli import validated_facts
from engine.errors import PolicyError, flatten
from engine.ruleset import RuleSet
from engine.sources.yamlsource import Limits
kind, path = sys.argv[1], sys.argv[2]
limits = Limits.from_environment()
ruleset = RuleSet.load("rules", limits=limits) if kind == "facts" else None
started = time.perf_counter()
try:
    problems = validated_facts(ruleset, path) and [] if kind == "facts" else RuleSet.check(path, limits=limits)[1]
except PolicyError as error:
    problems = flatten([error])
rendered = sum(len(problem.render()) for problem in problems)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "errors": len(problems), "rendered": rendered,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6}))
"""


def commands(kind: str, path: str) -> tuple[list[str], list[str]]:
    """The command line of a case, and the in-process timing of its rejection."""
    if kind == "facts":
        cli = [sys.executable, "-m", "engine", "eval", "--on", "2024-03-01", path]
    else:
        cli = [sys.executable, "-m", "engine", "check", path]
    return cli, [sys.executable, "-c", _REJECTION, kind, path]


def measure(command: list[str], environment: dict[str, str]) -> tuple[float, float, int]:
    """Seconds, peak resident MB and exit code of one run of ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss * 1024 / MB, process.returncode  # ru_maxrss is in KiB on Linux


def median_of(command: list[str], environment: dict[str, str], repeat: int) -> tuple[float, float, int]:
    runs = [measure(command, environment) for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2])


def rejection(command: list[str], environment: dict[str, str], repeat: int) -> dict[str, float]:
    """Median seconds of the rejecting call itself, its errors and the process's peak MB."""
    runs = [json.loads(subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                                      check=True).stdout) for _ in range(repeat)]
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (the median is printed)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    options = parser.parse_args(argv)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DECREE_MAX_")}
    raised = dict(environment, DECREE_MAX_FILE_BYTES=str(200 * MB))
    folder = Path(tempfile.mkdtemp(prefix="decree-bad-inputs-"))
    figures: list[dict[str, object]] = []
    try:
        cases = write_inputs(folder)
        good_cli, good_call = commands("facts", "examples/persoon.yaml")
        base_seconds, base_mb, base_code = median_of(good_cli, environment, options.repeat)
        base_call = rejection(good_call, environment, options.repeat)
        print(f"bad inputs: medians of {options.repeat} runs; goal: refused in < {GOAL_SECONDS:.0f} s and "
              f"< {GOAL_MB} MB peak")
        print(f"  {'case':<42} {'command line':>20} {'the refusing call':>27}")
        print(f"  {'baseline: a good facts file':<42} {base_seconds:6.2f} s {base_mb:5.0f} MB exit {base_code}"
              f"  {base_call['seconds']:7.3f} s  {base_call['peak_mb']:5.0f} MB")
        for limits, env in (("default limits", environment), ("file limit raised to 200 MB", raised)):
            for name, (kind, path) in cases.items():
                cli, call = commands(kind, path)
                seconds, peak, code = median_of(cli, env, options.repeat)
                inner = rejection(call, env, options.repeat)
                met = "ok" if inner["seconds"] < GOAL_SECONDS and peak < GOAL_MB else "OVER GOAL"
                print(f"  {name + ', ' + limits:<42} {seconds:6.2f} s {peak:5.0f} MB exit {code}"
                      f"  {inner['seconds']:7.3f} s  {inner['peak_mb']:5.0f} MB {inner['errors']:6.0f} errors"
                      f"  x{seconds / base_seconds:.2f} of the baseline's time  {met}")
                figures.append({"case": name, "limits": limits, "seconds": seconds, "peak_mb": peak, "exit": code,
                                "call_seconds": inner["seconds"], "call_peak_mb": inner["peak_mb"],
                                "errors": inner["errors"], "baseline_seconds": base_seconds,
                                "baseline_mb": base_mb})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if options.json:
        Path(options.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
