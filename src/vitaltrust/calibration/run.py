"""A calibration run: simulate users, push them through the in-process path, measure.

Each user is scored once by v1; v2 rescoring that result (same resolution, same components)
costs little, so one run measures both versions on the same data. Users are independent
(each has its own seeded generator): a run is split into chunks scored in worker processes
and gives the same outcomes whatever the number of processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

from vitaltrust.calibration.measure import Outcome, evaluate
from vitaltrust.calibration.pipeline import score_user, store
from vitaltrust.calibration.simulate import simulate_user
from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.confidence.model import score
from vitaltrust.confidence.model_v2 import rescore
from vitaltrust.confidence.types import Confidence, MetricSpec, Sample

# A fixed moment, so that a seed gives the same run on any day.
ANCHOR = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CHUNK = 25
VERSIONS = ("1", "2")
Outcomes = dict[str, list[Outcome]]


def _v1(samples: Sequence[Sample], spec: MetricSpec, now: datetime) -> Confidence:
    return score(samples, spec, now)


def run_users(seed: int, first: int, count: int, now: datetime = ANCHOR) -> Outcomes:
    out: Outcomes = {v: [] for v in VERSIONS}
    for index in range(first, first + count):
        user, deliveries = simulate_user(seed, index, now)
        scores = score_user(store(user, deliveries, BUILTIN_SPECS, now), BUILTIN_SPECS, now, _v1)
        for metric, conf in scores.items():
            spec = BUILTIN_SPECS[metric]
            for version, c in (("1", conf), ("2", rescore(conf, spec, now))):
                outcome = evaluate(user, metric, c, spec, now)
                if outcome is not None:
                    out[version].append(outcome)
    return out


def _chunk(args: tuple[int, int, int, datetime]) -> Outcomes:
    return run_users(*args)


def run(seed: int, users: int, *, now: datetime = ANCHOR, processes: int = 1,
        progress: Callable[[int], None] | None = None) -> Outcomes:
    """Every user's outcomes per model version, in user order; `progress(n)` after each
    chunk of n users."""
    chunks = [(seed, first, min(CHUNK, users - first), now) for first in range(0, users, CHUNK)]
    outcomes: Outcomes = {v: [] for v in VERSIONS}

    def add(args: tuple[int, int, int, datetime], part: Outcomes) -> None:
        for v in VERSIONS:
            outcomes[v] += part[v]
        if progress:
            progress(args[2])

    if processes <= 1:
        for args in chunks:
            add(args, _chunk(args))
        return outcomes
    with ProcessPoolExecutor(max_workers=processes) as pool:
        for args, part in zip(chunks, pool.map(_chunk, chunks), strict=True):
            add(args, part)
    return outcomes
