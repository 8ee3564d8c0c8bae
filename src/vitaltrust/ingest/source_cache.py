"""Webhook sources by name, cached for a moment so a delivery costs no lookup query.

A change to a source (disable, new limits, rotated key) takes effect within `ttl` seconds
in every API process.
"""

from __future__ import annotations

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

    async def get(self, name: str) -> Source | None:
        now = time.monotonic()
        hit = self._entries.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._pool.connection() as conn:
            source = await get_source(conn, name)
        if len(self._entries) > 10_000:  # unknown names must not grow this without bound
            self._entries.clear()
        self._entries[name] = (now + self.ttl, source)
        return source

    def forget(self, name: str) -> None:
        """Drop one entry (this process changed the source; others catch up within ttl)."""
        self._entries.pop(name, None)
