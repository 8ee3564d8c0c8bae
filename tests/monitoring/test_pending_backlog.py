"""With a pending backlog, the dashboard, job_processing_stats, the health signals and
/metrics report exactly what a direct count of the queue table says (a sequential scan),
though they read the pending and failed counters of migration 0710; the counters stay exact through
the queue's own statements (claim, complete, fail, release, retry, delete, truncate) and
their compaction, and can be rebuilt after a load that bypassed the triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import vitaltrust.monitoring.jobs  # noqa: F401 - registers the periodic tasks
from vitaltrust.db import Conn, connect
from vitaltrust.monitoring import queries
from vitaltrust.monitoring.health import MEASURE, measure_health_signals
from vitaltrust.monitoring.prometheus import collect_families
from vitaltrust.queue import sql as queue_sql
from vitaltrust.queue.enqueue import enqueue
from vitaltrust.queue.scheduler import registered_tasks

# 2,400 pending jobs over three types, enqueued across 12 days (some before the views'
# 7-day window), a fifth of them not yet runnable; sandbox, processing, failed and
# completed jobs beside them must not be counted as pending.
BACKLOG = """
INSERT INTO background_jobs (type, payload, status, run_at, created_at, is_sandbox,
                             locked_until, failed_at, completed_at)
SELECT (ARRAY['alpha_job', 'beta_job', 'gamma_job'])[1 + g %% 3], '{}'::jsonb,
       %(status)s,
       CASE WHEN g %% 5 = 0 THEN now() + interval '1 hour'
            ELSE now() - (g %% 97) * interval '1 minute' END,
       now() - (g %% 12) * interval '1 day' - (g %% 1440) * interval '1 minute',
       %(sandbox)s,
       CASE WHEN %(status)s = 'processing' THEN now() + interval '1 minute' END,
       CASE WHEN %(status)s = 'failed' THEN now() END,
       CASE WHEN %(status)s = 'completed' THEN now() END
FROM generate_series(1, %(n)s) AS g
"""
NO_INDEXES = ("SET enable_indexscan = off", "SET enable_indexonlyscan = off",
              "SET enable_bitmapscan = off")
DIRECT_QUEUE = """
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'processing') AS processing,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       extract(epoch FROM now() - min(created_at) FILTER (
           WHERE status = 'pending' AND run_at <= now()))::float8 AS oldest_created,
       extract(epoch FROM now() - min(run_at) FILTER (
           WHERE status = 'pending' AND run_at <= now()))::float8 AS oldest_run_at
FROM background_jobs WHERE NOT is_sandbox
"""
DIRECT_BY_DAY = """
SELECT greatest((created_at AT TIME ZONE 'UTC')::date,
                (monitoring_window_start(7) AT TIME ZONE 'UTC')::date) AS date,
       type AS job_type, count(*) AS pending
