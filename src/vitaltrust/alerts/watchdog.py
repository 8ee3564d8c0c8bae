"""The API processes' watchdog: alerts that must not depend on what they report.

When no worker is alive there is no scheduler leader either, so nothing on the queue runs.
Every API process runs this loop; one of them (session advisory lock, like the scheduler's
leader) evaluates the liveness rules every `scheduler_interval_seconds` and sends the
'direct' deliveries itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from psycopg_pool import AsyncConnectionPool

from vitaltrust.alerts import sql
from vitaltrust.alerts.delivery import deliver_stream
from vitaltrust.alerts.evaluate import evaluate
from vitaltrust.alerts.rules import RULES
from vitaltrust.config import Settings
from vitaltrust.db import Conn, transaction
from vitaltrust.queue.scheduler import SessionLeader

log = logging.getLogger(__name__)

WATCHDOG_LOCK_KEY = 7_240_003  # 7_240_001 migrations, 7_240_002 the scheduler leader
LIVENESS_RULES = tuple(r for r in RULES if r.liveness)


class Watchdog(SessionLeader):
    def __init__(self, url: str, pool: AsyncConnectionPool[Conn], settings: Settings) -> None:
        self.name = f"api:{socket.gethostname()}:{os.getpid()}"
        super().__init__(url, WATCHDOG_LOCK_KEY, f"API process {self.name}", "alert watchdog")
        self.pool = pool
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> bool:
        if not await self.leads():
            return False
        async with transaction(self.pool) as conn:
            for t in await evaluate(conn, self.settings, by=self.name, rules=LIVENESS_RULES):
                log.warning("alert %s: %s (watchdog)", t.rule, t.event)
        await self.send_direct()
        return True

    async def send_direct(self) -> None:
        async with self.pool.connection() as conn:
            streams = [r["stream"] for r in await (await conn.execute(sql.DIRECT_STREAMS)).fetchall()]
        for stream in streams:
            async with transaction(self.pool) as conn:
                await deliver_stream(conn, self.settings, stream, via="direct", by=self.name,
                                     budget_seconds=self.settings.scheduler_interval_seconds)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("alert watchdog tick failed")
            await asyncio.sleep(self.settings.scheduler_interval_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alert-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._resign()
