"""Alert rules on the real health function, the API watchdog's direct delivery, destinations
of every kind against real receivers, queued deliveries and the send-test action."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from tests.alerts.receivers import HttpReceiver, SmtpReceiver
from vitaltrust.alerts import store
from vitaltrust.alerts.evaluate import evaluate
from vitaltrust.alerts.rules import RULES
from vitaltrust.alerts.secrets import new_key
from vitaltrust.alerts.watchdog import Watchdog
from vitaltrust.config import Settings, get_settings
from vitaltrust.db import Conn, create_pool, transaction
from vitaltrust.queue.enqueue import NewJob, enqueue_many
from vitaltrust.queue.worker import run_until_idle

ALIVE = """
INSERT INTO workers (worker_id, host, pid, version, concurrency, heartbeat_seconds, is_leader)
VALUES ('w-test', 'h', 1, 'x', 1, 60, true)
"""


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    r = SmtpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def receivers() -> Iterator[dict[str, HttpReceiver]]:
    made = {"hook": HttpReceiver(), "slack": HttpReceiver(slack=True).start()}
    yield made
    for r in made.values():
        r.stop()


@pytest.fixture
def al_settings(settings: Settings, smtp: SmtpReceiver, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[Settings]:
    env = {"VITALTRUST_OUTBOUND_SECRET_KEY": new_key(), "VITALTRUST_SMTP_HOST": "127.0.0.1",
           "VITALTRUST_SMTP_PORT": str(smtp.port), "VITALTRUST_SMTP_STARTTLS": "false",
           "VITALTRUST_PUBLIC_URL": "https://vt.example", "DATABASE_URL": settings.database_url or ""}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()  # job handlers read the environment's settings
    yield settings.model_copy(update={
        "outbound_secret_key": env["VITALTRUST_OUTBOUND_SECRET_KEY"], "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port, "smtp_starttls": False, "public_url": "https://vt.example",
        "alert_min_duration_seconds": 0.0, "alert_resolve_seconds": 0.0})
    get_settings.cache_clear()


@pytest.fixture
async def pool(db_url: str, al_settings: Settings) -> AsyncIterator[AsyncConnectionPool[Conn]]:
    p = create_pool(db_url, al_settings)
    await p.open(wait=True)
    yield p
    await p.close()


async def add_destinations(conn: Conn, s: Settings, receivers: dict[str, HttpReceiver]) -> None:
    async with conn.transaction():
        hook = await store.add_destination(conn, s, name="ops-hook", kind="webhook",
                                           target=receivers["hook"].url, timeout_seconds=2)
        await store.add_destination(conn, s, name="ops-slack", kind="slack",
                                    target=receivers["slack"].url, timeout_seconds=2)
        await store.add_destination(conn, s, name="ops-mail", kind="email",
                                    target="ops@example.com", timeout_seconds=5)
    receivers["hook"].secret = hook.secret
    receivers["hook"].start()


def kinds(receivers: dict[str, HttpReceiver], smtp: SmtpReceiver) -> dict[str, list[str]]:
    return {
        "hook": [f"{r.payload['data']['rule']}:{r.payload['type']}" for r in receivers["hook"].received],
        "slack": [r.payload["text"].split(":")[0] for r in receivers["slack"].received],
        "mail": [str(m["Subject"]) for m in smtp.messages],
    }


async def test_watchdog_sends_no_live_worker_directly_once_and_resolves_once(
        conn: Conn, pool: AsyncConnectionPool[Conn], al_settings: Settings,
        receivers: dict[str, HttpReceiver], smtp: SmtpReceiver) -> None:
    await add_destinations(conn, al_settings, receivers)
    dog = Watchdog(al_settings.database_url or "", pool, al_settings)
    other = Watchdog(al_settings.database_url or "", pool, al_settings)
    try:
        assert await dog.tick() is True
        assert await other.tick() is False  # one watchdog among the API processes
        assert kinds(receivers, smtp) == {"hook": [], "slack": [], "mail": []}  # pending
        for _ in range(3):
            await asyncio.sleep(al_settings.scheduler_interval_seconds / 2 + 0.05)
            await dog.tick()
        got = kinds(receivers, smtp)
        assert got["hook"] == ["no_live_worker:alert.firing"]  # leader_missing is inhibited
        assert got["slack"] == ["[FIRING] No live worker (critical)"]
        assert got["mail"] == ["vitaltrust [FIRING] No live worker (critical)"]
        jobs = await (await conn.execute("SELECT count(*) AS n FROM background_jobs")).fetchone()
        assert jobs is not None and jobs["n"] == 0  # nothing went through the queue

        await conn.execute(ALIVE)
        for _ in range(3):
            await dog.tick()
            await asyncio.sleep(al_settings.scheduler_interval_seconds / 2 + 0.05)
        got = kinds(receivers, smtp)
        assert got["hook"] == ["no_live_worker:alert.firing", "no_live_worker:alert.resolved"]
        assert got["slack"][1] == "[RESOLVED] No live worker (critical)" and len(got["slack"]) == 2
        assert len(got["mail"]) == 2 and "[RESOLVED]" in got["mail"][1]
    finally:
        await dog.stop()
        await other.stop()

    mail = smtp.messages[0]
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk()
             if not p.is_multipart()}
    assert "Dashboard: https://vt.example/admin" in parts["text/plain"]
    assert 'href="https://vt.example/admin"' in parts["text/html"]
    slack = receivers["slack"].received[0].payload
    assert any(b.get("type") == "actions" for b in slack["blocks"])
    hist = await (await conn.execute("SELECT rule, event FROM alert_history ORDER BY 1, 2")).fetchall()
    assert [(h["rule"], h["event"]) for h in hist] == [("no_live_worker", "firing"),
                                                     ("no_live_worker", "resolved")]
    log = await (await conn.execute(
        "SELECT via, status, attempts, last_status_code FROM outbound_deliveries")).fetchall()
    assert len(log) == 6 and all(r["via"] == "direct" and r["status"] == "delivered" for r in log)


async def settle(pool: AsyncConnectionPool[Conn], s: Settings, within: float = 30.0) -> None:
    """Run the queue until no delivery is pending (waiting out a retry's backoff if any)."""
    deadline = time.monotonic() + within
    while True:
        await run_until_idle(pool, s)
        async with pool.connection() as c:
            row = await (await c.execute(
                "SELECT count(*) AS n FROM outbound_deliveries WHERE status = 'pending'")).fetchone()
        if not row or not row["n"] or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.5)


