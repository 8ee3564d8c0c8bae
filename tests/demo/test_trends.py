"""The demo's trend backfill: each past day scored as of its end by the real model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import make_user
from vitaltrust.db import Conn
from vitaltrust.demo.trends import backfill_day, end_of_day
from vitaltrust.ingest.sources import create_source
from vitaltrust.metrics.store import store_samples
from vitaltrust.metrics.types import RawSample

DAY_ROW = """
SELECT user_metrics, excellent, good, fair, poor, insufficient FROM confidence_daily_stats
WHERE date = %s AND metric = 'weight'
"""
HISTORY = """
SELECT level, computed_at FROM metric_confidence_history WHERE user_id = %s ORDER BY computed_at
"""


async def test_each_day_is_scored_as_of_its_end(conn: Conn) -> None:
    user = await make_user(conn, "client", is_demo=True)
    source, _ = await create_source(conn, "demo-scale", "standard")
    today = datetime.now(UTC).date()
    # a daily scale for 20 days, the last weigh-in 10 days ago
    weigh_ins = [datetime.combine(today - timedelta(days=d), datetime.min.time(), UTC)
                 + timedelta(hours=7) for d in range(29, 9, -1)]
    await store_samples(conn, user_id=user.user_id, source_id=source.source_id,
                        webhook_event_id=None, samples=[
                            RawSample("x", "weight", 80.0 + i * 0.01, "kg", at, device_type="scale")
                            for i, at in enumerate(weigh_ins)])
    pairs = [(user.user_id, "weight")]
    busy, stale, before = today - timedelta(days=11), today - timedelta(days=2), today - timedelta(days=29)
    for day in (busy, stale, before - timedelta(days=1)):
        await backfill_day(conn, pairs, day)

    def levels(row: dict[str, int] | None) -> dict[str, int]:
        assert row is not None
        return {k: v for k, v in row.items() if v}

    # 11 days ago: fresh daily data (but only 19 of 30 days yet): good or better
    busy_row = levels(await (await conn.execute(DAY_ROW, (busy,))).fetchone())
    assert busy_row["user_metrics"] == 1 and (busy_row.get("excellent") or busy_row.get("good"))
    # 2 days ago: the last weigh-in was 8 days earlier: stale, capped, poor
    assert levels(await (await conn.execute(DAY_ROW, (stale,))).fetchone()) == {
        "user_metrics": 1, "poor": 1}
    # before the first weigh-in nothing existed: no row, as the live cache would have had none
    assert await (await conn.execute(DAY_ROW, (before - timedelta(days=1),))).fetchone() is None
    history = await (await conn.execute(HISTORY, (user.user_id,))).fetchall()
    assert [h["computed_at"] for h in history] == [end_of_day(busy), end_of_day(stale)]
    assert history[1]["level"] == "poor"
    # the live cache is not touched
    cached = await (await conn.execute("SELECT count(*) AS n FROM metric_confidence_cache")).fetchone()
    assert cached == {"n": 0}
