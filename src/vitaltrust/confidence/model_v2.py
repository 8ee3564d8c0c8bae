"""Confidence model v2: the score predicts the error of what the coach sees (pure).

v1 (model.py, unchanged) averages six 0-100 components. The calibration study
(docs/calibration.md) found that average barely ranks pairs by their real error
(pooled Spearman rho ~0.2): its source priors (R) are not comparable across metrics (a
bp_cuff at 95 is off by ~1.2x the metric's tolerance, a scale at 95 by ~0.2x), and its
implausible-value cap marks data "fair" whose bad value never reaches the series.

v2 keeps v1's resolution and components and adds E, the expected device error: the typical
|error| of each resolved sample's device type for this metric, in units of the metric's
agreement tolerance (published validation studies give the starting table, the fit moves
it), and the volatility of the series. It predicts

    log(expected error) = b0 + b_E log(E) + b_F staleness + b_C gap + b_A disagreement
                          + b_O outliers + b_H hard fails + b_J rapid changes
                          + b_N / valid samples + volatility terms (V, G, S)

and maps it to 0-100 with score = 100 x exp(-expected error / 2): excellent (>= 85) means
an expected error under a third of the tolerance, good under 0.71x, fair under 1.39x.
The coefficients (pooled, then per metric with shrinkage) and the device-error table were
fitted on simulated seeds 1001-1002 (`vitaltrust calibrate --fit`) and judged on other
seeds (docs/calibration.md: pooled rho ~0.78 on held-out seeds 4 and 5). No valid sample
for more than 4 cadences caps the score at 69 (v1: 49); there is no implausible-value cap.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from vitaltrust.confidence import model as v1
from vitaltrust.confidence.reasons import (
    IMPLAUSIBLE_VALUE,
    RAPID_CHANGE,
    UNIT_SLIP,
    Reason,
    metric_noun,
    number_text,
)
from vitaltrust.confidence.types import Component, Confidence, MetricSpec, Sample

MODEL_VERSION = "2"
EXPECTED_ERROR = "EXPECTED_ERROR"
# Typical |device - reference| / tolerance (tolerances: metric_catalog). Figures:
# scale 0.2-0.3 kg (Yorkin 2013), self-report -0.7 +/- 1.9 kg (BMC Med Res Methodol 2014),
# BIA body fat ~2.5 points (Sci Rep 2023), ring RHR MAPE ~1.8 %, wrist ~2.9 %, ring RMSSD
# ~6.5 %, wrist ~11 % (Dial 2025; Stone 2021), steps < 3 % at normal pace, ~30 % slow
# (Moore 2018), sleep trackers over-count wake (Chinoy 2021), home cuffs -3.3 +/- 7.3 mmHg
# (Ringrose 2017), watch SpO2 within 6 % (Digital Health 2022). See docs/calibration.md.
PRIOR_DEVICE_ERROR: Mapping[str, Mapping[str, float]] = {
    "weight": {"lab": 0.1, "scale": 0.25, "manual": 1.6, "unknown": 1.0},
    "body_fat": {"lab": 0.5, "unknown": 1.6},
    "resting_heart_rate": {"chest_strap": 0.06, "ring": 0.22, "watch": 0.35, "band": 0.35,
                           "unknown": 0.6},
    "hrv_rmssd": {"chest_strap": 0.1, "ring": 0.45, "watch": 0.75, "band": 0.75, "unknown": 1.0},
    "hrv_sdnn": {"chest_strap": 0.1, "ring": 0.45, "watch": 0.75, "band": 0.75, "unknown": 1.0},
    "steps": {"watch": 0.6, "band": 0.6, "ring": 0.6, "phone": 2.5, "manual": 2.0, "unknown": 2.0},
    "sleep_duration": {"ring": 1.1, "watch": 1.1, "band": 1.1, "manual": 1.8, "unknown": 1.8},
    "blood_pressure_systolic": {"lab": 0.5, "bp_cuff": 1.2, "manual": 1.3, "unknown": 1.5},
    "blood_pressure_diastolic": {"lab": 0.5, "bp_cuff": 1.0, "manual": 1.3, "unknown": 1.5},
    "spo2": {"lab": 0.3, "ring": 0.6, "watch": 1.2, "band": 1.2, "unknown": 1.5},
}
DEFAULT_DEVICE_ERROR = 1.0
# The priors above, moved by the fit (calibration/fit.py) on seeds 1001-1002: what a series
# from that device type is typically off by, gaps and all, in tolerances.
DEVICE_ERROR: Mapping[str, Mapping[str, float]] = {
    "blood_pressure_diastolic": {"bp_cuff": 1.244, "lab": 0.5, "manual": 1.114, "unknown": 1.5},
    "blood_pressure_systolic": {"bp_cuff": 1.642, "lab": 0.5, "manual": 1.212, "unknown": 1.5},
    "body_fat": {"lab": 0.5, "scale": 1.781, "unknown": 1.6},
    "hrv_rmssd": {"band": 0.75, "chest_strap": 0.14, "ring": 0.47, "unknown": 1.0, "watch": 0.754},
    "hrv_sdnn": {"band": 0.75, "chest_strap": 0.1, "ring": 0.45, "unknown": 1.0, "watch": 0.75},
    "resting_heart_rate": {"band": 0.35, "chest_strap": 0.084, "ring": 0.213, "unknown": 0.6,
                           "watch": 0.313},
    "sleep_duration": {"band": 1.1, "manual": 1.603, "ring": 1.178, "unknown": 1.8, "watch": 1.221},
    "spo2": {"band": 1.2, "lab": 0.3, "ring": 0.536, "unknown": 1.5, "watch": 0.941},
    "steps": {"band": 0.6, "manual": 2.0, "phone": 3.173, "ring": 0.883, "unknown": 2.0,
              "watch": 0.796},
    "weight": {"lab": 0.1, "manual": 1.113, "scale": 0.235, "unknown": 1.0},
}
# Fitted on seeds 1001-1002 (1,000 users each, 15,574 pairs):
# `vitaltrust calibrate --users 1000 --fit 1001,1002`.
COEFFICIENTS: Mapping[str, float] = {
    "intercept": -0.1061, "E": 0.7307, "F": 0.042, "C": 0.5755, "A": -0.0308, "O": 0.0529,
    "H": 0.7731, "J": 1.6997, "N": -0.4304, "V": 0.1131, "G": 0.0539, "S": -0.0138,
}
# Per metric, same fit, shrunk towards 0 (calibration/fit.py METRIC_RIDGE); metrics without
# their own row (no simulated data) use the pooled COEFFICIENTS.
METRIC_COEFFICIENTS: Mapping[str, Mapping[str, float]] = {
    "blood_pressure_diastolic": {
        "intercept": 0.0139, "E": 0.0151, "F": 0.0033, "C": 0.0236, "A": 0.0222, "O": 0.0243,
        "H": 0.0, "J": 0.0, "N": 0.0143, "V": 0.0574, "G": 0.0377, "S": 0.0321},
    "blood_pressure_systolic": {
        "intercept": 0.1068, "E": 0.0997, "F": 0.0254, "C": 0.0278, "A": 0.0711, "O": -0.0116,
        "H": 0.0, "J": 0.0, "N": 0.0157, "V": 0.0631, "G": 0.0328, "S": 0.0369},
    "body_fat": {
        "intercept": 0.3083, "E": 0.0023, "F": -0.0043, "C": -0.0062, "A": 0.0, "O": 0.0212,
        "H": 0.0114, "J": 0.0067, "N": -0.0076, "V": 0.0359, "G": -0.0089, "S": -0.0026},
    "hrv_rmssd": {
        "intercept": -0.2675, "E": 0.3716, "F": 0.0504, "C": 0.1271, "A": -0.0724, "O": 0.0227,
        "H": 0.0011, "J": 0.0, "N": 0.0151, "V": 0.0912, "G": 0.1271, "S": 0.0344},
    "resting_heart_rate": {
        "intercept": -0.5893, "E": 0.283, "F": 0.0586, "C": 0.0961, "A": -0.0087, "O": 0.0523,
        "H": 0.0002, "J": 0.0011, "N": 0.0058, "V": 0.1881, "G": 0.0466, "S": 0.0439},
    "sleep_duration": {
        "intercept": 0.1509, "E": 0.0416, "F": 0.0432, "C": 0.0994, "A": -0.0104, "O": 0.0038,
        "H": -0.0002, "J": 0.0, "N": 0.0116, "V": 0.0035, "G": 0.1788, "S": 0.0032},
    "spo2": {
        "intercept": -0.0921, "E": 0.266, "F": -0.0446, "C": -0.0099, "A": -0.0228, "O": 0.1085,
        "H": -0.0011, "J": 0.0, "N": -0.0065, "V": 0.1841, "G": 0.0248, "S": 0.0342},
    "steps": {
        "intercept": -0.1418, "E": 0.4, "F": 0.2772, "C": 0.2359, "A": 0.0411, "O": 0.0035,
        "H": 0.003, "J": 0.0, "N": 0.014, "V": -0.005, "G": 0.3476, "S": -0.0663},
    "weight": {
        "intercept": 0.1055, "E": 0.5495, "F": 0.1092, "C": 0.1124, "A": 0.0029, "O": 0.1908,
        "H": 0.0157, "J": 0.1618, "N": 0.0077, "V": 0.3973, "G": 0.0447, "S": -0.0163},
}
FEATURES = ("E", "F", "C", "A", "O", "H", "J", "N", "V", "G", "S")
# which features each explained component stands for (deduction = its points taken off)
COMPONENT_FEATURES = {"F": ("F", "S"), "C": ("C", "G"), "P": ("H", "J"), "O": ("O",), "R": (),
                      "A": ("A",), "E": ("E",)}
NAMES = {**v1.NAMES, "E": "expected device error"}
ERROR_SCALE = 2.0   # score = 100 x exp(-error / ERROR_SCALE)
# No valid sample for more than 4 cadences: at best "fair" (v1: 49). The calibration showed
# a stale but smooth series is still close to the truth over 30 days, and that 49 ranked such
# pairs below noisier fresh ones (pooled rho 0.68 vs 0.78 on fit seeds 1001/1002).
STALE_CAP = 69.0
MAX_STALENESS = 10.0
DEFAULT_VOLATILITY = 1.0
MIN_VOLATILITY = 0.05


def device_error(spec: MetricSpec, device_type: str) -> float:
    table = DEVICE_ERROR.get(spec.metric, {})
    return table.get(device_type, table.get("unknown", DEFAULT_DEVICE_ERROR))


def features(conf: Confidence, spec: MetricSpec, now: datetime) -> dict[str, float]:
    """The predictors, each 0 when that part is at its best (E: log of the device error)."""
    parts = {c.code: c.score for c in conf.components}
    if conf.resolved:
        mean_error = sum(device_error(spec, s.device_type) for s in conf.resolved) / len(conf.resolved)
    else:
        mean_error = DEFAULT_DEVICE_ERROR
    if conf.last_sample_at is None:
        staleness = MAX_STALENESS
    else:
        age = max((now - conf.last_sample_at) / spec.cadence, 0.0)
        staleness = math.log1p(min(age, MAX_STALENESS))

    def lack(code: str) -> float:
        value = parts.get(code)
        return 0.0 if value is None else 1.0 - value / 100.0

    move = volatility(conf.resolved, spec)
    return {"E": math.log(mean_error), "F": staleness, "C": lack("C"), "A": lack("A"),
            "O": lack("O"), "H": _share(conf, (IMPLAUSIBLE_VALUE, UNIT_SLIP)),
            "J": _share(conf, (RAPID_CHANGE,)), "N": 1.0 / max(conf.valid_sample_count, 1),
            "V": math.log(move), "G": lack("C") * move, "S": staleness * move}


def _share(conf: Confidence, codes: tuple[str, ...]) -> float:
    """Share of the window's samples behind the given plausibility reasons."""
    found = sum(r.get("count", 0) for c in conf.components if c.code == "P"
                for r in c.reasons if r["code"] in codes)
    return found / conf.sample_count if conf.sample_count else 0.0


