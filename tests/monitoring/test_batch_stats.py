"""Statistics counted inside jobs are written once per batch, sorted, and only for jobs that
committed: a rolled-back job adds nothing, and batches never deadlock on rollup rows."""

from __future__ import annotations

from vitaltrust.db import Conn
from vitaltrust.monitoring.stats import StatsRecorder, add_job_webhook_outcome, collecting_job_stats


def test_rows_are_drained_in_one_global_order() -> None:
    rec = StatsRecorder(None)
    for source in (9, 3, 7, 1):
        rec.record_webhook(source, "processed")
    _, hooks = rec._drain()
    assert [h["source_id"] for h in hooks] == [1, 3, 7, 9]


def test_merge_adds_counts() -> None:
    a, b = StatsRecorder(None), StatsRecorder(None)
    a.record_webhook(1, "processed", processing_ms=5)
    b.record_webhook(1, "processed", processing_ms=7)
    b.record_webhook(2, "failed")
    a.merge(b)
    _, hooks = a._drain()
    assert [(h["source_id"], h["processed"], h["failed"], h["processing_ms"]) for h in hooks] \
        == [(1, 2, 0, 12.0), (2, 0, 1, 0.0)]


async def test_outcome_is_collected_in_a_job_and_written_directly_outside(conn: Conn) -> None:
    with collecting_job_stats() as collected:
        await add_job_webhook_outcome(conn, 1, "processed", 3.0)
    row = await (await conn.execute("SELECT count(*) AS n FROM webhook_stats_minute")).fetchone()
    assert row is not None and row["n"] == 0  # nothing written yet: the runner will
    await collected.flush_to(conn)
    await add_job_webhook_outcome(conn, 1, "failed", 1.0)  # no runner: written at once
    row = await (await conn.execute(
        "SELECT sum(processed) AS p, sum(failed) AS f FROM webhook_stats_minute")).fetchone()
    assert row is not None and (row["p"], row["f"]) == (1, 1)
