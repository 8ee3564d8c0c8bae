-- `vitaltrust logs` names sources: the ingestion log lines say "source scale-co", not
-- "source 3", and an unmatched delivery names the provider accounts nobody linked.
CREATE OR REPLACE FUNCTION log_webhook_event_outcome() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_name     text;
    v_sandbox  boolean;
    v_accounts text;
BEGIN
    SELECT s.name, s.is_sandbox INTO v_name, v_sandbox
    FROM webhook_sources s WHERE s.source_id = NEW.source_id;
    IF v_sandbox THEN
        RETURN NULL;
    END IF;
    SELECT string_agg(DISTINCT r ->> 'external_user_id', ', ')
      INTO v_accounts
      FROM jsonb_array_elements(NEW.rejections) AS r
     WHERE r ->> 'reason' LIKE 'no user is linked to account%';
    INSERT INTO edge_function_logs
        (function_name, level, event, message, error, webhook_event_id, payload_summary)
    VALUES ('webhook-ingest',
            CASE NEW.status WHEN 'failed' THEN 'error' ELSE 'warning' END,
            'event_' || NEW.status,
            CASE NEW.status
                WHEN 'failed' THEN format('delivery %s from source %s could not be read',
                                          NEW.event_id, v_name)
                WHEN 'needs_pull' THEN format('delivery %s from source %s is a ping: its data '
                                              'must be pulled from the callback URL',
                                              NEW.event_id, v_name)
                ELSE format('delivery %s from source %s names provider accounts linked to no '
                            'user: %s (link them on /admin/webhooks or with vitaltrust '
                            'sources link)', NEW.event_id, v_name, coalesce(v_accounts, '?'))
            END,
            left(NEW.error, 2000), NEW.webhook_event_id,
            jsonb_build_object('source_id', NEW.source_id, 'source', v_name,
                               'event_id', left(NEW.event_id, 120),
                               'event_type', NEW.event_type));
    RETURN NULL;
END
$$;
