"""Simulated clients with a known truth, observed through devices and failure modes (pure).

Each user gets true daily trajectories per metric, a set of devices (sources), and the
deliveries those devices would send to `POST /webhooks/{source}` (our standard body).
Everything derives from `random.Random(f"{seed}:{user index}")`, so a user's data does
not depend on how many other users a run has, and the same seed gives the same run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from vitaltrust.calibration import errors as E

METRICS = ("weight", "body_fat", "resting_heart_rate", "hrv_rmssd", "steps", "sleep_duration",
           "blood_pressure_systolic", "blood_pressure_diastolic", "spo2")
UNITS = {"weight": "kg", "body_fat": "%", "resting_heart_rate": "bpm", "hrv_rmssd": "ms",
         "steps": "steps", "sleep_duration": "s", "blood_pressure_systolic": "mmHg",
         "blood_pressure_diastolic": "mmHg", "spo2": "%"}
# source name -> (device type, metrics it sends)
SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cal-scale": ("scale", ("weight", "body_fat")),
    "cal-app": ("manual", ("weight", "sleep_duration", "blood_pressure_systolic",
                           "blood_pressure_diastolic")),
    "cal-watch": ("watch", ("resting_heart_rate", "hrv_rmssd", "steps", "sleep_duration", "spo2")),
    "cal-ring": ("ring", ("resting_heart_rate", "hrv_rmssd", "steps", "sleep_duration", "spo2")),
    "cal-phone": ("phone", ("steps",)),
    "cal-cuff": ("bp_cuff", ("blood_pressure_systolic", "blood_pressure_diastolic")),
    "cal-strap": ("chest_strap", ("resting_heart_rate", "hrv_rmssd")),
}
SOURCE_IDS = {name: i for i, name in enumerate(SOURCES, start=1)}
TIME_ZONES = ("UTC", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
              "Australia/Sydney")
HISTORY_DAYS = 44  # 30-day window + the 7-day look-back + some history before it
LB_PER_KG = 2.2046


@dataclass(frozen=True)
class FailureRates:
    """Per-user or per-reading probabilities of the failure modes (all seeded)."""
    unit_slip: float = 0.05        # a manual weight typed in lb but sent as kg (per entry)
    impossible: float = 0.004      # a garbage value (per reading)
    duplicate: float = 0.04        # a delivery sent twice (per delivery)
    gap: float = 0.20              # a device loses a run of days (per device)
    stale: float = 0.15            # a device stopped syncing some days ago (per device)
    tz_error: float = 0.05         # a device labels local time as UTC (per device)
    lb_scale: float = 0.2          # a scale that reports in lb, correctly labelled


@dataclass(frozen=True)
class Delivery:
    source: str
    account: str
    message_id: str
    body: dict[str, Any]
    received_at: datetime


@dataclass
class SimUser:
    index: int
    account: str
    time_zone: str
    truth: dict[str, dict[date, float]] = field(default_factory=dict)
    devices: dict[str, list[str]] = field(default_factory=dict)  # metric -> source names
    notes: dict[str, list[str]] = field(default_factory=dict)    # source -> failure modes

    def true_mean(self, metric: str) -> float:
        values = list(self.truth[metric].values())
        return sum(values) / len(values)


def _ar1(rng: random.Random, n: int, sd: float, phi: float = 0.6) -> list[float]:
    out, x = [], rng.gauss(0.0, sd)
    scale = sd * math.sqrt(1 - phi * phi)
    for _ in range(n):
        out.append(x)
        x = phi * x + rng.gauss(0.0, scale)
    return out


def _truth(rng: random.Random, days: list[date]) -> dict[str, dict[date, float]]:
    n = len(days)
    weekend = [1.0 if d.weekday() >= 5 else 0.0 for d in days]
    weight0 = min(150.0, max(45.0, rng.gauss(80.0, 15.0)))
    trend = rng.gauss(-0.03, 0.05)  # kg per day
    # weight peaks after the weekend (ASSUMPTION for size: ~0.35 % of body weight)
    cycle = [0.0035 * weight0 * math.cos(2 * math.pi * (d.weekday() - 0) / 7) for d in days]
    wobble = _ar1(rng, n, 0.3)
    weight = [weight0 + trend * i + cycle[i] + wobble[i] for i in range(n)]
    fat0 = min(48.0, max(8.0, rng.gauss(27.0, 7.0)))
    fat = [fat0 + 0.1 * trend * i + w for i, w in enumerate(_ar1(rng, n, 0.2))]
    rhr0 = rng.gauss(60.0, 7.0)
    rhr = [rhr0 + w for w in _ar1(rng, n, 2.0)]
    hrv0 = math.exp(rng.gauss(math.log(45.0), 0.45))
    hrv = [hrv0 * math.exp(w) for w in _ar1(rng, n, 0.15, 0.4)]
    steps0 = math.exp(rng.gauss(math.log(8000.0), 0.4))
    steps = [max(300.0, steps0 * math.exp(rng.gauss(0.0, 0.35)) * (0.85 if we else 1.05))
             for we in weekend]
    sleep0 = rng.gauss(7.0 * 3600, 0.6 * 3600)
    sleep = [min(12 * 3600.0, max(3 * 3600.0, sleep0 + rng.gauss(0.0, 50 * 60) + we * 1800))
             for we in weekend]
    sys0, dia0 = rng.gauss(125.0, 14.0), rng.gauss(80.0, 9.0)
    systolic = [sys0 + w for w in _ar1(rng, n, 5.0, 0.5)]
    diastolic = [min(s - 25.0, dia0 + w) for s, w in zip(systolic, _ar1(rng, n, 4.0, 0.5),
                                                          strict=True)]
    spo20 = min(99.0, max(93.0, rng.gauss(97.0, 1.0)))
    spo2 = [min(100.0, spo20 + w) for w in _ar1(rng, n, 0.6, 0.3)]
    series = {"weight": weight, "body_fat": fat, "resting_heart_rate": rhr, "hrv_rmssd": hrv,
              "steps": steps, "sleep_duration": sleep, "blood_pressure_systolic": systolic,
              "blood_pressure_diastolic": diastolic, "spo2": spo2}
    return {m: dict(zip(days, values, strict=True)) for m, values in series.items()}


def _devices(rng: random.Random) -> list[str]:
    chosen = []
    if rng.random() < 0.75:
        chosen.append("cal-scale")
    if "cal-scale" not in chosen or rng.random() < 0.35:
        chosen.append("cal-app")
    wearable = rng.random()
    if wearable < 0.45:
        chosen.append("cal-watch")
    elif wearable < 0.75:
        chosen.append("cal-ring")
    elif wearable < 0.9:
        chosen += ["cal-watch", "cal-ring"]
    if rng.random() < 0.05:
        chosen.append("cal-strap")
    if rng.random() < 0.45:
        chosen.append("cal-phone")
    if rng.random() < 0.4:
        chosen.append("cal-cuff")
    return chosen


def _model(source: str, metric: str, slow_walker: bool) -> E.ErrorModel:
    device = SOURCES[source][0]
    if metric == "weight":
        return E.SCALE if device == "scale" else E.MANUAL_WEIGHT
    if metric == "body_fat":
        return E.BIA_BODY_FAT
    if metric == "resting_heart_rate":
        return {"ring": E.RING_RHR, "watch": E.WATCH_RHR}.get(device, E.STRAP_RHR)
    if metric == "hrv_rmssd":
        return {"ring": E.RING_HRV, "watch": E.WATCH_HRV}.get(device, E.STRAP_HRV)
    if metric == "steps":
        if device == "phone":
            return E.PHONE_STEPS
        return E.SLOW_WALKER_STEPS if slow_walker else E.WEARABLE_STEPS
    if metric == "sleep_duration":
        return E.MANUAL_SLEEP if device == "manual" else E.WEARABLE_SLEEP
    if metric == "spo2":
        return E.RING_SPO2 if device == "ring" else E.WATCH_SPO2
    if device == "manual":
        return E.MANUAL_BP
    return E.CUFF_SYSTOLIC if metric == "blood_pressure_systolic" else E.CUFF_DIASTOLIC


# When in the local day each kind of reading is taken (hour, minute) and how often.
_READ_AT = {"weight": (7, 10), "body_fat": (7, 10), "resting_heart_rate": (7, 30),
            "hrv_rmssd": (7, 30), "sleep_duration": (7, 30), "spo2": (7, 30), "steps": (22, 0),
            "blood_pressure_systolic": (19, 0), "blood_pressure_diastolic": (19, 0)}
_GARBAGE = {"weight": 999.0, "body_fat": 1.0, "resting_heart_rate": 0.0, "hrv_rmssd": 0.0,
            "steps": 250000.0, "sleep_duration": 80000.0, "blood_pressure_systolic": 300.0,
            "spo2": 40.0}


def _adherence(rng: random.Random, device: str) -> float:
    if device == "manual":
        return rng.uniform(0.15, 0.7)
    if device == "bp_cuff":
        return rng.uniform(0.1, 0.6)
    if device == "scale":
        return rng.uniform(0.3, 0.98)
    return rng.uniform(0.6, 0.99)


def simulate_user(seed: int, index: int, now: datetime,
                  rates: FailureRates = FailureRates()) -> tuple[SimUser, list[Delivery]]:
    """One user's truth and every delivery their devices send up to `now`, in order."""
    rng = random.Random(f"{seed}:{index}")
    tz_name = rng.choice(TIME_ZONES)
    zone = ZoneInfo(tz_name)
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=k) for k in range(HISTORY_DAYS, -1, -1)]
    user = SimUser(index, f"cal-{seed}-{index}", tz_name, _truth(rng, days))
    slow_walker = rng.random() < E.SLOW_WALKER_P
    deliveries: list[Delivery] = []
    for source in _devices(rng):
        device, metrics = SOURCES[source]
        models = {m: _model(source, m, slow_walker) for m in metrics}
        biases = {m: models[m].device_bias(rng) for m in metrics}
        adherence = _adherence(rng, device)
        notes: list[str] = []
        lost: set[int] = set()
        if rng.random() < rates.gap:
            start, length = rng.randrange(HISTORY_DAYS), rng.randint(3, 12)
            lost = set(range(start, start + length))
            notes.append(f"gap:{length}d")
        stale_from = HISTORY_DAYS + 1
        if rng.random() < rates.stale:
            stale_days = rng.randint(2, 25)
            stale_from = HISTORY_DAYS + 1 - stale_days
            notes.append(f"stale:{stale_days}d")
        tz_error = rng.random() < rates.tz_error
        if tz_error:
            notes.append("tz_error")
        in_lb = device == "scale" and rng.random() < rates.lb_scale
        user.notes[source] = notes
        for m in metrics:
            user.devices.setdefault(m, []).append(source)
        for i, day in enumerate(days):
            if i in lost or i >= stale_from or rng.random() > adherence:
                continue
            samples = []
            for m in metrics:
                hour, minute = _READ_AT[m]
                minute += rng.randint(-20, 20) if device in ("scale", "manual") else 0
                local = datetime.combine(day, time(hour, 0)) + timedelta(minutes=minute)
                at = local.replace(tzinfo=UTC) if tz_error else local.replace(tzinfo=zone)
                if at > now:
                    continue
                samples.append(_reading(rng, user, m, day, at, models[m], biases[m], device,
                                        in_lb, rates))
            _pair_bp(samples)
            if not samples:
                continue
            latest = max(datetime.fromisoformat(s["measured_at"]) for s in samples)
            received = min(now, latest + timedelta(minutes=rng.randint(1, 240)))
            body = {"type": "samples", "user": user.account, "samples": samples}
            message = f"msg-{seed}-{index}-{source}-{day.isoformat()}"
            deliveries.append(Delivery(source, user.account, message, body, received))
            if rng.random() < rates.duplicate:
                again = message if rng.random() < 0.5 else message + "-again"
                deliveries.append(Delivery(source, user.account, again, body,
                                           min(now, received + timedelta(minutes=30))))
    deliveries.sort(key=lambda d: (d.received_at, d.message_id))
    return user, deliveries


