"""Failed attempts, kept for the operator console's job page (table job_attempts).

The worker calls `record_failed_attempts` in the same transaction that records the failures
(so an attempt row exists exactly when the job's attempt counter moved), with the rows
FAIL_MANY returned, the errors, the durations and the tracebacks it collected.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from vitaltrust.db import Conn

MAX_TRACEBACK_CHARS = 8000

RECORD = """
INSERT INTO job_attempts (job_id, attempt, worker_id, started_at, finished_at, duration_ms,
                          outcome, error, traceback)
SELECT b.id, b.attempts, %(worker)s,
       clock_timestamp() - make_interval(secs => coalesce(a.ms, 0) / 1000.0),
       clock_timestamp(), a.ms,
       CASE b.status WHEN 'failed' THEN 'failed' ELSE 'retried' END, a.error, a.tb
FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(tbs)s::text[], %(ms)s::float8[])
     AS a(id, error, tb, ms)
JOIN background_jobs b ON b.id = a.id
"""


def format_traceback(exc: BaseException) -> str:
    """The traceback as text (the innermost frames when it is long)."""
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= MAX_TRACEBACK_CHARS else "…" + text[-MAX_TRACEBACK_CHARS:]


async def record_failed_attempts(conn: Conn, worker_id: str, failed_rows: Sequence[Mapping[str, Any]],
                                 errors: Mapping[int, str], durations_ms: Mapping[int, float],
                                 tracebacks: dict[int, str]) -> None:
    """`tracebacks` entries of these jobs are consumed (the runner's dict does not grow)."""
    ids = [int(r["id"]) for r in failed_rows]
    tbs = [tracebacks.get(i) for i in ids]
    for i in errors:
        tracebacks.pop(i, None)
    if not ids:
        return
    await conn.execute(RECORD, {"worker": worker_id, "ids": ids,
                                "errors": [errors.get(i) for i in ids], "tbs": tbs,
                                "ms": [durations_ms.get(i) for i in ids]})
