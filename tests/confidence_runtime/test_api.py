"""The metrics and confidence API, by role: anonymous, client, own trainer, other trainer, admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import bearer_for, make_user
from tests.metrics.helpers import make_source, manual_source, raw, rows, store
from vitaltrust.auth.principal import SESSION_COOKIE
from vitaltrust.auth.sessions import create_session
from vitaltrust.confidence.jobs import recalculate_pairs
from vitaltrust.config import Settings
from vitaltrust.db import Conn

NOW = datetime.now(UTC).replace(microsecond=0)
PROBLEM = "application/problem+json"


@dataclass
class World:
    client_id: int
    other_client_id: int
    headers: dict[str, dict[str, str]]


@pytest.fixture
async def world(conn: Conn) -> World:
    client = await make_user(conn, "client")
    other = await make_user(conn, "client")
    trainer = await make_user(conn, "trainer")
    stranger = await make_user(conn, "trainer")
    admin = await make_user(conn, "admin")
    await conn.execute("INSERT INTO trainer_clients (client_id, trainer_id) VALUES (%s, %s)",
                       (client.user_id, trainer.user_id))
    scale = await make_source(conn, "scale-co")
    await store(conn, client.user_id, scale, [
        raw("weight", 80.0 + (i % 3) * 0.1, NOW - timedelta(days=i, hours=1)) for i in range(10)])
    await store(conn, client.user_id, await manual_source(conn), [
        raw("weight", 83.0, NOW - timedelta(minutes=50), device="manual")])
    async with conn.transaction():
        await recalculate_pairs(conn, [(client.user_id, "weight")])
    headers = {"anonymous": {}}
    for name, user in (("client", client), ("trainer", trainer), ("stranger", stranger),
                       ("admin", admin), ("other", other)):
        headers[name] = await bearer_for(conn, user)
    return World(client.user_id, other.user_id, headers)


READS = ["/api/users/{id}/metrics", "/api/users/{id}/metrics?sparkline=30",
         "/api/users/{id}/metrics/weight/samples?include=conflicts,flags",
         "/api/users/{id}/metrics/weight/confidence", "/api/users/{id}/metrics/weight/priority"]
EXPECTED = {"anonymous": 401, "client": 200, "trainer": 200, "stranger": 404, "admin": 200,
            "other": 404}


async def test_reads_by_role(app_client: httpx.AsyncClient, world: World) -> None:
    for path in READS:
        for role, status in EXPECTED.items():
            r = await app_client.get(path.format(id=world.client_id), headers=world.headers[role])
            assert r.status_code == status, (path, role, r.text)
            if status != 200:
                assert r.headers["content-type"].startswith(PROBLEM)


async def test_metric_summaries_are_rich_enough_for_the_trainer_view(
        app_client: httpx.AsyncClient, world: World) -> None:
    r = await app_client.get(f"/api/users/{world.client_id}/metrics?sparkline=30",
                             headers=world.headers["trainer"])
    [weight] = r.json()["metrics"]
    assert weight["metric"] == "weight" and weight["display_name"] == "Weight"
    assert weight["unit"] == "kg" and weight["latest_value"] == 80.0
    assert weight["level"] in ("excellent", "good", "fair", "poor") and weight["score"] > 0
    assert weight["last_sample_at"] and weight["computed_at"] and weight["pending"] is False
    assert isinstance(weight["top_reasons"], list) and len(weight["top_reasons"]) <= 3
    assert len(weight["sparkline"]) == 10 and weight["sparkline"][-1][0] == \
        (NOW - timedelta(hours=1)).date().isoformat()
    mine = await app_client.get("/api/me/metrics", headers=world.headers["client"])
    assert mine.json()["metrics"][0]["score"] == weight["score"]
    empty = await app_client.get("/api/me/metrics", headers=world.headers["other"])
    assert empty.status_code == 200 and empty.json()["metrics"] == []
    assert (await app_client.get("/api/me/metrics")).status_code == 401


async def test_samples_are_the_resolved_series_with_conflicts_and_flags(
        app_client: httpx.AsyncClient, world: World) -> None:
    base = f"/api/users/{world.client_id}/metrics/weight/samples"
    plain = (await app_client.get(base, headers=world.headers["client"])).json()
    assert len(plain["series"]) == 10 and plain["stored_count"] == 11
    assert all(p["source"] == "scale-co" for p in plain["series"])
    assert "conflicts" not in plain and "flags" not in plain["series"][0]
    full = (await app_client.get(base + "?include=conflicts,flags&days=90",
                                 headers=world.headers["client"])).json()
    [conflict] = full["conflicts"]
    assert conflict["winner"]["source"] == "scale-co" and conflict["loser"]["value"] == 83.0
    assert conflict["agrees"] is False
    assert [f["value"] for f in full["flagged"] if f["excluded"]] == [83.0]
    bad = await app_client.get(base + "?include=gossip", headers=world.headers["client"])
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    days = await app_client.get(base + "?days=365", headers=world.headers["client"])
    assert days.status_code == 422


async def test_unknown_metric_is_a_404_problem(app_client: httpx.AsyncClient, world: World) -> None:
    for path in ("samples", "confidence", "priority"):
        r = await app_client.get(f"/api/users/{world.client_id}/metrics/mood/{path}",
                                 headers=world.headers["admin"])
        assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
        assert "mood" in r.json()["detail"]
    r = await app_client.get("/api/users/99999999999999999999/metrics",
                             headers=world.headers["admin"])
    assert r.status_code in (404, 422)


async def test_confidence_explanation_cached_or_computed_on_the_spot(
        app_client: httpx.AsyncClient, world: World, conn: Conn) -> None:
    r = await app_client.get(f"/api/users/{world.client_id}/metrics/weight/confidence",
                             headers=world.headers["trainer"])
    body = r.json()
    assert body["cached"] is True and body["display_name"] == "Weight"
    components = {c["code"]: c for c in body["explanation"]["components"]}
    assert set(components) == {"F", "C", "P", "O", "R", "A"}
    assert components["A"]["score"] == 0
    await conn.execute("DELETE FROM metric_confidence_cache")
    live = (await app_client.get(f"/api/users/{world.client_id}/metrics/weight/confidence",
                                 headers=world.headers["trainer"])).json()
    assert live["cached"] is False and live["score"] == body["score"]


async def test_manual_entry(app_client: httpx.AsyncClient, world: World, conn: Conn) -> None:
    at = (NOW - timedelta(minutes=5)).isoformat()
    r = await app_client.post("/api/me/samples", headers=world.headers["other"],
                              json={"metric": "weight", "value": 170, "unit": "lb",
                                    "measured_at": at})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["value"] == pytest.approx(77.11, abs=0.01) and body["source"] == "manual"
    stored = await rows(conn, "SELECT device_type, w.name FROM metric_samples s JOIN webhook_sources w"
                              " USING (source_id) WHERE user_id = %s", world.other_client_id)
    assert stored == [{"device_type": "manual", "name": "manual"}]
    jobs = await rows(conn, "SELECT dedupe_key FROM background_jobs WHERE status = 'pending'"
                            " AND dedupe_key = %s", f"confidence:{world.other_client_id}:weight")
    assert len(jobs) == 1
    for payload, detail in (({"metric": "weight", "value": 80, "unit": "furlong"}, "furlong"),
                            ({"metric": "mood", "value": 3}, "mood"),
                            ({"metric": "weight", "value": "heavy"}, "value"),
                            ({"metric": "weight", "value": 80,
                              "measured_at": "2026-01-01T07:00:00"}, "time zone")):
        bad = await app_client.post("/api/me/samples", headers=world.headers["other"], json=payload)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith(PROBLEM) and detail in bad.json()["detail"]
    anon = await app_client.post("/api/me/samples", json={"metric": "weight", "value": 80})
    assert anon.status_code == 401


async def test_priority_override_by_role(app_client: httpx.AsyncClient, world: World,
                                         conn: Conn) -> None:
    path = f"/api/users/{world.client_id}/metrics/weight/priority"
    default = (await app_client.get(path, headers=world.headers["client"])).json()
    assert default["overridden"] is False and default["priority"][:2] == ["lab", "scale"]
    body = {"priority": ["manual", "scale"]}
    for role, status in EXPECTED.items():
        r = await app_client.put(path, headers=world.headers[role], json=body)
        assert r.status_code == status, (role, r.text)
    after = (await app_client.get(path, headers=world.headers["trainer"])).json()
    assert after["overridden"] is True and after["priority"] == ["manual", "scale"]
    audits = await rows(conn, "SELECT action, target, result FROM audit_log"
                              " WHERE action = 'metrics.priority.update'")
    assert len(audits) == 3 and audits[0]["target"] == f"user:{world.client_id}/weight"
    jobs = await rows(conn, "SELECT 1 FROM background_jobs WHERE status = 'pending'"
                            " AND dedupe_key = %s", f"confidence:{world.client_id}:weight")
    assert len(jobs) == 1
    bad = await app_client.put(path, headers=world.headers["client"],
                               json={"priority": ["scale", "toaster"]})
    assert bad.status_code == 422 and "toaster" in bad.json()["detail"]
    reset = await app_client.put(path, headers=world.headers["client"], json={"priority": None})
    assert reset.json()["overridden"] is False


async def test_confidence_lookup_authenticates_before_anything_else(
        app_client: httpx.AsyncClient, world: World, conn: Conn, settings: Settings) -> None:
    """The lookup authenticates a bearer token, checks access and reads the cache in one
    statement; a session cookie takes the usual path. Same answers either way."""
    path = f"/api/users/{world.client_id}/metrics/weight/confidence"
    trainer = world.headers["trainer"]
    # a bad token is a 401 whatever the rest of the request (unknown or impossible user)
    for target in (world.client_id, world.other_client_id, 99999999999999999999):
        for token in ("vt_not-a-token", "x" * 500):
            r = await app_client.get(f"/api/users/{target}/metrics/weight/confidence",
                                     headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            assert r.headers["content-type"].startswith(PROBLEM)
    # a user id out of range for the database: no such user, not a 500
    r = await app_client.get("/api/users/99999999999999999999/metrics/weight/confidence",
                             headers=trainer)
    assert r.status_code == 404
    # the trainer loses the client: 404, as for any user out of reach
    assert (await app_client.get(path, headers=trainer)).status_code == 200
    await conn.execute("DELETE FROM trainer_clients WHERE client_id = %s", (world.client_id,))
    assert (await app_client.get(path, headers=trainer)).status_code == 404
    # a revoked token stops working at once
    await conn.execute("UPDATE api_tokens SET revoked_at = now()")
    assert (await app_client.get(path, headers=world.headers["admin"])).status_code == 401
    # a browser session (the admin's cookie) reads the same cached score
    admin_id = (await (await conn.execute(
        "SELECT user_id FROM users WHERE role = 'admin' ORDER BY user_id DESC LIMIT 1"
    )).fetchone() or {})["user_id"]
    session = await create_session(conn, settings, admin_id, "test")
    app_client.cookies.set(SESSION_COOKIE, session.token)
    try:
        r = await app_client.get(path)
    finally:
        app_client.cookies.clear()
    assert r.status_code == 200 and r.json()["cached"] is True
    assert r.json()["user_id"] == world.client_id
