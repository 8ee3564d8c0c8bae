"""Terra events: {"type", "user": {"user_id", "provider", "reference_id"}, "data": [...]}.

The account is `user.reference_id` (the customer's own id), else Terra's `user_id`.
Mapped: `body`, `daily`, `sleep`. A `daily` or `body` entry covers the window
`metadata.start_time`..`end_time`; its day is the local date of `start_time` in that
time's own offset. A night (`sleep`) belongs to the local date of its `end_time`.
`s3_payload` only links to the real payload (see `terra_linked_url`); lifecycle types
carry no samples.
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
    seconds_between,
    text,
)
from vitaltrust.metrics.types import AdapterError, AdapterResult

LIFECYCLE = frozenset({"auth", "auth_success", "auth_error", "auth_cancelled", "deauth",
                       "user_reauth", "access_revoked", "connection_error", "permission_change",
                       "processing", "large_request_processing", "large_request_sending",
                       "rate_limit_hit", "healthcheck", "google_no_datasource"})
NOT_MAPPED = {
    "activity": "workouts are not tracked metrics",
    "athlete": "the user's profile carries no tracked metric",
    "nutrition": "nutrition is not tracked",
    "menstruation": "menstrual cycle data is not tracked",
    "planned_workout": "planned workouts are not measurements",
}
HR_SUMMARY = (("resting_hr_bpm", "resting_heart_rate", "bpm"),
              ("avg_hrv_rmssd", "hrv_rmssd", "ms"), ("avg_hrv_sdnn", "hrv_sdnn", "ms"))
# words in device_data.name / manufacturer that say what the device is
DEVICE_WORDS = (("scale", "scale"), ("ring", "ring"), ("oura", "ring"), ("watch", "watch"),
                ("strap", "chest_strap"), ("h10", "chest_strap"), ("whoop", "band"),
                ("band", "band"), ("cuff", "bp_cuff"), ("blood pressure", "bp_cuff"))


def terra_linked_url(payload: dict[str, Any]) -> str | None:
    """An `s3_payload` event's link to the payload Terra could not send inline."""
    if payload.get("type") != "s3_payload":
        return None
    url = payload.get("url")
    return url if isinstance(url, str) and url else None


class _Entry:
    """One data entry: who, what device, which window, which day."""

    def __init__(self, out: Collector, user: str, provider: Any, entry: dict[str, Any],
                 kind: str, day_from: str) -> None:
        self.out, self.user, self.entry = out, user, entry
        meta = as_dict(entry.get("metadata"))
        self.start, self.end = meta.get("start_time"), meta.get("end_time")
        self.day = date_text(self.end if day_from == "end" else self.start)
        self.coverage = seconds_between(self.start, self.end)
        self.key = f"{kind}:{text(meta.get('summary_id')) or self.start}"
        device = as_dict(entry.get("device_data"))
        self.model = text(device.get("name"))
        words = f"{device.get('name') or ''} {device.get('manufacturer') or ''}".lower()
        self.device = next((d for w, d in DEVICE_WORDS if w in words),
                           provider_device(provider))

    def value(self, metric: str, value: Any, unit: str, at: Any) -> None:
        """A value of the whole window, on its day."""
        self.out.add(self.user, metric, value, unit, at, local_date=self.day,
                     device_type=device_for(metric, self.device), device_model=self.model,
                     sample_id=f"{self.key}:{metric}", coverage=self.coverage)

    def sample(self, metric: str, value: Any, unit: str, at: Any) -> None:
        """A timed sample: its own timestamp (and offset) dates it."""
        self.out.add(self.user, metric, value, unit, at,
                     device_type=device_for(metric, self.device), device_model=self.model)

    def heart(self, at: Any) -> None:
        """Heart data: `heart_rate_data` (daily, sleep) or `heart_data.heart_rate_data`
        (body); either is read wherever it appears."""
        hr = (as_dict(self.entry.get("heart_rate_data"))
              or as_dict(as_dict(self.entry.get("heart_data")).get("heart_rate_data")))
        summary = as_dict(hr.get("summary"))
        for field, metric, unit in HR_SUMMARY:
            self.value(metric, summary.get(field), unit, at)
        for s in as_list(as_dict(hr.get("detailed")).get("hr_samples")):
            if isinstance(s, dict):
                self.sample("heart_rate", s.get("bpm"), "bpm", s.get("timestamp"))

    def oxygen(self, samples: Any, average: Any, at: Any) -> None:
        timed = [s for s in as_list(samples) if isinstance(s, dict)]
        for s in timed:
            self.sample("spo2", s.get("percentage"), "%", s.get("timestamp"))
        if not timed:
            self.value("spo2", average, "%", at)


