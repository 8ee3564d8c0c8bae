"""The batch runner in-process: completion, failures, backoff, timeouts, unknown types,
dedupe, statistics, and the lease check that keeps effects exactly-once."""

from __future__ import annotations

from datetime import timedelta

from psycopg_pool import AsyncConnectionPool

from tests.queue.conftest import calls, statuses
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.queue.enqueue import NewJob, enqueue, enqueue_many
from vitaltrust.queue.worker import BatchRunner, claim, retry_delay, run_until_idle

Pool = AsyncConnectionPool[Conn]


async def test_run_until_idle_completes_each_job_once(pool: Pool, conn: Conn,
                                                      settings: Settings) -> None:
    ids = await enqueue_many(conn, [NewJob("test_record", {"i": i}) for i in range(45)])
    assert await run_until_idle(pool, settings) == 45
    assert await calls(conn) == dict.fromkeys(ids, 1)
    assert await statuses(conn) == {"completed": 45}
    row = await (await conn.execute(
        "SELECT sum(completed) AS c FROM job_stats_minute WHERE job_type = 'test_record'")).fetchone()
    assert row is not None and row["c"] == 45


async def test_claim_orders_by_priority_then_run_at(conn: Conn, settings: Settings) -> None:
    late = await enqueue(conn, "noop", {}, priority=5)
    early = await enqueue(conn, "noop", {}, priority=-1)
    mid = await enqueue(conn, "noop", {})
    batch = await claim(conn, "w", 2, 60)
    assert [c.job.id for c in batch] == [early, mid]
    assert late is not None


async def test_failure_backs_off_with_jitter_then_fails_and_logs(pool: Pool, conn: Conn,
                                                                 settings: Settings) -> None:
    job = await enqueue(conn, "test_fail", {"tag": "x", "user_id": 7}, max_attempts=2)
    assert await run_until_idle(pool, settings) == 1
    row = await (await conn.execute(
        "SELECT status, attempts, last_error, run_at - now() AS wait FROM background_jobs "
        "WHERE id = %s", (job,))).fetchone()
    assert row is not None
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "RuntimeError: boom x")
    assert timedelta(seconds=1.5) < row["wait"] <= timedelta(seconds=2.6)
    assert await calls(conn) == {}  # the failed attempt's writes were rolled back
    # not runnable yet (backoff); make it due and run the last attempt
    assert await run_until_idle(pool, settings) == 0
    await conn.execute("UPDATE background_jobs SET run_at = now() WHERE id = %s", (job,))
    assert await run_until_idle(pool, settings) == 1
    row = await (await conn.execute("SELECT status, attempts, failed_at FROM background_jobs "
                                    "WHERE id = %s", (job,))).fetchone()
    assert row is not None and (row["status"], row["attempts"]) == ("failed", 2)
    log = await (await conn.execute(
        "SELECT function_name, level, event, job_type, attempts, error, payload_summary "
        "FROM edge_function_logs WHERE job_id = %s", (job,))).fetchall()
    assert log == [{"function_name": "job-worker", "level": "error", "event": "job_failed",
                    "job_type": "test_fail", "attempts": 2, "error": "RuntimeError: boom x",
                    "payload_summary": {"tag": "x", "user_id": 7}}]
    stats = await (await conn.execute(
        "SELECT sum(failed) AS f, sum(retried) AS r FROM job_stats_minute "
        "WHERE job_type = 'test_fail'")).fetchone()
    assert stats == {"f": 1, "r": 1}


def test_retry_delay_grows_exponentially_with_bounded_jitter() -> None:
    for attempt, base in ((1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0)):
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(base <= d <= base * 1.25 for d in delays)
        assert len(delays) > 1  # jitter
    assert retry_delay(40) <= 3600 * 1.25


async def test_a_failing_job_does_not_undo_its_batch_mates(pool: Pool, conn: Conn,
                                                          settings: Settings) -> None:
    jobs = [NewJob("test_record", {}), NewJob("test_fail", {}), NewJob("test_record", {}),
            NewJob("test_flaky", {"fail_times": 1}), NewJob("test_record", {})]
    ids = await enqueue_many(conn, jobs)
    assert await run_until_idle(pool, settings) == 5
    assert await calls(conn) == {ids[0]: 1, ids[2]: 1, ids[4]: 1}
    rows = await (await conn.execute("SELECT id, status FROM background_jobs ORDER BY id")).fetchall()
    assert [r["status"] for r in rows] == ["completed", "pending", "completed", "pending", "completed"]


