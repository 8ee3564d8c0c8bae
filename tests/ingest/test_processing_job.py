"""The webhook_processing job end to end: delivery → queue → samples / event status."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.conftest import make_user
from tests.ingest.support import make_source, native_body, standard_headers, terra_headers
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.jobs import process_event
from vitaltrust.ingest.sources import link_account
from vitaltrust.queue.worker import run_until_idle


async def deliver(client: httpx.AsyncClient, name: str, secret: str, body: bytes) -> int:
    r = await client.post(f"/webhooks/{name}", content=body, headers=standard_headers(secret, body))
    assert r.status_code == 202, r.text
    return int(r.json()["webhook_event_id"])


async def event(conn: Conn, event_id: int) -> dict[str, Any]:
    row = await (await conn.execute(
        "SELECT status, sample_count, rejections, error, processing_ms, processed_at, event_type "
        "FROM webhook_events WHERE webhook_event_id = %s", (event_id,))).fetchone()
    assert row is not None
    return dict(row)


async def drain(client: httpx.AsyncClient, settings: Settings) -> int:
    return await run_until_idle(client.app.state.pool, settings)  # type: ignore[attr-defined]


async def test_good_samples_are_stored_and_bad_ones_rejected_one_by_one(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user = await make_user(conn, "client")
    source, secret = await make_source(conn)
    await link_account(conn, source_name=source.name, external_user_id="ext-1", email=user.email)
    body = json.dumps({"type": "samples", "user": "ext-1", "samples": [
        {"metric": "weight", "value": 80.2, "unit": "kg", "measured_at": "2026-11-28T07:02:00+01:00",
         "device": {"type": "scale", "model": "Body+"}},
        {"metric": "weight", "value": 176.4, "unit": "lb", "measured_at": "2026-11-27T07:00:00Z"},
        {"metric": "mood", "value": 3, "measured_at": "2026-11-28T07:02:00Z"},
        {"metric": "weight", "value": 80, "unit": "furlongs", "measured_at": "2026-11-28T07:02:00Z"},
        {"metric": "weight", "value": "eighty", "unit": "kg", "measured_at": "2026-11-28T07:02:00Z"},
        {"metric": "steps", "value": 12, "measured_at": "2026-11-28T07:02:00Z"},
    ]}).replace('"value": 12', '"value": NaN').encode()
    event_id = await deliver(app_client, source.name, secret, body)
    assert await drain(app_client, settings) >= 1
    e = await event(conn, event_id)
    assert e["status"] == "processed", e
    assert e["sample_count"] == 2 and e["processing_ms"] is not None and e["processed_at"]
    reasons = " | ".join(r["reason"] for r in e["rejections"])
    assert len(e["rejections"]) == 4, reasons
    assert "mood" in reasons and "furlongs" in reasons and "NaN" in reasons
    rows = await (await conn.execute(
        "SELECT value, device_type FROM metric_samples WHERE user_id = %s AND metric = 'weight' "
        "ORDER BY measured_at", (user.user_id,))).fetchall()
    assert [round(r["value"], 1) for r in rows] == [80.0, 80.2]
    assert rows[1]["device_type"] == "scale"
    # the job is idempotent: running it again changes nothing
    await conn.execute("UPDATE webhook_events SET status = 'received' WHERE webhook_event_id = %s",
                       (event_id,))
    async with app_client.app.state.pool.connection() as c, c.transaction():  # type: ignore[attr-defined]
        assert await process_event(c, event_id) == "processed"
    n = await (await conn.execute("SELECT count(*) AS n FROM metric_samples WHERE user_id = %s",
                                  (user.user_id,))).fetchone()
    assert n is not None and n["n"] == 2


async def test_unknown_account_is_unmatched_not_a_failure(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    source, secret = await make_source(conn)
    event_id = await deliver(app_client, source.name, secret, native_body(user="stranger"))
    await drain(app_client, settings)
    e = await event(conn, event_id)
    assert e["status"] == "unmatched" and e["sample_count"] == 0 and e["error"] is None
    job = await (await conn.execute(
        "SELECT status FROM background_jobs WHERE type = 'webhook_processing'")).fetchone()
    assert job is not None and job["status"] == "completed"


async def test_lifecycle_event_is_recorded_without_samples(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    source, secret = await make_source(conn, "terra")
    body = json.dumps({"type": "deauth", "user": {"user_id": "tu", "reference_id": "r"}}).encode()
    r = await app_client.post(f"/webhooks/{source.name}", content=body,
                              headers=terra_headers(secret, body))
    assert r.status_code == 202
    await drain(app_client, settings)
    e = await event(conn, int(r.json()["webhook_event_id"]))
    assert e["status"] == "ignored" and e["sample_count"] == 0 and e["event_type"] == "deauth"


async def test_wrong_shape_fails_the_event_with_its_error(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    source, secret = await make_source(conn)
    body = json.dumps({"type": "samples", "user": "u", "samples": "many"}).encode()
    event_id = await deliver(app_client, source.name, secret, body)
    await drain(app_client, settings)
    e = await event(conn, event_id)
    assert e["status"] == "failed" and "samples" in e["error"]


async def test_outcomes_are_counted_in_webhook_stats(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    source, secret = await make_source(conn)
    await deliver(app_client, source.name, secret, native_body(user="nobody"))
    bad = native_body()
    await app_client.post(f"/webhooks/{source.name}", content=bad,
                          headers=standard_headers(secret, bad + b" "))
    await drain(app_client, settings)
    got: tuple[object, ...] = ()
    for _ in range(50):  # the recorder flushes in the background (every 0.2 s here)
        await app_client.app.state.stats.flush()  # type: ignore[attr-defined]
        row = await (await conn.execute(
            "SELECT sum(received) AS received, sum(rejected) AS rejected, sum(unmatched) AS u "
            "FROM webhook_stats_minute WHERE source_id = %s", (source.source_id,))).fetchone()
        calls = await (await conn.execute(
            "SELECT sum(invocations) AS n, sum(errors) AS e FROM function_stats_minute "
            "WHERE function_name = 'webhook-ingest'")).fetchone()
        assert row is not None and calls is not None
        got = (row["received"], row["rejected"], row["u"], calls["n"], calls["e"])
        if got == (1, 1, 1, 2, 1):
            break
        await asyncio.sleep(0.1)
    assert got == (1, 1, 1, 2, 1)


async def test_unmatched_events_are_processed_after_link_and_reprocess(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings, db_url: str) -> None:
    from tests.support.cli import run_cli

    user = await make_user(conn, "client")
    source, secret = await make_source(conn)
    event_id = await deliver(app_client, source.name, secret, native_body(user="late"))
    await drain(app_client, settings)
    assert (await event(conn, event_id))["status"] == "unmatched"
    await link_account(conn, source_name=source.name, external_user_id="late", email=user.email)
    done = run_cli(db_url, "sources", "reprocess", source.name)
    assert done.returncode == 0 and "queued 1 event" in done.stdout, done.stderr
    await drain(app_client, settings)
    e = await event(conn, event_id)
    assert e["status"] == "processed" and e["sample_count"] == 1
    bad = run_cli(db_url, "sources", "reprocess", source.name, "--status", "processed")
    assert bad.returncode != 0 and "status must be one of" in (bad.stdout + bad.stderr)


async def test_nul_characters_do_not_break_the_job(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user = await make_user(conn, "client")
    source, secret = await make_source(conn)
    await link_account(conn, source_name=source.name, external_user_id="nul", email=user.email)
    body = (b'{"type": "samples", "user": "nul", "samples": ['
            b'{"metric": "weight\\u0000", "value": 80, "measured_at": "2026-11-28T07:00:00Z"},'
            b'{"metric": "weight", "value": 81, "unit": "kg", "measured_at": "2026-11-28T08:00:00Z",'
            b' "device": {"type": "scale", "model": "B\\u0000ody"}}]}')
    event_id = await deliver(app_client, source.name, secret, body)
    await drain(app_client, settings)
    e = await event(conn, event_id)
    assert e["status"] == "processed" and e["sample_count"] >= 1, e
