"""Fitting model v2 (pure): the device-error table and the coefficients.

log(series error) is regressed by least squares on v2's features; then each (metric, device
type) entry of the device-error table is moved by the mean residual of the pairs that device
dominates, and the two steps repeat. Run on one set of seeds (`vitaltrust calibrate --fit
1001,1002`), judge the result on others. The fitted numbers are written into
confidence/model_v2.py by hand: the model stays a reviewed constant, v1 stays reproducible.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence

from vitaltrust.calibration.measure import Outcome
from vitaltrust.confidence.model_v2 import DEFAULT_DEVICE_ERROR, FEATURES, PRIOR_DEVICE_ERROR

ERROR_FLOOR = 0.05  # keeps log(error) finite for a perfect reading
ROUNDS = 4
# Per-metric coefficients are shrunk towards 0 by this x the metric's pairs: a metric whose
# error the features do not predict (body fat) gets a flat score instead of noise.
METRIC_RIDGE = 0.1
Table = dict[str, dict[str, float]]


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (small, dense systems)."""
    n = len(b)
    m = [[*row[:], b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            raise ValueError(f"feature {col} has no variation in the fitting data")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def _lookup(table: Mapping[str, Mapping[str, float]], metric: str, device: str) -> float:
    row = table.get(metric, {})
    return row.get(device, row.get("unknown", DEFAULT_DEVICE_ERROR))


def _e(o: Outcome, table: Mapping[str, Mapping[str, float]]) -> float:
    if not o.devices:
        return math.log(DEFAULT_DEVICE_ERROR)
    return math.log(sum(share * _lookup(table, o.metric, d) for d, share in o.devices.items()))


def least_squares(outcomes: Sequence[Outcome], table: Mapping[str, Mapping[str, float]],
                  ridge: float = 1e-3) -> dict[str, float]:
    names = ("intercept", *FEATURES)
    rows = [[1.0, *(_e(o, table) if k == "E" else o.features[k] for k in FEATURES)]
            for o in outcomes]
    ys = [math.log(o.series_error + ERROR_FLOOR) for o in outcomes]
    k = len(names)
    xtx = [[sum(r[i] * r[j] for r in rows) + (ridge if i == j and i else 0.0) for j in range(k)]
           for i in range(k)]
    xty = [sum(r[i] * y for r, y in zip(rows, ys, strict=True)) for i in range(k)]
    return dict(zip(names, _solve(xtx, xty), strict=True))


def fit(outcomes: Sequence[Outcome], min_pairs: int = 30
        ) -> tuple[dict[str, float], Table, Table]:
    """(pooled coefficients, per-metric coefficients, device-error table); the table starts
    from the published-figure priors and moves with the pooled fit."""
    table: Table = {m: dict(row) for m, row in PRIOR_DEVICE_ERROR.items()}
    coefficients: dict[str, float] = {}
    for _ in range(ROUNDS):
        coefficients = least_squares(outcomes, table)
        residuals: dict[tuple[str, str], list[float]] = defaultdict(list)
        for o in outcomes:
            if not o.devices:
                continue
            device, share = max(o.devices.items(), key=lambda kv: (kv[1], kv[0]))
            if share < 0.8:
                continue
            values = {**o.features, "E": _e(o, table)}
            predicted = coefficients["intercept"] + sum(coefficients[f] * values[f] for f in FEATURES)
            residuals[(o.metric, device)].append(math.log(o.series_error + ERROR_FLOOR) - predicted)
        for (metric, device), found in residuals.items():
            if len(found) >= min_pairs:
                shift = statistics.fmean(found) / max(coefficients["E"], 0.1)
                table.setdefault(metric, {})[device] = _lookup(table, metric, device) * math.exp(shift)
    coefficients = least_squares(outcomes, table)
    per_metric: Table = {}
    for metric in sorted({o.metric for o in outcomes}):
        mine = [o for o in outcomes if o.metric == metric]
        if len(mine) >= min_pairs:
            fitted = least_squares(mine, table, ridge=METRIC_RIDGE * len(mine))
            per_metric[metric] = {k: round(v, 4) for k, v in fitted.items()}
    rounded = {m: {d: round(v, 3) for d, v in sorted(row.items())} for m, row in sorted(table.items())}
    return {k: round(v, 4) for k, v in coefficients.items()}, per_metric, rounded
