"""Throughput and latency over a time range, from the per-minute rollups (never raw rows).

GET /api/admin/throughput?range=1h|24h|7d|30d (admins): per bucket (a minute, an hour, six
hours or a day) the deliveries received, processed and failed, the jobs completed and
failed, and p50/p95 of job run time, of webhook request time and of webhook -> confidence
(the receipt of a delivery to the confidence cache write that reflects it; see
`confidence.cache.write_results`), as histogram quantiles. A quantile in the last bucket is
reported as 60000 ms: "a minute or more".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from vitaltrust.auth.principal import AdminUser
from vitaltrust.db import Conn
from vitaltrust.http import DbConn
from vitaltrust.monitoring.stats import WEBHOOK_TO_CONFIDENCE

router = APIRouter()
Range = Literal["1h", "24h", "7d", "30d"]
# range -> (length, bucket width)
RANGES: dict[str, tuple[timedelta, timedelta]] = {
    "1h": (timedelta(hours=1), timedelta(minutes=1)),
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
    "30d": (timedelta(days=30), timedelta(days=1)),
}
THROUGHPUT = """
WITH buckets AS (
    SELECT date_bin(%(width)s, t, 'epoch') AS t
    FROM generate_series(now() - %(length)s + %(width)s, now(), %(width)s) AS t
), hooks AS (
    SELECT date_bin(%(width)s, m.bucket, 'epoch') AS t, sum(m.received) AS received,
           sum(m.processed) AS processed, sum(m.failed) AS failed
    FROM webhook_stats_minute m
    JOIN webhook_sources s ON s.source_id = m.source_id AND NOT s.is_sandbox
    WHERE m.bucket >= now() - %(length)s
    GROUP BY 1
), jobs AS (
    SELECT date_bin(%(width)s, j.bucket, 'epoch') AS t, sum(j.completed) AS completed,
           sum(j.failed) AS failed
    FROM job_stats_minute j WHERE j.bucket >= now() - %(length)s
    GROUP BY 1
), durations AS (
    SELECT date_bin(%(width)s, f.bucket, 'epoch') AS t, f.function_name,
           ARRAY[sum(f.hist[1]), sum(f.hist[2]), sum(f.hist[3]), sum(f.hist[4]), sum(f.hist[5]),
             sum(f.hist[6]), sum(f.hist[7]), sum(f.hist[8]), sum(f.hist[9]), sum(f.hist[10]),
             sum(f.hist[11]), sum(f.hist[12]), sum(f.hist[13]), sum(f.hist[14]),
             sum(f.hist[15]), sum(f.hist[16])]::bigint[] AS hist
    FROM function_stats_minute f
    WHERE f.bucket >= now() - %(length)s AND f.function_name IN ('job-worker', 'webhook-ingest',
                                                            'webhook-to-confidence')
    GROUP BY 1, 2
)
SELECT b.t AS at, coalesce(h.received, 0)::bigint AS received,
       coalesce(h.processed, 0)::bigint AS processed,
       coalesce(h.failed, 0)::bigint AS failed_deliveries,
       coalesce(j.completed, 0)::bigint AS jobs_completed,
       coalesce(j.failed, 0)::bigint AS jobs_failed,
       round(histogram_quantile_ms(jw.hist, 0.5)::numeric, 1)::float8 AS job_p50_ms,
       round(histogram_quantile_ms(jw.hist, 0.95)::numeric, 1)::float8 AS job_p95_ms,
       round(histogram_quantile_ms(wi.hist, 0.5)::numeric, 1)::float8 AS ingest_p50_ms,
       round(histogram_quantile_ms(wi.hist, 0.95)::numeric, 1)::float8 AS ingest_p95_ms,
       round(histogram_quantile_ms(wc.hist, 0.5)::numeric, 1)::float8 AS confidence_p50_ms,
       round(histogram_quantile_ms(wc.hist, 0.95)::numeric, 1)::float8 AS confidence_p95_ms
FROM buckets b
LEFT JOIN hooks h ON h.t = b.t
LEFT JOIN jobs j ON j.t = b.t
LEFT JOIN durations jw ON jw.t = b.t AND jw.function_name = 'job-worker'
LEFT JOIN durations wi ON wi.t = b.t AND wi.function_name = 'webhook-ingest'
LEFT JOIN durations wc ON wc.t = b.t AND wc.function_name = 'webhook-to-confidence'
ORDER BY b.t
"""
TOTALS = """
WITH summed AS (
    SELECT f.function_name,
           ARRAY[sum(f.hist[1]), sum(f.hist[2]), sum(f.hist[3]), sum(f.hist[4]), sum(f.hist[5]),
             sum(f.hist[6]), sum(f.hist[7]), sum(f.hist[8]), sum(f.hist[9]), sum(f.hist[10]),
             sum(f.hist[11]), sum(f.hist[12]), sum(f.hist[13]), sum(f.hist[14]),
             sum(f.hist[15]), sum(f.hist[16])]::bigint[] AS hist
    FROM function_stats_minute f
    WHERE f.bucket >= now() - %(length)s AND f.function_name IN ('job-worker', 'webhook-ingest',
                                                            'webhook-to-confidence')
    GROUP BY f.function_name
)
SELECT function_name, round(histogram_quantile_ms(hist, 0.5)::numeric, 1)::float8 AS p50_ms,
       round(histogram_quantile_ms(hist, 0.95)::numeric, 1)::float8 AS p95_ms
FROM summed
"""


async def throughput(conn: Conn, range_: str) -> dict[str, Any]:
    length, width = RANGES[range_]
    params = {"length": length, "width": width}
    rows = await (await conn.execute(THROUGHPUT, params)).fetchall()
    totals = {r["function_name"]: {"p50_ms": r["p50_ms"], "p95_ms": r["p95_ms"]}
              for r in await (await conn.execute(TOTALS, params)).fetchall()}
    none = {"p50_ms": None, "p95_ms": None}
    return {"range": range_, "bucket_seconds": int(width.total_seconds()), "buckets": rows,
            "latency": {"job_run": totals.get("job-worker", none),
                        "webhook_request": totals.get("webhook-ingest", none),
                        "webhook_to_confidence": totals.get(WEBHOOK_TO_CONFIDENCE, none)}}


@router.get("/api/admin/throughput", tags=["monitoring"])
async def get_throughput(conn: DbConn, principal: AdminUser,
                         range: Annotated[Range, Query(description="1h, 24h, 7d or 30d.")] = "24h",
                         ) -> dict[str, Any]:
    """Received / processed / failed per bucket and latency percentiles over the range."""
    return await throughput(conn, range)
