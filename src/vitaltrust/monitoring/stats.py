"""Cheap statistics for the hot paths: count in memory, add to per-minute rollups in batches.

Ingestion and the worker call `record_call` / `record_webhook` / `record_jobs` (no I/O); a
background task flushes every `stats_flush_seconds` with one statement per rollup table, rows
sorted. A worker records a batch's job and processing counts only after the batch committed,
so no rollup row is locked on the jobs' commit path. A SIGKILL loses at most one flush
interval of statistics, never a delivery or a job.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool

from vitaltrust.db import Conn

log = logging.getLogger(__name__)

# Keep in step with function_duration_bounds_ms() in 0004_operations.sql.
DURATION_BOUNDS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000)
# Receipt of a delivery to the cache write that reflects it (confidence/cache.py).
WEBHOOK_TO_CONFIDENCE = "webhook-to-confidence"
WEBHOOK_FIELDS = ("received", "duplicates", "rejected", "rate_limited", "processed",
                  "unmatched", "ignored", "failed", "needs_pull")

FLUSH_FUNCTION_STATS = """
INSERT INTO function_stats_minute AS t
    (function_name, bucket, invocations, errors, items, total_ms, max_ms, hist)
SELECT function_name, bucket, invocations, errors, items, total_ms, max_ms, hist
FROM jsonb_to_recordset(%s::jsonb) AS r(function_name text, bucket timestamptz,
     invocations bigint, errors bigint, items bigint, total_ms float8, max_ms float8,
     hist bigint[])
ON CONFLICT (function_name, bucket) DO UPDATE SET
    invocations = t.invocations + EXCLUDED.invocations,
    errors = t.errors + EXCLUDED.errors,
    items = t.items + EXCLUDED.items,
    total_ms = t.total_ms + EXCLUDED.total_ms,
    max_ms = greatest(t.max_ms, EXCLUDED.max_ms),
    hist = ARRAY(SELECT coalesce(a, 0) + coalesce(b, 0)
                 FROM unnest(t.hist, EXCLUDED.hist) WITH ORDINALITY AS u(a, b, i) ORDER BY i)
"""
FLUSH_WEBHOOK_STATS = """
INSERT INTO webhook_stats_minute AS t
    (source_id, bucket, received, duplicates, rejected, rate_limited, processed, unmatched,
     ignored, failed, needs_pull, processing_ms)
SELECT source_id, bucket, received, duplicates, rejected, rate_limited, processed, unmatched,
       ignored, failed, needs_pull, processing_ms
FROM jsonb_to_recordset(%s::jsonb) AS r(source_id int, bucket timestamptz, received bigint,
     duplicates bigint, rejected bigint, rate_limited bigint, processed bigint,
     unmatched bigint, ignored bigint, failed bigint, needs_pull bigint, processing_ms float8)
ON CONFLICT (source_id, bucket) DO UPDATE SET
    received = t.received + EXCLUDED.received,
    duplicates = t.duplicates + EXCLUDED.duplicates,
    rejected = t.rejected + EXCLUDED.rejected,
    rate_limited = t.rate_limited + EXCLUDED.rate_limited,
    processed = t.processed + EXCLUDED.processed,
    unmatched = t.unmatched + EXCLUDED.unmatched,
    ignored = t.ignored + EXCLUDED.ignored,
    failed = t.failed + EXCLUDED.failed,
    needs_pull = t.needs_pull + EXCLUDED.needs_pull,
    processing_ms = t.processing_ms + EXCLUDED.processing_ms
"""


FLUSH_JOB_STATS = """
INSERT INTO job_stats_minute AS t
    (job_type, bucket, completed, failed, retried, total_ms, wait_ms)
SELECT job_type, bucket, completed, failed, retried, total_ms, wait_ms
FROM jsonb_to_recordset(%s::jsonb) AS r(job_type text, bucket timestamptz, completed bigint,
     failed bigint, retried bigint, total_ms float8, wait_ms float8)
ON CONFLICT (job_type, bucket) DO UPDATE SET
    completed = t.completed + EXCLUDED.completed,
    failed = t.failed + EXCLUDED.failed,
    retried = t.retried + EXCLUDED.retried,
    total_ms = t.total_ms + EXCLUDED.total_ms,
    wait_ms = t.wait_ms + EXCLUDED.wait_ms
"""
JOB_FIELDS = ("completed", "failed", "retried", "total_ms", "wait_ms")


# Cumulative totals (Prometheus counters): the same rows summed over minutes, one per key.
FLUSH_FUNCTION_TOTALS = """
INSERT INTO function_stats_total AS t (function_name, invocations, errors, items, total_ms, hist)
SELECT function_name, sum(invocations), sum(errors), sum(items), sum(total_ms),
       ARRAY(SELECT sum(h.n)::bigint
             FROM jsonb_to_recordset(%(rows)s::jsonb) AS q(function_name text, hist bigint[]),
                  unnest(q.hist) WITH ORDINALITY AS h(n, i)
             WHERE q.function_name = r.function_name GROUP BY h.i ORDER BY h.i)
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(function_name text, invocations bigint,
     errors bigint, items bigint, total_ms float8)
