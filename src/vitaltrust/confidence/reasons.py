"""Reasons: a code, the numbers behind it, and one sentence a trainer can read.

Every builder returns a JSON-ready dict `{"code", "message", ...numbers}`; dates are ISO
strings, values are in the metric's canonical unit (messages show friendlier units).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from vitaltrust.confidence.types import MetricSpec, Sample

Reason = dict[str, Any]

STALE = "STALE"
LOW_COVERAGE = "LOW_COVERAGE"
IMPLAUSIBLE_VALUE = "IMPLAUSIBLE_VALUE"
RAPID_CHANGE = "RAPID_CHANGE"
OUTLIER = "OUTLIER"
SOURCE_CONFLICT = "SOURCE_CONFLICT"
LOW_TRUST_SOURCE = "LOW_TRUST_SOURCE"
UNIT_SLIP = "UNIT_SLIP"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY_SECONDS = 86400.0


def metric_noun(spec: MetricSpec) -> str:
    """'Weight' -> 'weight', 'Resting Heart Rate' -> 'resting heart rate'; acronyms kept."""
    words = spec.display_name.split()
    if all(w[:1].isupper() and w[1:].islower() for w in words):
        return spec.display_name.lower()
    return spec.display_name


def day_text(d: date) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]}"


def number_text(x: float) -> str:
    """One decimal, without a trailing '.0' for whole numbers: 6 / 1.6."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def value_text(value: float, spec: MetricSpec, signed: bool = False) -> str:
    sign = "+" if signed and value > 0 else ""
    unit = spec.canonical_unit
    if unit == "s":
        return f"{sign}{value / 3600:.1f} h"
    if unit == "steps":
        return f"{sign}{value:,.0f} steps"
    if unit in ("bpm", "mmHg", "ms"):
        return f"{sign}{value:.0f} {unit}"
    return f"{sign}{value:.1f} {unit}"


def cadence_text(cadence: timedelta) -> str:
    days = cadence.total_seconds() / _DAY_SECONDS
    if days == 1:
        return "daily"
    if days == 7:
        return "weekly"
    return f"every {number_text(days)} days"


def bucket_text(cadence: timedelta, count: int) -> str:
    days = cadence.total_seconds() / _DAY_SECONDS
    if days == 1:
        return "day" if count == 1 else "days"
    if days == 7:
        return "week" if count == 1 else "weeks"
    return f"{number_text(days)}-day periods"


def source_label(sample: Sample, other: Sample) -> str:
    """The device type, made unique with the model or the source when both sides share it."""
    if sample.device_type != other.device_type:
        return sample.device_type
    if sample.device_model != other.device_model:
        return f"{sample.device_type} {sample.device_model or '(no model)'}"
    return f"{sample.device_type} ({sample.source_name or f'source {sample.source_id}'})"


def stale(spec: MetricSpec, age: timedelta | None, cap: float | None) -> Reason:
    expected = cadence_text(spec.cadence)
    noun = metric_noun(spec)
    if age is None:
        reason: Reason = {"code": STALE, "message": f"no valid {noun} yet (expected {expected})",
                          "days": None}
    else:
        days = round(age.total_seconds() / _DAY_SECONDS, 1)
        unit = "day" if days == 1 else "days"
        reason = {"code": STALE, "message": f"no {noun} for {number_text(days)} {unit} "
                  f"(expected {expected})", "days": days}
    reason["expected_days"] = round(spec.cadence.total_seconds() / _DAY_SECONDS, 3)
    return _with_cap(reason, cap)


def low_coverage(spec: MetricSpec, hit: int, buckets: int) -> Reason:
    return {"code": LOW_COVERAGE,
            "message": f"{hit}/{buckets} {bucket_text(spec.cadence, buckets)} with data",
            "buckets_with_data": hit, "buckets": buckets,
            "bucket_days": round(spec.cadence.total_seconds() / _DAY_SECONDS, 3)}


