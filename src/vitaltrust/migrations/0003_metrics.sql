-- Metric catalog, samples, conflicts, priorities, confidence cache and history.

CREATE TABLE metric_catalog (
    metric          text PRIMARY KEY CHECK (metric ~ '^[a-z][a-z0-9_]*$'),
    display_name    text NOT NULL UNIQUE,
    canonical_unit  text NOT NULL,
    aggregation     text NOT NULL CHECK (aggregation IN ('discrete', 'cumulative_daily')),
    cadence         interval NOT NULL CHECK (cadence > interval '0'),
    -- NULL conflict window = same local date
    conflict_window interval,
    hard_min        double precision NOT NULL,
    hard_max        double precision NOT NULL,
    -- agreement tolerance: absolute (canonical unit) or relative (fraction)
    tolerance_abs   double precision,
    tolerance_rel   double precision,
    -- Hampel fallback when MAD = 0
    measurement_error double precision NOT NULL,
    default_priority text[] NOT NULL,
    reliability     jsonb NOT NULL,
    sort_order      smallint NOT NULL,
    CHECK (hard_min < hard_max),
    CHECK (tolerance_abs IS NOT NULL OR tolerance_rel IS NOT NULL)
);

INSERT INTO metric_catalog (metric, display_name, canonical_unit, aggregation, cadence,
    conflict_window, hard_min, hard_max, tolerance_abs, tolerance_rel, measurement_error,
    default_priority, reliability, sort_order) VALUES
 ('weight', 'Weight', 'kg', 'discrete', '1 day', '30 minutes', 25, 350, 1, NULL, 0.2,
  '{lab,scale,manual,phone,watch,ring,band,chest_strap,bp_cuff,unknown}',
  '{"scale": 95, "lab": 98, "manual": 75, "unknown": 50}', 1),
 ('body_fat', 'Body Fat', '%', 'discrete', '7 days', '30 minutes', 3, 70, 1.5, NULL, 0.5,
  '{lab,scale,manual,phone,watch,ring,band,chest_strap,bp_cuff,unknown}',
  '{"lab": 60, "scale": 60, "manual": 60, "phone": 60, "watch": 60, "ring": 60, "band": 60, "unknown": 50}', 2),
 ('resting_heart_rate', 'Resting Heart Rate', 'bpm', 'discrete', '1 day', NULL, 25, 150, 5, NULL, 1,
  '{chest_strap,ring,watch,band,phone,manual,bp_cuff,scale,lab,unknown}',
  '{"chest_strap": 95, "ring": 90, "watch": 85, "unknown": 50}', 3),
 ('heart_rate', 'Heart Rate', 'bpm', 'discrete', '1 day', '5 minutes', 25, 250, 5, NULL, 2,
  '{chest_strap,ring,watch,band,phone,bp_cuff,manual,scale,lab,unknown}',
  '{"chest_strap": 95, "ring": 85, "watch": 85, "band": 80, "bp_cuff": 85, "unknown": 50}', 4),
 ('hrv_rmssd', 'HRV (RMSSD)', 'ms', 'discrete', '1 day', NULL, 3, 300, NULL, 0.15, 3,
  '{chest_strap,ring,watch,band,phone,manual,scale,bp_cuff,lab,unknown}',
  '{"chest_strap": 95, "ring": 90, "watch": 75, "unknown": 50}', 5),
 ('hrv_sdnn', 'HRV (SDNN)', 'ms', 'discrete', '1 day', NULL, 3, 300, NULL, 0.15, 3,
  '{chest_strap,ring,watch,band,phone,manual,scale,bp_cuff,lab,unknown}',
  '{"chest_strap": 95, "ring": 90, "watch": 75, "unknown": 50}', 6),
 ('steps', 'Steps', 'steps', 'cumulative_daily', '1 day', NULL, 0, 100000, NULL, 0.10, 100,
  '{watch,band,ring,phone,manual,chest_strap,scale,bp_cuff,lab,unknown}',
  '{"watch": 85, "band": 85, "phone": 75, "manual": 50, "unknown": 50}', 7),
 ('sleep_duration', 'Sleep Duration', 's', 'cumulative_daily', '1 day', NULL, 0, 64800, 1800, NULL, 600,
  '{ring,watch,band,phone,manual,chest_strap,scale,bp_cuff,lab,unknown}',
  '{"ring": 75, "watch": 75, "manual": 60, "unknown": 50}', 8),
 ('blood_pressure_systolic', 'Blood Pressure (Systolic)', 'mmHg', 'discrete', '7 days', '30 minutes', 60, 260, 5, NULL, 3,
  '{bp_cuff,lab,manual,watch,ring,band,phone,chest_strap,scale,unknown}',
  '{"bp_cuff": 95, "lab": 95, "manual": 80, "unknown": 50}', 9),
 ('blood_pressure_diastolic', 'Blood Pressure (Diastolic)', 'mmHg', 'discrete', '7 days', '30 minutes', 30, 160, 5, NULL, 3,
  '{bp_cuff,lab,manual,watch,ring,band,phone,chest_strap,scale,unknown}',
  '{"bp_cuff": 95, "lab": 95, "manual": 80, "unknown": 50}', 10),
 ('spo2', 'SpO2', '%', 'discrete', '1 day', NULL, 70, 100, 2, NULL, 1,
  '{lab,ring,watch,band,phone,manual,chest_strap,scale,bp_cuff,unknown}',
  '{"lab": 95, "ring": 80, "watch": 75, "band": 70, "manual": 60, "unknown": 50}', 11),
 ('vo2max', 'VO2 Max', 'mL/kg/min', 'discrete', '14 days', NULL, 10, 90, 3, NULL, 1,
  '{lab,watch,ring,band,phone,manual,chest_strap,scale,bp_cuff,unknown}',
  '{"lab": 95, "watch": 60, "unknown": 50}', 12);

