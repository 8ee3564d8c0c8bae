"""Signed deliveries from many devices against a server that may vanish and come back,
and the end-state checks every drill makes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from tests.conftest import make_user
from tests.ingest.support import native_body, standard_headers
from vitaltrust.db import connect
from vitaltrust.ingest.sources import LINK_ACCOUNT, create_source

DEVICES = 12
SOURCE = "drill"


async def prepare(db_url: str) -> str:
    """A roomy source and one linked client per device; returns the signing secret."""
    conn = await connect(db_url)
    try:
        source, secret = await create_source(conn, SOURCE, "standard", rate_per_second=1e5,
                                             rate_burst=100_000, account_rate_per_second=1e5,
                                             account_rate_burst=100_000)
        for d in range(DEVICES):
            user = await make_user(conn, "client")
            await conn.execute(LINK_ACCOUNT, (source.source_id, f"dev{d}", user.user_id))
        return secret
    finally:
        await conn.close()


@dataclass
class Load:
    """Devices post until stopped; `base` may be switched to a restarted server."""
    base: str
    secret: str
    acked: list[str] = field(default_factory=list)
    refused: int = 0  # non-2xx answers and connection failures (never acknowledged)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def device(self, d: int, client: httpx.AsyncClient) -> None:
        start = datetime.now(UTC) - timedelta(days=1)
        i = 0
        while not self.stopping.is_set():
            msg_id = f"drill-{d}-{i}"
            at = (start + timedelta(seconds=i)).isoformat()
            body = native_body(user=f"dev{d}", value=70 + i % 30 / 10, measured_at=at)
            i += 1
            try:
                r = await client.post(f"{self.base}/webhooks/{SOURCE}", content=body,
                                      headers=standard_headers(self.secret, body, msg_id=msg_id))
            except httpx.HTTPError:
                self.refused += 1
                await asyncio.sleep(0.05)
                continue
            if 200 <= r.status_code < 300:
                self.acked.append(msg_id)
            else:
                self.refused += 1

    async def until(self, acked: int, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while len(self.acked) < acked:
            assert time.monotonic() < deadline, f"only {len(self.acked)} acks in {within} s"
            await asyncio.sleep(0.02)

    @contextlib.asynccontextmanager
    async def running(self) -> object:
        async with httpx.AsyncClient(timeout=5) as client:
            tasks = [asyncio.create_task(self.device(d, client)) for d in range(DEVICES)]
            try:
                yield self
            finally:
                self.stopping.set()
                await asyncio.gather(*tasks)


UNFINISHED = "SELECT count(*) FROM background_jobs WHERE status IN ('pending', 'processing')"
NOT_PROCESSED = "SELECT count(*) FROM webhook_events WHERE status <> 'processed'"
# a (user, weight) whose cache does not reflect its newest stored sample
STALE_CACHE = """
SELECT count(*) FROM (SELECT user_id, max(received_at) AS newest FROM metric_samples
                      GROUP BY user_id) s
LEFT JOIN metric_confidence_cache c ON c.user_id = s.user_id AND c.metric = 'weight'
WHERE c.user_id IS NULL
   OR c.data_version < (extract(epoch FROM s.newest) * 1000000)::bigint
"""


def scalar(db_url: str, query: str) -> Any:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def job_states(db_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT type, status, locked_until < now() AS expired, attempts, count(*), "
            "min(run_at - now()) FROM background_jobs WHERE status <> 'completed' "
            "GROUP BY 1, 2, 3, 4").fetchall()


async def settled(db_url: str, within: float = 90) -> None:
    """Wait until no job is pending or processing and every event is processed."""
    deadline = time.monotonic() + within
    while scalar(db_url, UNFINISHED) or scalar(db_url, NOT_PROCESSED):
        assert time.monotonic() < deadline, (
            f"not settled in {within} s: {scalar(db_url, UNFINISHED)} jobs unfinished, "
            f"{scalar(db_url, NOT_PROCESSED)} events not processed: {job_states(db_url)}")
        await asyncio.sleep(0.25)


def assert_nothing_lost(db_url: str, acked: list[str]) -> None:
    """Every acknowledged delivery is a processed event with its sample; no job is stuck
    or failed; every user's confidence reflects their newest sample."""
    with psycopg.connect(db_url) as conn:
        events = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT event_id, status, sample_count FROM webhook_events")}
        failed = conn.execute("SELECT count(*) FROM background_jobs WHERE status = 'failed'"
                              ).fetchone()
        samples = conn.execute("SELECT count(*) FROM metric_samples").fetchone()
    lost = [m for m in acked if m not in events]
    assert not lost, f"{len(lost)} acknowledged deliveries lost: {lost[:5]}"
    assert all(events[m] == ("processed", 1) for m in acked)
    assert failed == (0,)
    assert samples == (len(events),)  # one sample per delivery, never twice
    assert scalar(db_url, UNFINISHED) == 0
    assert scalar(db_url, STALE_CACHE) == 0
