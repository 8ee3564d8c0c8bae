"""The confidence_calculation job: cache, history, conflicts and flags, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import make_user
from tests.metrics.helpers import make_source, manual_source, raw, rows, store
from vitaltrust.confidence.jobs import enqueue_due_refreshes, recalculate_pairs
from vitaltrust.db import Conn

NOW = datetime.now(UTC).replace(microsecond=0)
CACHE = "SELECT * FROM metric_confidence_cache WHERE user_id = %s AND metric = %s"
HISTORY = "SELECT * FROM metric_confidence_history WHERE user_id = %s ORDER BY computed_at"
CONFLICTS = "SELECT * FROM metric_conflicts WHERE user_id = %s ORDER BY loser_measured_at"
FLAGS = ("SELECT value, flags FROM metric_samples WHERE user_id = %s AND metric = %s"
         " ORDER BY measured_at, source_id")


async def recalc(conn: Conn, user_id: int, metric: str, now: datetime = NOW) -> int:
    async with conn.transaction():
        return await recalculate_pairs(conn, [(user_id, metric)], now=now)


async def weight_history(conn: Conn) -> tuple[int, int, int]:
    """A client with 14 daily scale weights, a manual entry 10 minutes after the last one
    that disagrees by 3 kg, and a jump of +4 kg in a day 5 days ago."""
    user = await make_user(conn, "client")
    scale = await make_source(conn, "scale-co")
    manual = await manual_source(conn)
    values = [80.0] * 14
    values[-5] = 84.0
    await store(conn, user.user_id, scale, [
        raw("weight", v, NOW - timedelta(days=13 - i, hours=2)) for i, v in enumerate(values)])
    await store(conn, user.user_id, manual, [
        raw("weight", 83.0, NOW - timedelta(hours=2) + timedelta(minutes=10), device="manual")])
    return user.user_id, scale, manual


async def test_job_writes_cache_history_conflicts_and_flags(conn: Conn) -> None:
    user_id, scale, manual = await weight_history(conn)
    assert await recalc(conn, user_id, "weight") == 1

    [cache] = await rows(conn, CACHE, user_id, "weight")
    assert cache["latest_value"] == 80.0  # the scale wins the conflict
    assert cache["sample_count"] == 15
    assert cache["computed_at"] == NOW and cache["last_sample_at"] == NOW - timedelta(hours=2)
    assert cache["level"] in ("excellent", "good", "fair", "poor")
    assert 0 <= float(cache["score"]) <= 100
    codes = {c["code"]: c for c in cache["components"]}
    assert codes["A"]["score"] == 0  # the only conflict group disagrees
    assert cache["explanation"]["model_version"] == "1"
    assert cache["next_refresh_at"] > NOW
    assert len(cache["daily_series"]) == 14 and cache["daily_series"][-1][1] == 80.0

    [conflict] = await rows(conn, CONFLICTS, user_id)
    assert (conflict["winner_source_id"], conflict["winner_value"]) == (scale, 80.0)
    assert (conflict["loser_source_id"], conflict["loser_value"]) == (manual, 83.0)
    assert conflict["agrees"] is False and conflict["difference"] == pytest.approx(3.0)

    flags = await rows(conn, FLAGS, user_id, "weight")
    jumped = [f for f in flags if f["value"] == 84.0]
    assert "RAPID_CHANGE" in jumped[0]["flags"]
    assert len(await rows(conn, HISTORY, user_id)) == 1


async def test_rerun_is_idempotent_and_history_grows_per_computation(conn: Conn) -> None:
    user_id, _, _ = await weight_history(conn)
    await recalc(conn, user_id, "weight")
    first = (await rows(conn, CACHE, user_id, "weight"))[0]
    flags_before = await rows(conn, FLAGS, user_id, "weight")
    await recalc(conn, user_id, "weight")
    again = (await rows(conn, CACHE, user_id, "weight"))[0]
    assert {k: v for k, v in again.items() if k != "updated_at"} == \
        {k: v for k, v in first.items() if k != "updated_at"}
    assert await rows(conn, FLAGS, user_id, "weight") == flags_before
    assert len(await rows(conn, CONFLICTS, user_id)) == 1
    assert len(await rows(conn, HISTORY, user_id)) == 1
    await recalc(conn, user_id, "weight", NOW + timedelta(hours=1))
    assert len(await rows(conn, HISTORY, user_id)) == 2


async def test_conflicts_follow_the_data(conn: Conn) -> None:
    user_id, _, manual = await weight_history(conn)
    await recalc(conn, user_id, "weight")
    at = NOW - timedelta(hours=2) + timedelta(minutes=10)
    await store(conn, user_id, manual, [raw("weight", 80.4, at, device="manual")])
    await recalc(conn, user_id, "weight")
    [conflict] = await rows(conn, CONFLICTS, user_id)
    assert conflict["agrees"] is True and conflict["loser_value"] == 80.4
    components = (await rows(conn, CACHE, user_id, "weight"))[0]["components"]
    assert next(c for c in components if c["code"] == "A")["score"] == 100
    await conn.execute("DELETE FROM metric_samples WHERE user_id = %s AND source_id = %s",
                       (user_id, manual))
    await recalc(conn, user_id, "weight")
    assert await rows(conn, CONFLICTS, user_id) == []


async def test_user_priority_override_changes_the_winner(conn: Conn) -> None:
    user_id, _, manual = await weight_history(conn)
    await conn.execute("INSERT INTO user_source_priorities (user_id, metric, priority)"
                       " VALUES (%s, 'weight', '{manual,scale}')", (user_id,))
    await recalc(conn, user_id, "weight")
    [cache] = await rows(conn, CACHE, user_id, "weight")
    assert cache["latest_value"] == 83.0
    [conflict] = await rows(conn, CONFLICTS, user_id)
    assert conflict["winner_source_id"] == manual


async def test_a_pair_without_samples_is_cached_as_insufficient(conn: Conn) -> None:
    user = await make_user(conn, "client")
    await recalc(conn, user.user_id, "vo2max")
    [cache] = await rows(conn, CACHE, user.user_id, "vo2max")
    assert cache["level"] == "insufficient" and cache["sample_count"] == 0
    assert cache["next_refresh_at"] is None


async def test_unknown_metric_or_user_fails_cleanly(conn: Conn) -> None:
    with pytest.raises(ValueError, match="unknown metric 'mood'"):
        await recalc(conn, 1, "mood")
    assert await recalc(conn, 987654, "weight") == 1  # nothing to write for a missing user
    assert await rows(conn, CACHE, 987654, "weight") == []


async def test_refresh_task_enqueues_due_rows_only(conn: Conn) -> None:
    user_id, _, _ = await weight_history(conn)
    other = await make_user(conn, "client")
    await recalc(conn, user_id, "weight")
    await recalc(conn, other.user_id, "weight")
    await conn.execute("DELETE FROM background_jobs")
    await conn.execute("UPDATE metric_confidence_cache SET next_refresh_at = %s"
                       " WHERE user_id = %s", (NOW - timedelta(minutes=1), user_id))
    async with conn.transaction():
        assert await enqueue_due_refreshes(conn, NOW) == 1
    jobs = await rows(conn, "SELECT payload, dedupe_key, status FROM background_jobs")
    assert jobs == [{"payload": {"user_id": user_id, "metric": "weight"},
                     "dedupe_key": f"confidence:{user_id}:weight", "status": "pending"}]
    [cache] = await rows(conn, CACHE, user_id, "weight")
    assert cache["next_refresh_at"] > NOW  # pushed ahead until the job sets the real time
    async with conn.transaction():
        assert await enqueue_due_refreshes(conn, NOW) == 0
