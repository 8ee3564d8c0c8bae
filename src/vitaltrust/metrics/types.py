"""The contract between provider adapters (ingest/) and sample storage (metrics/).

Adapters are pure: payload in, `AdapterResult` out. Values are as the provider sent them
(unit conversion, validation and flagging happen in metrics/normalize.py), so that a
malformed sample is rejected one by one with a reason instead of failing the event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEVICE_TYPES = ("scale", "watch", "ring", "band", "chest_strap", "bp_cuff", "phone", "manual",
                "lab", "unknown")


@dataclass(frozen=True)
class RawSample:
    external_user_id: str
    metric: str             # our metric code, e.g. "weight" (unknown codes are rejected later)
    value: Any              # as sent: may be a string, NaN, None... validated in normalize
    unit: str | None        # as sent, e.g. "lb"; None = the metric's canonical unit
    measured_at: datetime | None  # timezone-aware; None = missing (rejected later)
    utc_offset_seconds: int | None = None  # local offset when the provider gave one
    local_date: str | None = None          # provider's calendar date (YYYY-MM-DD), daily data
    device_type: str = "unknown"
    device_model: str | None = None
    sample_id: str | None = None           # provider's id for this sample (idempotency)
    # daily summaries: how much of the day the summary covers, in seconds (Garmin
    # durationInSeconds, Terra end_time - start_time). A summary replaces a stored one for
    # the same user, metric, source and day only when it covers at least as much.
    coverage_seconds: int | None = None


@dataclass(frozen=True)
class Rejection:
    index: int | None       # position in the payload's samples when known
    reason: str             # one line: "unknown metric 'mood'", "value is NaN", ...
    metric: str | None = None
    external_user_id: str | None = None


@dataclass(frozen=True)
class AdapterResult:
    event_type: str
    samples: list[RawSample] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # every provider account this event mentions (also for events without samples)
    account_ids: frozenset[str] = frozenset()
    # lifecycle/notification events: recorded, no samples expected
    notification_only: bool = False
    # parts of the payload recorded but deliberately not mapped, one reason each
    # ("allDayRespiration: 2 summaries: respiration rate is not a tracked metric")
    ignored: tuple[str, ...] = ()
    # a notification that only says where the data can be pulled (Garmin ping/pull)
    needs_pull: bool = False


class AdapterError(ValueError):
    """The whole payload is unusable (not the provider's shape): the event fails."""


@dataclass(frozen=True)
class StoreResult:
    stored: int                      # inserted or replaced samples
    rejections: list[Rejection]
    affected_metrics: frozenset[str] # metrics whose confidence must be recalculated
