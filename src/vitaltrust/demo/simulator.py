"""The demo's traffic: 30 days of history, then live deliveries, all signed HTTP requests to
the running server's own POST /webhooks/{source}.

Live traffic includes what a real integration sees: duplicate deliveries, a sync storm that
meets the per-account rate limit (429), a malformed body (its event fails in the job), a
device nobody linked (unmatched), and a transient storage outage for one client whose
jobs fail for real until it ends, so that "Retry failed jobs" has work that then succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from vitaltrust.db import Conn
from vitaltrust.demo import trends
from vitaltrust.demo.payloads import (
    SOURCES,
    Delivery,
    deliveries,
    new_event_id,
    signed_headers,
    standard_body,
)
from vitaltrust.demo.profiles import HISTORY_DAYS, Client, Reading, history, live_readings
from vitaltrust.demo.seed import LIVE_RATES, DemoWorld, set_rates

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per demo delivery

HISTORY_CHUNK_DAYS = 10
HISTORY_CONCURRENCY = 8
STORM_SIZE = 15
OUTAGE_MAX_SECONDS = 180.0
START_FAULT = """
INSERT INTO demo_storage_faults (user_id, reason) VALUES (%s, %s)
ON CONFLICT (user_id) DO NOTHING
"""
END_FAULT = "DELETE FROM demo_storage_faults WHERE user_id = %s"
JOBS_OF_EVENTS = """
SELECT count(*) AS n, count(*) FILTER (WHERE status = 'failed') AS failed
FROM background_jobs
WHERE type = 'webhook_processing'
  AND (payload ->> 'webhook_event_id')::bigint = ANY(%s::bigint[])
