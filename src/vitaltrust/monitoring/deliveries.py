"""The deliveries console: webhook events per source and status, one event with its body,
reprocessing, and provider accounts nobody linked yet (with their waiting events).

Counts per source over a time range come from the minute rollups (stored outcomes; never an
event twice: reprocessing takes the old outcome back, migration 0601) plus the live count
of events still queued. Rejected, rate-limited and duplicate deliveries were never stored:
they exist only as counts.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from psycopg import sql

from vitaltrust.db import Conn
from vitaltrust.monitoring.joblist import compose_list
from vitaltrust.queue.enqueue import NewJob, enqueue_many

EventStatus = Literal["received", "processed", "unmatched", "ignored", "needs_pull", "failed"]
EVENT_STATUSES: tuple[EventStatus, ...] = ("received", "processed", "unmatched", "ignored",
                                           "needs_pull", "failed")
MAX_PAGE = 200
# queued longer than 10 minutes: "stuck" (SUMMARY); the reason ingest/jobs.py writes for an
# account nobody linked (UNMATCHED_ACCOUNTS)

# since NULL: every minute bucket kept (since install, within retention)
SUMMARY = """
WITH stats AS (
    SELECT m.source_id, sum(m.received) AS received, sum(m.processed) AS processed,
           sum(m.unmatched) AS unmatched, sum(m.ignored) AS ignored, sum(m.failed) AS failed,
           sum(m.duplicates) AS duplicates, sum(m.rejected) AS rejected,
           sum(m.rate_limited) AS rate_limited, sum(m.needs_pull) AS needs_pull
    FROM webhook_stats_minute m
    WHERE %(since)s::timestamptz IS NULL OR m.bucket >= %(since)s
    GROUP BY m.source_id
), live AS (
    SELECT e.source_id,
           count(*) FILTER (WHERE e.status = 'received') AS queued,
           count(*) FILTER (WHERE e.status = 'received'
                            AND e.received_at < now() - interval '10 minutes')
               AS stuck,
           count(*) FILTER (WHERE e.status = 'unmatched') AS unmatched_waiting,
           count(*) FILTER (WHERE e.status = 'failed') AS failed_waiting
    FROM webhook_events e
    WHERE e.status IN ('received', 'unmatched', 'failed')
    GROUP BY e.source_id
)
SELECT s.name AS source, s.kind, s.enabled,
       coalesce(st.received, 0)::bigint AS received, coalesce(st.processed, 0)::bigint AS processed,
       coalesce(st.unmatched, 0)::bigint AS unmatched, coalesce(st.ignored, 0)::bigint AS ignored,
       coalesce(st.failed, 0)::bigint AS failed, coalesce(lv.queued, 0)::bigint AS queued,
       coalesce(lv.stuck, 0)::bigint AS stuck,
       coalesce(st.duplicates, 0)::bigint AS duplicates,
       coalesce(st.rejected, 0)::bigint AS rejected,
       coalesce(st.rate_limited, 0)::bigint AS rate_limited,
       coalesce(st.needs_pull, 0)::bigint AS needs_pull,
       coalesce(lv.unmatched_waiting, 0)::bigint AS unmatched_waiting,
       coalesce(lv.failed_waiting, 0)::bigint AS failed_waiting
FROM webhook_sources s
LEFT JOIN stats st ON st.source_id = s.source_id
LEFT JOIN live lv ON lv.source_id = s.source_id
WHERE NOT s.is_sandbox
ORDER BY s.name
"""

LIST_HEAD = """
SELECT e.webhook_event_id AS id, s.name AS source, e.event_id, e.event_type, e.status,
       e.received_at, e.processed_at, e.processing_ms, e.sample_count,
       jsonb_array_length(e.rejections) AS rejections, left(e.error, 300) AS error,
       length(e.body) AS body_bytes
