-- Secret rotation with an overlap: the previous signing key (HMAC kinds) or the previous
-- URL-token digest (garmin) keeps working until previous_expires_at, then only the current
-- one does. Only the signing key must stay recoverable (an HMAC needs it); garmin tokens
-- are verifiable, so only their SHA-256 is kept, as for the current one.
ALTER TABLE webhook_sources
    ADD COLUMN previous_signing_key bytea,
    ADD COLUMN previous_shared_secret_hash bytea
        CHECK (previous_shared_secret_hash IS NULL OR length(previous_shared_secret_hash) = 32),
    ADD COLUMN previous_expires_at timestamptz,
    ADD COLUMN secret_rotated_at timestamptz,
    ADD CONSTRAINT webhook_sources_previous_has_expiry CHECK (
        (previous_signing_key IS NULL AND previous_shared_secret_hash IS NULL)
        OR previous_expires_at IS NOT NULL);

-- `sources list`: each source's last delivery without scanning every event.
CREATE INDEX webhook_events_source_received ON webhook_events (source_id, received_at);
