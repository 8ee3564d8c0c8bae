"""POST /webhooks/{source}: authentication, storage, duplicates, bad input."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.ingest.support import count, make_source, native_body, standard_headers, terra_headers
from vitaltrust.db import Conn
from vitaltrust.ingest.sources import create_source


async def test_official_standardwebhooks_signature_is_accepted(app_client: httpx.AsyncClient,
                                                               conn: Conn) -> None:
    source, secret = await make_source(conn)
    body = native_body()
    msg_id = "msg_official_1"
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signature, "content-type": "application/json"}
    r = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    assert r.status_code == 202, r.text
    row = await (await conn.execute(
        "SELECT webhook_event_id, event_id, body, status FROM webhook_events")).fetchone()
    assert row is not None
    assert r.json()["webhook_event_id"] == row["webhook_event_id"]
    assert row["event_id"] == msg_id and bytes(row["body"]) == body and row["status"] == "received"
    job = await (await conn.execute(
        "SELECT payload FROM background_jobs WHERE type = 'webhook_processing'")).fetchone()
    assert job is not None and job["payload"] == {"webhook_event_id": row["webhook_event_id"]}


async def test_rotated_secrets_any_valid_signature_passes(app_client: httpx.AsyncClient,
                                                          conn: Conn) -> None:
    source, secret = await make_source(conn)
    body = native_body()
    headers = standard_headers(secret, body)
    headers["webhook-signature"] = "v1,AAAA v2,zzz " + headers["webhook-signature"]
    r = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("fault", ["tampered", "wrong-secret", "stale", "future", "no-id",
                                   "no-timestamp", "no-signature", "garbage-signature"])
async def test_unauthentic_deliveries_get_401_and_store_nothing(
        app_client: httpx.AsyncClient, conn: Conn, fault: str) -> None:
    source, secret = await make_source(conn)
    _, other_secret = await make_source(conn)
    body = native_body()
    ts = int(time.time())
    if fault == "wrong-secret":
        headers = standard_headers(other_secret, body)
    elif fault == "stale":
        headers = standard_headers(secret, body, ts=ts - 301)
    elif fault == "future":  # well past the 300 s tolerance: a slow host must not close the gap
        headers = standard_headers(secret, body, ts=ts + 330)
    else:
        headers = standard_headers(secret, body)
    if fault == "tampered":
        body = body.replace(b"80.2", b"90.2")
    elif fault.startswith("no-"):
        del headers["webhook-" + fault[3:]]
    elif fault == "garbage-signature":
        headers["webhook-signature"] = "v1,not-base64!!"
    r = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(conn, "webhook_events") == 0
    assert await count(conn, "jobs") == 0


async def test_duplicate_same_body_is_200_without_a_new_job(app_client: httpx.AsyncClient,
                                                            conn: Conn) -> None:
    source, secret = await make_source(conn)
    body = native_body()
    headers = standard_headers(secret, body, msg_id="msg_dup")
    first = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    again = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["webhook_event_id"] == first.json()["webhook_event_id"]
    assert await count(conn, "webhook_events") == 1 and await count(conn, "jobs") == 1


async def test_same_id_different_body_is_409_and_changes_nothing(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    source, secret = await make_source(conn)
    body = native_body()
    r1 = await app_client.post(f"/webhooks/{source.name}", content=body,
                               headers=standard_headers(secret, body, msg_id="msg_x"))
    other = native_body(value=99.9)
    r2 = await app_client.post(f"/webhooks/{source.name}", content=other,
                               headers=standard_headers(secret, other, msg_id="msg_x"))
    assert r1.status_code == 202 and r2.status_code == 409, r2.text
    assert r2.headers["content-type"] == "application/problem+json"
    row = await (await conn.execute("SELECT body FROM webhook_events")).fetchone()
    assert row is not None and bytes(row["body"]) == body
    assert await count(conn, "jobs") == 1


async def test_100_concurrent_identical_deliveries_give_one_row_and_one_job(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    source, secret = await make_source(conn, account_rate_burst=500, rate_burst=500)
    body = native_body()
    headers = standard_headers(secret, body, msg_id="msg_storm")
    replies = await asyncio.gather(*[
        app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
        for _ in range(100)])
    codes = sorted(r.status_code for r in replies)
    assert codes.count(202) == 1 and codes.count(200) == 99, codes
    assert await count(conn, "webhook_events") == 1 and await count(conn, "jobs") == 1


async def test_event_id_is_body_hash_without_provider_id(app_client: httpx.AsyncClient,
                                                         conn: Conn) -> None:
    source, secret = await make_source(conn, "garmin")
    body = json.dumps({"bodyComps": [{"userId": "g1", "weightInGrams": 80000}]}).encode()
    headers = {"x-vitaltrust-secret": secret, "content-type": "application/json"}
    r = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    assert r.status_code == 200, r.text  # garmin: 200, never 202
    assert r.json()["event_id"] == hashlib.sha256(body).hexdigest()
    assert (await app_client.post(f"/webhooks/{source.name}", content=body,
                                  headers=headers)).status_code == 200
    bad = await app_client.post(f"/webhooks/{source.name}", content=body,
                                headers={**headers, "x-vitaltrust-secret": "nope"})
    assert bad.status_code == 401


async def test_garmin_client_id_is_checked_when_configured(app_client: httpx.AsyncClient,
                                                          conn: Conn) -> None:
    source, secret = await make_source(conn, "garmin", garmin_client_id="client-42")
    body = b'{"dailies": []}'
    headers = {"x-vitaltrust-secret": secret, "content-type": "application/json"}
    r = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    assert r.status_code == 401
    r = await app_client.post(f"/webhooks/{source.name}", content=body,
                              headers={**headers, "garmin-client-id": "client-42"})
    assert r.status_code == 200, r.text


async def test_terra_and_junction_signatures(app_client: httpx.AsyncClient, conn: Conn) -> None:
    terra, terra_secret = await make_source(conn, "terra")
    body = json.dumps({"type": "auth", "user": {"user_id": "t1", "reference_id": "r1"}}).encode()
    r = await app_client.post(f"/webhooks/{terra.name}", content=body,
                              headers=terra_headers(terra_secret, body, reference="ref-1"))
    assert r.status_code == 202, r.text
    assert r.json()["event_id"] == hashlib.sha256(body).hexdigest()  # the reference is unsigned
    stale = terra_headers(terra_secret, body, ts=int(time.time()) - 3600)
    assert (await app_client.post(f"/webhooks/{terra.name}", content=body,
                                  headers=stale)).status_code == 401
    junction, j_secret = await make_source(conn, "junction")
    body = json.dumps({"event_type": "historical.data.body.created", "data": {},
                       "client_user_id": "c1"}).encode()
    r = await app_client.post(f"/webhooks/{junction.name}", content=body,
                              headers=standard_headers(j_secret, body, prefix="svix"))
    assert r.status_code == 202, r.text
    row = await (await conn.execute(
        "SELECT event_type FROM webhook_events WHERE source_id = %s",
        (junction.source_id,))).fetchone()
    assert row is not None and row["event_type"] == "historical.data.body.created"


async def test_bad_input_gets_a_clear_4xx_never_500(app_client: httpx.AsyncClient,
                                                    conn: Conn) -> None:
    source, secret = await make_source(conn)
    url = f"/webhooks/{source.name}"

    async def post(body: bytes, **extra: str) -> httpx.Response:
        headers = {**standard_headers(secret, body), **extra}
        return await app_client.post(url, content=body, headers=headers)

    assert (await post(b"{not json")).status_code == 400
    assert (await post(b"[1, 2]")).status_code == 400
    assert (await post(b"\xff\xfe")).status_code == 400
    assert (await post(b"userid=1&appli=1",
                       **{"content-type": "application/x-www-form-urlencoded"})).status_code == 415
    huge = b'{"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    r = await post(huge)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    unknown = await app_client.post("/webhooks/no-such-source", content=b"{}",
                                    headers={"content-type": "application/json"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert await count(conn, "webhook_events") == 0


async def test_disabled_source_is_404(app_client: httpx.AsyncClient, conn: Conn) -> None:
    source, secret = await create_source(conn, "off-source", "standard")
    await conn.execute("UPDATE webhook_sources SET enabled = false WHERE source_id = %s",
                       (source.source_id,))
    body = native_body()
    r = await app_client.post("/webhooks/off-source", content=body,
                              headers=standard_headers(secret, body))
    assert r.status_code == 404
    assert (await app_client.post("/webhooks/manual", content=b"{}")).status_code == 404


async def test_concurrent_same_id_with_two_bodies_is_exact(app_client: httpx.AsyncClient,
                                                          conn: Conn) -> None:
    source, secret = await make_source(conn, account_rate_burst=500)
    bodies = [native_body(value=70.0), native_body(value=71.0)]
    replies = await asyncio.gather(*[
        app_client.post(f"/webhooks/{source.name}", content=bodies[i % 2],
                        headers=standard_headers(secret, bodies[i % 2], msg_id="msg_race"))
        for i in range(20)])
    winners = [i for i, r in enumerate(replies) if r.status_code == 202]
    assert len(winners) == 1
    won = winners[0] % 2
    for i, r in enumerate(replies):
        if i != winners[0]:
            assert r.status_code == (200 if i % 2 == won else 409), (i, r.status_code)
    row = await (await conn.execute("SELECT body FROM webhook_events")).fetchone()
    assert row is not None and bytes(row["body"]) == bodies[won]
    assert await count(conn, "jobs") == 1


@pytest.mark.parametrize("role", ["anonymous", "client", "trainer", "admin"])
async def test_only_the_signature_authenticates_whatever_the_role(
        app_client: httpx.AsyncClient, conn: Conn, role: str) -> None:
    from tests.conftest import bearer_for, make_user

    source, secret = await make_source(conn)
    auth = {} if role == "anonymous" else await bearer_for(conn, await make_user(conn, role))
    body = native_body()
    unsigned = await app_client.post(f"/webhooks/{source.name}", content=body,
                                     headers={**auth, "content-type": "application/json"})
    assert unsigned.status_code == 401
    signed = await app_client.post(f"/webhooks/{source.name}", content=body,
                                   headers={**auth, **standard_headers(secret, body)})
    assert signed.status_code == 202
    assert await count(conn, "webhook_events") == 1


async def test_oversized_chunked_body_is_refused_without_reading_it_all(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    source, secret = await make_source(conn)
    sent = 0

    async def chunks():  # type: ignore[no-untyped-def]
        nonlocal sent
        for _ in range(160):  # 10 MiB in 64 KiB chunks, no Content-Length
            sent += 65536
            yield b"x" * 65536

    headers = standard_headers(secret, b"")
    r = await app_client.post(f"/webhooks/{source.name}", content=chunks(), headers=headers)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert sent <= 2 * 1024 * 1024, sent  # reading stopped just past the 1 MiB limit
    assert await count(conn, "webhook_events") == 0


async def test_hostile_but_signed_envelopes_are_refused_or_stored_never_500(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    """A body its job could not store (NUL, NaN) is a 400 now, not a 202 that fails later;
    odd but storable shapes are still stored (the job records what it cannot use)."""
    source, secret = await make_source(conn)
    for body, status in ((b'{"type": "\\u0000evil", "user": "\\u0000"}', 400),
                         (b'{"type": 5, "user": [1]}', 202),
                         (b'{"samples": [{"value": NaN}], "user": "u"}', 400)):
        r = await app_client.post(f"/webhooks/{source.name}", content=body,
                                  headers=standard_headers(secret, body))
        assert r.status_code == status, (body, r.text)
    assert await count(conn, "webhook_events") == 1
