"""The four views answer the seed's queries, unchanged, after real activity."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.monitoring.activity import (
    client_with_weights,
    manual_source,
    record_stats,
    run_jobs,
    sandbox_source,
)
from vitaltrust.config import Settings
from vitaltrust.db import Conn

SEED_QUERIES = {
    "edge_function_performance":
        "SELECT * FROM edge_function_performance WHERE function_name = 'job-worker' "
        "ORDER BY date DESC;",
    "job_processing_stats":
        "SELECT * FROM job_processing_stats WHERE job_type = 'confidence_calculation' "
        "ORDER BY date DESC;",
    "data_quality_trends":
        "SELECT * FROM data_quality_trends WHERE metric_name = 'Weight' ORDER BY date DESC;",
    "webhook_processing_stats": "SELECT * FROM webhook_processing_stats ORDER BY date DESC;",
}


async def fetch(conn: Conn, query: str) -> list[dict[str, object]]:
    return [dict(r) for r in await (await conn.execute(query)).fetchall()]


async def test_seed_queries_return_rows_after_activity(conn: Conn, db_url: str,
                                                       settings: Settings) -> None:
    for _ in range(3):
        await client_with_weights(conn)
    assert await run_jobs(db_url, settings) >= 3
    source = await manual_source(conn)
    await record_stats(conn, calls=[("job-worker", 4.0, True), ("job-worker", 40.0, True),
                                    ("job-worker", 900.0, False), ("webhook-ingest", 3.0, True)],
                       webhooks=[(source, "received", 10, 0.0), (source, "processed", 9, 90.0),
                                 (source, "failed", 1, 5.0), (source, "rejected", 2, 0.0)])
    today = datetime.now(UTC).date()

    results = {view: await fetch(conn, q) for view, q in SEED_QUERIES.items()}
    for view, found in results.items():
        assert found, f"{view} returned no rows"
        assert found[0]["date"] == today

    fn = results["edge_function_performance"][0]
    assert (fn["invocations"], fn["errors"]) == (3, 1)
    assert float(fn["error_rate"]) == 33.33
    assert float(fn["avg_duration_ms"]) == round(944 / 3, 2)
    # 3 calls in buckets (2,5], (20,50], (500,1000]: p95 lies in the last one
    assert 500 < float(fn["p95_duration_ms"]) <= 1000

    jobs = results["job_processing_stats"][0]
    assert jobs["completed"] >= 3 and jobs["failed"] == 0 and jobs["pending"] == 0
    assert float(jobs["failure_rate"]) == 0 and jobs["avg_processing_ms"] is not None

    quality = results["data_quality_trends"][0]
    assert quality["metric_name"] == "Weight" and quality["user_metrics"] == 3
    assert 0 <= float(quality["avg_confidence"]) <= 100
    levels = ("excellent", "good", "fair", "poor", "insufficient")
    assert sum(quality[level] for level in levels) == 3

    hooks = results["webhook_processing_stats"][0]
    assert hooks["source"] == "manual"
    assert (hooks["received"], hooks["processed"], hooks["failed"], hooks["rejected"]) == (10, 9, 1, 2)
    assert float(hooks["success_rate"]) == 90.0
    assert float(hooks["avg_processing_ms"]) == 9.5


async def test_views_exclude_sandbox_data(conn: Conn, db_url: str, settings: Settings) -> None:
    sandbox = await sandbox_source(conn)
    await client_with_weights(conn, sandbox=True, source_id=sandbox)
    await run_jobs(db_url, settings)
    await record_stats(conn, webhooks=[(sandbox, "received", 5, 0.0),
                                       (sandbox, "processed", 5, 10.0)])
    await conn.execute("INSERT INTO background_jobs (type, is_sandbox) "
                       "VALUES ('confidence_calculation', true)")
    cached = await fetch(conn, "SELECT count(*) AS n FROM metric_confidence_cache")
    assert cached[0]["n"] == 1  # the sandbox user was scored...
    for view, query in SEED_QUERIES.items():
        if view != "edge_function_performance":
            assert await fetch(conn, query) == [], view  # ...but shows nowhere


async def test_past_days_of_quality_trends_come_from_daily_snapshots(conn: Conn, db_url: str,
                                                                     settings: Settings) -> None:
    await client_with_weights(conn)
    await run_jobs(db_url, settings)
    await conn.execute("SELECT refresh_confidence_daily_stats()")
    # the scheduler's snapshot from three days ago, moved back in time
    await conn.execute("UPDATE confidence_daily_stats SET date = date - 3")
    rows = await fetch(conn, SEED_QUERIES["data_quality_trends"])
    assert [r["date"] for r in rows] == [datetime.now(UTC).date(),
                                         datetime.now(UTC).date().fromordinal(
                                             datetime.now(UTC).date().toordinal() - 3)]
    await conn.execute("UPDATE confidence_daily_stats SET date = date - 30")
    assert len(await fetch(conn, SEED_QUERIES["data_quality_trends"])) == 1  # outside 30 days


async def test_todays_confidence_reads_a_fresh_snapshot_else_the_cache(
        conn: Conn, db_url: str, settings: Settings) -> None:
    await client_with_weights(conn)
    await run_jobs(db_url, settings)
    await conn.execute("SELECT refresh_confidence_daily_stats()")
    await client_with_weights(conn)
    await run_jobs(db_url, settings)
    today = "SELECT user_metrics FROM data_quality_trends WHERE metric = 'weight' AND date = %s"
    day = datetime.now(UTC).date()
    # the minute-old snapshot answers (the second client shows at the next refresh)...
    assert [r["user_metrics"] for r in await (await conn.execute(today, (day,))).fetchall()] == [1]
    # ...a snapshot older than 3 minutes (no scheduler leader) is ignored: live numbers
    await conn.execute("UPDATE confidence_daily_stats SET refreshed_at = now() - interval '4 minutes'")
    assert [r["user_metrics"] for r in await (await conn.execute(today, (day,))).fetchall()] == [2]
    await conn.execute("SELECT refresh_confidence_daily_stats()")
    assert [r["user_metrics"] for r in await (await conn.execute(today, (day,))).fetchall()] == [2]
