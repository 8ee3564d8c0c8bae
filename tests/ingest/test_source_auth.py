"""Webhooks from sources made with the providers' own secrets: provider-signed deliveries,
rotation overlap and expiry, disabled sources, replays, Garmin's URL token and 200s."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx
import pytest

from tests.ingest.provider_samples import GARMIN_DAILIES, JUNCTION_CONNECTION_CREATED, TERRA_AUTH
from tests.ingest.support import (
    count,
    make_source,
    native_body,
    no_source_cache,
    provider_whsec,
    svix_headers,
    terra_headers,
)
from vitaltrust.db import Conn
from vitaltrust.ingest.source_admin import rotate_secret, set_enabled

TERRA_SECRET = "terra-dashboard-signing-secret-7f3a9c"  # a plain string, as Terra issues


def _signed(kind: str, secret: str, body: bytes, **kw: Any) -> dict[str, str]:
    if kind == "terra":
        return terra_headers(secret, body, **kw)
    return svix_headers(secret, body, prefix="svix" if kind == "junction" else "webhook", **kw)


SAMPLES = {"standard": native_body(), "junction": JUNCTION_CONNECTION_CREATED, "terra": TERRA_AUTH}


async def _events(conn: Conn, source_id: int) -> list[dict[str, Any]]:
    return await (await conn.execute(
        "SELECT event_id, body FROM webhook_events WHERE source_id = %s ORDER BY 1",
        (source_id,))).fetchall()


@pytest.mark.parametrize("kind", ["standard", "junction", "terra"])
async def test_provider_secret_accepts_provider_signed_deliveries(
        app_client: httpx.AsyncClient, conn: Conn, kind: str) -> None:
    secret = TERRA_SECRET if kind == "terra" else provider_whsec()
    source, shown = await make_source(conn, kind, secret=secret)
    assert shown == secret
    body = SAMPLES[kind]
    r = await app_client.post(f"/webhooks/{source.name}", content=body,
                              headers=_signed(kind, secret, body))
    assert r.status_code == 202, r.text
    other = TERRA_SECRET + "x" if kind == "terra" else provider_whsec()
    bad = await app_client.post(f"/webhooks/{source.name}", content=body,
                                headers=_signed(kind, other, body))
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
    rows = await _events(conn, source.source_id)
    assert len(rows) == 1 and bytes(rows[0]["body"]) == body


async def _wait_until(deadline: float) -> None:
    while time.time() < deadline:  # bounded: the overlap is a few seconds
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("kind", ["junction", "terra"])
async def test_rotation_accepts_both_during_the_overlap_then_only_the_new(
        app_client: httpx.AsyncClient, conn: Conn, kind: str) -> None:
    no_source_cache(app_client.app)  # type: ignore[attr-defined]
    old = TERRA_SECRET if kind == "terra" else provider_whsec()
    new = TERRA_SECRET + "-rotated" if kind == "terra" else provider_whsec()
    source, _ = await make_source(conn, kind, secret=old)
    _, generated, until = await rotate_secret(conn, source.name, secret=new, overlap_seconds=2)
    assert generated is None and until is not None
    url = f"/webhooks/{source.name}"

    def body(n: int) -> bytes:  # distinct bodies, so no reply is a duplicate
        return JUNCTION_CONNECTION_CREATED.replace(b"Freestyle", f"Freestyle{n}".encode()) \
            if kind == "junction" else TERRA_AUTH.replace(b"tony_stark", f"tony{n}".encode())

    during = [await app_client.post(url, content=body(i), headers=_signed(kind, s, body(i)))
              for i, s in enumerate((old, new))]
    assert [r.status_code for r in during] == [202, 202], [r.text for r in during]
    await _wait_until(until.timestamp() + 0.2)
    expired = await app_client.post(url, content=body(2), headers=_signed(kind, old, body(2)))
    current = await app_client.post(url, content=body(3), headers=_signed(kind, new, body(3)))
    assert expired.status_code == 401, expired.text
    assert current.status_code == 202, current.text
    assert len(await _events(conn, source.source_id)) == 3


async def test_rotation_without_overlap_stops_the_old_secret_at_once(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    no_source_cache(app_client.app)  # type: ignore[attr-defined]
    source, old = await make_source(conn, "standard")
    _, new, until = await rotate_secret(conn, source.name, overlap_seconds=0)
    assert until is None and new is not None and new.startswith("whsec_") and new != old
    body = native_body()
    url = f"/webhooks/{source.name}"
    assert (await app_client.post(url, content=body, headers=_signed("standard", old, body))
            ).status_code == 401
    assert (await app_client.post(url, content=body, headers=_signed("standard", new, body))
            ).status_code == 202


async def test_disabled_source_is_404_and_keeps_what_it_stored(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    no_source_cache(app_client.app)  # type: ignore[attr-defined]
    secret = provider_whsec()
    source, _ = await make_source(conn, "junction", secret=secret)
    url = f"/webhooks/{source.name}"
    body = JUNCTION_CONNECTION_CREATED
    assert (await app_client.post(url, content=body, headers=_signed("junction", secret, body))
            ).status_code == 202
    before = await _events(conn, source.source_id)
    await set_enabled(conn, source.name, False)
    other = body.replace(b"Freestyle", b"Other")
    r = await app_client.post(url, content=other, headers=_signed("junction", secret, other))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert await _events(conn, source.source_id) == before  # nothing lost, nothing added
    assert await count(conn, "jobs") == 1
    await set_enabled(conn, source.name, True)
    assert (await app_client.post(url, content=other, headers=_signed("junction", secret, other))
            ).status_code == 202


@pytest.mark.parametrize("reference", ["a-new-reference", None])
async def test_terra_replay_with_another_reference_is_a_duplicate(
        app_client: httpx.AsyncClient, conn: Conn, reference: str | None) -> None:
    source, _ = await make_source(conn, "terra", secret=TERRA_SECRET)
    headers = terra_headers(TERRA_SECRET, TERRA_AUTH, reference="ref-original")
    first = await app_client.post(f"/webhooks/{source.name}", content=TERRA_AUTH, headers=headers)
    replay = dict(headers)
    if reference is None:
        del replay["terra-reference"]
    else:
        replay["terra-reference"] = reference
    again = await app_client.post(f"/webhooks/{source.name}", content=TERRA_AUTH, headers=replay)
    assert first.status_code == 202, first.text
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    assert again.json()["webhook_event_id"] == first.json()["webhook_event_id"]
    rows = await _events(conn, source.source_id)
    assert [r["event_id"] for r in rows] == [hashlib.sha256(TERRA_AUTH).hexdigest()]
    assert await count(conn, "jobs") == 1


@pytest.mark.parametrize("kind", ["standard", "junction"])
async def test_standard_and_svix_ids_are_signed_so_a_new_id_cannot_replay(
        app_client: httpx.AsyncClient, conn: Conn, kind: str) -> None:
    secret = provider_whsec()
    source, _ = await make_source(conn, kind, secret=secret)
    body = SAMPLES[kind]
    headers = _signed(kind, secret, body, msg_id="msg_2Lh9KRb0pzN4LePd3XiA4lJ8RXy")
    prefix = "svix" if kind == "junction" else "webhook"
    url = f"/webhooks/{source.name}"
    assert (await app_client.post(url, content=body, headers=headers)).status_code == 202
    again = await app_client.post(url, content=body, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    renamed = await app_client.post(url, content=body, headers={
        **headers, f"{prefix}-id": "msg_replayed_under_a_new_id"})
    assert renamed.status_code == 401  # the id is part of what is signed
    assert len(await _events(conn, source.source_id)) == 1


def _garmin_url(name: str, token: str) -> str:
    return f"/webhooks/{name}/{token}"


async def test_garmin_push_by_url_token_and_client_id_gets_200_new_and_duplicate(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    source, token = await make_source(conn, "garmin", garmin_client_id="consumer-key-1")
    headers = {"garmin-client-id": "consumer-key-1", "content-type": "application/json"}
    first = await app_client.post(_garmin_url(source.name, token), content=GARMIN_DAILIES,
                                  headers=headers)
    again = await app_client.post(_garmin_url(source.name, token), content=GARMIN_DAILIES,
                                  headers=headers)
    assert first.status_code == 200 and "duplicate" not in first.json(), first.text
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    rows = await _events(conn, source.source_id)
    assert len(rows) == 1 and bytes(rows[0]["body"]) == GARMIN_DAILIES
    assert await count(conn, "jobs") == 1


@pytest.mark.parametrize("fault", ["wrong-token", "no-client-id", "wrong-client-id",
                                   "no-token"])
async def test_garmin_bad_token_or_client_id_is_401_and_stores_nothing(
        app_client: httpx.AsyncClient, conn: Conn, fault: str) -> None:
    source, token = await make_source(conn, "garmin", garmin_client_id="consumer-key-1")
    headers = {"garmin-client-id": "consumer-key-1", "content-type": "application/json"}
    url = _garmin_url(source.name, token)
    if fault == "wrong-token":
        url = _garmin_url(source.name, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    elif fault == "no-client-id":
        del headers["garmin-client-id"]
    elif fault == "wrong-client-id":
        headers["garmin-client-id"] = "someone-else"
    else:
        url = f"/webhooks/{source.name}"
    r = await app_client.post(url, content=GARMIN_DAILIES, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(conn, "webhook_events") == 0 and await count(conn, "jobs") == 0


async def test_garmin_token_rotation_overlap_and_the_old_header_scheme(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    no_source_cache(app_client.app)  # type: ignore[attr-defined]
    source, old = await make_source(conn, "garmin")
    _, new, until = await rotate_secret(conn, source.name, overlap_seconds=2)
    assert new is not None and until is not None
    json_type = {"content-type": "application/json"}

    def push(n: int) -> bytes:
        return GARMIN_DAILIES.replace(b"EXAMPLE 67892", f"EXAMPLE {n}".encode())

    r_old = await app_client.post(_garmin_url(source.name, old), content=push(1), headers=json_type)
    r_new = await app_client.post(_garmin_url(source.name, new), content=push(2), headers=json_type)
    header = await app_client.post(f"/webhooks/{source.name}", content=push(3),
                                   headers={**json_type, "x-vitaltrust-secret": new})
    assert [r_old.status_code, r_new.status_code, header.status_code] == [200, 200, 200]
    await _wait_until(until.timestamp() + 0.2)
    late = await app_client.post(_garmin_url(source.name, old), content=push(4), headers=json_type)
    assert late.status_code == 401
    assert len(await _events(conn, source.source_id)) == 3


async def test_token_url_of_a_signed_kind_does_not_exist(app_client: httpx.AsyncClient,
                                                         conn: Conn) -> None:
    source, secret = await make_source(conn, "standard")
    body = native_body()
    r = await app_client.post(f"/webhooks/{source.name}/anything", content=body,
                              headers=_signed("standard", secret, body))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert await count(conn, "webhook_events") == 0
