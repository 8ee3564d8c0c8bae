"""The 30-day data-quality trend for the demo's history, computed honestly.

`data_quality_trends` shows past days from `confidence_daily_stats` (the scheduler's daily
snapshot) and trainers' trends read `metric_confidence_history`. A fresh demo has neither
for the days before it started, although its samples span 30 days. So, for each past day,
every demo (user, metric) is scored by the real model (`confidence.model.score`) on the
real loader's window (`confidence.cache.load_inputs`) as of the end of that day, and that
day's snapshot and history rows are written, exactly what the scheduler would have written
had the system been running then. The live cache is never touched.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from vitaltrust.confidence.cache import load_inputs
from vitaltrust.confidence.model import score
from vitaltrust.db import Conn
from vitaltrust.metrics.catalog import load_specs

DEMO_PAIRS = """
SELECT DISTINCT s.user_id, s.metric FROM metric_samples s
JOIN users u ON u.user_id = s.user_id AND u.is_demo
ORDER BY 1, 2
"""
WRITE_DAY = """
WITH h AS (
    INSERT INTO metric_confidence_history
        (user_id, metric, computed_at, score, level, sample_count, model_version)
    SELECT t.* FROM jsonb_to_recordset(%(history)s::jsonb) AS t(
        user_id bigint, metric text, computed_at timestamptz, score numeric, level text,
        sample_count int, model_version text)
    ON CONFLICT (user_id, metric, computed_at) DO NOTHING
)
INSERT INTO confidence_daily_stats AS d (date, metric, user_metrics, score_sum, excellent, good,
                                         fair, poor, insufficient, refreshed_at)
SELECT %(date)s::date, t.metric, t.n, t.score_sum, t.excellent, t.good, t.fair, t.poor,
       t.insufficient, %(at)s
FROM jsonb_to_recordset(%(days)s::jsonb) AS t(metric text, n bigint, score_sum numeric,
     excellent bigint, good bigint, fair bigint, poor bigint, insufficient bigint)
ON CONFLICT (date, metric) DO NOTHING
"""
LEVELS = ("excellent", "good", "fair", "poor", "insufficient")


def end_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, microseconds=-1)


async def backfill_day(conn: Conn, pairs: list[tuple[int, str]], day: date) -> int:
    """Score every pair as of the end of `day`; write that day's snapshot. Returns pairs scored."""
    at = end_of_day(day)
    specs = await load_specs(conn)
    windows, priorities = await load_inputs(conn, pairs, at, lock=False)
    per_metric: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(int))
    history = []
    for pair in pairs:
        samples = [s for s in windows[pair].samples if s.measured_at <= at]
        if not samples:
            continue  # no data yet on that day: no cache row would have existed
        conf = score(samples, specs[pair[1]], at, priorities.get(pair))
        m = per_metric[pair[1]]
        m["n"] += 1
        m["score_sum"] += conf.score
        m[conf.level] += 1
        history.append({"user_id": pair[0], "metric": pair[1], "computed_at": at.isoformat(),
                        "score": conf.score, "level": conf.level,
                        "sample_count": conf.sample_count, "model_version": conf.model_version})
    days = [{"metric": metric, "score_sum": m["score_sum"],
             **{k: int(m.get(k, 0)) for k in ("n", *LEVELS)}}
            for metric, m in per_metric.items()]
    await conn.execute(WRITE_DAY, {"history": json.dumps(history), "date": day, "at": at,
                                   "days": json.dumps(days)})
    return len(history)


async def backfill(pool: AsyncConnectionPool[Conn], *, days: int, now: datetime) -> int:
    """Days `days-1` .. 1 before `now` (today is the live snapshot). Returns days written."""
    async with pool.connection() as conn:
        pairs = [(int(r["user_id"]), str(r["metric"]))
                 for r in await (await conn.execute(DEMO_PAIRS)).fetchall()]
    written = 0
    today = now.astimezone(UTC).date()
    for back in range(days - 1, 0, -1):
        async with pool.connection() as conn, conn.transaction():
            await backfill_day(conn, pairs, today - timedelta(days=back))
        written += 1
        await asyncio.sleep(0)  # the server shares this event loop
    return written
