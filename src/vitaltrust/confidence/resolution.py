"""Conflict resolution before scoring (CONFIDENCE.md): pure and order-independent.

A sample's source, for resolution, is its integration AND its device (type and model): a
scale and a manual entry delivered through one integration conflict like two integrations
do. `deduplicate` leaves one sample per (source, device, measured_at) sorted by time, then
source, then device, a total order; every later step keeps it, so the same set of samples
always gives the same winners, losers and flags whatever order they came in.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from vitaltrust.confidence.reasons import IMPLAUSIBLE_VALUE, UNIT_SLIP
from vitaltrust.confidence.types import Conflict, MetricSpec, Sample

LB_PER_KG = 2.2046
UNIT_SLIP_TOLERANCE = 0.1
UNIT_SLIP_METRICS = frozenset({"weight"})
# float noise must not turn "exactly at the tolerance" into a disagreement
EPSILON = 1e-9

SampleKey = tuple[int, datetime, str, str]
SourceKey = tuple[int, str, str]


def identity(sample: Sample) -> SampleKey:
    """What storage keys a sample by: (source, measured_at, device type, device model)."""
    return (sample.source_id, sample.measured_at, sample.device_type, sample.device_model or "")


def source_of(sample: Sample) -> SourceKey:
    """The source a sample counts for in conflict resolution: integration and device."""
    return (sample.source_id, sample.device_type, sample.device_model or "")


def _delivery_key(s: Sample) -> tuple[Any, ...]:
    """Later received wins; the rest only breaks exact ties (NaN made comparable)."""
    nan = math.isnan(s.value)
    return (s.received_at, nan, 0.0 if nan else s.value, s.local_date,
            tuple(sorted(s.flags)), s.source_name)


def latest_deliveries(samples: Sequence[Sample]) -> dict[SampleKey, Sample]:
    """One sample per identity: the later delivery replaces the earlier one."""
    best = {identity(s): s for s in samples}
    if len(best) == len(samples):
        return best
    best = {}
    for s in samples:
        key = identity(s)
        current = best.get(key)
        if current is None or (current is not s and _delivery_key(s) > _delivery_key(current)):
            best[key] = s
    return best


def time_key(s: Sample) -> tuple[datetime, int, str, str]:
    return (s.measured_at, s.source_id, s.device_type, s.device_model or "")


def deduplicate(samples: Sequence[Sample]) -> list[Sample]:
    """Latest deliveries sorted by time_key, which is a total order after this."""
    return sorted(latest_deliveries(samples).values(), key=time_key)


def is_hard_fail(sample: Sample, spec: MetricSpec) -> bool:
    """Outside the metric's hard limits (NaN included) or flagged so at storage."""
    value = sample.value
    return (IMPLAUSIBLE_VALUE in sample.flags or not math.isfinite(value)
            or not spec.hard_min <= value <= spec.hard_max)


def split_unit_slips(samples: Sequence[Sample],
                     spec: MetricSpec) -> tuple[list[Sample], list[tuple[Sample, float | None]]]:
    """(the rest, [(slip, the value it was read from)]): a weight that is another, non-slip
    sample x2.2046 (+/-0.1) is an lb value stored as kg; reference None = flagged at storage.

    Values are visited in ascending order, so a slip never serves as the reference for
    another one and the answer does not depend on input order.
    """
    slips: dict[int, float | None] = {id(s): None for s in samples if UNIT_SLIP in s.flags}
    if spec.metric in UNIT_SLIP_METRICS:
        references: list[float] = []  # ascending, as the values are visited
        # equal values get equal answers, so ties need no further order
        for s in sorted(samples, key=attrgetter("value")):
            if id(s) in slips:
                continue
            low = (s.value - UNIT_SLIP_TOLERANCE - EPSILON) / LB_PER_KG
            i = bisect.bisect_left(references, low)
            if (i < len(references)
                    and abs(references[i] * LB_PER_KG - s.value) <= UNIT_SLIP_TOLERANCE + EPSILON):
                slips[id(s)] = references[i]
            else:
                references.append(s.value)
    if not slips:
        return list(samples), []
    return ([s for s in samples if id(s) not in slips],
            [(s, slips[id(s)]) for s in samples if id(s) in slips])


def agrees(spec: MetricSpec, winner_value: float, loser_value: float) -> bool:
    """Within the metric's absolute or relative (to the winner) tolerance."""
    diff = abs(loser_value - winner_value)
    if spec.tolerance_abs is not None and diff <= spec.tolerance_abs + EPSILON:
        return True
    return spec.tolerance_rel is not None and diff <= spec.tolerance_rel * abs(winner_value) + EPSILON


def priority_rank(spec: MetricSpec, priority: Sequence[str] | None) -> Callable[[str], int]:
    """Rank of a device type: the user's override first, then the metric's default order."""
    ranks: dict[str, int] = {}
    for device_type in [*(priority or ()), *spec.default_priority]:
        ranks.setdefault(device_type, len(ranks))
    last = len(ranks)
    return lambda device_type: ranks.get(device_type, last)


def _groups_by_local_date(samples: list[Sample]) -> list[list[Sample]]:
    groups: dict[object, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.local_date, []).append(s)
    return list(groups.values())


def _groups_by_window(samples: list[Sample], window: timedelta) -> list[list[Sample]]:
    """Each group spans at most `window` from its first sample, so frequent readings
    never chain into one endless group."""
    groups: list[list[Sample]] = []
    anchor: datetime | None = None
    for s in samples:
        if anchor is None or s.measured_at - anchor > window:
            groups.append([])
            anchor = s.measured_at
        groups[-1].append(s)
    return groups


def _one_per_source_day(samples: list[Sample]) -> list[Sample]:
    """Cumulative daily metrics: each source's latest total for a local day stands for it."""
    latest: dict[tuple[SourceKey, object], Sample] = {}
    for s in samples:  # ascending by measured_at, so the last one seen is the latest
        latest[(source_of(s), s.local_date)] = s
    return sorted(latest.values(), key=time_key)


def resolve(valid: list[Sample], spec: MetricSpec,
            priority: Sequence[str] | None) -> tuple[list[Sample], list[Conflict]]:
    """Valid samples (sorted by time_key) -> (resolved series, conflicts).

    In a group with several sources (integration + device) the winner is the highest-priority
    device type, then the most recently received; its source's samples stay in the series,
    every sample from the other sources is a loser recorded against the winner. Cumulative
    metrics never sum sources.
    """
    rank = priority_rank(spec, priority)

    def winner_key(s: Sample) -> tuple[int, datetime, datetime, int, str]:
        return (-rank(s.device_type), s.received_at, s.measured_at, -s.source_id,
                s.device_model or "")

    if spec.aggregation == "cumulative_daily":
        valid = _one_per_source_day(valid)
        groups = _groups_by_local_date(valid)
    elif spec.conflict_window is None:
        groups = _groups_by_local_date(valid)
    else:
        groups = _groups_by_window(valid, spec.conflict_window)

    resolved: list[Sample] = []
    conflicts: list[Conflict] = []
    for group in groups:
        if len(group) == 1 or len({source_of(s) for s in group}) == 1:
            resolved.extend(group)
            continue
        winner = max(group, key=winner_key)
        for s in group:
            if source_of(s) == source_of(winner):
                resolved.append(s)
            else:
                conflicts.append(Conflict(winner=winner, loser=s, difference=s.value - winner.value,
                                          agrees=agrees(spec, winner.value, s.value)))
    resolved.sort(key=time_key)
    return resolved, conflicts
