"""`GET /login` (the page) and `POST /auth/login` (JSON or an HTML form post)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse

from vitaltrust.auth.audit import record_audit, record_audit_detached
from vitaltrust.auth.pages import html_page, landing_for, render, safe_next
from vitaltrust.auth.principal import SESSION_COOKIE, Principal
from vitaltrust.auth.secrets import hash_password, needs_rehash, verify_password
from vitaltrust.auth.sessions import (
    create_session,
    delete_session,
    purge_expired_sessions,
    set_session_cookies,
)
from vitaltrust.auth.throttle import count_attempt, email_key, forgive_success, ip_key, purge_expired
from vitaltrust.db import transaction
from vitaltrust.errors import problem_response
from vitaltrust.http import AppSettings, Pool

router = APIRouter(tags=["auth"])

MAX_LOGIN_BODY = 16 * 1024
MAX_PASSWORD_CHARS = 1024
SELECT_LOGIN_USER = """
SELECT user_id, email, role, display_name, time_zone, password_hash
FROM users WHERE lower(email) = %s AND disabled_at IS NULL
"""
UPDATE_PASSWORD_HASH = "UPDATE users SET password_hash = %s WHERE user_id = %s"  # noqa: S105
LOGIN_BODY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["email", "password"],
    "properties": {"email": {"type": "string"}, "password": {"type": "string"},
                   "next": {"type": "string", "description": "same-site path to go to"}},
}


class BadLogin(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str
    next_path: str | None
    from_form: bool


async def _read_body(request: Request) -> bytes:
    if int(request.headers.get("content-length") or 0) > MAX_LOGIN_BODY:
        raise BadLogin(413, "The login request is too large.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_BODY:
            raise BadLogin(413, "The login request is too large.")
    return body


async def read_credentials(request: Request) -> Credentials:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await _read_body(request)
    fields: dict[str, Any]
    if ctype == "application/x-www-form-urlencoded":
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        fields = {k: v[0] for k, v in parsed.items()}
    elif ctype == "application/json":
        try:
            loaded = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise BadLogin(400, "The body is not valid JSON.") from None
        if not isinstance(loaded, dict):
            raise BadLogin(422, "Send a JSON object with email and password.")
        fields = loaded
    else:
        raise BadLogin(415, "Send application/json or a form (application/x-www-form-urlencoded).")
    email, password, next_path = fields.get("email"), fields.get("password"), fields.get("next")
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        raise BadLogin(422, "Both email and password are required (strings).")
    if len(email) > 320 or len(password) > MAX_PASSWORD_CHARS:
        raise BadLogin(422, "The e-mail or password is too long.")
    return Credentials(email, password, next_path if isinstance(next_path, str) else None,
                       ctype != "application/json")


def cross_site(request: Request) -> bool:
    """A login posted from another site (login CSRF).

    Browsers say so in Sec-Fetch-Site, which a proxy rewriting the Host header cannot
    confuse; older ones only send Origin, compared with Host.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site:
        return fetch_site == "cross-site"
    origin = request.headers.get("origin")
    if not origin:
        return False  # not a browser, or a same-origin navigation by an old browser
    return origin == "null" or urlsplit(origin).netloc != request.headers.get("host", "")


def login_form(error: str, email: str, next_path: str | None, notice: str = "") -> str:
    return render("login.html", title="Sign in", script="login.js", error=error,
                  error_hidden="" if error else "hidden", email=email,
                  next=safe_next(next_path) or "", notice=notice,
                  notice_hidden="" if notice else "hidden")


def _refusal(creds: Credentials | None, status: int, detail: str, *,
             retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if creds is not None and creds.from_form:
        response = html_page(login_form(detail, creds.email, creds.next_path), status)
        response.headers.update(headers)
        return response
    return problem_response(status, detail, headers=headers, instance="/auth/login")


@router.get("/login", include_in_schema=False)
async def login_page(next: str | None = None, signed_out: bool = False) -> Response:
    return html_page(login_form("", "", next, "You are signed out." if signed_out else ""))


@router.post("/auth/login", openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": LOGIN_BODY_SCHEMA},
    "application/x-www-form-urlencoded": {"schema": LOGIN_BODY_SCHEMA}}}},
    response_model=None)
async def login(request: Request, pool: Pool, settings: AppSettings) -> Response:
    """Check e-mail and password; set the session cookie and return the CSRF token."""
    try:
        creds = await read_credentials(request)
    except BadLogin as exc:
        return _refusal(None, exc.status, exc.detail)
    if cross_site(request):
        return _refusal(creds, 403, "Sign in from this site's own login page.")
    email = email_key(creds.email)
    ip = ip_key(request.client.host if request.client else None)
    audit_details = {"ip": ip, "via": "form" if creds.from_form else "json"}

    async with pool.connection() as conn:  # autocommit: the count is shared at once
        verdict = await count_attempt(conn, settings, email=email, ip=ip)
    if not verdict.allowed:
        if verdict.first_refusal:  # one row per lock-out, not one per hammered request
            await record_audit_detached(pool, None, "auth.login", email,
                                        {**audit_details, "reason": "throttled"}, "denied")
        return _refusal(creds, 429, "Too many failed sign-in attempts; try again later.",
                        retry_after=verdict.retry_after)

    async with pool.connection() as conn:
        row = await (await conn.execute(SELECT_LOGIN_USER, (email,))).fetchone()
    stored = row["password_hash"] if row else None
    # Always verify (a dummy hash for unknown e-mails: same time, same answer). argon2
    # takes tens of milliseconds of CPU: keep it off the event loop.
    verified = await run_in_threadpool(verify_password, stored, creds.password)
    if row is None or not verified:
        await record_audit_detached(pool, None, "auth.login", email,
                                    {**audit_details, "reason": "bad_credentials"}, "denied")
        return _refusal(creds, 401, "Wrong e-mail or password.")

    principal = Principal(row["user_id"], row["email"], row["role"], "session")
    async with transaction(pool) as conn:
        # the browser's previous session (if any) is replaced, not left valid beside the new one
        await delete_session(conn, request.cookies.get(SESSION_COOKIE))
        session = await create_session(conn, settings, principal.user_id,
                                       request.headers.get("user-agent"))
        if stored and needs_rehash(stored):
            new_hash = await run_in_threadpool(hash_password, creds.password)
            await conn.execute(UPDATE_PASSWORD_HASH, (new_hash, principal.user_id))
        await forgive_success(conn, email=email, ip=ip)
        await record_audit(conn, principal, "auth.login", principal.email, audit_details, "ok")
        await purge_expired(conn, settings)
        await purge_expired_sessions(conn)

    redirect = landing_for(principal.role, creds.next_path)
    response: Response
    if creds.from_form:
        response = RedirectResponse(redirect, status_code=303, headers={"Cache-Control": "no-store"})
    else:
        response = JSONResponse({
            "user": {"user_id": principal.user_id, "email": principal.email,
                     "role": principal.role, "display_name": row["display_name"],
                     "time_zone": row["time_zone"]},
            "csrf_token": session.csrf_token,
            "expires_at": session.expires_at.isoformat(),
            "redirect": redirect,
        }, headers={"Cache-Control": "no-store"})
    set_session_cookies(response, request, settings, session)
    return response