GROUP BY function_name
ORDER BY function_name
ON CONFLICT (function_name) DO UPDATE SET
    invocations = t.invocations + EXCLUDED.invocations,
    errors = t.errors + EXCLUDED.errors,
    items = t.items + EXCLUDED.items,
    total_ms = t.total_ms + EXCLUDED.total_ms,
    hist = ARRAY(SELECT coalesce(a, 0) + coalesce(b, 0)
                 FROM unnest(t.hist, EXCLUDED.hist) WITH ORDINALITY AS u(a, b, i) ORDER BY i)
"""
FLUSH_WEBHOOK_TOTALS = """
INSERT INTO webhook_stats_total AS t
    (source_id, received, duplicates, rejected, rate_limited, processed, unmatched, ignored,
     failed, needs_pull, processing_ms)
SELECT source_id, sum(received), sum(duplicates), sum(rejected), sum(rate_limited),
       sum(processed), sum(unmatched), sum(ignored), sum(failed), sum(needs_pull),
       sum(processing_ms)
FROM jsonb_to_recordset(%s::jsonb) AS r(source_id int, received bigint, duplicates bigint,
     rejected bigint, rate_limited bigint, processed bigint, unmatched bigint, ignored bigint,
     failed bigint, needs_pull bigint, processing_ms float8)
GROUP BY source_id
ORDER BY source_id
ON CONFLICT (source_id) DO UPDATE SET
    received = t.received + EXCLUDED.received,
    duplicates = t.duplicates + EXCLUDED.duplicates,
    rejected = t.rejected + EXCLUDED.rejected,
    rate_limited = t.rate_limited + EXCLUDED.rate_limited,
    processed = t.processed + EXCLUDED.processed,
    unmatched = t.unmatched + EXCLUDED.unmatched,
    ignored = t.ignored + EXCLUDED.ignored,
    failed = t.failed + EXCLUDED.failed,
    needs_pull = t.needs_pull + EXCLUDED.needs_pull,
    processing_ms = t.processing_ms + EXCLUDED.processing_ms
