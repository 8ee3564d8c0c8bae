-- Self-test sandboxes: a sandbox user (users.is_sandbox) and the sandbox webhook sources
-- created for it. Dropping a sandbox removes every row the self-test produced.

CREATE TABLE selftest_sandboxes (
    user_id    bigint PRIMARY KEY,
    source_ids int[] NOT NULL,
    created_by bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX selftest_sandboxes_created ON selftest_sandboxes (created_at);

CREATE FUNCTION selftest_drop_sandboxes(p_user_ids bigint[]) RETURNS integer
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
