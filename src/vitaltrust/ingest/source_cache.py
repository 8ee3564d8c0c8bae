"""Webhook sources by name, cached for a moment so a delivery costs no lookup query.

A change to a source (disable, new limits, rotated key) takes effect within `ttl` seconds
in every API process.
"""

from __future__ import annotations

import asyncio
import time

from psycopg_pool import AsyncConnectionPool

from vitaltrust.db import Conn
from vitaltrust.ingest.sources import Source, get_source

SOURCE_CACHE_SECONDS = 2.0


class SourceCache:
    def __init__(self, pool: AsyncConnectionPool[Conn], ttl: float = SOURCE_CACHE_SECONDS) -> None:
        self._pool = pool
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Source | None]] = {}
        self._loading: dict[str, asyncio.Task[Source | None]] = {}

    async def get(self, name: str) -> Source | None:
        """Concurrent misses for one name share one lookup: a burst of deliveries to a
        source whose entry just expired takes one pooled connection, not one each.
        An unreachable database raises (the app answers 503, vitaltrust.errors)."""
        hit = self._entries.get(name)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        task = self._loading.get(name)
        if task is None:
            task = self._loading[name] = asyncio.create_task(self._load(name))
            task.add_done_callback(lambda done: self._loading.pop(name, None)
                                   if self._loading.get(name) is done else None)
        return await asyncio.shield(task)

    async def _load(self, name: str) -> Source | None:
        async with self._pool.connection() as conn:
            source = await get_source(conn, name)
        if self._loading.get(name) is not asyncio.current_task():
            return source  # forgotten while loading: do not cache what may be stale
        if len(self._entries) > 10_000:  # unknown names must not grow this without bound
            self._entries.clear()
        self._entries[name] = (time.monotonic() + self.ttl, source)
        return source

    def forget(self, name: str) -> None:
        """Drop one entry (this process changed the source; others catch up within ttl)."""
        self._entries.pop(name, None)
        self._loading.pop(name, None)  # a lookup under way may predate the change
