-- Monitoring: rollup indexes and totals, the confidence daily snapshot, and the four views.
-- Every view reads per-minute or per-day rollups (never the raw event tables) so that it
-- answers in milliseconds at production volume. Dates are UTC calendar dates; rates are
-- percentages (0-100). Sandbox data is excluded: webhook rollups by source, confidence by
-- user; job and function rollups are written without sandbox work (see monitoring/stats.py).

-- The views read a time range across all keys: index the bucket alone.
CREATE INDEX function_stats_minute_bucket ON function_stats_minute (bucket);
CREATE INDEX webhook_stats_minute_bucket ON webhook_stats_minute (bucket);
CREATE INDEX job_stats_minute_bucket ON job_stats_minute (bucket);

-- Few sandbox users exist; this makes "not a sandbox user" a tiny hashed lookup.
CREATE INDEX users_sandbox ON users (user_id) WHERE is_sandbox;

-- Failed jobs are kept until retried: count and retry them without a heap scan.
CREATE INDEX background_jobs_failed ON background_jobs (job_type, is_sandbox, failed_at)
    WHERE status = 'failed';
-- "Recent activity": the latest completions without scanning the whole queue.
CREATE INDEX background_jobs_completed_recent ON background_jobs (completed_at)
    WHERE status = 'completed';

-- Cumulative totals since install (Prometheus counters): one row per key, added to by the
-- same flush that writes the minute rollups, so a scrape reads a handful of rows.
CREATE TABLE function_stats_total (
    function_name text PRIMARY KEY,
    invocations   bigint NOT NULL DEFAULT 0,
    errors        bigint NOT NULL DEFAULT 0,
    items         bigint NOT NULL DEFAULT 0,
    total_ms      double precision NOT NULL DEFAULT 0,
    hist          bigint[] NOT NULL
);
CREATE TABLE webhook_stats_total (
    source_id     int PRIMARY KEY,
    received      bigint NOT NULL DEFAULT 0,
    duplicates    bigint NOT NULL DEFAULT 0,
    rejected      bigint NOT NULL DEFAULT 0,
    rate_limited  bigint NOT NULL DEFAULT 0,
    processed     bigint NOT NULL DEFAULT 0,
    unmatched     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    processing_ms double precision NOT NULL DEFAULT 0
);

-- p-quantile of a duration histogram (counts per bucket of function_duration_bounds_ms(),
-- plus one overflow bucket), interpolated linearly inside the bucket like Prometheus.
CREATE FUNCTION histogram_quantile_ms(p_counts bigint[], p_q double precision)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    bounds double precision[] := function_duration_bounds_ms();
    total  numeric := 0;
    target numeric;
    below  numeric := 0;
    lower  double precision := 0;
BEGIN
    SELECT coalesce(sum(n), 0) INTO total FROM unnest(p_counts) AS n;
    IF total = 0 THEN
        RETURN NULL;
    END IF;
    target := p_q * total;
    FOR i IN 1 .. cardinality(p_counts) LOOP
        IF p_counts[i] > 0 AND below + p_counts[i] >= target THEN
            IF i > cardinality(bounds) THEN
                RETURN bounds[cardinality(bounds)];
            END IF;
            RETURN lower + (bounds[i] - lower) * ((target - below) / p_counts[i]);
        END IF;
        below := below + p_counts[i];
        IF i <= cardinality(bounds) THEN
            lower := bounds[i];
        END IF;
    END LOOP;
    RETURN lower;
END
$$;

-- First instant of the rolling window that covers today and the (p_days - 1) days before (UTC).
CREATE FUNCTION monitoring_window_start(p_days integer) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT (((now() AT TIME ZONE 'UTC')::date - (p_days - 1))::timestamp) AT TIME ZONE 'UTC' $$;

CREATE VIEW edge_function_performance AS
WITH daily AS (
    SELECT (f.bucket AT TIME ZONE 'UTC')::date AS date, f.function_name,
           sum(f.invocations)::bigint AS invocations, sum(f.errors)::bigint AS errors,
           sum(f.items)::bigint AS items,
           sum(f.total_ms) AS total_ms, max(f.max_ms) AS max_ms,
           ARRAY[sum(f.hist[1]), sum(f.hist[2]), sum(f.hist[3]), sum(f.hist[4]),
                 sum(f.hist[5]), sum(f.hist[6]), sum(f.hist[7]), sum(f.hist[8]),
                 sum(f.hist[9]), sum(f.hist[10]), sum(f.hist[11]), sum(f.hist[12]),
                 sum(f.hist[13]), sum(f.hist[14]), sum(f.hist[15]), sum(f.hist[16])
           ]::bigint[] AS hist
    FROM function_stats_minute f
    WHERE f.bucket >= monitoring_window_start(7)
    GROUP BY 1, 2
)
SELECT date, function_name, invocations, errors,
       round(100.0 * errors / nullif(invocations, 0), 2) AS error_rate,
       round((total_ms / nullif(invocations, 0))::numeric, 2) AS avg_duration_ms,
       round(histogram_quantile_ms(hist, 0.95)::numeric, 2) AS p95_duration_ms,
       round(max_ms::numeric, 2) AS max_duration_ms,
       items
