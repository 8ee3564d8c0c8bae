"""The scheduler: every worker runs one; only the leader (advisory lock) does the work.

The leader holds a session-level advisory lock on a dedicated connection. If the leader
dies, PostgreSQL drops its session and the lock with it; the next tick of another
worker (every `scheduler_interval_seconds`) takes over.

Leader duties on every tick: rescue jobs whose lease expired (an attempt is counted),
delete stale worker rows, run due periodic tasks. Retention pruning is itself a periodic
task. Statistics live in the rollup tables, written when jobs finish, so pruning job
rows and logs never changes them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool

from vitaltrust.config import Settings
from vitaltrust.db import Conn, connect, transaction

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 7_240_002  # "the scheduler leader"; 7_240_001 is the migration lock

PeriodicFn = Callable[[Conn, datetime], Awaitable[None]]


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval_seconds: float
    fn: PeriodicFn


_TASKS: dict[str, PeriodicTask] = {}


def periodic_task(name: str, *, interval_seconds: float) -> Callable[[PeriodicFn], PeriodicFn]:
    """Register `async def fn(conn, now)`; the leader runs it every `interval_seconds`,
    each run in its own transaction. A failing run is logged and retried next interval."""

    def register(fn: PeriodicFn) -> PeriodicFn:
        _TASKS[name] = PeriodicTask(name, interval_seconds, fn)
        return fn

    return register


def registered_tasks() -> dict[str, PeriodicTask]:
    return dict(_TASKS)


# Work the leader does on EVERY tick, with the pool and settings (alert evaluation).
TickHook = Callable[[AsyncConnectionPool[Conn], Settings, str], Awaitable[None]]
_TICK_HOOKS: dict[str, TickHook] = {}


def on_leader_tick(name: str) -> Callable[[TickHook], TickHook]:
    def register(fn: TickHook) -> TickHook:
        _TICK_HOOKS[name] = fn
        return fn

    return register


# A rescued job keeps its run_at: it was due already, so it goes back to the head of the
# queue instead of waiting behind everything enqueued since.
RESCUE_EXPIRED = """
WITH x AS (
    SELECT id FROM background_jobs
    WHERE status = 'processing' AND locked_until < now()
    ORDER BY locked_until LIMIT 10000
    FOR UPDATE SKIP LOCKED
)
UPDATE background_jobs b
SET attempts = b.attempts + 1,
    last_error = 'lease expired: worker ' || coalesce(b.locked_by, '?')
                 || ' stopped renewing it (crashed, killed or hung)',
    status = CASE WHEN b.attempts + 1 >= b.max_attempts THEN 'failed' ELSE 'pending' END,
    failed_at = CASE WHEN b.attempts + 1 >= b.max_attempts THEN now() END,
    locked_by = CASE WHEN b.attempts + 1 >= b.max_attempts THEN b.locked_by END,
    locked_until = NULL,
    dedupe_key = CASE
        WHEN b.attempts + 1 >= b.max_attempts OR b.dedupe_key IS NULL THEN b.dedupe_key
        WHEN NOT %(keep_keys)s THEN NULL
        WHEN EXISTS (SELECT 1 FROM background_jobs p
                     WHERE p.dedupe_key = b.dedupe_key AND p.status = 'pending') THEN NULL
        ELSE b.dedupe_key END
FROM x WHERE b.id = x.id
RETURNING b.type AS job_type, b.status, b.is_sandbox
"""
ADD_RESCUE_STATS = """
INSERT INTO job_stats_minute AS t (job_type, bucket, failed, retried)
SELECT r.job_type, date_trunc('minute', now()), r.failed, r.retried
FROM jsonb_to_recordset(%s::jsonb) AS r(job_type text, failed bigint, retried bigint)
ORDER BY r.job_type
ON CONFLICT (job_type, bucket) DO UPDATE SET
    failed = t.failed + EXCLUDED.failed, retried = t.retried + EXCLUDED.retried
"""
DELETE_STALE_WORKERS = """
DELETE FROM workers
WHERE worker_id <> %s AND last_seen_at < now() - 3 * heartbeat_seconds * interval '1 second'
"""
TASK_RUNS = "SELECT name, last_run_at FROM scheduler_tasks"
RECORD_TASK_RUN = """
INSERT INTO scheduler_tasks AS t (name, last_run_at, last_ok_at, last_error, last_ms)
VALUES (%(name)s, %(now)s, CASE WHEN %(error)s::text IS NULL THEN %(now)s END, %(error)s, %(ms)s)
ON CONFLICT (name) DO UPDATE SET
    last_run_at = EXCLUDED.last_run_at,
    last_ok_at = coalesce(EXCLUDED.last_ok_at, t.last_ok_at),
    last_error = EXCLUDED.last_error, last_ms = EXCLUDED.last_ms
"""
PRUNE_JOBS = """
DELETE FROM background_jobs WHERE id IN (
    SELECT id FROM background_jobs
    WHERE status = 'completed' AND created_at < %(cutoff)s AND completed_at < %(cutoff)s
    LIMIT 20000)
"""
PRUNE_LOGS = """
DELETE FROM edge_function_logs WHERE id IN (
    SELECT id FROM edge_function_logs WHERE created_at < %(cutoff)s LIMIT 20000)
