"""Queue fixtures: a pool on the test database and the test-only handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from psycopg_pool import AsyncConnectionPool

import tests.queue.handlers as handlers
from vitaltrust.config import Settings
from vitaltrust.db import Conn, create_pool


@pytest.fixture
async def pool(db_url: str, settings: Settings, conn: Conn) -> AsyncIterator[AsyncConnectionPool[Conn]]:
    await conn.execute(handlers.CALLS_TABLE)
    p = create_pool(db_url, settings)
    await p.open(wait=True)
    try:
        yield p
    finally:
        await p.close()


async def calls(conn: Conn) -> dict[int, int]:
    rows = await (await conn.execute(
        "SELECT job_id, count(*) AS n FROM test_job_calls GROUP BY job_id")).fetchall()
    return {r["job_id"]: r["n"] for r in rows}


async def statuses(conn: Conn) -> dict[str, int]:
    rows = await (await conn.execute(
        "SELECT status, count(*) AS n FROM background_jobs GROUP BY status")).fetchall()
    return {r["status"]: r["n"] for r in rows}
