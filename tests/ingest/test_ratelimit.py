"""Rate limits per source account, the on/off switch, and the GCRA function itself."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from tests.ingest.support import count, make_source, native_body, standard_headers
from vitaltrust.app import create_app
from vitaltrust.config import Settings
from vitaltrust.db import Conn

TAKE = "SELECT * FROM ingest_rate_limit_take(%s, %s, %s, %s, %s, %s) ORDER BY idx"


async def test_per_account_limit_leaves_other_accounts_alone(app_client: httpx.AsyncClient,
                                                             conn: Conn) -> None:
    source, secret = await make_source(conn, account_rate_per_second=0.5, account_rate_burst=5)

    async def post(user: str) -> int:
        body = native_body(user=user)
        r = await app_client.post(f"/webhooks/{source.name}", content=body,
                                  headers=standard_headers(secret, body))
        if r.status_code == 429:
            assert r.headers["RateLimit"].startswith('"account";r=0;')
            assert '"account";q=5;w=10' in r.headers["RateLimit-Policy"]
        return r.status_code

    noisy = Counter(await asyncio.gather(*[post("noisy") for _ in range(15)]))
    assert noisy[202] == 5 and noisy[429] == 10, noisy
    assert await post("quiet") == 202
    assert await count(conn, "webhook_events") == 6


async def test_rate_limiting_can_be_switched_off(db_url: str, conn: Conn, tmp_path: Path) -> None:
    source, secret = await make_source(conn, rate_per_second=1, rate_burst=1)
    settings = Settings(database_url=db_url, data_dir=tmp_path, rate_limit_enabled=False)
    app = create_app(settings, database_url=db_url)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        codes = []
        for _ in range(5):
            body = native_body()
            r = await client.post(f"/webhooks/{source.name}", content=body,
                                  headers=standard_headers(secret, body))
            codes.append(r.status_code)
    assert codes == [202] * 5


async def test_gcra_batch_is_all_or_nothing_per_delivery(conn: Conn) -> None:
    # burst 2 per source; the account bucket (burst 1) refuses the second delivery of acct
    rows = await (await conn.execute(TAKE, (
        ["src:x"] * 3, [1.0] * 3, [2] * 3, ["acct:x:a", "acct:x:a", "acct:x:b"], [0.1] * 3,
        [1] * 3))).fetchall()
    assert [r["allowed"] for r in rows] == [True, False, True]
    # the refused delivery did not use up source budget: now the source is exhausted
    nxt = await (await conn.execute(TAKE, (["src:x"], [1.0], [2], [None], [1.0], [1]))).fetchone()
    assert nxt is not None and nxt["allowed"] is False
    assert 0 < nxt["retry_after"] <= 1.0
    assert rows[1]["retry_after"] > 9  # account emission interval is 10 s


async def test_gcra_refills_at_the_configured_rate(conn: Conn) -> None:
    args = (["src:r"], [20.0], [1], [None], [1.0], [1])
    first = await (await conn.execute(TAKE, args)).fetchone()
    second = await (await conn.execute(TAKE, args)).fetchone()
    assert first is not None and second is not None
    assert first["allowed"] and not second["allowed"]
    await asyncio.sleep(second["retry_after"] + 0.01)
    third = await (await conn.execute(TAKE, args)).fetchone()
    assert third is not None and third["allowed"]