def volatility(resolved: Sequence[Sample], spec: MetricSpec) -> float:
    """Median change between consecutive resolved values, in tolerances: what a value
    carried over a gap (or left standing while stale) is likely to be off by."""
    if len(resolved) < 3:
        return DEFAULT_VOLATILITY
    values = [s.value for s in resolved]
    steps = sorted(abs(b - a) for a, b in itertools.pairwise(values))
    level = sorted(values)[len(values) // 2]
    tolerance = spec.tolerance_abs if spec.tolerance_abs is not None else (
        (spec.tolerance_rel or 1.0) * abs(level))
    return max(steps[len(steps) // 2] / max(tolerance, 1e-9), MIN_VOLATILITY)


def coefficients_for(metric: str) -> Mapping[str, float]:
    return METRIC_COEFFICIENTS.get(metric, COEFFICIENTS)


def predicted_error(values: Mapping[str, float], coefficients: Mapping[str, float] = COEFFICIENTS
                    ) -> float:
    return math.exp(coefficients["intercept"] + sum(coefficients[k] * values[k] for k in FEATURES))


def to_score(error: float) -> float:
    return 100.0 * math.exp(-error / ERROR_SCALE)


def _best(feature: str, spec: MetricSpec) -> float:
    """A feature's value when its part is perfect (E: the metric's best device type)."""
    if feature == "E":
        table = DEVICE_ERROR.get(spec.metric, {"unknown": DEFAULT_DEVICE_ERROR})
        return math.log(min(table.values()))
    return 0.0


def score_v2(samples: Sequence[Sample], spec: MetricSpec, now: datetime,
             priority: Sequence[str] | None = None) -> Confidence:
    """v1's resolution and components, then the fitted error prediction as the score."""
    return rescore(v1.score(samples, spec, now, priority), spec, now)


def rescore(base: Confidence, spec: MetricSpec, now: datetime) -> Confidence:
    """A v1 result (same samples, same `now`) scored by v2."""
    values = features(base, spec, now)
    coefficients = coefficients_for(spec.metric)
    raw = to_score(predicted_error(values, coefficients))
    stale_capped = any(r.get("capped_at") == v1.STALE_CAP for r in base.reasons)
    final = round(max(0.0, min(raw, STALE_CAP if stale_capped else 100.0)), 1)
    components = []
    for c in (*base.components, None):
        code = "E" if c is None else c.code
        mine = COMPONENT_FEATURES.get(code, ())
        # points this part took off: the score with its features at their best, minus the score
        best = to_score(predicted_error({**values, **{f: _best(f, spec) for f in mine}},
                                        coefficients))
        deduction = round(max(0.0, best - raw), 1)
        weight = round(coefficients[mine[0]], 4) if mine else 0.0
        if c is None:
            mean_error = math.exp(values["E"])
            components.append(Component("E", NAMES["E"], round(100.0 * math.exp(-mean_error), 1),
                                        weight, deduction, (_expected(spec, base, mean_error),)))
        else:
            components.append(replace(c, weight=weight, deduction=deduction,
                                      reasons=tuple(_uncapped(r) for r in c.reasons)))
    level = "insufficient" if base.level == "insufficient" else v1.level_for(final)
    return replace(base, score=final, level=level, components=tuple(components),
                   model_version=MODEL_VERSION, reasons=_ordered(base, components))


def _uncapped(reason: Reason) -> Reason:
    """v2 has no implausible-value cap (such values never reach the series) and caps stale
    data at 69, not 49: restate v1's cap notes."""
    cap = reason.get("capped_at")
    if cap not in (v1.IMPLAUSIBLE_CAP, v1.STALE_CAP):
        return reason
    out = {k: v for k, v in reason.items() if k != "capped_at"}
    message = str(reason["message"]).replace(f"; score capped at {number_text(cap)}", "")
    if cap == v1.STALE_CAP:
        out["capped_at"] = STALE_CAP
        message += f"; score capped at {number_text(STALE_CAP)}"
    out["message"] = message
    return out


def _expected(spec: MetricSpec, conf: Confidence, mean_error: float) -> Reason:
    devices = sorted({s.device_type for s in conf.resolved}) or ["no device"]
    return {"code": EXPECTED_ERROR,
            "message": f"{' and '.join(devices)} {metric_noun(spec)} is typically off by "
                       f"{number_text(mean_error)}x the tolerance of {_tolerance_text(spec)}",
            "expected_error": round(mean_error, 3), "device_types": devices}


def _tolerance_text(spec: MetricSpec) -> str:
    if spec.tolerance_abs is not None:
        return f"{number_text(spec.tolerance_abs)} {spec.canonical_unit}"
    return f"{number_text(100 * (spec.tolerance_rel or 0.0))} %"


def _ordered(base: Confidence, components: list[Component]) -> tuple[Reason, ...]:
    """v1's order (insufficient and capping reasons first), then by v2 deduction."""
    order = sorted(components, key=lambda c: -c.deduction)
    found = [r for c in order for r in c.reasons]
    first = [r for r in base.reasons if r.get("code") == "INSUFFICIENT_DATA"]
    capped = [r for r in found if r.get("capped_at") == STALE_CAP]
    rest = [r for r in found if r not in capped]
    return tuple(first + capped + rest)
