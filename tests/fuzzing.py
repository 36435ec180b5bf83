"""What the fuzz tests share: budgets, interesting tokens, mutations of real files, and the
one property every failure must have.

The budget: ``DECREE_FUZZ_EXAMPLES`` (default 1,500) is the number of Hypothesis examples of
the condition test (20 texts each); the facts test runs a fifth of it (5 files each), the
scenario test a twentieth and the rule-file test a hundredth (a rule set loads in about
0.1 s), each at least 50 (rules: 10). ``make fuzz`` sets it to 50,000 (a million
condition texts, 50,000 facts files, 2,500 scenario files, 500 rule files) and turns
derandomization off (``DECREE_FUZZ_RANDOM=1``); ``make test`` runs the default with a
fixed derandomized sequence, so CI sees the same inputs every time. With
``DECREE_FUZZ_REPORT=FILE``, each test appends how many inputs it tried as a JSON line;
with ``DECREE_FUZZ_PROGRESS=FILE``, the counts so far are written every 1,000 inputs.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, settings

from engine.errors import PolicyError, flatten

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("DECREE_FUZZ_EXAMPLES", "1500"))
RANDOM = os.environ.get("DECREE_FUZZ_RANDOM", "") not in ("", "0")
COUNTS: Counter[str] = Counter()


def budget(share: float = 1.0, least: int = 50) -> settings:
    """Hypothesis settings for a fuzz test that runs ``share`` of the examples."""
    return settings(max_examples=max(least, int(EXAMPLES * share)), deadline=None, derandomize=not RANDOM,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def tally(kind: str) -> None:
    """Count one input tried; with ``DECREE_FUZZ_PROGRESS=FILE``, the counts so far are
    written there every 1,000 inputs (a long run can be watched, and cut short)."""
    COUNTS[kind] += 1
    target = os.environ.get("DECREE_FUZZ_PROGRESS")
    if target and COUNTS[kind] % 1000 == 0:
        Path(target).write_text(json.dumps(dict(COUNTS)) + "\n", encoding="utf-8")


def report() -> None:
    """Append the counts of inputs tried to ``DECREE_FUZZ_REPORT`` (for ``make fuzz``)."""
    target = os.environ.get("DECREE_FUZZ_REPORT")
    if target and COUNTS:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(dict(COUNTS)) + "\n")
        COUNTS.clear()


def assert_positioned(error: BaseException) -> None:
    """The property: a failure is a PolicyError, and each error in it has a place in a file."""
    assert isinstance(error, PolicyError), f"{type(error).__name__}: {error}"
    for each in flatten([error]):
        assert each.span.source is not None, f"no position: {each.render()}"
        assert each.span.line >= 1 and each.span.column >= 1, each.render()
        each.render()  # rendering never fails either


def expect_policy_errors(action: Callable[[], Any]) -> Any:
    """Run ``action``; any exception must satisfy :func:`assert_positioned`."""
    try:
        return action()
    except Exception as error:  # the property under test: only PolicyErrors may come out
        assert_positioned(error)
        return None


# -- what mutations insert ------------------------------------------------------------------

HUGE = ["1.0e+999999999", "1.0e+999999", "-1e999999999", "1e-999999999", "9" * 60, "0." + "0" * 60 + "1",
        "1" + "0" * 5000, "0x" + "f" * 200, "1_000_000", "1:30:00", ".inf", "-.inf", ".nan", "0e999999", "-0"]
DATES = ["9999-12-31", "0001-01-01", "2024-02-30", "2023-02-29", "20240301", "2024-W01-1", "2024-3-1",
         "2024-03-01T10:00:00", "2024-13-01", "'2024-03-01'", "'19900501'", "1990-05-01"]
YAML_TOKENS = ["null", "~", "true", "false", "yes", "no", "on", "[]", "{}", "[1, 2", "{a: 1", "!!python/object:os.system x",
               "!!set {a}", "&a x", "*a", "<<: *a", "!!binary aGk=", "'", '"', "|", ">", "-", "? x", ": y", "#", "%YAML 1.1",
               "---", "...", "\t", "[" * 80, "{days: 1e999999}", "{days: 1.5}", "{months: x}", "[BE, BE, BE]",
               "'a' " * 50, "x" * 200, "é\u2028ü", "\x00", "\ufeff", "\x85"]
CONDITION_TOKENS = ["and", "or", "not", "if", "then", "else", "in", "any", "is", "known", "unknown", "none", "at",
                    "true", "false", "evaluation_date", "reference_date", "age(", "count(", "min(", "max(", ")",
                    "(", "[", "]", ",", "+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "1 days", "99999999 years",
                    "12 months", "0", "'x'", '"y"', "'", "\\", "#", "\n", ".", "..", "persoon.", "x.y.z"]


def interesting(rng: random.Random, extra: list[str] = []) -> str:
    return rng.choice(HUGE + DATES + YAML_TOKENS + extra)


_VALUE = re.compile(r"^(\s*(?:-\s+)?[^\s:#][^:#]*:\s+)(\S.*)$")
_KEYS = ["facts", "expect", "on", "name", "members", "versions", "when", "set", "compute", "from", "until", "order",
         "value", "id", "x"]


def random_text(rng: random.Random, size: int) -> str:
    """Arbitrary characters, mostly printable, some control and beyond the BMP."""
    return "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0, 0x2FFF), rng.randint(0, 0x10FFFF)]))
                   for _ in range(size)).encode("utf-8", "replace").decode("utf-8", "replace")


def _depth(line: str) -> int:
    """The indentation of a line's key (a list item's first key counts past its dash)."""
    stripped = line.lstrip(" ")
    return len(line) - len(stripped) + (2 if stripped.startswith("- ") else 0)


def _block_end(lines: list[str], index: int) -> int:
    """The end of the block that starts at ``lines[index]``: the lines indented deeper."""
    own = _depth(lines[index])
    end = index + 1
    while end < len(lines) and (not lines[end].strip() or _depth(lines[end]) > own):
        end += 1
    return end


def _siblings(lines: list[str], index: int) -> list[int]:
    """The lines of the keys of the mapping that holds the key on ``lines[index]``."""
    own = _depth(lines[index])
    first = index
    while first > 0 and not lines[first].lstrip().startswith("- ") and (
            not lines[first - 1].strip() or _depth(lines[first - 1]) >= own):
        first -= 1
    found = []
    position = first
    while position < len(lines) and (position == first or not lines[position].lstrip().startswith("- ")) and (
            not lines[position].strip() or _depth(lines[position]) >= own):
        if lines[position].strip() and _depth(lines[position]) == own:
            found.append(position)
        position += 1
    return found or [index]


def mutate_text(text: str, rng: random.Random, extra: list[str] = []) -> str:
    """``text`` with one to four mutations, chosen to reach the readers' corners: values
    replaced by interesting ones, lines duplicated (duplicate keys), removed (missing
    keys), re-indented, and characters inserted or deleted.

    Mutations draw from ``rng``, a Random that Hypothesis gives (so derandomized runs
    repeat): one example then tries many inputs for the cost of one draw."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        if not lines:
            lines = [""]
        index = rng.randrange(len(lines))
        kind = rng.choice(["value", "value", "value", "duplicate", "delete", "indent", "insert", "characters",
                           "new key", "drop block", "drop block", "repeat block", "repeat block", "siblings",
                           "siblings"])
        line = lines[index]
        indent = line[:len(line) - len(line.lstrip())]
        if kind == "value":
            match = _VALUE.match(line)
            lines[index] = (match.group(1) if match else line + " ") + interesting(rng, extra)
        elif kind == "duplicate":
            lines.insert(index, line)
        elif kind == "delete":
            del lines[index]
        elif kind == "indent":
            lines[index] = " " * rng.randint(0, 12) + line.lstrip()
        elif kind == "insert":
            lines.insert(index, indent + interesting(rng, extra))
        elif kind == "drop block" or kind == "repeat block":
            # a key with everything nested under it: a whole value missing, or given twice
            end = _block_end(lines, index)
            if kind == "drop block":
                del lines[index:end]
            else:
                lines[end:end] = lines[index:end]
        elif kind == "siblings":
            # one key of a mapping given twice and another left out: the readers must
            # check what they index even where the schema's error is not reported twice
            siblings = _siblings(lines, index)
            twice, left_out = rng.choice(siblings), rng.choice(siblings)
            for start, action in sorted([(twice, "repeat"), (left_out, "drop")], reverse=True):
                end = _block_end(lines, start)
                if action == "repeat":
                    lines[end:end] = [" " * _depth(lines[start]) + lines[start].lstrip(" -")] + lines[start + 1:end]
                else:
                    if lines[start].lstrip().startswith("- ") and end < len(lines):
                        continue  # the item's first key carries its dash: keep it
                    del lines[start:end]
        elif kind == "new key":
            lines.insert(index, f"{indent}{rng.choice(_KEYS)}: {interesting(rng, extra)}")
        else:
            position = rng.randint(0, len(line))
            lines[index] = line[:position] + random_text(rng, rng.randint(0, 4)) + line[position + rng.randint(0, 3):]
    return "\n".join(lines)
