"""Set-based SQL of `bench seed`: every step is one INSERT ... SELECT over generate_series.

Parameters: clients, trainers, samples_per (per user-metric), history_per, jobs, deliveries,
days (of per-minute statistics). Values are deterministic functions of the row numbers,
shaped like production: mostly excellent confidence, ~1 % failed jobs, a few per cent of
webhook problems. Temporary tables live on the seeding connection only.
"""

from __future__ import annotations

ANY_USERS = "SELECT EXISTS (SELECT 1 FROM users) AS present"

# Secondary indexes of the big tables are dropped for the load and rebuilt (sorted) after;
# indexes backing constraints stay. Definitions come from the catalog, never from input.
BIG_TABLES = ["metric_samples", "metric_confidence_history", "metric_confidence_cache",
              "background_jobs"]
SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid = ANY (%s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""
# Superusers skip foreign-key and trigger work for the load (a bench database only).
SKIP_TRIGGERS = "SET session_replication_role = replica"
# the load bypassed the pending-job counters' triggers (migration 0712)
REBUILD_PENDING_COUNTS = "SELECT rebuild_job_pending_counts()"
LOAD_MEMORY = "SET maintenance_work_mem = '256MB'"
# generate_series makes the planner guess badly; JIT compilation would cost more than it saves
NO_JIT = "SET jit = off"

SETUP = [
    """CREATE TEMP TABLE bench_metrics AS
       SELECT metric, hard_min, hard_max, row_number() OVER (ORDER BY sort_order) AS k
       FROM metric_catalog ORDER BY sort_order LIMIT 10""",
    """INSERT INTO webhook_sources (name, kind, signing_key)
       SELECT 'bench-source-' || n, 'standard', decode(md5('bench' || n), 'hex')
       FROM generate_series(1, 5) n""",
    """CREATE TEMP TABLE bench_sources AS
       SELECT source_id, row_number() OVER (ORDER BY source_id) - 1 AS n
       FROM webhook_sources WHERE name LIKE 'bench-source-%'""",
]

# (step name, SQL); run in order, each in its own transaction.
STEPS: list[tuple[str, str]] = [
    ("users", """
INSERT INTO users (email, role, display_name)
SELECT 'bench-trainer-' || n || '@bench.invalid', 'trainer', 'Trainer ' || n
FROM generate_series(1, %(trainers)s) n
UNION ALL
SELECT 'bench-client-' || n || '@bench.invalid', 'client', 'Client ' || n
FROM generate_series(1, %(clients)s) n
"""),
    ("trainer_clients", """
INSERT INTO trainer_clients (client_id, trainer_id)
SELECT c.user_id, t.user_id
FROM (SELECT user_id, row_number() OVER (ORDER BY user_id) - 1 AS n
      FROM users WHERE role = 'client') c
JOIN (SELECT user_id, row_number() OVER (ORDER BY user_id) - 1 AS n
      FROM users WHERE role = 'trainer') t ON t.n = c.n %% %(trainers)s
"""),
    # one series in primary-key order (client, metric, time): the index grows at its right edge
    ("metric_samples", """
WITH clients AS (
    SELECT user_id, row_number() OVER (ORDER BY user_id) - 1 AS n FROM users WHERE role = 'client'
)
INSERT INTO metric_samples (user_id, metric, source_id, measured_at, local_date, value,
                            device_type, received_at)
SELECT c.user_id, m.metric, s.source_id, x.at, (x.at AT TIME ZONE 'UTC')::date,
       m.hard_min + (m.hard_max - m.hard_min) * (0.4 + 0.02 * ((c.user_id * 7 + g) %% 10)),
       'watch', x.at + interval '2 minutes'
FROM generate_series(0, %(clients)s::bigint * 10 * %(samples_per)s - 1) g
JOIN clients c ON c.n = g / (10 * %(samples_per)s)
JOIN bench_metrics m ON m.k = (g / %(samples_per)s) %% 10 + 1
JOIN bench_sources s ON s.n = c.user_id %% 5
CROSS JOIN LATERAL (SELECT date_trunc('minute', now())
                           - (%(samples_per)s - g %% %(samples_per)s) * interval '1 day'
                           - (c.user_id %% 1440) * interval '1 minute' AS at) x
"""),
    ("metric_confidence_cache", """
INSERT INTO metric_confidence_cache (user_id, metric, score, level, components, explanation,
    sample_count, last_sample_at, latest_value, computed_at, next_refresh_at, model_version)
SELECT u.user_id, m.metric, sc.score,
       CASE WHEN (u.user_id + m.k) %% 100 = 0 THEN 'insufficient'
            WHEN sc.score >= 85 THEN 'excellent' WHEN sc.score >= 70 THEN 'good'
            WHEN sc.score >= 50 THEN 'fair' ELSE 'poor' END,
       jsonb_build_array(
           jsonb_build_object('code', 'F', 'name', 'Freshness', 'score', sc.score, 'weight', 0.25),
           jsonb_build_object('code', 'C', 'name', 'Consistency', 'score', 90, 'weight', 0.2),
           jsonb_build_object('code', 'P', 'name', 'Plausibility', 'score', 100, 'weight', 0.2),
           jsonb_build_object('code', 'R', 'name', 'Reliability', 'score', 85, 'weight', 0.2)),
       jsonb_build_object('score', sc.score, 'model_version', '1', 'window_days', 30,
           'reasons', jsonb_build_array(jsonb_build_object(
               'code', 'FRESH', 'message', 'Latest sample is recent for this metric.'))),
       30, now() - interval '1 day', m.hard_min + (m.hard_max - m.hard_min) * 0.45,
       now() - (u.user_id %% 720) * interval '1 minute', now() + interval '1 day', '1'
FROM users u
CROSS JOIN bench_metrics m
CROSS JOIN LATERAL (SELECT round((100 - 55 * power(((u.user_id * 31 + m.k * 17) %% 1000)
                                                    / 1000.0, 3))::numeric, 1) AS score) sc
WHERE u.role = 'client'
"""),
    ("metric_confidence_history", """
INSERT INTO metric_confidence_history (user_id, metric, computed_at, score, level,
                                       sample_count, model_version)
SELECT c.user_id, c.metric, c.computed_at - j * interval '2 days', h.score,
       CASE WHEN h.score >= 85 THEN 'excellent' WHEN h.score >= 70 THEN 'good'
            WHEN h.score >= 50 THEN 'fair' ELSE 'poor' END,
       30, '1'
FROM metric_confidence_cache c
CROSS JOIN generate_series(1, %(history_per)s) j
CROSS JOIN LATERAL (SELECT least(100, greatest(0, c.score + ((j * 7) %% 11 - 5) * 0.5))::numeric(4, 1)
                        AS score) h
"""),
    ("background_jobs", """
INSERT INTO background_jobs (type, payload, status, priority, run_at, attempts,
    max_attempts, last_error, locked_by, locked_until, created_at, started_at, completed_at,
    failed_at)
SELECT x.job_type,
       CASE x.job_type WHEN 'webhook_processing' THEN jsonb_build_object('webhook_event_id', g)
            ELSE jsonb_build_object('user_id', g %% 10000 + 1, 'metric', 'weight') END,
       x.status, 0, x.created, CASE x.status WHEN 'failed' THEN 5 WHEN 'pending' THEN 0 ELSE 1 END,
       5, CASE x.status WHEN 'failed' THEN 'provider payload could not be parsed' END,
       CASE x.status WHEN 'processing' THEN 'bench-worker' END,
       CASE x.status WHEN 'processing' THEN now() + interval '60 seconds' END,
       x.created,
       CASE WHEN x.status <> 'pending' THEN x.created + interval '40 milliseconds' END,
       CASE x.status WHEN 'completed' THEN x.created + interval '55 milliseconds' END,
       CASE x.status WHEN 'failed' THEN x.created + interval '90 milliseconds' END
FROM generate_series(1, %(jobs)s) g
CROSS JOIN LATERAL (SELECT
    CASE WHEN g %% 10 < 7 THEN 'confidence_calculation' ELSE 'webhook_processing' END AS job_type,
    CASE WHEN g > %(jobs)s - %(jobs)s / 10000 THEN 'processing'
         WHEN g > %(jobs)s - %(jobs)s / 10000 - %(jobs)s / 200 THEN 'pending'
         WHEN g %% 100 = 0 THEN 'failed' ELSE 'completed' END AS status,
    now() - interval '7 days' + (g::float8 / %(jobs)s) * interval '7 days' AS created) x
"""),
    ("job_stats_minute", """
INSERT INTO job_stats_minute (job_type, bucket, completed, failed, retried, total_ms, wait_ms)
SELECT t.job_type, b, x.completed, x.failed, x.failed / 2, x.completed * 15.0 + x.failed * 50.0,
       (x.completed + x.failed) * 40.0
FROM generate_series(date_trunc('minute', now()) - (%(days)s * 1440 - 1) * interval '1 minute',
                     date_trunc('minute', now()), interval '1 minute') b
CROSS JOIN (VALUES ('confidence_calculation', 0.7), ('webhook_processing', 0.3)) t(job_type, share)
CROSS JOIN LATERAL (SELECT
    round(%(jobs)s / 10080.0 * t.share * (0.8 + 0.4 * (extract(minute FROM b) / 60)))::bigint
        AS completed,
    CASE WHEN extract(minute FROM b)::int %% 7 = 0 THEN 1 ELSE 0 END AS failed) x
"""),
    ("function_stats_minute", """
WITH f AS (
    SELECT f.name, f.items, f.avg_ms,
           ARRAY(SELECT (f.per_minute * w / 100)::bigint
                 FROM unnest(f.weights) WITH ORDINALITY AS u(w, i) ORDER BY i) AS hist
    FROM (VALUES ('job-worker', %(jobs)s / 10080 / 20 + 1, 20, 60.0,
                  '{0,0,2,5,10,20,30,20,8,3,1,1,0,0,0,0}'::int[]),
                 ('webhook-ingest', %(deliveries)s / 7200 / 5 + 1, 1, 4.0,
                  '{5,20,40,20,8,4,2,1,0,0,0,0,0,0,0,0}'::int[]))
         AS f(name, per_minute, items, avg_ms, weights)
), h AS (
    SELECT f.*, (SELECT sum(v) FROM unnest(f.hist) v)::bigint AS total FROM f
)
INSERT INTO function_stats_minute (function_name, bucket, invocations, errors, items, total_ms,
                                   max_ms, hist)
SELECT h.name, b, h.total, h.total / 200, h.total * h.items, h.total * h.avg_ms, h.avg_ms * 40,
       h.hist
FROM h CROSS JOIN generate_series(
    date_trunc('minute', now()) - (%(days)s * 1440 - 1) * interval '1 minute',
    date_trunc('minute', now()), interval '1 minute') b
"""),
    ("webhook_stats_minute", """
INSERT INTO webhook_stats_minute (source_id, bucket, received, duplicates, rejected, rate_limited,
                                  processed, unmatched, failed, processing_ms)
SELECT s.source_id, date_trunc('minute', now()) - mi * interval '1 minute',
       r.n, r.n / 20, r.bad, 0, greatest(r.n - r.bad - r.lost, 0), r.lost, r.bad, r.n * 12.5
FROM generate_series(0, %(days)s * 1440 - 1) mi
CROSS JOIN bench_sources s
-- row k gets floor((k+1)*rate) - floor(k*rate) deliveries: exactly %(deliveries)s in all
CROSS JOIN LATERAL (SELECT mi * 5 + s.n AS k,
                           %(deliveries)s / (%(days)s * 1440.0 * 5) AS rate) q
CROSS JOIN LATERAL (SELECT (floor((q.k + 1) * q.rate) - floor(q.k * q.rate))::bigint AS n) c
CROSS JOIN LATERAL (SELECT c.n, CASE WHEN q.k %% 50 = 0 THEN least(c.n, 1) ELSE 0 END AS bad,
    CASE WHEN q.k %% 60 = 7 AND c.n > 1 THEN 1 ELSE 0 END AS lost) r
"""),
    ("totals", """
WITH f AS (
    INSERT INTO function_stats_total (function_name, invocations, errors, items, total_ms, hist)
    SELECT function_name, sum(invocations), sum(errors), sum(items), sum(total_ms),
           ARRAY(SELECT sum(h.n)::bigint FROM function_stats_minute q,
                        unnest(q.hist) WITH ORDINALITY AS h(n, i)
                 WHERE q.function_name = m.function_name GROUP BY h.i ORDER BY h.i)
    FROM function_stats_minute m GROUP BY function_name
    RETURNING 1
)
INSERT INTO webhook_stats_total (source_id, received, duplicates, rejected, rate_limited,
                                 processed, unmatched, failed, processing_ms)
SELECT source_id, sum(received), sum(duplicates), sum(rejected), sum(rate_limited),
       sum(processed), sum(unmatched), sum(failed), sum(processing_ms)
FROM webhook_stats_minute GROUP BY source_id
"""),
    ("daily_rollups", "SELECT rollup_monitoring_days()"),
    ("confidence_daily_stats", """
INSERT INTO confidence_daily_stats (date, metric, user_metrics, score_sum, excellent, good,
                                    fair, poor, insufficient, refreshed_at)
SELECT (now() AT TIME ZONE 'UTC')::date - d, s.metric, s.user_metrics,
       s.score_sum * (1 - d * 0.002), s.excellent - e, s.good + e, s.fair, s.poor,
       s.insufficient, now() - d * interval '1 day'
FROM confidence_live_stats s CROSS JOIN generate_series(1, 29) d
CROSS JOIN LATERAL (SELECT least(d * s.user_metrics / 500, s.excellent) AS e) x
"""),
    # today's snapshot, as the scheduler takes it every minute
    ("confidence_snapshot", "SELECT refresh_confidence_daily_stats()"),
    ("workers", """
INSERT INTO workers (worker_id, host, pid, version, concurrency, heartbeat_seconds, is_leader,
                     last_seen_at)
VALUES ('bench-worker-1', 'bench', 1, 'bench', 8, 3600, true, now()),
       ('bench-worker-2', 'bench', 2, 'bench', 8, 3600, false, now())
"""),
]

COUNTS = """
SELECT (SELECT count(*) FROM users) AS users,
       (SELECT count(*) FROM background_jobs) AS background_jobs,
       (SELECT sum(received) FROM webhook_stats_minute) AS webhook_deliveries,
       (SELECT count(*) FROM metric_samples) AS metric_samples,
       (SELECT count(*) FROM metric_confidence_cache) AS cache_rows,
       (SELECT count(*) FROM metric_confidence_history) AS history_rows
"""
