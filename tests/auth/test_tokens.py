"""Bearer API tokens: shown once, stored hashed, listed without secrets, revocable."""

from __future__ import annotations

import httpx

from tests.auth.helpers import sha256
from tests.conftest import bearer_for, make_user
from tests.support.cli import run_cli
from vitaltrust.db import Conn


async def test_issue_use_list_and_revoke(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "trainer")
    auth = await bearer_for(conn, user)
    r = await app_client.post("/auth/tokens", json={"name": "laptop", "expires_in_days": 30},
                              headers=auth)
    assert r.status_code == 201, r.text
    created = r.json()
    token, token_id = created["token"], created["token_id"]
    assert token.startswith("vt_") and created["name"] == "laptop" and created["expires_at"]
    # stored as SHA-256 only: the secret appears nowhere in the table
    row = await (await conn.execute(
        "SELECT t.token_hash, t::text AS whole FROM api_tokens t WHERE token_id = %s",
        (token_id,))).fetchone()
    assert row is not None and bytes(row["token_hash"]) == sha256(token)
    assert token not in row["whole"] and token[10:] not in row["whole"]
    # the new token works; the listing shows it without any secret
    mine = await app_client.get("/auth/tokens", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    listed = {t["token_id"]: t for t in mine.json()}
    assert set(listed) == {token_id, token_id - 1}
    assert token not in mine.text and "token_hash" not in mine.text
    assert listed[token_id]["last_used_at"] is not None  # stamped on first use
    # revoke; the token stops working at once; revoking again is a 404
    r = await app_client.delete(f"/auth/tokens/{token_id}", headers=auth)
    assert r.status_code == 204
    r = await app_client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert (await app_client.delete(f"/auth/tokens/{token_id}", headers=auth)).status_code == 404
    actions = await (await conn.execute(
        "SELECT action, actor_id, target, result FROM audit_log ORDER BY audit_id")).fetchall()
    assert [(a["action"], a["actor_id"], a["target"], a["result"]) for a in actions] == [
        ("auth.token.create", user.user_id, f"token:{token_id}", "ok"),
        ("auth.token.revoke", user.user_id, f"token:{token_id}", "ok")]


async def test_nobody_revokes_or_sees_another_users_token(app_client: httpx.AsyncClient,
                                                          conn: Conn) -> None:
    owner, admin = await make_user(conn, "client"), await make_user(conn, "admin")
    owner_auth, admin_auth = await bearer_for(conn, owner), await bearer_for(conn, admin)
    owner_token_id = (await app_client.get("/auth/tokens", headers=owner_auth)).json()[0]["token_id"]
    r = await app_client.delete(f"/auth/tokens/{owner_token_id}", headers=admin_auth)
    assert r.status_code == 404
    assert (await app_client.get("/api/me", headers=owner_auth)).status_code == 200
    admins = (await app_client.get("/auth/tokens", headers=admin_auth)).json()
    assert owner_token_id not in {t["token_id"] for t in admins}


async def test_bad_tokens_and_ids_are_refused_cleanly(app_client: httpx.AsyncClient,
                                                      conn: Conn) -> None:
    user = await make_user(conn, "client")
    auth = await bearer_for(conn, user)
    for bad in ("vt_nope", "x" * 5000, "vt_" + "a" * 43):
        r = await app_client.get("/api/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401
    r = await app_client.delete(f"/auth/tokens/{2**70}", headers=auth)
    assert r.status_code == 404
    r = await app_client.post("/auth/tokens", json={"name": ""}, headers=auth)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = await app_client.post("/auth/tokens", json={"expires_in_days": 0}, headers=auth)
    assert r.status_code == 422


async def test_expired_token_is_refused(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "admin")
    auth = await bearer_for(conn, user)
    assert (await app_client.get("/api/me", headers=auth)).status_code == 200
    await conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
    assert (await app_client.get("/api/me", headers=auth)).status_code == 401


async def test_cli_issues_lists_and_revokes_tokens(app_client: httpx.AsyncClient, db_url: str,
                                                   conn: Conn) -> None:
    user = await make_user(conn, "admin")
    out = run_cli(db_url, "users", "token", "--email", user.email, "--name", "selftest")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.startswith("vt_") and "\n" not in token
    r = await app_client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["email"] == user.email
    listed = run_cli(db_url, "users", "tokens", "--email", user.email)
    assert listed.returncode == 0 and '"selftest"' in listed.stdout and token not in listed.stdout
    token_id = (await (await conn.execute("SELECT token_id FROM api_tokens")).fetchone() or {})["token_id"]
    out = run_cli(db_url, "users", "revoke-token", "--email", user.email, "--id", str(token_id))
    assert out.returncode == 0, out.stderr
    r = await app_client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    bad = run_cli(db_url, "users", "token", "--email", "nobody@example.test")
    assert bad.returncode != 0 and "error: no user with e-mail" in bad.stderr and not bad.stdout
    listing = run_cli(db_url, "users", "list")
    assert listing.returncode == 0 and user.email in listing.stdout
