"""Through the real paths: a signed webhook and a manual entry → worker → cache → API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import bearer_for, make_user
from tests.ingest.support import make_source, standard_headers
from tests.metrics.helpers import rows
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.sources import link_account
from vitaltrust.queue.worker import run_until_idle

NOW = datetime.now(UTC).replace(microsecond=0)
# the operator's query from docs/operations.md: cache rows older than their inputs
STALE_ROWS = """
SELECT c.user_id, c.metric FROM metric_confidence_cache c
WHERE c.data_version < (SELECT (extract(epoch FROM max(s.received_at)) * 1e6)::bigint
                        FROM metric_samples s
                        WHERE s.user_id = c.user_id AND s.metric = c.metric
                          AND s.measured_at > c.computed_at - interval '37 days')
"""


def scale_body(*points: tuple[datetime, float]) -> bytes:
    return json.dumps({"type": "samples", "user": "scale-user", "samples": [
        {"metric": "weight", "value": v, "unit": "kg", "measured_at": at.isoformat(),
         "device": {"type": "scale", "model": "Body+"}} for at, v in points]}).encode()


async def drain(client: httpx.AsyncClient, settings: Settings) -> int:
    return await run_until_idle(client.app.state.pool, settings)  # type: ignore[attr-defined]


async def test_scale_and_manual_entry_ten_minutes_apart(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user = await make_user(conn, "client")
    auth = await bearer_for(conn, user)
    source, secret = await make_source(conn, name="body-scale")
    await link_account(conn, source_name=source.name, external_user_id="scale-user",
                       email=user.email)
    weigh_in = NOW - timedelta(hours=1)
    history = [(weigh_in - timedelta(days=d), 80.0 + 0.1 * (d % 2)) for d in range(6, 0, -1)]
    body = scale_body(*history, (weigh_in, 80.2))
    r = await app_client.post(f"/webhooks/{source.name}", content=body,
                              headers=standard_headers(secret, body))
    assert r.status_code == 202, r.text
    r = await app_client.post("/api/me/samples", headers=auth, json={
        "metric": "weight", "value": 83.5, "unit": "kg",
        "measured_at": (weigh_in + timedelta(minutes=10)).isoformat()})
    assert r.status_code == 201, r.text
    assert await drain(app_client, settings) >= 2

    series = (await app_client.get(
        f"/api/users/{user.user_id}/metrics/weight/samples?include=conflicts", headers=auth)).json()
    same_time = [p for p in series["series"] if p["measured_at"] >= weigh_in.isoformat()]
    assert [(p["value"], p["source"]) for p in same_time] == [(80.2, "body-scale")]
    [conflict] = series["conflicts"]
    assert conflict["winner"]["source"] == "body-scale" and conflict["loser"]["source"] == "manual"
    assert conflict["agrees"] is False
    stored = await rows(conn, "SELECT winner_value, loser_value, agrees FROM metric_conflicts"
                              " WHERE user_id = %s", user.user_id)
    assert stored == [{"winner_value": 80.2, "loser_value": 83.5, "agrees": False}]

    confidence = (await app_client.get(
        f"/api/users/{user.user_id}/metrics/weight/confidence", headers=auth)).json()
    assert confidence["cached"] is True and confidence["latest_value"] == 80.2
    agreement = next(c for c in confidence["explanation"]["components"] if c["code"] == "A")
    assert agreement["score"] == 0
    assert any(r["code"] == "SOURCE_CONFLICT" for r in agreement["reasons"])


async def test_cache_follows_new_samples_once_the_queue_drains(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user = await make_user(conn, "client")
    auth = await bearer_for(conn, user)
    for hours in (50, 26, 2):
        r = await app_client.post("/api/me/samples", headers=auth, json={
            "metric": "resting_heart_rate", "value": 55,
            "measured_at": (NOW - timedelta(hours=hours)).isoformat()})
        assert r.status_code == 201, r.text
    await drain(app_client, settings)
    path = f"/api/users/{user.user_id}/metrics/resting_heart_rate/confidence"
    before = (await app_client.get(path, headers=auth)).json()
    assert before["cached"] is True and before["sample_count"] == 3

    r = await app_client.post("/api/me/samples", headers=auth, json={
        "metric": "resting_heart_rate", "value": 56, "measured_at": NOW.isoformat()})
    assert r.status_code == 201
    stale = (await app_client.get(path, headers=auth)).json()
    assert stale["computed_at"] == before["computed_at"]  # not recalculated yet
    assert len(await rows(conn, STALE_ROWS)) == 1
    assert await drain(app_client, settings) == 1  # one deduplicated job
    assert await rows(conn, STALE_ROWS) == []
    after = (await app_client.get(path, headers=auth)).json()
    assert after["computed_at"] > before["computed_at"]
    assert after["sample_count"] == 4 and after["latest_value"] == 56
    assert after["data_version"] > before["data_version"]
