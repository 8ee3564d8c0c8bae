"""Garmin Health API push (and ping) notifications: one POST may hold many users.

Every top-level key holding a list is a summary type ("dailies", "sleeps", ...). Times are
UTC seconds with a separate local offset (`...OffsetInSeconds`); the keys of sample maps
(`timeOffsetHeartRateSamples`, `timeOffsetSpo2Values`, ...) are seconds after the
summary's `startTimeInSeconds`. One-per-day summaries carry Garmin's `calendarDate`, which
is the day the value belongs to; `durationInSeconds` says how much of it they cover (a
mid-day sync sends a partial daily, later replaced by a longer one with the same start).

A ping (ping/pull integrations) carries only `userId` and a `callbackURL`: the data must be
pulled from that URL, which this adapter reports as `needs_pull`.
"""

from __future__ import annotations

from typing import Any

from vitaltrust.ingest.adapters.common import (
    Collector,
    as_dict,
    date_text,
    local_day,
    text,
    unix_with_offset,
)
from vitaltrust.metrics.types import AdapterError, AdapterResult

# spellings of one summary type (Garmin's spec says "pulseox", its backfill URL "pulseOx")
ALIASES = {"pulseOx": "pulseox", "pulseOX": "pulseox", "bodyComposition": "bodyComps",
           "respiration": "allDayRespiration", "moveIQ": "moveiq", "moveIq": "moveiq",
           "skinTemperature": "skinTemp", "userMetric": "userMetrics"}
MAPPED = frozenset({"dailies", "sleeps", "hrv", "userMetrics", "bodyComps", "bloodPressures",
                    "pulseox"})
LIFECYCLE = {
    "deregistrations": "the user disconnected vitaltrust from Garmin Connect",
    "userPermissionsChange": "the user changed which data Garmin may share",
}
# valid summary types that carry nothing vitaltrust tracks
NOT_MAPPED = {
    "epochs": "15-minute slices of the daily summary; the daily totals are stored instead",
    "stressDetails": "stress and Body Battery levels are not tracked metrics",
    "allDayRespiration": "respiration rate is not a tracked metric",
    "skinTemp": "skin temperature deviation is not a tracked metric",
    "healthSnapshot": "a two-minute spot check, not a resting or nightly value",
    "activities": "workouts are not tracked metrics",
    "manuallyUpdatedActivities": "workouts are not tracked metrics",
    "activityDetails": "workouts are not tracked metrics",
    "activityFiles": "workout files are not tracked metrics",
    "moveiq": "auto-detected activity periods carry no tracked metric",
    "mct": "menstrual cycle data is not tracked",
    "bodyBattery": "Body Battery is not a tracked metric",
}


