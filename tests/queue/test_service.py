"""A whole worker in-process: NOTIFY wake-up, polling fallback, registry rows, shutdown."""

from __future__ import annotations

import asyncio
import time

from psycopg_pool import AsyncConnectionPool

from tests.queue.conftest import calls, statuses
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.monitoring.stats import StatsRecorder
from vitaltrust.queue.enqueue import NewJob, enqueue, enqueue_many
from vitaltrust.queue.service import start_worker

Pool = AsyncConnectionPool[Conn]


async def wait_for(conn: Conn, query: str, expected: object, within: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        row = await (await conn.execute(query)).fetchone()
        if row is not None and row["v"] == expected:
            return time.monotonic() - t0
        await asyncio.sleep(0.02)
    raise AssertionError(f"{query} did not reach {expected!r} within {within}s")


DONE = "SELECT count(*) FILTER (WHERE status = 'completed') AS v FROM background_jobs"


async def test_notify_wakes_an_idle_worker_long_before_the_poll(pool: Pool, conn: Conn,
                                                                db_url: str,
                                                                settings: Settings) -> None:
    s = settings.model_copy(update={"poll_interval_seconds": 30.0})
    stats = StatsRecorder(pool)
    worker = await start_worker(db_url, pool, s, stats)
    try:
        await asyncio.sleep(0.5)  # idle, listening
        async with conn.transaction():
            await enqueue(conn, "test_record", {})
        assert await wait_for(conn, DONE, 1, within=5) < 3
        row = await (await conn.execute(
            "SELECT concurrency, is_leader, pid > 0 AS has_pid FROM workers WHERE worker_id = %s",
            (worker.worker_id,))).fetchone()
        assert row == {"concurrency": s.worker_concurrency, "is_leader": True, "has_pid": True}
    finally:
        await worker.stop()
        await stats.stop()
    assert await (await conn.execute("SELECT count(*) AS n FROM workers")).fetchone() == {"n": 0}
    perf = await (await conn.execute(
        "SELECT invocations, items FROM function_stats_minute WHERE function_name = 'job-worker'"
    )).fetchone()
    assert perf == {"invocations": 1, "items": 1}  # one call per batch, not per job


async def test_polling_picks_up_jobs_without_notify(pool: Pool, conn: Conn, db_url: str,
                                                    settings: Settings) -> None:
    s = settings.model_copy(update={"poll_interval_seconds": 0.3})
    stats = StatsRecorder(pool)
    worker = await start_worker(db_url, pool, s, stats)
    try:
        await asyncio.sleep(0.5)
        await enqueue_many(conn, [NewJob("test_record", {}) for _ in range(50)], notify=False)
        await wait_for(conn, DONE, 50, within=10)
    finally:
        await worker.stop()
        await stats.stop()
    assert set((await calls(conn)).values()) == {1}


async def test_stop_releases_jobs_still_running_after_the_timeout(pool: Pool, conn: Conn,
                                                                  db_url: str,
                                                                  settings: Settings) -> None:
    s = settings.model_copy(update={"shutdown_timeout_seconds": 0.5, "worker_concurrency": 2})
    stats = StatsRecorder(pool)
    ids = await enqueue_many(conn, [NewJob("test_record", {"sleep_ms": 30_000}) for _ in range(2)])
    worker = await start_worker(db_url, pool, s, stats)
    await wait_for(conn, "SELECT count(*) AS v FROM background_jobs WHERE status = 'processing'",
                   2, within=5)
    t0 = time.monotonic()
    await worker.stop()
    await stats.stop()
    assert time.monotonic() - t0 < 3
    rows = await (await conn.execute(
        "SELECT status, attempts, locked_by FROM background_jobs ORDER BY id")).fetchall()
    assert rows == [{"status": "pending", "attempts": 0, "locked_by": None}] * len(ids)
    assert await calls(conn) == {}
    assert await statuses(conn) == {"pending": 2}
