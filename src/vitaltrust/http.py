"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

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


async def get_conn(pool: Annotated[AsyncConnectionPool[Conn], Depends(get_pool)]
                   ) -> AsyncIterator[Conn]:
    """One connection and transaction for the request (reads and small writes).

    A route whose reply must follow a durable commit (ingestion) opens its own
    transaction with `vitaltrust.db.transaction` instead.
    """
    async with transaction(pool) as conn:
        yield conn


Pool = Annotated[AsyncConnectionPool[Conn], Depends(get_pool)]
# scope="function": commit before the response is sent. With the default ("request")
# FastAPI runs the exit after sending, so a client could read its own write too early,
# or be told 200 for a transaction whose commit then fails.
DbConn = Annotated[Conn, Depends(get_conn, scope="function")]
AppSettings = Annotated[Settings, Depends(get_app_settings)]
