"""GET /api/admin/throughput: buckets and latency percentiles from the minute rollups."""

from __future__ import annotations

import httpx

from tests.conftest import bearer_for, make_user
from tests.monitoring.activity import manual_source, record_stats
from vitaltrust.db import Conn


async def test_throughput_buckets_and_latency(app_client: httpx.AsyncClient, conn: Conn) -> None:
    admin = await bearer_for(conn, await make_user(conn, "admin"))
    source = await manual_source(conn)
    await record_stats(conn, calls=[("job-worker", 4.0, True)] * 90 + [("job-worker", 400.0, True)] * 10,
                       webhooks=[(source, "received", 7, 0.0), (source, "processed", 6, 30.0),
                                 (source, "failed", 1, 5.0)])
    for range_, buckets in (("1h", 60), ("24h", 24), ("7d", 28), ("30d", 30)):
        r = await app_client.get("/api/admin/throughput", params={"range": range_}, headers=admin)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["buckets"]) == buckets
        assert sum(b["received"] for b in body["buckets"]) == 7
        assert sum(b["processed"] for b in body["buckets"]) == 6
        assert sum(b["failed_deliveries"] for b in body["buckets"]) == 1
        job = body["latency"]["job_run"]
        assert 2 <= job["p50_ms"] <= 5 and 200 <= job["p95_ms"] <= 500
    bad = await app_client.get("/api/admin/throughput", params={"range": "2h"}, headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
