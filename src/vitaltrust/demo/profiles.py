"""The demo's people and their 30 days of readings (pure: no I/O, seeded randomness).

Each client has a device mix (a smart scale, a watch or ring, sometimes a blood-pressure
cuff, manual entries in a phone app) and a quality profile that decides how good the
data is. The readings are in canonical units; `payloads.py` turns them into provider
bodies (grams for Garmin, and so on).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CLIENTS = 60
TRAINERS = 3
HISTORY_DAYS = 30
EMAIL_DOMAIN = "demo.vitaltrust.local"
ADMIN_EMAIL = f"admin@{EMAIL_DOMAIN}"

# profile -> how many of the 60 clients have it (in this order, interleaved by trainer)
PROFILES: tuple[tuple[str, int], ...] = (
    ("diligent", 24),      # every device, every day: excellent
    ("stopped", 9),        # stopped syncing 8 days ago: poor (stale, capped at 49)
    ("disagree", 6),       # scale vs manual entries several kg apart: good
    ("unit_slip", 6),      # lb typed into a kg field, manual weigher with gaps
    ("impossible", 6),     # a glitching scale / watch: impossible values, capped at 69: fair
    ("sparse", 9),         # manual entries only, a few a week (or fewer)
)
WEARABLES = ("garmin", "oura", "fitbit")  # garmin: Garmin push; oura/fitbit: through Terra


@dataclass(frozen=True)
class Reading:
    metric: str
    value: float
    at: datetime
    channel: str   # scale | wearable | app
    device: str    # scale | watch | ring | bp_cuff | manual


@dataclass(frozen=True)
class Client:
    index: int     # 1..60
    email: str
    name: str
    profile: str
    wearable: str | None
    has_scale: bool
    has_bp: bool
    trainer: int   # 1..3
    weight: float
    body_fat: float
    rhr: float
    hrv: float
    steps: float
    sleep_hours: float

    @property
    def accounts(self) -> dict[str, str]:
        """channel -> the provider account id the demo links to this client."""
        out = {"app": f"app-{self.index:03d}"}
        if self.has_scale or self.has_bp:
            out["scale"] = f"scale-{self.index:03d}"
        if self.wearable == "garmin":
            out["wearable"] = f"{9000 + self.index}"
        elif self.wearable is not None:
            out["wearable"] = f"terra-{self.index:03d}"
        return out


FIRST = ("Ava", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gia", "Hugo", "Ines", "Jon", "Kira",
         "Leo", "Mia", "Nils", "Olga", "Paul", "Quinn", "Rosa", "Sam", "Tara")
LAST = ("Archer", "Baker", "Costa", "Dietz", "Evans", "Fox", "Garcia")


def trainer_email(n: int) -> str:
    return f"trainer{n}@{EMAIL_DOMAIN}"


def client_email(n: int) -> str:
    return f"client{n:02d}@{EMAIL_DOMAIN}"


def clients(seed: int = 7) -> list[Client]:
    rng = random.Random(seed)
    names = [p for p, n in PROFILES for _ in range(n)]
    rng.shuffle(names)
    out = []
    for i, profile in enumerate(names, start=1):
        sparse = profile == "sparse"
        out.append(Client(
            index=i, email=client_email(i), name=f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}",
            profile=profile,
            wearable=None if sparse or profile == "unit_slip" else WEARABLES[i % 3],
            has_scale=not sparse and profile != "unit_slip", has_bp=(not sparse and i % 3 == 0),
            trainer=(i - 1) % TRAINERS + 1, weight=rng.uniform(58, 102),
            body_fat=rng.uniform(14, 34), rhr=rng.uniform(50, 72), hrv=rng.uniform(30, 80),
            steps=rng.uniform(5000, 12000), sleep_hours=rng.uniform(6.2, 8.2)))
    return out


def _at(day: datetime, hour: float, rng: random.Random) -> datetime:
    return day + timedelta(hours=hour, minutes=rng.randint(-20, 20))


def _wearable_day(c: Client, day: datetime, rng: random.Random, now: datetime) -> list[Reading]:
    dev = "ring" if c.wearable == "oura" else "watch"
    end = min(day + timedelta(hours=22), now)
    if end <= day + timedelta(hours=8):
        return []
    steps = max(0.0, rng.gauss(c.steps, c.steps * 0.2)) * (end - day) / timedelta(hours=22)
    return [
        Reading("steps", round(steps), end, "wearable", dev),
        Reading("resting_heart_rate", round(rng.gauss(c.rhr, 1.5)), day + timedelta(hours=7),
                "wearable", dev),
        Reading("hrv_rmssd", round(max(5.0, rng.gauss(c.hrv, c.hrv * 0.08)), 1),
                day + timedelta(hours=7), "wearable", dev),
        Reading("sleep_duration", round(rng.gauss(c.sleep_hours, 0.5) * 3600),
                day + timedelta(hours=6, minutes=45), "wearable", dev),
    ]


def readings_for_day(c: Client, day: datetime, now: datetime, rng: random.Random,
                     days_ago: int) -> list[Reading]:
    """One day's readings of one client (`day` is that day's midnight UTC)."""
    if c.profile == "stopped" and days_ago < 8:
        return []
    out: list[Reading] = []
    trend = -0.03 * (HISTORY_DAYS - days_ago)  # a slow, believable weight loss
    weight = c.weight + trend + rng.gauss(0, 0.25)
    morning = _at(day, 7, rng)
    if c.has_scale and morning <= now and rng.random() < 0.95:
        w = weight
        if c.profile == "impossible" and days_ago in (2, 11):
            w = 412.0 if days_ago == 2 else weight / 10  # someone heavy, a sensor glitch
        out.append(Reading("weight", round(w, 2), morning, "scale", "scale"))
        out.append(Reading("body_fat", round(c.body_fat + rng.gauss(0, 0.3), 1), morning,
                           "scale", "scale"))
    if c.has_bp and day.weekday() in (0, 3) and morning <= now:
        sys_, dia = round(rng.gauss(122, 5)), round(rng.gauss(79, 4))
        if c.profile == "impossible" and days_ago < 7:
            sys_, dia = 70, 95  # systolic below diastolic: cuff misplaced
        at = morning + timedelta(minutes=5)
        out += [Reading("blood_pressure_systolic", sys_, at, "scale", "bp_cuff"),
                Reading("blood_pressure_diastolic", dia, at, "scale", "bp_cuff")]
    if c.wearable is not None:
        out += _wearable_day(c, day, rng, now)
    out += _manual(c, day, now, rng, days_ago, weight, morning)
    return out


def _manual(c: Client, day: datetime, now: datetime, rng: random.Random, days_ago: int,
            weight: float, morning: datetime) -> list[Reading]:
    evening = _at(day, 19, rng)
    if evening > now:
        return []
    if c.profile == "disagree" and days_ago % 4 == 1:
        # the app entry made from memory, 10 minutes after the scale: several kg off
        return [Reading("weight", round(weight + rng.uniform(2.5, 4.0), 1),
                        morning + timedelta(minutes=10), "app", "manual")]
    if c.profile == "unit_slip" and rng.random() < 0.6:
        value = round(weight, 1)
        if days_ago in (3, 9):
            value = round(value * 2.2046, 1)  # pounds typed into a kilogram field
        return [Reading("weight", value, evening, "app", "manual")]
    if c.profile == "sparse":
        every = 3 if c.index % 2 else 9  # some log twice a week, some barely at all
        if days_ago % every == 0:
            return [Reading("weight", round(weight, 1), evening, "app", "manual")]
    return []


def history(c: Client, now: datetime, *, days: int = HISTORY_DAYS, seed: int = 11
            ) -> list[Reading]:
    """The client's readings of the last `days` days up to `now`, oldest first."""
    rng = random.Random(seed * 1000 + c.index)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    out: list[Reading] = []
    for days_ago in range(days - 1, -1, -1):
        out += readings_for_day(c, today - timedelta(days=days_ago), now, rng, days_ago)
    return [r for r in out if r.at <= now]


