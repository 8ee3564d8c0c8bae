"""Sample storage: validate, normalise, upsert idempotently, flag, enqueue recalculation.

Identity (metrics/identity.py): the same source, device and measured_at replaces the
earlier row (the primary key); the same provider sample id replaces it too, even when the
provider corrected its time or device; a daily summary replaces the stored summary of the
same day only when it covers at least as much of it. Every sample not stored comes back
as a Rejection with its reason. A constant number of statements per call (unnest), however
many deliveries and users it stores (`store_groups`, used by a batch of webhook jobs), all
in the caller's transaction, including the enqueued jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vitaltrust.db import Conn
from vitaltrust.metrics.catalog import load_specs
from vitaltrust.metrics.identity import (
    day_metrics,
    dedupe_delivery,
    device_of,
    fuller_stored_reason,
    is_day_summary,
)
from vitaltrust.metrics.normalize import NormalizedSample, normalize
from vitaltrust.metrics.types import RawSample, Rejection, StoreResult
from vitaltrust.queue.enqueue import NewJob, enqueue_many

SELECT_TIME_ZONES = "SELECT user_id, time_zone FROM users WHERE user_id = ANY(%s::bigint[])"

# Every statement below takes one row per sample (unnest), each with its own user, source
# and delivery, so one call stores a whole batch of deliveries.

# Summaries that a stored summary covering more of the same day (same metric, source and
# device) or under the same sample id outranks.
SELECT_FULLER_STORED = """
SELECT t.i, max(m.coverage_seconds) AS stored
FROM unnest(%(user_id)s::bigint[], %(source_id)s::int[], %(metric)s::text[],
            %(measured_at)s::timestamptz[], %(device_type)s::text[], %(device_model)s::text[],
            %(external_id)s::text[], %(local_date)s::date[], %(coverage)s::int[],
            %(day)s::bool[])
     WITH ORDINALITY AS t(user_id, source_id, metric, measured_at, device_type, device_model,
                          external_id, local_date, coverage, day, i)
JOIN metric_samples m ON m.user_id = t.user_id AND m.source_id = t.source_id
     AND m.metric = t.metric AND m.coverage_seconds > t.coverage
     AND ((m.local_date = t.local_date AND m.device_type = t.device_type
           AND m.device_model IS NOT DISTINCT FROM t.device_model)
          OR m.external_id = t.external_id)
