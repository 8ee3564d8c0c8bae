"""The confidence model v1 (docs/confidence.md): a pure function.

    score(samples, spec, now, priority=None) -> Confidence

Only samples measured in the 30-day window ending at `now` are judged. Older samples are
context: the latest valid one keeps freshness honest when the window is empty. Samples
measured after `now` are not counted yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from vitaltrust.confidence import components as K
from vitaltrust.confidence import reasons as R
from vitaltrust.confidence.resolution import (
    SampleKey,
    deduplicate,
    identity,
    is_hard_fail,
    latest_deliveries,
    resolve,
    split_unit_slips,
    time_key,
)
from vitaltrust.confidence.types import (
    MODEL_VERSION,
    WINDOW_DAYS,
    Component,
    Confidence,
    Conflict,
    MetricSpec,
    Sample,
)

WEIGHTS = {"F": 0.20, "C": 0.25, "P": 0.20, "O": 0.10, "R": 0.15, "A": 0.10}
NAMES = {"F": "freshness", "C": "completeness", "P": "plausibility", "O": "consistency",
         "R": "source reliability", "A": "cross-source agreement"}
IMPLAUSIBLE_CAP = 69.0
IMPLAUSIBLE_CAP_DAYS = 7
STALE_CAP = 49.0
MIN_VALID_SAMPLES = 3
LEVELS = ((85.0, "excellent"), (70.0, "good"), (50.0, "fair"))
# Flags the model derives afresh on every run; stale copies on input samples are dropped.
RECOMPUTED_FLAGS = frozenset({R.RAPID_CHANGE, R.OUTLIER})


def level_for(score: float) -> str:
    for threshold, level in LEVELS:
        if score >= threshold:
            return level
    return "poor"


def score(samples: Sequence[Sample], spec: MetricSpec, now: datetime,
          priority: Sequence[str] | None = None) -> Confidence:
    """Resolve conflicts, score the six components, apply caps, pick the level."""
    window_start = now - timedelta(days=WINDOW_DAYS)
    in_window = deduplicate([s for s in samples if window_start < s.measured_at <= now])
    before = latest_deliveries([s for s in samples if s.measured_at <= window_start])
    hard: list[Sample] = []
    candidates: list[Sample] = []
    for s in in_window:
        (hard if is_hard_fail(s, spec) else candidates).append(s)
    valid, slips = split_unit_slips(candidates, spec)
    resolved, conflicts = resolve(valid, spec, priority)
    rapid = K.rapid_changes(resolved, spec)

    last_valid = resolved[-1] if resolved else _latest_valid(before.values(), spec)
    recent_cutoff = now - timedelta(days=IMPLAUSIBLE_CAP_DAYS)
    implausible_cap = IMPLAUSIBLE_CAP if any(s.measured_at > recent_cutoff for s in hard) else None

    freshness, stale_capped = K.freshness(last_valid.measured_at if last_valid else None, now, spec,
                                          STALE_CAP)
    consistency, outliers = K.consistency(resolved, spec)
    parts = {
        "F": freshness,
        "C": K.completeness(resolved, now, spec),
        "P": K.plausibility(len(in_window), hard, slips, rapid, spec, implausible_cap),
        "O": consistency,
        "R": K.reliability(resolved, spec),
        "A": K.agreement(conflicts, spec),
    }
    cap = min(100.0, STALE_CAP if stale_capped else 100.0, implausible_cap or 100.0)
    final_score, built = _combine(parts, cap)
    insufficient = len(resolved) < MIN_VALID_SAMPLES
    top = _top_reasons(built)
    if insufficient:
        top.insert(0, R.insufficient(spec, len(resolved), MIN_VALID_SAMPLES, WINDOW_DAYS))

    flags, restamped = _flags(in_window, before.values(), spec, {
        R.IMPLAUSIBLE_VALUE: hard, R.UNIT_SLIP: [s for s, _ in slips],
        R.RAPID_CHANGE: [later for later, _ in rapid], R.OUTLIER: outliers})
    return Confidence(
        score=final_score,
        level="insufficient" if insufficient else level_for(final_score),
        components=built,
        reasons=tuple(top),
        model_version=MODEL_VERSION,
        computed_at=now,
        sample_count=len(in_window),
        last_sample_at=last_valid.measured_at if last_valid else None,
        latest_value=last_valid.value if last_valid else None,
        resolved=tuple(restamped.get(id(s), s) for s in resolved),
        conflicts=tuple(_restamp_conflict(c, restamped) for c in conflicts),
        flagged=flags,
        valid_sample_count=len(resolved),
    )


def _combine(parts: dict[str, K.Part], cap: float) -> tuple[float, tuple[Component, ...]]:
    """Weighted mean over the components that could be judged (weights renormalised)."""
    total_weight = sum(WEIGHTS[code] for code, part in parts.items() if part.score is not None)
    raw = sum(WEIGHTS[code] * part.score for code, part in parts.items()
              if part.score is not None) / total_weight
    built = []
    for code, part in parts.items():
        if part.score is None:
            built.append(Component(code, NAMES[code], None, 0.0, 0.0, part.reasons))
            continue
        weight = WEIGHTS[code] / total_weight
        built.append(Component(code, NAMES[code], round(part.score, 1), round(weight, 4),
                               round(weight * (100.0 - part.score), 1), part.reasons))
    return round(max(0.0, min(raw, cap)), 1), tuple(built)


def _top_reasons(built: tuple[Component, ...]) -> list[R.Reason]:
    """Reasons behind a cap first, then by how many points their component took off."""
    ordered = sorted(built, key=lambda c: -c.deduction)  # stable: ties keep F C P O R A
    found = [r for c in ordered for r in c.reasons]
    return [r for r in found if "capped_at" in r] + [r for r in found if "capped_at" not in r]


def _latest_valid(samples: Iterable[Sample], spec: MetricSpec) -> Sample | None:
    """Latest by time_key that is neither impossible nor a unit slip."""
    best: Sample | None = None
    for s in samples:
        if best is None or time_key(s) > time_key(best):
            if not is_hard_fail(s, spec) and R.UNIT_SLIP not in s.flags:
                best = s
    return best


def _flags(in_window: list[Sample], before: Iterable[Sample], spec: MetricSpec,
           derived: dict[str, list[Sample]],
           ) -> tuple[dict[SampleKey, frozenset[str]], dict[int, Sample]]:
    """Every given sample's flags after this run (absent = none), and id(sample) -> a copy
    carrying them for the window's samples whose flags changed. Samples before the window
    keep what they had, plus IMPLAUSIBLE_VALUE when outside the hard limits."""
    extra: dict[int, set[str]] = {}
    for flag, flagged in derived.items():
        for s in flagged:
            extra.setdefault(id(s), set()).add(flag)
    result: dict[SampleKey, frozenset[str]] = {}
    restamped: dict[int, Sample] = {}
    for s in in_window:
        if not s.flags and id(s) not in extra:
            continue
        flags = frozenset((s.flags - RECOMPUTED_FLAGS) | extra.get(id(s), set()))
        if flags:
            result[identity(s)] = flags
        if flags != s.flags:
            restamped[id(s)] = dataclasses.replace(s, flags=flags)
    low, high = spec.hard_min, spec.hard_max
    for s in before:
        if s.flags or not low <= s.value <= high:
            flags = s.flags | {R.IMPLAUSIBLE_VALUE} if is_hard_fail(s, spec) else s.flags
            result[identity(s)] = frozenset(flags)
    return result, restamped


def _restamp_conflict(conflict: Conflict, restamped: dict[int, Sample]) -> Conflict:
    winner = restamped.get(id(conflict.winner), conflict.winner)
    loser = restamped.get(id(conflict.loser), conflict.loser)
    if winner is conflict.winner and loser is conflict.loser:
        return conflict
    return dataclasses.replace(conflict, winner=winner, loser=loser)


Scorer = Callable[[Sequence[Sample], MetricSpec, datetime, "Sequence[str] | None"], Confidence]


def score_for_version(version: str) -> Scorer:
    """The scoring function of a model version ("1", "2"); v1 stays as specified."""
    if version == MODEL_VERSION:
        return score
    if version == "2":
        from vitaltrust.confidence.model_v2 import score_v2
        return score_v2
    raise ValueError(f"unknown confidence model version {version!r} (known: 1, 2)")
