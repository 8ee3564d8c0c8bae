"""The admin API for alerts, destinations and subscriptions (roles: tests/test_role_matrix.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer_for, make_user
from vitaltrust.alerts.secrets import new_key
from vitaltrust.app import create_app
from vitaltrust.config import Settings
from vitaltrust.db import Conn


@pytest.fixture
async def admin_api(db_url: str, tmp_path: Path, conn: Conn) -> AsyncIterator[httpx.AsyncClient]:
    s = Settings(database_url=db_url, data_dir=tmp_path / "d", outbound_secret_key=new_key(),
                 alert_watchdog=False)
    app = create_app(s, database_url=db_url)
    admin = await make_user(conn, "admin")
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver",
                                     headers=await bearer_for(conn, admin)) as client:
            yield client


async def test_destination_lifecycle(admin_api: httpx.AsyncClient, conn: Conn) -> None:
    r = await admin_api.post("/api/admin/alerts/destinations", json={
        "name": "ops-hook", "kind": "webhook", "target": "https://hooks.example/x/secret-path"})
    assert r.status_code == 201, r.text
    assert r.json()["secret"].startswith("whsec_")
    listed = (await admin_api.get("/api/admin/alerts/destinations")).json()["destinations"]
    assert [(d["name"], d["target_hint"]) for d in listed] == [("ops-hook", "https://hooks.example/…")]
    assert "secret-path" not in (await admin_api.get("/api/admin/alerts/destinations")).text
    r = await admin_api.post("/api/admin/alerts/destinations", json={
        "name": "ops-hook", "kind": "slack", "target": "https://hooks.example/y"})
    assert r.status_code == 422 and "exists already" in r.json()["detail"]
    r = await admin_api.post("/api/admin/alerts/destinations/ops-hook/test")
    assert r.status_code == 202
    log = (await admin_api.get("/api/admin/alerts/destinations/ops-hook/deliveries")).json()
    assert [(d["event_type"], d["status"], d["is_test"]) for d in log["deliveries"]] == [
        ("alert.firing", "pending", True)]
    job = await (await conn.execute(
        "SELECT dedupe_key FROM background_jobs WHERE type = 'outbound_delivery'")).fetchone()
    assert job is not None and job["dedupe_key"] == "outbound:d:1"
    assert (await admin_api.delete("/api/admin/alerts/destinations/ops-hook")).status_code == 204
    assert (await admin_api.delete("/api/admin/alerts/destinations/ops-hook")).status_code == 404
    audit = await (await conn.execute(
        "SELECT action FROM audit_log WHERE action LIKE 'alerts.%%' ORDER BY 1")).fetchall()
    assert [a["action"] for a in audit] == ["alerts.destination_add", "alerts.destination_remove",
                                           "alerts.destination_test"]


@pytest.mark.parametrize("body", [
    {"name": "x", "kind": "webhook", "target": "http://example.com/"},
    {"name": "x", "kind": "email", "target": "nobody"},
    {"name": "X!", "kind": "slack", "target": "https://h.example/"},
    {"name": "x", "kind": "slack", "target": "https://h.example/", "extra": 1},
    {"name": "x", "kind": "slack", "target": "https://h.example/", "timeout_seconds": 600},
])
async def test_bad_destinations_are_problems(admin_api: httpx.AsyncClient, body: dict) -> None:
    r = await admin_api.post("/api/admin/alerts/destinations", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_subscription_lifecycle(admin_api: httpx.AsyncClient) -> None:
    r = await admin_api.post("/api/admin/events/subscriptions", json={
        "name": "coach", "url": "https://coach.example/hooks",
        "event_types": ["confidence.level_changed", "alert.firing"]})
    assert r.status_code == 201 and r.json()["secret"].startswith("whsec_")
    subs = (await admin_api.get("/api/admin/events/subscriptions")).json()["subscriptions"]
    assert subs[0]["event_types"] == ["alert.firing", "confidence.level_changed"]
    r = await admin_api.post("/api/admin/events/subscriptions", json={
        "name": "coach2", "url": "https://coach.example/", "event_types": ["nope"]})
    assert r.status_code == 422 and "nope" in r.json()["detail"]
    assert (await admin_api.get("/api/admin/events/subscriptions/coach/deliveries")).json() == {
        "deliveries": []}
    assert (await admin_api.post("/api/admin/events/msg_x/replay")).status_code == 404
    assert (await admin_api.delete("/api/admin/events/subscriptions/coach")).status_code == 204
