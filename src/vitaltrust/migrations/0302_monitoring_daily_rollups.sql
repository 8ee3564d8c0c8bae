-- Daily rollups under the 7-day views: a view reads at most 7 daily rows per key plus the
-- minute rows of the days not rolled up yet (today, and yesterday for a few minutes), so
-- its cost no longer grows with the minutes in its window. rollup_monitoring_days() (the
-- scheduler, every 5 minutes) folds each complete UTC day once; a view's answer is the
-- same before and after a rollup. Also: JIT off in the dashboard functions (compiling costs
-- ~1 s on a busy 2-core host, far more than these millisecond queries).

-- Per-day sums of minute rows in [p_from, p_to): shared by the rollup and the views.
-- Plain STABLE SQL, so the planner inlines it and uses the bucket indexes.
CREATE FUNCTION function_stats_by_day(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (date date, function_name text, invocations bigint, errors bigint, items bigint,
               total_ms double precision, max_ms double precision, hist bigint[])
LANGUAGE sql STABLE AS $$
    SELECT (f.bucket AT TIME ZONE 'UTC')::date, f.function_name,
           sum(f.invocations)::bigint, sum(f.errors)::bigint, sum(f.items)::bigint,
           sum(f.total_ms), max(f.max_ms),
           ARRAY[sum(f.hist[1]), sum(f.hist[2]), sum(f.hist[3]), sum(f.hist[4]),
                 sum(f.hist[5]), sum(f.hist[6]), sum(f.hist[7]), sum(f.hist[8]),
                 sum(f.hist[9]), sum(f.hist[10]), sum(f.hist[11]), sum(f.hist[12]),
                 sum(f.hist[13]), sum(f.hist[14]), sum(f.hist[15]), sum(f.hist[16])
           ]::bigint[]
    FROM function_stats_minute f
    WHERE f.bucket >= p_from AND f.bucket < p_to
    GROUP BY 1, 2
$$;

CREATE FUNCTION job_stats_by_day(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (date date, job_type text, completed bigint, failed bigint, retried bigint,
               total_ms double precision, wait_ms double precision)
LANGUAGE sql STABLE AS $$
    SELECT (j.bucket AT TIME ZONE 'UTC')::date, j.job_type,
           sum(j.completed)::bigint, sum(j.failed)::bigint, sum(j.retried)::bigint,
           sum(j.total_ms), sum(j.wait_ms)
    FROM job_stats_minute j
    WHERE j.bucket >= p_from AND j.bucket < p_to
    GROUP BY 1, 2
$$;

CREATE FUNCTION webhook_stats_by_day(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (date date, source_id int, received bigint, duplicates bigint, rejected bigint,
               rate_limited bigint, processed bigint, unmatched bigint, failed bigint,
               processing_ms double precision)
LANGUAGE sql STABLE AS $$
    SELECT (w.bucket AT TIME ZONE 'UTC')::date, w.source_id,
           sum(w.received)::bigint, sum(w.duplicates)::bigint, sum(w.rejected)::bigint,
           sum(w.rate_limited)::bigint, sum(w.processed)::bigint, sum(w.unmatched)::bigint,
           sum(w.failed)::bigint, sum(w.processing_ms)
    FROM webhook_stats_minute w
    WHERE w.bucket >= p_from AND w.bucket < p_to
    GROUP BY 1, 2
$$;

CREATE TABLE function_stats_daily (
    date date NOT NULL, function_name text NOT NULL, invocations bigint NOT NULL,
    errors bigint NOT NULL, items bigint NOT NULL, total_ms double precision NOT NULL,
    max_ms double precision NOT NULL, hist bigint[] NOT NULL,
    PRIMARY KEY (date, function_name)
);
CREATE TABLE job_stats_daily (
    date date NOT NULL, job_type text NOT NULL, completed bigint NOT NULL,
    failed bigint NOT NULL, retried bigint NOT NULL, total_ms double precision NOT NULL,
    wait_ms double precision NOT NULL,
    PRIMARY KEY (date, job_type)
);
CREATE TABLE webhook_stats_daily (
    date date NOT NULL, source_id int NOT NULL, received bigint NOT NULL,
    duplicates bigint NOT NULL, rejected bigint NOT NULL, rate_limited bigint NOT NULL,
    processed bigint NOT NULL, unmatched bigint NOT NULL, failed bigint NOT NULL,
    processing_ms double precision NOT NULL,
    PRIMARY KEY (date, source_id)
);

-- The last UTC day folded into the *_daily tables; later days are read from minute rows.
CREATE TABLE monitoring_rollup_state (
    name           text PRIMARY KEY,
    rolled_through date NOT NULL
);

CREATE FUNCTION monitoring_first_raw_instant() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT (s.rolled_through + 1)::timestamp AT TIME ZONE 'UTC'
                     FROM monitoring_rollup_state s WHERE s.name = 'daily'), '-infinity')
$$;

-- Fold every complete day (10 minutes after UTC midnight, so late statistics flushes land
-- first) into the daily tables; returns how many days it folded.
CREATE FUNCTION rollup_monitoring_days() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_upto    date := ((now() - interval '10 minutes') AT TIME ZONE 'UTC')::date - 1;
    v_through date;
    v_from    timestamptz;
    v_to      timestamptz;
BEGIN
    INSERT INTO monitoring_rollup_state (name, rolled_through)
    SELECT 'daily', (coalesce(least(
               (SELECT min(bucket) FROM function_stats_minute),
               (SELECT min(bucket) FROM job_stats_minute),
               (SELECT min(bucket) FROM webhook_stats_minute)), now()) AT TIME ZONE 'UTC')::date - 1
    ON CONFLICT (name) DO NOTHING;
    SELECT rolled_through INTO v_through FROM monitoring_rollup_state
     WHERE name = 'daily' FOR UPDATE;
    IF v_through >= v_upto THEN
        RETURN 0;
    END IF;
    v_from := (v_through + 1)::timestamp AT TIME ZONE 'UTC';
    v_to := (v_upto + 1)::timestamp AT TIME ZONE 'UTC';

    INSERT INTO function_stats_daily SELECT * FROM function_stats_by_day(v_from, v_to)
    ON CONFLICT (date, function_name) DO UPDATE SET
        invocations = EXCLUDED.invocations, errors = EXCLUDED.errors, items = EXCLUDED.items,
        total_ms = EXCLUDED.total_ms, max_ms = EXCLUDED.max_ms, hist = EXCLUDED.hist;
    INSERT INTO job_stats_daily SELECT * FROM job_stats_by_day(v_from, v_to)
    ON CONFLICT (date, job_type) DO UPDATE SET
        completed = EXCLUDED.completed, failed = EXCLUDED.failed, retried = EXCLUDED.retried,
        total_ms = EXCLUDED.total_ms, wait_ms = EXCLUDED.wait_ms;
    INSERT INTO webhook_stats_daily SELECT * FROM webhook_stats_by_day(v_from, v_to)
    ON CONFLICT (date, source_id) DO UPDATE SET
        received = EXCLUDED.received, duplicates = EXCLUDED.duplicates,
        rejected = EXCLUDED.rejected, rate_limited = EXCLUDED.rate_limited,
        processed = EXCLUDED.processed, unmatched = EXCLUDED.unmatched,
        failed = EXCLUDED.failed, processing_ms = EXCLUDED.processing_ms;

    UPDATE monitoring_rollup_state SET rolled_through = v_upto WHERE name = 'daily';
    RETURN v_upto - v_through;
END
$$;

-- Same columns as in 0300; only the source of each day changes.
CREATE OR REPLACE VIEW edge_function_performance AS
WITH daily AS (
    SELECT d.* FROM function_stats_daily d
    WHERE d.date >= (monitoring_window_start(7) AT TIME ZONE 'UTC')::date
      AND d.date < (monitoring_first_raw_instant() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT r.* FROM function_stats_by_day(
        greatest(monitoring_window_start(7), monitoring_first_raw_instant()), 'infinity') r
)
SELECT date, function_name, invocations, errors,
       round(100.0 * errors / nullif(invocations, 0), 2) AS error_rate,
       round((total_ms / nullif(invocations, 0))::numeric, 2) AS avg_duration_ms,
       round(histogram_quantile_ms(hist, 0.95)::numeric, 2) AS p95_duration_ms,
       round(max_ms::numeric, 2) AS max_duration_ms,
       items
FROM daily;

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
    SELECT greatest((b.created_at AT TIME ZONE 'UTC')::date,
                    (monitoring_window_start(7) AT TIME ZONE 'UTC')::date) AS date,
           b.job_type, count(*) AS pending
    FROM background_jobs b
    WHERE b.status = 'pending' AND NOT b.is_sandbox
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

CREATE OR REPLACE VIEW webhook_processing_stats AS
WITH daily AS (
    SELECT d.* FROM webhook_stats_daily d
    WHERE d.date >= (monitoring_window_start(7) AT TIME ZONE 'UTC')::date
      AND d.date < (monitoring_first_raw_instant() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT r.* FROM webhook_stats_by_day(
        greatest(monitoring_window_start(7), monitoring_first_raw_instant()), 'infinity') r
)
SELECT d.date, s.name AS source, d.source_id, d.received, d.processed, d.failed,
       d.rejected, d.rate_limited, d.duplicates, d.unmatched,
       -- of the deliveries whose processing finished, the share that produced data
       round(100.0 * d.processed / nullif(d.processed + d.unmatched + d.failed, 0), 2)
           AS success_rate,
       round((d.processing_ms / nullif(d.processed + d.unmatched + d.failed, 0))::numeric, 2)
           AS avg_processing_ms
FROM daily d
JOIN webhook_sources s ON s.source_id = d.source_id AND NOT s.is_sandbox;

ALTER FUNCTION get_monitoring_dashboard_data(bigint) SET jit = off;
ALTER FUNCTION trainer_confidence_stats(bigint) SET jit = off;
ALTER FUNCTION trainer_data_quality_trends(bigint) SET jit = off;
