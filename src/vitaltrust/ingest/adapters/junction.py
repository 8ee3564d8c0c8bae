"""Junction (formerly Vital) events delivered through Svix.

Envelope {"event_type", "data", "user_id", "client_user_id", "team_id"}; the account is
`client_user_id` (the customer's own id), else Junction's `user_id`.
- summaries `daily.data.<resource>.created|updated`: `data` is one summary keyed by
  `data.id`; a later event with the same id replaces the earlier samples.
- timeseries `daily.data.<resource>.created`: samples under `data.data[]`
  ({timestamp, value, unit}); blood pressure as {systolic, diastolic}.
- `historical.data.*` and connection events: notifications, no samples.
"""

from __future__ import annotations

from typing import Any

from vitaltrust.ingest.adapters.common import Collector, as_dict, as_list, provider_device, text
from vitaltrust.metrics.types import AdapterError, AdapterResult

# summary resource -> [(field, metric, unit)]
SUMMARY_FIELDS: dict[str, list[tuple[str, str, str | None]]] = {
    "body": [("weight", "weight", "kg"), ("fat", "body_fat", "%")],
    "activity": [("steps", "steps", "steps")],
    "sleep": [("total", "sleep_duration", "s"), ("hr_lowest", "resting_heart_rate", "bpm"),
              ("average_hrv", "hrv_rmssd", "ms")],
}
SUMMARY_TIME_FIELDS = ("date", "bedtime_stop", "calendar_date")
# timeseries resource -> metric (the sample carries its own unit)
TIMESERIES: dict[str, str] = {
    "heartrate": "heart_rate", "heart_rate": "heart_rate", "hrv": "hrv_rmssd",
    "heartrate_variability": "hrv_rmssd", "blood_oxygen": "spo2", "weight": "weight",
    "fat": "body_fat", "body_fat": "body_fat", "steps": "steps", "vo2_max": "vo2max",
    "resting_heart_rate": "resting_heart_rate", "heartrate_resting": "resting_heart_rate",
}


def _resource(event_type: str) -> str | None:
    parts = event_type.split(".")
    if len(parts) == 4 and parts[0] == "daily" and parts[1] == "data":
        return parts[2]
    return None


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
        return AdapterResult(event_type, account_ids=accounts, notification_only=True)
    if user is None:
        raise AdapterError("the event names no user (client_user_id / user_id)")
    source = as_dict(data.get("source"))
    dev = provider_device(source.get("slug") or source.get("provider"),
                          "scale" if resource in ("body", "weight", "fat") else "unknown")
    model = text(source.get("name"))
    out = Collector()
    if isinstance(data.get("data"), list):  # timeseries
        metric = TIMESERIES.get(resource)
        for index, point in enumerate(as_list(data.get("data"))):
            if not isinstance(point, dict):
                out.reject("a timeseries sample must be an object", index=index, user=user)
                continue
            at, unit = point.get("timestamp"), point.get("unit")
            unit = unit if isinstance(unit, str) else None
            sid = text(point.get("id"))
            if resource == "blood_pressure":
                for part in ("systolic", "diastolic"):
                    out.add(user, f"blood_pressure_{part}", point.get(part), unit or "mmHg", at,
                            device_type="bp_cuff", device_model=model,
                            sample_id=f"{sid}:{part}" if sid else None)
            elif metric is not None:
                out.add(user, metric, point.get("value"), unit, at, device_type=dev,
                        device_model=model, sample_id=sid)
        if metric is None and resource != "blood_pressure":
            return AdapterResult(event_type, account_ids=accounts, notification_only=True)
    elif resource in SUMMARY_FIELDS:
        summary_id = text(data.get("id"))
        at_raw = next((data[f] for f in SUMMARY_TIME_FIELDS if data.get(f) is not None), None)
        local_date = data.get("calendar_date") if isinstance(data.get("calendar_date"), str) else None
        for field_name, metric, unit in SUMMARY_FIELDS[resource]:
            if resource == "sleep" and field_name == "total" and data.get("total") is None:
                field_name = "duration"
            out.add(user, metric, data.get(field_name), unit, at_raw, local_date=local_date,
                    device_type=dev, device_model=model,
                    sample_id=f"{summary_id}:{metric}" if summary_id else None)
    else:
        return AdapterResult(event_type, account_ids=accounts, notification_only=True)
    return AdapterResult(event_type, samples=out.samples, rejections=out.rejections,
                         account_ids=accounts)
