"""Published provider samples through the real processing job, queue and database.

Deliveries are stored as the webhook route stores them (event row + webhook_processing job
in one transaction), so these tests exercise processing whatever the route's
authentication; the worker then runs the job. Expected values are read off the
published payloads (tests/ingest/fixtures), converted to each metric's canonical unit.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import make_user
from tests.ingest.fixtures import garmin, junction, terra
from tests.ingest.support import make_source, terra_headers
from tests.ingest.test_processing_job import drain, event
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.jobs import process_event
from vitaltrust.ingest.sources import link_account
from vitaltrust.queue.enqueue import NewJob, enqueue_many

INSERT_EVENT = """
INSERT INTO webhook_events (source_id, event_id, body_sha256, body, content_type, event_type)
VALUES (%s, %s, %s, %s, 'application/json', NULL) RETURNING webhook_event_id
"""
SAMPLES = """
SELECT metric, value, original_value, original_unit, local_date::text AS day, device_type,
       device_model, flags
FROM metric_samples WHERE user_id = %s ORDER BY metric, measured_at
"""


async def store(conn: Conn, source_id: int, payload: dict[str, Any] | bytes) -> int:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with conn.transaction():
        row = await (await conn.execute(INSERT_EVENT, (
            source_id, f"t-{uuid.uuid4().hex}", hashlib.sha256(body).digest(), body))).fetchone()
        assert row is not None
        event_id = int(row["webhook_event_id"])
        await enqueue_many(conn, [NewJob("webhook_processing", {"webhook_event_id": event_id})])
    return event_id


async def linked_user(conn: Conn, kind: str, account: str) -> tuple[int, int]:
    user = await make_user(conn, "client")
    source, _ = await make_source(conn, kind)
    await link_account(conn, source_name=source.name, external_user_id=account, email=user.email)
    return user.user_id, source.source_id


async def rows(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await (await conn.execute(SAMPLES, (user_id,))).fetchall()]


def table(found: list[dict[str, Any]], metric: str) -> list[tuple[float, str | None, str]]:
    return [(round(r["value"], 3), r["original_unit"], r["day"]) for r in found
            if r["metric"] == metric]


async def run(app_client: httpx.AsyncClient, settings: Settings, conn: Conn, source_id: int,
              payload: dict[str, Any] | bytes) -> dict[str, Any]:
    event_id = await store(conn, source_id, payload)
    await drain(app_client, settings)
    return await event(conn, event_id) | {"id": event_id}


# --- Garmin ------------------------------------------------------------------------------

async def test_garmin_published_summaries_are_stored_on_their_days(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "garmin", garmin.USER)
    for payload in (garmin.DAILIES, garmin.SLEEPS, garmin.BODY_COMPS, garmin.HRV,
                    garmin.BLOOD_PRESSURES, garmin.PULSE_OX, garmin.USER_METRICS):
        e = await run(app_client, settings, conn, source_id, payload)
        assert e["status"] == "processed" and e["error"] is None and e["rejections"] == [], e
    found = await rows(conn, user_id)
    assert table(found, "steps") == [(4210, "steps", "2016-01-11"), (3305, "steps", "2016-01-12")]
    assert table(found, "resting_heart_rate") == [(64, "bpm", "2016-01-12")]
    assert len(table(found, "heart_rate")) == 16 + 1  # two dailies' samples + the BP pulse
    assert table(found, "sleep_duration") == [(15264, "s", "2016-01-10"), (11900, "s", "2016-01-11"),
                                              (28260, "s", "2021-01-29")]
    assert table(found, "weight") == [(75.45, "g", "2015-08-16"), (751.732, "g", "2015-08-17")]
    assert [r["flags"] for r in found if r["metric"] == "weight"] == [[], ["IMPLAUSIBLE_VALUE"]]
    assert table(found, "body_fat") == [(17.1, "%", "2015-08-16"), (17.3, "%", "2015-08-17")]
    assert table(found, "hrv_rmssd") == [(44, "ms", "2022-05-31")]
    assert table(found, "blood_pressure_systolic") == [(120, "mmHg", "2022-09-21")]
    assert table(found, "blood_pressure_diastolic") == [(110, "mmHg", "2022-09-21")]
    assert table(found, "vo2max") == [(48.0, "mL/kg/min", "2017-03-23")]
    spo2 = table(found, "spo2")
    assert len(spo2) == 7 + 8
    # pulse ox: 20:11:46 UTC + 1 h offset + 7140 s is 23:10:46 local, + 10740 s the next day
    assert (94, "%", "2018-08-27") in spo2 and (98, "%", "2018-08-28") in spo2
    assert (93, "%", "2019-10-29") in spo2


async def test_garmin_unmapped_types_are_ignored_with_reasons_not_failed(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "garmin", garmin.USER)
    e = await run(app_client, settings, conn, source_id, garmin.UNMAPPED)
    assert e["status"] == "ignored" and e["error"] is None and e["sample_count"] == 0
    ignored = await (await conn.execute(
        "SELECT ignored FROM webhook_events WHERE webhook_event_id = %s", (e["id"],))).fetchone()
    assert ignored is not None
    text = " | ".join(ignored["ignored"])
    assert "allDayRespiration (1 summary): respiration rate is not a tracked metric" in text
    assert "skinTemp" in text and "epochs (2 summaries)" in text
    # the same types beside mapped data: the data is stored, the rest explained
    e = await run(app_client, settings, conn, source_id, {**garmin.UNMAPPED, **garmin.HRV})
    assert e["status"] == "processed" and e["sample_count"] == 1
    assert table(await rows(conn, user_id), "hrv_rmssd") == [(44, "ms", "2022-05-31")]


async def test_garmin_lifecycle_events_store_nothing(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "garmin", garmin.USER)
    for payload in (garmin.DEREGISTRATIONS, garmin.PERMISSIONS_CHANGE):
        e = await run(app_client, settings, conn, source_id, payload)
        assert e["status"] == "ignored" and e["sample_count"] == 0 and e["error"] is None
    assert await rows(conn, user_id) == []


async def test_garmin_ping_needs_pull_counted_and_logged(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings, db_url: str) -> None:
    from tests.support.cli import run_cli

    user_id, source_id = await linked_user(conn, "garmin", garmin.USER)
    e = await run(app_client, settings, conn, source_id, garmin.PING)
    assert e["status"] == "needs_pull" and e["sample_count"] == 0 and e["error"] is None
    assert await rows(conn, user_id) == []
    stats = await (await conn.execute(
        "SELECT sum(processed) AS processed, sum(needs_pull) AS needs_pull, sum(failed) AS failed "
        "FROM webhook_stats_minute WHERE source_id = %s", (source_id,))).fetchone()
    assert stats is not None and (stats["processed"], stats["needs_pull"], stats["failed"]) == (1, 1, 0)
    total = await (await conn.execute(
        "SELECT needs_pull FROM webhook_stats_total WHERE source_id = %s", (source_id,))).fetchone()
    assert total is not None and total["needs_pull"] == 1
    shown = run_cli(db_url, "logs", "--function", "webhook-ingest")
    assert shown.returncode == 0, shown.stderr
    assert "event_needs_pull" in shown.stdout and f"webhook_event={e['id']}" in shown.stdout
    # a finished outcome: running the job again changes nothing
    async with app_client.app.state.pool.connection() as c, c.transaction():  # type: ignore[attr-defined]
        assert await process_event(c, e["id"]) is None
    assert (await event(conn, e["id"]))["status"] == "needs_pull"


DAILY_CASES = [
    ("garmin", garmin.USER, garmin.DAILIES, garmin.DAILY_PARTIAL,
     {"steps": [(4210, "steps", "2016-01-11"), (3305, "steps", "2016-01-12")],
      "resting_heart_rate": [(64, "bpm", "2016-01-12")]}),
    ("terra", terra.ACCOUNT, terra.DAILY, terra.DAILY_PARTIAL,
     {"steps": [(11894, "steps", "2026-07-01")]}),
]


@pytest.mark.parametrize("full_first", [True, False],
                         ids=["full_then_partial", "partial_then_full"])
@pytest.mark.parametrize(("kind", "account", "full", "partial", "expected"), DAILY_CASES,
                         ids=["garmin", "terra"])
async def test_daily_partial_and_full_in_both_orders(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings, kind: str, account: str,
        full: dict[str, Any], partial: dict[str, Any], expected: dict[str, Any],
        full_first: bool) -> None:
    user_id, source_id = await linked_user(conn, kind, account)
    for payload in ((full, partial) if full_first else (partial, full)):
        assert (await run(app_client, settings, conn, source_id, payload))["status"] == "processed"
    found = await rows(conn, user_id)
    assert {metric: table(found, metric) for metric in expected} == expected


# --- Terra -------------------------------------------------------------------------------

async def test_terra_published_body_daily_sleep(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "terra", terra.ACCOUNT)
    for payload in (terra.BODY, terra.DAILY, terra.SLEEP_FULL):
        e = await run(app_client, settings, conn, source_id, payload)
        assert e["status"] == "processed" and e["rejections"] == [], e
    found = await rows(conn, user_id)
    assert table(found, "weight") == [(72.4, "kg", "2026-07-01")]
    assert table(found, "body_fat") == [(17.9, "%", "2026-07-01")]
    assert table(found, "steps") == [(11894, "steps", "2026-07-01")]
    assert table(found, "sleep_duration") == [(25200, "s", "2026-07-01")]
    assert table(found, "hrv_rmssd") == [(35.2, "ms", "2026-07-01")]
    assert table(found, "hrv_sdnn") == [(45.5, "ms", "2026-07-01")]
    assert table(found, "resting_heart_rate") == [(65, "bpm", "2026-07-01")]
    assert table(found, "heart_rate") == [(58, "bpm", "2026-06-30"), (47, "bpm", "2026-07-01")]
    assert table(found, "spo2") == [(98, "%", "2026-07-01")]
    devices = {(r["metric"], r["device_type"]) for r in found}
    assert ("weight", "scale") in devices and ("hrv_rmssd", "watch") in devices


async def test_terra_omron_weight_is_stored_as_a_scale_reading(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "terra", terra.ACCOUNT)
    e = await run(app_client, settings, conn, source_id, terra.OMRON_BODY)
    assert e["status"] == "processed"
    got = {r["metric"]: (r["device_type"], r["device_model"]) for r in await rows(conn, user_id)}
    assert got["weight"] == ("scale", "VIVA") and got["blood_pressure_systolic"][0] == "bp_cuff"


async def test_terra_lifecycle_events_store_nothing(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "terra", terra.ACCOUNT)
    for payload in terra.LIFECYCLE:
        e = await run(app_client, settings, conn, source_id, payload)
        assert e["status"] == "ignored" and e["sample_count"] == 0, payload["type"]
        assert e["event_type"] == payload["type"]
    assert await rows(conn, user_id) == []


# --- Junction ----------------------------------------------------------------------------

async def test_junction_published_examples(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "junction", junction.ACCOUNT)
    for payload in (junction.BODY, junction.BLOOD_PRESSURE, junction.SLEEP, junction.HRV,
                    junction.HEARTRATE):
        e = await run(app_client, settings, conn, source_id, payload)
        assert e["status"] == "processed" and e["rejections"] == [], e
    found = await rows(conn, user_id)
    assert table(found, "weight") == [(80, "kg", "2024-04-23")]
    assert table(found, "body_fat") == [(30, "%", "2024-04-23")]
    assert table(found, "blood_pressure_systolic") == [(125, "mmHg", "2023-05-26")]
    assert table(found, "blood_pressure_diastolic") == [(75, "mmHg", "2023-05-26")]
    assert table(found, "sleep_duration") == [(28800, "s", "2024-05-17")]
    assert table(found, "resting_heart_rate") == [(43, "bpm", "2024-05-17")]
    assert table(found, "hrv_rmssd") == [(61.5, "rmssd", "2024-05-17"), (78, "ms", "2024-05-17")]
    # 00:00:08 UTC at -4 h is the evening before
    assert table(found, "heart_rate") == [(56, "bpm", "2026-05-23"), (54, "bpm", "2026-05-23")]


async def test_junction_update_replaces_the_summary_and_notifications_store_nothing(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "junction", junction.ACCOUNT)
    for payload in (junction.BODY, junction.BODY_UPDATED):
        assert (await run(app_client, settings, conn, source_id, payload))["status"] == "processed"
    assert table(await rows(conn, user_id), "weight") == [(79.4, "kg", "2024-04-23")]
    for payload in (junction.HISTORICAL, junction.CONNECTION):
        e = await run(app_client, settings, conn, source_id, payload)
        assert e["status"] == "ignored" and e["sample_count"] == 0
    assert len(await rows(conn, user_id)) == 2


async def test_standard_numeric_strings_and_unit_synonyms(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id, source_id = await linked_user(conn, "standard", "ext-1")
    body = {"type": "samples", "user": "ext-1", "samples": [
        {"metric": "weight", "value": "80.2", "unit": "kg", "measured_at": "2026-11-28T07:02:00+01:00",
         "device": {"type": "scale", "model": "Body+"}},
        {"metric": "hrv_sdnn", "value": 52, "unit": "sdnn", "measured_at": "2026-11-28T05:00:00+01:00"},
        {"metric": "body_fat", "value": "21.5", "unit": "perc", "measured_at": "2026-11-28T07:02:00+01:00"}]}
    e = await run(app_client, settings, conn, source_id, body)
    assert e["status"] == "processed" and e["sample_count"] == 3, e
    found = await rows(conn, user_id)
    assert table(found, "weight") == [(80.2, "kg", "2026-11-28")]
    assert table(found, "hrv_sdnn") == [(52, "sdnn", "2026-11-28")]
    assert table(found, "body_fat") == [(21.5, "perc", "2026-11-28")]


# --- over HTTP, signed as the providers sign ----------------------------------------------

async def test_signed_deliveries_of_published_samples_end_to_end(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    """Junction (Svix, signed by the official standardwebhooks package) and Terra
    (terra-signature) deliveries through the webhook route, the queue and the job."""
    user = await make_user(conn, "client")
    j_source, j_secret = await make_source(conn, "junction")
    t_source, t_secret = await make_source(conn, "terra")
    await link_account(conn, source_name=j_source.name, external_user_id=junction.ACCOUNT,
                       email=user.email)
    await link_account(conn, source_name=t_source.name, external_user_id=terra.ACCOUNT,
                       email=user.email)
    body = json.dumps(junction.BLOOD_PRESSURE).encode()
    now = datetime.now(UTC)
    signature = Webhook(j_secret).sign("msg_bp_1", now, body.decode())
    r = await app_client.post(f"/webhooks/{j_source.name}", content=body, headers={
        "svix-id": "msg_bp_1", "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature, "content-type": "application/json"})
    assert r.is_success, r.text
    body = json.dumps(terra.SLEEP_FULL).encode()
    r = await app_client.post(f"/webhooks/{t_source.name}", content=body,
                              headers=terra_headers(t_secret, body))
    assert r.is_success, r.text
    await drain(app_client, settings)
    found = await rows(conn, user.user_id)
    assert table(found, "blood_pressure_systolic") == [(125, "mmHg", "2023-05-26")]
    assert table(found, "blood_pressure_diastolic") == [(75, "mmHg", "2023-05-26")]
    assert table(found, "hrv_rmssd") == [(35.2, "ms", "2026-07-01")]
    assert table(found, "sleep_duration") == [(25200, "s", "2026-07-01")]
