"""Sample storage: validate, normalise, upsert idempotently, flag, enqueue recalculation.

Identity (metrics/identity.py): the same source, device and measured_at replaces the
earlier row (the primary key); the same provider sample id replaces it too, even when the
provider corrected its time or device; a daily summary replaces the stored summary of the
same day only when it covers at least as much of it. Every sample not stored comes back
as a Rejection with its reason. A constant number of statements per delivery (unnest),
all in the caller's transaction, including the enqueued jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from vitaltrust.db import Conn
from vitaltrust.metrics.catalog import load_specs
from vitaltrust.metrics.identity import (
    day_metrics,
    dedupe_delivery,
    fuller_stored_reason,
    is_day_summary,
)
from vitaltrust.metrics.normalize import NormalizedSample, normalize
from vitaltrust.metrics.types import RawSample, Rejection, StoreResult
from vitaltrust.queue.enqueue import NewJob, enqueue_many

SELECT_TIME_ZONE = "SELECT time_zone FROM users WHERE user_id = %s"

# Summaries of this delivery that a stored summary covering more of the same day (same
# metric, source and device) or under the same sample id outranks.
SELECT_FULLER_STORED = """
SELECT t.i, max(m.coverage_seconds) AS stored
FROM unnest(%(metric)s::text[], %(device_type)s::text[], %(device_model)s::text[],
            %(local_date)s::date[], %(external_id)s::text[], %(coverage)s::int[])
     WITH ORDINALITY AS t(metric, device_type, device_model, local_date, external_id,
                          coverage, i)
JOIN metric_samples m ON m.user_id = %(user_id)s AND m.source_id = %(source_id)s
     AND m.metric = t.metric AND m.coverage_seconds > t.coverage
     AND ((m.local_date = t.local_date AND m.device_type = t.device_type
           AND m.device_model IS NOT DISTINCT FROM t.device_model)
          OR m.external_id = t.external_id)
GROUP BY t.i
"""
# Rows the delivery replaces under another identity: the same sample id at another time
# or device (a correction), and the stored summary of a day a fuller one now covers.
DELETE_REPLACED = """
WITH t AS (
    SELECT * FROM unnest(%(metric)s::text[], %(measured_at)s::timestamptz[],
                         %(device_type)s::text[], %(device_model)s::text[],
                         %(external_id)s::text[], %(local_date)s::date[], %(day)s::bool[])
         AS t(metric, measured_at, device_type, device_model, external_id, local_date, day)
), moved AS (
    DELETE FROM metric_samples m USING t
    WHERE m.user_id = %(user_id)s AND m.source_id = %(source_id)s AND m.metric = t.metric
      AND m.external_id = t.external_id
      AND (m.measured_at, m.device_type, m.device_model)
          IS DISTINCT FROM (t.measured_at, t.device_type, t.device_model)
    RETURNING 1
), day AS (
    DELETE FROM metric_samples m USING t
    WHERE t.day AND m.user_id = %(user_id)s AND m.source_id = %(source_id)s
      AND m.metric = t.metric AND m.coverage_seconds IS NOT NULL
      AND m.local_date = t.local_date AND m.device_type = t.device_type
      AND m.device_model IS NOT DISTINCT FROM t.device_model
      AND m.measured_at <> t.measured_at
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) + (SELECT count(*) FROM day) AS deleted
"""
# A replacement takes over every field of the new sample (its id, event and coverage too).
# The WHERE keeps a fuller summary that a concurrent delivery stored meanwhile.
UPSERT_SAMPLES = """
INSERT INTO metric_samples AS m
    (user_id, metric, source_id, measured_at, local_date, value, original_value,
     original_unit, device_type, device_model, external_id, flags, webhook_event_id,
     received_at, coverage_seconds)
SELECT %(user_id)s, t.metric, %(source_id)s, t.measured_at, t.local_date, t.value,
       t.original_value, t.original_unit, t.device_type, t.device_model, t.external_id,
       t.flags::text[], %(webhook_event_id)s, now(), t.coverage
FROM unnest(%(metric)s::text[], %(measured_at)s::timestamptz[], %(local_date)s::date[],
            %(value)s::float8[], %(original_value)s::float8[], %(original_unit)s::text[],
            %(device_type)s::text[], %(device_model)s::text[], %(external_id)s::text[],
            %(flags)s::text[], %(coverage)s::int[])
     AS t(metric, measured_at, local_date, value, original_value, original_unit,
          device_type, device_model, external_id, flags, coverage)
ON CONFLICT (user_id, metric, source_id, measured_at, device_key) DO UPDATE SET
    local_date = EXCLUDED.local_date, value = EXCLUDED.value,
    original_value = EXCLUDED.original_value, original_unit = EXCLUDED.original_unit,
    external_id = EXCLUDED.external_id, flags = EXCLUDED.flags,
    webhook_event_id = EXCLUDED.webhook_event_id, received_at = EXCLUDED.received_at,
    coverage_seconds = EXCLUDED.coverage_seconds
WHERE m.coverage_seconds IS NULL OR EXCLUDED.coverage_seconds IS NULL
   OR EXCLUDED.coverage_seconds >= m.coverage_seconds
RETURNING m.metric, m.measured_at, m.device_type, m.device_model
"""
# Systolic <= diastolic at the same time, source and device makes both readings
# implausible. The halves may arrive in different deliveries, so this looks at what is stored.
FLAG_BP_PAIRS = """
UPDATE metric_samples m
SET flags = CASE WHEN p.systolic <= p.diastolic OR m.value NOT BETWEEN c.hard_min AND c.hard_max
                 THEN array_append(array_remove(m.flags, 'IMPLAUSIBLE_VALUE'), 'IMPLAUSIBLE_VALUE')
                 ELSE array_remove(m.flags, 'IMPLAUSIBLE_VALUE') END