FROM daily;

CREATE VIEW job_processing_stats AS
WITH finished AS (
    SELECT (j.bucket AT TIME ZONE 'UTC')::date AS date, j.job_type,
           sum(j.completed)::bigint AS completed, sum(j.failed)::bigint AS failed,
           sum(j.retried)::bigint AS retried,
           sum(j.total_ms) AS total_ms, sum(j.wait_ms) AS wait_ms
    FROM job_stats_minute j
    WHERE j.bucket >= monitoring_window_start(7)
    GROUP BY 1, 2
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

CREATE VIEW webhook_processing_stats AS
WITH daily AS (
    SELECT (w.bucket AT TIME ZONE 'UTC')::date AS date, w.source_id,
           sum(w.received)::bigint AS received, sum(w.duplicates)::bigint AS duplicates,
           sum(w.rejected)::bigint AS rejected, sum(w.rate_limited)::bigint AS rate_limited,
           sum(w.processed)::bigint AS processed, sum(w.unmatched)::bigint AS unmatched,
           sum(w.failed)::bigint AS failed, sum(w.processing_ms) AS processing_ms
    FROM webhook_stats_minute w
    WHERE w.bucket >= monitoring_window_start(7)
    GROUP BY 1, 2
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

-- Confidence per metric as it stood at the end of each day, snapshotted from the cache by
-- the scheduler (refresh_confidence_daily_stats); today is always computed live.
CREATE TABLE confidence_daily_stats (
    date         date NOT NULL,
    metric       text NOT NULL REFERENCES metric_catalog (metric),
    user_metrics bigint NOT NULL,
    score_sum    numeric NOT NULL,
    excellent    bigint NOT NULL,
    good         bigint NOT NULL,
    fair         bigint NOT NULL,
    poor         bigint NOT NULL,
    insufficient bigint NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (date, metric)
);

-- An index-only scan of this answers "confidence by metric and level" for 100,000s of rows.
CREATE INDEX metric_confidence_cache_levels ON metric_confidence_cache (metric, level)
    INCLUDE (score, user_id);

CREATE VIEW confidence_current_stats AS
SELECT c.metric, count(*) AS user_metrics, sum(c.score) AS score_sum,
       count(*) FILTER (WHERE c.level = 'excellent') AS excellent,
       count(*) FILTER (WHERE c.level = 'good') AS good,
       count(*) FILTER (WHERE c.level = 'fair') AS fair,
       count(*) FILTER (WHERE c.level = 'poor') AS poor,
       count(*) FILTER (WHERE c.level = 'insufficient') AS insufficient
FROM metric_confidence_cache c
WHERE c.user_id NOT IN (SELECT u.user_id FROM users u WHERE u.is_sandbox)
GROUP BY c.metric;

CREATE FUNCTION refresh_confidence_daily_stats() RETURNS integer
LANGUAGE sql AS $$
    INSERT INTO confidence_daily_stats AS d (date, metric, user_metrics, score_sum, excellent,
                                             good, fair, poor, insufficient, refreshed_at)
    SELECT (now() AT TIME ZONE 'UTC')::date, s.metric, s.user_metrics, s.score_sum,
           s.excellent, s.good, s.fair, s.poor, s.insufficient, now()
    FROM confidence_current_stats s
    ON CONFLICT (date, metric) DO UPDATE SET
        user_metrics = EXCLUDED.user_metrics, score_sum = EXCLUDED.score_sum,
        excellent = EXCLUDED.excellent, good = EXCLUDED.good, fair = EXCLUDED.fair,
        poor = EXCLUDED.poor, insufficient = EXCLUDED.insufficient,
        refreshed_at = EXCLUDED.refreshed_at
    RETURNING 1
$$;

CREATE VIEW data_quality_trends AS
WITH days AS (
    SELECT d.date, d.metric, d.user_metrics, d.score_sum, d.excellent, d.good, d.fair,
           d.poor, d.insufficient
    FROM confidence_daily_stats d
    WHERE d.date >= (monitoring_window_start(30) AT TIME ZONE 'UTC')::date
      AND d.date < (now() AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT (now() AT TIME ZONE 'UTC')::date, s.metric, s.user_metrics, s.score_sum,
           s.excellent, s.good, s.fair, s.poor, s.insufficient
    FROM confidence_current_stats s
)
SELECT days.date, m.display_name AS metric_name, days.metric,
       round(days.score_sum / nullif(days.user_metrics, 0), 1) AS avg_confidence,
       days.user_metrics, days.excellent, days.good, days.fair, days.poor, days.insufficient,
       round(100.0 * days.excellent / nullif(days.user_metrics, 0), 2) AS excellent_share
FROM days
JOIN metric_catalog m ON m.metric = days.metric;
