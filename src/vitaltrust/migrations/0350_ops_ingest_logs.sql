-- Ingestion's outcomes an operator must see leave a row in edge_function_logs, as failed
-- jobs do (on_job_failure): a delivery that is not the provider's shape ('failed', error)
-- and one whose provider accounts nobody linked ('unmatched', warning). Sandbox (self-test)
-- sources stay out, as they do of every statistic. `vitaltrust logs --function webhook-ingest`.
CREATE FUNCTION log_webhook_event_outcome() RETURNS trigger
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
                ELSE format('delivery %s from source %s names provider accounts linked to no user '
                            '(vitaltrust sources link)', NEW.event_id, NEW.source_id) END,
            left(NEW.error, 2000), NEW.webhook_event_id,
            jsonb_build_object('source_id', NEW.source_id, 'event_id', left(NEW.event_id, 120),
                               'event_type', NEW.event_type));
    RETURN NULL;
END
$$;

CREATE TRIGGER on_webhook_event_problem
    AFTER UPDATE OF status ON webhook_events
    FOR EACH ROW
    WHEN (NEW.status IN ('failed', 'unmatched') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION log_webhook_event_outcome();
