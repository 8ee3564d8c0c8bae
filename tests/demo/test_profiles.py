"""The demo's history, scored by the real pure model, covers all four confidence levels."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.confidence.model import score
from vitaltrust.confidence.types import Sample
from vitaltrust.demo.profiles import CLIENTS, PROFILES, Client, Reading, clients, history

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
SOURCE_IDS = {"scale": 1, "wearable": 2, "app": 3}


def levels(client: Client, now: datetime = NOW) -> dict[str, str]:
    by_metric: dict[str, list[Reading]] = defaultdict(list)
    for r in history(client, now):
        by_metric[r.metric].append(r)
    bp_bad = {r.at for r in by_metric.get("blood_pressure_systolic", [])
              for d in by_metric["blood_pressure_diastolic"] if d.at == r.at and r.value <= d.value}
    out = {}
    for metric, readings in by_metric.items():
        samples = [Sample(r.value, r.at, r.at.date(), SOURCE_IDS[r.channel], r.device, r.at,
                          frozenset({"IMPLAUSIBLE_VALUE"}) if metric.startswith("blood_pressure")
                          and r.at in bp_bad else frozenset())
                   for r in readings]
        out[metric] = score(samples, BUILTIN_SPECS[metric], now).level
    return out


def test_sixty_clients_with_the_planned_profiles() -> None:
    people = clients()
    assert len(people) == CLIENTS
    assert Counter(c.profile for c in people) == dict(PROFILES)
    assert {c.trainer for c in people} == {1, 2, 3}
    assert len({c.email for c in people}) == CLIENTS


def test_history_is_thirty_days_and_never_in_the_future() -> None:
    for c in clients()[:10]:
        readings = history(c, NOW)
        assert readings and all(r.at <= NOW for r in readings)
        assert (NOW - min(r.at for r in readings)).days <= 30


def test_all_four_levels_occur_and_profiles_mean_what_they_say() -> None:
    per_profile: dict[str, Counter[str]] = defaultdict(Counter)
    stopped_daily: Counter[str] = Counter()
    for c in clients():
        found = levels(c)
        per_profile[c.profile].update(found.values())
        if c.profile == "stopped":  # weekly metrics (body fat, blood pressure) are still fresh
            stopped_daily.update(v for m, v in found.items()
                                 if m in ("weight", "steps", "resting_heart_rate", "hrv_rmssd"))
    total = sum(per_profile.values(), Counter())
    assert {"excellent", "good", "fair", "poor"} <= set(total), total
    assert per_profile["diligent"].most_common(1)[0][0] == "excellent", per_profile["diligent"]
    assert set(stopped_daily) == {"poor"}, stopped_daily
    assert per_profile["impossible"]["fair"] > 0, per_profile["impossible"]
    assert per_profile["disagree"]["good"] > 0, per_profile["disagree"]
