"""Durable, idempotent storage of accepted deliveries, grouped into shared commits.

Concurrent deliveries are collected for about 2 ms and sent to PostgreSQL in
ONE round trip holding two pipelined transactions:
1. the rate-limit decision for the whole batch (ingest_rate_limit_admit: UNLOGGED state,
   its own quick commit, no bucket lock held any longer);
2. one statement, its own durable transaction: a multi-row INSERT ... ON CONFLICT DO
   NOTHING into webhook_events of the admitted deliveries, the webhook_processing job of
   every new row (the queue's table and channel, written in-line so that a batch costs
   one statement), and the wake-up NOTIFY.
Each caller is answered only after that commit.

A delivery whose (source, event id) already exists is a duplicate when the body is
byte-identical and a conflict otherwise, whether the first copy arrived in an earlier
commit, in another process, or in the same batch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from psycopg_pool import AsyncConnectionPool

from vitaltrust.db import Conn
from vitaltrust.ingest.batcher import MicroBatcher
from vitaltrust.ingest.ratelimit import ADMIT, RateCheck, RateDecision, admit_params, decision

INSERT_EVENTS_AND_JOBS = """
WITH setting AS (
    SELECT current_setting('vitaltrust.rl_admitted', true) AS v
), admitted AS (
    -- deliveries without a rate check (%(always)s), plus those the pipelined
    -- admission call of THIS batch let through
    SELECT %(always)s::int[] || CASE WHEN split_part(v, ':', 1) = %(batch)s::text
        THEN coalesce(string_to_array(nullif(split_part(v, ':', 2), ''), ',')::int[], '{}')
        ELSE '{}'::int[] END AS ords
    FROM setting
), input AS (
    SELECT DISTINCT ON (d.s, d.e) d.*
    FROM unnest(%(source_id)s::int[], %(event_id)s::text[], %(sha)s::bytea[], %(body)s::bytea[],
                %(content_type)s::text[], %(event_type)s::text[], %(ord)s::int[])
         AS d(s, e, h, b, c, t, o), admitted a
    WHERE d.o = ANY (a.ords)
    ORDER BY d.s, d.e, d.o
), events AS (
    INSERT INTO webhook_events (source_id, event_id, body_sha256, body, content_type, event_type)
    SELECT s, e, h, b, c, t FROM input ORDER BY o
    ON CONFLICT (source_id, event_id) DO NOTHING
    RETURNING webhook_event_id, source_id, event_id
), jobs AS (
    INSERT INTO background_jobs (type, payload, is_sandbox)
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

Outcome = Literal["accepted", "duplicate", "conflict", "rate_limited"]


@dataclass(frozen=True)
class Delivery:
    source_id: int
    event_id: str
    body_sha256: bytes
    body: bytes
    content_type: str | None
    event_type: str | None
    rate_check: RateCheck | None = None  # None: not rate limited


@dataclass(frozen=True)
class Stored:
    outcome: Outcome
    webhook_event_id: int | None
    rate: RateDecision | None = None


class EventWriter:
    def __init__(self, pool: AsyncConnectionPool[Conn], *, max_wait: float = 0.002,
                 max_items: int = 64, max_in_flight: int = 2) -> None:
        self._pool = pool
        self.batcher: MicroBatcher[Delivery, Stored] = MicroBatcher(
            self._write, max_wait=max_wait, max_items=max_items, max_in_flight=max_in_flight)

    async def store(self, delivery: Delivery) -> Stored:
        return await self.batcher.submit(delivery)

    async def _write(self, batch: list[Delivery]) -> list[Stored]:
        checked = [i for i, d in enumerate(batch) if d.rate_check is not None]
        batch_id = uuid.uuid4().hex if checked else None
        params = {
            "batch": batch_id, "always": [i for i, d in enumerate(batch) if d.rate_check is None],
            "source_id": [d.source_id for d in batch], "event_id": [d.event_id for d in batch],
            "sha": [d.body_sha256 for d in batch], "body": [d.body for d in batch],
            "content_type": [d.content_type for d in batch],
            "event_type": [d.event_type for d in batch], "ord": list(range(len(batch))),
        }
        rates: dict[int, RateDecision] = {}
        async with self._pool.connection() as conn:  # autocommit
            if batch_id is not None:
                checks = [batch[i].rate_check for i in checked]
                async with conn.pipeline() as pipeline:
                    admit = await conn.execute(ADMIT, admit_params(
                        batch_id, checked, [c for c in checks if c is not None]))
                    await pipeline.sync()  # the admission commits on its own, first
                    insert = await conn.execute(INSERT_EVENTS_AND_JOBS, params)
                for row in await admit.fetchall():
                    i = checked[row["idx"] - 1]
                    check = batch[i].rate_check
                    assert check is not None
                    rates[i] = decision(check, row)
            else:
                insert = await conn.execute(INSERT_EVENTS_AND_JOBS, params)
            inserted = {(r["source_id"], r["event_id"]): int(r["webhook_event_id"])
                        for r in await insert.fetchall()}
            admitted = [i for i in range(len(batch)) if i not in rates or rates[i].allowed]
            first: dict[tuple[int, str], int] = {}
            for i in admitted:
                first.setdefault((batch[i].source_id, batch[i].event_id), i)
            # keys that already existed, possibly committed by another process just now
            others = [k for k in first if k not in inserted]
            existing: dict[tuple[int, str], tuple[int, bytes]] = {}
            if others:
                rows = await (await conn.execute(SELECT_EXISTING, (
                    [k[0] for k in others], [k[1] for k in others]))).fetchall()
                existing = {(r["source_id"], r["event_id"]):
                            (int(r["webhook_event_id"]), bytes(r["body_sha256"])) for r in rows}
        return [self._outcome(batch, i, rates.get(i), first, inserted, existing)
                for i in range(len(batch))]

    @staticmethod
    def _outcome(batch: list[Delivery], i: int, rate: RateDecision | None,
                 first: dict[tuple[int, str], int], inserted: dict[tuple[int, str], int],
                 existing: dict[tuple[int, str], tuple[int, bytes]]) -> Stored:
        d = batch[i]
        if rate is not None and not rate.allowed:
            return Stored("rate_limited", None, rate)
        key = (d.source_id, d.event_id)
        if key in inserted:
            winner = batch[first[key]]
            if first[key] == i:
                return Stored("accepted", inserted[key], rate)
            same = winner.body_sha256 == d.body_sha256
            return Stored("duplicate" if same else "conflict", inserted[key], rate)
        event_id, digest = existing[key]  # committed by someone else: it must exist
        return Stored("duplicate" if digest == d.body_sha256 else "conflict", event_id, rate)
