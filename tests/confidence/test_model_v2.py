"""Model v2 (confidence/model_v2.py): calibrated score, same resolution as v1, v1 untouched."""

from __future__ import annotations

import random

import pytest

from tests.confidence.series import NOW, WEIGHT, at, daily, sample
from vitaltrust.confidence import model_v2 as v2
from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.confidence.model import score, score_for_version


def wobble(n: int, base: float = 80.0, step: float = 0.1) -> list[float]:
    return [base + step * (i % 3) for i in range(n)]


def test_versions_are_selectable_and_v1_stays_the_specified_model() -> None:
    assert score_for_version("1") is score
    assert score_for_version("2") is v2.score_v2
    with pytest.raises(ValueError, match="unknown confidence model version"):
        score_for_version("3")
    samples = daily(wobble(28))
    assert score(samples, WEIGHT, NOW).model_version == "1"
    conf = v2.score_v2(samples, WEIGHT, NOW)
    assert conf.model_version == "2" and conf.explanation()["model_version"] == "2"


def test_a_scale_month_is_excellent_and_the_same_month_typed_in_is_not() -> None:
    scale = v2.score_v2(daily(wobble(30)), WEIGHT, NOW)
    typed = v2.score_v2(daily(wobble(30), device="manual"), WEIGHT, NOW)
    assert scale.level == "excellent"
    assert typed.score < scale.score - 10 and typed.level != "excellent"
    [expected] = [c for c in typed.components if c.code == "E"]
    assert expected.deduction > 0
    assert expected.reasons[0]["code"] == v2.EXPECTED_ERROR
    assert "manual weight is typically off by" in expected.reasons[0]["message"]


def test_predicted_error_grows_with_gaps_and_with_the_device() -> None:
    full = v2.score_v2(daily(wobble(30)), WEIGHT, NOW)
    gappy = v2.score_v2(daily(wobble(30), every_days=3), WEIGHT, NOW)
    assert gappy.score < full.score
    bp = BUILTIN_SPECS["blood_pressure_systolic"]
    cuff = v2.score_v2(daily([125.0, 127, 124, 126, 125], device="bp_cuff", every_days=6), bp, NOW)
    assert cuff.score < full.score  # a home cuff is off by more tolerances than a scale


def test_stale_data_is_capped_at_fair_not_poor() -> None:
    stale = daily(wobble(24), hours=6 * 24 + 1)
    v1_conf, v2_conf = score(stale, WEIGHT, NOW), v2.score_v2(stale, WEIGHT, NOW)
    assert v1_conf.score == 49.0
    assert v2_conf.score <= v2.STALE_CAP and v2_conf.level in ("fair", "poor")
    [reason] = [r for r in v2_conf.reasons if r["code"] == "STALE"]
    assert reason["capped_at"] == v2.STALE_CAP and reason["message"].endswith("capped at 69")
    assert v2_conf.reasons[0] is reason


def test_an_impossible_value_caps_nothing() -> None:
    """It never reaches the series the coach sees; the fit gives it almost no weight."""
    clean = daily(wobble(30))
    dirty = [*clean, sample(412.0, at(1, hours=1), device="manual", source=2)]
    v1_conf, v2_conf = score(dirty, WEIGHT, NOW), v2.score_v2(dirty, WEIGHT, NOW)
    assert v1_conf.score == 69.0
    clean_score = v2.score_v2(clean, WEIGHT, NOW).score
    assert clean_score - 5 <= v2_conf.score <= clean_score and v2_conf.level == "excellent"
    [reason] = [r for r in v2_conf.reasons if r["code"] == "IMPLAUSIBLE_VALUE"]
    assert "capped_at" not in reason and "capped" not in reason["message"]


def test_insufficient_stays_insufficient() -> None:
    conf = v2.score_v2(daily([80.0, 80.2]), WEIGHT, NOW)
    assert conf.level == "insufficient" and conf.reasons[0]["code"] == "INSUFFICIENT_DATA"


def test_score_is_bounded_and_order_independent() -> None:
    rng = random.Random(4)
    for trial in range(30):
        samples = daily([rng.uniform(20, 400) for _ in range(rng.randint(0, 25))],
                        device=rng.choice(["scale", "manual", "watch"]))
        samples += daily([rng.uniform(60, 90) for _ in range(rng.randint(0, 10))], source=2,
                         device="manual", hours=0.2)
        shuffled = samples[:]
        rng.shuffle(shuffled)
        a, b = v2.score_v2(samples, WEIGHT, NOW), v2.score_v2(shuffled, WEIGHT, NOW)
        assert a == b, trial
        assert 0.0 <= a.score <= 100.0


def test_deductions_are_points_each_part_took_off() -> None:
    conf = v2.score_v2(daily(wobble(20), device="manual"), WEIGHT, NOW)
    parts = {c.code: c for c in conf.components}
    assert set(parts) == {"F", "C", "P", "O", "R", "A", "E"}
    assert parts["R"].deduction == 0.0 and parts["R"].weight == 0.0  # v2 does not use R
    assert all(c.deduction <= 100.0 - conf.score + 0.1 for c in conf.components)
    assert parts["C"].deduction > 0  # 20 of 30 days