FROM webhook_events e JOIN webhook_sources s ON s.source_id = e.source_id AND NOT s.is_sandbox
WHERE true"""
STATUS_FILTER = {s: f" AND e.status = '{s}'" for s in EVENT_STATUSES}
FILTERS = {
    "source": " AND s.name = %(source)s",
    "since": " AND e.received_at >= %(since)s",
    "event": " AND e.webhook_event_id = %(event)s",
    "after": " AND e.webhook_event_id < %(after)s",
}
LIST_TAIL = " ORDER BY e.webhook_event_id DESC LIMIT %(limit)s"

EVENT = """
SELECT e.webhook_event_id AS id, s.name AS source, s.kind, e.event_id, e.event_type,
       e.status, e.received_at, e.processed_at, e.processing_ms, e.sample_count,
       e.rejections, e.error, e.content_type, e.body, encode(e.body_sha256, 'hex') AS body_sha256
FROM webhook_events e JOIN webhook_sources s ON s.source_id = e.source_id AND NOT s.is_sandbox
WHERE e.webhook_event_id = %(id)s
"""
ACCOUNTS_OF = """
SELECT a.external_user_id, a.user_id, coalesce(u.display_name, u.email) AS user_name
FROM source_accounts a JOIN users u ON u.user_id = a.user_id
WHERE a.source_id = (SELECT source_id FROM webhook_sources WHERE name = %(source)s)
  AND a.external_user_id = ANY(%(accounts)s)
"""
UNMATCHED_ACCOUNTS = """
SELECT s.name AS source, r ->> 'external_user_id' AS external_user_id,
       count(DISTINCT e.webhook_event_id) AS waiting_events,
       min(e.received_at) AS first_received_at, max(e.received_at) AS last_received_at,
       max(a.user_id) AS linked_user_id
FROM webhook_events e
JOIN webhook_sources s ON s.source_id = e.source_id AND NOT s.is_sandbox
CROSS JOIN LATERAL jsonb_array_elements(e.rejections) AS r
LEFT JOIN source_accounts a
       ON a.source_id = e.source_id AND a.external_user_id = r ->> 'external_user_id'
WHERE e.status = 'unmatched' AND r ->> 'reason' LIKE 'no user is linked to account%%'
GROUP BY 1, 2
ORDER BY waiting_events DESC, 1, 2
LIMIT 500
"""
# The unmatched events that wait for this one account (and no other unlinked account).
EVENTS_OF_ACCOUNT = """
SELECT DISTINCT e.webhook_event_id
FROM webhook_events e
JOIN webhook_sources s ON s.source_id = e.source_id AND s.name = %(source)s
CROSS JOIN LATERAL jsonb_array_elements(e.rejections) AS r
WHERE e.status = 'unmatched' AND r ->> 'external_user_id' = %(account)s
"""
LINK = """
INSERT INTO source_accounts (source_id, external_user_id, user_id)
SELECT s.source_id, %(account)s, %(user_id)s FROM webhook_sources s WHERE s.name = %(source)s
ON CONFLICT (source_id, external_user_id) DO NOTHING
RETURNING user_id
"""
LINKED_TO = """
SELECT a.user_id FROM source_accounts a JOIN webhook_sources s USING (source_id)
WHERE s.name = %(source)s AND a.external_user_id = %(account)s
"""
REQUEUE = "SELECT * FROM requeue_webhook_events(%(ids)s::bigint[], %(force)s)"


def _list_query(params: dict[str, Any], status: EventStatus | None) -> sql.Composed:
    return compose_list(LIST_HEAD, STATUS_FILTER[status] if status is not None else None,
                        FILTERS, params, LIST_TAIL)


async def summary(conn: Conn, since: datetime | None) -> dict[str, Any]:
    rows = await (await conn.execute(SUMMARY, {"since": since})).fetchall()
    keys = ("received", "processed", "unmatched", "ignored", "failed", "queued", "stuck",
            "duplicates", "rejected", "rate_limited", "needs_pull", "unmatched_waiting",
            "failed_waiting")
    totals = {k: sum(int(r[k]) for r in rows) for k in keys}
    return {"since": since, "sources": rows, "totals": totals}


async def list_events(conn: Conn, *, status: EventStatus | None, source: str | None,
                      since: datetime | None, event: int | None, after: int | None,
                      limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {"source": source, "since": since, "event": event, "after": after,
                              "limit": limit + 1}
    rows = await (await conn.execute(_list_query(params, status), params)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"rows": rows, "next_after": rows[-1]["id"] if more else None}


def pretty_body(body: bytes) -> tuple[str, bool]:
    """(text, is_json): JSON indented, anything else as text with bad bytes replaced."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False), True
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", errors="replace"), False