FROM (SELECT s.measured_at, s.device_key, s.value AS systolic, d.value AS diastolic
      FROM metric_samples s
      JOIN metric_samples d ON d.user_id = s.user_id AND d.source_id = s.source_id
           AND d.measured_at = s.measured_at AND d.device_key = s.device_key
           AND d.metric = 'blood_pressure_diastolic'
      WHERE s.user_id = %(user_id)s AND s.source_id = %(source_id)s
        AND s.metric = 'blood_pressure_systolic' AND s.measured_at = ANY(%(times)s::timestamptz[])
     ) p, metric_catalog c
WHERE m.user_id = %(user_id)s AND m.source_id = %(source_id)s AND m.measured_at = p.measured_at
  AND m.device_key = p.device_key
  AND m.metric IN ('blood_pressure_systolic', 'blood_pressure_diastolic') AND c.metric = m.metric
"""
BP_METRICS = frozenset({"blood_pressure_systolic", "blood_pressure_diastolic"})


def confidence_job(user_id: int, metric: str, *, is_sandbox: bool = False) -> NewJob:
    """The deduplicated recalculation job for one (user, metric)."""
    return NewJob("confidence_calculation", {"user_id": user_id, "metric": metric},
                  dedupe_key=f"confidence:{user_id}:{metric}", is_sandbox=is_sandbox)


async def enqueue_recalculations(conn: Conn, user_id: int, metrics: Iterable[str], *,
                                 is_sandbox: bool = False) -> None:
    await enqueue_many(conn, [confidence_job(user_id, m, is_sandbox=is_sandbox)
                              for m in sorted(set(metrics))])


def _columns(samples: Sequence[NormalizedSample]) -> dict[str, list[Any]]:
    return {
        "metric": [s.metric for s in samples], "measured_at": [s.measured_at for s in samples],
        "local_date": [s.local_date for s in samples], "value": [s.value for s in samples],
        "original_value": [s.original_value for s in samples],
        "original_unit": [s.original_unit for s in samples],
        "device_type": [s.device_type for s in samples],
        "device_model": [s.device_model for s in samples],
        "external_id": [s.external_id for s in samples],
        "coverage": [s.coverage_seconds for s in samples],
        "flags": ["{" + ",".join(sorted(s.flags)) + "}" for s in samples],
    }


async def _drop_outranked(conn: Conn, keys: dict[str, Any], good: list[NormalizedSample],
                          rejections: list[Rejection]) -> list[NormalizedSample]:
    """Summaries that a stored, fuller summary outranks become rejections."""
    summaries = [s for s in good if s.coverage_seconds is not None]
    if not summaries:
        return good
    cur = await conn.execute(SELECT_FULLER_STORED, {**keys, **_columns(summaries)})
    outranked = {summaries[r["i"] - 1]: int(r["stored"]) for r in await cur.fetchall()}
    for s, stored in outranked.items():
        rejections.append(Rejection(s.index, fuller_stored_reason(s.local_date, stored, s),
                                    s.metric))
    return [s for s in good if s not in outranked]


async def store_samples(conn: Conn, *, user_id: int, source_id: int,
                        webhook_event_id: int | None, samples: Sequence[RawSample],
                        is_sandbox: bool = False, now: datetime | None = None) -> StoreResult:
    now = now or datetime.now(UTC)
    specs = await load_specs(conn)
    row = await (await conn.execute(SELECT_TIME_ZONE, (user_id,))).fetchone()
    time_zone = row["time_zone"] if row else "UTC"
    normalized: list[NormalizedSample] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(samples):
        result = normalize(raw, specs, time_zone=time_zone, now=now, index=index)
        if isinstance(result, Rejection):
            rejections.append(result)
        else:
            normalized.append(result)
    per_day = day_metrics(specs.values())
    good, replaced = dedupe_delivery(normalized, per_day)
    rejections.extend(replaced)
    keys = {"user_id": user_id, "source_id": source_id}
    good = await _drop_outranked(conn, keys, good, rejections)
    if not good:
        return StoreResult(0, _in_order(rejections), frozenset())
    params = {**keys, "webhook_event_id": webhook_event_id, **_columns(good),
              "day": [is_day_summary(s, per_day) for s in good]}
    if any(s.external_id is not None or s.coverage_seconds is not None for s in good):
        await conn.execute(DELETE_REPLACED, params)
    cur = await conn.execute(UPSERT_SAMPLES, params)
    written = {(r["metric"], r["measured_at"], r["device_type"], r["device_model"])
               for r in await cur.fetchall()}
    stored = [s for s in good
              if (s.metric, s.measured_at, s.device_type, s.device_model) in written]
    rejections.extend(Rejection(s.index, "a fuller summary of "
                                f"{s.local_date.isoformat()} was stored meanwhile", s.metric)
                      for s in good if len(stored) < len(good) and s not in stored)
    bp_times = sorted({s.measured_at for s in stored if s.metric in BP_METRICS})
    if bp_times:
        await conn.execute(FLAG_BP_PAIRS, {**keys, "times": bp_times})
    affected = frozenset(s.metric for s in stored)
    await enqueue_recalculations(conn, user_id, affected, is_sandbox=is_sandbox)
    return StoreResult(len(stored), _in_order(rejections), affected)


def _in_order(rejections: list[Rejection]) -> list[Rejection]:
    return sorted(rejections, key=lambda r: (r.index is None, r.index or 0))
