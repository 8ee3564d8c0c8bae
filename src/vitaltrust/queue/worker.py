"""Claiming and running batches of jobs.

A batch is claimed in one short transaction (status 'processing', a lease). Its handlers
then run in ONE transaction on the same connection, and the jobs are marked completed in
that same transaction: a job's effects and its completion commit together, or not at all.
Job types with a batch handler get all their claimed jobs in one call; the others run one
after another. The fast path has no savepoints; if a handler raises, the batch is rolled
back and rerun with a savepoint per job (a failed single job is not rerun; after a failed
batch call every job of it is rerun alone, so the failing one is isolated).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.logging_setup import log_context
from vitaltrust.monitoring.stats import StatsRecorder, collecting_job_stats
from vitaltrust.queue import sql
from vitaltrust.queue.attempts import format_traceback, record_failed_attempts
from vitaltrust.queue.enqueue import NewJob, deferring_keyed_jobs, enqueue_many
from vitaltrust.queue.registry import HandlerSpec, Job, get_handler, load_handlers

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 3600.0
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Claimed:
    job: Job
    priority: int
    run_at: datetime
    started_at: datetime
    is_sandbox: bool


@dataclass
class BatchResult:
    completed: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # our lease was taken over meanwhile

    @property
    def ran(self) -> int:
        return len(self.completed) + len(self.retried) + len(self.failed)


def new_worker_id(kind: str = "worker") -> str:
    return f"{kind}:{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def retry_delay(attempts_done: int) -> float:
    """Exponential backoff with jitter: ~2 s, 4 s, 8 s ... (+0-25 %), capped at an hour."""
    base: float = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2.0 ** max(0, attempts_done - 1))
    return base * (1 + random.random() / 4)


def describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"TimeoutError: handler exceeded its {timeout:g} s timeout"
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:MAX_ERROR_CHARS]


async def claim(conn: Conn, worker_id: str, n: int, lease_seconds: float) -> list[Claimed]:
    rows = await (await conn.execute(sql.CLAIM, {"n": n, "worker": worker_id,
                                                 "lease": lease_seconds})).fetchall()
    claimed = [Claimed(Job(r["id"], r["job_type"], r["payload"], r["attempts"],
                           r["max_attempts"], r["created_at"]),
                       r["priority"], r["run_at"], r["started_at"], r["is_sandbox"]) for r in rows]
    claimed.sort(key=lambda c: (c.priority, c.run_at, c.job.id))
    return claimed


class _LeaseLost(Exception):
    pass


class _HandlerFailed(Exception):
    """`job_id` None: a batch call failed, which of its jobs is not known."""

    def __init__(self, job_id: int | None, error: str) -> None:
        super().__init__(error)
        self.job_id = job_id
        self.error = error


@dataclass
class _Tally:
    durations_ms: dict[int, float] = field(default_factory=dict)
    # statistics the batch's committed jobs counted (monitoring.stats.add_job_webhook_outcome)
    stats: StatsRecorder = field(default_factory=lambda: StatsRecorder(None))
    # deduplicated jobs the committed jobs enqueued (queue.enqueue.deferring_keyed_jobs)
    keyed_jobs: list[NewJob] = field(default_factory=list)


class BatchRunner:
    """Runs claimed batches for one worker identity.

    With `stats` (a running worker's recorder), a batch's statistics are counted in memory
    once it committed and flushed by the recorder (at most once per flush interval, rows
    sorted): the jobs' commit then holds no rollup row lock. Without (run_until_idle,
    tools), they are written in the batch's own transaction.
    """

    def __init__(self, worker_id: str, settings: Settings,
                 handlers: dict[str, HandlerSpec] | None = None,
                 stats: StatsRecorder | None = None) -> None:
        self.worker_id = worker_id
        self.settings = settings
        self.handlers = handlers if handlers is not None else load_handlers()
        self.stats = stats
        self.tracebacks: dict[int, str] = {}  # job id -> traceback, until its attempt is recorded

    def _spec(self, job_type: str) -> HandlerSpec | None:
        return self.handlers.get(job_type) or get_handler(job_type)

    def _timeout(self, spec: HandlerSpec) -> float:
        return spec.timeout_seconds or float(self.settings.job_timeout_seconds)

    def _groups(self, runnable: list[Claimed]) -> list[tuple[HandlerSpec, list[Claimed]]]:
        """Jobs of a type with a batch handler together (at its first job's place), others alone."""
        groups: list[tuple[HandlerSpec, list[Claimed]]] = []
        batched: dict[str, list[Claimed]] = {}
        for c in runnable:
            spec = self._spec(c.job.job_type)
            assert spec is not None
            if spec.batch is None or not self.settings.worker_batch_handlers:
                groups.append((spec, [c]))
            elif c.job.job_type in batched:
                batched[c.job.job_type].append(c)
            else:
                batched[c.job.job_type] = [c]
                groups.append((spec, batched[c.job.job_type]))
        return groups

    async def _call(self, conn: Conn, spec: HandlerSpec, jobs: Sequence[Job],
                    tally: _Tally) -> None:
        t0 = time.perf_counter()
        timeout = self._timeout(spec)
        single = jobs[0] if len(jobs) == 1 else None
        # every line logged while the job runs (here or in its handler) carries its ids
        event = (single.payload.get("webhook_event_id")
                 if single is not None and isinstance(single.payload, dict) else None)
        with log_context(job_id=single.id if single else None, job_type=spec.job_type,
                         webhook_event_id=event), \
                collecting_job_stats() as job_stats, deferring_keyed_jobs() as keyed_jobs:
            try:
                async with asyncio.timeout(timeout):  # no extra task per job, unlike wait_for
                    if single is not None:
                        await spec.handler(conn, single)
                    else:
                        assert spec.batch is not None
                        await spec.batch(conn, jobs)
                tally.stats.merge(job_stats)
                tally.keyed_jobs += keyed_jobs
            except Exception as exc:
                if conn.broken:  # the database went away: not the job's fault, hand it back
                    raise
                error = describe(exc, timeout)
                # one line: the stored error keeps the database's CONTEXT lines, the log not
                first_line = error.splitlines()[0] if error else error
                if single is None:  # each job is rerun alone; its own attempt is recorded then
                    log.warning("batch of %d %s jobs failed (%s); rerunning them one by one",
                                len(jobs), spec.job_type, first_line)
                    raise _HandlerFailed(None, error) from exc
                self.tracebacks[single.id] = format_traceback(exc)
                log.warning("job attempt %d of %d failed: %s", single.attempts + 1,
                            single.max_attempts, first_line)
                raise _HandlerFailed(single.id, error) from exc
            finally:
                share = (time.perf_counter() - t0) * 1000 / len(jobs)
                for job in jobs:
                    tally.durations_ms[job.id] = share

    async def run(self, conn: Conn, batch: Sequence[Claimed],
                  stop: asyncio.Event | None = None) -> BatchResult:
        """Run a claimed batch on `conn` (autocommit, no transaction open)."""
        errors: dict[int, str] = {}
        final: set[int] = set()
        runnable: list[Claimed] = []
        for c in batch:
            if self._spec(c.job.job_type) is None:
                known = ", ".join(sorted(self.handlers)) or "none"
                errors[c.job.id] = (f"unknown job type {c.job.job_type!r}: no handler is "
                                    f"registered in this worker (known: {known})")
                final.add(c.job.id)
            else:
                runnable.append(c)
        tally = _Tally()
        try:
            result = await self._fast(conn, batch, runnable, errors, final, tally, stop)
        except _HandlerFailed as failed:
            if failed.job_id is not None:
                errors[failed.job_id] = failed.error
            result = None
        except _LeaseLost:
            result = None
        if result is None:
            rest = [c for c in runnable if c.job.id not in errors]
            # the fast attempt rolled back: its counts and enqueues with it
            tally.stats, tally.keyed_jobs = StatsRecorder(None), []
            result = await self._careful(conn, batch, rest, errors, final, tally, stop)
        if self.stats is not None:  # committed: now the counts are true
            self.stats.merge(tally.stats)
        return result

    async def _fast(self, conn: Conn, batch: Sequence[Claimed], runnable: list[Claimed],
                    errors: dict[int, str], final: set[int], tally: _Tally,
                    stop: asyncio.Event | None) -> BatchResult:
        result = BatchResult()
        async with conn.transaction():
            ran: list[int] = []
            for spec, group in self._groups(runnable):
                if stop is not None and stop.is_set():
                    break
                await self._call(conn, spec, [c.job for c in group], tally)
                ran += [c.job.id for c in group]
            if ran:
                rows = await (await conn.execute(sql.COMPLETE_MANY, {
                    "ids": ran, "worker": self.worker_id})).fetchall()
                done = {r["id"] for r in rows}
                if len(done) != len(ran):
                    # A lease was taken over: redo carefully so only the others commit.
                    raise _LeaseLost
                result.completed = ran
            await self._finish(conn, batch, result, errors, final, tally)
        return result

    async def _careful(self, conn: Conn, batch: Sequence[Claimed], runnable: list[Claimed],
                       errors: dict[int, str], final: set[int], tally: _Tally,
                       stop: asyncio.Event | None) -> BatchResult:
        result = BatchResult()
        async with conn.transaction():
            for c in runnable:
                if stop is not None and stop.is_set():
                    break
                spec = self._spec(c.job.job_type)
                assert spec is not None
                job_tally = _Tally()
                try:
                    async with conn.transaction():
                        await self._call(conn, spec, [c.job], job_tally)
                        row = await (await conn.execute(sql.COMPLETE_ONE, {
                            "id": c.job.id, "worker": self.worker_id})).fetchone()
                        if row is None:
                            raise _LeaseLost
                    result.completed.append(c.job.id)
                    tally.stats.merge(job_tally.stats)
                    tally.keyed_jobs += job_tally.keyed_jobs
                except _LeaseLost:
                    result.lost.append(c.job.id)
                except _HandlerFailed as failed:
                    errors[c.job.id] = failed.error
                finally:
                    tally.durations_ms.update(job_tally.durations_ms)
            await self._finish(conn, batch, result, errors, final, tally)
        return result

    async def _finish(self, conn: Conn, batch: Sequence[Claimed], result: BatchResult,
                      errors: dict[int, str], final: set[int], tally: _Tally) -> None:
        """Record failures, release what did not run, count statistics (same transaction)."""
        by_id = {c.job.id: c for c in batch}
        failed_rows = await self._record_failures(conn, [by_id[i] for i in errors if i in by_id],
                                                  errors, final) if errors else []
        for r in failed_rows:
            (result.failed if r["status"] == "failed" else result.retried).append(r["id"])
        await record_failed_attempts(conn, self.worker_id, failed_rows, errors,
                                     tally.durations_ms, self.tracebacks)
        handled = set(result.completed) | set(errors) | set(result.lost)
        leftover = [c.job.id for c in batch if c.job.id not in handled]
        if leftover:
            await release(conn, self.worker_id, leftover)
            result.released = leftover
        count_job_stats(tally.stats, batch, result, tally.durations_ms)
        if self.stats is None:
            await tally.stats.flush_to(conn)
        await enqueue_many(conn, tally.keyed_jobs)

    async def _record_failures(self, conn: Conn, jobs: list[Claimed], errors: dict[int, str],
                               final: set[int]) -> list[dict[str, Any]]:
        params = {
            "ids": [c.job.id for c in jobs], "errors": [errors[c.job.id] for c in jobs],
            "delays": [retry_delay(c.job.attempts + 1) for c in jobs],
            "final": [c.job.id in final for c in jobs], "worker": self.worker_id,
            "keep_keys": True,
        }
        try:
            async with conn.transaction():
                return await (await conn.execute(sql.FAIL_MANY, params)).fetchall()
        except psycopg.errors.UniqueViolation:
            # A twin was enqueued concurrently: requeue ours without its dedupe key.
            params["keep_keys"] = False
            return await (await conn.execute(sql.FAIL_MANY, params)).fetchall()


def count_job_stats(stats: StatsRecorder, batch: Iterable[Claimed], result: BatchResult,
                    durations_ms: dict[int, float]) -> None:
    """Count this batch's finished jobs per type; sandbox jobs never count."""
    completed, failed, retried = set(result.completed), set(result.failed), set(result.retried)
    agg: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0])
    for c in batch:
        if c.is_sandbox:
            continue
        jid = c.job.id
        if jid not in completed and jid not in failed and jid not in retried:
            continue
        a = agg[c.job.job_type]
        a[0] += jid in completed
        a[1] += jid in failed
        a[2] += jid in retried
        a[3] += durations_ms.get(jid, 0.0)
        a[4] += max(0.0, (c.started_at - c.run_at).total_seconds() * 1000)
    for job_type, a in agg.items():
        stats.record_jobs(job_type, completed=int(a[0]), failed=int(a[1]), retried=int(a[2]),
                          total_ms=a[3], wait_ms=a[4])


