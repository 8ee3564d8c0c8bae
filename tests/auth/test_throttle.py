"""Login throttling: per e-mail and per IP, shared through PostgreSQL, atomic."""

from __future__ import annotations

import asyncio

import httpx

from tests.auth.helpers import PASSWORD, login
from tests.conftest import make_user
from vitaltrust.app import create_app
from vitaltrust.auth.throttle import ip_key
from vitaltrust.config import Settings
from vitaltrust.db import Conn


async def test_five_failures_lock_the_email_with_retry_after(app_client: httpx.AsyncClient,
                                                             conn: Conn) -> None:
    user = await make_user(conn, "client")
    for _ in range(5):
        assert (await login(app_client, user.email, "wrong")).status_code == 401
    r = await login(app_client, user.email)  # even the right password is refused now
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert "set-cookie" not in r.headers
    # other accounts from the same address are unaffected (the per-IP limit is higher)
    other = await make_user(conn, "client")
    assert (await login(app_client, other.email)).status_code == 200
    # one audit row for the lock-out, not one per refused attempt
    await login(app_client, user.email)
    rows = await (await conn.execute(
        "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.login'"
        " AND details->>'reason' = 'throttled'")).fetchone()
    assert rows is not None and rows["n"] == 1
    # when the window has passed, the account can be used again
    await conn.execute("UPDATE login_throttle SET window_started_at = now() - interval '16 minutes'")
    assert (await login(app_client, user.email)).status_code == 200


async def test_success_forgives_earlier_failures(settings: Settings, db_url: str,
                                                 conn: Conn) -> None:
    user = await make_user(conn, "client")
    app = create_app(settings.model_copy(update={"login_max_failures": 2}), database_url=db_url)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        assert (await login(client, user.email, "wrong")).status_code == 401
        assert (await login(client, user.email)).status_code == 200
        for _ in range(2):
            assert (await login(client, user.email, "wrong")).status_code == 401
        assert (await login(client, user.email, "wrong")).status_code == 429


async def test_per_ip_limit_across_many_emails(settings: Settings, db_url: str, conn: Conn) -> None:
    tight = settings.model_copy(update={"login_max_failures_per_ip": 3})
    app = create_app(tight, database_url=db_url)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 5000)),
            base_url="http://testserver") as client:
        for i in range(3):
            assert (await login(client, f"guess{i}@example.test", "x")).status_code == 401
        r = await login(client, "guess9@example.test", "x")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    row = await (await conn.execute(
        "SELECT attempts FROM login_throttle WHERE scope = 'ip' AND subject = '203.0.113.7'"
    )).fetchone()
    assert row is not None and row["attempts"] == 4
    # a different address is not affected
    app2 = create_app(tight, database_url=db_url)
    user = await make_user(conn, "client")
    async with app2.router.lifespan_context(app2), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app2, client=("198.51.100.1", 5000)),
            base_url="http://testserver") as client:
        assert (await client.post("/auth/login", json={"email": user.email,
                                                       "password": PASSWORD})).status_code == 200


async def test_parallel_guesses_cannot_pass_the_limit(app_client: httpx.AsyncClient,
                                                      conn: Conn) -> None:
    user = await make_user(conn, "client")
    results = await asyncio.gather(*(login(app_client, user.email, f"guess{i}")
                                     for i in range(12)))
    codes = sorted(r.status_code for r in results)
    assert codes == [401] * 5 + [429] * 7


async def test_form_post_when_throttled_shows_the_page(app_client: httpx.AsyncClient,
                                                       conn: Conn) -> None:
    user = await make_user(conn, "client")
    await conn.execute("INSERT INTO login_throttle (scope, subject, attempts) VALUES ('email', %s, 5)",
                       (user.email,))
    r = await app_client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 429 and r.headers["content-type"].startswith("text/html")
    assert "Too many failed sign-in attempts" in r.text and r.headers["retry-after"]


def test_ip_keys() -> None:
    assert ip_key("192.0.2.1") == "192.0.2.1"
    assert ip_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64" == ip_key("2001:db8:1:2::9")
    assert ip_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert ip_key(None) == "unknown"
