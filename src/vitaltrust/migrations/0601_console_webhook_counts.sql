-- Counts that add up. Every stored delivery has exactly one outcome at a time:
--   received = processed + unmatched + ignored + failed + still queued (status 'received');
-- rejected, rate-limited and duplicate deliveries were never stored and are counted apart.
-- 1. "ignored" (lifecycle notices, no samples expected) gets its own column; it was counted
--    as processed before.
-- 2. Reprocessing a delivery takes its old outcome back from the minute rollups (in the
--    current minute, so the daily rollups and retention stay consistent) before the job
--    counts the new one: an event is never counted twice in the dashboards and views.
--    webhook_stats_total (Prometheus counters) stays monotonic: it counts outcomes recorded.

ALTER TABLE webhook_stats_minute ADD COLUMN ignored bigint NOT NULL DEFAULT 0;
ALTER TABLE webhook_stats_total ADD COLUMN ignored bigint NOT NULL DEFAULT 0;

-- Put finished deliveries (unmatched, failed or ignored; processed and needs_pull ones (a
-- needs_pull ping counts as processed and as needs_pull, migration 0520) only with p_force)
-- back to 'received' and take their outcomes out of the statistics; returns them so the
-- caller enqueues their webhook_processing jobs in the same transaction.
CREATE FUNCTION requeue_webhook_events(p_ids bigint[], p_force boolean DEFAULT false)
RETURNS TABLE (webhook_event_id bigint, is_sandbox boolean)
LANGUAGE sql AS $$
    WITH picked AS (
        SELECT e.webhook_event_id, e.source_id, e.status,
               coalesce(e.processing_ms, 0) AS processing_ms
        FROM webhook_events e
        WHERE e.webhook_event_id = ANY (p_ids)
          AND (e.status IN ('unmatched', 'failed', 'ignored')
               OR (p_force AND e.status IN ('processed', 'needs_pull')))
        ORDER BY e.webhook_event_id
        FOR UPDATE OF e
    ), reset AS (
        UPDATE webhook_events e
        SET status = 'received', processed_at = NULL, error = NULL
        FROM picked p WHERE e.webhook_event_id = p.webhook_event_id
        RETURNING e.webhook_event_id
    ), gone AS (
        SELECT p.source_id,
               count(*) FILTER (WHERE p.status IN ('processed', 'needs_pull')) AS processed,
               count(*) FILTER (WHERE p.status = 'needs_pull') AS needs_pull,
               count(*) FILTER (WHERE p.status = 'unmatched') AS unmatched,
               count(*) FILTER (WHERE p.status = 'ignored') AS ignored,
               count(*) FILTER (WHERE p.status = 'failed') AS failed,
               sum(p.processing_ms) AS processing_ms
        FROM picked p JOIN webhook_sources s ON s.source_id = p.source_id AND NOT s.is_sandbox
        GROUP BY p.source_id
    ), minute AS (
        INSERT INTO webhook_stats_minute AS t
            (source_id, bucket, processed, unmatched, ignored, failed, needs_pull, processing_ms)
        SELECT g.source_id, date_trunc('minute', now()), -g.processed, -g.unmatched,
               -g.ignored, -g.failed, -g.needs_pull, -g.processing_ms
        FROM gone g ORDER BY g.source_id
        ON CONFLICT (source_id, bucket) DO UPDATE SET
            processed = t.processed + EXCLUDED.processed,
            unmatched = t.unmatched + EXCLUDED.unmatched,
            ignored = t.ignored + EXCLUDED.ignored,
            failed = t.failed + EXCLUDED.failed,
            needs_pull = t.needs_pull + EXCLUDED.needs_pull,
            processing_ms = t.processing_ms + EXCLUDED.processing_ms
    )
    SELECT r.webhook_event_id, s.is_sandbox
    FROM reset r JOIN picked p USING (webhook_event_id)
    JOIN webhook_sources s ON s.source_id = p.source_id
    ORDER BY r.webhook_event_id
$$;
