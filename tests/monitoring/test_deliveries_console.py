"""The deliveries console API on real signed deliveries processed by the real worker: counts
that add up (also after reprocessing), unmatched accounts linked from the API, one event."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import bearer_for, make_user
from tests.ingest.support import make_source, native_body, standard_headers
from tests.monitoring.activity import run_jobs
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.sources import link_account

OUTCOMES = ("processed", "unmatched", "ignored", "failed", "queued")


async def deliver(client: httpx.AsyncClient, source: str, secret: str, body: bytes,
                  msg_id: str | None = None, *, sign_with: str | None = None) -> int:
    r = await client.post(f"/webhooks/{source}", content=body,
                          headers=standard_headers(sign_with or secret, body, msg_id=msg_id))
    return r.status_code


async def summary(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    await client.app.state.stats.flush()  # type: ignore[attr-defined]
    r = await client.get("/api/admin/webhook-events/summary", headers=headers)
    assert r.status_code == 200, r.text
    totals: dict[str, Any] = r.json()["totals"]
    return totals


def assert_adds_up(t: dict[str, Any]) -> None:
    assert t["received"] == sum(t[k] for k in OUTCOMES), t


async def test_counts_add_up_and_linking_reprocesses_only_waiting_events(
        app_client: httpx.AsyncClient, conn: Conn, db_url: str, settings: Settings) -> None:
    admin = await bearer_for(conn, await make_user(conn, "admin"))
    ann = await make_user(conn, "client", email="ann@deliveries.test")
    ben = await make_user(conn, "client", email="ben@deliveries.test")
    _, secret = await make_source(conn, name="scale-co")
    _, other_secret = await make_source(conn, name="ring-co")
    await link_account(conn, source_name="scale-co", external_user_id="ext-ann",
                       email=ann.email)

    assert await deliver(app_client, "scale-co", secret, native_body("ext-ann"), "m1") == 202
    assert await deliver(app_client, "scale-co", secret, native_body("ext-ben", 70.1)) == 202
    assert await deliver(app_client, "scale-co", secret, native_body(
        "ext-ben", 70.3, measured_at="2026-11-28T08:02:00+01:00")) == 202
    assert await deliver(app_client, "ring-co", other_secret, native_body("ext-ben", 70.5)) == 202
    broken = b'{"type": "samples", "user": "ext-ann", "samples": "not a list"}'
    assert await deliver(app_client, "scale-co", secret, broken) == 202
    assert await deliver(app_client, "scale-co", secret, native_body("ext-ann"), "m1") in (200, 202)
    assert await deliver(app_client, "scale-co", secret, native_body("ext-ann"),
                         sign_with="whsec_" + "QUFB" * 8) == 401

    queued = await summary(app_client, admin)
    assert queued["received"] == 5 and queued["queued"] == 5
    assert_adds_up(queued)
    await run_jobs(db_url, settings)
    t = await summary(app_client, admin)
    assert (t["received"], t["processed"], t["unmatched"], t["failed"], t["queued"]) == (5, 1, 3, 1, 0)
    assert (t["duplicates"], t["rejected"], t["rate_limited"]) == (1, 1, 0)
    assert_adds_up(t)

    accounts = (await app_client.get("/api/admin/webhook-events/unmatched-accounts",
                                     headers=admin)).json()["rows"]
    waiting = {(a["source"], a["external_user_id"]): a["waiting_events"] for a in accounts}
    assert waiting == {("scale-co", "ext-ben"): 2, ("ring-co", "ext-ben"): 1}

    r = await app_client.post("/api/admin/webhook-events/link-account", headers=admin, json={
        "source": "scale-co", "external_user_id": "ext-ben", "email": ben.email})
    assert r.status_code == 200, r.text
    assert r.json()["reprocessed"] == 2 and r.json()["linked"] is True
    await run_jobs(db_url, settings)
    t = await summary(app_client, admin)
    # the two events moved from unmatched to processed: counted once each
    assert (t["received"], t["processed"], t["unmatched"], t["failed"]) == (5, 3, 1, 1)
    assert_adds_up(t)
    stored = await (await conn.execute(
        "SELECT count(*) AS n FROM metric_samples WHERE user_id = %s", (ben.user_id,))).fetchone()
    assert stored is not None and stored["n"] == 2  # ring-co's event still waits for its link

    taken = await app_client.post("/api/admin/webhook-events/link-account", headers=admin, json={
        "source": "scale-co", "external_user_id": "ext-ben", "user_id": ann.user_id})
    assert taken.status_code == 409
    assert (await app_client.post("/api/admin/webhook-events/link-account", headers=admin, json={
        "source": "scale-co", "external_user_id": "x", "email": "nobody@x.test"})).status_code == 404

    failed = (await app_client.get("/api/admin/webhook-events", headers=admin,
                                   params={"status": "failed"})).json()["rows"]
    assert len(failed) == 1 and "must be a list" in failed[0]["error"]
    event_id = failed[0]["id"]
    again = await app_client.post(f"/api/admin/webhook-events/{event_id}/reprocess", headers=admin)
    assert again.status_code == 200, again.text
    await run_jobs(db_url, settings)
    t = await summary(app_client, admin)
    assert t["failed"] == 1 and t["received"] == 5  # reprocessed and failed again: once
    assert_adds_up(t)


async def test_one_event_pretty_body_parsed_samples_and_accounts(
        app_client: httpx.AsyncClient, conn: Conn, db_url: str, settings: Settings) -> None:
    admin = await bearer_for(conn, await make_user(conn, "admin"))
    ann = await make_user(conn, "client")
    await make_source(conn, name="scale-co")
    _, secret = await make_source(conn, name="scale-two")
    await link_account(conn, source_name="scale-two", external_user_id="ext-ann", email=ann.email)
    await deliver(app_client, "scale-two", secret, native_body("ext-ann", 81.5))
    await run_jobs(db_url, settings)
    [row] = (await app_client.get("/api/admin/webhook-events", headers=admin,
                                  params={"source": "scale-two"})).json()["rows"]
    event = (await app_client.get(f"/api/admin/webhook-events/{row['id']}", headers=admin)).json()
    assert event["status"] == "processed" and event["sample_count"] == 1
    assert event["body_is_json"] and event["body"].startswith('{\n  "type": "samples"')
    assert event["parsed"]["total"] == 1 and event["parsed"]["samples"][0]["value"] == 81.5
    assert event["accounts"] == [{"external_user_id": "ext-ann", "user_id": ann.user_id,
                                  "user_name": ann.display_name or ann.email}]
    for bad in ("/api/admin/webhook-events/99999999", "/api/admin/webhook-events?status=lost",
                "/api/admin/webhook-events?source=Bad%20Name",
                "/api/admin/webhook-events/summary?since=2026-01-01T00:00:00"):
        r = await app_client.get(bad, headers=admin)
        assert r.status_code in (404, 422), (bad, r.status_code)
        assert r.headers["content-type"] == "application/problem+json"