def _reading(rng: random.Random, user: SimUser, metric: str, day: date, at: datetime,
             model: E.ErrorModel, bias: tuple[float, float], device: str, in_lb: bool,
             rates: FailureRates) -> dict[str, Any]:
    value = model.read(user.truth[metric][day], bias, rng)
    unit = UNITS[metric]
    if metric in ("spo2",):
        value = min(100.0, value)
    if metric in ("steps", "sleep_duration"):
        value = max(0.0, value)
    if metric == "weight" and in_lb:
        value, unit = round(value * LB_PER_KG, 1), "lb"
    elif metric == "weight" and device == "manual" and rng.random() < rates.unit_slip:
        value = round(value * LB_PER_KG, 1)  # typed in lb, stored as kg
    if metric in _GARBAGE and rng.random() < rates.impossible:
        value = _GARBAGE[metric]
    return {"metric": metric, "value": round(value, 2), "unit": unit,
            "measured_at": at.isoformat(), "device": {"type": device},
            "id": f"{metric}-{int(at.timestamp())}"}


def _pair_bp(samples: list[dict[str, Any]]) -> None:
    """A cuff never reports diastolic >= systolic unless the systolic is garbage."""
    by_metric = {s["metric"]: s for s in samples}
    sys_, dia = by_metric.get("blood_pressure_systolic"), by_metric.get("blood_pressure_diastolic")
    if sys_ and dia and dia["value"] >= sys_["value"]:
        dia["value"] = sys_["value"] - 10


def simulate(seed: int, users: int, now: datetime, first: int = 0
             ) -> Iterator[tuple[SimUser, list[Delivery]]]:
    for index in range(first, first + users):
        yield simulate_user(seed, index, now)
