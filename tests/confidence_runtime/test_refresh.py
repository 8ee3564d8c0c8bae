"""next_refresh_at: the cache is recalculated before age alone can lower its level (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.confidence.model import score
from vitaltrust.confidence.refresh import MIN_GAP, daily_series, next_refresh_at
from vitaltrust.confidence.types import Sample

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RANK = {"insufficient": 0, "poor": 1, "fair": 2, "good": 3, "excellent": 4}
BASE = {"weight": 80.0, "resting_heart_rate": 55.0, "body_fat": 20.0, "vo2max": 45.0,
        "steps": 8000.0, "blood_pressure_systolic": 120.0}


def series(metric: str, *, n: int, gap: float, age: float, rnd: random.Random,
           noise: float = 0.01) -> list[Sample]:
    """n samples, `gap` cadences apart (jittered), the newest `age` cadences old."""
    spec = BUILTIN_SPECS[metric]
    last = NOW - spec.cadence * age
    out = []
    for i in range(n):
        at = last - spec.cadence * gap * i * (rnd.uniform(0.7, 1.3) if i else 1)
        out.append(Sample(BASE[metric] * (1 + rnd.gauss(0, noise)), at, at.date(), 1,
                          spec.default_priority[0], NOW))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_level_holds_until_the_next_refresh(seed: int) -> None:
    rnd = random.Random(seed)
    metric = rnd.choice(sorted(BASE))
    spec = BUILTIN_SPECS[metric]
    samples = series(metric, n=rnd.randint(1, 35), gap=rnd.uniform(0.3, 2.5),
                     age=rnd.uniform(0, 5), rnd=rnd)
    conf = score(samples, spec, NOW)
    due = next_refresh_at(conf, spec, NOW)
    if due is None:  # only new data can change it: the score holds for the next 60 days
        assert conf.sample_count == 0
        for k in range(1, 25):
            later = score(samples, spec, NOW + timedelta(days=60) * k / 25)
            assert (later.level, later.score) == (conf.level, conf.score), k
        return
    assert due is not None and due >= NOW + MIN_GAP
    if due == NOW + MIN_GAP:
        return  # right at a level boundary: recalculated almost at once
    for k in range(1, 25):
        later = NOW + (due - NOW) * k / 25
        assert RANK[score(samples, spec, later).level] >= RANK[conf.level], (k, later)


def test_fresh_daily_data_is_rechecked_within_a_cadence() -> None:
    spec = BUILTIN_SPECS["weight"]
    samples = series("weight", n=30, gap=1, age=0.05, rnd=random.Random(1), noise=0.001)
    conf = score(samples, spec, NOW)
    assert conf.level == "excellent"
    due = next_refresh_at(conf, spec, NOW)
    assert due is not None and NOW < due <= NOW + spec.cadence


def test_decaying_freshness_brings_the_refresh_forward() -> None:
    spec = BUILTIN_SPECS["resting_heart_rate"]
    samples = series("resting_heart_rate", n=30, gap=1, age=1.6, rnd=random.Random(2),
                     noise=0.001)
    conf = score(samples, spec, NOW)
    due = next_refresh_at(conf, spec, NOW)
    assert due is not None
    # just after the refresh time the level is lower: the refresh was needed
    assert RANK[score(samples, spec, due + timedelta(hours=1)).level] < RANK[conf.level]


def test_nothing_in_the_window_needs_no_refresh_but_future_samples_do() -> None:
    spec = BUILTIN_SPECS["weight"]
    old = series("weight", n=3, gap=1, age=40, rnd=random.Random(3))
    conf = score(old, spec, NOW)
    assert next_refresh_at(conf, spec, NOW) is None
    ahead = NOW + timedelta(hours=2)
    assert next_refresh_at(conf, spec, NOW, upcoming=ahead) == ahead


def test_daily_series_keeps_the_last_resolved_value_per_day() -> None:
    spec = BUILTIN_SPECS["weight"]
    day = NOW - timedelta(days=2)
    samples = [Sample(80.0, day, day.date(), 1, "scale", NOW),
               Sample(80.6, day + timedelta(hours=3), day.date(), 1, "scale", NOW),
               Sample(81.0, NOW - timedelta(hours=1), NOW.date(), 1, "scale", NOW)]
    conf = score(samples, spec, NOW)
    assert daily_series(conf, NOW) == [[day.date().isoformat(), 80.6],
                                       [NOW.date().isoformat(), 81.0]]


def test_a_sample_older_than_the_window_still_decaying_is_refreshed() -> None:
    spec = BUILTIN_SPECS["vo2max"]  # 14-day cadence: freshness lasts until 56 days
    at = NOW - timedelta(days=35)
    conf = score([Sample(45.0, at, at.date(), 1, "watch", NOW)], spec, NOW)
    assert conf.sample_count == 0 and conf.last_sample_at == at
    due = next_refresh_at(conf, spec, NOW)
    assert due is not None and due <= at + spec.cadence * 4
    assert score([Sample(45.0, at, at.date(), 1, "watch", NOW)], spec, due).score < conf.score
