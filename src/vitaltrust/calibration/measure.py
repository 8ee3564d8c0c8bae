"""How wrong is what the coach sees, and does the score know? (pure)

Per (user, metric): the latest resolved value against today's truth, and the 30-day
resolved series (each day shows the latest resolved value dated that day or before, as a
chart carries the last point forward) against each day's truth. Errors are divided by the
metric's agreement tolerance from the catalog (weight 1 kg, resting HR 5 bpm, HRV 15 %
of the client's mean, steps 10 %, sleep 30 min, blood pressure 5 mmHg, SpO2 2 points,
body fat 1.5 points), so that metrics pool. The headline error is the series error; the
latest error and the mean of the two are reported beside it.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from vitaltrust.calibration.simulate import SimUser
from vitaltrust.confidence.model_v2 import features
from vitaltrust.confidence.types import WINDOW_DAYS, Confidence, MetricSpec

LEVELS = ("excellent", "good", "fair", "poor")
MIN_PER_LEVEL = 20  # fewer pairs than this at a level: "not enough data" for that level


@dataclass(frozen=True)
class Outcome:
    user: int
    metric: str
    score: float
    level: str
    latest_error: float
    series_error: float
    components: Mapping[str, float | None]
    reasons: tuple[str, ...]
    features: Mapping[str, float]
    devices: Mapping[str, float]  # share of the resolved series per device type

    @property
    def error(self) -> float:
        """The headline error: the normalised 30-day series MAE."""
        return self.series_error

    @property
    def combined_error(self) -> float:
        return (self.latest_error + self.series_error) / 2


def tolerance(spec: MetricSpec, true_mean: float) -> float:
    if spec.tolerance_abs is not None:
        return spec.tolerance_abs
    assert spec.tolerance_rel is not None
    return spec.tolerance_rel * abs(true_mean)


def evaluate(user: SimUser, metric: str, conf: Confidence, spec: MetricSpec,
             now: datetime) -> Outcome | None:
    """None when the coach sees no value at all (nothing to be wrong about)."""
    if conf.latest_value is None:
        return None
    truth = user.truth[metric]
    today = now.astimezone(ZoneInfo(user.time_zone)).date()
    if metric == "steps":
        today -= timedelta(days=1)  # the day's total is complete only after the day
    scale = tolerance(spec, user.true_mean(metric))
    latest = abs(conf.latest_value - truth[today]) / scale
    days = [today - timedelta(days=k) for k in range(WINDOW_DAYS - 1, -1, -1)]
    points = sorted((s.local_date, s.measured_at, s.value) for s in conf.resolved)
    dates: list[date] = [p[0] for p in points]
    errors = []
    for day in days:
        i = bisect.bisect_right(dates, day)
        if i:
            errors.append(abs(points[i - 1][2] - truth[day]))
        elif not points:
            errors.append(abs(conf.latest_value - truth[day]))
    series = statistics.fmean(errors) / scale if errors else latest
    return Outcome(user.index, metric, conf.score, conf.level, latest, series,
                   {c.code: c.score for c in conf.components},
                   tuple(r["code"] for r in conf.reasons), features(conf, spec, now),
                   device_shares(conf))


def device_shares(conf: Confidence) -> dict[str, float]:
    counts = Counter(s.device_type for s in conf.resolved)
    total = sum(counts.values())
    return {d: n / total for d, n in sorted(counts.items())}


def ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (ties share the mean of their positions)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return None if vx == 0 or vy == 0 else cov / (vx * vy) ** 0.5


def _rho(outcomes: Sequence[Outcome], attr: str = "error") -> float | None:
    rho = spearman([o.score for o in outcomes], [-getattr(o, attr) for o in outcomes])
    return None if rho is None else round(rho, 4)


def by_level(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for level in (*LEVELS, "insufficient"):
        errs = [o.error for o in outcomes if o.level == level]
        if errs:
            out[level] = {"n": len(errs), "median_error": round(statistics.median(errs), 4),
                          "mean_error": round(statistics.fmean(errs), 4)}
    return out


def monotone(levels: Mapping[str, Mapping[str, float | int]]) -> bool | None:
    """Median error strictly increasing excellent -> poor over the levels with enough data;
    None when fewer than two levels have enough data."""
    medians = [levels[lv]["median_error"] for lv in LEVELS
               if lv in levels and levels[lv]["n"] >= MIN_PER_LEVEL]
    if len(medians) < 2:
        return None
    return all(a < b for a, b in itertools.pairwise(medians))


def reliability(outcomes: Sequence[Outcome], width: float = 10.0) -> list[dict[str, float | int]]:
    """Median (and quartiles of) normalised error per score bin."""
    bins: dict[int, list[float]] = {}
    for o in outcomes:
        bins.setdefault(min(int(o.score // width), int(100 // width) - 1), []).append(o.error)
    out = []
    for b in sorted(bins):
        errs = sorted(bins[b])
        q = statistics.quantiles(errs, n=4) if len(errs) >= 4 else [errs[0], errs[len(errs) // 2],
                                                                    errs[-1]]
        out.append({"low": b * width, "high": (b + 1) * width, "n": len(errs),
                    "median_error": round(statistics.median(errs), 4),
                    "q1": round(q[0], 4), "q3": round(q[-1], 4)})
    return out


def summarise(outcomes: Sequence[Outcome], metrics: Sequence[str]) -> dict[str, object]:
    per_metric = {}
    for metric in metrics:
        mine = [o for o in outcomes if o.metric == metric]
        if not mine:
            continue
        levels = by_level(mine)
        per_metric[metric] = {"pairs": len(mine), "spearman": _rho(mine),
                              "spearman_latest": _rho(mine, "latest_error"),
                              "spearman_combined": _rho(mine, "combined_error"),
                              "levels": levels, "levels_monotone": monotone(levels)}
    levels = by_level(outcomes)
    return {"pairs": len(outcomes), "spearman": _rho(outcomes),
            "spearman_latest": _rho(outcomes, "latest_error"),
            "spearman_combined": _rho(outcomes, "combined_error"),
            "levels": levels, "levels_monotone": monotone(levels), "metrics": per_metric}
