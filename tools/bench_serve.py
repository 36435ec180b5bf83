"""Speed of ``decree serve`` (``make bench``; run as ``python -m tools.bench_serve``).

Starts ``decree serve`` on 127.0.0.1 and a free port (a copy of ``rules/``), and drives
``POST /v1/evaluate`` for the example person from this process: an asyncio load
generator over keep-alive connections, written against the socket (an HTTP client
library costs more per request than the server does, on the same two cores), bounded in
time. It prints decisions per second, median and p99 latency and failed requests:

    steady        the load alone
    reload        the same, with a reload every 2 s (the rules directory changed, then
                  POST /v1/admin/reload; each reload swaps in a new rules_version)

with one worker process, with two (``--workers 2``; the load generator shares the same
two cores), and with two and a decision log, and, as the baseline timed in the same run, the in-process
rate: facts validated and all outputs decided and turned into JSON, as the service does
for one request. Goals (issue 12): >= 2,000 decisions/s with p99 < 20 ms; during
reloads 0 failures and p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engine.ruleset import RuleSet
from engine.sources.facts import read_facts

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-admin-token"
ON = "2024-03-01"


def as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value.isoformat() if isinstance(value, date) else value


def example_request() -> bytes:
    facts = as_json(yaml.safe_load((ROOT / "examples" / "persoon.yaml").read_text(encoding="utf-8")))
    return json.dumps({"facts": facts, "on": ON}).encode()


def in_process_rate(body: bytes, seconds: float = 1.5) -> float:
    """Decisions per second in this process: validate, decide every output, to_json."""
    ruleset = RuleSet.load(ROOT / "rules")
    request = json.loads(body)
    day = date.fromisoformat(ON)
    rates = []
    for _ in range(5):
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 5:
            for _ in range(50):
                ruleset.evaluate(read_facts(request["facts"], ruleset.vocabulary), day, validated=True).to_json()
            count += 50
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


class Load:
    """Keep-alive connections posting one request in a loop, each waiting for its answer."""

    def __init__(self, port: int, body: bytes) -> None:
        self.port = port
        self.request = (f"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self.latencies: list[float] = []
        self.finished: list[float] = []  # when each answer arrived: rates per window
        self.failures = 0
        self.versions: set[str] = set()

    async def connection(self, until: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            while time.perf_counter() < until:
                started = time.perf_counter()
                writer.write(self.request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                version = ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif name.lower() == b"decree-rules-version":
                        version = value.strip().decode()
                await reader.readexactly(length)
                now = time.perf_counter()
                self.latencies.append(now - started)
                self.finished.append(now)
                if not head.startswith(b"HTTP/1.1 200"):
                    self.failures += 1
                self.versions.add(version)
        except (OSError, asyncio.IncompleteReadError):
            self.failures += 1
        finally:
            writer.close()

    async def run(self, connections: int, seconds: float) -> float:
        until = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(self.connection(until) for _ in range(connections)))
        return time.perf_counter() - started


async def reloads(port: int, rules: Path, every: float, seconds: float) -> list[str]:
    """Change the rules directory and reload every ``every`` seconds; the outcomes."""
    outcomes: list[str] = []
    until = time.perf_counter() + seconds
    request = (f"POST /v1/admin/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
               "Content-Length: 0\r\n\r\n").encode()
    number = 0
    while time.perf_counter() + every < until:
        await asyncio.sleep(every)
        number += 1
        path = rules / "parameters.yaml"
        path.write_text(path.read_text(encoding="utf-8") + f"\n# reload {number}\n", encoding="utf-8")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        outcomes.append(json.loads(await reader.readexactly(length)).get("status", head.split(b"\r\n")[0].decode()))
        writer.close()
    return outcomes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(rules: Path, port: int, workers: int, *more: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DECREE_ADMIN_TOKEN": TOKEN}
    process = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--rules", str(rules), "--port", str(port),
                                "--log-level", "warning", "--workers", str(workers), *more],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                if probe.recv(100).startswith(b"HTTP/1.1 200"):
                    return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("decree serve did not start: " + (process.stderr.read().decode() if process.stderr else ""))


def report(name: str, load: Load, elapsed: float, extra: str = "") -> float:
    """Print the median rate over 1-second windows, p50 and p99 of all requests."""
    ordered = sorted(load.latencies)
    start = min(load.finished)
    windows = [0] * max(1, int(elapsed))
    for moment in load.finished:
        index = int(moment - start)
        if index < len(windows):
            windows[index] += 1
    rate = statistics.median(windows)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[int(len(ordered) * 0.99)] * 1000
    print(f"  {name:<8} {rate:8,.0f} decisions/s (median of {len(windows)} s, mean {len(ordered) / elapsed:,.0f})   "
          f"p50 {p50:5.1f} ms   p99 {p99:5.1f} ms   failed {load.failures}   versions {len(load.versions)}{extra}")
    return rate


async def measure(port: int, rules: Path, body: bytes, connections: int, seconds: float) -> tuple[float, Load]:
    warm = Load(port, body)
    await warm.run(connections, 1.0)
    steady = Load(port, body)
    rate = report("steady", steady, await steady.run(connections, seconds))
    during = Load(port, body)
    elapsed, outcomes = await asyncio.gather(during.run(connections, seconds + 1),
                                             reloads(port, rules, 2.0, seconds + 1))
    report("reload", during, elapsed, f"   reloads {outcomes}")
    return rate, during


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measurement")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    options = parser.parse_args(argv)
    body = example_request()
    print(f"decree serve, POST /v1/evaluate for the example person, {options.connections} keep-alive connections, "
          f"{options.seconds:.0f} s each")
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    for workers, logged in ((1, False), (2, False), (2, True)):
        print(f"{workers} worker{'s' if workers > 1 else ''}" + (", decision log (grouped writes, fsync each)" if logged else "")
              + ":")
        baseline = in_process_rate(body)  # timed beside each run: the machine's load changes by the minute
        print(f"  in process {baseline:6,.0f} decisions/s (validate + decide + to_json, the baseline)")
        with tempfile.TemporaryDirectory() as scratch:
            rules = Path(scratch) / "rules"
            shutil.copytree(ROOT / "rules", rules)
            more = ("--decision-log", str(Path(scratch) / "decisions.jsonl")) if logged else ()
            port = free_port()
            process = start(rules, port, workers, *more)
            try:
                rate, during = runner(measure(port, rules, body, options.connections, options.seconds))
            finally:
                process.send_signal(signal.SIGTERM)
                code = process.wait(timeout=60)
        print(f"  served / in process: {rate / baseline:.2f}; exit code on SIGTERM: {code}")
    print("  goals: >= 2,000 decisions/s, p99 < 20 ms; during reloads 0 failed, p99 < 50 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
