"""Daily rollups change where a view reads a day from, never what it answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.monitoring.activity import manual_source
from vitaltrust.db import Conn
from vitaltrust.monitoring.stats import (
    DURATION_BOUNDS_MS,
    FLUSH_FUNCTION_STATS,
    FLUSH_JOB_STATS,
    FLUSH_WEBHOOK_STATS,
    WEBHOOK_FIELDS,
)

VIEWS = ("edge_function_performance", "job_processing_stats", "webhook_processing_stats")


async def write_minute(conn: Conn, at: datetime, source_id: int, n: int) -> None:
    """What the statistics flush and the worker write for one past minute."""
    hist = [0] * (len(DURATION_BOUNDS_MS) + 1)
    hist[3] = n
    await conn.execute(FLUSH_FUNCTION_STATS, (json.dumps([{
        "function_name": "job-worker", "bucket": at.isoformat(), "invocations": n, "errors": 1,
        "items": n, "total_ms": 7.0 * n, "max_ms": 9.0, "hist": hist}]),))
    await conn.execute(FLUSH_WEBHOOK_STATS, (json.dumps([{
        "source_id": source_id, "bucket": at.isoformat(), "processing_ms": 3.0 * n,
        **dict.fromkeys(WEBHOOK_FIELDS, 0), "received": n, "processed": n - 1, "failed": 1}]),))
    await conn.execute(FLUSH_JOB_STATS, (json.dumps([{
        "job_type": "confidence_calculation", "bucket": at.isoformat(), "completed": n,
        "failed": 1, "retried": 0, "total_ms": 5.0 * n, "wait_ms": 1.0 * n}]),))


async def snapshot(conn: Conn) -> dict[str, list[dict[str, object]]]:
    return {v: [dict(r) for r in await (await conn.execute(
        f"SELECT * FROM {v} ORDER BY 1, 2")).fetchall()] for v in VIEWS}  # noqa: S608 - constants


async def test_rollup_keeps_every_view_answer(conn: Conn) -> None:
    source = await manual_source(conn)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for days_ago, n in ((0, 5), (1, 7), (3, 11), (10, 13)):
        # past days at noon: two minutes of one day even when the test runs at midnight
        day = now if days_ago == 0 else (now - timedelta(days=days_ago)).replace(hour=12)
        for minute in (0, 1):
            await write_minute(conn, day - timedelta(minutes=minute), source, n)
    before = await snapshot(conn)
    dates = {r["date"] for r in before["edge_function_performance"]}
    assert now.date() - timedelta(days=10) not in dates  # outside the 7-day window
    assert now.date() - timedelta(days=3) in dates

    folded = (await (await conn.execute("SELECT rollup_monitoring_days() AS n")).fetchone())
    assert folded is not None and folded["n"] >= 9
    daily = await (await conn.execute(
        "SELECT count(*) AS n FROM function_stats_daily")).fetchone()
    assert daily is not None and daily["n"] >= 3
    assert await snapshot(conn) == before
    again = await (await conn.execute("SELECT rollup_monitoring_days() AS n")).fetchone()
    assert again is not None and again["n"] == 0

    three = next(r for r in before["edge_function_performance"]
                 if r["date"] == now.date() - timedelta(days=3))
    assert (three["invocations"], three["errors"]) == (22, 2)


async def test_periodic_tasks_snapshot_and_fold(conn: Conn) -> None:
    import vitaltrust.monitoring.jobs  # noqa: F401 - registers the periodic tasks
    from vitaltrust.queue.scheduler import registered_tasks

    tasks = registered_tasks()
    source = await manual_source(conn)
    await write_minute(conn, datetime.now(UTC) - timedelta(days=2), source, 3)
    async with conn.transaction():
        await tasks["monitoring.daily_rollup"].fn(conn, datetime.now(UTC))
        await tasks["monitoring.confidence_snapshot"].fn(conn, datetime.now(UTC))
    folded = await (await conn.execute(
        "SELECT sum(received) AS n FROM webhook_stats_daily")).fetchone()
    assert folded is not None and folded["n"] == 3
    state = await (await conn.execute(
        "SELECT rolled_through FROM monitoring_rollup_state")).fetchone()
    assert state is not None and state["rolled_through"] >= datetime.now(UTC).date() - timedelta(days=2)
