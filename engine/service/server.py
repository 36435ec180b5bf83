"""Running the service: uvicorn in one process, or in several workers on one socket.

uvicorn's graceful shutdown on SIGTERM (stop accepting, let the requests in flight
finish, run the lifespan's end) is what drains the service. After shutting down,
uvicorn raises the signal again so that the process ends "killed by SIGTERM"; the handler
installed here turns that second delivery (and any later one) into nothing, so
``decree serve`` ends with exit code 0, as an orchestrator expects of a clean stop.

With ``workers > 1`` this process is a small supervisor rather than uvicorn's own:
uvicorn's restarts every worker on SIGHUP, and a worker restarted on a broken rule set
would not start at all, while here every worker reloads *beside* its running rule set.
The supervisor binds the socket once, starts the workers (spawned, each loading the rule
set itself), forwards SIGHUP to each of them, and on SIGTERM or SIGINT stops them all,
waits for them to drain and exits 0. A worker that dies otherwise is started again. An
admin reload received by one worker asks the supervisor (SIGHUP to the parent) to
reload them all. Python evaluates on one core per process, so workers are how the
service uses several cores.

The event loop is uvloop and the HTTP parser httptools when installed (the ``serve``
extra brings them); the access log is off unless asked for, because writing a line per
request costs more than deciding one.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from dataclasses import replace
from types import FrameType
from typing import Any

import uvicorn

from engine.service.app import Settings, create_app

log = logging.getLogger("decree.serve")


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The second delivery of SIGTERM (uvicorn re-raises it after its shutdown): done."""


def _config(app: Any, host: str, port: int, access_log: bool, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, access_log=access_log, log_level=log_level,
                          timeout_graceful_shutdown=30, lifespan="on", loop=_best("uvloop", "auto"),
                          http=_best("httptools", "auto"), server_header=False)


def _logging(log_level: str) -> None:
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s", stream=sys.stderr)


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000, access_log: bool = False,
        log_level: str = "info", workers: int = 1) -> int:
    """Serve until SIGTERM or SIGINT; the exit code (0 after a clean stop)."""
    _logging(log_level)
    if workers > 1:
        return _supervise(settings, host, port, access_log, log_level, workers)
    server = uvicorn.Server(_config(create_app(settings), host, port, access_log, log_level))
    # kept to the end of the process: a SIGTERM during the last clean-up is not a crash either
    signal.signal(signal.SIGTERM, _ignore)
    server.run()
    return 0 if server.started else 1


def _worker(settings: Settings, listening: socket.socket, host: str, port: int, access_log: bool,
            log_level: str) -> None:
    """One worker process: its own rule set, uvicorn on the shared socket."""
    _logging(log_level)
    signal.signal(signal.SIGTERM, _ignore)
    try:
        app = create_app(settings)
    except Exception as error:  # the rule set changed into a broken one before this worker started
        log.error("worker cannot start: %s", error)
        sys.exit(2)
    uvicorn.Server(_config(app, host, port, access_log, log_level)).run(sockets=[listening])


def _supervise(settings: Settings, host: str, port: int, access_log: bool, log_level: str, workers: int) -> int:
    # fail fast, with every error, when the rule set is broken (each worker loads its own)
    create_app(replace(settings, decision_log=None))
    listening = _config(None, host, port, access_log, log_level).bind_socket()
    multiprocessing.allow_connection_pickling()  # the listening socket goes to each worker
    context = multiprocessing.get_context("spawn")
    settings = replace(settings, supervised=True)
    args = (settings, listening, host, port, access_log, log_level)
    processes = [context.Process(target=_worker, args=args, daemon=False) for _ in range(workers)]
    stopping: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            for process in processes:
                if process.pid is not None and process.is_alive():
                    os.kill(process.pid, signal.SIGHUP)
        else:
            stopping.append(signum)

    for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    for process in processes:
        process.start()
    log.info("serving on http://%s:%d with %d workers (supervisor pid %d)", host, port, workers, os.getpid())
    while not stopping:
        time.sleep(0.2)
        for index, process in enumerate(processes):
            if not process.is_alive() and not stopping:
                log.error("worker %s ended (exit code %s); starting another", process.pid, process.exitcode)
                processes[index] = context.Process(target=_worker, args=args, daemon=False)
                processes[index].start()
                time.sleep(1)  # a worker that cannot start is not restarted in a tight loop
    for process in processes:
        if process.pid is not None and process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join(timeout=60)
    listening.close()
    return 0


def ask_supervisor_to_reload() -> None:
    """From a worker: have the supervisor send SIGHUP to every worker."""
    os.kill(os.getppid(), signal.SIGHUP)


def _best(module: str, fallback: str) -> str:
    try:
        __import__(module)
    except ImportError:
        return fallback
    return module
