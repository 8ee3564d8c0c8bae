"""Bearer API tokens: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vitaltrust.auth.secrets import new_token, token_digest
from vitaltrust.db import Conn, fetch_all

INSERT_API_KEY = """
INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, expires_at)
VALUES (%s, %s, %s, %s, %s)
RETURNING token_id
"""
REVOKE_API_KEY = """
UPDATE api_tokens SET revoked_at = now()
WHERE user_id = %s AND token_id = %s AND revoked_at IS NULL
"""
SELECT_API_KEYS = """
SELECT token_id, name, token_prefix, created_at, last_used_at, expires_at, revoked_at
FROM api_tokens WHERE user_id = %s
ORDER BY created_at DESC, token_id DESC
"""
MAX_TOKEN_ID = 2**63 - 1


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token after its creation: never the secret."""

    token_id: int
    name: str
    token_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


async def issue_api_token(conn: Conn, user_id: int, name: str = "api",
                          expires_at: datetime | None = None) -> tuple[int, str]:
    """Return (token id, the token itself); only its digest is kept."""
    token = new_token("vt")
    row = await (await conn.execute(
        INSERT_API_KEY, (user_id, name, token_digest(token), token[:10], expires_at))).fetchone()
    assert row is not None
    return int(row["token_id"]), token


async def revoke_api_token(conn: Conn, user_id: int, token_id: int) -> bool:
    """False when the caller has no such active token (someone else's counts as none)."""
    if not 0 < token_id <= MAX_TOKEN_ID:
        return False
    cur = await conn.execute(REVOKE_API_KEY, (user_id, token_id))
    return cur.rowcount == 1


async def list_api_tokens(conn: Conn, user_id: int) -> list[TokenInfo]:
    return await fetch_all(conn, SELECT_API_KEYS, (user_id,), TokenInfo)
