"""Helpers shared by the metrics and confidence-runtime tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vitaltrust.db import Conn
from vitaltrust.ingest.sources import create_source
from vitaltrust.metrics.store import store_samples
from vitaltrust.metrics.types import RawSample, StoreResult


async def make_source(conn: Conn, name: str, kind: str = "standard") -> int:
    source, _ = await create_source(conn, name, kind)
    return source.source_id


async def manual_source(conn: Conn) -> int:
    row = await (await conn.execute(
        "SELECT source_id FROM webhook_sources WHERE name = 'manual'")).fetchone()
    assert row is not None
    return int(row["source_id"])


def raw(metric: str, value: Any, at: datetime, *, unit: str | None = None,
        device: str = "scale", sample_id: str | None = None, **kw: Any) -> RawSample:
    return RawSample("ext", metric, value, unit, at, device_type=device, sample_id=sample_id,
                     **kw)


async def store(conn: Conn, user_id: int, source_id: int, samples: Sequence[RawSample],
                **kw: Any) -> StoreResult:
    async with conn.transaction():
        return await store_samples(conn, user_id=user_id, source_id=source_id,
                                   webhook_event_id=None, samples=samples, **kw)


async def rows(conn: Conn, sql: str, *params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in await (await conn.execute(sql, params)).fetchall()]
