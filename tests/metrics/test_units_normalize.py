"""Unit conversion and per-sample validation (pure, no database)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.metrics.normalize import IMPLAUSIBLE, NormalizedSample, normalize
from vitaltrust.metrics.types import RawSample, Rejection
from vitaltrust.metrics.units import UnitError, to_canonical

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "unit", "canonical", "expected"), [
    (176.37, "lb", "kg", 80.0),
    (176.37, "LBS", "kg", 80.0),
    (80000, "g", "kg", 80.0),
    (12.6, "st", "kg", 80.02),
    (2821.9, "oz", "kg", 80.0),
    (7.5, "h", "s", 27000.0),
    (450, "min", "s", 27000.0),
    (0.97, "fraction", "%", 97.0),
    (0.055, "s", "ms", 55.0),
    (80.2, None, "kg", 80.2),
    (80.2, "kg", "kg", 80.2),
    (16, "kPa", "mmHg", 120.0),
])
def test_conversions_to_canonical_units(value: float, unit: str | None, canonical: str,
                                        expected: float) -> None:
    assert to_canonical(value, unit, canonical) == pytest.approx(expected, abs=0.05)


def test_unknown_unit_is_a_clear_error() -> None:
    with pytest.raises(UnitError, match="unknown unit 'furlong'"):
        to_canonical(1, "furlong", "kg")


def test_unit_of_the_wrong_dimension_is_refused() -> None:
    with pytest.raises(UnitError, match="does not fit a metric measured in kg"):
        to_canonical(5, "min", "kg")


def raw(**kw: object) -> RawSample:
    base: dict[str, object] = {"external_user_id": "u1", "metric": "weight", "value": 80.2,
                               "unit": "kg", "measured_at": NOW - timedelta(hours=1)}
    base.update(kw)
    return RawSample(**base)  # type: ignore[arg-type]


def norm(sample: RawSample, tz: str = "UTC") -> NormalizedSample | Rejection:
    return normalize(sample, BUILTIN_SPECS, time_zone=tz, now=NOW, index=3)


@pytest.mark.parametrize(("kw", "reason"), [
    ({"metric": "mood"}, "unknown metric 'mood'"),
    ({"value": math.nan}, "value is NaN"),
    ({"value": math.inf}, "value is infinite"),
    ({"value": "80.2"}, "value must be a number, not str"),
    ({"value": None}, "value must be a number, not NoneType"),
    ({"value": True}, "value must be a number, not bool"),
    ({"unit": "furlong"}, "unknown unit 'furlong'"),
    ({"unit": "bpm"}, "unit 'bpm' does not fit a metric measured in kg"),
    ({"measured_at": None}, "missing measured_at"),
    ({"measured_at": datetime(2026, 11, 28, 7, 0)}, "measured_at has no time zone"),
    ({"measured_at": NOW + timedelta(days=3)}, "is more than 1 day in the future"),
    ({"measured_at": datetime(1, 1, 1, tzinfo=UTC)}, "measured_at 0001-01-01T00:00:00+00:00 is before 1970"),
    ({"measured_at": datetime(1969, 12, 31, 23, 59, tzinfo=UTC)}, "is before 1970"),
    ({"measured_at": datetime(1, 1, 1), "utc_offset_seconds": 50000}, "measured_at is out of range"),
    ({"measured_at": datetime(9999, 12, 31, 23, 0), "utc_offset_seconds": -50000},
     "measured_at is out of range"),
    ({"local_date": "28.11.2026", "measured_at": NOW}, "is not YYYY-MM-DD"),
    ({"local_date": "2026-11-20", "measured_at": NOW}, "local_date 2026-11-20 is more than 2 days"),
    ({"value": 1e308}, "value 1e+308 kg is not a possible weight (hard limits 25-350 kg)"),
    ({"value": -1e12}, "is not a possible weight"),
    ({"value": 1e308, "unit": "lb"}, "is not a possible weight"),
    ({"metric": "sleep_duration", "value": 1e307, "unit": "h"}, "is not a possible sleep duration"),
    ({"coverage_seconds": -1}, "coverage_seconds -1 is not a number of seconds"),
    ({"measured_at": datetime(2026, 11, 28, 7, 0), "utc_offset_seconds": 86400},
     "utc offset 86400 is not a valid offset in seconds"),
    ({"utc_offset_seconds": 10**9}, "utc offset 1000000000 is not a valid offset in seconds"),
])
def test_rejections_carry_a_one_line_reason(kw: dict[str, object], reason: str) -> None:
    result = norm(raw(**kw))
    assert isinstance(result, Rejection)
    assert reason in result.reason
    assert "\n" not in result.reason
    assert result.index == 3


def test_pounds_become_kilograms_and_keep_the_original() -> None:
    result = norm(raw(value=176.4, unit="lb"))
    assert isinstance(result, NormalizedSample)
    assert result.value == pytest.approx(80.01, abs=0.01)
    assert (result.original_value, result.original_unit) == (176.4, "lb")
    assert result.flags == frozenset()


def test_outside_hard_limits_is_stored_but_flagged() -> None:
    result = norm(raw(value=400))
    assert isinstance(result, NormalizedSample)
    assert result.flags == {IMPLAUSIBLE}


def test_local_date_from_the_samples_own_offset() -> None:
    # 23:30 UTC on the 27th is already the 28th in UTC+1
    at = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    result = norm(raw(measured_at=at, utc_offset_seconds=3600))
    assert isinstance(result, NormalizedSample) and result.local_date == date(2026, 11, 28)
    with_offset = datetime(2026, 11, 28, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    result = norm(raw(measured_at=with_offset), tz="America/New_York")
    assert isinstance(result, NormalizedSample) and result.local_date == date(2026, 11, 28)
    assert result.measured_at == at


def test_local_date_from_provider_date_then_user_time_zone() -> None:
    at = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    result = norm(raw(measured_at=at, local_date="2026-11-27"), tz="Asia/Tokyo")
    assert isinstance(result, NormalizedSample) and result.local_date == date(2026, 11, 27)
    result = norm(raw(measured_at=at), tz="America/Los_Angeles")
    assert isinstance(result, NormalizedSample) and result.local_date == date(2026, 11, 27)
    result = norm(raw(measured_at=at), tz="Asia/Tokyo")
    assert isinstance(result, NormalizedSample) and result.local_date == date(2026, 11, 28)


def test_naive_time_with_offset_is_accepted() -> None:
    result = norm(raw(measured_at=datetime(2026, 11, 28, 7, 0), utc_offset_seconds=-5 * 3600))
    assert isinstance(result, NormalizedSample)
    assert result.measured_at == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert result.local_date == date(2026, 11, 28)


def test_unknown_device_type_is_stored_as_unknown() -> None:
    result = norm(raw(device_type="toaster"))
    assert isinstance(result, NormalizedSample) and result.device_type == "unknown"


def test_time_sanity_bounds_are_inclusive_of_the_tolerated_edges() -> None:
    epoch = norm(raw(measured_at=datetime(1970, 1, 1, tzinfo=UTC)))
    assert isinstance(epoch, NormalizedSample)
    ahead = norm(raw(measured_at=NOW + timedelta(hours=23)))
    assert isinstance(ahead, NormalizedSample)


def test_far_outside_hard_limits_but_possible_is_flagged_not_rejected() -> None:
    # the model keeps hard-implausible values (flagged, excluded, capping the score)
    result = norm(raw(value=5000))
    assert isinstance(result, NormalizedSample) and result.flags == {IMPLAUSIBLE}
    result = norm(raw(value=-3))
    assert isinstance(result, NormalizedSample) and result.flags == {IMPLAUSIBLE}


def test_provider_calendar_date_beats_the_samples_offset() -> None:
    # Garmin daily: calendarDate 2016-01-12, startTimeInSeconds 1452556800 (00:00 UTC),
    # offset +3600, measured at the summary's end: 2016-01-13 01:00 local by the offset
    end = datetime(2016, 1, 13, 0, 0, tzinfo=UTC)
    summary = raw(metric="steps", value=3305, unit="steps", measured_at=end,
                  utc_offset_seconds=3600, local_date="2016-01-12", coverage_seconds=86400)
    result = normalize(summary, BUILTIN_SPECS, time_zone="UTC",
                       now=datetime(2016, 1, 20, tzinfo=UTC))
    assert isinstance(result, NormalizedSample)
    assert result.local_date == date(2016, 1, 12) and result.coverage_seconds == 86400
    # Terra daily: start 2025-07-04T00:00+02:00, end a day later in the same offset
    terra_end = datetime(2025, 7, 5, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    result = normalize(raw(metric="steps", value=8000, unit="steps", measured_at=terra_end,
                           local_date="2025-07-04"), BUILTIN_SPECS, time_zone="UTC",
                       now=datetime(2025, 7, 6, tzinfo=UTC))
    assert isinstance(result, NormalizedSample) and result.local_date == date(2025, 7, 4)
