"""The six components, their boundaries, renormalisation, caps and levels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.confidence.series import NOW, at, component, daily, reason, run, sample
from vitaltrust.confidence.components import hampel_outliers
from vitaltrust.confidence.model import level_for
from vitaltrust.confidence.resolution import identity

FULL_MONTH = [80.0] * 30  # one weight a day for 30 days, newest 2 h ago


def _month_ending(age: timedelta) -> list:
    """26 daily weights, the newest `age` before NOW."""
    return [sample(80.0, NOW - age - timedelta(days=i)) for i in range(26)]


def test_perfect_month_scores_as_the_weights_say() -> None:
    conf = run(daily(FULL_MONTH))
    # F C P O R = 100 100 100 100 95, A null: (20 + 25 + 20 + 10 + 0.15 * 95) / 0.9
    assert conf.score == round((75 + 14.25) / 0.9, 1) == 99.2
    assert conf.level == "excellent"
    assert component(conf, "R").deduction == round(0.15 / 0.9 * 5, 1)


@pytest.mark.parametrize(("metric", "value", "cadence_days"), [("weight", 80.0, 1),
                                                                ("body_fat", 20.0, 7)])
def test_freshness_is_full_at_one_and_a_half_cadences(metric: str, value: float,
                                                      cadence_days: int) -> None:
    c = timedelta(days=cadence_days)
    hour = timedelta(hours=1)
    exactly = run([sample(value, NOW - c * 1.5 - c * i) for i in range(3)], metric=metric)
    an_hour_later = run([sample(value, NOW - c * 1.5 - hour - c * i) for i in range(3)], metric=metric)
    assert component(exactly, "F").score == 100.0
    assert "STALE" not in [r["code"] for r in exactly.reasons]
    expected = 100 * (c * 4 - c * 1.5 - hour) / (c * 2.5)
    assert component(an_hour_later, "F").score == round(expected, 1) < 100.0
    assert "STALE" in [r["code"] for r in an_hour_later.reasons]


def test_freshness_falls_linearly_between_the_boundaries() -> None:
    conf = run(_month_ending(timedelta(days=2.75)))
    assert component(conf, "F").score == 50.0
    assert reason(conf, "STALE")["days"] == 2.8


def test_age_of_exactly_four_cadences_is_zero_freshness_without_the_cap() -> None:
    conf = run(_month_ending(timedelta(days=4)))
    assert component(conf, "F").score == 0.0
    assert component(conf, "C").score == round(100 * 26 / 30, 1)
    assert conf.score == round((0.25 * 100 * 26 / 30 + 0.20 * 100 + 0.10 * 100 + 0.15 * 95) / 0.9, 1)
    assert conf.score > 49
    assert "capped_at" not in reason(conf, "STALE")


def test_older_than_four_cadences_caps_the_score_at_49() -> None:
    conf = run(_month_ending(timedelta(days=4, minutes=1)))
    assert conf.score == 49.0
    assert conf.level == "poor"
    stale = reason(conf, "STALE")
    assert stale["capped_at"] == 49.0
    assert conf.reasons[0]["code"] == "STALE"


def test_no_valid_sample_at_all_is_stale_and_capped() -> None:
    conf = run([sample(500.0, at(1))])
    assert component(conf, "F").score == 0.0
    assert reason(conf, "STALE")["days"] is None
    assert conf.score <= 49
    assert conf.level == "insufficient"


def test_hard_implausible_value_in_the_last_seven_days_caps_at_69() -> None:
    recent = run([*daily(FULL_MONTH, hours=3), sample(400.0, at(6, hours=23), source=2,
                                                      device="manual")])
    older = run([*daily(FULL_MONTH, hours=3), sample(400.0, at(7, hours=1), source=2,
                                                     device="manual")])
    assert recent.score == 69.0
    assert reason(recent, "IMPLAUSIBLE_VALUE")["capped_at"] == 69.0
    assert older.score > 69.0
    assert "capped_at" not in reason(older, "IMPLAUSIBLE_VALUE")
    # excluded from the resolved series: only P moves (1 hard fail in 31 samples)
    assert component(older, "P").score == round(100 * (1 - 1 / 31), 1)
    assert component(older, "C").score == component(recent, "C").score == 100.0


def test_completeness_counts_cadence_buckets() -> None:
    values = [80.0] * 18
    conf = run([sample(v, at(i * 30 / 18, hours=1)) for i, v in enumerate(values)])
    assert component(conf, "C").score == 60.0
    assert reason(conf, "LOW_COVERAGE")["message"] == "18/30 days with data"
    weekly = run([sample(20.0, at(d, hours=1)) for d in (1, 8, 15)], metric="body_fat")
    assert component(weekly, "C").score == 75.0
    assert reason(weekly, "LOW_COVERAGE")["message"] == "3/4 weeks with data"


def test_null_components_are_renormalised() -> None:
    conf = run(daily([80.0] * 4))  # O needs 5 points, A needs a conflict
    weights = {c.code: c.weight for c in conf.components}
    assert component(conf, "O").score is None and component(conf, "A").score is None
    assert weights == {"F": 0.25, "C": 0.3125, "P": 0.25, "O": 0.0, "R": 0.1875, "A": 0.0}
    expected = (0.20 * 100 + 0.25 * 100 * 4 / 30 + 0.20 * 100 + 0.15 * 95) / 0.80
    assert conf.score == round(expected, 1) == 72.0
    assert round(sum(c.deduction for c in conf.components), 1) == round(100 - conf.score, 1)


def test_consistency_is_null_below_five_points_and_judged_from_five() -> None:
    assert component(run(daily([80.0] * 4)), "O").score is None
    assert component(run(daily([80.0] * 5)), "O").score == 100.0


def test_mad_zero_falls_back_to_the_measurement_error() -> None:
    within = run(daily([80.0] * 10 + [80.5] + [80.0] * 9))   # 0.5 <= 3 x 0.2 kg
    beyond = run(daily([80.0] * 10 + [80.7] + [80.0] * 9))   # 0.7 >  3 x 0.2 kg
    assert component(within, "O").score == 100.0
    assert component(beyond, "O").score == round(100 * (1 - (1 / 20) / 0.10), 1) == 50.0
    assert reason(beyond, "OUTLIER")["median"] == 80.0
    assert hampel_outliers([0, 1, 2, 3, 4], [5, 5, 5, 5, 5.1], floor=0.0) == [(4, 5.0)]


def test_hampel_judges_against_the_local_neighbourhood() -> None:
    step = run(daily([80.0] * 15 + [85.0] * 15))   # a real change, not an outlier
    assert component(step, "O").score == 100.0
    spike = run(daily([80.0, 80.2, 79.9, 80.1] * 5 + [86.0] + [80.0] * 9))
    assert reason(spike, "OUTLIER")["value"] == 86.0


def test_plausibility_counts_hard_fails_fully_and_soft_flags_half() -> None:
    hard = run([*daily([80.0] * 9, hours=3), sample(10.0, at(12), source=2, device="manual")])
    assert component(hard, "P").score == 90.0
    soft = run(daily([80.0] * 9 + [81.7]))          # +2.1 % in 24 h
    assert component(soft, "P").score == 95.0
    assert reason(soft, "RAPID_CHANGE")["count"] == 1


@pytest.mark.parametrize(("metric", "values", "every_days", "flagged"), [
    ("weight", [80.0, 81.6], 1, False),             # exactly 2 %
    ("weight", [80.0, 81.7], 1, True),
    ("weight", [80.0, 83.0], 2, False),             # 3.75 % over two days
    ("body_fat", [20.0, 23.0], 7, False),           # exactly 3 points in 7 days
    ("body_fat", [20.0, 23.5], 7, True),
    ("resting_heart_rate", [55, 70], 1, False),
    ("resting_heart_rate", [55, 71], 1, True),
    ("hrv_rmssd", [30, 90], 1, False),              # no soft rule for HRV
])
def test_soft_limits(metric: str, values: list[float], every_days: int, flagged: bool) -> None:
    conf = run(daily(values, every_days=every_days, device="ring"), metric=metric)
    assert ("RAPID_CHANGE" in conf.flagged.get(identity(conf.resolved[-1]), frozenset())) is flagged


def test_reliability_is_the_mean_prior_of_resolved_device_types() -> None:
    mixed = [*daily([80.0] * 3, hours=2),
             *[sample(80.0, at(d, hours=5), source=2, device="manual") for d in (5, 6, 7)]]
    conf = run(mixed)
    assert component(conf, "R").score == 85.0
    assert reason(conf, "LOW_TRUST_SOURCE")["message"] == "3 of 6 values from manual (trust 75/100)"
    unknown = run(daily([80.0] * 3, device="band"))
    assert component(unknown, "R").score == 50.0


def test_fewer_than_three_valid_samples_is_insufficient_but_scored() -> None:
    two = run([*daily([80.0] * 2), sample(400.0, at(3))])
    assert two.level == "insufficient"
    assert two.score > 0
    assert reason(two, "INSUFFICIENT_DATA")["count"] == 2
    assert two.reasons[0]["code"] == "INSUFFICIENT_DATA"
    three = run(daily([80.0] * 3))
    assert three.level != "insufficient"
    assert "INSUFFICIENT_DATA" not in [r["code"] for r in three.reasons]


@pytest.mark.parametrize(("value", "level"), [
    (100.0, "excellent"), (85.0, "excellent"), (84.9, "good"), (70.0, "good"), (69.9, "fair"),
    (50.0, "fair"), (49.9, "poor"), (0.0, "poor")])
def test_levels(value: float, level: str) -> None:
    assert level_for(value) == level


def test_score_is_rounded_to_one_decimal_and_deductions_explain_it() -> None:
    conf = run(daily([80.0, 80.3, 79.8, 81.9, 80.1, 80.2, 80.0]))
    assert conf.score == round(conf.score, 1)
    assert abs(sum(c.deduction for c in conf.components) - (100 - conf.score)) <= 0.35
