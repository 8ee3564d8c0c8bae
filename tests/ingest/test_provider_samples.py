"""Adapters on the providers' published samples (tests/ingest/fixtures): pure, no database.

Each expectation is read off the published payload by hand (value, unit, calendar day,
coverage), not from our own output.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.ingest.fixtures import garmin, junction, terra
from vitaltrust.ingest.adapters import (
    adapt_garmin,
    adapt_junction,
    adapt_standard,
    adapt_terra,
    linked_payload_url,
)
from vitaltrust.ingest.adapters.common import number
from vitaltrust.metrics.types import AdapterResult, RawSample
from vitaltrust.metrics.units import to_canonical


def of(result: AdapterResult, metric: str) -> list[RawSample]:
    return [s for s in result.samples if s.metric == metric]


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# --- Garmin ------------------------------------------------------------------------------

def test_garmin_dailies_carry_calendar_date_and_coverage() -> None:
    r = adapt_garmin(garmin.DAILIES)
    assert r.account_ids == {garmin.USER} and not r.notification_only and not r.needs_pull
    steps = of(r, "steps")
    assert [(s.value, s.unit, s.local_date, s.coverage_seconds) for s in steps] == [
        (4210, "steps", "2016-01-11", 86400), (3305, "steps", "2016-01-12", 86400)]
    # timed at the summary's start (stable while the day grows), in its local offset
    assert steps[1].measured_at == utc(1452556800) and steps[1].utc_offset_seconds == 3600
    resting = of(r, "resting_heart_rate")
    assert [(s.value, s.unit, s.local_date) for s in resting] == [(64, "bpm", "2016-01-12")]
    hr = of(r, "heart_rate")
    assert len(hr) == 16 and {s.unit for s in hr} == {"bpm"}
    assert (hr[0].value, hr[0].measured_at, hr[0].utc_offset_seconds) == (75, utc(1452470415), 3600)
    assert (hr[15].value, hr[15].measured_at) == (81, utc(1452556800 + 3255))
    # the 7-day average is not a heart-rate sample of this day
    assert not of(r, "average_heart_rate")


def test_garmin_partial_daily_says_it_covers_less() -> None:
    full = of(adapt_garmin(garmin.DAILIES), "steps")[1]
    partial = of(adapt_garmin(garmin.DAILY_PARTIAL), "steps")[0]
    assert (partial.value, partial.local_date, partial.coverage_seconds) == (1500, "2016-01-12", 43200)
    # the same summary: same day, same time, same sample id; only the coverage tells them apart
    assert (partial.measured_at, partial.sample_id) == (full.measured_at, full.sample_id)
    assert partial.coverage_seconds < (full.coverage_seconds or 0)


def test_garmin_sleeps_belong_to_the_wake_up_day() -> None:
    r = adapt_garmin(garmin.SLEEPS)
    sleep = of(r, "sleep_duration")
    assert [(s.value, s.unit, s.local_date, s.coverage_seconds) for s in sleep] == [
        (15264, "s", "2016-01-10", 15264), (11900, "s", "2016-01-11", 11900),
        (28260, "s", "2021-01-29", 28260)]
    assert sleep[0].measured_at == utc(1452419581 + 15264)
    spo2 = of(r, "spo2")
    assert [s.value for s in spo2] == [95, 96, 97, 93, 94, 95, 96]
    assert spo2[0].measured_at == utc(1452467493) and spo2[0].unit == "%"


def test_garmin_body_blood_pressure_hrv_pulse_ox_user_metrics() -> None:
    body = adapt_garmin(garmin.BODY_COMPS)
    assert [(s.value, s.unit, s.measured_at, s.device_type) for s in of(body, "weight")] == [
        (75450, "g", utc(1439741130), "scale"), (751732, "g", utc(1439784330), "scale")]
    assert [s.value for s in of(body, "body_fat")] == [17.1, 17.3]

    bp = adapt_garmin(garmin.BLOOD_PRESSURES)
    got = {s.metric: (s.value, s.unit, s.device_type, s.utc_offset_seconds) for s in bp.samples}
    assert got == {"blood_pressure_systolic": (120, "mmHg", "manual", -18000),
                   "blood_pressure_diastolic": (110, "mmHg", "manual", -18000),
                   "heart_rate": (82, "bpm", "manual", -18000)}

    hrv = of(adapt_garmin(garmin.HRV), "hrv_rmssd")
    assert [(s.value, s.unit, s.local_date) for s in hrv] == [(44, "ms", "2022-05-31")]

    ox = of(adapt_garmin(garmin.PULSE_OX), "spo2")
    assert len(ox) == 8 and ox[0].measured_at == utc(1535400706 + 7140) and ox[0].value == 94
    assert ox[-1].measured_at == utc(1572303600 + 55740) and ox[-1].value == 93

    vo2 = of(adapt_garmin(garmin.USER_METRICS), "vo2max")
    assert [(s.value, s.unit, s.local_date) for s in vo2] == [(48.0, "mL/kg/min", "2017-03-23")]


@pytest.mark.parametrize("key", ["pulseox", "pulseOx", "pulseOX"])
def test_garmin_pulse_ox_key_spellings(key: str) -> None:
    payload = {key: garmin.PULSE_OX["pulseox"]}
    assert len(of(adapt_garmin(payload), "spo2")) == 8


def test_garmin_unmapped_summary_types_are_ignored_with_reasons() -> None:
    r = adapt_garmin(garmin.UNMAPPED)
    assert not r.samples and not r.rejections and r.notification_only and not r.needs_pull
    text = " | ".join(r.ignored)
    for key in ("epochs", "stressDetails", "allDayRespiration", "healthSnapshot", "skinTemp",
                "activities"):
        assert key in text
    assert "respiration rate is not a tracked metric" in text
    # mixed with mapped data, the mapped part is stored and the rest still explained
    mixed = adapt_garmin({**garmin.UNMAPPED, **garmin.HRV})
    assert [s.value for s in mixed.samples] == [44] and not mixed.notification_only
    assert any(i.startswith("skinTemp") for i in mixed.ignored)


def test_garmin_ping_needs_pull_and_lifecycle_is_a_notification() -> None:
    ping = adapt_garmin(garmin.PING)
    assert ping.needs_pull and not ping.samples and ping.account_ids == {garmin.USER}
    for payload in (garmin.DEREGISTRATIONS, garmin.PERMISSIONS_CHANGE):
        r = adapt_garmin(payload)
        assert r.notification_only and not r.needs_pull and not r.samples
        assert r.account_ids == {garmin.USER} and r.ignored


# --- Terra -------------------------------------------------------------------------------

def test_terra_body_weight_is_from_a_scale() -> None:
    r = adapt_terra(terra.BODY)
    assert r.account_ids == {terra.ACCOUNT}
    w, = of(r, "weight")
    assert (w.value, w.unit, w.device_type) == (72.4, "kg", "scale")
    assert w.measured_at == datetime.fromisoformat("2026-07-01T07:55:02+01:00")
    assert [s.value for s in of(r, "body_fat")] == [17.9]


def test_terra_omron_weight_is_a_scale_and_pressure_a_cuff() -> None:
    r = adapt_terra(terra.OMRON_BODY)
    assert {s.metric: s.device_type for s in r.samples} == {
        "weight": "scale", "body_fat": "scale", "blood_pressure_systolic": "bp_cuff",
        "blood_pressure_diastolic": "bp_cuff"}
    assert {s.device_model for s in r.samples} == {"VIVA"}


def test_terra_daily_day_is_the_local_date_of_its_start() -> None:
    steps, = of(adapt_terra(terra.DAILY), "steps")
    assert (steps.value, steps.unit, steps.local_date, steps.coverage_seconds) == (
        11894, "steps", "2026-07-01", 86400)
    assert steps.measured_at == datetime.fromisoformat("2026-07-01T00:00:00+01:00")
    partial, = of(adapt_terra(terra.DAILY_PARTIAL), "steps")
    assert (partial.value, partial.local_date, partial.coverage_seconds) == (4100, "2026-07-01", 43200)
    assert partial.sample_id == steps.sample_id and partial.measured_at == steps.measured_at


def test_terra_sleep_keeps_the_night() -> None:
    r = adapt_terra(terra.SLEEP_FULL)
    got = {s.metric: (s.value, s.unit, s.local_date) for s in r.samples
           if s.metric not in ("heart_rate", "spo2")}
    assert got == {"sleep_duration": (25200, "s", "2026-07-01"),
                   "hrv_rmssd": (35.2, "ms", "2026-07-01"),
                   "hrv_sdnn": (45.5, "ms", "2026-07-01"),
                   "resting_heart_rate": (65, "bpm", "2026-07-01")}
    assert [(s.value, s.unit) for s in of(r, "heart_rate")] == [(58, "bpm"), (47, "bpm")]
    spo2, = of(r, "spo2")
    assert (spo2.value, spo2.unit) == (98, "%")
    assert spo2.measured_at == datetime.fromisoformat("2026-07-01T02:00:00+01:00")
    assert {s.device_type for s in r.samples} == {"watch"}
    assert {s.device_model for s in r.samples} == {"Forerunner 945"}
    assert of(r, "sleep_duration")[0].coverage_seconds == 7 * 3600 + 50 * 60
    # the published minimal example: only the duration
    plain = adapt_terra(terra.SLEEP)
    assert [(s.metric, s.value, s.local_date) for s in plain.samples] == [
        ("sleep_duration", 25200, "2026-07-01")]


def test_terra_sleep_spo2_average_when_no_samples() -> None:
    payload = copy.deepcopy(terra.SLEEP_FULL)
    del payload["data"][0]["respiration_data"]["oxygen_saturation_data"]["samples"]
    spo2, = of(adapt_terra(payload), "spo2")
    assert (spo2.value, spo2.local_date) == (97, "2026-07-01")


def test_terra_lifecycle_and_s3_link() -> None:
    for event in terra.LIFECYCLE:
        r = adapt_terra(event)
        assert r.notification_only and not r.samples and r.account_ids == {terra.ACCOUNT}, event
    assert linked_payload_url("terra", terra.S3_PAYLOAD) == terra.S3_PAYLOAD["url"]
    assert linked_payload_url("terra", terra.DAILY) is None
    assert linked_payload_url("junction", terra.S3_PAYLOAD) is None


# --- Junction ----------------------------------------------------------------------------

def test_junction_body_falls_back_to_date_when_calendar_date_is_malformed() -> None:
    r = adapt_junction(junction.BODY)
    assert r.account_ids == {junction.ACCOUNT}
    got = {s.metric: (s.value, s.unit, s.local_date, s.device_type) for s in r.samples}
    assert got == {"weight": (80, "kg", "2024-04-23", "scale"),
                   "body_fat": (30, "%", "2024-04-23", "scale")}
    updated = adapt_junction(junction.BODY_UPDATED)
    assert [s.sample_id for s in updated.samples] == [s.sample_id for s in r.samples]


def test_junction_blood_pressure_numbers_sent_as_text() -> None:
    r = adapt_junction(junction.BLOOD_PRESSURE)
    got = {s.metric: (s.value, s.unit, s.device_type) for s in r.samples}
    assert got == {"blood_pressure_systolic": (125, "mmHg", "bp_cuff"),
                   "blood_pressure_diastolic": (75, "mmHg", "bp_cuff")}


def test_junction_sleep_hrv_heartrate() -> None:
    sleep = adapt_junction(junction.SLEEP)
    got = {s.metric: (s.value, s.unit, s.local_date) for s in sleep.samples}
    assert got == {"sleep_duration": (28800, "s", "2024-05-17"),
                   "resting_heart_rate": (43, "bpm", "2024-05-17"),
                   "hrv_rmssd": (78, "ms", "2024-05-17")}
    hrv, = adapt_junction(junction.HRV).samples
    assert (hrv.metric, hrv.value, hrv.unit, hrv.utc_offset_seconds, hrv.device_type) == (
        "hrv_rmssd", 61.5, "rmssd", 7200, "ring")
    hr = adapt_junction(junction.HEARTRATE).samples
    assert [(s.metric, s.value, s.unit, s.utc_offset_seconds) for s in hr] == [
        ("heart_rate", 56, "bpm", -14400), ("heart_rate", 54, "bpm", -14400)]


def test_junction_notifications_carry_no_samples() -> None:
    for payload in (junction.HISTORICAL, junction.CONNECTION):
        r = adapt_junction(payload)
        assert r.notification_only and not r.samples and r.account_ids == {junction.ACCOUNT}
    glucose = adapt_junction({**junction.BLOOD_PRESSURE, "event_type": "daily.data.glucose.created"})
    assert glucose.notification_only and "glucose" in glucose.ignored[0]


# --- shapes shared by all adapters ---------------------------------------------------------

@pytest.mark.parametrize(("value", "unit", "canonical", "expected"), [
    (61.5, "rmssd", "ms", 61.5), (45.5, "SDNN", "ms", 45.5), (30, "perc", "%", 30),
    (97, "percentage", "%", 97), (56, "beats per minute", "bpm", 56),
    (125, "mm[Hg]", "mmHg", 125), (75450, "g", "kg", 75.45), (12, "count", "steps", 12),
    (480, "min", "s", 28800), (48, "mL/kg/min", "mL/kg/min", 48),
])
def test_documented_unit_spellings(value: float, unit: str, canonical: str,
                                   expected: float) -> None:
    assert to_canonical(value, unit, canonical) == pytest.approx(expected)


def test_numbers_sent_as_text_are_numbers_and_other_text_is_left_for_rejection() -> None:
    assert (number("125"), number(" 12.5 "), number("-3")) == (125, 12.5, -3)
    assert number("eighty") == "eighty" and number(True) is True and number(None) is None


@given(st.text(max_size=30))
def test_number_never_raises_on_any_text(raw: str) -> None:
    out = number(raw)
    assert out == raw or isinstance(out, int | float)


def test_standard_body_in_the_standard_webhooks_payload_structure() -> None:
    # the Standard Webhooks spec's recommended structure {type, timestamp, data}
    # (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md, "Payload
    # structure"), carrying our native body in `data`
    sample = {"metric": "weight", "value": 80.2, "unit": "kg",
              "measured_at": "2026-11-28T07:02:00+01:00",
              "device": {"type": "scale", "model": "Body+"}}
    r = adapt_standard({"type": "samples", "timestamp": "2026-11-28T06:03:00Z",
                        "data": {"user": "ext-1", "samples": [sample]}})
    assert [(s.metric, s.value, s.unit, s.device_type) for s in r.samples] == [
        ("weight", 80.2, "kg", "scale")] and r.account_ids == {"ext-1"}
    # the spec's own example event ("Full payload") is a notification without samples
    other = adapt_standard({"type": "contact.created", "timestamp": "2022-11-03T20:26:10.344522Z",
                            "data": {"id": "1f81eb52-5198-4599-803e-771906343485",
                                     "type": "contact", "fullName": "John Smith",
                                     "address": "800 W NASA Pkwy, Webster, TX 77598, USA",
                                     "phoneNumber": "(281) 332-2575",
                                     "birthday": "1980-04-19", "occupation": "Engineer, ACME"}})
    assert other.notification_only and not other.samples


def test_terra_heart_data_is_read_under_either_published_key() -> None:
    # Daily/Sleep publish `heart_rate_data`, Body `heart_data.heart_rate_data`
    payload = copy.deepcopy(terra.DAILY)
    payload["data"][0]["heart_data"] = {"heart_rate_data": {"summary": {"resting_hr_bpm": 58}}}
    resting, = of(adapt_terra(payload), "resting_heart_rate")
    assert (resting.value, resting.local_date) == (58, "2026-07-01")
