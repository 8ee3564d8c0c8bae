"""get_monitoring_dashboard_data(): content, health judgments, scope, and its privileges."""

from __future__ import annotations

from typing import Any

from tests.conftest import make_user
from tests.monitoring.activity import client_with_weights, manual_source, record_stats, run_jobs
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.queue.enqueue import enqueue

DEFINER_FUNCTIONS = ("get_monitoring_dashboard_data(bigint)", "trainer_confidence_stats(bigint)",
                     "trainer_data_quality_trends(bigint)")
ADD_WORKER = """
INSERT INTO workers (worker_id, host, pid, version, concurrency, heartbeat_seconds, is_leader,
                     last_seen_at)
VALUES (%s, 'host', 1, 'test', 4, 10, %s, now() - %s * interval '1 second')
"""


async def dashboard(conn: Conn, trainer_id: int | None = None) -> dict[str, Any]:
    row = await (await conn.execute("SELECT get_monitoring_dashboard_data(%s) AS d",
                                    (trainer_id,))).fetchone()
    assert row is not None
    data: dict[str, Any] = row["d"]
    return data


def check(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in data["system_health"]["checks"] if c["name"] == name)
    return found


async def test_psql_call_without_arguments_and_empty_install(conn: Conn) -> None:
    row = await (await conn.execute("SELECT get_monitoring_dashboard_data() AS d")).fetchone()
    assert row is not None
    data = row["d"]
    assert data["job_queue"]["pending"] == 0 and data["recent_activity"] == []
    assert data["confidence"]["average"] is None and data["webhooks"]["success_rate_24h"] is None
    assert data["workers"] == {"alive": 0, "leader": None, "workers": []}
    # nothing pending, but nobody runs the scheduler
    assert data["system_health"]["status"] == "degraded"
    assert "no scheduler leader" in data["system_health"]["summary"]


async def test_content_after_activity_and_healthy(conn: Conn, db_url: str,
                                                  settings: Settings) -> None:
    await conn.execute(ADD_WORKER, ("w-leader", True, 1))
    await conn.execute(ADD_WORKER, ("w-stale", False, 3600))  # missed 3 heartbeats: dead
    for _ in range(2):
        await client_with_weights(conn)
    await run_jobs(db_url, settings)
    source = await manual_source(conn)
    await record_stats(conn, webhooks=[(source, "received", 100, 0.0),
                                       (source, "processed", 99, 990.0),
                                       (source, "failed", 1, 10.0)])
    data = await dashboard(conn)

    queue = data["job_queue"]
    assert queue["pending"] == 0 and queue["failed"] == 0 and queue["completed_24h"] >= 2
    assert queue["failed_rate_24h"] == 0 and queue["oldest_pending_age_seconds"] is None
    conf = data["confidence"]
    assert conf["user_metrics"] == 2 and sum(conf["distribution"].values()) == 2
    assert 0 <= conf["average"] <= 100
    assert data["webhooks"]["success_rate_24h"] == 99.0
    assert data["webhooks"]["avg_processing_ms"] == 10.0
    assert data["workers"]["alive"] == 1 and data["workers"]["leader"] == "w-leader"
    events = data["recent_activity"]
    assert 2 <= len(events) <= 10
    assert {e["event"] for e in events} == {"completed"}
    assert all(e["job_type"] == "confidence_calculation" for e in events)
    assert check(data, "pending_jobs") == {
        "name": "pending_jobs", "label": "Pending jobs", "value": 0, "threshold": 100,
        "comparison": "<", "unit": "jobs", "ok": True}
    excellent = check(data, "excellent_share")
    assert excellent["value"] == conf["excellent_share"] and excellent["threshold"] == 80
    if excellent["ok"]:
        assert data["system_health"]["status"] == "healthy"
    else:  # the model judged these short series below excellent: exactly one breach
        assert data["system_health"]["status"] == "degraded"
        assert "Excellent confidence share" in data["system_health"]["summary"]


