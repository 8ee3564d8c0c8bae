"""`webhook_processing` as a batch: every claimed delivery in one transaction, in a constant
number of statements (`ingest.jobs.process_events`). If anything raises, the runner reruns
each job alone (`handle_webhook_processing`), so a bad delivery is retried on its own.

With `VITALTRUST_SCORE_INLINE`, the batch scores the pairs its samples changed itself (one
`recalculate_pairs`) instead of enqueueing their confidence_calculation jobs: one hop less
per delivery, the same cache in the end.
"""

from __future__ import annotations

from collections.abc import Sequence

from vitaltrust.confidence.jobs import CONFIDENCE_JOB, job_pair, recalculate_pairs
from vitaltrust.config import get_settings
from vitaltrust.db import Conn
from vitaltrust.ingest.jobs import event_id, process_events
from vitaltrust.queue.enqueue import deferring_keyed_jobs, enqueue_many
from vitaltrust.queue.registry import Job, batch_handler


@batch_handler("webhook_processing")
async def handle_webhook_batch(conn: Conn, jobs: Sequence[Job]) -> None:
    ids = [event_id(j) for j in jobs]
    if not get_settings().score_inline:
        await process_events(conn, ids)
        return
    with deferring_keyed_jobs() as keyed:
        await process_events(conn, ids)
    scored = [j for j in keyed if j.job_type == CONFIDENCE_JOB]
    await recalculate_pairs(conn, [job_pair(j) for j in scored])
    await enqueue_many(conn, [j for j in keyed if j.job_type != CONFIDENCE_JOB])
