"""Durable, idempotent storage of accepted deliveries, grouped into shared commits.

Concurrent deliveries are collected for about a millisecond and written in ONE
transaction: a multi-row INSERT ... ON CONFLICT DO NOTHING into webhook_events plus
the webhook_processing job of every new row. Each caller is answered only after that
commit. A delivery whose (source, event id) already exists is a duplicate when the
body is byte-identical and a conflict otherwise, whether the first copy arrived in
an earlier commit, in another process, or in the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psycopg_pool import AsyncConnectionPool

from vitaltrust.db import Conn, transaction
from vitaltrust.ingest.batcher import MicroBatcher
from vitaltrust.queue.enqueue import NewJob, enqueue_many

INSERT_EVENTS = """
INSERT INTO webhook_events (source_id, event_id, body_sha256, body, content_type, event_type)
SELECT * FROM unnest(%s::int[], %s::text[], %s::bytea[], %s::bytea[], %s::text[], %s::text[])
ON CONFLICT (source_id, event_id) DO NOTHING
RETURNING webhook_event_id, source_id, event_id
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
    is_sandbox: bool


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
        async with transaction(self._pool) as conn:
            inserted = {
                (r["source_id"], r["event_id"]): int(r["webhook_event_id"])
                for r in await (await conn.execute(INSERT_EVENTS, (
                    [d.source_id for d in reps], [d.event_id for d in reps],
                    [d.body_sha256 for d in reps], [d.body for d in reps],
                    [d.content_type for d in reps], [d.event_type for d in reps],
                ))).fetchall()}
            by_key = {k: first[k] for k in inserted}
            await enqueue_many(conn, [
                NewJob("webhook_processing", {"webhook_event_id": event_id},
                       is_sandbox=by_key[key].is_sandbox)
                for key, event_id in sorted(inserted.items(), key=lambda kv: kv[1])])
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
