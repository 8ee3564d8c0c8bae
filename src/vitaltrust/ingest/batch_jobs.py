"""`webhook_processing` as a batch: every claimed delivery in one transaction.

One query loads (and locks, in id order) all the batch's events, one loads every account
link they name, each event is then processed by `ingest.jobs.process_event` (the same
per-event logic as the single job, so outcomes stay defined in one place), and one
statement finishes all events. Sample storage is still one `store_samples` call per event
and account: a set-based store over several events would save its statements per event.
If anything raises, the runner reruns each job alone (`handle_webhook_processing`).

With `VITALTRUST_SCORE_INLINE`, the batch scores the pairs its samples changed itself (one
`recalculate_pairs`, under the pairs' advisory locks) instead of enqueueing their
confidence_calculation jobs: one hop less per delivery, the same cache in the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vitaltrust.confidence.jobs import CONFIDENCE_JOB, job_pair, recalculate_pairs
from vitaltrust.config import get_settings
from vitaltrust.db import Conn
from vitaltrust.ingest.jobs import account_ids, event_id, parse_event, process_event
from vitaltrust.metrics.types import AdapterError, AdapterResult
from vitaltrust.queue.enqueue import deferring_keyed_jobs, enqueue_many
from vitaltrust.queue.registry import Job, batch_handler

LOAD_EVENTS = """
SELECT e.webhook_event_id, e.source_id, e.body, e.status, s.kind, s.is_sandbox
FROM webhook_events e JOIN webhook_sources s USING (source_id)
WHERE e.webhook_event_id = ANY(%s::bigint[])
ORDER BY e.webhook_event_id
FOR UPDATE OF e
"""
LOAD_LINKS = """
SELECT a.source_id, a.external_user_id, a.user_id
FROM source_accounts a
JOIN unnest(%s::int[], %s::text[]) AS k(source_id, external_user_id)
  ON a.source_id = k.source_id AND a.external_user_id = k.external_user_id
"""
FINISH_EVENTS = """
UPDATE webhook_events e
SET status = f.status, processed_at = now(), processing_ms = f.ms, sample_count = f.count,
    rejections = f.rejections, error = f.error, ignored = f.ignored,
    event_type = coalesce(e.event_type, f.event_type)
FROM unnest(%(id)s::bigint[], %(status)s::text[], %(ms)s::float8[], %(count)s::int[],
            %(rejections)s::jsonb[], %(error)s::text[], %(ignored)s::jsonb[],
            %(event_type)s::text[])
     AS f(id, status, ms, count, rejections, error, ignored, event_type)
WHERE e.webhook_event_id = f.id
"""


async def _parse(event: dict[str, Any]) -> AdapterResult | AdapterError:
    try:
        return await parse_event(event)
    except AdapterError as exc:  # the event's outcome (failed), not the batch's
        return exc


@batch_handler("webhook_processing")
async def handle_webhook_batch(conn: Conn, jobs: Sequence[Job]) -> None:
    if not get_settings().score_inline:
        await process_events(conn, jobs)
        return
    with deferring_keyed_jobs() as keyed:
        await process_events(conn, jobs)
    scored = [j for j in keyed if j.job_type == CONFIDENCE_JOB]
    await recalculate_pairs(conn, [job_pair(j) for j in scored])
    await enqueue_many(conn, [j for j in keyed if j.job_type != CONFIDENCE_JOB])


async def process_events(conn: Conn, jobs: Sequence[Job]) -> None:
    ids = sorted({event_id(j) for j in jobs})  # a delivery twice in a batch: processed once
    events = await (await conn.execute(LOAD_EVENTS, (ids,))).fetchall()
    parsed = {e["webhook_event_id"]: await _parse(e) for e in events}
    wanted = sorted({(e["source_id"], account) for e in events
                     if isinstance(r := parsed[e["webhook_event_id"]], AdapterResult)
                     for account in account_ids(r)})
    links: dict[tuple[int, str], int] = {}
    if wanted:
        rows = await (await conn.execute(LOAD_LINKS, ([s for s, _ in wanted],
                                                      [a for _, a in wanted]))).fetchall()
        links = {(r["source_id"], r["external_user_id"]): int(r["user_id"]) for r in rows}
    finish: list[dict[str, Any]] = []
    for e in events:
        result = parsed[e["webhook_event_id"]]
        users = {} if isinstance(result, AdapterError) else {
            a: links[(e["source_id"], a)] for a in account_ids(result) if (e["source_id"], a) in links}
        await process_event(conn, e["webhook_event_id"], loaded=(e, result, users), finish=finish)
    if finish:
        await conn.execute(FINISH_EVENTS, {
            key: [f[key] for f in finish]
            for key in ("id", "status", "ms", "count", "rejections", "error", "ignored",
                        "event_type")})

