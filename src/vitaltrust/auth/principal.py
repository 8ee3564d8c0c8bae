"""Who is calling: bearer API tokens and session cookies, role checks, per-user access.

Every route declares its audience with one of the dependencies at the bottom. Cookie
sessions must also present the CSRF token (header `X-CSRF-Token`) on state changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from vitaltrust.auth.secrets import digests_equal, token_digest
from vitaltrust.errors import Problem
from vitaltrust.http import DbConn

SESSION_COOKIE = "vt_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

LOOKUP_BEARER = """
UPDATE api_tokens t SET last_used_at = now()
FROM users u
WHERE t.token_hash = %s AND t.revoked_at IS NULL
  AND (t.expires_at IS NULL OR t.expires_at > now())
  AND u.user_id = t.user_id AND u.disabled_at IS NULL
RETURNING u.user_id, u.email, u.role, t.token_hash
"""
LOOKUP_SESSION = """
UPDATE sessions s SET last_seen_at = now()
FROM users u
WHERE s.token_hash = %s AND s.expires_at > now()
  AND u.user_id = s.user_id AND u.disabled_at IS NULL
RETURNING u.user_id, u.email, u.role, s.token_hash, s.csrf_hash
"""
CAN_SEE_USER = """
SELECT EXISTS (
    SELECT 1 FROM users u
    WHERE u.user_id = %(target)s
      AND (%(role)s = 'admin'
           OR u.user_id = %(actor)s
           OR (%(role)s = 'trainer' AND EXISTS (
                 SELECT 1 FROM trainer_clients tc
                 WHERE tc.client_id = u.user_id AND tc.trainer_id = %(actor)s)))
) AS allowed
"""


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    role: str
    via: str  # "token" or "session"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def optional_principal(request: Request, conn: DbConn) -> Principal | None:
    token = _bearer(request)
    if token is not None:
        digest = token_digest(token)
        row = await (await conn.execute(LOOKUP_BEARER, (digest,))).fetchone()
        if row is None or not digests_equal(bytes(row["token_hash"]), digest):
            raise Problem(401, "The bearer token is invalid, expired or revoked.",
                          headers={"WWW-Authenticate": "Bearer"})
        return Principal(row["user_id"], row["email"], row["role"], "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    digest = token_digest(cookie)
    row = await (await conn.execute(LOOKUP_SESSION, (digest,))).fetchone()
    if row is None or not digests_equal(bytes(row["token_hash"]), digest):
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not digests_equal(token_digest(sent), bytes(row["csrf_hash"])):
            raise Problem(403, "Missing or wrong CSRF token (send the X-CSRF-Token header).")
    return Principal(row["user_id"], row["email"], row["role"], "session")


async def require_user(principal: Annotated[Principal | None, Depends(optional_principal)]
                       ) -> Principal:
    if principal is None:
        raise Problem(401, "Authentication required.", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def require_staff(principal: Annotated[Principal, Depends(require_user)]) -> Principal:
    """Trainers and admins (system-health views)."""
    if principal.role not in ("admin", "trainer"):
        raise Problem(403, "This needs a trainer or admin account.")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_user)]) -> Principal:
    if principal.role != "admin":
        raise Problem(403, "This needs an admin account.")
    return principal


async def ensure_can_see_user(conn: DbConn, principal: Principal, user_id: int) -> None:
    """404, not 403, for users outside the caller's reach: existence is not revealed."""
    row = await (await conn.execute(
        CAN_SEE_USER, {"target": user_id, "role": principal.role, "actor": principal.user_id}
    )).fetchone()
    if not row or not row["allowed"]:
        raise Problem(404, f"No user {user_id}.")


OptionalUser = Annotated[Principal | None, Depends(optional_principal)]
CurrentUser = Annotated[Principal, Depends(require_user)]
StaffUser = Annotated[Principal, Depends(require_staff)]
AdminUser = Annotated[Principal, Depends(require_admin)]