def _body(e: _Entry) -> None:
    at = e.start
    for m in as_list(as_dict(e.entry.get("measurements_data")).get("measurements")):
        if isinstance(m, dict):
            when = m.get("measurement_time")
            e.out.add(e.user, "weight", m.get("weight_kg"), "kg", when, device_type="scale",
                      device_model=e.model, sample_id=f"m:{when}:weight")
            e.out.add(e.user, "body_fat", m.get("bodyfat_percentage"), "%", when,
                      device_type="scale", device_model=e.model, sample_id=f"m:{when}:body_fat")
    for bp in as_list(as_dict(e.entry.get("blood_pressure_data")).get("blood_pressure_samples")):
        if isinstance(bp, dict):
            when = bp.get("timestamp")
            e.out.add(e.user, "blood_pressure_systolic", bp.get("systolic_bp"), "mmHg", when,
                      device_type="bp_cuff", device_model=e.model, sample_id=f"bp:{when}:sys")
            e.out.add(e.user, "blood_pressure_diastolic", bp.get("diastolic_bp"), "mmHg", when,
                      device_type="bp_cuff", device_model=e.model, sample_id=f"bp:{when}:dia")
    e.heart(at)
    oxygen = as_dict(e.entry.get("oxygen_data"))
    e.oxygen(oxygen.get("saturation_samples"), oxygen.get("avg_saturation_percentage"), at)
    e.value("vo2max", oxygen.get("vo2max_ml_per_min_per_kg"), "mL/kg/min", at)


def _daily(e: _Entry) -> None:
    at = e.start  # stable while the day's totals grow
    e.value("steps", as_dict(e.entry.get("distance_data")).get("steps"), "steps", at)
    e.heart(at)
    oxygen = as_dict(e.entry.get("oxygen_data"))
    e.oxygen(oxygen.get("saturation_samples"), oxygen.get("avg_saturation_percentage"), at)
    e.value("vo2max", oxygen.get("vo2max_ml_per_min_per_kg"), "mL/kg/min", at)


def _sleep(e: _Entry) -> None:
    at = e.end
    asleep = as_dict(as_dict(e.entry.get("sleep_durations_data")).get("asleep"))
    e.value("sleep_duration", asleep.get("duration_asleep_state_seconds"), "s", at)
    e.heart(at)
    saturation = as_dict(as_dict(e.entry.get("respiration_data")).get("oxygen_saturation_data"))
    e.oxygen(saturation.get("samples"), saturation.get("avg_saturation_percentage"), at)


HANDLERS = {"body": (_body, "start"), "daily": (_daily, "start"), "sleep": (_sleep, "end")}


def adapt_terra(payload: dict[str, Any]) -> AdapterResult:
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind:
        raise AdapterError("missing type")
    terra_user = as_dict(payload.get("user")) or as_dict(payload.get("new_user"))
    user = text(terra_user.get("reference_id")) or text(terra_user.get("user_id"))
    accounts = frozenset({user} if user else ())
    handler = HANDLERS.get(kind)
    if handler is None:
        if kind in LIFECYCLE:
            reason = "a lifecycle event"
        elif kind == "s3_payload":
            reason = "a link to a payload that was not fetched"
        else:
            reason = NOT_MAPPED.get(kind, "not a data type vitaltrust maps")
        return AdapterResult(kind, account_ids=accounts, notification_only=True,
                             ignored=(f"{kind}: {reason}",))
    if user is None:
        raise AdapterError("the event names no user (user.reference_id / user.user_id)")
    data = payload.get("data")
    entries = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
    if entries is None:
        raise AdapterError("'data' must be a list")
    out = Collector()
    handle, day_from = handler
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            out.reject("a data entry must be an object", index=index, user=user)
            continue
        handle(_Entry(out, user, terra_user.get("provider"), entry, kind, day_from))
    return AdapterResult(kind, samples=out.samples, rejections=out.rejections, account_ids=accounts)
