-- Dropping a sandbox while a job still writes its rows can deadlock with the cascade
-- (the job holds sample rows and waits for the user row; the drop the reverse). The
-- drop now retries in a subtransaction, which releases the locks it took.

CREATE FUNCTION selftest_drop_sandboxes_once(p_user_ids bigint[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_users   bigint[];
    v_sources int[];
BEGIN
    SELECT coalesce(array_agg(b.user_id), '{}'), coalesce(array_agg(DISTINCT s.id), '{}')
    INTO v_users, v_sources
    FROM selftest_sandboxes b
    LEFT JOIN LATERAL unnest(b.source_ids) AS s(id) ON true
    WHERE b.user_id = ANY (p_user_ids);
    IF cardinality(v_users) = 0 THEN
        RETURN 0;
    END IF;
    -- their queued work (a job already running finds nothing left to do)
    DELETE FROM background_jobs j
    WHERE j.is_sandbox AND j.status <> 'processing'
      AND ((j.job_type = 'confidence_calculation'
            AND (j.payload ->> 'user_id')::bigint = ANY (v_users))
        OR (j.job_type = 'webhook_processing'
            AND (j.payload ->> 'webhook_event_id')::bigint IN (
                SELECT e.webhook_event_id FROM webhook_events e
                WHERE e.source_id = ANY (v_sources))));
    -- samples, conflicts, cache, history, tokens, account links cascade from the user
    DELETE FROM users u WHERE u.user_id = ANY (v_users) AND u.is_sandbox;
    DELETE FROM edge_function_logs l WHERE l.webhook_event_id IN (
        SELECT e.webhook_event_id FROM webhook_events e WHERE e.source_id = ANY (v_sources));
    DELETE FROM webhook_events e WHERE e.source_id = ANY (v_sources);
    DELETE FROM webhook_stats_minute w WHERE w.source_id = ANY (v_sources);
    DELETE FROM rate_limit_state r
    WHERE r.bucket_key IN (SELECT 'src:' || x FROM unnest(v_sources) AS x)
       OR split_part(r.bucket_key, ':', 1) = 'acct'
          AND split_part(r.bucket_key, ':', 2) IN (SELECT x::text FROM unnest(v_sources) AS x);
    DELETE FROM webhook_sources s WHERE s.source_id = ANY (v_sources) AND s.is_sandbox;
    DELETE FROM selftest_sandboxes b WHERE b.user_id = ANY (v_users);
    RETURN cardinality(v_users);
END
$$;

CREATE OR REPLACE FUNCTION selftest_drop_sandboxes(p_user_ids bigint[]) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    FOR attempt IN 1..20 LOOP
        BEGIN
            RETURN selftest_drop_sandboxes_once(p_user_ids);
        EXCEPTION WHEN deadlock_detected THEN
            PERFORM pg_sleep(0.02 * attempt);
        END;
    END LOOP;
    RETURN selftest_drop_sandboxes_once(p_user_ids);
END
$$;
