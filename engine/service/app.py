"""The ASGI application of ``decree serve``: a factory, its settings, errors as data.

:func:`create_app` loads the rule set (raising :class:`PolicyErrorsAtStart` when it has
errors: a service never starts on a broken rule set), opens the decision log when one is
asked for, and wires the module-level handlers of :mod:`engine.service.handlers` to
their routes. The lifespan installs the SIGHUP handler and the ``--watch`` poll; SIGTERM
is uvicorn's graceful shutdown (stop accepting, finish what is in flight, exit).

Whatever goes wrong becomes RFC 9457 problem details (``application/problem+json``): a
:class:`Problem` as it is, an unknown route or method as 404 or 405, and an unexpected
exception as a 500 whose traceback goes to the server's log, never into the response.
Every response names the ``rules_version`` that answered, in the ``Decree-Rules-Version``
header (and in the body of every decision).

Starlette, not FastAPI: the request schemas come from the rule set's vocabulary and change
on reload, and validation must speak the engine's words with JSON pointers, so FastAPI's
pydantic layer would be bypassed on every route; Starlette is the part of FastAPI that
is used, with fewer dependencies and less work per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.service.decisionlog import DecisionLog, RuleStore, store_of
from engine.service.decisions import canonical_json
from engine.service.requests import Problem
from engine.service.served import PolicyErrorsAtStart, RuleHolder

__all__ = ["PolicyErrorsAtStart", "Settings", "create_app"]

log = logging.getLogger("decree.serve")
RULES_HEADER = "Decree-Rules-Version"


@dataclass(frozen=True)
class Settings:
    """What ``decree serve`` is told on its command line."""

    rules: Path
    decision_log: Path | None = None
    admin_token: str | None = None
    max_body: int = 1 << 20  # bytes of one evaluation request
    max_batch_body: int = 16 << 20  # bytes of one batch request
    max_batch: int = 10_000  # persons in one batch
    watch: float | None = None  # seconds between polls of the rules directory
    durable: bool = True  # fsync each decision log write
    supervised: bool = False  # one of several workers (engine.service.server)


@dataclass
class Service:
    """What the handlers share: settings, the served rule set, the decision log."""

    settings: Settings
    holder: RuleHolder
    decisions: DecisionLog | None
    store: RuleStore | None
    tasks: set[asyncio.Task[Any]]


def answer(data: Any, version: str, status: int = 200, media_type: str = "application/json",
           headers: dict[str, str] | None = None) -> Response:
    """A JSON response in canonical text, naming the rules version that answered."""
    text = data if isinstance(data, (bytes, str)) else canonical_json(data)
    return Response(text, status, {RULES_HEADER: version, **(headers or {})}, media_type)


def problem_response(problem: Problem, version: str, headers: dict[str, str] | None = None) -> Response:
    return answer(problem.to_json(), version, problem.status, "application/problem+json", headers)


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """The handler, with every error it raises answered as problem details."""

    async def guarded_handler(request: Request) -> Response:
        try:
            return await handler(request)
        except Problem as problem:
            return problem_response(problem, _version(request),
                                    {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None)
    guarded_handler.__name__ = handler.__name__
    guarded_handler.__doc__ = handler.__doc__
    return guarded_handler


def _version(request: Request) -> str:
    service: Service | None = getattr(request.app.state, "service", None)
    return service.holder.current.version if service is not None else ""


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    titles = {404: "No such resource", 405: "Method not allowed"}
    problem = Problem(error.status_code, titles.get(error.status_code, "HTTP error"),
                      f"{request.method} {request.url.path}: {error.detail}")
    return problem_response(problem, _version(request), dict(error.headers or {}))


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=error)
    problem = Problem(500, "Internal error", "the service met an unexpected error; it is in the service's log",
                      "internal-error")
    return problem_response(problem, _version(request))


def create_app(settings: Settings) -> Starlette:
    """The application for ``settings``; raises :class:`PolicyErrorsAtStart` on a broken rule set."""
    from engine.service import handlers

    store = store_of(settings.decision_log) if settings.decision_log is not None else None
    holder = RuleHolder(settings.rules, store)
    if store is not None:
        store.remember(holder.current.version, holder.current.ruleset)
    decisions = DecisionLog(settings.decision_log, settings.durable) if settings.decision_log is not None else None
    service = Service(settings, holder, decisions, store, set())
    routes = [
        Route("/v1/evaluate", guarded(handlers.evaluate), methods=["POST"]),
        Route("/v1/explain/{output}", guarded(handlers.explain), methods=["POST"]),
        Route("/v1/batch", guarded(handlers.batch), methods=["POST"]),
        Route("/v1/rules", guarded(handlers.rules), methods=["GET"]),
        Route("/v1/rules/{id}", guarded(handlers.rule), methods=["GET"]),
        Route("/v1/decisions/{decision_id}", guarded(handlers.decision), methods=["GET"]),
        Route("/v1/admin/reload", guarded(handlers.reload), methods=["POST"]),
        Route("/healthz", guarded(handlers.healthz), methods=["GET"]),
        Route("/readyz", guarded(handlers.readyz), methods=["GET"]),
        Route("/openapi.json", guarded(handlers.openapi), methods=["GET"]),
        Route("/docs", guarded(handlers.docs), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=_lifespan,
                    exception_handlers={HTTPException: _http_error, Exception: _unexpected})
    app.state.service = service
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    service: Service = app.state.service
    loop = asyncio.get_running_loop()

    def on_hangup() -> None:
        task = loop.create_task(service.holder.reload("SIGHUP"))
        service.tasks.add(task)
        task.add_done_callback(service.tasks.discard)

    hangup = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
        hangup = True
    if service.settings.watch:
        watcher = loop.create_task(service.holder.watch(service.settings.watch))
        service.tasks.add(watcher)
    log.info("serving rules %s from %s (pid %d)", service.holder.current.version, service.settings.rules, os.getpid())
    try:
        yield
    finally:
        if hangup:
            loop.remove_signal_handler(signal.SIGHUP)
        for task in list(service.tasks):
            task.cancel()
        if service.decisions is not None:
            service.decisions.close()
