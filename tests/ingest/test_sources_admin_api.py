"""The admin API for webhook sources: list, create, rotate, disable/enable, and its errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any

import httpx
import pytest

from tests.conftest import bearer_for, make_user
from tests.ingest.provider_samples import GARMIN_DAILIES, JUNCTION_CONNECTION_CREATED
from tests.ingest.support import count, provider_whsec, svix_headers
from vitaltrust.db import Conn


@pytest.fixture
async def admin(conn: Conn) -> dict[str, str]:
    return await bearer_for(conn, await make_user(conn, "admin"))


def _problem(r: httpx.Response, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert words in r.json()["detail"], r.json()


async def _stored_key(conn: Conn, name: str) -> bytes:
    row = await (await conn.execute(
        "SELECT signing_key FROM webhook_sources WHERE name = %s", (name,))).fetchone()
    assert row is not None
    return bytes(row["signing_key"])


async def test_create_with_the_provider_secret_never_echoes_it(
        app_client: httpx.AsyncClient, conn: Conn, admin: dict[str, str]) -> None:
    secret = provider_whsec()
    r = await app_client.post("/api/admin/sources", headers=admin,
                              json={"name": "junction-eu", "kind": "junction", "secret": secret})
    assert r.status_code == 201, r.text
    assert "secret" not in r.json() and secret not in r.text
    assert r.json()["webhook_url"] == "http://testserver/webhooks/junction-eu"
    assert await _stored_key(conn, "junction-eu") == base64.b64decode(secret[6:])
    body = JUNCTION_CONNECTION_CREATED
    delivered = await app_client.post("/webhooks/junction-eu", content=body,
                                      headers=svix_headers(secret, body))
    assert delivered.status_code == 202, delivered.text


async def test_generated_secret_and_garmin_url_are_shown_once_then_masked(
        app_client: httpx.AsyncClient, conn: Conn, admin: dict[str, str]) -> None:
    made = await app_client.post("/api/admin/sources", headers=admin,
                                 json={"name": "std", "kind": "standard"})
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    garmin = await app_client.post("/api/admin/sources", headers=admin, json={
        "name": "garmin-prod", "kind": "garmin", "garmin_client_id": "consumer-key-1"})
    assert garmin.status_code == 201, garmin.text
    url = garmin.json()["webhook_url"]
    prefix = "http://testserver/webhooks/garmin-prod/"
    assert url.startswith(prefix) and len(url) > len(prefix) + 30 and "secret" not in garmin.json()
    token = url.removeprefix(prefix)
    row = await (await conn.execute("SELECT shared_secret_hash FROM webhook_sources "
                                    "WHERE name = 'garmin-prod'")).fetchone()
    assert row is not None and bytes(row["shared_secret_hash"]) == hashlib.sha256(
        token.encode()).digest()  # only the digest is stored
    pushed = await app_client.post(url.removeprefix("http://testserver"), content=GARMIN_DAILIES,
                                   headers={"garmin-client-id": "consumer-key-1",
                                            "content-type": "application/json"})
    assert pushed.status_code == 200, pushed.text
    listed = await app_client.get("/api/admin/sources", headers=admin)
    assert listed.status_code == 200
    by_name = {s["name"]: s for s in listed.json()["sources"]}
    assert set(by_name) == {"std", "garmin-prod"}  # not the built-in manual source
    assert by_name["garmin-prod"]["webhook_url"] == prefix + "****"
    assert token not in listed.text and made.json()["secret"] not in listed.text
    assert made.json()["secret"].removeprefix("whsec_") not in listed.text


async def test_list_shows_last_delivery_and_24h_counts(
        app_client: httpx.AsyncClient, conn: Conn, admin: dict[str, str]) -> None:
    secret = provider_whsec()
    await app_client.post("/api/admin/sources", headers=admin,
                          json={"name": "j1", "kind": "junction", "secret": secret})
    body = JUNCTION_CONNECTION_CREATED
    headers = svix_headers(secret, body)
    codes = [(await app_client.post("/webhooks/j1", content=body, headers=h)).status_code
             for h in (headers, headers, {**headers, "svix-signature": "v1,AAAA"})]
    assert codes == [202, 200, 401]
    deadline = time.monotonic() + 10
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:  # statistics are flushed every 0.2 s in tests
        listed = await app_client.get("/api/admin/sources", headers=admin)
        row = listed.json()["sources"][0]
        if row["received_24h"] and row["duplicates_24h"] and row["rejected_24h"]:
            break
        await asyncio.sleep(0.2)
    assert (row["received_24h"], row["duplicates_24h"], row["rejected_24h"]) == (1, 1, 1), row
    assert row["last_delivery_at"] is not None and row["enabled"] is True
    assert row["kind"] == "junction" and row["created_at"]


async def test_rotate_disable_enable_over_http(app_client: httpx.AsyncClient, conn: Conn,
                                               admin: dict[str, str]) -> None:
    old = provider_whsec()
    await app_client.post("/api/admin/sources", headers=admin,
                          json={"name": "j2", "kind": "junction", "secret": old})
    new = provider_whsec()
    r = await app_client.post("/api/admin/sources/j2/rotate-secret", headers=admin,
                              json={"secret": new, "overlap": "1h"})
    assert r.status_code == 200, r.text
    assert "secret" not in r.json() and r.json()["previous_secret_valid_until"]
    body = JUNCTION_CONNECTION_CREATED
    for i, secret in enumerate((old, new)):
        b = body.replace(b"Freestyle", f"F{i}".encode())
        assert (await app_client.post("/webhooks/j2", content=b, headers=svix_headers(secret, b))
                ).status_code == 202
    r = await app_client.post("/api/admin/sources/j2/rotate-secret", headers=admin,
                              json={"overlap": "0"})
    assert r.status_code == 200 and r.json()["secret"].startswith("whsec_")
    assert r.json()["previous_secret_valid_until"] is None
    assert (await app_client.post("/webhooks/j2", content=body, headers=svix_headers(new, body))
            ).status_code == 401
    assert (await app_client.post("/api/admin/sources/j2/disable", headers=admin)).json() == {
        "name": "j2", "enabled": False}
    latest = r.json()["secret"]
    off = await app_client.post("/webhooks/j2", content=body, headers=svix_headers(latest, body))
    _problem(off, 404, "no webhook source")
    assert await count(conn, "webhook_events") == 2  # kept while disabled
    assert (await app_client.post("/api/admin/sources/j2/enable", headers=admin)).status_code == 200
    assert (await app_client.post("/webhooks/j2", content=body,
                                  headers=svix_headers(latest, body))).status_code == 202


async def test_bad_input_is_a_clear_4xx_problem(app_client: httpx.AsyncClient, conn: Conn,
                                                admin: dict[str, str]) -> None:
    post = app_client.post
    _problem(await post("/api/admin/sources", headers=admin,
                        json={"name": "x1", "kind": "fax"}), 422, "kind must be one of")
    _problem(await post("/api/admin/sources", headers=admin,
                        json={"name": "x2", "kind": "junction", "secret": "whsec_not*base64"}),
             422, "whsec_<base64>")
    _problem(await post("/api/admin/sources", headers=admin,
                        json={"name": "x3", "kind": "standard", "secret": "plain-string-key"}),
             422, "whsec_<base64>")
    _problem(await post("/api/admin/sources", headers=admin,
                        json={"name": "x4", "kind": "garmin", "secret": "abc"}), 422, "omit")
    _problem(await post("/api/admin/sources", headers=admin,
                        json={"name": "Bad Name", "kind": "terra"}), 422, "source name")
    assert (await post("/api/admin/sources", headers=admin,
                       json={"name": "dup", "kind": "terra"})).status_code == 201
    _problem(await post("/api/admin/sources", headers=admin,
                        json={"name": "dup", "kind": "terra"}), 409, "already exists")
    _problem(await post("/api/admin/sources/nope/rotate-secret", headers=admin, json={}),
             404, "No source named")
    _problem(await post("/api/admin/sources/nope/disable", headers=admin), 404, "No source")
    _problem(await post("/api/admin/sources/manual/disable", headers=admin), 404, "No source")
    _problem(await post("/api/admin/sources/dup/rotate-secret", headers=admin,
                        json={"overlap": "forever"}), 422, "overlap must look like")
    row = await (await conn.execute(
        "SELECT count(*) AS n FROM webhook_sources WHERE name LIKE 'x%%'")).fetchone()
    assert row is not None and row["n"] == 0