GROUP BY t.i
"""
# Rows the samples replace under another identity: the same sample id at another time or
# device (a correction), and the stored summary of a day a fuller one now covers.
DELETE_REPLACED = """
WITH t AS (SELECT * FROM unnest(%(user_id)s::bigint[], %(source_id)s::int[], %(metric)s::text[],
            %(measured_at)s::timestamptz[], %(device_type)s::text[], %(device_model)s::text[],
            %(external_id)s::text[], %(local_date)s::date[], %(coverage)s::int[],
            %(day)s::bool[])
     WITH ORDINALITY AS t(user_id, source_id, metric, measured_at, device_type, device_model,
                          external_id, local_date, coverage, day, i)
), moved AS (
    DELETE FROM metric_samples m USING t
    WHERE m.user_id = t.user_id AND m.source_id = t.source_id AND m.metric = t.metric
      AND m.external_id = t.external_id
      AND (m.measured_at, m.device_type, m.device_model)
          IS DISTINCT FROM (t.measured_at, t.device_type, t.device_model)
    RETURNING 1
), day AS (
    DELETE FROM metric_samples m USING t
    WHERE t.day AND m.user_id = t.user_id AND m.source_id = t.source_id
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
SELECT t.user_id, t.metric, t.source_id, t.measured_at, t.local_date, t.value,
       t.original_value, t.original_unit, t.device_type, t.device_model, t.external_id,
       t.flags::text[], t.webhook_event_id, now(), t.coverage
FROM unnest(%(user_id)s::bigint[], %(source_id)s::int[], %(webhook_event_id)s::bigint[],
            %(metric)s::text[], %(measured_at)s::timestamptz[], %(local_date)s::date[],
            %(value)s::float8[], %(original_value)s::float8[], %(original_unit)s::text[],
            %(device_type)s::text[], %(device_model)s::text[], %(external_id)s::text[],
            %(flags)s::text[], %(coverage)s::int[])
     AS t(user_id, source_id, webhook_event_id, metric, measured_at, local_date, value,
          original_value, original_unit, device_type, device_model, external_id, flags,
          coverage)
ON CONFLICT (user_id, metric, source_id, measured_at, device_key) DO UPDATE SET
    local_date = EXCLUDED.local_date, value = EXCLUDED.value,
    original_value = EXCLUDED.original_value, original_unit = EXCLUDED.original_unit,
    external_id = EXCLUDED.external_id, flags = EXCLUDED.flags,
    webhook_event_id = EXCLUDED.webhook_event_id, received_at = EXCLUDED.received_at,
    coverage_seconds = EXCLUDED.coverage_seconds
WHERE m.coverage_seconds IS NULL OR EXCLUDED.coverage_seconds IS NULL
   OR EXCLUDED.coverage_seconds >= m.coverage_seconds
RETURNING m.user_id, m.source_id, m.metric, m.measured_at, m.device_type, m.device_model
"""
# Systolic <= diastolic at the same time, source and device makes both readings
# implausible. The halves may arrive in different deliveries, so this looks at what is stored.
FLAG_BP_PAIRS = """
UPDATE metric_samples m
SET flags = CASE WHEN p.systolic <= p.diastolic OR m.value NOT BETWEEN c.hard_min AND c.hard_max
                 THEN array_append(array_remove(m.flags, 'IMPLAUSIBLE_VALUE'), 'IMPLAUSIBLE_VALUE')
                 ELSE array_remove(m.flags, 'IMPLAUSIBLE_VALUE') END
FROM (SELECT s.user_id, s.source_id, s.measured_at, s.device_key, s.value AS systolic,
             d.value AS diastolic
      FROM unnest(%(user_id)s::bigint[], %(source_id)s::int[], %(times)s::timestamptz[])
           AS k(user_id, source_id, measured_at)
      JOIN metric_samples s ON s.user_id = k.user_id AND s.source_id = k.source_id
           AND s.metric = 'blood_pressure_systolic' AND s.measured_at = k.measured_at
      JOIN metric_samples d ON d.user_id = s.user_id AND d.source_id = s.source_id
           AND d.measured_at = s.measured_at AND d.device_key = s.device_key
           AND d.metric = 'blood_pressure_diastolic'
     ) p, metric_catalog c
WHERE m.user_id = p.user_id AND m.source_id = p.source_id AND m.measured_at = p.measured_at
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


@dataclass(frozen=True)
class SampleGroup:
    """What one delivery (or one manual entry) brings for one user."""
    user_id: int
    source_id: int
    webhook_event_id: int | None
    samples: Sequence[RawSample]
    is_sandbox: bool = False


Row = tuple[int, NormalizedSample]  # (index of its group, sample)


def _columns(groups: Sequence[SampleGroup], rows: Sequence[Row],
             per_day: frozenset[str]) -> dict[str, list[Any]]:
    samples = [s for _, s in rows]
    return {
        "user_id": [groups[g].user_id for g, _ in rows],
        "source_id": [groups[g].source_id for g, _ in rows],
        "webhook_event_id": [groups[g].webhook_event_id for g, _ in rows],
        "metric": [s.metric for s in samples], "measured_at": [s.measured_at for s in samples],
        "local_date": [s.local_date for s in samples], "value": [s.value for s in samples],
        "original_value": [s.original_value for s in samples],
        "original_unit": [s.original_unit for s in samples],
        "device_type": [s.device_type for s in samples],
        "device_model": [s.device_model for s in samples],
        "external_id": [s.external_id for s in samples],
        "coverage": [s.coverage_seconds for s in samples],
        "day": [is_day_summary(s, per_day) for s in samples],
        "flags": ["{" + ",".join(sorted(s.flags)) + "}" for s in samples],
    }


def _collide(groups: Sequence[SampleGroup], kept: Sequence[Sequence[NormalizedSample]]) -> bool:
    """Do two groups name the same stored sample (time and device, sample id or summary day)?"""
    owner: dict[tuple[Any, ...], int] = {}
    for g, good in enumerate(kept):
        for s in good:
            base = (groups[g].user_id, groups[g].source_id, s.metric)
            keys: list[tuple[Any, ...]] = [(*base, "at", s.measured_at, device_of(s))]
            if s.external_id is not None:
                keys.append((*base, "id", s.external_id))
            if s.coverage_seconds is not None:
                keys.append((*base, "day", s.local_date, device_of(s)))
            if any(owner.setdefault(k, g) != g for k in keys):
                return True
    return False


async def _drop_outranked(conn: Conn, groups: Sequence[SampleGroup], rows: list[Row],
                          rejections: list[list[Rejection]], per_day: frozenset[str]
                          ) -> list[Row]:
    """Summaries that a stored, fuller summary outranks become rejections."""
    summaries = [(g, s) for g, s in rows if s.coverage_seconds is not None]
    if not summaries:
        return rows
    cur = await conn.execute(SELECT_FULLER_STORED, _columns(groups, summaries, per_day))
    outranked: set[Row] = set()
    for r in await cur.fetchall():
        g, s = summaries[r["i"] - 1]
        outranked.add((g, s))
        rejections[g].append(Rejection(s.index, fuller_stored_reason(s.local_date,
                                                                     int(r["stored"]), s),
                                       s.metric))
    return [row for row in rows if row not in outranked]


async def _normalize(conn: Conn, groups: Sequence[SampleGroup], now: datetime,
                     specs: dict[str, Any], per_day: frozenset[str]
                     ) -> tuple[list[list[NormalizedSample]], list[list[Rejection]]]:
    """Each group's samples, validated and deduplicated within the group."""
    rows = await (await conn.execute(SELECT_TIME_ZONES,
                                     (sorted({g.user_id for g in groups}),))).fetchall()
    zones = {r["user_id"]: r["time_zone"] for r in rows}
    kept: list[list[NormalizedSample]] = []
    rejections: list[list[Rejection]] = []
    for g in groups:
        normalized: list[NormalizedSample] = []
        rejected: list[Rejection] = []
        for index, raw in enumerate(g.samples):
            result = normalize(raw, specs, time_zone=zones.get(g.user_id, "UTC"), now=now,
                               index=index)
            if isinstance(result, Rejection):
                rejected.append(result)
            else:
                normalized.append(result)
        good, replaced = dedupe_delivery(normalized, per_day)
        kept.append(good)
        rejections.append(rejected + replaced)
    return kept, rejections


async def store_groups(conn: Conn, groups: Sequence[SampleGroup], *,
                       now: datetime | None = None) -> list[StoreResult]:
    """Store several deliveries' samples in a constant number of statements; one result
    per group, in order. Groups that name the same sample are stored one after another
    (in the order given) so that the later one replaces the earlier, as it would alone."""
    now = now or datetime.now(UTC)
    if not groups:
        return []
    specs = await load_specs(conn)
    per_day = day_metrics(specs.values())
    kept, rejections = await _normalize(conn, groups, now, specs, per_day)
    if len(groups) > 1 and _collide(groups, kept):
        return [result for i, g in enumerate(groups)
                for result in await _store_normalized(conn, [g], [kept[i]], [rejections[i]],
                                                      per_day)]
    return await _store_normalized(conn, groups, kept, rejections, per_day)


async def _store_normalized(conn: Conn, groups: Sequence[SampleGroup],
                            kept: list[list[NormalizedSample]],
                            rejections: list[list[Rejection]], per_day: frozenset[str]
                            ) -> list[StoreResult]:
    rows = [(g, s) for g, good in enumerate(kept) for s in good]
    rows = await _drop_outranked(conn, groups, rows, rejections, per_day)
    stored: list[Row] = []
    if rows:
        params = _columns(groups, rows, per_day)
        if any(s.external_id is not None or s.coverage_seconds is not None for _, s in rows):
            await conn.execute(DELETE_REPLACED, params)
        cur = await conn.execute(UPSERT_SAMPLES, params)
        written = {(r["user_id"], r["source_id"], r["metric"], r["measured_at"],
                    r["device_type"], r["device_model"]) for r in await cur.fetchall()}
        for g, s in rows:
            group = groups[g]
            if (group.user_id, group.source_id, s.metric, s.measured_at, s.device_type,
                    s.device_model) in written:
                stored.append((g, s))
            else:
                rejections[g].append(Rejection(s.index, "a fuller summary of "
                                               f"{s.local_date.isoformat()} was stored meanwhile",
                                               s.metric))
        await _flag_bp_pairs(conn, groups, stored)
    affected: list[set[str]] = [set() for _ in groups]
    for g, s in stored:
        affected[g].add(s.metric)
    jobs = {(group.user_id, m): group.is_sandbox for group, metrics in zip(groups, affected, strict=True)
            for m in metrics}
    await enqueue_many(conn, [confidence_job(u, m, is_sandbox=sandbox)
                              for (u, m), sandbox in sorted(jobs.items())])
    return [StoreResult(len(a_stored), _in_order(r), frozenset(a))
            for a_stored, r, a in zip(_per_group(stored, len(groups)), rejections,
                                          affected, strict=True)]


async def _flag_bp_pairs(conn: Conn, groups: Sequence[SampleGroup], stored: list[Row]) -> None:
    keys = sorted({(groups[g].user_id, groups[g].source_id, s.measured_at)
                   for g, s in stored if s.metric in BP_METRICS})
    if keys:
        await conn.execute(FLAG_BP_PAIRS, {"user_id": [k[0] for k in keys],
                                           "source_id": [k[1] for k in keys],
                                           "times": [k[2] for k in keys]})


def _per_group(rows: list[Row], n: int) -> list[list[NormalizedSample]]:
    out: list[list[NormalizedSample]] = [[] for _ in range(n)]
    for g, s in rows:
        out[g].append(s)
    return out


async def store_samples(conn: Conn, *, user_id: int, source_id: int,
                        webhook_event_id: int | None, samples: Sequence[RawSample],
                        is_sandbox: bool = False, now: datetime | None = None) -> StoreResult:
    """One delivery's samples for one user (see store_groups)."""
    group = SampleGroup(user_id, source_id, webhook_event_id, samples, is_sandbox)
    return (await store_groups(conn, [group], now=now))[0]


def _in_order(rejections: list[Rejection]) -> list[Rejection]:
    return sorted(rejections, key=lambda r: (r.index is None, r.index or 0))
