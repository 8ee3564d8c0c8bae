-- Processing outcomes of provider traffic:
-- * needs_pull: a notification that only says where the data can be fetched (a Garmin
--   ping with a callback URL). Recorded, counted, logged; the data is not here yet.
-- * ignored: what a delivery carried that is deliberately not mapped, with the reason
--   ("allDayRespiration (2 summaries): respiration rate is not a tracked metric"), also
--   for deliveries that stored samples from their other parts.

ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_status_check;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_status_check
    CHECK (status IN ('received', 'processed', 'unmatched', 'ignored', 'needs_pull', 'failed'));
ALTER TABLE webhook_events ADD COLUMN ignored jsonb NOT NULL DEFAULT '[]'::jsonb;

-- A needs_pull delivery is counted as processed (it was handled, as an ignored one is)
-- and, in addition, in needs_pull.
ALTER TABLE webhook_stats_minute ADD COLUMN needs_pull bigint NOT NULL DEFAULT 0;
ALTER TABLE webhook_stats_total ADD COLUMN needs_pull bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION log_webhook_event_outcome() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_sources s WHERE s.source_id = NEW.source_id AND s.is_sandbox) THEN
        RETURN NULL;
    END IF;
    INSERT INTO edge_function_logs
        (function_name, level, event, message, error, webhook_event_id, payload_summary)
    VALUES ('webhook-ingest',
            CASE NEW.status WHEN 'failed' THEN 'error' ELSE 'warning' END,
            'event_' || NEW.status,
            CASE NEW.status
                WHEN 'failed' THEN format('delivery %s from source %s could not be read', NEW.event_id, NEW.source_id)
                WHEN 'needs_pull' THEN format('delivery %s from source %s is a ping: its data must be '
                                              'pulled from the callback URL', NEW.event_id, NEW.source_id)
                ELSE format('delivery %s from source %s names provider accounts linked to no user '
                            '(vitaltrust sources link)', NEW.event_id, NEW.source_id) END,
            left(NEW.error, 2000), NEW.webhook_event_id,
            jsonb_build_object('source_id', NEW.source_id, 'event_id', left(NEW.event_id, 120),
                               'event_type', NEW.event_type));
    RETURN NULL;
END
$$;

DROP TRIGGER on_webhook_event_problem ON webhook_events;
CREATE TRIGGER on_webhook_event_problem
    AFTER UPDATE OF status ON webhook_events
    FOR EACH ROW
    WHEN (NEW.status IN ('failed', 'unmatched', 'needs_pull') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION log_webhook_event_outcome();
