"""Auth routes: login (see login.py), logout, API tokens, `/api/me`, and `/static`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from vitaltrust.auth.audit import record_audit
from vitaltrust.auth.login import router as login_router
from vitaltrust.auth.principal import SESSION_COOKIE, CurrentUser, OptionalUser
from vitaltrust.auth.sessions import clear_session_cookies, delete_session
from vitaltrust.auth.tokens import TokenInfo, issue_api_token, list_api_tokens, revoke_api_token
from vitaltrust.auth.users import get_user
from vitaltrust.errors import Problem
from vitaltrust.http import AppSettings, DbConn
from vitaltrust.web import static_files

router = APIRouter()
router.include_router(login_router)
router.mount("/static", static_files(), name="static")

COUNT_CLIENTS = "SELECT count(*) AS n FROM trainer_clients WHERE trainer_id = %s"


class TokenRequest(BaseModel):
    name: str = Field(default="api", min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenCreated(BaseModel):
    token_id: int
    name: str
    token: str = Field(description="The bearer token. Shown only in this response.")
    token_prefix: str
    expires_at: datetime | None


class Me(BaseModel):
    user_id: int
    email: str
    role: str
    display_name: str | None
    time_zone: str
    client_count: int | None = Field(default=None, description="Trainers only.")


@router.post("/auth/logout", status_code=204, tags=["auth"], response_class=Response)
async def logout(request: Request, conn: DbConn, settings: AppSettings,
                 principal: OptionalUser) -> Response:
    """End the browser session (needs X-CSRF-Token); always clears the cookies."""
    if principal is not None and principal.via == "session":
        await delete_session(conn, request.cookies.get(SESSION_COOKIE))
        await record_audit(conn, principal, "auth.logout", principal.email, {}, "ok")
    response = Response(status_code=204)
    clear_session_cookies(response, request, settings)
    return response


@router.post("/auth/tokens", status_code=201, tags=["auth"])
async def create_token(conn: DbConn, principal: CurrentUser,
                       body: TokenRequest | None = None) -> TokenCreated:
    """Issue a bearer token for the caller. Only its SHA-256 is stored."""
    req = body or TokenRequest()
    expires_at = (datetime.now(UTC) + timedelta(days=req.expires_in_days)
                  if req.expires_in_days else None)
    token_id, token = await issue_api_token(conn, principal.user_id, req.name, expires_at)
    await record_audit(conn, principal, "auth.token.create", f"token:{token_id}",
                       {"name": req.name, "expires_at": expires_at}, "ok")
    return TokenCreated(token_id=token_id, name=req.name, token=token, token_prefix=token[:10],
                        expires_at=expires_at)


@router.get("/auth/tokens", tags=["auth"])
async def my_tokens(conn: DbConn, principal: CurrentUser) -> list[TokenInfo]:
    """The caller's tokens, newest first, without their secrets."""
    return await list_api_tokens(conn, principal.user_id)


@router.delete("/auth/tokens/{token_id}", status_code=204, tags=["auth"],
               response_class=Response)
async def revoke_token(token_id: int, conn: DbConn, principal: CurrentUser) -> Response:
    if not await revoke_api_token(conn, principal.user_id, token_id):
        raise Problem(404, f"You have no active token {token_id}.")
    await record_audit(conn, principal, "auth.token.revoke", f"token:{token_id}", {}, "ok")
    return Response(status_code=204)


@router.get("/api/me", tags=["auth"])
async def me(conn: DbConn, principal: CurrentUser) -> Me:
    user = await get_user(conn, principal.user_id)
    if user is None:  # deleted between authentication and now
        raise Problem(401, "Authentication required.")
    client_count = None
    if user.role == "trainer":
        row = await (await conn.execute(COUNT_CLIENTS, (user.user_id,))).fetchone()
        client_count = int(row["n"]) if row else 0
    return Me(user_id=user.user_id, email=user.email, role=user.role,
              display_name=user.display_name, time_zone=user.time_zone,
              client_count=client_count)
