"""SQL of the monitoring domain (the views and functions live in migrations 0300-0301, 0710-0711)."""

from __future__ import annotations

DASHBOARD = "SELECT get_monitoring_dashboard_data(%(trainer_id)s) AS data"

FUNCTION_PERFORMANCE = """
SELECT * FROM edge_function_performance
WHERE (%(function_name)s::text IS NULL OR function_name = %(function_name)s)
ORDER BY date DESC, function_name
"""
JOB_STATS = """
SELECT * FROM job_processing_stats
WHERE (%(job_type)s::text IS NULL OR job_type = %(job_type)s)
ORDER BY date DESC, job_type
"""
WEBHOOK_STATS = """
SELECT * FROM webhook_processing_stats
WHERE (%(source)s::text IS NULL OR source = %(source)s)
ORDER BY date DESC, source
"""
QUALITY_TRENDS = """
SELECT * FROM data_quality_trends
WHERE (%(metric)s::text IS NULL OR metric = %(metric)s)
ORDER BY date DESC, metric
"""
TRAINER_QUALITY_TRENDS = """
SELECT * FROM trainer_data_quality_trends(%(trainer_id)s)
WHERE (%(metric)s::text IS NULL OR metric = %(metric)s)
ORDER BY date DESC, metric
"""
METRIC_EXISTS = "SELECT EXISTS (SELECT 1 FROM metric_catalog WHERE metric = %s) AS present"

RETRY_FAILED = "SELECT retry_failed_jobs(%(job_type)s) AS retried"

# One deduplicated confidence_calculation job per (user, metric) in scope:
#   scope 'all'     every non-sandbox user's cached metrics (the cache lists what was scored);
#   scope 'user'    one user's cached metrics and every metric they have samples for;
#   scope 'trainer' the same for each of the trainer's (non-sandbox) clients.
RECALCULATE = """
WITH users_in_scope AS (
    SELECT u.user_id, u.is_sandbox FROM users u
    WHERE %(scope)s = 'user' AND u.user_id = %(user_id)s
    UNION ALL
    SELECT u.user_id, u.is_sandbox FROM trainer_clients tc
    JOIN users u ON u.user_id = tc.client_id AND NOT u.is_sandbox
    WHERE %(scope)s = 'trainer' AND tc.trainer_id = %(trainer_id)s
), targets AS (
    SELECT c.user_id, c.metric, false AS is_sandbox
    FROM metric_confidence_cache c
    WHERE %(scope)s = 'all'
      AND c.user_id NOT IN (SELECT x.user_id FROM users x WHERE x.is_sandbox)
      AND (%(metric)s::text IS NULL OR c.metric = %(metric)s)
    UNION
    SELECT c.user_id, c.metric, s.is_sandbox
    FROM users_in_scope s JOIN metric_confidence_cache c ON c.user_id = s.user_id
    WHERE (%(metric)s::text IS NULL OR c.metric = %(metric)s)
    UNION
    SELECT s.user_id, m.metric, s.is_sandbox
    FROM users_in_scope s CROSS JOIN metric_catalog m
    WHERE (%(metric)s::text IS NULL OR m.metric = %(metric)s)
      AND EXISTS (SELECT 1 FROM metric_samples ms
                  WHERE ms.user_id = s.user_id AND ms.metric = m.metric)
), created AS (
    INSERT INTO background_jobs (type, payload, priority, dedupe_key, is_sandbox)
    SELECT 'confidence_calculation',
           jsonb_build_object('user_id', t.user_id, 'metric', t.metric), %(priority)s,
           'confidence:' || t.user_id || ':' || t.metric, t.is_sandbox
    FROM targets t
    ORDER BY t.user_id, t.metric
    ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM targets) AS targets, (SELECT count(*) FROM created) AS enqueued
"""
NOTIFY_JOBS = "SELECT pg_notify('vitaltrust_jobs', 'bulk')"

# --- Prometheus: small aggregates only (partial indexes, rollup totals, snapshots) -------
# pending and failed from the exact counters (migration 0710), never a count of the backlog
PROM_QUEUE_DEPTH = """
SELECT type AS job_type, 'pending' AS status, sum(pending)::bigint AS n FROM job_pending_by_day
GROUP BY 1
UNION ALL
SELECT type, 'processing', count(*) FROM background_jobs
WHERE status = 'processing' AND NOT is_sandbox
GROUP BY 1
UNION ALL
SELECT type, 'failed', failed FROM job_failed_by_type
"""
PROM_FUNCTION_TOTALS = """
SELECT function_name, invocations, errors, total_ms, hist FROM function_stats_total
ORDER BY function_name
"""
PROM_WEBHOOK_TOTALS = """
SELECT s.name AS source, t.received, t.duplicates, t.rejected, t.rate_limited, t.processed,
       t.unmatched, t.ignored, t.failed, t.needs_pull
FROM webhook_stats_total t JOIN webhook_sources s ON s.source_id = t.source_id AND NOT s.is_sandbox
ORDER BY s.name
"""
# The latest snapshot (refreshed by the scheduler every minute), not a count of the cache.
PROM_CONFIDENCE = """
SELECT d.metric, d.excellent, d.good, d.fair, d.poor, d.insufficient,
       extract(epoch FROM now() - d.refreshed_at) AS age_seconds
FROM confidence_daily_stats d
WHERE d.date = (SELECT max(date) FROM confidence_daily_stats)
ORDER BY d.metric
"""
PROM_WORKERS = """
SELECT count(*) AS alive, count(*) FILTER (WHERE is_leader) AS leaders FROM workers
WHERE last_seen_at > now() - make_interval(secs => 3 * heartbeat_seconds)
"""
REFRESH_CONFIDENCE_SNAPSHOT = "SELECT refresh_confidence_daily_stats() AS metrics"
ROLLUP_DAYS = "SELECT rollup_monitoring_days() AS days"
COMPACT_PENDING_COUNTS = "SELECT compact_job_pending_counts() AS folded"