FROM background_jobs WHERE status = 'pending' AND NOT is_sandbox
GROUP BY 1, 2
"""
DIRECT_BY_TYPE = """
SELECT type, status, count(*) AS n FROM background_jobs
WHERE status IN ('pending', 'processing', 'failed') AND NOT is_sandbox GROUP BY 1, 2
"""


async def rows(conn: Conn, query: str, params: dict[str, Any] | None = None
               ) -> list[dict[str, Any]]:
    return [dict(r) for r in await (await conn.execute(query, params)).fetchall()]


async def add_backlog(conn: Conn) -> None:
    for status, sandbox, n in (("pending", False, 2400), ("pending", True, 300),
                               ("processing", False, 7), ("failed", False, 40),
                               ("completed", False, 500)):
        await conn.execute(BACKLOG, {"status": status, "sandbox": sandbox, "n": n})
    await conn.execute("ANALYZE background_jobs")


async def direct(conn: Conn, query: str) -> list[dict[str, Any]]:
    """The answer of a sequential scan of the whole table."""
    for setting in NO_INDEXES:
        await conn.execute(setting)
    try:
        return await rows(conn, query)
    finally:
        await conn.execute("RESET ALL")


async def test_counts_and_oldest_ages_match_a_direct_count(conn: Conn) -> None:
    await add_backlog(conn)
    want = (await direct(conn, DIRECT_QUEUE))[0]
    assert want["pending"] == 2400 and want["oldest_created"] > 11 * 86400

    data = (await rows(conn, "SELECT get_monitoring_dashboard_data() AS d"))[0]["d"]
    queue = data["job_queue"]
    assert (queue["pending"], queue["processing"], queue["failed"]) == (
        want["pending"], want["processing"], want["failed"])
    assert abs(float(queue["oldest_pending_age_seconds"]) - want["oldest_created"]) < 2
    pending_check = next(c for c in data["system_health"]["checks"]
                         if c["name"] == "pending_jobs")
    assert pending_check["value"] == want["pending"]

    signals = await measure_health_signals(conn)
    assert signals.pending == want["pending"]
    assert signals.oldest_pending_seconds is not None
    assert abs(signals.oldest_pending_seconds - want["oldest_run_at"]) < 2


async def test_job_processing_stats_pending_per_day_and_type(conn: Conn) -> None:
    await add_backlog(conn)
    want = {(r["date"], r["job_type"]): r["pending"] for r in await direct(conn, DIRECT_BY_DAY)}
    assert len({day for day, _ in want}) == 7  # days before the window fold onto its first
    got = {(r["date"], r["job_type"]): r["pending"]
           for r in await rows(conn, "SELECT * FROM job_processing_stats")}
    assert got == want
    assert sum(got.values()) == 2400


async def test_metrics_queue_depth_by_type_and_status(conn: Conn) -> None:
    await add_backlog(conn)
    want = {(r["type"], r["status"]): r["n"] for r in await direct(conn, DIRECT_BY_TYPE)}
    depth = next(f for f in await collect_families(conn)
                 if f.name == "vitaltrust_job_queue_depth")
    got = {(s.labels["job_type"], s.labels["status"]): s.value for s in depth.samples}
    assert got == want
    assert sum(v for (_, status), v in got.items() if status == "pending") == 2400


COUNTERS = "SELECT type, day, pending FROM job_pending_by_day"
DIRECT_COUNTERS = """
SELECT type, (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS pending
FROM background_jobs WHERE status = 'pending' AND NOT is_sandbox GROUP BY 1, 2
"""


FAILED_COUNTERS = "SELECT type, failed FROM job_failed_by_type"
DIRECT_FAILED = """
SELECT type, count(*) AS failed FROM background_jobs
WHERE status = 'failed' AND NOT is_sandbox GROUP BY 1
"""


async def assert_counters_exact(conn: Conn) -> int:
    """Pending per (type, day) and failed per type as counted; returns the pending total."""
    want = {(r["type"], r["day"]): r["pending"] for r in await direct(conn, DIRECT_COUNTERS)}
    got = {(r["type"], r["day"]): r["pending"] for r in await rows(conn, COUNTERS)}
    assert got == want
    want_failed = {r["type"]: r["failed"] for r in await direct(conn, DIRECT_FAILED)}
    assert {r["type"]: r["failed"] for r in await rows(conn, FAILED_COUNTERS)} == want_failed
    return sum(want.values())


async def test_counters_stay_exact_through_the_queue_statements(conn: Conn) -> None:
    await add_backlog(conn)
    assert await assert_counters_exact(conn) == 2400
    worker = {"worker": "w1", "lease": 60, "keep_keys": True}
    claimed = [r["id"] for r in await rows(conn, queue_sql.CLAIM, {**worker, "n": 500})]
    assert len(claimed) == 500
    assert await assert_counters_exact(conn) < 2400
    await conn.execute(queue_sql.COMPLETE_MANY, {**worker, "ids": claimed[:200]})
    n = len(claimed[200:400])
    await conn.execute(queue_sql.FAIL_MANY, {
        **worker, "ids": claimed[200:400], "errors": ["boom"] * n, "delays": [0.0] * n,
        "final": [i % 2 == 0 for i in range(n)]})  # half back to pending, half failed
    await conn.execute(queue_sql.RELEASE, {**worker, "ids": None})  # the last 100
    await assert_counters_exact(conn)  # 100 failed for good, 200 pending again
    assert (await rows(conn, "SELECT retry_failed_jobs('alpha_job') AS n"))[0]["n"] > 0
    await conn.execute("UPDATE background_jobs SET type = 'beta_job', "
                       "created_at = created_at - interval '3 days' WHERE id % 7 = 0")
    await conn.execute("UPDATE background_jobs SET is_sandbox = true WHERE id % 11 = 0")
    await conn.execute("DELETE FROM background_jobs WHERE id % 13 = 0")
    for _ in range(3):
        await enqueue(conn, "delta_job", {}, dedupe_key="same")  # one pending, deduplicated
    before = await assert_counters_exact(conn)
    deltas = (await rows(conn, "SELECT count(*) AS n FROM job_pending_counts"))[0]["n"]
    task = registered_tasks()["monitoring.compact_pending_counts"]  # what the leader runs
    await task.fn(conn, datetime.now(UTC))
    groups = (await rows(conn, "SELECT count(*) AS n FROM job_pending_counts"))[0]["n"]
    assert groups == len(await rows(conn, COUNTERS)) < deltas  # one row per (type, day)
    assert await assert_counters_exact(conn) == before
    failed_groups = (await rows(conn, "SELECT count(*) AS n FROM job_failed_counts"))[0]["n"]
    assert failed_groups == len(await rows(conn, FAILED_COUNTERS))  # one row per type
    # as after a load bypassing triggers
    await conn.execute("DELETE FROM job_pending_counts")
    await conn.execute("DELETE FROM job_failed_counts")
    rebuilt = (await rows(conn, "SELECT rebuild_job_pending_counts() AS n"))[0]["n"]
    assert rebuilt == before == await assert_counters_exact(conn)
    await conn.execute("TRUNCATE background_jobs CASCADE")
    assert await assert_counters_exact(conn) == 0
    assert await rows(conn, "SELECT * FROM job_pending_counts") == []
    assert await rows(conn, "SELECT * FROM job_failed_counts") == []


async def test_compaction_beside_an_open_enqueue_keeps_both(conn: Conn, db_url: str) -> None:
    """Deltas committed after the compaction's snapshot are left as they are."""
    await add_backlog(conn)
    other = await connect(db_url)
    try:
        await other.set_autocommit(False)
        await enqueue(other, "late_job", {})  # uncommitted while the compaction runs
        await conn.execute(queries.COMPACT_PENDING_COUNTS)
        await other.commit()
    finally:
        await other.close()
    assert await assert_counters_exact(conn) == 2401


async def test_pending_questions_never_scan_the_backlog(conn: Conn) -> None:
    await add_backlog(conn)
    await conn.execute("SET enable_seqscan = off")
    plans = {name: "\n".join(r["QUERY PLAN"] for r in await rows(conn, "EXPLAIN " + q, params))
             for name, q, params in (
                 ("view", "SELECT * FROM job_processing_stats", None),
                 ("metrics", queries.PROM_QUEUE_DEPTH, None),
                 ("health", MEASURE, {"window": timedelta(hours=1),
                                      "drain": timedelta(minutes=5), "trainer_id": None}))}
    await conn.execute("RESET ALL")
    for name, plan in plans.items():
        assert "Seq Scan on background_jobs" not in plan, (name, plan)
        assert "job_pending_counts" in plan, (name, plan)
        # processing jobs are few: their own partial index, never "pending"
        assert "Index Cond: (status = 'pending'" not in plan, (name, plan)
    assert "job_failed_counts" in plans["metrics"]
    # the longest wait is the first entry of the run_at index, not an aggregate over all
    assert "background_jobs_pending_run_at" in plans["health"]
    assert "Limit" in plans["health"]
