-- Exact pending-job counts without counting the queue table.
--
-- With a backlog of 100,000 pending jobs, counting them (the dashboard, job_processing_stats,
-- /metrics and the health signals all did) cost a sequential scan of background_jobs
-- (EXPLAIN: ~7,300 buffers, 90-130 ms on the 2-core host). A partial index does not fix
-- it: the backlog's pages are not all-visible until vacuum, so the planner keeps the
-- sequential scan, and even an index-only count of 100k entries took 20-35 ms.
--
-- job_pending_counts holds signed deltas of pending, non-sandbox jobs per type and UTC
-- enqueue date. Statement-level triggers on background_jobs append one row per
-- (type, date) a statement changes, from its transition tables, in the statement's own
-- transaction: every snapshot sees the jobs and their deltas together, so the sums are
-- exact. The table is append-only (no hot counter row on the enqueue or claim path: two
-- workers never wait on each other for it); compact_job_pending_counts(), run by the
-- scheduler leader, folds the deltas into one row per (type, date).
--
-- job_failed_counts does the same for failed, non-sandbox jobs per type: counting them
-- (the dashboard, /metrics) fetched one heap page per failed job (10,000 failed jobs:
-- ~10,000 buffers, 14 ms; the failed list keeps 100,000 and more). A job enters or
-- leaves 'failed' rarely, so row-level triggers with a WHEN condition keep these: the
-- claim and completion statements only evaluate the condition (statement-level tracking
-- of both counts cost the no-op queue drain 5-10 %).

CREATE TABLE job_pending_counts (
    type text NOT NULL,
    day  date NOT NULL,  -- (created_at AT TIME ZONE 'UTC')::date
    n    bigint NOT NULL
);

-- pending, non-sandbox jobs per type and UTC enqueue date (no row for a count of 0)
CREATE VIEW job_pending_by_day AS
SELECT c.type, c.day, sum(c.n)::bigint AS pending
FROM job_pending_counts c
GROUP BY c.type, c.day
HAVING sum(c.n) <> 0;

CREATE TABLE job_failed_counts (
    type text NOT NULL,
    n    bigint NOT NULL
);

-- failed, non-sandbox jobs per type (no row for a count of 0)
CREATE VIEW job_failed_by_type AS
SELECT c.type, sum(c.n)::bigint AS failed
FROM job_failed_counts c
GROUP BY c.type
HAVING sum(c.n) <> 0;

CREATE FUNCTION job_pending_counts_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_pending_counts (type, day, n)
        SELECT j.type, (j.created_at AT TIME ZONE 'UTC')::date, count(*)
        FROM new_jobs j WHERE j.status = 'pending' AND NOT j.is_sandbox
        GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO job_pending_counts (type, day, n)
        SELECT j.type, (j.created_at AT TIME ZONE 'UTC')::date, -count(*)
        FROM old_jobs j WHERE j.status = 'pending' AND NOT j.is_sandbox
        GROUP BY 1, 2;
    ELSE
        INSERT INTO job_pending_counts (type, day, n)
        SELECT d.type, d.day, sum(d.n)
        FROM (SELECT j.type, (j.created_at AT TIME ZONE 'UTC')::date AS day, 1 AS n
              FROM new_jobs j WHERE j.status = 'pending' AND NOT j.is_sandbox
              UNION ALL
              SELECT j.type, (j.created_at AT TIME ZONE 'UTC')::date, -1
              FROM old_jobs j WHERE j.status = 'pending' AND NOT j.is_sandbox) d
        GROUP BY 1, 2
        HAVING sum(d.n) <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION job_pending_counts_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_pending_counts;
    DELETE FROM job_failed_counts;
    RETURN NULL;
END
$$;

-- (a trigger with transition tables takes one event; CREATE TRIGGER locks out writers
-- until this migration commits, so the initial counts below are exact)
CREATE TRIGGER job_pending_counts_insert AFTER INSERT ON background_jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_pending_counts_track();
CREATE TRIGGER job_pending_counts_update AFTER UPDATE ON background_jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_pending_counts_track();
CREATE TRIGGER job_pending_counts_delete AFTER DELETE ON background_jobs
    REFERENCING OLD TABLE AS old_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_pending_counts_track();
CREATE TRIGGER job_pending_counts_truncate AFTER TRUNCATE ON background_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_pending_counts_clear();

CREATE FUNCTION job_failed_counts_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.status = 'failed' AND NOT OLD.is_sandbox THEN
            INSERT INTO job_failed_counts (type, n) VALUES (OLD.type, -1);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.status = 'failed' AND NOT NEW.is_sandbox THEN
            INSERT INTO job_failed_counts (type, n) VALUES (NEW.type, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_failed_counts_insert AFTER INSERT ON background_jobs FOR EACH ROW
    WHEN (NEW.status = 'failed' AND NOT NEW.is_sandbox)
    EXECUTE FUNCTION job_failed_counts_track();
CREATE TRIGGER job_failed_counts_update AFTER UPDATE ON background_jobs FOR EACH ROW
    WHEN ((OLD.status = 'failed' AND NOT OLD.is_sandbox) OR (NEW.status = 'failed' AND NOT NEW.is_sandbox))
    EXECUTE FUNCTION job_failed_counts_track();
CREATE TRIGGER job_failed_counts_delete AFTER DELETE ON background_jobs FOR EACH ROW
    WHEN (OLD.status = 'failed' AND NOT OLD.is_sandbox)
    EXECUTE FUNCTION job_failed_counts_track();

INSERT INTO job_pending_counts (type, day, n)
SELECT b.type, (b.created_at AT TIME ZONE 'UTC')::date, count(*)
FROM background_jobs b WHERE b.status = 'pending' AND NOT b.is_sandbox
GROUP BY 1, 2;
INSERT INTO job_failed_counts (type, n)
SELECT b.type, count(*) FROM background_jobs b WHERE b.status = 'failed' AND NOT b.is_sandbox
GROUP BY 1;

-- Folds the deltas into one row per (type, day), and the failed deltas into one row per
-- type, and drops the zeros; returns the number of rows it read. Deltas committed
-- meanwhile are not in its snapshot and stay as they are.
CREATE FUNCTION compact_job_pending_counts() RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM job_pending_counts RETURNING type, day, n
    ), kept AS (
        INSERT INTO job_pending_counts (type, day, n)
        SELECT g.type, g.day, sum(g.n) FROM gone g
        GROUP BY 1, 2 HAVING sum(g.n) <> 0
        RETURNING 1
    ), gone_failed AS (
        DELETE FROM job_failed_counts RETURNING type, n
    ), kept_failed AS (
        INSERT INTO job_failed_counts (type, n)
        SELECT g.type, sum(g.n) FROM gone_failed g
        GROUP BY 1 HAVING sum(g.n) <> 0
        RETURNING 1
    )
    SELECT ((SELECT count(*) FROM gone) + (SELECT count(*) FROM gone_failed))::integer
$$;

-- The longest wait of a runnable job (health signals, /metrics) is the first entry here:
-- an ordered lookup instead of min(run_at) over every pending row. The claim index
-- (priority, run_at, id) cannot answer it: it is ordered by priority first and holds
-- sandbox jobs.
CREATE INDEX background_jobs_pending_run_at ON background_jobs (run_at)
    WHERE status = 'pending' AND NOT is_sandbox;
