"""Periodic work of the monitoring domain (run by the scheduler leader)."""

from __future__ import annotations

from datetime import datetime

from vitaltrust.db import Conn
from vitaltrust.monitoring.service import refresh_confidence_snapshot
from vitaltrust.queue.scheduler import periodic_task

SNAPSHOT_INTERVAL_SECONDS = 60.0


@periodic_task("monitoring.confidence_snapshot", interval_seconds=SNAPSHOT_INTERVAL_SECONDS)
async def snapshot_confidence(conn: Conn, now: datetime) -> None:
    """Today's confidence per metric: the last snapshot of a day becomes that day's row of
    data_quality_trends, and /metrics reads the latest one instead of counting the cache."""
    await refresh_confidence_snapshot(conn)
