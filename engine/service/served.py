"""The rule set being served, and hot reload that never serves a broken one.

:class:`RuleHolder` holds one :class:`ServedRules` at a time. A reload (on SIGHUP, on a
change of the rules directory seen by :meth:`RuleHolder.watch`, or on the admin endpoint)
loads and checks the new rule set *beside* the running one, in a worker thread, warms it
(the first evaluation writes and compiles the fast path: about 45 ms that no caller
should wait for) with the most recent requests, and only then replaces the reference in
one assignment. A request reads the reference once, when it starts, and finishes on that
rule set whatever happens meanwhile. A rule set with errors is never swapped in: the
errors are kept as ``pending_errors`` (shown on ``GET /v1/rules``) until a later reload
loads clean.

With a decision log the rule files are first copied into the log's content-addressed
store (:class:`engine.service.decisionlog.RuleStore`) and loaded from that copy, so the
stored sources are exactly those that decide.

Limits: one process; with several workers each holds its own rule set and reloads on
its own signal or watch.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from engine.errors import PolicyError, RuleFileError, flatten
from engine.rules.loader import rule_files
from engine.ruleset import RuleSet
from engine.service.decisionlog import RuleStore
from engine.service.decisions import decide
from engine.service.requests import Problem, evaluation_request

log = logging.getLogger("decree.serve")
WARM_REQUESTS = 4  # recent requests replayed on a new rule set before it is swapped in


@dataclass
class ServedRules:
    """A loaded, checked rule set and what is derived from it once."""

    ruleset: RuleSet
    version: str
    loaded_at: str
    source: Path  # where it was loaded from (its copy in the store, with a decision log)
    derived: dict[str, Any] = field(default_factory=dict)  # the OpenAPI document, ... built on first use


@dataclass
class ReloadOutcome:
    status: str  # "swapped", "unchanged" or "refused"
    rules_version: str  # the version served after the reload
    previous: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "rules_version": self.rules_version, "previous": self.previous}
        if self.errors:
            data["errors"] = self.errors
        return data


def problem_json(error: PolicyError, shown_root: Path | None = None, real_root: Path | None = None) -> dict[str, Any]:
    """A load problem as data; a file in a snapshot is named by its place in the rules directory."""
    name = error.span.file
    if shown_root is not None and real_root is not None and name.startswith(str(real_root)):
        name = str(shown_root / Path(name).relative_to(real_root))
    text = error.render()
    if error.span.source is not None:
        text = text.replace(error.span.file, name, 1)
    return {"file": name if error.span.source is not None else None, "line": error.span.line,
            "column": error.span.column, "severity": error.severity, "message": error.message, "text": text}


def directory_hash(rules: Path) -> str:
    """A hash of the rule files' paths and contents: what ``--watch`` compares."""
    digest = hashlib.sha256()
    for path in rule_files(rules):
        digest.update(str(path.relative_to(rules) if rules.is_dir() else path.name).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\1unreadable")
    return digest.hexdigest()


class RuleHolder:
    """The served rule set, and the loads that may replace it."""

    def __init__(self, rules: Path, store: RuleStore | None = None) -> None:
        self.rules = rules
        self.store = store
        self.pending_errors: list[dict[str, Any]] = []
        self.recent: deque[dict[str, Any]] = deque(maxlen=WARM_REQUESTS)
        self._lock = asyncio.Lock()
        self._watched = ""
        served, problems = self._prepare([])
        if served is None:
            raise PolicyErrorsAtStart(problems)
        self.current: ServedRules = served

    # -- loading beside the running rule set -----------------------------------

    def _prepare(self, samples: list[dict[str, Any]]) -> tuple[ServedRules | None, list[PolicyError]]:
        """Load, check and warm (with ``samples``) a rule set from the rules directory;
        never raises for its errors."""
        source = self.store.snapshot(self.rules) if self.store is not None else self.rules
        try:
            ruleset, problems = RuleSet.check(source)
        except (OSError, RecursionError) as error:  # a file vanished while copied, ...
            ruleset, problems = None, [RuleFileError(f"cannot load the rules: {error}")]
        errors = [p for p in flatten(problems) if p.severity == "error"]
        if ruleset is None or errors:
            if self.store is not None:
                self.store.discard(source)
            return None, errors or [RuleFileError("no rules found")]
        if self.store is not None:
            source = self.store.keep(source, ruleset.content_hash)
        self._warm(ruleset, samples)
        now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return ServedRules(ruleset, ruleset.content_hash, now, source), []

    def _warm(self, ruleset: RuleSet, samples: list[dict[str, Any]]) -> None:
        """Evaluate recent requests (or one without facts) so the fast path is compiled."""
        for sample in samples or [{"facts": {}, "on": date.today().isoformat()}]:
            try:
                decide(ruleset, evaluation_request(sample, ruleset))
            except (Problem, PolicyError):
                pass  # a request the new vocabulary refuses warms nothing; it does not block the swap

    def remember(self, canonical: dict[str, Any]) -> None:
        """Keep a recent request to warm the next rule set with."""
        self.recent.append(canonical)

    async def reload(self, reason: str) -> ReloadOutcome:
        """Load beside the running rule set; swap only a clean one."""
        async with self._lock:
            previous = self.current
            # the samples are copied here: the event loop keeps adding to ``recent``
            try:
                served, errors = await asyncio.to_thread(self._prepare, list(self.recent))
            except Exception as error:  # a bug met while loading must not end the watch, nor serve anything new
                log.exception("reload (%s) failed", reason)
                served, errors = None, [RuleFileError(f"internal error while loading: {type(error).__name__}")]
            shown = self.store.root if self.store is not None else None
            if served is None:
                self.pending_errors = [problem_json(e, self.rules, _snapshot_root(e, shown)) for e in errors]
                for line in self.pending_errors:
                    log.error("reload (%s) refused: %s", reason, line["text"])
                log.error("reload (%s): still serving rules %s", reason, previous.version)
                return ReloadOutcome("refused", previous.version, previous.version, self.pending_errors)
            self.pending_errors = []
            if served.version == previous.version:
                log.info("reload (%s): rules %s unchanged", reason, previous.version)
                return ReloadOutcome("unchanged", previous.version, previous.version)
            self.current = served  # one assignment: a request sees the old set or the new one
            if self.store is not None:
                self.store.remember(served.version, served.ruleset)
            log.info("reload (%s): now serving rules %s (was %s)", reason, served.version, previous.version)
            return ReloadOutcome("swapped", served.version, previous.version)

    async def watch(self, interval: float) -> None:
        """Reload whenever the content of the rules directory changes (polled)."""
        self._watched = await asyncio.to_thread(directory_hash, self.rules)
        while True:
            await asyncio.sleep(interval)
            seen = await asyncio.to_thread(directory_hash, self.rules)
            if seen != self._watched:
                self._watched = seen
                await self.reload("the rules directory changed")


def _snapshot_root(error: PolicyError, store_root: Path | None) -> Path | None:
    """The snapshot directory a problem's file lies in (``STORE/.loading-XXXX``), if any."""
    if store_root is None or error.span.source is None:
        return None
    path = Path(error.span.file)
    try:
        relative = path.relative_to(store_root)
    except ValueError:
        return None
    return store_root / relative.parts[0] if relative.parts else None


class PolicyErrorsAtStart(Exception):
    """The rule set to start with has errors: the service does not start."""

    def __init__(self, problems: list[PolicyError]) -> None:
        super().__init__(f"{len(problems)} errors")
        self.problems = problems
