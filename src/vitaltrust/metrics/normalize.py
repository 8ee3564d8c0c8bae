"""RawSample -> a storable sample in the canonical unit, or a one-line Rejection (pure).

The local date is the provider's calendar date when it gives one (daily summaries: the
day the provider files the summary under wins over whatever the summary's end time and
offset say), else the sample's own UTC offset, else the user's time zone.

Time sanity: a sample measured before 1970 or more than a day ahead of now is rejected.
Values outside the metric's hard limits are kept but flagged IMPLAUSIBLE_VALUE, as the
confidence model says (they are evidence about the source and cap its score); a value
beyond ABSURD_VALUE is no measurement of anything and is rejected, so stored values stay
summable. Systolic <= diastolic pairs are flagged in SQL by store.py, because the two
halves may arrive in different deliveries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vitaltrust.confidence.types import MetricSpec
from vitaltrust.metrics.types import DEVICE_TYPES, RawSample, Rejection
from vitaltrust.metrics.units import UnitError, to_canonical

IMPLAUSIBLE = "IMPLAUSIBLE_VALUE"
# a clock a little ahead is tolerated; a sample from next week is a bug or a lie
MAX_FUTURE = timedelta(days=1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_OFFSET_SECONDS = 18 * 3600
# every metric's hard limits are below 1e5; 1e9 leaves room for any slip worth flagging
ABSURD_VALUE = 1e9
# a provider's calendar date further than this from the sample's time is not its day
MAX_DATE_DRIFT = timedelta(days=2)


@dataclass(frozen=True)
class NormalizedSample:
    metric: str
    value: float
    measured_at: datetime          # UTC
    local_date: date
    original_value: float
    original_unit: str | None
    device_type: str
    device_model: str | None
    external_id: str | None
    flags: frozenset[str]
    coverage_seconds: int | None = None  # daily summaries only
    index: int | None = None             # position in the delivery, for rejections


class _Reject(ValueError):
    pass


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _Reject(f"value must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError as exc:
        raise _Reject("value is infinite") from exc
    if math.isnan(number):
        raise _Reject("value is NaN")
    if math.isinf(number):
        raise _Reject("value is infinite")
    return number


def _measured_at(raw: RawSample, now: datetime) -> datetime:
    at = raw.measured_at
    if at is None:
        raise _Reject("missing measured_at")
    if not isinstance(at, datetime):
        raise _Reject(f"measured_at must be a timestamp, not {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        if raw.utc_offset_seconds is None:
            raise _Reject("measured_at has no time zone")
        at = at.replace(tzinfo=timezone(timedelta(seconds=_offset(raw.utc_offset_seconds))))
    try:
        at = at.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise _Reject("measured_at is out of range") from exc
    if at < EARLIEST:
        raise _Reject(f"measured_at {at.isoformat()} is before 1970")
    if at > now + MAX_FUTURE:
        raise _Reject(f"measured_at {at.isoformat()} is more than 1 day in the future")
    return at


def _offset(offset: object) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > MAX_OFFSET_SECONDS:
        raise _Reject(f"utc offset {offset!r} is not a valid offset in seconds")
    return offset


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _provider_date(raw: RawSample, at: datetime) -> date:
    try:
        day = date.fromisoformat(raw.local_date)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise _Reject(f"local_date {raw.local_date!r} is not YYYY-MM-DD") from exc
    if abs(datetime.combine(day, at.time(), UTC) - at) > MAX_DATE_DRIFT:
        raise _Reject(f"local_date {day.isoformat()} is more than 2 days from measured_at "
                      f"{at.isoformat()}")
    return day


def _local_date(raw: RawSample, at: datetime, time_zone: str) -> date:
    if raw.local_date is not None:
        return _provider_date(raw, at)
    if raw.utc_offset_seconds is not None:
        return (at + timedelta(seconds=_offset(raw.utc_offset_seconds))).date()
    if raw.measured_at is not None and raw.measured_at.tzinfo is not None \
            and raw.measured_at.utcoffset() != timedelta(0):
        # an explicit non-UTC offset in the timestamp is the sample's own local time
        return raw.measured_at.date()
    return at.astimezone(_zone(time_zone)).date()


def _coverage(raw: RawSample) -> int | None:
    seconds = raw.coverage_seconds
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise _Reject(f"coverage_seconds {seconds!r} is not a number of seconds")
    return seconds


def normalize(raw: RawSample, specs: Mapping[str, MetricSpec], *, time_zone: str,
              now: datetime, index: int | None = None) -> NormalizedSample | Rejection:
    """One sample, validated and converted; never raises for bad provider input."""
    spec = specs.get(raw.metric) if isinstance(raw.metric, str) else None
    if spec is None:
        return Rejection(index, f"unknown metric {raw.metric!r}", None, raw.external_user_id)
    try:
        if raw.unit is not None and not isinstance(raw.unit, str):
            raise _Reject(f"unit must be text, not {type(raw.unit).__name__}")
        original = _number(raw.value)
        try:
            value = to_canonical(original, raw.unit, spec.canonical_unit)
        except UnitError as exc:
            raise _Reject(str(exc)) from exc
        if not abs(value) <= ABSURD_VALUE:
            raise _Reject(f"value {original:g} {raw.unit or spec.canonical_unit} is not a "
                          f"possible {spec.display_name.lower()} (hard limits "
                          f"{spec.hard_min:g}-{spec.hard_max:g} {spec.canonical_unit})")
        at = _measured_at(raw, now)
        local = _local_date(raw, at, time_zone)
        coverage = _coverage(raw)
    except _Reject as exc:
        return Rejection(index, str(exc), raw.metric, raw.external_user_id)
    flags = frozenset({IMPLAUSIBLE}) if not spec.hard_min <= value <= spec.hard_max else frozenset()
    device = raw.device_type if raw.device_type in DEVICE_TYPES else "unknown"
    sample_id = raw.sample_id if isinstance(raw.sample_id, str) and raw.sample_id else None
    model = raw.device_model if isinstance(raw.device_model, str) and raw.device_model else None
    return NormalizedSample(raw.metric, value, at, local, original, raw.unit, device, model,
                            sample_id, flags, coverage, index)
