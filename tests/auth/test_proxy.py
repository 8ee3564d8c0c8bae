"""Behind a TLS-terminating proxy: the real server trusts X-Forwarded-* only from
FORWARDED_ALLOW_IPS (uvicorn), so cookies get Secure and the throttle sees the client."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.helpers import PASSWORD, set_cookies
from tests.conftest import make_user
from tests.support.procs import running_api
from vitaltrust.db import Conn


@pytest.mark.slow
async def test_forwarded_headers_count_only_from_trusted_proxies(db_url: str, conn: Conn) -> None:
    user = await make_user(conn, "client")
    forwarded = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"}
    body = {"email": user.email, "password": PASSWORD}
    with running_api(db_url) as base:  # default FORWARDED_ALLOW_IPS: localhost, our peer
        async with httpx.AsyncClient(base_url=base) as client:
            r = await client.post("/auth/login", json=body, headers=forwarded)
            assert r.status_code == 200
            assert "secure" in set_cookies(r)["vt_session"]
            await client.post("/auth/login", json={**body, "password": "wrong"}, headers=forwarded)
    with running_api(db_url, FORWARDED_ALLOW_IPS="192.0.2.1") as base:  # not our peer
        async with httpx.AsyncClient(base_url=base) as client:
            r = await client.post("/auth/login", json=body, headers=forwarded)
            assert r.status_code == 200
            assert "secure" not in set_cookies(r)["vt_session"]
            await client.post("/auth/login", json={**body, "password": "wrong"}, headers=forwarded)
    rows = await (await conn.execute(
        "SELECT subject, attempts FROM login_throttle WHERE scope = 'ip' ORDER BY subject")).fetchall()
    assert {r["subject"]: r["attempts"] for r in rows} == {"127.0.0.1": 1, "203.0.113.9": 1}
