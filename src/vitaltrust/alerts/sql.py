"""SQL of the alerts domain (tables, triggers and functions: migration 0650)."""

from __future__ import annotations

# --- destinations and subscriptions -------------------------------------------------------
INSERT_DESTINATION = """
INSERT INTO alert_destinations (name, kind, target_enc, target_hint, secret_enc, timeout_seconds,
                                max_response_bytes)
VALUES (%(name)s, %(kind)s, %(target_enc)s, %(target_hint)s, %(secret_enc)s, %(timeout)s,
        %(max_bytes)s)
ON CONFLICT (name) DO NOTHING
RETURNING destination_id
"""
LIST_DESTINATIONS = """
SELECT d.destination_id, d.name, d.kind, d.target_hint, d.timeout_seconds, d.max_response_bytes,
       d.created_at,
       (SELECT count(*) FROM outbound_deliveries o
        WHERE o.destination_id = d.destination_id AND o.status = 'pending') AS pending,
       (SELECT max(o.delivered_at) FROM outbound_deliveries o
        WHERE o.destination_id = d.destination_id) AS last_delivered_at
FROM alert_destinations d ORDER BY d.name
"""
DELETE_DESTINATION = "DELETE FROM alert_destinations WHERE name = %s RETURNING destination_id"
DESTINATION_ID = "SELECT destination_id FROM alert_destinations WHERE name = %s"
INSERT_SUBSCRIPTION = """
INSERT INTO event_subscriptions (name, url_enc, url_hint, secret_enc, event_types, timeout_seconds,
                                 max_response_bytes)
VALUES (%(name)s, %(url_enc)s, %(url_hint)s, %(secret_enc)s, %(event_types)s, %(timeout)s,
        %(max_bytes)s)
ON CONFLICT (name) DO NOTHING
RETURNING subscription_id
"""
LIST_SUBSCRIPTIONS = """
SELECT s.subscription_id, s.name, s.url_hint, s.event_types, s.timeout_seconds,
       s.max_response_bytes, s.created_at,
       (SELECT count(*) FROM outbound_deliveries o
        WHERE o.subscription_id = s.subscription_id AND o.status = 'pending') AS pending
FROM event_subscriptions s ORDER BY s.name
"""
DELETE_SUBSCRIPTION = "DELETE FROM event_subscriptions WHERE name = %s RETURNING subscription_id"
SUBSCRIPTION_ID = "SELECT subscription_id FROM event_subscriptions WHERE name = %s"

# --- delivery log -----------------------------------------------------------------------------
DELIVERY_LOG = """
SELECT d.delivery_id, e.webhook_id, e.event_type, d.status, d.attempts, d.last_status_code,
       d.last_duration_ms, d.last_error, d.created_at, d.delivered_at,
       CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at, d.via,
       d.is_test
FROM outbound_deliveries d JOIN outbound_events e ON e.event_id = d.event_id
WHERE (%(destination_id)s::int IS NULL OR d.destination_id = %(destination_id)s)
  AND (%(subscription_id)s::int IS NULL OR d.subscription_id = %(subscription_id)s)
ORDER BY d.delivery_id DESC LIMIT %(limit)s
"""

# --- events ----------------------------------------------------------------------------------
# An alert message: to every destination (directly by the API watchdog for liveness alerts)
# and to every subscription that wants its type; queued streams get their job.
EMIT_ALERT = """
WITH e AS (
    INSERT INTO outbound_events (event_type, ordering_key, payload)
    VALUES (%(type)s, 'alert:' || %(rule)s, %(payload)s)
    RETURNING event_id
), d AS (
    INSERT INTO outbound_deliveries (event_id, destination_id, subscription_id, stream, via, is_test)
    SELECT e.event_id, ad.destination_id, NULL, 'd:' || ad.destination_id, %(via)s, %(test)s
    FROM e CROSS JOIN alert_destinations ad
    WHERE %(destination_id)s::int IS NULL OR ad.destination_id = %(destination_id)s
    UNION ALL
    SELECT e.event_id, NULL, s.subscription_id, 's:' || s.subscription_id || ':alert', 'queue',
           false
    FROM e CROSS JOIN event_subscriptions s
    WHERE %(type)s = ANY (s.event_types) AND %(destination_id)s::int IS NULL
    RETURNING stream, via
)
SELECT (SELECT event_id FROM e) AS event_id,
       outbound_enqueue_streams(coalesce(
           (SELECT array_agg(stream) FROM d WHERE via = 'queue'), '{}')) AS queued,
       (SELECT count(*) FROM d) AS deliveries
"""
# Replay: a new delivery of the same event (same webhook-id) to its subscriptions.
REPLAY_EVENT = """
WITH e AS (
    SELECT event_id, event_type, ordering_key FROM outbound_events
    WHERE webhook_id = %(webhook_id)s OR event_id::text = %(webhook_id)s
), d AS (
    INSERT INTO outbound_deliveries (event_id, subscription_id, stream)
    SELECT e.event_id, s.subscription_id,
           's:' || s.subscription_id || ':' || coalesce(e.ordering_key, '-')
    FROM e JOIN event_subscriptions s ON e.event_type = ANY (s.event_types)
    WHERE %(subscription_id)s::int IS NULL OR s.subscription_id = %(subscription_id)s
    RETURNING stream
)
SELECT (SELECT count(*) FROM e) AS events, (SELECT count(*) FROM d) AS deliveries,
       outbound_enqueue_streams(coalesce((SELECT array_agg(stream) FROM d), '{}')) AS queued
"""

