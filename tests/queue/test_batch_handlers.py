"""Batch handlers: every claimed job of the type in one call and one transaction; a failing
job is isolated (one savepoint per job) and retried alone; statistics of a running worker
are counted in memory after the commit and flushed, exact, without a lock on the commit."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from tests.queue.conftest import calls, statuses
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.monitoring.stats import StatsRecorder
from vitaltrust.queue.enqueue import NewJob, enqueue_many
from vitaltrust.queue.worker import BatchRunner, claim, run_until_idle

Pool = AsyncConnectionPool[Conn]

BATCH_SIZES = "SELECT job_id, attempt AS size FROM test_job_calls ORDER BY job_id"


async def test_batch_handler_gets_every_claimed_job_of_its_type_at_once(
        pool: Pool, conn: Conn, settings: Settings) -> None:
    jobs = [NewJob("test_batched", {}), NewJob("test_record", {}), NewJob("test_batched", {}),
            NewJob("test_batched", {})]
    ids = await enqueue_many(conn, jobs)
    assert await run_until_idle(pool, settings) == 4
    rows = await (await conn.execute(BATCH_SIZES)).fetchall()
    sizes = {r["job_id"]: r["size"] for r in rows}
    assert [sizes[ids[i]] for i in (0, 2, 3)] == [3, 3, 3]  # one call with three jobs
    assert await calls(conn) == dict.fromkeys(ids, 1)
    assert await statuses(conn) == {"completed": 4}


async def test_a_failing_job_in_a_batch_call_is_isolated_and_retried_alone(
        pool: Pool, conn: Conn, settings: Settings) -> None:
    jobs = [NewJob("test_batched", {}), NewJob("test_batched", {"bad": True}),
            NewJob("test_batched", {}), NewJob("test_record", {})]
    ids = await enqueue_many(conn, jobs)
    assert await run_until_idle(pool, settings) == 4
    # the failed batch call rolled back; each good job then ran alone, exactly once
    assert await calls(conn) == {ids[0]: 1, ids[2]: 1, ids[3]: 1}
    rows = await (await conn.execute(
        "SELECT id, status, attempts, last_error FROM background_jobs ORDER BY id")).fetchall()
    assert [(r["status"], r["attempts"]) for r in rows] == [
        ("completed", 0), ("pending", 1), ("completed", 0), ("completed", 0)]
    assert rows[1]["last_error"] == f"RuntimeError: bad job {ids[1]}"
    sizes = await (await conn.execute(BATCH_SIZES)).fetchall()
    assert {r["size"] for r in sizes if r["job_id"] != ids[3]} == {1}
    stats = await (await conn.execute(
        "SELECT sum(completed) AS c, sum(retried) AS r FROM job_stats_minute "
        "WHERE job_type = 'test_batched'")).fetchone()
    assert stats == {"c": 2, "r": 1}


async def test_a_running_workers_statistics_wait_for_the_commit_then_flush_exactly(
        pool: Pool, conn: Conn, settings: Settings) -> None:
    await enqueue_many(conn, [NewJob("test_batched", {}) for _ in range(5)]
                       + [NewJob("test_fail", {})])
    recorder = StatsRecorder(pool)
    runner = BatchRunner("w", settings, stats=recorder)
    result = await runner.run(conn, await claim(conn, "w", 10, 60))
    assert len(result.completed) == 5 and len(result.retried) == 1
    empty = await (await conn.execute("SELECT count(*) AS n FROM job_stats_minute")).fetchone()
    assert empty == {"n": 0}  # nothing written on the jobs' commit path
    await recorder.flush()
    rows = await (await conn.execute(
        "SELECT job_type, completed, failed, retried FROM job_stats_minute ORDER BY job_type"
    )).fetchall()
    assert [tuple(r.values()) for r in rows] == [("test_batched", 5, 0, 0), ("test_fail", 0, 0, 1)]
    await recorder.flush()  # drained: a second flush adds nothing
    again = await (await conn.execute("SELECT sum(completed) AS c FROM job_stats_minute")).fetchone()
    assert again == {"c": 5}
