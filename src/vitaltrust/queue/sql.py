"""The queue's SQL. Every statement that touches a claimed job checks `locked_by`, so a
worker that lost its lease (rescued by the scheduler) can never complete or fail it."""

from __future__ import annotations

# The claim commits without waiting for its WAL flush (synchronous_commit off for this
# transaction only). Safe: the batch's completion commits synchronously later and flushes
# the claim with it; if PostgreSQL crashes before that, the claim and the batch's effects
# are lost together and the job is simply pending again.
CLAIM = """
WITH c AS (
    SELECT id FROM background_jobs
    WHERE status = 'pending' AND run_at <= now()
    ORDER BY priority, run_at, id
    LIMIT %(n)s
    FOR UPDATE SKIP LOCKED
)
UPDATE background_jobs b
SET status = 'processing', locked_by = %(worker)s, started_at = now(),
    locked_until = now() + %(lease)s * interval '1 second'
FROM c WHERE b.id = c.id
RETURNING b.id, b.type AS job_type, b.payload, b.priority, b.attempts, b.max_attempts, b.created_at,
          b.run_at, b.started_at, b.is_sandbox,
          set_config('synchronous_commit', 'off', true) AS async_commit
"""

# locked_by is kept on completed/failed rows: it tells which worker ran the job last.
COMPLETE_MANY = """
UPDATE background_jobs
SET status = 'completed', completed_at = now(), locked_until = NULL
WHERE id = ANY(%(ids)s) AND locked_by = %(worker)s AND status = 'processing'
RETURNING id
"""
COMPLETE_ONE = """
UPDATE background_jobs
SET status = 'completed', completed_at = now(), locked_until = NULL
WHERE id = %(id)s AND locked_by = %(worker)s AND status = 'processing'
RETURNING id
"""

# A failed attempt: back to pending after `delay` seconds, or 'failed' for good (the
# on_job_failure trigger logs it). A retried job keeps its dedupe key unless another
# pending job already holds it (that one does the same work).
FAIL_MANY = """
WITH f AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(delays)s::float8[],
                         %(final)s::bool[]) AS f(id, error, delay, final)
)
UPDATE background_jobs b
SET attempts = b.attempts + 1,
    last_error = f.error,
    status = CASE WHEN f.final OR b.attempts + 1 >= b.max_attempts THEN 'failed' ELSE 'pending' END,
    failed_at = CASE WHEN f.final OR b.attempts + 1 >= b.max_attempts THEN now() END,
    run_at = CASE WHEN f.final OR b.attempts + 1 >= b.max_attempts THEN b.run_at
                  ELSE now() + f.delay * interval '1 second' END,
    locked_until = NULL,
    locked_by = CASE WHEN f.final OR b.attempts + 1 >= b.max_attempts THEN b.locked_by END,
    dedupe_key = CASE
        WHEN f.final OR b.attempts + 1 >= b.max_attempts OR b.dedupe_key IS NULL THEN b.dedupe_key
        WHEN NOT %(keep_keys)s THEN NULL
        WHEN EXISTS (SELECT 1 FROM background_jobs p
                     WHERE p.dedupe_key = b.dedupe_key AND p.status = 'pending') THEN NULL
        ELSE b.dedupe_key END
FROM f
WHERE b.id = f.id AND b.locked_by = %(worker)s AND b.status = 'processing'
RETURNING b.id, b.type AS job_type, b.status, b.is_sandbox
"""

# Hand jobs back untouched (shutdown, lost connection): no attempt is counted. All of this
# worker's jobs when ids is NULL. A job whose twin (same dedupe key) is pending meanwhile goes
# back without its key: both run (handlers are idempotent) and the unique index holds.
RELEASE = """
UPDATE background_jobs b
SET status = 'pending', locked_by = NULL, locked_until = NULL, started_at = NULL,
    dedupe_key = CASE
        WHEN NOT %(keep_keys)s THEN NULL
        WHEN EXISTS (SELECT 1 FROM background_jobs p
                     WHERE p.dedupe_key = b.dedupe_key AND p.status = 'pending') THEN NULL
        ELSE b.dedupe_key END
WHERE (%(ids)s::bigint[] IS NULL OR b.id = ANY(%(ids)s::bigint[]))
  AND b.locked_by = %(worker)s AND b.status = 'processing'
"""

# Rows locked by a committing batch are skipped: those jobs are being completed.
EXTEND_LEASES = """
UPDATE background_jobs b
SET locked_until = now() + %(lease)s * interval '1 second'
FROM (SELECT id FROM background_jobs
      WHERE locked_by = %(worker)s AND status = 'processing'
      FOR UPDATE SKIP LOCKED) AS mine
WHERE b.id = mine.id
"""

# --- worker registry --------------------------------------------------------------------
UPSERT_WORKER = """
INSERT INTO workers AS w (worker_id, host, pid, version, concurrency, heartbeat_seconds,
                          jobs_completed, jobs_failed, is_leader)
VALUES (%(worker)s, %(host)s, %(pid)s, %(version)s, %(concurrency)s, %(heartbeat)s,
        %(completed)s, %(failed)s, %(leader)s)
ON CONFLICT (worker_id) DO UPDATE SET
    last_seen_at = now(), jobs_completed = EXCLUDED.jobs_completed,
    jobs_failed = EXCLUDED.jobs_failed, is_leader = EXCLUDED.is_leader
"""
DELETE_WORKER = "DELETE FROM workers WHERE worker_id = %s"

LISTEN = "LISTEN vitaltrust_jobs"
