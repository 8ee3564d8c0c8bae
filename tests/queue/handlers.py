"""Test-only job types. Worker subprocesses load them through
VITALTRUST_EXTRA_JOB_MODULES=tests.queue.handlers (with the repo root on PYTHONPATH)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from vitaltrust.db import Conn
from vitaltrust.queue.registry import Job, batch_handler, job_handler

CALLS_TABLE = """
CREATE TABLE IF NOT EXISTS test_job_calls (
    job_id  bigint NOT NULL,
    pid     integer NOT NULL,
    attempt integer NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""
RECORD = "INSERT INTO test_job_calls (job_id, pid, attempt) VALUES (%s, %s, %s)"


@job_handler("test_record")
async def record(conn: Conn, job: Job) -> None:
    """Records its call in the job's transaction; sleeps `sleep_ms` first if asked."""
    sleep_ms = job.payload.get("sleep_ms", 0)
    if sleep_ms:
        await asyncio.sleep(sleep_ms / 1000)
    await conn.execute(RECORD, (job.id, os.getpid(), job.attempts))


@job_handler("test_fail")
async def fail(conn: Conn, job: Job) -> None:
    await conn.execute(RECORD, (job.id, os.getpid(), job.attempts))  # must be rolled back
    raise RuntimeError(f"boom {job.payload.get('tag', '')}".strip())


@job_handler("test_flaky")
async def flaky(conn: Conn, job: Job) -> None:
    """Fails until it has been attempted `fail_times` times."""
    if job.attempts < job.payload["fail_times"]:
        raise RuntimeError(f"flaky attempt {job.attempts}")
    await conn.execute(RECORD, (job.id, os.getpid(), job.attempts))


@job_handler("test_slow", timeout_seconds=0.5)
async def slow(conn: Conn, job: Job) -> None:
    await conn.execute(RECORD, (job.id, os.getpid(), job.attempts))
    await conn.execute("SELECT pg_sleep(%s)", (job.payload.get("seconds", 5),))


# test_batched: a batch handler (one INSERT for all jobs; `attempt` records the batch size)
# and its per-job form; a job with {"bad": true} fails either way.
RECORD_MANY = """
INSERT INTO test_job_calls (job_id, pid, attempt)
SELECT unnest(%s::bigint[]), %s, %s
"""


def _check(job: Job) -> None:
    if job.payload.get("bad"):
        raise RuntimeError(f"bad job {job.id}")


@job_handler("test_batched")
async def batched_one(conn: Conn, job: Job) -> None:
    await conn.execute(RECORD_MANY, ([job.id], os.getpid(), 1))
    _check(job)


@batch_handler("test_batched")
async def batched_many(conn: Conn, jobs: Sequence[Job]) -> None:
    await conn.execute(RECORD_MANY, ([j.id for j in jobs], os.getpid(), len(jobs)))
    for job in jobs:
        _check(job)
