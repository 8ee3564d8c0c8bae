"""Reading a batch of (user, metric) windows and writing their scores back, set-based.

One statement per table for the whole batch: cache upsert, history append, conflict
upsert + stale-conflict removal, and the model's flags written onto the samples.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg.rows import tuple_row

from vitaltrust.confidence.resolution import SampleKey
from vitaltrust.confidence.types import WINDOW_DAYS, Confidence, Sample
from vitaltrust.db import Conn
from vitaltrust.monitoring.stats import WEBHOOK_TO_CONFIDENCE, add_job_durations

Pair = tuple[int, str]
# Flags decided at storage time (hard limits, systolic <= diastolic); the model sets the
# rest (UNIT_SLIP, RAPID_CHANGE, OUTLIER) on every run.
STORAGE_FLAGS = frozenset({"IMPLAUSIBLE_VALUE"})
NO_FLAGS: frozenset[str] = frozenset()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# Soft-change checks look back this far before the window (body fat: 7 days).
LOOKBACK = timedelta(days=7)
# Samples timestamped slightly ahead (device clocks) still count.
AHEAD = timedelta(days=1)

# Two workers recalculating the same pair queue up here, so the later one reads the
# committed result of the earlier one's inputs instead of overwriting with older data.
LOCK_PAIRS = """
SELECT count(pg_advisory_xact_lock(p.user_id::int, hashtext(p.metric)))
FROM (SELECT * FROM unnest(%s::bigint[], %s::text[]) AS t(user_id, metric)
      ORDER BY 1, 2) p
"""
# Each pair's samples with its priority override (repeated on each row; NULL when none).
SELECT_WINDOWS = """
SELECT s.user_id, s.metric, s.value, s.measured_at, s.local_date, s.source_id, s.device_type,
       s.received_at, s.flags, w.name AS source_name, pr.priority, s.device_model,
       s.webhook_event_id
