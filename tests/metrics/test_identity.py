"""Which samples of one delivery are kept, and why the others are not (pure, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.metrics.identity import day_metrics, dedupe_delivery
from vitaltrust.metrics.normalize import NormalizedSample

T = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
PER_DAY = day_metrics(BUILTIN_SPECS.values())


def ns(index: int, value: float, *, metric: str = "weight", at: datetime = T,
       device: str = "scale", model: str | None = None, sid: str | None = None,
       coverage: int | None = None, day: date = T.date()) -> NormalizedSample:
    return NormalizedSample(metric, value, at, day, value, None, device, model, sid,
                            frozenset(), coverage, index)


def kept_values(samples: list[NormalizedSample]) -> tuple[list[float], list[Any]]:
    kept, rejected = dedupe_delivery(samples, PER_DAY)
    return [s.value for s in kept], [(r.index, r.reason) for r in rejected]


def test_day_metrics_are_the_cumulative_and_the_once_a_day_ones() -> None:
    assert {"steps", "sleep_duration", "resting_heart_rate", "hrv_rmssd"} <= PER_DAY
    assert not {"weight", "heart_rate", "blood_pressure_systolic"} & PER_DAY


def test_same_instant_from_a_scale_and_a_manual_entry_keeps_both() -> None:
    values, rejected = kept_values([ns(0, 80.2, model="Body+"), ns(1, 83.0, device="manual")])
    assert values == [80.2, 83.0] and rejected == []


def test_two_models_of_one_device_type_are_two_devices() -> None:
    values, _ = kept_values([ns(0, 80.2, model="Body+"), ns(1, 80.4, model="Index S2")])
    assert values == [80.2, 80.4]


def test_same_device_and_time_the_later_wins_and_the_earlier_is_a_rejection() -> None:
    values, rejected = kept_values([ns(0, 80.2, model="Body+"), ns(1, 80.4, model="Body+")])
    assert values == [80.4]
    assert rejected == [(0, "replaced by a later scale Body+ sample at "
                            "2026-11-28T07:00:00+00:00 in the same delivery")]


def test_same_id_at_two_times_the_later_wins() -> None:
    values, rejected = kept_values([ns(0, 80.2, sid="a"), ns(1, 80.3, at=T + timedelta(hours=1),
                                                            sid="a")])
    assert values == [80.3]
    assert rejected == [(0, "replaced by a later sample with the same id 'a' in the same "
                            "delivery")]


def test_the_fuller_summary_of_a_day_wins_in_either_order() -> None:
    full = ns(0, 3305, metric="steps", at=T + timedelta(hours=17), coverage=86400)
    partial = ns(1, 1500, metric="steps", at=T, coverage=43200)
    values, rejected = kept_values([full, partial])
    assert values == [3305]
    assert rejected == [(1, "a fuller summary of 2026-11-28 is in the same delivery "
                            "(86400 s covered); this one covers 43200 s")]
    values, rejected = kept_values([ns(0, 1500, metric="steps", at=T, coverage=43200),
                                    ns(1, 3305, metric="steps", at=T + timedelta(hours=17),
                                       coverage=86400)])
    assert values == [3305]
    assert rejected == [(0, "replaced by a summary of 2026-11-28 covering at least as much "
                            "(86400 s) in the same delivery")]


def test_summaries_of_different_days_or_devices_are_all_kept() -> None:
    values, rejected = kept_values([
        ns(0, 3305, metric="steps", coverage=86400),
        ns(1, 4210, metric="steps", at=T - timedelta(days=1), day=T.date() - timedelta(days=1),
           coverage=86400),
        ns(2, 2000, metric="steps", device="phone", coverage=40000)])
    assert values == [3305, 4210, 2000] and rejected == []


def test_heart_rate_samples_of_a_summary_keep_their_own_times() -> None:
    # heart rate is not a once-a-day metric: a summary's samples are kept by time
    samples = [ns(i, 70 + i, metric="heart_rate", at=T + timedelta(seconds=15 * i),
                  device="watch", coverage=86400, sid=f"s:heart_rate:{15 * i}")
               for i in range(6)]
    values, rejected = kept_values(samples)
    assert values == [70, 71, 72, 73, 74, 75] and rejected == []
