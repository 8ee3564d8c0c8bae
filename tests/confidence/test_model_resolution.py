"""Conflict resolution before scoring: groups, winners, losers, unit slips, cumulative days."""

from __future__ import annotations

from datetime import timedelta

from tests.confidence.series import NOW, at, component, daily, run, sample
from vitaltrust.confidence.resolution import identity


def _scale_and_manual(manual_value: float, minutes_apart: float = 10) -> list:
    history = daily([80.0] * 10)
    scale = sample(80.2, at(1, hours=2), source=1, device="scale")
    manual = sample(manual_value, at(1, hours=2, minutes=-minutes_apart), source=2, device="manual",
                    name="manual entry")
    return [*history[:-2], scale, history[-1], manual]


def test_scale_beats_manual_ten_minutes_apart_and_the_loser_is_recorded() -> None:
    conf = run(_scale_and_manual(83.0))
    day = at(1, hours=2)
    assert [s.value for s in conf.resolved if s.measured_at.date() == day.date()] == [80.2]
    (conflict,) = conf.conflicts
    assert (conflict.winner.device_type, conflict.loser.device_type) == ("scale", "manual")
    assert round(conflict.difference, 3) == 2.8
    assert conflict.agrees is False
    assert component(conf, "A").score == 0.0


def test_agreeing_sources_give_full_agreement() -> None:
    conf = run(_scale_and_manual(80.9))  # within 1 kg
    (conflict,) = conf.conflicts
    assert conflict.agrees is True
    assert component(conf, "A").score == 100.0
    assert "SOURCE_CONFLICT" not in [r["code"] for r in conf.reasons]


def test_agreement_is_null_without_conflicts_and_samples_beyond_the_window_do_not_conflict() -> None:
    conf = run(_scale_and_manual(83.0, minutes_apart=31))
    assert conf.conflicts == ()
    assert component(conf, "A").score is None
    assert len(conf.resolved) == 11


def test_user_priority_override_lets_manual_win() -> None:
    conf = run(_scale_and_manual(83.0), priority=["manual"])
    (conflict,) = conf.conflicts
    assert conflict.winner.device_type == "manual"
    assert 83.0 in [s.value for s in conf.resolved]


def test_same_device_type_most_recently_received_wins() -> None:
    t = at(0, hours=1)
    early = sample(70.0, t, source=1, device="scale", received=t + timedelta(minutes=1))
    late = sample(71.0, t + timedelta(minutes=5), source=2, device="scale",
                  received=t + timedelta(minutes=2))
    conf = run([*daily([70.0] * 5, hours=30), early, late])
    winner = conf.conflicts[0].winner
    assert (winner.source_id, winner.value) == (2, 71.0)
    assert conf.latest_value == 71.0


def test_daily_metric_conflicts_by_local_date() -> None:
    ring = daily([55, 56, 54, 55], source=1, device="ring", hours=3)
    watch_same_day = sample(62, at(0, hours=1), source=2, device="watch")
    watch_next_day_only = sample(57, at(5, hours=1), source=2, device="watch")
    conf = run([*ring, watch_same_day, watch_next_day_only], metric="resting_heart_rate")
    assert [(c.winner.value, c.loser.value, c.agrees) for c in conf.conflicts] == [(55.0, 62.0, False)]
    assert [s.value for s in conf.resolved] == [57.0, 55, 56, 54, 55]


def test_cumulative_steps_are_never_summed_across_sources() -> None:
    watch = daily([8000, 9000, 10000], source=1, device="watch", hours=1)
    phone = daily([7000, 8800, 12000], source=2, device="phone", hours=1.5)
    conf = run([*watch, *phone], metric="steps")
    assert [s.value for s in conf.resolved] == [8000, 9000, 10000]
    assert [(c.loser.value, c.agrees) for c in conf.conflicts] == [
        (7000, False), (8800, True), (12000, False)]
    assert conf.latest_value == 10000


def test_cumulative_day_takes_each_sources_latest_total() -> None:
    morning = sample(3000, at(0, hours=6), source=1, device="watch")
    evening = sample(9500, at(0, hours=1), source=1, device="watch")
    phone = sample(9000, at(0, hours=2), source=2, device="phone")
    conf = run([*daily([8000, 8500], source=1, device="watch", hours=25), morning, evening, phone],
               metric="steps")
    assert [s.value for s in conf.resolved][-1] == 9500
    assert sum(1 for s in conf.resolved if s.local_date == NOW.date()) == 1
    assert [c.loser.value for c in conf.conflicts] == [9000]


def test_later_delivery_replaces_the_earlier_one() -> None:
    t = at(0, hours=1)
    first = sample(81.0, t, received=t)
    again = sample(80.0, t, received=t + timedelta(minutes=5))
    conf = run([*daily([80.0] * 4, hours=30), again, first])
    assert conf.latest_value == 80.0
    assert conf.sample_count == 5


def test_unit_slip_is_flagged_and_left_out() -> None:
    slip_at = at(2, hours=1)
    in_lb = 80.0 * 2.2046 + 0.09
    conf = run([*daily([80.0] * 6), sample(in_lb, slip_at, source=2, device="manual")])
    assert conf.flagged[(2, slip_at, "manual", "")] == frozenset({"UNIT_SLIP"})
    assert in_lb not in [s.value for s in conf.resolved]
    assert conf.conflicts == ()


def test_just_beyond_the_slip_tolerance_is_no_slip() -> None:
    odd_at = at(2, hours=1)
    conf = run([*daily([80.0] * 6), sample(80.0 * 2.2046 + 0.11, odd_at, source=2, device="manual")])
    assert "UNIT_SLIP" not in conf.flagged.get((2, odd_at, "manual", ""), frozenset())
    assert odd_at in [s.measured_at for s in conf.resolved]


def test_hard_implausible_and_storage_flagged_samples_are_excluded() -> None:
    too_heavy = sample(400.0, at(1, hours=1), source=2, device="manual")
    cross_checked = sample(80.0, at(0, hours=1), source=2, device="manual",
                           flags={"IMPLAUSIBLE_VALUE"})
    conf = run([*daily([80.0] * 5, hours=3), too_heavy, cross_checked])
    assert all(s.source_id == 1 for s in conf.resolved)
    assert conf.flagged[identity(too_heavy)] == frozenset({"IMPLAUSIBLE_VALUE"})
    assert conf.flagged[identity(cross_checked)] == frozenset({"IMPLAUSIBLE_VALUE"})
    assert conf.last_sample_at == at(0, hours=3)


def test_model_flags_are_recomputed_and_storage_flags_kept() -> None:
    old_outlier = sample(80.0, at(3, hours=2), flags={"OUTLIER", "SOME_STORAGE_NOTE"})
    series = [s if s.measured_at != old_outlier.measured_at else old_outlier
              for s in daily([80.0] * 8)]
    conf = run(series)
    assert conf.flagged == {identity(old_outlier): frozenset({"SOME_STORAGE_NOTE"})}
    assert old_outlier.measured_at in [s.measured_at for s in conf.resolved]


def test_samples_after_now_are_not_counted_and_old_ones_only_feed_freshness() -> None:
    future = sample(90.0, NOW + timedelta(hours=1))
    old = sample(79.0, at(40))
    conf = run([old, future])
    assert conf.sample_count == 0
    assert conf.last_sample_at == old.measured_at
    assert conf.latest_value == 79.0
    assert conf.level == "insufficient"