FROM unnest(%(users)s::bigint[], %(metrics)s::text[]) AS p(user_id, metric)
JOIN metric_samples s ON s.user_id = p.user_id AND s.metric = p.metric
JOIN webhook_sources w ON w.source_id = s.source_id
LEFT JOIN user_source_priorities pr ON pr.user_id = p.user_id AND pr.metric = p.metric
WHERE s.measured_at >= %(since)s AND s.measured_at <= %(until)s
"""
# Every write of a batch in one statement (one round trip): cache upsert, history append,
# conflicts of the recalculated range (stale ones removed, changed ones updated), and
# the model's flags on the samples. The rows come as JSON documents, far cheaper to send
# than arrays of JSON texts.
WRITE_ALL = """
WITH scores AS (
    SELECT t.* FROM jsonb_to_recordset(%(scores)s::jsonb) AS t(
        user_id bigint, metric text, score numeric, level text, explanation jsonb,
        sample_count int, last_sample_at timestamptz, latest_value float8,
        computed_at timestamptz, next_refresh_at timestamptz, data_version bigint,
        model_version text, daily_series jsonb, event_id bigint)
    JOIN users u ON u.user_id = t.user_id
), cached AS (
    INSERT INTO metric_confidence_cache AS c
        (user_id, metric, score, level, components, explanation, sample_count,
         last_sample_at, latest_value, computed_at, next_refresh_at, data_version,
         model_version, daily_series, updated_at)
    SELECT user_id, metric, score, level, explanation -> 'components', explanation,
           sample_count, last_sample_at, latest_value, computed_at, next_refresh_at,
           data_version, model_version, daily_series, now()
    FROM scores
    ON CONFLICT (user_id, metric) DO UPDATE SET
        score = EXCLUDED.score, level = EXCLUDED.level, components = EXCLUDED.components,
        explanation = EXCLUDED.explanation, sample_count = EXCLUDED.sample_count,
        last_sample_at = EXCLUDED.last_sample_at, latest_value = EXCLUDED.latest_value,
        computed_at = EXCLUDED.computed_at, next_refresh_at = EXCLUDED.next_refresh_at,
        data_version = EXCLUDED.data_version, model_version = EXCLUDED.model_version,
        daily_series = EXCLUDED.daily_series, updated_at = now()
    RETURNING 1
), history AS (
    INSERT INTO metric_confidence_history
        (user_id, metric, computed_at, score, level, sample_count, model_version)
    SELECT user_id, metric, computed_at, score, level, sample_count, model_version FROM scores
    ON CONFLICT (user_id, metric, computed_at) DO NOTHING
    RETURNING 1
), found AS (
    SELECT f.* FROM jsonb_to_recordset(%(conflicts)s::jsonb) AS f(
        user_id bigint, metric text, loser_source_id int, loser_measured_at timestamptz,
        loser_value float8, loser_device_type text, loser_device_model text,
        winner_source_id int, winner_measured_at timestamptz, winner_value float8,
        winner_device_type text, winner_device_model text, difference float8, agrees boolean)
), stale AS (
    DELETE FROM metric_conflicts m USING scores p
    WHERE m.user_id = p.user_id AND m.metric = p.metric AND m.loser_measured_at >= %(since)s
      AND NOT EXISTS (SELECT 1 FROM found f
                      WHERE f.user_id = m.user_id AND f.metric = m.metric
                        AND f.loser_source_id = m.loser_source_id
                        AND f.loser_measured_at = m.loser_measured_at
                        AND f.loser_device_type = m.loser_device_type
                        AND f.loser_device_model IS NOT DISTINCT FROM m.loser_device_model)
    RETURNING 1
), kept AS (
    INSERT INTO metric_conflicts AS m
        (user_id, metric, loser_source_id, loser_measured_at, loser_value, loser_device_type,
         loser_device_model, winner_source_id, winner_measured_at, winner_value,
         winner_device_type, winner_device_model, difference, agrees)
    SELECT * FROM found
    ON CONFLICT (user_id, metric, loser_source_id, loser_measured_at, loser_device_key)
    DO UPDATE SET
        loser_value = EXCLUDED.loser_value, winner_source_id = EXCLUDED.winner_source_id,
        winner_measured_at = EXCLUDED.winner_measured_at, winner_value = EXCLUDED.winner_value,
        winner_device_type = EXCLUDED.winner_device_type,
        winner_device_model = EXCLUDED.winner_device_model, difference = EXCLUDED.difference,
        agrees = EXCLUDED.agrees
    WHERE (m.loser_value, m.winner_source_id, m.winner_measured_at, m.winner_value,
           m.winner_device_type, m.winner_device_model, m.agrees)
          IS DISTINCT FROM (EXCLUDED.loser_value, EXCLUDED.winner_source_id,
                            EXCLUDED.winner_measured_at, EXCLUDED.winner_value,
                            EXCLUDED.winner_device_type, EXCLUDED.winner_device_model,
                            EXCLUDED.agrees)
    RETURNING 1
), flagged AS (
    UPDATE metric_samples m SET flags = f.flags
    FROM jsonb_to_recordset(%(flags)s::jsonb) AS f(
        user_id bigint, metric text, source_id int, measured_at timestamptz,
        device_type text, device_model text, flags text[])
    WHERE m.user_id = f.user_id AND m.metric = f.metric AND m.source_id = f.source_id
      AND m.measured_at = f.measured_at AND m.device_type = f.device_type
      AND m.device_model IS NOT DISTINCT FROM f.device_model
      AND m.flags IS DISTINCT FROM f.flags
    RETURNING 1
)
SELECT (SELECT count(*) FROM cached) AS cached,
       -- webhook -> confidence: for each pair whose inputs are newer than what the cache
       -- held (this statement sees the cache as it was), the time since the receipt of the
       -- delivery that stored the newest input sample
       (SELECT array_agg(1000 * extract(epoch FROM clock_timestamp() - e.received_at)::float8)
        FROM scores s
        JOIN users u ON u.user_id = s.user_id AND NOT u.is_sandbox
        JOIN webhook_events e ON e.webhook_event_id = s.event_id
        LEFT JOIN metric_confidence_cache c ON c.user_id = s.user_id AND c.metric = s.metric
        WHERE s.data_version > coalesce(c.data_version, 0)) AS webhook_latency_ms
