"""Provider bodies and signatures for the demo's deliveries (pure).

Three demo sources, one per provider kind, plus the phone app:
- `demo-scale` (standard, Standard Webhooks): the smart scale and the blood-pressure cuff;
- `demo-app` (standard): manual entries typed into the client's phone app;
- `demo-terra` (terra): Oura rings and Fitbit watches through Terra;
- `demo-garmin` (garmin): Garmin watches (push API, shared-secret header).
Signed exactly as each provider signs (see ingest/signatures.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vitaltrust.demo.profiles import Client, Reading

SOURCES = {"demo-scale": "standard", "demo-app": "standard", "demo-terra": "terra",
           "demo-garmin": "garmin"}
UNITS = {"weight": "kg", "body_fat": "%", "resting_heart_rate": "bpm", "hrv_rmssd": "ms",
         "steps": "steps", "sleep_duration": "s", "blood_pressure_systolic": "mmHg",
         "blood_pressure_diastolic": "mmHg"}
MODELS = {"scale": "Body+", "bp_cuff": "BPM Connect", "manual": None}


@dataclass(frozen=True)
class Delivery:
    source: str
    body: bytes
    event_id: str  # our message id (standard, terra); Garmin sends none
    account: str
    note: str = ""  # e.g. "malformed", "unlinked", "outage"


def source_for(client: Client, channel: str) -> str:
    if channel == "scale":
        return "demo-scale"
    if channel == "app":
        return "demo-app"
    return "demo-garmin" if client.wearable == "garmin" else "demo-terra"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def standard_body(account: str, readings: Iterable[Reading]) -> bytes:
    return _dumps({"type": "samples", "user": account, "samples": [
        {"metric": r.metric, "value": r.value, "unit": UNITS[r.metric], "measured_at": _iso(r.at),
         "device": {"type": r.device, **({"model": m} if (m := MODELS.get(r.device)) else {})},
         "id": f"{r.metric}-{_epoch(r.at)}"}
        for r in readings]})


def _by_day(readings: Iterable[Reading]) -> dict[datetime, dict[str, Reading]]:
    days: dict[datetime, dict[str, Reading]] = defaultdict(dict)
    for r in readings:
        day = r.at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        days[day][r.metric] = r
    return days


def terra_bodies(client: Client, account: str, readings: Sequence[Reading]) -> list[bytes]:
    """One `daily` and one `sleep` event (Terra sends one data type per event)."""
    user = {"user_id": f"t-{uuid.UUID(int=client.index).hex[:12]}", "reference_id": account,
            "provider": (client.wearable or "fitbit").upper()}
    device = {"name": "Oura Ring Gen3" if client.wearable == "oura" else "Fitbit Charge 6"}
    daily, sleep = [], []
    for day, m in sorted(_by_day(readings).items()):
        if "steps" in m or "resting_heart_rate" in m:
            end = m["steps"].at if "steps" in m else m["resting_heart_rate"].at
            summary = {k: m[metric].value for k, metric in (("resting_hr_bpm", "resting_heart_rate"),
                                                            ("avg_hrv_rmssd", "hrv_rmssd"))
                       if metric in m}
            daily.append({"metadata": {"start_time": _iso(day), "end_time": _iso(end)},
                          "distance_data": {"steps": m["steps"].value} if "steps" in m else {},
                          "heart_data": {"heart_rate_data": {"summary": summary}},
                          "device_data": device})
        if "sleep_duration" in m:
            r = m["sleep_duration"]
            sleep.append({"metadata": {"start_time": _iso(r.at - timedelta(seconds=r.value)),
                                       "end_time": _iso(r.at)},
                          "sleep_durations_data": {"asleep": {
                              "duration_asleep_state_seconds": r.value}},
                          "device_data": device})
    return [_dumps({"type": kind, "user": user, "data": data})
            for kind, data in (("daily", daily), ("sleep", sleep)) if data]


def garmin_body(account: str, readings: Sequence[Reading]) -> bytes:
    dailies, sleeps, hrv = [], [], []
    for day, m in sorted(_by_day(readings).items()):
        start, date = _epoch(day), day.date().isoformat()
        if "steps" in m or "resting_heart_rate" in m:
            end = m["steps"].at if "steps" in m else m["resting_heart_rate"].at
            entry: dict[str, Any] = {"userId": account, "summaryId": f"d-{account}-{date}",
                                     "calendarDate": date, "startTimeInSeconds": start,
                                     "startTimeOffsetInSeconds": 0,
                                     "durationInSeconds": _epoch(end) - start}
            if "steps" in m:
                entry["steps"] = int(m["steps"].value)
            if "resting_heart_rate" in m:
                entry["restingHeartRateInBeatsPerMinute"] = int(m["resting_heart_rate"].value)
            dailies.append(entry)
        if "sleep_duration" in m:
            r = m["sleep_duration"]
            sleeps.append({"userId": account, "summaryId": f"s-{account}-{date}",
                           "calendarDate": date, "startTimeInSeconds": _epoch(r.at) - int(r.value),
                           "startTimeOffsetInSeconds": 0, "durationInSeconds": int(r.value)})
        if "hrv_rmssd" in m:
            r, night = m["hrv_rmssd"], 7 * 3600
            hrv.append({"userId": account, "summaryId": f"h-{account}-{date}",
                        "calendarDate": date, "lastNightAvg": r.value,
                        "startTimeInSeconds": _epoch(r.at) - night,
                        "startTimeOffsetInSeconds": 0, "durationInSeconds": night})
    payload = {k: v for k, v in (("dailies", dailies), ("sleeps", sleeps), ("hrv", hrv)) if v}
    return _dumps(payload)


def deliveries(client: Client, readings: Sequence[Reading]) -> list[Delivery]:
    """The deliveries that carry `readings` (one per source, Terra one per data type)."""
    by_channel: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        by_channel[r.channel].append(r)
    out = []
    for channel, items in sorted(by_channel.items()):
        source, account = source_for(client, channel), client.accounts[channel]
        if SOURCES[source] == "standard":
            bodies = [standard_body(account, items)]
        elif SOURCES[source] == "terra":
            bodies = terra_bodies(client, account, items)
        else:
            bodies = [garmin_body(account, items)]
        out += [Delivery(source, body, new_event_id(), account) for body in bodies if body != b"{}"]
    return out


def new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signed_headers(kind: str, secret: str, delivery: Delivery, now: float) -> dict[str, str]:
    """The headers the provider would send (a fresh timestamp, the same event id on resend)."""
    ts = str(int(now))
    headers = {"content-type": "application/json"}
    if kind == "standard":
        key = base64.b64decode(secret.removeprefix("whsec_"))
        mac = hmac.new(key, f"{delivery.event_id}.{ts}.".encode() + delivery.body, hashlib.sha256)
        headers.update({"webhook-id": delivery.event_id, "webhook-timestamp": ts,
                        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode()})
    elif kind == "terra":
        mac = hmac.new(secret.encode(), f"{ts}.".encode() + delivery.body, hashlib.sha256)
        headers.update({"terra-signature": f"t={ts},v1={mac.hexdigest()}",
                        "terra-reference": delivery.event_id})
    else:
        headers["x-vitaltrust-secret"] = secret
    return headers
