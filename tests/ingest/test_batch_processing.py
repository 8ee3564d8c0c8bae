"""`webhook_processing` in batches: one call for every claimed delivery gives each event
exactly the outcome the per-event job gives it, and processes a delivery once."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import make_user
from tests.ingest.support import make_source, native_body, standard_headers
from vitaltrust.config import Settings, get_settings
from vitaltrust.db import Conn
from vitaltrust.ingest.jobs import process_event
from vitaltrust.ingest.sources import link_account
from vitaltrust.queue.enqueue import NewJob, enqueue_many
from vitaltrust.queue.worker import run_until_idle

EVENTS = """
SELECT webhook_event_id, status, sample_count, rejections, error, event_type
FROM webhook_events ORDER BY webhook_event_id
"""
SAMPLES = "SELECT user_id, metric, value, webhook_event_id FROM metric_samples ORDER BY 1, 2, 3, 4"


async def snapshot(conn: Conn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return ([dict(r) for r in await (await conn.execute(EVENTS)).fetchall()],
            [dict(r) for r in await (await conn.execute(SAMPLES)).fetchall()])


async def test_a_batch_gives_every_event_the_per_event_outcome(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    one, two = await make_user(conn, "client"), await make_user(conn, "client")
    source, secret = await make_source(conn)
    other, other_secret = await make_source(conn)
    await link_account(conn, source_name=source.name, external_user_id="ext-1", email=one.email)
    await link_account(conn, source_name=other.name, external_user_id="ext-1", email=two.email)
    mixed = json.dumps({"type": "samples", "user": "ext-1", "samples": [
        {"metric": "weight", "value": 71, "unit": "kg", "measured_at": "2026-11-27T07:00:00Z"},
        {"user": "nobody", "metric": "weight", "value": 72, "unit": "kg",
         "measured_at": "2026-11-27T07:00:00Z"},
        {"metric": "mood", "value": 3, "measured_at": "2026-11-27T07:00:00Z"}]}).encode()
    bodies = [(source, secret, native_body("ext-1", 80.2)),
              (other, other_secret, native_body("ext-1", 90.5)),  # same account, other source
              (source, secret, native_body("stranger")),
              (source, secret, b'{"type": "samples", "samples": 5}'),
              (source, secret, json.dumps({"type": "user.deauth", "user": "ext-1"}).encode()),
              (source, secret, mixed)]
    ids = []
    for src, sec, body in bodies:
        r = await app_client.post(f"/webhooks/{src.name}", content=body,
                                  headers=standard_headers(sec, body))
        assert r.status_code == 202, r.text
        ids.append(int(r.json()["webhook_event_id"]))
    # a second job for the first delivery (a provider retry racing a rescue): still once
    await enqueue_many(conn, [NewJob("webhook_processing", {"webhook_event_id": ids[0]})])
    # 7 processing jobs; the batch scores both users' weight itself (score_inline, the
    # default), so no confidence job follows
    assert await run_until_idle(app_client.app.state.pool, settings) == 7  # type: ignore[attr-defined]
    scored = await (await conn.execute(
        "SELECT user_id FROM metric_confidence_cache WHERE metric = 'weight' ORDER BY 1")
                    ).fetchall()
    assert [r["user_id"] for r in scored] == sorted([one.user_id, two.user_id])
    events, samples = await snapshot(conn)
    assert [e["status"] for e in events] == [
        "processed", "processed", "unmatched", "failed", "ignored", "processed"]
    assert [e["sample_count"] for e in events] == [1, 1, 0, 0, 0, 1]
    assert "nobody" in json.dumps(events[5]["rejections"]) and "mood" in json.dumps(
        events[5]["rejections"])
    assert [(s["user_id"], float(s["value"])) for s in samples] == sorted(
        [(one.user_id, 80.2), (two.user_id, 90.5), (one.user_id, 71.0)])
    jobs = await (await conn.execute(
        "SELECT status, count(*) AS n FROM background_jobs WHERE type = 'webhook_processing' "
        "GROUP BY status")).fetchall()
    assert [dict(r) for r in jobs] == [{"status": "completed", "n": 7}]

    # the same deliveries processed one by one (the per-event job) end the same way
    await conn.execute("DELETE FROM metric_samples")
    await conn.execute("UPDATE webhook_events SET status = 'received', sample_count = 0, "
                       "rejections = '[]', error = NULL")
    for event_id in ids:
        async with conn.transaction():
            await process_event(conn, event_id)
    assert await snapshot(conn) == (events, samples)


async def test_score_inline_scores_the_changed_pairs_in_the_batch_instead_of_enqueueing(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITALTRUST_SCORE_INLINE", "true")
    get_settings.cache_clear()
    try:
        user = await make_user(conn, "client")
        source, secret = await make_source(conn)
        await link_account(conn, source_name=source.name, external_user_id="ext-1",
                           email=user.email)
        for value, day in ((80.2, 22), (80.4, 24)):
            body = native_body("ext-1", value, measured_at=f"2026-11-{day}T07:00:00Z")
            r = await app_client.post(f"/webhooks/{source.name}", content=body,
                                      headers=standard_headers(secret, body))
            assert r.status_code == 202, r.text
        assert await run_until_idle(app_client.app.state.pool, settings) == 2  # type: ignore[attr-defined]
    finally:
        get_settings.cache_clear()
    types = await (await conn.execute("SELECT DISTINCT type FROM background_jobs")).fetchall()
    assert [r["type"] for r in types] == ["webhook_processing"]  # no confidence job
    cache = await (await conn.execute(
        "SELECT sample_count, last_sample_at FROM metric_confidence_cache "
        "WHERE user_id = %s AND metric = 'weight'", (user.user_id,))).fetchone()
    assert cache is not None and cache["sample_count"] == 2
