"""The audit log: one row per manual action (who, what, when, result).

Call `record_audit(conn, principal, action, target, details, result)` in the same
transaction as the action, so the row commits or rolls back with it. A *refusal* or a
*failure* is usually followed by raising `Problem`, which rolls the request's
transaction back — record those with `record_audit_detached(pool, ...)`, which commits
on its own connection.

Actions are dotted names, `<domain>.<thing>.<verb>`: `auth.login`, `auth.token.create`,
`jobs.retry_failed`, `confidence.recalculate`, `metrics.priority.update`, ...
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from psycopg_pool import AsyncConnectionPool

from vitaltrust.auth.principal import Principal
from vitaltrust.db import Conn

AuditResult = Literal["ok", "error", "denied"]
RESULTS: frozenset[str] = frozenset({"ok", "error", "denied"})
MAX_TARGET_CHARS = 320

INSERT_AUDIT = """
INSERT INTO audit_log (actor_id, actor_role, action, target, details, result)
VALUES (%(actor_id)s, %(actor_role)s, %(action)s, %(target)s, %(details)s::jsonb, %(result)s)
RETURNING audit_id, created_at
"""
SELECT_RECENT_AUDIT = """
SELECT a.audit_id, a.created_at, a.actor_id, u.email AS actor_email, a.actor_role, a.action,
       a.target, a.details, a.result
FROM audit_log a LEFT JOIN users u ON u.user_id = a.actor_id
WHERE (%(action)s::text IS NULL OR a.action = %(action)s)
ORDER BY a.created_at DESC, a.audit_id DESC
LIMIT %(limit)s
"""


def _params(principal: Principal | None, action: str, target: str | None,
            details: Mapping[str, Any] | None, result: str) -> dict[str, Any]:
    if result not in RESULTS:
        raise ValueError(f"audit result must be one of {sorted(RESULTS)}, not {result!r}")
    if not action:
        raise ValueError("audit action must not be empty")
    return {
        "actor_id": principal.user_id if principal else None,
        "actor_role": principal.role if principal else None,
        "action": action,
        "target": target[:MAX_TARGET_CHARS] if target is not None else None,
        # default=str: datetimes, Decimals, UUIDs in details are written as text
        "details": json.dumps(dict(details or {}), default=str),
        "result": result,
    }


async def record_audit(conn: Conn, principal: Principal | None, action: str,
                       target: str | None, details: Mapping[str, Any] | None,
                       result: AuditResult) -> int:
    """Write one audit row in the caller's transaction; returns its id."""
    row = await (await conn.execute(
        INSERT_AUDIT, _params(principal, action, target, details, result))).fetchone()
    assert row is not None
    return int(row["audit_id"])


async def record_audit_detached(pool: AsyncConnectionPool[Conn], principal: Principal | None,
                                action: str, target: str | None,
                                details: Mapping[str, Any] | None, result: AuditResult) -> int:
    """Write one audit row that survives the caller's rollback (refusals, failures)."""
    async with pool.connection() as conn, conn.transaction():
        return await record_audit(conn, principal, action, target, details, result)


async def recent_audit(conn: Conn, *, limit: int = 50, action: str | None = None
                       ) -> list[dict[str, Any]]:
    """Newest first; for the CLI and admin views."""
    rows = await (await conn.execute(
        SELECT_RECENT_AUDIT, {"limit": limit, "action": action})).fetchall()
    return [dict(r) for r in rows]