CREATE TABLE metric_samples (
    user_id        bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    metric         text NOT NULL REFERENCES metric_catalog (metric),
    source_id      int NOT NULL REFERENCES webhook_sources (source_id),
    measured_at    timestamptz NOT NULL,
    local_date     date NOT NULL,
    value          double precision NOT NULL CHECK (value <> 'NaN'::float8 AND value <> 'Infinity'::float8
                                                    AND value <> '-Infinity'::float8),
    original_value double precision,
    original_unit  text,
    device_type    text NOT NULL DEFAULT 'unknown' CHECK (device_type IN
                     ('scale', 'watch', 'ring', 'band', 'chest_strap', 'bp_cuff', 'phone',
                      'manual', 'lab', 'unknown')),
    device_model   text,
    external_id    text,
    -- IMPLAUSIBLE_VALUE, UNIT_SLIP, RAPID_CHANGE, OUTLIER, ...
    flags          text[] NOT NULL DEFAULT '{}',
    webhook_event_id bigint,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, metric, source_id, measured_at)
);
CREATE INDEX metric_samples_user_metric_time ON metric_samples (user_id, metric, measured_at DESC);
CREATE UNIQUE INDEX metric_samples_external_id ON metric_samples (user_id, metric, source_id, external_id)
    WHERE external_id IS NOT NULL;

-- Per-user source priority overrides (device types, highest first).
CREATE TABLE user_source_priorities (
    user_id    bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    metric     text NOT NULL REFERENCES metric_catalog (metric),
    priority   text[] NOT NULL CHECK (cardinality(priority) > 0),
    updated_by bigint REFERENCES users (user_id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, metric)
);

-- Each losing sample of a conflict group, with the winner it lost to.
CREATE TABLE metric_conflicts (
    user_id            bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    metric             text NOT NULL REFERENCES metric_catalog (metric),
    loser_source_id    int NOT NULL REFERENCES webhook_sources (source_id),
    loser_measured_at  timestamptz NOT NULL,
    loser_value        double precision NOT NULL,
    loser_device_type  text NOT NULL,
    winner_source_id   int NOT NULL REFERENCES webhook_sources (source_id),
    winner_measured_at timestamptz NOT NULL,
    winner_value       double precision NOT NULL,
    winner_device_type text NOT NULL,
    difference         double precision NOT NULL,
    agrees             boolean NOT NULL,
    detected_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, metric, loser_source_id, loser_measured_at)
);
CREATE INDEX metric_conflicts_recent ON metric_conflicts (user_id, metric, winner_measured_at DESC);

CREATE TABLE metric_confidence_cache (
    user_id        bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    metric         text NOT NULL REFERENCES metric_catalog (metric),
    score          numeric(4, 1) NOT NULL CHECK (score BETWEEN 0 AND 100),
    level          text NOT NULL CHECK (level IN ('excellent', 'good', 'fair', 'poor', 'insufficient')),
    components     jsonb NOT NULL,
    explanation    jsonb NOT NULL,
    sample_count   integer NOT NULL CHECK (sample_count >= 0),
    last_sample_at timestamptz,
    latest_value   double precision,
    computed_at    timestamptz NOT NULL,
    -- the scheduler recalculates rows whose level could change by this time (freshness decay)
    next_refresh_at timestamptz,
    data_version   bigint NOT NULL DEFAULT 0,
    model_version  text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idx_metric_confidence_cache_user_metric PRIMARY KEY (user_id, metric)
);
CREATE INDEX idx_metric_confidence_cache_updated ON metric_confidence_cache (updated_at);
CREATE INDEX metric_confidence_cache_refresh ON metric_confidence_cache (next_refresh_at);

CREATE TABLE metric_confidence_history (
    user_id       bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    metric        text NOT NULL REFERENCES metric_catalog (metric),
    computed_at   timestamptz NOT NULL,
    score         numeric(4, 1) NOT NULL CHECK (score BETWEEN 0 AND 100),
    level         text NOT NULL CHECK (level IN ('excellent', 'good', 'fair', 'poor', 'insufficient')),
    sample_count  integer NOT NULL,
    model_version text NOT NULL,
    PRIMARY KEY (user_id, metric, computed_at)
);
CREATE INDEX metric_confidence_history_time ON metric_confidence_history (computed_at);