"""
UNPROCESSED = """
SELECT count(*) AS n FROM webhook_events
WHERE webhook_event_id = ANY(%s::bigint[]) AND status = 'received'
"""


@dataclass
class Counters:
    sent: int = 0
    accepted: int = 0        # 202: a new webhook_events row
    duplicates: int = 0      # 200: the same delivery again, no new row
    rate_limited: int = 0    # 429
    other: int = 0           # any other status or a transport error
    history_deliveries: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # live deliveries by scenario
    phase: str = "starting"
    outage: str = "not started"
    trend_days: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {"sent": self.sent, "accepted": self.accepted, "duplicates": self.duplicates,
                "acknowledged": self.accepted + self.duplicates,
                "rate_limited": self.rate_limited, "other": self.other,
                "history_deliveries": self.history_deliveries, "by_kind": dict(self.by_kind),
                "phase": self.phase, "outage": self.outage, "trend_days": self.trend_days}


class DemoSimulator:
    def __init__(self, world: DemoWorld, pool: AsyncConnectionPool[Conn], *, rate: float,
                 seed: int = 3) -> None:
        self.world = world
        self.pool = pool
        self.rate = rate
        self.counters = Counters()
        self.rng = random.Random(seed)
        self.base = ""
        self.recent: deque[Delivery] = deque(maxlen=50)
        self.outage_client: Client = next(c for c in world.people if c.profile == "diligent")
        self.outage_events: list[int] = []
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping: Callable[[], bool] = lambda: False

    # --- sending -------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> int | None:
        """POST one delivery; returns the webhook_event_id of a newly accepted one."""
        assert self._client is not None
        if self.stopping():
            return None
        headers = signed_headers(SOURCES[delivery.source], self.world.secrets[delivery.source],
                                 delivery, time.time())
        c = self.counters
        c.sent += 1
        try:
            r = await self._client.post(f"{self.base}/webhooks/{delivery.source}",
                                        content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            c.other += 1
            log.warning("demo delivery failed to send: %s", exc)
            return None
        # accepted: 202, or 200 without "duplicate" (a Garmin push, as Garmin requires)
        if r.status_code in (200, 202) and not r.json().get("duplicate"):
            c.accepted += 1
            self.recent.append(delivery)
            return int(r.json()["webhook_event_id"])
        if r.status_code == 200:
            c.duplicates += 1
        elif r.status_code == 429:
            c.rate_limited += 1
        else:
            c.other += 1
            log.warning("demo delivery to %s answered %s: %s", delivery.source, r.status_code,
                        r.text[:200])
        return None

    # --- phases --------------------------------------------------------------------------

    async def run(self, started: Callable[[], bool], base: Callable[[], str],
                  stopping: Callable[[], bool]) -> None:
        self.stopping = stopping
        while not started():  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.05)
        self.base = base()
        async with httpx.AsyncClient(timeout=30) as client:
            self._client = client
            try:
                await self._phases(datetime.now(UTC))
            finally:
                await self.end_outage()  # never leave a client's storage failing

    async def _phases(self, now: datetime) -> None:
        await self.start_outage(now)
        history_ids: list[int] = []
        if self.world.fresh:
            self.counters.phase = "history"
            history_ids = await self.send_history(now)
            log.info("demo: %d days of history sent in %d deliveries", HISTORY_DAYS,
                     self.counters.history_deliveries)
        async with self.pool.connection() as conn:
            await set_rates(conn, LIVE_RATES)
        self.counters.phase = "live"
        background = [asyncio.create_task(self.watch_outage())]
        if self.world.fresh:
            background.append(asyncio.create_task(self.build_trend(history_ids, now)))
        try:
            await self.live()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

    async def end_outage(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(END_FAULT, (self.world.user_ids[self.outage_client.email],))

    async def send_history(self, now: datetime) -> list[int]:
        """30 days per client, 10 days per delivery. The outage client's go first (their
        jobs start failing at once); then one source at a time, each processed before the
        next: a processed delivery adds to its source's webhook_stats_minute row inside the
        job's batch transaction, and batches or statistics flushes that touch several
        sources in different orders deadlock there (reported; not the demo's to change)."""
        by_source: dict[str, list[Delivery]] = defaultdict(list)
        first: list[Delivery] = []
        for c in self.world.people:
            chunks: dict[int, list[Reading]] = defaultdict(list)
            for r in history(c, now):
                chunks[(now - r.at).days // HISTORY_CHUNK_DAYS].append(r)
            for key in sorted(chunks, reverse=True):  # oldest first, as a backfill would
                for d in deliveries(c, chunks[key]):
                    (first if c is self.outage_client else by_source[d.source]).append(d)
        self.counters.history_deliveries = len(first) + sum(map(len, by_source.values()))
        self.outage_events += await self._send_all(first)
        ids: list[int] = []
        for source in SOURCES:
            sent = await self._send_all(by_source[source])
            await self._wait_processed(sent)
            ids += sent
        return ids

    async def _send_all(self, batch: list[Delivery]) -> list[int]:
        gate = asyncio.Semaphore(HISTORY_CONCURRENCY)

        async def one(d: Delivery) -> int | None:
            async with gate:
                return await self.send(d)

        return [i for i in await asyncio.gather(*(one(d) for d in batch)) if i is not None]

    async def _wait_processed(self, events: list[int], limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.stopping():
            async with self.pool.connection() as conn:
                row = await (await conn.execute(UNPROCESSED, (events,))).fetchone()
            if row is None or row["n"] == 0:
                return
            await asyncio.sleep(0.3)
        log.warning("demo: history deliveries still unprocessed after %g s", limit)

    async def start_outage(self, now: datetime) -> None:
        """The outage client's storage fails until every job it caused has given up."""
        user_id = self.world.user_ids[self.outage_client.email]
        async with self.pool.connection() as conn:
            await conn.execute(START_FAULT, (user_id, "demo: simulated storage outage"))
        self.counters.outage = f"active for {self.outage_client.email}"
        for d in deliveries(self.outage_client, live_readings(self.outage_client, now, self.rng)):
            event = await self.send(d)
            if event is not None:
                self.outage_events.append(event)
        # and from the first minute, what a real integration also sees now and then
        for d in (self.malformed(), self.unlinked()):
            self.counters.by_kind[d.note] += 1
            await self.send(d)

    async def watch_outage(self) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(2)
            async with self.pool.connection() as conn:
                row = await (await conn.execute(JOBS_OF_EVENTS, (self.outage_events,))).fetchone()
            failed = int(row["failed"]) if row else 0
            if (row and row["n"] > 0 and failed == row["n"]) or (
                    time.monotonic() - started > OUTAGE_MAX_SECONDS):
                await self.end_outage()
                self.counters.outage = f"ended ({failed} failed jobs to retry)"
                log.info("demo: the storage outage ended; 'Retry failed jobs' will now succeed")
                return

    async def build_trend(self, history_ids: list[int], now: datetime) -> None:
        """Once the history is processed, write the trend of the 30 days before today."""
        await self._wait_processed(history_ids)
        try:
            self.counters.trend_days = await trends.backfill(self.pool, days=HISTORY_DAYS,
                                                             now=now)
        except Exception:
            log.exception("demo: writing the data-quality trend failed")
            raise
        log.info("demo: data-quality trend written for %d past days", self.counters.trend_days)

    # --- live traffic --------------------------------------------------------------------

    def pick_client(self) -> Client:
        active = [c for c in self.world.people
                  if c.profile != "stopped" and (c is not self.outage_client
                                                 or self.counters.outage.startswith("ended"))]
        return self.rng.choice(active)

    async def live(self) -> None:
        if self.recent:  # a provider that missed our 202 sends the same delivery again
            self.counters.by_kind["duplicate"] += 1
            await self.send(self.recent[-1])
        next_storm = time.monotonic() + 2
        last_log = time.monotonic()
        while not self.stopping():
            await asyncio.sleep(1 / self.rate)
            if time.monotonic() >= next_storm:
                next_storm = time.monotonic() + 60
                storm = asyncio.create_task(self.storm())
                self._tasks.add(storm)
                storm.add_done_callback(self._tasks.discard)
            roll = self.rng.random()
            if roll < 0.06 and self.recent:
                self.counters.by_kind["duplicate"] += 1
                await self.send(self.rng.choice(self.recent))
            elif roll < 0.09:
                self.counters.by_kind["malformed"] += 1
                await self.send(self.malformed())
            elif roll < 0.11:
                self.counters.by_kind["unlinked"] += 1
                await self.send(self.unlinked())
            else:
                self.counters.by_kind["reading"] += 1
                c = self.pick_client()
                for d in deliveries(c, live_readings(c, datetime.now(UTC), self.rng)):
                    await self.send(d)
            if time.monotonic() - last_log > 30:
                last_log = time.monotonic()
                log.info("demo simulator: %s", self.counters.snapshot())

    async def storm(self) -> None:
        """A phone app reconnects and flushes its queue at once: the account limit answers 429."""
        self.counters.by_kind["storm"] += 1
        c = self.pick_client()
        now = datetime.now(UTC)
        batch = [d for i in range(STORM_SIZE) for d in deliveries(c, [Reading(
            "weight", round(c.weight + self.rng.gauss(0, 0.2), 1), now - timedelta(hours=i + 1),
            "app", "manual")])]
        await asyncio.gather(*(self.send(d) for d in batch))

    def malformed(self) -> Delivery:
        """Signed and well-formed JSON, but not Terra's shape: the event fails in its job."""
        body = b'{"type":"daily","user":{"reference_id":"terra-001"},"data":"truncated"}'
        return Delivery("demo-terra", body, new_event_id(), "terra-001", "malformed")

    def unlinked(self) -> Delivery:
        """A new phone app install nobody linked yet: the event is unmatched."""
        account = f"app-new-{self.rng.randint(1, 5)}"
        reading = Reading("weight", round(self.rng.uniform(60, 90), 1), datetime.now(UTC), "app",
                          "manual")
        return Delivery("demo-app", standard_body(account, [reading]), new_event_id(), account,
                        "unlinked")