# --- sending ----------------------------------------------------------------------------------
STREAM_LOCK = "SELECT pg_try_advisory_xact_lock(7240010, hashtext(%s)) AS got"
NEXT_DELIVERY = """
SELECT d.delivery_id, d.attempts, d.next_attempt_at, d.next_attempt_at <= now() AS due,
       e.webhook_id, e.event_type, e.payload, e.created_at AS event_created_at,
       coalesce(ad.kind, 'webhook') AS kind,
       coalesce(ad.target_enc, s.url_enc) AS target_enc,
       coalesce(ad.secret_enc, s.secret_enc) AS secret_enc,
       coalesce(ad.timeout_seconds, s.timeout_seconds) AS timeout_seconds,
       coalesce(ad.max_response_bytes, s.max_response_bytes) AS max_response_bytes
FROM outbound_deliveries d
JOIN outbound_events e ON e.event_id = d.event_id
LEFT JOIN alert_destinations ad ON ad.destination_id = d.destination_id
LEFT JOIN event_subscriptions s ON s.subscription_id = d.subscription_id
WHERE d.stream = %(stream)s AND d.status = 'pending' AND d.via = %(via)s
ORDER BY d.delivery_id
LIMIT 1
FOR UPDATE OF d
"""
RECORD_ATTEMPT = """
WITH a AS (
    INSERT INTO outbound_attempts (delivery_id, status_code, duration_ms, error, by_worker)
    VALUES (%(id)s, %(code)s, %(ms)s, %(error)s, %(by)s)
)
UPDATE outbound_deliveries SET
    attempts = attempts + 1,
    status = CASE WHEN %(ok)s THEN 'delivered'
                  WHEN attempts + 1 >= %(max_attempts)s THEN 'failed' ELSE 'pending' END,
    delivered_at = CASE WHEN %(ok)s THEN now() END,
    next_attempt_at = now() + make_interval(secs => %(delay)s),
    last_status_code = %(code)s, last_duration_ms = %(ms)s, last_error = %(error)s
WHERE delivery_id = %(id)s
RETURNING status
"""
# Streams whose head is due but have no pending job (a lost wake-up, a deleted job): the
# leader re-queues them every tick.
ORPHAN_STREAMS = """
SELECT coalesce(array_agg(DISTINCT d.stream), '{}') AS streams
FROM outbound_deliveries d
WHERE d.status = 'pending' AND d.via = 'queue' AND d.next_attempt_at < now() - interval '30 seconds'
  AND NOT EXISTS (SELECT 1 FROM background_jobs j
                  WHERE j.dedupe_key = 'outbound:' || d.stream AND j.status IN ('pending', 'processing'))
"""
ENQUEUE_STREAMS = "SELECT outbound_enqueue_streams(%s::text[])"
DIRECT_STREAMS = """
SELECT DISTINCT stream FROM outbound_deliveries
WHERE status = 'pending' AND via = 'direct' AND next_attempt_at <= now()
ORDER BY stream
"""

# --- alert state --------------------------------------------------------------------------
LOCK_STATES = "SELECT pg_advisory_xact_lock(7240011)"
LOAD_STATES = "SELECT * FROM alert_states"
SAVE_STATE = """
INSERT INTO alert_states AS s (rule, status, severity, since, fired_at, value, threshold, message,
                               evaluated_at, evaluated_by)
VALUES (%(rule)s, %(status)s, %(severity)s, %(since)s, %(fired_at)s, %(value)s, %(threshold)s,
        %(message)s, now(), %(by)s)
ON CONFLICT (rule) DO UPDATE SET
    status = EXCLUDED.status, severity = EXCLUDED.severity, since = EXCLUDED.since,
    fired_at = EXCLUDED.fired_at, value = EXCLUDED.value, threshold = EXCLUDED.threshold,
    message = EXCLUDED.message, evaluated_at = now(), evaluated_by = EXCLUDED.evaluated_by
"""
INSERT_HISTORY = """
INSERT INTO alert_history (rule, event, severity, value, threshold, message, evaluated_by)
VALUES (%(rule)s, %(event)s, %(severity)s, %(value)s, %(threshold)s, %(message)s, %(by)s)
RETURNING history_id, at
"""
HISTORY = """
SELECT history_id, rule, event, severity, value, threshold, message, at, evaluated_by
FROM alert_history ORDER BY history_id DESC LIMIT %(limit)s
"""
STATES = """
SELECT rule, status, severity, since, fired_at, value, threshold, message, evaluated_at,
       evaluated_by
FROM alert_states ORDER BY rule
"""
