"""When a cached score could next change level with the passing of time alone (pure).

With no new data, only two components move with `now`: freshness F (100 until age 1.5c,
linear to 0 at 4c) and completeness C (cadence buckets counted back from `now`: a bucket
empties when its samples slide into the next one). Everything else changes only when a
sample leaves the window or the 7-day cap of an implausible value lifts. So the next
refresh is the earliest of: those departures and lifts, age 1.5c and 4c, and the first
moment the score, replayed forward with F and C alone, falls below its level's floor.
"""

from __future__ import annotations

import heapq
from collections import Counter
from datetime import date, datetime, timedelta

from vitaltrust.confidence.types import WINDOW_DAYS, Confidence, MetricSpec

LEVEL_FLOOR = {"excellent": 85.0, "good": 70.0, "fair": 50.0}
FRESH_UNTIL, STALE_AT = 1.5, 4.0
MIN_GAP = timedelta(minutes=5)
IMPLAUSIBLE_CAP_SPAN = timedelta(days=7)
# The replay looks this many cadences ahead; beyond it the row is simply recomputed.
HORIZON_CADENCES = 1
# refresh a little before the exact crossing (scores are rounded to 0.1)
ROUNDING_MARGIN = 0.05


def _stale_age(target: float, cadence: float) -> float | None:
    """The age (s) after which F < target; None when F never goes below it."""
    if target > 100.0:
        return 0.0
    if target <= 0.0:
        return None
    return cadence * STALE_AT - target / 100.0 * cadence * (STALE_AT - FRESH_UNTIL)


def _first_fall(conf: Confidence, cadence_td: timedelta, times: list[datetime], now: datetime,
                until: datetime) -> datetime | None:
    """Replay F and C from `now` to `until`; the first time the score is below the floor.
    Times are seconds from `now`; C changes only when a sample moves to the next bucket."""
    floor = LEVEL_FLOOR.get(conf.level)
    judged = {c.code: c for c in conf.components if c.score is not None}
    total = sum(c.weight for c in judged.values())
    if floor is None or total <= 0 or conf.last_sample_at is None:
        return None
    w_f = judged["F"].weight / total if "F" in judged else 0.0
    w_c = judged["C"].weight / total if "C" in judged else 0.0
    cadence = cadence_td.total_seconds()
    buckets = max(1, timedelta(days=WINDOW_DAYS) // cadence_td)
    ages = [(now - t).total_seconds() for t in times]
    index = [int(a // cadence) for a in ages]
    occupied = Counter(i for i in index if 0 <= i < buckets)
    hit0 = hit = len(occupied)
    moves = [((index[k] + 1) * cadence - ages[k], k) for k in range(len(ages))
             if index[k] < buckets]
    heapq.heapify(moves)
    last_age = (now - conf.last_sample_at).total_seconds()
    f0 = _freshness_at(last_age, cadence)
    horizon = (until - now).total_seconds()
    start = 0.0
    while start < horizon:
        end = min(moves[0][0], horizon) if moves else horizon
        base = conf.score + w_c * 100.0 * (hit - hit0) / buckets
        need = floor + ROUNDING_MARGIN - base  # F may lose this much x w_f before the fall
        if w_f > 0:
            age = _stale_age(f0 + need / w_f, cadence)
            if age is not None and age - last_age < end:
                return now + timedelta(seconds=max(start, age - last_age))
        elif need > 0:
            return now + timedelta(seconds=start)
        while moves and moves[0][0] <= end:
            at, k = heapq.heappop(moves)
            occupied[index[k]] -= 1
            if occupied[index[k]] == 0:
                del occupied[index[k]]
            index[k] += 1
            if index[k] < buckets:
                occupied[index[k]] += 1
                heapq.heappush(moves, (at + cadence, k))
        hit = len(occupied)
        start = end
    return None


def _freshness_at(age: float, cadence: float) -> float:
    if age <= cadence * FRESH_UNTIL:
        return 100.0
    if age >= cadence * STALE_AT:
        return 0.0
    return 100.0 * (cadence * STALE_AT - age) / (cadence * (STALE_AT - FRESH_UNTIL))


def next_refresh_at(conf: Confidence, spec: MetricSpec, now: datetime,
                    upcoming: datetime | None = None) -> datetime | None:
    """`upcoming`: the first stored sample timestamped after `now` (counted once it is due).
    None when nothing can change until new data arrives."""
    # A sample older than the window still sets freshness, which decays until 4 cadences
    # (possible for slow metrics such as VO2 max); after that only new data changes anything.
    if conf.last_sample_at is None or (
            conf.sample_count == 0 and now - conf.last_sample_at >= spec.cadence * STALE_AT):
        return max(upcoming, now + MIN_GAP) if upcoming else None
    cadence, last = spec.cadence, conf.last_sample_at
    window_start = now - timedelta(days=WINDOW_DAYS)
    times = [s.measured_at for s in conf.resolved if s.measured_at > window_start]
    candidates = [last + cadence * FRESH_UNTIL, last + cadence * STALE_AT,
                  now + cadence * HORIZON_CADENCES]
    if times:
        candidates.append(min(times) + timedelta(days=WINDOW_DAYS))
    if upcoming is not None:
        candidates.append(upcoming)
    candidates += [at + IMPLAUSIBLE_CAP_SPAN for (_, at, _, _), flags in conf.flagged.items()
                   if "IMPLAUSIBLE_VALUE" in flags and at > window_start]
    soonest = min(t for t in candidates if t > now) if any(t > now for t in candidates) \
        else now + cadence * HORIZON_CADENCES
    fall = _first_fall(conf, cadence, times, now, soonest)
    return max(fall if fall is not None else soonest, now + MIN_GAP)


def daily_series(conf: Confidence, now: datetime) -> list[list[object]]:
    """[[local_date, value], ...]: the last resolved value of each local day in the window
    (the resolved series is in time order, so the last write per day wins)."""
    window_start = now - timedelta(days=WINDOW_DAYS)
    last: dict[date, float] = {s.local_date: s.value for s in conf.resolved
                               if s.measured_at > window_start}
    return [[day.isoformat(), round(value, 3)] for day, value in sorted(last.items())]
