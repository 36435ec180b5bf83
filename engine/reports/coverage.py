"""Coverage of a rule set by scenarios: what the fixtures exercise, and what they do not.

Three measures, per file and in total:

- **rule versions used**: a version counts when some scenario evaluated its rule on a
  reference date inside its window (so the version was selected and its condition
  evaluated). Uncovered versions are listed by file and line;
- **conditions seen both ways**: a version's ``when`` was true in one scenario and false
  in another;
- **exceptions fired**: a rule that is an exception to another applied in some scenario.

Scenarios evaluate only the outputs they check (and what those depend on), so coverage
measures what the fixtures actually verify, not what they happen to compute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.evaluation.general import Evaluation
from engine.rules.model import RuleVersion
from engine.ruleset import RuleSet

VersionKey = tuple[str, str, int]  # rule id, file, line of the version


@dataclass
class CoverageReport:
    versions: dict[VersionKey, RuleVersion] = field(default_factory=dict)
    used: set[VersionKey] = field(default_factory=set)
    seen_true: set[VersionKey] = field(default_factory=set)
    seen_false: set[VersionKey] = field(default_factory=set)
    exceptions: dict[str, str] = field(default_factory=dict)  # rule id -> file
    fired: set[str] = field(default_factory=set)

    @classmethod
    def for_rules(cls, ruleset: RuleSet) -> "CoverageReport":
        report = cls()
        loaded = ruleset.loaded
        # the versions that can apply: in force without proposals, or with every proposal
        # on; a version ended before it took effect cannot be covered and is not counted
        every_proposal = {a.id: None for a in loaded.amendments.values() if a.proposed}
        for proposals in ({}, every_proposal):
            for timeline in ruleset.consolidation(proposals).timelines.values():
                for version in timeline.versions:
                    if version.window is not None and not version.window.empty:
                        report.versions.setdefault(_key(version), version)
        for rule in loaded.rules.values():
            if rule.exception_to and any(key[0] == rule.id for key in report.versions):
                report.exceptions[rule.id] = rule.span.file
        return report

    def record(self, evaluation: Evaluation) -> None:
        for state in evaluation.rule_states():
            version = state.version
            if version is None:
                continue
            key = _key(version)
            self.used.add(key)
            if version.when is not None:
                if state.applies is True:
                    self.seen_true.add(key)
                elif state.applies is False:
                    self.seen_false.add(key)
            if state.applies is True and state.rule.exception_to:
                self.fired.add(state.rule.id)

    @property
    def conditions(self) -> list[VersionKey]:
        return [k for k, v in self.versions.items() if v.when is not None]

    def percent(self) -> float:
        return 100.0 * len(self.used & set(self.versions)) / len(self.versions) if self.versions else 100.0

    def by_file(self) -> dict[str, dict[str, int]]:
        files: dict[str, dict[str, int]] = {}
        for key, version in self.versions.items():
            row = files.setdefault(key[1], {"versions": 0, "used": 0, "conditions": 0, "both_ways": 0,
                                            "exceptions": 0, "fired": 0})
            row["versions"] += 1
            row["used"] += key in self.used
            if version.when is not None:
                row["conditions"] += 1
                row["both_ways"] += key in self.seen_true and key in self.seen_false
        for rule_id, file in self.exceptions.items():
            row = files.setdefault(file, {"versions": 0, "used": 0, "conditions": 0, "both_ways": 0,
                                          "exceptions": 0, "fired": 0})
            row["exceptions"] += 1
            row["fired"] += rule_id in self.fired
        return dict(sorted(files.items()))

    def uncovered(self) -> list[VersionKey]:
        return sorted(k for k in self.versions if k not in self.used)

    def to_json(self) -> dict[str, Any]:
        totals = self.totals()
        return {
            "rule_versions": {"total": totals["versions"], "used": totals["used"], "percent": round(self.percent(), 1)},
            "conditions": {"total": totals["conditions"], "seen_true_and_false": totals["both_ways"]},
            "exceptions": {"total": totals["exceptions"], "fired": totals["fired"]},
            "files": self.by_file(),
            "uncovered_versions": [{"rule": r, "file": f, "line": line} for r, f, line in self.uncovered()],
            "conditions_not_seen_both_ways": [
                {"rule": r, "file": f, "line": line, "seen": _seen(self, (r, f, line))}
                for r, f, line in sorted(self.conditions) if (r, f, line) in self.used
                and not ((r, f, line) in self.seen_true and (r, f, line) in self.seen_false)],
            "exceptions_never_fired": sorted(set(self.exceptions) - self.fired),
        }

    def totals(self) -> dict[str, int]:
        total = {"versions": 0, "used": 0, "conditions": 0, "both_ways": 0, "exceptions": 0, "fired": 0}
        for row in self.by_file().values():
            for name in total:
                total[name] += row[name]
        return total

    def render(self) -> str:
        """A table per file, the totals, and the uncovered versions by file and line."""
        from io import StringIO

        from rich.console import Console
        from rich.table import Table

        table = Table(title="Rule coverage by scenarios", show_lines=False)
        for column in ("file", "versions used", "conditions true+false", "exceptions fired"):
            table.add_column(column, justify="left" if column == "file" else "right")

        def cell(done: int, total: int) -> str:
            return f"{done}/{total} ({100 * done / total:.0f}%)" if total else "-"

        for file, row in self.by_file().items():
            table.add_row(file, cell(row["used"], row["versions"]), cell(row["both_ways"], row["conditions"]),
                          cell(row["fired"], row["exceptions"]))
        totals = self.totals()
        table.add_row("total", cell(totals["used"], totals["versions"]), cell(totals["both_ways"], totals["conditions"]),
                      cell(totals["fired"], totals["exceptions"]), style="bold")
        buffer = StringIO()
        Console(file=buffer, width=120, color_system=None).print(table)
        lines = [buffer.getvalue().rstrip()]
        for rule, file, line in self.uncovered():
            lines.append(f"{file}:{line}: uncovered version of '{rule}'")
        for rule in sorted(set(self.exceptions) - self.fired):
            lines.append(f"{self.exceptions[rule]}: exception '{rule}' never fired")
        return "\n".join(lines) + "\n"

    def dump(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=2)


def _seen(report: CoverageReport, key: VersionKey) -> str:
    return "true only" if key in report.seen_true else "false only" if key in report.seen_false else "unknown only"


def _key(version: RuleVersion) -> VersionKey:
    return (version.rule_id, version.span.file, version.span.line)

