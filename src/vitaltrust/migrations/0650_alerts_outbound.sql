-- Alerts (rules' state and history), alert destinations, outbound event subscriptions,
-- the outbound events themselves and their per-target delivery log.
-- URLs and signing secrets are stored encrypted (Fernet, key from settings); *_hint columns
-- keep a redacted form for listings.

CREATE TABLE alert_destinations (
    destination_id     int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
    kind               text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    target_enc         bytea NOT NULL,   -- URL (webhook, slack) or recipient address (email)
    target_hint        text NOT NULL,
    secret_enc         bytea,            -- webhook: the Standard Webhooks secret (whsec_...)
    timeout_seconds    double precision NOT NULL DEFAULT 10 CHECK (timeout_seconds BETWEEN 0.1 AND 60),
    max_response_bytes integer NOT NULL DEFAULT 65536 CHECK (max_response_bytes BETWEEN 0 AND 10485760),
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'webhook') = (secret_enc IS NOT NULL))
);

CREATE TABLE event_subscriptions (
    subscription_id    int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
    url_enc            bytea NOT NULL,
    url_hint           text NOT NULL,
    secret_enc         bytea NOT NULL,
    event_types        text[] NOT NULL CHECK (
        cardinality(event_types) > 0 AND event_types <@ ARRAY[
            'confidence.level_changed', 'confidence.low_quality', 'webhook.unmatched_account',
            'alert.firing', 'alert.resolved']::text[]),
    timeout_seconds    double precision NOT NULL DEFAULT 10 CHECK (timeout_seconds BETWEEN 0.1 AND 60),
    max_response_bytes integer NOT NULL DEFAULT 65536 CHECK (max_response_bytes BETWEEN 0 AND 10485760),
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- One row per rule: where its state machine stands (ok -> pending -> firing -> resolving -> ok).
CREATE TABLE alert_states (
    rule          text PRIMARY KEY,
    status        text NOT NULL CHECK (status IN ('ok', 'pending', 'firing', 'resolving')),
    severity      text NOT NULL CHECK (severity IN ('warning', 'critical')),
    since         timestamptz NOT NULL,   -- entered this status
    fired_at      timestamptz,
    value         double precision,
    threshold     double precision,
    message       text NOT NULL DEFAULT '',
    evaluated_at  timestamptz NOT NULL,
    evaluated_by  text NOT NULL
);

CREATE TABLE alert_history (
    history_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule          text NOT NULL,
    event         text NOT NULL CHECK (event IN ('firing', 'resolved')),
    severity      text NOT NULL,
    value         double precision,
    threshold     double precision,
    message       text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    evaluated_by  text NOT NULL
);
CREATE INDEX alert_history_at ON alert_history (at);

-- Every outbound message: its webhook-id is fixed here, so a retry or replay carries the same one.
CREATE TABLE outbound_events (
    event_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id    text NOT NULL UNIQUE DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    event_type    text NOT NULL,
    ordering_key  text,                    -- e.g. 'user:42:weight'; events of one key go in order
    payload       jsonb NOT NULL,          -- {type, timestamp, data}
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_events_created ON outbound_events (created_at);

CREATE TABLE outbound_deliveries (
    delivery_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         bigint NOT NULL REFERENCES outbound_events (event_id) ON DELETE CASCADE,
    destination_id   int REFERENCES alert_destinations (destination_id) ON DELETE CASCADE,
    subscription_id  int REFERENCES event_subscriptions (subscription_id) ON DELETE CASCADE,
    -- deliveries of one stream are sent one at a time, oldest first
    stream           text NOT NULL,
    -- 'direct': sent by the API watchdog itself (alerts about the queue must not need it)
    via              text NOT NULL DEFAULT 'queue' CHECK (via IN ('queue', 'direct')),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_duration_ms double precision,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    is_test          boolean NOT NULL DEFAULT false,
    CHECK ((destination_id IS NULL) <> (subscription_id IS NULL))
);
CREATE INDEX outbound_deliveries_pending ON outbound_deliveries (stream, delivery_id)
    WHERE status = 'pending';
CREATE INDEX outbound_deliveries_destination ON outbound_deliveries (destination_id, delivery_id);
CREATE INDEX outbound_deliveries_subscription ON outbound_deliveries (subscription_id, delivery_id);
CREATE INDEX outbound_deliveries_event ON outbound_deliveries (event_id);

CREATE TABLE outbound_attempts (
    attempt_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   bigint NOT NULL REFERENCES outbound_deliveries (delivery_id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    status_code   integer,
    duration_ms   double precision NOT NULL,
    error         text,
    by_worker     text NOT NULL
);
CREATE INDEX outbound_attempts_delivery ON outbound_attempts (delivery_id);

-- Provider accounts already announced as unmatched (one event per account, not per delivery).
CREATE TABLE outbound_unmatched_seen (
    source_id        int NOT NULL REFERENCES webhook_sources (source_id) ON DELETE CASCADE,
    external_user_id text NOT NULL,
    seen_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, external_user_id)
);

-- Queue one delivery job per stream (deduplicated: a pending twin is locked until commit,
-- so a worker cannot run it before these deliveries are visible).
CREATE FUNCTION outbound_enqueue_streams(p_streams text[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO background_jobs (type, payload, dedupe_key, max_attempts)
    SELECT 'outbound_delivery', jsonb_build_object('stream', s), 'outbound:' || s, 1000
    FROM (SELECT DISTINCT unnest(p_streams) AS s) x
    ORDER BY 3
    ON CONFLICT (dedupe_key) WHERE status = 'pending' AND dedupe_key IS NOT NULL
    DO UPDATE SET run_at = least(background_jobs.run_at, EXCLUDED.run_at);
    SELECT pg_notify('vitaltrust_jobs', 'outbound_delivery') WHERE cardinality(p_streams) > 0;
$$;

-- An event for every subscription that wants its type; nothing at all when none does.
CREATE FUNCTION outbound_emit(p_type text, p_ordering_key text, p_data jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_event bigint;
    v_streams text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM event_subscriptions WHERE p_type = ANY (event_types)) THEN
        RETURN NULL;
    END IF;
    INSERT INTO outbound_events (event_type, ordering_key, payload)
    VALUES (p_type, p_ordering_key, jsonb_build_object(
        'type', p_type,
        'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'data', p_data))
    RETURNING event_id INTO v_event;
    WITH d AS (
        INSERT INTO outbound_deliveries (event_id, subscription_id, stream)
        SELECT v_event, s.subscription_id,
               's:' || s.subscription_id || ':' || coalesce(p_ordering_key, '-')
        FROM event_subscriptions s WHERE p_type = ANY (s.event_types)
        ORDER BY s.subscription_id
        RETURNING stream
    )
    SELECT array_agg(stream) INTO v_streams FROM d;
    PERFORM outbound_enqueue_streams(coalesce(v_streams, '{}'));
    RETURN v_event;
END $$;

-- confidence.level_changed / confidence.low_quality, written in the transaction that writes
-- the cache. Recalculations that leave the level (and staleness) alone fire nothing.
CREATE FUNCTION outbound_confidence_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_old_level text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.level END;
    v_old_stale boolean := TG_OP = 'UPDATE'
        AND OLD.explanation @? '$.reasons[*] ? (@.code == "STALE")';
    v_stale boolean := NEW.explanation @? '$.reasons[*] ? (@.code == "STALE")';
    v_key text := 'user:' || NEW.user_id || ':' || NEW.metric;
    v_data jsonb;
BEGIN
    IF EXISTS (SELECT 1 FROM users WHERE user_id = NEW.user_id AND is_sandbox) THEN
        RETURN NULL;
    END IF;
    v_data := jsonb_build_object(
        'user_id', NEW.user_id, 'metric', NEW.metric,
        'old_level', v_old_level, 'new_level', NEW.level, 'score', NEW.score,
        'top_reasons', coalesce((SELECT jsonb_agg(r) FROM (
            SELECT r FROM jsonb_array_elements(NEW.explanation -> 'reasons') WITH ORDINALITY AS t(r, n)
            ORDER BY n LIMIT 3) x), '[]'::jsonb),
        'computed_at', NEW.computed_at);
    IF v_old_level IS DISTINCT FROM NEW.level THEN
        PERFORM outbound_emit('confidence.level_changed', v_key, v_data);
    END IF;
    IF (NEW.level IN ('poor', 'insufficient')
            AND coalesce(v_old_level NOT IN ('poor', 'insufficient'), true))
       OR (v_stale AND NOT v_old_stale) THEN
        PERFORM outbound_emit('confidence.low_quality', v_key,
                              v_data || jsonb_build_object('stale', v_stale));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER outbound_confidence_insert AFTER INSERT ON metric_confidence_cache
    FOR EACH ROW EXECUTE FUNCTION outbound_confidence_changed();
CREATE TRIGGER outbound_confidence_update AFTER UPDATE ON metric_confidence_cache
    FOR EACH ROW
    WHEN (OLD.level IS DISTINCT FROM NEW.level
          OR (NEW.explanation @? '$.reasons[*] ? (@.code == "STALE")')
             IS DISTINCT FROM (OLD.explanation @? '$.reasons[*] ? (@.code == "STALE")'))
    EXECUTE FUNCTION outbound_confidence_changed();

-- webhook.unmatched_account: once per provider account that no user is linked to.
CREATE FUNCTION outbound_unmatched_accounts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_source text;
    v_account text;
BEGIN
    SELECT name INTO v_source FROM webhook_sources WHERE source_id = NEW.source_id AND NOT is_sandbox;
    IF v_source IS NULL THEN
        RETURN NULL;
    END IF;
    FOR v_account IN
        INSERT INTO outbound_unmatched_seen (source_id, external_user_id)
        SELECT DISTINCT NEW.source_id, r ->> 'external_user_id'
        FROM jsonb_array_elements(NEW.rejections) r
        WHERE r ? 'external_user_id' AND NOT r ? 'index' AND NOT r ? 'metric'
        ORDER BY 2
        ON CONFLICT DO NOTHING
        RETURNING external_user_id
    LOOP
        PERFORM outbound_emit('webhook.unmatched_account', NULL, jsonb_build_object(
            'source', v_source, 'external_user_id', v_account,
            'provider_event_id', NEW.event_id, 'received_at', NEW.received_at));
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER outbound_unmatched AFTER UPDATE OF status ON webhook_events
    FOR EACH ROW WHEN (NEW.status IN ('unmatched', 'processed') AND OLD.status = 'received'
                       AND NEW.rejections <> '[]'::jsonb)
    EXECUTE FUNCTION outbound_unmatched_accounts();
