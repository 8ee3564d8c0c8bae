"""Junction (formerly Vital) events delivered through Svix.

Envelope {"event_type", "data", "user_id", "client_user_id", "team_id"}; the account is
`client_user_id` (the customer's own id), else Junction's `user_id`.
- summaries `daily.data.<resource>.created|updated`: `data` is one summary keyed by
  `data.id`; a later event with the same id replaces the earlier samples. Its day is
  `calendar_date`, or the date of the deprecated `date` when `calendar_date` is malformed
  (Junction's own published body example sends "2024-10-").
- timeseries `daily.data.<resource>.created|updated`: samples under `data.data[]`
  ({timestamp, timezone_offset, value, unit}); blood pressure as {systolic, diastolic}.
  Numbers may arrive as text ("125").
- `historical.data.*` and connection events: notifications, no samples.
"""

from __future__ import annotations

from typing import Any

from vitaltrust.ingest.adapters.common import (
    Collector,
    as_dict,
    as_list,
    date_text,
    device_for,
    provider_device,
    text,
)
from vitaltrust.metrics.types import AdapterError, AdapterResult

# summary resource -> [(field, metric, unit)], and the field that times the summary
SUMMARY_FIELDS: dict[str, list[tuple[str, str, str | None]]] = {
    "body": [("weight", "weight", "kg"), ("fat", "body_fat", "%")],
    "activity": [("steps", "steps", "steps")],
    "sleep": [("total", "sleep_duration", "s"), ("hr_lowest", "resting_heart_rate", "bpm"),
              ("average_hrv", "hrv_rmssd", "ms")],
}
SUMMARY_TIME = {"body": ("date",), "activity": ("date",), "sleep": ("bedtime_stop", "date")}
# timeseries resource -> metric (each sample carries its own unit)
TIMESERIES: dict[str, str] = {
    "heartrate": "heart_rate", "heart_rate": "heart_rate", "hrv": "hrv_rmssd",
    "heartrate_variability": "hrv_rmssd", "blood_oxygen": "spo2", "weight": "weight",
    "fat": "body_fat", "body_fat": "body_fat", "vo2_max": "vo2max",
    "resting_heart_rate": "resting_heart_rate", "heartrate_resting": "resting_heart_rate",
}
NOT_MAPPED = {
    "steps": "interval step counts; the day's total comes from the activity summary",
    "workouts": "workouts are not tracked metrics", "workout_stream": "workout streams "
    "are not tracked metrics", "meal": "nutrition is not tracked",
}
# Junction's `source.type` -> our device type
SOURCE_TYPES = {"watch": "watch", "ring": "ring", "scale": "scale", "cuff": "bp_cuff",
                "chest_strap": "chest_strap", "phone": "phone", "manual_scan": "manual",
                "fingerprick": "lab", "lab": "lab"}


def _resource(event_type: str) -> str | None:
    parts = event_type.split(".")
    if len(parts) == 4 and parts[0] == "daily" and parts[1] == "data":
        return parts[2]
    return None


def _device(source: dict[str, Any], resource: str) -> str:
    by_type = SOURCE_TYPES.get(str(source.get("type") or "").lower())
    if by_type:
        return by_type
    default = "scale" if resource in ("body", "weight", "fat", "body_fat") else "unknown"
    return provider_device(source.get("provider") or source.get("slug"), default)


def _timeseries(out: Collector, user: str, resource: str, data: dict[str, Any], dev: str,
                model: str | None) -> bool:
    """Add the samples under data.data; False when the resource is not mapped."""
    metric = TIMESERIES.get(resource)
    if metric is None and resource != "blood_pressure":
        return False
    for index, point in enumerate(as_list(data.get("data"))):
        if not isinstance(point, dict):
            out.reject("a timeseries sample must be an object", index=index, user=user)
            continue
        at, unit = point.get("timestamp"), point.get("unit")
        unit = unit if isinstance(unit, str) and unit else None
        offset = point.get("timezone_offset")
        offset = offset if isinstance(offset, int) and not isinstance(offset, bool) else None
        sid = text(point.get("id"))
        if resource == "blood_pressure":
            for part in ("systolic", "diastolic"):
                out.add(user, f"blood_pressure_{part}", point.get(part), unit or "mmHg", at,
                        offset=offset, device_type="bp_cuff", device_model=model,
                        sample_id=f"{sid}:{part}" if sid else None)
        elif metric is not None:
            out.add(user, metric, point.get("value"), unit, at, offset=offset,
                    device_type=device_for(metric, dev), device_model=model, sample_id=sid)
    return True


def _summary(out: Collector, user: str, resource: str, data: dict[str, Any], dev: str,
             model: str | None) -> None:
    summary_id = text(data.get("id"))
    at = next((data[f] for f in SUMMARY_TIME[resource] if data.get(f) is not None), None)
    day = date_text(data.get("calendar_date")) or date_text(data.get("date"))
    if at is None and day is not None:
        at = day
    for field_name, metric, unit in SUMMARY_FIELDS[resource]:
        if resource == "sleep" and field_name == "total" and data.get("total") is None:
            field_name = "duration"
        out.add(user, metric, data.get(field_name), unit, at, local_date=day,
                device_type=device_for(metric, dev), device_model=model,
                sample_id=f"{summary_id}:{metric}" if summary_id else None)


def adapt_junction(payload: dict[str, Any]) -> AdapterResult:
    event_type = payload.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise AdapterError("missing event_type")
    data = as_dict(payload.get("data"))
    user = (text(payload.get("client_user_id")) or text(data.get("client_user_id"))
            or text(payload.get("user_id")) or text(data.get("user_id")))
    accounts = frozenset({user} if user else ())
    resource = _resource(event_type)
    if resource is None:  # historical.data.*, provider.connection.*, labtest.* ...
        return AdapterResult(event_type, account_ids=accounts, notification_only=True,
                             ignored=(f"{event_type}: a notification without data",))
    if user is None:
        raise AdapterError("the event names no user (client_user_id / user_id)")
    source = as_dict(data.get("source"))
    dev = _device(source, resource)
    model = text(source.get("name"))
    out = Collector()
    if isinstance(data.get("data"), list):
        mapped = _timeseries(out, user, resource, data, dev, model)
    elif resource in SUMMARY_FIELDS:
        _summary(out, user, resource, data, dev, model)
        mapped = True
    else:
        mapped = False
    if not mapped:
        reason = NOT_MAPPED.get(resource, f"{resource} is not a tracked metric")
        return AdapterResult(event_type, account_ids=accounts, notification_only=True,
                             ignored=(f"{event_type}: {reason}",))
    return AdapterResult(event_type, samples=out.samples, rejections=out.rejections,
                         account_ids=accounts)