"""


@dataclass(frozen=True)
class Window:
    samples: list[Sample]
    stored_flags: dict[SampleKey, frozenset[str]]  # of the judged samples
    data_version: int  # newest received_at among the inputs, in microseconds
    event_id: int | None = None  # the delivery that stored the newest input (None: manual)


@dataclass(frozen=True)
class Scored:
    user_id: int
    metric: str
    confidence: Confidence
    next_refresh_at: datetime | None
    data_version: int
    daily_series: list[list[object]]
    stored_flags: dict[SampleKey, frozenset[str]]


def window_start(now: datetime) -> datetime:
    return now - timedelta(days=WINDOW_DAYS)


def _columns(pairs: Sequence[Pair]) -> tuple[list[int], list[str]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


async def load_inputs(conn: Conn, pairs: Sequence[Pair], now: datetime, *, lock: bool = True
                      ) -> tuple[dict[Pair, Window], dict[Pair, list[str]]]:
    """Every pair's window and priority override. With `lock`, first wait for any other
    transaction recalculating the same pairs, so the window is read after it committed."""
    users, metrics = _columns(pairs)
    start = window_start(now)
    if lock:
        await conn.execute(LOCK_PAIRS, (users, metrics))
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(SELECT_WINDOWS, {"users": users, "metrics": metrics,
                                           "since": start - LOOKBACK, "until": now + AHEAD})
        rows = await cur.fetchall()
    overrides: dict[Pair, list[str]] = {}
    grouped: dict[Pair, list[Sample]] = defaultdict(list)
    flags: dict[Pair, dict[SampleKey, frozenset[str]]] = defaultdict(dict)
    newest: dict[Pair, datetime] = {}
    events: dict[Pair, int | None] = {}
    for (user_id, metric, value, at, local, source_id, device, received, stored_list, name,
         priority, model, event_id) in rows:
        key = (user_id, metric)
        if priority is not None:
            overrides[key] = priority
        stored = frozenset(stored_list) if stored_list else NO_FLAGS
        judged = start < at <= now
        grouped[key].append(Sample(
            value, at, local, source_id, device, received,
            # the model re-derives its flags inside the window; outside it, what was stored
            # is the context it reads (e.g. an old UNIT_SLIP)
            (stored & STORAGE_FLAGS if stored else NO_FLAGS) if judged else stored, name,
            model))
        if judged:
            flags[key][(source_id, at, device, model or "")] = stored
        if key not in newest or received > newest[key]:
            newest[key], events[key] = received, event_id
    windows = {p: Window(grouped.get(p, []), flags.get(p, {}),
                         (newest[p] - EPOCH) // MICROSECOND if p in newest else 0,
                         events.get(p)) for p in pairs}
    return windows, overrides


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def write_results(conn: Conn, results: Sequence[Scored], now: datetime,
                        windows: Mapping[Pair, Window] | None = None) -> None:
    """Store the scores. With the `windows` they were scored from, also count the webhook ->
    confidence latency of each pair whose inputs changed (`webhook-to-confidence`)."""
    if not results:
        return
    events = {p: w.event_id for p, w in (windows or {}).items()}
    rows = [
        {"user_id": r.user_id, "metric": r.metric, "score": c.score, "level": c.level,
         "explanation": c.explanation(), "sample_count": c.sample_count,
         "last_sample_at": _iso(c.last_sample_at), "latest_value": c.latest_value,
         "computed_at": c.computed_at.isoformat(), "next_refresh_at": _iso(r.next_refresh_at),
         "data_version": r.data_version, "model_version": c.model_version,
         "daily_series": r.daily_series, "event_id": events.get((r.user_id, r.metric))}
        for r in results for c in (r.confidence,)]
    since = window_start(now) - LOOKBACK
    conflicts = [
        {"user_id": r.user_id, "metric": r.metric,
         "loser_source_id": c.loser.source_id, "loser_measured_at": c.loser.measured_at.isoformat(),
         "loser_value": c.loser.value, "loser_device_type": c.loser.device_type,
         "loser_device_model": c.loser.device_model,
         "winner_source_id": c.winner.source_id, "winner_device_model": c.winner.device_model,
         "winner_measured_at": c.winner.measured_at.isoformat(),
         "winner_value": c.winner.value, "winner_device_type": c.winner.device_type,
         "difference": c.difference, "agrees": c.agrees}
        for r in results for c in r.confidence.conflicts if c.loser.measured_at >= since]
    written = await (await conn.execute(WRITE_ALL, {
        "scores": json.dumps(rows), "conflicts": json.dumps(conflicts), "since": since,
        "flags": json.dumps(_changed_flags(results))})).fetchone()
    if written is not None and written["webhook_latency_ms"]:
        await add_job_durations(conn, WEBHOOK_TO_CONFIDENCE, written["webhook_latency_ms"])


def _changed_flags(results: Sequence[Scored]) -> list[dict[str, object]]:
    """Each judged sample (in the window) gets the flags the model gave it this run."""
    changed: list[dict[str, object]] = []
    for r in results:
        flagged = r.confidence.flagged
        for key, stored in r.stored_flags.items():
            new = flagged.get(key, NO_FLAGS)
            if new != stored:
                source_id, at, device_type, model = key
                changed.append({"user_id": r.user_id, "metric": r.metric, "source_id": source_id,
                                "measured_at": at.isoformat(), "device_type": device_type,
                                "device_model": model or None, "flags": sorted(new)})
    return changed
