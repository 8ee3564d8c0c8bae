"""Device identity, replacements and daily-summary coverage against a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.conftest import make_user
from tests.metrics.helpers import make_source, raw, rows, store
from vitaltrust.db import Conn, connect
from vitaltrust.metrics.types import RawSample
from vitaltrust.migrations import CREATE_LEDGER, INSERT_APPLIED, available, migrate

NOW = datetime.now(UTC).replace(microsecond=0)
SAMPLES = ("SELECT metric, measured_at, local_date, value, device_type, device_model, "
           "external_id, webhook_event_id, coverage_seconds FROM metric_samples "
           "WHERE user_id = %s ORDER BY metric, measured_at, device_key")
# A Garmin daily (Health API spec, 7.1 Daily Summaries, second example: summaryId
# EXAMPLE_67892, steps 3305, restingHeartRateInBeatsPerMinute 64, startTimeInSeconds
# 1452556800, startTimeOffsetInSeconds 3600; calendarDate 2016-01-12 as in the first
# example's pattern) as the adapter hands it over: day values at the summary's end.
START = datetime(2016, 1, 12, 0, 0, tzinfo=UTC)
GARMIN_NOW = datetime(2016, 1, 14, tzinfo=UTC)
HR = {15: 77, 30: 72, 3180: 71, 3195: 67, 3210: 62, 3225: 65, 3240: 71, 3255: 81}


def garmin_daily(duration: int, steps: int, resting: int | None, offsets: list[int],
                 start: datetime = START, hr_coverage: bool = False) -> list[RawSample]:
    end = start + timedelta(seconds=duration)
    day = dict(utc_offset_seconds=3600, local_date="2016-01-12", coverage_seconds=duration,
               device_type="watch")
    out = [RawSample("g", "steps", steps, "steps", end, sample_id="EXAMPLE_67892:steps", **day)]
    if resting is not None:
        out.append(RawSample("g", "resting_heart_rate", resting, "bpm", end,
                             sample_id="EXAMPLE_67892:resting_heart_rate", **day))
    out += [RawSample("g", "heart_rate", HR[o], "bpm", start + timedelta(seconds=o),
                      utc_offset_seconds=3600, device_type="watch",
                      coverage_seconds=duration if hr_coverage else None,
                      sample_id=f"EXAMPLE_67892:heart_rate:{o}") for o in offsets]
    return out


FULL = garmin_daily(86400, 3305, 64, sorted(HR))
# a mid-day sync of the same summary: same id, shorter period, fewer samples so far
PARTIAL = garmin_daily(43200, 1500, None, [15, 30])


async def test_same_instant_scale_and_manual_in_one_delivery_are_both_stored(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "junction-like")
    at = NOW - timedelta(hours=1)
    result = await store(conn, user.user_id, source, [
        raw("weight", 80.2, at, device="scale", device_model="Body+"),
        raw("weight", 83.0, at, device="manual")])
    assert (result.stored, result.rejections) == (2, [])
    stored = await rows(conn, SAMPLES, user.user_id)
    assert [(r["device_type"], r["device_model"], r["value"]) for r in stored] == [
        ("manual", None, 83.0), ("scale", "Body+", 80.2)]


async def test_a_replacement_takes_over_every_field_of_the_new_sample(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "ids-co")
    at = NOW - timedelta(hours=3)
    await store(conn, user.user_id, source, [raw("weight", 80.0, at, sample_id="first")])
    await conn.execute("UPDATE metric_samples SET webhook_event_id = 41 WHERE user_id = %s",
                       (user.user_id,))
    again = await store(conn, user.user_id, source, [raw("weight", 80.5, at)])
    assert again.stored == 1
    [row] = await rows(conn, SAMPLES, user.user_id)
    assert (row["value"], row["external_id"], row["webhook_event_id"]) == (80.5, None, None)


async def test_same_id_with_a_corrected_device_replaces_the_row(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "fix-co")
    at = NOW - timedelta(hours=3)
    await store(conn, user.user_id, source, [raw("weight", 80.0, at, device="unknown",
                                                 sample_id="w-1")])
    await store(conn, user.user_id, source, [raw("weight", 80.0, at, device="scale",
                                                 sample_id="w-1")])
    stored = await rows(conn, SAMPLES, user.user_id)
    assert [(r["device_type"], r["external_id"]) for r in stored] == [("scale", "w-1")]


async def test_every_sample_not_stored_is_a_rejection(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "sane-co")
    at = NOW - timedelta(hours=1)
    result = await store(conn, user.user_id, source, [
        raw("weight", 80.0, at, device_model="Body+"),
        raw("weight", 80.1, at, device_model="Body+"),
        raw("weight", 80.0, datetime(1, 1, 1, tzinfo=UTC)),
        raw("weight", 80.0, NOW + timedelta(days=2)),
        raw("weight", 1e308, at + timedelta(minutes=1)),
        raw("weight", 500, at + timedelta(minutes=2))])
    assert result.stored == 2
    assert [r.index for r in result.rejections] == [0, 2, 3, 4]
    assert "replaced by a later scale Body+ sample" in result.rejections[0].reason
    assert "before 1970" in result.rejections[1].reason
    assert "more than 1 day in the future" in result.rejections[2].reason
    assert "is not a possible weight" in result.rejections[3].reason
    stored = await rows(conn, SAMPLES + "", user.user_id)
    assert [r["value"] for r in stored] == [80.1, 500]


async def _day(conn: Conn, user_id: int) -> dict[str, list[tuple[date, float, int | None]]]:
    out: dict[str, list[tuple[date, float, int | None]]] = {}
    for r in await rows(conn, SAMPLES, user_id):
        out.setdefault(r["metric"], []).append((r["local_date"], r["value"],
                                                r["coverage_seconds"]))
    return out


async def test_garmin_partial_after_the_full_daily_changes_and_deletes_nothing(
        conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "garmin-like", "garmin")
    full = await store(conn, user.user_id, source, FULL, now=GARMIN_NOW)
    assert (full.stored, full.rejections) == (10, [])
    before = await rows(conn, SAMPLES, user.user_id)
    partial = await store(conn, user.user_id, source, PARTIAL, now=GARMIN_NOW)
    assert await rows(conn, SAMPLES, user.user_id) == before
    days = await _day(conn, user.user_id)
    assert days["steps"] == [(date(2016, 1, 12), 3305, 86400)]
    assert days["resting_heart_rate"] == [(date(2016, 1, 12), 64, 86400)]
    assert len(days["heart_rate"]) == 8
    assert [(r.index, r.reason) for r in partial.rejections] == [
        (0, "a fuller summary of 2016-01-12 is stored (86400 s covered); this one covers "
            "43200 s")]
    assert partial.stored == 2  # the two heart-rate samples, the same as stored


async def test_a_partial_timed_differently_moves_none_of_the_fuller_summarys_samples(
        conn: Conn) -> None:
    # What deleted 6 heart-rate samples and the resting HR: their ids (summaryId + metric
    # [+ offset]) are shared by every sync of the summary, so a partial timed differently
    # "moved" them (the same id at another time replaced the row). A summary's samples
    # carrying its coverage are outranked by the fuller stored summary instead.
    user = await make_user(conn, "client")
    source = await make_source(conn, "garmin-like3", "garmin")
    await store(conn, user.user_id, source,
                garmin_daily(86400, 3305, 64, sorted(HR), hr_coverage=True), now=GARMIN_NOW)
    before = await rows(conn, SAMPLES, user.user_id)
    shifted = garmin_daily(43200, 1500, 60, sorted(HR)[:6], start=START + timedelta(minutes=1),
                           hr_coverage=True)
    result = await store(conn, user.user_id, source, shifted, now=GARMIN_NOW)
    assert await rows(conn, SAMPLES, user.user_id) == before
    assert result.stored == 0 and len(result.rejections) == 8
    assert all("a fuller summary of 2016-01-12 is stored" in r.reason for r in result.rejections)


async def test_garmin_full_daily_after_the_partial_replaces_it(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "garmin-like2", "garmin")
    await store(conn, user.user_id, source, PARTIAL, now=GARMIN_NOW)
    assert (await _day(conn, user.user_id))["steps"] == [(date(2016, 1, 12), 1500, 43200)]
    result = await store(conn, user.user_id, source, FULL, now=GARMIN_NOW)
    assert (result.stored, result.rejections) == (10, [])
    days = await _day(conn, user.user_id)
    assert days["steps"] == [(date(2016, 1, 12), 3305, 86400)]
    assert days["resting_heart_rate"] == [(date(2016, 1, 12), 64, 86400)]
    assert len(days["heart_rate"]) == 8
    # an equal summary again (Garmin resends) replaces it in place: still one row a day
    await store(conn, user.user_id, source, FULL, now=GARMIN_NOW)
    assert (await _day(conn, user.user_id))["steps"] == [(date(2016, 1, 12), 3305, 86400)]


async def test_a_summary_of_another_device_is_not_outranked(conn: Conn) -> None:
    user = await make_user(conn, "client")
    source = await make_source(conn, "terra-like", "terra")
    day = datetime(2025, 7, 5, 0, 0, tzinfo=UTC)
    common = dict(local_date="2025-07-04", utc_offset_seconds=7200)
    await store(conn, user.user_id, source, [
        RawSample("t", "steps", 9000, None, day, device_type="watch", coverage_seconds=86400,
                  **common)], now=day)
    result = await store(conn, user.user_id, source, [
        RawSample("t", "steps", 4000, None, day - timedelta(hours=8), device_type="phone",
                  coverage_seconds=50000, **common)], now=day)
    assert result.stored == 1
    days = await _day(conn, user.user_id)
    assert sorted(days["steps"]) == [(date(2025, 7, 4), 4000, 50000),
                                     (date(2025, 7, 4), 9000, 86400)]


async def test_migration_0540_keeps_existing_samples_and_conflicts(empty_db_url: str) -> None:
    conn = await connect(empty_db_url)
    try:
        await conn.execute(CREATE_LEDGER)
        for m in available():
            if m.version < "0540":
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(INSERT_APPLIED, (m.version, m.name, m.checksum))
        user = await make_user(conn, "client")
        await conn.execute("INSERT INTO webhook_sources (name, kind, signing_key) "
                           "VALUES ('old', 'standard', '\\x00')")
        at = NOW - timedelta(hours=1)
        insert = """
            INSERT INTO metric_samples (user_id, metric, source_id, measured_at, local_date, value,
                                        device_type, device_model, external_id)
            SELECT %s, 'weight', source_id, %s, %s, %s, %s, %s, %s
            FROM webhook_sources WHERE name = %s"""
        await conn.execute(insert, (user.user_id, at, at.date(), 80.2, "scale", "Body+", "e1",
                                    "old"))
        later = at + timedelta(minutes=10)
        await conn.execute(insert, (user.user_id, later, later.date(), 83.0, "manual", None,
                                    None, "manual"))
        await conn.execute("""
            INSERT INTO metric_conflicts (user_id, metric, loser_source_id, loser_measured_at,
                loser_value, loser_device_type, winner_source_id, winner_measured_at,
                winner_value, winner_device_type, difference, agrees)
            SELECT l.user_id, 'weight', l.source_id, l.measured_at, l.value, l.device_type,
                   w.source_id, w.measured_at, w.value, w.device_type, l.value - w.value, false
            FROM metric_samples l, metric_samples w
            WHERE l.device_type = 'manual' AND w.device_type = 'scale'""")
        assert "0540" in await migrate(conn)
        stored = await rows(conn, "SELECT device_key, external_id, coverage_seconds "
                                  "FROM metric_samples ORDER BY device_key")
        assert stored == [{"device_key": "manual/", "external_id": None, "coverage_seconds": None},
                          {"device_key": "scale/Body+", "external_id": "e1",
                           "coverage_seconds": None}]
        [conflict] = await rows(conn, "SELECT loser_device_key, winner_device_model "
                                      "FROM metric_conflicts")
        assert conflict == {"loser_device_key": "manual/", "winner_device_model": "Body+"}
    finally:
        await conn.close()
