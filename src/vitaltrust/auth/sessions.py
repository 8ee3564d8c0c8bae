"""Browser sessions: a random cookie and a CSRF token, both stored only as SHA-256.

The session cookie is HttpOnly; the CSRF token is also sent as a readable cookie
(`vt_csrf`) so the pages' JavaScript can echo it in the `X-CSRF-Token` header, which a
cross-site page cannot do. Sessions expire `session_ttl_hours` after login.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request, Response

from vitaltrust.auth.principal import CSRF_COOKIE, MAX_SECRET_CHARS, SESSION_COOKIE
from vitaltrust.auth.secrets import token_digest
from vitaltrust.config import Settings
from vitaltrust.db import Conn

INSERT_SESSION = """
INSERT INTO sessions (user_id, token_hash, csrf_hash, expires_at, user_agent)
VALUES (%(user_id)s, %(token_hash)s, %(csrf_hash)s, now() + %(ttl)s, %(user_agent)s)
RETURNING expires_at
"""
DELETE_SESSION = "DELETE FROM sessions WHERE token_hash = %s"
# Old rows only; a session is already refused the moment it expires.
PURGE_EXPIRED_SESSIONS = "DELETE FROM sessions WHERE expires_at < now() - interval '1 day'"


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    expires_at: datetime


async def create_session(conn: Conn, settings: Settings, user_id: int,
                         user_agent: str | None) -> NewSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = await (await conn.execute(INSERT_SESSION, {
        "user_id": user_id, "token_hash": token_digest(token), "csrf_hash": token_digest(csrf),
        "ttl": timedelta(hours=settings.session_ttl_hours),
        "user_agent": (user_agent or "")[:300] or None,
    })).fetchone()
    assert row is not None
    return NewSession(token, csrf, row["expires_at"])


async def delete_session(conn: Conn, cookie: str | None) -> bool:
    if not cookie or len(cookie) > MAX_SECRET_CHARS:
        return False
    cur = await conn.execute(DELETE_SESSION, (token_digest(cookie),))
    return cur.rowcount > 0


async def purge_expired_sessions(conn: Conn) -> None:
    await conn.execute(PURGE_EXPIRED_SESSIONS)


def is_https(request: Request) -> bool:
    # Behind a reverse proxy, uvicorn sets the scheme from X-Forwarded-Proto only for
    # peers listed in FORWARDED_ALLOW_IPS (default: localhost); nothing else is trusted.
    return request.url.scheme == "https"


def cookie_secure(request: Request, settings: Settings) -> bool:
    if settings.secure_cookies == "always":
        return True
    if settings.secure_cookies == "never":
        return False
    return is_https(request)


def set_session_cookies(response: Response, request: Request, settings: Settings,
                        session: NewSession) -> None:
    secure = cookie_secure(request, settings)
    max_age = settings.session_ttl_hours * 3600
    response.set_cookie(SESSION_COOKIE, session.token, max_age=max_age, path="/",
                        httponly=True, samesite="lax", secure=secure)
    response.set_cookie(CSRF_COOKIE, session.csrf_token, max_age=max_age, path="/",
                        httponly=False, samesite="lax", secure=secure)


def clear_session_cookies(response: Response, request: Request, settings: Settings) -> None:
    secure = cookie_secure(request, settings)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    response.delete_cookie(CSRF_COOKIE, path="/", httponly=False, samesite="lax", secure=secure)
