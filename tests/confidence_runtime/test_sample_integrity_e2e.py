"""Device identity and daily summaries through the real paths: a signed webhook → the
processing job → the confidence job → the API and the tables."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.confidence_runtime.test_end_to_end import NOW, drain
from tests.conftest import bearer_for, make_user
from tests.ingest.support import make_source, standard_headers
from tests.metrics.helpers import rows
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.adapters.garmin import adapt_garmin
from vitaltrust.ingest.sources import link_account

CONFLICTS = """
SELECT c.winner_value, c.winner_device_type, c.loser_value, c.loser_device_type, c.agrees,
       c.winner_source_id = c.loser_source_id AS one_source
FROM metric_conflicts c WHERE c.user_id = %s
"""
EVENTS = "SELECT status, rejections FROM webhook_events ORDER BY webhook_event_id"
STORED = """
SELECT metric, local_date, value, coverage_seconds FROM metric_samples
WHERE user_id = %s ORDER BY metric, measured_at
"""


def native(*samples: dict[str, Any]) -> bytes:
    return json.dumps({"type": "samples", "user": "dev-user", "samples": list(samples)}).encode()


def weight(value: float, at: datetime, device: dict[str, str]) -> dict[str, Any]:
    return {"metric": "weight", "value": value, "unit": "kg", "measured_at": at.isoformat(),
            "device": device}


SCALE = {"type": "scale", "model": "Body+"}
MANUAL = {"type": "manual"}


async def _deliver(client: httpx.AsyncClient, conn: Conn, body: bytes, settings: Settings,
                   name: str = "hub") -> tuple[int, dict[str, str]]:
    user = await make_user(conn, "client")
    source, secret = await make_source(conn, name=name)
    await link_account(conn, source_name=source.name, external_user_id="dev-user",
                       email=user.email)
    r = await client.post(f"/webhooks/{source.name}", content=body,
                          headers=standard_headers(secret, body))
    assert r.status_code == 202, r.text
    assert await drain(client, settings) >= 2  # processing, then the confidence job
    return user.user_id, await bearer_for(conn, user)


def _history(weigh_in: datetime) -> list[dict[str, Any]]:
    return [weight(80.0 + 0.1 * (d % 2), weigh_in - timedelta(days=d), SCALE)
            for d in range(6, 0, -1)]


async def _agreement(client: httpx.AsyncClient, user_id: int, auth: dict[str, str]
                     ) -> dict[str, Any]:
    confidence = (await client.get(f"/api/users/{user_id}/metrics/weight/confidence",
                                   headers=auth)).json()
    assert confidence["cached"] is True
    return next(c for c in confidence["explanation"]["components"] if c["code"] == "A")


async def test_same_instant_scale_and_manual_in_one_delivery_are_both_stored(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    weigh_in = NOW - timedelta(hours=1)
    body = native(*_history(weigh_in), weight(83.0, weigh_in, MANUAL),
                  weight(80.2, weigh_in, SCALE))
    user_id, auth = await _deliver(app_client, conn, body, settings)
    [event] = await rows(conn, EVENTS)
    assert event == {"status": "processed", "rejections": []}
    same_time = await rows(conn, "SELECT device_type, value FROM metric_samples "
                                 "WHERE user_id = %s AND measured_at = %s ORDER BY device_type",
                           user_id, weigh_in)
    assert same_time == [{"device_type": "manual", "value": 83.0},
                         {"device_type": "scale", "value": 80.2}]
    assert await rows(conn, CONFLICTS, user_id) == [
        {"winner_value": 80.2, "winner_device_type": "scale", "loser_value": 83.0,
         "loser_device_type": "manual", "agrees": False, "one_source": True}]
    series = (await app_client.get(f"/api/users/{user_id}/metrics/weight/samples"
                                   "?include=conflicts,flags", headers=auth)).json()
    assert [p["value"] for p in series["series"] if p["measured_at"] >= weigh_in.isoformat()] \
        == [80.2]
    assert series["stored_count"] == 8
    [conflict] = series["conflicts"]
    assert conflict["winner"]["device_model"] == "Body+"
    assert conflict["loser"]["device_type"] == "manual" and conflict["loser"]["source"] == "hub"


async def test_scale_and_manual_ten_minutes_apart_through_one_source_conflict(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    weigh_in = NOW - timedelta(hours=1)
    body = native(*_history(weigh_in), weight(80.2, weigh_in, SCALE),
                  weight(83.0, weigh_in + timedelta(minutes=10), MANUAL))
    user_id, auth = await _deliver(app_client, conn, body, settings, name="one-hub")
    assert await rows(conn, CONFLICTS, user_id) == [
        {"winner_value": 80.2, "winner_device_type": "scale", "loser_value": 83.0,
         "loser_device_type": "manual", "agrees": False, "one_source": True}]
    agreement = await _agreement(app_client, user_id, auth)
    assert agreement["score"] == 0
    [why] = agreement["reasons"]
    assert why["code"] == "SOURCE_CONFLICT"
    assert why["message"].startswith("scale 80.2 kg vs manual 83.0 kg")


async def test_implausible_times_and_values_are_rejected_with_reasons(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    body = native(weight(80.2, NOW - timedelta(hours=1), SCALE),
                  weight(80.2, datetime(1, 1, 1, tzinfo=UTC), SCALE),
                  weight(80.2, NOW + timedelta(days=3), SCALE),
                  {**weight(80.2, NOW - timedelta(hours=2), SCALE), "value": 1e308})
    user_id, _ = await _deliver(app_client, conn, body, settings, name="sane-hub")
    [event] = await rows(conn, EVENTS)
    reasons = [r["reason"] for r in event["rejections"]]
    assert len(reasons) == 3
    assert "before 1970" in reasons[0] and "more than 1 day in the future" in reasons[1]
    assert "is not a possible weight" in reasons[2]
    assert [r["value"] for r in await rows(conn, STORED, user_id)] == [80.2]


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"measured_at": "0001-01-01T00:00:00+00:00"}, 422, "before 1970"),
    ({"measured_at": "2999-01-01T00:00:00+00:00"}, 422, "more than 1 day in the future"),
    ({"value": 1e308}, 422, "is not a possible weight"),
    ({"value": 400}, 201, None),
])
async def test_manual_entry_applies_the_same_sample_rules(
        app_client: httpx.AsyncClient, conn: Conn, body: dict[str, Any], status: int,
        detail: str | None) -> None:
    user = await make_user(conn, "client")
    auth = await bearer_for(conn, user)
    r = await app_client.post("/api/me/samples", headers=auth, json={
        "metric": "weight", "value": 80.2, "measured_at": NOW.isoformat(), **body})
    assert r.status_code == status, r.text
    if detail is not None:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert detail in r.json()["detail"]
        assert await rows(conn, STORED, user.user_id) == []
    else:  # beyond the hard limits: kept, flagged, as the model says
        assert r.json()["flags"] == ["IMPLAUSIBLE_VALUE"]


# Garmin Health API specification, 7.1 Daily Summaries, example 2 (summaryId EXAMPLE_67892;
# the spec's copy has typographic quotes and a missing comma, fixed here, and omits the
# calendarDate that its first example carries: 2016-01-12 is the local day of
# startTimeInSeconds 1452556800 + startTimeOffsetInSeconds 3600).
GARMIN_FULL = {
    "userId": "4aacafe82427c251df9c9592d0c06768", "summaryId": "EXAMPLE_67892",
    "calendarDate": "2016-01-12", "activityType": "WALKING", "activeKilocalories": 304,
    "bmrKilocalories": 1225, "steps": 3305, "distanceInMeters": 2470.1,
    "durationInSeconds": 86400, "activeTimeInSeconds": 7, "startTimeInSeconds": 1452556800,
    "startTimeOffsetInSeconds": 3600, "moderateIntensityDurationInSeconds": 83160,
    "vigorousIntensityDurationInSeconds": 3240, "floorsClimbed": 5,
    "minHeartRateInBeatsPerMinute": 62, "averageHeartRateInBeatsPerMinute": 67,
    "maxHeartRateInBeatsPerMinute": 122, "restingHeartRateInBeatsPerMinute": 64,
    "timeOffsetHeartRateSamples": {"15": 77, "30": 72, "3180": 71, "3195": 67, "3210": 62,
                                   "3225": 65, "3240": 71, "3255": 81},
    "averageStressLevel": 37, "maxStressLevel": 95, "stepsGoal": 5000,
}
# The same summary synced mid-day (Garmin resends a growing daily under its summaryId): half
# the day, the steps and the heart-rate samples so far, no resting heart rate yet.
GARMIN_PARTIAL = {**GARMIN_FULL, "durationInSeconds": 43200, "steps": 1500,
                  "restingHeartRateInBeatsPerMinute": None,
                  "timeOffsetHeartRateSamples": {"15": 77, "30": 72}}
ADAPTER_REPORTS_COVERAGE = any(
    s.coverage_seconds is not None for s in adapt_garmin({"dailies": [GARMIN_FULL]}).samples)


async def _garmin(client: httpx.AsyncClient, conn: Conn, settings: Settings,
                  *dailies: dict[str, Any]) -> int:
    user = await make_user(conn, "client")
    source, secret = await make_source(conn, "garmin")
    await link_account(conn, source_name=source.name, external_user_id=GARMIN_FULL["userId"],
                       email=user.email)
    for daily in dailies:
        body = json.dumps({"dailies": [daily]}).encode()
        r = await client.post(f"/webhooks/{source.name}", content=body, headers={
            "x-vitaltrust-secret": secret, "content-type": "application/json"})
        assert r.status_code in (200, 202), r.text
        await drain(client, settings)
    return user.user_id


async def test_garmin_daily_lands_on_its_calendar_date(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    user_id = await _garmin(app_client, conn, settings, GARMIN_FULL)
    stored = await rows(conn, STORED, user_id)
    assert {r["local_date"] for r in stored if r["metric"] != "heart_rate"} == {date(2016, 1, 12)}
    assert [(r["metric"], r["value"]) for r in stored if r["metric"] != "heart_rate"] == [
        ("resting_heart_rate", 64), ("steps", 3305)]
    assert len([r for r in stored if r["metric"] == "heart_rate"]) == 8


@pytest.mark.skipif(not ADAPTER_REPORTS_COVERAGE,
                    reason="the Garmin adapter does not set RawSample.coverage_seconds yet")
@pytest.mark.parametrize("order", ["partial_after_full", "full_after_partial"])
async def test_garmin_partial_and_full_in_either_order_keep_the_full(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings, order: str) -> None:
    dailies = [GARMIN_FULL, GARMIN_PARTIAL] if order == "partial_after_full" \
        else [GARMIN_PARTIAL, GARMIN_FULL]
    user_id = await _garmin(app_client, conn, settings, *dailies)
    stored = await rows(conn, STORED, user_id)
    assert [(r["metric"], r["local_date"], r["value"], r["coverage_seconds"])
            for r in stored if r["metric"] != "heart_rate"] == [
        ("resting_heart_rate", date(2016, 1, 12), 64, 86400),
        ("steps", date(2016, 1, 12), 3305, 86400)]
    assert len([r for r in stored if r["metric"] == "heart_rate"]) == 8
    events = await rows(conn, EVENTS)
    assert [e["status"] for e in events] == ["processed", "processed"]
    if order == "partial_after_full":
        assert any("a fuller summary of 2016-01-12 is stored" in r["reason"]
                   for r in events[1]["rejections"])
