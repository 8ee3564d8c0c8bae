"""The simulator's device error models reproduce the published figures they cite
(calibration/errors.py), within a tolerance that a few thousand draws can hold."""

from __future__ import annotations

import random
import statistics

import pytest

from vitaltrust.calibration import errors as E

DEVICES = 3000


def draws(model: E.ErrorModel, truth: float, per_device: int = 1, seed: int = 7
          ) -> list[list[float]]:
    """Signed errors (reading - truth), grouped per simulated device."""
    rng = random.Random(seed)
    out = []
    for _ in range(DEVICES):
        bias = model.device_bias(rng)
        out.append([model.read(truth, bias, rng) - truth for _ in range(per_device)])
    return out


def flat(groups: list[list[float]]) -> list[float]:
    return [x for g in groups for x in g]


def mape(model: E.ErrorModel, truth: float) -> float:
    return 100 * statistics.fmean(abs(e) for e in flat(draws(model, truth))) / truth


def test_digital_scale_error_is_a_few_tenths_of_a_kilo() -> None:
    errors = [abs(e) for e in flat(draws(E.SCALE, 80.0))]
    assert 0.1 <= statistics.fmean(errors) <= 0.5
    assert statistics.quantiles(errors, n=10)[8] <= 0.6  # 90 % within 0.6 kg


def test_self_reported_weight_is_under_reported_with_a_wide_spread() -> None:
    errors = flat(draws(E.MANUAL_WEIGHT, 80.0))
    # published: -0.70 (SD 1.92) kg and -0.93 kg
    assert -1.0 <= statistics.fmean(errors) <= -0.6
    assert 1.6 <= statistics.stdev(errors) <= 2.2


def test_resting_heart_rate_ring_and_wrist_mape() -> None:
    assert 1.4 <= mape(E.RING_RHR, 58.0) <= 2.3     # Oura 1.67-1.94 %
    assert 2.4 <= mape(E.WATCH_RHR, 58.0) <= 3.6    # WHOOP 3.00 %, Polar 2.71 %
    assert mape(E.STRAP_RHR, 58.0) < 1.0


def test_wrist_heart_rate_is_worse_in_motion_but_within_three_bpm_overall() -> None:
    rng = random.Random(3)
    still = E.ErrorModel(bias_rel=E.WATCH_RHR.bias_rel, noise_rel=E.WATCH_RHR.noise_rel)
    moving = E.ErrorModel(bias_rel=E.WATCH_RHR.bias_rel,
                          noise_rel=E.WATCH_RHR.noise_rel * E.WATCH_RHR.motion_factor)
    bias = (0.0, 0.0)
    mae_still = statistics.fmean(abs(still.read(60, bias, rng) - 60) for _ in range(5000))
    mae_moving = statistics.fmean(abs(moving.read(60, bias, rng) - 60) for _ in range(5000))
    assert mae_moving > 2 * mae_still
    assert statistics.fmean(abs(e) for e in flat(draws(E.WATCH_RHR, 60.0))) <= 3.0  # Sartor 2018


def test_hrv_ring_beats_wrist() -> None:
    ring, wrist = mape(E.RING_HRV, 45.0), mape(E.WATCH_HRV, 45.0)
    assert 5.5 <= ring <= 7.5        # Oura 5.96-7.15 %, Stone 2021 6.84 %
    assert 8.0 <= wrist <= 16.5      # WHOOP 8.17 %, Garmin 10.52 %, Polar 16.32 %


def test_step_counters_are_accurate_at_normal_pace_and_undercount_slow_walkers() -> None:
    normal = mape(E.WEARABLE_STEPS, 8000.0)
    slow = mape(E.SLOW_WALKER_STEPS, 4000.0)
    assert normal <= 5.2             # <= 5.2 % at 0.88-1.76 m/s
    assert 16.3 <= slow <= 80.4      # 16.3-80.4 % at <= 0.66 m/s
    assert statistics.fmean(flat(draws(E.SLOW_WALKER_STEPS, 4000.0))) < 0  # missed steps


def test_home_blood_pressure_devices_on_their_owners() -> None:
    systolic = draws(E.CUFF_SYSTOLIC, 130.0, per_device=3, seed=11)
    diastolic = draws(E.CUFF_DIASTOLIC, 80.0, per_device=3, seed=12)
    sys_all, dia_all = flat(systolic), flat(diastolic)
    assert statistics.fmean(sys_all) == pytest.approx(-3.3, abs=0.5)
    assert statistics.stdev(sys_all) == pytest.approx(7.3, abs=0.7)
    assert statistics.fmean(dia_all) == pytest.approx(0.9, abs=0.5)
    assert statistics.stdev(dia_all) == pytest.approx(6.1, abs=0.7)
    # devices whose mean systolic or diastolic difference is >= 5 / 10 / 15 mmHg: 69 / 29 / 7 %
    device_off = [max(abs(statistics.fmean(s)), abs(statistics.fmean(d)))
                  for s, d in zip(systolic, diastolic, strict=True)]
    for limit, published in ((5, 0.69), (10, 0.29), (15, 0.07)):
        share = sum(x >= limit for x in device_off) / len(device_off)
        assert share == pytest.approx(published, abs=0.08), limit


def test_watch_spo2_has_no_bias_and_stays_within_six_points() -> None:
    errors = flat(draws(E.WATCH_SPO2, 96.0))
    assert abs(statistics.fmean(errors)) < 0.3
    assert sum(abs(e) <= 6 for e in errors) / len(errors) >= 0.93


def test_bia_underestimates_body_fat_and_sleep_trackers_overestimate_sleep() -> None:
    assert statistics.fmean(flat(draws(E.BIA_BODY_FAT, 28.0))) < -0.8
    assert statistics.fmean(flat(draws(E.WEARABLE_SLEEP, 7 * 3600.0))) > 600  # > 10 min


def test_every_model_names_its_source() -> None:
    models = [v for v in vars(E).values() if isinstance(v, E.ErrorModel)]
    assert len(models) >= 15
    assert all(m.source for m in models)
