-- A sample's identity includes its device (type and model): one integration (a Junction,
-- Terra or native source) carries several devices, and two readings at the same instant
-- from a scale and a manual entry are two samples, resolved by device priority.
-- device_key is derived (never written): device types never contain '/', so the first
-- '/' separates type and model and two different devices never share a key.
ALTER TABLE metric_samples
    ADD COLUMN device_key text NOT NULL
        GENERATED ALWAYS AS (device_type || '/' || coalesce(device_model, '')) STORED,
    -- daily summaries: how much of the local day the stored summary covers (seconds);
    -- a summary replaces a stored one of the same day only when it covers at least as much
    ADD COLUMN coverage_seconds integer CHECK (coverage_seconds >= 0);

-- The old key (user, metric, source, measured_at) was unique, so the wider key is too.
ALTER TABLE metric_samples DROP CONSTRAINT metric_samples_pkey,
    ADD CONSTRAINT metric_samples_pkey
        PRIMARY KEY (user_id, metric, source_id, measured_at, device_key);

-- Only summary rows: "is a fuller summary of this day stored?" at intake.
CREATE INDEX metric_samples_summary_day ON metric_samples (user_id, metric, source_id, local_date)
    WHERE coverage_seconds IS NOT NULL;

-- A conflict's loser is identified by its device too (two losers of one source may share
-- a time). Existing rows get their devices' models from the samples, which the old key
-- identified exactly.
ALTER TABLE metric_conflicts
    ADD COLUMN loser_device_model text,
    ADD COLUMN winner_device_model text;

UPDATE metric_conflicts c SET loser_device_model = s.device_model
FROM metric_samples s
WHERE s.user_id = c.user_id AND s.metric = c.metric AND s.source_id = c.loser_source_id
  AND s.measured_at = c.loser_measured_at AND s.device_model IS NOT NULL;
UPDATE metric_conflicts c SET winner_device_model = s.device_model
FROM metric_samples s
WHERE s.user_id = c.user_id AND s.metric = c.metric AND s.source_id = c.winner_source_id
  AND s.measured_at = c.winner_measured_at AND s.device_model IS NOT NULL;

ALTER TABLE metric_conflicts
    ADD COLUMN loser_device_key text NOT NULL
        GENERATED ALWAYS AS (loser_device_type || '/' || coalesce(loser_device_model, '')) STORED;
ALTER TABLE metric_conflicts DROP CONSTRAINT metric_conflicts_pkey,
    ADD CONSTRAINT metric_conflicts_pkey
        PRIMARY KEY (user_id, metric, loser_source_id, loser_measured_at, loser_device_key);