def live_readings(c: Client, now: datetime, rng: random.Random) -> list[Reading]:
    """What one sync of this client sends right now (one device, one moment)."""
    choices = [ch for ch, ok in (("scale", c.has_scale), ("wearable", c.wearable is not None),
                                 ("app", c.profile in ("disagree", "unit_slip", "sparse")))
               if ok]
    if not choices or c.profile == "stopped":
        return []
    channel = rng.choice(choices)
    weight = c.weight + rng.gauss(0, 0.25)
    if channel == "scale":
        if c.profile == "impossible" and rng.random() < 0.2:
            weight = 412.0
        return [Reading("weight", round(weight, 2), now, "scale", "scale"),
                Reading("body_fat", round(c.body_fat + rng.gauss(0, 0.3), 1), now, "scale",
                        "scale")]
    if channel == "wearable":
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        share = (now - midnight) / timedelta(hours=22)
        dev = "ring" if c.wearable == "oura" else "watch"
        return [Reading("steps", round(c.steps * min(1.0, share) * rng.uniform(0.9, 1.1)), now,
                        "wearable", dev)]
    value = round(weight, 1)
    if c.profile == "unit_slip" and rng.random() < 0.2:
        value = round(value * 2.2046, 1)
    return [Reading("weight", value, now, "app", "manual")]
