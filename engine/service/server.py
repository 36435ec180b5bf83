"""Running the service: uvicorn in this process, and a stop on SIGTERM that exits 0.

uvicorn's graceful shutdown on SIGTERM (stop accepting, let the requests in flight
finish, run the lifespan's end) is what drains the service. After shutting down,
uvicorn raises the signal again so that the process ends "killed by SIGTERM"; the handler
installed here turns that second delivery (and any later one) into nothing, so ``decree serve`` ends
with exit code 0, as an orchestrator expects of a clean stop.

The event loop is uvloop and the HTTP parser httptools when installed (the ``serve``
extra brings them); the access log is off unless asked for, because writing a line per
request costs more than deciding one.
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from engine.service.app import Settings, create_app

log = logging.getLogger("decree.serve")


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The second delivery of SIGTERM (uvicorn re-raises it after its shutdown): done."""


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000, access_log: bool = False,
        log_level: str = "info", timeout_graceful_shutdown: int | None = 30) -> int:
    """Serve until SIGTERM or SIGINT; the exit code (0 after a clean stop)."""
    import uvicorn

    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    app = create_app(settings)
    config = uvicorn.Config(app, host=host, port=port, access_log=access_log, log_level=log_level,
                            timeout_graceful_shutdown=timeout_graceful_shutdown, lifespan="on",
                            loop=_best("uvloop", "auto"), http=_best("httptools", "auto"),
                            server_header=False)
    server = uvicorn.Server(config)
    # kept to the end of the process: a SIGTERM during the last clean-up is not a crash either
    signal.signal(signal.SIGTERM, _ignore)
    server.run()
    return 0 if server.started else 1


def _best(module: str, fallback: str) -> str:
    try:
        __import__(module)
    except ImportError:
        return fallback
    return module
