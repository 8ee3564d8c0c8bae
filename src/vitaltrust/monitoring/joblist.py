"""The operator console's jobs: a filtered, keyset-paginated list, one job with its attempts,
and retry / discard of a selection.

The list query is put together from the constant fragments below, one per filter given;
the status is one of four constants written into the SQL (so that the failed-jobs list
walks its partial index newest first), everything else is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import sql

from vitaltrust.db import Conn, contains_pattern

JobStatus = Literal["pending", "processing", "completed", "failed"]
STATUSES: tuple[JobStatus, ...] = ("pending", "processing", "completed", "failed")
MAX_PAGE = 200

LIST_HEAD = """
SELECT b.id, b.type, b.status, b.priority, b.attempts, b.max_attempts,
       b.created_at, b.run_at, b.started_at, b.completed_at, b.failed_at,
       b.locked_by AS worker, b.is_sandbox,
       left(split_part(b.last_error, E'\\n', 1), 300) AS error,
       b.payload ->> 'webhook_event_id' AS webhook_event_id
FROM background_jobs b
WHERE true"""
STATUS_FILTER = {s: f" AND b.status = '{s}'" for s in STATUSES}
FILTERS = {
    "type": " AND b.type = %(type)s",
    "since": " AND b.created_at >= %(since)s",
    "until": " AND b.created_at < %(until)s",
    "error": " AND b.last_error ILIKE %(error)s",
    "after": " AND b.id < %(after)s",
}
LIST_TAIL = " ORDER BY b.id DESC LIMIT %(limit)s"

# The small states, each counted from its own partial index (index-only once vacuumed);
# completed jobs are too many to count on each view.
COUNTS = """
SELECT (SELECT count(*) FROM background_jobs WHERE status = 'pending') AS pending,
       (SELECT count(*) FROM background_jobs WHERE status = 'processing') AS processing,
       (SELECT count(*) FROM background_jobs WHERE status = 'failed') AS failed
"""
# Job types for the filter: what ran in 30 days (rollups) and the types of failed jobs,
# found by skipping through the failed-jobs index one type at a time.
TYPES = """
WITH RECURSIVE failed_types AS (
    SELECT min(type) AS type FROM background_jobs WHERE status = 'failed'
    UNION ALL
    SELECT (SELECT min(b.type) FROM background_jobs b
            WHERE b.status = 'failed' AND b.type > f.type)
    FROM failed_types f WHERE f.type IS NOT NULL
)
SELECT job_type AS type FROM job_stats_minute WHERE bucket >= now() - interval '30 days'
UNION
SELECT type FROM failed_types WHERE type IS NOT NULL
ORDER BY 1
"""
JOB = """
SELECT b.id, b.type, b.status, b.priority, b.attempts, b.max_attempts,
       b.payload, b.dedupe_key, b.last_error AS error, b.locked_by AS worker,
       b.locked_until, b.created_at, b.run_at, b.started_at, b.completed_at, b.failed_at,
       b.is_sandbox,
       round(extract(epoch FROM coalesce(b.completed_at, b.failed_at) - b.started_at)::numeric
             * 1000, 1)::float8 AS last_duration_ms
FROM background_jobs b WHERE b.id = %(id)s
"""
ATTEMPTS = """
SELECT a.attempt, a.worker_id AS worker, a.started_at, a.finished_at, a.duration_ms,
       a.outcome, a.error, a.traceback
FROM job_attempts a WHERE a.job_id = %(id)s ORDER BY a.attempt_id
"""
RELATED_EVENT = """
SELECT e.webhook_event_id, s.name AS source, e.event_id, e.event_type, e.status,
       e.received_at, e.processed_at, e.error
FROM webhook_events e JOIN webhook_sources s ON s.source_id = e.source_id
WHERE e.webhook_event_id = %(id)s
"""
RETRY_IDS = "SELECT retry_failed_job_ids(%(ids)s::bigint[]) AS retried"
# Discard: failed or pending jobs are deleted (a running job is left to finish).
DISCARD_IDS = """
DELETE FROM background_jobs
WHERE id = ANY(%(ids)s::bigint[]) AND status IN ('failed', 'pending')
RETURNING id, type, status
"""


@dataclass(frozen=True)
class JobFilter:
    status: JobStatus | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    error: str | None = None


def compose_list(head: str, status_filter: str | None, filters: dict[str, str],
                 params: dict[str, Any], tail: str) -> sql.Composed:
    """A list query from constant fragments: the head, the status (a constant), one
    fragment per parameter given, the tail (jobs and deliveries lists)."""
    parts = [head, status_filter or ""]
    parts += [fragment for key, fragment in filters.items() if params.get(key) is not None]
    parts.append(tail)
    return sql.Composed([sql.SQL(p) for p in parts])


def list_query(f: JobFilter, after: int | None) -> tuple[sql.Composed, dict[str, Any]]:
    params: dict[str, Any] = {"type": f.type, "since": f.since, "until": f.until,
                              "error": None if f.error is None else contains_pattern(f.error),
                              "after": after}
    status = STATUS_FILTER[f.status] if f.status is not None else None
    return compose_list(LIST_HEAD, status, FILTERS, params, LIST_TAIL), params


async def list_jobs(conn: Conn, f: JobFilter, *, after: int | None, limit: int
                    ) -> dict[str, Any]:
    query, params = list_query(f, after)
    params["limit"] = limit + 1
    rows = await (await conn.execute(query, params)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    counts = await (await conn.execute(COUNTS)).fetchone()
    return {"rows": rows, "next_after": rows[-1]["id"] if more else None,
            "counts": counts}


async def job_types(conn: Conn) -> list[str]:
    return [r["type"] for r in await (await conn.execute(TYPES)).fetchall()]


async def job_detail(conn: Conn, job_id: int) -> dict[str, Any] | None:
    job = await (await conn.execute(JOB, {"id": job_id})).fetchone()
    if job is None:
        return None
    attempts = await (await conn.execute(ATTEMPTS, {"id": job_id})).fetchall()
    event = None
    raw = job["payload"].get("webhook_event_id") if isinstance(job["payload"], dict) else None
    if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
        event = await (await conn.execute(RELATED_EVENT, {"id": int(raw)})).fetchone()
    return {**job, "attempt_history": attempts, "related_event": event}


async def retry_ids(conn: Conn, ids: list[int]) -> int:
    row = await (await conn.execute(RETRY_IDS, {"ids": ids})).fetchone()
    return int(row["retried"]) if row else 0


async def discard_ids(conn: Conn, ids: list[int]) -> list[dict[str, Any]]:
    return list(await (await conn.execute(DISCARD_IDS, {"ids": ids})).fetchall())
