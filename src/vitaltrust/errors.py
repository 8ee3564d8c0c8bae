"""RFC 9457 problem details: every HTTP error is `application/problem+json`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# how long a client should wait after a 503 for an unreachable database
DB_RETRY_AFTER_SECONDS = 5


class Problem(Exception):
    """Raise anywhere below a route to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 type_: str = "about:blank", headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, detail: str, *, title: str | None = None,
                     type_: str = "about:blank", headers: dict[str, str] | None = None,
                     instance: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                        headers={**(headers or {}), "X-Content-Type-Options": "nosniff"})


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.detail, title=exc.title, type_=exc.type,
                            headers=exc.headers, instance=request.url.path, **exc.extra)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}),
                            instance=request.url.path)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
         "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return problem_response(422, f"{where}: {first['msg']}" if where else str(first["msg"]),
                            title="Invalid request", instance=request.url.path, errors=errors)


def database_unavailable(exc: BaseException) -> JSONResponse:
    """503 + Retry-After: the one answer for an unreachable or restarting database."""
    return problem_response(503, f"the database is unavailable ({type(exc).__name__}); retry later",
                            title="Database unavailable",
                            headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)})


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    # OperationalError covers psycopg_pool.PoolTimeout, AdminShutdown and refused connections
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                type(exc).__name__)
    return database_unavailable(exc)


async def _on_unstorable(request: Request, exc: Exception) -> JSONResponse:
    """Last line behind vitaltrust.edge: input that reached PostgreSQL and was refused there
    (a value out of range, text it cannot hold) is the client's error, never a 500."""
    log.warning("refused by the database on %s %s: %s", request.method, request.url.path,
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    if isinstance(exc, RecursionError):
        return problem_response(400, "the request is nested too deeply",
                                instance=request.url.path)
    return problem_response(422, "a value cannot be stored (out of range or invalid text)",
                            title="Invalid request", instance=request.url.path)


def loggable_path(path: str) -> str:
    """The path with a Garmin URL token (`/webhooks/{source}/{token}`) masked: the token is
    a credential and must not reach the logs."""
    parts = path.split("/", 4)
    if len(parts) >= 4 and parts[1] == "webhooks" and parts[3]:
        parts[3] = "****"
    return "/".join(parts)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    path = loggable_path(request.url.path)
    log.exception("unhandled error on %s %s", request.method, path)
    return problem_response(500, "An internal error occurred; it has been logged.",
                            instance=path)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(psycopg.OperationalError, _on_database_down)
    app.add_exception_handler(psycopg.InterfaceError, _on_database_down)
    for unstorable in (psycopg.DataError, UnicodeEncodeError, RecursionError):
        app.add_exception_handler(unstorable, _on_unstorable)
    app.add_exception_handler(Exception, _on_unexpected)