def parsed_samples(kind: str, body: bytes, limit: int = 200) -> dict[str, Any]:
    """What the source's adapter reads from the body (pure; nothing is stored)."""
    from vitaltrust.ingest.jobs import parse
    from vitaltrust.metrics.types import AdapterError

    try:
        result = parse(kind, body)
    except AdapterError as exc:
        return {"error": str(exc), "samples": [], "total": 0}
    samples = [{k: v for k, v in asdict(s).items() if v is not None}
               for s in result.samples[:limit]]
    return {"error": None, "samples": samples, "total": len(result.samples),
            "event_type": result.event_type}


async def event_detail(conn: Conn, event_id: int) -> dict[str, Any] | None:
    row = await (await conn.execute(EVENT, {"id": event_id})).fetchone()
    if row is None:
        return None
    body = bytes(row.pop("body"))
    text, is_json = pretty_body(body)
    parsed = parsed_samples(row["kind"], body)
    accounts = sorted({str(s["external_user_id"]) for s in parsed["samples"]})
    linked = await (await conn.execute(ACCOUNTS_OF, {"source": row["source"],
                                                      "accounts": accounts})).fetchall()
    by_account = {r["external_user_id"]: r for r in linked}
    return {**row, "body": text, "body_is_json": is_json, "body_bytes": len(body),
            "parsed": parsed,
            "accounts": [{"external_user_id": a, "user_id": by_account.get(a, {}).get("user_id"),
                          "user_name": by_account.get(a, {}).get("user_name")}
                         for a in accounts]}


async def requeue(conn: Conn, ids: list[int], *, force: bool) -> int:
    """Reprocess these events (their old outcomes leave the statistics); jobs enqueued in
    the caller's transaction."""
    if not ids:
        return 0
    rows = await (await conn.execute(REQUEUE, {"ids": ids, "force": force})).fetchall()
    await enqueue_many(conn, [NewJob("webhook_processing",
                                     {"webhook_event_id": int(r["webhook_event_id"])},
                                     is_sandbox=bool(r["is_sandbox"])) for r in rows])
    return len(rows)


async def unmatched_accounts(conn: Conn) -> list[dict[str, Any]]:
    return list(await (await conn.execute(UNMATCHED_ACCOUNTS)).fetchall())


async def link_account(conn: Conn, *, source: str, account: str, user_id: int
                       ) -> tuple[bool, int]:
    """Link the provider account to the user, then reprocess just its waiting events.
    Returns (newly linked, events requeued). Raises LookupError when it is linked to
    someone else."""
    row = await (await conn.execute(LINK, {"source": source, "account": account,
                                           "user_id": user_id})).fetchone()
    if row is None:
        current = await (await conn.execute(LINKED_TO, {"source": source,
                                                        "account": account})).fetchone()
        if current is None:
            raise LookupError(f"there is no source named {source!r}")
        if int(current["user_id"]) != user_id:
            raise LookupError(f"account {account!r} of {source} is already linked to user "
                              f"{current['user_id']}")
    ids = [int(r["webhook_event_id"]) for r in await (await conn.execute(
        EVENTS_OF_ACCOUNT, {"source": source, "account": account})).fetchall()]
    return row is not None, await requeue(conn, ids, force=False)