def _seconds(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


class _Summary:
    """One summary entry: its user, id, start, local offset and Garmin calendar day."""

    def __init__(self, list_name: str, user: str, entry: dict[str, Any]) -> None:
        self.entry = entry
        self.user = user
        self.start = _seconds(entry.get("startTimeInSeconds"))
        raw_offset = entry.get("startTimeOffsetInSeconds", entry.get("offsetStartTimeInSeconds"))
        self.offset = _seconds(raw_offset)
        self.duration = _seconds(entry.get("durationInSeconds"))
        self.key = text(entry.get("summaryId")) or f"{list_name}:{user}:{self.start}"
        self.day = (date_text(entry.get("calendarDate"))
                    or local_day(unix_with_offset(self.start, self.offset)[0]))

    def value(self, out: Collector, field: str, metric: str, unit: str, *, at_end: bool = False
              ) -> None:
        """A whole-summary value on Garmin's calendar day, timed at the summary's start
        (stable while a daily grows) or, for a night, at its end (the wake-up)."""
        seconds = self.start
        if at_end and seconds is not None and self.duration is not None:
            seconds += self.duration
        at, _ = unix_with_offset(seconds, self.offset)
        raw = seconds if seconds is not None else self.day
        out.add(self.user, metric, self.entry.get(field), unit, raw, at=at, offset=self.offset,
                local_date=self.day, device_type="watch", sample_id=f"{self.key}:{metric}",
                coverage=self.duration)

    def series(self, out: Collector, field: str, metric: str, unit: str) -> None:
        """A map of offset-from-start -> value: one timed sample each."""
        if self.start is None:
            return
        for offset, value in as_dict(self.entry.get(field)).items():
            try:
                seconds = self.start + int(offset)
            except ValueError:
                out.reject(f"{field} offset {offset!r} is not a number", metric=metric,
                           user=self.user)
                continue
            at, local = unix_with_offset(seconds, self.offset)
            out.add(self.user, metric, value, unit, seconds, at=at, offset=local,
                    device_type="watch")


def _timed(out: Collector, user: str, e: dict[str, Any], sid: str,
           fields: tuple[tuple[str, str, str], ...], dev: str) -> None:
    """A single measurement (`measurementTimeInSeconds` + its own offset)."""
    raw = e.get("measurementTimeInSeconds")
    at, off = unix_with_offset(_seconds(raw), e.get("measurementTimeOffsetInSeconds"))
    for field, metric, unit in fields:
        out.add(user, metric, e.get(field), unit, raw, at=at, offset=off, device_type=dev,
                sample_id=f"{sid}:{metric}")


def _entry(out: Collector, list_name: str, user: str, e: dict[str, Any]) -> None:
    s = _Summary(list_name, user, e)
    if list_name == "bodyComps":
        _timed(out, user, e, s.key, (("weightInGrams", "weight", "g"),
                                     ("bodyFatInPercent", "body_fat", "%")), "scale")
    elif list_name == "bloodPressures":
        manual = str(e.get("sourceType", "")).upper() == "MANUAL"
        _timed(out, user, e, s.key, (("systolic", "blood_pressure_systolic", "mmHg"),
                                     ("diastolic", "blood_pressure_diastolic", "mmHg"),
                                     ("pulse", "heart_rate", "bpm")),
               "manual" if manual else "bp_cuff")
    elif list_name == "dailies":
        s.value(out, "steps", "steps", "steps")
        s.value(out, "restingHeartRateInBeatsPerMinute", "resting_heart_rate", "bpm")
        s.series(out, "timeOffsetHeartRateSamples", "heart_rate", "bpm")
    elif list_name == "sleeps":
        if s.start is not None and s.duration is not None and not date_text(e.get("calendarDate")):
            # a night belongs to the day the user woke up
            s.day = local_day(unix_with_offset(s.start + s.duration, s.offset)[0])
        s.value(out, "durationInSeconds", "sleep_duration", "s", at_end=True)
        s.series(out, "timeOffsetSleepSpo2", "spo2", "%")
        s.series(out, "timeOffsetSpo2Values", "spo2", "%")
    elif list_name == "hrv":
        s.value(out, "lastNightAvg", "hrv_rmssd", "ms")
    elif list_name == "userMetrics":
        s.value(out, "vo2Max", "vo2max", "mL/kg/min")
    elif list_name == "pulseox":
        s.series(out, "timeOffsetSpo2Values", "spo2", "%")


def _is_ping(entry: dict[str, Any]) -> bool:
    return isinstance(entry.get("callbackURL"), str) and not any(
        k not in ("userId", "userAccessToken", "callbackURL", "summaryId") for k in entry)


def adapt_garmin(payload: dict[str, Any]) -> AdapterResult:
    known = MAPPED | LIFECYCLE.keys() | NOT_MAPPED.keys()
    lists = [(ALIASES.get(k, k), k) for k, v in payload.items() if isinstance(v, list) and (
        ALIASES.get(k, k) in known or any(isinstance(e, dict) and "userId" in e for e in v))]
    if not lists:
        raise AdapterError("no Garmin summary list in the payload")
    out = Collector()
    pings = mapped = 0
    for name, key in lists:
        unmapped = 0
        for index, entry in enumerate(payload[key]):
            if not isinstance(entry, dict):
                out.reject(f"{key}[{index}] is not an object", index=index)
                continue
            user = text(entry.get("userId"))
            if user is None:
                out.reject(f"{key}[{index}] has no userId", index=index)
                continue
            out.accounts.add(user)
            if _is_ping(entry):
                pings += 1
            elif name in MAPPED:
                mapped += 1
                _entry(out, name, user, entry)
            elif name not in LIFECYCLE:
                unmapped += 1
        if name in LIFECYCLE and payload[key]:
            out.ignore(key, LIFECYCLE[name])
        elif unmapped:
            noun = "summary" if unmapped == 1 else "summaries"
            out.ignore(f"{key} ({unmapped} {noun})",
                       NOT_MAPPED.get(name, "not a summary type vitaltrust maps"))
    if pings:
        out.ignore(f"{pings} ping(s)", "the data must be pulled from the callback URL")
    return AdapterResult(",".join(k for _, k in lists)[:100], samples=out.samples,
                         rejections=out.rejections, account_ids=frozenset(out.accounts),
                         notification_only=mapped == 0, ignored=tuple(out.ignored),
                         needs_pull=pings > 0 and not out.samples)
