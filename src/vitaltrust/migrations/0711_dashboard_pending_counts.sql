-- get_monitoring_dashboard_data() and job_processing_stats read the pending counts from
-- job_pending_by_day, and the dashboard its failed count from job_failed_by_type (0710),
-- instead of counting background_jobs; output unchanged. The function is otherwise as in
-- 0500, which had also dropped 0302's jit = off with its CREATE OR REPLACE (restored here).

CREATE OR REPLACE FUNCTION get_monitoring_dashboard_data(p_trainer_id bigint DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
SET jit = off AS $$
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
    -- job queue: pending and failed from the exact counters, processing counted, the
    -- oldest runnable job an ordered lookup, 24 h outcomes from the rollup
    WITH live AS (
        SELECT (SELECT coalesce(sum(p.pending), 0)::bigint FROM job_pending_by_day p) AS pending,
               (SELECT count(*) FROM background_jobs b
                 WHERE b.status = 'processing' AND NOT b.is_sandbox) AS processing
    ), dead AS (
        SELECT coalesce(sum(f.failed), 0)::bigint AS failed FROM job_failed_by_type f
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

-- Same columns as in 0302; pending jobs per enqueue date come from the counters (dates
-- before the window still fold onto its first day).
CREATE OR REPLACE VIEW job_processing_stats AS
WITH finished AS (
    SELECT d.* FROM job_stats_daily d
    WHERE d.date >= (monitoring_window_start(7) AT TIME ZONE 'UTC')::date
      AND d.date < (monitoring_first_raw_instant() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT r.* FROM job_stats_by_day(
        greatest(monitoring_window_start(7), monitoring_first_raw_instant()), 'infinity') r
),
-- jobs still pending, by the date they were enqueued (older ones on the window's first day)
waiting AS (
    SELECT greatest(p.day, (monitoring_window_start(7) AT TIME ZONE 'UTC')::date) AS date,
           p.type AS job_type, sum(p.pending)::bigint AS pending
    FROM job_pending_by_day p
    GROUP BY 1, 2
)
SELECT coalesce(f.date, w.date) AS date, coalesce(f.job_type, w.job_type) AS job_type,
       coalesce(f.completed, 0) AS completed, coalesce(f.failed, 0) AS failed,
       coalesce(w.pending, 0) AS pending, coalesce(f.retried, 0) AS retried,
       round((f.total_ms / nullif(f.completed + f.failed + f.retried, 0))::numeric, 2)
           AS avg_processing_ms,
       round((f.wait_ms / nullif(f.completed + f.failed + f.retried, 0))::numeric, 2)
           AS avg_wait_ms,
       round(100.0 * f.failed / nullif(f.completed + f.failed, 0), 2) AS failure_rate
FROM finished f
FULL JOIN waiting w ON w.date = f.date AND w.job_type = f.job_type;
