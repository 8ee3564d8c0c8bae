"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from vitaltrust.config import Settings
from vitaltrust.db import Conn, transaction


# async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread
# hop on every request (measured: the largest cost of a cached lookup on a busy host).
async def get_pool(request: Request) -> AsyncConnectionPool[Conn]:
    pool: AsyncConnectionPool[Conn] = request.app.state.pool
    return pool


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


F = TypeVar("F", bound=Callable[..., Any])
READ_ONLY_MARK = "__vitaltrust_read_only__"


def read_only(endpoint: F) -> F:
    """Marks a route whose statements each stand on their own (reads, and at most the
    single-statement touch of the caller's credential): its connection runs them in
    autocommit, without the BEGIN and COMMIT round trips. Put it under `@router.get`."""
    setattr(endpoint, READ_ONLY_MARK, True)
    return endpoint


async def get_conn(request: Request,
                   pool: Annotated[AsyncConnectionPool[Conn], Depends(get_pool)]
                   ) -> AsyncIterator[Conn]:
    """One connection and transaction for the request (reads and small writes); a
    `read_only` route gets the connection without a transaction.

    A route whose reply must follow a durable commit (ingestion) opens its own
    transaction with `vitaltrust.db.transaction` instead.
    """
    if getattr(request.scope.get("endpoint"), READ_ONLY_MARK, False):
        async with pool.connection() as conn:
            yield conn
        return
    async with transaction(pool) as conn:
        yield conn


Pool = Annotated[AsyncConnectionPool[Conn], Depends(get_pool)]
# scope="function": commit before the response is sent. With the default ("request")
# FastAPI runs the exit after sending, so a client could read its own write too early,
# or be told 200 for a transaction whose commit then fails.
DbConn = Annotated[Conn, Depends(get_conn, scope="function")]
AppSettings = Annotated[Settings, Depends(get_app_settings)]
