"""Real activity for monitoring tests: samples stored by metrics.store, jobs run by the
queue's worker, statistics added by the StatsRecorder (never rows written into views)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from tests.conftest import make_user
from vitaltrust.auth.users import User
from vitaltrust.config import Settings
from vitaltrust.db import Conn, create_pool
from vitaltrust.ingest.sources import create_source
from vitaltrust.metrics.store import store_samples
from vitaltrust.metrics.types import RawSample
from vitaltrust.monitoring.stats import StatsRecorder
from vitaltrust.queue.worker import run_until_idle

MANUAL_SOURCE = "SELECT source_id FROM webhook_sources WHERE name = 'manual'"


@asynccontextmanager
async def pool_for(db_url: str, settings: Settings) -> AsyncIterator[AsyncConnectionPool[Conn]]:
    pool = create_pool(db_url, settings.model_copy(update={"pool_min_size": 1,
                                                            "pool_max_size": 4}))
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


async def manual_source(conn: Conn) -> int:
    row = await (await conn.execute(MANUAL_SOURCE)).fetchone()
    assert row is not None
    return int(row["source_id"])


async def sandbox_source(conn: Conn, name: str = "selftest-sandbox") -> int:
    source, _ = await create_source(conn, name, "standard", is_sandbox=True)
    return source.source_id


def weights(days: int, *, base: float = 80.0, now: datetime | None = None) -> list[RawSample]:
    now = now or datetime.now(UTC)
    return [RawSample(external_user_id="ext", metric="weight", value=base + (i % 3) * 0.1,
                      unit="kg", measured_at=now - timedelta(days=i, minutes=5),
                      device_type="scale") for i in range(days)]


async def client_with_weights(conn: Conn, *, days: int = 12, sandbox: bool = False,
                              source_id: int | None = None) -> User:
    """A client whose weight series was stored (which enqueues its confidence job)."""
    user = await make_user(conn, "client", is_sandbox=sandbox)
    source = source_id if source_id is not None else await manual_source(conn)
    async with conn.transaction():
        await store_samples(conn, user_id=user.user_id, source_id=source,
                            webhook_event_id=None, samples=weights(days), is_sandbox=sandbox)
    return user


async def run_jobs(db_url: str, settings: Settings) -> int:
    async with pool_for(db_url, settings) as pool:
        return await run_until_idle(pool, settings, timeout=60)


async def record_stats(conn: Conn, *, calls: Sequence[tuple[str, float, bool]] = (),
                       webhooks: Sequence[tuple[int, str, int, float]] = ()) -> None:
    """Count calls and webhook outcomes the way ingestion and the worker do, then flush."""
    stats = StatsRecorder(None)
    for name, ms, ok in calls:
        stats.record_call(name, ms, ok=ok)
    for source_id, outcome, count, ms in webhooks:
        stats.record_webhook(source_id, outcome, count, processing_ms=ms)
    async with conn.transaction():
        await stats.flush_to(conn)
