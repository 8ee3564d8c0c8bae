-- Operator console: every failed attempt of a job (when, which worker, how long, the error
-- and its traceback), and an index that pages through failed jobs newest first.
-- Attempts of a job that succeeded on its last try: only the failed ones are rows here;
-- the success is the job's own completed_at. Retention deletes a job's attempts with it.

CREATE TABLE job_attempts (
    attempt_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint NOT NULL REFERENCES background_jobs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,          -- the job's attempts count after this attempt
    worker_id   text,
    started_at  timestamptz,
    finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms double precision,
    outcome     text NOT NULL CHECK (outcome IN ('retried', 'failed')),
    error       text,
    traceback   text
);
CREATE INDEX job_attempts_job ON job_attempts (job_id, attempt_id);

-- The failed-jobs list pages by id (keyset) without visiting other jobs.
CREATE INDEX background_jobs_failed_id ON background_jobs (id) WHERE status = 'failed';

-- retry_failed_jobs() for a selection: the failed jobs among p_ids go back to pending with
-- fresh attempts (the same dedupe-key rule: a pending twin keeps its key, ours drops it).
CREATE FUNCTION retry_failed_job_ids(p_ids bigint[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH locked AS (
        SELECT id, dedupe_key FROM background_jobs
        WHERE status = 'failed' AND id = ANY(p_ids)
        FOR UPDATE SKIP LOCKED
    ), failed AS (
        SELECT id, dedupe_key,
               row_number() OVER (PARTITION BY dedupe_key ORDER BY id DESC) AS nth
        FROM locked
    )
    UPDATE background_jobs b
    SET status = 'pending', attempts = 0, run_at = now(), failed_at = NULL,
        locked_by = NULL, locked_until = NULL,
        dedupe_key = CASE
            WHEN f.dedupe_key IS NULL OR f.nth > 1 THEN NULL
            WHEN EXISTS (SELECT 1 FROM background_jobs p
                         WHERE p.dedupe_key = f.dedupe_key AND p.status = 'pending') THEN NULL
            ELSE f.dedupe_key END
    FROM failed f
    WHERE b.id = f.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('vitaltrust_jobs', 'retry');
    END IF;
    RETURN n;
END
$$;

-- One retry rule: retrying every failed job (of a type) is retrying that selection.
CREATE OR REPLACE FUNCTION retry_failed_jobs(p_job_type text DEFAULT NULL) RETURNS integer
LANGUAGE sql AS $$
    SELECT retry_failed_job_ids(ARRAY(
        SELECT id FROM background_jobs
        WHERE status = 'failed' AND (p_job_type IS NULL OR type = p_job_type)))
$$;
