"""Large generated rule sets, for the benchmark and the tests of loading at scale.

    python -m tools.rulegen DIRECTORY RULES     # writes DIRECTORY/vocabulary.yaml and rules_NNNN.yaml

A set of ``rules`` rules in files of 100: each rule reads facts and the output of the rule
before it in its file, has two versions with different reference dates, and every tenth
is overridden by an exception. The shape is what a real law has (chains, exceptions,
versions), scaled up; the facts are twenty numbers and a date, so a person can be
written down (:func:`person`). The text is deterministic: the same arguments write the
same bytes, so a content-keyed cache sees the same rule set.
"""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

FACTS = 20
RULES_PER_FILE = 100


def generate(directory: Path, rules: int) -> list[Path]:
    """Write a rule set of ``rules`` rules (and ``rules // 10`` exceptions) into
    ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    facts = "\n".join(f"    f.x{i}: {{type: number}}" for i in range(FACTS))
    outputs = "\n".join(f"    o{i}: {{type: bool}}" for i in range(rules))
    vocabulary = directory / "vocabulary.yaml"
    vocabulary.write_text(f"vocabulary:\n  facts:\n{facts}\n    f.d: {{type: date}}\n  outputs:\n{outputs}\n",
                          encoding="utf-8")
    written = [vocabulary]
    for chunk in range(0, rules, RULES_PER_FILE):
        parts = ["rules:"]
        for i in range(chunk, min(chunk + RULES_PER_FILE, rules)):
            parts.append(_rule(i))
            if i % 10 == 9:
                parts.append(_exception(i))
        path = directory / f"rules_{chunk // RULES_PER_FILE:04d}.yaml"
        path.write_text("\n".join(parts) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _rule(i: int) -> str:
    uses = f" and o{i - 1}" if i % RULES_PER_FILE else ""
    return f"""  - id: r.n{i}
    title: Rule {i}
    source: {{instrument: Generated, article: art. {i}}}
    reference_date: f.d
    versions:
      - from: 2000-01-01
        until: 2020-01-01
        when: f.x{i % FACTS} > {i % 13}{uses}
        set: {{o{i}: true}}
      - from: 2020-01-01
        when: f.x{(i + 1) % FACTS} + f.x{(i + 2) % FACTS} >= {i % 17} or f.d < 2021-01-01{uses}
        set: {{o{i}: true}}"""


def _exception(i: int) -> str:
    return f"""  - id: r.e{i}
    title: Exception {i}
    source: {{instrument: Generated}}
    exception_to: r.n{i}
    versions:
      - from: 2000-01-01
        when: f.x{i % FACTS} == 0
        set: {{o{i}: false}}"""


def person(seed: int = 0, on: date = date(2021, 6, 1)) -> dict[str, Any]:
    """Facts for the generated vocabulary: every number given, deterministic in ``seed``."""
    facts: dict[str, Any] = {f"f.x{i}": Decimal((i * 7 + seed * 13) % 23) for i in range(FACTS)}
    facts["f.d"] = on
    return facts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.rulegen", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("rules", type=int)
    arguments = parser.parse_args(argv)
    files = generate(arguments.directory, arguments.rules)
    print(f"{arguments.rules} rules in {len(files)} files under {arguments.directory}")


if __name__ == "__main__":
    main()
