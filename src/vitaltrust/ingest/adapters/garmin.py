"""Garmin Health API push: one POST may hold many users under top-level lists.

Times are UTC seconds with a separate local offset (`...OffsetInSeconds`); offsets of
sample maps (`timeOffsetHeartRateSamples`, `timeOffsetSpo2Values`) are seconds after the
summary's `startTimeInSeconds`. Summaries are keyed by `summaryId`.
"""

from __future__ import annotations

from typing import Any

from vitaltrust.ingest.adapters.common import Collector, as_dict, text, unix_with_offset
from vitaltrust.ingest.envelope import GARMIN_LISTS
from vitaltrust.metrics.types import AdapterError, AdapterResult

NOTIFICATION_LISTS = ("deregistrations", "userPermissionsChange")


def _offset_series(out: Collector, user: str, entry: dict[str, Any], field: str, metric: str,
                   unit: str, dev: str, key: str) -> None:
    start = entry.get("startTimeInSeconds")
    series = as_dict(entry.get(field))
    if not isinstance(start, int) or isinstance(start, bool):
        return
    for offset, value in series.items():
        try:
            seconds = start + int(offset)
        except ValueError:
            out.reject(f"{field} offset {offset!r} is not a number", metric=metric, user=user)
            continue
        at, local = unix_with_offset(seconds, entry.get("startTimeOffsetInSeconds"))
        out.add(user, metric, value, unit, seconds, at=at, offset=local, device_type=dev,
                sample_id=f"{key}:{metric}:{offset}")


def _entry(out: Collector, list_name: str, user: str, e: dict[str, Any]) -> None:
    sid = text(e.get("summaryId")) or f"{list_name}:{e.get('calendarDate')}"
    day = e.get("calendarDate") if isinstance(e.get("calendarDate"), str) else None
    if list_name == "bodyComps":
        raw = e.get("measurementTimeInSeconds")
        at, off = unix_with_offset(raw, e.get("measurementTimeOffsetInSeconds"))
        out.add(user, "weight", e.get("weightInGrams"), "g", raw, at=at, offset=off,
                device_type="scale", sample_id=f"{sid}:weight")
        out.add(user, "body_fat", e.get("bodyFatInPercent"), "%", raw, at=at, offset=off,
                device_type="scale", sample_id=f"{sid}:body_fat")
    elif list_name == "bloodPressures":
        raw = e.get("measurementTimeInSeconds")
        at, off = unix_with_offset(raw, e.get("measurementTimeOffsetInSeconds"))
        for field, metric in (("systolic", "blood_pressure_systolic"),
                              ("diastolic", "blood_pressure_diastolic")):
            out.add(user, metric, e.get(field), "mmHg", raw, at=at, offset=off,
                    device_type="bp_cuff", sample_id=f"{sid}:{metric}")
    elif list_name in ("dailies", "sleeps", "hrv", "userMetrics", "pulseOx"):
        start = e.get("startTimeInSeconds")
        end = start + e["durationInSeconds"] if isinstance(start, int) and isinstance(
            e.get("durationInSeconds"), int) else start
        raw = end if end is not None else day
        at, off = unix_with_offset(end, e.get("startTimeOffsetInSeconds"))
        fields = {
            "dailies": (("steps", "steps", "steps"),
                        ("restingHeartRateInBeatsPerMinute", "resting_heart_rate", "bpm")),
            "sleeps": (("durationInSeconds", "sleep_duration", "s"),),
            "hrv": (("lastNightAvg", "hrv_rmssd", "ms"),),
            "userMetrics": (("vo2Max", "vo2max", "mL/kg/min"),),
            "pulseOx": (),
        }[list_name]
        for field, metric, unit in fields:
            out.add(user, metric, e.get(field), unit, raw, at=at, offset=off, local_date=day,
                    device_type="watch", sample_id=f"{sid}:{metric}")
        if list_name == "dailies":
            _offset_series(out, user, e, "timeOffsetHeartRateSamples", "heart_rate", "bpm",
                           "watch", sid)
        if list_name == "pulseOx":
            _offset_series(out, user, e, "timeOffsetSpo2Values", "spo2", "%", "watch", sid)


def adapt_garmin(payload: dict[str, Any]) -> AdapterResult:
    present = [k for k in GARMIN_LISTS if isinstance(payload.get(k), list)]
    if not present:
        raise AdapterError("no Garmin summary list in the payload")
    out = Collector()
    for list_name in present:
        for index, entry in enumerate(payload[list_name]):
            if not isinstance(entry, dict):
                out.reject(f"{list_name}[{index}] is not an object", index=index)
                continue
            user = text(entry.get("userId"))
            if user is None:
                out.reject(f"{list_name}[{index}] has no userId", index=index)
                continue
            out.accounts.add(user)
            _entry(out, list_name, user, entry)
    notification_only = all(k in NOTIFICATION_LISTS or k in ("epochs", "stressDetails")
                            for k in present)
    return AdapterResult(",".join(present), samples=out.samples, rejections=out.rejections,
                         account_ids=frozenset(out.accounts), notification_only=notification_only)
