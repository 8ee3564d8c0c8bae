"""The six components of CONFIDENCE.md, each 0-100 or None when it cannot be judged."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from vitaltrust.confidence import reasons as R
from vitaltrust.confidence.resolution import EPSILON, SampleKey, identity
from vitaltrust.confidence.types import WINDOW_DAYS, Conflict, MetricSpec, Sample

_DAY = timedelta(days=1)
FRESH_UNTIL_CADENCES = 1.5
STALE_AT_CADENCES = 4.0
HAMPEL_HALF_WINDOW_GAPS = 3.0
HAMPEL_MAD_SCALE = 1.4826
HAMPEL_THRESHOLD = 3.0
HAMPEL_MIN_POINTS = 5
OUTLIER_RATE_FOR_ZERO = 0.10
SOFT_FLAG_WEIGHT = 0.5
UNKNOWN_TRUST = 50.0
LOW_TRUST_BELOW = 80.0


@dataclass(frozen=True)
class Part:
    score: float | None
    reasons: tuple[R.Reason, ...] = ()


@dataclass(frozen=True)
class SoftLimit:
    """A change larger than `amount` per `period` (never per less than one period) is suspect."""
    amount: float
    relative: bool
    period: timedelta
    text: str


SOFT_LIMITS = {
    "weight": SoftLimit(0.02, True, _DAY, "2 % per 24 h"),
    "body_fat": SoftLimit(3.0, False, 7 * _DAY, "3 points per 7 days"),
    "resting_heart_rate": SoftLimit(15.0, False, _DAY, "15 bpm day to day"),
}


def freshness(last_valid_at: datetime | None, now: datetime, spec: MetricSpec,
              stale_cap: float) -> tuple[Part, bool]:
    """100 while age <= 1.5 cadences, linear down to 0 at 4 cadences. Returns (part, capped):
    capped when age > 4 cadences (or there is no valid sample at all)."""
    if last_valid_at is None:
        return Part(0.0, (R.stale(spec, None, stale_cap),)), True
    age = max(now - last_valid_at, timedelta(0))
    fresh_until = spec.cadence * FRESH_UNTIL_CADENCES
    stale_at = spec.cadence * STALE_AT_CADENCES
    if age <= fresh_until:
        return Part(100.0), False
    capped = age > stale_at
    score = 0.0 if age >= stale_at else 100.0 * (stale_at - age) / (stale_at - fresh_until)
    return Part(score, (R.stale(spec, age, stale_cap if capped else None),)), capped


def completeness(resolved: Sequence[Sample], now: datetime, spec: MetricSpec) -> Part:
    """Share of cadence-long buckets, counted back from `now`, holding a valid sample."""
    buckets = max(1, timedelta(days=WINDOW_DAYS) // spec.cadence)
    hit = len({(now - s.measured_at) // spec.cadence for s in resolved} & set(range(buckets)))
    score = min(100.0, 100.0 * hit / buckets)
    return Part(score, () if hit >= buckets else (R.low_coverage(spec, hit, buckets),))


def rapid_changes(resolved: Sequence[Sample], spec: MetricSpec) -> list[tuple[Sample, Sample]]:
    """(later, earlier) pairs of consecutive resolved samples breaking the soft limit."""
    limit = SOFT_LIMITS.get(spec.metric)
    if limit is None:
        return []
    found = []
    for earlier, later in pairwise(resolved):
        change = abs(later.value - earlier.value)
        if limit.relative:
            change = change / abs(earlier.value) if earlier.value else 0.0
        periods = max((later.measured_at - earlier.measured_at) / limit.period, 1.0)
        if change / periods > limit.amount + EPSILON:
            found.append((later, earlier))
    return found


def plausibility(total: int, hard: list[Sample], slips: list[tuple[Sample, float | None]],
                 rapid: list[tuple[Sample, Sample]], spec: MetricSpec,
                 implausible_cap: float | None) -> Part:
    """100 x (1 - hard_fail_rate - 0.5 x soft_flag_rate); unit slips count as hard fails."""
    if total == 0:
        return Part(None)
    bad = (len(hard) + len(slips)) / total + SOFT_FLAG_WEIGHT * len(rapid) / total
    found: list[R.Reason] = []
    if hard:
        found.append(R.implausible(spec, hard, total, implausible_cap))
    if slips:
        found.append(R.unit_slip(spec, slips))
    if rapid:
        found.append(R.rapid_change(spec, rapid, SOFT_LIMITS[spec.metric].text))
    return Part(100.0 * max(0.0, 1.0 - bad), tuple(found))


def _median(ordered: Sequence[float]) -> float:
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def hampel_outliers(times: Sequence[float], values: Sequence[float],
                    floor: float) -> list[tuple[int, float]]:
    """(index, local median) of each point further than 3 robust scales from the median of
    its time neighbourhood (+/-3 median gaps). The scale never drops below `floor`, which is
    what the measurement error gives when MAD = 0. Two pointers keep the window sorted."""
    n = len(values)
    half = HAMPEL_HALF_WINDOW_GAPS * _median(sorted(b - a for a, b in pairwise(times)))
    # the scale is never below the floor, so closer points need no MAD
    surely_inside = HAMPEL_THRESHOLD * floor + EPSILON
    window: list[float] = []
    low = high = 0
    found = []
    for i in range(n):
        while high < n and times[high] <= times[i] + half:
            bisect.insort(window, values[high])
            high += 1
        while times[low] < times[i] - half:
            del window[bisect.bisect_left(window, values[low])]
            low += 1
        median = _median(window)
        if abs(values[i] - median) <= surely_inside:
            continue
        mad = _median(sorted([abs(v - median) for v in window]))
        scale = max(HAMPEL_MAD_SCALE * mad, floor)
        if abs(values[i] - median) > HAMPEL_THRESHOLD * scale + EPSILON:
            found.append((i, median))
    return found


def consistency(resolved: Sequence[Sample], spec: MetricSpec) -> tuple[Part, list[Sample]]:
    """100 x max(0, 1 - outlier_rate / 0.10); None below 5 points."""
    if len(resolved) < HAMPEL_MIN_POINTS:
        return Part(None), []
    times = [s.measured_at.timestamp() for s in resolved]
    hits = hampel_outliers(times, [s.value for s in resolved], spec.measurement_error)
    score = 100.0 * max(0.0, 1.0 - len(hits) / len(resolved) / OUTLIER_RATE_FOR_ZERO)
    if not hits:
        return Part(score), []
    found = [(resolved[i], median) for i, median in hits]
    return Part(score, (R.outlier(spec, found, len(resolved)),)), [s for s, _ in found]


def trust(spec: MetricSpec, device_type: str) -> float:
    return float(spec.reliability.get(device_type, spec.reliability.get("unknown", UNKNOWN_TRUST)))


def reliability(resolved: Sequence[Sample], spec: MetricSpec) -> Part:
    """Mean prior of the resolved samples' device types for this metric."""
    if not resolved:
        return Part(None)
    counts = Counter(s.device_type for s in resolved)
    total = len(resolved)
    score = sum(trust(spec, d) * n for d, n in counts.items()) / total
    low = sorted((d for d in counts if trust(spec, d) < LOW_TRUST_BELOW), key=lambda d: (-counts[d], d))
    return Part(score, tuple(R.low_trust(d, counts[d], total, trust(spec, d)) for d in low))


def agreement(conflicts: Sequence[Conflict], spec: MetricSpec) -> Part:
    """Share of conflict groups (one per winner) whose losers all agree; None without any."""
    if not conflicts:
        return Part(None)
    groups: dict[SampleKey, list[Conflict]] = {}
    for c in conflicts:
        groups.setdefault(identity(c.winner), []).append(c)
    disagreeing = [g for g in groups.values() if not all(c.agrees for c in g)]
    score = 100.0 * (1.0 - len(disagreeing) / len(groups))
    if not disagreeing:
        return Part(score)
    latest = disagreeing[-1]
    worst = max((c for c in latest if not c.agrees), key=lambda c: (abs(c.difference), -c.loser.source_id))
    return Part(score, (R.source_conflict(spec, worst.winner, worst.loser, len(disagreeing),
                                          len(groups)),))
