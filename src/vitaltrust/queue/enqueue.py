"""Enqueue jobs inside the caller's transaction: a job exists iff the write causing it does."""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vitaltrust.db import Conn

JOB_CHANNEL = "vitaltrust_jobs"

INSERT_JOB = """
INSERT INTO background_jobs
    (type, payload, priority, run_at, dedupe_key, max_attempts, is_sandbox)
VALUES (%(job_type)s, %(payload)s, %(priority)s, coalesce(%(run_at)s, now()), %(dedupe_key)s,
        %(max_attempts)s, %(is_sandbox)s)
ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL
DO UPDATE SET run_at = least(background_jobs.run_at, EXCLUDED.run_at)
RETURNING id, (xmax = 0) AS inserted
"""
# Jobs without a dedupe key skip speculative insertion (ON CONFLICT costs every row extra work).
INSERT_JOBS_BULK_PLAIN = """
WITH ins AS (
INSERT INTO background_jobs
    (type, payload, priority, run_at, dedupe_key, max_attempts, is_sandbox)
SELECT t.job_type, t.payload, t.priority, coalesce(t.run_at, now()), t.dedupe_key,
       t.max_attempts, t.is_sandbox
FROM unnest(%s::text[], %s::jsonb[], %s::smallint[], %s::timestamptz[], %s::text[],
            %s::int[], %s::bool[])
     AS t(job_type, payload, priority, run_at, dedupe_key, max_attempts, is_sandbox)
RETURNING id
)
SELECT coalesce(array_agg(id ORDER BY id), '{}') AS ids FROM ins
"""
# The common bulk case: only type, payload and key vary, so only those travel as arrays
# (about a third less work per row).
INSERT_JOBS_BULK_UNIFORM_PLAIN = """
WITH ins AS (
INSERT INTO background_jobs
    (type, payload, priority, run_at, dedupe_key, max_attempts, is_sandbox)
SELECT t.job_type, t.payload, %s::smallint, coalesce(%s::timestamptz, now()), t.dedupe_key,
       %s::int, %s::bool
FROM unnest(%s::text[], %s::jsonb[], %s::text[]) AS t(job_type, payload, dedupe_key)
RETURNING id
)
SELECT coalesce(array_agg(id ORDER BY id), '{}') AS ids FROM ins
"""
# A deduplicated enqueue must LOCK its pending twin until the enqueuing transaction commits.
# With DO NOTHING a worker could claim the twin before that commit, run it without the new
# data, and no job would be left to see it. Locked, the twin is passed over by the claim's
# SKIP LOCKED until the new data is visible. Keys are made distinct (DO UPDATE may touch a
# row once per statement) and sorted (one lock order between concurrent enqueuers).
INSERT_JOBS_BULK_KEYED = """
WITH ins AS (
INSERT INTO background_jobs
    (type, payload, priority, run_at, dedupe_key, max_attempts, is_sandbox)
SELECT DISTINCT ON (t.dedupe_key) t.job_type, t.payload, t.priority, coalesce(t.run_at, now()),
       t.dedupe_key, t.max_attempts, t.is_sandbox
FROM unnest(%s::text[], %s::jsonb[], %s::smallint[], %s::timestamptz[], %s::text[],
            %s::int[], %s::bool[])
     AS t(job_type, payload, priority, run_at, dedupe_key, max_attempts, is_sandbox)
ORDER BY t.dedupe_key
ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL
DO UPDATE SET run_at = least(background_jobs.run_at, EXCLUDED.run_at)
RETURNING id, (xmax = 0) AS inserted
)
SELECT coalesce(array_agg(id ORDER BY id) FILTER (WHERE inserted), '{}') AS ids FROM ins
"""
INSERT_JOBS_BULK_UNIFORM_KEYED = """
WITH ins AS (
INSERT INTO background_jobs
    (type, payload, priority, run_at, dedupe_key, max_attempts, is_sandbox)
SELECT DISTINCT ON (t.dedupe_key) t.job_type, t.payload, %s::smallint,
       coalesce(%s::timestamptz, now()), t.dedupe_key, %s::int, %s::bool
FROM unnest(%s::text[], %s::jsonb[], %s::text[]) AS t(job_type, payload, dedupe_key)
ORDER BY t.dedupe_key
ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL
DO UPDATE SET run_at = least(background_jobs.run_at, EXCLUDED.run_at)
RETURNING id, (xmax = 0) AS inserted
)
SELECT coalesce(array_agg(id ORDER BY id) FILTER (WHERE inserted), '{}') AS ids FROM ins
"""
# Wakes idle workers; delivered only when the enqueuing transaction commits.
NOTIFY = "SELECT pg_notify('vitaltrust_jobs', %s)"


