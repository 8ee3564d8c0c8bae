-- Rate-limit a batch and remember which deliveries were admitted, for the statement that
-- follows on the same connection (pipelined behind a Sync, so in its own transaction:
-- the bucket locks are released before the durable commit of the deliveries).
-- The admitted list is kept in the session setting `vitaltrust.rl_admitted` as
-- '<batch id>:<ord>,<ord>,...'; the reader checks the batch id, so a stale value from an
-- earlier batch (or a failed call) admits nothing.
CREATE FUNCTION ingest_rate_limit_admit(
    p_batch text, p_ords int[],
    p_src_keys text[], p_src_rate float8[], p_src_burst int[],
    p_acc_keys text[], p_acc_rate float8[], p_acc_burst int[])
RETURNS TABLE (idx int, allowed boolean, retry_after float8,
               src_remaining int, src_reset float8, acc_remaining int, acc_reset float8)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
    v_admitted int[] := '{}';
    r record;
BEGIN
    PERFORM set_config('vitaltrust.rl_admitted', '', false);
    FOR r IN SELECT * FROM ingest_rate_limit_take(p_src_keys, p_src_rate, p_src_burst,
                                                  p_acc_keys, p_acc_rate, p_acc_burst) AS t
             ORDER BY t.idx LOOP
        idx := r.idx; allowed := r.allowed; retry_after := r.retry_after;
        src_remaining := r.src_remaining; src_reset := r.src_reset;
        acc_remaining := r.acc_remaining; acc_reset := r.acc_reset;
        IF r.allowed THEN
            v_admitted := v_admitted || p_ords[r.idx];
        END IF;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('vitaltrust.rl_admitted', p_batch || ':' || array_to_string(v_admitted, ','),
                       false);
END
$$;
REVOKE EXECUTE ON FUNCTION ingest_rate_limit_admit(text, int[], text[], float8[], int[], text[],
                                                   float8[], int[]) FROM PUBLIC;