async def backlog(conn: Conn, n: int) -> None:
    async with conn.transaction():
        await enqueue_many(conn, [NewJob("noop", {}, priority=5) for _ in range(n)], notify=False)


async def test_leader_rules_go_through_the_queue(
        conn: Conn, pool: AsyncConnectionPool[Conn], al_settings: Settings,
        receivers: dict[str, HttpReceiver], smtp: SmtpReceiver) -> None:
    await add_destinations(conn, al_settings, receivers)
    await conn.execute(ALIVE)
    await backlog(conn, 150)
    await conn.execute("UPDATE background_jobs SET run_at = now() - interval '20 minutes'")
    async with transaction(pool) as c:
        fired = await evaluate(c, al_settings, by="test", rules=RULES)
    assert [(t.rule, t.event) for t in fired] == [("queue_backlog", "firing"),
                                                  ("queue_oldest_pending", "firing")]
    async with transaction(pool) as c:  # holds: nothing new
        assert await evaluate(c, al_settings, by="test") == []
    await settle(pool, al_settings)  # the noops and the two delivery streams
    got = kinds(receivers, smtp)
    assert sorted(got["hook"]) == ["queue_backlog:alert.firing", "queue_oldest_pending:alert.firing"]
    assert len(got["slack"]) == 2 and len(got["mail"]) == 2
    # in order per destination: backlog was announced first
    assert got["hook"][0] == "queue_backlog:alert.firing"
    async with transaction(pool) as c:
        resolved = await evaluate(c, al_settings, by="test")
    assert sorted((t.rule, t.event) for t in resolved) == [
        ("queue_backlog", "resolved"), ("queue_oldest_pending", "resolved")]


async def test_send_test_and_delivery_log(
        conn: Conn, pool: AsyncConnectionPool[Conn], al_settings: Settings,
        receivers: dict[str, HttpReceiver], smtp: SmtpReceiver) -> None:
    await add_destinations(conn, al_settings, receivers)
    receivers["hook"].status = 503
    async with conn.transaction():
        await store.send_test(conn, al_settings, "ops-hook")
        await store.send_test(conn, al_settings, "ops-mail")
    await run_until_idle(pool, al_settings)
    assert [str(m["Subject"]) for m in smtp.messages] == [
        "vitaltrust [TEST] Test message from vitaltrust (warning)"]
    [entry] = await store.destination_log(conn, "ops-hook")
    assert entry["status"] == "pending" and entry["attempts"] == 1
    assert entry["last_status_code"] == 503 and entry["next_attempt_at"] is not None
    assert entry["last_duration_ms"] > 0 and entry["is_test"]
    receivers["hook"].status = 200
    await conn.execute("UPDATE outbound_deliveries SET next_attempt_at = now()")
    await conn.execute("UPDATE background_jobs SET run_at = now() WHERE status = 'pending'")
    await run_until_idle(pool, al_settings)
    [entry] = await store.destination_log(conn, "ops-hook")
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 2, 200)
    [got] = receivers["hook"].received
    assert got.payload["data"]["test"] is True and got.webhook_id == entry["webhook_id"]


async def test_bad_input_is_refused(conn: Conn, al_settings: Settings) -> None:
    from vitaltrust.alerts.secrets import OutboundConfigError

    cases: list[dict[str, Any]] = [
        {"name": "Bad Name", "kind": "webhook", "target": "https://x.example/"},
        {"name": "a", "kind": "pager", "target": "https://x.example/"},
        {"name": "a", "kind": "slack", "target": "http://x.example/"},
        {"name": "a", "kind": "email", "target": "not-an-address"},
        {"name": "a", "kind": "webhook", "target": "https://x.example/", "timeout_seconds": 0},
    ]
    for case in cases:
        with pytest.raises(OutboundConfigError):
            async with conn.transaction():
                await store.add_destination(conn, al_settings, **case)
    async with conn.transaction():
        await store.add_destination(conn, al_settings, name="a", kind="slack",
                                    target="https://hooks.example/T/B/secret-part")
    with pytest.raises(OutboundConfigError, match="exists already"):
        async with conn.transaction():
            await store.add_destination(conn, al_settings, name="a", kind="slack",
                                        target="https://hooks.example/T/B/x")
    [row] = await store.list_destinations(conn)
    assert row["target_hint"] == "https://hooks.example/…"
    raw = await (await conn.execute("SELECT target_enc FROM alert_destinations")).fetchone()
    assert raw is not None and b"secret-part" not in bytes(raw["target_enc"])
    with pytest.raises(OutboundConfigError, match="not set"):
        await store.add_destination(conn, al_settings.model_copy(
            update={"outbound_secret_key": None}), name="b", kind="slack", target="https://h.example/")
    json.dumps(row, default=str)
