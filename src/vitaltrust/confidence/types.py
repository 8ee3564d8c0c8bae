"""The contract of the pure confidence model (confidence/model.py): no I/O anywhere here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

MODEL_VERSION = "1"
WINDOW_DAYS = 30


@dataclass(frozen=True)
class MetricSpec:
    """One row of metric_catalog."""
    metric: str
    display_name: str
    canonical_unit: str
    aggregation: str                 # "discrete" | "cumulative_daily"
    cadence: timedelta
    conflict_window: timedelta | None  # None = same local date
    hard_min: float
    hard_max: float
    tolerance_abs: float | None
    tolerance_rel: float | None
    measurement_error: float
    default_priority: tuple[str, ...]
    reliability: Mapping[str, float]


@dataclass(frozen=True)
class Sample:
    """A stored sample (canonical unit) as the model sees it."""
    value: float
    measured_at: datetime
    local_date: date
    source_id: int
    device_type: str
    received_at: datetime
    flags: frozenset[str] = frozenset()
    source_name: str = ""
    # one source (integration) may carry several devices: each is a source of its own
    # for conflict resolution (resolution.source_of)
    device_model: str | None = None


@dataclass(frozen=True)
class Conflict:
    winner: Sample
    loser: Sample
    difference: float
    agrees: bool


@dataclass(frozen=True)
class Component:
    code: str          # F C P O R A
    name: str
    score: float | None
    weight: float
    deduction: float   # weighted points this component took off the score
    reasons: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Confidence:
    score: float
    level: str         # excellent | good | fair | poor | insufficient
    components: tuple[Component, ...]
    reasons: tuple[dict[str, Any], ...]  # {code, message, ...numbers}
    model_version: str
    computed_at: datetime
    sample_count: int
    last_sample_at: datetime | None
    latest_value: float | None
    resolved: tuple[Sample, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    # keyed by resolution.identity: (source_id, measured_at, device_type, device_model or "")
    flagged: Mapping[tuple[int, datetime, str, str], frozenset[str]] = field(default_factory=dict)
    # resolved samples in the window (sample_count counts every sample in it, losers and fails too)
    valid_sample_count: int = 0

    def explanation(self) -> dict[str, Any]:
        """The JSON kept in the cache and returned by the API (CONFIDENCE.md, Explanation)."""
        return {
            "score": self.score,
            "level": self.level,
            "model_version": self.model_version,
            "window_days": WINDOW_DAYS,
            "computed_at": self.computed_at.isoformat(),
            "sample_count": self.sample_count,
            "components": [
                {"code": c.code, "name": c.name, "score": c.score, "weight": c.weight,
                 "deduction": c.deduction, "reasons": list(c.reasons)}
                for c in self.components
            ],
            "reasons": list(self.reasons),
        }
