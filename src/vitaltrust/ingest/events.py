"""Durable, idempotent storage of accepted deliveries, grouped into shared commits.

Concurrent deliveries are collected for about a millisecond and written by ONE
statement, which is its own transaction: a multi-row INSERT ... ON CONFLICT DO NOTHING
into webhook_events, the webhook_processing job of every new row (the queue's table and
channel, written here in-line because a delivery costs one round trip this way), and the
wake-up NOTIFY. Each caller is answered only after that commit.

A delivery whose (source, event id) already exists is a duplicate when the body is
byte-identical and a conflict otherwise, whether the first copy arrived in an earlier
commit, in another process, or in the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psycopg_pool import AsyncConnectionPool

from vitaltrust.db import Conn
from vitaltrust.ingest.batcher import MicroBatcher

INSERT_EVENTS_AND_JOBS = """
WITH events AS (
    INSERT INTO webhook_events (source_id, event_id, body_sha256, body, content_type, event_type)
    SELECT s, e, h, b, c, t
    FROM unnest(%(source_id)s::int[], %(event_id)s::text[], %(sha)s::bytea[], %(body)s::bytea[],
                %(content_type)s::text[], %(event_type)s::text[]) AS d(s, e, h, b, c, t)
    ON CONFLICT (source_id, event_id) DO NOTHING
    RETURNING webhook_event_id, source_id, event_id
), jobs AS (
    INSERT INTO background_jobs (job_type, payload, is_sandbox)
    SELECT 'webhook_processing', jsonb_build_object('webhook_event_id', e.webhook_event_id),
           s.is_sandbox
    FROM events e JOIN webhook_sources s USING (source_id)
    ORDER BY e.webhook_event_id
    RETURNING id
)
SELECT e.webhook_event_id, e.source_id, e.event_id,
       (SELECT count(*) FROM jobs) AS jobs,
       (SELECT pg_notify('vitaltrust_jobs', 'webhook_processing')) AS notified
FROM events e
"""
SELECT_EXISTING = """
SELECT e.webhook_event_id, e.source_id, e.event_id, e.body_sha256
FROM unnest(%s::int[], %s::text[]) AS k(source_id, event_id)
JOIN webhook_events e USING (source_id, event_id)
"""

Outcome = Literal["accepted", "duplicate", "conflict"]


@dataclass(frozen=True)
class Delivery:
    source_id: int
    event_id: str
    body_sha256: bytes
    body: bytes
    content_type: str | None
    event_type: str | None


@dataclass(frozen=True)
class Stored:
    outcome: Outcome
    webhook_event_id: int


class EventWriter:
    def __init__(self, pool: AsyncConnectionPool[Conn], *, max_wait: float = 0.001,
                 max_items: int = 64, max_in_flight: int = 3) -> None:
        self._pool = pool
        self.batcher: MicroBatcher[Delivery, Stored] = MicroBatcher(
            self._write, max_wait=max_wait, max_items=max_items, max_in_flight=max_in_flight)

    async def store(self, delivery: Delivery) -> Stored:
        return await self.batcher.submit(delivery)

    async def _write(self, batch: list[Delivery]) -> list[Stored]:
        first: dict[tuple[int, str], Delivery] = {}
        for d in batch:
            first.setdefault((d.source_id, d.event_id), d)
        reps = list(first.values())
        async with self._pool.connection() as conn:  # autocommit: one statement, one commit
            inserted = {
                (r["source_id"], r["event_id"]): int(r["webhook_event_id"])
                for r in await (await conn.execute(INSERT_EVENTS_AND_JOBS, {
                    "source_id": [d.source_id for d in reps], "event_id": [d.event_id for d in reps],
                    "sha": [d.body_sha256 for d in reps], "body": [d.body for d in reps],
                    "content_type": [d.content_type for d in reps],
                    "event_type": [d.event_type for d in reps],
                })).fetchall()}
            # rows that already existed, possibly committed by another process just now
            others = [d for d in reps if (d.source_id, d.event_id) not in inserted]
            existing: dict[tuple[int, str], tuple[int, bytes]] = {}
            if others:
                rows = await (await conn.execute(SELECT_EXISTING, (
                    [d.source_id for d in others], [d.event_id for d in others]))).fetchall()
                existing = {(r["source_id"], r["event_id"]):
                            (int(r["webhook_event_id"]), bytes(r["body_sha256"])) for r in rows}
        results: list[Stored] = []
        for d in batch:
            key = (d.source_id, d.event_id)
            if key in inserted:
                rep = first[key]
                if rep is d:
                    results.append(Stored("accepted", inserted[key]))
                else:
                    same = rep.body_sha256 == d.body_sha256
                    results.append(Stored("duplicate" if same else "conflict", inserted[key]))
            else:
                event_id, digest = existing[key]  # committed by someone else: it must exist
                results.append(Stored("duplicate" if digest == d.body_sha256 else "conflict",
                                      event_id))
        return results
