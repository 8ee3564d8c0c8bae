"""Outbound events for the coaching app: emitted where the confidence cache is written,
signed, ordered per user+metric, at-least-once with a stable webhook-id, replayable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.alerts.receivers import HttpReceiver
from tests.conftest import make_user
from tests.ingest.support import make_source as make_ingest_source
from tests.ingest.support import native_body, standard_headers
from tests.metrics.helpers import make_source, raw, store
from vitaltrust.alerts import store as alerts_store
from vitaltrust.alerts.delivery import deliver_stream
from vitaltrust.alerts.secrets import new_key
from vitaltrust.confidence.jobs import recalculate_pairs
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.jobs import process_event

NOW = datetime.now(UTC).replace(microsecond=0)
PENDING_STREAMS = "SELECT DISTINCT stream FROM outbound_deliveries WHERE status = 'pending' ORDER BY 1"


@pytest.fixture
def out_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbound_secret_key": new_key()})


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.stop()


async def subscribe(conn: Conn, s: Settings, receiver: HttpReceiver, *types: str) -> int:
    async with conn.transaction():
        created = await alerts_store.add_subscription(
            conn, s, name="coach", url=receiver.url,
            event_types=list(types) or ["confidence.level_changed", "confidence.low_quality"],
            timeout_seconds=2.0)
    receiver.secret = created.secret
    return created.id


async def drain(conn: Conn, s: Settings) -> None:
    for r in await (await conn.execute(PENDING_STREAMS)).fetchall():
        async with conn.transaction():
            await deliver_stream(conn, s, r["stream"], via="queue", by="test")


async def weights(conn: Conn) -> int:
    user = await make_user(conn, "client")
    scale = await make_source(conn, "scale-co")
    await store(conn, user.user_id, scale, [
        raw("weight", 80.0 + (i % 3) * 0.1, NOW - timedelta(days=13 - i, hours=2))
        for i in range(14)])
    return user.user_id


async def recalc(conn: Conn, user_id: int, now: datetime) -> None:
    async with conn.transaction():
        await recalculate_pairs(conn, [(user_id, "weight")], now=now)


async def levels(conn: Conn, user_id: int) -> list[str]:
    rows = await (await conn.execute(
        "SELECT level FROM metric_confidence_history WHERE user_id = %s ORDER BY computed_at",
        (user_id,))).fetchall()
    out: list[str] = []
    for r in rows:
        if not out or out[-1] != r["level"]:
            out.append(r["level"])
    return out


async def test_level_changes_are_signed_events_and_no_change_sends_nothing(
        conn: Conn, out_settings: Settings, receiver: HttpReceiver) -> None:
    await subscribe(conn, out_settings, receiver)
    receiver.start()
    user_id = await weights(conn)
    await recalc(conn, user_id, NOW)
    for _ in range(5):  # a burst of recalculations that changes nothing
        await recalc(conn, user_id, NOW + timedelta(minutes=1))
    n = await (await conn.execute("SELECT count(*) AS n FROM outbound_events")).fetchone()
    assert n is not None and n["n"] == 1
    jobs = await (await conn.execute(
        "SELECT payload, dedupe_key FROM background_jobs WHERE type = 'outbound_delivery'"
    )).fetchall()
    assert [j["dedupe_key"] for j in jobs] == [f"outbound:s:1:user:{user_id}:weight"]
    for days in (20, 40, 60):  # freshness decays: the level drops, step by step
        await recalc(conn, user_id, NOW + timedelta(days=days))
    await drain(conn, out_settings)

    assert receiver.rejected == 0
    changed = [r.payload for r in receiver.received if r.payload["type"] == "confidence.level_changed"]
    expected = await levels(conn, user_id)
    assert len(expected) >= 2
    assert [c["data"]["new_level"] for c in changed] == expected
    assert [c["data"]["old_level"] for c in changed] == [None, *expected[:-1]]
    first = changed[0]["data"]
    assert first["user_id"] == user_id and first["metric"] == "weight"
    assert set(first) >= {"score", "top_reasons", "computed_at"}
    low = [r.payload["data"] for r in receiver.received if r.payload["type"] == "confidence.low_quality"]
    assert (low and low[0]["new_level"] in ("poor", "insufficient")) or low[0]["stale"]
    assert len({r.webhook_id for r in receiver.received}) == len(receiver.received)


async def test_receiver_down_then_back_delivers_each_once_in_order(
        conn: Conn, out_settings: Settings, receiver: HttpReceiver) -> None:
    await subscribe(conn, out_settings, receiver, "confidence.level_changed")
    user_id = await weights(conn)
    for days in (0, 20, 40, 60):
        await recalc(conn, user_id, NOW + timedelta(days=days))
    # receiver down (nothing listens on the port): the head fails, the rest wait behind it
    await drain(conn, out_settings)
    log = await (await conn.execute(
        "SELECT status, attempts, last_error, next_attempt_at > now() AS later "
        "FROM outbound_deliveries ORDER BY delivery_id")).fetchall()
    assert log[0]["attempts"] == 1 and log[0]["later"] and "ConnectError" in log[0]["last_error"]
    assert all(r["attempts"] == 0 for r in log[1:])
    await drain(conn, out_settings)  # not due yet: nothing is attempted
    att = await (await conn.execute("SELECT count(*) AS n FROM outbound_attempts")).fetchone()
    assert att is not None and att["n"] == 1

    receiver.start()
    await conn.execute("UPDATE outbound_deliveries SET next_attempt_at = now()")  # time passes
    await drain(conn, out_settings)
    levels_sent = [r.payload["data"]["new_level"] for r in receiver.received]
    assert levels_sent == await levels(conn, user_id)
    assert len({r.webhook_id for r in receiver.received}) == len(levels_sent)
    done = await (await conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'delivered') AS ok, count(*) AS n "
        "FROM outbound_deliveries")).fetchone()
    assert done is not None and done["ok"] == done["n"] == len(levels_sent)


async def test_replay_resends_the_same_webhook_id(
        conn: Conn, out_settings: Settings, receiver: HttpReceiver) -> None:
    await subscribe(conn, out_settings, receiver, "confidence.level_changed")
    receiver.start()
    user_id = await weights(conn)
    await recalc(conn, user_id, NOW)
    await drain(conn, out_settings)
    [first] = receiver.received
    async with conn.transaction():
        assert await alerts_store.replay(conn, first.webhook_id) == 1
    await drain(conn, out_settings)
    assert [r.webhook_id for r in receiver.received] == [first.webhook_id] * 2
    with pytest.raises(LookupError):
        await alerts_store.replay(conn, "msg_nope")


async def test_unmatched_account_is_announced_once_per_account(
        conn: Conn, out_settings: Settings, receiver: HttpReceiver,
        app_client: httpx.AsyncClient) -> None:
    await subscribe(conn, out_settings, receiver, "webhook.unmatched_account")
    receiver.start()
    source, secret = await make_ingest_source(conn)
    for user in ("stranger", "stranger", "other-stranger"):  # real signed deliveries
        body = native_body(user=user)
        r = await app_client.post(f"/webhooks/{source.name}", content=body,
                                  headers=standard_headers(secret, body))
        assert r.status_code == 202, r.text
        async with conn.transaction():
            assert await process_event(conn, int(r.json()["webhook_event_id"])) == "unmatched"
    await drain(conn, out_settings)
    got = [r.payload["data"] for r in receiver.received]
    assert [(g["source"], g["external_user_id"]) for g in got] == [
        (source.name, "stranger"), (source.name, "other-stranger")]


async def test_a_success_rolled_back_with_its_batch_is_recorded_not_resent(
        conn: Conn, out_settings: Settings, receiver: HttpReceiver) -> None:
    await subscribe(conn, out_settings, receiver, "confidence.level_changed")
    receiver.start()
    user_id = await weights(conn)
    await recalc(conn, user_id, NOW)
    [row] = await (await conn.execute(PENDING_STREAMS)).fetchall()
    with pytest.raises(RuntimeError):
        async with conn.transaction():  # as when another job of the runner's batch fails
            await deliver_stream(conn, out_settings, row["stream"], via="queue", by="test")
            raise RuntimeError("another job failed")
    await drain(conn, out_settings)
    assert len(receiver.received) == 1
    d = await (await conn.execute("SELECT status, attempts FROM outbound_deliveries")).fetchone()
    assert d is not None and (d["status"], d["attempts"]) == ("delivered", 1)
