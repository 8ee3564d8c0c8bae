"""Queue side of the alerts domain: the delivery job and the leader's per-tick evaluation."""

from __future__ import annotations

import logging
from datetime import timedelta

from psycopg_pool import AsyncConnectionPool

from vitaltrust.alerts import sql
from vitaltrust.alerts.delivery import deliver_stream
from vitaltrust.alerts.evaluate import evaluate
from vitaltrust.config import Settings, get_settings
from vitaltrust.db import Conn, transaction
from vitaltrust.queue.enqueue import enqueue
from vitaltrust.queue.registry import Job, job_handler
from vitaltrust.queue.scheduler import on_leader_tick

log = logging.getLogger(__name__)

OUTBOUND_DELIVERY = "outbound_delivery"
BUSY_RETRY = timedelta(seconds=2)


@job_handler(OUTBOUND_DELIVERY, timeout_seconds=150)
async def handle_outbound_delivery(conn: Conn, job: Job) -> None:
    stream = job.payload.get("stream")
    if not isinstance(stream, str) or not stream:
        raise ValueError(f"outbound_delivery payload needs a stream: {job.payload}")
    result = await deliver_stream(conn, get_settings(), stream, via="queue",
                                  by=f"job:{job.id}")
    run_at = None
    if result.busy:
        now = (await (await conn.execute("SELECT now() AS now")).fetchone() or {})["now"]
        run_at = now + BUSY_RETRY
    elif result.retry_at is not None:
        run_at = result.retry_at
    elif not result.more:
        return
    await enqueue(conn, OUTBOUND_DELIVERY, {"stream": stream}, run_at=run_at,
                  dedupe_key="outbound:" + stream, max_attempts=1000)


@on_leader_tick("alerts.evaluate")
async def leader_tick(pool: AsyncConnectionPool[Conn], settings: Settings, worker_id: str) -> None:
    """Every rule, every tick; then re-queue delivery streams that lost their job."""
    async with transaction(pool) as conn:
        for t in await evaluate(conn, settings, by=f"leader:{worker_id}"):
            log.warning("alert %s: %s", t.rule, t.event)
    async with transaction(pool) as conn:
        row = await (await conn.execute(sql.ORPHAN_STREAMS)).fetchone()
        if row and row["streams"]:
            await conn.execute(sql.ENQUEUE_STREAMS, (row["streams"],))
