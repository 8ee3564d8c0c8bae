-- The queue's operator functions, its failure trigger and the scheduler's task ledger.

-- A failed job leaves one row in edge_function_logs. The payload summary keeps top-level
-- scalars (ids, codes) and replaces nested values by their type, so logs stay small.
CREATE FUNCTION job_payload_summary(p jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(p) <> 'object' THEN to_jsonb(jsonb_typeof(p))
    ELSE coalesce((
        SELECT jsonb_object_agg(key, CASE
            WHEN jsonb_typeof(value) IN ('object', 'array') THEN to_jsonb(jsonb_typeof(value))
            WHEN length(value::text) > 120 THEN to_jsonb(left(value::text, 117) || '...')
            ELSE value END)
        FROM (SELECT key, value FROM jsonb_each(p) ORDER BY key LIMIT 20) AS s
    ), '{}'::jsonb) END
$$;

CREATE FUNCTION notify_failed_job() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO edge_function_logs
        (function_name, level, event, message, job_id, job_type, attempts, error,
         payload_summary, webhook_event_id)
    VALUES ('job-worker', 'error', 'job_failed',
            format('job %s (%s) failed after %s attempt(s)', NEW.id, NEW.job_type, NEW.attempts),
            NEW.id, NEW.job_type, NEW.attempts, left(NEW.last_error, 2000),
            job_payload_summary(NEW.payload),
            CASE WHEN jsonb_typeof(NEW.payload -> 'webhook_event_id') = 'number'
                 THEN (NEW.payload ->> 'webhook_event_id')::bigint END);
    RETURN NULL;
END
$$;

CREATE TRIGGER on_job_failure
    AFTER UPDATE OF status ON background_jobs
    FOR EACH ROW
    WHEN (NEW.status = 'failed')
    EXECUTE FUNCTION notify_failed_job();

-- Requeue failed jobs (all types when p_job_type is NULL); returns how many.
-- Attempts rule: an operator's retry gives the job a fresh set of attempts (attempts = 0);
-- last_error is kept until the next attempt overwrites it.
-- At most one pending job per dedupe key: a failed job whose key already has a pending
-- job (or a newer failed twin being requeued) is requeued without its key.
CREATE FUNCTION retry_failed_jobs(p_job_type text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH locked AS (
        SELECT id, dedupe_key FROM background_jobs
        WHERE status = 'failed' AND (p_job_type IS NULL OR job_type = p_job_type)
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

-- One confidence_calculation job per (user, metric) that has samples, deduplicated with
-- the pending ones; returns the jobs it created. Sandbox users' jobs are marked is_sandbox.
CREATE FUNCTION enqueue_initial_confidence_calculations()
RETURNS TABLE (job_id bigint, user_id bigint, metric text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH pairs AS (
        SELECT DISTINCT s.user_id, s.metric FROM metric_samples s
    ), created AS (
        INSERT INTO background_jobs (job_type, payload, dedupe_key, is_sandbox)
        SELECT 'confidence_calculation',
               jsonb_build_object('user_id', p.user_id, 'metric', p.metric),
               'confidence:' || p.user_id || ':' || p.metric,
               u.is_sandbox
        FROM pairs p JOIN users u ON u.user_id = p.user_id
        ORDER BY p.user_id, p.metric
        ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL DO NOTHING
        RETURNING background_jobs.id, background_jobs.payload
    )
    SELECT c.id, (c.payload ->> 'user_id')::bigint, c.payload ->> 'metric'
    FROM created c ORDER BY 2, 3;
    IF FOUND THEN
        PERFORM pg_notify('vitaltrust_jobs', 'confidence');
    END IF;
END
$$;

-- When each periodic task last ran, so a new scheduler leader does not rerun them all.
CREATE TABLE scheduler_tasks (
    name          text PRIMARY KEY,
    last_run_at   timestamptz,
    last_ok_at    timestamptz,
    last_error    text,
    last_ms       double precision
);
