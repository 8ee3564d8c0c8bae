"""Provider adapters on realistic payloads: pure, no database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from vitaltrust.ingest.adapters import adapt_garmin, adapt_junction, adapt_standard, adapt_terra
from vitaltrust.metrics.types import AdapterError, RawSample


def by_metric(samples: list[RawSample]) -> dict[str, list[RawSample]]:
    out: dict[str, list[RawSample]] = {}
    for s in samples:
        out.setdefault(s.metric, []).append(s)
    return out


def test_standard_native_body() -> None:
    result = adapt_standard({"type": "samples", "user": "ext-1", "samples": [
        {"metric": "weight", "value": 80.2, "unit": "kg", "measured_at": "2026-11-28T07:02:00+01:00",
         "device": {"type": "scale", "model": "Body+"}, "id": "w-1"},
        {"metric": "steps", "value": 1200, "measured_at": "2026-11-28T08:00:00Z"},
        "not an object",
        {"metric": "mood", "value": float("nan"), "measured_at": "2026-11-28T08:00:00Z"},
        {"metric": "weight", "value": 1, "measured_at": "yesterday"},
    ]})
    assert result.account_ids == frozenset({"ext-1"}) and not result.notification_only
    w, steps, mood = result.samples
    assert (w.metric, w.value, w.unit, w.device_type, w.device_model, w.sample_id) == \
        ("weight", 80.2, "kg", "scale", "Body+", "w-1")
    assert w.measured_at == datetime(2026, 11, 28, 6, 2, tzinfo=UTC)
    assert steps.unit is None and steps.device_type == "unknown"
    # unknown metrics and NaN pass through: metrics/normalize rejects them with a reason
    assert mood.metric == "mood" and math.isnan(mood.value)
    reasons = [r.reason for r in result.rejections]
    assert reasons == ["a sample must be an object", "'yesterday' is not a timestamp"]


def test_standard_without_samples_list_is_an_adapter_error() -> None:
    with pytest.raises(AdapterError):
        adapt_standard({"type": "samples", "user": "u", "samples": {"metric": "weight"}})
    assert adapt_standard({"type": "ping", "user": "u"}).notification_only


def test_junction_body_summary() -> None:
    result = adapt_junction({
        "event_type": "daily.data.body.created", "user_id": "4a8e-junction", "client_user_id": "cu-7",
        "team_id": "team-1",
        "data": {"id": "b1c2", "calendar_date": "2026-11-27", "date": "2026-11-27T06:58:00+00:00",
                 "weight": 74.5, "fat": 18.2, "user_id": "4a8e-junction",
                 "source": {"name": "Withings", "slug": "withings", "provider": "withings"}}})
    assert result.account_ids == frozenset({"cu-7"})
    m = by_metric(result.samples)
    assert m["weight"][0].value == 74.5 and m["weight"][0].unit == "kg"
    assert m["body_fat"][0].value == 18.2 and m["body_fat"][0].unit == "%"
    assert m["weight"][0].sample_id == "b1c2:weight"  # a later event with this id replaces it
    assert m["weight"][0].device_type == "scale" and m["weight"][0].local_date == "2026-11-27"


def test_junction_timeseries_and_blood_pressure() -> None:
    hr = adapt_junction({"event_type": "daily.data.heartrate.created", "user_id": "j-1",
                         "client_user_id": None, "data": {
                             "user_id": "j-1", "source": {"slug": "oura", "name": "Oura"},
                             "data": [{"timestamp": "2026-11-28T06:00:00+00:00", "value": 58,
                                       "unit": "bpm"},
                                      {"timestamp": "2026-11-28T06:05:00+00:00", "value": 61,
                                       "unit": "bpm"}]}})
    assert hr.account_ids == frozenset({"j-1"})
    assert [s.value for s in hr.samples] == [58, 61]
    assert all(s.metric == "heart_rate" and s.device_type == "ring" for s in hr.samples)
    bp = adapt_junction({"event_type": "daily.data.blood_pressure.created", "client_user_id": "c",
                         "data": {"data": [{"timestamp": "2026-11-28T07:00:00Z", "systolic": 121,
                                            "diastolic": 79, "unit": "mmHg"}]}})
    assert {(s.metric, s.value) for s in bp.samples} == {
        ("blood_pressure_systolic", 121), ("blood_pressure_diastolic", 79)}


def test_junction_historical_is_notification_only() -> None:
    result = adapt_junction({"event_type": "historical.data.body.created", "client_user_id": "c",
                             "data": {"provider": "withings", "start_date": "2026-01-01"}})
    assert result.notification_only and not result.samples
    assert result.account_ids == frozenset({"c"})


TERRA_BODY = {
    "type": "body", "version": "2022-03-16",
    "user": {"user_id": "terra-u-1", "provider": "WITHINGS", "reference_id": "coach-42",
             "scopes": None, "last_webhook_update": None},
    "data": [{
        "metadata": {"start_time": "2026-11-28T00:00:00+01:00", "end_time": "2026-11-28T23:59:59+01:00"},
        "device_data": {"name": "Body Cardio", "manufacturer": "Withings"},
        "measurements_data": {"measurements": [{
            "measurement_time": "2026-11-28T07:01:12+01:00", "weight_kg": 81.3, "BMI": 24.1,
            "bodyfat_percentage": 21.5, "muscle_mass_g": 60100, "bone_mass_g": 3100,
            "muscle_mass_kg": 60.1, "bone_mass_kg": 3.1}]},
        "heart_data": {"heart_rate_data": {
            "summary": {"avg_hr_bpm": 64, "resting_hr_bpm": 55, "avg_hrv_rmssd": 48.2,
                        "avg_hrv_sdnn": 61.0},
            "detailed": {"hr_samples": [{"timestamp": "2026-11-28T07:01:00+01:00", "bpm": 62}]}}},
        "blood_pressure_data": {"blood_pressure_samples": [
            {"timestamp": "2026-11-28T07:05:00+01:00", "systolic_bp": 124, "diastolic_bp": 81}]},
        "oxygen_data": {"saturation_samples": [{"timestamp": "2026-11-28T07:06:00+01:00",
                                                "percentage": 97}],
                        "vo2max_ml_per_min_per_kg": 44.0},
    }],
}


def test_terra_body() -> None:
    result = adapt_terra(TERRA_BODY)
    assert result.event_type == "body" and result.account_ids == frozenset({"coach-42"})
    m = by_metric(result.samples)
    assert m["weight"][0].value == 81.3 and m["weight"][0].unit == "kg"
    assert m["weight"][0].measured_at == datetime(2026, 11, 28, 7, 1, 12,
                                                  tzinfo=timezone(timedelta(hours=1)))
    assert m["weight"][0].device_model == "Body Cardio"
    assert m["body_fat"][0].value == 21.5
    assert m["resting_heart_rate"][0].value == 55 and m["hrv_rmssd"][0].value == 48.2
    assert m["hrv_sdnn"][0].value == 61.0 and m["heart_rate"][0].value == 62
    assert m["blood_pressure_systolic"][0].value == 124
    assert m["blood_pressure_diastolic"][0].device_type == "bp_cuff"
    assert m["spo2"][0].value == 97 and m["vo2max"][0].value == 44.0
    assert "BMI" not in m and "bmi" not in m


def test_terra_daily_and_sleep() -> None:
    user = {"user_id": "tu", "provider": "GARMIN", "reference_id": None}
    daily = adapt_terra({"type": "daily", "user": user, "data": [{
        "metadata": {"start_time": "2026-11-27T00:00:00+00:00", "end_time": "2026-11-27T23:59:59+00:00"},
        "distance_data": {"steps": 10432},
        "heart_rate_data": {"summary": {"resting_hr_bpm": 52, "avg_hrv_rmssd": 55.5}}}]})
    m = by_metric(daily.samples)
    assert daily.account_ids == frozenset({"tu"})
    assert m["steps"][0].value == 10432 and m["steps"][0].local_date == "2026-11-27"
    assert m["steps"][0].device_type == "watch"
    assert m["resting_heart_rate"][0].value == 52 and m["hrv_rmssd"][0].value == 55.5
    sleep = adapt_terra({"type": "sleep", "user": user, "data": [{
        "metadata": {"start_time": "2026-11-26T23:10:00+00:00", "end_time": "2026-11-27T06:40:00+00:00"},
        "sleep_durations_data": {"asleep": {"duration_asleep_state_seconds": 25200}}}]})
    (s,) = sleep.samples
    assert (s.metric, s.value, s.unit) == ("sleep_duration", 25200, "s")


@pytest.mark.parametrize("kind", ["auth", "deauth", "user_reauth", "access_revoked",
                                  "connection_error", "large_request_processing", "rate_limit_hit"])
def test_terra_lifecycle_events_carry_no_samples(kind: str) -> None:
    result = adapt_terra({"type": kind, "user": {"user_id": "tu", "reference_id": "r"},
                          "status": "success"})
    assert result.notification_only and not result.samples and result.account_ids == {"r"}


GARMIN_PUSH = {
    "bodyComps": [{"userId": "g-user-1", "userAccessToken": "t", "summaryId": "x1b2",
                   "measurementTimeInSeconds": 1764313200, "measurementTimeOffsetInSeconds": 3600,
                   "weightInGrams": 80150, "bodyFatInPercent": 19.4, "bodyMassIndex": 24.0,
                   "muscleMassInGrams": 60000, "boneMassInGrams": 3000, "bodyWaterInPercent": 55}],
    "dailies": [{"userId": "g-user-2", "summaryId": "d-1", "calendarDate": "2026-11-27",
                 "startTimeInSeconds": 1764198000, "startTimeOffsetInSeconds": 3600,
                 "durationInSeconds": 86400, "steps": 9876,
                 "restingHeartRateInBeatsPerMinute": 51, "averageHeartRateInBeatsPerMinute": 70,
                 "timeOffsetHeartRateSamples": {"0": 60, "15": 62}}],
    "sleeps": [{"userId": "g-user-2", "summaryId": "s-1", "calendarDate": "2026-11-27",
                "startTimeInSeconds": 1764284400, "startTimeOffsetInSeconds": 3600,
                "durationInSeconds": 27000, "deepSleepDurationInSeconds": 5000,
                "lightSleepDurationInSeconds": 15000, "remSleepInSeconds": 7000,
                "awakeDurationInSeconds": 600, "validation": "ENHANCED_FINAL"}],
    "hrv": [{"userId": "g-user-2", "summaryId": "h-1", "calendarDate": "2026-11-27",
             "startTimeInSeconds": 1764284400, "startTimeOffsetInSeconds": 3600,
             "lastNightAvg": 44, "lastNight5MinHigh": 71, "hrvValues": {"300": 32}}],
    "bloodPressures": [{"userId": "g-user-1", "summaryId": "bp-1",
                        "measurementTimeInSeconds": 1764313500,
                        "measurementTimeOffsetInSeconds": 3600, "systolic": 118,
                        "diastolic": 76, "pulse": 60, "sourceType": "MANUAL"}],
    "pulseOx": [{"userId": "g-user-1", "summaryId": "p-1", "calendarDate": "2026-11-27",
                 "startTimeInSeconds": 1764284400, "startTimeOffsetInSeconds": 3600,
                 "timeOffsetSpo2Values": {"0": 96, "60": 95}}],
}


def test_garmin_push_with_several_users() -> None:
    result = adapt_garmin(GARMIN_PUSH)
    assert result.account_ids == frozenset({"g-user-1", "g-user-2"})
    m = by_metric(result.samples)
    w = m["weight"][0]
    assert (w.value, w.unit, w.external_user_id, w.utc_offset_seconds) == (80150, "g", "g-user-1", 3600)
    assert w.measured_at == datetime.fromtimestamp(1764313200, tz=UTC)
    assert m["body_fat"][0].value == 19.4
    assert m["steps"][0].value == 9876 and m["steps"][0].local_date == "2026-11-27"
    assert m["resting_heart_rate"][0].value == 51
    # two daily samples, and the blood-pressure reading's pulse (from the cuff, or manual)
    assert sorted(s.value for s in m["heart_rate"]) == [60, 60, 62]
    assert m["heart_rate"][1].measured_at == datetime.fromtimestamp(1764198015, tz=UTC)
    assert m["heart_rate"][2].device_type == "manual"
    assert m["sleep_duration"][0].value == 27000 and m["hrv_rmssd"][0].value == 44
    assert {s.metric for s in m["blood_pressure_systolic"] + m["blood_pressure_diastolic"]} == {
        "blood_pressure_systolic", "blood_pressure_diastolic"}
    assert sorted(s.value for s in m["spo2"]) == [95, 96]


def test_garmin_deregistration_and_garbage() -> None:
    result = adapt_garmin({"deregistrations": [{"userId": "g9", "userAccessToken": "t"}]})
    assert result.notification_only and result.account_ids == {"g9"}
    with pytest.raises(AdapterError):
        adapt_garmin({"something": []})
    odd = adapt_garmin({"bodyComps": [{"summaryId": "no-user"}, 7]})
    assert len(odd.rejections) == 2 and not odd.samples
