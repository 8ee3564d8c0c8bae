"""Sample storage: validate, normalise, upsert idempotently, flag, enqueue recalculation.

Same source + same measured_at replaces the earlier row (the primary key); the same
provider sample id replaces it too, even when the provider corrected its time.
Everything runs in the caller's transaction, including the enqueued jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from vitaltrust.db import Conn
from vitaltrust.metrics.catalog import load_specs
from vitaltrust.metrics.normalize import NormalizedSample, normalize
from vitaltrust.metrics.types import RawSample, Rejection, StoreResult
from vitaltrust.queue.enqueue import NewJob, enqueue_many

SELECT_TIME_ZONE = "SELECT time_zone FROM users WHERE user_id = %s"

# A corrected time under the same sample id: drop the old row so the id stays unique.
DELETE_MOVED_BY_ID = """
DELETE FROM metric_samples m
USING unnest(%(metric)s::text[], %(external_id)s::text[], %(measured_at)s::timestamptz[])
      AS t(metric, external_id, measured_at)
WHERE m.user_id = %(user_id)s AND m.source_id = %(source_id)s AND m.metric = t.metric
  AND m.external_id = t.external_id AND m.measured_at <> t.measured_at
"""
UPSERT_SAMPLES = """
INSERT INTO metric_samples AS m
    (user_id, metric, source_id, measured_at, local_date, value, original_value,
     original_unit, device_type, device_model, external_id, flags, webhook_event_id,
     received_at)
SELECT %(user_id)s, t.metric, %(source_id)s, t.measured_at, t.local_date, t.value,
       t.original_value, t.original_unit, t.device_type, t.device_model, t.external_id,
       t.flags::text[], %(webhook_event_id)s, now()
FROM unnest(%(metric)s::text[], %(measured_at)s::timestamptz[], %(local_date)s::date[],
            %(value)s::float8[], %(original_value)s::float8[], %(original_unit)s::text[],
            %(device_type)s::text[], %(device_model)s::text[], %(external_id)s::text[],
            %(flags)s::text[])
     AS t(metric, measured_at, local_date, value, original_value, original_unit,
          device_type, device_model, external_id, flags)
ON CONFLICT (user_id, metric, source_id, measured_at) DO UPDATE SET
    local_date = EXCLUDED.local_date, value = EXCLUDED.value,
    original_value = EXCLUDED.original_value, original_unit = EXCLUDED.original_unit,
    device_type = EXCLUDED.device_type, device_model = EXCLUDED.device_model,
    external_id = coalesce(EXCLUDED.external_id, m.external_id), flags = EXCLUDED.flags,
    webhook_event_id = coalesce(EXCLUDED.webhook_event_id, m.webhook_event_id),
    received_at = EXCLUDED.received_at
"""
# Systolic <= diastolic at the same time and source makes both readings implausible. The
# halves may arrive in different deliveries, so this looks at what is stored.
FLAG_BP_PAIRS = """
UPDATE metric_samples m
SET flags = CASE WHEN p.systolic <= p.diastolic OR m.value NOT BETWEEN c.hard_min AND c.hard_max
                 THEN array_append(array_remove(m.flags, 'IMPLAUSIBLE_VALUE'), 'IMPLAUSIBLE_VALUE')
                 ELSE array_remove(m.flags, 'IMPLAUSIBLE_VALUE') END
FROM (SELECT s.measured_at, s.value AS systolic, d.value AS diastolic
      FROM metric_samples s
      JOIN metric_samples d ON d.user_id = s.user_id AND d.source_id = s.source_id
           AND d.measured_at = s.measured_at AND d.metric = 'blood_pressure_diastolic'
      WHERE s.user_id = %(user_id)s AND s.source_id = %(source_id)s
        AND s.metric = 'blood_pressure_systolic' AND s.measured_at = ANY(%(times)s::timestamptz[])
     ) p, metric_catalog c
WHERE m.user_id = %(user_id)s AND m.source_id = %(source_id)s AND m.measured_at = p.measured_at
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


def _last_wins(samples: Sequence[NormalizedSample]) -> list[NormalizedSample]:
    """Within one delivery the later sample wins on the same time or the same sample id."""
    by_time: dict[tuple[str, datetime], NormalizedSample] = {}
    for s in samples:
        by_time[(s.metric, s.measured_at)] = s
    by_id: dict[tuple[str, str], NormalizedSample] = {}
    out: list[NormalizedSample] = []
    for s in reversed(list(by_time.values())):
        if s.external_id is not None:
            if (s.metric, s.external_id) in by_id:
                continue
            by_id[(s.metric, s.external_id)] = s
        out.append(s)
    out.reverse()
    return out


async def store_samples(conn: Conn, *, user_id: int, source_id: int,
                        webhook_event_id: int | None, samples: Sequence[RawSample],
                        is_sandbox: bool = False, now: datetime | None = None) -> StoreResult:
    now = now or datetime.now(UTC)
    specs = await load_specs(conn)
    row = await (await conn.execute(SELECT_TIME_ZONE, (user_id,))).fetchone()
    time_zone = row["time_zone"] if row else "UTC"
    good: list[NormalizedSample] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(samples):
        result = normalize(raw, specs, time_zone=time_zone, now=now, index=index)
        if isinstance(result, Rejection):
            rejections.append(result)
        else:
            good.append(result)
    good = _last_wins(good)
    if not good:
        return StoreResult(0, rejections, frozenset())
    params = {
        "user_id": user_id, "source_id": source_id, "webhook_event_id": webhook_event_id,
        "metric": [s.metric for s in good], "measured_at": [s.measured_at for s in good],
        "local_date": [s.local_date for s in good], "value": [s.value for s in good],
        "original_value": [s.original_value for s in good],
        "original_unit": [s.original_unit for s in good],
        "device_type": [s.device_type for s in good],
        "device_model": [s.device_model for s in good],
        "external_id": [s.external_id for s in good],
        "flags": ["{" + ",".join(sorted(s.flags)) + "}" for s in good],
    }
    if any(s.external_id is not None for s in good):
        await conn.execute(DELETE_MOVED_BY_ID, params)
    await conn.execute(UPSERT_SAMPLES, params)
    bp_times = sorted({s.measured_at for s in good if s.metric in BP_METRICS})
    if bp_times:
        await conn.execute(FLAG_BP_PAIRS, {"user_id": user_id, "source_id": source_id,
                                           "times": bp_times})
    affected = frozenset(s.metric for s in good)
    await enqueue_recalculations(conn, user_id, affected, is_sandbox=is_sandbox)
    return StoreResult(len(good), rejections, affected)
