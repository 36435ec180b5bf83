"""The decision log, the store of rule sets it refers to, and replay.

The log (``decree serve --decision-log FILE``) holds one JSON line per decision: the
receipt (``decision_id``, ``input_hash``, ``rules_version``, ``evaluated_at``), the kind
(``evaluate``, ``explain``, ``batch``), the canonical request (dotted facts, ``on``,
``proposals``, ``outputs``, ``explain``) and the ``result`` as it was answered. Lines are
appended with one ``write`` to a file opened with ``O_APPEND`` (so workers can share
it), then flushed to the disk (``fsync``) before the response is sent: a decision a
caller holds is on the disk. Concurrent requests share one write and one ``fsync``.

Next to the log, ``FILE.rules/`` is a content-addressed store: ``FILE.rules/VERSION/``
holds the rule files of every rule set that was served, at their paths, so loading that
directory gives the same ``rules_version`` (the hash covers paths and texts). The service
loads a rule set *from* its copy in the store, so what the store holds is exactly what
decided, even when the rules directory changes during a load.

:func:`replay` decides every logged decision again with the rule set of its version and
compares the canonical JSON of both results byte for byte.

Limits: the index from decision id to line is kept in memory (built by one scan at
start); a log is not rotated by the service.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

from engine.errors import PolicyError, flatten
from engine.rules.loader import rule_files
from engine.ruleset import RuleSet
from engine.service.decisions import canonical_json, replay as decide_again
from engine.service.requests import Problem, evaluation_request


class RuleStore:
    """Rule-set sources by ``rules_version``: ``ROOT/VERSION/<the rule files>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[str, RuleSet] = {}
        self._lock = threading.Lock()

    def snapshot(self, rules: Path) -> Path:
        """A private copy of the rule files under ``rules``, to load from."""
        self.root.mkdir(parents=True, exist_ok=True)
        copy = Path(tempfile.mkdtemp(prefix=".loading-", dir=self.root))
        for path in rule_files(rules):
            target = copy / (path.relative_to(rules) if rules.is_dir() else path.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return copy

    def keep(self, copy: Path, version: str) -> Path:
        """File a snapshot that loaded clean under its version (once per version)."""
        target = self.root / version
        try:
            copy.rename(target)
        except OSError:  # filed already (by an earlier load, or by another worker just now)
            shutil.rmtree(copy, ignore_errors=True)
        return target

    def discard(self, copy: Path) -> None:
        shutil.rmtree(copy, ignore_errors=True)

    def remember(self, version: str, ruleset: RuleSet) -> None:
        """A rule set loaded from this store's copy of ``version`` (saves loading it again)."""
        with self._lock:
            self._loaded[version] = ruleset

    def ruleset(self, version: str) -> RuleSet:
        """The rule set of ``version``, loaded from the store (kept for later calls)."""
        with self._lock:
            found = self._loaded.get(version)
        if found is None:
            path = self.root / version
            if not path.is_dir():
                raise LookupError(f"rule set {version} is not in the store {self.root}")
            found = RuleSet.load(path)
            if found.content_hash != version:
                raise LookupError(f"the store's copy of {version} has changed: it now loads as {found.content_hash}")
            with self._lock:
                self._loaded[version] = found
        return found


def store_of(log: Path) -> RuleStore:
    return RuleStore(log.with_name(log.name + ".rules"))


class DecisionLog:
    """Append-only JSON lines, on the disk before the call returns, with an index by id."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._lock = threading.Lock()
        self._index: dict[str, int] = {}
        self._end = 0
        self._catch_up()
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._flushing = False

    async def record(self, records: list[dict[str, Any]]) -> None:
        """Append ``records`` and return once they are on the disk.

        Group commit: the records of requests that arrive while a write is under way
        are written and flushed together by the next one, in a worker thread, so the
        event loop goes on deciding while the disk syncs. A failed write fails every
        request whose records it held (an unlogged decision is never answered).
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((records, done))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush_pending())
        await done

    async def _flush_pending(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    await asyncio.to_thread(self.append, [r for records, _ in group for r in records])
                except Exception as error:  # handed to each waiting request, which answers 500
                    for _, done in group:
                        if not done.done():
                            done.set_exception(error)
                else:
                    for _, done in group:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._flushing = False

    def _catch_up(self) -> None:
        """Index the lines past the end seen so far (written by another worker, or before)."""
        with open(self.path, "rb") as existing:
            existing.seek(self._end)
            offset = self._end
            for line in existing:
                if not line.endswith(b"\n"):
                    break  # a line still being written
                identifier = _decision_id(line)
                if identifier:
                    self._index[identifier] = offset
                offset += len(line)
        self._end = offset

    def append(self, records: list[dict[str, Any]]) -> None:
        lines = [canonical_json(record).encode() + b"\n" for record in records]
        data = b"".join(lines)
        with self._lock:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            if self.durable:
                os.fsync(self._fd)
            end = os.lseek(self._fd, 0, os.SEEK_END)
            if end - len(data) != self._end:  # another worker wrote between: index those lines too
                self._catch_up()
            else:
                offset = self._end
                for record, line in zip(records, lines):
                    self._index[record["decision_id"]] = offset
                    offset += len(line)
                self._end = offset

    def find(self, decision_id: str) -> dict[str, Any] | None:
        offset = self._index.get(decision_id)
        if offset is None:
            with self._lock:
                self._catch_up()
                offset = self._index.get(decision_id)
        if offset is None:
            return None
        with open(self.path, "rb") as log:
            log.seek(offset)
            record: dict[str, Any] = parse_line(log.readline())
        return record

    def close(self) -> None:
        os.close(self._fd)


def _decision_id(line: bytes) -> str | None:
    try:
        value = json.loads(line).get("decision_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def parse_line(line: bytes | str) -> dict[str, Any]:
    data = json.loads(line, parse_float=Decimal)
    if not isinstance(data, dict):
        raise ValueError("a decision log line holds an object")
    return data


def record(kind: str, receipt: dict[str, str], canonical: dict[str, Any], result: dict[str, Any],
           **extra: Any) -> dict[str, Any]:
    """One line of the log: receipt, what was asked, and what was answered."""
    return {**receipt, "kind": kind, **extra, "request": canonical, "result": result}


@dataclass
class Replayed:
    line: int
    decision_id: str
    same: bool
    problem: str = ""  # why it could not be decided again, or where it differs


def replay_record(entry: dict[str, Any], rulesets: Callable[[str], RuleSet]) -> tuple[bool, str]:
    """Decide a logged decision again; (same bytes?, what differs or failed)."""
    try:
        ruleset = rulesets(str(entry["rules_version"]))
        request = evaluation_request(entry["request"], ruleset)
        again = decide_again(ruleset, str(entry.get("kind", "evaluate")), request, entry.get("output"))
    except Problem as problem:
        return False, "; ".join(error["detail"] for error in problem.errors) or problem.detail
    except PolicyError as error:
        return False, "; ".join(e.message for e in flatten([error]))
    except (LookupError, KeyError) as error:
        return False, str(error)
    was, now = canonical_json(entry.get("result")), canonical_json(again)
    if was == now:
        return True, ""
    at = next((i for i, (a, b) in enumerate(zip(was, now)) if a != b), min(len(was), len(now)))
    return False, f"differs at byte {at}: logged {was[max(0, at - 30):at + 30]!r}, now {now[max(0, at - 30):at + 30]!r}"


def replay(log: Path, store: RuleStore | None = None) -> Iterator[Replayed]:
    """Every decision of ``log`` decided again with its own rule set."""
    store = store or store_of(log)
    with open(log, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = parse_line(line)
            except ValueError as error:
                yield Replayed(number, "", False, f"not a decision: {error}")
                continue
            same, why = replay_record(entry, store.ruleset)
            yield Replayed(number, str(entry.get("decision_id", "")), same, why)
