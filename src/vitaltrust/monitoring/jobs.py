"""Periodic work of the monitoring domain (run by the scheduler leader)."""

from __future__ import annotations

from datetime import datetime

from vitaltrust.db import Conn
from vitaltrust.monitoring import queries
from vitaltrust.monitoring.service import refresh_confidence_snapshot, rollup_monitoring_days
from vitaltrust.queue.scheduler import periodic_task

SNAPSHOT_INTERVAL_SECONDS = 60.0
ROLLUP_INTERVAL_SECONDS = 300.0
# the deltas appended since the last run are what every pending count sums over
COMPACT_PENDING_INTERVAL_SECONDS = 10.0


@periodic_task("monitoring.confidence_snapshot", interval_seconds=SNAPSHOT_INTERVAL_SECONDS)
async def snapshot_confidence(conn: Conn, now: datetime) -> None:
    """Today's confidence per metric: the last snapshot of a day becomes that day's row of
    data_quality_trends, and /metrics reads the latest one instead of counting the cache."""
    await refresh_confidence_snapshot(conn)


@periodic_task("monitoring.daily_rollup", interval_seconds=ROLLUP_INTERVAL_SECONDS)
async def rollup_days(conn: Conn, now: datetime) -> None:
    """Fold complete days of per-minute statistics into the daily rollups the views read."""
    await rollup_monitoring_days(conn)


@periodic_task("monitoring.compact_pending_counts", interval_seconds=COMPACT_PENDING_INTERVAL_SECONDS)
async def compact_pending_counts(conn: Conn, now: datetime) -> None:
    """Fold the pending-job count deltas the queue's statements append (migration 0710)
    into one row per type and day, so that reading them stays a handful of rows."""
    await conn.execute(queries.COMPACT_PENDING_COUNTS)
