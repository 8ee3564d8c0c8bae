"""The request connection: a checkout is checked (an empty query) unless the connection
was handed out a moment ago, so a connection the server cut is replaced, never
handed to a request; a `read_only` route runs without a transaction, any other route in
one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from psycopg import pq
from psycopg_pool import AsyncConnectionPool

from vitaltrust import db
from vitaltrust.config import Settings
from vitaltrust.db import Conn, connect, create_pool
from vitaltrust.http import DbConn, read_only


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The backend pid of every checkout the pool checked."""
    seen: list[int] = []
    real = AsyncConnectionPool.check_connection

    async def counting(conn: Conn) -> None:
        seen.append(conn.info.backend_pid)
        await real(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(counting))
    return seen


async def backend_pid(pool: AsyncConnectionPool[Conn]) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone()
        assert row is not None
        return int(row["pid"])


async def test_a_just_used_connection_is_not_checked_an_idle_one_is(
        settings: Settings, db_url: str, checks: list[int]) -> None:
    pool = create_pool(db_url, settings.model_copy(update={"pool_min_size": 1,
                                                            "pool_max_size": 1}))
    await pool.open(wait=True)
    try:
        first = await backend_pid(pool)
        assert await backend_pid(pool) == first  # in use a moment ago: no empty query
        assert checks.count(first) == 1
        await asyncio.sleep(db.RECENT_USE_SECONDS * 2)
        assert await backend_pid(pool) == first
        assert checks.count(first) == 2  # idle a while: checked again
    finally:
        await pool.close()


async def test_a_connection_the_server_cut_is_replaced_not_handed_out(
        settings: Settings, db_url: str, checks: list[int]) -> None:
    pool = create_pool(db_url, settings.model_copy(update={"pool_min_size": 1,
                                                            "pool_max_size": 1}))
    await pool.open(wait=True)
    admin = await connect(db_url)
    try:
        cut = await backend_pid(pool)
        await admin.execute("SELECT pg_terminate_backend(%s)", (cut,))
        await asyncio.sleep(db.RECENT_USE_SECONDS * 2)
        replacement = await backend_pid(pool)  # the request gets a working connection
        assert replacement != cut
        assert cut in checks  # found out by the check, not by the request
    finally:
        await admin.close()
        await pool.close()


async def test_read_only_routes_run_without_a_transaction(settings: Settings,
                                                          db_url: str) -> None:
    import httpx

    app = FastAPI()
    app.state.pool = create_pool(db_url, settings)
    await app.state.pool.open(wait=True)

    async def status(conn: Conn) -> dict[str, Any]:
        await conn.execute("SELECT 1")
        return {"in_transaction": conn.info.transaction_status == pq.TransactionStatus.INTRANS}

    @app.get("/plain")
    async def plain(conn: DbConn) -> dict[str, Any]:
        return await status(conn)

    @app.get("/read-only")
    @read_only
    async def lookup(conn: DbConn) -> dict[str, Any]:
        return await status(conn)

    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/plain")).json() == {"in_transaction": True}
            assert (await client.get("/read-only")).json() == {"in_transaction": False}
    finally:
        await app.state.pool.close()
