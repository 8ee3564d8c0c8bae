"""The `confidence_calculation` job and the time-based refresh of the cache.

`recalculate_pairs` is the unit of work for one job and, in batches, for
`confidence recalculate-all --now` and `bench recalc`: load every window of the batch in
one query, score each with the pure model, write every table in one statement each.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from vitaltrust.confidence.cache import Pair, Scored, load_inputs, write_results
from vitaltrust.confidence.model import score_for_version
from vitaltrust.confidence.refresh import daily_series, next_refresh_at
from vitaltrust.config import get_settings
from vitaltrust.db import Conn
from vitaltrust.metrics.catalog import load_specs
from vitaltrust.queue.enqueue import NewJob
from vitaltrust.queue.registry import Job, batch_handler, job_handler
from vitaltrust.queue.scheduler import periodic_task

log = logging.getLogger(__name__)

CONFIDENCE_JOB = "confidence_calculation"
REFRESH_TASK = "confidence_refresh"
REFRESH_INTERVAL_SECONDS = 60
REFRESH_BATCH = 5000
# A due row is pushed this far ahead when its job is enqueued; the job sets the real
# next time. A job that keeps failing is so retried hourly, not at every scheduler tick.
REFRESH_RETRY = timedelta(hours=1)

ENQUEUE_DUE = """
WITH due AS (
    SELECT c.user_id, c.metric FROM metric_confidence_cache c
    WHERE c.next_refresh_at <= %(now)s
    ORDER BY c.next_refresh_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), pushed AS (
    UPDATE metric_confidence_cache c SET next_refresh_at = %(retry_at)s
    FROM due WHERE c.user_id = due.user_id AND c.metric = due.metric
    RETURNING c.user_id, c.metric
)
INSERT INTO background_jobs (type, payload, dedupe_key, is_sandbox)
SELECT 'confidence_calculation', jsonb_build_object('user_id', p.user_id, 'metric', p.metric),
       'confidence:' || p.user_id || ':' || p.metric, u.is_sandbox
FROM pushed p JOIN users u ON u.user_id = p.user_id
ORDER BY p.user_id, p.metric
ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL DO NOTHING
RETURNING id
"""
NOTIFY = "SELECT pg_notify('vitaltrust_jobs', 'confidence')"


async def recalculate_pairs(conn: Conn, pairs: Sequence[Pair], *,
                            now: datetime | None = None, model_version: str | None = None) -> int:
    """Score and store every (user, metric) pair; idempotent. Returns how many were written.
    `model_version`: default the `confidence_model_version` setting."""
    now = now or datetime.now(UTC)
    score = score_for_version(model_version or get_settings().confidence_model_version)
    pairs = sorted(set(pairs))
    if not pairs:
        return 0
    specs = await load_specs(conn)
    unknown = [m for _, m in pairs if m not in specs]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}")
    windows, priorities = await load_inputs(conn, pairs, now)
    results = []
    for user_id, metric in pairs:
        spec, window = specs[metric], windows[(user_id, metric)]
        conf = score(window.samples, spec, now, priorities.get((user_id, metric)))
        upcoming = min((s.measured_at for s in window.samples if s.measured_at > now),
                       default=None)
        results.append(Scored(user_id, metric, conf, next_refresh_at(conf, spec, now, upcoming),
                              window.data_version, daily_series(conf, now), window.stored_flags))
    await write_results(conn, results, now, windows)
    return len(results)


def job_pair(job: Job | NewJob) -> Pair:
    try:
        return int(job.payload["user_id"]), str(job.payload["metric"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed confidence_calculation payload: {job.payload!r}") from exc


@job_handler(CONFIDENCE_JOB)
async def handle_confidence_calculation(conn: Conn, job: Job) -> None:
    await recalculate_pairs(conn, [job_pair(job)])


@batch_handler(CONFIDENCE_JOB)
async def handle_confidence_batch(conn: Conn, jobs: Sequence[Job]) -> None:
    """Every claimed pair in one `recalculate_pairs` (a constant number of statements)."""
    await recalculate_pairs(conn, [job_pair(j) for j in jobs])


async def enqueue_due_refreshes(conn: Conn, now: datetime, *, limit: int = REFRESH_BATCH) -> int:
    """Enqueue a recalculation for every cache row whose level could have changed by `now`."""
    rows = await (await conn.execute(ENQUEUE_DUE, {
        "now": now, "limit": limit, "retry_at": now + REFRESH_RETRY})).fetchall()
    if rows:
        await conn.execute(NOTIFY)
    return len(rows)


@periodic_task(REFRESH_TASK, interval_seconds=REFRESH_INTERVAL_SECONDS)
async def refresh_stale_confidence(conn: Conn, now: datetime) -> None:
    count = await enqueue_due_refreshes(conn, now)
    if count:
        log.info("enqueued %d time-based confidence refreshes", count)

