-- Operations: the job queue, function logs, rate-limit state, statistics rollups, workers.

CREATE TABLE background_jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_type      text NOT NULL CHECK (job_type ~ '^[a-z][a-z0-9_]*$'),
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    priority      smallint NOT NULL DEFAULT 0,
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    dedupe_key    text,
    last_error    text,
    locked_by     text,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    completed_at  timestamptz,
    failed_at     timestamptz,
    is_sandbox    boolean NOT NULL DEFAULT false,
    CHECK ((status = 'processing') = (locked_until IS NOT NULL))
);
CREATE INDEX idx_background_jobs_status_created ON background_jobs (status, created_at);
CREATE INDEX idx_background_jobs_type_status ON background_jobs (job_type, status);
-- the claim path: smallest priority value first, then run_at
CREATE INDEX background_jobs_claim ON background_jobs (priority, run_at, id) WHERE status = 'pending';
CREATE INDEX background_jobs_leases ON background_jobs (locked_until) WHERE status = 'processing';
-- at most one pending job per dedupe key
CREATE UNIQUE INDEX background_jobs_dedupe ON background_jobs (dedupe_key)
    WHERE status = 'pending' AND dedupe_key IS NOT NULL;

CREATE TABLE edge_function_logs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    function_name   text NOT NULL,
    level           text NOT NULL DEFAULT 'info' CHECK (level IN ('debug', 'info', 'warning', 'error')),
    event           text NOT NULL,
    message         text,
    job_id          bigint,
    job_type        text,
    attempts        integer,
    error           text,
    payload_summary jsonb,
    webhook_event_id bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX edge_function_logs_created ON edge_function_logs (created_at);
CREATE INDEX edge_function_logs_function ON edge_function_logs (function_name, created_at);

-- Rate-limit buckets are not user data: UNLOGGED, so an update costs no WAL flush.
-- GCRA: `tat` is the theoretical arrival time of the next request.
CREATE UNLOGGED TABLE rate_limit_state (
    bucket_key text PRIMARY KEY,
    tat        timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Per-minute rollups. Writers add to them in batches (INSERT ... ON CONFLICT DO UPDATE
-- SET x = x + EXCLUDED.x); the views read these instead of scanning raw rows.
-- hist: counts per duration bucket, bounds in function_duration_bounds_ms().
CREATE FUNCTION function_duration_bounds_ms() RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT '{1,2,5,10,20,50,100,200,500,1000,2000,5000,10000,30000,60000}'::double precision[] $$;

CREATE TABLE function_stats_minute (
    function_name text NOT NULL,
    bucket        timestamptz NOT NULL,
    invocations   bigint NOT NULL DEFAULT 0,
    errors        bigint NOT NULL DEFAULT 0,
    items         bigint NOT NULL DEFAULT 0,
    total_ms      double precision NOT NULL DEFAULT 0,
    max_ms        double precision NOT NULL DEFAULT 0,
    hist          bigint[] NOT NULL,
    PRIMARY KEY (function_name, bucket)
);

-- received: acknowledged (202); rejected: refused before storage (401/404/409/413/429...);
-- duplicates: acknowledged again without a new event; processed/unmatched/failed: job outcome.
CREATE TABLE webhook_stats_minute (
    source_id     int NOT NULL,
    bucket        timestamptz NOT NULL,
    received      bigint NOT NULL DEFAULT 0,
    duplicates    bigint NOT NULL DEFAULT 0,
    rejected      bigint NOT NULL DEFAULT 0,
    rate_limited  bigint NOT NULL DEFAULT 0,
    processed     bigint NOT NULL DEFAULT 0,
    unmatched     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    processing_ms double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (source_id, bucket)
);

-- completed/failed counts and durations per job type, written with each completion batch;
-- retention pruning deletes background_jobs rows but never these.
CREATE TABLE job_stats_minute (
    job_type     text NOT NULL,
    bucket       timestamptz NOT NULL,
    completed    bigint NOT NULL DEFAULT 0,
    failed       bigint NOT NULL DEFAULT 0,
    retried      bigint NOT NULL DEFAULT 0,
    total_ms     double precision NOT NULL DEFAULT 0,
    wait_ms      double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (job_type, bucket)
);

-- Live worker processes (heartbeat); stale after 3 missed heartbeats.
CREATE TABLE workers (
    worker_id      text PRIMARY KEY,
    host           text NOT NULL,
    pid            integer NOT NULL,
    version        text NOT NULL,
    concurrency    integer NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_seconds double precision NOT NULL,
    jobs_completed bigint NOT NULL DEFAULT 0,
    jobs_failed    bigint NOT NULL DEFAULT 0,
    is_leader      boolean NOT NULL DEFAULT false
);
