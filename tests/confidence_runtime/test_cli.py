"""`vitaltrust confidence recalculate-all`, in-process (--now) and through the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import make_user
from tests.metrics.helpers import make_source, raw, rows, store
from tests.support.cli import run_cli
from vitaltrust.db import Conn
from vitaltrust.queue.scheduler import registered_tasks

NOW = datetime.now(UTC).replace(microsecond=0)
PENDING = ("SELECT payload FROM background_jobs WHERE type = 'confidence_calculation'"
           " AND status = 'pending' ORDER BY id")


async def two_clients(conn: Conn) -> list[int]:
    source = await make_source(conn, "cli-scale")
    ids = []
    for _ in range(2):
        user = await make_user(conn, "client")
        await store(conn, user.user_id, source, [
            raw("weight", 80.0, NOW - timedelta(days=d, hours=1)) for d in range(5)])
        ids.append(user.user_id)
    await conn.execute("DELETE FROM background_jobs")
    return ids


async def test_recalculate_all_now_fills_the_cache(conn: Conn, db_url: str) -> None:
    ids = await two_clients(conn)
    result = run_cli(db_url, "confidence", "recalculate-all", "--now", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "recalculated 2 pair(s)" in result.stdout
    cached = await rows(conn, "SELECT user_id, metric, sample_count FROM metric_confidence_cache"
                              " ORDER BY user_id")
    assert cached == [{"user_id": i, "metric": "weight", "sample_count": 5} for i in ids]
    assert await rows(conn, PENDING) == []


async def test_recalculate_all_through_the_queue(conn: Conn, db_url: str) -> None:
    ids = await two_clients(conn)
    result = run_cli(db_url, "confidence", "recalculate-all", "--no-progress", "--timeout", "1")
    assert result.returncode == 1
    assert "enqueued 2 confidence_calculation job(s)" in result.stdout
    assert "no live worker" in result.stderr and "still outstanding" in result.stderr
    assert [r["payload"] for r in await rows(conn, PENDING)] == [
        {"user_id": i, "metric": "weight"} for i in ids]
    again = run_cli(db_url, "confidence", "recalculate-all", "--no-wait")
    assert again.returncode == 0 and "enqueued 0" in again.stdout  # deduplicated while pending


def test_time_based_refresh_is_a_periodic_task() -> None:
    import vitaltrust.confidence.jobs  # noqa: F401 - registers its tasks

    task = registered_tasks()["confidence_refresh"]
    assert task.interval_seconds <= 300
