-- Confidence runtime: the daily sparkline kept with each cache row, and the index the
-- refresh task and recalculate-all use.

-- [[local_date, value], ...] of the resolved series over the window (trainer sparklines).
ALTER TABLE metric_confidence_cache ADD COLUMN daily_series jsonb NOT NULL DEFAULT '[]'::jsonb;

-- The refresh task scans only rows that are due.
DROP INDEX IF EXISTS metric_confidence_cache_refresh;
CREATE INDEX metric_confidence_cache_refresh ON metric_confidence_cache (next_refresh_at)
    WHERE next_refresh_at IS NOT NULL;
