"""Self-test sandboxes in the database: a sandbox client user, its bearer token and two
sandbox webhook sources (`main` with a roomy budget, `limited` with a tiny one for the
rate-limit check). Everything is marked is_sandbox, so it never shows in dashboards or
statistics, and `drop_sandbox` removes every row the self-test produced."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from vitaltrust.auth.tokens import issue_api_token
from vitaltrust.auth.users import create_user
from vitaltrust.db import Conn
from vitaltrust.ingest.sources import LINK_ACCOUNT, create_source

EXTERNAL_USER_ID = "selftest"
SANDBOX_TTL = timedelta(hours=1)
# name -> (rate per second, burst): the same for the source and for its one account
BUDGETS = {"main": (50.0, 200), "limited": (0.2, 5)}

INSERT_SANDBOX = """
INSERT INTO selftest_sandboxes (user_id, source_ids, created_by) VALUES (%s, %s, %s)
"""
DROP_SANDBOX = "SELECT selftest_drop_sandboxes(ARRAY[%s]::bigint[]) AS dropped"
# sandboxes a crashed self-test left behind
DROP_STALE = """
SELECT selftest_drop_sandboxes(coalesce(array_agg(user_id), '{}')) AS dropped
FROM selftest_sandboxes WHERE created_at < now() - %s::interval
"""
SANDBOX_EVENTS = """
SELECT s.name AS source, e.event_id, e.status, e.sample_count
FROM selftest_sandboxes b
CROSS JOIN LATERAL unnest(b.source_ids) AS x(source_id)
JOIN webhook_sources s ON s.source_id = x.source_id
JOIN webhook_events e ON e.source_id = x.source_id
WHERE b.user_id = %s
ORDER BY e.webhook_event_id
"""
IS_SANDBOX = "SELECT 1 FROM selftest_sandboxes WHERE user_id = %s"


async def create_sandbox(conn: Conn, created_by: int | None) -> dict[str, Any]:
    """A fresh sandbox; the secrets and token in the answer are shown only this once."""
    await conn.execute(DROP_STALE, (SANDBOX_TTL,))
    tag = secrets.token_hex(4)
    user = await create_user(conn, email=f"selftest-{tag}@sandbox.invalid", role="client",
                             password=None, display_name="Self-test sandbox", is_sandbox=True)
    sources: dict[str, Any] = {}
    for role, (rate, burst) in BUDGETS.items():
        source, secret = await create_source(
            conn, f"selftest-{user.user_id}-{role}", "standard", is_sandbox=True,
            rate_per_second=rate, rate_burst=burst, account_rate_per_second=rate,
            account_rate_burst=burst)
        await conn.execute(LINK_ACCOUNT, (source.source_id, EXTERNAL_USER_ID, user.user_id))
        sources[role] = {"name": source.name, "source_id": source.source_id, "kind": "standard",
                         "secret": secret, "rate_per_second": rate, "rate_burst": burst}
    await conn.execute(INSERT_SANDBOX, (user.user_id, [s["source_id"] for s in sources.values()],
                                        created_by))
    expires = datetime.now(UTC) + SANDBOX_TTL
    _, token = await issue_api_token(conn, user.user_id, "selftest", expires_at=expires)
    return {"user_id": user.user_id, "token": token, "external_user_id": EXTERNAL_USER_ID,
            "sources": sources, "expires_at": expires.isoformat()}


async def is_sandbox(conn: Conn, user_id: int) -> bool:
    return await (await conn.execute(IS_SANDBOX, (user_id,))).fetchone() is not None


async def drop_sandbox(conn: Conn, user_id: int) -> bool:
    row = await (await conn.execute(DROP_SANDBOX, (user_id,))).fetchone()
    return bool(row and row["dropped"])


async def sandbox_events(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    return list(await (await conn.execute(SANDBOX_EVENTS, (user_id,))).fetchall())
