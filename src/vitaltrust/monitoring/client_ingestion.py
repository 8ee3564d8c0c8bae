"""One client's ingestion: their sources and devices with the last delivery, and the
problems with their data stated in words (deliveries that failed or are stuck, jobs about
them that failed for good), so that "stuck" never looks like "stopped syncing".

GET /api/users/{user_id}/ingestion: the client, their trainers and admins (like the client's
metrics). Job ids and error texts are shown to admins only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from vitaltrust.auth.principal import MAX_BIGINT, CurrentUser, ensure_can_see_user
from vitaltrust.db import Conn
from vitaltrust.http import DbConn

router = APIRouter()

# Sources: every linked provider account and every source the user has samples from.
SOURCES = """
WITH samples AS (
    SELECT ms.source_id, max(ms.received_at) AS last_received_at,
           max(ms.measured_at) AS last_measured_at,
           count(*) FILTER (WHERE ms.received_at >= now() - interval '30 days') AS samples_30d,
           array_agg(DISTINCT ms.device_type) AS device_types,
           array_remove(array_agg(DISTINCT ms.device_model), NULL) AS device_models
    FROM metric_samples ms WHERE ms.user_id = %(user_id)s
    GROUP BY ms.source_id
), accounts AS (
    SELECT a.source_id, array_agg(a.external_user_id ORDER BY a.external_user_id) AS accounts
    FROM source_accounts a WHERE a.user_id = %(user_id)s GROUP BY a.source_id
)
SELECT s.name AS source, s.kind, coalesce(ac.accounts, '{}') AS accounts,
       sa.last_received_at, sa.last_measured_at, coalesce(sa.samples_30d, 0) AS samples_30d,
       coalesce(sa.device_types, '{}') AS device_types,
       coalesce(sa.device_models, '{}') AS device_models
FROM webhook_sources s
LEFT JOIN samples sa ON sa.source_id = s.source_id
LEFT JOIN accounts ac ON ac.source_id = s.source_id
WHERE sa.source_id IS NOT NULL OR ac.source_id IS NOT NULL
ORDER BY sa.last_received_at DESC NULLS LAST, s.name
"""
# Deliveries of the user's linked accounts that did not get through: failed (unreadable) or
# still queued after 10 minutes (their processing job failed or the queue is stuck). An event
# names its accounts only in its body, so the few unfinished events of those sources are
# searched for the account id.
PROBLEM_EVENTS = """
SELECT s.name AS source, e.status, count(*) AS events, min(e.received_at) AS oldest,
       max(e.received_at) AS newest, (array_agg(e.error ORDER BY e.received_at DESC)
                                      FILTER (WHERE e.error IS NOT NULL))[1] AS latest_error
FROM source_accounts a
JOIN webhook_sources s ON s.source_id = a.source_id
JOIN webhook_events e ON e.source_id = a.source_id
WHERE a.user_id = %(user_id)s
  AND (e.status = 'failed'
       OR (e.status = 'received' AND e.received_at < now() - interval '10 minutes'))
  AND position(convert_to(a.external_user_id, 'UTF8') IN e.body) > 0
GROUP BY s.name, e.status
ORDER BY s.name, e.status
"""
FAILED_JOBS = """
SELECT b.type, count(*) AS jobs, max(b.failed_at) AS latest,
       (array_agg(b.id ORDER BY b.id DESC))[1] AS latest_job_id,
       (array_agg(left(b.last_error, 300) ORDER BY b.id DESC))[1] AS latest_error
FROM background_jobs b
WHERE b.status = 'failed' AND b.payload ->> 'user_id' = %(user_id)s::text
GROUP BY b.type
"""


def _problem_words(events: list[dict[str, Any]], jobs: list[dict[str, Any]],
                   admin: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for e in events:
        n = int(e["events"])
        noun = "delivery" if n == 1 else "deliveries"
        if e["status"] == "failed":
            text = (f"{n} {noun} from {e['source']} could not be read, so their data is "
                    "missing.")
        else:
            text = (f"{n} {noun} from {e['source']} arrived but have waited more than "
                    "10 minutes to be processed: the data was sent, it is not yet stored.")
        if admin and e["latest_error"]:
            text += f" Latest error: {e['latest_error']}"
        out.append({"kind": f"deliveries_{e['status']}", "source": e["source"],
                    "count": n, "since": e["oldest"], "text": text})
    for j in jobs:
        n = int(j["jobs"])
        text = (f"{n} {j['type'].replace('_', ' ')} job{'s' if n != 1 else ''} for this client "
                "failed for good")
        text += (f" (latest #{j['latest_job_id']}: {j['latest_error']})." if admin
                 else "; an administrator can retry them.")
        out.append({"kind": "jobs_failed", "type": j["type"], "count": n,
                    "latest_job_id": j["latest_job_id"] if admin else None, "text": text})
    return out


async def client_ingestion(conn: Conn, user_id: int, *, admin: bool) -> dict[str, Any]:
    params = {"user_id": user_id}
    sources = await (await conn.execute(SOURCES, params)).fetchall()
    events = await (await conn.execute(PROBLEM_EVENTS, params)).fetchall()
    jobs = await (await conn.execute(FAILED_JOBS, params)).fetchall()
    problems = _problem_words(list(events), list(jobs), admin)
    return {"user_id": user_id, "sources": sources, "problems": problems,
            "summary": ("No ingestion problem: every delivery for this client was processed."
                        if not problems else
                        f"{len(problems)} ingestion problem(s) need attention.")}


@router.get("/api/users/{user_id}/ingestion", tags=["metrics"])
async def user_ingestion(conn: DbConn, principal: CurrentUser,
                         user_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)]) -> dict[str, Any]:
    """The client's sources and devices with their last delivery, and ingestion problems
    (failed or stuck deliveries, failed jobs) in words."""
    await ensure_can_see_user(conn, principal, user_id)
    return await client_ingestion(conn, user_id, admin=principal.is_admin)
