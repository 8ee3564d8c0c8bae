"""Who is calling: bearer API tokens and session cookies, role checks, per-user access.

Every route declares its audience with one of the dependencies at the bottom. Cookie
sessions must also present the CSRF token (header `X-CSRF-Token`) on state changes;
bearer tokens need none (a browser never attaches them on its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from vitaltrust.auth.secrets import digests_equal, token_digest
from vitaltrust.errors import Problem
from vitaltrust.http import DbConn

SESSION_COOKIE = "vt_session"
CSRF_COOKIE = "vt_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLES_STAFF = ("admin", "trainer")
MAX_BIGINT = 2**63 - 1
# Longer than any token we issue; longer input is rejected before hashing or querying.
MAX_SECRET_CHARS = 200

# The lookups never block and write at most once a minute per credential: the
# `last_*` stamp is only refreshed when stale, and a row another request is already
# refreshing is skipped (SKIP LOCKED) rather than waited for.
# The bearer token's user as `hit` (other statements continue from it, see LOOKUP_BEARER).
BEARER_HIT = """
WITH hit AS (
    SELECT u.user_id, u.email, u.role, t.token_id, t.token_hash
    FROM api_tokens t JOIN users u ON u.user_id = t.user_id
    WHERE t.token_hash = %(digest)s AND t.revoked_at IS NULL
      AND (t.expires_at IS NULL OR t.expires_at > now())
      AND u.disabled_at IS NULL
), touch AS (
    UPDATE api_tokens t SET last_used_at = now()
    WHERE (t.user_id, t.token_id) IN (
        SELECT s.user_id, s.token_id FROM api_tokens s JOIN hit USING (user_id, token_id)
        WHERE s.last_used_at IS NULL OR s.last_used_at < now() - interval '1 minute'
        FOR UPDATE OF s SKIP LOCKED)
)
"""
LOOKUP_BEARER = BEARER_HIT + "SELECT user_id, email, role, token_hash FROM hit"  # noqa: S608 - constants
LOOKUP_SESSION = """
WITH hit AS (
    SELECT u.user_id, u.email, u.role, s.token_hash, s.csrf_hash
    FROM sessions s JOIN users u ON u.user_id = s.user_id
    WHERE s.token_hash = %(digest)s AND s.expires_at > now() AND u.disabled_at IS NULL
), touch AS (
    UPDATE sessions t SET last_seen_at = now()
    WHERE (t.user_id, t.token_hash) IN (
        SELECT s.user_id, s.token_hash FROM sessions s JOIN hit USING (user_id, token_hash)
        WHERE s.last_seen_at < now() - interval '1 minute'
        FOR UPDATE OF s SKIP LOCKED)
)
SELECT user_id, email, role, token_hash, csrf_hash FROM hit
"""
# admins everyone, anyone themselves, trainers their clients (migration 0720)
CAN_SEE_USER = "SELECT can_see_user(%(actor)s, %(role)s, %(target)s) AS allowed"


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    role: str
    via: str  # "token" or "session"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        return self.role in ROLES_STAFF


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _bad_bearer() -> Problem:
    return Problem(401, "The bearer token is invalid, expired or revoked.",
                   headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def csrf_ok(request: Request, csrf_hash: bytes) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or len(sent) > MAX_SECRET_CHARS:
        return False
    return digests_equal(token_digest(sent), csrf_hash)


def bearer_digest(token: str) -> bytes:
    """The digest a bearer token is looked up by; a 401 problem for an over-long one."""
    if len(token) > MAX_SECRET_CHARS:
        raise _bad_bearer()
    return token_digest(token)


def bearer_principal(row: Mapping[str, Any] | None, digest: bytes) -> Principal:
    """The caller, from the row of a statement that starts with BEARER_HIT; a 401 problem
    unless the token matched (compared in constant time)."""
    if row is None or not digests_equal(bytes(row["token_hash"]), digest):
        raise _bad_bearer()
    return Principal(row["user_id"], row["email"], row["role"], "token")


async def optional_principal(request: Request, conn: DbConn) -> Principal | None:
    token = bearer_token(request)
    if token is not None:
        digest = bearer_digest(token)
        row = await (await conn.execute(LOOKUP_BEARER, {"digest": digest})).fetchone()
        return bearer_principal(row, digest)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or len(cookie) > MAX_SECRET_CHARS:
        return None
    digest = token_digest(cookie)
    row = await (await conn.execute(LOOKUP_SESSION, {"digest": digest})).fetchone()
    if row is None or not digests_equal(bytes(row["token_hash"]), digest):
        return None  # expired or logged out: simply anonymous
    if request.method not in SAFE_METHODS and not csrf_ok(request, bytes(row["csrf_hash"])):
        raise Problem(403, "Missing or wrong CSRF token (send the X-CSRF-Token header).")
    return Principal(row["user_id"], row["email"], row["role"], "session")


async def require_user(principal: Annotated[Principal | None, Depends(optional_principal)]
                       ) -> Principal:
    if principal is None:
        raise Problem(401, "Authentication required.", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def _refuse(request: Request, principal: Principal, detail: str) -> Problem:
    """A refused state change is a manual action too: audit it (it survives the rollback)."""
    if request.method not in SAFE_METHODS:
        from vitaltrust.auth.audit import record_audit_detached  # audit imports this module

        await record_audit_detached(request.app.state.pool, principal, "access.denied",
                                    f"{request.method} {request.url.path}", {}, "denied")
    return Problem(403, detail)


async def require_staff(request: Request, principal: Annotated[Principal, Depends(require_user)]
                        ) -> Principal:
    """Trainers and admins (system-health views)."""
    if not principal.is_staff:
        raise await _refuse(request, principal, "This needs a trainer or admin account.")
    return principal


async def require_admin(request: Request, principal: Annotated[Principal, Depends(require_user)]
                        ) -> Principal:
    if principal.role != "admin":
        raise await _refuse(request, principal, "This needs an admin account.")
    return principal


def no_such_user(user_id: int) -> Problem:
    """404, not 403, for users outside the caller's reach: existence is not revealed."""
    return Problem(404, f"No user {user_id}.")


def user_id_in_range(user_id: int) -> bool:
    """Out of range for bigint: no such user (a 404, not a 500 from the database)."""
    return 0 < user_id <= MAX_BIGINT


def access_params(principal: Principal, user_id: int) -> dict[str, int | str]:
    """The parameters of CAN_SEE_USER."""
    if not user_id_in_range(user_id):
        raise no_such_user(user_id)
    return {"target": user_id, "role": principal.role, "actor": principal.user_id}


async def ensure_can_see_user(conn: DbConn, principal: Principal, user_id: int) -> None:
    row = await (await conn.execute(CAN_SEE_USER, access_params(principal, user_id))).fetchone()
    if not row or not row["allowed"]:
        raise no_such_user(user_id)


OptionalUser = Annotated[Principal | None, Depends(optional_principal)]
CurrentUser = Annotated[Principal, Depends(require_user)]
StaffUser = Annotated[Principal, Depends(require_staff)]
AdminUser = Annotated[Principal, Depends(require_admin)]
