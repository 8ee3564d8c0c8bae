"""Shared by the edge tests: what the database holds, and a signed-webhook setup."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from psycopg import sql

from tests.ingest.support import make_source
from vitaltrust.db import Conn
from vitaltrust.ingest.sources import link_account

# counters and limiter state move with every request, accepted or not; they hold no input
# (the alert watchdog, which writes rows on its own schedule, is off in these tests)
# (job_pending_counts: derived from background_jobs, folded by the leader on its schedule)
NOT_STORED_INPUT = ("schema_migrations", "rate_limit_state", "workers", "scheduler_tasks",
                    "job_pending_counts")
TABLES = """
SELECT tablename FROM pg_tables
WHERE schemaname = 'public' AND tablename NOT LIKE '%%stats%%' AND tablename <> ALL(%s)
ORDER BY tablename
"""


async def stored_rows(conn: Conn) -> dict[str, int]:
    """Rows per table of everything a request could have stored (one snapshot query)."""
    names = [r["tablename"] for r in await (await conn.execute(TABLES, (list(NOT_STORED_INPUT),))
                                            ).fetchall()]
    query = sql.SQL("SELECT {}").format(sql.SQL(", ").join(
        sql.SQL("(SELECT count(*) FROM {}) AS {}").format(sql.Identifier(n), sql.Identifier(n))
        for n in names))
    row = await (await conn.execute(query)).fetchone()
    assert row is not None
    return {name: int(row[name]) for name in names}


def assert_problem(r: httpx.Response, *statuses: int) -> None:
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert r.headers.get("x-content-type-options") == "nosniff"
    body = r.json()
    assert body["status"] == r.status_code and body["detail"]


@dataclass(frozen=True)
class Webhook:
    name: str
    secret: str
    account: str


async def standard_webhook(conn: Conn, user_email: str) -> Webhook:
    source, secret = await make_source(conn, "standard")
    await link_account(conn, source_name=source.name, external_user_id="ext-1", email=user_email)
    return Webhook(source.name, secret, "ext-1")
