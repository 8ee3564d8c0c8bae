"""The built-in metric catalog as Python data, mirroring the rows that
migrations/0003_metrics.sql inserts into metric_catalog.

Tests and benchmarks score without a database through these specs; the running system
loads the same values from metric_catalog (keep both in step when either changes).
"""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType

from vitaltrust.confidence.types import MetricSpec

_DAY = timedelta(days=1)
_WINDOW_30_MIN = timedelta(minutes=30)


_WEIGHT_ORDER = ("lab", "scale", "manual", "phone", "watch", "ring", "band", "chest_strap",
                       "bp_cuff", "unknown")
_HRV_ORDER = ("chest_strap", "ring", "watch", "band", "phone", "manual", "scale", "bp_cuff",
                    "lab", "unknown")
_BP_ORDER = ("bp_cuff", "lab", "manual", "watch", "ring", "band", "phone", "chest_strap",
                   "scale", "unknown")
_HRV_TRUST = {"chest_strap": 95.0, "ring": 90.0, "watch": 75.0, "unknown": 50.0}
_BP_TRUST = {"bp_cuff": 95.0, "lab": 95.0, "manual": 80.0, "unknown": 50.0}


def _spec(metric: str, display_name: str, unit: str, aggregation: str, cadence: timedelta,
          conflict_window: timedelta | None, hard: tuple[float, float],
          tolerance: tuple[float | None, float | None], measurement_error: float,
          priority: tuple[str, ...], reliability: dict[str, float]) -> MetricSpec:
    return MetricSpec(
        metric=metric, display_name=display_name, canonical_unit=unit, aggregation=aggregation,
        cadence=cadence, conflict_window=conflict_window, hard_min=float(hard[0]),
        hard_max=float(hard[1]),
        tolerance_abs=None if tolerance[0] is None else float(tolerance[0]),
        tolerance_rel=None if tolerance[1] is None else float(tolerance[1]),
        measurement_error=float(measurement_error), default_priority=priority,
        reliability=MappingProxyType({k: float(v) for k, v in reliability.items()}),
    )


_SPECS = (
    _spec("weight", "Weight", "kg", "discrete", _DAY, _WINDOW_30_MIN, (25, 350), (1, None), 0.2,
          _WEIGHT_ORDER, {"scale": 95, "lab": 98, "manual": 75, "unknown": 50}),
    _spec("body_fat", "Body Fat", "%", "discrete", 7 * _DAY, _WINDOW_30_MIN, (3, 70), (1.5, None),
          0.5, _WEIGHT_ORDER,
          {"lab": 60, "scale": 60, "manual": 60, "phone": 60, "watch": 60, "ring": 60, "band": 60,
           "unknown": 50}),
    _spec("resting_heart_rate", "Resting Heart Rate", "bpm", "discrete", _DAY, None, (25, 150),
          (5, None), 1,
          ("chest_strap", "ring", "watch", "band", "phone", "manual", "bp_cuff", "scale",
                 "lab", "unknown"),
          {"chest_strap": 95, "ring": 90, "watch": 85, "unknown": 50}),
    _spec("heart_rate", "Heart Rate", "bpm", "discrete", _DAY, timedelta(minutes=5), (25, 250),
          (5, None), 2,
          ("chest_strap", "ring", "watch", "band", "phone", "bp_cuff", "manual", "scale",
                 "lab", "unknown"),
          {"chest_strap": 95, "ring": 85, "watch": 85, "band": 80, "bp_cuff": 85, "unknown": 50}),
    _spec("hrv_rmssd", "HRV (RMSSD)", "ms", "discrete", _DAY, None, (3, 300), (None, 0.15), 3,
          _HRV_ORDER, _HRV_TRUST),
    _spec("hrv_sdnn", "HRV (SDNN)", "ms", "discrete", _DAY, None, (3, 300), (None, 0.15), 3,
          _HRV_ORDER, _HRV_TRUST),
    _spec("steps", "Steps", "steps", "cumulative_daily", _DAY, None, (0, 100000), (None, 0.10), 100,
          ("watch", "band", "ring", "phone", "manual", "chest_strap", "scale", "bp_cuff",
                 "lab", "unknown"),
          {"watch": 85, "band": 85, "phone": 75, "manual": 50, "unknown": 50}),
    _spec("sleep_duration", "Sleep Duration", "s", "cumulative_daily", _DAY, None, (0, 64800),
          (1800, None), 600,
          ("ring", "watch", "band", "phone", "manual", "chest_strap", "scale", "bp_cuff",
                 "lab", "unknown"),
          {"ring": 75, "watch": 75, "manual": 60, "unknown": 50}),
    _spec("blood_pressure_systolic", "Blood Pressure (Systolic)", "mmHg", "discrete", 7 * _DAY,
          _WINDOW_30_MIN, (60, 260), (5, None), 3, _BP_ORDER, _BP_TRUST),
    _spec("blood_pressure_diastolic", "Blood Pressure (Diastolic)", "mmHg", "discrete", 7 * _DAY,
          _WINDOW_30_MIN, (30, 160), (5, None), 3, _BP_ORDER, _BP_TRUST),
    _spec("spo2", "SpO2", "%", "discrete", _DAY, None, (70, 100), (2, None), 1,
          ("lab", "ring", "watch", "band", "phone", "manual", "chest_strap", "scale",
                 "bp_cuff", "unknown"),
          {"lab": 95, "ring": 80, "watch": 75, "band": 70, "manual": 60, "unknown": 50}),
    _spec("vo2max", "VO2 Max", "mL/kg/min", "discrete", 14 * _DAY, None, (10, 90), (3, None), 1,
          ("lab", "watch", "ring", "band", "phone", "manual", "chest_strap", "scale",
                 "bp_cuff", "unknown"),
          {"lab": 95, "watch": 60, "unknown": 50}),
)

# In metric_catalog.sort_order.
BUILTIN_SPECS: dict[str, MetricSpec] = {spec.metric: spec for spec in _SPECS}
