-- A delivery we acknowledged must not stay 'received' for ever. When its
-- webhook_processing job fails for good (attempts exhausted, a final error, or its lease
-- expired too often), the event becomes 'failed' with the job's last error, and the
-- failure is counted in the webhook statistics like a failure found by the job itself.
-- (The job failure is already listed by `vitaltrust logs` through on_job_failure.)
-- Only the payload's webhook_event_id is read, so this holds whatever the job's type
-- column is called; other job types carry no webhook_event_id.
CREATE FUNCTION fail_event_of_failed_job() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ev webhook_events%ROWTYPE;
BEGIN
    IF jsonb_typeof(NEW.payload -> 'webhook_event_id') IS DISTINCT FROM 'number' THEN
        RETURN NULL;
    END IF;
    UPDATE webhook_events
    SET status = 'failed', processed_at = now(),
        error = left(format('processing failed after %s attempt(s): %s', NEW.attempts,
                            coalesce(NEW.last_error, 'no error recorded')), 1000)
    WHERE webhook_event_id = (NEW.payload ->> 'webhook_event_id')::bigint
      AND status = 'received'
    RETURNING * INTO ev;
    IF FOUND AND NOT NEW.is_sandbox THEN
        INSERT INTO webhook_stats_minute AS t (source_id, bucket, failed)
        VALUES (ev.source_id, date_trunc('minute', now()), 1)
        ON CONFLICT (source_id, bucket) DO UPDATE SET failed = t.failed + 1;
        INSERT INTO webhook_stats_total AS t (source_id, failed)
        VALUES (ev.source_id, 1)
        ON CONFLICT (source_id) DO UPDATE SET failed = t.failed + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER on_job_failure_fail_event
    AFTER UPDATE OF status ON background_jobs
    FOR EACH ROW
    WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
    EXECUTE FUNCTION fail_event_of_failed_job();
