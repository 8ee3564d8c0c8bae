"""Every admin route against anonymous, client, trainer, another trainer and admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import bearer_for, make_user
from tests.monitoring.activity import client_with_weights, run_jobs
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.queue.enqueue import enqueue

STAFF_READ_ROUTES = ("/api/admin/monitoring", "/api/admin/quality-trends")
# system internals: admins only (trainers see their clients' data quality)
ADMIN_READ_ROUTES = ("/api/admin/job-stats", "/api/admin/webhook-stats",
                     "/api/admin/function-performance")
ROLES = ("anonymous", "client", "trainer", "other_trainer", "admin")


@dataclass
class World:
    client_id: int
    other_client_id: int
    headers: dict[str, dict[str, str]]


@pytest.fixture
async def world(conn: Conn, db_url: str, settings: Settings) -> World:
    client = await client_with_weights(conn)
    other_client = await client_with_weights(conn)
    trainer = await make_user(conn, "trainer")
    other_trainer = await make_user(conn, "trainer")
    admin = await make_user(conn, "admin")
    await conn.execute("INSERT INTO trainer_clients (client_id, trainer_id) VALUES (%s, %s), (%s, %s)",
                       (client.user_id, trainer.user_id, other_client.user_id, other_trainer.user_id))
    await run_jobs(db_url, settings)
    headers = {"anonymous": {}, "client": await bearer_for(conn, client),
               "trainer": await bearer_for(conn, trainer),
               "other_trainer": await bearer_for(conn, other_trainer),
               "admin": await bearer_for(conn, admin)}
    return World(client.user_id, other_client.user_id, headers)


async def call(app_client: httpx.AsyncClient, world: World, role: str, method: str, path: str,
               body: dict[str, Any] | None = None) -> httpx.Response:
    return await app_client.request(method, path, json=body, headers=world.headers[role])


@pytest.mark.parametrize("path", STAFF_READ_ROUTES + ADMIN_READ_ROUTES)
async def test_read_routes_role_matrix(app_client: httpx.AsyncClient, world: World,
                                       path: str) -> None:
    staff = 200 if path in STAFF_READ_ROUTES else 403
    expected = {"anonymous": 401, "client": 403, "trainer": staff, "other_trainer": staff,
                "admin": 200}
    for role in ROLES:
        response = await call(app_client, world, role, "GET", path)
        assert response.status_code == expected[role], (role, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"


async def test_write_routes_role_matrix(app_client: httpx.AsyncClient, world: World,
                                       conn: Conn) -> None:
    retry = {"anonymous": 401, "client": 403, "trainer": 403, "other_trainer": 403, "admin": 200}
    recalc = {"anonymous": 401, "client": 403, "trainer": 200, "other_trainer": 404, "admin": 200}
    for role in ROLES:
        r = await call(app_client, world, role, "POST", "/api/admin/jobs/retry-failed", {})
        assert r.status_code == retry[role], (role, r.text)
        r = await call(app_client, world, role, "POST", "/api/admin/confidence/recalculate",
                       {"user_id": world.client_id})
        assert r.status_code == recalc[role], (role, r.text)
    audit = await (await conn.execute(
        "SELECT action, result, actor_role FROM audit_log WHERE action IN "
        "('jobs.retry_failed', 'confidence.recalculate') ORDER BY audit_id")).fetchall()
    assert [(a["action"], a["result"], a["actor_role"]) for a in audit] == [
        ("confidence.recalculate", "ok", "trainer"),
        ("confidence.recalculate", "denied", "trainer"),
        ("jobs.retry_failed", "ok", "admin"),
        ("confidence.recalculate", "ok", "admin")]


async def test_trainer_sees_only_own_clients_quality(app_client: httpx.AsyncClient,
                                                     world: World, conn: Conn) -> None:
    admin = (await call(app_client, world, "admin", "GET", "/api/admin/quality-trends")).json()
    assert admin["scope"] == "all users" and admin["rows"][0]["user_metrics"] == 2
    for role in ("trainer", "other_trainer"):
        body = (await call(app_client, world, role, "GET",
                           "/api/admin/quality-trends?metric=weight")).json()
        assert body["scope"] == "your clients" and body["window_days"] == 30
        assert [r["user_metrics"] for r in body["rows"]] == [1]
        assert body["rows"][0]["metric_name"] == "Weight"
        cards = (await call(app_client, world, role, "GET", "/api/admin/monitoring")).json()
        assert cards["confidence"]["user_metrics"] == 1
        # data quality of their clients; no queue, webhook, worker or pipeline internals
        assert set(cards) == {"generated_at", "scope", "confidence", "health"}
        assert set(cards["health"]) == {"data_quality", "findings"}
        assert [f["key"] for f in cards["health"]["findings"]] == ["excellent_share"]
    # a trainer without clients sees no quality numbers at all
    lonely = await make_user(conn, "trainer")
    headers = await bearer_for(conn, lonely)
    body = (await app_client.get("/api/admin/quality-trends", headers=headers)).json()
    assert body["rows"] == []
    cards = (await app_client.get("/api/admin/monitoring", headers=headers)).json()
    assert cards["confidence"]["user_metrics"] == 0 and cards["confidence"]["average"] is None
    bad = await call(app_client, world, "admin", "GET", "/api/admin/quality-trends?metric=mood")
    assert bad.status_code == 422


async def test_listings_carry_view_rows(app_client: httpx.AsyncClient, world: World) -> None:
    jobs = (await call(app_client, world, "admin", "GET",
                       "/api/admin/job-stats?job_type=confidence_calculation")).json()
    assert jobs["window_days"] == 7 and jobs["rows"][0]["completed"] >= 2
    assert set(jobs["rows"][0]) >= {"date", "job_type", "completed", "failed", "pending",
                                    "avg_processing_ms", "failure_rate"}


async def test_recalculate_enqueues_deduplicated_jobs(app_client: httpx.AsyncClient,
                                                      world: World, conn: Conn) -> None:
    first = await call(app_client, world, "admin", "POST", "/api/admin/confidence/recalculate")
    assert first.json() == {"scope": "all", "user_id": None, "metric": None, "targets": 2,
                            "enqueued": 2, "already_pending": 0}
    again = await call(app_client, world, "trainer", "POST", "/api/admin/confidence/recalculate")
    assert again.json()["scope"] == "trainer"
    assert (again.json()["targets"], again.json()["enqueued"]) == (1, 0)
    pending = await (await conn.execute(
        "SELECT payload FROM background_jobs WHERE status = 'pending' ORDER BY id")).fetchall()
    assert sorted(p["payload"]["user_id"] for p in pending) == sorted(
        [world.client_id, world.other_client_id])
    unknown = await call(app_client, world, "admin", "POST", "/api/admin/confidence/recalculate",
                         {"user_id": 10**12})
    assert unknown.status_code == 404


async def test_retry_failed_requeues_and_counts(app_client: httpx.AsyncClient, world: World,
                                                conn: Conn, db_url: str,
                                                settings: Settings) -> None:
    async with conn.transaction():
        await enqueue(conn, "confidence_calculation", {"user_id": "bad"}, max_attempts=1)
    await run_jobs(db_url, settings)
    before = (await call(app_client, world, "admin", "GET", "/api/admin/monitoring")).json()
    assert before["job_queue"]["failed"] == 1
    # health comes from the health function, not the jsonb's own judgment
    assert "system_health" not in before
    assert before["health"]["pipeline"]["status"] in {"healthy", "degraded", "critical"}
    assert {f["key"] for f in before["health"]["findings"]} >= {"pending", "live_workers"}
    other_type = await call(app_client, world, "admin", "POST", "/api/admin/jobs/retry-failed",
                            {"job_type": "webhook_processing"})
    assert other_type.json() == {"job_type": "webhook_processing", "retried": 0}
    r = await call(app_client, world, "admin", "POST", "/api/admin/jobs/retry-failed")
    assert r.json() == {"job_type": None, "retried": 1}
    after = (await call(app_client, world, "admin", "GET", "/api/admin/monitoring")).json()
    assert after["job_queue"]["failed"] == 0 and after["job_queue"]["pending"] == 1
    bad = await call(app_client, world, "admin", "POST", "/api/admin/jobs/retry-failed",
                     {"job_type": "Robert'); DROP"})
    assert bad.status_code == 422


async def test_cookie_post_needs_csrf(app_client: httpx.AsyncClient, conn: Conn) -> None:
    await make_user(conn, "admin", email="csrf-admin@example.test")
    login = await app_client.post("/auth/login", json={"email": "csrf-admin@example.test",
                                                       "password": "correct horse battery"})
    assert login.status_code == 200, login.text
    csrf = login.json()["csrf_token"]
    refused = await app_client.post("/api/admin/jobs/retry-failed", json={})
    assert refused.status_code == 403
    accepted = await app_client.post("/api/admin/jobs/retry-failed", json={},
                                     headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200 and accepted.json()["retried"] == 0