def implausible(spec: MetricSpec, fails: list[Sample], total: int, cap: float | None) -> Reason:
    latest = fails[-1]
    noun = metric_noun(spec)
    within = spec.hard_min <= latest.value <= spec.hard_max
    detail = ("flagged at storage" if within else
              f"allowed {value_text(spec.hard_min, spec)} to {value_text(spec.hard_max, spec)}")
    reason: Reason = {
        "code": IMPLAUSIBLE_VALUE,
        "message": f"{len(fails)} of {total} {noun} values impossible (latest "
                   f"{value_text(latest.value, spec)} on {day_text(latest.local_date)}, {detail})",
        "count": len(fails), "total": total, "value": latest.value,
        "date": latest.local_date.isoformat(), "hard_min": spec.hard_min, "hard_max": spec.hard_max,
    }
    return _with_cap(reason, cap)


def unit_slip(spec: MetricSpec, slips: list[tuple[Sample, float | None]]) -> Reason:
    latest, reference = slips[-1]
    count = len(slips)
    if reference is None:
        text = f"{value_text(latest.value, spec)} on {day_text(latest.local_date)} flagged as a unit slip"
    else:
        text = (f"{value_text(latest.value, spec)} on {day_text(latest.local_date)} looks like "
                f"{value_text(reference, spec)} entered in lb")
    if count > 1:
        text += f" ({count} such values)"
    return {"code": UNIT_SLIP, "message": text, "count": count, "value": latest.value,
            "reference": reference, "date": latest.local_date.isoformat()}


def rapid_change(spec: MetricSpec, changes: list[tuple[Sample, Sample]], limit_text: str) -> Reason:
    later, earlier = changes[-1]
    delta = later.value - earlier.value
    hours = (later.measured_at - earlier.measured_at).total_seconds() / 3600
    span = f"{hours:.0f} h" if hours <= 48 else f"{number_text(hours / 24)} days"
    text = (f"{value_text(delta, spec, signed=True)} in {span} on {day_text(later.local_date)} "
            f"(limit {limit_text})")
    if len(changes) > 1:
        text += f"; {len(changes)} rapid changes"
    return {"code": RAPID_CHANGE, "message": text, "count": len(changes), "change": round(delta, 3),
            "hours": round(hours, 1), "date": later.local_date.isoformat()}


def outlier(spec: MetricSpec, outliers: list[tuple[Sample, float]], total: int) -> Reason:
    latest, median = outliers[-1]
    text = (f"{value_text(latest.value, spec)} on {day_text(latest.local_date)} is far from "
            f"nearby values (median {value_text(median, spec)})")
    if len(outliers) > 1:
        text += f"; {len(outliers)} of {total} values are outliers"
    return {"code": OUTLIER, "message": text, "count": len(outliers), "total": total,
            "value": latest.value, "median": round(median, 3), "date": latest.local_date.isoformat()}


def source_conflict(spec: MetricSpec, winner: Sample, loser: Sample, disagreeing: int,
                    groups: int) -> Reason:
    text = (f"{source_label(winner, loser)} {value_text(winner.value, spec)} vs "
            f"{source_label(loser, winner)} {value_text(loser.value, spec)} on "
            f"{day_text(winner.local_date)}")
    if disagreeing > 1:
        text += f"; {disagreeing} of {groups} conflicts disagree"
    return {"code": SOURCE_CONFLICT, "message": text, "disagreeing": disagreeing, "groups": groups,
            "winner_value": winner.value, "winner_device_type": winner.device_type,
            "loser_value": loser.value, "loser_device_type": loser.device_type,
            "difference": round(loser.value - winner.value, 3), "date": winner.local_date.isoformat()}


def low_trust(device_type: str, count: int, total: int, trust: float) -> Reason:
    return {"code": LOW_TRUST_SOURCE,
            "message": f"{count} of {total} values from {device_type} (trust {number_text(trust)}/100)",
            "device_type": device_type, "count": count, "total": total, "trust": trust}


def insufficient(spec: MetricSpec, valid: int, needed: int, window_days: int) -> Reason:
    return {"code": INSUFFICIENT_DATA,
            "message": f"only {valid} valid {metric_noun(spec)} "
                       f"{'value' if valid == 1 else 'values'} in {window_days} days (need {needed})",
            "count": valid, "needed": needed}


def _with_cap(reason: Reason, cap: float | None) -> Reason:
    if cap is not None:
        reason["message"] += f"; score capped at {number_text(cap)}"
        reason["capped_at"] = cap
    return reason