async def test_pending_jobs_without_live_worker_is_critical(conn: Conn) -> None:
    await conn.execute(ADD_WORKER, ("w-gone", True, 600))
    async with conn.transaction():
        await enqueue(conn, "confidence_calculation", {"user_id": 1, "metric": "weight"})
    data = await dashboard(conn)
    health = data["system_health"]
    assert data["workers"]["alive"] == 0 and data["job_queue"]["pending"] == 1
    assert health["status"] == "critical"
    assert health["reasons"][0].startswith("No worker is alive but 1 job(s) are pending")
    assert data["job_queue"]["oldest_pending_age_seconds"] >= 0
    assert data["recent_activity"][0]["event"] == "enqueued"


async def test_failed_jobs_breach_the_failed_rate(conn: Conn, db_url: str,
                                                  settings: Settings) -> None:
    await conn.execute(ADD_WORKER, ("w-1", True, 0))
    async with conn.transaction():  # a payload the handler refuses, one attempt only
        await enqueue(conn, "confidence_calculation", {"user_id": "x"}, max_attempts=1)
    await run_jobs(db_url, settings)
    data = await dashboard(conn)
    assert data["job_queue"]["failed"] == 1 and data["job_queue"]["failed_rate_24h"] == 100
    assert check(data, "failed_job_rate")["ok"] is False
    assert data["system_health"]["status"] == "degraded"
    assert data["recent_activity"][0]["event"] == "failed"
    assert "malformed" in data["recent_activity"][0]["error"]
    source = await manual_source(conn)
    await record_stats(conn, webhooks=[(source, "processed", 1, 1.0),
                                       (source, "failed", 1, 1.0)])
    data = await dashboard(conn)  # two thresholds breached
    assert check(data, "webhook_success_rate")["value"] == 50
    assert data["system_health"]["status"] == "critical"


async def test_live_workers_without_leader_is_degraded(conn: Conn) -> None:
    await conn.execute(ADD_WORKER, ("w-1", False, 0))
    data = await dashboard(conn)
    assert data["workers"]["alive"] == 1 and data["workers"]["leader"] is None
    assert data["system_health"]["status"] == "degraded"
    assert data["system_health"]["reasons"] == [
        "No scheduler leader: stalled-job rescue, rollups and retention are not running."]


async def test_trainer_scope_counts_only_own_clients(conn: Conn, db_url: str,
                                                     settings: Settings) -> None:
    mine = await client_with_weights(conn)
    await client_with_weights(conn)
    trainer = await make_user(conn, "trainer")
    await conn.execute("INSERT INTO trainer_clients (client_id, trainer_id) VALUES (%s, %s)",
                       (mine.user_id, trainer.user_id))
    await run_jobs(db_url, settings)
    assert (await dashboard(conn))["confidence"]["user_metrics"] == 2
    scoped = await dashboard(conn, trainer.user_id)
    assert scoped["scope"] == "trainer" and scoped["confidence"]["scope"] == "your clients"
    assert scoped["confidence"]["user_metrics"] == 1


async def test_sandbox_jobs_and_users_are_not_counted(conn: Conn, db_url: str,
                                                      settings: Settings) -> None:
    await client_with_weights(conn, sandbox=True)
    async with conn.transaction():
        await enqueue(conn, "confidence_calculation", {"user_id": 1, "metric": "steps"},
                      is_sandbox=True, run_at=None)
    data = await dashboard(conn)
    assert data["job_queue"]["pending"] == 0 and data["recent_activity"] == []
    await run_jobs(db_url, settings)
    data = await dashboard(conn)
    assert data["confidence"]["user_metrics"] == 0 and data["job_queue"]["completed_24h"] == 0


async def test_security_definer_functions_pin_search_path_and_refuse_public(conn: Conn) -> None:
    for signature in DEFINER_FUNCTIONS:
        row = await (await conn.execute(
            "SELECT p.prosecdef, p.proconfig, has_function_privilege('public', p.oid, 'EXECUTE')"
            " AS public_exec, has_function_privilege(current_user, p.oid, 'EXECUTE') AS mine"
            " FROM pg_proc p WHERE p.oid = %s::regprocedure", (signature,))).fetchone()
        assert row is not None, signature
        assert row["prosecdef"], signature
        assert "search_path=pg_catalog, public" in row["proconfig"], signature
        assert not row["public_exec"] and row["mine"], signature
