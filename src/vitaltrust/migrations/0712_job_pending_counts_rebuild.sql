-- The pending and failed counters (0710) follow every write that fires triggers. A bulk
-- load with session_replication_role = replica (bench seed, a hand-made restore) bypasses
-- them: this recomputes both from the queue table, locking out queue writers meanwhile
-- (SHARE conflicts with their ROW EXCLUSIVE), and returns the pending total.
CREATE FUNCTION rebuild_job_pending_counts() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_total bigint;
BEGIN
    LOCK TABLE background_jobs IN SHARE MODE;
    DELETE FROM job_pending_counts;
    INSERT INTO job_pending_counts (type, day, n)
    SELECT b.type, (b.created_at AT TIME ZONE 'UTC')::date, count(*)
    FROM background_jobs b WHERE b.status = 'pending' AND NOT b.is_sandbox
    GROUP BY 1, 2;
    DELETE FROM job_failed_counts;
    INSERT INTO job_failed_counts (type, n)
    SELECT b.type, count(*) FROM background_jobs b WHERE b.status = 'failed' AND NOT b.is_sandbox
    GROUP BY 1;
    SELECT coalesce(sum(c.n), 0) INTO v_total FROM job_pending_counts c;
    RETURN v_total;
END
$$;