"""


def _minute(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).replace(second=0, microsecond=0).isoformat()


@dataclass
class _Calls:
    invocations: int = 0
    errors: int = 0
    items: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    hist: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BOUNDS_MS) + 1))


class StatsRecorder:
    def __init__(self, pool: AsyncConnectionPool[Conn] | None, flush_seconds: float = 1.0) -> None:
        self._pool = pool
        self._flush_seconds = flush_seconds
        self._calls: dict[tuple[str, str], _Calls] = defaultdict(_Calls)
        self._webhooks: dict[tuple[int, str], dict[str, float]] = defaultdict(
            lambda: dict.fromkeys((*WEBHOOK_FIELDS, "processing_ms"), 0.0))
        self._jobs: dict[tuple[str, str], dict[str, float]] = defaultdict(
            lambda: dict.fromkeys(JOB_FIELDS, 0.0))
        self._task: asyncio.Task[None] | None = None

    def record_call(self, function_name: str, duration_ms: float, *, ok: bool = True,
                    items: int = 1, sandbox: bool = False) -> None:
        """Count one call; sandbox (self-test) work is never counted."""
        if sandbox:
            return
        c = self._calls[(function_name, _minute())]
        c.invocations += 1
        c.errors += 0 if ok else 1
        c.items += items
        c.total_ms += duration_ms
        c.max_ms = max(c.max_ms, duration_ms)
        c.hist[bisect.bisect_left(DURATION_BOUNDS_MS, duration_ms)] += 1

    def record_webhook(self, source_id: int, outcome: str, count: int = 1,
                       processing_ms: float = 0.0, *, sandbox: bool = False) -> None:
        if outcome not in WEBHOOK_FIELDS:
            raise ValueError(f"unknown webhook outcome {outcome!r}")
        if sandbox:
            return
        w = self._webhooks[(source_id, _minute())]
        w[outcome] += count
        w["processing_ms"] += processing_ms

    def record_jobs(self, job_type: str, *, completed: int = 0, failed: int = 0,
                    retried: int = 0, total_ms: float = 0.0, wait_ms: float = 0.0) -> None:
        """Count finished jobs of one type (the caller leaves sandbox jobs out)."""
        j = self._jobs[(job_type, _minute())]
        for name, value in (("completed", completed), ("failed", failed), ("retried", retried),
                            ("total_ms", total_ms), ("wait_ms", wait_ms)):
            j[name] += value

    def _drain_jobs(self) -> list[dict[str, object]]:
        jobs, self._jobs = self._jobs, defaultdict(lambda: dict.fromkeys(JOB_FIELDS, 0.0))
        return [{"job_type": t, "bucket": b, "total_ms": j["total_ms"], "wait_ms": j["wait_ms"],
                 **{k: int(j[k]) for k in ("completed", "failed", "retried")}}
                for (t, b), j in sorted(jobs.items())]

    def _drain(self) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        calls, self._calls = self._calls, defaultdict(_Calls)
        hooks, self._webhooks = self._webhooks, defaultdict(
            lambda: dict.fromkeys((*WEBHOOK_FIELDS, "processing_ms"), 0.0))
        call_rows: list[dict[str, object]] = [
            {"function_name": f, "bucket": b, "invocations": c.invocations, "errors": c.errors,
             "items": c.items, "total_ms": c.total_ms, "max_ms": c.max_ms, "hist": c.hist}
            for (f, b), c in sorted(calls.items())]
        hook_rows: list[dict[str, object]] = [
            {"source_id": s, "bucket": b, "processing_ms": w["processing_ms"],
             **{k: int(w[k]) for k in WEBHOOK_FIELDS}}
            for (s, b), w in sorted(hooks.items())]
        # sorted: every flush locks rollup rows in one global order, so two transactions
        # adding to the same rows wait for each other but never deadlock
        return call_rows, hook_rows

    def merge(self, other: StatsRecorder) -> None:
        """Add what `other` counted (a job's counts, kept once its savepoint commits)."""
        for key, c in other._calls.items():
            mine = self._calls[key]
            mine.invocations += c.invocations
            mine.errors += c.errors
            mine.items += c.items
            mine.total_ms += c.total_ms
            mine.max_ms = max(mine.max_ms, c.max_ms)
            mine.hist = [a + b for a, b in zip(mine.hist, c.hist, strict=True)]
        for hook_key, w in other._webhooks.items():
            target = self._webhooks[hook_key]
            for field_name, value in w.items():
                target[field_name] += value
        for job_key, j in other._jobs.items():
            mine_j = self._jobs[job_key]
            for field_name, value in j.items():
                mine_j[field_name] += value

    async def flush_to(self, conn: Conn) -> None:
        call_rows, hook_rows = self._drain()
        job_rows = self._drain_jobs()
        if job_rows:
            await conn.execute(FLUSH_JOB_STATS, (json.dumps(job_rows),))
        if call_rows:
            calls_json = json.dumps(call_rows)
            await conn.execute(FLUSH_FUNCTION_STATS, (calls_json,))
            await conn.execute(FLUSH_FUNCTION_TOTALS, {"rows": calls_json})
        if hook_rows:
            hooks_json = json.dumps(hook_rows)
            await conn.execute(FLUSH_WEBHOOK_STATS, (hooks_json,))
            await conn.execute(FLUSH_WEBHOOK_TOTALS, (hooks_json,))

    async def flush(self) -> None:
        if self._pool is None or (not self._calls and not self._webhooks and not self._jobs):
            return
        async with self._pool.connection() as conn, conn.transaction():
            await self.flush_to(conn)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception:  # statistics must never take the service down
                log.warning("statistics flush failed; will retry", exc_info=True)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stats-flush")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()


# --- statistics counted inside jobs -------------------------------------------------------
# The job runner collects each job's counts (a job rolled back to its savepoint contributes
# nothing); a running worker adds them to its recorder once the batch committed, while
# run_until_idle writes them in the batch's transaction. Outside a runner (a handler called
# directly) they are written at once.
_job_collector: contextvars.ContextVar[StatsRecorder | None] = contextvars.ContextVar(
    "vt_job_stats", default=None)


@contextlib.contextmanager
def collecting_job_stats() -> Iterator[StatsRecorder]:
    """Within this block, `add_job_webhook_outcome` counts into the yielded recorder."""
    recorder = StatsRecorder(None)
    token = _job_collector.set(recorder)
    try:
        yield recorder
    finally:
        _job_collector.reset(token)


async def add_job_webhook_outcome(conn: Conn, source_id: int, outcome: str,
                                  processing_ms: float) -> None:
    collector = _job_collector.get()
    if collector is not None:
        collector.record_webhook(source_id, outcome, processing_ms=processing_ms)
        return
    direct = StatsRecorder(None)
    direct.record_webhook(source_id, outcome, processing_ms=processing_ms)
    await direct.flush_to(conn)


async def add_job_durations(conn: Conn, function_name: str, durations_ms: list[float]) -> None:
    """Count durations measured inside a job (kept only if the job commits); outside a
    runner they are written at once."""
    collector = _job_collector.get()
    target = collector if collector is not None else StatsRecorder(None)
    for ms in durations_ms:
        target.record_call(function_name, max(ms, 0.0))
    if collector is None:
        await target.flush_to(conn)
