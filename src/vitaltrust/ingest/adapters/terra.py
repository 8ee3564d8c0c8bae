"""Terra events: {"type", "user": {"user_id", "provider", "reference_id"}, "data": [...]}.

The account is `user.reference_id` (the customer's own id), else Terra's `user_id`.
Handled: `body`, `daily`, `sleep`. Lifecycle types carry no samples.
"""

from __future__ import annotations

from typing import Any

from vitaltrust.ingest.adapters.common import (
    Collector,
    as_dict,
    as_list,
    date_text,
    provider_device,
    text,
)
from vitaltrust.metrics.types import AdapterError, AdapterResult

LIFECYCLE = frozenset({"auth", "deauth", "user_reauth", "access_revoked", "connection_error",
                       "processing", "large_request_processing", "large_request_sending",
                       "rate_limit_hit", "permission_change", "healthcheck"})
HR_SUMMARY = (("resting_hr_bpm", "resting_heart_rate", "bpm"), ("avg_hrv_rmssd", "hrv_rmssd", "ms"),
              ("avg_hrv_sdnn", "hrv_sdnn", "ms"))


def _heart(out: Collector, user: str, entry: dict[str, Any], at: Any, dev: str, model: str | None,
           key: str) -> None:
    hr = as_dict(as_dict(entry.get("heart_data")).get("heart_rate_data")) \
        or as_dict(entry.get("heart_rate_data"))
    summary = as_dict(hr.get("summary"))
    for field, metric, unit in HR_SUMMARY:
        out.add(user, metric, summary.get(field), unit, at, device_type=dev, device_model=model,
                sample_id=f"{key}:{metric}")
    for sample in as_list(as_dict(hr.get("detailed")).get("hr_samples")):
        if isinstance(sample, dict):
            out.add(user, "heart_rate", sample.get("bpm"), "bpm", sample.get("timestamp"),
                    device_type=dev, device_model=model)


def _oxygen(out: Collector, user: str, entry: dict[str, Any], at: Any, dev: str,
            model: str | None, key: str) -> None:
    oxygen = as_dict(entry.get("oxygen_data"))
    samples = [s for s in as_list(oxygen.get("saturation_samples")) if isinstance(s, dict)]
    for sample in samples:
        out.add(user, "spo2", sample.get("percentage"), "%", sample.get("timestamp"),
                device_type=dev, device_model=model)
    if not samples:
        out.add(user, "spo2", oxygen.get("avg_saturation_percentage"), "%", at,
                device_type=dev, device_model=model, sample_id=f"{key}:spo2")
    out.add(user, "vo2max", oxygen.get("vo2max_ml_per_min_per_kg"), "mL/kg/min", at,
            device_type=dev, device_model=model, sample_id=f"{key}:vo2max")


def _body(out: Collector, user: str, entry: dict[str, Any], dev: str, model: str | None) -> None:
    meta = as_dict(entry.get("metadata"))
    at = meta.get("end_time") or meta.get("start_time")
    key = f"body:{meta.get('start_time')}"
    for m in as_list(as_dict(entry.get("measurements_data")).get("measurements")):
        if not isinstance(m, dict):
            continue
        when = m.get("measurement_time")
        out.add(user, "weight", m.get("weight_kg"), "kg", when, device_type="scale"
                if dev == "unknown" else dev, device_model=model, sample_id=f"m:{when}:weight")
        out.add(user, "body_fat", m.get("bodyfat_percentage"), "%", when,
                device_type="scale" if dev == "unknown" else dev, device_model=model,
                sample_id=f"m:{when}:body_fat")
    for bp in as_list(as_dict(entry.get("blood_pressure_data")).get("blood_pressure_samples")):
        if isinstance(bp, dict):
            when = bp.get("timestamp")
            out.add(user, "blood_pressure_systolic", bp.get("systolic_bp"), "mmHg", when,
                    device_type="bp_cuff", device_model=model, sample_id=f"bp:{when}:sys")
            out.add(user, "blood_pressure_diastolic", bp.get("diastolic_bp"), "mmHg", when,
                    device_type="bp_cuff", device_model=model, sample_id=f"bp:{when}:dia")
    _heart(out, user, entry, at, dev, model, key)
    _oxygen(out, user, entry, at, dev, model, key)


def _daily(out: Collector, user: str, entry: dict[str, Any], dev: str, model: str | None) -> None:
    meta = as_dict(entry.get("metadata"))
    start = meta.get("start_time")
    key, local = f"daily:{start}", date_text(start)
    at = meta.get("end_time") or start
    out.add(user, "steps", as_dict(entry.get("distance_data")).get("steps"), "steps", at,
            local_date=local, device_type=dev, device_model=model, sample_id=f"{key}:steps")
    _heart(out, user, entry, at, dev, model, key)
    _oxygen(out, user, entry, at, dev, model, key)


def _sleep(out: Collector, user: str, entry: dict[str, Any], dev: str, model: str | None) -> None:
    meta = as_dict(entry.get("metadata"))
    asleep = as_dict(as_dict(entry.get("sleep_durations_data")).get("asleep"))
    out.add(user, "sleep_duration", asleep.get("duration_asleep_state_seconds"), "s",
            meta.get("end_time"), local_date=date_text(meta.get("end_time")), device_type=dev,
            device_model=model, sample_id=f"sleep:{meta.get('start_time')}:duration")


HANDLERS = {"body": _body, "daily": _daily, "sleep": _sleep}


def adapt_terra(payload: dict[str, Any]) -> AdapterResult:
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind:
        raise AdapterError("missing type")
    terra_user = as_dict(payload.get("user"))
    user = text(terra_user.get("reference_id")) or text(terra_user.get("user_id"))
    accounts = frozenset({user} if user else ())
    handler = HANDLERS.get(kind)
    if kind in LIFECYCLE or handler is None:
        return AdapterResult(kind, account_ids=accounts, notification_only=True)
    if user is None:
        raise AdapterError("the event names no user (user.reference_id / user.user_id)")
    data = payload.get("data")
    entries = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
    if entries is None:
        raise AdapterError("'data' must be a list")
    out = Collector()
    dev = provider_device(terra_user.get("provider"))
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            out.reject("a data entry must be an object", index=index, user=user)
            continue
        device_data = as_dict(entry.get("device_data"))
        model = text(device_data.get("name"))
        handler(out, user, entry, dev, model)
    return AdapterResult(kind, samples=out.samples, rejections=out.rejections, account_ids=accounts)
