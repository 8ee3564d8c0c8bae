"""Webhook -> confidence latency: a real signed delivery, processed by the real worker, whose
recalculation writes the cache, counts one `webhook-to-confidence` duration in the minute of
the cache write; a recalculation without new data and a manual entry count nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import bearer_for, make_user
from tests.ingest.support import make_source, native_body, standard_headers
from tests.monitoring.activity import run_jobs
from vitaltrust.confidence.jobs import recalculate_pairs
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.sources import link_account

LATENCY_ROWS = """
SELECT bucket, invocations, total_ms, max_ms FROM function_stats_minute
WHERE function_name = 'webhook-to-confidence' ORDER BY bucket
"""
# the fastest this delivery could have reached the cache: receipt to the cache write's
# transaction start (the latency is measured at the write, a little later)
FLOOR_MS = """
SELECT 1000 * extract(epoch FROM c.updated_at - e.received_at)::float8 AS floor_ms,
       date_trunc('minute', c.updated_at) AS minute
FROM metric_confidence_cache c, webhook_events e
WHERE c.user_id = %s AND c.metric = 'weight' AND e.event_id = %s
"""


async def latency_rows(conn: Conn) -> list[dict[str, object]]:
    return list(await (await conn.execute(LATENCY_ROWS)).fetchall())


async def test_a_signed_delivery_records_its_latency_in_the_minute_of_the_cache_write(
        app_client: httpx.AsyncClient, conn: Conn, db_url: str, settings: Settings) -> None:
    admin = await bearer_for(conn, await make_user(conn, "admin"))
    ann = await make_user(conn, "client", email="ann@latency.test")
    _, secret = await make_source(conn, name="scale-lat")
    await link_account(conn, source_name="scale-lat", external_user_id="ext-ann", email=ann.email)
    started = datetime.now(UTC)
    at = (started - timedelta(hours=1)).isoformat()
    body = native_body("ext-ann", 80.4, measured_at=at)
    r = await app_client.post("/webhooks/scale-lat", content=body,
                              headers=standard_headers(secret, body, msg_id="lat-1"))
    assert r.status_code == 202, r.text
    assert await latency_rows(conn) == []  # nothing before the worker wrote the cache
    await run_jobs(db_url, settings)
    finished = datetime.now(UTC)

    rows = await latency_rows(conn)
    assert len(rows) == 1 and rows[0]["invocations"] == 1, rows
    floor = await (await conn.execute(FLOOR_MS, (ann.user_id, "lat-1"))).fetchone()
    assert floor is not None
    total = float(rows[0]["total_ms"])  # type: ignore[arg-type]
    assert floor["floor_ms"] <= total <= (finished - started).total_seconds() * 1000
    assert rows[0]["bucket"] == floor["minute"]  # the minute the cache was written

    tp = await app_client.get("/api/admin/throughput", params={"range": "1h"}, headers=admin)
    assert tp.status_code == 200, tp.text
    data = tp.json()
    overall = data["latency"]["webhook_to_confidence"]
    assert overall["p50_ms"] is not None and overall["p95_ms"] >= overall["p50_ms"] > 0
    with_latency = [b for b in data["buckets"] if b["confidence_p50_ms"] is not None]
    assert len(with_latency) == 1
    assert datetime.fromisoformat(with_latency[0]["at"]) == floor["minute"]

    # recalculating the same inputs again (as the time-based refresh does) is not a delivery
    await recalculate_pairs(conn, [(ann.user_id, "weight")])
    assert [r["invocations"] for r in await latency_rows(conn)] == [1]
    # a manual entry reaches the cache without a webhook: nothing to count either
    me = await bearer_for(conn, ann)
    manual = await app_client.post("/api/me/samples", headers=me,
                                   json={"metric": "weight", "value": 80.6, "unit": "kg"})
    assert manual.status_code == 201, manual.text
    await run_jobs(db_url, settings)
    assert sum(int(r["invocations"]) for r in await latency_rows(conn)) == 1  # type: ignore[call-overload]

    # a second delivery counts a second latency
    body = native_body("ext-ann", 80.8, measured_at=(started - timedelta(minutes=30)).isoformat())
    r = await app_client.post("/webhooks/scale-lat", content=body,
                              headers=standard_headers(secret, body, msg_id="lat-2"))
    assert r.status_code == 202, r.text
    await run_jobs(db_url, settings)
    assert sum(int(r["invocations"]) for r in await latency_rows(conn)) == 2  # type: ignore[call-overload]
