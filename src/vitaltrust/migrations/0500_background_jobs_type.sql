-- The specification names the job type column of background_jobs `type`; operators run
-- `SELECT COUNT(*) FROM background_jobs WHERE type = 'confidence_calculation' AND status = 'pending'`.
-- Indexes, constraints and views follow a renamed column by themselves; the functions
-- whose bodies name it are stored as text, so they are redefined here unchanged but for
-- the column name (privileges of the SECURITY DEFINER function are kept by OR REPLACE).
ALTER TABLE background_jobs RENAME COLUMN job_type TO type;


CREATE OR REPLACE FUNCTION notify_failed_job() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO edge_function_logs
        (function_name, level, event, message, job_id, job_type, attempts, error,
         payload_summary, webhook_event_id)
    VALUES ('job-worker', 'error', 'job_failed',
            format('job %s (%s) failed after %s attempt(s)', NEW.id, NEW.type, NEW.attempts),
            NEW.id, NEW.type, NEW.attempts, left(NEW.last_error, 2000),
            job_payload_summary(NEW.payload),
            CASE WHEN jsonb_typeof(NEW.payload -> 'webhook_event_id') = 'number'
                 THEN (NEW.payload ->> 'webhook_event_id')::bigint END);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION retry_failed_jobs(p_job_type text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH locked AS (
        SELECT id, dedupe_key FROM background_jobs
        WHERE status = 'failed' AND (p_job_type IS NULL OR type = p_job_type)
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

CREATE OR REPLACE FUNCTION enqueue_initial_confidence_calculations()
RETURNS TABLE (job_id bigint, user_id bigint, metric text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH pairs AS (
        SELECT DISTINCT s.user_id, s.metric FROM metric_samples s
    ), created AS (
        INSERT INTO background_jobs (type, payload, dedupe_key, is_sandbox)
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

CREATE OR REPLACE FUNCTION get_monitoring_dashboard_data(p_trainer_id bigint DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    v_since_24h   timestamptz := now() - interval '24 hours';
    v_queue       jsonb;
    v_confidence  jsonb;
    v_webhooks    jsonb;
    v_workers     jsonb;
    v_activity    jsonb;
    v_pending     bigint;
    v_failed_rate numeric;
    v_success     numeric;
    v_excellent   numeric;
    v_alive       bigint;
    v_leader      text;
    v_checks      jsonb;
    v_reasons     text[] := '{}';
    v_breached    integer;
    v_status      text;
BEGIN
    -- job queue: live counts of the small states, 24 h outcomes from the rollup
    WITH live AS (
        SELECT count(*) FILTER (WHERE b.status = 'pending') AS pending,
               count(*) FILTER (WHERE b.status = 'processing') AS processing
        FROM background_jobs b
        WHERE b.status IN ('pending', 'processing') AND NOT b.is_sandbox
    ), dead AS (
        SELECT count(*) AS failed FROM background_jobs b
        WHERE b.status = 'failed' AND NOT b.is_sandbox
    ), oldest AS (
        SELECT min(b.created_at) AS created_at FROM background_jobs b
        WHERE b.status = 'pending' AND NOT b.is_sandbox AND b.run_at <= now()
    ), day AS (
        SELECT coalesce(sum(j.completed), 0) AS completed, coalesce(sum(j.failed), 0) AS failed,
               coalesce(sum(j.retried), 0) AS retried
        FROM job_stats_minute j WHERE j.bucket >= v_since_24h
    )
    SELECT jsonb_build_object(
               'pending', live.pending, 'processing', live.processing, 'failed', dead.failed,
               'completed_24h', day.completed, 'failed_24h', day.failed,
               'retried_24h', day.retried,
               'failed_rate_24h', round(100.0 * day.failed / nullif(day.completed + day.failed, 0), 2),
               'oldest_pending_age_seconds',
                   round(extract(epoch FROM now() - oldest.created_at)::numeric, 1)),
           live.pending, round(100.0 * day.failed / nullif(day.completed + day.failed, 0), 2)
      INTO v_queue, v_pending, v_failed_rate
      FROM live, dead, oldest, day;

    -- confidence: system-wide from the cache, or the trainer's clients only
    WITH per_metric AS (
        SELECT * FROM confidence_current_stats WHERE p_trainer_id IS NULL
        UNION ALL
        SELECT * FROM trainer_confidence_stats(p_trainer_id) WHERE p_trainer_id IS NOT NULL
    ), total AS (
        SELECT coalesce(sum(user_metrics), 0) AS n, sum(score_sum) AS score_sum,
               coalesce(sum(excellent), 0) AS excellent, coalesce(sum(good), 0) AS good,
               coalesce(sum(fair), 0) AS fair, coalesce(sum(poor), 0) AS poor,
               coalesce(sum(insufficient), 0) AS insufficient
        FROM per_metric
    )
    SELECT jsonb_build_object(
               'scope', CASE WHEN p_trainer_id IS NULL THEN 'all users' ELSE 'your clients' END,
               'user_metrics', total.n,
               'average', round(total.score_sum / nullif(total.n, 0), 1),
               'distribution', jsonb_build_object(
                   'excellent', total.excellent, 'good', total.good, 'fair', total.fair,
                   'poor', total.poor, 'insufficient', total.insufficient),
               'excellent_share', round(100.0 * total.excellent / nullif(total.n, 0), 2)),
           round(100.0 * total.excellent / nullif(total.n, 0), 2)
      INTO v_confidence, v_excellent
      FROM total;

    -- webhooks over the last 24 h, sandbox sources excluded
    WITH w AS (
        SELECT coalesce(sum(m.received), 0) AS received, coalesce(sum(m.processed), 0) AS processed,
               coalesce(sum(m.unmatched), 0) AS unmatched, coalesce(sum(m.failed), 0) AS failed,
               coalesce(sum(m.rejected), 0) AS rejected,
               coalesce(sum(m.rate_limited), 0) AS rate_limited,
               coalesce(sum(m.duplicates), 0) AS duplicates,
               coalesce(sum(m.processing_ms), 0) AS processing_ms
        FROM webhook_stats_minute m
        JOIN webhook_sources s ON s.source_id = m.source_id AND NOT s.is_sandbox
        WHERE m.bucket >= v_since_24h
    )
    SELECT jsonb_build_object(
               'received_24h', w.received, 'processed_24h', w.processed,
               'unmatched_24h', w.unmatched, 'failed_24h', w.failed,
               'rejected_24h', w.rejected, 'rate_limited_24h', w.rate_limited,
               'duplicates_24h', w.duplicates,
               'success_rate_24h',
                   round(100.0 * w.processed / nullif(w.processed + w.unmatched + w.failed, 0), 2),
               'avg_processing_ms',
                   round((w.processing_ms / nullif(w.processed + w.unmatched + w.failed, 0))::numeric, 2)),
           round(100.0 * w.processed / nullif(w.processed + w.unmatched + w.failed, 0), 2)
      INTO v_webhooks, v_success
      FROM w;

    -- workers that heartbeated within 3 intervals
    SELECT count(*), max(k.worker_id) FILTER (WHERE k.is_leader),
           coalesce(jsonb_agg(jsonb_build_object(
               'worker_id', k.worker_id, 'host', k.host, 'pid', k.pid, 'version', k.version,
               'concurrency', k.concurrency, 'is_leader', k.is_leader,
               'last_seen_at', k.last_seen_at, 'jobs_completed', k.jobs_completed,
               'jobs_failed', k.jobs_failed) ORDER BY k.worker_id), '[]'::jsonb)
      INTO v_alive, v_leader, v_workers
      FROM workers k
     WHERE k.last_seen_at > now() - make_interval(secs => 3 * k.heartbeat_seconds);

    -- the latest transitions: newest enqueued, running, completed and failed jobs
    WITH candidates AS (
        (SELECT b.* FROM background_jobs b WHERE NOT b.is_sandbox ORDER BY b.id DESC LIMIT 10)
        UNION
        (SELECT b.* FROM background_jobs b WHERE b.status = 'completed' AND NOT b.is_sandbox
         ORDER BY b.completed_at DESC LIMIT 10)
        UNION
        (SELECT b.* FROM background_jobs b WHERE b.status = 'failed' AND NOT b.is_sandbox
         ORDER BY b.failed_at DESC LIMIT 10)
        UNION
        (SELECT b.* FROM background_jobs b WHERE b.status = 'processing' AND NOT b.is_sandbox
         ORDER BY b.started_at DESC LIMIT 10)
    ), events AS (
        SELECT c.id, c.type, c.status, c.attempts, c.max_attempts,
               left(c.last_error, 300) AS error,
               CASE c.status WHEN 'completed' THEN c.completed_at WHEN 'failed' THEN c.failed_at
                             WHEN 'processing' THEN c.started_at ELSE c.created_at END AS at,
               CASE WHEN c.status IN ('completed', 'failed') AND c.started_at IS NOT NULL
                    THEN round(extract(epoch FROM coalesce(c.completed_at, c.failed_at)
                                                  - c.started_at)::numeric * 1000, 1) END
                   AS duration_ms
        FROM candidates c
        ORDER BY 7 DESC NULLS LAST, c.id DESC
        LIMIT 10
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'job_id', e.id, 'job_type', e.type,
               'event', CASE e.status WHEN 'pending' THEN 'enqueued' WHEN 'processing' THEN 'started'
                                      ELSE e.status END,
               'status', e.status, 'at', e.at, 'attempts', e.attempts,
               'max_attempts', e.max_attempts, 'duration_ms', e.duration_ms,
               'error', e.error) ORDER BY e.at DESC NULLS LAST, e.id DESC), '[]'::jsonb)
      INTO v_activity
      FROM events e;

    -- health: each seed threshold with its value; missing data counts as passing
    v_checks := jsonb_build_array(
        jsonb_build_object('name', 'pending_jobs', 'label', 'Pending jobs',
            'value', v_pending, 'threshold', 100, 'comparison', '<', 'unit', 'jobs',
            'ok', v_pending < 100),
        jsonb_build_object('name', 'failed_job_rate', 'label', 'Failed-job rate (24 h)',
            'value', v_failed_rate, 'threshold', 5, 'comparison', '<', 'unit', '%',
            'ok', coalesce(v_failed_rate < 5, true)),
        jsonb_build_object('name', 'webhook_success_rate', 'label', 'Webhook success (24 h)',
            'value', v_success, 'threshold', 95, 'comparison', '>', 'unit', '%',
            'ok', coalesce(v_success > 95, true)),
        jsonb_build_object('name', 'excellent_share', 'label', 'Excellent confidence share',
            'value', v_excellent, 'threshold', 80, 'comparison', '>=', 'unit', '%',
            'ok', coalesce(v_excellent >= 80, true)));

    SELECT count(*)::integer, coalesce(array_agg(
               format('%s is %s%s, threshold %s %s%s', c->>'label', c->>'value', c->>'unit',
                      c->>'comparison', c->>'threshold', c->>'unit')), '{}')
      INTO v_breached, v_reasons
      FROM jsonb_array_elements(v_checks) AS c
     WHERE NOT (c->>'ok')::boolean;

    IF v_pending > 0 AND v_alive = 0 THEN
        v_reasons := array_prepend(format(
            'No worker is alive but %s job(s) are pending: nothing is being processed.', v_pending),
            v_reasons);
        v_status := 'critical';
    ELSIF v_breached >= 2 THEN
        v_status := 'critical';
    ELSIF v_breached = 1 THEN
        v_status := 'degraded';
    ELSE
        v_status := 'healthy';
    END IF;
    IF v_leader IS NULL THEN
        v_reasons := v_reasons || CASE WHEN v_alive = 0
            THEN 'No worker is alive, so there is no scheduler leader: stalled-job rescue, rollups and retention are not running.'
            ELSE 'No scheduler leader: stalled-job rescue, rollups and retention are not running.' END;
        IF v_status = 'healthy' THEN
            v_status := 'degraded';
        END IF;
    END IF;

    RETURN jsonb_build_object(
        'generated_at', now(),
        'scope', CASE WHEN p_trainer_id IS NULL THEN 'system' ELSE 'trainer' END,
        'job_queue', v_queue,
        'confidence', v_confidence,
        'webhooks', v_webhooks,
        'workers', jsonb_build_object('alive', v_alive, 'leader', v_leader, 'workers', v_workers),
        'system_health', jsonb_build_object(
            'status', v_status,
            'summary', CASE v_status
                WHEN 'healthy' THEN 'All checks pass.'
                ELSE array_to_string(v_reasons, ' ') END,
            'reasons', to_jsonb(v_reasons),
            'checks', v_checks),
        'recent_activity', v_activity);
END
$$;

CREATE OR REPLACE FUNCTION selftest_drop_sandboxes_once(p_user_ids bigint[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_users   bigint[];
    v_sources int[];
BEGIN
    SELECT coalesce(array_agg(b.user_id), '{}'), coalesce(array_agg(DISTINCT s.id), '{}')
    INTO v_users, v_sources
    FROM selftest_sandboxes b
    LEFT JOIN LATERAL unnest(b.source_ids) AS s(id) ON true
    WHERE b.user_id = ANY (p_user_ids);
    IF cardinality(v_users) = 0 THEN
        RETURN 0;
    END IF;
    -- their queued work (a job already running finds nothing left to do)
    DELETE FROM background_jobs j
    WHERE j.is_sandbox AND j.status <> 'processing'
      AND ((j.type = 'confidence_calculation'
            AND (j.payload ->> 'user_id')::bigint = ANY (v_users))
        OR (j.type = 'webhook_processing'
            AND (j.payload ->> 'webhook_event_id')::bigint IN (
                SELECT e.webhook_event_id FROM webhook_events e
                WHERE e.source_id = ANY (v_sources))));
    -- samples, conflicts, cache, history, tokens, account links cascade from the user
    DELETE FROM users u WHERE u.user_id = ANY (v_users) AND u.is_sandbox;
    DELETE FROM edge_function_logs l WHERE l.webhook_event_id IN (
        SELECT e.webhook_event_id FROM webhook_events e WHERE e.source_id = ANY (v_sources));
    DELETE FROM webhook_events e WHERE e.source_id = ANY (v_sources);
    DELETE FROM webhook_stats_minute w WHERE w.source_id = ANY (v_sources);
    DELETE FROM rate_limit_state r
    WHERE r.bucket_key IN (SELECT 'src:' || x FROM unnest(v_sources) AS x)
       OR split_part(r.bucket_key, ':', 1) = 'acct'
          AND split_part(r.bucket_key, ':', 2) IN (SELECT x::text FROM unnest(v_sources) AS x);
    DELETE FROM webhook_sources s WHERE s.source_id = ANY (v_sources) AND s.is_sandbox;
    DELETE FROM selftest_sandboxes b WHERE b.user_id = ANY (v_users);
    RETURN cardinality(v_users);
END
$$;
