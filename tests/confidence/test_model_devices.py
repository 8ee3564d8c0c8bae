"""One integration, several devices: each device is a source for conflict resolution (pure)."""

from __future__ import annotations

import random
from datetime import timedelta

from tests.confidence.series import at, component, daily, run, sample
from vitaltrust.confidence.resolution import deduplicate, identity, source_of


def test_scale_beats_manual_ten_minutes_apart_through_one_source() -> None:
    weigh_in = at(0, hours=1)
    scale = sample(80.2, weigh_in, source=1, device="scale", model="Body+", name="junction")
    manual = sample(83.0, at(0, hours=1, minutes=-10), source=1, device="manual",
                    received=weigh_in + timedelta(minutes=30),
                    name="junction")
    conf = run([*daily([80.0, 80.1, 80.0, 80.1], source=1, model="Body+", hours=30), scale, manual])
    [conflict] = conf.conflicts
    assert (conflict.winner, conflict.loser) == (scale, manual)
    assert conflict.agrees is False and round(conflict.difference, 1) == 2.8
    assert 83.0 not in [s.value for s in conf.resolved] and conf.latest_value == 80.2
    agreement = component(conf, "A")
    assert agreement.score == 0
    [why] = agreement.reasons
    assert why["code"] == "SOURCE_CONFLICT" and "scale" in why["message"] \
        and "manual" in why["message"]


def test_same_instant_from_two_devices_are_two_samples() -> None:
    t = at(0, hours=2)
    scale = sample(80.2, t, device="scale", model="Body+")
    manual = sample(83.0, t, device="manual")
    assert len(deduplicate([scale, manual])) == 2
    assert identity(scale) != identity(manual) and source_of(scale) != source_of(manual)
    conf = run([*daily([80.0] * 4, hours=30, model="Body+"), manual, scale])
    [conflict] = conf.conflicts
    assert conflict.winner == scale and conflict.loser == manual


def test_two_scale_models_in_one_source_conflict_and_the_later_received_wins() -> None:
    t = at(0, hours=2)
    old = sample(80.2, t, model="Body+", received=t)
    new = sample(80.6, t.replace(minute=5), model="Index S2",
                 received=t + timedelta(hours=1))
    conf = run([*daily([80.0] * 4, hours=30, model="Body+"), old, new])
    [conflict] = conf.conflicts
    assert conflict.winner == new and conflict.loser == old and conflict.agrees is True
    assert component(conf, "A").score == 100
    far = sample(84.0, t.replace(minute=10), model="Index S2",
                 received=t + timedelta(hours=2))
    conf = run([*daily([80.0] * 4, hours=30, model="Body+"), old, far])
    [why] = component(conf, "A").reasons
    assert why["message"].startswith("scale Index S2 84.0 kg vs scale Body+ 80.2 kg")


def test_same_device_same_time_is_one_sample_the_later_delivery() -> None:
    t = at(0, hours=2)
    first = sample(80.2, t, model="Body+", received=t)
    second = sample(80.4, t, model="Body+", received=t.replace(minute=30))
    assert deduplicate([second, first]) == [second]


def test_steps_of_two_devices_in_one_source_are_not_summed() -> None:
    day = at(0, hours=3)
    watch = sample(9000, day, device="watch", model="Forerunner")
    phone = sample(7000, day.replace(minute=10), device="phone")
    conf = run([watch, phone], metric="steps")
    assert [s.value for s in conf.resolved] == [9000]
    [conflict] = conf.conflicts
    assert conflict.loser == phone and conflict.agrees is False


def test_device_conflicts_do_not_depend_on_input_order() -> None:
    t = at(0, hours=2)
    samples = [*daily([80.0, 80.3, 80.1, 80.2], hours=30, model="Body+"),
               sample(80.2, t, model="Body+"), sample(83.0, t, device="manual"),
               sample(81.0, t, device="watch", model="Fenix"), sample(80.9, t, model="Index S2")]
    expected = run(samples)
    rnd = random.Random(7)
    for _ in range(5):
        shuffled = samples[:]
        rnd.shuffle(shuffled)
        again = run(shuffled)
        assert again.conflicts == expected.conflicts and again.score == expected.score
        assert again.resolved == expected.resolved
