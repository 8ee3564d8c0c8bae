"""Hypothesis properties of the model: order, range, implausible values, freshness."""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.confidence.series import NOW, component, run, sample
from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.confidence.types import Sample

METRICS = ("weight", "body_fat", "resting_heart_rate", "steps", "hrv_rmssd", "blood_pressure_systolic")
DEVICES = {1: "scale", 2: "manual", 3: "watch", 4: "ring"}
# VT_HYPOTHESIS_EXAMPLES=5000 for a deeper search than CI's
PROPERTY_SETTINGS = settings(max_examples=int(os.environ.get("VT_HYPOTHESIS_EXAMPLES", "80")),
                             deadline=None)


@st.composite
def series(draw: st.DrawFn) -> tuple[str, list[Sample]]:
    """Up to 60 samples over 40 days from up to 4 sources, now and then out of limits."""
    metric = draw(st.sampled_from(METRICS))
    spec = BUILTIN_SPECS[metric]
    span = spec.hard_max - spec.hard_min
    values = st.floats(spec.hard_min - 0.1 * span, spec.hard_max + 0.1 * span,
                       allow_nan=False).map(lambda v: round(v, 1))
    samples = []
    for _ in range(draw(st.integers(0, 60))):
        source = draw(st.integers(1, 4))
        when = NOW - timedelta(minutes=draw(st.integers(0, 40 * 24 * 60)))
        received = when + timedelta(minutes=draw(st.integers(0, 600)))
        flags = draw(st.sampled_from([(), (), (), ("IMPLAUSIBLE_VALUE",), ("OUTLIER",)]))
        samples.append(sample(draw(values), when, source=source, device=DEVICES[source],
                              received=received, flags=flags))
    return metric, samples


def _new_key(samples: list[Sample], source: int, minutes_ago: int) -> bool:
    when = NOW - timedelta(minutes=minutes_ago)
    return all((s.source_id, s.measured_at) != (source, when) for s in samples)


@PROPERTY_SETTINGS
@given(series(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_sample_order(data: tuple[str, list[Sample]], rnd) -> None:
    metric, samples = data
    shuffled = list(samples)
    rnd.shuffle(shuffled)
    assert run(shuffled, metric=metric) == run(samples, metric=metric)


@PROPERTY_SETTINGS
@given(series())
def test_score_stays_within_0_and_100(data: tuple[str, list[Sample]]) -> None:
    metric, samples = data
    conf = run(samples, metric=metric)
    assert 0.0 <= conf.score <= 100.0
    assert conf.score == round(conf.score, 1)
    assert conf.level in ("excellent", "good", "fair", "poor", "insufficient")
    assert all(c.score is None or 0.0 <= c.score <= 100.0 for c in conf.components)


@PROPERTY_SETTINGS
@given(series(), st.integers(1, 4), st.integers(0, 40 * 24 * 60), st.booleans(), st.booleans())
def test_adding_an_implausible_value_never_raises_the_score(
        data: tuple[str, list[Sample]], source: int, minutes_ago: int, too_high: bool,
        flagged_at_storage: bool) -> None:
    metric, samples = data
    spec = BUILTIN_SPECS[metric]
    if not _new_key(samples, source, minutes_ago):
        return
    when = NOW - timedelta(minutes=minutes_ago)
    if flagged_at_storage:
        bad = sample((spec.hard_min + spec.hard_max) / 2, when, source=source, device=DEVICES[source],
                     flags={"IMPLAUSIBLE_VALUE"})
    else:
        value = spec.hard_max + 1 if too_high else spec.hard_min - 1
        bad = sample(value, when, source=source, device=DEVICES[source])
    before = run(samples, metric=metric)
    after = run([*samples, bad], metric=metric)
    assert after.score <= before.score


@PROPERTY_SETTINGS
@given(series(), st.integers(1, 4), st.integers(0, 40 * 24 * 60), st.floats(0.2, 0.8))
def test_more_recent_data_never_lowers_freshness(data: tuple[str, list[Sample]], source: int,
                                                 minutes_ago: int, position: float) -> None:
    metric, samples = data
    spec = BUILTIN_SPECS[metric]
    newest = max((s.measured_at for s in samples), default=NOW - timedelta(days=41))
    minutes_ago = min(minutes_ago, int((NOW - newest).total_seconds() // 60))
    if not _new_key(samples, source, minutes_ago):
        return
    value = round(spec.hard_min + position * (spec.hard_max - spec.hard_min), 1)
    fresh = sample(value, NOW - timedelta(minutes=minutes_ago), source=source, device=DEVICES[source])
    before = component(run(samples, metric=metric), "F").score
    after = component(run([*samples, fresh], metric=metric), "F").score
    assert after is not None and before is not None
    assert after >= before


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 29), st.integers(0, 60000)),
                max_size=60))
def test_cumulative_metrics_are_never_summed(rows: list[tuple[int, int, int]]) -> None:
    samples = [sample(v, NOW - timedelta(days=d, hours=1), source=s, device=DEVICES[s])
               for s, d, v in rows]
    conf = run(samples, metric="steps")
    days = [s.local_date for s in conf.resolved]
    assert len(days) == len(set(days))
    given_values = {s.value for s in samples}
    assert all(s.value in given_values for s in conf.resolved)
