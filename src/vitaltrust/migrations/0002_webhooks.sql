-- Webhook sources, provider account mapping, received events.

CREATE TABLE webhook_sources (
    source_id     int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    kind          text NOT NULL CHECK (kind IN
                    ('standard', 'junction', 'terra', 'garmin', 'withings', 'oura', 'manual')),
    -- HMAC kinds (standard, junction, terra) need the key itself to verify a signature,
    -- so it cannot be hashed; shared-secret kinds (garmin) store only SHA-256 of it.
    signing_key        bytea,
    shared_secret_hash bytea CHECK (shared_secret_hash IS NULL OR length(shared_secret_hash) = 32),
    garmin_client_id   text,
    enabled       boolean NOT NULL DEFAULT true,
    is_sandbox    boolean NOT NULL DEFAULT false,
    -- token bucket per source and per source account: refill rate and burst
    rate_per_second          double precision NOT NULL DEFAULT 200 CHECK (rate_per_second > 0),
    rate_burst               integer NOT NULL DEFAULT 400 CHECK (rate_burst > 0),
    account_rate_per_second  double precision NOT NULL DEFAULT 20 CHECK (account_rate_per_second > 0),
    account_rate_burst       integer NOT NULL DEFAULT 60 CHECK (account_rate_burst > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (kind = 'manual' OR signing_key IS NOT NULL OR shared_secret_hash IS NOT NULL)
);

-- The built-in source for manual entries (POST /api/me/samples).
INSERT INTO webhook_sources (name, kind) VALUES ('manual', 'manual');

-- A provider's user id -> our user. A lookup table (a Citus reference table at scale):
-- it must be unique on (source, external id) to be resolvable at all.
CREATE TABLE source_accounts (
    source_id        int NOT NULL REFERENCES webhook_sources (source_id) ON DELETE CASCADE,
    external_user_id text NOT NULL CHECK (external_user_id <> ''),
    user_id          bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, external_user_id)
);
CREATE INDEX source_accounts_user ON source_accounts (user_id, source_id);

-- One row per accepted delivery; the raw body is kept byte-for-byte.
CREATE TABLE webhook_events (
    webhook_event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id     int NOT NULL REFERENCES webhook_sources (source_id),
    event_id      text NOT NULL CHECK (event_id <> ''),
    body_sha256   bytea NOT NULL CHECK (length(body_sha256) = 32),
    body          bytea NOT NULL,
    content_type  text,
    event_type    text,
    status        text NOT NULL DEFAULT 'received'
                  CHECK (status IN ('received', 'processed', 'unmatched', 'ignored', 'failed')),
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    processing_ms double precision,
    sample_count  integer NOT NULL DEFAULT 0,
    rejections    jsonb NOT NULL DEFAULT '[]'::jsonb,
    error         text,
    UNIQUE (source_id, event_id)
);
CREATE INDEX webhook_events_received ON webhook_events (received_at);
CREATE INDEX webhook_events_status ON webhook_events (status, received_at)
    WHERE status <> 'processed';
