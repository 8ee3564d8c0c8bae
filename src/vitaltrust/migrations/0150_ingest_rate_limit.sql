-- Ingestion rate limiting: GCRA over rate_limit_state (UNLOGGED, 0004).
--
-- One call decides a whole batch of deliveries, in arrival order, atomically: every
-- bucket the batch touches is locked (in key order, so concurrent callers never
-- deadlock), each delivery is admitted only when BOTH its source bucket and its account
-- bucket (when it has one) have room, and only admitted deliveries advance the buckets.
-- A batch of one is "one atomic statement per check".
--
-- GCRA with rate r and burst b: emission interval T = 1/r, tolerance tau = b*T.
-- A delivery at `now` fits when max(tat, now) + T - now <= tau; then tat := max(tat, now) + T.
-- Retry-After = max(tat, now) + T - tau - now. Remaining = floor((tau - (tat - now)) / T).
CREATE FUNCTION ingest_rate_limit_take(
    p_src_keys text[], p_src_rate float8[], p_src_burst int[],
    p_acc_keys text[], p_acc_rate float8[], p_acc_burst int[])
RETURNS TABLE (idx int, allowed boolean, retry_after float8,
               src_remaining int, src_reset float8, acc_remaining int, acc_reset float8)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
    v_now   float8 := extract(epoch FROM clock_timestamp());
    v_keys  text[];
    v_tats  float8[];
    v_dirty boolean[];
    i int; s int; a int;
    s_t float8; s_tau float8; s_new float8; s_ok boolean;
    a_t float8; a_tau float8; a_new float8; a_ok boolean;
BEGIN
    -- Buckets are not user data: this autocommit call need not wait for a WAL flush.
    -- (Only ever called as a statement of its own; see ingest/ratelimit.py.)
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO rate_limit_state AS r (bucket_key, tat)
    SELECT DISTINCT k, to_timestamp(0)
    FROM unnest(p_src_keys || p_acc_keys) AS k WHERE k IS NOT NULL
    ORDER BY 1
    ON CONFLICT (bucket_key) DO NOTHING;

    SELECT array_agg(bucket_key ORDER BY bucket_key),
           array_agg(extract(epoch FROM tat) ORDER BY bucket_key)
    INTO v_keys, v_tats
    FROM (SELECT bucket_key, tat FROM rate_limit_state
          WHERE bucket_key = ANY (p_src_keys || p_acc_keys)
          ORDER BY bucket_key FOR UPDATE) AS locked;
    v_dirty := array_fill(false, ARRAY[coalesce(cardinality(v_keys), 0)]);

    FOR i IN 1 .. coalesce(cardinality(p_src_keys), 0) LOOP
        s := array_position(v_keys, p_src_keys[i]);
        s_t := 1.0 / p_src_rate[i];
        s_tau := p_src_burst[i] * s_t;
        s_new := greatest(v_tats[s], v_now) + s_t;
        s_ok := s_new - v_now <= s_tau + 1e-9;
        a := NULL; a_ok := true; a_new := NULL;
        IF p_acc_keys[i] IS NOT NULL THEN
            a := array_position(v_keys, p_acc_keys[i]);
            a_t := 1.0 / p_acc_rate[i];
            a_tau := p_acc_burst[i] * a_t;
            a_new := greatest(v_tats[a], v_now) + a_t;
            a_ok := a_new - v_now <= a_tau + 1e-9;
        END IF;
        IF s_ok AND a_ok THEN
            v_tats[s] := s_new; v_dirty[s] := true;
            IF a IS NOT NULL THEN v_tats[a] := a_new; v_dirty[a] := true; END IF;
        END IF;
        idx := i;
        allowed := s_ok AND a_ok;
        retry_after := greatest(0,
            CASE WHEN s_ok THEN 0 ELSE s_new - s_tau - v_now END,
            CASE WHEN a_ok THEN 0 ELSE a_new - a_tau - v_now END);
        src_remaining := greatest(0, floor((s_tau - (greatest(v_tats[s], v_now) - v_now)) / s_t))::int;
        src_reset := greatest(v_tats[s], v_now) - v_now;
        IF a IS NULL THEN
            acc_remaining := NULL; acc_reset := NULL;
        ELSE
            acc_remaining := greatest(0, floor((a_tau - (greatest(v_tats[a], v_now) - v_now)) / a_t))::int;
            acc_reset := greatest(v_tats[a], v_now) - v_now;
        END IF;
        RETURN NEXT;
    END LOOP;

    UPDATE rate_limit_state AS r
    SET tat = to_timestamp(u.tat), updated_at = clock_timestamp()
    FROM unnest(v_keys, v_tats, v_dirty) AS u(k, tat, dirty)
    WHERE u.dirty AND r.bucket_key = u.k;
END
$$;
REVOKE EXECUTE ON FUNCTION ingest_rate_limit_take(text[], float8[], int[], text[], float8[], int[])
    FROM PUBLIC;