@dataclass(frozen=True)
class NewJob:
    job_type: str
    payload: dict[str, Any]
    priority: int = 0
    run_at: datetime | None = None
    dedupe_key: str | None = None
    max_attempts: int = 5
    is_sandbox: bool = False


async def enqueue(conn: Conn, job_type: str, payload: dict[str, Any], *, priority: int = 0,
                  run_at: datetime | None = None, dedupe_key: str | None = None,
                  max_attempts: int = 5, is_sandbox: bool = False,
                  notify: bool = True) -> int | None:
    """Insert one job; returns its id, or None when a pending job has the same dedupe_key."""
    row = await (await conn.execute(INSERT_JOB, {
        "job_type": job_type, "payload": json.dumps(payload), "priority": priority,
        "run_at": run_at, "dedupe_key": dedupe_key, "max_attempts": max_attempts,
        "is_sandbox": is_sandbox,
    })).fetchone()
    if row is None or not row["inserted"]:
        return None
    if notify and run_at is None:
        await conn.execute(NOTIFY, (job_type,))
    return int(row["id"])


# Inside a job runner's batch, deduplicated jobs are collected and inserted once, sorted by
# key, just before the batch commits: every batch then locks pending twins in one global order
# and batches cannot deadlock on them. (Still the same transaction as the write causing them.)
_deferred_keyed: contextvars.ContextVar[list[NewJob] | None] = contextvars.ContextVar(
    "vt_deferred_keyed_jobs", default=None)


@contextlib.contextmanager
def deferring_keyed_jobs() -> Iterator[list[NewJob]]:
    collected: list[NewJob] = []
    token = _deferred_keyed.set(collected)
    try:
        yield collected
    finally:
        _deferred_keyed.reset(token)


async def enqueue_many(conn: Conn, jobs: Sequence[NewJob], *, notify: bool = True) -> list[int]:
    """Insert many jobs in one statement; deduplicated ones are skipped. Returns the new ids
    (ascending; without the keyed jobs deferred to the end of a runner's batch)."""
    if not jobs:
        return []
    keyed = [j for j in jobs if j.dedupe_key is not None]
    plain = [j for j in jobs if j.dedupe_key is None]
    deferred = _deferred_keyed.get()
    if deferred is not None:
        deferred.extend(keyed)
        keyed = []
    ids: list[int] = []
    for part, dedupe in ((plain, False), (keyed, True)):
        if part:
            ids += await _insert_bulk(conn, part, dedupe=dedupe)
    if ids and notify:
        await conn.execute(NOTIFY, ("bulk",))
    return sorted(ids)


async def _insert_bulk(conn: Conn, jobs: Sequence[NewJob], *, dedupe: bool) -> list[int]:
    first = jobs[0]
    shared = (first.priority, first.run_at, first.max_attempts, first.is_sandbox)
    types = [j.job_type for j in jobs]
    payloads = [json.dumps(j.payload) for j in jobs]
    keys = [j.dedupe_key for j in jobs]
    # binary: no text parsing of the arrays either way; ids come back as one int8[]
    async with conn.cursor(binary=True) as cur:
        if all((j.priority, j.run_at, j.max_attempts, j.is_sandbox) == shared for j in jobs):
            query = INSERT_JOBS_BULK_UNIFORM_KEYED if dedupe else INSERT_JOBS_BULK_UNIFORM_PLAIN
            await cur.execute(query, (*shared, types, payloads, keys))
        else:
            await cur.execute(INSERT_JOBS_BULK_KEYED if dedupe else INSERT_JOBS_BULK_PLAIN, (
                types, payloads, [j.priority for j in jobs], [j.run_at for j in jobs], keys,
                [j.max_attempts for j in jobs], [j.is_sandbox for j in jobs]))
        row = await cur.fetchone()
    return list(row["ids"]) if row else []
