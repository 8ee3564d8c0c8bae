"""What makes two samples "the same sample", and which one of a delivery is kept (pure).

A stored sample is identified by (user, metric, source, device, measured_at), the device
being its type and model: one integration carries several devices, and a scale and a
manual entry at the same instant are two readings that conflict resolution weighs. The
provider's sample id identifies it too (a corrected time or device under the same id
replaces the row). A daily summary (one with coverage_seconds) of a metric that holds one
value per day is identified by its local day instead of its time: the summary covering
more of the day is the one kept.

Nothing is dropped silently: every sample a delivery replaces itself is returned as a
Rejection with its reason.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

from vitaltrust.confidence.types import MetricSpec
from vitaltrust.metrics.normalize import NormalizedSample
from vitaltrust.metrics.types import Rejection

DeviceKey = tuple[str, str]


def device_of(s: NormalizedSample) -> DeviceKey:
    return (s.device_type, s.device_model or "")


def device_label(s: NormalizedSample) -> str:
    return f"{s.device_type} {s.device_model}" if s.device_model else s.device_type


def day_metrics(specs: Collection[MetricSpec]) -> frozenset[str]:
    """Metrics that hold one value per local day (a daily total or a nightly value)."""
    return frozenset(s.metric for s in specs
                     if s.aggregation == "cumulative_daily" or s.conflict_window is None)


def is_day_summary(s: NormalizedSample, per_day: Collection[str]) -> bool:
    return s.coverage_seconds is not None and s.metric in per_day


def _covers(s: NormalizedSample) -> int:
    return s.coverage_seconds if s.coverage_seconds is not None else -1


def _rejection(s: NormalizedSample, reason: str) -> Rejection:
    return Rejection(s.index, reason, s.metric)


def dedupe_delivery(samples: Sequence[NormalizedSample], per_day: Collection[str]
                    ) -> tuple[list[NormalizedSample], list[Rejection]]:
    """One sample per identity within a delivery, in delivery order.

    The later sample wins on the same device and time and on the same sample id; of two
    daily summaries for the same day the one covering more wins (the later on a tie).
    """
    rejected: list[Rejection] = []
    slots: dict[tuple[str, DeviceKey, object], NormalizedSample] = {}
    for s in samples:
        slot: tuple[str, DeviceKey, object]
        slot = (s.metric, device_of(s),
                ("day", s.local_date) if is_day_summary(s, per_day) else s.measured_at)
        earlier = slots.get(slot)
        if earlier is not None and _is_fuller(earlier, s):
            rejected.append(_rejection(s, _fuller_reason(earlier.local_date, _covers(earlier),
                                                         s, "in the same delivery")))
            continue
        if earlier is not None:
            rejected.append(_rejection(earlier, _replaced_reason(earlier, s)))
        slots[slot] = s
    by_id: dict[tuple[str, str], NormalizedSample] = {}
    kept: list[NormalizedSample] = []
    for s in reversed(sorted(slots.values(), key=_position)):
        if s.external_id is not None:
            later = by_id.get((s.metric, s.external_id))
            if later is not None:
                rejected.append(_rejection(s, f"replaced by a later sample with the same id "
                                              f"{s.external_id!r} in the same delivery"))
                continue
            by_id[(s.metric, s.external_id)] = s
        kept.append(s)
    kept.reverse()
    return kept, rejected


def _is_fuller(a: NormalizedSample, b: NormalizedSample) -> bool:
    return (a.coverage_seconds is not None and b.coverage_seconds is not None
            and a.coverage_seconds > b.coverage_seconds)


def _position(s: NormalizedSample) -> int:
    return s.index if s.index is not None else -1


def _replaced_reason(earlier: NormalizedSample, later: NormalizedSample) -> str:
    if later.coverage_seconds is not None and later.local_date == earlier.local_date \
            and later.measured_at != earlier.measured_at:
        return (f"replaced by a summary of {later.local_date.isoformat()} covering at least "
                f"as much ({_covers(later)} s) in the same delivery")
    return (f"replaced by a later {device_label(later)} sample at "
            f"{later.measured_at.isoformat()} in the same delivery")


def _fuller_reason(day: date, stored: int, s: NormalizedSample, where: str) -> str:
    return (f"a fuller summary of {day.isoformat()} is {where} ({stored} s covered); this "
            f"one covers {_covers(s)} s")


def fuller_stored_reason(day: date, stored_coverage: int, s: NormalizedSample) -> str:
    return _fuller_reason(day, stored_coverage, s, "stored")

