"""store_samples against a real database: idempotent upserts, flags, local dates, jobs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tests.conftest import make_user
from tests.metrics.helpers import make_source, raw, rows, store
from vitaltrust.db import Conn

NOW = datetime.now(UTC).replace(microsecond=0)
SAMPLES = "SELECT * FROM metric_samples WHERE user_id = %s ORDER BY metric, measured_at"
JOBS = ("SELECT payload, dedupe_key, is_sandbox FROM background_jobs"
        " WHERE type = 'confidence_calculation' AND status = 'pending' ORDER BY dedupe_key")


async def test_same_source_and_time_replaces_never_two_rows(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "scale-co")
    at = NOW - timedelta(hours=2)
    first = await store(conn, user.user_id, source, [raw("weight", 80.0, at)])
    again = await store(conn, user.user_id, source, [raw("weight", 176.4, at, unit="lb")])
    assert first.stored == again.stored == 1
    stored = await rows(conn, SAMPLES, user.user_id)
    assert len(stored) == 1
    assert stored[0]["value"] == pytest.approx(80.01, abs=0.01)
    assert (stored[0]["original_value"], stored[0]["original_unit"]) == (176.4, "lb")


async def test_same_sample_id_replaces_even_with_a_corrected_time(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "watch-co")
    at = NOW - timedelta(hours=5)
    await store(conn, user.user_id, source, [raw("weight", 80.0, at, sample_id="s-1")])
    await store(conn, user.user_id, source,
                [raw("weight", 80.4, at + timedelta(minutes=3), sample_id="s-1")])
    stored = await rows(conn, SAMPLES, user.user_id)
    assert [(r["measured_at"], r["value"], r["external_id"]) for r in stored] == [
        (at + timedelta(minutes=3), 80.4, "s-1")]


async def test_one_delivery_with_duplicates_keeps_the_last(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "dup-co")
    at = NOW - timedelta(hours=1)
    result = await store(conn, user.user_id, source, [
        raw("weight", 80.0, at), raw("weight", 81.0, at),
        raw("steps", 100, at, device="watch", sample_id="x"),
        raw("steps", 200, at + timedelta(seconds=1), device="watch", sample_id="x")])
    assert result.stored == 2
    stored = await rows(conn, SAMPLES, user.user_id)
    assert [(r["metric"], r["value"]) for r in stored] == [("steps", 200), ("weight", 81.0)]


async def test_rejections_are_per_sample_and_the_rest_is_stored(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "mixed-co")
    at = NOW - timedelta(hours=1)
    result = await store(conn, user.user_id, source, [
        raw("weight", 80.0, at), raw("mood", 3, at), raw("weight", float("nan"), at),
        raw("weight", 80, at + timedelta(minutes=1), unit="furlong")])
    assert result.stored == 1
    assert [(r.index, r.reason) for r in result.rejections] == [
        (1, "unknown metric 'mood'"), (2, "value is NaN"), (3, "unknown unit 'furlong'")]
    assert result.affected_metrics == {"weight"}
    assert len(await rows(conn, SAMPLES, user.user_id)) == 1


async def test_jobs_are_enqueued_once_per_user_and_metric(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "jobs-co")
    for minutes in (10, 20):
        await store(conn, user.user_id, source, [
            raw("weight", 80.0, NOW - timedelta(minutes=minutes)),
            raw("steps", 5000, NOW - timedelta(minutes=minutes), device="watch")])
    jobs = await rows(conn, JOBS)
    assert [j["dedupe_key"] for j in jobs] == [f"confidence:{user.user_id}:steps",
                                               f"confidence:{user.user_id}:weight"]
    assert jobs[1]["payload"] == {"user_id": user.user_id, "metric": "weight"}


async def test_nothing_stored_enqueues_nothing_and_rolls_back_with_the_caller(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "rb-co")
    await store(conn, user.user_id, source, [raw("mood", 1, NOW)])
    assert await rows(conn, JOBS) == []

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with conn.transaction():
            from vitaltrust.metrics.store import store_samples
            await store_samples(conn, user_id=user.user_id, source_id=source,
                                webhook_event_id=None, samples=[raw("weight", 80, NOW)])
            raise Boom
    assert await rows(conn, SAMPLES, user.user_id) == []
    assert await rows(conn, JOBS) == []


async def test_local_dates_from_offset_provider_date_and_user_zone(conn: Conn) -> None:
    user = await make_user(conn, "client", time_zone="Pacific/Auckland")
    source = await make_source(conn, "tz-co")
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    await store(conn, user.user_id, source, [
        raw("weight", 80, late.astimezone(timezone(timedelta(hours=-5)))),
        raw("steps", 9000, late, device="watch", local_date="2026-11-26"),
        raw("resting_heart_rate", 55, late, device="ring")], now=late)
    stored = {r["metric"]: r["local_date"] for r in await rows(conn, SAMPLES, user.user_id)}
    assert stored == {"weight": date(2026, 11, 27), "steps": date(2026, 11, 26),
                      "resting_heart_rate": date(2026, 11, 28)}


async def test_implausible_values_and_inverted_blood_pressure_are_flagged(conn: Conn) -> None:
    user = await make_user(conn, "client")
    cuff = await make_source(conn, "cuff-co")
    at = NOW - timedelta(hours=3)
    await store(conn, user.user_id, cuff, [raw("weight", 400, at),
                                           raw("blood_pressure_systolic", 80, at, device="bp_cuff")])
    # the diastolic half arrives in a later delivery
    await store(conn, user.user_id, cuff, [raw("blood_pressure_diastolic", 90, at, device="bp_cuff")])
    flags = {r["metric"]: r["flags"] for r in await rows(conn, SAMPLES, user.user_id)}
    assert flags == {"weight": ["IMPLAUSIBLE_VALUE"],
                     "blood_pressure_systolic": ["IMPLAUSIBLE_VALUE"],
                     "blood_pressure_diastolic": ["IMPLAUSIBLE_VALUE"]}
    # a corrected systolic clears both
    await store(conn, user.user_id, cuff, [raw("blood_pressure_systolic", 120, at, device="bp_cuff")])
    flags = {r["metric"]: r["flags"] for r in await rows(conn, SAMPLES, user.user_id)}
    assert flags["blood_pressure_systolic"] == flags["blood_pressure_diastolic"] == []


async def test_sandbox_jobs_are_marked(conn: Conn) -> None:
    user = await make_user(conn, "client", is_sandbox=True)
    source = await make_source(conn, "sandbox-co")
    await store(conn, user.user_id, source, [raw("weight", 80, NOW)], is_sandbox=True)
    assert [j["is_sandbox"] for j in await rows(conn, JOBS)] == [True]


async def test_store_groups_stores_many_deliveries_as_each_alone_would(conn: Conn) -> None:
    from vitaltrust.metrics.store import SampleGroup, store_groups

    one, two = await make_user(conn, "client"), await make_user(conn, "client")
    source = await make_source(conn, "group-co")
    at = NOW - timedelta(hours=3)
    groups = [SampleGroup(one.user_id, source, None, [raw("weight", 80.0, at),
                                                      raw("weight", "heavy", at)]),
              SampleGroup(two.user_id, source, None, [raw("weight", 90.0, at),
                                                      raw("steps", 500, at, device="watch")]),
              SampleGroup(one.user_id, source, None, [raw("weight", 81.0, at + timedelta(1))])]
    async with conn.transaction():
        results = await store_groups(conn, groups)
    assert [r.stored for r in results] == [1, 2, 1]
    assert [len(r.rejections) for r in results] == [1, 0, 0]
    assert results[1].affected_metrics == {"weight", "steps"}
    assert [(r["value"]) for r in await rows(conn, SAMPLES, one.user_id)] == [80.0, 81.0]
    assert [(r["metric"], r["value"]) for r in await rows(conn, SAMPLES, two.user_id)] == [
        ("steps", 500), ("weight", 90.0)]
    jobs = [r["dedupe_key"] for r in await rows(conn, JOBS)]
    assert jobs == sorted({f"confidence:{one.user_id}:weight", f"confidence:{two.user_id}:weight",
                           f"confidence:{two.user_id}:steps"})


async def test_store_groups_naming_the_same_sample_apply_in_order(conn: Conn) -> None:
    """Two deliveries of one batch for the same reading: the later replaces the earlier,
    as when they are stored one after another (one INSERT could not touch a row twice)."""
    from vitaltrust.metrics.store import SampleGroup, store_groups

    user = await make_user(conn, "client")
    source = await make_source(conn, "twice-co")
    at = NOW - timedelta(hours=2)
    groups = [SampleGroup(user.user_id, source, None, [raw("weight", 80.0, at, sample_id="a")]),
              SampleGroup(user.user_id, source, None,
                          [raw("weight", 80.5, at + timedelta(minutes=1), sample_id="a")])]
    async with conn.transaction():
        results = await store_groups(conn, groups)
    assert [r.stored for r in results] == [1, 1]
    assert [(r["measured_at"], r["value"]) for r in await rows(conn, SAMPLES, user.user_id)] == [
        (at + timedelta(minutes=1), 80.5)]
