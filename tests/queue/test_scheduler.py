"""The scheduler in-process: leader election and failover, lease rescue, stale workers,
periodic tasks, retention that keeps statistics."""

from __future__ import annotations

import asyncio
from datetime import datetime

from psycopg_pool import AsyncConnectionPool

from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.queue import scheduler
from vitaltrust.queue.enqueue import enqueue
from vitaltrust.queue.scheduler import Scheduler, periodic_task
from vitaltrust.queue.worker import claim

Pool = AsyncConnectionPool[Conn]


async def tick_once(db_url: str, pool: Pool, settings: Settings) -> None:
    """One scheduler period of a worker that becomes (and then stops being) the leader."""
    s = Scheduler(db_url, pool, settings, "leader")
    try:
        assert await s.tick()
    finally:
        await s.close()


async def test_one_leader_and_failover_when_it_dies(pool: Pool, db_url: str,
                                                    settings: Settings) -> None:
    a = Scheduler(db_url, pool, settings, "a")
    b = Scheduler(db_url, pool, settings, "b")
    try:
        assert await a.tick() is True
        assert await b.tick() is False
        assert await a.tick() is True  # keeps it
        assert a._conn is not None
        await a._conn.close()  # the leader's session dies (crash, network): the lock goes
        # ...once the server has ended that backend (a few ms; a real tick is 15 s later)
        for _ in range(50):
            if await b.tick():
                break
            await asyncio.sleep(0.05)
        assert b.is_leader is True
        assert a.is_leader is True  # a has not noticed yet...
        assert await a.tick() is False  # ...and steps down at its next tick
    finally:
        await a.close()
        await b.close()


async def test_expired_lease_is_rescued_and_counts_as_an_attempt(pool: Pool, conn: Conn,
                                                                 db_url: str,
                                                                 settings: Settings) -> None:
    again = await enqueue(conn, "noop", {"n": 1}, max_attempts=3)
    last = await enqueue(conn, "noop", {"n": 2}, max_attempts=1)
    alive = await enqueue(conn, "noop", {"n": 3})
    await claim(conn, "ghost", 3, 60)
    await conn.execute("UPDATE background_jobs SET locked_until = now() - interval '1 s' "
                       "WHERE id IN (%s, %s)", (again, last))
    await tick_once(db_url, pool, settings)
    rows = {r["id"]: r for r in await (await conn.execute(
        "SELECT id, status, attempts, last_error, locked_by FROM background_jobs")).fetchall()}
    assert (rows[again]["status"], rows[again]["attempts"], rows[again]["locked_by"]) == ("pending", 1, None)
    assert "lease expired: worker ghost" in rows[again]["last_error"]
    assert (rows[last]["status"], rows[last]["attempts"]) == ("failed", 1)
    assert (rows[alive]["status"], rows[alive]["locked_by"]) == ("processing", "ghost")
    logged = await (await conn.execute(
        "SELECT job_id, event FROM edge_function_logs WHERE function_name = 'job-worker'")).fetchall()
    assert logged == [{"job_id": last, "event": "job_failed"}]
    stats = await (await conn.execute("SELECT failed, retried FROM job_stats_minute "
                                      "WHERE job_type = 'noop'")).fetchone()
    assert stats == {"failed": 1, "retried": 1}


async def test_leader_deletes_stale_workers_only(pool: Pool, conn: Conn, db_url: str,
                                                 settings: Settings) -> None:
    await conn.execute(
        "INSERT INTO workers (worker_id, host, pid, version, concurrency, heartbeat_seconds, "
        "last_seen_at) VALUES ('dead', 'h', 1, 'v', 1, 10, now() - interval '31 s'), "
        "('slow', 'h', 2, 'v', 1, 10, now() - interval '29 s')")
    await tick_once(db_url, pool, settings)
    rows = await (await conn.execute("SELECT worker_id FROM workers")).fetchall()
    assert rows == [{"worker_id": "slow"}]


async def test_periodic_tasks_run_per_interval_in_own_transaction(pool: Pool, conn: Conn,
                                                                  db_url: str,
                                                                  settings: Settings) -> None:
    await conn.execute("CREATE TABLE test_ticks (at timestamptz)")
    seen: list[datetime] = []

    @periodic_task("test.tick", interval_seconds=3600)
    async def tick(c: Conn, now: datetime) -> None:
        seen.append(now)
        await c.execute("INSERT INTO test_ticks VALUES (%s)", (now,))

    @periodic_task("test.broken", interval_seconds=3600)
    async def broken(c: Conn, now: datetime) -> None:
        await c.execute("INSERT INTO test_ticks VALUES (%s)", (now,))
        raise ValueError("nope")

    try:
        first = Scheduler(db_url, pool, settings, "one")
        await first.tick()
        await first.tick()  # within the interval: not again
        await first.close()
        second = Scheduler(db_url, pool, settings, "two")  # a new leader does not rerun it
        await second.tick()
        await second.close()
    finally:  # the registry is global: remove ours
        scheduler._TASKS.pop("test.tick", None)
        scheduler._TASKS.pop("test.broken", None)
    assert len(seen) == 1
    ticks = await (await conn.execute("SELECT count(*) AS n FROM test_ticks")).fetchone()
    assert ticks == {"n": 1}  # the broken task's insert was rolled back
    rows = {r["name"]: r for r in await (await conn.execute(
        "SELECT name, last_ok_at IS NOT NULL AS ok, last_error FROM scheduler_tasks")).fetchall()}
    assert rows["test.tick"]["ok"] and rows["test.tick"]["last_error"] is None
    assert rows["test.broken"]["last_error"] == "ValueError: nope"
    assert "queue.retention" in rows


async def test_retention_prunes_rows_but_keeps_statistics(pool: Pool, conn: Conn, db_url: str,
                                                          settings: Settings) -> None:
    await conn.execute(
        "INSERT INTO background_jobs (type, status, created_at, completed_at) VALUES "
        "('noop', 'completed', now() - interval '8 days', now() - interval '8 days'), "
        "('noop', 'completed', now() - interval '1 day', now() - interval '1 day'), "
        "('noop', 'failed', now() - interval '30 days', NULL)")
    await conn.execute(
        "INSERT INTO edge_function_logs (function_name, event, created_at) VALUES "
        "('job-worker', 'old', now() - interval '31 days'), ('job-worker', 'new', now())")
    await conn.execute(
        "INSERT INTO job_stats_minute (job_type, bucket, completed) VALUES "
        "('noop', date_trunc('minute', now() - interval '8 days'), 1)")
    await tick_once(db_url, pool, settings)
    jobs = await (await conn.execute(
        "SELECT status, now() - created_at < interval '2 days' AS recent FROM background_jobs "
        "ORDER BY status")).fetchall()
    assert jobs == [{"status": "completed", "recent": True}, {"status": "failed", "recent": False}]
    logs = await (await conn.execute("SELECT event FROM edge_function_logs")).fetchall()
    assert logs == [{"event": "new"}]
    stats = await (await conn.execute("SELECT sum(completed) AS n FROM job_stats_minute")).fetchone()
    assert stats == {"n": 1}


def test_workers_load_every_domains_jobs_module() -> None:
    import sys

    from vitaltrust.queue.registry import _domain_job_modules, load_handlers

    handlers = load_handlers()
    modules = _domain_job_modules()
    assert "vitaltrust.monitoring.jobs" in modules  # periodic tasks only, no handler
    assert all(m in sys.modules for m in modules)
    assert {"noop", "webhook_processing", "confidence_calculation"} <= set(handlers)
    assert {"confidence_refresh", "monitoring.daily_rollup"} <= set(scheduler.registered_tasks())
