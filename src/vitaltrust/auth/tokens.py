"""Bearer API tokens: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

from datetime import datetime

from vitaltrust.auth.secrets import new_token, token_digest
from vitaltrust.db import Conn

INSERT_API_KEY = """
INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, expires_at)
VALUES (%s, %s, %s, %s, %s)
RETURNING token_id
"""
REVOKE_API_KEY = """
UPDATE api_tokens SET revoked_at = now()
WHERE user_id = %s AND token_id = %s AND revoked_at IS NULL
"""


async def issue_api_token(conn: Conn, user_id: int, name: str = "api",
                          expires_at: datetime | None = None) -> tuple[int, str]:
    """Return (token id, the token itself); only its digest is kept."""
    token = new_token("vt")
    row = await (await conn.execute(
        INSERT_API_KEY, (user_id, name, token_digest(token), token[:10], expires_at))).fetchone()
    assert row is not None
    return int(row["token_id"]), token


async def revoke_api_token(conn: Conn, user_id: int, token_id: int) -> bool:
    cur = await conn.execute(REVOKE_API_KEY, (user_id, token_id))
    return cur.rowcount == 1
