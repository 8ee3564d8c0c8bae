"""Running workers: `vitaltrust worker` (run_worker_process), which `serve` also starts as
its child (spawn_worker_process), or inside the API process (start_worker).

A worker has N slots; each slot claims a batch, runs it (see worker.py) and loops, and
waits for a NOTIFY on `vitaltrust_jobs` (or the poll interval) when nothing is runnable.
Beside the slots: a listener, a heartbeat (leases + the `workers` row) and the scheduler.
Every loop survives a lost database: it logs, backs off, reconnects and carries on; jobs
it could not finish are handed back (or rescued by the leader when their lease expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import psycopg
from psycopg_pool import AsyncConnectionPool

from vitaltrust import __version__
from vitaltrust.config import Settings
from vitaltrust.db import Conn, connect, create_pool, resolve_database_url
from vitaltrust.migrations import migrate
from vitaltrust.monitoring.stats import StatsRecorder
from vitaltrust.queue import sql
from vitaltrust.queue.registry import load_handlers
from vitaltrust.queue.scheduler import Scheduler
from vitaltrust.queue.worker import BatchRunner, claim, new_worker_id, release

log = logging.getLogger(__name__)

BACKOFF_START = 0.2
BACKOFF_MAX = 5.0


class Backoff:
    def __init__(self) -> None:
        self.delay = BACKOFF_START

    def next(self) -> float:
        d = self.delay
        self.delay = min(BACKOFF_MAX, self.delay * 2)
        return d

    def reset(self) -> None:
        self.delay = BACKOFF_START


class Worker:
    def __init__(self, url: str, pool: AsyncConnectionPool[Conn], settings: Settings,
                 stats: StatsRecorder) -> None:
        self.url = url
        self.pool = pool
        self.settings = settings
        self.stats = stats
        self.worker_id = new_worker_id()
        self.runner = BatchRunner(self.worker_id, settings, load_handlers(), stats)
        self.scheduler = Scheduler(url, pool, settings, self.worker_id)
        self.jobs_completed = 0
        self.jobs_failed = 0
        self._stopping = asyncio.Event()
        # One token wakes one idle slot; a slot that claims a full batch passes a token on,
        # so slots join in as long as there is work, and a NOTIFY does not wake them all.
        self._baton: asyncio.Queue[None] = asyncio.Queue()
        self._to_release: set[int] = set()
        self._slots: list[asyncio.Task[None]] = []
        self._services: list[asyncio.Task[None]] = []

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        n = self.settings.worker_concurrency
        self._slots = [asyncio.create_task(self._slot(), name=f"job-slot-{i}") for i in range(n)]
        lease_beat = min(self.settings.heartbeat_seconds, self.settings.job_lease_seconds / 3)
        self._services = [
            asyncio.create_task(self._listen(), name="job-listener"),
            asyncio.create_task(self._every(lease_beat, self._heartbeat), name="job-heartbeat"),
            asyncio.create_task(self._every(self.settings.scheduler_interval_seconds,
                                            self._schedule), name="job-scheduler"),
        ]
        log.info("worker %s started: concurrency %d, batch %d, lease %ds", self.worker_id, n,
                 self.settings.worker_batch_size, self.settings.job_lease_seconds)

    async def stop(self) -> None:
        """Stop claiming; let running batches finish within the shutdown timeout, then
        cancel them and hand their jobs back; leave the registry and the leadership."""
        self._stopping.set()
        for _ in self._slots:
            self._baton.put_nowait(None)
        if self._slots:
            _, late = await asyncio.wait(self._slots, timeout=self.settings.shutdown_timeout_seconds)
            for task in late:
                task.cancel()
            if late:
                log.warning("cancelled %d running batch(es) at shutdown; their jobs go back "
                            "to the queue", len(late))
                await asyncio.gather(*late, return_exceptions=True)
        for task in self._services:
            task.cancel()
        await asyncio.gather(*self._services, return_exceptions=True)
        try:
            async with self.pool.connection(timeout=5) as conn:
                await release(conn, self.worker_id)
                await conn.execute(sql.DELETE_WORKER, (self.worker_id,))
        except Exception:
            log.warning("could not deregister worker %s; the leader will clean up",
                        self.worker_id, exc_info=True)
        await self.scheduler.close()
        log.info("worker %s stopped (%d completed, %d failed)", self.worker_id,
                 self.jobs_completed, self.jobs_failed)

    # --- slots ----------------------------------------------------------------------------
    async def _slot(self) -> None:
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                ran = await self._one_batch()
                backoff.reset()
            except Exception:
                delay = backoff.next()
                log.warning("job slot error; retrying in %.1fs", delay, exc_info=True)
                await self._pause(delay)
                continue
            if ran == 0:
                await self._pause(self.settings.poll_interval_seconds, wakeable=True)

    async def _pause(self, seconds: float, *, wakeable: bool = False) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._baton.get() if wakeable else self._stopping.wait(),
                                   seconds)

    def _wake_one(self) -> None:
        if self._baton.empty():
            self._baton.put_nowait(None)

    async def _one_batch(self) -> int:
        async with self.pool.connection() as conn:
            if self._to_release:
                ids = list(self._to_release)
                await release(conn, self.worker_id, ids)
                self._to_release.difference_update(ids)
            batch = await claim(conn, self.worker_id, self.settings.worker_batch_size,
                                self.settings.job_lease_seconds)
            if not batch:
                return 0
            if len(batch) == self.settings.worker_batch_size:
                self._wake_one()  # probably more: let another slot claim too
            t0 = time.perf_counter()
            try:
                result = await self.runner.run(conn, batch, self._stopping)
            except BaseException:
                self._to_release.update(c.job.id for c in batch)
                raise
        counted = sum(1 for c in batch if not c.is_sandbox)
        if counted:
            self.stats.record_call("job-worker", (time.perf_counter() - t0) * 1000,
                                   ok=not (result.failed or result.retried), items=counted)
        self.jobs_completed += len(result.completed)
        self.jobs_failed += len(result.failed) + len(result.retried)
        return len(batch)

    # --- services -------------------------------------------------------------------------
    async def _listen(self) -> None:
        backoff = Backoff()
        while True:
            conn: Conn | None = None
            try:
                conn = await connect(self.url)
                await conn.execute(sql.LISTEN)
                backoff.reset()
                self._wake_one()  # jobs may have arrived while we were not listening
                async for _ in conn.notifies():
                    self._wake_one()
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = backoff.next()
                log.warning("job listener lost its connection; reconnecting in %.1fs", delay)
                await asyncio.sleep(delay)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()

    async def _every(self, seconds: float, fn: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("%s failed; will retry", getattr(fn, "__name__", fn), exc_info=True)
            await asyncio.sleep(seconds)

    async def _heartbeat(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(sql.EXTEND_LEASES, {"worker": self.worker_id,
                                                   "lease": self.settings.job_lease_seconds})
            await conn.execute(sql.UPSERT_WORKER, {
                "worker": self.worker_id, "host": os.uname().nodename, "pid": os.getpid(),
                "version": __version__, "concurrency": self.settings.worker_concurrency,
                "heartbeat": self.settings.heartbeat_seconds, "completed": self.jobs_completed,
                "failed": self.jobs_failed, "leader": self.scheduler.is_leader,
            })

    async def _schedule(self) -> None:
        was_leader = self.scheduler.is_leader
        try:
            await self.scheduler.tick()
        finally:
            if self.scheduler.is_leader != was_leader:
                await self._heartbeat()  # show the new role in `workers` right away


async def start_worker(url: str, pool: AsyncConnectionPool[Conn], settings: Settings,
                       stats: StatsRecorder) -> Worker:
    worker = Worker(url, pool, settings, stats)
    await worker.start()
    return worker


async def _migrate_when_reachable(url: str) -> None:
    backoff = Backoff()
    while True:
        try:
            conn = await connect(url)
            try:
                await migrate(conn)
                return
            finally:
                await conn.close()
        except psycopg.OperationalError as exc:
            delay = backoff.next()
            log.warning("database not ready (%s); retrying in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)


def worker_pool_settings(settings: Settings) -> Settings:
    """Pool sizes for a worker: its concurrency plus the scheduler, LISTEN and heartbeat."""
    size = settings.worker_concurrency + 4
    return settings.model_copy(update={
        "pool_min_size": min(size, max(2, settings.worker_concurrency)), "pool_max_size": size})


async def run_worker_process(settings: Settings) -> None:
    """`vitaltrust worker`: migrate, run until SIGTERM/SIGINT, then shut down gracefully."""
    url = resolve_database_url(settings)
    await _migrate_when_reachable(url)
    pool = create_pool(url, worker_pool_settings(settings), name="vitaltrust-worker")
    await pool.open(wait=False)
    stats = StatsRecorder(pool, settings.stats_flush_seconds)
    stats.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    worker = await start_worker(url, pool, settings, stats)
    try:
        await stopping.wait()
        log.info("stopping: finishing running jobs (at most %gs)", settings.shutdown_timeout_seconds)
    finally:
        await worker.stop()
        await stats.stop()
        await pool.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to send SIGTERM when the parent dies (no orphaned worker after a SIGKILL)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn_worker_process(database_url: str, nice: int, concurrency: int
                         ) -> subprocess.Popen[bytes]:
    """`serve`'s worker: a `vitaltrust worker` child on the same database and settings,
    at scheduling priority `nice` (lower than the API's when > 0), with `concurrency`
    slots."""
    env = {**os.environ, "DATABASE_URL": database_url,
           "VITALTRUST_WORKER_CONCURRENCY": str(concurrency)}
    proc = subprocess.Popen([sys.executable, "-m", "vitaltrust", "worker"], env=env,
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    if nice:
        with contextlib.suppress(OSError):  # a platform without it runs at the same priority
            os.setpriority(os.PRIO_PROCESS, proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + nice)
    return proc


def stop_worker_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (the worker hands unfinished jobs back), then SIGKILL after `timeout`."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("the worker process did not stop within %.0f s; killing it", timeout)
        proc.kill()
        proc.wait()
