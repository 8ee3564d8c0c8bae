"""Helpers shared by the provider adapters (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from vitaltrust.metrics.types import DEVICE_TYPES, RawSample, Rejection


def text(value: Any) -> str | None:
    """A provider id as text: strings and integers are accepted (providers disagree)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int):
        out = str(value).strip()
        return out or None
    return None


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (with `Z` or an offset) or Unix seconds; None when unusable.

    A naive ISO time is kept naive: normalisation rejects it unless an offset is known.
    A bare date (a daily summary) is that day's midnight UTC; the sample's local_date
    carries the provider's calendar day.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        raw = value.strip()
        if raw.endswith(("Z", "z")):
            raw = raw[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return None
        if len(raw) == 10:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    return None


def unix_with_offset(seconds: Any, offset: Any) -> tuple[datetime | None, int | None]:
    """Garmin-style UTC seconds plus a local offset in seconds."""
    at = parse_time(seconds) if isinstance(seconds, int | float) else None
    off = offset if isinstance(offset, int) and not isinstance(offset, bool) else None
    if at is not None and off is not None and abs(off) <= 18 * 3600:
        at = at.astimezone(timezone(timedelta(seconds=off)))
    return at, off


def date_text(value: Any) -> str | None:
    """The YYYY-MM-DD a provider wrote (a date, or the date part of a local ISO time)."""
    if not isinstance(value, str) or len(value.strip()) < 10:
        return None
    head = value.strip()[:10]
    try:
        date.fromisoformat(head)
    except ValueError:
        return None
    return head


def number(value: Any) -> Any:
    """Providers send some numbers as text ("125"): such a string becomes a number.

    Anything else is returned unchanged, so that normalisation rejects it with a reason.
    """
    if isinstance(value, str):
        raw = value.strip()
        try:
            return int(raw)
        except ValueError:
            pass
        try:
            return float(raw)
        except ValueError:
            return value
    return value


def seconds_between(start: Any, end: Any) -> int | None:
    """Whole seconds from one provider time to another (coverage of a summary)."""
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None or a.tzinfo is None or b.tzinfo is None:
        return None
    span = int((b - a).total_seconds())
    return span if span >= 0 else None


def local_day(at: datetime | None) -> str | None:
    """The calendar date of a local (offset-aware) time, as the provider's user saw it."""
    return at.date().isoformat() if at is not None else None


def device(value: Any) -> str:
    return value if isinstance(value, str) and value in DEVICE_TYPES else "unknown"


# provider / app slugs -> our device types, where the slug says enough
PROVIDER_DEVICES = {
    "oura": "ring", "ultrahuman": "ring", "whoop": "band", "fitbit": "watch",
    "garmin": "watch", "polar": "watch", "suunto": "watch", "coros": "watch",
    "apple_health_kit": "watch", "apple": "watch", "samsung": "watch", "wahoo": "chest_strap",
    "withings": "scale", "omron": "bp_cuff", "eight_sleep": "unknown", "google_fit": "phone",
    "health_connect": "phone", "freestyle_libre": "unknown", "dexcom": "unknown",
}


# what measured a value, when the metric alone says it (an OMRON weight comes from a scale)
METRIC_DEVICES = {"weight": "scale", "body_fat": "scale", "blood_pressure_systolic": "bp_cuff",
                  "blood_pressure_diastolic": "bp_cuff"}


def device_for(metric: str, default: str) -> str:
    return METRIC_DEVICES.get(metric, default)


def provider_device(slug: Any, default: str = "unknown") -> str:
    if isinstance(slug, str):
        return PROVIDER_DEVICES.get(slug.strip().lower(), default)
    return default


@dataclass
class Collector:
    """Samples and rejections of one event, in payload order."""

    samples: list[RawSample] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)
    ignored: list[str] = field(default_factory=list)

    def ignore(self, what: str, reason: str) -> None:
        self.ignored.append(f"{what}: {reason}")

    def add(self, user: str, metric: str, value: Any, unit: str | None, at_raw: Any, *,
            at: datetime | None = None, offset: int | None = None, local_date: str | None = None,
            device_type: str = "unknown", device_model: str | None = None,
            sample_id: str | None = None, coverage: int | None = None) -> None:
        """Add one sample; `value is None` means "not measured" and adds nothing."""
        if value is None:
            return
        value = number(value)
        when = at if at is not None else parse_time(at_raw)
        if when is None and at_raw is not None:
            self.rejections.append(Rejection(None, f"{at_raw!r} is not a timestamp", metric, user))
            return
        self.samples.append(RawSample(
            external_user_id=user, metric=metric, value=value, unit=unit, measured_at=when,
            utc_offset_seconds=offset, local_date=local_date, device_type=device_type,
            device_model=device_model, sample_id=sample_id, coverage_seconds=coverage))

    def reject(self, reason: str, *, index: int | None = None, metric: str | None = None,
               user: str | None = None) -> None:
        self.rejections.append(Rejection(index, reason, metric, user))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
