"""When a cached score could next change level with age alone (pure).

Freshness is 100 until age 1.5c and falls linearly to 0 at 4c (then the score is capped
at 49); completeness falls by one bucket per cadence without new data; the oldest sample
leaves the 30-day window. The earliest of those moments, and, during the decay, the
moment the falling F takes the score below its level's lower bound.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from vitaltrust.confidence.types import WINDOW_DAYS, Confidence, MetricSpec

LEVEL_FLOOR = {"excellent": 85.0, "good": 70.0, "fair": 50.0}
FRESH_UNTIL, STALE_AT = 1.5, 4.0
MIN_GAP = timedelta(minutes=5)


def _freshness_crossing(conf: Confidence, cadence: timedelta, last: datetime,
                        now: datetime) -> datetime | None:
    floor = LEVEL_FLOOR.get(conf.level)
    judged = [c for c in conf.components if c.score is not None]
    fresh = next((c for c in judged if c.code == "F"), None)
    total = sum(c.weight for c in judged)
    if floor is None or fresh is None or total <= 0:
        return None
    decay_start = last + cadence * FRESH_UNTIL
    decay_span = cadence * (STALE_AT - FRESH_UNTIL)
    # score points lost per second of age while F decays
    rate = fresh.weight / total * 100.0 / decay_span.total_seconds()
    start = max(now, decay_start)
    return start + timedelta(seconds=max(conf.score - floor, 0.0) / rate)


def next_refresh_at(conf: Confidence, spec: MetricSpec, now: datetime,
                    upcoming: datetime | None = None) -> datetime | None:
    """`upcoming`: the first stored sample timestamped after `now` (counted once it is due).
    None when nothing can change until data arrives."""
    if conf.sample_count == 0 or conf.last_sample_at is None:
        return max(upcoming, now + MIN_GAP) if upcoming else None
    cadence, last = spec.cadence, conf.last_sample_at
    candidates = [last + cadence * FRESH_UNTIL, last + cadence * STALE_AT, now + cadence]
    window_start = now - timedelta(days=WINDOW_DAYS)
    in_window = [s.measured_at for s in conf.resolved if s.measured_at >= window_start]
    if in_window:
        candidates.append(min(in_window) + timedelta(days=WINDOW_DAYS))
    crossing = _freshness_crossing(conf, cadence, last, now)
    candidates.extend(t for t in (crossing, upcoming) if t is not None)
    future = [t for t in candidates if t > now]
    return max(min(future), now + MIN_GAP) if future else None


def daily_series(conf: Confidence, now: datetime) -> list[list[object]]:
    """[[local_date, value], ...]: the last resolved value of each local day in the window."""
    window_start = now - timedelta(days=WINDOW_DAYS)
    last_of_day: dict[date, tuple[datetime, float]] = {}
    for s in conf.resolved:
        if s.measured_at > window_start:
            last_of_day[s.local_date] = max(last_of_day.get(s.local_date, (s.measured_at, s.value)),
                                            (s.measured_at, s.value))
    return [[day.isoformat(), round(last_of_day[day][1], 3)] for day in sorted(last_of_day)]