async def test_timeout_is_a_failure_and_cancels_the_query(pool: Pool, conn: Conn,
                                                         settings: Settings) -> None:
    job = await enqueue(conn, "test_slow", {"seconds": 30})
    ok = await enqueue(conn, "test_record", {})
    assert await run_until_idle(pool, settings, timeout=10) == 2
    row = await (await conn.execute("SELECT status, attempts, last_error FROM background_jobs "
                                    "WHERE id = %s", (job,))).fetchone()
    assert row is not None and row["status"] == "pending" and row["attempts"] == 1
    assert "timeout" in row["last_error"]
    assert await calls(conn) == {ok: 1}
    active = await (await conn.execute(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%%' "
        "AND state = 'active' AND datname = current_database()")).fetchone()
    assert active == {"n": 0}


async def test_unknown_job_type_fails_clearly_without_crashing(pool: Pool, conn: Conn,
                                                             settings: Settings) -> None:
    bad = await enqueue(conn, "no_such_type", {"x": 1})
    good = await enqueue(conn, "test_record", {})
    assert await run_until_idle(pool, settings) == 2
    row = await (await conn.execute("SELECT status, last_error FROM background_jobs WHERE id = %s",
                                    (bad,))).fetchone()
    assert row is not None and row["status"] == "failed"
    assert "unknown job type 'no_such_type'" in row["last_error"]
    assert await calls(conn) == {good: 1}


async def test_dedupe_key_allows_one_pending_job(conn: Conn) -> None:
    first = await enqueue(conn, "noop", {}, dedupe_key="confidence:1:weight")
    again = await enqueue(conn, "noop", {}, dedupe_key="confidence:1:weight")
    assert first is not None and again is None
    bulk = await enqueue_many(conn, [NewJob("noop", {}, dedupe_key="confidence:1:weight"),
                                     NewJob("noop", {}, dedupe_key="confidence:2:weight")])
    assert len(bulk) == 1
    await claim(conn, "w", 10, 60)  # processing jobs no longer hold their key
    assert await enqueue(conn, "noop", {}, dedupe_key="confidence:1:weight") is not None


async def test_retry_when_a_twin_is_pending_drops_the_key(pool: Pool, conn: Conn,
                                                          settings: Settings) -> None:
    first = await enqueue(conn, "test_fail", {}, dedupe_key="k")
    batch = await claim(conn, "w", 1, 60)
    twin = await enqueue(conn, "test_fail", {}, dedupe_key="k")
    result = await BatchRunner("w", settings).run(conn, batch)
    assert result.retried == [first]
    rows = await (await conn.execute("SELECT id, status, dedupe_key FROM background_jobs ORDER BY id"
                                     )).fetchall()
    assert rows == [{"id": first, "status": "pending", "dedupe_key": None},
                    {"id": twin, "status": "pending", "dedupe_key": "k"}]


async def test_a_lost_lease_rolls_back_that_jobs_effects(conn: Conn, settings: Settings,
                                                         pool: Pool) -> None:
    ids = await enqueue_many(conn, [NewJob("test_record", {}) for _ in range(3)])
    batch = await claim(conn, "w", 3, 60)
    # the scheduler gave job 2 to someone else meanwhile
    await conn.execute("UPDATE background_jobs SET locked_by = 'other' WHERE id = %s", (ids[1],))
    result = await BatchRunner("w", settings).run(conn, batch)
    assert result.completed == [ids[0], ids[2]] and result.lost == [ids[1]]
    assert await calls(conn) == {ids[0]: 1, ids[2]: 1}


async def test_stop_between_jobs_releases_the_rest(conn: Conn, settings: Settings,
                                                   pool: Pool) -> None:
    import asyncio

    await enqueue_many(conn, [NewJob("test_record", {}) for _ in range(3)])
    batch = await claim(conn, "w", 3, 60)
    stop = asyncio.Event()
    stop.set()
    result = await BatchRunner("w", settings).run(conn, batch, stop)
    assert result.completed == [] and len(result.released) == 3
    assert await statuses(conn) == {"pending": 3}


async def test_enqueue_many_keeps_per_job_fields(conn: Conn) -> None:
    from datetime import UTC, datetime

    later = datetime(2030, 1, 1, tzinfo=UTC)
    ids = await enqueue_many(conn, [
        NewJob("noop", {"a": 1}),
        NewJob("noop", {"b": 2}, priority=-3, run_at=later, max_attempts=2, is_sandbox=True),
    ])
    uniform = await enqueue_many(conn, [NewJob("noop", {}, priority=4, run_at=later,
                                               max_attempts=9, is_sandbox=True)] * 2)
    rows = await (await conn.execute(
        "SELECT id, payload, priority, run_at = %s AS later, max_attempts, is_sandbox "
        "FROM background_jobs ORDER BY id", (later,))).fetchall()
    assert rows == [
        {"id": ids[0], "payload": {"a": 1}, "priority": 0, "later": False, "max_attempts": 5,
         "is_sandbox": False},
        {"id": ids[1], "payload": {"b": 2}, "priority": -3, "later": True, "max_attempts": 2,
         "is_sandbox": True},
        *[{"id": i, "payload": {}, "priority": 4, "later": True, "max_attempts": 9,
           "is_sandbox": True} for i in uniform],
    ]
