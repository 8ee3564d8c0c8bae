"""POST /auth/login, the session cookie, CSRF, logout, session expiry, the login page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.auth.helpers import PASSWORD, login, login_ok, set_cookies, sha256
from tests.conftest import make_user
from vitaltrust.app import create_app
from vitaltrust.config import Settings
from vitaltrust.db import Conn


async def test_json_login_sets_session_and_csrf_cookies(app_client: httpx.AsyncClient,
                                                        conn: Conn) -> None:
    user = await make_user(conn, "trainer", display_name="Tess")
    r = await login(app_client, user.email.upper())  # e-mail is case-insensitive
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == {"user_id": user.user_id, "email": user.email, "role": "trainer",
                            "display_name": "Tess", "time_zone": "UTC"}
    assert body["redirect"] == "/clients"  # a trainer lands on their clients
    cookies = set_cookies(r)
    session, csrf = cookies["vt_session"], cookies["vt_csrf"]
    assert session["httponly"] is True and session["samesite"] == "lax" and session["path"] == "/"
    assert "secure" not in session  # plain http with secure_cookies=auto
    assert "httponly" not in csrf and csrf["samesite"] == "lax" and csrf["value"] == body["csrf_token"]
    assert int(str(session["max-age"])) == 12 * 3600
    # only digests are stored
    row = await (await conn.execute(
        "SELECT token_hash, csrf_hash, expires_at FROM sessions WHERE user_id = %s",
        (user.user_id,))).fetchone()
    assert row is not None
    assert bytes(row["token_hash"]) == sha256(str(session["value"]))
    assert bytes(row["csrf_hash"]) == sha256(body["csrf_token"])
    expected = datetime.now(UTC) + timedelta(hours=12)
    assert abs((row["expires_at"] - expected).total_seconds()) < 60
    dump = await (await conn.execute("SELECT s::text AS t FROM sessions s")).fetchall()
    assert all(str(session["value"]) not in d["t"] and body["csrf_token"] not in d["t"] for d in dump)
    me = await app_client.get("/api/me")
    assert me.status_code == 200 and me.json()["email"] == user.email


@pytest.mark.parametrize("base_url, mode, secure", [
    ("https://testserver", "auto", True),
    ("http://testserver", "auto", False),
    ("http://testserver", "always", True),
    ("https://testserver", "never", False),
])
async def test_secure_flag_follows_the_scheme_and_setting(
        settings: Settings, db_url: str, conn: Conn, base_url: str, mode: str, secure: bool) -> None:
    user = await make_user(conn, "client")
    app = create_app(settings.model_copy(update={"secure_cookies": mode}), database_url=db_url)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
        r = await login(client, user.email)
    assert r.status_code == 200
    cookies = set_cookies(r)
    assert ("secure" in cookies["vt_session"]) is secure
    assert ("secure" in cookies["vt_csrf"]) is secure


async def test_wrong_password_and_unknown_email_look_the_same(app_client: httpx.AsyncClient,
                                                              conn: Conn) -> None:
    user = await make_user(conn, "client")
    wrong = await login(app_client, user.email, "not the password")
    unknown = await login(app_client, "nobody@example.test")
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert "set-cookie" not in r.headers
    assert wrong.json()["detail"] == unknown.json()["detail"]
    rows = await (await conn.execute(
        "SELECT actor_id, target, result, details FROM audit_log WHERE action = 'auth.login'"
        " ORDER BY audit_id")).fetchall()
    assert [(r["actor_id"], r["target"], r["result"]) for r in rows] == [
        (None, user.email, "denied"), (None, "nobody@example.test", "denied")]
    assert rows[0]["details"]["reason"] == "bad_credentials"
    assert (await app_client.get("/api/me")).status_code == 401


async def test_unknown_email_still_costs_a_password_check(
        app_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import vitaltrust.auth.login as login_module

    checked: list[str | None] = []
    real = login_module.verify_password

    def counting(stored: str | None, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(login_module, "verify_password", counting)
    assert (await login(app_client, "nobody@example.test")).status_code == 401
    assert checked == [None]  # verified against the dummy hash, like a wrong password


async def test_successful_login_is_audited(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "admin")
    await login_ok(app_client, user.email)
    row = await (await conn.execute(
        "SELECT actor_id, actor_role, target, result, created_at FROM audit_log"
        " WHERE action = 'auth.login'")).fetchone()
    assert row is not None
    assert (row["actor_id"], row["actor_role"], row["target"], row["result"]) == (
        user.user_id, "admin", user.email, "ok")


@pytest.mark.parametrize("body", [
    {"email": "a@b.c"}, {"password": "x"}, {"email": 5, "password": "x"}, [], "text",
])
async def test_malformed_login_is_a_problem_not_a_500(app_client: httpx.AsyncClient,
                                                      body: object) -> None:
    r = await app_client.post("/auth/login", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_bad_content_is_refused(app_client: httpx.AsyncClient) -> None:
    r = await app_client.post("/auth/login", content=b"{not json",
                              headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = await app_client.post("/auth/login", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = await app_client.post("/auth/login", json={"email": "a@b.c", "password": "x" * 20000})
    assert r.status_code == 413


async def test_form_login_redirects_to_a_safe_next(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "admin")
    r = await app_client.post("/auth/login", data={"email": user.email, "password": PASSWORD,
                                                   "next": "/clients?x=1"})
    assert r.status_code == 303 and r.headers["location"] == "/clients?x=1"
    assert "vt_session" in set_cookies(r)
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        r = await app_client.post("/auth/login", data={"email": user.email, "password": PASSWORD,
                                                       "next": evil})
        assert r.status_code == 303 and r.headers["location"] == "/admin", evil


async def test_client_lands_on_own_data(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "client")
    r = await login(app_client, user.email)
    assert r.json()["redirect"] == "/clients"


async def test_form_login_failure_shows_the_page_again(app_client: httpx.AsyncClient,
                                                       conn: Conn) -> None:
    user = await make_user(conn, "admin")
    r = await app_client.post("/auth/login", data={"email": user.email, "password": "nope",
                                                   "next": "/admin"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    assert "Wrong e-mail or password" in r.text and 'value="/admin"' in r.text


async def test_login_from_another_site_is_refused(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "admin")
    r = await app_client.post("/auth/login", data={"email": user.email, "password": PASSWORD},
                              headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = await app_client.post("/auth/login", data={"email": user.email, "password": PASSWORD},
                              headers={"origin": "http://testserver"})
    assert r.status_code == 303
    r = await app_client.post("/auth/login", json={"email": user.email, "password": PASSWORD},
                              headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    # behind a proxy that rewrites Host, the browser's Sec-Fetch-Site still says same-origin
    r = await app_client.post("/auth/login", data={"email": user.email, "password": PASSWORD},
                              headers={"origin": "https://vitaltrust.example",
                                       "sec-fetch-site": "same-origin"})
    assert r.status_code == 303


async def test_cookie_requests_that_change_state_need_the_csrf_token(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "client")
    csrf = await login_ok(app_client, user.email)
    assert (await app_client.post("/auth/tokens", json={})).status_code == 403
    assert (await app_client.post("/auth/tokens", json={},
                                  headers={"X-CSRF-Token": "wrong"})).status_code == 403
    assert (await app_client.post("/auth/tokens", json={},
                                  headers={"X-CSRF-Token": "x" * 5000})).status_code == 403
    assert (await app_client.post("/auth/tokens", json={},
                                  headers={"X-CSRF-Token": csrf})).status_code == 201
    # another session's CSRF token does not fit this session
    other = await make_user(conn, "client")
    transport = httpx.ASGITransport(app=app_client.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as second:
        other_csrf = await login_ok(second, other.email)
    assert (await app_client.post("/auth/tokens", json={},
                                  headers={"X-CSRF-Token": other_csrf})).status_code == 403
    assert (await app_client.get("/auth/tokens")).status_code == 200  # reads need none


async def test_logout_ends_the_session(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "client")
    csrf = await login_ok(app_client, user.email)
    cookie = app_client.cookies.get("vt_session")
    assert (await app_client.post("/auth/logout")).status_code == 403  # CSRF-protected
    r = await app_client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    cleared = set_cookies(r)
    assert cleared["vt_session"]["max-age"] == "0" and cleared["vt_csrf"]["max-age"] == "0"
    n = await (await conn.execute("SELECT count(*) AS n FROM sessions")).fetchone()
    assert n is not None and n["n"] == 0
    # the old cookie, replayed, is worthless
    app_client.cookies.set("vt_session", str(cookie))
    assert (await app_client.get("/api/me")).status_code == 401


async def test_logging_in_again_replaces_the_browser_session(app_client: httpx.AsyncClient,
                                                             conn: Conn) -> None:
    user = await make_user(conn, "client")
    await login_ok(app_client, user.email)
    first = app_client.cookies.get("vt_session")
    await login_ok(app_client, user.email)
    assert app_client.cookies.get("vt_session") != first
    rows = await (await conn.execute("SELECT token_hash FROM sessions")).fetchall()
    assert [bytes(r["token_hash"]) for r in rows] == [sha256(str(app_client.cookies.get("vt_session")))]


async def test_expired_session_is_anonymous(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "client")
    await login_ok(app_client, user.email)
    assert (await app_client.get("/api/me")).status_code == 200
    await conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert (await app_client.get("/api/me")).status_code == 401


async def test_disabled_user_can_neither_log_in_nor_keep_using_a_session(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "trainer")
    await login_ok(app_client, user.email)
    await conn.execute("UPDATE users SET disabled_at = now() WHERE user_id = %s", (user.user_id,))
    assert (await app_client.get("/api/me")).status_code == 401
    assert (await login(app_client, user.email)).status_code == 401


async def test_login_page_is_self_contained_and_escapes_next(app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/login", params={"next": '/admin"><script>alert(1)</script>'})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script>alert(1)" not in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert 'action="/auth/login"' in r.text and "/static/login.js" in r.text
    assert "http://" not in r.text and "https://" not in r.text  # no CDN
    for asset in ("/static/login.js", "/static/base.css"):
        assert (await app_client.get(asset)).status_code == 200, asset


async def test_me_reports_profile_and_trainer_client_count(app_client: httpx.AsyncClient,
                                                           conn: Conn) -> None:
    trainer = await make_user(conn, "trainer", time_zone="Europe/Berlin")
    for _ in range(2):
        client = await make_user(conn, "client")
        await conn.execute("INSERT INTO trainer_clients (client_id, trainer_id) VALUES (%s, %s)",
                           (client.user_id, trainer.user_id))
    await login_ok(app_client, trainer.email)
    body = (await app_client.get("/api/me")).json()
    assert body["role"] == "trainer" and body["time_zone"] == "Europe/Berlin"
    assert body["client_count"] == 2


async def test_old_hashes_are_upgraded_and_old_sessions_purged_at_login(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    from argon2 import PasswordHasher

    user = await make_user(conn, "client")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await conn.execute("UPDATE users SET password_hash = %s WHERE user_id = %s",
                       (weak, user.user_id))
    await conn.execute(
        "INSERT INTO sessions (user_id, token_hash, csrf_hash, expires_at)"
        " VALUES (%s, %s, %s, now() - interval '2 days')",
        (user.user_id, sha256("stale"), sha256("stale-csrf")))
    await login_ok(app_client, user.email)
    row = await (await conn.execute("SELECT password_hash FROM users WHERE user_id = %s",
                                    (user.user_id,))).fetchone()
    assert row is not None and row["password_hash"] != weak
    assert row["password_hash"].startswith("$argon2id$")
    stale = await (await conn.execute("SELECT count(*) AS n FROM sessions WHERE token_hash = %s",
                                      (sha256("stale"),))).fetchone()
    assert stale is not None and stale["n"] == 0
    # the upgraded hash still verifies
    app_client.cookies.clear()
    await login_ok(app_client, user.email)