async def release(conn: Conn, worker_id: str, ids: Sequence[int] | None = None) -> None:
    """Hand back `ids` (all of this worker's jobs when None) to pending, no attempt counted."""
    if ids is not None and not ids:
        return
    params = {"ids": None if ids is None else list(ids), "worker": worker_id, "keep_keys": True}
    try:
        async with conn.transaction():  # a savepoint inside the batch's transaction
            await conn.execute(sql.RELEASE, params)
    except psycopg.errors.UniqueViolation:
        # a twin was enqueued concurrently (after our check): hand back without keys
        params["keep_keys"] = False
        async with conn.transaction():
            await conn.execute(sql.RELEASE, params)


async def run_until_idle(pool: AsyncConnectionPool[Conn], settings: Settings, *,
                         timeout: float = 30.0) -> int:  # noqa: ASYNC109 - the contract
    """Run jobs in-process until none is runnable now; return how many ran (tests, tools).

    Raises TimeoutError when jobs are still runnable after `timeout` seconds.
    """
    runner = BatchRunner(new_worker_id("inline"), settings)
    deadline = time.monotonic() + timeout
    ran = 0
    while True:
        async with pool.connection() as conn:
            batch = await claim(conn, runner.worker_id, settings.worker_batch_size,
                                settings.job_lease_seconds)
            if not batch:
                return ran
            try:
                result = await runner.run(conn, batch)
            except BaseException:
                if not conn.closed:
                    await release(conn, runner.worker_id, [c.job.id for c in batch])
                raise
        ran += result.ran
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still runnable after {timeout:g} s ({ran} ran)")
