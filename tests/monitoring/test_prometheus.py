"""GET /metrics: access rules, and Prometheus text that parses and holds every family."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import bearer_for, make_user
from tests.monitoring.activity import (
    client_with_weights,
    manual_source,
    record_stats,
    run_jobs,
    sandbox_source,
)
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.queue.enqueue import enqueue

FAMILIES = {"vitaltrust_job_queue_depth", "vitaltrust_job_duration_seconds",
            "vitaltrust_webhook_ingest_duration_seconds", "vitaltrust_function_invocations",
            "vitaltrust_function_errors", "vitaltrust_webhook_deliveries",
            "vitaltrust_confidence_level_count", "vitaltrust_confidence_snapshot_age_seconds",
            "vitaltrust_workers_alive", "vitaltrust_scheduler_leader_present"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


async def test_metrics_parse_and_hold_every_family(app_client: httpx.AsyncClient, conn: Conn,
                                                   db_url: str, settings: Settings) -> None:
    await client_with_weights(conn)
    await run_jobs(db_url, settings)
    await conn.execute("SELECT refresh_confidence_daily_stats()")
    async with conn.transaction():
        await enqueue(conn, "webhook_processing", {"webhook_event_id": 1})
    await conn.execute("INSERT INTO workers (worker_id, host, pid, version, concurrency, "
                       "heartbeat_seconds, is_leader) VALUES ('w', 'h', 1, 't', 1, 10, true)")
    manual, sandbox = await manual_source(conn), await sandbox_source(conn)
    await record_stats(conn, calls=[("job-worker", 3.0, True), ("job-worker", 700.0, False),
                                    ("webhook-ingest", 1.5, True)],
                       webhooks=[(manual, "received", 4, 0.0), (manual, "processed", 3, 9.0),
                                 (sandbox, "received", 50, 0.0)])
    admin = await make_user(conn, "admin")
    response = await app_client.get("/metrics", headers=await bearer_for(conn, admin))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(response.text)}
    assert families >= FAMILIES
    got = samples(response.text)
    assert got[("vitaltrust_job_queue_depth",
                (("job_type", "webhook_processing"), ("status", "pending")))] == 1
    assert got[("vitaltrust_job_duration_seconds_count", ())] == 2
    assert got[("vitaltrust_job_duration_seconds_bucket", (("le", "0.005"),))] == 1
    assert got[("vitaltrust_job_duration_seconds_bucket", (("le", "+Inf"),))] == 2
    assert got[("vitaltrust_function_errors_total", (("function", "job-worker"),))] == 1
    assert got[("vitaltrust_webhook_deliveries_total",
                (("outcome", "received"), ("source", "manual")))] == 4
    assert not any(labels and ("source", "selftest-sandbox") in labels for _, labels in got)
    levels = sum(v for (name, labels), v in got.items()
                 if name == "vitaltrust_confidence_level_count" and ("metric", "weight") in labels)
    assert levels == 1
    assert got[("vitaltrust_workers_alive", ())] == 1
    assert got[("vitaltrust_scheduler_leader_present", ())] == 1


async def test_metrics_access(app_client: httpx.AsyncClient, conn: Conn) -> None:
    assert (await app_client.get("/metrics")).status_code == 401
    for role in ("client", "trainer"):
        user = await make_user(conn, role)
        r = await app_client.get("/metrics", headers=await bearer_for(conn, user))
        assert r.status_code == 403, role
    wrong = await app_client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_metrics_token_and_cache(settings: Settings, db_url: str, conn: Conn) -> None:
    from vitaltrust.app import create_app

    app = create_app(settings.model_copy(update={"metrics_token": "scrape-secret-123",
                                                 "metrics_cache_seconds": 60}),
                     database_url=db_url)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        async with client:
            token = {"Authorization": "Bearer scrape-secret-123"}
            first = await client.get("/metrics", headers=token)
            assert first.status_code == 200
            assert "vitaltrust_workers_alive 0.0" in first.text
            await conn.execute("INSERT INTO workers (worker_id, host, pid, version, concurrency,"
                               " heartbeat_seconds) VALUES ('w', 'h', 1, 't', 1, 10)")
            cached = await client.get("/metrics", headers=token)
            assert cached.text == first.text  # served from the cache: no query per scrape
            assert (await client.get("/metrics", headers={
                "Authorization": "Bearer scrape-secret-124"})).status_code == 401