"""
PRUNE_ROLLUPS = (
    "DELETE FROM function_stats_minute WHERE bucket < %(cutoff)s",
    "DELETE FROM webhook_stats_minute WHERE bucket < %(cutoff)s",
    "DELETE FROM job_stats_minute WHERE bucket < %(cutoff)s",
)
ROLLUP_MIN_DAYS = 31  # the views look back at most 30 days


async def rescue_expired(conn: Conn) -> tuple[int, int]:
    """Jobs whose lease expired go back to pending (or failed); returns (requeued, failed)."""
    try:
        async with conn.transaction():
            rows = await (await conn.execute(RESCUE_EXPIRED, {"keep_keys": True})).fetchall()
    except psycopg.errors.UniqueViolation:
        async with conn.transaction():
            rows = await (await conn.execute(RESCUE_EXPIRED, {"keep_keys": False})).fetchall()
    if not rows:
        return 0, 0
    agg: dict[str, dict[str, int]] = {}
    for r in rows:
        if not r["is_sandbox"]:
            a = agg.setdefault(r["job_type"], {"failed": 0, "retried": 0})
            a["failed" if r["status"] == "failed" else "retried"] += 1
    if agg:
        await conn.execute(ADD_RESCUE_STATS, (json.dumps(
            [{"job_type": t, **counts} for t, counts in agg.items()]),))
    failed = sum(1 for r in rows if r["status"] == "failed")
    log.warning("rescued %d job(s) with expired leases (%d failed for good)", len(rows), failed)
    return len(rows) - failed, failed


def retention_task(settings: Settings) -> PeriodicTask:
    async def prune(conn: Conn, now: datetime) -> None:
        await conn.execute(PRUNE_JOBS, {"cutoff": now - timedelta(days=settings.job_retention_days)})
        await conn.execute(PRUNE_LOGS, {"cutoff": now - timedelta(days=settings.log_retention_days)})
        days = max(settings.log_retention_days, ROLLUP_MIN_DAYS)
        for stmt in PRUNE_ROLLUPS:
            await conn.execute(stmt, {"cutoff": now - timedelta(days=days)})

    return PeriodicTask("queue.retention", 300.0, prune)


class SessionLeader:
    """Leadership by a session-level advisory lock held on a dedicated connection: it lasts
    while the session does, and PostgreSQL releases it when the holder dies. The scheduler
    leader among workers and the alert watchdog among API processes both use it."""

    def __init__(self, url: str, lock_key: int, who: str, role: str) -> None:
        self.url = url
        self.lock_key = lock_key
        self.who = who
        self.role = role
        self.is_leader = False
        self._conn: Conn | None = None

    async def _lead(self) -> bool:
        """Hold (or try to take) the lock; False when another process leads."""
        if self._conn is None or self._conn.closed:
            self.is_leader = False  # a new session holds no lock
            self._conn = await connect(self.url)
        if self.is_leader:
            await self._conn.execute("SELECT 1")  # the session lives: the lock is still ours
            return True
        row = await (await self._conn.execute("SELECT pg_try_advisory_lock(%s) AS got",
                                              (self.lock_key,))).fetchone()
        self.is_leader = bool(row and row["got"])
        if self.is_leader:
            log.info("%s is now the %s", self.who, self.role)
        return self.is_leader

    async def leads(self) -> bool:
        """`_lead`, dropping the session when the database fails (retried next tick)."""
        try:
            return await self._lead()
        except psycopg.Error:
            await self._drop()
            raise

    async def _drop(self) -> None:
        self.is_leader = False
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception:  # closing a broken connection: nothing left to do
                log.debug("closing the leader connection failed", exc_info=True)

    async def _resign(self) -> None:
        if self._conn is not None and not self._conn.closed and self.is_leader:
            try:
                await self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.lock_key,))
            except psycopg.Error:
                pass
        await self._drop()


class Scheduler(SessionLeader):
    def __init__(self, url: str, pool: AsyncConnectionPool[Conn], settings: Settings,
                 worker_id: str) -> None:
        super().__init__(url, LEADER_LOCK_KEY, f"this worker ({worker_id})", "scheduler leader")
        self.pool = pool
        self.settings = settings
        self.worker_id = worker_id

    async def tick(self) -> bool:
        """One scheduler period; returns whether this worker is the leader."""
        if not await self.leads():
            return False
        async with self.pool.connection() as conn:
            await rescue_expired(conn)
            await conn.execute(DELETE_STALE_WORKERS, (self.worker_id,))
        await self.run_due_tasks()
        await self.run_tick_hooks()
        return True

    async def run_tick_hooks(self) -> None:
        for name, hook in list(_TICK_HOOKS.items()):
            try:
                await hook(self.pool, self.settings, self.worker_id)
            except Exception:
                log.exception("leader tick hook %s failed", name)

    async def run_due_tasks(self) -> None:
        tasks = {**registered_tasks(), "queue.retention": retention_task(self.settings)}
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(TASK_RUNS)).fetchall()
            now_row = await (await conn.execute("SELECT now() AS now")).fetchone()
        assert now_row is not None
        last = {r["name"]: r["last_run_at"] for r in rows}
        for task in tasks.values():
            now = now_row["now"]
            prev = last.get(task.name)
            if prev is not None and (now - prev).total_seconds() < task.interval_seconds:
                continue
            await self._run_task(task)

    async def _run_task(self, task: PeriodicTask) -> None:
        t0 = time.perf_counter()
        error: str | None = None
        async with transaction(self.pool) as conn:
            now = (await (await conn.execute("SELECT now() AS now")).fetchone() or {})["now"]
        try:
            async with transaction(self.pool) as conn:
                await task.fn(conn, now)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.exception("periodic task %s failed", task.name)
        async with self.pool.connection() as conn:
            await conn.execute(RECORD_TASK_RUN, {"name": task.name, "now": now, "error": error,
                                                 "ms": (time.perf_counter() - t0) * 1000})

    async def close(self) -> None:
        await self._resign()
